//! Bad input through the real `securesend` binary, against running sandboxes: every case exits
//! 2 with one `error:` line naming what to fix, and neither service records a request.

mod common;

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use common::Sandbox as Dir;
use securesend_sandbox::egroupware::Egroupware;
use securesend_sandbox::tuyu::Tuyu;
use securesend_sandbox::{Sandbox, SandboxOptions};

/// Secrets reach the binary through these variables, never through the file.
const EG_PASSWORD: &str = "SECURESEND_TEST_EG_PASSWORD";
const TUYU_KEY: &str = "SECURESEND_TEST_TUYU_API_KEY";
const TUYU_SECRET: &str = "SECURESEND_TEST_TUYU_API_SECRET";

/// The Tuyu profile's size limit, so one byte more is oversize.
const TUYU_MAX: u64 = 1024;

/// Two services on loopback (EGroupware sends attachments and refuses empty files; Tuyu has a
/// size limit and lacks cc), kept on their own runtime while the binary runs.
struct Services {
    eg: Sandbox,
    tuyu: Sandbox,
    // Last, so the services are told to stop while their runtime still runs.
    _rt: tokio::runtime::Runtime,
}

impl Services {
    fn start() -> Services {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let eg = rt
            .block_on(Sandbox::start(
                &Egroupware::new(),
                SandboxOptions::default(),
            ))
            .expect("the EGroupware sandbox starts");
        let tuyu = rt
            .block_on(Sandbox::start(&Tuyu::default(), SandboxOptions::default()))
            .expect("the Tuyu sandbox starts");
        Services { eg, tuyu, _rt: rt }
    }

    /// Requests, stored files and delivered messages of both services.
    fn fingerprint(&self) -> [(usize, usize, u64); 2] {
        [&self.eg, &self.tuyu].map(|s| {
            (
                s.journal().len(),
                s.store().len(),
                s.outbox().delivered_total(),
            )
        })
    }

    fn secrets(&self) -> Vec<(&'static str, String)> {
        let get =
            |s: &Sandbox, k: &str| s.profile()[k].as_str().expect("a string secret").to_owned();
        vec![
            (EG_PASSWORD, get(&self.eg, "password")),
            (TUYU_KEY, get(&self.tuyu, "api_key")),
            (TUYU_SECRET, get(&self.tuyu, "api_secret")),
        ]
    }
}

/// A profile table in TOML: the sandbox's fields, secrets as `{ env = … }`, with `set`
/// replacing or adding fields and `drop` removing them.
fn profile(
    name: &str,
    sandbox: &Sandbox,
    secrets: &[(&str, &str)],
    set: &[(&str, &str)],
    drop: &[&str],
) -> String {
    let mut out = format!("[profiles.{name}]\n");
    for (k, v) in sandbox.profile() {
        if drop.contains(&k.as_str()) || set.iter().any(|(s, _)| *s == k.as_str()) {
            continue;
        }
        match secrets.iter().find(|(s, _)| *s == k.as_str()) {
            Some((_, var)) => out.push_str(&format!("{k} = {{ env = \"{var}\" }}\n")),
            None => out.push_str(&format!("{k} = {v}\n")),
        }
    }
    for (k, v) in set {
        out.push_str(&format!("{k} = {v}\n"));
    }
    out
}

/// One case: its name, the arguments, a variable to leave unset, and the words the error line
/// must contain (the field, flag or file to fix).
struct Case {
    name: &'static str,
    args: Vec<OsString>,
    unset: Option<&'static str>,
    names: Vec<String>,
}

fn case(name: &'static str, args: &[&str], names: &[&str]) -> Case {
    Case {
        name,
        args: args.iter().map(OsString::from).collect(),
        unset: None,
        names: names.iter().map(|s| (*s).to_owned()).collect(),
    }
}

/// Arguments selecting a profile of `securesend.toml`.
fn with_profile(profile: &str, args: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = ["--config", "securesend.toml", "--profile", profile]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    v.extend(args.iter().map(|s| (*s).to_owned()));
    v
}

fn eg(name: &'static str, args: &[&str], names: &[&str]) -> Case {
    let args = with_profile("eg", args);
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    case(name, &refs, names)
}

fn tuyu(name: &'static str, args: &[&str], names: &[&str]) -> Case {
    let args = with_profile("tuyu", args);
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    case(name, &refs, names)
}

/// A file with mode 000, unless this process reads it anyway (root): then permissions cannot
/// make a file unreadable, and the symlink-loop case stands in for it.
fn mode_000(dir: &Dir) -> bool {
    use std::os::unix::fs::PermissionsExt;
    let p = dir.file("locked.txt", b"locked");
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o000)).unwrap();
    std::fs::File::open(&p).is_err()
}

#[test]
fn bad_input_exits_2_with_one_line_and_no_request() {
    let services = Services::start();
    let dir = Dir::new();
    let eg_secrets = [("password", EG_PASSWORD)];
    let tuyu_secrets = [("api_key", TUYU_KEY), ("api_secret", TUYU_SECRET)];
    let tuyu_max = TUYU_MAX.to_string();
    let config = [
        "default = \"eg\"\n".to_owned(),
        profile("eg", &services.eg, &eg_secrets, &[], &[]),
        profile(
            "tuyu",
            &services.tuyu,
            &tuyu_secrets,
            &[("max_file_size", &tuyu_max)],
            &[],
        ),
    ]
    .join("\n");
    dir.file("securesend.toml", config.as_bytes());
    // One file per configuration error, each a working profile with one thing wrong.
    let broken = |file: &str, set: &[(&str, &str)], drop: &[&str]| {
        let text = profile("eg", &services.eg, &eg_secrets, set, drop);
        dir.file(file, text.as_bytes());
    };
    broken("unknown-key.toml", &[("colour", "\"red\"")], &[]);
    broken(
        "secret-file.toml",
        &[("password", "{ file = \"no-such-secret.txt\" }")],
        &[],
    );
    broken("typo.toml", &[("provider", "\"egroupwar\"")], &[]);
    broken(
        "plain-http.toml",
        &[("base_url", "\"http://files.example.com/egroupware/\"")],
        &[],
    );
    broken("no-user.toml", &[], &["username"]);
    dir.file("not-toml.toml", b"[profiles.eg\n");

    dir.file("ok.txt", b"ok");
    dir.file("empty.txt", b"");
    dir.file("big.bin", &vec![7u8; TUYU_MAX as usize + 1]);
    dir.file("nul-body.txt", b"a\0b");
    dir.file("line\nbreak.txt", b"x");
    dir.file("back\\slash.txt", b"x");
    dir.file("trail.txt ", b"x");
    std::fs::write(
        dir.path().join(OsStr::from_bytes(b"caf\xe9.txt")),
        b"latin-1 name",
    )
    .unwrap();
    std::fs::create_dir(dir.path().join("adir")).unwrap();
    std::os::unix::fs::symlink("loop-b.txt", dir.path().join("loop-a.txt")).unwrap();
    std::os::unix::fs::symlink("loop-a.txt", dir.path().join("loop-b.txt")).unwrap();
    let long_subject = "s".repeat(999);
    let send_ok = ["send", "--to", "ada@example.com", "ok.txt"];

    let mut cases = vec![
        // addresses
        eg(
            "malformed address",
            &["send", "--to", "nobody", "ok.txt"],
            &["to: address \"nobody\""],
        ),
        eg(
            "empty address",
            &["send", "--to", "", "ok.txt"],
            &["to: empty address"],
        ),
        eg(
            "CR/LF in address",
            &[
                "send",
                "--to",
                "a@example.com\r\nBcc: eve@example.com",
                "ok.txt",
            ],
            &["to: address", "control character"],
        ),
        eg(
            "malformed cc",
            &["send", "--to", "a@example.com", "--cc", "c@", "ok.txt"],
            &["cc: address"],
        ),
        eg(
            "LF in bcc",
            &[
                "send",
                "--to",
                "a@example.com",
                "--bcc",
                "b@example.com\nX-Evil: 1",
                "ok.txt",
            ],
            &["bcc: address"],
        ),
        eg(
            "malformed reply-to",
            &[
                "send",
                "--to",
                "a@example.com",
                "--reply-to",
                "r@@example.com",
                "ok.txt",
            ],
            &["reply-to: address"],
        ),
        eg(
            "CR/LF in from",
            &[
                "send",
                "--to",
                "a@example.com",
                "--from",
                "me@example.com\r\nBcc: e@x.y",
                "ok.txt",
            ],
            &["from: address"],
        ),
        eg("no recipients", &["send", "ok.txt"], &["no recipients"]),
        // subject and bodies
        eg(
            "CR/LF in subject",
            &[
                "send",
                "--to",
                "a@example.com",
                "--subject",
                "hi\r\nBcc: e@x.y",
                "ok.txt",
            ],
            &["subject"],
        ),
        eg(
            "escape character in subject",
            &[
                "send",
                "--to",
                "a@example.com",
                "--subject",
                "hi \u{1b}[2J",
                "ok.txt",
            ],
            &["subject"],
        ),
        eg(
            "subject too long",
            &[
                "send",
                "--to",
                "a@example.com",
                "--subject",
                &long_subject,
                "ok.txt",
            ],
            &["subject is longer"],
        ),
        eg(
            "NUL in body file",
            &[
                "send",
                "--to",
                "a@example.com",
                "--body-file",
                "nul-body.txt",
                "ok.txt",
            ],
            &["text body", "NUL"],
        ),
        eg(
            "missing body file",
            &[
                "send",
                "--to",
                "a@example.com",
                "--body-file",
                "none.txt",
                "ok.txt",
            ],
            &["none.txt"],
        ),
        eg(
            "missing HTML file",
            &[
                "send",
                "--to",
                "a@example.com",
                "--html-file",
                "none.html",
                "ok.txt",
            ],
            &["none.html"],
        ),
        // files
        eg(
            "missing file",
            &["send", "--to", "a@example.com", "nope.pdf"],
            &["nope.pdf", "does not exist"],
        ),
        eg(
            "missing file with LF in its path",
            &["send", "--to", "a@example.com", "no\nsuch.pdf"],
            &["such.pdf", "does not exist"],
        ),
        eg(
            "file in a symlink loop (unreadable even for root)",
            &["send", "--to", "a@example.com", "loop-a.txt"],
            &["loop-a.txt", "cannot be read"],
        ),
        eg(
            "device as file",
            &["send", "--to", "a@example.com", "/dev/null"],
            &["/dev/null", "not a regular file"],
        ),
        eg(
            "directory as file",
            &["send", "--to", "a@example.com", "adir"],
            &["adir", "is a directory"],
        ),
        eg(
            "parent directory as file",
            &["send", "--to", "a@example.com", ".."],
            &["..", "is a directory"],
        ),
        eg(
            "LF in file name",
            &["send", "--to", "a@example.com", "line\nbreak.txt"],
            &["break.txt", "control character"],
        ),
        eg(
            "backslash in file name",
            &["send", "--to", "a@example.com", "back\\slash.txt"],
            &["slash.txt", "path separator"],
        ),
        eg(
            "file name ending in a space",
            &["send", "--to", "a@example.com", "trail.txt "],
            &["trail.txt", "white space"],
        ),
        eg(
            "zero-byte file where empty files are refused",
            &["send", "--to", "a@example.com", "empty.txt"],
            &["empty.txt is empty", "egroupware"],
        ),
        tuyu(
            "oversize file sent",
            &["send", "--to", "a@example.com", "big.bin"],
            &["big.bin is 1025 bytes", "1024-byte limit of tuyu"],
        ),
        tuyu(
            "oversize file uploaded",
            &["upload", "big.bin"],
            &["big.bin is 1025 bytes"],
        ),
        // options
        eg(
            "zero-day expiry",
            &["send", "--to", "a@example.com", "--expires", "0d", "ok.txt"],
            &["expiry", "at least one day"],
        ),
        tuyu(
            "expiry in the past",
            &[
                "send",
                "--to",
                "a@example.com",
                "--expires",
                "2020-01-31",
                "ok.txt",
            ],
            &["2020-01-31", "not in the future"],
        ),
        eg(
            "unparsable expiry",
            &[
                "send",
                "--to",
                "a@example.com",
                "--expires",
                "soon",
                "ok.txt",
            ],
            &["expiry \"soon\""],
        ),
        eg(
            "password variable unset",
            &[
                "send",
                "--to",
                "a@example.com",
                "--password-env",
                "SURELY_UNSET_PW_VAR",
                "ok.txt",
            ],
            &["--password-env SURELY_UNSET_PW_VAR"],
        ),
        tuyu(
            "cc where unsupported",
            &[
                "send",
                "--to",
                "a@example.com",
                "--cc",
                "c@example.com",
                "ok.txt",
            ],
            &["tuyu cannot send with cc"],
        ),
        eg(
            "expiry where unsupported",
            &["send", "--to", "a@example.com", "--expires", "7d", "ok.txt"],
            &["egroupware cannot send with an expiry"],
        ),
        eg(
            "download receipt where unsupported",
            &[
                "send",
                "--to",
                "a@example.com",
                "--download-receipt",
                "ok.txt",
            ],
            &["egroupware cannot send with download receipts"],
        ),
        eg(
            "upload to ../ folder",
            &["upload", "ok.txt", "--to-folder", "../x"],
            &["folder \"../x\"", ".."],
        ),
        eg(
            "resumed upload where unsupported",
            &["upload", "ok.txt", "--resume"],
            &["egroupware cannot upload by resuming"],
        ),
        eg(
            "download of blank id",
            &["download", " "],
            &["file id \" \""],
        ),
        eg(
            "download of id with LF",
            &["download", "a\nb"],
            &["file id \"a\\nb\""],
        ),
        eg(
            "download into a missing directory",
            &["download", "x", "-o", "no-such-dir/x.bin"],
            &["directory no-such-dir does not exist"],
        ),
        eg(
            "download of several ids into a missing directory",
            &["download", "x", "y", "-o", "no-such-dir"],
            &["with several ids give a directory"],
        ),
        eg(
            "download of several ids to standard output",
            &["download", "x", "y", "-o", "-"],
            &["give one id"],
        ),
        // configuration
        case(
            "unknown configuration key",
            &[&["--config", "unknown-key.toml"][..], &send_ok[..]].concat(),
            &["profiles.eg.colour"],
        ),
        case(
            "secret from a missing file",
            &[&["--config", "secret-file.toml"][..], &send_ok[..]].concat(),
            &["password", "no-such-secret.txt"],
        ),
        case(
            "misspelt provider",
            &[&["--config", "typo.toml"][..], &send_ok[..]].concat(),
            &["unknown provider `egroupwar`"],
        ),
        case(
            "plain http to another host",
            &[&["--config", "plain-http.toml"][..], &send_ok[..]].concat(),
            &["base_url", "https"],
        ),
        case(
            "missing required field",
            &[&["--config", "no-user.toml"][..], &send_ok[..]].concat(),
            &["username"],
        ),
        case(
            "broken TOML",
            &[&["--config", "not-toml.toml"][..], &send_ok[..]].concat(),
            &["not-toml.toml", "TOML"],
        ),
        case(
            "missing configuration file",
            &[&["--config", "absent.toml"][..], &send_ok[..]].concat(),
            &["absent.toml"],
        ),
        case(
            "missing profile",
            &with_profile("nope", &send_ok)
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>(),
            &["nope"],
        ),
    ];
    let mut unset_secret = eg(
        "secret variable unset",
        &send_ok,
        &["`profiles.eg.password`", EG_PASSWORD],
    );
    unset_secret.unset = Some(EG_PASSWORD);
    cases.push(unset_secret);
    // A name that is not UTF-8 cannot be shown to the recipient as it is.
    let mut latin1 = eg(
        "file name not UTF-8",
        &["send", "--to", "a@example.com"],
        &["not valid UTF-8"],
    );
    latin1
        .args
        .push(OsStr::from_bytes(b"caf\xe9.txt").to_owned());
    cases.push(latin1);
    if mode_000(&dir) {
        cases.push(eg(
            "unreadable file (mode 000)",
            &["send", "--to", "a@example.com", "locked.txt"],
            &["locked.txt", "permission denied"],
        ));
    } else {
        eprintln!("running privileged: a mode-000 file is readable, so that case is left out");
    }

    let secrets = services.secrets();
    let names: std::collections::BTreeSet<&str> = cases.iter().map(|c| c.name).collect();
    assert_eq!(names.len(), cases.len(), "case names are distinct");
    let mut ran = 0;
    for Case {
        name,
        args,
        unset,
        names,
    } in &cases
    {
        let before = services.fingerprint();
        let mut cmd = dir.cmd();
        for (var, value) in &secrets {
            cmd.env(var, value);
        }
        if let Some(var) = unset {
            cmd.env_remove(var);
        }
        let out = cmd.args(args).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{name}: {stderr}");
        assert_eq!(
            stderr.lines().count(),
            1,
            "{name}: one line expected, got {stderr:?}"
        );
        assert!(
            stderr.starts_with("error: ") && stderr.ends_with('\n'),
            "{name}: {stderr:?}"
        );
        for n in names {
            assert!(
                stderr.contains(n.as_str()),
                "{name}: {n:?} not in {stderr:?}"
            );
        }
        assert!(
            out.stdout.is_empty(),
            "{name}: stdout {:?}",
            String::from_utf8_lossy(&out.stdout)
        );
        for (var, value) in &secrets {
            assert!(
                !stderr.contains(value.as_str()),
                "{name}: the value of {var} was printed"
            );
        }
        assert_eq!(
            before,
            services.fingerprint(),
            "{name}: a request reached a service"
        );
        ran += 1;
    }
    assert!(ran >= 30, "only {ran} bad-input cases ran");
    eprintln!("{ran} bad-input cases exited 2 with one line and no request");
    assert!(
        services.eg.journal().is_empty() && services.tuyu.journal().is_empty(),
        "the services saw no request at all"
    );
    assert!(
        !Path::new(&dir.data_dir()).exists(),
        "nothing went to the local default"
    );
}

/// Unicode names are part of the design (only separators, `.`/`..`, controls and edge spaces
/// are refused): such a file is sent under its exact name, byte for byte.
#[test]
fn unicode_file_names_are_sent_unchanged() {
    let services = Services::start();
    let dir = Dir::new();
    let eg_secrets = [("password", EG_PASSWORD)];
    dir.file(
        "securesend.toml",
        profile("eg", &services.eg, &eg_secrets, &[], &[]).as_bytes(),
    );
    let name = "Übersicht – 日本.pdf";
    let data: Vec<u8> = (0..5000u32).map(|i| (i * 13 % 256) as u8).collect();
    dir.file(name, &data);
    let mut cmd = dir.cmd();
    for (var, value) in services.secrets() {
        cmd.env(var, value);
    }
    let out = cmd
        .args([
            "--config",
            "securesend.toml",
            "send",
            "--to",
            "ada@example.com",
            name,
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let sent = services.eg.outbox().messages();
    assert_eq!(sent.len(), 1);
    let files: Vec<(&str, &str)> = sent[0]
        .attachments
        .iter()
        .map(|a| (a.name.as_str(), a.sha256.as_str()))
        .collect();
    assert_eq!(files, [(name, common::sha256_hex(&data).as_str())]);
}
