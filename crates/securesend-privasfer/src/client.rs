//! One method per REST call. Every API request carries the bearer token and
//! `Accept: application/json` (without it, a Laravel application answers errors with a
//! redirect to its login page); bodies are JSON.

use bytes::BytesMut;
use http::header::ACCEPT;
use serde::de::DeserializeOwned;
use serde_json::json;
use url::Url;

use securesend_core::http::{
    Call, DEFAULT_JSON_CAP, ERROR_BODY_CAP, HttpClient, Repeat, Sleeper, read_error_body,
    read_json_capped,
};
use securesend_core::{Error, Result, Secret};

use crate::PROVIDER;
use crate::api::{self, Data, Page};
use crate::config::{KeyPlacement, PrivasferConfig};
use crate::error::{answer_error, scrub};

/// Lists may be long (an inbox with its files): 16 MiB per page.
const LIST_CAP: usize = 16 << 20;
/// Pages followed at most, against a service whose `next` link never ends.
const MAX_PAGES: usize = 100;

/// The REST calls of one provider instance.
#[derive(Clone, Debug)]
pub(crate) struct Api {
    http: HttpClient,
    base: Url,
    token: Secret,
}

/// `include` for mails: the download and its files.
pub(crate) const MAIL_INCLUDE: &str = "download,download.files";

impl Api {
    pub fn new(config: &PrivasferConfig, sleeper: Sleeper) -> Result<Api> {
        let http =
            HttpClient::new(PROVIDER, config.http(), config.base_dir())?.with_sleeper(sleeper);
        Ok(Api {
            http,
            base: config.base_url().clone(),
            token: config.token().clone(),
        })
    }

    pub fn base(&self) -> &Url {
        &self.base
    }

    fn endpoint(&self, path: &str) -> Result<Url> {
        self.base
            .join(path)
            .map_err(|e| Error::config(format!("`base_url` cannot take the path {path}: {e}")))
    }

    fn authorized(&self, b: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        b.bearer_auth(self.token.expose())
            .header(ACCEPT, "application/json")
    }

    async fn read<T: DeserializeOwned>(
        &self,
        op: &'static str,
        resp: reqwest::Response,
        cap: usize,
    ) -> Result<T> {
        if !resp.status().is_success() {
            let (status, headers) = (resp.status(), resp.headers().clone());
            let body = read_error_body(resp).await;
            let e = answer_error(op, status, &headers, &body);
            return Err(scrub(e, &[&self.token]));
        }
        read_json_capped(resp, cap)
            .await
            .map_err(|e| e.or_provider(PROVIDER).or_operation(op))
    }

    async fn get<T: DeserializeOwned>(&self, op: &'static str, url: &Url, cap: usize) -> Result<T> {
        let resp = self
            .http
            .send(Call::api(Repeat::Safe), |c| {
                self.authorized(c.get(url.clone()))
            })
            .await
            .map_err(|e| e.or_operation(op))?;
        self.read(op, resp, cap).await
    }

    /// A POST that creates something short-lived and unshared (a temporary key, a download,
    /// a public key): repeating it after a lost answer leaves at most an unused record that
    /// expires by itself, so it is retried like a read (429 included).
    async fn post<T: DeserializeOwned>(
        &self,
        op: &'static str,
        url: &Url,
        body: &serde_json::Value,
    ) -> Result<T> {
        let resp = self
            .http
            .send(Call::api(Repeat::Safe), |c| {
                self.authorized(c.post(url.clone())).json(body)
            })
            .await
            .map_err(|e| e.or_operation(op))?;
        self.read(op, resp, DEFAULT_JSON_CAP).await
    }

    /// One page of a list: the first (`path` with `query`), or the one a `next` link from an
    /// earlier page names (`after`, checked: this list on the configured origin, else invalid
    /// input before any request). Returns the page's items and its checked `next` link.
    ///
    /// Laravel leaves other query parameters out of its page links unless told otherwise, so
    /// `query` parameters a link lacks are added back (an inbox page without
    /// `include=download` would have no files).
    pub async fn page<T: DeserializeOwned>(
        &self,
        op: &'static str,
        path: &str,
        query: &[(&'static str, String)],
        after: Option<&str>,
    ) -> Result<(Vec<T>, Option<String>)> {
        let first = self.endpoint(path)?;
        let mut url = match after {
            None => first.clone(),
            Some(link) => self.same_list(&first, link).ok_or_else(|| {
                Error::invalid_input(format!(
                    "the cursor is not a page of this list on {}",
                    self.base
                ))
                .with_provider(PROVIDER)
                .with_operation(op)
            })?,
        };
        let present: Vec<String> = url.query_pairs().map(|(k, _)| k.into_owned()).collect();
        let missing: Vec<&(&str, String)> = query
            .iter()
            .filter(|(k, _)| !present.iter().any(|p| p == k))
            .collect();
        if !missing.is_empty() {
            url.query_pairs_mut().extend_pairs(missing);
        }
        let page: Page<T> = self.get(op, &url, LIST_CAP).await?;
        let next = match page.links.and_then(|l| l.next).filter(|n| !n.is_empty()) {
            None => None,
            Some(n) => {
                // The token goes only where it was configured to go.
                let checked = self.same_list(&first, &n).ok_or_else(|| {
                    Error::protocol(
                        "the next-page link points to another host or list; not following it with the token",
                    )
                    .with_provider(PROVIDER)
                    .with_operation(op)
                })?;
                Some(checked.to_string())
            }
        };
        Ok((page.data, next))
    }

    /// `link` when it is a URL of the list at `first`: same origin, same path.
    fn same_list(&self, first: &Url, link: &str) -> Option<Url> {
        let url = Url::parse(link).ok()?;
        (url.origin() == first.origin() && url.path() == first.path()).then_some(url)
    }

    /// Every page of a list, following `links.next` when the service paginates.
    async fn list<T: DeserializeOwned>(
        &self,
        op: &'static str,
        path: &str,
        query: &[(&'static str, String)],
    ) -> Result<Vec<T>> {
        let mut out = Vec::new();
        let mut after: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let (items, next) = self.page(op, path, query, after.as_deref()).await?;
            out.extend(items);
            match next {
                None => return Ok(out),
                Some(n) => after = Some(n),
            }
        }
        Err(
            Error::protocol(format!("the list did not end after {MAX_PAGES} pages"))
                .with_provider(PROVIDER)
                .with_operation(op),
        )
    }

    /// `GET /api/files` — the account's uploaded files.
    pub async fn files(&self, query: &[(&'static str, String)]) -> Result<Vec<api::File>> {
        self.list("list files", "files", query).await
    }

    /// `GET /api/files/{id}` — one of the account's files.
    pub async fn file(&self, id: &str) -> Result<api::File> {
        let url = self.endpoint(&format!("files/{id}"))?;
        let d: Data<api::File> = self.get("get file", &url, DEFAULT_JSON_CAP).await?;
        Ok(d.data)
    }

    /// `GET /api/inbox?include=download,download.files` — received mails with their files.
    pub async fn inbox(&self, query: &[(&'static str, String)]) -> Result<Vec<api::InboxMail>> {
        let mut q = vec![("include", MAIL_INCLUDE.to_owned())];
        q.extend_from_slice(query);
        self.list("list inbox", "inbox", &q).await
    }

    /// `GET /api/inbox/{id}?include=download,download.files` — one received mail.
    pub async fn inbox_mail(&self, id: &str) -> Result<api::InboxMail> {
        let mut url = self.endpoint(&format!("inbox/{id}"))?;
        url.query_pairs_mut().append_pair("include", MAIL_INCLUDE);
        let d: Data<api::InboxMail> = self.get("get inbox mail", &url, LIST_CAP).await?;
        Ok(d.data)
    }

    /// `GET /api/mails?include=download,download.files` — sent mails.
    pub async fn sent(&self, query: &[(&'static str, String)]) -> Result<Vec<api::SentMail>> {
        let mut q = vec![("include", MAIL_INCLUDE.to_owned())];
        q.extend_from_slice(query);
        self.list("list sent mails", "mails", &q).await
    }

    /// `GET /api/mails/{id}?include=download,download.files` — one sent mail.
    pub async fn sent_mail(&self, id: &str) -> Result<api::SentMail> {
        let mut url = self.endpoint(&format!("mails/{id}"))?;
        url.query_pairs_mut().append_pair("include", MAIL_INCLUDE);
        let d: Data<api::SentMail> = self.get("get sent mail", &url, LIST_CAP).await?;
        Ok(d.data)
    }

    /// `POST /api/keys {pin}` — a temporary key for one hour.
    pub async fn create_temporary_key(&self, pin: &Secret) -> Result<Secret> {
        let url = self.endpoint("keys")?;
        let d: Data<api::TemporaryKey> = self
            .post(
                "create temporary key",
                &url,
                &json!({ "pin": pin.expose() }),
            )
            .await
            .map_err(|e| scrub(e, &[pin]))?;
        if !api::url_safe_key(&d.data.key) {
            return Err(
                Error::protocol("the temporary key has characters a URL cannot carry")
                    .with_provider(PROVIDER)
                    .with_operation("create temporary key"),
            );
        }
        Ok(Secret::new(d.data.key))
    }

    /// `DELETE /api/keys/{key}` — revokes a temporary key (204). The key is in the path, so
    /// the call hides its path from traces and errors, and the error body is not read through
    /// the traced readers.
    pub async fn revoke_temporary_key(&self, key: &Secret) -> Result<()> {
        let op = "revoke temporary key";
        let url = self.endpoint(&format!("keys/{}", key.expose()))?;
        let resp = self
            .http
            .send(Call::api(Repeat::Safe).with_secret_path(), |c| {
                self.authorized(c.delete(url.clone()))
            })
            .await
            .map_err(|e| e.or_operation(op))?;
        if resp.status().is_success() {
            return Ok(());
        }
        let (status, headers) = (resp.status(), resp.headers().clone());
        let body = quiet_error_body(resp).await;
        let e = answer_error(op, status, &headers, &body);
        Err(scrub(e, &[key, &self.token]))
    }

    /// `POST /api/downloads {files}` — a single-use download of the account's own files,
    /// valid for one minute. Returns its id.
    pub async fn create_download(&self, files: &[&str]) -> Result<String> {
        let op = "create download";
        let url = self.endpoint("downloads")?;
        let d: Data<api::DownloadRef> = self.post(op, &url, &json!({ "files": files })).await?;
        api::uuid(&d.data.id).ok_or_else(|| {
            Error::protocol("the download id is not a UUID")
                .with_provider(PROVIDER)
                .with_operation(op)
        })
    }

    /// `POST /api/downloads/{id}/keys {pinKey}` — the public download key.
    pub async fn create_public_key(&self, download_id: &str, pin_key: &Secret) -> Result<Secret> {
        let op = "create public key";
        let url = self.endpoint(&format!("downloads/{download_id}/keys"))?;
        let d: Data<api::PublicKey> = self
            .post(op, &url, &json!({ "pinKey": pin_key.expose() }))
            .await
            .map_err(|e| scrub(e, &[pin_key]))?;
        if !api::url_safe_key(&d.data.key) {
            return Err(
                Error::protocol("the public key has characters a URL cannot carry")
                    .with_provider(PROVIDER)
                    .with_operation(op),
            );
        }
        Ok(Secret::new(d.data.key))
    }

    /// GET of the byte URL. Sent once: a manual download may be used up by an attempt whose
    /// answer was lost, so the caller starts again with a new download instead. The token
    /// goes along only to the API's own origin.
    pub async fn fetch(
        &self,
        url: &Url,
        placement: KeyPlacement,
        key: &Secret,
    ) -> Result<reqwest::Response> {
        let op = "fetch bytes";
        let mut call = Call::download(Repeat::Never);
        if placement == KeyPlacement::Path {
            call = call.with_secret_path();
        }
        let same_origin = url.origin() == self.base.origin();
        let resp = self
            .http
            .send(call, |c| {
                let b = c.get(url.clone()).header(ACCEPT, "*/*");
                if same_origin {
                    b.bearer_auth(self.token.expose())
                } else {
                    b
                }
            })
            .await
            .map_err(|e| e.or_operation(op))?;
        if resp.status().is_success() {
            return Ok(resp);
        }
        let (status, headers) = (resp.status(), resp.headers().clone());
        let body = quiet_error_body(resp).await;
        let mut e = answer_error(op, status, &headers, &body);
        if status == http::StatusCode::NOT_FOUND {
            // The byte URL is an assumption: say so where it shows.
            e = Error::new(
                e.kind(),
                "the download expired or was used up, or `download_url` does not match the service",
            )
            .with_provider(PROVIDER)
            .with_operation(op)
            .with_status(404)
            .with_service_error(e.service_code(), e.service_message());
        }
        Err(scrub(e, &[key, &self.token]))
    }

    /// `GET /api/inbox` without a token: the status and the start of the answer.
    pub async fn probe(&self) -> Result<(http::StatusCode, bytes::Bytes)> {
        let url = self.endpoint("inbox")?;
        let resp = self
            .http
            .send(Call::api(Repeat::Safe), |c| {
                c.get(url.clone()).header(ACCEPT, "application/json")
            })
            .await
            .map_err(|e| e.or_operation("reach"))?;
        let status = resp.status();
        Ok((status, quiet_error_body(resp).await))
    }
}

/// The start of an error body, read without tracing the answer's URL (which may hold a key).
async fn quiet_error_body(mut resp: reqwest::Response) -> bytes::Bytes {
    let mut buf = BytesMut::new();
    while buf.len() < ERROR_BODY_CAP {
        match resp.chunk().await {
            Ok(Some(c)) => {
                let room = ERROR_BODY_CAP - buf.len();
                buf.extend_from_slice(&c[..c.len().min(room)]);
            }
            _ => break,
        }
    }
    buf.freeze()
}
