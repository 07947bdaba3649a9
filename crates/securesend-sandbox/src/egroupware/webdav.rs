//! `webdav.php/…`: the VFS over WebDAV — GET/HEAD (single and multiple ranges), PUT (quota,
//! locks, missing parents), MKCOL, DELETE and PROPFIND ([`super::propfind`]). Users write below
//! `/home/<login>/`.

use std::sync::Arc;
use std::time::SystemTime;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use bytes::Bytes;
use futures::StreamExt;
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use percent_encoding::percent_decode_str;

use super::auth::{Session, authenticate};
use super::mail::type_by_extension;
use super::propfind::propfind;
use super::reply::{WEBDAV_REALM, empty, status};
use super::state::{APP_FILEMANAGER, Node, State as Egw};
use crate::range::RangeOutcome;
use crate::store::{FileStore, StoreError, StoredFile};
use crate::tokens::{TokenFormat, random_token};

/// The normalised path of a request, or `None` for one with `..`.
fn vfs_path(raw: &str) -> Option<String> {
    let mut out = String::new();
    for seg in raw.split('/') {
        let seg = percent_decode_str(seg).decode_utf8_lossy();
        match seg.as_ref() {
            "" | "." => {}
            ".." => return None,
            s => {
                out.push('/');
                out.push_str(s);
            }
        }
    }
    Some(if out.is_empty() { "/".to_owned() } else { out })
}

fn parent(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) | None => "/",
        Some(i) => &path[..i],
    }
}

fn home(session: &Session<'_>) -> String {
    format!("/home/{}", session.account.login)
}

fn readable(session: &Session<'_>, path: &str) -> bool {
    let home = home(session);
    session.account.admin
        || path == "/"
        || path == "/home"
        || path == home
        || path.starts_with(&format!("{home}/"))
}

fn writable(session: &Session<'_>, path: &str) -> bool {
    session.account.admin || path.starts_with(&format!("{}/", home(session)))
}

/// The `webdav.php` entry point.
pub(crate) async fn handle(State(state): State<Arc<Egw>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let raw = parts
        .uri
        .path()
        .strip_prefix("/egroupware/webdav.php")
        .unwrap_or("");
    let query = parts.uri.query().unwrap_or("");
    let auth = query
        .split('&')
        .find_map(|p| p.strip_prefix("auth="))
        .map(|v| percent_decode_str(v).decode_utf8_lossy().into_owned());
    let session = match authenticate(
        &state,
        &parts.headers,
        auth.as_deref(),
        WEBDAV_REALM,
        APP_FILEMANAGER,
    ) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let Some(path) = vfs_path(raw) else {
        return empty(400, "Bad Request");
    };
    let download = query
        .split('&')
        .any(|p| p == "download" || p.starts_with("download="));
    let headers = &parts.headers;
    let mut response = match parts.method {
        Method::GET => get(&state, &session, &path, headers, download).await,
        Method::HEAD => {
            let r = get(&state, &session, &path, headers, download).await;
            let (parts, _) = r.into_parts();
            Response::from_parts(parts, Body::empty())
        }
        Method::PUT => put(&state, &session, &path, headers, body).await,
        ref m if m.as_str() == "MKCOL" => mkcol(&state, &session, &path, headers),
        Method::DELETE => delete(&state, &session, &path).await,
        ref m if m.as_str() == "PROPFIND" => {
            propfind(&state, &path, headers, body, |p| readable(&session, p)).await
        }
        _ => empty(501, "Not Implemented"),
    };
    response.headers_mut().remove("x-dav-powered-by");
    response
}

/// GET of a file (with ranges) or of a folder (an HTML index).
async fn get(
    state: &Egw,
    session: &Session<'_>,
    path: &str,
    headers: &HeaderMap,
    download: bool,
) -> Response {
    if !readable(session, path) {
        return empty(403, "Forbidden");
    }
    let node = state.inner().vfs.get(path).cloned();
    match node {
        None => empty(404, "Not Found"),
        Some(Node::Dir { .. }) => {
            let inner = state.inner();
            let prefix = if path == "/" {
                "/".to_owned()
            } else {
                format!("{path}/")
            };
            let items: String = inner
                .vfs
                .keys()
                .filter_map(|k| k.strip_prefix(&prefix))
                .filter(|rest| !rest.is_empty() && !rest.contains('/'))
                .map(|name| format!("<li>{name}</li>"))
                .collect();
            let mut r = status(
                200,
                "",
                Body::from(format!(
                    "<html><head><title>Index of {path}</title></head><body><h1>Index of {path}</h1><ul>{items}</ul></body></html>"
                )),
            );
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            );
            r
        }
        Some(Node::File {
            file_id,
            content_type,
            modified,
            etag,
            ..
        }) => {
            let store = state.ctx.store();
            let Some(file) = store.get(&file_id) else {
                return empty(404, "Not Found");
            };
            let mut r = match ranged(store, &file, headers, &content_type).await {
                Ok(r) => r,
                Err(_) => return empty(500, "Internal Server Error"),
            };
            let h = r.headers_mut();
            h.insert(
                header::LAST_MODIFIED,
                HeaderValue::from_str(&httpdate::fmt_http_date(modified))
                    .unwrap_or(HeaderValue::from_static("")),
            );
            if let Ok(v) = HeaderValue::from_str(&format!("\"{etag}\"")) {
                h.insert(header::ETAG, v);
            }
            h.insert(
                "x-content-type-options",
                HeaderValue::from_static("nosniff"),
            );
            if download {
                let name = path.rsplit('/').next().unwrap_or("download");
                let ascii: String = name
                    .chars()
                    .map(|c| {
                        if c.is_ascii_graphic() && c != '"' {
                            c
                        } else {
                            '_'
                        }
                    })
                    .collect();
                if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{ascii}\"")) {
                    h.insert(header::CONTENT_DISPOSITION, v);
                }
            }
            r
        }
    }
}

/// Answers a download honouring single and multiple byte ranges: one satisfiable range is a
/// 206 with `Content-Range`, several a 206 `multipart/byteranges`, none a 416.
async fn ranged(
    store: &FileStore,
    file: &StoredFile,
    headers: &HeaderMap,
    content_type: &str,
) -> std::io::Result<Response> {
    let spec = headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().strip_prefix("bytes="))
        .filter(|s| s.contains(','));
    let Some(spec) = spec else {
        return store.respond(file, headers, content_type).await;
    };
    let mut ranges = Vec::new();
    for part in spec.split(',') {
        let one = HeaderValue::from_str(&format!("bytes={}", part.trim()))
            .map_err(std::io::Error::other)?;
        match RangeOutcome::from_header(Some(&one), file.size) {
            RangeOutcome::Partial { start, end } => ranges.push((start, end)),
            RangeOutcome::Unsatisfiable => {}
            // An invalid part makes the whole header ignored.
            RangeOutcome::Full => {
                return store.respond(file, &HeaderMap::new(), content_type).await;
            }
        }
    }
    match ranges.as_slice() {
        [] => {
            let mut h = HeaderMap::new();
            h.insert(header::RANGE, HeaderValue::from_static("bytes=-0"));
            store.respond(file, &h, content_type).await
        }
        [(start, end)] => {
            let mut h = HeaderMap::new();
            let one = HeaderValue::from_str(&format!("bytes={start}-{end}"))
                .map_err(std::io::Error::other)?;
            h.insert(header::RANGE, one);
            store.respond(file, &h, content_type).await
        }
        _ => multipart(store, file, &ranges, content_type).await,
    }
}

async fn multipart(
    store: &FileStore,
    file: &StoredFile,
    ranges: &[(u64, u64)],
    content_type: &str,
) -> std::io::Result<Response> {
    let boundary = random_token(TokenFormat::Alphanumeric { len: 24 });
    let mut parts = Vec::new();
    let mut length = 0u64;
    for (start, end) in ranges {
        let head = format!(
            "\r\n--{boundary}\r\nContent-Type: {content_type}\r\nContent-Range: bytes {start}-{end}/{}\r\n\r\n",
            file.size
        );
        length += head.len() as u64 + (end - start + 1);
        let body = store.read_range(file, *start, end - start + 1).await?;
        parts.push(
            futures::stream::once(async move { Ok(Bytes::from(head)) })
                .chain(body)
                .boxed(),
        );
    }
    let tail = format!("\r\n--{boundary}--\r\n");
    length += tail.len() as u64;
    parts.push(futures::stream::once(async move { Ok(Bytes::from(tail)) }).boxed());
    let body = futures::stream::iter(parts).flatten();
    Response::builder()
        .status(StatusCode::PARTIAL_CONTENT)
        .header(header::ACCEPT_RANGES, "bytes")
        .header(
            header::CONTENT_TYPE,
            format!("multipart/byteranges; boundary={boundary}"),
        )
        .header(header::CONTENT_LENGTH, length)
        .body(Body::from_stream(body))
        .map_err(std::io::Error::other)
}

/// The `Content-*` headers a PUT may carry; others are refused like EGroupware does.
fn put_header_checks(state: &Egw, headers: &HeaderMap) -> Option<Response> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if ct
        .trim_start()
        .to_ascii_lowercase()
        .starts_with("multipart/")
    {
        return Some(empty(501, "Not Implemented"));
    }
    let chunked = headers
        .get(header::TRANSFER_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    if chunked && state.control.fastcgi() {
        return Some(empty(501, "Not Implemented"));
    }
    for name in headers.keys() {
        match name.as_str() {
            "content-type" | "content-length" | "content-language" => {}
            "content-encoding" => {
                let enc = headers[name]
                    .to_str()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase();
                if !(enc.is_empty() || enc == "identity") {
                    return Some(empty(415, "Unsupported Media Type"));
                }
            }
            // Partial PUT (Content-Range) exists on the real server but is not emulated.
            n if n.starts_with("content-") => return Some(empty(501, "Not Implemented")),
            _ => {}
        }
    }
    None
}

/// Bytes stored below `/home/<user>` (the quota's owner), leaving out `except`.
fn used(state: &Egw, owner_home: &str, except: &str) -> u64 {
    let prefix = format!("{owner_home}/");
    state
        .inner()
        .vfs
        .iter()
        .filter(|(k, _)| k.starts_with(&prefix) && k.as_str() != except)
        .map(|(_, n)| match n {
            Node::File { size, .. } => *size,
            Node::Dir { .. } => 0,
        })
        .sum()
}

async fn put(
    state: &Egw,
    session: &Session<'_>,
    path: &str,
    headers: &HeaderMap,
    body: Body,
) -> Response {
    if let Some(r) = put_header_checks(state, headers) {
        return r;
    }
    let existing = state.inner().vfs.get(path).cloned();
    if !matches!(state.inner().vfs.get(parent(path)), Some(Node::Dir { .. })) {
        return empty(409, "Conflict");
    }
    if matches!(existing, Some(Node::Dir { .. })) || !writable(session, path) {
        return empty(403, "Forbidden");
    }
    if state.control.is_locked(path) {
        return empty(423, "Locked");
    }
    let owner_home: String = path.split('/').take(3).collect::<Vec<_>>().join("/");
    let owner = owner_home.rsplit('/').next().unwrap_or("");
    let limit = state
        .control
        .quota(owner)
        .map(|q| q.saturating_sub(used(state, &owner_home, path)));
    let announced = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if let (Some(limit), Some(len)) = (limit, announced) {
        if len > limit {
            return empty(413, "Request Entity Too Large");
        }
    }
    let name = path.rsplit('/').next().unwrap_or("");
    let store = state.ctx.store();
    let stored = match store.write_body(name, body, limit).await {
        Ok(s) => s,
        Err(StoreError::TooLarge { .. }) => return empty(413, "Request Entity Too Large"),
        Err(_) => return empty(500, "Internal Server Error"),
    };
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| type_by_extension(name))
        .to_owned();
    let node = Node::File {
        file_id: stored.id.clone(),
        size: stored.size,
        content_type,
        modified: state.ctx.clock().now(),
        etag: stored.sha256[..16].to_owned(),
    };
    let replaced = state.inner().vfs.insert(path.to_owned(), node);
    if let Some(Node::File { file_id, .. }) = replaced {
        store.remove(&file_id).await;
        return empty(204, "No Content");
    }
    empty(201, "Created")
}

fn mkcol(state: &Egw, session: &Session<'_>, path: &str, headers: &HeaderMap) -> Response {
    let mut inner = state.inner();
    if inner.vfs.contains_key(path) {
        return empty(405, "Method Not Allowed");
    }
    if !matches!(inner.vfs.get(parent(path)), Some(Node::Dir { .. })) {
        return empty(409, "Conflict");
    }
    if !writable(session, path) {
        return empty(403, "Forbidden");
    }
    let has_body = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v != "0");
    if has_body {
        return empty(415, "Unsupported Media Type");
    }
    let modified = state.ctx.clock().now();
    inner.vfs.insert(path.to_owned(), Node::Dir { modified });
    empty(201, "Created")
}

async fn delete(state: &Egw, session: &Session<'_>, path: &str) -> Response {
    if !state.inner().vfs.contains_key(path) {
        return empty(404, "Not Found");
    }
    if !writable(session, path) {
        return empty(403, "Forbidden");
    }
    let prefix = format!("{path}/");
    let removed: Vec<Node> = {
        let mut inner = state.inner();
        let keys: Vec<String> = inner
            .vfs
            .keys()
            .filter(|k| k.as_str() == path || k.starts_with(&prefix))
            .cloned()
            .collect();
        keys.iter().filter_map(|k| inner.vfs.remove(k)).collect()
    };
    for node in removed {
        if let Node::File { file_id, .. } = node {
            state.ctx.store().remove(&file_id).await;
        }
    }
    empty(204, "No Content")
}

/// Adds a file to the VFS (seeding).
pub(crate) fn seed_file(state: &Egw, path: &str, file: &StoredFile, now: SystemTime) {
    state.inner().vfs.insert(
        path.to_owned(),
        Node::File {
            file_id: file.id.clone(),
            size: file.size,
            content_type: type_by_extension(path).to_owned(),
            modified: now,
            etag: file.sha256[..16].to_owned(),
        },
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        assert_eq!(
            vfs_path("/home/ralf/a%20b.txt").as_deref(),
            Some("/home/ralf/a b.txt")
        );
        assert_eq!(vfs_path("").as_deref(), Some("/"));
        assert_eq!(vfs_path("/home//ralf/").as_deref(), Some("/home/ralf"));
        assert_eq!(vfs_path("/home/../etc"), None);
        assert_eq!(parent("/home/ralf/a"), "/home/ralf");
        assert_eq!(parent("/home"), "/");
    }
}
