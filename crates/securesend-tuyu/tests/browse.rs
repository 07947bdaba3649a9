//! Browsing: the `file_list` and `create_folder` requests on the wire (mockito), and
//! listings across pages, listed-id downloads and folder creation against the sandbox.

use mockito::{Matcher, Server, ServerGuard};
use securesend_core::checksum::sha256_hex;
use securesend_core::config::{ProfileConfig, Table};
use securesend_core::{
    Attachment, DownloadRequest, EntryKind, ErrorKind, ListRequest, Provider, UploadRequest,
};
use securesend_sandbox::route::Route;
use securesend_sandbox::tuyu::{Tuyu, WORKSPACE};
use securesend_sandbox::{Sandbox, SandboxOptions};
use serde_json::json;

fn mock_provider(server: &ServerGuard, extra: &[(&str, &str)]) -> Provider {
    let mut fields = Table::new();
    fields.insert("base_url".into(), server.url().into());
    fields.insert("api_key".into(), "demo_key_123".into());
    fields.insert("api_secret".into(), "demo_secret_456".into());
    fields.insert("workspace_path".into(), "/W_workspace/".into());
    let mut http = Table::new();
    http.insert("max_attempts".into(), 1.into());
    fields.insert("http".into(), http.into());
    for (k, v) in extra {
        fields.insert((*k).into(), (*v).into());
    }
    securesend_tuyu::connect(&ProfileConfig::new("t", "tuyu", fields, ".")).unwrap()
}

fn signed_get(params: &[(&str, &str)]) -> Matcher {
    let mut all: Vec<Matcher> = params
        .iter()
        .map(|(k, v)| Matcher::UrlEncoded((*k).into(), (*v).into()))
        .collect();
    all.push(Matcher::UrlEncoded("api_key".into(), "demo_key_123".into()));
    all.push(Matcher::Regex(
        "timestamp=[0-9]+&signature=[0-9a-f]{64}$".into(),
    ));
    Matcher::AllOf(all)
}

fn access_refused() -> String {
    json!({"error": {"title": "You do not have access privileges for this location",
        "message": "Please try a different location or speak to an administrator."}})
    .to_string()
}

#[tokio::test]
async fn file_list_pages_by_number_and_reads_entries() {
    let mut server = Server::new_async().await;
    let files: Vec<serde_json::Value> = (0..50)
        .map(|i| {
            if i == 0 {
                json!({"id": 7, "name": "Sub folder", "type": "folder", "size": 0, "modDate": 1_700_000_000})
            } else if i == 1 {
                json!({"id": "8", "name": "bad/name", "type": "folder"})
            } else {
                json!({"id": 100 + i, "name": format!("f{i:02}\u{7}.txt"), "type": "file", "size": i, "modDate": "1700000001"})
            }
        })
        .collect();
    let p1 = server
        .mock("GET", "/api/file_list")
        .match_query(signed_get(&[
            ("path", "/W_workspace/in/"),
            ("current_page", "1"),
            ("sort_by", "name_asc"),
        ]))
        .with_body(json!({"fileList": {"path": "/W_workspace/in/", "totalFiles": 51, "filesInPage": 50, "maxFilesPage": 50, "files": files}}).to_string())
        .expect(1)
        .create_async()
        .await;
    let p2 = server
        .mock("GET", "/api/file_list")
        .match_query(signed_get(&[("path", "/W_workspace/in/"), ("current_page", "2")]))
        .with_body(json!({"fileList": {"totalFiles": "51", "files": {"file": {"id": 999, "name": "last.bin", "type": "file", "size": "3"}}}}).to_string())
        .expect(1)
        .create_async()
        .await;
    let p = mock_provider(&server, &[]);
    // A requested page size is not the service's to change: pages hold 50.
    let first = p
        .list_page(ListRequest::at("W_workspace/in").page_size(10))
        .await
        .unwrap();
    assert_eq!(first.next.as_deref(), Some("2"));
    assert_eq!(
        first.entries.len(),
        49,
        "the folder named bad/name is left out"
    );
    let sub = &first.entries[0];
    assert_eq!(
        (sub.id.as_str(), sub.name.as_str(), sub.kind),
        (
            "/W_workspace/in/Sub folder/",
            "Sub folder",
            EntryKind::Folder
        )
    );
    assert_eq!(sub.modified.unwrap().unix_timestamp(), 1_700_000_000);
    let f = &first.entries[1];
    assert_eq!(
        (f.id.as_str(), f.name.as_str(), f.kind, f.size),
        ("102", "f02 .txt", EntryKind::File, Some(2))
    );
    assert_eq!(f.path.as_deref(), Some("/W_workspace/in/f02 .txt"));
    let second = p
        .list_page(ListRequest::at("/W_workspace/in/").after("2"))
        .await
        .unwrap();
    assert_eq!(second.next, None);
    assert_eq!(second.entries[0].id, "999");
    assert_eq!(second.entries[0].size, Some(3));
    p1.assert_async().await;
    p2.assert_async().await;

    let e = p
        .list_page(ListRequest::at("W_workspace").after("zero"))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
}

#[tokio::test]
async fn the_site_root_is_explained_and_folder_root_moves_the_top() {
    let mut server = Server::new_async().await;
    server
        .mock("GET", "/api/file_list")
        .match_query(signed_get(&[("path", "/")]))
        .with_body(access_refused())
        .create_async()
        .await;
    let top = server
        .mock("GET", "/api/file_list")
        .match_query(signed_get(&[("path", "/W_workspace/")]))
        .with_body(json!({"fileList": {"totalFiles": 0, "files": []}}).to_string())
        .expect(1)
        .create_async()
        .await;
    let e = mock_provider(&server, &[])
        .list(ListRequest::top())
        .await
        .unwrap_err();
    assert!(
        e.is_permission_denied() && e.to_string().contains("/W_workspace/"),
        "{e}"
    );
    let rooted = mock_provider(&server, &[("folder_root", "W_workspace")]);
    assert!(rooted.list(ListRequest::top()).await.unwrap().is_empty());
    top.assert_async().await;
}

#[tokio::test]
async fn create_folder_looks_first_then_posts_once() {
    let mut server = Server::new_async().await;
    let missing = server
        .mock("GET", "/api/file_list")
        .match_query(signed_get(&[("path", "/W_workspace/new one/")]))
        .with_body(access_refused())
        .expect(1)
        .create_async()
        .await;
    let create = server
        .mock("POST", "/api/create_folder")
        .match_header("content-type", "application/x-www-form-urlencoded")
        .match_body(Matcher::AllOf(vec![
            Matcher::UrlEncoded("folder_name".into(), "new one".into()),
            Matcher::UrlEncoded("folder_path".into(), "/W_workspace/".into()),
            Matcher::UrlEncoded("api_key".into(), "demo_key_123".into()),
            Matcher::Regex("signature=[0-9a-f]{64}".into()),
        ]))
        .with_body(json!({"createFolder": {"folder_id": "77", "folder_name": "new one", "folder_path": "/W_workspace/", "workspace_id": "1"}}).to_string())
        .expect(1)
        .create_async()
        .await;
    let exists = server
        .mock("GET", "/api/file_list")
        .match_query(signed_get(&[("path", "/W_workspace/there/")]))
        .with_body(json!({"fileList": {"totalFiles": 0, "files": []}}).to_string())
        .expect(2)
        .create_async()
        .await;
    let p = mock_provider(&server, &[("folder_root", "/W_workspace/")]);
    let made = p.create_folder("new one", false).await.unwrap();
    assert_eq!(
        (made.id.as_str(), made.kind),
        ("/W_workspace/new one/", EntryKind::Folder)
    );
    missing.assert_async().await;
    create.assert_async().await;
    let e = p.create_folder("there", false).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Conflict, "{e}");
    p.create_folder("there", true).await.unwrap();
    exists.assert_async().await;
}

fn sandbox_provider(sandbox: &Sandbox, folder_root: Option<&str>) -> Provider {
    let mut fields = sandbox.profile().clone();
    fields.remove("provider");
    // The sandbox's profile starts in the workspace; `None` tests the default, the site root.
    fields.remove("folder_root");
    if let Some(root) = folder_root {
        fields.insert("folder_root".into(), root.into());
    }
    securesend_tuyu::connect(&ProfileConfig::new("sandbox", "tuyu", fields, ".")).unwrap()
}

async fn start() -> Sandbox {
    Sandbox::start(&Tuyu::default(), SandboxOptions::default())
        .await
        .unwrap()
}

#[tokio::test]
async fn more_than_a_page_lists_each_entry_once_and_ids_download() {
    let sandbox = start().await;
    let p = sandbox_provider(&sandbox, Some(WORKSPACE));
    p.create_folder("batch", false).await.unwrap();
    let mut sums = std::collections::BTreeMap::new();
    for i in 0..55u8 {
        let name = format!("n{i:02}.bin");
        let bytes: Vec<u8> = (0..200 + usize::from(i)).map(|b| (b as u8) ^ i).collect();
        sums.insert(name.clone(), sha256_hex(&bytes));
        let req = UploadRequest::builder(Attachment::from_bytes(&name, bytes))
            .folder("batch")
            .build()
            .unwrap();
        p.upload(req).await.unwrap();
    }
    let first = p.list_page(ListRequest::at("batch")).await.unwrap();
    assert_eq!(first.entries.len(), 50);
    assert_eq!(first.next.as_deref(), Some("2"));
    let all = p.list(ListRequest::at("batch")).await.unwrap();
    let names: Vec<&str> = all.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(
        names,
        sums.keys().map(String::as_str).collect::<Vec<_>>(),
        "each once, in name order"
    );
    let pick = &all[53];
    let dir = tempfile::tempdir().unwrap();
    let saved = p
        .download(DownloadRequest::new(&pick.id))
        .await
        .unwrap()
        .save_to(dir.path())
        .await
        .unwrap();
    assert_eq!(
        sha256_hex(&std::fs::read(&saved.path).unwrap()),
        sums[&pick.name]
    );
    // The workspace lists the folder; its id lists it again.
    let top = p.list(ListRequest::top()).await.unwrap();
    let batch = top.iter().find(|e| e.name == "batch").unwrap();
    assert_eq!(batch.kind, EntryKind::Folder);
    assert_eq!(batch.id, format!("{WORKSPACE}batch/"));
    assert_eq!(
        p.list(ListRequest::at(batch.id.clone()))
            .await
            .unwrap()
            .len(),
        55
    );
}

#[tokio::test]
async fn existing_folders_conflict_and_parents_create_each_level() {
    let sandbox = start().await;
    let p = sandbox_provider(&sandbox, None);
    let made = p
        .create_folder("Designers_workspace/plans", false)
        .await
        .unwrap();
    assert_eq!(made.id, "/Designers_workspace/plans/");
    let creates = |s: &Sandbox| {
        s.journal()
            .count(&Route::new("POST", "/api/create_folder").unwrap())
    };
    assert_eq!(creates(&sandbox), 1);
    let e = p
        .create_folder("Designers_workspace/plans", false)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Conflict, "{e}");
    p.create_folder("Designers_workspace/plans", true)
        .await
        .unwrap();
    assert_eq!(
        creates(&sandbox),
        1,
        "an existing folder is not created again"
    );

    let e = p
        .create_folder("Designers_workspace/x/y", false)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
    p.create_folder("Designers_workspace/x/y/z", true)
        .await
        .unwrap();
    assert_eq!(
        creates(&sandbox),
        5,
        "x, y and z one by one after the refused y"
    );
    let y = p
        .list(ListRequest::at("/Designers_workspace/x/y/"))
        .await
        .unwrap();
    assert_eq!(y.len(), 1);
    assert_eq!(y[0].id, "/Designers_workspace/x/y/z/");

    let e = p
        .create_folder("Designers_workspace/welcome.txt", true)
        .await
        .unwrap_err();
    assert!(
        e.is_conflict() && e.to_string().contains("a file named"),
        "{e}"
    );
    let e = p.create_folder("NewSpace", false).await.unwrap_err();
    assert!(
        e.is_permission_denied() && e.to_string().contains("workspace"),
        "{e}"
    );

    // Uploads with parents use the same walk.
    let req = UploadRequest::builder(Attachment::from_bytes("a.txt", "a"))
        .folder("Designers_workspace/up/load")
        .create_parents(true)
        .build()
        .unwrap();
    let file = p.upload(req).await.unwrap();
    assert_eq!(
        file.folder.as_deref(),
        Some("/Designers_workspace/up/load/")
    );
}

#[tokio::test]
async fn a_missing_folder_or_file_is_not_found_not_permission_denied() {
    let sandbox = start().await;
    let p = sandbox_provider(&sandbox, Some(WORKSPACE));
    // Tuyu answers all three with its access error; the adapter tells missing from forbidden.
    let e = p.list(ListRequest::at("nowhere/deeper")).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
    assert!(
        e.to_string()
            .contains(&format!("folder {WORKSPACE}nowhere/ does not exist")),
        "{e}"
    );
    let upload = UploadRequest::builder(Attachment::from_bytes("r.pdf", "r"))
        .folder("reports/2026")
        .build()
        .unwrap();
    let e = p.upload(upload).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
    assert!(e.to_string().contains("--parents"), "{e}");
    let e = p
        .download(DownloadRequest::new("987654"))
        .await
        .map(|_| ())
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
    assert!(e.to_string().contains("file 987654 does not exist"), "{e}");
    // A folder that is there but off limits stays a permission error: the site root.
    let rooted = sandbox_provider(&sandbox, None);
    let e = rooted.list(ListRequest::top()).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::PermissionDenied, "{e}");
}

#[tokio::test]
async fn doctor_reaches_only_tuyu_and_checks_the_api_secret() {
    // Any HTTP server answering is not enough to pass "reach".
    let mut server = Server::new_async().await;
    server
        .mock("GET", Matcher::Any)
        .with_body("hello")
        .create_async()
        .await;
    let e = mock_provider(&server, &[]).reach().await.unwrap_err();
    assert!(
        e.to_string().contains("does not look like a Tuyu server"),
        "{e}"
    );

    let sandbox = start().await;
    let good = sandbox_provider(&sandbox, Some(WORKSPACE));
    good.reach().await.unwrap();
    good.authenticate().await.unwrap();
    let mut fields = sandbox.profile().clone();
    fields.remove("provider");
    fields.insert("api_secret".into(), "not-the-secret".into());
    let wrong =
        securesend_tuyu::connect(&ProfileConfig::new("sandbox", "tuyu", fields, ".")).unwrap();
    wrong.reach().await.unwrap();
    let e = wrong.authenticate().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unauthenticated, "{e}");
}

#[tokio::test]
async fn a_parent_listing_that_fails_keeps_the_refusal_not_a_false_not_found() {
    use securesend_sandbox::fault::{FaultAction, FaultRule};
    let sandbox = start().await;
    let p = sandbox_provider(&sandbox, Some(WORKSPACE));
    let lists = Route::new("GET", "/api/file_list").unwrap();
    // Requests: the listing refused, the parent refused, the workspace answering, then the
    // workspace's page that would show whether `nowhere` is there: that one fails.
    sandbox.faults().add(
        FaultRule::new(
            lists.clone(),
            FaultAction::status(200).with_body("application/json", "not json"),
        )
        .nth(4),
    );
    let e = p.list(ListRequest::at("nowhere/deeper")).await.unwrap_err();
    assert_eq!(sandbox.journal().count(&lists), 4, "{e}");
    assert_eq!(e.kind(), ErrorKind::PermissionDenied, "{e}");
    assert!(!e.to_string().contains("does not exist"), "{e}");
    // The same question with every page readable proves the folder missing.
    let e = p.list(ListRequest::at("nowhere/deeper")).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
}

#[tokio::test]
async fn a_scan_cut_short_at_its_page_limit_is_not_proof_of_absence() {
    // A folder of more entries than the scan reads: not finding the name proves nothing.
    let mut server = Server::new_async().await;
    server
        .mock("GET", "/api/file_list")
        .match_query(Matcher::UrlEncoded(
            "path".into(),
            "/W_workspace/far/".into(),
        ))
        .with_body(access_refused())
        .create_async()
        .await;
    let files: Vec<serde_json::Value> = (0..50)
        .map(|i| json!({"id": i, "name": format!("f{i}"), "type": "file"}))
        .collect();
    let pages = server
        .mock("GET", "/api/file_list")
        .match_query(Matcher::UrlEncoded("path".into(), "/W_workspace/".into()))
        .with_body(
            json!({"fileList": {"totalFiles": 1_000_000, "maxFilesPage": 50, "files": files}})
                .to_string(),
        )
        // The check that the parent answers, then every page the scan reads.
        .expect(1 + 200)
        .create_async()
        .await;
    let p = mock_provider(&server, &[("folder_root", "/W_workspace/")]);
    let e = p.list(ListRequest::at("far")).await.unwrap_err();
    pages.assert_async().await;
    assert_eq!(e.kind(), ErrorKind::PermissionDenied, "{e}");
    assert!(!e.to_string().contains("does not exist"), "{e}");
}
