//! Every grant against the sandbox's OAuth server, the loopback login with PKCE, tokens kept
//! on disk, and the errors a wrong configuration gets.

mod common;

use std::sync::{Arc, Mutex};

use common::kit;
use securesend_core::{Diagnostics, ErrorKind, ListRequest, Login, LoginPrompt};
use securesend_sandbox::kiteworks::{Flow, KiteworksOptions};
use securesend_sandbox::tokens::{Lifetime, TokenRequest};
use securesend_sandbox::{RateLimitSetting, SandboxOptions};

/// Acts as the browser: follows the authorize redirect to the loopback listener.
struct Browser {
    seen: Arc<Mutex<Vec<String>>>,
}

impl LoginPrompt for Browser {
    fn open_url(&self, url: &str) {
        self.seen.lock().unwrap().push(url.to_owned());
        let url = url.to_owned();
        tokio::spawn(async move {
            let client = reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap();
            let resp = client.get(&url).send().await.unwrap();
            assert_eq!(resp.status(), 302);
            let back = resp.headers()["location"].to_str().unwrap().to_owned();
            let page = client.get(&back).send().await.unwrap();
            assert_eq!(page.status(), 200);
        });
    }
}

fn token_bodies(k: &common::Kit) -> usize {
    k.count("POST", "/oauth/token")
}

/// The access token in the kit's token file.
fn kept_access(k: &common::Kit) -> String {
    let text = std::fs::read_to_string(k.dir.path().join("state/token.json")).unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    json["access_token"].as_str().unwrap().to_owned()
}

/// REST requests that carried `token`.
fn rest_calls_with(k: &common::Kit, token: &str) -> usize {
    let bearer = format!("Bearer {token}");
    k.sandbox
        .journal()
        .snapshot()
        .iter()
        .filter(|e| e.path.starts_with("/rest/") && e.header("authorization") == Some(&bearer))
        .count()
}

/// The status of the last token request.
fn last_token_status(k: &common::Kit) -> Option<u16> {
    k.sandbox
        .journal()
        .snapshot()
        .iter()
        .rev()
        .find(|e| e.method == "POST" && e.path.contains("/oauth/token"))
        .and_then(|e| e.status)
}

#[tokio::test]
async fn password_signature_jwt_and_refresh_grants_sign_in() {
    let k = kit().await;
    for grant in ["password", "signature", "jwt"] {
        let p = k.provider_with(k.fields_for(grant));
        let who = p
            .authenticate()
            .await
            .unwrap_or_else(|e| panic!("{grant}: {e}"));
        assert!(who.contains(&k.options.user_email), "{grant}: {who}");
        assert!(who.contains(grant), "{who}");
    }
    let mut rs512 = k.fields_for("jwt");
    rs512.insert("jwt_algorithm".into(), "RS512".into());
    k.provider_with(rs512).authenticate().await.unwrap();

    // A refresh token issued elsewhere.
    let issued = k
        .sandbox
        .tokens()
        .issue_with(TokenRequest::new("refresh", &k.options.user_email).lifetime(Lifetime::Never));
    let mut fields = k.fields_for("refresh_token");
    fields.insert("refresh_token".into(), issued.value.as_str().into());
    let p = k.provider_with(fields);
    p.authenticate().await.unwrap();
    // Refresh tokens are single use: a second provider with the same one is refused.
    let mut again = k.fields_for("refresh_token");
    again.insert("refresh_token".into(), issued.value.as_str().into());
    again.insert("token_cache".into(), false.into());
    let e = k.provider_with(again).authenticate().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unauthenticated, "{e}");
    assert_eq!(e.service_code(), Some("invalid_grant"));
}

#[tokio::test]
async fn login_with_pkce_on_a_loopback_redirect_and_the_token_is_kept() {
    let k = kit().await;
    let fields = k.fields_for("authorization_code");
    let p = k.provider_with(fields.clone());
    // Without a login there is no token to use.
    let e = p.authenticate().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unauthenticated);
    assert!(e.to_string().contains("securesend login"), "{e}");

    let seen = Arc::new(Mutex::new(Vec::new()));
    let who = p.login(&Browser { seen: seen.clone() }).await.unwrap();
    assert!(who.contains(&k.options.user_email), "{who}");
    let url = url::Url::parse(&seen.lock().unwrap()[0]).unwrap();
    let q: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
    assert_eq!(q["code_challenge_method"], "S256");
    assert_eq!(q["response_type"], "code");
    assert!(q["redirect_uri"].starts_with("http://127.0.0.1:"));
    assert!(!q["redirect_uri"].contains(":0/"), "the real port is sent");
    assert!(q["state"].len() >= 32);
    // Checking the sign-in exchanges the kept refresh token: the service checks the client.
    let calls = token_bodies(&k);
    p.authenticate().await.unwrap();
    assert_eq!(token_bodies(&k), calls + 1);

    let token_file = k.dir.path().join("state/token.json");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&token_file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // A later run (a new instance) uses the kept token without signing in again.
    let calls = token_bodies(&k);
    let later = k.provider_with(fields.clone()).into_provider();
    later.list(ListRequest::top()).await.unwrap();
    assert_eq!(token_bodies(&k), calls);

    // Once the access token has expired, the kept refresh token gets a new one.
    let text = std::fs::read_to_string(&token_file).unwrap();
    let mut json: serde_json::Value = serde_json::from_str(&text).unwrap();
    json["expires_at"] = 1.into();
    std::fs::write(&token_file, json.to_string()).unwrap();
    let refreshed = k.provider_with(fields.clone()).into_provider();
    refreshed.list(ListRequest::top()).await.unwrap();
    assert_eq!(token_bodies(&k), calls + 1);

    // With another client secret the kept token is not used: the command asks for a login.
    let mut other = fields;
    other.insert("client_secret".into(), "another-secret".into());
    let calls = token_bodies(&k);
    let old = kept_access(&k);
    let used = rest_calls_with(&k, &old);
    let e = k
        .provider_with(other)
        .into_provider()
        .list(ListRequest::top())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unauthenticated, "{e}");
    assert!(
        e.to_string().contains("other credentials") && e.to_string().contains("securesend login"),
        "{e}"
    );
    assert_eq!(token_bodies(&k), calls, "nothing to sign in with");
    assert_eq!(
        rest_calls_with(&k, &old),
        used,
        "the kept token was not sent"
    );
}

#[tokio::test]
async fn a_denied_sign_in_is_permission_denied() {
    let o = KiteworksOptions {
        deny_authorization: true,
        ..KiteworksOptions::default()
    };
    let k = common::start(
        o,
        SandboxOptions::default().rate_limit(RateLimitSetting::Off),
    )
    .await;
    let p = k.provider_with(k.fields_for("authorization_code"));
    let e = p
        .login(&Browser {
            seen: Arc::default(),
        })
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::PermissionDenied, "{e}");
    assert!(e.to_string().contains("access_denied"), "{e}");
}

#[tokio::test]
async fn wrong_configuration_gets_clear_errors_without_secrets() {
    let mut o = KiteworksOptions::default();
    o.flows.remove(&Flow::Signature);
    let k = common::start(
        o,
        SandboxOptions::default().rate_limit(RateLimitSetting::Off),
    )
    .await;
    let mut bad_secret = k.fields();
    bad_secret.insert("client_secret".into(), "canary-wrong-secret".into());
    let e = k
        .provider_with(bad_secret)
        .authenticate()
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unauthenticated, "{e}");
    assert_eq!(e.service_code(), Some("invalid_client"));
    assert!(!format!("{e} {e:?}").contains("canary"));

    let e = k
        .provider_with(k.fields_for("signature"))
        .authenticate()
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Configuration, "{e}");
    assert_eq!(e.service_code(), Some("unauthorized_client"));

    let mut wrong_pw = k.fields();
    wrong_pw.insert("password".into(), "canary-wrong-password".into());
    let e = k.provider_with(wrong_pw).authenticate().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unauthenticated, "{e}");
    assert!(!format!("{e} {e:?}").contains("canary"));
}

#[tokio::test]
async fn signature_codes_in_the_wrong_unit_are_refused() {
    let k = kit().await;
    let mut millis = k.fields_for("signature");
    millis.insert("signature_timestamp".into(), "milliseconds".into());
    let e = k.provider_with(millis).authenticate().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unauthenticated, "{e}");
    let mut wrong_key = k.fields_for("signature");
    wrong_key.insert("signature_key".into(), "canary-not-the-key".into());
    let e = k.provider_with(wrong_key).authenticate().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unauthenticated, "{e}");
    assert!(!format!("{e} {e:?}").contains("canary"));
}

#[tokio::test]
async fn debug_output_never_shows_a_secret_or_token() {
    let k = kit().await;
    let mut fields = k.fields();
    fields.insert(
        "client_secret".into(),
        k.options.client_secret.as_str().into(),
    );
    let p = k.provider_with(fields);
    p.authenticate().await.unwrap();
    let kept = std::fs::read_to_string(k.dir.path().join("state/token.json")).unwrap();
    let kept: serde_json::Value = serde_json::from_str(&kept).unwrap();
    let shown = format!("{p:?} {:?}", p.clone().into_provider());
    for secret in [
        k.options.client_secret.as_str(),
        k.options.password.as_str(),
        kept["access_token"].as_str().unwrap(),
        kept["refresh_token"].as_str().unwrap(),
    ] {
        assert!(!shown.contains(secret), "a secret is in the Debug output");
    }
}

#[tokio::test]
async fn authenticate_checks_the_credentials_not_a_kept_token() {
    let k = kit().await;
    for (grant, secret) in [
        ("password", "password"),
        ("password", "client_secret"),
        ("signature", "signature_key"),
        ("signature", "client_secret"),
    ] {
        let fields = k.fields_for(grant);
        k.provider_with(fields.clone())
            .authenticate()
            .await
            .unwrap();
        assert!(
            k.dir.path().join("state/token.json").exists(),
            "{grant}: a token is kept"
        );
        let mut wrong = fields.clone();
        wrong.insert(secret.into(), "canary-wrong".into());
        let calls = token_bodies(&k);
        let e = k.provider_with(wrong).authenticate().await.unwrap_err();
        assert_eq!(
            e.kind(),
            ErrorKind::Unauthenticated,
            "{grant}/{secret}: {e}"
        );
        assert_eq!(token_bodies(&k), calls + 1, "{grant}/{secret}: one sign-in");
        assert_eq!(last_token_status(&k), Some(400), "{grant}/{secret}");
        assert!(!format!("{e} {e:?}").contains("canary"));
        // The right credentials still pass, with a fresh sign-in each time.
        let calls = token_bodies(&k);
        k.provider_with(fields).authenticate().await.unwrap();
        assert_eq!(
            token_bodies(&k),
            calls + 1,
            "{grant}: authenticate signs in"
        );
    }
}

#[tokio::test]
async fn a_token_kept_for_other_credentials_is_not_used_by_any_command() {
    let k = kit().await;
    let fields = k.fields();
    k.provider_with(fields.clone())
        .authenticate()
        .await
        .unwrap();
    let old = kept_access(&k);
    let used = rest_calls_with(&k, &old);
    for (key, value) in [
        ("password", "changed-password"),
        ("client_secret", "changed"),
    ] {
        let mut changed = fields.clone();
        changed.insert(key.into(), value.into());
        let calls = token_bodies(&k);
        let p = k.provider_with(changed).into_provider();
        let e = p.list(ListRequest::top()).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unauthenticated, "{key}: {e}");
        // The new credentials were sent (and refused), not the old token.
        assert_eq!(token_bodies(&k), calls + 1, "{key}");
        assert_eq!(last_token_status(&k), Some(400), "{key}");
        assert_eq!(
            rest_calls_with(&k, &old),
            used,
            "{key}: the kept token was sent"
        );
    }
    // The failed sign-ins did not throw the kept token away: the right profile still uses it.
    let calls = token_bodies(&k);
    let p = k.provider_with(fields).into_provider();
    p.list(ListRequest::top()).await.unwrap();
    assert_eq!(token_bodies(&k), calls);
    assert_eq!(rest_calls_with(&k, &old), used + 1);
}

/// A loopback HTTP server that answers every request with `answer` (a whole HTTP response).
async fn plain_server(answer: &'static str) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        loop {
            let Ok((mut s, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf).await;
                let _ = s.write_all(answer.as_bytes()).await;
                let _ = s.shutdown().await;
            });
        }
    });
    format!("http://{addr}")
}

#[tokio::test]
async fn reach_is_ok_only_for_an_answer_from_kiteworks() {
    let k = kit().await;
    let ok = k.provider().reach().await.unwrap();
    assert!(ok.contains("ERR_AUTH_UNAUTHORIZED"), "{ok}");
    for answer in [
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello",
        "HTTP/1.1 404 Not Found\r\nContent-Type: text/html\r\nContent-Length: 23\r\nConnection: close\r\n\r\n<h1>404 Not Found</h1>\n",
        "HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\nContent-Length: 17\r\nConnection: close\r\n\r\n{\"error\":\"nope\"}",
    ] {
        let mut fields = k.fields();
        fields.insert("base_url".into(), plain_server(answer).await.into());
        let e = k.provider_with(fields).reach().await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Configuration, "{answer}: {e}");
        let line = e.to_string();
        assert!(
            line.contains("does not look like a Kiteworks server")
                && line.contains("profiles.test.base_url")
                && !line.contains('\n'),
            "{line}"
        );
    }
    // A 401 with a bearer challenge is taken as the service (whether it sends one is unknown).
    let mut fields = k.fields();
    fields.insert(
        "base_url".into(),
        plain_server("HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Bearer realm=\"kw\"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            .await
            .into(),
    );
    k.provider_with(fields).reach().await.unwrap();
}
