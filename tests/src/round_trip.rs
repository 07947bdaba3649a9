//! Upload then download, compared by SHA-256.

use std::time::Instant;

use securesend::{Attachment, DownloadRequest, UploadRequest};

use crate::{Target, TestFiles, sha256_file};

/// The largest round trip every provider makes: big enough to cross many chunks of any
/// provider, small enough to keep a debug-profile run of the suite in CI-friendly time.
pub const LARGE: u64 = 50 << 20;

/// The sizes where chunking goes wrong: nothing, one byte, one short of a chunk, exactly a
/// chunk, one byte into a second chunk, and [`LARGE`].
pub fn boundary_sizes(chunk: u64) -> Vec<u64> {
    assert!(
        chunk > 1,
        "a chunk of {chunk} bytes has no boundary to test"
    );
    vec![0, 1, chunk - 1, chunk, chunk + 1, LARGE]
}

/// Uploads a file of each size, downloads it by the returned id and checks the bytes.
/// Prints how long each size took (see with `--nocapture`), so slow providers show up.
pub async fn round_trips(target: &Target, sizes: &[u64]) {
    let caps = target.provider.capabilities().clone();
    let name_of = target.provider.name().to_owned();
    let dir = TestFiles::new();
    if !caps.upload {
        // Gated: a provider that cannot upload refuses the first size before any request.
        let path = dir.create("refused.bin", sizes.first().copied().unwrap_or(1));
        let req = UploadRequest::builder(Attachment::from_path(&path))
            .build()
            .expect("a valid upload");
        let before = target.observer.fingerprint().await;
        let err = target.provider.upload(req).await.unwrap_err();
        assert_eq!(err.kind(), securesend::ErrorKind::Unsupported, "{err}");
        assert!(err.to_string().contains(&name_of), "{err}");
        assert_eq!(
            before,
            target.observer.fingerprint().await,
            "{name_of}: upload reached the service"
        );
        return;
    }
    for &size in sizes {
        if size == 0 && !caps.empty_files {
            continue;
        }
        let started = Instant::now();
        let name = format!("round-trip-{size}.bin");
        let path = dir.create(&name, size);
        let sha256 = sha256_file(&path);
        let req = UploadRequest::builder(Attachment::from_path(&path))
            .build()
            .expect("a valid upload");
        let remote = target
            .provider
            .upload(req)
            .await
            .unwrap_or_else(|e| panic!("{name_of} upload of {size} bytes: {e}"));
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
            .unwrap_or_else(|e| panic!("{name_of} download of {}: {e}", remote.id))
            .save_to(&out)
            .await
            .unwrap_or_else(|e| panic!("saving {}: {e}", remote.id));
        assert_eq!(saved.size, size);
        assert_eq!(saved.checksums.sha256.as_deref(), Some(sha256.as_str()));
        assert_eq!(sha256_file(&saved.path), sha256, "bytes on disk");
        assert_eq!(saved.path, out.join(&name));
        // Both copies of a large file are gone before the next size is written.
        std::fs::remove_file(&path).expect("remove the uploaded copy");
        std::fs::remove_file(&saved.path).expect("remove the downloaded copy");
        eprintln!(
            "{name_of}: round trip of {size} bytes took {:.2?}",
            started.elapsed()
        );
    }
}
