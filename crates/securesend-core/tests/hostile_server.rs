//! What a hostile or broken server can throw at the HTTP plumbing and at downloads: endless
//! error bodies, redirects to other origins, file names that try to leave the target directory.

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use bytes::Bytes;
use securesend_core::http::{Call, HttpClient, HttpSettings, Repeat, ensure_success};
use securesend_core::{Download, RemoteFile};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

fn client() -> HttpClient {
    HttpClient::new("test", &HttpSettings::default(), Path::new(".")).unwrap()
}

/// Reads one request head (to the blank line), lowercased.
async fn read_head(sock: &mut TcpStream) -> String {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match sock.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    String::from_utf8_lossy(&head).to_lowercase()
}

const FIFTY_MIB: usize = 50 << 20;

/// A server that answers one request with `head` and then up to 50 MiB of body, reporting how
/// many body bytes it managed to write before the client went away.
async fn endless_error(head: &'static str) -> (SocketAddr, tokio::task::JoinHandle<usize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let (mut sock, _) = listener.accept().await.unwrap();
        read_head(&mut sock).await;
        sock.write_all(head.as_bytes()).await.unwrap();
        let mut chunk = b"{\"message\":\"".to_vec();
        chunk.resize(64 << 10, b'x');
        let mut written = 0;
        while written < FIFTY_MIB {
            match tokio::time::timeout(Duration::from_secs(5), sock.write_all(&chunk)).await {
                Ok(Ok(())) => written += chunk.len(),
                // The client closed the connection (reset or broken pipe), or stopped reading
                // and lets the socket buffers fill: either way it is not reading the rest.
                Ok(Err(_)) | Err(_) => break,
            }
            chunk[..12].fill(b'x');
        }
        written
    });
    (addr, task)
}

#[tokio::test]
async fn a_50_mib_error_body_is_not_read_whole_and_the_message_stays_short() {
    for head in [
        "HTTP/1.1 500 Internal Server Error\r\ncontent-type: application/json\r\ncontent-length: 52428800\r\n\r\n",
        // No length: the body runs until the connection closes.
        "HTTP/1.1 400 Bad Request\r\ncontent-type: text/plain\r\nconnection: close\r\n\r\n",
    ] {
        let (addr, server) = endless_error(head).await;
        let url = url::Url::parse(&format!("http://{addr}/api/x")).unwrap();
        let started = Instant::now();
        let resp = client()
            .send(Call::api(Repeat::Never), |c| c.get(url.clone()))
            .await
            .unwrap();
        let e = ensure_success("test", "fetch", resp).await.unwrap_err();
        let text = e.to_string();
        // A bounded excerpt of the service's text may be quoted; the whole body never is.
        assert!(text.len() < 600, "{} bytes: {text}", text.len());
        let written = tokio::time::timeout(Duration::from_secs(30), server)
            .await
            .expect("the server stops writing once the client is gone")
            .unwrap();
        // Socket buffers on loopback absorb a few MiB; reading the body whole would take all 50.
        assert!(
            written < 20 << 20,
            "{head:?}: the server wrote {written} bytes"
        );
        assert!(started.elapsed() < Duration::from_secs(30));
    }
}

/// Counts connections and records request heads.
async fn recorder(bind: &str) -> (SocketAddr, mpsc::UnboundedReceiver<String>) {
    let listener = TcpListener::bind(bind).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let head = read_head(&mut sock).await;
            let _ = tx.send(head);
            let _ = sock
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok")
                .await;
        }
    });
    (addr, rx)
}

#[tokio::test]
async fn a_redirect_never_carries_authorization_to_another_origin() {
    // B: another port, and another host name for the same machine (`localhost` vs
    // `127.0.0.1` are different origins).
    let (b, mut b_heads) = recorder("127.0.0.1:0").await;
    for target in [
        format!("http://localhost:{}/steal", b.port()),
        format!("http://127.0.0.1:{}/steal", b.port()),
    ] {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let a = listener.local_addr().unwrap();
        let location = target.clone();
        let a_task = tokio::spawn(async move {
            let (mut sock, _) = listener.accept().await.unwrap();
            let head = read_head(&mut sock).await;
            let reply = format!(
                "HTTP/1.1 307 Temporary Redirect\r\nlocation: {location}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
            );
            sock.write_all(reply.as_bytes()).await.unwrap();
            head
        });
        let url = url::Url::parse(&format!("http://{a}/api/x")).unwrap();
        let resp = client()
            .send(Call::api(Repeat::Safe), |c| {
                c.get(url.clone()).bearer_auth("canary-bearer-token")
            })
            .await
            .unwrap();
        // The 3xx comes back as is; the adapter's error says the client does not follow it.
        assert_eq!(resp.status(), 307, "{target}");
        let e = ensure_success("test", "fetch", resp).await.unwrap_err();
        assert!(e.to_string().contains("does not follow"), "{e}");
        let a_head = a_task.await.unwrap();
        assert!(
            a_head.contains("authorization: bearer canary-bearer-token"),
            "A got the token: {a_head}"
        );
        // Give a (wrongly) followed redirect time to arrive.
        tokio::time::sleep(Duration::from_millis(200)).await;
        if let Ok(head) = b_heads.try_recv() {
            assert!(
                !head.contains("authorization"),
                "{target}: B received the Authorization header: {head}"
            );
            panic!("{target}: the redirect was followed: {head}");
        }
    }
    // The recorder does hear a direct request, so its silence above means something.
    let url = url::Url::parse(&format!("http://{b}/direct")).unwrap();
    client()
        .send(Call::api(Repeat::Safe), |c| c.get(url.clone()))
        .await
        .unwrap();
    let head = tokio::time::timeout(Duration::from_secs(5), b_heads.recv())
        .await
        .unwrap()
        .unwrap();
    assert!(head.starts_with("get /direct"), "{head}");
}

fn one_chunk(data: &'static [u8]) -> securesend_core::ByteStream {
    Box::pin(futures::stream::iter([Ok(Bytes::from_static(data))]))
}

#[tokio::test]
async fn hostile_server_file_names_land_inside_the_target_directory_under_safe_names() {
    let hostile = [
        "../../x",
        "..",
        ".",
        "/etc/passwd",
        "..\\..\\windows\\system32\\x.dll",
        "C:\\boot.ini",
        "CON",
        "con.txt",
        "LPT1",
        "NUL",
        "a\0b.txt",
        "a\r\nb.txt",
        "report.pdf\0.exe",
        ".bashrc",
        "",
        "   ",
        "name. . .",
        "sub/dir/file.txt",
    ];
    let root = tempfile::tempdir().unwrap();
    let target = root.path().join("target");
    std::fs::create_dir(&target).unwrap();
    for (i, name) in hostile.iter().enumerate() {
        // Each in a fresh directory so that equal sanitised names do not conflict.
        let dir = target.join(i.to_string());
        std::fs::create_dir(&dir).unwrap();
        let saved = Download::new(RemoteFile::new("t", "1", *name), one_chunk(b"payload"))
            .save_to(&dir)
            .await
            .unwrap_or_else(|e| panic!("{name:?}: {e}"));
        assert_eq!(saved.path.parent(), Some(dir.as_path()), "{name:?}");
        let file_name = saved.path.file_name().unwrap().to_str().unwrap();
        assert!(!file_name.is_empty());
        assert!(
            !file_name.contains(['/', '\\', ':', '\0', '\r', '\n']),
            "{name:?} -> {file_name:?}"
        );
        assert!(!file_name.starts_with('.'), "{name:?} -> {file_name:?}");
        let stem = file_name.split('.').next().unwrap().to_ascii_uppercase();
        assert!(
            !["CON", "PRN", "AUX", "NUL", "LPT1", "COM1"].contains(&stem.as_str()),
            "{name:?} -> {file_name:?}"
        );
        let entries: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
        assert_eq!(entries.len(), 1, "{name:?}");
        assert_eq!(std::fs::read(&saved.path).unwrap(), b"payload");
    }
    // Nothing was written beside or above the target directory.
    let above: Vec<_> = std::fs::read_dir(root.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(above, vec![std::ffi::OsString::from("target")]);
    assert_eq!(
        std::fs::read_dir(&target).unwrap().count(),
        hostile.len(),
        "one directory per name and nothing else"
    );
}
