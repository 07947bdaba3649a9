//! HTTP Basic authentication with a password or an application password, and what a 401 says.
//!
//! EGroupware answers 401 in two forms: an early one when a request carried no usable
//! credentials (text body "Unauthorized, you need to authenticate first!"), and one for
//! credentials it refused (a small HTML body; the realm may end in `: <reason>`, for example
//! when the account lacks the rights the request needs).

use std::fmt;

use http::HeaderMap;
use securesend_core::{Error, ErrorKind, Result, Secret, clean_service_text};

/// The start of the realm of EGroupware's DAV and REST endpoints.
pub(crate) const GROUPDAV_REALM: &str = "EGroupware CalDAV/CardDAV/GroupDAV server";

/// The body of the early 401 (no credentials reached the application).
const EARLY_401_BODY: &str = "Unauthorized, you need to authenticate first";

/// How the account authenticates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CredentialKind {
    /// The account password.
    Password,
    /// An application password (`token<id>_<16 chars>`); sessions started with one have no
    /// user password, so EGroupware skips the Sent-folder copy and says so in a warning.
    AppPassword,
}

/// A login and its secret.
#[derive(Clone)]
pub(crate) struct Credentials {
    pub(crate) username: String,
    secret: Secret,
    pub(crate) kind: CredentialKind,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

impl Credentials {
    /// Credentials for `username`. An application password must have EGroupware's format, so
    /// a truncated or mistyped one is caught here (the error never shows the value).
    pub(crate) fn new(
        username: String,
        secret: Secret,
        kind: CredentialKind,
        field: &str,
    ) -> Result<Credentials> {
        if kind == CredentialKind::AppPassword && !is_app_password(secret.expose()) {
            return Err(Error::config(format!(
                "`{field}` is not an EGroupware application password (token<id>_ followed by 16 letters or digits); copy it again, or put an ordinary password in `password`"
            )));
        }
        Ok(Credentials {
            username,
            secret,
            kind,
        })
    }

    /// Adds the `Authorization` header (reqwest marks it sensitive).
    pub(crate) fn apply(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        request.basic_auth(&self.username, Some(self.secret.expose()))
    }
}

/// Whether `value` has the shape of an application password: `token<digits>_<16 [0-9A-Za-z]>`.
pub(crate) fn is_app_password(value: &str) -> bool {
    let Some(rest) = value.strip_prefix("token") else {
        return false;
    };
    let Some((id, secret)) = rest.split_once('_') else {
        return false;
    };
    !id.is_empty()
        && id.bytes().all(|b| b.is_ascii_digit())
        && secret.len() == 16
        && secret.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// The reason EGroupware appended to the realm of a 401 (`realm="…: <reason>"`), if any.
fn realm_reason(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(http::header::WWW_AUTHENTICATE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| {
            let start = v.find("realm=\"")? + "realm=\"".len();
            let realm = &v[start..];
            let realm = &realm[..realm.find('"').unwrap_or(realm.len())];
            let reason = realm.split_once(": ").map(|(_, r)| r.trim())?;
            (!reason.is_empty()).then(|| clean_service_text(reason))
        })
}

/// The error for a 401 answer.
pub(crate) fn unauthorized(headers: &HeaderMap, body: &[u8]) -> Error {
    let text = String::from_utf8_lossy(body);
    let e = if text.trim_start().starts_with(EARLY_401_BODY) {
        Error::new(
            ErrorKind::Unauthenticated,
            "EGroupware received no credentials; if it runs behind Apache with FastCGI, the server must forward the Authorization header (see the rewrite rule in groupdav.php)",
        )
    } else {
        Error::new(
            ErrorKind::Unauthenticated,
            "EGroupware refused the user name and password (or application password): check them, and that an application password is not revoked or expired and belongs to this user",
        )
    };
    let e = e.with_status(401);
    match realm_reason(headers) {
        Some(reason) => e.with_service_error(None::<&str>, Some(reason)),
        None => e,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn app_password_shape() {
        assert!(is_app_password("token12_abcdefghijklmnop"));
        assert!(is_app_password("token1_ABCDEFGHIJ012345"));
        for bad in [
            "token_abcdefghijklmnop",
            "tokenx_abcdefghijklmnop",
            "token12_abcdefghijklmno",
            "token12_abcdefghijklmnopq",
            "token12_abcdefghijklmn-p",
            "Token12_abcdefghijklmnop",
            "token12abcdefghijklmnop",
            " token12_abcdefghijklmnop",
        ] {
            assert!(!is_app_password(bad), "{bad}");
        }
        let e = Credentials::new(
            "ralf".into(),
            Secret::new("canary-not-a-token"),
            CredentialKind::AppPassword,
            "profiles.x.app_password",
        )
        .unwrap_err();
        assert!(
            e.is_configuration() && !e.to_string().contains("canary"),
            "{e}"
        );
    }

    #[test]
    fn both_401_forms() {
        let mut h = HeaderMap::new();
        h.insert(
            http::header::WWW_AUTHENTICATE,
            format!("Basic realm=\"{GROUPDAV_REALM}\"").parse().unwrap(),
        );
        let early = unauthorized(&h, b"Unauthorized, you need to authenticate first!");
        assert!(early.is_unauthenticated());
        assert!(
            early.to_string().contains("Authorization header"),
            "{early}"
        );
        assert!(early.service_message().is_none());

        h.insert(
            http::header::WWW_AUTHENTICATE,
            format!("Basic realm=\"{GROUPDAV_REALM}: No permission for groupdav\"")
                .parse()
                .unwrap(),
        );
        let refused = unauthorized(&h, b"<html><body>Authorization failed.</body></html>");
        assert!(refused.is_unauthenticated());
        assert!(refused.to_string().contains("refused"), "{refused}");
        assert_eq!(
            refused.service_message(),
            Some("No permission for groupdav")
        );
    }

    #[test]
    fn debug_hides_the_secret() {
        let c = Credentials::new(
            "ralf".into(),
            Secret::new("canary-pw"),
            CredentialKind::Password,
            "password",
        )
        .unwrap();
        assert!(!format!("{c:?}").contains("canary"));
    }
}
