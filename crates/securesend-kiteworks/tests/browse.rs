//! Browsing against the Kiteworks sandbox: paged listings that return each entry once, listed
//! ids that download, folders created once.

mod common;

use std::collections::BTreeMap;

use common::{kit, sha256};
use securesend_core::{
    Attachment, DownloadRequest, EntryKind, ErrorKind, ListRequest, Provider, UploadRequest,
};

async fn upload(p: &Provider, folder: &str, name: &str, data: Vec<u8>) {
    let req = UploadRequest::builder(Attachment::from_bytes(name, data))
        .folder(folder)
        .create_parents(true)
        .build()
        .unwrap();
    p.upload(req).await.unwrap();
}

#[tokio::test]
async fn paged_listing_returns_every_entry_once_and_listed_ids_download() {
    let k = kit().await;
    let p = k.provider().into_provider();
    let folder = "My Folder/browse";
    let mut want = BTreeMap::new();
    for i in 0..7u8 {
        let name = format!("f{i}.bin");
        let data = vec![i; 1000 + usize::from(i)];
        want.insert(name.clone(), sha256(&data));
        upload(&p, folder, &name, data).await;
    }
    for sub in ["sub-a", "sub-b", "sub-c"] {
        p.create_folder(&format!("{folder}/{sub}"), false)
            .await
            .unwrap();
    }

    // Pages of 2: three folders then seven files, each exactly once, folders first.
    let first = p
        .list_page(ListRequest::at(folder).page_size(2))
        .await
        .unwrap();
    assert_eq!(first.entries.len(), 2);
    assert!(first.next.is_some());
    let all = p.list(ListRequest::at(folder).page_size(2)).await.unwrap();
    let kinds: Vec<EntryKind> = all.iter().map(|e| e.kind).collect();
    assert_eq!(&kinds[..3], &[EntryKind::Folder; 3]);
    let mut names: Vec<&str> = all.iter().map(|e| e.name.as_str()).collect();
    names.sort();
    let mut expected: Vec<&str> = want.keys().map(String::as_str).collect();
    expected.extend(["sub-a", "sub-b", "sub-c"]);
    expected.sort();
    assert_eq!(names, expected, "every entry once");
    let pages = k.count("GET", "/files");
    assert!(
        pages >= 4,
        "the files were fetched page by page ({pages} requests)"
    );

    // A folder's id lists the same entries as its path.
    let sub = all.iter().find(|e| e.name == "sub-b").unwrap();
    assert!(p.list(ListRequest::at(&sub.id)).await.unwrap().is_empty());
    assert_eq!(sub.path.as_deref(), Some("My Folder/browse/sub-b"));

    // Every listed file id downloads to the bytes uploaded.
    let dir = tempfile::tempdir().unwrap();
    for e in all.iter().filter(|e| e.kind == EntryKind::File) {
        assert_eq!(e.size, Some(1000 + u64::from(e.name.as_bytes()[1] - b'0')));
        let age = time::OffsetDateTime::now_utc() - e.modified.expect("files carry a time");
        assert!(age.whole_minutes().abs() < 10, "{e:?}");
        let saved = p
            .download(DownloadRequest::new(&e.id))
            .await
            .unwrap()
            .save_to(dir.path())
            .await
            .unwrap();
        assert_eq!(
            saved.checksums.sha256.as_ref(),
            Some(&want[&e.name]),
            "{}",
            e.name
        );
    }

    // The top level lists the user's folders.
    let top = p.list(ListRequest::top()).await.unwrap();
    assert!(
        top.iter()
            .any(|e| e.name == "My Folder" && e.kind == EntryKind::Folder)
    );
}

#[tokio::test]
async fn creating_folders_conflicts_once_and_parents_make_it_a_no_op() {
    let k = kit().await;
    let p = k.provider().into_provider();
    let made = p.create_folder("My Folder/new", false).await.unwrap();
    assert_eq!(made.kind, EntryKind::Folder);
    let again = p.create_folder("My Folder/new", false).await.unwrap_err();
    assert_eq!(again.kind(), ErrorKind::Conflict, "{again}");
    assert!(again.to_string().contains("exists already"), "{again}");
    let same = p.create_folder("My Folder/new", true).await.unwrap();
    assert_eq!(
        same.id, made.id,
        "an existing folder with parents is the same folder"
    );

    let missing = p.create_folder("Nowhere/deep/er", false).await.unwrap_err();
    assert_eq!(missing.kind(), ErrorKind::NotFound, "{missing}");
    assert!(missing.to_string().contains("--parents"), "{missing}");
    let deep = p.create_folder("Nowhere/deep/er", true).await.unwrap();
    assert_eq!(deep.path.as_deref(), Some("Nowhere/deep/er"));
    let listed = p.list(ListRequest::at("Nowhere/deep")).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, deep.id);

    let top = p.create_folder("Top Level Only", false).await.unwrap();
    assert!(
        p.list(ListRequest::top())
            .await
            .unwrap()
            .iter()
            .any(|e| e.id == top.id),
        "created under parent 0, the top level"
    );
}
