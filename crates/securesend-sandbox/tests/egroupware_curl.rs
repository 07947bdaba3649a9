//! The curl invocations of EGroupware's own documentation (doc/REST-CalDAV-CardDAV/Mail.md),
//! run unchanged but for host, user and files against the EGroupware module.

use std::process::Command;

use securesend_sandbox::egroupware::Egroupware;
use securesend_sandbox::{Sandbox, SandboxOptions};
use serde_json::{Value, json};

/// What `curl -i` printed: the status line, the headers and the body.
#[derive(Debug)]
struct Printed {
    status_line: String,
    headers: Vec<(String, String)>,
    body: String,
}

impl Printed {
    fn status(&self) -> u16 {
        self.status_line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0)
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

/// Runs `curl -s <args>` off the async runtime.
async fn curl(args: Vec<String>) -> Printed {
    let out = tokio::task::spawn_blocking(move || {
        Command::new("curl")
            .arg("-s")
            .args(&args)
            .output()
            .expect("curl must be installed to run this test (.ci/run installs it)")
    })
    .await
    .unwrap();
    assert!(out.status.success(), "curl failed: {out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or("").to_owned();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        .collect();
    Printed {
        status_line,
        headers,
        body: body.to_owned(),
    }
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documented_curl_invocations() {
    let egw = Egroupware::new();
    let control = egw.control();
    let sb = Sandbox::start(&egw, SandboxOptions::default())
        .await
        .unwrap();
    let api = format!("{}/egroupware/groupdav.php", sb.base_url());
    let user = format!("ralf:{}", sb.credentials().get("password").unwrap());
    let dir = tempfile::tempdir().unwrap();

    // GET /mail: querying available identities.
    let r = curl(args(&[
        "-i",
        &format!("{api}/mail"),
        "--user",
        &user,
        "-H",
        "Accept: application/json",
    ]))
    .await;
    assert_eq!(r.status(), 200, "{r:?}");
    assert!(
        r.header("Content-Type")
            .unwrap()
            .starts_with("application/json")
    );
    assert_eq!(
        r.json()["responses"]["/mail/1"],
        "Ralf Becker example.org <ralf@example.org>"
    );

    // POST /mail: sending mail.
    let r = curl(args(&[
        "-i",
        &format!("{api}/mail"),
        "--user",
        &user,
        "-X",
        "POST",
        "-H",
        "Content-Type: application/json",
        "--data-binary",
        "{\"to\":[\"info@egroupware.org\"],\"subject\":\"Testmail\",\"body\":\"This is a test :)\\n\\nRegards\"}",
    ]))
    .await;
    assert_eq!(r.status(), 200, "{r:?}");
    assert_eq!(
        r.json(),
        json!({"status": 200, "message": "Mail successful sent"})
    );
    let sent = &sb.outbox().messages()[0];
    assert_eq!(sent.to, ["info@egroupware.org"]);
    assert_eq!(sent.subject, "Testmail");
    assert_eq!(
        sent.text_body.as_deref(),
        Some("This is a test :)\n\nRegards")
    );

    // Not authenticated.
    let r = curl(args(&[
        "-i",
        &format!("{api}/mail"),
        "-X",
        "POST",
        "-H",
        "Content-Type: application/json",
        "--data-binary",
        "{}",
    ]))
    .await;
    assert_eq!(r.status(), 401);
    assert_eq!(
        r.header("WWW-Authenticate"),
        Some("Basic realm=\"EGroupware CalDAV/CardDAV/GroupDAV server\"")
    );
    assert_eq!(r.header("X-WebDAV-Status"), Some("401 Unauthorized"));

    // POST /mail/compose: launching a compose window; and the user-not-online answer, whose
    // text is the reason phrase.
    let compose = |user: String| {
        curl(args(&[
            "-i",
            &format!("{api}/mail/compose"),
            "--user",
            &user,
            "-X",
            "POST",
            "-H",
            "Content-Type: application/json",
            "--data-binary",
            "{\"to\":[\"info@egroupware.org\"],\"subject\":\"Testmail\"}",
        ]))
    };
    let r = compose(user.clone()).await;
    assert_eq!(
        r.json(),
        json!({"status": 200, "message": "Request to open compose window sent"})
    );
    control.set_online("ralf", false);
    let r = compose(user.clone()).await;
    assert_eq!(r.status_line, "HTTP/1.1 404 User 'ralf' (#5) is NOT online");
    assert_eq!(r.json()["message"], "User 'ralf' (#5) is NOT online");
    control.set_online("ralf", true);

    // POST /mail/attachments/<filename>: uploading an attachment, with and without Location.
    let file = dir.path().join("offer.pdf");
    std::fs::write(&file, b"%PDF-1.4 offer").unwrap();
    let at_file = format!("@{}", file.display());
    let r = curl(args(&[
        "-i",
        &format!("{api}/mail/attachments/offer.pdf"),
        "--user",
        &user,
        "--data-binary",
        &at_file,
        "-H",
        "Content-Type: application/pdf",
    ]))
    .await;
    assert_eq!(r.status_line, "HTTP/1.1 201 Created");
    let location = r.json()["location"].as_str().unwrap().to_owned();
    assert_eq!(
        r.header("Location"),
        Some(format!("{api}{location}").as_str())
    );
    assert_eq!(r.json()["message"], "Attachment stored");
    let r = curl(args(&[
        "-i",
        &format!("{api}/mail/attachments/offer.pdf"),
        "--user",
        &user,
        "--data-binary",
        &at_file,
        "-H",
        "Content-Type: application/pdf",
        "-H",
        "X-No-Location: true",
    ]))
    .await;
    assert_eq!(r.status(), 200);
    assert!(r.header("Location").is_none());
    // The uploaded token is usable in a send, once.
    let send = format!(
        "{{\"to\":[\"info@egroupware.org\"],\"subject\":\"offer\",\"attachments\":[\"{location}\"]}}"
    );
    let post = |body: String| {
        curl(vec![
            "-i".into(),
            format!("{api}/mail"),
            "--user".into(),
            user.clone(),
            "-X".into(),
            "POST".into(),
            "-H".into(),
            "Content-Type: application/json".into(),
            "--data-binary".into(),
            body,
        ])
    };
    assert_eq!(post(send.clone()).await.status(), 200);
    assert_eq!(sb.outbox().messages()[1].attachments[0].name, "offer.pdf");
    let again = post(send).await;
    assert_eq!(again.status(), 400);
    assert_eq!(
        again.json()["message"],
        format!("Attachment {location} NOT found")
    );

    // POST /mail/view: viewing an eml file.
    let eml = dir.path().join("message.eml");
    std::fs::write(&eml, b"From: a@example.com\r\nSubject: hi\r\n\r\nbody\r\n").unwrap();
    let r = curl(args(&[
        "-i",
        &format!("{api}/mail/view"),
        "--user",
        &user,
        "--data-binary",
        &format!("@{}", eml.display()),
        "-H",
        "Content-Type: message/rfc822",
    ]))
    .await;
    assert_eq!(r.json()["message"], "Request to open view window sent");

    // POST and GET /mail/vacation.
    let r = curl(args(&[
        "-i",
        &format!("{api}/mail/vacation"),
        "--user",
        &user,
        "-X",
        "POST",
        "-H",
        "Content-Type: application/json",
        "--data-binary",
        "{\"text\":\"I'm away from $$start$$ to $$end$$, will respond when I'm back.\",\"start\":\"2023-01-01\",\"end\":\"2023-01-10\"}",
    ]))
    .await;
    assert_eq!(r.status(), 200, "{r:?}");
    let r = curl(args(&[
        "-i",
        &format!("{api}/mail/vacation"),
        "--user",
        &user,
        "-H",
        "Accept: application/json",
    ]))
    .await;
    let v = r.json();
    assert_eq!(
        (v["start"].clone(), v["end"].clone()),
        (json!("2023-01-01"), json!("2023-01-10"))
    );
    assert_eq!(v["status"], "by_date");
    assert_eq!(v["modus"], "notice+store");

    // GET and PATCH /mail/<id>.
    let r = curl(args(&[
        "-i",
        &format!("{api}/mail/1"),
        "--user",
        &user,
        "-H",
        "Accept: application/json",
    ]))
    .await;
    assert_eq!(r.json()["identId"], 1);
    let r = curl(args(&[
        "-i",
        &format!("{api}/mail/1"),
        "--user",
        &user,
        "-H",
        "Content-Type: application/json",
        "-X",
        "PATCH",
        "-d",
        "{\"identName\": \"Test Ralf\", \"quotaLimit\": 200, \"accountStatus\": true}",
    ]))
    .await;
    assert_eq!(r.status(), 204);
    assert_eq!(r.header("x-webdav-status"), Some("204 No Content"));
    assert!(
        r.header("x-dav-powered-by")
            .unwrap()
            .contains("CalDAV/CardDAV/GroupDAV server")
    );
}
