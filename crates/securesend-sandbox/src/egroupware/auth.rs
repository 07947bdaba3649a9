//! HTTP Basic with a password or an application password, and the run rights a session has.

use axum::response::Response;
use base64::Engine;
use http::HeaderMap;

use super::reply::{early_401, refused_401};
use super::state::{Account, State};

/// An authenticated request.
pub(crate) struct Session<'a> {
    pub account: &'a Account,
    /// Authenticated with an application password.
    pub token: bool,
    /// The apps the session may use: the account's run rights, cut to the token's limits.
    pub apps: Vec<&'static str>,
}

impl Session<'_> {
    pub fn can(&self, app: &str) -> bool {
        self.apps.contains(&app)
    }

    /// Whether the session knows the user's password (it does not when started with an
    /// application password and the installation keeps it that way).
    pub fn has_password(&self, state: &State) -> bool {
        !(self.token && state.control.token_session())
    }
}

/// `user:password` from `Basic <base64>`.
fn basic(value: &str) -> Option<(String, String)> {
    let encoded = value.trim().strip_prefix("Basic ")?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

/// `token<id>_<16 [0-9A-Za-z]>` → (id, secret).
fn token_parts(password: &str) -> Option<(u32, &str)> {
    let (id, secret) = password.strip_prefix("token")?.split_once('_')?;
    let ok = !id.is_empty()
        && id.bytes().all(|b| b.is_ascii_digit())
        && secret.len() == 16
        && secret.bytes().all(|b| b.is_ascii_alphanumeric());
    ok.then(|| id.parse().ok().map(|id| (id, secret)))?
}

/// Authenticates a request: Basic from the `Authorization` header, else `auth` (WebDAV's
/// `?auth=<base64(user:pass)>`). `app` is the run right the endpoint needs.
pub(crate) fn authenticate<'a>(
    state: &'a State,
    headers: &HeaderMap,
    query_auth: Option<&str>,
    realm: &str,
    app: &'static str,
) -> Result<Session<'a>, Response> {
    let from_header = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(basic);
    let from_query = || {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(query_auth?)
            .ok()?;
        let text = String::from_utf8(decoded).ok()?;
        let (u, p) = text.split_once(':')?;
        Some((u.to_owned(), p.to_owned()))
    };
    let Some((user, password)) = from_header.or_else(from_query) else {
        return Err(early_401(realm));
    };
    if user.is_empty() || password.is_empty() {
        return Err(early_401(realm));
    }
    let Some(account) = state.account(&user) else {
        return Err(refused_401(realm, None));
    };
    let session = if password == account.password {
        Session {
            account,
            token: false,
            apps: account.apps.clone(),
        }
    } else {
        let now = state.ctx.clock().now();
        let valid = token_parts(&password).and_then(|(id, secret)| {
            let t = state.app_password(id)?;
            let usable = t.secret == secret
                && !t.revoked
                && t.valid_until.is_none_or(|until| until > now)
                && (t.owner == account.account_id || t.owner == 0);
            usable.then_some(t)
        });
        let Some(token) = valid else {
            return Err(refused_401(realm, None));
        };
        let apps = match &token.limits {
            Some(limits) => account
                .apps
                .iter()
                .copied()
                .filter(|a| limits.contains(a))
                .collect(),
            None => account.apps.clone(),
        };
        Session {
            account,
            token: true,
            apps,
        }
    };
    if !session.can(app) {
        return Err(refused_401(
            realm,
            Some(&format!("No permission to use the {app} application")),
        ));
    }
    Ok(session)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_shape() {
        assert_eq!(
            token_parts("token12_abcdefghijklmnop"),
            Some((12, "abcdefghijklmnop"))
        );
        assert_eq!(token_parts("token12_abcdefghijklmno"), None);
        assert_eq!(token_parts("token_abcdefghijklmnop"), None);
        assert_eq!(token_parts("password"), None);
    }

    #[test]
    fn basic_header() {
        assert_eq!(
            basic("Basic cmFsZjpzM2NyM3Q6eA=="),
            Some(("ralf".into(), "s3cr3t:x".into()))
        );
        assert_eq!(basic("Bearer abc"), None);
    }
}
