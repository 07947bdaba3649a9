//! Browsing, read only: the list requests and their paging on the wire (mockito), and the
//! virtual folders against the sandbox, each listed id downloaded and compared by SHA-256.

mod support;

use mockito::{Matcher, Server};
use securesend_core::{Browser, DownloadRequest, EntryKind, ErrorKind, ListRequest, Provider};
use securesend_privasfer::{PrivasferConfig, PrivasferProvider};
use securesend_sandbox::{SandboxOptions, SeedKind};
use serde_json::json;
use support::Waits;

const TOKEN: &str = "tokentokentokentokentokentokentokentokentokentokentokentoke";
const FILE: &str = "4f1c0cbe-6a9c-4f7e-8a8e-3f2c1e1b2a3d";
const OTHER: &str = "5a2d1dcf-7b0d-4a8f-9b9f-4a3d2f2c3b4e";
const MAIL: &str = "11111111-1111-4111-8111-111111111111";

fn provider(server: &Server) -> PrivasferProvider {
    let config = PrivasferConfig::new(&format!("{}/api", server.url()), TOKEN, "1a2s3d").unwrap();
    PrivasferProvider::with_sleeper(config, Waits::default().sleeper(None)).unwrap()
}

fn authorized(m: mockito::Mock) -> mockito::Mock {
    m.match_header("authorization", format!("Bearer {TOKEN}").as_str())
        .match_header("accept", "application/json")
}

fn file(id: &str, name: &str, trashed: bool) -> serde_json::Value {
    json!({"id": id, "full_filename": name, "type": "application/pdf", "size": 5,
           "created_at": "2019-07-08 10:00:00", "trashed": trashed})
}

#[tokio::test]
async fn files_follow_the_services_pages_on_its_own_origin() {
    let mut server = Server::new_async().await;
    let next = format!("{}/api/files?page=2", server.url());
    let first = authorized(server.mock("GET", "/api/files"))
        .match_query(Matcher::Missing)
        .with_body(
            json!({"data": [file(FILE, "a.pdf", false), file(OTHER, "gone.pdf", true),
                            file("not-a-uuid", "b.pdf", false)],
                   "links": {"next": next}})
            .to_string(),
        )
        .expect(1)
        .create_async()
        .await;
    let second = authorized(server.mock("GET", "/api/files"))
        .match_query(Matcher::UrlEncoded("page".into(), "2".into()))
        .with_body(
            json!({"data": [file(OTHER, "c.pdf", false)], "links": {"next": null}}).to_string(),
        )
        .expect(1)
        .create_async()
        .await;
    let p = provider(&server);
    let page = p.list(ListRequest::at("files").page_size(1)).await.unwrap();
    assert_eq!(page.next.as_deref(), Some(next.as_str()));
    let ids: Vec<&str> = page.entries.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(
        ids,
        [format!("file:{FILE}")],
        "the trashed file and the one without a UUID are left out"
    );
    assert_eq!(page.entries[0].size, Some(5));
    assert_eq!(
        page.entries[0].modified.unwrap().unix_timestamp(),
        1_562_580_000
    );
    let page = p
        .list(ListRequest::at("/files/").after(next.clone()))
        .await
        .unwrap();
    assert_eq!(page.next, None);
    assert_eq!(page.entries[0].id, format!("file:{OTHER}"));
    first.assert_async().await;
    second.assert_async().await;

    // A cursor elsewhere never gets the token; a next link elsewhere is not followed.
    for cursor in [
        "https://evil.example/api/files?page=2".to_owned(),
        format!("{}/api/inbox?page=2", server.url()),
        "not a url".to_owned(),
    ] {
        let e = p
            .list(ListRequest::at("files").after(cursor.clone()))
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{cursor}: {e}");
    }
    let mut evil = Server::new_async().await;
    evil.mock("GET", "/api/files")
        .with_body(
            json!({"data": [], "links": {"next": "https://evil.example/api/files?page=2"}})
                .to_string(),
        )
        .create_async()
        .await;
    let e = provider(&evil)
        .list(ListRequest::at("files"))
        .await
        .unwrap_err();
    assert!(
        e.is_protocol() && e.to_string().contains("another host"),
        "{e}"
    );
}

#[tokio::test]
async fn inbox_pages_keep_their_include_and_show_what_downloads() {
    let mut server = Server::new_async().await;
    let mail = |id: &str, files: Vec<serde_json::Value>| {
        json!({"id": id, "identifier": "awGj", "subject": "s", "received_at": "2019-07-08 10:00:00",
               "download": {"id": "9b2d7c1e-1111-4abc-8def-0123456789ab", "files": files}})
    };
    let two = "22222222-2222-4222-8222-222222222222";
    let empty = "33333333-3333-4333-8333-333333333333";
    // Laravel's page links leave other parameters out.
    let next = format!("{}/api/inbox?page=2", server.url());
    let first = authorized(server.mock("GET", "/api/inbox"))
        .match_query(Matcher::Exact("include=download%2Cdownload.files".into()))
        .with_body(json!({"data": [mail(MAIL, vec![file(FILE, "one.pdf", false)])], "links": {"next": next}}).to_string())
        .expect(1)
        .create_async()
        .await;
    let second = authorized(server.mock("GET", "/api/inbox"))
        .match_query(Matcher::AllOf(vec![
            Matcher::UrlEncoded("page".into(), "2".into()),
            Matcher::UrlEncoded("include".into(), "download,download.files".into()),
        ]))
        .with_body(
            json!({"data": [mail(two, vec![file(FILE, "a.pdf", false), file(OTHER, "b.pdf", false)]),
                            mail(empty, vec![])]})
            .to_string(),
        )
        .expect(1)
        .create_async()
        .await;
    let p = provider(&server).into_provider();
    let entries = p.list(ListRequest::at("inbox")).await.unwrap();
    first.assert_async().await;
    second.assert_async().await;
    let shown: Vec<(&str, &str, Option<u64>)> = entries
        .iter()
        .map(|e| (e.id.as_str(), e.name.as_str(), e.size))
        .collect();
    assert_eq!(
        shown,
        [
            (format!("mail:{MAIL}/{FILE}").as_str(), "one.pdf", Some(5)),
            (format!("mail:{two}").as_str(), "privasfer-awGj.zip", None),
        ],
        "a mail without files has nothing to download"
    );
    assert!(entries.iter().all(|e| e.kind == EntryKind::File));
}

#[tokio::test]
async fn sent_mails_are_folders_of_their_files() {
    let mut server = Server::new_async().await;
    let list = authorized(server.mock("GET", "/api/mails"))
        .match_query(Matcher::UrlEncoded(
            "include".into(),
            "download,download.files".into(),
        ))
        .with_body(
            json!({"data": [{"id": MAIL, "identifier": "1Kh2", "subject": "Figures\u{7}",
                             "recipient_email": "grace@example.com", "sent_at": "2019-07-08 10:00:00"},
                            {"id": "no uuid"}]})
            .to_string(),
        )
        .expect(1)
        .create_async()
        .await;
    let one = authorized(server.mock("GET", format!("/api/mails/{MAIL}").as_str()))
        .match_query(Matcher::UrlEncoded(
            "include".into(),
            "download,download.files".into(),
        ))
        .with_body(
            json!({"data": {"id": MAIL, "download": {"id": "9b2d7c1e-1111-4abc-8def-0123456789ab",
                    "files": [file(FILE, "figures.csv", false)]}}})
            .to_string(),
        )
        .expect(1)
        .create_async()
        .await;
    let p = provider(&server);
    let sent = p.list(ListRequest::at("sent")).await.unwrap();
    assert_eq!(sent.entries.len(), 1);
    let mail = &sent.entries[0];
    assert_eq!(mail.kind, EntryKind::Folder);
    assert_eq!(mail.id, format!("sent/{MAIL}"));
    assert_eq!(mail.name, "1Kh2 Figures → grace@example.com");
    let files = p.list(ListRequest::at(mail.id.clone())).await.unwrap();
    assert_eq!(files.entries[0].id, format!("file:{FILE}"));
    assert_eq!(files.next, None);
    list.assert_async().await;
    one.assert_async().await;
}

#[tokio::test]
async fn the_top_bad_folders_and_mkdir_make_no_request() {
    let mut server = Server::new_async().await;
    let none = server
        .mock("GET", Matcher::Any)
        .expect(0)
        .create_async()
        .await;
    let p = provider(&server).into_provider();
    let top = p.list(ListRequest::top()).await.unwrap();
    let names: Vec<(&str, EntryKind)> = top.iter().map(|e| (e.id.as_str(), e.kind)).collect();
    assert_eq!(
        names,
        [
            ("files", EntryKind::Folder),
            ("inbox", EntryKind::Folder),
            ("sent", EntryKind::Folder)
        ]
    );
    for bad in ["outbox", "sent/../files", "sent/nope", "files/x"] {
        let e = p.list(ListRequest::at(bad)).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{bad}: {e}");
    }
    let e = p
        .list_page(ListRequest::top().after("x"))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
    for parents in [false, true] {
        let e = p.create_folder("files/new", parents).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unsupported, "{e}");
        let e = Browser::create_folder(&provider(&server), "x", parents)
            .await
            .unwrap_err();
        assert!(
            e.is_unsupported()
                && e.to_string()
                    .starts_with("privasfer create folder: unsupported"),
            "{e}"
        );
    }
    assert!(!p.capabilities().create_folders && p.capabilities().browse);
    none.assert_async().await;
}

/// Downloads `id` into a folder of its own below `dir` (names repeat across folders).
async fn saved_sha256(p: &Provider, id: &str, dir: &std::path::Path) -> String {
    let own = tempfile::tempdir_in(dir).unwrap();
    let saved = p
        .download(DownloadRequest::new(id))
        .await
        .unwrap_or_else(|e| panic!("download of listed {id}: {e}"))
        .save_to(own.path())
        .await
        .unwrap();
    saved.checksums.sha256.unwrap()
}

#[tokio::test]
async fn every_listed_id_downloads_byte_for_byte() {
    let sb = support::sandbox(SandboxOptions::default()).await;
    let p = support::provider(&sb, &[], Waits::default().sleeper(None)).into_provider();
    let seeded: Vec<_> = sb
        .seeded()
        .iter()
        .filter(|i| i.kind == SeedKind::File)
        .cloned()
        .collect();
    let sha_of = |name: &str| {
        seeded
            .iter()
            .find(|s| s.name == name)
            .and_then(|s| s.sha256.clone())
            .unwrap_or_else(|| panic!("{name} is seeded"))
    };
    let dir = tempfile::tempdir().unwrap();

    let files = p.list(ListRequest::at("files")).await.unwrap();
    let mut names: Vec<&str> = files.iter().map(|e| e.name.as_str()).collect();
    names.sort_unstable();
    assert_eq!(names, ["figures.csv", "report.pdf", "Übersicht 2026.txt"]);
    for e in &files {
        assert!(e.id.starts_with("file:"), "{e:?}");
        assert_eq!(saved_sha256(&p, &e.id, dir.path()).await, sha_of(&e.name));
    }

    let inbox = p.list(ListRequest::at("inbox")).await.unwrap();
    assert_eq!(inbox.len(), 3, "two single files and one archive");
    for e in &inbox {
        let sha = saved_sha256(&p, &e.id, dir.path()).await;
        if e.name.ends_with(".zip") {
            assert!(!e.id.contains('/'), "an archive is the whole mail: {e:?}");
        } else {
            assert_eq!(sha, sha_of(&e.name), "{e:?}");
        }
    }

    let sent = p.list(ListRequest::at("sent")).await.unwrap();
    assert_eq!(sent.len(), 2);
    let mut sent_files = Vec::new();
    for mail in &sent {
        assert_eq!(mail.kind, EntryKind::Folder);
        for e in p.list(ListRequest::at(mail.id.clone())).await.unwrap() {
            assert_eq!(saved_sha256(&p, &e.id, dir.path()).await, sha_of(&e.name));
            sent_files.push(e.name);
        }
    }
    sent_files.sort_unstable();
    assert_eq!(sent_files, ["figures.csv", "Übersicht 2026.txt"]);
}
