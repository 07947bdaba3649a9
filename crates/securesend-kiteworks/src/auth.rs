//! Tokens from Kiteworks' OAuth server: the five grants, refresh, and the token source the
//! cache calls.
//!
//! Every grant posts a form to `POST /oauth/token` with `client_id` and `client_secret` in the
//! body (the service does not take HTTP Basic). Values that must be fresh — the signature
//! flow's code, a JWT assertion — are computed per attempt, so a retried request never replays
//! an old one.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::time::Instant;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use rand::Rng;
use ring::signature::RsaKeyPair;
use rustls::pki_types::PrivateKeyDer;
use rustls::pki_types::pem::PemObject;

use securesend_core::http::{
    Call, DEFAULT_JSON_CAP, HttpClient, Repeat, Token, TokenSource, parse_json, read_bytes_capped,
    read_error_body,
};
use securesend_core::{Error, ErrorKind, Result, Secret, async_trait};

use crate::PROVIDER;
use crate::api::TokenResponse;
use crate::config::{Credentials, JwtAlgorithm, Settings, TimestampUnit};
use crate::error;
use crate::token_store::{Kept, TokenStore};

/// The signature flow's code (Kiteworks "Signature Authorization"):
/// `base64(client_id)|@@|base64(user)|@@|timestamp|@@|nonce|@@|hex(HMAC-SHA1(key, base))` where
/// `base = client_id|@@|user|@@|timestamp|@@|nonce`.
///
/// ```
/// # use securesend_kiteworks::signature_code;
/// let code = signature_code("playground", "user@example.com", 1_700_000_000, 123_456, "sigkey");
/// assert!(code.ends_with("|@@|fba2cdae3b0c761c39e44d5c12791e58a69b098e"));
/// ```
pub fn signature_code(
    client_id: &str,
    user: &str,
    timestamp: u64,
    nonce: u32,
    key: &str,
) -> String {
    let sep = "|@@|";
    let base = format!("{client_id}{sep}{user}{sep}{timestamp}{sep}{nonce}");
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, key.as_bytes());
    let signature = hex::encode(ring::hmac::sign(&key, base.as_bytes()).as_ref());
    format!(
        "{}{sep}{}{sep}{timestamp}{sep}{nonce}{sep}{signature}",
        STANDARD.encode(client_id),
        STANDARD.encode(user)
    )
}

/// A PKCE pair: the verifier kept by the client and its S256 challenge sent to `/authorize`.
pub(crate) fn pkce_pair() -> (Secret, String) {
    let mut bytes = [0u8; 32];
    rand::rng().fill(&mut bytes);
    let verifier = URL_SAFE_NO_PAD.encode(bytes);
    let challenge = pkce_challenge(&verifier);
    (Secret::new(verifier), challenge)
}

/// `BASE64URL(SHA256(verifier))` (RFC 7636 S256).
pub(crate) fn pkce_challenge(verifier: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes());
    URL_SAFE_NO_PAD.encode(digest.as_ref())
}

/// An RSA private key for JWT assertions. Debug shows nothing of it.
pub(crate) struct JwtSigner {
    key: RsaKeyPair,
}

impl std::fmt::Debug for JwtSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JwtSigner([redacted])")
    }
}

impl JwtSigner {
    /// Reads a PEM RSA private key (PKCS#8 or PKCS#1). Errors never quote the file.
    pub(crate) fn from_pem(pem: &Secret) -> Result<JwtSigner> {
        let bad = |why: &str| {
            Error::config(format!(
                "`jwt_private_key_file` {why}; give a PEM RSA private key of at least 2048 bits (\"BEGIN PRIVATE KEY\" or \"BEGIN RSA PRIVATE KEY\")"
            ))
        };
        let der = PrivateKeyDer::from_pem_slice(pem.expose().as_bytes())
            .map_err(|_| bad("holds no PEM private key"))?;
        let key = match &der {
            PrivateKeyDer::Pkcs8(k) => RsaKeyPair::from_pkcs8(k.secret_pkcs8_der()),
            PrivateKeyDer::Pkcs1(k) => RsaKeyPair::from_der(k.secret_pkcs1_der()),
            _ => return Err(bad("holds a key that is not RSA")),
        }
        .map_err(|_| bad("holds a key ring cannot use"))?;
        Ok(JwtSigner { key })
    }

    /// A signed assertion `header.claims.signature`.
    pub(crate) fn assertion(&self, s: &Settings, user: &str, now: u64) -> Result<String> {
        let (alg, padding): (&str, &'static dyn ring::signature::RsaEncoding) =
            match s.jwt_algorithm {
                JwtAlgorithm::RS256 => ("RS256", &ring::signature::RSA_PKCS1_SHA256),
                JwtAlgorithm::RS512 => ("RS512", &ring::signature::RSA_PKCS1_SHA512),
            };
        let header = serde_json::json!({ "alg": alg, "typ": "JWT" });
        let claims = serde_json::json!({
            "iss": s.jwt_issuer,
            "sub": user,
            "aud": s.jwt_audience,
            "iat": now,
            "nbf": now.saturating_sub(s.clock_skew),
            "exp": now + s.jwt_lifetime,
            "jti": uuid::Uuid::new_v4().to_string(),
        });
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let mut sig = vec![0u8; self.key.public().modulus_len()];
        self.key
            .sign(
                padding,
                &ring::rand::SystemRandom::new(),
                input.as_bytes(),
                &mut sig,
            )
            .map_err(|_| {
                Error::new(ErrorKind::Configuration, "signing the JWT assertion failed")
            })?;
        Ok(format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig)))
    }
}

/// How long a refused refresh waits for the token of the process that spent its refresh token
/// to appear in the token file. That process writes it as soon as the service answers (within
/// milliseconds); the rest is room for a loaded machine. A refresh token refused for another
/// reason costs this wait once before signing in again.
const KEPT_TOKEN_WAIT: Duration = Duration::from_secs(2);

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Talks to `/oauth/token` and keeps tokens with a refresh token on disk.
#[derive(Debug)]
pub(crate) struct OAuth {
    http: HttpClient,
    settings: Arc<Settings>,
    signer: Option<JwtSigner>,
    store: Option<TokenStore>,
    /// The token file held a token of other credentials (so "no token is kept" can say why).
    foreign: std::sync::atomic::AtomicBool,
}

impl OAuth {
    pub(crate) fn new(
        http: HttpClient,
        settings: Arc<Settings>,
        store: Option<TokenStore>,
    ) -> Result<OAuth> {
        let signer = match &settings.credentials {
            Credentials::Jwt { key_pem, .. } => Some(JwtSigner::from_pem(key_pem)?),
            _ => None,
        };
        Ok(OAuth {
            http,
            settings,
            signer,
            store,
            foreign: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// A token restored from disk, if one was kept for this account and these credentials.
    pub(crate) fn restored(&self) -> Option<Token> {
        match self.store.as_ref()?.load() {
            Kept::Token(t) => Some(t),
            Kept::Nothing => None,
            Kept::Foreign => {
                tracing::info!(
                    provider = PROVIDER,
                    "the kept token was obtained with other credentials than the profile's; it is not used, and the next sign-in replaces it"
                );
                self.foreign
                    .store(true, std::sync::atomic::Ordering::Relaxed);
                None
            }
        }
    }

    fn token_url(&self) -> url::Url {
        let mut u = self.settings.base.clone();
        if let Ok(mut segs) = u.path_segments_mut() {
            segs.pop_if_empty().push("oauth").push("token");
        }
        u
    }

    /// Posts one token request; `fields` builds the grant's own form fields per attempt.
    async fn request(
        &self,
        operation: &'static str,
        fields: impl Fn() -> Result<Vec<(&'static str, String)>>,
    ) -> Result<Token> {
        let s = &self.settings;
        let url = self.token_url();
        // Surfaces a field that cannot be built (a key that fails to sign) before anything is
        // sent; later attempts build their own fresh values.
        fields()?;
        let resp = self
            .http
            .send(Call::api(Repeat::Safe), |c| {
                let mut form = fields().unwrap_or_default();
                form.push(("client_id", s.client_id.clone()));
                form.push(("client_secret", s.client_secret.expose().to_owned()));
                c.post(url.clone())
                    .header(http::header::ACCEPT, "application/json")
                    .form(&form)
            })
            .await?;
        let status = resp.status();
        if !status.is_success() {
            let headers = resp.headers().clone();
            let body = read_error_body(resp).await;
            return Err(error::from_answer(operation, status, &headers, &body, &[]));
        }
        let body = read_bytes_capped(resp, DEFAULT_JSON_CAP).await?;
        let t: TokenResponse =
            parse_json(&body).map_err(|e| e.or_provider(PROVIDER).or_operation(operation))?;
        let visible =
            |v: &str| !v.is_empty() && v.len() <= 8192 && v.bytes().all(|b| b.is_ascii_graphic());
        if !visible(&t.access_token) || t.refresh_token.as_deref().is_some_and(|r| !visible(r)) {
            return Err(error::protocol(
                operation,
                "the token endpoint returned a token that cannot be used in a header",
            ));
        }
        if let Some(kind) = &t.token_type {
            if !kind.eq_ignore_ascii_case("bearer") {
                return Err(error::protocol(
                    operation,
                    "the token endpoint returned a token type other than bearer",
                ));
            }
        }
        let mut token = Token::new(t.access_token);
        if let Some(secs) = t.expires_in {
            token = token.with_expires_in(Duration::from_secs(secs));
        }
        if let Some(r) = t.refresh_token {
            token = token.with_refresh_token(r);
        }
        if let Some(store) = &self.store {
            store.save(&token, t.expires_in.map(|e| unix_now() + e));
        }
        Ok(token)
    }

    /// Exchanges an authorization code from `/oauth/authorize`.
    pub(crate) async fn exchange_code(
        &self,
        code: &Secret,
        redirect_uri: &str,
        verifier: &Secret,
    ) -> Result<Token> {
        self.request("login", || {
            Ok(vec![
                ("grant_type", "authorization_code".to_owned()),
                ("code", code.expose().to_owned()),
                ("redirect_uri", redirect_uri.to_owned()),
                ("code_verifier", verifier.expose().to_owned()),
            ])
        })
        .await
    }

    async fn refresh(&self, refresh: &Secret) -> Result<Token> {
        self.request("refresh token", || {
            Ok(vec![
                ("grant_type", "refresh_token".to_owned()),
                ("refresh_token", refresh.expose().to_owned()),
            ])
        })
        .await
    }

    /// A token from the configured grant without a refresh token to start from.
    pub(crate) async fn primary(&self) -> Result<Token> {
        let s = &self.settings;
        let scope = || s.scope.clone().map(|sc| ("scope", sc));
        match &s.credentials {
            Credentials::AuthorizationCode => Err(Error::new(
                ErrorKind::Unauthenticated,
                format!(
                    "no valid token is kept for this profile{}; run `securesend login --profile {}` to sign in",
                    if self.foreign.load(std::sync::atomic::Ordering::Relaxed) {
                        " (the kept one was obtained with other credentials, such as another client secret)"
                    } else {
                        ""
                    },
                    s.profile
                ),
            )
            .with_provider(PROVIDER)
            .with_operation("authenticate")),
            Credentials::RefreshToken(r) => self.refresh(r).await,
            Credentials::Password { username, password } => {
                self.request("authenticate", || {
                    let mut f = vec![
                        ("grant_type", "password".to_owned()),
                        ("username", username.clone()),
                        ("password", password.expose().to_owned()),
                    ];
                    f.extend(scope());
                    Ok(f)
                })
                .await
            }
            Credentials::Signature { user, key } => {
                self.request("authenticate", || {
                    let mut now = unix_now();
                    if s.signature_timestamp == TimestampUnit::Milliseconds {
                        now = now.saturating_mul(1000);
                    }
                    let nonce = rand::rng().random_range(1..=999_999u32);
                    let mut f = vec![
                        ("grant_type", "authorization_code".to_owned()),
                        (
                            "code",
                            signature_code(&s.client_id, user, now, nonce, key.expose()),
                        ),
                        ("redirect_uri", s.redirect_uri.to_string()),
                    ];
                    f.extend(scope());
                    Ok(f)
                })
                .await
            }
            Credentials::Jwt { user, .. } => {
                let signer = self.signer.as_ref().ok_or_else(|| {
                    Error::config("the JWT grant has no key").with_provider(PROVIDER)
                })?;
                self.request("authenticate", || {
                    let mut f = vec![
                        (
                            "grant_type",
                            "urn:ietf:params:oauth:grant-type:jwt-bearer".to_owned(),
                        ),
                        ("assertion", signer.assertion(s, user, unix_now())?),
                    ];
                    f.extend(scope());
                    Ok(f)
                })
                .await
            }
        }
    }

    /// A token obtained now from the configured credentials, never from the cache alone, so
    /// a wrong secret shows up (`doctor`, `login`). The grants that sign in with a secret
    /// (password, signature, JWT) sign in afresh; the two that rest on a refresh token
    /// exchange the current one, which the service checks with the client secret.
    pub(crate) async fn fresh(&self, current: Option<&Token>) -> Result<Token> {
        match self.settings.credentials {
            Credentials::AuthorizationCode | Credentials::RefreshToken(_) => {
                self.renew(current, false).await
            }
            _ => self.primary().await,
        }
    }

    /// The current token's refresh token exchanged, else the configured grant.
    ///
    /// Several processes may share the profile's token file, and the service's refresh tokens
    /// are single use: when two refresh at once, one of them is refused. So a token another
    /// process has kept since `current` is used rather than refreshing, and a refused refresh
    /// first waits for the token the process that spent it writes; only when none comes does
    /// the configured grant sign in again. `share` false asks the service in any case (a
    /// check of the credentials), never taking another process's token.
    async fn renew(&self, current: Option<&Token>, share: bool) -> Result<Token> {
        let kept = share.then(|| self.kept_other_than(current)).flatten();
        if let Some(t) = kept.as_ref().filter(|t| !t.is_expired(Instant::now())) {
            tracing::debug!(
                provider = PROVIDER,
                "using the token another process kept since"
            );
            return Ok(t.clone());
        }
        // A kept token's refresh token is the newer one: ours may have been spent for it.
        let base = kept
            .as_ref()
            .filter(|t| t.refresh_token().is_some())
            .or(current);
        if let Some(refresh) = base.and_then(Token::refresh_token) {
            match self.refresh(refresh).await {
                Ok(t) => return Ok(t),
                Err(e) if e.is_unauthenticated() => {
                    let elsewhere = match share {
                        true => self.refreshed_elsewhere(base).await,
                        false => None,
                    };
                    if let Some(t) = elsewhere {
                        tracing::debug!(
                            provider = PROVIDER,
                            "refresh token spent by another process; using the token it kept"
                        );
                        return Ok(t);
                    }
                    tracing::debug!(
                        provider = PROVIDER,
                        "refresh token refused; signing in again"
                    );
                    self.forget();
                }
                Err(e) => return Err(e),
            }
        }
        self.primary().await
    }

    /// The token kept on disk, when it is not `current` (another process obtained it).
    fn kept_other_than(&self, current: Option<&Token>) -> Option<Token> {
        let Kept::Token(t) = self.store.as_ref()?.load() else {
            return None;
        };
        let same = current.is_some_and(|c| c.access().expose() == t.access().expose());
        (!same).then_some(t)
    }

    /// A usable token another process keeps after spending the refresh token of `base`,
    /// waited for a moment: that process writes it just after the service answers it.
    async fn refreshed_elsewhere(&self, base: Option<&Token>) -> Option<Token> {
        self.store.as_ref()?;
        let deadline = Instant::now() + KEPT_TOKEN_WAIT;
        loop {
            if let Some(t) = self
                .kept_other_than(base)
                .filter(|t| !t.is_expired(Instant::now()))
            {
                return Some(t);
            }
            if Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Forgets the token kept on disk (it was refused).
    fn forget(&self) {
        if let Some(store) = &self.store {
            store.clear();
        }
    }
}

#[async_trait]
impl TokenSource for OAuth {
    async fn fetch(&self, current: Option<&Token>) -> Result<Token> {
        self.renew(current, true).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_vector_from_the_fact_sheet() {
        assert_eq!(
            signature_code(
                "playground",
                "user@example.com",
                1_700_000_000,
                123_456,
                "sigkey"
            ),
            "cGxheWdyb3VuZA==|@@|dXNlckBleGFtcGxlLmNvbQ==|@@|1700000000|@@|123456|@@|fba2cdae3b0c761c39e44d5c12791e58a69b098e"
        );
    }

    #[test]
    fn pkce_challenge_is_s256() {
        // Computed independently with Python: urlsafe_b64encode(sha256(v)).rstrip("=").
        assert_eq!(
            pkce_challenge("dBjftJeZ4CK1-gzHdq54ET9ZRd6vULERuOwsZvnSWc4"),
            "e5ft0f102xb5PQhe3f2w2Ud3j-La2wd663p9tjJEX7A"
        );
        let (v, c) = pkce_pair();
        assert_eq!(pkce_challenge(v.expose()), c);
        assert!(v.expose().len() >= 43);
    }

    #[test]
    fn bad_key_files_are_configuration_errors_without_content() {
        let e = JwtSigner::from_pem(&Secret::new("canary-not-a-key")).unwrap_err();
        assert!(e.is_configuration());
        assert!(!e.to_string().contains("canary"));
    }
}
