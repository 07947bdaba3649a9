//! The routes and what each checks.

use std::cmp::Ordering;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Query, State as Axum};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use serde_json::{Map, Value, json};

use crate::journal::RequestSeq;
use crate::ratelimit::enforce;
use crate::service::ServiceContext;
use crate::tokens::{Lifetime, TokenFormat, TokenRequest};

use super::render::{self, MailIncludes};
use super::reply::{Failure, Throttle, data, wants_json};
use super::state::{Data, DownloadRec, State};
use super::zip::{self, Entry};
use super::{
    API_TOKEN_KIND, PUBLIC_KEY_KIND, PUBLIC_KEY_LIFETIME, TEMPORARY_KEY_KIND,
    TEMPORARY_KEY_LIFETIME, rate_limit,
};

type St = Axum<Arc<State>>;
type Params = Query<Vec<(String, String)>>;

pub(crate) fn router(state: Arc<State>, ctx: &ServiceContext) -> Router {
    let api = Router::new()
        .route("/api/files", get(list_files))
        .route("/api/files/{id}", get(show_file))
        .route("/api/mails", get(list_sent))
        .route("/api/mails/{id}", get(show_sent))
        .route("/api/inbox", get(list_inbox))
        .route("/api/inbox/{id}", get(show_inbox))
        .route("/api/keys", post(create_key))
        .route("/api/keys/{key}", delete(revoke_key))
        .route("/api/downloads", post(create_download))
        .route("/api/downloads/{id}", get(fetch))
        .route("/api/downloads/{id}/keys", post(create_public_key))
        .fallback(
            |headers: HeaderMap| async move { Failure::NotFound.render(wants_json(&headers)) },
        )
        .with_state(state);
    match ctx.rate_limiter(rate_limit()) {
        Some(limiter) => enforce(
            api,
            limiter,
            Throttle {
                clock: ctx.clock().clone(),
            },
        ),
        None => api,
    }
}

/// Runs `f` for the authenticated caller and renders its failure the way the client asked.
fn answer(
    st: &State,
    headers: &HeaderMap,
    seq: Option<RequestSeq>,
    f: impl FnOnce(usize) -> Result<Response, Failure>,
) -> Response {
    let json = wants_json(headers);
    let result = caller(st, headers).and_then(f);
    match result {
        Ok(r) => r,
        Err(failure) => {
            if let Some(seq) = seq {
                st.ctx.journal().note(seq, format!("{failure:?}"));
            }
            failure.render(json)
        }
    }
}

fn caller(st: &State, headers: &HeaderMap) -> Result<usize, Failure> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.get(..7)
                .filter(|p| p.eq_ignore_ascii_case("bearer "))
                .map(|_| &v[7..])
        })
        .ok_or(Failure::Unauthenticated)?;
    let info = st
        .ctx
        .tokens()
        .validate(API_TOKEN_KIND, token.trim())
        .map_err(|_| Failure::Unauthenticated)?;
    st.data()
        .user_by_email(&info.subject)
        .ok_or(Failure::Unauthenticated)
}

/// Query parameters of a list: `include`, `sort`, `keyword`.
#[derive(Debug, Default)]
struct ListQuery {
    includes: Vec<String>,
    sorts: Vec<(String, bool)>,
    keyword: Option<String>,
}

fn list_query(
    params: &[(String, String)],
    sorts: &[&str],
    includes: &[&str],
) -> Result<ListQuery, Failure> {
    let mut q = ListQuery::default();
    for (name, value) in params {
        match name.as_str() {
            "include" => {
                let asked: Vec<&str> = value.split(',').filter(|s| !s.is_empty()).collect();
                let unknown: Vec<&str> = asked
                    .iter()
                    .copied()
                    .filter(|i| !includes.contains(i))
                    .collect();
                if !unknown.is_empty() {
                    return Err(Failure::BadQuery(format!(
                        "Requested include(s) `{}` are not allowed. Allowed include(s) are `{}`.",
                        unknown.join(", "),
                        includes.join(", ")
                    )));
                }
                q.includes.extend(asked.iter().map(|s| (*s).to_owned()));
            }
            "sort" => {
                for s in value.split(',').filter(|s| !s.is_empty()) {
                    let (field, desc) = match s.strip_prefix('-') {
                        Some(f) => (f, true),
                        None => (s, false),
                    };
                    if !sorts.contains(&field) {
                        return Err(Failure::BadQuery(format!(
                            "Requested sort(s) `{field}` is not allowed. Allowed sort(s) are `{}`.",
                            sorts.join(", ")
                        )));
                    }
                    q.sorts.push((field.to_owned(), desc));
                }
            }
            "keyword" if !value.trim().is_empty() => q.keyword = Some(value.to_lowercase()),
            _ => {}
        }
    }
    Ok(q)
}

impl ListQuery {
    fn mail_includes(&self) -> MailIncludes {
        MailIncludes {
            download: self.includes.iter().any(|i| i == "download"),
            download_files: self.includes.iter().any(|i| i == "download.files"),
            author: self.includes.iter().any(|i| i == "author"),
        }
    }

    fn matches(&self, fields: &[&str]) -> bool {
        self.keyword
            .as_ref()
            .is_none_or(|k| fields.iter().any(|f| f.to_lowercase().contains(k)))
    }

    /// Sorts `items` by the requested fields; `key` gives an item's value for a field.
    fn sort<T>(&self, items: &mut [T], key: impl Fn(&T, &str) -> SortKey) {
        items.sort_by(|a, b| {
            for (field, desc) in &self.sorts {
                let o = key(a, field).cmp(&key(b, field));
                let o = if *desc { o.reverse() } else { o };
                if o != Ordering::Equal {
                    return o;
                }
            }
            Ordering::Equal
        });
    }
}

#[derive(PartialEq, Eq, PartialOrd, Ord)]
enum SortKey {
    Text(String),
    Number(u64),
}

fn text(s: &str) -> SortKey {
    SortKey::Text(s.to_lowercase())
}

fn time(t: std::time::SystemTime) -> SortKey {
    SortKey::Number(
        t.duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs(),
    )
}

const FILE_SORTS: &[&str] = &["filename_original", "size", "encrypted_size", "created_at"];
const FILE_INCLUDES: &[&str] = &["category"];
const MAIL_INCLUDES: &[&str] = &["download", "download.files", "author"];
const SENT_SORTS: &[&str] = &["subject", "recipient_email", "created_at", "sent_at"];
const INBOX_SORTS: &[&str] = &["subject", "created_by_email", "received_at"];

async fn list_files(Axum(st): St, headers: HeaderMap, Query(params): Params) -> Response {
    answer(&st, &headers, None, |me| {
        let q = list_query(&params, FILE_SORTS, FILE_INCLUDES)?;
        let d = st.data();
        let mut files: Vec<_> = d
            .files
            .iter()
            .filter(|f| f.owner == me && q.matches(&[&f.full_filename()]))
            .collect();
        q.sort(&mut files, |f, field| match field {
            "filename_original" => text(&f.full_filename()),
            "size" => SortKey::Number(f.size()),
            "encrypted_size" => SortKey::Number(f.encrypted_size()),
            _ => time(f.created_at),
        });
        let category = !q.includes.is_empty();
        let list: Vec<Value> = files
            .iter()
            .map(|f| render::file(&d, f, category))
            .collect();
        Ok(data(StatusCode::OK, Value::Array(list)))
    })
}

async fn show_file(
    Axum(st): St,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(params): Params,
) -> Response {
    answer(&st, &headers, None, |me| {
        let q = list_query(&params, &[], FILE_INCLUDES)?;
        let d = st.data();
        // Another account's file answers like an unknown one (assumed; 403 is as plausible).
        let f = d
            .file(&id)
            .filter(|f| f.owner == me)
            .ok_or(Failure::NotFound)?;
        Ok(data(
            StatusCode::OK,
            render::file(&d, f, !q.includes.is_empty()),
        ))
    })
}

async fn list_sent(Axum(st): St, headers: HeaderMap, Query(params): Params) -> Response {
    answer(&st, &headers, None, |me| {
        let q = list_query(&params, SENT_SORTS, MAIL_INCLUDES)?;
        let d = st.data();
        let mut mails: Vec<_> = d
            .sent
            .iter()
            .filter(|m| {
                let to = &d.users[m.recipient];
                m.owner == me
                    && q.matches(&[
                        &m.identifier,
                        &m.subject,
                        &to.email,
                        &to.name,
                        &d.users[m.owner].name,
                    ])
            })
            .collect();
        q.sort(&mut mails, |m, field| match field {
            "subject" => text(&m.subject),
            "recipient_email" => text(&d.users[m.recipient].email),
            "sent_at" => time(m.sent_at),
            _ => time(m.created_at),
        });
        let inc = q.mail_includes();
        let list = mails
            .iter()
            .map(|m| render::sent_mail(&d, m, inc))
            .collect();
        Ok(data(StatusCode::OK, Value::Array(list)))
    })
}

async fn show_sent(
    Axum(st): St,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(params): Params,
) -> Response {
    answer(&st, &headers, None, |me| {
        let q = list_query(&params, &[], MAIL_INCLUDES)?;
        let d = st.data();
        let m = d
            .sent
            .iter()
            .find(|m| m.id == id && m.owner == me)
            .ok_or(Failure::NotFound)?;
        Ok(data(
            StatusCode::OK,
            render::sent_mail(&d, m, q.mail_includes()),
        ))
    })
}

async fn list_inbox(Axum(st): St, headers: HeaderMap, Query(params): Params) -> Response {
    answer(&st, &headers, None, |me| {
        let q = list_query(&params, INBOX_SORTS, MAIL_INCLUDES)?;
        let d = st.data();
        let mut mails: Vec<_> = d
            .inbox
            .iter()
            .filter(|m| {
                let from = &d.users[m.sender];
                m.owner == me && q.matches(&[&m.identifier, &m.subject, &from.email, &from.name])
            })
            .collect();
        q.sort(&mut mails, |m, field| match field {
            "subject" => text(&m.subject),
            "created_by_email" => text(&d.users[m.sender].email),
            _ => time(m.received_at),
        });
        let inc = q.mail_includes();
        let list = mails
            .iter()
            .map(|m| render::inbox_mail(&d, m, inc))
            .collect();
        Ok(data(StatusCode::OK, Value::Array(list)))
    })
}

async fn show_inbox(
    Axum(st): St,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(params): Params,
) -> Response {
    answer(&st, &headers, None, |me| {
        let q = list_query(&params, &[], MAIL_INCLUDES)?;
        let d = st.data();
        // Reading a mail leaves `opened` alone: whether it flips is undocumented.
        let m = d
            .inbox
            .iter()
            .find(|m| m.id == id && m.owner == me)
            .ok_or(Failure::NotFound)?;
        Ok(data(
            StatusCode::OK,
            render::inbox_mail(&d, m, q.mail_includes()),
        ))
    })
}

/// The body's fields. Only a JSON body (by its `Content-Type`) is read, and a body that is not
/// a JSON object counts as empty, as in Laravel: every field is then missing.
fn fields(headers: &HeaderMap, body: &Bytes) -> Map<String, Value> {
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| {
            t.trim_start()
                .to_ascii_lowercase()
                .starts_with("application/json")
        });
    if !is_json {
        return Map::new();
    }
    match serde_json::from_slice(body) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    }
}

/// A required string field, with Laravel's messages (`attribute` as Laravel spells it).
fn required_string<'a>(
    fields: &'a Map<String, Value>,
    name: &str,
    attribute: &str,
) -> Result<&'a str, Failure> {
    match fields.get(name) {
        None | Some(Value::Null) => Err(Failure::field(
            name,
            format!("The {attribute} field is required."),
        )),
        Some(Value::String(s)) if s.is_empty() => Err(Failure::field(
            name,
            format!("The {attribute} field is required."),
        )),
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(Failure::field(
            name,
            format!("The {attribute} must be a string."),
        )),
    }
}

async fn create_key(
    Axum(st): St,
    headers: HeaderMap,
    seq: axum::Extension<RequestSeq>,
    body: Bytes,
) -> Response {
    answer(&st, &headers, Some(seq.0), |me| {
        let f = fields(&headers, &body);
        let pin = required_string(&f, "pin", "pin")?;
        let email = {
            let d = st.data();
            if d.users[me].pin != pin {
                return Err(Failure::field("pin", "Invalid PIN."));
            }
            d.users[me].email.clone()
        };
        let key = st.ctx.tokens().issue_with(
            TokenRequest::new(TEMPORARY_KEY_KIND, &email)
                .lifetime(Lifetime::For(TEMPORARY_KEY_LIFETIME))
                .format(TokenFormat::Alphanumeric { len: 32 }),
        );
        let expires_at = key.expires_at.map(render::timestamp).unwrap_or_default();
        Ok(data(
            StatusCode::CREATED,
            json!({ "key": key.value, "expires_at": expires_at }),
        ))
    })
}

async fn revoke_key(Axum(st): St, headers: HeaderMap, Path(key): Path<String>) -> Response {
    answer(&st, &headers, None, |me| {
        let email = st.data().users[me].email.clone();
        match st.ctx.tokens().validate(TEMPORARY_KEY_KIND, &key) {
            Ok(info) if info.subject == email => {
                st.ctx.tokens().revoke(&key);
                Ok(StatusCode::NO_CONTENT.into_response())
            }
            _ => Err(Failure::NotFound),
        }
    })
}

async fn create_download(Axum(st): St, headers: HeaderMap, body: Bytes) -> Response {
    answer(&st, &headers, None, |me| {
        let f = fields(&headers, &body);
        let required = || Failure::field("files", "The files field is required.");
        let list = match f.get("files") {
            None | Some(Value::Null) => return Err(required()),
            Some(Value::String(s)) if s.is_empty() => return Err(required()),
            Some(Value::Array(a)) if a.is_empty() => return Err(required()),
            Some(Value::Array(a)) => a,
            Some(_) => {
                return Err(Failure::field("files", "The files must be an array."));
            }
        };
        let now = st.now();
        let elapsed = st.elapsed();
        let mut d = st.data();
        let mut errors = Vec::new();
        let mut ids = Vec::new();
        for (i, v) in list.iter().enumerate() {
            let own = v
                .as_str()
                .and_then(|id| d.file(id))
                .filter(|file| file.owner == me && !file.trashed);
            match own {
                Some(file) => ids.push(file.id.clone()),
                None => errors.push((
                    format!("files.{i}"),
                    format!("The selected files.{i} is invalid."),
                )),
            }
        }
        if !errors.is_empty() {
            return Err(Failure::Invalid(errors));
        }
        let id = uuid::Uuid::new_v4().to_string();
        d.downloads.push(DownloadRec {
            id: id.clone(),
            owner: me,
            files: ids,
            created_at: now,
            created: elapsed,
            manual: true,
        });
        Ok(data(
            StatusCode::CREATED,
            json!({ "id": id, "created_at": render::timestamp(now) }),
        ))
    })
}

async fn create_public_key(
    Axum(st): St,
    headers: HeaderMap,
    seq: axum::Extension<RequestSeq>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    answer(&st, &headers, Some(seq.0), |me| {
        let now = st.elapsed();
        // Route-model binding comes before validation: an unknown download is a 404 first.
        let (remaining, email) = {
            let mut d = st.data();
            let email = d.users[me].email.clone();
            let download = d
                .live_download(&id, now)
                .filter(|dl| dl.owner == me)
                .ok_or(Failure::NotFound)?;
            (download.remaining(now), email)
        };
        let f = fields(&headers, &body);
        let pin_key = required_string(&f, "pinKey", "pin key")?;
        match st.ctx.tokens().validate(TEMPORARY_KEY_KIND, pin_key) {
            Ok(info) if info.subject == email => {}
            _ => return Err(Failure::field("pinKey", "Pin key does not exists")),
        }
        let lifetime = remaining.map_or(PUBLIC_KEY_LIFETIME, |r| r.min(PUBLIC_KEY_LIFETIME));
        let key = st.ctx.tokens().issue_with(
            TokenRequest::new(PUBLIC_KEY_KIND, &id)
                .lifetime(Lifetime::For(lifetime))
                .format(TokenFormat::Alphanumeric { len: 32 }),
        );
        Ok(data(StatusCode::CREATED, json!({ "key": key.value })))
    })
}

/// `attachment` with an ASCII fallback name and the UTF-8 name (RFC 6266).
fn disposition(name: &str) -> HeaderValue {
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let encoded: String = name
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    HeaderValue::from_str(&format!(
        "attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("attachment"))
}

/// What a download serves, taken out of the records in one step.
enum Serve {
    One(crate::store::StoredFile, String, String),
    Many(Vec<Entry>),
}

/// Finds the download the public key opens; a manual download is removed in the same step,
/// so it serves exactly once.
fn open(d: &mut Data, st: &State, id: &str, key: &str) -> Result<Serve, Failure> {
    let now = st.elapsed();
    let download = d.live_download(id, now).cloned().ok_or(Failure::NotFound)?;
    match st.ctx.tokens().validate(PUBLIC_KEY_KIND, key) {
        Ok(info) if info.subject == id => {}
        _ => return Err(Failure::NotFound),
    }
    if download.manual {
        d.downloads.retain(|x| x.id != download.id);
        st.ctx.tokens().revoke(key);
    }
    let files = d.download_files(&download);
    Ok(match files.as_slice() {
        [one] => Serve::One(one.stored.clone(), one.full_filename(), one.mime.clone()),
        many => Serve::Many(
            many.iter()
                .map(|f| Entry {
                    name: f.full_filename(),
                    crc32: f.crc32,
                    file: f.stored.clone(),
                })
                .collect(),
        ),
    })
}

/// The byte URL (assumed): no bearer token, the public key in `?key=`.
async fn fetch(
    Axum(st): St,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(params): Params,
) -> Response {
    let json = wants_json(&headers);
    let key = params
        .iter()
        .find(|(k, _)| k == "key")
        .map(|(_, v)| v.as_str())
        .unwrap_or_default();
    let serve = {
        let mut d = st.data();
        open(&mut d, &st, &id, key)
    };
    match serve {
        Err(f) => f.render(json),
        Ok(Serve::One(file, name, mime)) => {
            match st.ctx.store().respond(&file, &headers, &mime).await {
                Ok(mut r) => {
                    r.headers_mut()
                        .insert(header::CONTENT_DISPOSITION, disposition(&name));
                    r
                }
                Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
            }
        }
        Ok(Serve::Many(entries)) => match zip::archive(st.ctx.store().clone(), entries) {
            Some((len, stream)) => (
                StatusCode::OK,
                [
                    (
                        header::CONTENT_TYPE,
                        HeaderValue::from_static("application/zip"),
                    ),
                    (header::CONTENT_LENGTH, HeaderValue::from(len)),
                    (
                        header::CONTENT_DISPOSITION,
                        disposition("privasfer-download.zip"),
                    ),
                ],
                axum::body::Body::from_stream(stream),
            )
                .into_response(),
            None => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "archive too large for the sandbox",
            )
                .into_response(),
        },
    }
}
