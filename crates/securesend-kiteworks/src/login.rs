//! `securesend login`: the authorization-code flow with PKCE on a loopback redirect, or, for
//! the grants that need no browser, a fresh sign-in.
//!
//! The browser is sent to `/oauth/authorize` with a random `state` and an S256
//! `code_challenge`; the service redirects it to `redirect_uri` on this machine, where a
//! one-request HTTP listener takes the `code`, checks the `state`, and shows a short page. The
//! code and the verifier go to `/oauth/token`; the token (and its refresh token) is kept on disk.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::Rng;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use url::Url;

use securesend_core::http::Token;
use securesend_core::{Error, ErrorKind, LoginPrompt, Result, Secret, clean_service_text};

use crate::auth::pkce_pair;
use crate::config::Grant;
use crate::{Inner, PROVIDER};

/// The longest request head the listener reads.
const MAX_HEAD: usize = 16 << 10;

fn fail(kind: ErrorKind, message: impl Into<String>) -> Error {
    Error::new(kind, message.into())
        .with_provider(PROVIDER)
        .with_operation("login")
}

/// What came back on the redirect.
enum Callback {
    Code(Secret),
    Refused(String),
    Other,
}

fn parse_callback(target: &str, path: &str, state: &str) -> Callback {
    let Ok(url) = Url::parse(&format!("http://localhost{target}")) else {
        return Callback::Other;
    };
    if url.path() != path {
        return Callback::Other;
    }
    let mut code = None;
    let mut refused = None;
    let mut got_state = None;
    for (k, v) in url.query_pairs() {
        match &*k {
            "code" => code = Some(v.into_owned()),
            "error" => refused = Some(v.into_owned()),
            "state" => got_state = Some(v.into_owned()),
            _ => {}
        }
    }
    // A redirect without our state is not the answer to our request.
    if got_state.as_deref() != Some(state) {
        return Callback::Other;
    }
    match (code, refused) {
        (_, Some(e)) => Callback::Refused(clean_service_text(&e)),
        (Some(c), None) if !c.is_empty() => Callback::Code(Secret::new(c)),
        _ => Callback::Other,
    }
}

async fn answer(stream: &mut tokio::net::TcpStream, status: &str, text: &str) {
    let body = format!("<!doctype html><meta charset=utf-8><title>securesend</title><p>{text}</p>");
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\nCache-Control: no-store\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes()).await;
    let _ = stream.write_all(body.as_bytes()).await;
    let _ = stream.shutdown().await;
}

/// Reads a request head and returns its target (`/path?query`).
async fn read_target(stream: &mut tokio::net::TcpStream) -> Option<String> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut chunk))
            .await
            .ok()?
            .ok()?;
        if n == 0 || buf.len() + n > MAX_HEAD {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let line = std::str::from_utf8(&buf).ok()?.lines().next()?;
    let mut parts = line.split(' ');
    (parts.next()? == "GET").then_some(())?;
    parts.next().map(str::to_owned)
}

impl Inner {
    pub(crate) async fn login(&self, prompt: &dyn LoginPrompt) -> Result<String> {
        if self.settings.grant == Grant::AuthorizationCode {
            let token = self.authorization_code(prompt).await?;
            self.api.tokens.replace(token).await;
            self.signed_in_as().await
        } else {
            // Nothing to show: sign in now so a mistake in the credentials shows up here.
            self.sign_in_fresh().await
        }
    }

    /// Signs in with the configured credentials now, not with a kept token (which may come
    /// from other credentials, or from before a password changed), puts the new token in the
    /// cache and on disk, and says who the service took us for. `doctor` and `login` use it.
    pub(crate) async fn sign_in_fresh(&self) -> Result<String> {
        let current = self.api.tokens.peek();
        let token = self.oauth.fresh(current.as_deref()).await?;
        self.api.tokens.replace(token).await;
        self.signed_in_as().await
    }

    async fn signed_in_as(&self) -> Result<String> {
        let me = self.api.me().await?;
        // The service's words go to a terminal: control characters are taken out.
        Ok(format!(
            "signed in as {} (grant {})",
            clean_service_text(me.email.as_deref().or(me.name.as_deref()).unwrap_or(&me.id)),
            self.settings.grant.as_str()
        ))
    }

    async fn authorization_code(&self, prompt: &dyn LoginPrompt) -> Result<Token> {
        let s = &self.settings;
        let mut redirect = s.redirect_uri.clone();
        let host = redirect.host_str().unwrap_or("127.0.0.1").to_owned();
        let port = redirect.port().unwrap_or(80);
        let listener = TcpListener::bind((host.trim_matches(['[', ']']), port))
            .await
            .map_err(|e| {
                fail(
                    ErrorKind::Configuration,
                    format!("cannot listen on {redirect} for the sign-in answer: {e}; choose another port in `redirect_uri`"),
                )
            })?;
        if port == 0 {
            let actual = listener
                .local_addr()
                .map_err(|e| Error::io("reading the listener's port", e))?
                .port();
            let _ = redirect.set_port(Some(actual));
        }
        let mut state_bytes = [0u8; 24];
        rand::rng().fill(&mut state_bytes);
        let state = URL_SAFE_NO_PAD.encode(state_bytes);
        let (verifier, challenge) = pkce_pair();
        let mut authorize = s.base.clone();
        if let Ok(mut segs) = authorize.path_segments_mut() {
            segs.pop_if_empty().push("oauth").push("authorize");
        }
        {
            let mut q = authorize.query_pairs_mut();
            q.append_pair("client_id", &s.client_id)
                .append_pair("redirect_uri", redirect.as_str())
                .append_pair("response_type", "code")
                .append_pair("state", &state)
                .append_pair("code_challenge", &challenge)
                .append_pair("code_challenge_method", "S256");
            if let Some(scope) = &s.scope {
                q.append_pair("scope", scope);
            }
        }
        prompt.open_url(authorize.as_str());
        let path = redirect.path().to_owned();
        let code = tokio::time::timeout(s.login_timeout, async {
            loop {
                let (mut stream, _) = listener
                    .accept()
                    .await
                    .map_err(|e| Error::io("waiting for the sign-in answer", e))?;
                let Some(target) = read_target(&mut stream).await else {
                    answer(&mut stream, "400 Bad Request", "Not a sign-in answer.").await;
                    continue;
                };
                match parse_callback(&target, &path, &state) {
                    Callback::Code(code) => {
                        answer(
                            &mut stream,
                            "200 OK",
                            "Signed in. You can close this window and return to securesend.",
                        )
                        .await;
                        return Ok(code);
                    }
                    Callback::Refused(why) => {
                        answer(
                            &mut stream,
                            "200 OK",
                            "Sign-in was refused. You can close this window.",
                        )
                        .await;
                        return Err(fail(
                            ErrorKind::PermissionDenied,
                            format!("the service refused the sign-in ({why})"),
                        ));
                    }
                    Callback::Other => {
                        answer(&mut stream, "404 Not Found", "Not a sign-in answer.").await;
                    }
                }
            }
        })
        .await
        .map_err(|_| {
            fail(
                ErrorKind::Timeout,
                format!(
                    "no sign-in answer within {}s; run the login again",
                    s.login_timeout.as_secs()
                ),
            )
        })??;
        self.oauth
            .exchange_code(&code, redirect.as_str(), &verifier)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn callback_needs_our_path_and_state() {
        let ok = parse_callback("/cb?code=abc&state=s1", "/cb", "s1");
        assert!(matches!(ok, Callback::Code(c) if c.expose() == "abc"));
        assert!(matches!(
            parse_callback("/cb?code=abc&state=s2", "/cb", "s1"),
            Callback::Other
        ));
        assert!(matches!(
            parse_callback("/x?code=abc&state=s1", "/cb", "s1"),
            Callback::Other
        ));
        assert!(matches!(
            parse_callback("/cb?error=access_denied&state=s1", "/cb", "s1"),
            Callback::Refused(e) if e == "access_denied"
        ));
    }
}
