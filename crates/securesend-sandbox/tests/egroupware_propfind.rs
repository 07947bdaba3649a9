//! The EGroupware module's `PROPFIND` over loopback HTTP: depths, multistatus shape, hrefs,
//! properties, permissions and the strictness rules.

use reqwest::{Method, StatusCode};
use securesend_sandbox::egroupware::Egroupware;
use securesend_sandbox::{Sandbox, SandboxOptions};

struct Env {
    sb: Sandbox,
    http: reqwest::Client,
}

impl Env {
    async fn start() -> Env {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let sb = Sandbox::start(&Egroupware::new(), SandboxOptions::default())
            .await
            .unwrap();
        Env {
            sb,
            http: reqwest::Client::new(),
        }
    }

    fn request(&self, method: &[u8], path: &str) -> reqwest::RequestBuilder {
        let pw = self.sb.credentials().get("password").unwrap().to_owned();
        self.http
            .request(
                Method::from_bytes(method).unwrap(),
                format!("{}/egroupware/webdav.php{path}", self.sb.base_url()),
            )
            .basic_auth("ralf", Some(pw))
    }

    async fn put(&self, path: &str, body: &'static [u8]) {
        let r = self.request(b"PUT", path).body(body).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::CREATED, "PUT {path}");
    }

    async fn mkcol(&self, path: &str) {
        let r = self.request(b"MKCOL", path).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::CREATED, "MKCOL {path}");
    }

    async fn propfind(&self, path: &str, depth: Option<&str>, body: &str) -> (u16, String) {
        let mut r = self.request(b"PROPFIND", path);
        if let Some(d) = depth {
            r = r.header("depth", d);
        }
        if !body.is_empty() {
            r = r.header("content-type", "application/xml; charset=utf-8");
        }
        let resp = r.body(body.to_owned()).send().await.unwrap();
        let status = resp.status().as_u16();
        if status == 207 {
            assert_eq!(
                resp.headers()["content-type"].to_str().unwrap(),
                "text/xml; charset=\"utf-8\""
            );
        }
        (status, resp.text().await.unwrap())
    }
}

const PROPS: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<D:propfind xmlns:D="DAV:"><D:prop><D:resourcetype/><D:getcontentlength/><D:getlastmodified/><D:getetag/></D:prop></D:propfind>"#;

fn hrefs(xml: &str) -> Vec<&str> {
    xml.split("<D:href>")
        .skip(1)
        .map(|s| s.split("</D:href>").next().unwrap())
        .collect()
}

#[tokio::test]
async fn depth_one_lists_the_folder_then_its_members() {
    let env = Env::start().await;
    env.mkcol("/home/ralf/docs").await;
    env.put("/home/ralf/docs/a.txt", b"hello").await;
    env.put("/home/ralf/docs/Q3%20report%23%25.pdf", b"12345678")
        .await;
    env.mkcol("/home/ralf/docs/sub").await;
    env.put("/home/ralf/docs/sub/deep.txt", b"x").await;

    let (status, xml) = env.propfind("/home/ralf/docs", Some("1"), PROPS).await;
    assert_eq!(status, 207, "{xml}");
    assert!(xml.starts_with(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<D:multistatus xmlns:D=\"DAV:\">"
    ));
    assert_eq!(
        hrefs(&xml),
        [
            "/egroupware/webdav.php/home/ralf/docs/",
            "/egroupware/webdav.php/home/ralf/docs/Q3%20report%23%25.pdf",
            "/egroupware/webdav.php/home/ralf/docs/a.txt",
            "/egroupware/webdav.php/home/ralf/docs/sub/",
        ],
        "the folder first, members one level deep: {xml}"
    );
    let responses: Vec<&str> = xml.split("<D:response").skip(1).collect();
    assert!(responses[0].contains("<D:resourcetype><D:collection/></D:resourcetype>"));
    assert!(!responses[0].contains("getcontentlength>"));
    assert!(
        responses[0].contains("<D:getcontentlength/>"),
        "asked for, missing on a folder → 404 propstat"
    );
    assert!(responses[0].contains("HTTP/1.1 404 Not Found"));
    assert!(responses[1].contains("<D:getcontentlength>8</D:getcontentlength>"));
    assert!(responses[1].contains("<D:resourcetype/>"));
    assert!(responses[2].contains("<D:getcontentlength>5</D:getcontentlength>"));
    assert!(!responses[2].contains("404 Not Found"));
    let modified = responses[2]
        .split("dateTime.rfc1123\">")
        .nth(1)
        .and_then(|s| s.split('<').next())
        .unwrap();
    assert!(httpdate::parse_http_date(modified).is_ok(), "{modified}");

    let (status, xml) = env.propfind("/home/ralf/docs", Some("0"), "").await;
    assert_eq!(status, 207);
    assert_eq!(hrefs(&xml), ["/egroupware/webdav.php/home/ralf/docs/"]);
    assert!(
        xml.contains("<D:displayname>docs</D:displayname>"),
        "allprop: {xml}"
    );

    let (status, xml) = env.propfind("/home/ralf/docs/a.txt", Some("1"), "").await;
    assert_eq!(status, 207);
    assert_eq!(hrefs(&xml), ["/egroupware/webdav.php/home/ralf/docs/a.txt"]);
    assert!(xml.contains("<D:getcontenttype>"));
}

#[tokio::test]
async fn depth_infinity_missing_and_unreadable_are_refused() {
    let env = Env::start().await;
    for depth in [None, Some("infinity"), Some("Infinity")] {
        let (status, body) = env.propfind("/home/ralf", depth, "").await;
        assert_eq!(status, 403, "{depth:?}");
        assert!(body.contains("<D:propfind-finite-depth/>"), "{body}");
    }
    assert_eq!(env.propfind("/home/ralf", Some("2"), "").await.0, 400);
    assert_eq!(env.propfind("/home/ralf/none", Some("1"), "").await.0, 404);
    assert_eq!(env.propfind("/home/anna", Some("1"), "").await.0, 403);
    for bad in [
        "<propfind><allprop/></propfind>",
        "<D:propfind xmlns:D=\"DAV:\"><D:allprop/>",
        "<!DOCTYPE d [<!ENTITY x \"y\">]><D:propfind xmlns:D=\"DAV:\"><D:allprop/></D:propfind>",
    ] {
        assert_eq!(
            env.propfind("/home/ralf", Some("1"), bad).await.0,
            400,
            "{bad}"
        );
    }
    let (status, xml) = env.propfind("/home", Some("1"), PROPS).await;
    assert_eq!(status, 207);
    assert_eq!(
        hrefs(&xml),
        [
            "/egroupware/webdav.php/home/",
            "/egroupware/webdav.php/home/ralf/"
        ],
        "other users' homes are not readable"
    );
}

#[tokio::test]
async fn propname_gives_names_without_values() {
    let env = Env::start().await;
    let body = r#"<propfind xmlns="DAV:"><propname/></propfind>"#;
    let (status, xml) = env
        .propfind("/home/ralf/welcome.txt", Some("0"), body)
        .await;
    assert_eq!(status, 207);
    assert!(xml.contains("<D:getcontentlength/>"), "{xml}");
    assert!(!xml.contains("<D:getcontentlength>"), "{xml}");
}
