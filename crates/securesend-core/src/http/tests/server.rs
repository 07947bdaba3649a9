//! Tiny local servers for what mockito cannot do: scripted sequences, dropped connections,
//! answers that never come, truncated bodies, TLS.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::http::{HttpClient, HttpSettings, Sleeper};

/// What the server does with one connection, after reading its request.
#[derive(Clone, Debug)]
pub enum Act {
    /// Close the connection without answering.
    Drop,
    /// Keep the connection open and never answer.
    Hang,
    /// Write these bytes, then close.
    Raw(Vec<u8>),
}

/// A complete answer with `Content-Length` and `Connection: close`.
pub fn reply(status: u16, headers: &[(&str, &str)], body: &[u8]) -> Act {
    let mut out = format!(
        "HTTP/1.1 {status} X\r\ncontent-length: {}\r\nconnection: close\r\n",
        body.len()
    );
    for (k, v) in headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str("\r\n");
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(body);
    Act::Raw(bytes)
}

/// A server answering connection *n* with `acts[n]` (the last act repeats).
pub struct RawServer {
    pub addr: SocketAddr,
    hits: Arc<AtomicUsize>,
    heads: Arc<Mutex<Vec<String>>>,
}

impl RawServer {
    pub async fn start(acts: Vec<Act>) -> RawServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let hits = Arc::new(AtomicUsize::new(0));
        let heads = Arc::new(Mutex::new(Vec::new()));
        let (h, hd) = (hits.clone(), heads.clone());
        tokio::spawn(async move {
            let mut parked = Vec::new();
            loop {
                let Ok((mut sock, _)) = listener.accept().await else {
                    return;
                };
                let Some(head) = read_request(&mut sock).await else {
                    continue;
                };
                let n = h.fetch_add(1, Ordering::SeqCst);
                hd.lock().unwrap().push(head);
                match acts[n.min(acts.len() - 1)].clone() {
                    Act::Drop => drop(sock),
                    Act::Hang => parked.push(sock),
                    Act::Raw(bytes) => {
                        let _ = sock.write_all(&bytes).await;
                        let _ = sock.shutdown().await;
                    }
                }
            }
        });
        RawServer { addr, hits, heads }
    }

    /// A URL on this server.
    pub fn url(&self, path_and_query: &str) -> url::Url {
        url::Url::parse(&format!("http://{}{path_and_query}", self.addr)).unwrap()
    }

    /// How many complete requests arrived.
    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }

    /// The request heads (request line and headers) received, in order.
    pub fn heads(&self) -> Vec<String> {
        self.heads.lock().unwrap().clone()
    }
}

/// Reads one request (head and `Content-Length` body); returns the head.
async fn read_request(sock: &mut TcpStream) -> Option<String> {
    let mut buf = Vec::new();
    let mut tmp = [0u8; 4096];
    let head_end = loop {
        if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break p + 4;
        }
        let n = sock.read(&mut tmp).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&tmp[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let len = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse::<usize>().ok())?
        })
        .unwrap_or(0);
    while buf.len() < head_end + len {
        let n = sock.read(&mut tmp).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&tmp[..n]);
    }
    Some(head)
}

/// A port on which nothing listens.
pub async fn refused_addr() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    drop(l);
    addr
}

/// Records the waits a client asks for instead of waiting.
#[derive(Clone, Default)]
pub struct Waits(Arc<Mutex<Vec<Duration>>>);

impl Waits {
    pub fn sleeper(&self) -> Sleeper {
        let w = self.0.clone();
        Sleeper::new(move |d| {
            w.lock().unwrap().push(d);
            Box::pin(async {})
        })
    }

    pub fn get(&self) -> Vec<Duration> {
        self.0.lock().unwrap().clone()
    }
}

/// A client with `settings` whose waits are recorded, not slept.
pub fn client_with(settings: &HttpSettings) -> (HttpClient, Waits) {
    let waits = Waits::default();
    let client = HttpClient::new("test", settings, std::path::Path::new("."))
        .unwrap()
        .with_sleeper(waits.sleeper());
    (client, waits)
}

/// [`client_with`] default settings.
pub fn client() -> (HttpClient, Waits) {
    client_with(&HttpSettings::default())
}

/// The directory of the test certificates.
pub fn testdata() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/http/testdata")
}

/// An HTTPS server (test CA) on its own thread answering every request with 200 "tls ok".
pub fn tls_server() -> SocketAddr {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    use std::io::{Read, Write};

    let dir = testdata();
    let certs = CertificateDer::pem_file_iter(dir.join("server.pem"))
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_file(dir.join("server.key")).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = Arc::new(
        rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .unwrap(),
    );
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for sock in listener.incoming() {
            let Ok(sock) = sock else { return };
            let config = config.clone();
            std::thread::spawn(move || {
                let conn = rustls::ServerConnection::new(config).unwrap();
                let mut tls = rustls::StreamOwned::new(conn, sock);
                let mut buf = Vec::new();
                let mut tmp = [0u8; 1024];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tls.read(&mut tmp) {
                        Ok(0) | Err(_) => return, // handshake refused by the client
                        Ok(n) => buf.extend_from_slice(&tmp[..n]),
                    }
                }
                let _ = tls.write_all(
                    b"HTTP/1.1 200 OK\r\ncontent-length: 6\r\nconnection: close\r\n\r\ntls ok",
                );
                tls.conn.send_close_notify();
                let _ = tls.flush();
            });
        }
    });
    addr
}
