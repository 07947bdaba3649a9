//! Files and folders: listing, upload, download, folders, public links, deletion.

use std::time::Duration;

use axum::extract::{FromRequest, Multipart, Path, Request, State};
use axum::response::Response;
use bytes::Bytes;
use futures::SinkExt;
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use serde_json::{Value, json};

use super::answer::{Fmt, Refusal, insert_date};
use super::site::{Entry, PAGE_SIZE};
use super::{Call, Svc, check_path, io_other, param, unix};
use crate::journal::RequestSeq;
use crate::store::StoreError;

/// Text fields of a multipart body that carries no file.
pub(super) async fn multipart_fields(req: Request) -> Result<Vec<(String, String)>, String> {
    let mut mp = Multipart::from_request(req, &())
        .await
        .map_err(|_| "The multipart body cannot be read.".to_owned())?;
    let mut out = Vec::new();
    while let Some(field) = mp
        .next_field()
        .await
        .map_err(|_| "The multipart body cannot be read.".to_owned())?
    {
        if field.file_name().is_some() {
            return Err("This method takes no file.".into());
        }
        let name = field.name().unwrap_or_default().to_owned();
        let text = field
            .text()
            .await
            .map_err(|_| "A multipart field cannot be read.".to_owned())?;
        out.push((name, text));
    }
    Ok(out)
}

fn listed(e: &Entry) -> Value {
    json!({
        "id": e.id,
        "name": e.name,
        "type": if e.file.is_some() { "file" } else { "folder" },
        "size": e.file.as_ref().map_or(0, |f| f.size),
        "formattedSize": e.file.as_ref().map_or("0 B".to_owned(), |f| format!("{} B", f.size)),
        "path": e.folder,
        "modDate": e.modified,
        "workspaceId": e.workspace_id,
        "username": "securesend-api",
        "fileComments": u8::from(e.comment.is_some()),
        "scheduledDelete": 0,
        "restricted": 0,
    })
}

fn user_settings(svc: &Svc, user: u64) -> Value {
    let non_user = svc.opts.non_user_sends || user != super::ACCOUNT_ID;
    json!({
        "uploadFiles": 1, "batchUploadFiles": 1, "downloadFiles": 1, "batchDownloadFiles": 1,
        "deleteFiles": 1, "batchDeleteFiles": 1, "moveCopyFiles": 1, "batchMoveCopyFiles": 1,
        "renameFiles": 1, "createFolders": 1, "sendFiles": 1,
        "sendFilesNonUser": u8::from(non_user), "admin": 0, "subAdmin": 0
    })
}

/// `file_list`: 50 entries per page.
pub(super) fn file_list(svc: &Svc, call: &Call) -> Response {
    let (path, _) = match check_path(svc, call, call.param("path")) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let page: usize = match call.param("current_page").map(str::parse) {
        None => 1,
        Some(Ok(p)) if p >= 1 => p,
        Some(_) => {
            return svc.invalid(
                call.fmt,
                call.seq,
                "Invalid Page",
                "current_page must be 1 or more.",
            );
        }
    };
    let mut entries: Vec<Entry> = svc
        .site
        .lock()
        .children(&path)
        .into_iter()
        .cloned()
        .collect();
    let sort = call.param("sort_by").unwrap_or("date_desc");
    let size = |e: &Entry| e.file.as_ref().map_or(0, |f| f.size);
    match sort {
        "date_asc" => entries.sort_by_key(|e| (e.modified, e.id)),
        "date_desc" => entries.sort_by_key(|e| std::cmp::Reverse((e.modified, e.id))),
        "name_asc" => entries.sort_by(|a, b| a.name.cmp(&b.name)),
        "name_desc" => entries.sort_by(|a, b| b.name.cmp(&a.name)),
        "size_asc" => entries.sort_by_key(|e| (size(e), e.id)),
        "size_desc" => entries.sort_by_key(|e| std::cmp::Reverse((size(e), e.id))),
        "user_asc" | "user_desc" => entries.sort_by_key(|e| e.owner),
        _ => {
            return svc.invalid(
                call.fmt,
                call.seq,
                "Invalid Sort",
                "sort_by is not a known order.",
            );
        }
    }
    let total = entries.len();
    let files: Vec<Value> = entries
        .iter()
        .skip((page - 1) * PAGE_SIZE)
        .take(PAGE_SIZE)
        .map(listed)
        .collect();
    svc.ok(
        call.fmt,
        json!({"fileList": {
            "path": path,
            "totalFiles": total,
            "filesInPage": files.len(),
            "maxFilesPage": PAGE_SIZE,
            "files": files,
            "userSettings": user_settings(svc, call.user),
        }}),
    )
}

/// PHP's `urldecode`: `+` is a space, `%XX` a byte.
fn urldecode(s: &str) -> String {
    form_urlencoded::parse(format!("v={s}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && name != "."
        && name != ".."
        && !name.contains(['/', '\\'])
        && !name.chars().any(char::is_control)
}

/// `file_upload`: multipart, the file streamed to the store; fields may come before or after
/// the file, and the signature is checked before anything is kept.
pub(super) async fn file_upload(
    svc: &Svc,
    fmt: Fmt,
    seq: RequestSeq,
    path: &str,
    req: Request,
) -> Response {
    let bad = |why: &str| svc.invalid(fmt, seq, "File Upload Failed", why);
    let mut mp = match Multipart::from_request(req, &()).await {
        Ok(m) => m,
        Err(_) => return bad("The multipart body cannot be read."),
    };
    let mut fields: Vec<(String, String)> = Vec::new();
    let mut stored = None;
    loop {
        let field = match mp.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(_) => {
                discard(svc, stored.take()).await;
                return bad("The multipart body cannot be read.");
            }
        };
        let name = field.name().unwrap_or_default().to_owned();
        if name != "file" {
            match field.text().await {
                Ok(t) => fields.push((name, t)),
                Err(_) => {
                    discard(svc, stored.take()).await;
                    return bad("A multipart field cannot be read.");
                }
            }
            continue;
        }
        if stored.is_some() {
            discard(svc, stored.take()).await;
            return bad("Only one file may be uploaded per call.");
        }
        let Some(file_name) = field.file_name().map(str::to_owned) else {
            return bad("The file part has no file name.");
        };
        // With the credentials already read, a bad signature is refused before storing.
        if param(&fields, "signature").is_some() {
            if let Err(resp) = svc.authenticate(&Method::POST, path, &fields, fmt, seq) {
                return resp;
            }
        }
        let (mut tx, rx) = futures::channel::mpsc::channel::<Result<Bytes, std::io::Error>>(1);
        let write = svc.ctx.store().write_stream(&file_name, rx, None);
        let mut field = field;
        let pump = async move {
            loop {
                match field.chunk().await {
                    Ok(Some(c)) => {
                        if tx.send(Ok(c)).await.is_err() {
                            break;
                        }
                    }
                    Ok(None) => break,
                    Err(e) => {
                        let _ = tx.send(Err(io_other(e))).await;
                        break;
                    }
                }
            }
        };
        let ((), written) = tokio::join!(pump, write);
        match written {
            Ok(f) => stored = Some(f),
            Err(StoreError::TooLarge { limit }) => {
                return bad(&format!("The file exceeds the {limit}-byte limit."));
            }
            Err(_) => return bad("The file could not be received."),
        }
    }
    let user = match svc.authenticate(&Method::POST, path, &fields, fmt, seq) {
        Ok(u) => u,
        Err(resp) => {
            discard(svc, stored).await;
            return resp;
        }
    };
    let Some(file) = stored else {
        return bad("No file was sent (field `file`).");
    };
    let call = Call {
        fmt,
        params: fields,
        user,
        seq,
    };
    let raw_path = call.param("path").map(urldecode);
    let (folder, ws) = match check_path(svc, &call, raw_path.as_deref()) {
        Ok(p) => p,
        Err(r) => {
            discard(svc, Some(file)).await;
            return r;
        }
    };
    if !valid_name(&file.name) {
        discard(svc, Some(file)).await;
        return bad("The file name is not valid.");
    }
    let overwrite = match call.param("overwrite").unwrap_or("0") {
        "0" => false,
        "1" => true,
        _ => {
            discard(svc, Some(file)).await;
            return bad("overwrite must be 0 or 1.");
        }
    };
    let now = unix(svc.ctx.clock().now());
    enum Placed {
        Stored(u64, Vec<crate::store::StoredFile>),
        Clash,
        FolderClash,
    }
    // Decided under the lock, with no await inside it.
    let placed = {
        let mut s = svc.site.lock();
        let clash = s
            .children(&folder)
            .iter()
            .find(|e| e.name == file.name)
            .map(|e| (e.id, e.file.is_some()));
        match clash {
            Some(_) if !overwrite => Placed::Clash,
            Some((_, false)) => Placed::FolderClash,
            other => {
                let replaced = match other {
                    Some((old, true)) => s.remove(old),
                    _ => Vec::new(),
                };
                let id = s.new_id();
                s.entries.insert(
                    id,
                    Entry {
                        id,
                        name: file.name.clone(),
                        folder: folder.clone(),
                        workspace_id: ws,
                        file: Some(file.clone()),
                        comment: call.param("comment").map(str::to_owned),
                        file_id_tag: call.param("file_id_tag").map(str::to_owned),
                        modified: now,
                        owner: user,
                    },
                );
                Placed::Stored(id, replaced)
            }
        }
    };
    let (id, replaced) = match placed {
        Placed::Stored(id, replaced) => (id, replaced),
        Placed::Clash => {
            discard(svc, Some(file)).await;
            return svc.refuse(
                fmt,
                seq,
                Refusal::Conflict,
                "File Cannot Be Overridden",
                "Overwrite was set to false and a file with the same name already exists.",
                "name clash without overwrite",
            );
        }
        Placed::FolderClash => {
            discard(svc, Some(file)).await;
            return bad("A folder of that name exists there.");
        }
    };
    for old in replaced {
        svc.ctx.store().remove(&old.id).await;
    }
    svc.ok(
        fmt,
        json!({"fileInfo": {"fileId": id, "path": folder, "fileName": file.name, "fileSize": file.size}}),
    )
}

async fn discard(svc: &Svc, file: Option<crate::store::StoredFile>) {
    if let Some(f) = file {
        svc.ctx.store().remove(&f.id).await;
    }
}

/// The entry a `file_id` names, when the user may reach it.
pub(super) fn reachable(svc: &Svc, call: &Call, id: &str) -> Option<Entry> {
    let id: u64 = id.trim().parse().ok()?;
    let s = svc.site.lock();
    let e = s.entries.get(&id)?;
    s.user(call.user)
        .filter(|u| u.workspaces.contains(&e.workspace_id))
        .map(|_| e.clone())
}

fn disposition(name: &str) -> HeaderValue {
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .map(|c| if c == '"' || c == '\\' { '_' } else { c })
        .collect();
    let encoded: String = name
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
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

async fn send_file(svc: &Svc, entry: &Entry, headers: &HeaderMap) -> Response {
    let Some(file) = &entry.file else {
        return svc.invalid(
            Fmt::Json,
            RequestSeq(0),
            "Download Failed",
            "Folders cannot be downloaded.",
        );
    };
    match svc
        .ctx
        .store()
        .respond(file, headers, "application/octet-stream")
        .await
    {
        Ok(mut resp) => {
            resp.headers_mut()
                .insert(header::CONTENT_DISPOSITION, disposition(&entry.name));
            insert_date(resp.headers_mut(), svc.ctx.clock().now());
            resp
        }
        Err(_) => {
            let mut r = Response::new(axum::body::Body::empty());
            *r.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
            r
        }
    }
}

/// `file_download`: the bytes, named in `Content-Disposition`.
pub(super) async fn file_download(svc: &Svc, call: &Call) -> Response {
    let Some(entry) = call
        .param("file_id")
        .and_then(|id| reachable(svc, call, id))
    else {
        return svc.no_access(call.fmt, call.seq, "no such file for this user");
    };
    if entry.file.is_none() {
        return svc.invalid(
            call.fmt,
            call.seq,
            "Download Failed",
            "Folders cannot be downloaded.",
        );
    }
    send_file(svc, &entry, &HeaderMap::new()).await
}

/// `create_folder`.
pub(super) fn create_folder(svc: &Svc, call: &Call) -> Response {
    let (folder, ws) = match check_path(svc, call, call.param("folder_path")) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let name = call.param("folder_name").unwrap_or_default().to_owned();
    if !valid_name(&name) {
        return svc.invalid(
            call.fmt,
            call.seq,
            "Cannot create folder",
            "The folder name is not valid.",
        );
    }
    let mut s = svc.site.lock();
    if s.children(&folder).iter().any(|e| e.name == name) {
        drop(s);
        return svc.invalid(
            call.fmt,
            call.seq,
            "Cannot create folder",
            "A file or folder of that name exists there.",
        );
    }
    let id = s.new_id();
    let now = unix(svc.ctx.clock().now());
    s.entries.insert(
        id,
        Entry {
            id,
            name: name.clone(),
            folder: folder.clone(),
            workspace_id: ws,
            file: None,
            comment: None,
            file_id_tag: None,
            modified: now,
            owner: call.user,
        },
    );
    drop(s);
    svc.ok(
        call.fmt,
        json!({"createFolder": {"folder_id": id, "folder_name": name, "folder_path": folder, "workspace_id": ws.to_string()}}),
    )
}

/// `create_file_link`: expiration 0 (never), 1–15, 30, 60 or 90 days.
pub(super) fn create_file_link(svc: &Svc, call: &Call) -> Response {
    let days: u64 = match call.param("link_expiration").map(str::parse::<u64>) {
        None => 15,
        Some(Ok(d)) if d <= 15 || matches!(d, 30 | 60 | 90) => d,
        Some(_) => {
            return svc.invalid(
                call.fmt,
                call.seq,
                "Invalid Link Expiration",
                "link_expiration must be 0, 1 to 15, 30, 60 or 90.",
            );
        }
    };
    let Some(entry) = call
        .param("file_id")
        .and_then(|id| reachable(svc, call, id))
    else {
        return svc.no_access(call.fmt, call.seq, "no such file for this user");
    };
    if entry.file.is_none() {
        return svc.invalid(
            call.fmt,
            call.seq,
            "Link Failed",
            "Links are made for files.",
        );
    }
    let expires = (days > 0).then(|| svc.ctx.clock().now() + Duration::from_secs(days * 24 * 3600));
    let link_id = {
        let mut s = svc.site.lock();
        let id = s.new_id();
        s.links.insert(
            id,
            super::PublicLink {
                file_id: entry.id,
                expires,
            },
        );
        id
    };
    svc.ok(
        call.fmt,
        json!({"fileCreateLink": {
            "fileId": entry.id,
            "fileName": entry.name,
            "downloadLink": format!("{}/downloadPublic/{link_id}", svc.ctx.base_url()),
        }}),
    )
}

/// `GET /downloadPublic/<id>`.
pub(super) async fn public_download(
    State(svc): State<Svc>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let now = svc.ctx.clock().now();
    let entry = {
        let s = svc.site.lock();
        id.parse::<u64>()
            .ok()
            .and_then(|id| s.links.get(&id).cloned())
            .filter(|l| l.expires.is_none_or(|at| now < at))
            .and_then(|l| s.entries.get(&l.file_id).cloned())
    };
    match entry {
        Some(e) => send_file(&svc, &e, &headers).await,
        None => {
            let mut r = Response::new(axum::body::Body::from(
                "This link does not exist or has expired.",
            ));
            *r.status_mut() = StatusCode::NOT_FOUND;
            r
        }
    }
}

/// `file_delete`: a file, or a folder with everything in it.
pub(super) async fn file_delete(svc: &Svc, call: &Call) -> Response {
    let Some(entry) = call
        .param("file_id")
        .and_then(|id| reachable(svc, call, id))
    else {
        return svc.no_access(call.fmt, call.seq, "no such file for this user");
    };
    let freed = svc.site.lock().remove(entry.id);
    for f in freed {
        svc.ctx.store().remove(&f.id).await;
    }
    svc.ok(
        call.fmt,
        json!({"fileInfo": {"fileId": entry.id, "path": entry.folder, "fileName": entry.name}}),
    )
}
