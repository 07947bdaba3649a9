//! Chunked uploads: into a folder (the upload role) and onto a draft (attachments of a send).
//!
//! `initiateUpload` opens a session; chunks follow strictly in order, one request each, as
//! `multipart/form-data` with `compressionMode=NORMAL`, the sizes and the 1-based `index`. The
//! chunk numbered `totalChunks` completes the session and answers the new file (its entity, or
//! its id in the location header).
//!
//! A chunk request is never repeated blindly: after a failure the session's state
//! (`GET /rest/uploads/{id}`) says whether the chunk landed, and only a chunk that did not is
//! sent again. So a dropped connection costs at most one chunk, and the service never sees a
//! chunk twice.

use std::time::{Duration, Instant};

use bytes::Bytes;
use reqwest::multipart::{Form, Part};

use securesend_core::checksum::{Checksums, DigestSet};
use securesend_core::chunk::{Chunk, ChunkPlan, Chunker};
use securesend_core::http::{Call, Repeat};
use securesend_core::{
    CheckedFile, Error, ErrorKind, FileProgress, Progress, RemoteFile, Result, UploadRequest,
};

use crate::api::{File, InitiateUpload, Upload};
use crate::client::{UploadTarget, valid_id};
use crate::resume::SavedUpload;
use crate::{Inner, PROVIDER, error};

/// What the service said to one chunk.
enum ChunkOutcome {
    /// An intermediate chunk was stored.
    Stored,
    /// The last chunk completed the upload: the new file's id and, when sent, its entity.
    Finished { id: String, entity: Option<File> },
    /// The last chunk landed but its answer was lost (the session is gone).
    FinishedUnseen,
}

/// One file to move, and where its progress goes.
pub(crate) struct Outgoing<'a> {
    pub file: &'a CheckedFile,
    pub index: usize,
    pub progress: Option<&'a Progress>,
}

/// A session to continue, or none to start one.
pub(crate) struct Session {
    pub upload: Upload,
    pub first_chunk: u64,
}

/// A finished upload: the file as the service has it and our checksums of what we sent.
pub(crate) struct Uploaded {
    pub file: File,
    pub checksums: Checksums,
}

fn backoff(attempt: u32, asked: Option<Duration>) -> Duration {
    asked
        .unwrap_or_else(|| Duration::from_millis(250u64.saturating_mul(1 << attempt.min(6))))
        .min(Duration::from_secs(30))
}

impl Inner {
    /// The chunk size: the profile's cap, lowered to the service's `uploadChunkMax`.
    pub(crate) async fn chunk_size(&self) -> Result<u64> {
        let cap = self.settings.max_chunk_size;
        let service = self
            .chunk_max
            .get_or_try_init(|| async {
                let c = self.api.upload_config().await?;
                Ok::<_, Error>(c.upload_chunk_max.filter(|m| *m > 0).unwrap_or(u64::MAX))
            })
            .await?;
        Ok(cap.min(*service))
    }

    /// Opens an upload session for `file` at `target`.
    pub(crate) async fn start_session(
        &self,
        target: &UploadTarget,
        file: &CheckedFile,
        plan: ChunkPlan,
    ) -> Result<Upload> {
        let modified = file
            .attachment
            .source()
            .as_path()
            .and_then(|p| std::fs::metadata(p).ok())
            .and_then(|m| m.modified().ok())
            .map(|t| crate::api::service_time(time::OffsetDateTime::from(t)));
        let upload = self
            .api
            .initiate_upload(
                target,
                &InitiateUpload {
                    filename: file.name(),
                    total_size: plan.total(),
                    total_chunks: plan.count(),
                    client_modified: modified,
                },
            )
            .await?;
        Ok(upload)
    }

    /// Sends the chunks of `out.file` from `session.first_chunk` on, then checks what the
    /// service stored against what was sent.
    pub(crate) async fn send_chunks(
        &self,
        target: &UploadTarget,
        out: &Outgoing<'_>,
        plan: ChunkPlan,
        session: &Session,
    ) -> Result<Uploaded> {
        self.send_chunks_until(target, out, plan, session, None)
            .await
    }

    /// `send_chunks`, stopping when `cancel` fires: before a chunk, or during one
    /// that is not the last. The last chunk, once sent, is let finish: it may complete the file
    /// on the service, and the caller must learn whether it did.
    async fn send_chunks_until(
        &self,
        target: &UploadTarget,
        out: &Outgoing<'_>,
        plan: ChunkPlan,
        session: &Session,
        cancel: Option<&securesend_core::Cancel>,
    ) -> Result<Uploaded> {
        const UPLOADING: &str = "the upload";
        let file = out.file;
        let name = file.name();
        let mut progress = FileProgress::start(out.progress, out.index, name, Some(file.size));
        if session.first_chunk > 0 {
            progress.set(plan.offset(session.first_chunk));
        }
        let digests = if self.settings.verify {
            DigestSet::ALL
        } else {
            DigestSet::NONE
        };
        let mut chunker = Chunker::of_file(file, plan, digests, session.first_chunk).await?;
        let mut finished = None;
        while let Some(chunk) = chunker.next_chunk().await? {
            let len = chunk.len() as u64;
            let last = chunk.index + 1 == plan.count();
            let sending = self.send_chunk(&session.upload, &chunk, plan.count(), name);
            let outcome = match cancel {
                Some(c) if !last => c.guard(UPLOADING, sending).await?,
                Some(c) => {
                    c.check(UPLOADING)?;
                    sending.await?
                }
                None => sending.await?,
            };
            match outcome {
                ChunkOutcome::Stored => {}
                ChunkOutcome::Finished { id, entity } => finished = Some((id, entity)),
                ChunkOutcome::FinishedUnseen => {
                    finished = Some(self.find_unseen(target, file).await?);
                }
            }
            progress.advance(len);
        }
        let checksums = chunker.checksums().cloned().ok_or_else(|| {
            error::protocol("upload", "the file ended before its last chunk was sent")
        })?;
        let (id, entity) = finished.ok_or_else(|| {
            error::protocol(
                "upload",
                "the service did not complete the upload after its last chunk",
            )
        })?;
        let stored = self.verify(&id, entity, file, &checksums).await?;
        progress.finish();
        Ok(Uploaded {
            file: stored,
            checksums,
        })
    }

    /// Sends one chunk; after a failure, asks the session whether it landed and sends it again
    /// only if it did not.
    async fn send_chunk(
        &self,
        upload: &Upload,
        chunk: &Chunk,
        total: u64,
        name: &str,
    ) -> Result<ChunkOutcome> {
        let number = chunk.index + 1;
        let max_attempts = self.settings.http.max_attempts.max(1);
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let failure = match self
                .post_chunk(upload, chunk.data.clone(), number, name)
                .await
            {
                Ok(reply) => return self.chunk_answer(reply, number, total),
                Err(e) => e,
            };
            let transient = failure.is_retryable() || failure.outcome_unknown();
            if !transient || attempt >= max_attempts {
                return Err(failure);
            }
            tokio::time::sleep(backoff(attempt, failure.retry_after())).await;
            match self.api.upload(&upload.id).await {
                Ok(state) => {
                    let landed = state.uploaded_chunks.unwrap_or(0);
                    if landed >= number {
                        tracing::debug!(
                            provider = PROVIDER,
                            chunk = number,
                            "the chunk landed although its answer was lost"
                        );
                        if number == total {
                            // A completed session is normally gone; one that still reports
                            // itself names no file, so look for it.
                            return Ok(ChunkOutcome::FinishedUnseen);
                        }
                        return Ok(ChunkOutcome::Stored);
                    }
                    if landed + 1 != number {
                        return Err(error::protocol(
                            "upload",
                            format!(
                                "the service holds {landed} chunks of this upload, but chunk {number} was being sent"
                            ),
                        ));
                    }
                    tracing::debug!(provider = PROVIDER, chunk = number, error = %failure, "sending the chunk again");
                }
                // The session completes (and disappears) with its last chunk.
                Err(e) if e.is_not_found() && number == total => {
                    return Ok(ChunkOutcome::FinishedUnseen);
                }
                Err(_) => return Err(failure),
            }
        }
    }

    async fn post_chunk(
        &self,
        upload: &Upload,
        data: Bytes,
        number: u64,
        name: &str,
    ) -> Result<crate::client::Reply> {
        let url = self.api.chunk_url(upload);
        let len = data.len() as u64;
        self.api
            .call("upload chunk", Call::upload(Repeat::Never, len), |c| {
                let content = Part::stream_with_length(reqwest::Body::from(data.clone()), len)
                    .file_name(name.to_owned());
                let form = Form::new()
                    .text("compressionMode", "NORMAL")
                    .text("compressionSize", len.to_string())
                    .text("originalSize", len.to_string())
                    .text("index", number.to_string())
                    .part("content", content);
                c.post(url.clone())
                    .query(&[("returnEntity", "true")])
                    .multipart(form)
            })
            .await
    }

    fn chunk_answer(
        &self,
        reply: crate::client::Reply,
        number: u64,
        total: u64,
    ) -> Result<ChunkOutcome> {
        if number < total {
            if reply.has_entity() {
                let state: Upload = reply.json("upload chunk")?;
                if let Some(n) = state.uploaded_chunks {
                    if n != number {
                        return Err(error::protocol(
                            "upload chunk",
                            format!("the service counted {n} chunks after chunk {number}"),
                        ));
                    }
                }
            }
            return Ok(ChunkOutcome::Stored);
        }
        let entity = if reply.has_entity() {
            Some(reply.json::<File>("upload chunk")?)
        } else {
            None
        };
        let id = entity
            .as_ref()
            .map(|f| f.id.clone())
            .or_else(|| reply.location_id())
            .filter(|id| valid_id(id))
            .ok_or_else(|| {
                error::protocol(
                    "upload chunk",
                    "the service completed the upload but named no file",
                )
            })?;
        Ok(ChunkOutcome::Finished { id, entity })
    }

    /// The file a completed upload produced when the answer to its last chunk was lost.
    async fn find_unseen(
        &self,
        target: &UploadTarget,
        file: &CheckedFile,
    ) -> Result<(String, Option<File>)> {
        let UploadTarget::Folder(folder) = target else {
            return Err(Error::new(
                ErrorKind::Unavailable,
                "the connection broke as the last chunk of an attachment was sent; the message was not sent",
            )
            .with_provider(PROVIDER)
            .with_operation("upload"));
        };
        let found = self.api.files_named(folder, file.name()).await?;
        let hit = found
            .into_iter()
            .find(|f| f.size == Some(file.size))
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::Unavailable,
                    "the connection broke as the last chunk was sent and the file is not in the folder; upload it again",
                )
                .with_provider(PROVIDER)
                .with_operation("upload")
            })?;
        // The fingerprints, checked next, prove the content is ours.
        Ok((hit.id.clone(), Some(hit)))
    }

    /// Checks the stored file's size, then (bounded polling) its fingerprints against ours.
    async fn verify(
        &self,
        id: &str,
        entity: Option<File>,
        file: &CheckedFile,
        ours: &Checksums,
    ) -> Result<File> {
        let name = file.name();
        let wait = self.settings.fingerprint_wait;
        let started = Instant::now();
        let mut current = match entity {
            Some(f) if f.id == id => f,
            _ => self.api.file(id).await?,
        };
        let mut attempt = 0;
        loop {
            if let Some(size) = current.size {
                if size != file.size {
                    return Err(Error::integrity(format!(
                        "{name}: the service stored {size} bytes, {} were sent",
                        file.size
                    ))
                    .with_provider(PROVIDER)
                    .with_operation("upload"));
                }
            }
            if !self.settings.verify {
                return Ok(current);
            }
            let theirs = service_checksums(&current);
            if !theirs.is_empty() {
                ours.verify(&theirs, name)
                    .map_err(|e| e.with_provider(PROVIDER).with_operation("upload"))?;
                return Ok(current);
            }
            if started.elapsed() >= wait {
                if !wait.is_zero() {
                    tracing::warn!(
                        provider = PROVIDER,
                        file = name,
                        "the service computed no fingerprint within {}s; only the size was checked",
                        wait.as_secs()
                    );
                }
                return Ok(current);
            }
            attempt += 1;
            let pause = Duration::from_millis(100u64 << attempt.min(4));
            tokio::time::sleep(pause.min(wait.saturating_sub(started.elapsed()))).await;
            current = self.api.file(id).await?;
        }
    }

    /// The upload role: resolve the folder, refuse to replace unless asked, continue a saved
    /// session when asked, and keep or drop the session by how the upload ended.
    pub(crate) async fn upload_request(&self, req: UploadRequest) -> Result<RemoteFile> {
        let file = req.file();
        let name = file.name();
        let (folder_id, folder_path) = match req.folder() {
            Some(path) => (
                self.folder_id(path, req.create_parents()).await?,
                Some(path.to_owned()),
            ),
            None => self.default_folder().await?,
        };
        let target = UploadTarget::Folder(folder_id.clone());
        if !req.overwrite() && !self.api.files_named(&folder_id, name).await?.is_empty() {
            // The service would silently make the upload a new version of that file.
            return Err(Error::new(
                ErrorKind::Conflict,
                format!(
                    "{name} exists in the folder already; allow overwriting to upload a new version"
                ),
            )
            .with_provider(PROVIDER)
            .with_operation("upload"));
        }
        let plan = ChunkPlan::new(file.size, self.chunk_size().await?)?;
        let book = self.book.as_ref();
        let key = book.and_then(|b| b.key(file, &folder_id, name));
        if req.resume() && (book.is_none() || key.is_none()) {
            tracing::warn!(
                provider = PROVIDER,
                "this upload cannot be resumed (no state directory, or not a file on disk); starting afresh"
            );
        }
        let saved = match (book, &key) {
            (Some(b), Some(k)) => b.load(k),
            _ => None,
        };
        let mut session = None;
        if let (Some(saved), Some(b), Some(k)) = (saved, book, &key) {
            if req.resume() {
                session = self.reopen(&saved, plan).await;
            }
            if session.is_none() {
                // Started afresh: the old session is abandoned.
                if let Err(e) = self.api.delete_upload(&saved.upload_id).await {
                    tracing::debug!(provider = PROVIDER, error = %e, "old upload session not discarded");
                }
                b.remove(k);
            }
        }
        req.cancel().check("the upload").map_err(|e| {
            e.with_message(format!(
                "the upload of {name} was interrupted before any of it was sent"
            ))
            .with_provider(PROVIDER)
            .with_operation("upload")
        })?;
        // Whether a later run can find this session: it was saved before (and reopened), or
        // is saved now.
        let mut resumable = session.is_some();
        let session = match session {
            Some(s) => s,
            None => {
                let upload = self.start_session(&target, file, plan).await?;
                if let (Some(b), Some(k)) = (book, &key) {
                    resumable = b.save(
                        k,
                        &SavedUpload {
                            upload_id: upload.id.clone(),
                            uri: upload.uri.clone(),
                            total_size: plan.total(),
                            total_chunks: plan.count(),
                            chunk_size: plan.chunk_size(),
                        },
                    );
                }
                Session {
                    upload,
                    first_chunk: 0,
                }
            }
        };
        let out = Outgoing {
            file,
            index: 0,
            progress: req.progress(),
        };
        let sent = self
            .send_chunks_until(&target, &out, plan, &session, Some(req.cancel()))
            .await;
        match sent {
            Err(e) if e.is_cancelled() => {
                let kept = if resumable {
                    // The session and its saved state stay, so the chunks sent are not lost.
                    "the service keeps what was sent: run the same upload again with --resume to continue where it stopped".to_owned()
                } else {
                    if let Err(d) = self.api.delete_upload(&session.upload.id).await {
                        tracing::debug!(provider = PROVIDER, error = %d, "interrupted upload session not discarded");
                    }
                    if let (Some(b), Some(k)) = (book, &key) {
                        b.remove(k);
                    }
                    if book.is_some() && key.is_some() {
                        "its session could not be saved for a later run, so its partial upload was discarded; run the same upload again".to_owned()
                    } else {
                        "it cannot be resumed (no state directory, or not a file on disk), so its partial upload was discarded".to_owned()
                    }
                };
                Err(e
                    .with_message(format!("the upload of {name} was interrupted; {kept}"))
                    .with_provider(PROVIDER)
                    .with_operation("upload"))
            }
            Ok(done) => {
                if let (Some(b), Some(k)) = (book, &key) {
                    b.remove(k);
                }
                Ok(self.remote_file(&done, file, folder_path))
            }
            Err(e) => {
                if e.is_retryable() || e.outcome_unknown() {
                    tracing::info!(
                        provider = PROVIDER,
                        "upload of {name} interrupted; it can continue with resume"
                    );
                } else {
                    // A failure that another try would not fix: the session goes.
                    if let Err(d) = self.api.delete_upload(&session.upload.id).await {
                        tracing::debug!(provider = PROVIDER, error = %d, "failed upload session not discarded");
                    }
                    if let (Some(b), Some(k)) = (book, &key) {
                        b.remove(k);
                    }
                }
                Err(e)
            }
        }
    }

    /// A saved session the service still has, with the same shape as this upload.
    async fn reopen(&self, saved: &SavedUpload, plan: ChunkPlan) -> Option<Session> {
        if saved.total_size != plan.total()
            || saved.total_chunks != plan.count()
            || saved.chunk_size != plan.chunk_size()
            || !valid_id(&saved.upload_id)
        {
            return None;
        }
        let state = match self.api.upload(&saved.upload_id).await {
            Ok(s) => s,
            Err(e) => {
                tracing::info!(provider = PROVIDER, error = %e, "the saved upload session is gone; starting afresh");
                return None;
            }
        };
        let landed = state.uploaded_chunks.unwrap_or(0);
        let same = state.total_size.is_none_or(|t| t == plan.total())
            && state.total_chunks.is_none_or(|t| t == plan.count());
        if !same || landed >= plan.count() {
            return None;
        }
        tracing::info!(
            provider = PROVIDER,
            "continuing upload session after {landed} of {} chunks",
            plan.count()
        );
        let mut upload = state;
        if upload.uri.is_none() {
            upload.uri.clone_from(&saved.uri);
        }
        Some(Session {
            upload,
            first_chunk: landed,
        })
    }

    /// The file as a [`RemoteFile`]: the service's id and name, our checksums (which the
    /// service's fingerprints matched).
    pub(crate) fn remote_file(
        &self,
        done: &Uploaded,
        file: &CheckedFile,
        folder: Option<String>,
    ) -> RemoteFile {
        let mut r = RemoteFile::new(
            PROVIDER,
            done.file.id.clone(),
            done.file
                .name
                .clone()
                .unwrap_or_else(|| file.name().to_owned()),
        )
        .with_size(done.file.size.unwrap_or(file.size))
        .with_content_type(
            done.file
                .mime
                .clone()
                .unwrap_or_else(|| file.attachment.content_type()),
        )
        .with_checksums(done.checksums.clone());
        if let Some(f) = folder {
            r = r.with_folder(f);
        }
        r
    }
}

fn hex_of_len(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The fingerprints the service has computed so far (none while it says "Generating...").
pub(crate) fn service_checksums(f: &File) -> Checksums {
    let mut sums = Checksums::default();
    for fp in f.fingerprints.iter().flatten() {
        let (Some(algo), Some(hash)) = (fp.algo.as_deref(), fp.hash.as_deref()) else {
            continue;
        };
        let hash = hash.trim().to_ascii_lowercase();
        match algo.to_ascii_lowercase().as_str() {
            "sha3-256" | "sha3_256" if hex_of_len(&hash, 64) => sums.sha3_256 = Some(hash),
            "md5" if hex_of_len(&hash, 32) => sums.md5 = Some(hash),
            _ => {}
        }
    }
    if sums.md5.is_none() {
        if let Some(legacy) = f.fingerprint.as_deref().map(str::trim) {
            if hex_of_len(legacy, 32) {
                sums.md5 = Some(legacy.to_ascii_lowercase());
            }
        }
    }
    sums
}
