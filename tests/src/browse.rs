//! Browsing: listings that span pages, listed ids that download, folders that conflict.

use std::collections::BTreeMap;

use securesend::{Attachment, DownloadRequest, EntryKind, ErrorKind, ListRequest, UploadRequest};

use crate::{Target, TestFiles, sha256_file};

/// Creates a folder, uploads `count` files into it, and lists it `page_size` entries at a time:
/// every file must appear exactly once, and a listed id must download byte for byte. Without
/// the browse role, listing must be refused before any request.
pub async fn browse(target: &Target, count: usize, page_size: usize) {
    let caps = target.provider.capabilities().clone();
    let name = target.provider.name().to_owned();
    if !caps.browse {
        let before = target.observer.fingerprint().await;
        let err = target.provider.list(ListRequest::top()).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unsupported, "{name}: {err}");
        assert_eq!(
            before,
            target.observer.fingerprint().await,
            "{name}: listing made a request"
        );
        return;
    }
    let folder = format!("conformance-browse-{:08x}", rand::random::<u32>());
    if caps.create_folders {
        let made = target.provider.create_folder(&folder, false).await.unwrap();
        assert_eq!(made.kind, EntryKind::Folder);
        let again = target
            .provider
            .create_folder(&folder, false)
            .await
            .unwrap_err();
        assert_eq!(
            again.kind(),
            ErrorKind::Conflict,
            "{name}: creating an existing folder: {again}"
        );
        target
            .provider
            .create_folder(&folder, true)
            .await
            .unwrap_or_else(|e| panic!("{name}: an existing folder with parents is fine: {e}"));
    }
    if !(caps.upload && caps.upload_to_folder) {
        return;
    }
    let dir = TestFiles::new();
    let mut expected = BTreeMap::new();
    for i in 0..count {
        let file = format!("listed-{i:03}.bin");
        let path = dir.create(&file, 100 + i as u64);
        expected.insert(file.clone(), sha256_file(&path));
        let req = UploadRequest::builder(Attachment::from_path(&path))
            .folder(folder.clone())
            .create_parents(caps.create_folders)
            .build()
            .unwrap();
        target
            .provider
            .upload(req)
            .await
            .unwrap_or_else(|e| panic!("{name}: upload {file}: {e}"));
    }
    let first = target
        .provider
        .list_page(ListRequest::at(folder.clone()).page_size(page_size))
        .await
        .unwrap();
    assert!(
        first.next.is_some(),
        "{name}: {count} entries at {page_size} a page fit one page"
    );
    let entries = target
        .provider
        .list(ListRequest::at(folder.clone()).page_size(page_size))
        .await
        .unwrap();
    let mut seen = BTreeMap::new();
    for e in &entries {
        assert_eq!(e.kind, EntryKind::File, "{name}: {e:?}");
        *seen.entry(e.name.clone()).or_insert(0) += 1;
    }
    assert!(
        seen.values().all(|&n| n == 1),
        "{name}: entries listed twice: {seen:?}"
    );
    assert_eq!(
        seen.keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>(),
        "{name}: every uploaded file, once"
    );
    let pick = &entries[entries.len() / 2];
    let out = dir.subdir("listed-download");
    let saved = target
        .provider
        .download(DownloadRequest::new(&pick.id))
        .await
        .unwrap()
        .save_to(&out)
        .await
        .unwrap();
    assert_eq!(
        sha256_file(&saved.path),
        expected[&pick.name],
        "{name}: listed id downloads"
    );
}
