//! The EGroupware module over loopback HTTP: authentication forms, token rules, identities,
//! the error envelope, one-shot upload tokens, compose/view, vacation and WebDAV.

use reqwest::{Method, StatusCode};
use securesend_sandbox::egroupware::{Egroupware, EgroupwareControl};
use securesend_sandbox::{Sandbox, SandboxOptions};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

struct Env {
    sb: Sandbox,
    control: EgroupwareControl,
    http: reqwest::Client,
}

fn sha256(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

impl Env {
    async fn start() -> Env {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let egw = Egroupware::new();
        let control = egw.control();
        let sb = Sandbox::start(&egw, SandboxOptions::default())
            .await
            .unwrap();
        Env {
            sb,
            control,
            http: reqwest::Client::new(),
        }
    }

    fn cred(&self, key: &str) -> String {
        self.sb.credentials().get(key).unwrap().to_owned()
    }

    fn url(&self, endpoint: &str, path: &str) -> String {
        format!("{}/egroupware/{endpoint}{path}", self.sb.base_url())
    }

    /// A request to `groupdav.php<path>` as `user` with `password_<user>` (or `secret`).
    fn dav(&self, method: Method, path: &str, user: &str) -> reqwest::RequestBuilder {
        let pw = self.cred(&format!("password_{user}"));
        self.http
            .request(method, self.url("groupdav.php", path))
            .basic_auth(user, Some(pw))
    }

    fn files(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, self.url("webdav.php", path))
            .basic_auth("ralf", Some(self.cred("password")))
    }

    async fn post_json(&self, path: &str, user: &str, body: Value) -> reqwest::Response {
        self.dav(Method::POST, path, user)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap()
    }

    async fn upload(&self, name: &str, data: &'static [u8]) -> reqwest::Response {
        self.dav(Method::POST, &format!("/mail/attachments/{name}"), "ralf")
            .header("content-type", "application/octet-stream")
            .body(data)
            .send()
            .await
            .unwrap()
    }
}

fn header<'a>(r: &'a reqwest::Response, name: &str) -> Option<&'a str> {
    r.headers().get(name).and_then(|v| v.to_str().ok())
}

#[tokio::test]
async fn two_401_forms() {
    let env = Env::start().await;
    let realm = "Basic realm=\"EGroupware CalDAV/CardDAV/GroupDAV server\"";

    let none = env
        .http
        .get(env.url("groupdav.php", "/mail"))
        .send()
        .await
        .unwrap();
    assert_eq!(none.status(), 401);
    assert_eq!(header(&none, "www-authenticate"), Some(realm));
    assert_eq!(header(&none, "x-webdav-status"), Some("401 Unauthorized"));
    assert_eq!(header(&none, "x-dav-powered-by"), None);
    assert_eq!(
        none.text().await.unwrap(),
        "Unauthorized, you need to authenticate first!"
    );

    let empty_pw = env
        .http
        .get(env.url("groupdav.php", "/mail"))
        .basic_auth("ralf", Some(""))
        .send()
        .await
        .unwrap();
    assert!(empty_pw.text().await.unwrap().starts_with("Unauthorized"));

    let wrong = env
        .http
        .get(env.url("groupdav.php", "/mail"))
        .basic_auth("ralf", Some("wrong"))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    assert_eq!(header(&wrong, "www-authenticate"), Some(realm));
    assert!(
        wrong
            .text()
            .await
            .unwrap()
            .contains("Authorization failed.")
    );
}

#[tokio::test]
async fn application_password_owner_and_validity_rules() {
    let env = Env::start().await;
    let get = |user: &'static str, token: String| {
        env.http
            .get(env.url("groupdav.php", "/mail"))
            .header("accept", "application/json")
            .basic_auth(user, Some(token))
            .send()
    };
    assert_eq!(
        get("ralf", env.cred("app_password"))
            .await
            .unwrap()
            .status(),
        200
    );
    // Owner 0: valid for every user (impersonation).
    let anna = get("anna", env.cred("app_password_all_users"))
        .await
        .unwrap();
    assert_eq!(anna.status(), 200);
    let ids: Value = anna.json().await.unwrap();
    assert!(ids["responses"]["/mail/85"].is_string(), "{ids}");
    for refused in [
        "app_password_anna",
        "app_password_revoked",
        "app_password_expired",
    ] {
        let r = get("ralf", env.cred(refused)).await.unwrap();
        assert_eq!(r.status(), 401, "{refused}");
        assert!(
            r.text().await.unwrap().contains("Authorization failed."),
            "{refused}"
        );
    }
    // A token limited to other apps: the missing right is named in the realm.
    let files_only = get("ralf", env.cred("app_password_files_only"))
        .await
        .unwrap();
    assert_eq!(files_only.status(), 401);
    assert!(
        header(&files_only, "www-authenticate")
            .unwrap()
            .contains(": No permission to use the groupdav application")
    );
    let no_mail = get("ralf", env.cred("app_password_no_mail")).await.unwrap();
    assert_eq!(no_mail.status(), 403);
    assert_eq!(
        header(&no_mail, "x-webdav-status"),
        Some("403 Forbidden: no app rights for 'mail'")
    );
    let webdav = env
        .http
        .get(env.url("webdav.php", "/home/ralf/welcome.txt"))
        .basic_auth("ralf", Some(env.cred("app_password_files_only")))
        .send()
        .await
        .unwrap();
    assert_eq!(webdav.status(), 200);
}

#[tokio::test]
async fn identities_per_user_with_and_without_prefix() {
    let env = Env::start().await;
    let list = |path: &'static str, user: &'static str| {
        env.dav(Method::GET, path, user)
            .header("accept", "application/json")
            .send()
    };
    let r = list("/mail", "ralf").await.unwrap();
    assert_eq!(
        header(&r, "content-type"),
        Some("application/json; charset=utf-8")
    );
    assert!(
        header(&r, "x-dav-powered-by")
            .unwrap()
            .starts_with("EGroupware")
    );
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        v,
        json!({"responses": {
            "/mail/1": "Ralf Becker example.org <ralf@example.org>",
            "/mail/52": "Ralf Becker  <rb@mail.example.net>"
        }})
    );
    let v: Value = list("/ralf/mail/", "ralf")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(v["responses"]["/ralf/mail/1"].is_string(), "{v}");
    let v: Value = list("/mail", "smtponly")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v, json!({"responses": {}}));
    // Another user's collection: admins only.
    let v: Value = list("/ralf/mail/", "sysop")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(v["responses"]["/ralf/mail/52"].is_string(), "{v}");
    let r = list("/anna/mail/", "ralf").await.unwrap();
    assert_eq!(r.status(), 500);
    assert_eq!(r.json::<Value>().await.unwrap()["error"], 403);
    // Without a JSON Accept, /mail (no slash) is the WebDAV HTML index.
    let html = env.dav(Method::GET, "/mail", "ralf").send().await.unwrap();
    assert!(
        header(&html, "content-type")
            .unwrap()
            .starts_with("text/html")
    );
}

#[tokio::test]
async fn send_rules_and_the_raw_code_envelope() {
    let env = Env::start().await;
    let msg = json!({"to": ["\"Ada\" <ada@example.com>"], "cc": "grace@example.com",
        "bcc": ["", "bob@example.com"], "replyto": "r@example.com", "subject": "Hello",
        "body": "text", "bodyHtml": "<p>html</p>", "priority": 1});
    let r = env
        .dav(Method::POST, "/mail", "ralf")
        .header("content-type", "application/json")
        .header("x-securesend-message-id", "id-1")
        .body(msg.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({"status": 200, "message": "Mail successful sent"})
    );
    let mail = env
        .sb
        .outbox()
        .get("id-1")
        .expect("recorded under the client's id");
    assert_eq!(mail.from, "ralf@example.org");
    assert_eq!(mail.to, ["ada@example.com"]);
    assert_eq!(mail.cc, ["grace@example.com"]);
    assert_eq!(mail.bcc, ["bob@example.com"]);
    assert_eq!(mail.reply_to.as_deref(), Some("r@example.com"));
    assert_eq!(mail.html_body.as_deref(), Some("<p>html</p>"));
    assert_eq!(mail.details["priority"], 1);

    // Identity by path; the route has no end anchor.
    assert_eq!(
        env.post_json("/mail/52/anything", "ralf", msg.clone())
            .await
            .status(),
        200
    );
    assert_eq!(env.sb.outbox().messages()[1].from, "rb@mail.example.net");
    assert_eq!(
        env.post_json("/mail/abc", "ralf", msg.clone())
            .await
            .status(),
        200
    );
    assert_eq!(env.sb.outbox().messages()[2].from, "ralf@example.org");

    // Unknown or foreign identity: raw code 2 in an HTTP 500; the text is only the reason.
    for path in ["/mail/999", "/mail/85"] {
        let r = env.post_json(path, "ralf", msg.clone()).await;
        assert_eq!(r.status(), 500);
        assert_eq!(header(&r, "x-webdav-status"), Some("500 Entry not found!"));
        let v: Value = r.json().await.unwrap();
        assert_eq!(
            (v["error"].clone(), v["message"].clone()),
            (json!(2), json!("Entry not found!"))
        );
    }
    let r = env.post_json("/mail", "smtponly", msg.clone()).await;
    assert_eq!(r.status(), 404);
    assert_eq!(
        r.json::<Value>().await.unwrap()["message"],
        "No IMAP account found for user #9"
    );
    assert_eq!(env.sb.outbox().count(), 3);
}

#[tokio::test]
async fn json_and_content_rules() {
    let env = Env::start().await;
    let post = |body: &'static str, ct: &'static str| {
        env.dav(Method::POST, "/mail", "ralf")
            .header("content-type", ct)
            .body(body)
            .send()
    };
    for (body, status, reason) in [
        ("{\"to\":", 422, "422 Error decoding JSON: Syntax error"),
        ("", 422, "422 Error decoding JSON: Syntax error"),
        ("{}", 422, "422 Error decoding JSON: No error"),
        ("[]", 422, "422 Error decoding JSON: No error"),
        ("null", 422, "422 Error decoding JSON: No error"),
    ] {
        let r = post(body, "application/json").await.unwrap();
        assert_eq!(r.status(), status, "{body:?}");
        assert_eq!(header(&r, "x-webdav-status"), Some(reason), "{body:?}");
        assert_eq!(r.json::<Value>().await.unwrap()["error"], 422);
    }
    let r = post(
        r#"{"to":"a@example.com","attachments":"x"}"#,
        "application/json",
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 500);
    let r = post("--b\r\n", "multipart/form-data; boundary=b")
        .await
        .unwrap();
    assert_eq!(r.status(), 501);
    assert!(
        header(&r, "content-type")
            .unwrap()
            .starts_with("text/plain")
    );
    let md5 = env
        .dav(Method::POST, "/mail", "ralf")
        .header("content-type", "application/json")
        .header("content-md5", "abc")
        .body(r#"{"to":"a@example.com"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(md5.status(), 501);
    assert_eq!(env.sb.outbox().count(), 0);
}

#[tokio::test]
async fn upload_tokens_are_single_use() {
    let env = Env::start().await;
    let r = env.upload("report.pdf", b"%PDF-1.7 test").await;
    assert_eq!(r.status(), 201);
    let location = header(&r, "location").unwrap().to_owned();
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        (v["status"].clone(), v["message"].clone()),
        (json!(201), json!("Attachment stored"))
    );
    let token_path = v["location"].as_str().unwrap().to_owned();
    assert!(
        token_path.starts_with("/mail/attachments/report.pdf--"),
        "{token_path}"
    );
    assert_eq!(
        location,
        format!("{}{token_path}", env.url("groupdav.php", ""))
    );

    let no_location = env
        .dav(Method::POST, "/mail/attachments/b.txt", "ralf")
        .header("x-no-location", "true")
        .body("b")
        .send()
        .await
        .unwrap();
    assert_eq!(no_location.status(), 200);
    assert!(header(&no_location, "location").is_none());
    assert_eq!(no_location.json::<Value>().await.unwrap()["status"], 200);
    let zero = env
        .dav(Method::POST, "/mail/attachments/c.txt", "ralf")
        .header("x-no-location", "0")
        .body("c")
        .send()
        .await
        .unwrap();
    assert_eq!(zero.status(), 201, "\"0\" is empty for PHP");

    let fetched = env
        .dav(Method::GET, &token_path, "anna")
        .send()
        .await
        .unwrap();
    assert_eq!(
        fetched.status(),
        200,
        "tokens are not bound to the uploader"
    );
    assert_eq!(header(&fetched, "content-type"), Some("application/pdf"));
    assert!(
        header(&fetched, "content-disposition")
            .unwrap()
            .contains("report.pdf")
    );
    assert_eq!(fetched.bytes().await.unwrap().as_ref(), b"%PDF-1.7 test");

    let msg = json!({"to": ["ada@example.com"], "subject": "s", "attachments": [token_path]});
    assert_eq!(
        env.post_json("/mail", "ralf", msg.clone()).await.status(),
        200
    );
    let mail = &env.sb.outbox().messages()[0];
    assert_eq!(mail.attachments[0].name, "report.pdf");
    assert_eq!(mail.attachments[0].sha256, sha256(b"%PDF-1.7 test"));
    assert_eq!(mail.details["attachmentType"], "attach");

    let again = env.post_json("/mail", "ralf", msg).await;
    assert_eq!(again.status(), 400);
    assert_eq!(
        again.json::<Value>().await.unwrap()["message"],
        format!("Attachment {token_path} NOT found")
    );
    let gone = env
        .dav(Method::GET, &token_path, "ralf")
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), 404);
    assert_eq!(gone.json::<Value>().await.unwrap()["error"], 404);
    let malformed = env
        .dav(Method::GET, "/mail/attachments/no-token-here", "ralf")
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), 501);
    assert_eq!(env.sb.outbox().count(), 1);

    let empty = env.upload("empty.txt", b"").await;
    assert_eq!(empty.status(), 500);
    assert_eq!(
        empty.json::<Value>().await.unwrap()["message"],
        "Error storing attachment"
    );

    // tempnam keeps 63 bytes: a 60-byte name loses its `--` and the token is useless.
    let long = "n".repeat(60);
    let cut = env.upload(&long, b"x").await;
    let cut: Value = cut.json().await.unwrap();
    let cut = cut["location"].as_str().unwrap().to_owned();
    assert!(!cut.contains("--"), "{cut}");
    let unusable = env
        .post_json(
            "/mail",
            "ralf",
            json!({"to": ["a@example.com"], "attachments": [cut]}),
        )
        .await;
    assert_eq!(unusable.status(), 400);
}

#[tokio::test]
async fn attachment_types_epl_and_token_sessions() {
    let env = Env::start().await;
    let token = |r: Value| r["location"].as_str().unwrap().to_owned();
    let t: Value = env.upload("a.txt", b"aaa").await.json().await.unwrap();
    let bad = env
        .post_json(
            "/mail",
            "ralf",
            json!({"to": ["a@example.com"], "attachments": [token(t.clone())], "attachmentType": "zip"}),
        )
        .await;
    assert_eq!(bad.status(), 422);
    assert!(
        bad.text()
            .await
            .unwrap()
            .contains("attach, link, share_ro, share_rw")
    );
    // Share passwords need the EPL edition.
    let with_password = json!({"to": ["a@example.com"], "attachments": [token(t.clone())],
        "attachmentType": "link", "sharePassword": "pw"});
    assert_eq!(
        env.post_json("/mail", "ralf", with_password.clone())
            .await
            .status(),
        500
    );
    env.control.set_epl(true);
    assert_eq!(
        env.post_json("/mail", "ralf", with_password).await.status(),
        200
    );
    let mail = &env.sb.outbox().messages()[0];
    assert_eq!(mail.details["attachmentType"], "link");
    assert_eq!(mail.details["sharePassword"], "pw");
    assert_eq!(mail.details["links"].as_array().unwrap().len(), 1);

    // An application-password session has no user password: no Sent copy, a warning.
    let by_token = env
        .http
        .post(env.url("groupdav.php", "/mail"))
        .basic_auth("ralf", Some(env.cred("app_password")))
        .header("content-type", "application/json")
        .body(r#"{"to":["a@example.com"],"subject":"t"}"#);
    let v: Value = by_token
        .try_clone()
        .unwrap()
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        v["warning"],
        "Mail NOT saved to Sent folder, as no user password"
    );
    env.control.set_token_session(false);
    let v: Value = by_token.send().await.unwrap().json().await.unwrap();
    assert!(v.get("warning").is_none(), "{v}");

    env.control.set_smtp_down(true);
    let down = env
        .post_json("/mail", "ralf", json!({"to": ["a@example.com"]}))
        .await;
    assert_eq!(down.status(), 500);
    assert_eq!(
        down.json::<Value>().await.unwrap(),
        json!({"error": 500, "message": "", "details": null, "script": null})
    );
    env.control.set_smtp_down(false);
    env.control.set_blocked_user_agent(Some("securesend"));
    let blocked = env
        .dav(Method::POST, "/mail", "ralf")
        .header("user-agent", "securesend/0.1.0")
        .header("content-type", "application/json")
        .body(r#"{"to":["a@example.com"]}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(blocked.status(), 403);
    // No recipients: stored as a draft and answered as sent.
    env.control.set_blocked_user_agent(None);
    let draft = env
        .post_json("/mail", "ralf", json!({"subject": "draft"}))
        .await;
    assert_eq!(draft.status(), 200);
    assert_eq!(env.control.drafts().len(), 1);
    assert_eq!(env.sb.outbox().count(), 3);
}

#[tokio::test]
async fn compose_and_view_need_the_user_online() {
    let env = Env::start().await;
    let t: Value = env.upload("c.txt", b"ccc").await.json().await.unwrap();
    let token = t["location"].as_str().unwrap().to_owned();
    let msg = json!({"to": ["a@example.com"], "attachments": [token.clone()]});
    let r = env.post_json("/mail/1/compose", "ralf", msg.clone()).await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.json::<Value>().await.unwrap()["message"],
        "Request to open compose window sent"
    );
    let windows = env.control.windows();
    assert_eq!(
        (windows[0].kind.as_str(), windows[0].id),
        ("compose", Some(1))
    );
    // Compose keeps the temp files.
    assert_eq!(
        env.dav(Method::GET, &token, "ralf")
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    env.control.set_online("ralf", false);
    let r = env.post_json("/mail/compose", "ralf", msg).await;
    assert_eq!(r.status(), 404);
    assert_eq!(
        r.json::<Value>().await.unwrap()["message"],
        "User 'ralf' (#5) is NOT online"
    );
    let view = env
        .dav(Method::POST, "/mail/view", "ralf")
        .header("content-type", "message/rfc822")
        .body("Subject: x\r\n\r\nbody")
        .send()
        .await
        .unwrap();
    assert_eq!(view.status(), 404);
    env.control.set_online("ralf", true);
    let view = env
        .dav(Method::POST, "/mail/view", "ralf")
        .header("content-type", "message/rfc822")
        .body("Subject: x\r\n\r\nbody")
        .send()
        .await
        .unwrap();
    assert_eq!(view.status(), 200);
    assert_eq!(env.control.windows().len(), 2);
    assert_eq!(env.sb.outbox().count(), 0);
}

#[tokio::test]
async fn vacation_is_merged_and_checked() {
    let env = Env::start().await;
    let set = json!({"text": "away", "start": "2030-01-01", "end": "2030-01-10"});
    let v: Value = env
        .post_json("/mail/vacation", "ralf", set)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["message"], "Vacation handling updated");
    assert_eq!(v["vacation"]["status"], "by_date");
    assert_eq!(v["vacation"]["addresses"], json!(["ralf@example.org"]));
    assert_eq!(v["vacation"]["days"], 3);
    let v: Value = env
        .post_json(
            "/mail/1/vacation",
            "ralf",
            json!({"start": null, "end": null}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["vacation"]["status"], "off");
    assert_eq!(v["vacation"]["text"], "away");

    let unknown = env
        .post_json("/mail/vacation", "ralf", json!({"foo": 1, "bar": 2}))
        .await;
    assert_eq!(unknown.status(), 400);
    assert_eq!(
        unknown.json::<Value>().await.unwrap()["message"],
        "Invalid attribute: bar, foo"
    );
    let modus = env
        .post_json("/mail/vacation", "ralf", json!({"modus": "x"}))
        .await;
    assert_eq!(modus.status(), 400);
    assert_eq!(
        env.post_json("/mail/vacation", "ralf", json!({}))
            .await
            .status(),
        500
    );
    let syntax = env
        .dav(Method::POST, "/mail/vacation", "ralf")
        .header("content-type", "application/json")
        .body("{")
        .send()
        .await
        .unwrap();
    assert_eq!(syntax.status(), 500);
    assert_eq!(syntax.json::<Value>().await.unwrap()["error"], 4);

    let got: Value = env
        .dav(Method::GET, "/mail/vacation", "ralf")
        .header("accept", "application/json")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(got["script"], "egroupware");
    let by_token: Value = env
        .http
        .get(env.url("groupdav.php", "/mail/vacation"))
        .basic_auth("ralf", Some(env.cred("app_password")))
        .header("accept", "application/json")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(by_token.get("script").is_none(), "{by_token}");
    let bad_id = env
        .dav(Method::GET, "/mail/999/vacation", "ralf")
        .send()
        .await
        .unwrap();
    assert_eq!(bad_id.status(), 500);
}

#[tokio::test]
async fn account_get_and_patch() {
    let env = Env::start().await;
    let get = || {
        env.dav(Method::GET, "/mail/1", "ralf")
            .header("accept", "application/json")
            .send()
    };
    let v: Value = get().await.unwrap().json().await.unwrap();
    assert_eq!(
        (v["identId"].clone(), v["identEmail"].clone()),
        (json!(1), json!("ralf@example.org"))
    );
    assert_eq!(v["accImapPassword"], "********");
    let patch = env
        .dav(Method::PATCH, "/mail/1", "ralf")
        .header("content-type", "application/json")
        .body(r#"{"identName":"Test Ralf"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(patch.status(), 204);
    assert_eq!(header(&patch, "x-webdav-status"), Some("204 No Content"));
    assert_eq!(
        get().await.unwrap().json::<Value>().await.unwrap()["identName"],
        "Test Ralf"
    );
    let not_json = env
        .dav(Method::PATCH, "/mail/1", "ralf")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(not_json.status(), 501);
    let locked = env
        .dav(Method::PATCH, "/mail/52", "ralf")
        .header("content-type", "application/json")
        .body(r#"{"identName":"x"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(locked.status(), 403);
    let invalid = env
        .dav(Method::PATCH, "/mail/1", "ralf")
        .header("content-type", "application/json")
        .body(r#"{"identEmail":"nope"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(
        invalid.status(),
        200,
        "the handler prints the error but returns no status"
    );
    assert_eq!(invalid.json::<Value>().await.unwrap()["error"], 400);
    assert_eq!(
        env.dav(Method::DELETE, "/mail/1", "ralf")
            .send()
            .await
            .unwrap()
            .status(),
        501
    );
}

#[tokio::test]
async fn webdav_put_get_ranges_mkcol_quota_locks() {
    let env = Env::start().await;
    let put = |path: &'static str, body: &'static [u8]| {
        env.files(Method::PUT, path)
            .header("content-type", "text/plain")
            .body(body)
            .send()
    };
    assert_eq!(
        put("/home/ralf/a.txt", b"0123456789")
            .await
            .unwrap()
            .status(),
        201
    );
    assert_eq!(
        put("/home/ralf/a.txt", b"abcdefghij")
            .await
            .unwrap()
            .status(),
        204
    );
    assert_eq!(
        put("/home/ralf/missing/a.txt", b"x")
            .await
            .unwrap()
            .status(),
        409
    );
    assert_eq!(put("/home/anna/a.txt", b"x").await.unwrap().status(), 403);
    assert_eq!(put("/home/ralf", b"x").await.unwrap().status(), 403);

    let full = env
        .files(Method::GET, "/home/ralf/a.txt")
        .send()
        .await
        .unwrap();
    assert_eq!(full.status(), 200);
    assert!(header(&full, "last-modified").is_some() && header(&full, "etag").is_some());
    assert_eq!(header(&full, "x-content-type-options"), Some("nosniff"));
    assert_eq!(full.bytes().await.unwrap().as_ref(), b"abcdefghij");
    let part = env
        .files(Method::GET, "/home/ralf/a.txt")
        .header("range", "bytes=3-")
        .send()
        .await
        .unwrap();
    assert_eq!(part.status(), 206);
    assert_eq!(header(&part, "content-range"), Some("bytes 3-9/10"));
    assert_eq!(part.bytes().await.unwrap().as_ref(), b"defghij");
    let multi = env
        .files(Method::GET, "/home/ralf/a.txt")
        .header("range", "bytes=0-1,8-9")
        .send()
        .await
        .unwrap();
    assert_eq!(multi.status(), 206);
    let ct = header(&multi, "content-type").unwrap().to_owned();
    let boundary = ct
        .strip_prefix("multipart/byteranges; boundary=")
        .unwrap()
        .to_owned();
    let body = String::from_utf8(multi.bytes().await.unwrap().to_vec()).unwrap();
    assert!(
        body.contains("Content-Range: bytes 0-1/10\r\n\r\nab"),
        "{body}"
    );
    assert!(
        body.contains("Content-Range: bytes 8-9/10\r\n\r\nij"),
        "{body}"
    );
    assert!(body.ends_with(&format!("--{boundary}--\r\n")));
    let past = env
        .files(Method::GET, "/home/ralf/a.txt")
        .header("range", "bytes=10-")
        .send()
        .await
        .unwrap();
    assert_eq!(past.status(), 416);
    let head = env
        .files(Method::HEAD, "/home/ralf/a.txt")
        .send()
        .await
        .unwrap();
    assert_eq!(
        (head.status(), header(&head, "content-length")),
        (StatusCode::OK, Some("10"))
    );
    let by_query = env
        .http
        .get(format!(
            "{}?auth={}",
            env.url("webdav.php", "/home/ralf/a.txt"),
            base64_auth("ralf", &env.cred("password"))
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(by_query.status(), 200);

    let mkcol = |path: &'static str| {
        env.files(Method::from_bytes(b"MKCOL").unwrap(), path)
            .send()
    };
    assert_eq!(mkcol("/home/ralf/docs").await.unwrap().status(), 201);
    assert_eq!(mkcol("/home/ralf/docs").await.unwrap().status(), 405);
    assert_eq!(mkcol("/home/ralf/x/y").await.unwrap().status(), 409);
    let index = env.files(Method::GET, "/home/ralf").send().await.unwrap();
    assert!(index.text().await.unwrap().contains("<li>docs</li>"));

    // welcome.txt (36 bytes) and a.txt (10) are stored: 60 leaves 14.
    env.control.set_quota("ralf", Some(60));
    let files_before = env.sb.store().len();
    assert_eq!(
        put("/home/ralf/docs/big.txt", &[b'x'; 30])
            .await
            .unwrap()
            .status(),
        413
    );
    assert_eq!(
        env.sb.store().len(),
        files_before,
        "nothing stored over quota"
    );
    // Replacing a file counts its old size out: 36 + 15 fits, 36 + 10 + 15 would not.
    assert_eq!(
        put("/home/ralf/a.txt", &[b'y'; 15]).await.unwrap().status(),
        204
    );
    env.control.set_quota("ralf", None);
    env.control.set_locked("/home/ralf/a.txt", true);
    assert_eq!(put("/home/ralf/a.txt", b"z").await.unwrap().status(), 423);
    env.control.set_locked("/home/ralf/a.txt", false);

    let chunked = || {
        let stream =
            futures::stream::iter([Ok::<_, std::io::Error>(bytes::Bytes::from_static(b"chunk"))]);
        env.files(Method::PUT, "/home/ralf/docs/c.txt")
            .body(reqwest::Body::wrap_stream(stream))
            .send()
    };
    assert_eq!(chunked().await.unwrap().status(), 501);
    env.control.set_fastcgi(false);
    assert_eq!(chunked().await.unwrap().status(), 201);

    assert_eq!(
        env.files(Method::DELETE, "/home/ralf/docs")
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    let gone = env
        .files(Method::GET, "/home/ralf/docs/c.txt")
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), 404);
    assert_eq!(
        env.files(Method::DELETE, "/home/anna")
            .send()
            .await
            .unwrap()
            .status(),
        403
    );
}

fn base64_auth(user: &str, password: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
}

#[tokio::test]
async fn vfs_paths_attach_readable_files_only() {
    let env = Env::start().await;
    let msg = |path: &str| json!({"to": ["a@example.com"], "attachments": [path], "attachmentType": "share_ro"});
    assert_eq!(
        env.post_json("/mail", "ralf", msg("/home/ralf/welcome.txt"))
            .await
            .status(),
        200
    );
    let mail = &env.sb.outbox().messages()[0];
    assert_eq!(mail.attachments[0].name, "welcome.txt");
    assert_eq!(
        mail.attachments[0].sha256,
        sha256(b"Welcome to the EGroupware sandbox.\n")
    );
    // anna cannot read ralf's home.
    let r = env
        .post_json("/mail", "anna", msg("/home/ralf/welcome.txt"))
        .await;
    assert_eq!(r.status(), 400);
    assert_eq!(
        env.post_json("/mail", "ralf", msg("/home/ralf/none.txt"))
            .await
            .status(),
        400
    );
}

#[tokio::test]
async fn share_links_enforce_their_password_and_expiry() {
    let env = Env::start().await;
    env.control.set_epl(true);
    let token = |r: Value| r["location"].as_str().unwrap().to_owned();
    let shared = &env;
    let send = |body: Value| async move { shared.post_json("/mail", "ralf", body).await };
    let t: Value = env
        .upload("a.txt", b"shared bytes")
        .await
        .json()
        .await
        .unwrap();
    let sent = send(json!({"to": ["a@example.com"], "attachments": [token(t)],
        "attachmentType": "link", "sharePassword": "pw", "shareExpiration": "+2days"}))
    .await;
    assert_eq!(sent.status(), 200);
    let mail = env.sb.outbox().messages().pop().unwrap();
    let link = mail.details["links"][0].as_str().unwrap().to_owned();
    let share_token = link.rsplit('/').next().unwrap().to_owned();

    // No password, a wrong one: refused with the share's realm, no bytes.
    let none = env.http.get(&link).send().await.unwrap();
    assert_eq!(none.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        header(&none, "www-authenticate"),
        Some(format!("Basic realm=\"EGroupware share {share_token}\"").as_str())
    );
    assert!(!none.text().await.unwrap().contains("shared bytes"));
    let wrong = env.http.get(&link).basic_auth(&share_token, Some("nope"));
    assert_eq!(wrong.send().await.unwrap().status(), 401);
    // The right one: the file.
    let right = env.http.get(&link).basic_auth(&share_token, Some("pw"));
    let right = right.send().await.unwrap();
    assert_eq!(right.status(), 200);
    assert_eq!(right.bytes().await.unwrap().as_ref(), b"shared bytes");
    // An unknown token is a 404, as is an expired share.
    let unknown = env
        .http
        .get(env.url("share.php", "/nosuchtoken"))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
    let t: Value = env.upload("b.txt", b"old").await.json().await.unwrap();
    assert_eq!(
        send(json!({"to": ["a@example.com"], "attachments": [token(t)],
            "attachmentType": "link", "shareExpiration": "2000-01-01"}))
        .await
        .status(),
        200
    );
    let mail = env.sb.outbox().messages().pop().unwrap();
    let expired = mail.details["links"][0].as_str().unwrap().to_owned();
    let r = env.http.get(&expired).send().await.unwrap();
    assert_eq!(r.status(), 404);
    assert!(r.text().await.unwrap().contains("does NOT exist"));
}
