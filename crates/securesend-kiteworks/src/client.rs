//! One method per Kiteworks REST call, each with the bearer token and `X-Accellion-Version`.
//!
//! Every call goes through [`Api::call`]: the token cache supplies a token (refreshed ahead of
//! expiry), a 401 refreshes it once and repeats the call, an error answer becomes an [`Error`]
//! by the service's code. Whether a call may be repeated after a failure is decided per call
//! (`Repeat`); the final "send" of a message never is.

use std::sync::Arc;

use bytes::Bytes;
use http::HeaderMap;
use reqwest::RequestBuilder;
use serde::de::DeserializeOwned;
use url::Url;

use securesend_core::http::{
    Call, DEFAULT_JSON_CAP, HttpClient, Repeat, TokenCache, parse_json, read_bytes_capped,
    read_error_body,
};
use securesend_core::{Error, ErrorKind, Result};

use crate::api::{
    CreateFolder, File, Folder, InitiateUpload, Listing, Mail, Me, Search, SendMail, Upload,
    UploadConfig,
};
use crate::config::{ChunkEndpoint, Settings};
use crate::{PROVIDER, error};

/// The version header every REST call carries.
pub(crate) const VERSION_HEADER: &str = "X-Accellion-Version";
/// Headers naming a created object, newest spelling last; plain `Location` is the last resort.
const LOCATION_HEADERS: [&str; 3] = ["x-accellion-location", "x-kiteworks-location", "location"];

/// An answer: status, headers and the (capped) body.
#[derive(Debug)]
pub(crate) struct Reply {
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    /// The body as `T`; a body that does not fit is a protocol error naming `operation`.
    pub(crate) fn json<T: DeserializeOwned>(&self, operation: &'static str) -> Result<T> {
        parse_json(&self.body).map_err(|e| e.or_provider(PROVIDER).or_operation(operation))
    }

    /// Whether the body holds a JSON object (answers without `returnEntity` are empty).
    pub(crate) fn has_entity(&self) -> bool {
        self.body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{')
    }

    /// The id at the end of the location header of a created object.
    pub(crate) fn location_id(&self) -> Option<String> {
        LOCATION_HEADERS.iter().find_map(|h| {
            let v = self.headers.get(*h)?.to_str().ok()?;
            let path = v.split(['?', '#']).next()?.trim_end_matches('/');
            let id = path.rsplit('/').next()?;
            valid_id(id).then(|| id.to_owned())
        })
    }
}

/// Why one try of a call failed: its answer broke off while being read, or anything else.
enum Failure {
    Body(Error),
    Other(Error),
}

/// Ids go into URL paths: only the characters UUIDs and integers use.
pub(crate) fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The Kiteworks REST API of one profile.
#[derive(Debug)]
pub(crate) struct Api {
    pub(crate) http: HttpClient,
    pub(crate) tokens: Arc<TokenCache>,
    pub(crate) settings: Arc<Settings>,
}

impl Api {
    /// `{base}/rest/{segments…}`, each segment percent-encoded.
    pub(crate) fn rest(&self, segments: &[&str]) -> Url {
        let mut u = self.settings.base.clone();
        if let Ok(mut s) = u.path_segments_mut() {
            s.pop_if_empty().push("rest").extend(segments);
        }
        u
    }

    /// Sends a call with a token; a 401 refreshes the token once and sends it again. Success
    /// answers are read with the JSON cap, error answers become errors.
    ///
    /// A call that may be repeated ([`Repeat::Safe`]) whose answer breaks off while its body is
    /// read is sent again (up to `max_attempts` in all): the service answered, so the request
    /// is harmless to repeat, and giving up would report an outcome as unknown for a read.
    /// Calls that create something go through [`Api::call_creating`] instead.
    pub(crate) async fn call(
        &self,
        operation: &'static str,
        call: Call,
        build: impl Fn(&reqwest::Client) -> RequestBuilder + Send + Sync,
    ) -> Result<Reply> {
        let max_attempts = match call.repeat() {
            Repeat::Safe => self.settings.http.max_attempts.max(1),
            Repeat::Never => 1,
        };
        self.call_up_to(operation, call, max_attempts, build).await
    }

    /// [`Api::call`] for a call that creates something (a folder, an upload session): an
    /// answer broken off while read came after the thing was made, so the call is not sent
    /// again for it (a second one would be an orphan); it fails as the read did.
    pub(crate) async fn call_creating(
        &self,
        operation: &'static str,
        call: Call,
        build: impl Fn(&reqwest::Client) -> RequestBuilder + Send + Sync,
    ) -> Result<Reply> {
        self.call_up_to(operation, call, 1, build).await
    }

    async fn call_up_to(
        &self,
        operation: &'static str,
        call: Call,
        max_attempts: u32,
        build: impl Fn(&reqwest::Client) -> RequestBuilder + Send + Sync,
    ) -> Result<Reply> {
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            match self.call_once(operation, call, &build).await {
                Err(Failure::Body(e)) if attempt < max_attempts => {
                    tracing::debug!(
                        provider = PROVIDER,
                        operation,
                        error = %e,
                        "the answer broke off; asking again"
                    );
                    let pause = std::time::Duration::from_millis(250u64 << attempt.min(5));
                    tokio::time::sleep(pause).await;
                }
                Err(Failure::Body(e) | Failure::Other(e)) => return Err(e),
                Ok(reply) => return Ok(reply),
            }
        }
    }

    async fn call_once(
        &self,
        operation: &'static str,
        call: Call,
        build: &(impl Fn(&reqwest::Client) -> RequestBuilder + Send + Sync),
    ) -> std::result::Result<Reply, Failure> {
        // Set when the failure was reading a success answer's body (not sending, not a refusal).
        let body_failed = std::sync::atomic::AtomicBool::new(false);
        let body_failed = &body_failed;
        let result = self
            .tokens
            .run(|token| async move {
                let resp = self
                    .http
                    .send(call, |c| {
                        build(c)
                            .bearer_auth(token.access().expose())
                            .header(VERSION_HEADER, &self.settings.api_version)
                    })
                    .await
                    .map_err(|e| e.or_operation(operation))?;
                let status = resp.status();
                let headers = resp.headers().clone();
                if !status.is_success() {
                    let body = read_error_body(resp).await;
                    return Err(error::from_answer(
                        operation,
                        status,
                        &headers,
                        &body,
                        &self.settings.rate_limit_codes,
                    ));
                }
                let body = read_bytes_capped(resp, DEFAULT_JSON_CAP)
                    .await
                    .map_err(|e| {
                        if e.outcome_unknown() {
                            body_failed.store(true, std::sync::atomic::Ordering::Relaxed);
                        }
                        e.or_provider(PROVIDER).or_operation(operation)
                    })?;
                Ok(Reply { headers, body })
            })
            .await;
        result.map_err(|e| {
            if body_failed.load(std::sync::atomic::Ordering::Relaxed) {
                Failure::Body(e)
            } else {
                Failure::Other(e)
            }
        })
    }

    async fn get_json<T: DeserializeOwned>(
        &self,
        operation: &'static str,
        url: Url,
        query: &[(&str, &str)],
    ) -> Result<T> {
        self.call(operation, Call::api(Repeat::Safe), |c| {
            c.get(url.clone()).query(query)
        })
        .await?
        .json(operation)
    }

    /// `GET /rest/users/me`.
    pub(crate) async fn me(&self) -> Result<Me> {
        self.get_json("who am I", self.rest(&["users", "me"]), &[])
            .await
    }

    /// `GET /rest/uploads/config`.
    pub(crate) async fn upload_config(&self) -> Result<UploadConfig> {
        self.get_json("upload settings", self.rest(&["uploads", "config"]), &[])
            .await
    }

    /// `GET /rest/search?path=…`: the folders at exactly this path (relative to the user's
    /// root, first segment a top-level folder).
    pub(crate) async fn search_folder(&self, path: &str) -> Result<Vec<Folder>> {
        let found: Search = self
            .get_json(
                "find folder",
                self.rest(&["search"]),
                &[("path", path), ("searchType", "d")],
            )
            .await?;
        Ok(found.folders)
    }

    /// `GET /rest/folders/{id}/folders?name=…`.
    pub(crate) async fn child_folders(&self, parent: &str, name: &str) -> Result<Vec<Folder>> {
        let l: Listing<Folder> = self
            .get_json(
                "list folders",
                self.rest(&["folders", parent, "folders"]),
                &[("name", name), ("deleted", "false")],
            )
            .await?;
        Ok(l.into_vec())
    }

    /// One page of a list: `offset`/`limit` in name order, deleted entries left out.
    async fn page<T: DeserializeOwned>(
        &self,
        operation: &'static str,
        url: Url,
        offset: u64,
        limit: u64,
    ) -> Result<Vec<T>> {
        let (offset, limit) = (offset.to_string(), limit.to_string());
        let l: Listing<T> = self
            .get_json(
                operation,
                url,
                &[
                    ("offset", offset.as_str()),
                    ("limit", limit.as_str()),
                    ("orderBy", "name:asc"),
                    ("deleted", "false"),
                ],
            )
            .await?;
        Ok(l.into_vec())
    }

    /// `GET /rest/folders/top?offset&limit`.
    pub(crate) async fn top_folders(&self, offset: u64, limit: u64) -> Result<Vec<Folder>> {
        self.page(
            "list folders",
            self.rest(&["folders", "top"]),
            offset,
            limit,
        )
        .await
    }

    /// `GET /rest/folders/{id}/folders?offset&limit`.
    pub(crate) async fn folder_children(
        &self,
        id: &str,
        offset: u64,
        limit: u64,
    ) -> Result<Vec<Folder>> {
        self.page(
            "list folders",
            self.rest(&["folders", id, "folders"]),
            offset,
            limit,
        )
        .await
    }

    /// `GET /rest/folders/{id}/files?offset&limit`.
    pub(crate) async fn folder_files(
        &self,
        id: &str,
        offset: u64,
        limit: u64,
    ) -> Result<Vec<File>> {
        self.page(
            "list files",
            self.rest(&["folders", id, "files"]),
            offset,
            limit,
        )
        .await
    }

    /// `POST /rest/folders/{parent}/folders?returnEntity=true` (`0` = top level).
    pub(crate) async fn create_folder(&self, parent: &str, name: &str) -> Result<String> {
        let url = self.rest(&["folders", parent, "folders"]);
        let reply = self
            .call_creating("create folder", Call::api(Repeat::Safe), |c| {
                c.post(url.clone())
                    .query(&[("returnEntity", "true")])
                    .json(&CreateFolder { name })
            })
            .await?;
        created_id(&reply, "create folder")
    }

    /// `GET /rest/folders/{id}/files?name=…`.
    pub(crate) async fn files_named(&self, folder: &str, name: &str) -> Result<Vec<File>> {
        let l: Listing<File> = self
            .get_json(
                "list files",
                self.rest(&["folders", folder, "files"]),
                &[("name", name), ("deleted", "false")],
            )
            .await?;
        Ok(l.into_vec()
            .into_iter()
            .filter(|f| f.deleted != Some(true))
            .collect())
    }

    /// `POST /rest/{folders|mail}/{id}/actions/initiateUpload`, without a query.
    pub(crate) async fn initiate_upload(
        &self,
        target: &UploadTarget,
        body: &InitiateUpload<'_>,
    ) -> Result<Upload> {
        let (kind, id) = match target {
            UploadTarget::Folder(id) => ("folders", id.as_str()),
            UploadTarget::Mail(id) => ("mail", id.as_str()),
        };
        let url = self.rest(&[kind, id, "actions", "initiateUpload"]);
        // The spec declares no `returnEntity` here: the service answers the session anyway,
        // and an answer without it is read from the location header.
        let reply = self
            .call_creating("start upload", Call::api(Repeat::Safe), |c| {
                c.post(url.clone()).json(body)
            })
            .await?;
        let upload: Upload = if reply.has_entity() {
            reply.json("start upload")?
        } else {
            let id = reply
                .location_id()
                .ok_or_else(|| error::protocol("start upload", "the service named no upload"))?;
            self.upload(&id).await?
        };
        if !valid_id(&upload.id) {
            return Err(error::protocol(
                "start upload",
                "the upload id is not usable",
            ));
        }
        Ok(upload)
    }

    /// Where chunks of `upload` go: its `uri` below the base URL, or `/rest/uploads/{id}`.
    pub(crate) fn chunk_url(&self, upload: &Upload) -> Url {
        let fallback = || self.rest(&["uploads", &upload.id]);
        if self.settings.chunk_endpoint == ChunkEndpoint::Rest {
            return fallback();
        }
        let Some(uri) = upload.uri.as_deref() else {
            return fallback();
        };
        // The uri names an upload host segment; anything else (a scheme, a query, `..`) is not
        // followed: chunks never go anywhere but below the configured base URL.
        let segments: Vec<&str> = uri.split('/').collect();
        let sane = !uri.starts_with('/')
            && segments.len() <= 8
            && segments.iter().all(|s| {
                !s.is_empty()
                    && *s != "."
                    && *s != ".."
                    && s.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
            })
            && segments.ends_with(&["rest", "uploads", upload.id.as_str()]);
        if !sane {
            tracing::debug!(
                provider = PROVIDER,
                "upload uri is not a plain path below the base URL; using /rest/uploads/{{id}}"
            );
            return fallback();
        }
        let mut u = self.settings.base.clone();
        if let Ok(mut s) = u.path_segments_mut() {
            s.pop_if_empty().extend(segments);
        }
        u
    }

    /// `GET /rest/uploads/{id}`.
    pub(crate) async fn upload(&self, id: &str) -> Result<Upload> {
        self.get_json("upload status", self.rest(&["uploads", id]), &[])
            .await
    }

    /// `DELETE /rest/uploads/{id}`.
    pub(crate) async fn delete_upload(&self, id: &str) -> Result<()> {
        let url = self.rest(&["uploads", id]);
        self.call("discard upload", Call::api(Repeat::Safe), |c| {
            c.delete(url.clone())
        })
        .await
        .map(|_| ())
    }

    /// `GET /rest/files/{id}`.
    pub(crate) async fn file(&self, id: &str) -> Result<File> {
        self.get_json("file details", self.rest(&["files", id]), &[])
            .await
    }

    /// `POST /rest/mail/actions/sendFile?returnEntity=true` with `draft = true`; the new
    /// draft's id. Never repeated: a second draft would be an orphan.
    pub(crate) async fn create_draft(&self, body: &SendMail) -> Result<String> {
        let url = self.rest(&["mail", "actions", "sendFile"]);
        let reply = self
            .call("create draft", Call::api(Repeat::Never), |c| {
                c.post(url.clone())
                    .query(&[("returnEntity", "true")])
                    .json(body)
            })
            .await?;
        if reply.has_entity() {
            let mail: Mail = reply.json("create draft")?;
            if valid_id(&mail.id) {
                return Ok(mail.id);
            }
        }
        created_id(&reply, "create draft")
    }

    /// `PUT /rest/mail/{id}/actions/sendFile?returnEntity=true`: sends the draft. Never
    /// repeated blindly; the caller asks [`Api::mail`] after an ambiguous failure.
    pub(crate) async fn send_draft(&self, id: &str, body: &SendMail) -> Result<Option<Mail>> {
        let url = self.rest(&["mail", id, "actions", "sendFile"]);
        let reply = self
            .call("send", Call::api(Repeat::Never), |c| {
                c.put(url.clone())
                    .query(&[("returnEntity", "true")])
                    .json(body)
            })
            .await?;
        // Any 2xx means the message went. An entity that cannot be read is no reason to say
        // otherwise: the caller asks for the message instead, as for an answer without one.
        if !reply.has_entity() {
            return Ok(None);
        }
        match reply.json::<Mail>("send") {
            Ok(mail) if valid_id(&mail.id) => Ok(Some(mail)),
            Ok(_) => Ok(None),
            Err(e) => {
                tracing::debug!(provider = PROVIDER, error = %e, "the send's answer is not a message as expected; asking for it");
                Ok(None)
            }
        }
    }

    /// `GET /rest/mail/{id}`.
    pub(crate) async fn mail(&self, id: &str) -> Result<Mail> {
        self.get_json("message status", self.rest(&["mail", id]), &[])
            .await
    }

    /// `DELETE /rest/mail/{id}` (drafts only).
    pub(crate) async fn delete_mail(&self, id: &str) -> Result<()> {
        let url = self.rest(&["mail", id]);
        self.call("delete draft", Call::api(Repeat::Safe), |c| {
            c.delete(url.clone())
        })
        .await
        .map(|_| ())
    }

    /// `GET /rest/files/{id}/content`, from byte `from` on (a `Range` request when not 0).
    /// The answer is returned unread, for streaming.
    pub(crate) async fn content(&self, id: &str, from: u64) -> Result<reqwest::Response> {
        let url = self.rest(&["files", id, "content"]);
        let operation = "download";
        self.tokens
            .run(|token| {
                let url = url.clone();
                async move {
                    let resp = self
                        .http
                        .send(Call::download(Repeat::Safe), |c| {
                            let mut r = c
                                .get(url.clone())
                                .bearer_auth(token.access().expose())
                                .header(VERSION_HEADER, &self.settings.api_version);
                            if from > 0 {
                                r = r.header(http::header::RANGE, format!("bytes={from}-"));
                            }
                            r
                        })
                        .await
                        .map_err(|e| e.or_operation(operation))?;
                    let status = resp.status();
                    if !status.is_success() {
                        let headers = resp.headers().clone();
                        let body = read_error_body(resp).await;
                        return Err(error::from_answer(
                            operation,
                            status,
                            &headers,
                            &body,
                            &self.settings.rate_limit_codes,
                        ));
                    }
                    Ok(resp)
                }
            })
            .await
    }
}

/// Where an upload goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum UploadTarget {
    /// Into a folder.
    Folder(String),
    /// As an attachment of a draft.
    Mail(String),
}

/// The id of an object a POST created: from its entity, else from the location header.
fn created_id(reply: &Reply, operation: &'static str) -> Result<String> {
    if reply.has_entity() {
        #[derive(serde::Deserialize)]
        struct WithId {
            #[serde(deserialize_with = "crate::client::any_id")]
            id: String,
        }
        if let Ok(w) = parse_json::<WithId>(&reply.body) {
            if valid_id(&w.id) {
                return Ok(w.id);
            }
        }
    }
    reply.location_id().ok_or_else(|| {
        Error::new(
            ErrorKind::Protocol,
            "the service answered success but named no created object",
        )
        .with_provider(PROVIDER)
        .with_operation(operation)
    })
}

pub(crate) fn any_id<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<String, D::Error> {
    use serde::Deserialize;
    match serde_json::Value::deserialize(d)? {
        serde_json::Value::String(s) => Ok(s),
        serde_json::Value::Number(n) => Ok(n.to_string()),
        _ => Err(serde::de::Error::custom("expected an id")),
    }
}
