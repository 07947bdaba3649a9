//! The OAuth server: `/oauth/authorize` (approves at once for the sandbox's user, or denies
//! when configured to) and `/oauth/token` for the five grants.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, UNIX_EPOCH};

use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use bytes::Bytes;
use http::{HeaderMap, StatusCode, header};
use serde_json::{Value, json};

use super::wire::{form_to_map, oauth_error};
use super::{Flow, Kw};
use crate::tokens::{Lifetime, TokenRequest};

/// How long an authorization code may wait for its exchange.
const CODE_LIFETIME: Duration = Duration::from_secs(600);
/// The signature flow's window, either side of the server's clock.
const SIGNATURE_WINDOW: u64 = 3600;
/// Clock difference tolerated on JWT `nbf`/`iat`.
const JWT_SKEW: u64 = 60;
/// The longest a JWT assertion may live.
const JWT_MAX_LIFETIME: u64 = 3600;

/// A code from `/oauth/authorize`, waiting for its exchange.
#[derive(Debug)]
struct PendingCode {
    redirect_uri: String,
    challenge: Option<String>,
    scope: Option<String>,
    expires: Duration,
}

/// What the OAuth server remembers.
#[derive(Debug, Default)]
pub(crate) struct OAuthState {
    codes: HashMap<String, PendingCode>,
    /// Signature codes already exchanged (replays are refused).
    signatures: HashSet<String>,
    /// JWT ids already seen.
    jtis: HashSet<String>,
}

/// Reads a PEM public key (SPKI `PUBLIC KEY` or PKCS#1 `RSA PUBLIC KEY`) into the PKCS#1
/// `RSAPublicKey` DER that signature verification takes.
pub fn public_key_der(pem: &str) -> Result<Vec<u8>, String> {
    let mut label = None;
    let mut b64 = String::new();
    for line in pem.lines().map(str::trim) {
        if let Some(l) = line.strip_prefix("-----BEGIN ") {
            label = Some(l.trim_end_matches('-').to_owned());
        } else if line.starts_with("-----END ") {
            break;
        } else if label.is_some() {
            b64.push_str(line);
        }
    }
    let der = STANDARD
        .decode(b64.as_bytes())
        .map_err(|_| "the PEM body is not base64".to_owned())?;
    match label.as_deref() {
        Some("RSA PUBLIC KEY") => Ok(der),
        Some("PUBLIC KEY") => {
            // SubjectPublicKeyInfo ::= SEQUENCE { AlgorithmIdentifier, BIT STRING }
            let (outer, _) = der_item(&der, 0x30)?;
            let (_, rest) = der_item(outer, 0x30)?;
            let (bits, _) = der_item(rest, 0x03)?;
            match bits.split_first() {
                Some((0, key)) => Ok(key.to_vec()),
                _ => Err("the key's bit string is malformed".into()),
            }
        }
        _ => Err("expected a PEM \"PUBLIC KEY\" or \"RSA PUBLIC KEY\"".into()),
    }
}

/// One DER item with tag `tag`: its contents and what follows it.
fn der_item(input: &[u8], tag: u8) -> Result<(&[u8], &[u8]), String> {
    let bad = || "malformed DER".to_owned();
    let (&t, rest) = input.split_first().ok_or_else(bad)?;
    if t != tag {
        return Err(bad());
    }
    let (&first, mut rest) = rest.split_first().ok_or_else(bad)?;
    let len = if first < 0x80 {
        usize::from(first)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return Err(bad());
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |a, b| (a << 8) | usize::from(*b));
        rest = &rest[n..];
        len
    };
    if rest.len() < len {
        return Err(bad());
    }
    Ok(rest.split_at(len))
}

fn unix_now(kw: &Kw) -> u64 {
    kw.now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// `GET /oauth/authorize`: approves for the sandbox's user at once and redirects with a code.
pub(crate) async fn authorize(State(kw): State<Kw>, RawQuery(query): RawQuery) -> Response {
    let q = form_to_map(query.as_deref().unwrap_or("").as_bytes());
    let get = |k: &str| q.get(k).and_then(Value::as_str).map(str::to_owned);
    let opts = kw.options();
    // Bad client or redirect: the service shows an error page and redirects nowhere.
    if get("client_id").as_deref() != Some(opts.client_id.as_str()) {
        return (StatusCode::BAD_REQUEST, "unknown client_id").into_response();
    }
    let Some(redirect) = get("redirect_uri").filter(|r| r.starts_with(&opts.redirect_uri_prefix))
    else {
        return (StatusCode::BAD_REQUEST, "redirect_uri is not registered").into_response();
    };
    let Ok(mut target) = url::Url::parse(&redirect) else {
        return (StatusCode::BAD_REQUEST, "redirect_uri is not a URL").into_response();
    };
    let state = get("state");
    let mut reply = |pairs: &[(&str, &str)]| {
        {
            let mut qp = target.query_pairs_mut();
            for (k, v) in pairs {
                qp.append_pair(k, v);
            }
            if let Some(s) = &state {
                qp.append_pair("state", s);
            }
        }
        (StatusCode::FOUND, [(header::LOCATION, target.to_string())]).into_response()
    };
    if get("response_type").as_deref() != Some("code") {
        return reply(&[("error", "invalid_request")]);
    }
    if !opts.flows.contains(&Flow::AuthorizationCode) {
        return reply(&[("error", "unauthorized_client")]);
    }
    let challenge = get("code_challenge");
    if challenge.is_some() && get("code_challenge_method").as_deref() != Some("S256") {
        return reply(&[("error", "invalid_request")]);
    }
    if opts.deny_authorization {
        return reply(&[("error", "access_denied")]);
    }
    let code = crate::tokens::random_token(crate::tokens::TokenFormat::Hex { bytes: 20 });
    kw.oauth().codes.insert(
        code.clone(),
        PendingCode {
            redirect_uri: redirect.clone(),
            challenge,
            scope: get("scope"),
            expires: kw.ctx().clock().elapsed() + CODE_LIFETIME,
        },
    );
    reply(&[("code", &code)])
}

/// A token answer.
fn issue(kw: &Kw, scope: Option<String>, refresh: bool) -> Response {
    let tokens = kw.ctx().tokens();
    let subject = kw.user().email.clone();
    let scope = scope.unwrap_or_else(|| "*/*/*".into());
    let access = tokens.issue_with(TokenRequest::new("access", &subject).scope(&scope));
    let mut body = json!({
        "access_token": access.value,
        "expires_in": access.lifetime.map_or(0, |l| l.as_secs()),
        "token_type": "bearer",
        "scope": scope,
    });
    if refresh && kw.options().refresh_tokens {
        let r = tokens.issue_with(
            TokenRequest::new("refresh", &subject)
                .scope(&scope)
                .lifetime(Lifetime::Never),
        );
        body["refresh_token"] = Value::String(r.value);
    }
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body.to_string(),
    )
        .into_response()
}

/// `POST /oauth/token`.
pub(crate) async fn token(State(kw): State<Kw>, headers: HeaderMap, body: Bytes) -> Response {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !ct
        .to_ascii_lowercase()
        .starts_with("application/x-www-form-urlencoded")
    {
        return oauth_error("invalid_request", "the token request must be form-encoded");
    }
    let form = form_to_map(&body);
    let get = |k: &str| form.get(k).and_then(Value::as_str).map(str::to_owned);
    let opts = kw.options();
    if get("client_id").as_deref() != Some(opts.client_id.as_str())
        || get("client_secret").as_deref() != Some(opts.client_secret.as_str())
    {
        return oauth_error("invalid_client", "Client authentication failed");
    }
    let enabled = |f: Flow| opts.flows.contains(&f);
    let scope = get("scope").filter(|s| !s.trim().is_empty());
    match get("grant_type").as_deref() {
        Some("authorization_code") => {
            let Some(code) = get("code") else {
                return oauth_error("invalid_request", "code is required");
            };
            if code.contains("|@@|") {
                if !enabled(Flow::Signature) {
                    return oauth_error("unauthorized_client", "signature flow not enabled");
                }
                if get("redirect_uri").is_none() {
                    return oauth_error("invalid_request", "redirect_uri is required");
                }
                match check_signature(&kw, &code) {
                    Ok(()) => issue(&kw, scope, true),
                    Err(why) => oauth_error("invalid_grant", why),
                }
            } else {
                if !enabled(Flow::AuthorizationCode) {
                    return oauth_error(
                        "unauthorized_client",
                        "authorization code flow not enabled",
                    );
                }
                let pending = kw.oauth().codes.remove(&code);
                let Some(p) = pending else {
                    return oauth_error("invalid_grant", "Invalid authorization code");
                };
                if kw.ctx().clock().elapsed() >= p.expires {
                    return oauth_error("invalid_grant", "Authorization code expired");
                }
                if get("redirect_uri").as_deref() != Some(p.redirect_uri.as_str()) {
                    return oauth_error("invalid_grant", "redirect_uri does not match");
                }
                if let Some(challenge) = &p.challenge {
                    let Some(verifier) = get("code_verifier") else {
                        return oauth_error("invalid_grant", "code_verifier is required");
                    };
                    let digest = ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes());
                    if URL_SAFE_NO_PAD.encode(digest.as_ref()) != *challenge {
                        return oauth_error("invalid_grant", "code_verifier does not match");
                    }
                }
                issue(&kw, scope.or(p.scope), true)
            }
        }
        Some("refresh_token") => {
            if !enabled(Flow::RefreshToken) {
                return oauth_error("unauthorized_client", "refresh tokens not enabled");
            }
            let value = get("refresh_token").unwrap_or_default();
            match kw.ctx().tokens().consume("refresh", &value) {
                Ok(info) => issue(&kw, scope.or(info.scope), true),
                Err(_) => oauth_error("invalid_grant", "Invalid refresh token"),
            }
        }
        Some("password") => {
            if !enabled(Flow::Password) {
                return oauth_error("unauthorized_client", "user credentials flow not enabled");
            }
            if get("username").is_some_and(|u| u.eq_ignore_ascii_case(&opts.user_email))
                && get("password").as_deref() == Some(opts.password.as_str())
            {
                issue(&kw, scope, true)
            } else {
                oauth_error("invalid_grant", "Invalid username or password")
            }
        }
        Some("urn:ietf:params:oauth:grant-type:jwt-bearer") => {
            if !enabled(Flow::Jwt) {
                return oauth_error("unauthorized_client", "JWT flow not enabled");
            }
            match check_jwt(&kw, &get("assertion").unwrap_or_default()) {
                // Whether the JWT flow issues refresh tokens is unknown: it does not here.
                Ok(()) => issue(&kw, scope, false),
                Err(why) => oauth_error("invalid_grant", &why),
            }
        }
        _ => oauth_error("invalid_request", "unsupported grant_type"),
    }
}

/// Verifies a signature-flow code exactly: client, user, window, HMAC-SHA1, no replay.
fn check_signature(kw: &Kw, code: &str) -> Result<(), &'static str> {
    let opts = kw.options();
    let parts: Vec<&str> = code.split("|@@|").collect();
    let [client_b64, user_b64, ts, nonce, sig] = parts[..] else {
        return Err("malformed signature code");
    };
    let decode = |s: &str| {
        STANDARD
            .decode(s)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
    };
    let (Some(client), Some(user)) = (decode(client_b64), decode(user_b64)) else {
        return Err("malformed signature code");
    };
    if client != opts.client_id {
        return Err("the code names another client");
    }
    if !user.eq_ignore_ascii_case(&opts.user_email) {
        return Err("unknown user");
    }
    let Ok(mut stamp) = ts.parse::<u64>() else {
        return Err("malformed timestamp");
    };
    let Ok(n) = nonce.parse::<u32>() else {
        return Err("malformed nonce");
    };
    if !(1..=999_999).contains(&n) {
        return Err("nonce out of range");
    }
    if opts.signature_timestamp_millis {
        stamp /= 1000;
    }
    if unix_now(kw).abs_diff(stamp) > SIGNATURE_WINDOW {
        return Err("the code has expired");
    }
    let base = format!("{client}|@@|{user}|@@|{ts}|@@|{nonce}");
    let key = ring::hmac::Key::new(
        ring::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
        opts.signature_key.as_bytes(),
    );
    let Ok(sig_bytes) = hex::decode(sig) else {
        return Err("malformed signature");
    };
    if sig.chars().any(|c| c.is_ascii_uppercase()) {
        return Err("the signature must be lowercase hex");
    }
    if ring::hmac::verify(&key, base.as_bytes(), &sig_bytes).is_err() {
        return Err("signature mismatch");
    }
    if !kw.oauth().signatures.insert(code.to_owned()) {
        return Err("the code was used already");
    }
    Ok(())
}

/// Verifies a JWT assertion: RS256/RS512 signature with the configured key and the claims.
fn check_jwt(kw: &Kw, assertion: &str) -> Result<(), String> {
    let opts = kw.options();
    let parts: Vec<&str> = assertion.split('.').collect();
    let [h, c, s] = parts[..] else {
        return Err("the assertion is not a JWS compact token".into());
    };
    let decode = |p: &str| -> Result<Value, String> {
        let bytes = URL_SAFE_NO_PAD
            .decode(p)
            .map_err(|_| "the assertion is not base64url".to_owned())?;
        serde_json::from_slice(&bytes).map_err(|_| "the assertion is not JSON".to_owned())
    };
    let header = decode(h)?;
    let claims = decode(c)?;
    let alg: &dyn ring::signature::VerificationAlgorithm = match header["alg"].as_str() {
        Some("RS256") => &ring::signature::RSA_PKCS1_2048_8192_SHA256,
        Some("RS512") => &ring::signature::RSA_PKCS1_2048_8192_SHA512,
        _ => return Err("unsupported alg".into()),
    };
    let sig = URL_SAFE_NO_PAD
        .decode(s)
        .map_err(|_| "the signature is not base64url".to_owned())?;
    ring::signature::UnparsedPublicKey::new(alg, kw.public_key())
        .verify(format!("{h}.{c}").as_bytes(), &sig)
        .map_err(|_| "signature verification failed".to_owned())?;
    let issuer = opts
        .jwt_issuer
        .clone()
        .unwrap_or_else(|| opts.client_id.clone());
    let audience = opts
        .jwt_audience
        .clone()
        .unwrap_or_else(|| kw.ctx().base_url().to_owned());
    if claims["iss"].as_str() != Some(issuer.as_str()) {
        return Err("iss does not match".into());
    }
    let aud_ok = match &claims["aud"] {
        Value::String(a) => *a == audience,
        Value::Array(list) => list.iter().any(|a| a.as_str() == Some(audience.as_str())),
        _ => false,
    };
    if !aud_ok {
        return Err("aud does not match".into());
    }
    if !claims["sub"]
        .as_str()
        .is_some_and(|s| s.eq_ignore_ascii_case(&opts.user_email))
    {
        return Err("unknown sub".into());
    }
    let now = unix_now(kw);
    let num = |k: &str| claims[k].as_u64().ok_or(format!("{k} is missing"));
    let (exp, nbf, iat) = (num("exp")?, num("nbf")?, num("iat")?);
    if exp <= now {
        return Err("the assertion has expired".into());
    }
    if exp > now + JWT_MAX_LIFETIME {
        return Err("exp is too far in the future".into());
    }
    if nbf > now + JWT_SKEW || iat > now + JWT_SKEW {
        return Err("the assertion is not valid yet".into());
    }
    let Some(jti) = claims["jti"].as_str().filter(|j| !j.is_empty()) else {
        return Err("jti is missing".into());
    };
    if !kw.oauth().jtis.insert(jti.to_owned()) {
        return Err("the assertion was used already".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_public_key_parses() {
        let der = public_key_der(super::super::TEST_JWT_PUBLIC_KEY_PEM).unwrap();
        // RSAPublicKey ::= SEQUENCE { modulus, exponent }
        assert_eq!(der[0], 0x30);
        assert!(der.len() > 256);
        assert!(
            public_key_der("-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----").is_err()
        );
    }
}
