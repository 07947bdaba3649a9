//! One method per Tuyu call, each signed fresh per attempt, with the service's envelope read
//! whatever the HTTP status.
//!
//! Repetition: reads (`file_list`, `users_location_access`, `file_download`), `file_delete`,
//! `send_files_prep` and `user_auth` may be repeated after a transport failure or a
//! 429/502/503/504 (core's retry loop). `file_upload` streams the file, which cannot be replayed,
//! so it is sent once (`Repeat::Never`); so are `create_folder`, `create_file_link` and
//! `file_send`, which create something each time. The one exception is an `Authentication
//! Failed` answer: the service refused the request, so nothing was done, and the adapter tries
//! once more after correcting its clock from the answer's `Date` or renewing the `act_as` auth
//! code; an upload is then read afresh from its source.

use std::future::Future;
use std::io;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use bytes::Bytes;
use futures::{Stream, TryStreamExt};
use http::HeaderMap;
use reqwest::multipart::{Form, Part};
use serde_json::Value;
use tokio_util::io::ReaderStream;
use url::Url;

use securesend_core::checksum::{Checksums, DigestSet, Hasher};
use securesend_core::http::{
    Call, DEFAULT_JSON_CAP, ERROR_BODY_CAP, HttpClient, Repeat, Token, TokenCache, TokenSource,
    read_bytes_capped, status_error,
};
use securesend_core::{CheckedFile, Error, ErrorKind, FileProgress, Progress, Result, Secret};

use crate::PROVIDER;
use crate::api::{self, Answer, CreatedFolder, FileInfo, FileLink, FileList, LocationUser};
use crate::auth::{Encoding, Signer, Stamp, TimeSource, describe_secs, server_date};
use crate::config::{Format, Resolved};
use crate::error::service_error;

/// Bytes read from a file per chunk of the upload body.
const READ_CHUNK: usize = 256 * 1024;
/// Cap on the user list of one location.
const USERS_CAP: usize = 16 << 20;

/// A refused request: the error, and the service's `Date`, which tells whether the clocks
/// disagree.
pub(crate) struct Refusal {
    error: Error,
    date: Option<SystemTime>,
}

impl From<Error> for Refusal {
    fn from(error: Error) -> Self {
        Refusal { error, date: None }
    }
}

/// What every call needs: the HTTP client, where to send, how to sign, what time it is.
pub(crate) struct Core {
    http: HttpClient,
    base: Url,
    signer: Signer,
    format: Format,
    sign_suffix: bool,
    encoding: Encoding,
    upload_path_encoded: bool,
    time: TimeSource,
}

/// Whom requests act for.
enum Auth {
    /// The API key's own account.
    Account,
    /// A configured auth code.
    Code(Secret),
    /// An auth code from `user_auth`, renewed when refused.
    User(TokenCache),
}

/// The Tuyu API client.
pub(crate) struct TuyuClient {
    core: Arc<Core>,
    auth: Auth,
}

impl std::fmt::Debug for TuyuClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let auth = match &self.auth {
            Auth::Account => "account",
            Auth::Code(_) => "auth_code",
            Auth::User(_) => "act_as",
        };
        f.debug_struct("TuyuClient")
            .field("base", &self.core.base.as_str())
            .field("signer", &self.core.signer)
            .field("format", &self.core.format)
            .field("time", &self.core.time)
            .field("auth", &auth)
            .finish()
    }
}

struct UserAuth {
    core: Arc<Core>,
    username: String,
    password_sha1: Secret,
}

#[async_trait::async_trait]
impl TokenSource for UserAuth {
    async fn fetch(&self, _current: Option<&Token>) -> Result<Token> {
        self.core
            .user_auth(&self.username, &self.password_sha1)
            .await
            .map(Token::new)
    }
}

/// One upload: where, what, and the options `file_upload` takes.
pub(crate) struct UploadSpec<'a> {
    pub path: &'a str,
    pub file: &'a CheckedFile,
    pub overwrite: bool,
    pub comment: Option<&'a str>,
    pub file_id_tag: Option<&'a str>,
    pub progress: Option<&'a Progress>,
    pub index: usize,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Core {
    /// The URL to call and the path that is signed for `method`.
    fn paths(&self, method: &str) -> (Url, String) {
        let suffix = self.format.suffix();
        let url = self
            .base
            .join(&format!("api/{method}{suffix}"))
            .expect("a method name is a valid relative URL");
        let signed = if self.sign_suffix {
            format!("api/{method}{suffix}")
        } else {
            format!("api/{method}")
        };
        (url, signed)
    }

    async fn get(
        &self,
        method: &str,
        params: &[(&str, String)],
        code: Option<&Secret>,
        call: Call,
    ) -> Result<reqwest::Response> {
        let (url, signed) = self.paths(method);
        self.http
            .send(call, |c| {
                let stamp = Stamp {
                    timestamp: self.time.now(),
                    auth_code: code,
                };
                let mut u = url.clone();
                u.set_query(Some(&self.signer.get_query(&signed, params, stamp)));
                c.get(u)
            })
            .await
    }

    async fn post(
        &self,
        method: &str,
        params: &[(&str, String)],
        code: Option<&Secret>,
        repeat: Repeat,
        sent_at: Option<&AtomicI64>,
    ) -> Result<reqwest::Response> {
        let (url, signed) = self.paths(method);
        self.http
            .send(Call::api(repeat), |c| {
                let stamp = Stamp {
                    timestamp: self.time.now(),
                    auth_code: code,
                };
                if let Some(at) = sent_at {
                    at.store(stamp.timestamp, Ordering::Relaxed);
                }
                let mut fields: Vec<(&str, String)> = params.to_vec();
                fields.extend(self.signer.post_fields(&signed, stamp));
                c.post(url.clone()).form(&fields)
            })
            .await
    }

    /// Reads an answer: the envelope decides, then the status. For a write, an answer that
    /// may follow a processed request (a 2xx we cannot read, a 5xx other than 503 without
    /// envelope) is marked outcome-unknown.
    async fn read_value(
        &self,
        op: &'static str,
        resp: reqwest::Response,
        cap: usize,
        write: bool,
    ) -> std::result::Result<Value, Refusal> {
        let status = resp.status();
        let headers = resp.headers().clone();
        let date = server_date(&headers);
        let body = read_bytes_capped(resp, cap)
            .await
            .map_err(|e| e.with_provider(PROVIDER).with_operation(op))?;
        // A 503 is the service (or its load balancer) turning the request away unhandled, so
        // it leaves no doubt; other 5xx answers without envelope may follow a handled request.
        let unknown = |e: Error| {
            let handled_maybe = status.is_success()
                || (status.is_server_error() && status != http::StatusCode::SERVICE_UNAVAILABLE);
            if write && handled_maybe {
                e.with_outcome_unknown()
            } else {
                e
            }
        };
        match api::parse_answer(&body) {
            Ok(Answer::Error { title, message }) => Err(Refusal {
                error: service_error(op, status.as_u16(), &title, &message),
                date,
            }),
            Ok(Answer::Value(v)) if status.is_success() => Ok(v),
            Ok(Answer::Value(_)) | Err(_) if !status.is_success() => Err(Refusal {
                error: unknown(status_error(PROVIDER, op, status, &headers, &body)),
                date,
            }),
            Ok(Answer::Value(v)) => Ok(v),
            Err(e) => Err(unknown(
                e.with_provider(PROVIDER)
                    .with_operation(op)
                    .with_status(status.as_u16()),
            )
            .into()),
        }
    }

    /// Whether a refusal is worth one more try after adopting the service's clock.
    fn resync(&self, r: &Refusal) -> bool {
        r.error.is_unauthenticated() && r.date.is_some_and(|d| self.time.sync(d))
    }

    /// The final error for a refusal, naming a clock difference when there is one.
    fn explain(&self, r: Refusal) -> Error {
        let skew = r.date.and_then(|d| self.time.skew(d));
        match skew {
            Some(diff) if r.error.is_unauthenticated() => {
                let side = if diff > 0 { "ahead of" } else { "behind" };
                let mut e = Error::new(
                    ErrorKind::Unauthenticated,
                    format!(
                        "the service refused the request and its clock is {} {side} this machine's; correct the clock, set clock.offset_secs = {diff}, or set clock.sync_from_server = true",
                        describe_secs(diff)
                    ),
                )
                .with_provider(PROVIDER);
                if let Some(op) = r.error.operation() {
                    e = e.with_operation(op.to_owned());
                }
                if let Some(s) = r.error.status() {
                    e = e.with_status(s);
                }
                e.with_service_error(r.error.service_code(), r.error.service_message())
            }
            _ => r.error,
        }
    }

    /// `user_auth`: an auth code for a user, given the SHA-1 (hex) of their password.
    async fn user_auth(&self, username: &str, password_sha1: &Secret) -> Result<Secret> {
        let op = "user_auth";
        let params = [
            ("username_auth", username.to_owned()),
            ("password_auth", password_sha1.expose().to_owned()),
        ];
        let mut synced = false;
        loop {
            let attempt = async {
                let resp = self
                    .post("user_auth", &params, None, Repeat::Safe, None)
                    .await?;
                self.read_value(op, resp, DEFAULT_JSON_CAP, false).await
            };
            match attempt.await {
                Ok(Value::Object(mut map)) => {
                    return match map.remove("authCode") {
                        Some(Value::String(code)) if !code.trim().is_empty() => {
                            Ok(Secret::new(code.trim()))
                        }
                        _ => Err(Error::protocol("the user_auth answer has no `authCode`")
                            .with_provider(PROVIDER)
                            .with_operation(op)),
                    };
                }
                Ok(_) => {
                    return Err(Error::protocol("the user_auth answer has no `authCode`")
                        .with_provider(PROVIDER)
                        .with_operation(op));
                }
                Err(r) if !synced && self.resync(&r) => synced = true,
                Err(r) => return Err(self.explain(r)),
            }
        }
    }
}

impl TuyuClient {
    pub(crate) fn new(r: &Resolved) -> Result<TuyuClient> {
        let http = HttpClient::new(PROVIDER, &r.config.http, &r.base_dir)?;
        let encoding = r.config.signing.encoding();
        let core = Arc::new(Core {
            http,
            base: r.base_url.clone(),
            signer: Signer::new(r.api_key.clone(), &r.api_secret, &r.signed_base, encoding),
            format: r.config.format,
            sign_suffix: r.config.signing.sign_format_suffix,
            encoding,
            upload_path_encoded: r.config.upload_path_encoded,
            time: TimeSource::new(r.config.clock.clone()),
        });
        Ok(TuyuClient::with_core(core, r))
    }

    fn with_core(core: Arc<Core>, r: &Resolved) -> TuyuClient {
        let auth = match (&r.auth_code, &r.act_as) {
            (Some(code), _) => Auth::Code(code.clone()),
            (None, Some((username, password))) => Auth::User(TokenCache::new(UserAuth {
                core: core.clone(),
                username: username.clone(),
                password_sha1: crate::auth::password_sha1(password),
            })),
            (None, None) => Auth::Account,
        };
        TuyuClient { core, auth }
    }

    /// A client whose timestamps come from `now` (tests).
    #[cfg(test)]
    pub(crate) fn with_clock(r: &Resolved, now: fn() -> SystemTime) -> TuyuClient {
        let http = HttpClient::new(PROVIDER, &r.config.http, &r.base_dir).unwrap();
        let encoding = r.config.signing.encoding();
        let core = Arc::new(Core {
            http,
            base: r.base_url.clone(),
            signer: Signer::new(r.api_key.clone(), &r.api_secret, &r.signed_base, encoding),
            format: r.config.format,
            sign_suffix: r.config.signing.sign_format_suffix,
            encoding,
            upload_path_encoded: r.config.upload_path_encoded,
            time: TimeSource::with_clock(r.config.clock.clone(), now),
        });
        TuyuClient::with_core(core, r)
    }

    /// Runs one call: `attempt` gets the auth code to send (if any). After an `Authentication
    /// Failed` answer the call is tried once more if the clock was corrected, and once more
    /// with a renewed `act_as` code.
    async fn run<T, F, Fut>(&self, mut attempt: F) -> Result<T>
    where
        F: FnMut(Option<Secret>) -> Fut,
        Fut: Future<Output = std::result::Result<T, Refusal>>,
    {
        let mut synced = false;
        let mut renewed = false;
        loop {
            let token = match &self.auth {
                Auth::User(cache) => Some(cache.get().await?),
                _ => None,
            };
            let code = match (&self.auth, &token) {
                (Auth::Code(c), _) => Some(c.clone()),
                (_, Some(t)) => Some(t.access().clone()),
                _ => None,
            };
            match attempt(code).await {
                Ok(v) => return Ok(v),
                Err(r) if !synced && self.core.resync(&r) => synced = true,
                Err(r) if !renewed && r.error.is_unauthenticated() && token.is_some() => {
                    if let (Auth::User(cache), Some(t)) = (&self.auth, &token) {
                        tracing::debug!(
                            "the auth code was refused; asking user_auth for a new one"
                        );
                        cache.invalidate(t);
                    }
                    renewed = true;
                }
                Err(r) => return Err(self.core.explain(r)),
            }
        }
    }

    /// An unsigned call: whatever answers in Tuyu's envelope is the API (it refuses the call).
    pub(crate) async fn reach(&self) -> Result<String> {
        let (url, _) = self.core.paths("file_list");
        let host = url.host_str().unwrap_or("?").to_owned();
        let resp = self
            .core
            .http
            .send(Call::api(Repeat::Safe), |c| c.get(url.clone()))
            .await
            .map_err(|e| context(e, "reach"))?;
        let status = resp.status().as_u16();
        let body = securesend_core::http::read_error_body(resp).await;
        match api::parse_answer(&body) {
            Ok(Answer::Error { title, .. }) => Ok(format!(
                "the Tuyu API answered at {host} (HTTP {status}; an unsigned call is refused with \"{}\")",
                securesend_core::clean_service_text(&title)
            )),
            // Tuyu refuses an unsigned call in its error envelope; anything else (a page, a
            // JSON value, another API) is not Tuyu answering.
            Ok(Answer::Value(_)) | Err(_) => Err(Error::protocol(format!(
                "{host} does not look like a Tuyu server: HTTP {status}, without Tuyu's JSON or XML error envelope for an unsigned call; check base_url"
            ))
            .with_provider(PROVIDER)
            .with_operation("reach")),
        }
    }

    /// `file_list`: one page (50 entries) of a folder, with the caller's permissions there.
    pub(crate) async fn file_list(&self, path: &str, page: u64) -> Result<FileList> {
        self.file_list_sorted(path, page, None).await
    }

    /// `file_list` in the order `sort_by` names (`name_asc`, …; the service's default is
    /// `date_desc`).
    pub(crate) async fn file_list_sorted(
        &self,
        path: &str,
        page: u64,
        sort_by: Option<&str>,
    ) -> Result<FileList> {
        let core = &self.core;
        let mut params = vec![
            ("path", path.to_owned()),
            ("current_page", page.to_string()),
        ];
        if let Some(order) = sort_by {
            params.push(("sort_by", order.to_owned()));
        }
        let params = &params;
        self.run(|code| async move {
            let resp = core
                .get("file_list", params, code.as_ref(), Call::api(Repeat::Safe))
                .await?;
            let v = core
                .read_value("list", resp, DEFAULT_JSON_CAP, false)
                .await?;
            Ok(api::take(v, "fileList")?)
        })
        .await
    }

    /// `users_location_access`: the users and groups with access to `path`.
    pub(crate) async fn users_location_access(&self, path: &str) -> Result<Vec<LocationUser>> {
        let core = &self.core;
        let params = [("path", path.to_owned()), ("type", "all".to_owned())];
        let params = &params;
        self.run(|code| async move {
            let resp = core
                .get(
                    "users_location_access",
                    params,
                    code.as_ref(),
                    Call::api(Repeat::Safe),
                )
                .await?;
            let v = core
                .read_value("find users", resp, USERS_CAP, false)
                .await?;
            let Value::Object(mut map) = v else {
                return Err(Error::protocol("the answer has no `usersLocationAccess`").into());
            };
            let list = map
                .remove("usersLocationAccess")
                .ok_or_else(|| Error::protocol("the answer has no `usersLocationAccess`"))?;
            let users = api::items(list)
                .into_iter()
                .filter_map(|v| serde_json::from_value::<LocationUser>(v).ok())
                .collect();
            Ok(users)
        })
        .await
        .map_err(|e: Error| e.or_provider(PROVIDER).or_operation("find users"))
    }

    /// `file_upload`: streams the file as a multipart body; returns `fileInfo` and our
    /// checksums of what was sent.
    pub(crate) async fn file_upload(&self, spec: &UploadSpec<'_>) -> Result<(FileInfo, Checksums)> {
        let core = &self.core;
        let (url, signed) = core.paths("file_upload");
        let (url, signed) = (&url, &signed);
        let name = spec.file.name().to_owned();
        let size = spec.file.size;
        let content_type = spec.file.attachment.content_type();
        let path = if core.upload_path_encoded {
            core.encoding.encode(spec.path)
        } else {
            spec.path.to_owned()
        };
        let mut fields = vec![
            ("path", path),
            (
                "overwrite",
                if spec.overwrite { "1" } else { "0" }.to_owned(),
            ),
        ];
        if let Some(c) = spec.comment {
            fields.push(("comment", c.to_owned()));
        }
        if let Some(t) = spec.file_id_tag {
            fields.push(("file_id_tag", t.to_owned()));
        }
        let fields = &fields;
        let (name, content_type) = (&name, &content_type);
        let done = Arc::new(Mutex::new(None::<(Hasher, FileProgress)>));
        let done_ref = &done;
        let info = self
            .run(|code| async move {
                let hasher = Arc::new(Mutex::new(Hasher::new(DigestSet::SHA256)));
                let progress = Arc::new(Mutex::new(FileProgress::start(
                    spec.progress,
                    spec.index,
                    name,
                    Some(size),
                )));
                let body = reqwest::Body::wrap_stream(file_stream(
                    spec.file.clone(),
                    hasher.clone(),
                    progress.clone(),
                ));
                let part = Part::stream_with_length(body, size)
                    .file_name(name.clone())
                    .mime_str(content_type)
                    .map_err(|_| {
                        Error::invalid_input(format!(
                            "content type {content_type:?} of {name} cannot be sent"
                        ))
                    })?;
                let mut part = Some(part);
                let resp = core
                    .http
                    .send(Call::upload(Repeat::Never, size), |c| {
                        let stamp = Stamp {
                            timestamp: core.time.now(),
                            auth_code: code.as_ref(),
                        };
                        let mut form = Form::new().percent_encode_noop();
                        for (k, v) in fields.iter().cloned() {
                            form = form.text(k, v);
                        }
                        for (k, v) in core.signer.post_fields(signed, stamp) {
                            form = form.text(k, v);
                        }
                        // Sent once (Repeat::Never): a second build would find the part gone.
                        let part = part.take().unwrap_or_else(spent_part);
                        c.post(url.clone()).multipart(form.part("file", part))
                    })
                    .await?;
                let v = core
                    .read_value("upload", resp, DEFAULT_JSON_CAP, true)
                    .await?;
                let info: FileInfo = api::take(v, "fileInfo")?;
                let hasher = std::mem::replace(&mut *lock(&hasher), Hasher::new(DigestSet::NONE));
                let progress = lock(&progress).clone();
                *lock(done_ref) = Some((hasher, progress));
                Ok(info)
            })
            .await
            .map_err(|e| e.or_provider(PROVIDER).or_operation("upload"))?;
        let (hasher, progress) = lock(&done)
            .take()
            .ok_or_else(|| Error::protocol("the upload finished without its checksums"))?;
        let sent = hasher.bytes();
        if sent != size {
            return Err(Error::integrity(format!(
                "{name}: {sent} of {size} bytes were read while uploading"
            ))
            .with_provider(PROVIDER)
            .with_operation("upload"));
        }
        progress.finish();
        Ok((info, hasher.finish()))
    }

    /// `create_folder`: a folder `name` inside `path`.
    pub(crate) async fn create_folder(&self, name: &str, path: &str) -> Result<CreatedFolder> {
        let params = [
            ("folder_name", name.to_owned()),
            ("folder_path", path.to_owned()),
        ];
        let v = self
            .write("create folder", "create_folder", &params, Repeat::Never)
            .await?;
        api::take(v, "createFolder").map_err(|e| context(e, "create folder"))
    }

    /// `send_files_prep`: a preparation id for sending `file_ids`.
    pub(crate) async fn send_files_prep(&self, file_ids: &str) -> Result<String> {
        let params = [("file_id", file_ids.to_owned())];
        let v = self
            .write("prepare send", "send_files_prep", &params, Repeat::Safe)
            .await?;
        api::preparation_id(&v).map_err(|e| context(e, "prepare send"))
    }

    /// `file_send`, sent exactly once. Any answer without an error envelope is success (the
    /// success body is not documented). `sent_at` receives the timestamp the request carried.
    pub(crate) async fn file_send(
        &self,
        params: &[(&str, String)],
        sent_at: &AtomicI64,
    ) -> Result<Value> {
        self.write_at("send", "file_send", params, Repeat::Never, Some(sent_at))
            .await
    }

    /// `create_file_link`: a public download link for a file.
    pub(crate) async fn create_file_link(
        &self,
        file_id: &str,
        days: Option<u32>,
    ) -> Result<FileLink> {
        let mut params = vec![("file_id", file_id.to_owned())];
        if let Some(d) = days {
            params.push(("link_expiration", d.to_string()));
        }
        let v = self
            .write("create link", "create_file_link", &params, Repeat::Never)
            .await?;
        api::take(v, "fileCreateLink").map_err(|e| context(e, "create link"))
    }

    /// `file_delete`: removes a file or a folder with its contents.
    pub(crate) async fn file_delete(&self, file_id: &str) -> Result<()> {
        let params = [("file_id", file_id.to_owned())];
        self.write("delete", "file_delete", &params, Repeat::Safe)
            .await
            .map(|_| ())
    }

    async fn write(
        &self,
        op: &'static str,
        method: &'static str,
        params: &[(&str, String)],
        repeat: Repeat,
    ) -> Result<Value> {
        self.write_at(op, method, params, repeat, None).await
    }

    async fn write_at(
        &self,
        op: &'static str,
        method: &'static str,
        params: &[(&str, String)],
        repeat: Repeat,
        sent_at: Option<&AtomicI64>,
    ) -> Result<Value> {
        let core = &self.core;
        self.run(|code| async move {
            let resp = core
                .post(method, params, code.as_ref(), repeat, sent_at)
                .await?;
            core.read_value(op, resp, DEFAULT_JSON_CAP, repeat == Repeat::Never)
                .await
        })
        .await
        .map_err(|e| context(e, op))
    }

    /// `file_download`: the answer carrying the bytes (its headers name the file).
    pub(crate) async fn file_download(&self, file_id: &str) -> Result<reqwest::Response> {
        let core = &self.core;
        let params = [("file_id", file_id.to_owned())];
        let params = &params;
        self.run(|code| async move {
            let resp = core
                .get(
                    "file_download",
                    params,
                    code.as_ref(),
                    Call::download(Repeat::Safe),
                )
                .await?;
            if resp.status().is_success() && names_a_file(resp.headers()) {
                return Ok(resp);
            }
            // Not a file: an error envelope, or something we cannot use.
            let status = resp.status();
            core.read_value("download", resp, ERROR_BODY_CAP, false).await?;
            Err(Error::protocol(format!(
                "the service answered HTTP {} without a file (no Content-Disposition or File-Name header)",
                status.as_u16()
            ))
            .into())
        })
        .await
        .map_err(|e| context(e, "download"))
    }
}

fn context(e: Error, op: &'static str) -> Error {
    e.or_provider(PROVIDER).or_operation(op)
}

/// Whether a download answer names its file, as the service does for file bytes.
fn names_a_file(headers: &HeaderMap) -> bool {
    headers.contains_key("file-name")
        || headers
            .get(http::header::CONTENT_DISPOSITION)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.to_ascii_lowercase().contains("filename"))
}

/// The file's bytes, opened when the body is first polled (so each attempt reads afresh),
/// hashed and counted on the way out, at most one read chunk in memory.
fn file_stream(
    file: CheckedFile,
    hasher: Arc<Mutex<Hasher>>,
    progress: Arc<Mutex<FileProgress>>,
) -> impl Stream<Item = io::Result<Bytes>> + Send + 'static {
    futures::stream::once(async move {
        file.open()
            .await
            .map_err(|e| io::Error::other(e.message().to_owned()))
    })
    .map_ok(|reader| ReaderStream::with_capacity(reader, READ_CHUNK))
    .try_flatten()
    .inspect_ok(move |chunk| {
        lock(&hasher).update(chunk);
        lock(&progress).advance(chunk.len() as u64);
    })
}

/// The part a second build of a once-only upload would get: its body fails, so nothing
/// incomplete is ever accepted as the file.
fn spent_part() -> Part {
    let failing = futures::stream::once(async {
        Err::<Bytes, io::Error>(io::Error::other(
            "the upload body cannot be sent twice; upload the file again",
        ))
    });
    Part::stream(reqwest::Body::wrap_stream(failing))
}

#[cfg(test)]
mod tests;
