//! `securesend doctor` against the Kiteworks sandbox: it checks the configured credentials
//! (not a token kept from an earlier sign-in), takes "reach" as ok only from a server that
//! answers as Kiteworks does, and local state that could be redirected is refused.

mod common;

use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Output;

use common::{Running, Sandbox};
use securesend_sandbox::kiteworks::{KiteworksOptions, KiteworksService};

const SECRET: &str = "doctor-client-secret";
const PASSWORD: &str = "doctor-password";

fn service() -> (KiteworksService, KiteworksOptions) {
    let options = KiteworksOptions {
        client_secret: SECRET.into(),
        password: PASSWORD.into(),
        ..KiteworksOptions::default()
    };
    (KiteworksService::new(options.clone()), options)
}

/// A profile with its secrets in the environment (`KW_SECRET`, `KW_PASSWORD`).
fn write_config(sb: &Sandbox, base_url: &str, o: &KiteworksOptions, state_dir: &str) {
    let text = format!(
        r#"default = "kw"
[profiles.kw]
provider = "kiteworks"
base_url = "{base_url}"
client_id = "{}"
client_secret = {{ env = "KW_SECRET" }}
grant = "password"
username = "{}"
password = {{ env = "KW_PASSWORD" }}
state_dir = "{state_dir}"

[profiles.kw.http]
max_retry_secs = 2
"#,
        o.client_id, o.user_email
    );
    sb.file("securesend.toml", text.as_bytes());
}

fn run(sb: &Sandbox, args: &[&str], secret: &str, password: &str) -> Output {
    sb.cmd()
        .args(["--config", "securesend.toml"])
        .args(args)
        .env("KW_SECRET", secret)
        .env("KW_PASSWORD", password)
        .output()
        .unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn kept_access(state: &Path) -> String {
    let text = std::fs::read_to_string(state.join("token.json")).unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    json["access_token"].as_str().unwrap().to_owned()
}

#[test]
fn doctor_checks_the_credentials_not_a_kept_token() {
    let (svc, o) = service();
    let running = Running::start(&svc);
    let sb = Sandbox::new();
    write_config(&sb, running.sandbox().base_url(), &o, "state");
    let out = run(&sb, &["doctor"], SECRET, PASSWORD);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let state = sb.path().join("state");
    let old = kept_access(&state);
    let journal = || running.sandbox().journal().snapshot();
    let with_old = || {
        journal()
            .iter()
            .filter(|e| e.header("authorization") == Some(&format!("Bearer {old}")))
            .count()
    };
    let used = with_old();

    for (secret, password, what) in [
        (SECRET, "wrong-password", "password"),
        ("wrong-secret", PASSWORD, "client secret"),
    ] {
        let out = run(&sb, &["doctor"], secret, password);
        assert_eq!(out.status.code(), Some(3), "{what}: {}", text(&out));
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            stdout.contains("ok    reach") && stdout.contains("FAIL  authenticate"),
            "{what}: {}",
            text(&out)
        );
        // Other commands do not use the token kept for the old credentials either.
        let out = run(&sb, &["ls"], secret, password);
        assert_eq!(out.status.code(), Some(3), "{what}: {}", text(&out));
        let last_token = journal()
            .into_iter()
            .rev()
            .find(|e| e.path.ends_with("/oauth/token"))
            .unwrap();
        assert_eq!(
            last_token.status,
            Some(400),
            "{what}: the new credentials were sent"
        );
        assert_eq!(with_old(), used, "{what}: the kept token was sent");
    }
    // Nothing was lost: the right credentials still pass.
    let out = run(&sb, &["doctor"], SECRET, PASSWORD);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

/// A loopback server that answers every request with `answer`; returns its base URL.
fn plain_server(answer: &'static str) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { return };
            let mut buf = [0u8; 8192];
            let _ = s.read(&mut buf);
            let _ = s.write_all(answer.as_bytes());
        }
    });
    url
}

#[test]
fn doctor_reach_fails_for_a_server_that_is_not_kiteworks() {
    let (_, o) = service();
    for answer in [
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello",
        "HTTP/1.1 404 Not Found\r\nContent-Type: text/html\r\nContent-Length: 22\r\nConnection: close\r\n\r\n<h1>404 Not Found</h1>",
    ] {
        let sb = Sandbox::new();
        let url = plain_server(answer);
        write_config(&sb, &url, &o, "state");
        let out = run(&sb, &["doctor"], SECRET, PASSWORD);
        assert_eq!(out.status.code(), Some(2), "{}", text(&out));
        let stdout = String::from_utf8_lossy(&out.stdout);
        let line = stdout
            .lines()
            .find(|l| l.starts_with("FAIL  reach"))
            .unwrap_or_else(|| panic!("{}", text(&out)));
        assert!(
            line.contains("does not look like a Kiteworks server")
                && line.contains("profiles.kw.base_url"),
            "{line}"
        );
    }
}

#[test]
fn a_state_dir_that_is_a_link_is_refused_and_an_open_one_is_made_private() {
    let (svc, o) = service();
    let running = Running::start(&svc);
    let sb = Sandbox::new();
    let target = sb.path().join("somewhere-else");
    std::fs::create_dir(&target).unwrap();
    std::os::unix::fs::symlink(&target, sb.path().join("state")).unwrap();
    write_config(&sb, running.sandbox().base_url(), &o, "state");
    let out = run(&sb, &["doctor"], SECRET, PASSWORD);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .find(|l| l.starts_with("FAIL  settings"))
        .unwrap_or_else(|| panic!("{}", text(&out)));
    assert!(
        line.contains("profiles.kw.state_dir")
            && line.contains(&target.display().to_string())
            && line.contains("symbolic link"),
        "{line}"
    );
    assert_eq!(std::fs::read_dir(&target).unwrap().count(), 0);
    let out = run(&sb, &["ls"], SECRET, PASSWORD);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert_eq!(std::fs::read_dir(&target).unwrap().count(), 0);

    // A real directory open to others is made owner-only, with one warning line.
    std::fs::remove_file(sb.path().join("state")).unwrap();
    let state = sb.path().join("state");
    std::fs::create_dir(&state).unwrap();
    std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o777)).unwrap();
    let out = run(&sb, &["doctor"], SECRET, PASSWORD);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let mode = std::fs::metadata(&state).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let warnings: Vec<_> = stderr
        .lines()
        .filter(|l| l.contains("open to other users"))
        .collect();
    assert_eq!(warnings.len(), 1, "{stderr}");
    assert!(
        !stderr.contains(SECRET) && !stderr.contains(PASSWORD),
        "{stderr}"
    );
}
