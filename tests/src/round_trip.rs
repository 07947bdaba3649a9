//! Upload then download, compared by SHA-256.

use securesend::{Attachment, DownloadRequest, UploadRequest};

use crate::{Target, TestFiles, sha256_file};

/// Uploads a file of each size, downloads it by the returned id and checks the bytes.
pub async fn round_trips(target: &Target, sizes: &[u64]) {
    let caps = target.provider.capabilities().clone();
    let dir = TestFiles::new();
    for &size in sizes {
        if size == 0 && !caps.empty_files {
            continue;
        }
        let name = format!("round-trip-{size}.bin");
        let path = dir.create(&name, size);
        let sha256 = sha256_file(&path);
        let req = UploadRequest::builder(Attachment::from_path(&path))
            .build()
            .expect("a valid upload");
        let remote =
            target.provider.upload(req).await.unwrap_or_else(|e| {
                panic!("{} upload of {size} bytes: {e}", target.provider.name())
            });
        assert_eq!(remote.name, name);
        assert_eq!(remote.size, Some(size), "uploaded size");
        assert_eq!(
            remote.checksums.sha256.as_deref(),
            Some(sha256.as_str()),
            "uploaded sha256"
        );

        let out = dir.subdir(&format!("down-{size}"));
        let saved = target
            .provider
            .download(DownloadRequest::new(&remote.id))
            .await
            .unwrap_or_else(|e| panic!("{} download of {}: {e}", target.provider.name(), remote.id))
            .save_to(&out)
            .await
            .unwrap_or_else(|e| panic!("saving {}: {e}", remote.id));
        assert_eq!(saved.size, size);
        assert_eq!(saved.checksums.sha256.as_deref(), Some(sha256.as_str()));
        assert_eq!(sha256_file(&saved.path), sha256, "bytes on disk");
        assert_eq!(saved.path, out.join(&name));
    }
}
