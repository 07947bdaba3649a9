//! Uploads over WebDAV: a streamed `PUT` of the file below the home folder.

use securesend_core::{Error, ErrorKind, RemoteFile, Result, UploadRequest};

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
        if request.create_parents() {
            cancel
                .guard(before, self.make_folders(&folder))
                .await
                .map_err(interrupted)?;
        }
        // `If-None-Match: *` makes this atomic where the server honours it; the HEAD catches
        // the existing file before any byte is sent where it does not.
        let existing = if request.overwrite() {
            None
        } else {
            cancel
                .guard(before, self.client.head(&path))
                .await
                .map_err(interrupted)?
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
                return Err(self.interrupted_put(e, &path, &request).await);
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

    /// After a PUT abandoned on a cancellation: a new file (nothing was there, as the HEAD
    /// showed) is deleted, since the server may keep the part it received; a replaced one is
    /// left, since deleting it would also lose the earlier version. The error says which.
    async fn interrupted_put(
        &self,
        e: Error,
        path: &crate::vfs::VfsPath,
        request: &UploadRequest,
    ) -> Error {
        let e = e.or_provider(PROVIDER).or_operation("upload");
        let note = if request.overwrite() {
            format!("{path} may now hold part of the new content; upload it again to replace it")
        } else {
            match self.client.delete(path).await {
                Ok(_) => format!("nothing is left at {path}"),
                Err(d) => {
                    tracing::warn!(provider = PROVIDER, error = %d, "could not remove an interrupted upload");
                    format!(
                        "{path} may hold part of the file and could not be removed; delete it before uploading again"
                    )
                }
            }
        };
        let message = format!("{}; {note}", e.message());
        e.with_message(message)
    }
}
