//! Chunked uploads: `initiateUpload` on a folder or a draft, chunks in order, session status
//! and discard, and the upload configuration.

use std::collections::HashMap;
use std::time::Duration;

use axum::Extension;
use axum::extract::{FromRequest, Multipart, Path, RawQuery, Request, State};
use axum::response::Response;
use base64::Engine;
use bytes::Bytes;
use futures::{Stream, StreamExt};
use http::{HeaderMap, header};
use serde_json::{Map, Value, json};

use super::Kw;
use super::files::{file_record, no_access, valid_name};
use super::state::{MailStatus, Target, UploadRec, file_json, upload_json};
use super::wire::{
    self, MAX_FORM_BODY, error, json_answer, loose_u64, no_content, parse_body, query_flag,
};
use crate::journal::RequestSeq;
use crate::store::StoreError;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// `GET /rest/uploads/config`.
pub(crate) async fn config(State(kw): State<Kw>) -> Response {
    json_answer(
        200,
        &json!({ "active": 1, "uploadChunkMax": kw.chunk_max(), "uploadTimeout": 86400, "uploadWipe": 0 }),
    )
}

/// `GET /rest/uploads`: the user's unfinished sessions.
pub(crate) async fn list(State(kw): State<Kw>) -> Response {
    let base = kw.ctx().base_url().to_owned();
    let items: Vec<Value> = kw
        .data()
        .uploads
        .values()
        .map(|u| upload_json(u, kw.user(), &base))
        .collect();
    let total = items.len();
    json_answer(
        200,
        &json!({ "data": items, "metadata": { "total": total } }),
    )
}

/// `GET /rest/uploads/{id}`.
pub(crate) async fn status(State(kw): State<Kw>, Path(id): Path<String>) -> Response {
    let base = kw.ctx().base_url().to_owned();
    let data = kw.data();
    match id.parse::<u64>().ok().and_then(|n| data.uploads.get(&n)) {
        Some(u) => json_answer(200, &upload_json(u, kw.user(), &base)),
        None => no_access(),
    }
}

/// `DELETE /rest/uploads/{id}`: discards the session and its chunks.
pub(crate) async fn discard(State(kw): State<Kw>, Path(id): Path<String>) -> Response {
    let rec = id
        .parse::<u64>()
        .ok()
        .and_then(|n| kw.data().uploads.remove(&n));
    match rec {
        Some(u) => {
            kw.ctx().store().abort_upload(&u.store_id).await;
            no_content()
        }
        None => no_access(),
    }
}

pub(crate) async fn initiate_folder(
    State(kw): State<Kw>,
    Extension(seq): Extension<RequestSeq>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    {
        let data = kw.data();
        if id == kw.user().basedir_id {
            return error(
                403,
                "ERR_ENTITY_IS_BASE_DIR",
                "Operation not allowed on the base folder",
            );
        }
        if data.folder(&id).is_none() {
            return no_access();
        }
    }
    initiate(kw, seq, Target::Folder(id), &headers, &body).await
}

pub(crate) async fn initiate_mail(
    State(kw): State<Kw>,
    Extension(seq): Extension<RequestSeq>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match kw.data().mails.get(&id).map(|m| m.status) {
        None => return no_access(),
        Some(MailStatus::Sent) => {
            return error(
                403,
                "ERR_ENTITY_EMAIL_NOT_DRAFT",
                "The email is not a draft",
            );
        }
        Some(MailStatus::Draft) => {}
    }
    initiate(kw, seq, Target::Mail(id), &headers, &body).await
}

async fn initiate(
    kw: Kw,
    seq: RequestSeq,
    target: Target,
    headers: &HeaderMap,
    body: &Bytes,
) -> Response {
    if body.len() > MAX_FORM_BODY {
        return error(400, "ERR_REQUEST_INVALID_JSON", "Invalid json provided");
    }
    let fields = match parse_body(headers, body) {
        Ok(f) => f,
        Err(r) => return r,
    };
    kw.record_body(seq, &fields);
    let Some(filename) = fields
        .get("filename")
        .and_then(Value::as_str)
        .map(str::to_owned)
    else {
        return error(422, "ERR_INVALID_PARAMETER", "filename is required");
    };
    if !valid_name(&filename) {
        return error(422, "ERR_INPUT_INVALID_FORMAT", "Invalid file name");
    }
    // Open-ended (SFTP) sessions ended by `lastChunk=1` are not emulated: both totals are due.
    let (Some(total_size), Some(total_chunks)) = (
        loose_u64(fields.get("totalSize")),
        loose_u64(fields.get("totalChunks")),
    ) else {
        return error(
            422,
            "ERR_INVALID_PARAMETER",
            "totalSize and totalChunks are required together",
        );
    };
    // Client times must be in the service's own form; a strict appliance refuses RFC 3339
    // with fractions or `Z`.
    let mut client_times = [None, None];
    for (slot, key) in client_times
        .iter_mut()
        .zip(["clientCreated", "clientModified"])
    {
        match fields.get(key) {
            None | Some(Value::Null) => {}
            Some(Value::String(t)) if wire::is_service_timestamp(t) => *slot = Some(t.clone()),
            Some(_) => return wire::invalid_format(),
        }
    }
    let [client_created, client_modified] = client_times;
    if total_chunks < 1 {
        return error(422, "ERR_INPUT_MIN_VALUE", "totalChunks must be at least 1");
    }
    // Every chunk but a lone empty one carries at least a byte, and none more than the cap.
    let max = kw.chunk_max();
    if total_chunks > total_size.max(1) || total_chunks.saturating_mul(max) < total_size {
        return error(
            422,
            "ERR_INVALID_PARAMETER",
            "totalChunks does not fit totalSize and uploadChunkMax",
        );
    }
    let progress = match kw
        .ctx()
        .store()
        // Fingerprints computed as chunks arrive, so completing a gigabyte upload does not
        // mean reading it all again.
        .begin_upload_fingerprinted(&filename, Some(total_size))
        .await
    {
        Ok(p) => p,
        Err(StoreError::TooLarge { .. }) => {
            return error(
                413,
                "ERR_SYSTEM_NO_STORAGE_AVAILABLE",
                "No storage available",
            );
        }
        Err(_) => return error(500, "ERR_INTERNAL_SERVER_ERROR", "Internal server error"),
    };
    let now = kw.now();
    let base = kw.ctx().base_url().to_owned();
    let rec = {
        let mut data = kw.data();
        let id = data.next_upload;
        data.next_upload += 1;
        let rec = UploadRec {
            id,
            target,
            filename,
            total_size,
            total_chunks,
            uploaded_chunks: 0,
            uploaded_size: 0,
            client_created,
            client_modified,
            store_id: progress.upload_id,
            started: now,
            last: now,
            busy: false,
        };
        data.uploads.insert(id, rec.clone());
        rec
    };
    // The entity comes with or without returnEntity, as in the service's examples.
    wire::created(
        kw.location_header(),
        &kw.url(&format!("uploads/{}", rec.id)),
        Some(&upload_json(&rec, kw.user(), &base)),
    )
}

/// Clears the session's busy mark however the request ends (a dropped connection cancels it).
struct Busy {
    kw: Kw,
    id: u64,
}

impl Drop for Busy {
    fn drop(&mut self) {
        if let Some(u) = self.kw.data().uploads.get_mut(&self.id) {
            u.busy = false;
        }
    }
}

/// The chunk's declared fields, checked against the session before any byte is stored.
struct Declared {
    number: u64,
    size: u64,
}

fn declared(kw: &Kw, rec: &UploadRec, fields: &Map<String, Value>) -> Result<Declared, Response> {
    let mode = fields.get("compressionMode").and_then(Value::as_str);
    let (Some(mode), Some(compressed), Some(original)) = (
        mode,
        loose_u64(fields.get("compressionSize")),
        loose_u64(fields.get("originalSize")),
    ) else {
        return Err(error(
            422,
            "ERR_INVALID_PARAMETER",
            "compressionMode, compressionSize and originalSize must come before content",
        ));
    };
    match mode {
        "NORMAL" => {}
        "GZIP" | "ZLIB" => {
            return Err(error(
                422,
                "ERR_INPUT_NOT_IN_LIST",
                "Only NORMAL chunks are accepted by this server",
            ));
        }
        _ => {
            return Err(error(
                422,
                "ERR_INPUT_NOT_IN_LIST",
                "Unknown compressionMode",
            ));
        }
    }
    if compressed != original {
        return Err(error(
            422,
            "ERR_INVALID_PARAMETER",
            "compressionSize must equal originalSize for NORMAL chunks",
        ));
    }
    let number = rec.uploaded_chunks + 1;
    if let Some(index) = loose_u64(fields.get("index")) {
        if index != number {
            return Err(error(
                422,
                "ERR_INVALID_PARAMETER",
                &format!("Chunks must be sent in order: expected index {number}, got {index}"),
            ));
        }
    }
    if original > kw.chunk_max() {
        return Err(error(
            422,
            "ERR_INVALID_PARAMETER",
            "The chunk is larger than uploadChunkMax",
        ));
    }
    if number > rec.total_chunks {
        return Err(error(
            422,
            "ERR_INVALID_PARAMETER",
            "All chunks were received",
        ));
    }
    let after = rec.uploaded_size + original;
    let last = number == rec.total_chunks;
    if after > rec.total_size || (last && after != rec.total_size) {
        return Err(error(
            422,
            "ERR_INVALID_PARAMETER",
            "The chunk sizes do not add up to totalSize",
        ));
    }
    if original == 0 && rec.total_size != 0 {
        return Err(error(422, "ERR_INVALID_PARAMETER", "Empty chunk"));
    }
    Ok(Declared {
        number,
        size: original,
    })
}

/// Ends with an error unless exactly `expected` bytes went through, so the store rolls back a
/// part shorter than declared (a longer one is refused by the store's part cap).
fn exact<S>(inner: S, expected: u64) -> impl Stream<Item = Result<Bytes, BoxError>> + Send + 'static
where
    S: Stream<Item = Result<Bytes, BoxError>> + Send + 'static,
{
    futures::stream::unfold(
        (Box::pin(inner), 0u64, false),
        move |(mut s, seen, done)| async move {
            if done {
                return None;
            }
            match s.next().await {
                Some(Ok(b)) => {
                    let seen = seen + b.len() as u64;
                    Some((Ok(b), (s, seen, false)))
                }
                Some(Err(e)) => Some((Err(e), (s, seen, true))),
                None if seen == expected => None,
                None => Some((
                    Err(format!("the content has {seen} bytes, {expected} were declared").into()),
                    (s, seen, true),
                )),
            }
        },
    )
}

/// What a chunk request hands to the task that stores it: the session (kept busy until the
/// task ends) and the answer options.
struct Commit {
    kw: Kw,
    id: u64,
    busy: Busy,
    query: Option<String>,
}

impl Commit {
    /// Stores the part and counts it, in a task of its own: once the bytes have arrived, a
    /// client that goes away cannot leave the store and the session's counters disagreeing.
    fn spawn<S>(self, d: Declared, store_id: String, part: S) -> tokio::task::JoinHandle<Response>
    where
        S: Stream<Item = Result<Bytes, BoxError>> + Send + 'static,
    {
        tokio::spawn(async move {
            let store = self.kw.ctx().store().clone();
            wait_idle(&store, &store_id).await;
            let size = d.size;
            if let Err(e) = store.append(&store_id, exact(part, size), Some(size)).await {
                return store_error(e);
            }
            let response = finish_chunk(&self.kw, self.id, d, self.query.as_deref()).await;
            drop(self.busy);
            response
        })
    }
}

async fn joined(task: tokio::task::JoinHandle<Response>) -> Response {
    task.await
        .unwrap_or_else(|_| error(500, "ERR_INTERNAL_SERVER_ERROR", "Internal server error"))
}

/// `POST /rest/uploads/{id}` and `POST /kwupload1/rest/uploads/{id}`: one chunk, multipart or
/// JSON with base64 content.
pub(crate) async fn chunk(
    State(kw): State<Kw>,
    Extension(seq): Extension<RequestSeq>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
    req: Request,
) -> Response {
    let Some(id) = id.parse::<u64>().ok() else {
        return no_access();
    };
    let rec = {
        let mut data = kw.data();
        let Some(rec) = data.uploads.get_mut(&id) else {
            return no_access();
        };
        if rec.busy {
            return error(
                422,
                "ERR_INVALID_PARAMETER",
                "Another chunk of this upload is being received",
            );
        }
        rec.busy = true;
        rec.clone()
    };
    let commit = Commit {
        busy: Busy { kw: kw.clone(), id },
        kw: kw.clone(),
        id,
        query: q,
    };
    let ct = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    if ct.starts_with("multipart/form-data") {
        let multipart = match Multipart::from_request(req, &()).await {
            Ok(m) => m,
            Err(_) => return error(400, "ERR_REQUEST_INVALID_JSON", "Malformed multipart body"),
        };
        multipart_chunk(&kw, seq, &rec, multipart, commit).await
    } else {
        json_chunk(&kw, seq, &rec, req, commit).await
    }
}

fn malformed() -> Response {
    error(400, "ERR_REQUEST_INVALID_JSON", "Malformed multipart body")
}

async fn multipart_chunk(
    kw: &Kw,
    seq: RequestSeq,
    rec: &UploadRec,
    mut multipart: Multipart,
    commit: Commit,
) -> Response {
    let mut fields = Map::new();
    let mut commit = Some(commit);
    let mut answer = None;
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(_) => return malformed(),
        };
        let name = field.name().unwrap_or_default().to_owned();
        if name == "content" {
            let Some(commit) = commit.take() else {
                return error(422, "ERR_INVALID_PARAMETER", "content given twice");
            };
            let d = match declared(kw, rec, &fields) {
                Ok(d) => d,
                Err(r) => return r,
            };
            // The field borrows the multipart reader; a channel hands its bytes to the task
            // that stores them.
            let mut seen = fields.clone();
            seen.insert(
                "content".into(),
                Value::String(format!("<{} bytes>", d.size)),
            );
            kw.record_body(seq, &seen);
            let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, BoxError>>(1);
            let part = futures::stream::unfold(rx, |mut rx| async move {
                rx.recv().await.map(|item| (item, rx))
            });
            let task = commit.spawn(d, rec.store_id.clone(), part);
            let mut field = field;
            while let Some(item) = field.next().await {
                let item = item.map_err(|e| Box::new(e) as BoxError);
                let failed = item.is_err();
                if tx.send(item).await.is_err() || failed {
                    break;
                }
            }
            drop(tx);
            answer = Some(joined(task).await);
        } else {
            let Ok(text) = field.text().await else {
                return malformed();
            };
            if text.len() > 1024 {
                return error(422, "ERR_INVALID_PARAMETER", "Field too long");
            }
            fields.insert(name, Value::String(text));
        }
    }
    answer.unwrap_or_else(|| error(422, "ERR_INVALID_PARAMETER", "content is required"))
}

async fn json_chunk(
    kw: &Kw,
    seq: RequestSeq,
    rec: &UploadRec,
    req: Request,
    commit: Commit,
) -> Response {
    let cap = (kw.chunk_max() as usize).saturating_mul(4) / 3 + 4096;
    let headers = req.headers().clone();
    let Ok(body) = axum::body::to_bytes(req.into_body(), cap).await else {
        return error(
            422,
            "ERR_INVALID_PARAMETER",
            "The chunk is larger than uploadChunkMax",
        );
    };
    let fields = match parse_body(&headers, &body) {
        Ok(f) => f,
        Err(r) => return r,
    };
    let d = match declared(kw, rec, &fields) {
        Ok(d) => d,
        Err(r) => return r,
    };
    let Some(content) = fields.get("content").and_then(Value::as_str) else {
        return error(422, "ERR_INVALID_PARAMETER", "content is required");
    };
    let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(content.trim()) else {
        return error(422, "ERR_INVALID_PARAMETER", "content is not base64");
    };
    let mut seen = fields.clone();
    seen.insert(
        "content".into(),
        Value::String(format!("<{} bytes>", bytes.len())),
    );
    kw.record_body(seq, &seen);
    let part = futures::stream::iter([Ok::<_, BoxError>(Bytes::from(bytes))]);
    joined(commit.spawn(d, rec.store_id.clone(), part)).await
}

/// A previous request's part may still be rolling back after its connection dropped.
async fn wait_idle(store: &crate::store::FileStore, store_id: &str) {
    for _ in 0..200 {
        if store.upload_progress(store_id).is_some() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn store_error(e: StoreError) -> Response {
    match e {
        StoreError::PartTooLarge { .. } => error(
            422,
            "ERR_INVALID_PARAMETER",
            "The chunk is larger than declared",
        ),
        StoreError::TooLarge { .. } => error(
            422,
            "ERR_INVALID_PARAMETER",
            "The chunk sizes do not add up to totalSize",
        ),
        StoreError::Body(_) => error(
            422,
            "ERR_INVALID_PARAMETER",
            "The chunk content does not match its declared size",
        ),
        StoreError::UploadBusy(_) => error(
            422,
            "ERR_INVALID_PARAMETER",
            "Another chunk of this upload is being received",
        ),
        StoreError::UnknownUpload(_) => no_access(),
        _ => error(500, "ERR_INTERNAL_SERVER_ERROR", "Internal server error"),
    }
}

/// Counts a stored chunk; the last completes the file (201), the others answer the session (200).
async fn finish_chunk(kw: &Kw, id: u64, d: Declared, query: Option<&str>) -> Response {
    let base = kw.ctx().base_url().to_owned();
    let rec = {
        let mut data = kw.data();
        let Some(rec) = data.uploads.get_mut(&id) else {
            return no_access();
        };
        rec.uploaded_chunks = d.number;
        rec.uploaded_size += d.size;
        rec.last = kw.now();
        rec.clone()
    };
    if rec.uploaded_chunks < rec.total_chunks {
        return json_answer(200, &upload_json(&rec, kw.user(), &base));
    }
    let stored = match kw.ctx().store().finish_upload(&rec.store_id).await {
        Ok(s) => s,
        Err(e) => return store_error(e),
    };
    let (folder, mail) = match &rec.target {
        Target::Folder(f) => (Some(f.clone()), None),
        Target::Mail(m) => (None, Some(m.clone())),
    };
    let mut file = match file_record(kw, stored, &rec.filename, folder.clone(), mail).await {
        Ok(f) => f,
        Err(_) => return error(500, "ERR_INTERNAL_SERVER_ERROR", "Internal server error"),
    };
    let now = kw.ctx().clock().elapsed();
    let entity = {
        let mut data = kw.data();
        data.uploads.remove(&id);
        // The same name in the folder: the upload becomes that file's new version.
        if let Some(existing) = folder.as_ref().and_then(|f| data.file_in(f, &rec.filename)) {
            let existing = existing.clone();
            file.id = existing.id.clone();
            file.created = existing.created;
            file.versions = existing.versions + 1;
        }
        data.files.insert(file.id.clone(), file.clone());
        file_json(&file, kw.user(), now, None)
    };
    let with_entity = query_flag(query, "returnEntity") && kw.options().return_entities;
    wire::created(
        kw.location_header(),
        &kw.url(&format!("files/{}", file.id)),
        with_entity.then_some(&entity),
    )
}

/// Files uploaded onto a draft, by id (for attaching and for deleting with the draft).
pub(crate) fn mail_uploads(kw: &Kw, mail_id: &str) -> HashMap<String, String> {
    kw.data()
        .files
        .values()
        .filter(|f| f.mail_id.as_deref() == Some(mail_id))
        .map(|f| (f.id.clone(), f.stored.id.clone()))
        .collect()
}
