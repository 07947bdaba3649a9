//! Uploads over WebDAV: a streamed `PUT` of the file below the home folder.

use securesend_core::{Error, ErrorKind, RemoteFile, Result, UploadRequest};

use crate::browse::MadeFolders;
use crate::stream::Outgoing;
use crate::{EgroupwareProvider, PROVIDER};

impl EgroupwareProvider {
    /// Uploads `request` to `<home>/<folder>/<name>`; the file's id is its VFS path.
    pub(crate) async fn upload_file(&self, request: UploadRequest) -> Result<RemoteFile> {
        let file = request.file();
        let folder = match request.folder() {
            Some(f) => self.home.join(f)?,
            None => self.home.clone(),
        };
        let path = folder.join(file.name())?;
        let cancel = request.cancel();
        let before = "the upload, before any byte was sent,";
        let interrupted = |e: Error| e.or_provider(PROVIDER).or_operation("upload");
        let mut folders = MadeFolders::default();
        if request.create_parents() {
            let made = cancel
                .guard(before, self.make_folders(&folder, &mut folders))
                .await;
            made.map_err(|e| folders.noted(interrupted(e)))?;
        }
        // `If-None-Match: *` makes this atomic where the server honours it; the HEAD catches
        // the existing file before any byte is sent where it does not.
        let existing = if request.overwrite() {
            None
        } else {
            cancel
                .guard(before, self.client.head(&path))
                .await
                .map_err(|e| folders.noted(interrupted(e)))?
        };
        if existing.is_some() {
            return Err(Error::new(
                ErrorKind::Conflict,
                format!("{path} exists already; upload under another name or allow overwriting"),
            )
            .with_provider(PROVIDER)
            .with_operation("upload"));
        }
        let content_type = file.attachment.content_type();
        let outgoing = Outgoing::open(file, request.progress(), 0).await?;
        let handed = outgoing.handed();
        let put = cancel
            .guard(
                &format!("the upload of {}", file.name()),
                self.client
                    .put(&path, &content_type, outgoing, !request.overwrite()),
            )
            .await;
        let (created, checksums) = match put {
            Ok(done) => done,
            Err(e) if e.is_cancelled() => {
                return Err(
                    folders.noted(self.interrupted_put(e, &path, &request, handed.get()).await)
                );
            }
            Err(e) => return Err(e),
        };
        tracing::info!(provider = PROVIDER, path = %path, created, bytes = file.size, "uploaded");
        Ok(RemoteFile::new(PROVIDER, path.to_id(), file.name())
            .with_size(file.size)
            .with_content_type(content_type)
            .with_checksums(checksums)
            .with_folder(folder.to_string()))
    }

    /// After a PUT abandoned on a cancellation. A replaced file is left, since deleting it
    /// would also lose the earlier version. A new one (nothing was there, as the first HEAD
    /// showed) may have been kept in part by the server, but another client may also have
    /// created the path since (our `If-None-Match: *` PUT would then have been refused): so
    /// the path is looked at again and deleted only when what is there can be ours, no larger
    /// than the `handed` bytes of the body that left. The error says which.
    async fn interrupted_put(
        &self,
        e: Error,
        path: &crate::vfs::VfsPath,
        request: &UploadRequest,
        handed: u64,
    ) -> Error {
        let e = e.or_provider(PROVIDER).or_operation("upload");
        let note = if request.overwrite() {
            format!("{path} may now hold part of the new content; upload it again to replace it")
        } else {
            self.remove_partial(path, handed).await
        };
        let message = format!("{}; {note}", e.message());
        e.with_message(message)
    }

    /// Deletes what an interrupted new upload left at `path` when it can be ours; says what.
    async fn remove_partial(&self, path: &crate::vfs::VfsPath, handed: u64) -> String {
        let kept = || {
            format!(
                "{path} may hold part of the file; check it and delete it before uploading again"
            )
        };
        let there = match self.client.head(path).await {
            Ok(None) => return format!("nothing is left at {path}"),
            Ok(Some(meta)) => meta,
            Err(h) => {
                tracing::warn!(provider = PROVIDER, error = %h, "could not look at an interrupted upload");
                return kept();
            }
        };
        match there.size {
            Some(size) if size <= handed => {}
            // Larger than what we sent, or of unknown size: another client's file, maybe.
            _ => return kept(),
        }
        match self.client.delete(path).await {
            Ok(_) => format!("nothing is left at {path}"),
            Err(d) => {
                tracing::warn!(provider = PROVIDER, error = %d, "could not remove an interrupted upload");
                format!(
                    "{path} may hold part of the file and could not be removed; delete it before uploading again"
                )
            }
        }
    }
}
