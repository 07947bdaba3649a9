//! The `securesend-sandbox` binary as a subprocess.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use securesend_sandbox::Registry;
use securesend_sandbox::generated::SECRET_FIELDS;

const BIN: &str = env!("CARGO_BIN_EXE_securesend-sandbox");

/// The child's stdout, line by line, read on a thread.
struct Lines(mpsc::Receiver<String>);

impl Lines {
    fn of(child: &mut Child) -> Lines {
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Lines(rx)
    }

    /// Reads until the `ready` line; returns everything read. The deadline only turns a hung
    /// binary into a failure instead of a hung test run.
    fn wait_ready(&self, child: &mut Child) -> String {
        let mut seen = String::new();
        loop {
            match self.0.recv_timeout(Duration::from_secs(120)) {
                Ok(line) => {
                    seen.push_str(&line);
                    seen.push('\n');
                    if line.starts_with("ready") {
                        return seen;
                    }
                }
                Err(_) => {
                    let _ = child.kill();
                    let mut err = String::new();
                    if let Some(mut e) = child.stderr.take() {
                        let _ = e.read_to_string(&mut err);
                    }
                    panic!("the sandbox never became ready; stdout:\n{seen}\nstderr:\n{err}");
                }
            }
        }
    }

    /// Everything after, until the child closes its stdout.
    fn rest(self) -> String {
        self.0.iter().map(|l| l + "\n").collect()
    }
}

fn signal(child: &Child, name: &str) {
    let ok = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(child.id().to_string())
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill -{name} failed");
}

fn serve(dir: &Path, provider: &str) -> Child {
    Command::new(BIN)
        .args(["serve", "--provider", provider, "--config-out"])
        .arg(dir.join("securesend.toml"))
        .arg("--seed-out")
        .arg(dir.join("seeds.json"))
        .args(["--fault-rate", "0.1", "--seed", "7", "--latency-ms", "1"])
        .args(["--chunk-max", "1MiB"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn serve_all_writes_a_ready_config_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = serve(dir.path(), "all");
    let lines = Lines::of(&mut child);
    let out = lines.wait_ready(&mut child);
    assert!(out.contains("--seed 7"), "{out}");

    let text = std::fs::read_to_string(dir.path().join("securesend.toml")).unwrap();
    let config: toml::Table = text.parse().unwrap();
    let profiles = config["profiles"].as_table().unwrap();
    let builtin = Registry::builtin().keys();
    let mut expected: Vec<&str> = builtin.clone();
    expected.push("local");
    let mut names: Vec<&str> = profiles.keys().map(String::as_str).collect();
    names.sort();
    expected.sort();
    assert_eq!(names, expected);
    for key in &builtin {
        let p = profiles[*key].as_table().unwrap();
        assert_eq!(p["provider"].as_str(), Some(*key));
        assert!(
            p["base_url"]
                .as_str()
                .unwrap()
                .starts_with("http://127.0.0.1:")
        );
    }
    let local = profiles["local"].as_table().unwrap();
    assert_eq!(local["provider"].as_str(), Some("local"));
    let root = dir.path().join(local["root"].as_str().unwrap());
    assert!(root.is_dir(), "local root {} exists", root.display());
    let default = config["default"].as_str().unwrap();
    assert!(profiles.contains_key(default));

    let seeds: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("seeds.json")).unwrap()).unwrap();
    let providers = seeds["providers"].as_object().unwrap();
    assert_eq!(providers.len(), builtin.len());

    signal(&child, "TERM");
    let status = child.wait().unwrap();
    assert!(status.success(), "exit: {status:?}");
    assert!(lines.rest().contains("SIGTERM received"));
}

/// Every WARN (or worse) event emitted while `f` runs, as text.
fn warnings_during<T>(f: impl FnOnce() -> T) -> (T, String) {
    use std::sync::{Arc, Mutex};
    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let buf = Buf::default();
    let writer = buf.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::WARN)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let out = tracing::subscriber::with_default(subscriber, f);
    let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
    (out, text)
}

/// Collects `(path, value)` of every secret field in a profile, at any depth.
fn secret_fields(at: &str, table: &toml::Table, out: &mut Vec<(String, toml::Value)>) {
    for (k, v) in table {
        let path = format!("{at}.{k}");
        if SECRET_FIELDS.contains(&k.as_str()) {
            out.push((path, v.clone()));
        } else if let toml::Value::Table(inner) = v {
            secret_fields(&path, inner, out);
        }
    }
}

#[test]
fn generated_config_keeps_secrets_in_owner_only_files_and_loads_without_warnings() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = serve(dir.path(), "all");
    let lines = Lines::of(&mut child);
    let out = lines.wait_ready(&mut child);
    let config_path = dir.path().join("securesend.toml");
    let config = securesend_core::config::ConfigFile::load(&config_path).unwrap();
    let text = std::fs::read_to_string(&config_path).unwrap();
    let table: toml::Table = text.parse().unwrap();
    let mut fields = Vec::new();
    for (name, profile) in table["profiles"].as_table().unwrap() {
        secret_fields(
            &format!("profiles.{name}"),
            profile.as_table().unwrap(),
            &mut fields,
        );
    }
    // Every service has at least one secret (the local profile has none).
    assert!(
        fields.len() >= Registry::builtin().keys().len(),
        "{fields:?}"
    );
    let (resolved, warnings) = warnings_during(|| {
        fields
            .iter()
            .map(|(path, value)| {
                let secret: securesend_core::SecretRef = value.clone().try_into().unwrap();
                // Resolved as the adapters do: relative to the profile's base directory, which
                // the core takes from the configuration file's place.
                let profile = path.split('.').nth(1).unwrap();
                let base = config.profile(Some(profile)).unwrap().base_dir().to_owned();
                let got = secret.resolve(path, &base);
                (path.clone(), got.map(|s| s.expose().to_owned()))
            })
            .collect::<Vec<_>>()
    });
    assert_eq!(warnings, "", "loading the generated secrets warned");
    for (path, got) in resolved {
        let value = got.unwrap_or_else(|e| panic!("{path}: {e}"));
        // The value is the sandbox's own credential, which `serve` prints, and it is nowhere
        // in the configuration file itself.
        assert!(
            out.contains(&format!("={value}")),
            "{path}: not a printed credential"
        );
        assert!(
            !text.contains(&value),
            "{path}: the secret is in the configuration file"
        );
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let secrets = dir.path().join("securesend-secrets");
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&secrets), 0o700);
        for entry in std::fs::read_dir(&secrets).unwrap() {
            let p = entry.unwrap().path();
            assert_eq!(mode(&p), 0o600, "{}", p.display());
        }
    }
    signal(&child, "TERM");
    assert!(child.wait().unwrap().success());
}

#[test]
fn sigint_also_stops_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = serve(dir.path(), "local");
    let lines = Lines::of(&mut child);
    lines.wait_ready(&mut child);
    let config: toml::Table = std::fs::read_to_string(dir.path().join("securesend.toml"))
        .unwrap()
        .parse()
        .unwrap();
    let profiles = config["profiles"].as_table().unwrap();
    assert_eq!(profiles.keys().collect::<Vec<_>>(), ["local"]);
    assert_eq!(config["default"].as_str(), Some("local"));
    signal(&child, "INT");
    assert!(child.wait().unwrap().success());
    assert!(lines.rest().contains("SIGINT received"));
}

#[test]
fn unknown_provider_fails_listing_the_available_ones() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("securesend.toml");
    let output = Command::new(BIN)
        .args(["serve", "--provider", "nosuch", "--config-out"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(!output.status.success());
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(err.contains("unknown provider `nosuch`"), "{err}");
    for name in Registry::builtin().accepted_names() {
        assert!(
            err.contains(&format!("`{name}`")),
            "{name} missing from: {err}"
        );
    }
    assert!(!config.exists(), "nothing written on error");
}

#[test]
fn out_of_range_fault_rate_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(BIN)
        .args([
            "serve",
            "--provider",
            "all",
            "--fault-rate",
            "1.5",
            "--config-out",
        ])
        .arg(dir.path().join("x.toml"))
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("between 0 and 1"));
}

#[test]
fn list_names_every_provider() {
    let output = Command::new(BIN).arg("list").output().unwrap();
    assert!(output.status.success());
    let out = String::from_utf8_lossy(&output.stdout);
    for key in Registry::builtin().keys().into_iter().chain(["local"]) {
        assert!(
            out.lines().any(|l| l.starts_with(key)),
            "{key} missing: {out}"
        );
    }
}

#[test]
fn egroupware_edition_option_sets_the_server_and_the_profile() {
    for (edition, expected) in [(None, None), (Some("epl"), Some("epl"))] {
        let dir = tempfile::tempdir().unwrap();
        let mut cmd = Command::new(BIN);
        cmd.args(["serve", "--provider", "egroupware", "--config-out"])
            .arg(dir.path().join("securesend.toml"));
        if let Some(e) = edition {
            cmd.args(["--egroupware-edition", e]);
        }
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let lines = Lines::of(&mut child);
        lines.wait_ready(&mut child);
        let text = std::fs::read_to_string(dir.path().join("securesend.toml")).unwrap();
        let config: toml::Table = text.parse().unwrap();
        let profile = config["profiles"]["egroupware"].as_table().unwrap();
        assert_eq!(profile.get("edition").and_then(|v| v.as_str()), expected);
        signal(&child, "TERM");
        assert!(child.wait().unwrap().success());
    }
    let out = Command::new(BIN)
        .args([
            "serve",
            "--provider",
            "egroupware",
            "--config-out",
            "x.toml",
        ])
        .args(["--egroupware-edition", "gold"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("community"));
}
