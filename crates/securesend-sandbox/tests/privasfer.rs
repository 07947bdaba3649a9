//! The Privasfer module over HTTP: envelopes, the documented strings, TTLs, single use,
//! ownership, the rate limit, Laravel's redirects, and the seed manifest.

use std::process::{Command, Stdio};
use std::time::Duration;

use reqwest::{Client, Method, StatusCode};
use securesend_sandbox::privasfer::{Privasfer, TEMPORARY_KEY_KIND};
use securesend_sandbox::{ManualClock, RateLimit, RateLimitSetting, Sandbox, SandboxOptions};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

struct Api {
    sb: Sandbox,
    http: Client,
}

struct Answer {
    status: StatusCode,
    headers: reqwest::header::HeaderMap,
    body: Vec<u8>,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|_| {
            panic!(
                "not JSON ({}): {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

impl Api {
    async fn start(options: SandboxOptions) -> Api {
        // reqwest wants a rustls provider at build time even for plain http.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let sb = Sandbox::start(&Privasfer, options).await.unwrap();
        let http = Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Api { sb, http }
    }

    fn token(&self) -> String {
        self.sb.credentials().get("token").unwrap().to_owned()
    }

    fn pin(&self) -> String {
        self.sb.credentials().get("pin").unwrap().to_owned()
    }

    /// A request as the documentation's examples make it: bearer, JSON accepted and sent.
    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Answer {
        self.call_as(&self.token(), method, path, body).await
    }

    async fn call_as(
        &self,
        token: &str,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Answer {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.sb.base_url()))
            .bearer_auth(token)
            .header("accept", "application/json");
        if let Some(b) = body {
            req = req.json(&b);
        }
        Self::answer(req).await
    }

    async fn answer(req: reqwest::RequestBuilder) -> Answer {
        let resp = req.send().await.unwrap();
        Answer {
            status: resp.status(),
            headers: resp.headers().clone(),
            body: resp.bytes().await.unwrap().to_vec(),
        }
    }

    async fn temporary_key(&self) -> String {
        let a = self
            .call(
                Method::POST,
                "/api/keys",
                Some(json!({ "pin": self.pin() })),
            )
            .await;
        assert_eq!(a.status, StatusCode::CREATED, "{}", a.json());
        a.json()["data"]["key"].as_str().unwrap().to_owned()
    }

    fn seeded(&self, name: &str) -> securesend_sandbox::SeededItem {
        self.sb
            .seeded()
            .iter()
            .find(|i| i.name == name)
            .unwrap_or_else(|| panic!("no seeded {name}"))
            .clone()
    }
}

fn invalid(a: &Answer, field: &str, message: &str) {
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        a.json(),
        json!({ "message": "The given data was invalid.", "errors": { field: [message] } })
    );
}

fn sha256_hex(b: &[u8]) -> String {
    hex::encode(Sha256::digest(b))
}

#[tokio::test]
async fn lists_are_wrapped_in_data_with_documented_fields_and_formats() {
    let api = Api::start(SandboxOptions::default()).await;
    let files = api.call(Method::GET, "/api/files?sort=-size", None).await;
    assert_eq!(files.status, StatusCode::OK);
    assert!(files.header("x-ratelimit-limit") == Some("300"));
    let list = files.json()["data"].as_array().unwrap().clone();
    assert_eq!(list.len(), 3, "only the caller's own files");
    let report = &list[0];
    assert_eq!(report["full_filename"], "report.pdf");
    assert_eq!(report["filename"], "report");
    assert_eq!(report["extension"], "pdf");
    assert_eq!(report["type"], "application/pdf");
    assert_eq!(report["size"], 43_389);
    assert_eq!(report["formatted_size"], "42.37 KB");
    assert_eq!(report["encrypted_size"], 78_508);
    assert_eq!(report["formatted_encrypted_size"], "76.67 KB");
    assert_eq!(report["created_by"]["initials"], "Ada L.");
    assert_eq!(report["trashed"], false);
    assert!(report.get("category").is_none());
    let created = report["created_at"].as_str().unwrap();
    assert_eq!(created.len(), 19, "YYYY-MM-DD HH:MM:SS: {created}");
    assert_eq!(&created[10..11], " ");
    let one = api
        .call(
            Method::GET,
            &format!(
                "/api/files/{}?include=category",
                report["id"].as_str().unwrap()
            ),
            None,
        )
        .await;
    assert!(one.json()["data"].get("category").is_some());

    let sent = api
        .call(
            Method::GET,
            "/api/mails?include=download.files&sort=sent_at",
            None,
        )
        .await
        .json();
    let sent = sent["data"].as_array().unwrap();
    assert_eq!(sent.len(), 2);
    // The documented quirk: an unopened mail's `opened_at` is "", not null.
    assert_ne!(sent[0]["opened_at"], "");
    assert_eq!(sent[1]["opened_at"], "");
    assert_eq!(sent[1]["recipient_email"], "grace@example.com");
    assert_eq!(sent[1]["status"], "success");
    assert_eq!(sent[1]["identifier"].as_str().unwrap().len(), 4);
    assert_eq!(
        sent[1]["download"]["files"][0]["full_filename"],
        "Übersicht 2026.txt"
    );

    let inbox = api
        .call(Method::GET, "/api/inbox?keyword=PHOTOS", None)
        .await
        .json();
    let inbox = inbox["data"].as_array().unwrap();
    assert_eq!(inbox.len(), 1);
    assert_eq!(inbox[0]["opened"], true);
    assert_eq!(inbox[0]["sender"]["email"], "grace@example.com");
    assert!(
        inbox[0].get("download").is_none(),
        "only with include=download"
    );
    let id = inbox[0]["id"].as_str().unwrap();
    let with = api
        .call(
            Method::GET,
            &format!("/api/inbox/{id}?include=download"),
            None,
        )
        .await
        .json();
    assert!(with["data"]["download"]["id"].is_string());
    assert!(with["data"]["download"].get("files").is_none());

    let bad = api.call(Method::GET, "/api/inbox?sort=size", None).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(
        bad.json()["message"]
            .as_str()
            .unwrap()
            .contains("Allowed sort(s) are `subject, created_by_email, received_at`")
    );
    let bad = api
        .call(Method::GET, "/api/mails?include=files", None)
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn authentication_and_laravel_redirects() {
    let api = Api::start(SandboxOptions::default()).await;
    let url = format!("{}/api/inbox", api.sb.base_url());
    let none = Api::answer(api.http.get(&url).header("accept", "application/json")).await;
    assert_eq!(none.status, StatusCode::UNAUTHORIZED);
    assert_eq!(none.json(), json!({ "message": "Unauthenticated." }));
    let wrong = api
        .call_as(&"x".repeat(60), Method::GET, "/api/inbox", None)
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    // Without `Accept: application/json`, Laravel sends a browser to its login page.
    let browser = Api::answer(api.http.get(&url)).await;
    assert_eq!(browser.status, StatusCode::FOUND);
    assert_eq!(browser.header("location"), Some("/login"));
    // A validation error without it redirects back.
    let form = Api::answer(
        api.http
            .post(format!("{}/api/keys", api.sb.base_url()))
            .bearer_auth(api.token())
            .json(&json!({ "pin": "nope" })),
    )
    .await;
    assert_eq!(form.status, StatusCode::FOUND);
    let unknown = api.call(Method::GET, "/api/nothing", None).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn temporary_keys_take_the_pin_live_an_hour_and_are_revoked() {
    let clock = ManualClock::new();
    let api = Api::start(SandboxOptions::default().clock(clock.clock())).await;
    invalid(
        &api.call(Method::POST, "/api/keys", Some(json!({ "pin": "wrong" })))
            .await,
        "pin",
        "Invalid PIN.",
    );
    invalid(
        &api.call(Method::POST, "/api/keys", Some(json!({}))).await,
        "pin",
        "The pin field is required.",
    );
    // A body that is not sent as JSON is not read at all.
    let form = Api::answer(
        api.http
            .post(format!("{}/api/keys", api.sb.base_url()))
            .bearer_auth(api.token())
            .header("accept", "application/json")
            .body(format!("{{\"pin\":\"{}\"}}", api.pin())),
    )
    .await;
    invalid(&form, "pin", "The pin field is required.");

    let a = api
        .call(Method::POST, "/api/keys", Some(json!({ "pin": api.pin() })))
        .await;
    assert_eq!(a.status, StatusCode::CREATED);
    let data = a.json()["data"].clone();
    let key = data["key"].as_str().unwrap().to_owned();
    assert_eq!(key.len(), 32);
    assert!(key.bytes().all(|b| b.is_ascii_alphanumeric()));
    assert_eq!(
        data["expires_at"], "2023-11-14 23:13:20",
        "one hour after the clock's start"
    );
    assert_eq!(api.sb.tokens().live(TEMPORARY_KEY_KIND), 1);
    clock.advance(Duration::from_secs(3600));
    assert_eq!(
        api.sb.tokens().live(TEMPORARY_KEY_KIND),
        0,
        "gone after the hour"
    );

    let key = api.temporary_key().await;
    // Another account cannot revoke it; its owner can, once.
    let other = api.sb.credentials().get("other_token").unwrap().to_owned();
    let theirs = api
        .call_as(&other, Method::DELETE, &format!("/api/keys/{key}"), None)
        .await;
    assert_eq!(theirs.status, StatusCode::NOT_FOUND);
    let gone = api
        .call(Method::DELETE, &format!("/api/keys/{key}"), None)
        .await;
    assert_eq!(gone.status, StatusCode::NO_CONTENT);
    assert!(gone.body.is_empty());
    let again = api
        .call(Method::DELETE, &format!("/api/keys/{key}"), None)
        .await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn manual_downloads_are_validated_single_use_and_last_a_minute() {
    let clock = ManualClock::new();
    let api = Api::start(SandboxOptions::default().clock(clock.clock())).await;
    let report = api.seeded("report.pdf");
    let private = api.seeded("private.txt");
    let post = |body: Value| api.call(Method::POST, "/api/downloads", Some(body));
    invalid(
        &post(json!({})).await,
        "files",
        "The files field is required.",
    );
    invalid(
        &post(json!({ "files": [] })).await,
        "files",
        "The files field is required.",
    );
    invalid(
        &post(json!({ "files": "x" })).await,
        "files",
        "The files must be an array.",
    );
    invalid(
        &post(json!({ "files": [private.id] })).await,
        "files.0",
        "The selected files.0 is invalid.",
    );
    let made = post(json!({ "files": [report.id] })).await;
    assert_eq!(made.status, StatusCode::CREATED);
    let id = made.json()["data"]["id"].as_str().unwrap().to_owned();
    assert!(made.json()["data"]["created_at"].is_string());

    let key = api.temporary_key().await;
    let keys = format!("/api/downloads/{id}/keys");
    invalid(
        &api.call(Method::POST, &keys, Some(json!({ "pinKey": "nope" })))
            .await,
        "pinKey",
        "Pin key does not exists",
    );
    invalid(
        &api.call(Method::POST, &keys, Some(json!({}))).await,
        "pinKey",
        "The pin key field is required.",
    );
    let other = api.sb.credentials().get("other_token").unwrap().to_owned();
    let theirs = api
        .call_as(&other, Method::POST, &keys, Some(json!({ "pinKey": key })))
        .await;
    assert_eq!(
        theirs.status,
        StatusCode::NOT_FOUND,
        "another account's download"
    );
    let public = api
        .call(Method::POST, &keys, Some(json!({ "pinKey": key })))
        .await;
    assert_eq!(public.status, StatusCode::CREATED);
    let public = public.json()["data"]["key"].as_str().unwrap().to_owned();

    // The bytes need no token, only the public key; then the download is gone.
    let url = format!("{}/api/downloads/{id}?key={public}", api.sb.base_url());
    let wrong = Api::answer(
        api.http
            .get(format!("{}/api/downloads/{id}?key=x", api.sb.base_url())),
    )
    .await;
    assert_eq!(wrong.status, StatusCode::NOT_FOUND);
    let bytes = Api::answer(api.http.get(&url)).await;
    assert_eq!(bytes.status, StatusCode::OK);
    assert_eq!(Some(sha256_hex(&bytes.body)), report.sha256);
    assert_eq!(bytes.header("content-type"), Some("application/pdf"));
    assert!(
        bytes
            .header("content-disposition")
            .unwrap()
            .contains("report.pdf")
    );
    let twice = Api::answer(api.http.get(&url)).await;
    assert_eq!(twice.status, StatusCode::NOT_FOUND, "single use");

    // One minute, then it is gone whether used or not.
    let id = post(json!({ "files": [report.id] })).await.json()["data"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    clock.advance(Duration::from_secs(59));
    let keys = format!("/api/downloads/{id}/keys");
    let ok = api
        .call(Method::POST, &keys, Some(json!({ "pinKey": key })))
        .await;
    assert_eq!(ok.status, StatusCode::CREATED);
    let public = ok.json()["data"]["key"].as_str().unwrap().to_owned();
    clock.advance(Duration::from_secs(1));
    let late = api
        .call(Method::POST, &keys, Some(json!({ "pinKey": key })))
        .await;
    assert_eq!(late.status, StatusCode::NOT_FOUND);
    let url = format!("{}/api/downloads/{id}?key={public}", api.sb.base_url());
    assert_eq!(
        Api::answer(api.http.get(&url)).await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn inbox_downloads_serve_one_file_or_a_zip_and_stay() {
    let api = Api::start(SandboxOptions::default()).await;
    let key = api.temporary_key().await;
    let inbox = api
        .call(
            Method::GET,
            "/api/inbox?include=download,download.files",
            None,
        )
        .await
        .json();
    for mail in inbox["data"].as_array().unwrap() {
        let id = mail["download"]["id"].as_str().unwrap();
        let public = api
            .call(
                Method::POST,
                &format!("/api/downloads/{id}/keys"),
                Some(json!({ "pinKey": key })),
            )
            .await
            .json()["data"]["key"]
            .as_str()
            .unwrap()
            .to_owned();
        let url = format!("{}/api/downloads/{id}?key={public}", api.sb.base_url());
        let files = mail["download"]["files"].as_array().unwrap();
        for _ in 0..2 {
            let a = Api::answer(api.http.get(&url)).await;
            assert_eq!(
                a.status,
                StatusCode::OK,
                "an inbox download can be fetched again"
            );
            if files.len() == 1 {
                let seeded = api.seeded(files[0]["full_filename"].as_str().unwrap());
                assert_eq!(Some(sha256_hex(&a.body)), seeded.sha256);
            } else {
                assert_eq!(a.header("content-type"), Some("application/zip"));
                assert!(a.body.starts_with(b"PK\x03\x04"));
                for f in files {
                    let seeded = api.seeded(f["full_filename"].as_str().unwrap());
                    let size = seeded.size.unwrap() as usize;
                    let found = a
                        .body
                        .windows(size)
                        .any(|w| Some(sha256_hex(w)) == seeded.sha256);
                    assert!(found, "{} stored in the archive", seeded.name);
                }
            }
        }
    }
    // Another account's mail is not found.
    let other = api.sb.credentials().get("other_token").unwrap().to_owned();
    let theirs = api
        .call_as(&other, Method::GET, "/api/inbox", None)
        .await
        .json();
    let their_id = theirs["data"][0]["id"].as_str().unwrap().to_owned();
    let a = api
        .call(Method::GET, &format!("/api/inbox/{their_id}"), None)
        .await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn three_hundred_requests_a_minute_per_ip_then_429() {
    let clock = ManualClock::new();
    let api = Api::start(
        SandboxOptions::default()
            .clock(clock.clock())
            .rate_limit(RateLimitSetting::ServiceDefault),
    )
    .await;
    for n in 0..300u32 {
        let a = api.call(Method::GET, "/api/files", None).await;
        assert_eq!(a.status, StatusCode::OK, "request {n}");
        assert_eq!(
            a.header("x-ratelimit-remaining"),
            Some((299 - n).to_string().as_str())
        );
    }
    clock.advance(Duration::from_secs(20));
    let refused = api.call(Method::GET, "/api/files", None).await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(refused.json(), json!({ "message": "Too Many Attempts." }));
    assert_eq!(refused.header("retry-after"), Some("40"));
    assert_eq!(refused.header("x-ratelimit-limit"), Some("300"));
    assert_eq!(refused.header("x-ratelimit-remaining"), Some("0"));
    let reset: u64 = refused
        .header("x-ratelimit-reset")
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(reset, 1_700_000_000 + 60);
    clock.advance(Duration::from_secs(40));
    assert_eq!(
        api.call(Method::GET, "/api/files", None).await.status,
        StatusCode::OK
    );
    // A sandbox-wide limit replaces the documented one.
    let small = Api::start(
        SandboxOptions::default().rate_limit(RateLimitSetting::Limit(RateLimit::per_minute(1))),
    )
    .await;
    assert_eq!(
        small.call(Method::GET, "/api/files", None).await.status,
        StatusCode::OK
    );
    assert_eq!(
        small.call(Method::GET, "/api/files", None).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[test]
fn serve_writes_a_profile_and_a_manifest_of_the_seeded_mails_and_files() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_securesend-sandbox"))
        .args(["serve", "--provider", "privasfer", "--config-out"])
        .arg(dir.path().join("securesend.toml"))
        .arg("--seed-out")
        .arg(dir.path().join("seeds.json"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    while !line.starts_with("ready") {
        line.clear();
        let n = std::io::BufRead::read_line(&mut out, &mut line).unwrap();
        assert!(n > 0, "the sandbox stopped before it was ready");
    }
    let config: toml::Table = std::fs::read_to_string(dir.path().join("securesend.toml"))
        .unwrap()
        .parse()
        .unwrap();
    let profile = config["profiles"]["privasfer"].as_table().unwrap();
    assert!(profile["base_url"].as_str().unwrap().ends_with("/api"));
    // The secrets are in owner-only files beside the configuration, not in it.
    let secret = |field: &str| {
        let file = profile[field]["file"].as_str().unwrap();
        std::fs::read_to_string(dir.path().join(file)).unwrap()
    };
    assert_eq!(secret("token").len(), 60);
    assert!(!secret("pin").is_empty());
    let seeds: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("seeds.json")).unwrap()).unwrap();
    let items = seeds["providers"]["privasfer"]["items"].as_array().unwrap();
    let kind = |k: &str| items.iter().filter(|i| i["kind"] == k).count();
    assert_eq!(kind("file"), 8);
    assert_eq!(
        kind("message"),
        10,
        "five mails, each in an inbox and in sent items"
    );
    let inbox_files: Vec<_> = items
        .iter()
        .filter(|i| i["details"]["location"] == "inbox")
        .collect();
    assert_eq!(inbox_files.len(), 4);
    assert!(
        inbox_files
            .iter()
            .all(|i| i["sha256"].as_str().unwrap().len() == 64
                && i["details"]["mail_id"].is_string())
    );
    let _ = Command::new("kill").arg(child.id().to_string()).status();
    let _ = child.wait();
}

/// `GET /api/mails/{id}`, which `securesend ls sent/<id>` reads: the mail with its files for
/// its sender, 404 for anyone else and for an unknown id.
#[tokio::test]
async fn one_sent_mail_with_its_files_for_its_sender_only() {
    let api = Api::start(SandboxOptions::default()).await;
    let sent = api.call(Method::GET, "/api/mails", None).await.json();
    let id = sent["data"][0]["id"].as_str().unwrap().to_owned();
    let path = format!("/api/mails/{id}?include=download,download.files");
    let one = api.call(Method::GET, &path, None).await;
    assert_eq!(one.status, StatusCode::OK);
    let one = one.json();
    assert_eq!(one["data"]["id"], id.as_str());
    let files = one["data"]["download"]["files"].as_array().unwrap();
    assert_eq!(files.len(), 1);
    assert!(files[0]["full_filename"].is_string());
    let other = api.sb.credentials().get("other_token").unwrap().to_owned();
    let foreign = api.call_as(&other, Method::GET, &path, None).await;
    assert_eq!(foreign.status, StatusCode::NOT_FOUND);
    let unknown = api
        .call(
            Method::GET,
            "/api/mails/00000000-0000-4000-8000-000000000000",
            None,
        )
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
}
