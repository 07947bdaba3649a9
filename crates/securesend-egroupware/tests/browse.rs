//! Browsing: the PROPFIND and MKCOL requests on the wire (mockito), and listings, folder
//! creation and listed-id downloads against the sandbox.

use mockito::{Matcher, Server, ServerGuard};
use securesend_core::checksum::sha256_hex;
use securesend_core::config::ProfileConfig;
use securesend_core::{
    Attachment, Browser, DownloadRequest, EntryKind, ErrorKind, ListRequest, Provider, Secret,
    SecretRef, UploadRequest,
};
use securesend_egroupware::{EgroupwareConfig, EgroupwareProvider};
use securesend_sandbox::egroupware::Egroupware;
use securesend_sandbox::{Route, Sandbox, SandboxOptions};

const DAV: &str = "/egroupware/webdav.php";
/// `ralf:pw`.
const AUTH: &str = "Basic cmFsZjpwdw==";

fn provider(server: &ServerGuard, tweak: impl FnOnce(&mut EgroupwareConfig)) -> EgroupwareProvider {
    let mut config = EgroupwareConfig::new(
        format!("{}/egroupware/", server.url()),
        "ralf",
        SecretRef::Literal(Secret::new("pw")),
    );
    config.http.max_attempts = 1;
    tweak(&mut config);
    EgroupwareProvider::new(config, std::path::Path::new(".")).unwrap()
}

fn response(href: &str, collection: bool, size: Option<u64>) -> String {
    let kind = if collection {
        "<D:resourcetype><D:collection/></D:resourcetype>".to_owned()
    } else {
        format!(
            "<D:resourcetype/><D:getcontentlength>{}</D:getcontentlength>",
            size.unwrap_or(0)
        )
    };
    format!(
        r#"<D:response xmlns:ns0="urn:uuid:c2f41010-65b3-11d1-a29f-00aa00c14882/"><D:href>{href}</D:href><D:propstat><D:prop><D:getlastmodified ns0:dt="dateTime.rfc1123">Sun, 06 Nov 1994 08:49:37 GMT</D:getlastmodified>{kind}</D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response>"#
    )
}

fn multistatus(responses: &[String]) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<D:multistatus xmlns:D=\"DAV:\">{}</D:multistatus>",
        responses.concat()
    )
}

#[tokio::test]
async fn propfind_depth_one_lists_members_and_leaves_out_what_is_not_one() {
    let mut server = Server::new_async().await;
    let body = multistatus(&[
        response(&format!("{DAV}/home/ralf/docs/"), true, None),
        response(
            &format!("{DAV}/home/ralf/docs/b%20report%23%25.pdf"),
            false,
            Some(42),
        ),
        response(&format!("{DAV}/home/ralf/docs/a-sub/"), true, None),
        // Not members: deeper, elsewhere, climbing out, a control character, a duplicate.
        response(
            &format!("{DAV}/home/ralf/docs/a-sub/deep.txt"),
            false,
            Some(1),
        ),
        response("/elsewhere/home/ralf/docs/x.txt", false, Some(1)),
        response(
            &format!("{DAV}/home/ralf/docs/../../anna/secret.txt"),
            false,
            Some(1),
        ),
        response(
            &format!("{DAV}/home/ralf/docs/evil%0Aname.txt"),
            false,
            Some(1),
        ),
        response(
            &format!("{DAV}/home/ralf/docs/b%20report%23%25.pdf"),
            false,
            Some(42),
        ),
    ]);
    let m = server
        .mock("PROPFIND", format!("{DAV}/home/ralf/docs").as_str())
        .match_header("depth", "1")
        .match_header("authorization", AUTH)
        .match_header("content-type", "application/xml; charset=utf-8")
        .match_body(Matcher::AllOf(vec![
            Matcher::Regex(
                r#"^<\?xml version="1.0" encoding="utf-8"\?><D:propfind xmlns:D="DAV:"><D:prop>"#
                    .into(),
            ),
            Matcher::Regex("<D:resourcetype/>".into()),
            Matcher::Regex("<D:getcontentlength/>".into()),
            Matcher::Regex("<D:getlastmodified/>".into()),
        ]))
        .with_status(207)
        .with_header("content-type", "text/xml; charset=\"utf-8\"")
        .with_body(body)
        .expect(1)
        .create_async()
        .await;
    let p = provider(&server, |_| {});
    let page = p.list(ListRequest::at("docs")).await.unwrap();
    m.assert_async().await;
    assert_eq!(page.next, None, "one answer, one page");
    let shown: Vec<(&str, &str, EntryKind, Option<u64>)> = page
        .entries
        .iter()
        .map(|e| (e.id.as_str(), e.name.as_str(), e.kind, e.size))
        .collect();
    assert_eq!(
        shown,
        [
            ("/home/ralf/docs/a-sub", "a-sub", EntryKind::Folder, None),
            (
                "/home/ralf/docs/b%20report#%25.pdf",
                "b report#%.pdf",
                EntryKind::File,
                Some(42)
            ),
        ]
    );
    assert_eq!(
        page.entries[1].path.as_deref(),
        Some("/home/ralf/docs/b report#%.pdf")
    );
    assert_eq!(
        page.entries[1].modified.unwrap().unix_timestamp(),
        784_111_777
    );
}

#[tokio::test]
async fn locations_are_home_relative_absolute_or_ids() {
    let mut server = Server::new_async().await;
    let empty = |path: &str| multistatus(&[response(&format!("{DAV}{path}/"), true, None)]);
    let mut mocks = Vec::new();
    for path in ["/home/ralf", "/apps/x/Q3 report", "/home/ralf/a b"] {
        let encoded = path.replace(' ', "%20");
        mocks.push(
            server
                .mock("PROPFIND", format!("{DAV}{encoded}").as_str())
                .with_status(207)
                .with_body(empty(&encoded))
                .expect(1)
                .create_async()
                .await,
        );
    }
    let p = provider(&server, |_| {});
    for loc in [None, Some("/apps/x/Q3%20report/"), Some("a b")] {
        let req = loc.map_or_else(ListRequest::top, ListRequest::at);
        assert!(p.list(req).await.unwrap().entries.is_empty(), "{loc:?}");
    }
    for m in mocks {
        m.assert_async().await;
    }
    let e = p.list(ListRequest::at("../anna")).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
    let e = p.list(ListRequest::at("a%FF")).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
}

#[tokio::test]
async fn missing_forbidden_file_and_oversized_listings() {
    let mut server = Server::new_async().await;
    server
        .mock("PROPFIND", format!("{DAV}/home/ralf/none").as_str())
        .with_status(404)
        .create_async()
        .await;
    server
        .mock("PROPFIND", format!("{DAV}/home/anna").as_str())
        .with_status(403)
        .create_async()
        .await;
    server
        .mock("PROPFIND", format!("{DAV}/home/ralf/a.txt").as_str())
        .with_status(207)
        .with_body(multistatus(&[response(
            &format!("{DAV}/home/ralf/a.txt"),
            false,
            Some(3),
        )]))
        .create_async()
        .await;
    let huge: Vec<String> = (0..40)
        .map(|i| response(&format!("{DAV}/home/ralf/big/f{i:03}.txt"), false, Some(1)))
        .collect();
    server
        .mock("PROPFIND", format!("{DAV}/home/ralf/big").as_str())
        .with_status(207)
        .with_body(multistatus(&huge))
        .create_async()
        .await;
    server
        .mock("PROPFIND", format!("{DAV}/home/ralf/html").as_str())
        .with_status(207)
        .with_body("<html><body>login</body></html>")
        .create_async()
        .await;
    let p = provider(&server, |c| c.max_listing_bytes = 4096);
    let kind = |r: securesend_core::Result<securesend_core::Page>| r.unwrap_err();
    let e = kind(p.list(ListRequest::at("none")).await);
    assert!(
        e.is_not_found() && e.to_string().contains("/home/ralf/none"),
        "{e}"
    );
    let e = kind(p.list(ListRequest::at("/home/anna")).await);
    assert!(e.is_permission_denied(), "{e}");
    let e = kind(p.list(ListRequest::at("a.txt")).await);
    assert!(
        e.is_invalid_input() && e.to_string().contains("is a file"),
        "{e}"
    );
    let e = kind(p.list(ListRequest::at("big")).await);
    assert!(
        e.is_protocol() && e.to_string().contains("max_listing_bytes"),
        "{e}"
    );
    let e = kind(p.list(ListRequest::at("html")).await);
    assert!(e.is_protocol() && !e.to_string().contains("login"), "{e}");
}

#[tokio::test]
async fn mkcol_creates_conflicts_and_walks_parents() {
    let mut server = Server::new_async().await;
    let new = server
        .mock("MKCOL", format!("{DAV}/home/ralf/new%20one").as_str())
        .match_header("authorization", AUTH)
        .with_status(201)
        .expect(1)
        .create_async()
        .await;
    server
        .mock("MKCOL", format!("{DAV}/home/ralf/there").as_str())
        .with_status(405)
        .create_async()
        .await;
    server
        .mock("MKCOL", format!("{DAV}/home/ralf/x/y").as_str())
        .with_status(409)
        .create_async()
        .await;
    let p = provider(&server, |_| {});
    let made = p.create_folder("new one", false).await.unwrap();
    new.assert_async().await;
    assert_eq!(
        (made.id.as_str(), made.name.as_str(), made.kind),
        ("/home/ralf/new%20one", "new one", EntryKind::Folder)
    );
    let e = p.create_folder("there", false).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Conflict, "{e}");
    let e = p.create_folder("x/y", false).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
    let e = p.create_folder("../y", false).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");

    // With parents: each level in turn; an existing one must be a folder.
    let a = server
        .mock("MKCOL", format!("{DAV}/home/ralf/there/a").as_str())
        .with_status(201)
        .expect(1)
        .create_async()
        .await;
    let check = server
        .mock("PROPFIND", format!("{DAV}/home/ralf/there").as_str())
        .match_header("depth", "0")
        .with_status(207)
        .with_body(multistatus(&[response(
            &format!("{DAV}/home/ralf/there/"),
            true,
            None,
        )]))
        .expect(1)
        .create_async()
        .await;
    p.create_folder("there/a", true).await.unwrap();
    a.assert_async().await;
    check.assert_async().await;

    server
        .mock("MKCOL", format!("{DAV}/home/ralf/f.txt").as_str())
        .with_status(405)
        .create_async()
        .await;
    server
        .mock("PROPFIND", format!("{DAV}/home/ralf/f.txt").as_str())
        .with_status(207)
        .with_body(multistatus(&[response(
            &format!("{DAV}/home/ralf/f.txt"),
            false,
            Some(1),
        )]))
        .create_async()
        .await;
    let e = p.create_folder("f.txt/sub", true).await.unwrap_err();
    assert!(
        e.is_conflict() && e.to_string().contains("is a file"),
        "{e}"
    );
}

struct Env {
    sb: Sandbox,
    provider: Provider,
}

async fn sandbox() -> Env {
    let sb = Sandbox::start(&Egroupware::new(), SandboxOptions::default())
        .await
        .unwrap();
    let mut fields = sb.profile().clone();
    fields.remove("provider");
    let provider =
        securesend_egroupware::connect(&ProfileConfig::new("sandbox", "egroupware", fields, "."))
            .unwrap();
    Env { sb, provider }
}

fn data(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(17).wrapping_add(seed))
        .collect()
}

async fn upload(p: &Provider, folder: &str, name: &str, bytes: Vec<u8>) {
    let req = UploadRequest::builder(Attachment::from_bytes(name, bytes))
        .folder(folder)
        .build()
        .unwrap();
    p.upload(req).await.unwrap();
}

#[tokio::test]
async fn pages_list_every_entry_once_and_listed_ids_download() {
    let env = sandbox().await;
    let p = &env.provider;
    p.create_folder("reports/2026", true).await.unwrap();
    let names = [
        "plain.txt",
        "Q3 report.pdf",
        "100% done #1.txt",
        "Übersicht – 日本.pdf",
        "a?b.bin",
        "z.txt",
        "m.csv",
    ];
    let mut sums = std::collections::BTreeMap::new();
    for (i, name) in names.iter().enumerate() {
        let bytes = data(1000 + i * 37, i as u8);
        sums.insert(name.to_string(), (sha256_hex(&bytes), bytes.len() as u64));
        upload(p, "reports/2026", name, bytes).await;
    }
    p.create_folder("reports/2026/sub", false).await.unwrap();

    let first = p
        .list_page(ListRequest::at("reports/2026").page_size(3))
        .await
        .unwrap();
    assert_eq!(first.entries.len(), 3);
    assert!(first.next.is_some(), "8 entries at 3 a page");
    let all = p
        .list(ListRequest::at("reports/2026").page_size(3))
        .await
        .unwrap();
    let mut seen: Vec<&str> = all.iter().map(|e| e.name.as_str()).collect();
    seen.sort_unstable();
    let mut expected: Vec<&str> = names.iter().copied().chain(["sub"]).collect();
    expected.sort_unstable();
    assert_eq!(seen, expected, "every entry exactly once");
    let sub = all.iter().find(|e| e.name == "sub").unwrap();
    assert_eq!(sub.kind, EntryKind::Folder);
    assert!(
        p.list(ListRequest::at(sub.id.clone()))
            .await
            .unwrap()
            .is_empty(),
        "a folder's id lists it"
    );
    let dir = tempfile::tempdir().unwrap();
    for e in all.iter().filter(|e| e.kind == EntryKind::File) {
        assert_eq!(e.size, Some(sums[&e.name].1), "{}", e.id);
        let saved = p
            .download(DownloadRequest::new(&e.id))
            .await
            .unwrap_or_else(|err| panic!("{}: {err}", e.id))
            .save_to(dir.path())
            .await
            .unwrap();
        assert_eq!(
            sha256_hex(&std::fs::read(&saved.path).unwrap()),
            sums[&e.name].0,
            "{}",
            e.id
        );
        assert!(e.modified.is_some(), "{e:?}");
    }
    assert_eq!(
        env.sb
            .journal()
            .count(&Route::new("PROPFIND", "/egroupware/webdav.php/{*p}").unwrap()),
        5,
        "one for the first page, three for the listing, one for the sub folder"
    );
}

#[tokio::test]
async fn a_folder_changing_between_pages_is_a_conflict() {
    let env = sandbox().await;
    let p = &env.provider;
    p.create_folder("busy", false).await.unwrap();
    for i in 0..4 {
        upload(p, "busy", &format!("f{i}.txt"), data(10, i)).await;
    }
    let first = p
        .list_page(ListRequest::at("busy").page_size(2))
        .await
        .unwrap();
    upload(p, "busy", "late.txt", data(10, 9)).await;
    let e = p
        .list_page(
            ListRequest::at("busy")
                .page_size(2)
                .after(first.next.unwrap()),
        )
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Conflict, "{e}");
    let e = p
        .list_page(ListRequest::at("busy").after("nonsense"))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
}

#[tokio::test]
async fn existing_folders_conflict_unless_parents() {
    let env = sandbox().await;
    let p = &env.provider;
    let made = p.create_folder("projects", false).await.unwrap();
    assert_eq!(made.id, "/home/ralf/projects");
    let e = p.create_folder("projects", false).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Conflict, "{e}");
    let again = p.create_folder("projects", true).await.unwrap();
    assert_eq!(again.id, made.id);
    let e = p.create_folder("missing/child", false).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
    p.create_folder("missing/child/deeper", true).await.unwrap();
    let top = p.list(ListRequest::top()).await.unwrap();
    let names: Vec<&str> = top.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["missing", "projects", "welcome.txt"]);
    assert_eq!(top[2].size, Some(35));
    let e = p.create_folder("welcome.txt", true).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Conflict, "{e}");
    let mkcols = env
        .sb
        .journal()
        .count(&Route::new("MKCOL", "/egroupware/webdav.php/{*p}").unwrap());
    assert_eq!(
        mkcols, 8,
        "projects ×3, missing/child, missing/child/deeper ×3, welcome.txt"
    );
}
