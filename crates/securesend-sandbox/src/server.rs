//! The running sandbox: a loopback listener, one hyper connection per client, and the
//! per-request pipeline (journal → latency → fault → service → truncation → journal).
//!
//! axum's `Router` cannot fail, but a dropped connection needs a failing service: hyper closes
//! the connection without writing anything when the service future returns `Err`. So the
//! sandbox runs its own accept loop and wraps the router in a service that can fail.

use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use http::{HeaderValue, Method, StatusCode, header};
use http_body::Body as _;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};
use tower::ServiceExt;

use crate::body::{TapBody, TruncatedBody, drain, read_up_to};
use crate::clock::Clock;
use crate::error::SandboxError;
use crate::fault::{AppliedFault, Decision, FaultAction, Faults, StatusFault};
use crate::journal::{EntryState, Journal, RequestSeq};
use crate::mail::Outbox;
use crate::options::SandboxOptions;
use crate::service::{Credentials, SeededItem, Service, ServiceContext};
use crate::store::FileStore;
use crate::tokens::Tokens;

/// How long shutdown waits for requests in flight before cutting their connections.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// A running emulated service on `127.0.0.1:<port>`. Dropping it stops the server (in the
/// background); [`Sandbox::shutdown`] stops it and waits.
pub struct Sandbox {
    ctx: ServiceContext,
    faults: Faults,
    credentials: Credentials,
    profile: toml::Table,
    seeded: Vec<SeededItem>,
    description: &'static str,
    shutdown: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl fmt::Debug for Sandbox {
    // The profile holds the credentials as literal values: show names, not values.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sandbox")
            .field("key", &self.key())
            .field("base_url", &self.base_url())
            .field("credentials", &self.credentials)
            .field("profile_keys", &self.profile.keys().collect::<Vec<_>>())
            .field("seeded", &self.seeded.len())
            .finish_non_exhaustive()
    }
}

/// The route pattern that handled a request, carried out of the router on the response.
#[derive(Clone)]
struct MatchedRoute(String);

/// The error that makes hyper close a connection without a response.
#[derive(Debug, thiserror::Error)]
#[error("connection dropped by an injected fault")]
struct DroppedByFault;

struct Shared {
    key: &'static str,
    router: Router,
    journal: Journal,
    faults: Faults,
    clock: Clock,
    latency: Duration,
    hash_bodies: bool,
}

impl Sandbox {
    /// Binds `127.0.0.1:0`, mounts `service` and starts serving.
    pub async fn start(
        service: &dyn Service,
        options: SandboxOptions,
    ) -> Result<Sandbox, SandboxError> {
        options.validate()?;
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .map_err(SandboxError::Bind)?;
        let addr = listener.local_addr().map_err(SandboxError::Bind)?;
        let clock = options.clock.clone();
        let journal = Journal::new(options.journal_headers.clone());
        let faults = Faults::new(
            options.faults.clone(),
            options.fault_rate,
            options.fault_mix.clone(),
            options.seed,
        );
        let store = FileStore::open(
            options.data_dir.as_deref(),
            clock.clone(),
            options.max_file_bytes,
        )?;
        let outbox = Outbox::new(clock.clone());
        let tokens = Tokens::new(clock.clone(), options.token_lifetime);
        let latency = options.latency;
        let hash_bodies = options.hash_request_bodies;
        let key = service.key();
        let ctx = ServiceContext::new(key, addr, options, store, outbox, tokens, journal.clone());

        let mount = service.mount(ctx.clone()).await?;
        let mut profile = toml::Table::new();
        profile.insert("provider".into(), key.into());
        profile.extend(mount.profile);

        let shared = Arc::new(Shared {
            key,
            router: mount.router.layer(axum::middleware::from_fn(record_route)),
            journal,
            faults: faults.clone(),
            clock,
            latency,
            hash_bodies,
        });
        let (shutdown, rx) = watch::channel(false);
        let task = tokio::spawn(accept_loop(listener, shared, rx));
        tracing::debug!(service = key, %addr, "sandbox listening");
        Ok(Sandbox {
            ctx,
            faults,
            credentials: mount.credentials,
            profile,
            seeded: mount.seeded,
            description: service.description(),
            shutdown,
            task: Some(task),
        })
    }

    /// The provider key.
    pub fn key(&self) -> &'static str {
        self.ctx.key()
    }

    /// The service's one-line description.
    pub fn description(&self) -> &'static str {
        self.description
    }

    /// `http://127.0.0.1:<port>`.
    pub fn base_url(&self) -> &str {
        self.ctx.base_url()
    }

    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        self.ctx.addr()
    }

    /// The service's test credentials.
    pub fn credentials(&self) -> &Credentials {
        &self.credentials
    }

    /// The profile for `securesend.toml`, `provider` included.
    pub fn profile(&self) -> &toml::Table {
        &self.profile
    }

    /// Seeded items.
    pub fn seeded(&self) -> &[SeededItem] {
        &self.seeded
    }

    /// The request journal.
    pub fn journal(&self) -> &Journal {
        self.ctx.journal()
    }

    /// The live fault configuration.
    pub fn faults(&self) -> &Faults {
        &self.faults
    }

    /// The file store.
    pub fn store(&self) -> &FileStore {
        self.ctx.store()
    }

    /// Delivered messages.
    pub fn outbox(&self) -> &Outbox {
        self.ctx.outbox()
    }

    /// The token registry.
    pub fn tokens(&self) -> &Tokens {
        self.ctx.tokens()
    }

    /// The clock.
    pub fn clock(&self) -> &Clock {
        self.ctx.clock()
    }

    /// The context the service was mounted with.
    pub fn context(&self) -> &ServiceContext {
        &self.ctx
    }

    /// Stops accepting, lets requests in flight finish (up to a grace period), and waits.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>, shutdown: watch::Receiver<bool>) {
    let mut conns = JoinSet::new();
    let mut stop = shutdown.clone();
    loop {
        tokio::select! {
            () = shutdown_signalled(&mut stop) => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let _ = stream.set_nodelay(true);
                    conns.spawn(serve_connection(stream, peer, shared.clone(), shutdown.clone()));
                }
                Err(e) => {
                    // Out of descriptors and the like: back off rather than spin.
                    tracing::warn!(service = shared.key, "accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
    drop(listener);
    let drained = tokio::time::timeout(SHUTDOWN_GRACE, async {
        while conns.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        conns.abort_all();
        while conns.join_next().await.is_some() {}
    }
}

/// Resolves once shutdown is signalled (or the sandbox handle is gone).
async fn shutdown_signalled(rx: &mut watch::Receiver<bool>) {
    // The guard `wait_for` returns is not `Send`; drop it here, inside this future.
    let _ = rx.wait_for(|s| *s).await.map(|_| ());
}

async fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
) {
    let service = hyper::service::service_fn(move |req| handle(shared.clone(), peer, req));
    let conn = http1::Builder::new()
        .timer(TokioTimer::new())
        .serve_connection(TokioIo::new(stream), service);
    let mut conn = std::pin::pin!(conn);
    let mut signalled = false;
    loop {
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(e) = result {
                    tracing::trace!("connection from {peer} ended: {e}");
                }
                return;
            }
            () = shutdown_signalled(&mut shutdown), if !signalled => {
                signalled = true;
                conn.as_mut().graceful_shutdown();
            }
        }
    }
}

async fn handle(
    shared: Arc<Shared>,
    peer: SocketAddr,
    req: hyper::Request<Incoming>,
) -> Result<Response, DroppedByFault> {
    let clock = &shared.clock;
    let journal = &shared.journal;
    let started = clock.elapsed();
    let seq = journal.begin(&req, peer, clock.now());
    clock.sleep(shared.latency).await;

    let decision = shared.faults.decide(req.method(), req.uri().path());
    let method = req.method().clone();
    let (mut parts, body) = req.into_parts();
    let mut body = TapBody::new(body, journal.clone(), seq, shared.hash_bodies);
    let mut applied = None;
    let mut truncate = None;
    let mut hold = None;

    if let Some(Decision { action, source }) = decision {
        match action {
            FaultAction::Delay(d) => {
                let fault = AppliedFault::Delay {
                    ms: d.as_millis().try_into().unwrap_or(u64::MAX),
                    source,
                };
                // Recorded before waiting, so a test sees the request held.
                journal.update(seq, |e| e.fault = Some(fault.clone()));
                applied = Some(fault);
                clock.sleep(d).await;
            }
            FaultAction::Drop => {
                drop(body);
                finish_dropped(&shared, seq, started, AppliedFault::Drop { source });
                return Err(DroppedByFault);
            }
            FaultAction::DropAfterBody { bytes } => {
                let _ = read_up_to(&mut body, bytes).await;
                drop(body);
                finish_dropped(
                    &shared,
                    seq,
                    started,
                    AppliedFault::DropAfterBody { bytes, source },
                );
                return Err(DroppedByFault);
            }
            FaultAction::Status(status) => {
                // Read the upload to its end so the client, still sending, gets the answer
                // rather than a reset; a client that gives up just ends the body early.
                let _ = drain(&mut body).await;
                drop(body);
                let fault = AppliedFault::Status {
                    status: status.status.as_u16(),
                    retry_after: status.retry_after,
                    source,
                };
                let response = status_response(&status);
                let status = response.status();
                finish(&shared, seq, started, &method, status, None, Some(fault));
                return Ok(response);
            }
            FaultAction::Truncate { keep } => truncate = Some((keep, source)),
            FaultAction::HoldAnswer(d) => hold = Some((d, source)),
        }
    }

    parts.extensions.insert(ConnectInfo(peer));
    parts.extensions.insert(seq);
    let request = Request::from_parts(parts, Body::new(body));
    let response = match shared.router.clone().oneshot(request).await {
        Ok(r) => r,
        Err(never) => match never {},
    };
    let (mut response, route) = take_route(response);
    if let Some((d, source)) = hold {
        let fault = AppliedFault::HoldAnswer {
            ms: d.as_millis().try_into().unwrap_or(u64::MAX),
            source,
        };
        // Recorded before waiting, so a test sees that the service has acted.
        journal.update(seq, |e| e.fault = Some(fault.clone()));
        applied = Some(fault);
        clock.sleep(d).await;
    }

    if let Some((keep, source)) = truncate {
        match truncate_response(response, keep, &method).await {
            Ok((cut, announced, sent)) => {
                response = cut;
                applied = Some(AppliedFault::Truncate {
                    announced,
                    sent,
                    source,
                });
            }
            Err(()) => {
                finish_dropped(&shared, seq, started, AppliedFault::Drop { source });
                return Err(DroppedByFault);
            }
        }
    }
    let status = response.status();
    finish(&shared, seq, started, &method, status, route, applied);
    Ok(response)
}

fn take_route(mut response: Response) -> (Response, Option<String>) {
    let route = response
        .extensions_mut()
        .remove::<MatchedRoute>()
        .map(|r| r.0);
    (response, route)
}

fn finish(
    shared: &Shared,
    seq: RequestSeq,
    started: Duration,
    method: &Method,
    status: StatusCode,
    route: Option<String>,
    fault: Option<AppliedFault>,
) {
    let elapsed = shared.clock.elapsed().saturating_sub(started);
    // Only the route pattern is logged: raw paths and queries can carry keys and signatures.
    tracing::info!(
        target: "securesend_sandbox::request",
        service = shared.key,
        seq = seq.0,
        %method,
        route = route.as_deref().unwrap_or("(unmatched)"),
        status = status.as_u16(),
        fault = fault.as_ref().map_or("-", AppliedFault::kind),
    );
    shared.journal.update(seq, |e| {
        e.status = Some(status.as_u16());
        e.route = route;
        if fault.is_some() {
            e.fault = fault;
        }
        e.state = EntryState::Answered;
        e.elapsed = Some(elapsed);
    });
}

fn finish_dropped(shared: &Shared, seq: RequestSeq, started: Duration, fault: AppliedFault) {
    let elapsed = shared.clock.elapsed().saturating_sub(started);
    tracing::info!(
        target: "securesend_sandbox::request",
        service = shared.key,
        seq = seq.0,
        fault = fault.kind(),
        "connection dropped",
    );
    shared.journal.update(seq, |e| {
        e.fault = Some(fault);
        e.state = EntryState::Dropped;
        e.elapsed = Some(elapsed);
    });
}

fn status_response(fault: &StatusFault) -> Response {
    let mut response = Response::new(fault.body.clone().map_or_else(Body::empty, Body::from));
    *response.status_mut() = fault.status;
    let headers = response.headers_mut();
    if let Some(secs) = fault.retry_after {
        headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    if let Some(ct) = fault
        .content_type
        .as_deref()
        .and_then(|c| HeaderValue::from_str(c).ok())
    {
        headers.insert(header::CONTENT_TYPE, ct);
    }
    response
}

/// Cuts a response short: full `Content-Length`, fewer bytes. Returns the new response, the
/// announced length and the bytes that will be sent; `Err` when the response cannot carry a
/// body (then the caller drops the connection instead).
async fn truncate_response(
    response: Response,
    keep: Option<u64>,
    method: &Method,
) -> Result<(Response, u64, u64), ()> {
    let status = response.status();
    if method == Method::HEAD
        || status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED
    {
        return Err(());
    }
    let (mut parts, body) = response.into_parts();
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .or_else(|| body.size_hint().exact());
    let (body, len) = match declared {
        Some(len) => (body, len),
        None => {
            // A streamed body of unknown length has to be read to learn the length to
            // announce. Only service responses without Content-Length take this path.
            use http_body_util::BodyExt;
            let bytes = body.collect().await.map_err(|_| ())?.to_bytes();
            let len = bytes.len() as u64;
            (Body::from(bytes), len)
        }
    };
    let sent = keep.unwrap_or(len / 2).min(len.saturating_sub(1));
    let announced = len.max(sent + 1);
    parts.headers.remove(header::TRANSFER_ENCODING);
    parts
        .headers
        .insert(header::CONTENT_LENGTH, HeaderValue::from(announced));
    let body = Body::new(TruncatedBody::new(body, sent));
    Ok((Response::from_parts(parts, body), announced, sent))
}

async fn record_route(req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_owned());
    let mut response = next.run(req).await;
    if let Some(route) = route {
        response.extensions_mut().insert(MatchedRoute(route));
    }
    response
}
