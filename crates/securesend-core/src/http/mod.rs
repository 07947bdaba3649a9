//! HTTP plumbing shared by the adapters.
//!
//! | need | item |
//! |---|---|
//! | a configured client per provider instance | [`HttpClient`], [`HttpSettings`] |
//! | sending with retries where safe | [`HttpClient::send`], [`Call`], [`Repeat`], [`RetryHook`] |
//! | reading answers with a size cap | [`read_json_capped`], [`read_bytes_capped`], [`read_error_body`] |
//! | mapping an error answer | [`status_error`], [`ensure_success`], [`parse_retry_after`] |
//! | tokens | [`TokenCache`], [`TokenSource`], [`Token`] |
//! | logging URLs | [`redact_url`] |
//!
//! Rules every adapter gets for free: TLS verification against the system's roots (plus
//! `ca_files`), no redirects followed, no URL with its query string in an error or a log line,
//! no header or body logged. Each attempt is traced as an `http_request` span (provider,
//! method, redacted URL, attempt) with an event carrying status, bytes and elapsed time; the
//! adapter wraps its operations in spans of its own.
//!
//! An adapter's typical flow:
//!
//! ```no_run
//! use securesend_core::http::{
//!     read_json_capped, status_error, read_error_body, Call, HttpClient, HttpSettings, Repeat,
//!     TokenCache, DEFAULT_JSON_CAP,
//! };
//! # struct Login;
//! # #[securesend_core::async_trait]
//! # impl securesend_core::http::TokenSource for Login {
//! #     async fn fetch(&self, _: Option<&securesend_core::http::Token>) -> securesend_core::Result<securesend_core::http::Token> { unimplemented!() }
//! # }
//! # async fn demo(settings: HttpSettings) -> securesend_core::Result<()> {
//! let http = HttpClient::new("kiteworks", &settings, std::path::Path::new("."))?;
//! let tokens = TokenCache::new(Login);
//! let url = url::Url::parse("https://kw.example.com/rest/folders/top").unwrap();
//!
//! let folders: serde_json::Value = tokens
//!     .run(|token| {
//!         let (http, url) = (http.clone(), url.clone());
//!         async move {
//!             let resp = http
//!                 .send(Call::api(Repeat::Safe), |c| {
//!                     c.get(url.clone()).bearer_auth(token.access().expose())
//!                 })
//!                 .await?;
//!             if !resp.status().is_success() {
//!                 let (status, headers) = (resp.status(), resp.headers().clone());
//!                 let body = read_error_body(resp).await;
//!                 // A 401 becomes Unauthenticated: `run` then refreshes and tries once more.
//!                 return Err(status_error("kiteworks", "list folders", status, &headers, &body));
//!             }
//!             read_json_capped(resp, DEFAULT_JSON_CAP).await
//!         }
//!     })
//!     .await?;
//! # let _ = folders; Ok(()) }
//! ```

mod body;
mod client;
mod redact;
mod retry;
mod settings;
mod token;
mod transport;

#[cfg(test)]
mod tests;

pub use body::{
    DEFAULT_JSON_CAP, ERROR_BODY_CAP, ensure_success, parse_json, read_bytes_capped,
    read_error_body, read_json_capped, status_error,
};
pub use client::{Call, HttpClient};
pub use redact::{REDACTED, is_secret_param, redact_url};
pub use retry::{
    Answer, BASE_BACKOFF, MAX_BACKOFF, RETRY_STATUSES, Repeat, RetryHook, SleepFuture, Sleeper,
    parse_retry_after,
};
pub use settings::HttpSettings;
pub use token::{DEFAULT_REFRESH_MARGIN, Token, TokenCache, TokenSource};
