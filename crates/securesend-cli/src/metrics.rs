//! `securesend worker --metrics ADDR`: Prometheus text on `http://ADDR/metrics`.
//!
//! One registry per process, no global recorder: the worker feeds it from its reports and from
//! the queue's `stats()`, and a small HTTP/1 server encodes it on each scrape.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use securesend::Error;
use securesend::queue::{JobReport, JobState, Stats};
use tokio::net::TcpListener;

type Labels = Vec<(&'static str, &'static str)>;

/// The worker's metrics.
pub struct Metrics {
    registry: Registry,
    attempts: Family<Labels, Counter>,
    latency: Family<Labels, Histogram, fn() -> Histogram>,
    retries: Counter,
    jobs: Family<Labels, Gauge>,
    in_doubt: Gauge,
}

fn latency_histogram() -> Histogram {
    // 50 ms to about 7 minutes: a small local send to a large upload.
    Histogram::new(exponential_buckets(0.05, 2.0, 14))
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("securesend_worker");
        let attempts = Family::<Labels, Counter>::default();
        registry.register(
            "attempts",
            "Send attempts by how they ended (sent, retry, failed, in_doubt, released, lease_lost)",
            attempts.clone(),
        );
        let latency: Family<Labels, Histogram, fn() -> Histogram> =
            Family::new_with_constructor(latency_histogram);
        registry.register(
            "send_duration_seconds",
            "How long an attempt took, from claim to outcome, by outcome",
            latency.clone(),
        );
        let retries = Counter::default();
        registry.register(
            "retries",
            "Attempts that failed and were queued to be tried again",
            retries.clone(),
        );
        let jobs = Family::<Labels, Gauge>::default();
        registry.register(
            "queue_jobs",
            "Jobs in the queue by state (all workers), refreshed every few seconds",
            jobs.clone(),
        );
        let in_doubt = Gauge::default();
        registry.register(
            "queue_in_doubt_jobs",
            "Jobs that may have been delivered and wait for `securesend queue resolve`",
            in_doubt.clone(),
        );
        Metrics {
            registry,
            attempts,
            latency,
            retries,
            jobs,
            in_doubt,
        }
    }

    /// Counts one attempt.
    pub fn report(&self, r: &JobReport) {
        let labels = vec![("outcome", r.outcome)];
        self.attempts.get_or_create(&labels).inc();
        self.latency
            .get_or_create(&labels)
            .observe(r.elapsed.as_secs_f64());
        if r.outcome == "retry" {
            self.retries.inc();
        }
    }

    /// Sets the gauges from the queue's counts.
    pub fn stats(&self, stats: &Stats) {
        for state in JobState::ALL {
            let n = stats.counts.get(&state).copied().unwrap_or(0);
            let n = i64::try_from(n).unwrap_or(i64::MAX);
            self.jobs
                .get_or_create(&vec![("state", state.as_str())])
                .set(n);
            if state == JobState::InDoubt {
                self.in_doubt.set(n);
            }
        }
    }

    fn encode(&self) -> Result<String, std::fmt::Error> {
        let mut out = String::new();
        encode(&mut out, &self.registry)?;
        Ok(out)
    }
}

/// Listens on `addr` (before the worker starts, so a port in use fails the command) and serves
/// the metrics until the runtime ends; returns the address bound.
pub async fn serve(addr: SocketAddr, metrics: Arc<Metrics>) -> Result<SocketAddr, Error> {
    let listener = TcpListener::bind(addr).await.map_err(|e| {
        Error::io(
            format!("--metrics {addr}: cannot listen there (is the port in use?)"),
            e,
        )
    })?;
    let bound = listener
        .local_addr()
        .map_err(|e| Error::io("--metrics: cannot read the address listened on", e))?;
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let metrics = metrics.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req| {
                    let metrics = metrics.clone();
                    async move { Ok::<_, Infallible>(answer(&req, &metrics)) }
                });
                // A scraper that goes away mid-answer is no concern of the worker's.
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Ok(bound)
}

fn answer<B>(req: &Request<B>, metrics: &Metrics) -> Response<Full<Bytes>> {
    let reply = |status: StatusCode, ctype: &'static str, body: String| {
        let mut r = Response::new(Full::new(Bytes::from(body)));
        *r.status_mut() = status;
        r.headers_mut().insert(
            hyper::header::CONTENT_TYPE,
            hyper::header::HeaderValue::from_static(ctype),
        );
        r
    };
    if req.uri().path() != "/metrics" {
        return reply(
            StatusCode::NOT_FOUND,
            "text/plain; charset=utf-8",
            "the metrics are at /metrics\n".to_owned(),
        );
    }
    if req.method() != hyper::Method::GET && req.method() != hyper::Method::HEAD {
        return reply(
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain; charset=utf-8",
            "use GET\n".to_owned(),
        );
    }
    match metrics.encode() {
        Ok(text) => reply(
            StatusCode::OK,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
            text,
        ),
        Err(_) => reply(
            StatusCode::INTERNAL_SERVER_ERROR,
            "text/plain; charset=utf-8",
            "the metrics could not be encoded\n".to_owned(),
        ),
    }
}
