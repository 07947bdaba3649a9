//! One HTTP client per provider instance, and the retry loop every request goes through.

use std::borrow::Cow;
use std::fmt;
use std::path::Path;
use std::sync::{Arc, Once};
use std::time::{Duration, SystemTime};

use reqwest::ResponseBuilderExt;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use tokio::time::Instant;
use tracing::Instrument;

use super::body::{answer_error, read_error_body};
use super::redact::{hide_path, redact_url, scrub_text};
use super::retry::{self, Answer, RETRY_STATUSES, Repeat, RetryHook, Sleeper, parse_retry_after};
use super::settings::HttpSettings;
use super::transport::{Phase, transport_error};
use crate::error::{Error, ErrorKind, Result};
use crate::file::{SmallFile, read_small_file};

/// How long one request may take in all.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Deadline {
    /// `request_timeout_secs`.
    Api,
    /// `request_timeout_secs` plus the body's size at `min_upload_kib_per_sec`.
    Upload(u64),
    /// No total limit: the idle read timeout ends a stalled download, a moving one may last.
    Download,
    /// Set by the adapter.
    Fixed(Duration),
}

/// What kind of request is being sent: whether it may be repeated, and which time limit fits.
///
/// ```
/// use securesend_core::http::{Call, Repeat};
/// let list = Call::api(Repeat::Safe);
/// let send = Call::api(Repeat::Never);
/// let chunk = Call::upload(Repeat::Safe, 8 << 20);
/// let file = Call::download(Repeat::Safe);
/// assert_eq!(send.repeat(), Repeat::Never);
/// # let _ = (list, chunk, file);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Call {
    repeat: Repeat,
    deadline: Deadline,
    secret_path: bool,
}

impl Call {
    /// An API call: JSON or form in, JSON out, limited by `request_timeout_secs`.
    pub fn api(repeat: Repeat) -> Call {
        Call {
            repeat,
            deadline: Deadline::Api,
            secret_path: false,
        }
    }

    /// An upload of `bytes` in the request body, limited by `request_timeout_secs` plus the
    /// time `bytes` take at `min_upload_kib_per_sec`.
    pub fn upload(repeat: Repeat, bytes: u64) -> Call {
        Call {
            repeat,
            deadline: Deadline::Upload(bytes),
            secret_path: false,
        }
    }

    /// A download whose body is streamed: no total limit, only the idle read timeout.
    pub fn download(repeat: Repeat) -> Call {
        Call {
            repeat,
            deadline: Deadline::Download,
            secret_path: false,
        }
    }

    /// Replaces the total time limit of each attempt (a token endpoint that must answer fast).
    pub fn with_timeout(mut self, total: Duration) -> Call {
        self.deadline = Deadline::Fixed(total);
        self
    }

    /// Marks the URL's path as secret, for services that put a key in a path segment
    /// (Privasfer revokes a key with `DELETE /api/keys/{key}`): traces and errors then show
    /// the scheme, host and port with `/[redacted]` as the path, never the path itself.
    /// Secret query parameters are redacted as for every call. The answer keeps its real URL,
    /// which the capped body readers name when the body fails mid-way: read such an answer's
    /// body without them, or not at all.
    ///
    /// ```
    /// use securesend_core::http::{Call, Repeat};
    /// let revoke = Call::api(Repeat::Safe).with_secret_path();
    /// assert!(revoke.has_secret_path());
    /// assert!(!Call::api(Repeat::Safe).has_secret_path());
    /// ```
    pub fn with_secret_path(mut self) -> Call {
        self.secret_path = true;
        self
    }

    /// Whether the request may be repeated.
    pub fn repeat(&self) -> Repeat {
        self.repeat
    }

    /// Whether the URL's path is kept out of traces and errors; see [`Call::with_secret_path`].
    pub fn has_secret_path(&self) -> bool {
        self.secret_path
    }
}

/// The HTTP client of one provider instance: rustls with the platform's roots plus
/// `ca_files`, timeouts, proxy, `User-Agent: securesend/<version>`, **no redirects** (a
/// redirect would carry credentials to a host nobody configured; a 3xx answer is returned
/// as is), and retries with backoff for requests that may be repeated.
///
/// Cheap to clone; clones share connections.
///
/// ```no_run
/// use securesend_core::http::{read_json_capped, Call, HttpClient, HttpSettings, Repeat, DEFAULT_JSON_CAP};
/// # async fn demo() -> securesend_core::Result<()> {
/// let http = HttpClient::new("tuyu", &HttpSettings::default(), std::path::Path::new("."))?;
/// let url = url::Url::parse("https://files.example.com/api/status").unwrap();
/// let resp = http.send(Call::api(Repeat::Safe), |c| c.get(url.clone())).await?;
/// let status: serde_json::Value = read_json_capped(resp, DEFAULT_JSON_CAP).await?;
/// # let _ = status; Ok(()) }
/// ```
#[derive(Clone)]
pub struct HttpClient {
    inner: Arc<Inner>,
}

#[derive(Clone)]
struct Inner {
    provider: Cow<'static, str>,
    client: reqwest::Client,
    request_timeout: Duration,
    min_upload_bytes_per_sec: u64,
    max_attempts: u32,
    budget: Duration,
    hook: Option<RetryHook>,
    sleeper: Sleeper,
}

impl fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let i = &self.inner;
        f.debug_struct("HttpClient")
            .field("provider", &i.provider)
            .field("request_timeout", &i.request_timeout)
            .field("max_attempts", &i.max_attempts)
            .field("budget", &i.budget)
            .field("hook", &i.hook)
            .finish_non_exhaustive()
    }
}

/// Installs rustls' ring provider as the process default unless one is installed already
/// (an application may have chosen another; that choice stands).
fn ensure_crypto_provider() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        if rustls::crypto::CryptoProvider::get_default().is_none() {
            // Losing a race with another installer is fine: some provider is then in place.
            let _ = rustls::crypto::ring::default_provider().install_default();
        }
    });
}

impl HttpClient {
    /// A client for `provider` with `settings`; relative `ca_files` are resolved against
    /// `base_dir` (the configuration file's directory).
    ///
    /// Errors are [`ErrorKind::Configuration`] naming the `http.*` key at fault.
    pub fn new(
        provider: impl Into<Cow<'static, str>>,
        settings: &HttpSettings,
        base_dir: &Path,
    ) -> Result<HttpClient> {
        let provider = provider.into();
        ensure_crypto_provider();
        for (key, value) in [
            ("connect_timeout_secs", settings.connect_timeout_secs),
            ("request_timeout_secs", settings.request_timeout_secs),
            ("read_timeout_secs", settings.read_timeout_secs),
            ("min_upload_kib_per_sec", settings.min_upload_kib_per_sec),
            ("max_attempts", u64::from(settings.max_attempts)),
        ] {
            if value == 0 {
                return Err(config(
                    &provider,
                    format!("`http.{key}` must be at least 1"),
                ));
            }
        }
        let mut builder = reqwest::Client::builder()
            .user_agent(user_agent(settings).map_err(|e| e.with_provider(provider.clone()))?)
            .redirect(reqwest::redirect::Policy::none())
            .referer(false)
            // reqwest's own retries stay at their default: HTTP/2 refusals that guarantee the
            // request was not processed (REFUSED_STREAM, graceful GOAWAY), safe even for a
            // `Repeat::Never` step.
            .connect_timeout(settings.connect_timeout())
            .read_timeout(settings.read_timeout())
            // Keeps NAT and firewall state alive during long uploads.
            .tcp_keepalive(Duration::from_secs(30));
        if let Some(proxy) =
            proxy(settings, base_dir).map_err(|e| e.with_provider(provider.clone()))?
        {
            builder = builder.proxy(proxy);
        }
        let roots =
            extra_roots(settings, base_dir).map_err(|e| e.with_provider(provider.clone()))?;
        if !roots.is_empty() {
            builder = builder.tls_certs_merge(roots);
        }
        let client = builder.build().map_err(|e| {
            let e = e.without_url();
            let cause = e.to_string();
            let mut chain = String::new();
            let mut next = std::error::Error::source(&e);
            while let Some(s) = next {
                chain.push_str(": ");
                chain.push_str(&s.to_string());
                next = s.source();
            }
            config(
                &provider,
                format!(
                    "could not set up the HTTP client ({cause}{chain}); if no system CA certificates are installed, list a PEM file in `http.ca_files`"
                ),
            )
        })?;
        Ok(HttpClient {
            inner: Arc::new(Inner {
                provider,
                client,
                request_timeout: settings.request_timeout(),
                min_upload_bytes_per_sec: settings.min_upload_kib_per_sec.saturating_mul(1024),
                max_attempts: settings.max_attempts,
                budget: settings.retry_budget(),
                hook: None,
                sleeper: Sleeper::default(),
            }),
        })
    }

    /// Adds the adapter's rule for answers that mean "try again later"; see [`RetryHook`].
    pub fn with_retry_hook(mut self, hook: RetryHook) -> Self {
        Arc::make_mut(&mut self.inner).hook = Some(hook);
        self
    }

    /// Replaces how the client waits between attempts (see [`Sleeper`]); for tests and
    /// simulators that record waits instead of waiting.
    pub fn with_sleeper(mut self, sleeper: Sleeper) -> Self {
        Arc::make_mut(&mut self.inner).sleeper = sleeper;
        self
    }

    /// The provider key this client works for.
    pub fn provider(&self) -> &str {
        &self.inner.provider
    }

    /// Sends a request, retrying where `call` allows, and returns the final answer for the
    /// adapter to map (adapters own their services' error envelopes).
    ///
    /// `build` makes the request for each attempt, so bodies must be replayable (`Bytes`,
    /// strings, JSON or forms — never a stream read once), and a timestamp or signature
    /// computed inside it is fresh on every attempt.
    ///
    /// A [`Repeat::Safe`] request is tried again after a transport failure (connection
    /// refused or dropped, timeout) and after a 429, 502, 503 or 504 answer (or one the
    /// [`RetryHook`] calls transient), waiting per the answer's `Retry-After` or else an
    /// exponential, jittered backoff. Retries stop after `max_attempts` tries or when the next
    /// wait would take the request past `max_retry_secs`; the last answer or error is then
    /// returned — except that a `Retry-After` longer than the remaining budget gives a
    /// [`ErrorKind::RateLimited`] error carrying that delay. A [`Repeat::Never`] request is
    /// tried exactly once.
    ///
    /// Errors: transport failures only (answers, whatever their status, are `Ok`). A failure
    /// after the request may have reached the service is marked
    /// [`Error::outcome_unknown`]; a failure to connect is not.
    pub async fn send<F>(&self, call: Call, mut build: F) -> Result<reqwest::Response>
    where
        F: FnMut(&reqwest::Client) -> reqwest::RequestBuilder,
    {
        let inner = &*self.inner;
        let max_attempts = match call.repeat {
            Repeat::Safe => inner.max_attempts.max(1),
            Repeat::Never => 1,
        };
        let mut backoff = retry::backoff();
        // Time spent so far: attempts as measured plus waits as requested, so a recording
        // sleeper sees the same budget decisions as a real one.
        let mut spent = Duration::ZERO;
        let mut attempt: u32 = 0;
        loop {
            attempt += 1;
            let mut request = build(&inner.client)
                .build()
                .map_err(|e| self.build_error(e, call.secret_path))?;
            if let Some(limit) = self.deadline(call.deadline, request.body()) {
                *request.timeout_mut() = Some(limit);
            }
            let method = request.method().clone();
            // With a secret path, only the masked URL is ever formatted.
            let url = if call.secret_path {
                hide_path(request.url())
            } else {
                request.url().clone()
            };
            let shown = redact_url(&url);
            let request_bytes = request.body().and_then(|b| b.as_bytes()).map(<[u8]>::len);
            let span = tracing::debug_span!(
                "http_request",
                provider = %inner.provider,
                method = %method,
                url = %shown,
                attempt,
            );
            let started = Instant::now();
            let outcome = inner.client.execute(request).instrument(span.clone()).await;
            let took = started.elapsed();
            spent += took;
            let elapsed_ms = took.as_millis() as u64;

            let wait = match outcome {
                Ok(resp) => {
                    span.in_scope(|| {
                        tracing::debug!(
                            status = resp.status().as_u16(),
                            elapsed_ms,
                            request_bytes,
                            response_bytes = resp.content_length(),
                            "answer"
                        )
                    });
                    let (resp, transient) = self.judge(resp).await;
                    if !transient || attempt >= max_attempts {
                        return Ok(resp);
                    }
                    let asked = parse_retry_after(resp.headers(), SystemTime::now());
                    let wait =
                        asked.unwrap_or_else(|| backoff.next().unwrap_or(retry::MAX_BACKOFF));
                    if spent.saturating_add(wait) > inner.budget {
                        return match asked {
                            Some(asked) => Err(self.over_budget(resp, asked, spent).await),
                            None => Ok(resp),
                        };
                    }
                    span.in_scope(|| {
                        tracing::info!(
                            provider = %inner.provider,
                            status = resp.status().as_u16(),
                            wait_ms = wait.as_millis() as u64,
                            retry_after = asked.is_some(),
                            "service asked to retry; waiting"
                        )
                    });
                    wait
                }
                Err(e) => {
                    let err = transport_error(e, Some(method.as_str()), &url, Phase::Send)
                        .with_provider(inner.provider.clone());
                    span.in_scope(|| tracing::debug!(elapsed_ms, error = %err, "request failed"));
                    if attempt >= max_attempts || !err.is_retryable() {
                        return Err(err);
                    }
                    let wait = backoff.next().unwrap_or(retry::MAX_BACKOFF);
                    if spent.saturating_add(wait) > inner.budget {
                        return Err(err);
                    }
                    span.in_scope(|| {
                        tracing::info!(
                            provider = %inner.provider,
                            wait_ms = wait.as_millis() as u64,
                            error = %err,
                            "retrying after transport failure"
                        )
                    });
                    wait
                }
            };
            inner.sleeper.sleep(wait).await;
            spent += wait;
        }
    }

    /// The total limit of one attempt, if any.
    fn deadline(&self, deadline: Deadline, body: Option<&reqwest::Body>) -> Option<Duration> {
        let inner = &*self.inner;
        match deadline {
            Deadline::Api => Some(inner.request_timeout),
            Deadline::Download => None,
            Deadline::Fixed(d) => Some(d),
            Deadline::Upload(declared) => {
                let bytes = body
                    .and_then(|b| b.as_bytes())
                    .map_or(declared, |b| declared.max(b.len() as u64));
                let secs = bytes.div_ceil(inner.min_upload_bytes_per_sec);
                Some(
                    inner
                        .request_timeout
                        .saturating_add(Duration::from_secs(secs)),
                )
            }
        }
    }

    /// Whether an answer is a transient refusal worth another attempt. Answers the hook
    /// covers are buffered (capped) so it can read the body, then rebuilt for the caller.
    async fn judge(&self, resp: reqwest::Response) -> (reqwest::Response, bool) {
        let status = resp.status();
        let Some(hook) = self.inner.hook.as_ref().filter(|h| h.covers(status)) else {
            return (resp, RETRY_STATUSES.contains(&status.as_u16()));
        };
        let version = resp.version();
        let headers = resp.headers().clone();
        let url = resp.url().clone();
        let body = read_error_body(resp).await;
        let transient = hook.decide(&Answer {
            status,
            headers: &headers,
            body: &body,
        });
        let mut rebuilt = http::Response::builder()
            .status(status)
            .version(version)
            .url(url)
            .body(body)
            .expect("status and version come from a valid response");
        *rebuilt.headers_mut() = headers;
        (reqwest::Response::from(rebuilt), transient)
    }

    /// The error for a service that asked to wait longer than the retry budget has left.
    async fn over_budget(
        &self,
        resp: reqwest::Response,
        asked: Duration,
        spent: Duration,
    ) -> Error {
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = read_error_body(resp).await;
        let budget = self.inner.budget;
        let base = answer_error(status, &headers, &body);
        let message = format!(
            "the service asked to wait {}s before trying again, longer than the {}s left of the retry budget (`http.max_retry_secs` = {})",
            asked.as_secs_f64().ceil() as u64,
            budget.saturating_sub(spent).as_secs(),
            budget.as_secs()
        );
        let mut e = Error::new(ErrorKind::RateLimited, message)
            .with_provider(self.inner.provider.clone())
            .with_status(status.as_u16())
            .with_retry_after(asked);
        if base.service_code().is_some() || base.service_message().is_some() {
            e = e.with_service_error(base.service_code(), base.service_message());
        }
        e
    }

    fn build_error(&self, e: reqwest::Error, secret_path: bool) -> Error {
        let url = e.url().cloned();
        let text = match &url {
            Some(u) if secret_path => {
                scrub_text(&cause_text(&e), u).replace(u.path(), "/[redacted]")
            }
            Some(u) => scrub_text(&cause_text(&e), u),
            None => cause_text(&e),
        };
        let shown = match &url {
            Some(u) if secret_path => redact_url(&hide_path(u)),
            Some(u) => redact_url(u),
            None => String::new(),
        };
        Error::invalid_input(format!("could not build the request {shown}: {text}"))
            .with_provider(self.inner.provider.clone())
            .with_source(e.without_url())
    }
}

fn cause_text(e: &reqwest::Error) -> String {
    let mut out = String::new();
    let mut next = std::error::Error::source(e);
    while let Some(s) = next {
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&s.to_string());
        next = s.source();
    }
    if out.is_empty() {
        "invalid request".to_owned()
    } else {
        out
    }
}

fn config(provider: &str, message: String) -> Error {
    Error::config(message).with_provider(provider.to_owned())
}

fn user_agent(settings: &HttpSettings) -> Result<String> {
    let base = format!("securesend/{}", crate::VERSION);
    let Some(suffix) = settings.user_agent_suffix.as_deref().map(str::trim) else {
        return Ok(base);
    };
    let ok = !suffix.is_empty()
        && suffix.len() <= 200
        && suffix.bytes().all(|b| b == b' ' || b.is_ascii_graphic());
    if !ok {
        return Err(Error::config(
            "`http.user_agent_suffix` must be 1–200 printable ASCII characters, such as \"acme-portal/2.1\"",
        ));
    }
    Ok(format!("{base} {suffix}"))
}

fn proxy(settings: &HttpSettings, base_dir: &Path) -> Result<Option<reqwest::Proxy>> {
    let Some(raw) = settings.proxy.as_deref() else {
        if settings.proxy_username.is_some() || settings.proxy_password.is_some() {
            return Err(Error::config(
                "`http.proxy_username`/`http.proxy_password` are set but `http.proxy` is not",
            ));
        }
        return Ok(None);
    };
    let url = url::Url::parse(raw.trim()).map_err(|e| {
        Error::config(format!(
            "`http.proxy` is not a valid URL ({e}); write it as http://host:port"
        ))
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(Error::config(
            "`http.proxy` must be an http:// or https:// URL with a host, such as http://proxy.example:3128",
        ));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Error::config(
            "`http.proxy` contains credentials; put them in `http.proxy_username` and `http.proxy_password`",
        ));
    }
    let mut proxy = reqwest::Proxy::all(url.as_str())
        .map_err(|e| Error::config(format!("`http.proxy` is not usable: {}", e.without_url())))?;
    match (&settings.proxy_username, &settings.proxy_password) {
        (Some(user), Some(password)) => {
            let password = password.resolve("http.proxy_password", base_dir)?;
            proxy = proxy.basic_auth(user, password.expose());
        }
        (None, None) => {}
        _ => {
            return Err(Error::config(
                "set both `http.proxy_username` and `http.proxy_password`, or neither",
            ));
        }
    }
    Ok(Some(proxy))
}

/// The certificates of `ca_files`, each checked to be a usable trust anchor so a bad file is
/// reported here, by name, and not as a mysterious handshake failure later.
fn extra_roots(settings: &HttpSettings, base_dir: &Path) -> Result<Vec<reqwest::Certificate>> {
    let mut out = Vec::new();
    for path in &settings.ca_files {
        let full = if path.is_absolute() {
            path.clone()
        } else {
            base_dir.join(path)
        };
        let shown = full.display();
        // Bounded: a FIFO, a device or a huge file listed by mistake is refused with one line,
        // never read into memory or waited on.
        let bytes = read_small_file(&full, SmallFile::CA_FILE)
            .map_err(|e| Error::config(format!("`http.ca_files`: {}", e.message())))?;
        let certs = CertificateDer::pem_slice_iter(&bytes)
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| {
                Error::config(format!(
                    "`http.ca_files`: {shown} is not a valid PEM file ({e})"
                ))
            })?;
        if certs.is_empty() {
            return Err(Error::config(format!(
                "`http.ca_files`: {shown} holds no PEM certificate (a \"-----BEGIN CERTIFICATE-----\" block)"
            )));
        }
        for (n, cert) in certs.into_iter().enumerate() {
            let mut probe = rustls::RootCertStore::empty();
            probe.add(cert.clone()).map_err(|e| {
                Error::config(format!(
                    "`http.ca_files`: certificate {} in {shown} is not usable as a root ({e})",
                    n + 1
                ))
            })?;
            let cert = reqwest::Certificate::from_der(cert.as_ref()).map_err(|e| {
                Error::config(format!(
                    "`http.ca_files`: certificate {} in {shown} is not usable ({})",
                    n + 1,
                    e.without_url()
                ))
            })?;
            out.push(cert);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_of_call_gets_its_time_limit() {
        let s = HttpSettings {
            request_timeout_secs: 30,
            min_upload_kib_per_sec: 10,
            ..HttpSettings::default()
        };
        let http = HttpClient::new("test", &s, Path::new(".")).unwrap();
        let secs = Duration::from_secs;
        assert_eq!(
            http.deadline(Call::api(Repeat::Safe).deadline, None),
            Some(secs(30))
        );
        assert_eq!(
            http.deadline(Call::download(Repeat::Safe).deadline, None),
            None
        );
        // 1 MiB at 10 KiB/s: 103 s (rounded up) on top of the request timeout.
        let upload = Call::upload(Repeat::Safe, 1 << 20).deadline;
        assert_eq!(http.deadline(upload, None), Some(secs(30 + 103)));
        // The body, when larger than declared, is what counts.
        let body = reqwest::Body::from(vec![0u8; 2 << 20]);
        assert_eq!(http.deadline(upload, Some(&body)), Some(secs(30 + 205)));
        let fixed = Call::api(Repeat::Never).with_timeout(secs(5)).deadline;
        assert_eq!(http.deadline(fixed, None), Some(secs(5)));
    }
}
