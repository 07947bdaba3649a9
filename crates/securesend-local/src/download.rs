//! Downloading from the file store.

use futures::TryStreamExt;
use tokio_util::io::ReaderStream;

use securesend_core::{Download, DownloadRequest, Error, Result};

use crate::LocalProvider;

/// Read size for downloads.
const READ_CHUNK: usize = 256 * 1024;

impl LocalProvider {
    pub(crate) async fn download_file(&self, req: DownloadRequest) -> Result<Download> {
        let entry = self.store.entry(req.id())?;
        let file = self.store.open_blob(&entry).await?;
        let id = entry.id.clone();
        let stream = ReaderStream::with_capacity(file, READ_CHUNK)
            .map_err(move |e| Error::io(format!("reading {id} from the store"), e));
        // The entry's size and SHA-256 travel with the download, so `save_to` verifies them.
        Ok(Download::new(entry.to_remote(), Box::pin(stream)))
    }
}
