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
        if request.create_parents() {
            self.make_folders(&folder).await?;
        }
        // `If-None-Match: *` makes this atomic where the server honours it; the HEAD catches
        // the existing file before any byte is sent where it does not.
        if !request.overwrite() && self.client.head(&path).await?.is_some() {
            return Err(Error::new(
                ErrorKind::Conflict,
                format!("{path} exists already; upload under another name or allow overwriting"),
            )
            .with_provider(PROVIDER)
            .with_operation("upload"));
        }
        let content_type = file.attachment.content_type();
        let outgoing = Outgoing::open(file, request.progress(), 0).await?;
        let (created, checksums) = self
            .client
            .put(&path, &content_type, outgoing, !request.overwrite())
            .await?;
        tracing::info!(provider = PROVIDER, path = %path, created, bytes = file.size, "uploaded");
        Ok(RemoteFile::new(PROVIDER, path.to_id(), file.name())
            .with_size(file.size)
            .with_content_type(content_type)
            .with_checksums(checksums)
            .with_folder(folder.to_string()))
    }
}
