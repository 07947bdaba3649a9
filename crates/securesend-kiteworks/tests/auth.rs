//! Every grant against the sandbox's OAuth server, the loopback login with PKCE, tokens kept
//! on disk, and the errors a wrong configuration gets.

mod common;

use std::sync::{Arc, Mutex};

use common::kit;
use securesend_core::{Diagnostics, ErrorKind, Login, LoginPrompt};
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
    p.authenticate().await.unwrap();

    let token_file = k.dir.path().join("state/token.json");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&token_file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // A later run (a new instance) uses the kept token without signing in again.
    let calls = token_bodies(&k);
    let later = k.provider_with(fields.clone());
    later.authenticate().await.unwrap();
    assert_eq!(token_bodies(&k), calls);

    // Once the access token has expired, the kept refresh token gets a new one.
    let text = std::fs::read_to_string(&token_file).unwrap();
    let mut json: serde_json::Value = serde_json::from_str(&text).unwrap();
    json["expires_at"] = 1.into();
    std::fs::write(&token_file, json.to_string()).unwrap();
    let refreshed = k.provider_with(fields);
    refreshed.authenticate().await.unwrap();
    assert_eq!(token_bodies(&k), calls + 1);
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
    assert_eq!(e.kind(), ErrorKind::Configuration, "{e}");
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
