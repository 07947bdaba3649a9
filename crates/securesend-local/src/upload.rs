//! Uploading into the file store.

use securesend_core::{FileProgress, RemoteFile, Result, UploadRequest};

use crate::LocalProvider;
use crate::send::Blocks;
use crate::store::Created;

impl LocalProvider {
    pub(crate) async fn upload_file(&self, req: UploadRequest) -> Result<RemoteFile> {
        let mut created = Created::default();
        let result = self.store_upload(&req, &mut created).await;
        if result.is_err() {
            // A failed upload takes back the folders it made.
            created.undo();
        }
        result
    }

    async fn store_upload(&self, req: &UploadRequest, created: &mut Created) -> Result<RemoteFile> {
        let folder = req.folder().unwrap_or("");
        self.store
            .ensure_folder(folder, req.create_parents(), created)?;
        let file = req.file();
        let name = file.name();
        let mut blob = self.store.new_blob().await?;
        let mut progress = FileProgress::start(req.progress(), 0, name, Some(file.size));
        // Until the commit below nothing is visible; an interruption drops the staged blob
        // (a temporary file, removed with it).
        let staged = req
            .cancel()
            .guard("the upload", async {
                let mut blocks = Blocks::new(file.open().await?, name);
                while let Some(block) = blocks.next().await? {
                    blob.write(block).await?;
                    progress.advance(block.len() as u64);
                }
                blob.finish().await
            })
            .await
            .map_err(|e| {
                if e.is_cancelled() {
                    e.with_message(format!(
                        "the upload of {name} was interrupted before it was stored; nothing was kept"
                    ))
                } else {
                    e
                }
            })?;
        let entry = self.store.commit(
            staged,
            folder,
            name,
            &file.attachment.content_type(),
            req.overwrite(),
            created,
        )?;
        progress.finish();
        Ok(entry.to_remote())
    }
}
