//! The Kiteworks emulator on its own, driven with plain HTTP: its strictness (version header,
//! tokens, chunk order and sizes, drafts, rate limiting), its OAuth server (signature codes,
//! JWT, PKCE), and the loose request styles of the official Python samples.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use reqwest::multipart::{Form, Part};
use securesend_sandbox::kiteworks::{KiteworksOptions, KiteworksService, TEST_JWT_PRIVATE_KEY_PEM};
use securesend_sandbox::{ManualClock, RateLimit, RateLimitSetting, Sandbox, SandboxOptions};
use serde_json::{Value, json};

struct Kw {
    sandbox: Sandbox,
    options: KiteworksOptions,
    http: reqwest::Client,
    token: String,
}

async fn start(options: KiteworksOptions, sandbox: SandboxOptions) -> Kw {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let service = KiteworksService::new(options.clone());
    let sandbox = Sandbox::start(&service, sandbox).await.unwrap();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let mut kw = Kw {
        sandbox,
        options,
        http,
        token: String::new(),
    };
    let t = kw
        .token(&[
            ("grant_type", "password"),
            ("username", &kw.options.user_email.clone()),
            ("password", &kw.options.password.clone()),
        ])
        .await;
    kw.token = t["access_token"].as_str().unwrap().to_owned();
    kw
}

async fn kit() -> Kw {
    start(
        KiteworksOptions::default(),
        SandboxOptions::default()
            .chunk_max(8)
            .rate_limit(RateLimitSetting::Off),
    )
    .await
}

impl Kw {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.sandbox.base_url())
    }

    async fn token_raw(&self, fields: &[(&str, &str)]) -> reqwest::Response {
        let mut form: Vec<(&str, &str)> = fields.to_vec();
        form.push(("client_id", &self.options.client_id));
        form.push(("client_secret", &self.options.client_secret));
        self.http
            .post(self.url("/oauth/token"))
            .form(&form)
            .send()
            .await
            .unwrap()
    }

    async fn token(&self, fields: &[(&str, &str)]) -> Value {
        let r = self.token_raw(fields).await;
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["cache-control"], "no-store");
        r.json().await.unwrap()
    }

    /// A REST request with the version header and the bearer token.
    fn rest(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, self.url(path))
            .bearer_auth(&self.token)
            .header("X-Accellion-Version", "28")
    }

    async fn mydir(&self) -> String {
        let me: Value = self
            .rest(reqwest::Method::GET, "/rest/users/me")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        me["mydirId"].as_str().unwrap().to_owned()
    }

    async fn initiate(&self, folder: &str, name: &str, size: u64, chunks: u64) -> Value {
        let r = self
            .rest(
                reqwest::Method::POST,
                &format!("/rest/folders/{folder}/actions/initiateUpload"),
            )
            .json(&json!({ "filename": name, "totalSize": size, "totalChunks": chunks }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        assert!(r.headers().contains_key("x-accellion-location"));
        r.json().await.unwrap()
    }

    async fn chunk(
        &self,
        path: &str,
        fields: &[(&str, String)],
        content: &'static [u8],
    ) -> (u16, Value) {
        let mut form = Form::new();
        for (k, v) in fields {
            form = form.text(k.to_string(), v.clone());
        }
        form = form.part("content", Part::bytes(content).file_name("x.bin"));
        let r = self
            .rest(reqwest::Method::POST, path)
            .multipart(form)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let body = r.bytes().await.unwrap();
        (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
    }
}

fn sizes(n: usize, index: Option<u64>) -> Vec<(&'static str, String)> {
    let mut v = vec![
        ("compressionMode", "NORMAL".to_owned()),
        ("compressionSize", n.to_string()),
        ("originalSize", n.to_string()),
    ];
    if let Some(i) = index {
        v.push(("index", i.to_string()));
    }
    v
}

fn code(v: &Value) -> &str {
    v["errors"][0]["code"].as_str().unwrap_or_default()
}

#[tokio::test]
async fn version_header_and_bearer_token_are_required() {
    let k = kit().await;
    let me = k.url("/rest/users/me");
    let r = k.http.get(&me).bearer_auth(&k.token).send().await.unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(code(&r.json().await.unwrap()), "ERR_INVALID_PARAMETER");
    let r = k
        .http
        .get(&me)
        .bearer_auth(&k.token)
        .header("X-Accellion-Version", "27")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = k
        .http
        .get(&me)
        .bearer_auth(&k.token)
        .header("X-Kiteworks-Version", "28")
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        400,
        "only X-Accellion-Version unless configured"
    );
    let r = k
        .http
        .get(&me)
        .header("X-Accellion-Version", "28")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(code(&r.json().await.unwrap()), "ERR_AUTH_UNAUTHORIZED");
    let r = k
        .rest(reqwest::Method::GET, "/rest/users/me")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = k
        .rest(
            reqwest::Method::GET,
            "/rest/files/00000000-0000-0000-0000-000000000000",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403, "unknown ids are 403, not 404");
    assert_eq!(code(&r.json().await.unwrap()), "ERR_ACCESS_USER");
}

#[tokio::test]
async fn chunks_are_checked_for_order_sizes_and_totals() {
    let k = kit().await;
    let dir = k.mydir().await;
    // totalChunks must fit totalSize and the 8-byte chunk cap.
    let r = k
        .rest(
            reqwest::Method::POST,
            &format!("/rest/folders/{dir}/actions/initiateUpload"),
        )
        .json(&json!({ "filename": "x.bin", "totalSize": 20, "totalChunks": 2 }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let up = k.initiate(&dir, "x.bin", 12, 2).await;
    let uri = format!("/{}", up["uri"].as_str().unwrap());
    assert!(uri.starts_with("/kwupload1/rest/uploads/"));
    // Out of order.
    let (s, v) = k.chunk(&uri, &sizes(4, Some(2)), b"abcd").await;
    assert_eq!((s, code(&v)), (422, "ERR_INVALID_PARAMETER"));
    // Declared size differs from the part: refused and rolled back.
    let (s, _) = k.chunk(&uri, &sizes(8, Some(1)), b"abcd").await;
    assert_eq!(s, 422);
    let (s, _) = k.chunk(&uri, &sizes(3, Some(1)), b"abcd").await;
    assert_eq!(s, 422);
    // Compression other than NORMAL, and sizes that disagree.
    let mut gzip = sizes(4, Some(1));
    gzip[0].1 = "GZIP".into();
    let (s, v) = k.chunk(&uri, &gzip, b"abcd").await;
    assert_eq!((s, code(&v)), (422, "ERR_INPUT_NOT_IN_LIST"));
    let mut odd = sizes(4, Some(1));
    odd[1].1 = "3".into();
    assert_eq!(k.chunk(&uri, &odd, b"abcd").await.0, 422);
    // Larger than uploadChunkMax.
    assert_eq!(k.chunk(&uri, &sizes(9, Some(1)), b"abcdefghi").await.0, 422);
    // Nothing was stored by the refusals.
    let status: Value = k
        .rest(reqwest::Method::GET, &format!("/rest/uploads/{}", up["id"]))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (
            status["uploadedChunks"].as_u64(),
            status["uploadedSize"].as_u64()
        ),
        (Some(0), Some(0))
    );
    // Good chunk 1 (at the returned uri), then a last chunk that misses the total.
    let (s, v) = k.chunk(&uri, &sizes(8, Some(1)), b"abcdefgh").await;
    assert_eq!((s, v["uploadedChunks"].as_u64()), (200, Some(1)));
    let rest_path = format!("/rest/uploads/{}", up["id"]);
    assert_eq!(k.chunk(&rest_path, &sizes(3, Some(2)), b"ijk").await.0, 422);
    // The right last chunk, at /rest/uploads/{id}, completes the file.
    let r = k
        .rest(
            reqwest::Method::POST,
            &format!("{rest_path}?returnEntity=true"),
        )
        .multipart(
            Form::new()
                .text("compressionMode", "NORMAL")
                .text("compressionSize", "4")
                .text("originalSize", "4")
                .text("index", "2")
                .part("content", Part::bytes(&b"ijkl"[..]).file_name("x.bin")),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let loc = r.headers()["x-accellion-location"]
        .to_str()
        .unwrap()
        .to_owned();
    let file: Value = r.json().await.unwrap();
    assert!(loc.ends_with(&format!("/rest/files/{}", file["id"].as_str().unwrap())));
    assert_eq!(file["size"], 12);
    let stored = k
        .sandbox
        .store()
        .find_by_sha256("d682ed4ca4d989c134ec94f1551e1ec580dd6d5a6ecde9f3d35e6e4a717fbde4");
    assert_eq!(stored.len(), 1, "abcdefghijkl stored once");
    // The session is gone; metadata after content is refused on a new one.
    let r = k
        .rest(reqwest::Method::GET, &rest_path)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let up = k.initiate(&dir, "y.bin", 1, 1).await;
    let r = k
        .rest(
            reqwest::Method::POST,
            &format!("/rest/uploads/{}", up["id"]),
        )
        .multipart(
            Form::new()
                .part("content", Part::bytes(&b"z"[..]).file_name("y.bin"))
                .text("compressionMode", "NORMAL")
                .text("compressionSize", "1")
                .text("originalSize", "1"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
}

#[tokio::test]
async fn official_python_sample_requests_are_accepted() {
    let k = kit().await;
    let dir = k.mydir().await;
    // initiateUpload as a form, the chunk (no index) posted to /rest/uploads/{id}.
    let r = k
        .rest(
            reqwest::Method::POST,
            &format!("/rest/folders/{dir}/actions/initiateUpload"),
        )
        .form(&[
            ("filename", "sample.txt"),
            ("totalSize", "5"),
            ("totalChunks", "1"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let up: Value = r.json().await.unwrap();
    let (s, file) = k
        .chunk(
            &format!("/rest/uploads/{}?returnEntity=True", up["id"]),
            &sizes(5, None),
            b"hello",
        )
        .await;
    assert_eq!(s, 201);
    let file_id = file["id"].as_str().unwrap().to_owned();
    // A draft from a form with "draft": "true", then the sample's PUT body with loose booleans.
    let r = k
        .rest(
            reqwest::Method::POST,
            "/rest/mail/actions/sendFile?returnEntity=True",
        )
        .form(&[
            ("to[]", "ada@example.com"),
            ("subject", "sample"),
            ("draft", "true"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let draft: Value = r.json().await.unwrap();
    assert_eq!(draft["status"], "draft");
    let id = draft["id"].as_str().unwrap();
    let r = k
        .rest(
            reqwest::Method::PUT,
            &format!("/rest/mail/{id}/actions/sendFile"),
        )
        .json(&json!({ "files": [file_id], "draft": "false", "uploading": 0 }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let mail = k.sandbox.outbox().get(id).unwrap();
    assert_eq!(mail.to, ["ada@example.com"]);
    assert_eq!(mail.attachments.len(), 1);
    assert_eq!(mail.attachments[0].name, "sample.txt");
    // A JSON chunk with base64 content works too.
    let up = k.initiate(&dir, "b64.txt", 3, 1).await;
    let r = k
        .rest(
            reqwest::Method::POST,
            &format!("/rest/uploads/{}", up["id"]),
        )
        .json(
            &json!({ "compressionMode": "NORMAL", "compressionSize": 3, "originalSize": 3,
                       "content": STANDARD.encode("abc") }),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
}

#[tokio::test]
async fn drafts_and_sent_mail_keep_their_rules() {
    let k = kit().await;
    let post = |body: Value| {
        k.rest(
            reqwest::Method::POST,
            "/rest/mail/actions/sendFile?returnEntity=true",
        )
        .json(&body)
        .send()
    };
    let draft: Value = post(json!({"to": ["a@example.com"], "draft": true, "files": []}))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = draft["id"].as_str().unwrap().to_owned();
    let put = |body: Value| {
        k.rest(
            reqwest::Method::PUT,
            &format!("/rest/mail/{id}/actions/sendFile"),
        )
        .json(&body)
        .send()
    };
    let r = put(json!({"draft": false, "expire": "2001-01-01"}))
        .await
        .unwrap();
    assert_eq!(
        (
            r.status().as_u16(),
            code(&r.json().await.unwrap()).to_owned()
        ),
        (422, "ERR_INPUT_PAST_DATE".to_owned())
    );
    let r = put(json!({"draft": false, "expire": null, "to": []}))
        .await
        .unwrap();
    assert_eq!(
        code(&r.json().await.unwrap()),
        "ERR_INPUT_EMAIL_WITH_NO_RECIPIENTS_NOT_ALLOWED"
    );
    let r = put(json!({"draft": false, "to": ["a@example.com"], "acl": "everyone"}))
        .await
        .unwrap();
    assert_eq!(code(&r.json().await.unwrap()), "ERR_INPUT_NOT_IN_LIST");
    let r = put(json!({"draft": false, "acl": "no_auth", "secureBody": true}))
        .await
        .unwrap();
    assert_eq!(
        code(&r.json().await.unwrap()),
        "ERR_INPUT_SECURE_BODY_WITH_NO_AUTH_NOT_ALLOWED"
    );
    let r = put(json!({"draft": false, "files": ["not-a-file"], "acl": "verify_recipient", "secureBody": false})).await.unwrap();
    assert_eq!(code(&r.json().await.unwrap()), "ERR_ACCESS_USER");
    assert_eq!(k.sandbox.outbox().count(), 0);
    let r = put(json!({"draft": false, "files": []})).await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(k.sandbox.outbox().count(), 1);
    let r = put(json!({"draft": false})).await.unwrap();
    assert_eq!(code(&r.json().await.unwrap()), "ERR_ENTITY_EMAIL_NOT_DRAFT");
    let r = k
        .rest(reqwest::Method::DELETE, &format!("/rest/mail/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(code(&r.json().await.unwrap()), "ERR_ENTITY_EMAIL_IS_SENT");
    let got: Value = k
        .rest(reqwest::Method::GET, &format!("/rest/mail/{id}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(got["status"], "sent");
    assert_eq!(got["recipients"][0]["type"], 0);
    // A draft can be deleted, with what was uploaded onto it.
    let d: Value = post(json!({"to": ["a@example.com"], "draft": 1}))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let did = d["id"].as_str().unwrap();
    let r = k
        .rest(
            reqwest::Method::POST,
            &format!("/rest/mail/{did}/actions/initiateUpload"),
        )
        .json(&json!({"filename": "att.txt", "totalSize": 1, "totalChunks": 1}))
        .send()
        .await
        .unwrap();
    let up: Value = r.json().await.unwrap();
    assert_eq!(up["emailId"], did);
    let (s, _) = k
        .chunk(
            &format!("/rest/uploads/{}", up["id"]),
            &sizes(1, Some(1)),
            b"q",
        )
        .await;
    assert_eq!(s, 201);
    let files_before = k.sandbox.store().len();
    let r = k
        .rest(reqwest::Method::DELETE, &format!("/rest/mail/{did}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(k.sandbox.store().len(), files_before - 1);
    let r = k
        .rest(reqwest::Method::GET, &format!("/rest/mail/{did}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
}

#[tokio::test]
async fn fingerprints_appear_after_the_delay() {
    let clock = ManualClock::new();
    let o = KiteworksOptions {
        fingerprint_delay: Duration::from_secs(5),
        ..KiteworksOptions::default()
    };
    let k = start(
        o,
        SandboxOptions::default()
            .clock(clock.clock())
            .rate_limit(RateLimitSetting::Off),
    )
    .await;
    let dir = k.mydir().await;
    let up = k.initiate(&dir, "f.txt", 5, 1).await;
    let (s, file) = k
        .chunk(
            &format!("/rest/uploads/{}?returnEntity=true", up["id"]),
            &sizes(5, Some(1)),
            b"hello",
        )
        .await;
    assert_eq!(s, 201);
    assert_eq!(file["fingerprint"], "Generating...");
    assert_eq!(file["fingerprints"], json!([]));
    clock.advance(Duration::from_secs(5));
    let got: Value = k
        .rest(
            reqwest::Method::GET,
            &format!("/rest/files/{}", file["id"].as_str().unwrap()),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(got["fingerprint"], "5d41402abc4b2a76b9719d911017c592");
    assert_eq!(got["fingerprints"][0]["algo"], "sha3-256");
    assert_eq!(
        got["fingerprints"][0]["hash"],
        "3338be694f50c5f338814986cdf0686453a888b84f424d792af4b9202398f392"
    );
}

fn signature(client: &str, user: &str, ts: u64, nonce: u32, key: &str) -> String {
    let base = format!("{client}|@@|{user}|@@|{ts}|@@|{nonce}");
    let k = ring::hmac::Key::new(ring::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, key.as_bytes());
    let sig = hex::encode(ring::hmac::sign(&k, base.as_bytes()).as_ref());
    format!(
        "{}|@@|{}|@@|{ts}|@@|{nonce}|@@|{sig}",
        STANDARD.encode(client),
        STANDARD.encode(user)
    )
}

#[tokio::test]
async fn signature_codes_are_verified_exactly() {
    // The fact sheet's vector, on a clock set to its timestamp.
    let clock = ManualClock::starting_at(UNIX_EPOCH + Duration::from_secs(1_700_000_000));
    let o = KiteworksOptions {
        client_id: "playground".into(),
        user_email: "user@example.com".into(),
        signature_key: "sigkey".into(),
        ..KiteworksOptions::default()
    };
    let k = &start(
        o,
        SandboxOptions::default()
            .clock(clock.clock())
            .rate_limit(RateLimitSetting::Off),
    )
    .await;
    let vector = signature(
        "playground",
        "user@example.com",
        1_700_000_000,
        123_456,
        "sigkey",
    );
    assert_eq!(
        vector,
        "cGxheWdyb3VuZA==|@@|dXNlckBleGFtcGxlLmNvbQ==|@@|1700000000|@@|123456|@@|fba2cdae3b0c761c39e44d5c12791e58a69b098e"
    );
    let grant = |code: String| async move {
        k.token_raw(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "https://app.example/cb"),
        ])
        .await
    };
    let ok = grant(vector.clone()).await;
    assert_eq!(ok.status(), 200);
    let body: Value = ok.json().await.unwrap();
    assert!(body["refresh_token"].is_string());
    // Replayed, wrong key, tampered, or outside the one-hour window: refused.
    for bad in [
        vector.clone(),
        signature("playground", "user@example.com", 1_700_000_000, 1, "other"),
        vector.replace("fba2", "fba3"),
        signature(
            "playground",
            "user@example.com",
            1_700_000_000 - 3_601,
            2,
            "sigkey",
        ),
        signature(
            "playground",
            "user@example.com",
            1_700_000_000 + 3_601,
            3,
            "sigkey",
        ),
        signature(
            "playground",
            "someone@example.com",
            1_700_000_000,
            4,
            "sigkey",
        ),
    ] {
        let r = grant(bad).await;
        assert_eq!(r.status(), 400);
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["error"], "invalid_grant", "{v}");
    }
    // Inside the window from either side.
    clock.advance(Duration::from_secs(3_000));
    assert_eq!(
        grant(signature(
            "playground",
            "user@example.com",
            1_700_000_000,
            5,
            "sigkey"
        ))
        .await
        .status(),
        200
    );
}

fn jwt(alg: &str, claims: Value) -> String {
    use rustls::pki_types::PrivateKeyDer;
    use rustls::pki_types::pem::PemObject;
    let der = PrivateKeyDer::from_pem_slice(TEST_JWT_PRIVATE_KEY_PEM.as_bytes()).unwrap();
    let PrivateKeyDer::Pkcs8(p8) = der else {
        panic!("pkcs8")
    };
    let key = ring::signature::RsaKeyPair::from_pkcs8(p8.secret_pkcs8_der()).unwrap();
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(json!({"alg": alg, "typ": "JWT"}).to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let mut sig = vec![0; key.public().modulus_len()];
    let padding: &dyn ring::signature::RsaEncoding = if alg == "RS512" {
        &ring::signature::RSA_PKCS1_SHA512
    } else {
        &ring::signature::RSA_PKCS1_SHA256
    };
    key.sign(
        padding,
        &ring::rand::SystemRandom::new(),
        input.as_bytes(),
        &mut sig,
    )
    .unwrap();
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))
}

#[tokio::test]
async fn jwt_assertions_are_verified_against_the_public_key() {
    let k = &kit().await;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let claims = |jti: &str| {
        json!({
            "iss": k.options.client_id, "sub": k.options.user_email, "aud": k.sandbox.base_url(),
            "iat": now, "nbf": now - 60, "exp": now + 300, "jti": jti,
        })
    };
    let grant = |assertion: String| async move {
        k.token_raw(&[
            ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
            ("assertion", &assertion),
        ])
        .await
    };
    for alg in ["RS256", "RS512"] {
        let r = grant(jwt(alg, claims(alg))).await;
        assert_eq!(r.status(), 200, "{alg}");
        let v: Value = r.json().await.unwrap();
        assert!(v.get("refresh_token").is_none(), "no refresh token for JWT");
    }
    let mut wrong_aud = claims("a");
    wrong_aud["aud"] = "https://elsewhere.example".into();
    let mut expired = claims("b");
    expired["exp"] = (now - 1).into();
    let mut no_jti = claims("c");
    no_jti.as_object_mut().unwrap().remove("jti");
    let tampered = {
        let t = jwt("RS256", claims("d"));
        let (head, sig) = t.rsplit_once('.').unwrap();
        let mut s = URL_SAFE_NO_PAD.decode(sig).unwrap();
        s[0] ^= 1;
        format!("{head}.{}", URL_SAFE_NO_PAD.encode(s))
    };
    for bad in [
        jwt("RS256", claims("RS256")), // replayed jti
        jwt("RS256", wrong_aud),
        jwt("RS256", expired),
        jwt("RS256", no_jti),
        jwt("PS256", claims("e")),
        tampered,
    ] {
        let r = grant(bad).await;
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["error"], "invalid_grant", "{v}");
    }
}

#[tokio::test]
async fn authorization_code_needs_the_pkce_verifier_and_is_single_use() {
    let k = &kit().await;
    let verifier = "a".repeat(50);
    let challenge = URL_SAFE_NO_PAD
        .encode(ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes()).as_ref());
    let authorize = || {
        k.http
            .get(k.url("/oauth/authorize"))
            .query(&[
                ("client_id", k.options.client_id.as_str()),
                ("redirect_uri", "http://127.0.0.1:9/cb"),
                ("response_type", "code"),
                ("state", "st"),
                ("code_challenge", &challenge),
                ("code_challenge_method", "S256"),
            ])
            .send()
    };
    let code_of = |r: reqwest::Response| {
        assert_eq!(r.status(), 302);
        let loc = url::Url::parse(r.headers()["location"].to_str().unwrap()).unwrap();
        let q: std::collections::HashMap<_, _> = loc.query_pairs().into_owned().collect();
        assert_eq!(q["state"], "st");
        q["code"].clone()
    };
    let exchange = |code: String, verifier: Option<String>| async move {
        let mut f = vec![
            ("grant_type", "authorization_code".to_owned()),
            ("code", code),
            ("redirect_uri", "http://127.0.0.1:9/cb".to_owned()),
        ];
        if let Some(v) = verifier {
            f.push(("code_verifier", v));
        }
        let f: Vec<(&str, &str)> = f.iter().map(|(a, b)| (*a, b.as_str())).collect();
        k.token_raw(&f).await.status().as_u16()
    };
    let c = code_of(authorize().await.unwrap());
    assert_eq!(exchange(c, None).await, 400);
    let c = code_of(authorize().await.unwrap());
    assert_eq!(exchange(c.clone(), Some("b".repeat(50))).await, 400);
    let c = code_of(authorize().await.unwrap());
    assert_eq!(exchange(c.clone(), Some(verifier.clone())).await, 200);
    assert_eq!(
        exchange(c, Some(verifier)).await,
        400,
        "codes are single use"
    );
    // An unregistered redirect gets an error page, not a redirect.
    let r = k
        .http
        .get(k.url("/oauth/authorize"))
        .query(&[
            ("client_id", k.options.client_id.as_str()),
            ("redirect_uri", "https://evil.example/cb"),
            ("response_type", "code"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
}

#[tokio::test]
async fn folders_search_and_conflicts() {
    let k = kit().await;
    let create = |parent: &str, name: &str| {
        k.rest(
            reqwest::Method::POST,
            &format!("/rest/folders/{parent}/folders"),
        )
        .json(&json!({ "name": name }))
        .send()
    };
    let r = create("0", "Projects").await.unwrap();
    assert_eq!(r.status(), 201);
    let loc = r.headers()["x-accellion-location"]
        .to_str()
        .unwrap()
        .to_owned();
    let id = loc.rsplit('/').next().unwrap().to_owned();
    assert_eq!(create("0", "projects").await.unwrap().status(), 409);
    assert_eq!(create(&id, "a:b").await.unwrap().status(), 422);
    assert_eq!(create("no-such-folder", "x").await.unwrap().status(), 403);
    assert_eq!(create(&id, "Sub").await.unwrap().status(), 201);
    let found: Value = k
        .rest(reqwest::Method::GET, "/rest/search?path=Projects/Sub")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(found["folders"].as_array().unwrap().len(), 1);
    assert_eq!(found["folders"][0]["name"], "Sub");
    assert_eq!(found["folders"][0]["path"], "Projects/Sub");
    let none: Value = k
        .rest(reqwest::Method::GET, "/rest/search?path=Projects/Nope")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(none["folders"], json!([]));
}

#[tokio::test]
async fn rate_limit_and_token_lifetime() {
    let clock = ManualClock::new();
    let k = start(
        KiteworksOptions::default(),
        SandboxOptions::default()
            .clock(clock.clock())
            .token_lifetime(Duration::from_secs(120))
            .rate_limit(RateLimitSetting::Limit(RateLimit::per_minute(4))),
    )
    .await;
    // The token request in `start` was the first of four.
    let me = || k.rest(reqwest::Method::GET, "/rest/users/me").send();
    assert_eq!(me().await.unwrap().status(), 200);
    assert_eq!(me().await.unwrap().status(), 200);
    assert_eq!(me().await.unwrap().status(), 200);
    let r = me().await.unwrap();
    assert_eq!(r.status(), 403, "Kiteworks refuses with 403, not 429");
    assert!(
        serde_json::from_slice::<Value>(&r.bytes().await.unwrap()).is_err(),
        "no error envelope"
    );
    clock.advance(Duration::from_secs(60));
    assert_eq!(me().await.unwrap().status(), 200);
    clock.advance(Duration::from_secs(61));
    let r = me().await.unwrap();
    assert_eq!(r.status(), 401, "the 120 s token has expired");
    let t = k
        .token(&[
            ("grant_type", "password"),
            ("username", &k.options.user_email),
            ("password", &k.options.password),
        ])
        .await;
    assert_eq!(t["expires_in"], 120);
}

#[tokio::test]
async fn client_times_only_in_the_service_form() {
    let k = kit().await;
    let dir = k.mydir().await;
    let path = format!("/rest/folders/{dir}/actions/initiateUpload");
    for (field, bad) in [
        ("clientModified", json!("2026-11-23T00:20:05.123456789Z")),
        ("clientModified", json!("2026-11-23T00:20:05+00:00")),
        ("clientCreated", json!("2026-11-23")),
        ("clientModified", json!(1_795_393_205)),
    ] {
        let r = k
            .rest(reqwest::Method::POST, &path)
            .json(&json!({ "filename": "t.bin", "totalSize": 1, "totalChunks": 1, field: bad }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 422, "{field} = {bad}");
        let v: Value = r.json().await.unwrap();
        assert_eq!(
            v,
            json!({ "errors": [{ "code": "ERR_INPUT_INVALID_FORMAT", "message": "The input is invalid." }] })
        );
    }
    let r = k
        .rest(reqwest::Method::POST, &path)
        .json(&json!({
            "filename": "t.bin", "totalSize": 1, "totalChunks": 1,
            "clientModified": "2026-11-23T00:20:05+0000"
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["clientModified"], "2026-11-23T00:20:05+0000");
}

#[tokio::test]
async fn a_mail_body_over_the_limit_is_refused_as_the_service_refuses_a_value_over_its_maximum() {
    let k = kit().await;
    let limit = securesend_sandbox::kiteworks::MAX_MAIL_BODY_BYTES;
    let send = |body: String| {
        k.rest(reqwest::Method::POST, "/rest/mail/actions/sendFile")
            .json(&json!({ "to": ["ada@example.com"], "files": [], "draft": true, "body": body }))
            .send()
    };
    let r = send("x".repeat(limit + 1)).await.unwrap();
    assert_eq!(r.status(), 422);
    let v: Value = r.json().await.unwrap();
    assert_eq!(code(&v), "ERR_INPUT_EXCEEDS_MAX_VALUE");
    assert_eq!(send("x".repeat(limit)).await.unwrap().status(), 201);
}
