//! The user, folders, search and files.

use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::HeaderMap;
use serde_json::{Value, json};

use super::Kw;
use super::state::{FileRec, Fingerprints, Folder, file_json, folder_json};
use super::wire::{self, error, json_answer, no_content, parse_body, query_flag, query_value};
use crate::error::SandboxError;
use crate::store::StoredFile;

/// Unknown (or not the user's) ids are answered like this since server 5.1, not with 404.
pub(crate) fn no_access() -> Response {
    error(403, "ERR_ACCESS_USER", "Insufficient access permissions")
}

/// Names the service refuses: empty, too long, reserved characters, control characters.
pub(crate) fn valid_name(name: &str) -> bool {
    !name.trim().is_empty()
        && name.len() <= 255
        && !name
            .chars()
            .any(|c| c.is_control() || matches!(c, '/' | '\\' | ':' | '*' | '"' | '<' | '>' | '|'))
}

/// A file record for bytes just stored, with fingerprints due after the configured delay.
pub(crate) async fn file_record(
    kw: &Kw,
    stored: StoredFile,
    name: &str,
    folder_id: Option<String>,
    mail_id: Option<String>,
) -> std::io::Result<FileRec> {
    let crate::store::Fingerprints {
        mut md5,
        sha3_256: sha3,
    } = kw.ctx().store().fingerprints(&stored).await?;
    if kw.corrupt_fingerprints() {
        md5 = "0".repeat(32);
    }
    let now = kw.now();
    let mime = mime_of(name);
    Ok(FileRec {
        id: uuid::Uuid::new_v4().to_string(),
        folder_id,
        mail_id,
        name: name.to_owned(),
        mime,
        stored,
        fingerprints: Fingerprints {
            md5,
            sha3_256: sha3,
            ready_at: kw.ctx().clock().elapsed() + kw.fingerprint_delay(),
        },
        created: now,
        modified: now,
        versions: 1,
        deleted: false,
    })
}

fn mime_of(name: &str) -> String {
    match name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .as_deref()
    {
        Some("txt") => "text/plain",
        Some("pdf") => "application/pdf",
        Some("csv") => "text/csv",
        Some("json") => "application/json",
        Some("png") => "image/png",
        _ => "application/octet-stream",
    }
    .to_owned()
}

/// Seeds a file into a folder; returns its Kiteworks id and the stored file.
pub(crate) async fn seed_file(
    kw: &Kw,
    folder: &str,
    name: &str,
    content: &'static str,
) -> Result<(String, StoredFile), SandboxError> {
    let stored = kw.ctx().store().put_bytes(name, content).await?;
    let mut rec = file_record(kw, stored.clone(), name, Some(folder.to_owned()), None)
        .await
        .map_err(|e| SandboxError::Options(format!("seeding {name}: {e}")))?;
    // Seeded files have had time to be fingerprinted.
    rec.fingerprints.ready_at = std::time::Duration::ZERO;
    let id = rec.id.clone();
    kw.data().files.insert(id.clone(), rec);
    Ok((id, stored))
}

/// `GET /rest/users/me`.
pub(crate) async fn me(State(kw): State<Kw>) -> Response {
    let u = kw.user();
    json_answer(
        200,
        &json!({
            "id": u.id,
            "email": u.email,
            "name": u.name,
            "basedirId": u.basedir_id,
            "mydirId": u.mydir_id,
            "syncdirId": u.mydir_id,
            "active": true,
            "verified": true,
        }),
    )
}

/// The page a list call asks for: `offset` and `limit` (no limit: everything, as the service
/// does), and the order (`orderBy=name:asc` by default; `name:desc` too).
struct Paging {
    offset: usize,
    limit: Option<usize>,
    descending: bool,
}

impl Paging {
    fn from_query(q: Option<&str>) -> Result<Paging, Response> {
        let number = |key: &str| -> Result<Option<usize>, Response> {
            match query_value(q, key) {
                None => Ok(None),
                Some(v) => v.parse::<usize>().map(Some).map_err(|_| {
                    error(
                        422,
                        "ERR_INPUT_INVALID_FORMAT",
                        &format!("{key} must be a non-negative integer"),
                    )
                }),
            }
        };
        let descending = match query_value(q, "orderBy").as_deref() {
            None | Some("name:asc") | Some("name") => false,
            Some("name:desc") => true,
            Some(_) => {
                return Err(error(
                    422,
                    "ERR_INPUT_INVALID_FORMAT",
                    "unsupported orderBy",
                ));
            }
        };
        Ok(Paging {
            offset: number("offset")?.unwrap_or(0),
            limit: number("limit")?,
            descending,
        })
    }
}

/// A `{data, metadata}` answer holding the page of `items` (name, json) that `paging` asks for.
fn listing(mut items: Vec<(String, Value)>, paging: &Paging) -> Response {
    items.sort_by(|a, b| {
        a.0.to_lowercase()
            .cmp(&b.0.to_lowercase())
            .then(a.0.cmp(&b.0))
    });
    if paging.descending {
        items.reverse();
    }
    let total = items.len();
    let page: Vec<Value> = items
        .into_iter()
        .skip(paging.offset)
        .take(paging.limit.unwrap_or(usize::MAX))
        .map(|(_, v)| v)
        .collect();
    json_answer(
        200,
        &json!({ "data": page, "metadata": { "total": total, "limit": paging.limit, "offset": paging.offset } }),
    )
}

fn folder_value(kw: &Kw, f: &Folder) -> Value {
    let path = kw.data().folder_path(&f.id, &kw.user().basedir_id);
    folder_json(f, &path, kw.user())
}

/// `GET /rest/search?path=…`: the folder or file at exactly that path.
pub(crate) async fn search(State(kw): State<Kw>, RawQuery(q): RawQuery) -> Response {
    let Some(path) = query_value(q.as_deref(), "path") else {
        // Only path search is emulated.
        return json_answer(
            200,
            &json!({ "id": "search", "fullTextSearch": false, "files": [], "folders": [], "emails": [],
                     "metadata": { "files": 0, "folders": 0, "emails": 0 } }),
        );
    };
    let root = kw.user().basedir_id.clone();
    let now = kw.ctx().clock().elapsed();
    let (folders, files) = {
        let data = kw.data();
        let path = path.trim_matches('/');
        let folders: Vec<Value> = data
            .folder_at(path, &root)
            .map(|f| folder_json(f, &data.folder_path(&f.id, &root), kw.user()))
            .into_iter()
            .collect();
        let files: Vec<Value> = match path.rsplit_once('/') {
            Some((dir, name)) => data
                .folder_at(dir, &root)
                .and_then(|d| data.file_in(&d.id, name))
                .map(|f| file_json(f, kw.user(), now, Some(path.to_owned())))
                .into_iter()
                .collect(),
            None => Vec::new(),
        };
        (folders, files)
    };
    json_answer(
        200,
        &json!({
            "id": uuid::Uuid::new_v4().to_string(),
            "fullTextSearch": false,
            "metadata": { "files": files.len(), "folders": folders.len(), "emails": 0 },
            "files": files,
            "folders": folders,
            "emails": [],
        }),
    )
}

/// `GET /rest/folders/top`.
pub(crate) async fn top_folders(State(kw): State<Kw>, RawQuery(q): RawQuery) -> Response {
    let paging = match Paging::from_query(q.as_deref()) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let root = kw.user().basedir_id.clone();
    let tops: Vec<Folder> = kw
        .data()
        .folders
        .values()
        .filter(|f| !f.deleted && f.parent_id == root)
        .cloned()
        .collect();
    listing(
        tops.iter()
            .map(|f| (f.name.clone(), folder_value(&kw, f)))
            .collect(),
        &paging,
    )
}

/// `GET /rest/folders/{id}`.
pub(crate) async fn folder(State(kw): State<Kw>, Path(id): Path<String>) -> Response {
    let f = kw.data().folder(&id).cloned();
    match f {
        Some(f) => json_answer(200, &folder_value(&kw, &f)),
        None => no_access(),
    }
}

/// `GET /rest/folders/{id}/folders?name=…`.
pub(crate) async fn child_folders(
    State(kw): State<Kw>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Response {
    let name = query_value(q.as_deref(), "name");
    let paging = match Paging::from_query(q.as_deref()) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let children: Vec<Folder> = {
        let data = kw.data();
        if data.folder(&id).is_none() {
            return no_access();
        }
        data.folders
            .values()
            .filter(|f| !f.deleted && f.parent_id == id)
            .filter(|f| name.as_ref().is_none_or(|n| f.name.eq_ignore_ascii_case(n)))
            .cloned()
            .collect()
    };
    listing(
        children
            .iter()
            .map(|f| (f.name.clone(), folder_value(&kw, f)))
            .collect(),
        &paging,
    )
}

/// `POST /rest/folders/{parent}/folders` (`0` = top level).
pub(crate) async fn create_folder(
    State(kw): State<Kw>,
    axum::Extension(seq): axum::Extension<crate::journal::RequestSeq>,
    Path(parent): Path<String>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let fields = match parse_body(&headers, &body) {
        Ok(f) => f,
        Err(r) => return r,
    };
    kw.record_body(seq, &fields);
    let Some(name) = fields
        .get("name")
        .and_then(Value::as_str)
        .map(str::to_owned)
    else {
        return error(422, "ERR_INPUT_REQUIRED", "name is required");
    };
    if !valid_name(&name) {
        return error(422, "ERR_INPUT_INVALID_FORMAT", "Invalid folder name");
    }
    let root = kw.user().basedir_id.clone();
    let parent = if parent == "0" { root.clone() } else { parent };
    let folder = {
        let mut data = kw.data();
        if data.folder(&parent).is_none() {
            return no_access();
        }
        if data.child_folder(&parent, &name).is_some() {
            return error(409, "ERR_ENTITY_EXISTS", "Entity exists");
        }
        let f = Folder {
            id: uuid::Uuid::new_v4().to_string(),
            parent_id: parent,
            name,
            created: kw.now(),
            deleted: false,
        };
        data.folders.insert(f.id.clone(), f.clone());
        f
    };
    let entity = (query_flag(q.as_deref(), "returnEntity") && kw.options().return_entities)
        .then(|| folder_value(&kw, &folder));
    wire::created(
        kw.location_header(),
        &kw.url(&format!("folders/{}", folder.id)),
        entity.as_ref(),
    )
}

/// `GET /rest/folders/{id}/files?name=…`.
pub(crate) async fn folder_files(
    State(kw): State<Kw>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Response {
    let name = query_value(q.as_deref(), "name");
    let paging = match Paging::from_query(q.as_deref()) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let now = kw.ctx().clock().elapsed();
    let data = kw.data();
    if data.folder(&id).is_none() {
        return no_access();
    }
    let items: Vec<(String, Value)> = data
        .files
        .values()
        .filter(|f| !f.deleted && f.folder_id.as_deref() == Some(&id))
        .filter(|f| name.as_ref().is_none_or(|n| f.name.eq_ignore_ascii_case(n)))
        .map(|f| (f.name.clone(), file_json(f, kw.user(), now, None)))
        .collect();
    drop(data);
    listing(items, &paging)
}

/// `GET /rest/files/{id}`.
pub(crate) async fn file(State(kw): State<Kw>, Path(id): Path<String>) -> Response {
    let now = kw.ctx().clock().elapsed();
    let data = kw.data();
    match data.files.get(&id).filter(|f| !f.deleted) {
        Some(f) => {
            let path = f
                .folder_id
                .as_ref()
                .map(|d| format!("{}/{}", data.folder_path(d, &kw.user().basedir_id), f.name));
            json_answer(200, &file_json(f, kw.user(), now, path))
        }
        None => no_access(),
    }
}

/// `DELETE /rest/files/{id}` (soft).
pub(crate) async fn delete_file(State(kw): State<Kw>, Path(id): Path<String>) -> Response {
    match kw.data().files.get_mut(&id).filter(|f| !f.deleted) {
        Some(f) => {
            f.deleted = true;
            no_content()
        }
        None => no_access(),
    }
}

/// `GET /rest/files/{id}/content`, with `Range`.
pub(crate) async fn content(
    State(kw): State<Kw>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let found = kw
        .data()
        .files
        .get(&id)
        .filter(|f| !f.deleted)
        .map(|f| (f.stored.clone(), f.mime.clone()));
    let Some((stored, mime)) = found else {
        return no_access();
    };
    match kw.ctx().store().respond(&stored, &headers, &mime).await {
        Ok(r) => r,
        Err(_) => error(500, "ERR_INTERNAL_SERVER_ERROR", "Internal server error").into_response(),
    }
}
