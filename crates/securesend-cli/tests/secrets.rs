//! The real `securesend` binary, at `RUST_LOG=trace`, against each provider's sandbox: whatever
//! it prints (stdout and stderr) must hold none of the secrets it was given or was handed by the
//! service — passwords, PINs, API secrets, signature keys, private keys, and every token the
//! sandbox issued or saw in an `Authorization` header.
//!
//! The check is only as good as its canary list, so each test also asserts that its canaries
//! were really used (the sandbox saw the requests they authenticate) and that trace output was
//! produced at all.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use base64::Engine as _;
use common::{Running, Sandbox as Scratch};
use securesend_sandbox::egroupware::Egroupware;
use securesend_sandbox::kiteworks::{KiteworksOptions, KiteworksService, TEST_JWT_PRIVATE_KEY_PEM};
use securesend_sandbox::privasfer::Privasfer;
use securesend_sandbox::tokens::{Lifetime, TokenRequest};
use securesend_sandbox::tuyu::{ACT_AS_PASSWORD, ACT_AS_USER, Tuyu, TuyuOptions};
use securesend_sandbox::{Sandbox, SeedKind};

/// Distinctive values that cannot turn up in trace output by chance.
const KW_CLIENT_SECRET: &str = "kwClientSecretCanary7Q4Z";
const KW_PASSWORD: &str = "kwPasswordCanary9X2V";
const KW_SIGNATURE_KEY: &str = "kwSignatureKeyCanary3M8P";
const TUYU_API_SECRET: &str = "tuyuApiSecretCanary5K1W";
const LOCAL_FILE_PASSWORD: &str = "localFilePasswordCanary2R6T";

/// The canaries plus the encoded forms a careless log line would show.
struct Canaries(Vec<(String, String)>);

impl Canaries {
    fn new() -> Canaries {
        Canaries(Vec::new())
    }

    fn add(&mut self, label: &str, secret: &str) {
        // Short values (a 4-digit PIN) would match by chance in hashes and sizes; the sandbox's
        // own secrets are all longer than this.
        assert!(secret.len() >= 6, "{label}: canary too short to be telling");
        let b = secret.as_bytes();
        let forms = [
            secret.to_owned(),
            base64::engine::general_purpose::STANDARD.encode(b),
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b),
            percent_encoding::utf8_percent_encode(secret, percent_encoding::NON_ALPHANUMERIC)
                .to_string(),
        ];
        for f in forms {
            // Base64 of a value whose length is not a multiple of 3 ends in bits that depend
            // on what follows; the stable prefix is what matters.
            let f = f.trim_end_matches('=').to_owned();
            if !self.0.iter().any(|(_, v)| *v == f) {
                self.0.push((label.to_owned(), f));
            }
        }
    }

    fn add_all(&mut self, pairs: Vec<(String, String)>) {
        for (label, value) in pairs {
            self.add(&label, &value);
        }
    }

    /// The base64 lines of a PEM key: any of them in the output means the key leaked.
    fn add_pem(&mut self, label: &str, pem: &str) {
        for line in pem
            .lines()
            .filter(|l| !l.starts_with("-----") && l.len() >= 40)
        {
            self.0.push((label.to_owned(), line.to_owned()));
        }
    }

    fn assert_absent(&self, what: &str, text: &str) {
        for (label, value) in &self.0 {
            assert!(
                !text.contains(value.as_str()),
                "{what}: the {label} appears in the output:\n{}",
                excerpt(text, value)
            );
        }
    }
}

fn excerpt(text: &str, needle: &str) -> String {
    let at = text.find(needle).unwrap_or(0);
    let mut start = at.saturating_sub(300);
    while !text.is_char_boundary(start) {
        start -= 1;
    }
    let mut end = (at + needle.len() + 300).min(text.len());
    while !text.is_char_boundary(end) {
        end += 1;
    }
    text[start..end].to_owned()
}

/// One CLI run at trace level; the combined output is kept for the canary check.
struct Transcript {
    scratch: Scratch,
    config: PathBuf,
    text: String,
}

impl Transcript {
    fn new(profile: toml::Table) -> Transcript {
        let scratch = Scratch::new();
        let mut profiles = toml::Table::new();
        profiles.insert("t".into(), profile.into());
        let mut doc = toml::Table::new();
        doc.insert("profiles".into(), profiles.into());
        let config = scratch.path().join("securesend.toml");
        std::fs::write(&config, toml::to_string(&doc).unwrap()).unwrap();
        Transcript {
            scratch,
            config,
            text: String::new(),
        }
    }

    fn dir(&self) -> &Path {
        self.scratch.path()
    }

    fn run_with(&mut self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut cmd = self.scratch.cmd();
        cmd.env("RUST_LOG", "trace")
            .arg("--config")
            .arg(&self.config)
            .args(args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        self.text
            .push_str(&format!("\n$ securesend {}\n", args.join(" ")));
        self.text.push_str(&String::from_utf8_lossy(&out.stdout));
        self.text.push_str(&String::from_utf8_lossy(&out.stderr));
        out
    }

    /// Runs and requires success.
    fn ok(&mut self, args: &[&str]) -> serde_json::Value {
        self.ok_with(args, &[])
    }

    fn ok_with(&mut self, args: &[&str], env: &[(&str, &str)]) -> serde_json::Value {
        let out = self.run_with(args, env);
        assert!(
            out.status.success(),
            "securesend {args:?} failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .rev()
                .take(30)
                .collect::<Vec<_>>()
                .join("\n")
        );
        if args.contains(&"--json") {
            common::json(&out)
        } else {
            serde_json::Value::Null
        }
    }

    /// Trace output was really produced (else a silent binary would pass), then the canaries.
    fn check(&self, what: &str, canaries: &Canaries) {
        assert!(
            self.text.contains(" TRACE ") && self.text.contains(" DEBUG "),
            "{what}: no trace output was produced"
        );
        canaries.assert_absent(what, &self.text);
    }
}

fn profile_of(sandbox: &Sandbox) -> toml::Table {
    sandbox.profile().clone()
}

/// Upload, download back and send, which every read-write provider offers.
fn upload_download_send(t: &mut Transcript, folder: Option<&str>) -> String {
    let data: Vec<u8> = (0..150_000u32).map(|i| (i % 253) as u8).collect();
    std::fs::write(t.dir().join("canary.bin"), &data).unwrap();
    std::fs::write(t.dir().join("note.txt"), b"hello").unwrap();
    let mut args = vec!["--json", "upload", "canary.bin"];
    if let Some(f) = folder {
        args.extend(["--to-folder", f, "--parents"]);
    }
    let up = t.ok(&args);
    let id = up["files"][0]["id"].as_str().unwrap().to_owned();
    std::fs::create_dir_all(t.dir().join("out")).unwrap();
    let down = t.ok(&["--json", "download", &id, "-o", "out"]);
    let path = down["files"][0]["path"].as_str().unwrap();
    assert_eq!(std::fs::read(t.dir().join(path)).unwrap(), data);
    t.ok(&[
        "--json",
        "send",
        "--to",
        "ada@example.com",
        "--subject",
        "canary check",
        "--body",
        "see attached",
        "note.txt",
    ]);
    id
}

#[test]
fn local_provider_trace_output_holds_no_secret() {
    let mut root = toml::Table::new();
    root.insert("provider".into(), "local".into());
    root.insert("root".into(), "data".into());
    let mut t = Transcript::new(root);
    upload_download_send(&mut t, Some("in/2026"));
    // The local provider keeps a message's file password in the stored message; the log
    // must not show it.
    let out = t.run_with(
        &[
            "send",
            "--to",
            "ada@example.com",
            "--password-env",
            "CANARY_FILE_PW",
            "note.txt",
        ],
        &[("CANARY_FILE_PW", LOCAL_FILE_PASSWORD)],
    );
    let _ = out; // Refused or accepted, the output is checked all the same.
    t.ok(&["doctor"]);
    let mut c = Canaries::new();
    c.add("file password", LOCAL_FILE_PASSWORD);
    // Without HTTP there is next to nothing to trace; the canaries are checked all the same.
    c.assert_absent("local", &t.text);
}

fn kiteworks() -> (KiteworksService, KiteworksOptions) {
    let options = KiteworksOptions {
        client_secret: KW_CLIENT_SECRET.into(),
        password: KW_PASSWORD.into(),
        signature_key: KW_SIGNATURE_KEY.into(),
        fingerprint_delay: std::time::Duration::from_millis(20),
        ..KiteworksOptions::default()
    };
    (KiteworksService::new(options.clone()), options)
}

fn kiteworks_canaries() -> Canaries {
    let mut c = Canaries::new();
    c.add("client secret", KW_CLIENT_SECRET);
    c.add("password", KW_PASSWORD);
    c.add("signature key", KW_SIGNATURE_KEY);
    c.add_pem("JWT private key", TEST_JWT_PRIVATE_KEY_PEM);
    c
}

fn kiteworks_profile(sandbox: &Sandbox, dir: &Path) -> toml::Table {
    let mut p = profile_of(sandbox);
    p.remove("username");
    p.remove("password");
    p.insert(
        "state_dir".into(),
        dir.join("kw-state").display().to_string().into(),
    );
    p.insert("fingerprint_wait_secs".into(), 10.into());
    p
}

#[cfg(unix)]
fn assert_private_files(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let mut files = 0;
    for entry in walk(dir) {
        let mode = std::fs::metadata(&entry).unwrap().permissions().mode() & 0o777;
        if entry.is_dir() {
            assert_eq!(mode & 0o077, 0, "{} is {mode:o}", entry.display());
        } else {
            files += 1;
            assert_eq!(mode, 0o600, "{} is {mode:o}", entry.display());
        }
    }
    assert!(
        files > 0,
        "no token cache was written under {}",
        dir.display()
    );
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = vec![dir.to_path_buf()];
    let mut i = 0;
    while i < out.len() {
        if out[i].is_dir() {
            for e in std::fs::read_dir(&out[i]).unwrap() {
                out.push(e.unwrap().path());
            }
        }
        i += 1;
    }
    out
}

#[test]
fn kiteworks_refresh_token_grant_trace_output_holds_no_secret() {
    let (service, opts) = kiteworks();
    let run = Running::start(&service);
    // A refresh token "obtained elsewhere", as the grant expects.
    let refresh = run.sandbox().tokens().issue_with(
        TokenRequest::new("refresh", &opts.user_email)
            .scope("*/*/*")
            .lifetime(Lifetime::Never),
    );
    let scratch_dir = tempfile::tempdir().unwrap();
    let mut p = kiteworks_profile(run.sandbox(), scratch_dir.path());
    p.insert("grant".into(), "refresh_token".into());
    let mut env_ref = toml::Table::new();
    env_ref.insert("env".into(), "KW_REFRESH".into());
    p.insert("refresh_token".into(), env_ref.into());
    let mut t = Transcript::new(p);
    // The refresh token is rotated on first use; the new one is kept on disk (0600).
    t.ok_with(&["doctor"], &[("KW_REFRESH", &refresh.value)]);
    let data: Vec<u8> = (0..150_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(t.dir().join("canary.bin"), &data).unwrap();
    std::fs::write(t.dir().join("note.txt"), b"hello").unwrap();
    let env = [("KW_REFRESH", refresh.value.as_str())];
    let up = t.ok_with(
        &[
            "--json",
            "upload",
            "canary.bin",
            "--to-folder",
            "My Folder/in",
            "--parents",
        ],
        &env,
    );
    let id = up["files"][0]["id"].as_str().unwrap().to_owned();
    std::fs::create_dir(t.dir().join("out")).unwrap();
    t.ok_with(&["--json", "download", &id, "-o", "out"], &env);
    t.ok_with(
        &[
            "--json",
            "send",
            "--to",
            "ada@example.com",
            "--subject",
            "canary",
            "note.txt",
        ],
        &env,
    );
    // `login` is for the authorization-code grant; whatever it says here is checked too.
    t.run_with(&["login", "--no-browser"], &env);

    #[cfg(unix)]
    assert_private_files(&scratch_dir.path().join("kw-state"));

    let mut c = kiteworks_canaries();
    let issued = run.issued_secrets();
    assert!(
        issued.len() >= 3,
        "the sandbox issued tokens and saw them used: {issued:?}"
    );
    c.add_all(issued);
    t.check("kiteworks refresh_token", &c);
}

#[test]
fn kiteworks_signature_and_jwt_grants_trace_output_holds_no_secret() {
    let (service, opts) = kiteworks();
    let run = Running::start(&service);
    for grant in ["signature", "jwt"] {
        let scratch_dir = tempfile::tempdir().unwrap();
        let mut p = kiteworks_profile(run.sandbox(), scratch_dir.path());
        p.insert("grant".into(), grant.into());
        p.insert("user".into(), opts.user_email.as_str().into());
        // Secrets from the environment and from a file, the forms the guide recommends.
        let mut cs = toml::Table::new();
        cs.insert("env".into(), "KW_CLIENT_SECRET".into());
        p.insert("client_secret".into(), cs.into());
        match grant {
            "signature" => {
                let key = scratch_dir.path().join("sig.key");
                std::fs::write(&key, format!("{KW_SIGNATURE_KEY}\n")).unwrap();
                let mut f = toml::Table::new();
                f.insert("file".into(), key.display().to_string().into());
                p.insert("signature_key".into(), f.into());
                p.insert(
                    "redirect_uri".into(),
                    "http://127.0.0.1/securesend/callback".into(),
                );
            }
            _ => {
                let key = scratch_dir.path().join("jwt.pem");
                std::fs::write(&key, TEST_JWT_PRIVATE_KEY_PEM).unwrap();
                p.insert(
                    "jwt_private_key_file".into(),
                    key.display().to_string().into(),
                );
            }
        }
        let mut t = Transcript::new(p);
        let env = [("KW_CLIENT_SECRET", KW_CLIENT_SECRET)];
        t.ok_with(&["doctor"], &env);
        let data: Vec<u8> = (0..100_000u32).map(|i| (i % 249) as u8).collect();
        std::fs::write(t.dir().join("canary.bin"), &data).unwrap();
        std::fs::write(t.dir().join("note.txt"), b"hello").unwrap();
        // One sandbox serves both grants: a name per grant avoids a conflict.
        let name = format!("canary-{grant}.bin");
        std::fs::rename(t.dir().join("canary.bin"), t.dir().join(&name)).unwrap();
        let up = t.ok_with(&["--json", "upload", &name], &env);
        let id = up["files"][0]["id"].as_str().unwrap().to_owned();
        std::fs::create_dir(t.dir().join("out")).unwrap();
        t.ok_with(&["--json", "download", &id, "-o", "out"], &env);
        t.ok_with(
            &["--json", "send", "--to", "ada@example.com", "note.txt"],
            &env,
        );
        let mut c = kiteworks_canaries();
        c.add_all(run.issued_secrets());
        t.check(&format!("kiteworks {grant}"), &c);
    }
}

#[test]
fn egroupware_trace_output_holds_no_secret() {
    let service = Egroupware::new();
    let run = Running::start(&service);
    let creds = run.sandbox().credentials().clone();
    let mut t = Transcript::new(profile_of(run.sandbox()));
    t.ok(&["doctor"]);
    upload_download_send(&mut t, Some("canary"));
    let mut c = Canaries::new();
    for (k, v) in creds.iter() {
        if k.contains("password") {
            c.add(k, v);
        }
    }
    c.add_all(run.issued_secrets());
    assert!(
        run.sandbox()
            .journal()
            .snapshot()
            .iter()
            .any(|e| e.header("authorization").is_some()),
        "the password was used"
    );
    t.check("egroupware", &c);
}

#[test]
fn privasfer_download_trace_output_holds_no_secret() {
    let run = Running::start(&Privasfer);
    let creds = run.sandbox().credentials().clone();
    let file = run
        .sandbox()
        .seeded()
        .iter()
        .find(|s| s.kind == SeedKind::File)
        .expect("a seeded file")
        .id
        .clone();
    let mut t = Transcript::new(profile_of(run.sandbox()));
    t.ok(&["doctor"]);
    t.ok(&["--json", "inbox"]);
    std::fs::create_dir(t.dir().join("out")).unwrap();
    t.ok(&["--json", "download", &format!("file:{file}"), "-o", "out"]);
    let mut c = Canaries::new();
    for (k, v) in creds.iter() {
        c.add(k, v);
    }
    let issued = run.issued_secrets();
    // The PIN buys a temporary key, which buys a public key: both were issued.
    assert!(
        run.sandbox().tokens().issued().len() >= 2,
        "temporary and public keys issued"
    );
    c.add_all(issued);
    t.check("privasfer", &c);
}

#[test]
fn tuyu_trace_output_holds_no_secret() {
    let service = Tuyu::new(TuyuOptions {
        api_secret: Some(TUYU_API_SECRET.into()),
        ..TuyuOptions::default()
    });
    let run = Running::start(&service);
    let creds = run.sandbox().credentials().clone();
    let mut p = profile_of(run.sandbox());
    let mut act_as = toml::Table::new();
    act_as.insert("username".into(), ACT_AS_USER.into());
    act_as.insert("password".into(), ACT_AS_PASSWORD.into());
    p.insert("act_as".into(), act_as.into());
    let mut t = Transcript::new(p);
    t.ok(&["doctor"]);
    upload_download_send(&mut t, None);
    let mut c = Canaries::new();
    c.add("API secret", TUYU_API_SECRET);
    c.add("act_as password", ACT_AS_PASSWORD);
    for (k, v) in creds.iter() {
        if k != "act_as_username" && k != "api_key" {
            c.add(k, v);
        }
    }
    c.add_all(run.issued_secrets());
    // Signatures and auth codes travel in query strings; each is a secret of one request.
    for e in run.sandbox().journal().snapshot() {
        for (k, v) in form_urlencoded_pairs(e.query.as_deref().unwrap_or("")) {
            if k == "signature" || k == "auth_code" {
                c.add(&format!("query `{k}`"), &v);
            }
        }
    }
    t.check("tuyu", &c);
}

fn form_urlencoded_pairs(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| {
            (
                k.to_owned(),
                percent_encoding::percent_decode_str(&v.replace('+', " "))
                    .decode_utf8_lossy()
                    .into_owned(),
            )
        })
        .collect()
}

/// A stand-in proxy that counts connections: a request that went out would reach it, whatever
/// the host name, because every profile below routes through it.
fn counting_proxy() -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let h = hits.clone();
    std::thread::spawn(move || {
        for mut sock in listener.incoming().flatten() {
            h.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let mut buf = [0u8; 4096];
            let _ = sock.read(&mut buf);
            let _ = sock.write_all(
                b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
            );
        }
    });
    (url, hits)
}

/// Provider, path of its base URL, and the other fields it requires.
type ProfileCase = (
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str)],
);

#[test]
fn plain_http_to_a_remote_host_is_refused_before_any_request() {
    let (proxy, hits) = counting_proxy();
    let profiles: [ProfileCase; 4] = [
        (
            "kiteworks",
            "",
            &[
                ("client_id", "app"),
                ("client_secret", "s3cret-value"),
                ("grant", "password"),
                ("username", "ann@example.com"),
                ("password", "pw-value"),
            ],
        ),
        (
            "egroupware",
            "/egroupware/",
            &[("username", "ralf"), ("password", "pw-value")],
        ),
        (
            "privasfer",
            "/api/",
            &[("token", "tok-value"), ("pin", "471100")],
        ),
        (
            "tuyu",
            "",
            &[
                ("api_key", "key-value"),
                ("api_secret", "secret-value"),
                ("workspace_path", "/ws/"),
            ],
        ),
    ];
    for (provider, path, fields) in profiles {
        for scheme in ["http", "https"] {
            let mut p = toml::Table::new();
            p.insert("provider".into(), provider.into());
            p.insert(
                "base_url".into(),
                format!("{scheme}://files.example.com{path}").into(),
            );
            for (k, v) in fields {
                p.insert((*k).into(), (*v).into());
            }
            let mut http = toml::Table::new();
            http.insert("proxy".into(), proxy.as_str().into());
            http.insert("max_attempts".into(), 1.into());
            p.insert("http".into(), http.into());
            let mut t = Transcript::new(p);
            let before = hits.load(std::sync::atomic::Ordering::SeqCst);
            let out = t.run_with(&["doctor"], &[]);
            let after = hits.load(std::sync::atomic::Ordering::SeqCst);
            // doctor reports its steps on stdout.
            let stderr = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(!out.status.success(), "{provider} {scheme}: {stderr}");
            if scheme == "http" {
                assert_eq!(after, before, "{provider}: a request went out: {stderr}");
                assert!(
                    stderr.contains("http://") && stderr.contains("https://"),
                    "{provider}: the error names the scheme: {stderr}"
                );
            } else {
                // The same profile over https does go out (to the proxy), so the silence
                // above is the refusal, not a broken proxy setting.
                assert!(after > before, "{provider}: https did not reach the proxy");
            }
        }
    }
}
