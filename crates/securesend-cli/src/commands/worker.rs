//! `securesend worker`: sends queued jobs, one line per attempt on stdout.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use securesend::queue::{self, JobReport, Worker, WorkerOptions};
use securesend::{Cancel, Client, Error};
use serde_json::json;

use super::queue::{failure, into_error};
use super::{Failure, Outcome};
use crate::args::WorkerArgs;
use crate::metrics::{self, Metrics};
use crate::output;

/// How often the jobs-by-state gauges are read from the queue.
const STATS_EVERY: Duration = Duration::from_secs(5);

/// Runs a worker until `shutdown` fires (the first SIGINT or SIGTERM) or, with `--drain`, until
/// nothing is queued or running; either is a clean end (exit 0).
pub async fn run(
    client: &Client,
    url: Option<&str>,
    args: WorkerArgs,
    json: bool,
    quiet: bool,
    shutdown: &Cancel,
) -> Result<Outcome, Failure> {
    let lease = queue::config::parse_duration(&args.lease).map_err(|e| {
        let m = format!("--lease: {}", e.message());
        e.with_message(m)
    })?;
    if lease < Duration::from_millis(300) {
        return Err(Error::invalid_input(format!(
            "--lease {}: give at least 300ms, so that a heartbeat can renew it",
            args.lease
        ))
        .into());
    }
    let q = queue::open(client, url).await.map_err(failure)?;
    let defaults = WorkerOptions::default();
    let options = WorkerOptions {
        name: args.name.unwrap_or(defaults.name.clone()),
        concurrency: usize::from(args.concurrency),
        lease,
        // Three heartbeats per lease: one lost or late still leaves the job held.
        heartbeat: lease / 3,
        drain: args.drain,
        ..defaults
    };
    let metrics = match args.metrics {
        Some(addr) => {
            let m = Arc::new(Metrics::new());
            let bound = metrics::serve(addr, m.clone()).await?;
            if !quiet {
                output::stderr_line(&format!("metrics on http://{bound}/metrics"));
            }
            let (q, m2) = (q.clone(), m.clone());
            tokio::spawn(async move {
                loop {
                    // A failed read leaves the last counts; the worker reports storage trouble.
                    if let Ok(stats) = q.stats().await {
                        m2.stats(&stats);
                    }
                    tokio::time::sleep(STATS_EVERY).await;
                }
            });
            Some(m)
        }
        None => None,
    };
    let unprintable = Arc::new(AtomicBool::new(false));
    let sink = {
        let metrics = metrics.clone();
        move |r: &JobReport| {
            if let Some(m) = &metrics {
                m.report(r);
            }
            let line = if json { json_line(r) } else { text_line(r) };
            if let Err(e) = output::stdout(&line) {
                if !unprintable.swap(true, Ordering::SeqCst) {
                    output::stderr_line(&format!(
                        "error: cannot write to standard output ({e}); the worker goes on and the queue records every job (`securesend queue ls`)"
                    ));
                }
            }
        }
    };
    Worker::new(q, queue::connector(client), options)
        .on_report(Arc::new(sink))
        .run(shutdown.clone())
        .await
        .map_err(|e| Failure::from(into_error(e)))?;
    Ok(Outcome::streamed())
}

/// `job ID sent via PROFILE: MESSAGE_ID (1.2 s)`.
fn text_line(r: &JobReport) -> String {
    let what = r.message_id.as_deref().or(r.detail.as_deref());
    let mut line = format!("job {} {} via {}", r.job, r.outcome, r.profile);
    if let Some(what) = what {
        line.push_str(": ");
        line.push_str(what);
    }
    line.push_str(&format!(" ({:.1} s)\n", r.elapsed.as_secs_f64()));
    line
}

fn json_line(r: &JobReport) -> String {
    let doc = json!({
        "job": r.job.to_string(),
        "profile": r.profile,
        "attempt": r.attempt,
        "outcome": r.outcome,
        "message_id": r.message_id,
        "detail": r.detail,
        "elapsed_s": r.elapsed.as_secs_f64(),
    });
    format!("{doc}\n")
}
