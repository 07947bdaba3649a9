//! The Tuyu module seen from a hand-written client: exact signature checks (the fact sheet's
//! vectors, positive and negative), path rules, pages, link bounds, the preparation and
//! same-workspace rules, silent drops, XML answers and error statuses.

use securesend_sandbox::clock::ManualClock;
use securesend_sandbox::tuyu::signing::{CanonicalEncoding, canonical_get, canonical_write, sign};
use securesend_sandbox::tuyu::{
    ErrorStatus, OTHER_WORKSPACE, SITE_USER, Tuyu, TuyuOptions, WORKSPACE,
};
use securesend_sandbox::{Sandbox, SandboxOptions};
use serde_json::Value;

const KEY: &str = "demo_key_123";
const SECRET: &str = "demo_secret_456";
const TS: &str = "1700000000";

struct Site {
    sandbox: Sandbox,
    tuyu: Tuyu,
    http: reqwest::Client,
}

/// A sandbox signing for the fact sheet's host with its credentials, its clock at the
/// vectors' timestamp.
async fn site(options: TuyuOptions) -> Site {
    // Another test may have installed it already; either way one is in place.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let tuyu = Tuyu::new(TuyuOptions {
        signed_base_url: Some("https://acme.filetransfers.net".into()),
        api_key: Some(KEY.into()),
        api_secret: Some(SECRET.into()),
        ..options
    });
    let clock = ManualClock::new();
    let sandbox = Sandbox::start(&tuyu, SandboxOptions::default().clock(clock.clock()))
        .await
        .unwrap();
    Site {
        sandbox,
        tuyu,
        http: reqwest::Client::new(),
    }
}

impl Site {
    async fn get_raw(&self, path_and_query: &str) -> (u16, String) {
        let r = self
            .http
            .get(format!("{}{path_and_query}", self.sandbox.base_url()))
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    }

    async fn get(&self, method: &str, params: &[(&str, &str)]) -> Value {
        let mut all: Vec<(String, String)> = params
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        all.push(("api_key".into(), KEY.into()));
        all.push(("timestamp".into(), TS.into()));
        let path = format!("/api/{method}");
        let canonical = canonical_get(
            "https://acme.filetransfers.net",
            &path,
            &all,
            CanonicalEncoding::default(),
        );
        let query = canonical.split_once('?').unwrap().1;
        let sig = sign(SECRET, &canonical);
        let (_, body) = self
            .get_raw(&format!("{path}?{query}&signature={sig}"))
            .await;
        serde_json::from_str(&body).unwrap()
    }

    async fn post(&self, method: &str, params: &[(&str, &str)]) -> Value {
        let path = format!("/api/{method}");
        let sig = sign(
            SECRET,
            &canonical_write("https://acme.filetransfers.net", &path),
        );
        let mut form: Vec<(&str, &str)> = params.to_vec();
        form.extend([("api_key", KEY), ("timestamp", TS), ("signature", &sig)]);
        let r = self
            .http
            .post(format!("{}{path}", self.sandbox.base_url()))
            .form(&form)
            .send()
            .await
            .unwrap();
        serde_json::from_str(&r.text().await.unwrap()).unwrap()
    }

    fn id_of(&self, name: &str) -> String {
        self.tuyu
            .site()
            .entries()
            .iter()
            .find(|e| e.name == name)
            .unwrap()
            .id
            .to_string()
    }
}

fn title(v: &Value) -> &str {
    v["error"]["title"].as_str().unwrap_or("")
}

#[tokio::test]
async fn fact_sheet_vectors_verify_and_mistakes_do_not() {
    let s = site(TuyuOptions::default()).await;
    let q = "api_key=demo_key_123&path=%2F&sort_by=date_asc&timestamp=1700000000";
    // The documented GET vector passes authentication (the root is then refused: not admin).
    let (status, body) = s
        .get_raw(&format!(
            "/api/file_list?{q}&signature=aec370e74c730f4d4b3764f60023fb6eaea43f4b45b22053c18a55d383bcb350"
        ))
        .await;
    assert_eq!(status, 200);
    assert!(body.contains("access privileges"), "{body}");
    // The same with `path=/` unencoded, signed that way: refused.
    let (_, body) = s
        .get_raw("/api/file_list?api_key=demo_key_123&path=/&sort_by=date_asc&timestamp=1700000000&signature=70a53d5aeed71bd8c78720c5cbe13762af4449ad895d5f93aa23ef0b5a159a5f")
        .await;
    assert!(body.contains("Authentication Failed"), "{body}");
    // Signature not last: refused.
    let (_, body) = s
        .get_raw("/api/file_list?signature=aec370e74c730f4d4b3764f60023fb6eaea43f4b45b22053c18a55d383bcb350&api_key=demo_key_123&path=%2F&sort_by=date_asc&timestamp=1700000000")
        .await;
    assert!(body.contains("Authentication Failed"), "{body}");

    let post = |sig: &'static str| {
        let s = &s;
        async move {
            let r = s
                .http
                .post(format!("{}/api/file_send", s.sandbox.base_url()))
                .form(&[("api_key", KEY), ("timestamp", TS), ("signature", sig)])
                .send()
                .await
                .unwrap();
            r.text().await.unwrap()
        }
    };
    // The documented write vector passes authentication (then file_id is missing).
    let ok = post("441810069683be576ab08f6cb78e0c16cad4e402b89f9c7dd6ef0744afeb4e5e").await;
    assert!(ok.contains("file_id is required"), "{ok}");
    for wrong in [
        "2cf5f9829dac6888423e06d66c9766192b0e83db6689734ff9db9b77bf26489e",
        "aa83bd19d85d4162a15e5f55465f757850a615ade1418c449f7de5d134bf67c7",
    ] {
        assert!(post(wrong).await.contains("Authentication Failed"));
    }
    assert_eq!(s.sandbox.outbox().delivered_total(), 0);
}

#[tokio::test]
async fn stale_timestamps_and_mapped_statuses() {
    let s = site(TuyuOptions {
        error_status: ErrorStatus::Mapped,
        ..TuyuOptions::default()
    })
    .await;
    let path = "/api/file_send";
    let sig = sign(
        SECRET,
        &canonical_write("https://acme.filetransfers.net", path),
    );
    let r = s
        .http
        .post(format!("{}{path}", s.sandbox.base_url()))
        .form(&[
            ("api_key", KEY),
            ("timestamp", "1699999000"),
            ("signature", &sig),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    assert!(r.text().await.unwrap().contains("Authentication Failed"));
    let v = s.post("file_send", &[("file_id", "424242")]).await;
    assert_eq!(
        title(&v),
        "You do not have access privileges for this location"
    );
}

#[tokio::test]
async fn paths_pages_and_xml() {
    let s = site(TuyuOptions::default()).await;
    let v = s
        .get("file_list", &[("path", "Designers_workspace/")])
        .await;
    assert_eq!(title(&v), "Invalid Path");
    for i in 0..51 {
        let v = s
            .post(
                "create_folder",
                &[
                    ("folder_name", &format!("f{i:02}")),
                    ("folder_path", WORKSPACE),
                ],
            )
            .await;
        assert!(v["createFolder"]["folder_id"].is_number(), "{v}");
    }
    let p1 = s
        .get("file_list", &[("path", WORKSPACE), ("sort_by", "name_asc")])
        .await;
    assert_eq!(p1["fileList"]["totalFiles"], 52);
    assert_eq!(p1["fileList"]["files"].as_array().unwrap().len(), 50);
    let p2 = s
        .get(
            "file_list",
            &[
                ("path", WORKSPACE),
                ("sort_by", "name_asc"),
                ("current_page", "2"),
            ],
        )
        .await;
    let names: Vec<&str> = p2["fileList"]["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["f50", "welcome.txt"]);
    // `.xml`: same data, XML body, the suffix signed.
    let path = "/api/users_location_access.xml";
    let all = vec![
        ("api_key".to_owned(), KEY.to_owned()),
        ("path".to_owned(), WORKSPACE.to_owned()),
        ("timestamp".to_owned(), TS.to_owned()),
    ];
    let canonical = canonical_get(
        "https://acme.filetransfers.net",
        path,
        &all,
        CanonicalEncoding::default(),
    );
    let (_, body) = s
        .get_raw(&format!(
            "{path}?{}&signature={}",
            canonical.split_once('?').unwrap().1,
            sign(SECRET, &canonical)
        ))
        .await;
    assert!(
        body.starts_with("<?xml") && body.contains(&format!("<email>{SITE_USER}</email>")),
        "{body}"
    );
}

#[tokio::test]
async fn file_send_rules() {
    let s = site(TuyuOptions::default()).await;
    let welcome = s.id_of("welcome.txt");
    let ledger = s.id_of("ledger.csv");
    let two = format!("{welcome},{}", {
        let v = s
            .post(
                "create_folder",
                &[("folder_name", "sub"), ("folder_path", WORKSPACE)],
            )
            .await;
        v["createFolder"]["folder_id"].to_string()
    });
    // Same workspace only.
    let v = s
        .post(
            "file_send",
            &[
                ("file_id", &format!("{welcome},{ledger}")),
                ("user_ids", "102"),
            ],
        )
        .await;
    assert_eq!(
        v["error"]["message"],
        "All files must be in the same workspace."
    );
    // Link expiration 0–15.
    let v = s
        .post(
            "file_send",
            &[
                ("file_id", &welcome),
                ("user_ids", "102"),
                ("link_expiration", "16"),
            ],
        )
        .await;
    assert_eq!(title(&v), "Invalid Link Expiration");
    let v = s
        .post(
            "create_file_link",
            &[("file_id", &welcome), ("link_expiration", "16")],
        )
        .await;
    assert_eq!(title(&v), "Invalid Link Expiration");
    let v = s
        .post(
            "create_file_link",
            &[("file_id", &welcome), ("link_expiration", "90")],
        )
        .await;
    assert!(v["fileCreateLink"]["downloadLink"].is_string(), "{v}");
    // Two entries (a file and a folder) to three non-users need a preparation id for them.
    let three = "a@example.org,b@example.org,c@example.org";
    let v = s
        .post("file_send", &[("file_id", &two), ("non_users", three)])
        .await;
    assert_eq!(title(&v), "File Preparation Required");
    let other = s.post("send_files_prep", &[("file_id", &welcome)]).await;
    let other = other["sendFilesPrep"]["filePreparationId"]
        .as_str()
        .unwrap()
        .to_owned();
    let v = s
        .post(
            "file_send",
            &[
                ("file_id", &two),
                ("non_users", three),
                ("file_preparation_id", &other),
            ],
        )
        .await;
    assert_eq!(
        title(&v),
        "File Preparation Required",
        "a preparation for other files"
    );
    let prep = s.post("send_files_prep", &[("file_id", &two)]).await;
    let prep = prep["sendFilesPrep"]["filePreparationId"]
        .as_str()
        .unwrap()
        .to_owned();
    let v = s
        .post(
            "file_send",
            &[
                ("file_id", &two),
                ("non_users", three),
                ("file_preparation_id", &prep),
            ],
        )
        .await;
    assert!(v.get("fileSend").is_some(), "{v}");
    assert_eq!(s.sandbox.outbox().count(), 1);
    // Silent drops: an unknown user and, under require_login, every non-user.
    let v = s
        .post(
            "file_send",
            &[
                ("file_id", &welcome),
                ("user_ids", "102,999"),
                ("non_users", "x@example.org"),
                ("require_login", "1"),
            ],
        )
        .await;
    assert!(v.get("fileSend").is_some(), "{v}");
    let mail = s.sandbox.outbox().messages().pop().unwrap();
    assert_eq!(mail.to, [SITE_USER]);
    assert_eq!(mail.details["dropped"], "user 999,x@example.org");
    // Everybody dropped: success, and nothing delivered.
    let before = s.sandbox.outbox().delivered_total();
    let v = s
        .post(
            "file_send",
            &[
                ("file_id", &welcome),
                ("non_users", "x@example.org"),
                ("require_login", "1"),
            ],
        )
        .await;
    assert!(v.get("fileSend").is_some(), "{v}");
    assert_eq!(s.sandbox.outbox().delivered_total(), before);
    // A path that does not exist is out of reach; the other workspace has its own users.
    let v = s
        .get("users_location_access", &[("path", "/Nope_workspace/")])
        .await;
    assert_eq!(
        title(&v),
        "You do not have access privileges for this location"
    );
    let v = s
        .get("users_location_access", &[("path", OTHER_WORKSPACE)])
        .await;
    assert!(v["usersLocationAccess"].as_array().unwrap().len() >= 2);
}
