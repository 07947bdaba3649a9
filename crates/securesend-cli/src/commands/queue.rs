//! `securesend queue …`: queueing a send, and the operator's commands over the jobs.

use std::fmt::Write as _;
use std::time::Duration;

use securesend::queue::{
    self, EnqueueOptions, Inserted, Job, JobEvent, JobId, JobState, Queue, QueueError, Resolution,
    Stage,
};
use securesend::{Cancel, Client, Error, ErrorKind, SendReceipt};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::{Failure, Outcome, human_size, send};
use crate::args::{QueueAddArgs, QueueCommand, StageArg};
use crate::exit;

/// Over how many minutes `queue stats` averages the sends.
const SENDS_WINDOW_MIN: i64 = 5;

/// Where the queue is and whom it serves, from the global arguments.
pub struct Context<'a> {
    pub client: &'a Client,
    /// `--queue`.
    pub url: Option<&'a str>,
    /// `--profile`: the profile a queued job is sent through.
    pub profile: Option<&'a str>,
}

pub async fn run(
    cx: Context<'_>,
    command: QueueCommand,
    cancel: &Cancel,
) -> Result<Outcome, Failure> {
    if let QueueCommand::Add(args) = command {
        return add(&cx, *args, cancel).await;
    }
    let q = open(&cx).await?;
    match command {
        QueueCommand::Add(_) => unreachable!("handled above"),
        QueueCommand::Ls(args) => {
            let state = args
                .state
                .as_deref()
                .map(str::parse::<JobState>)
                .transpose()?;
            let jobs = q.list(state).await.map_err(operator)?;
            Ok(Outcome::ok(
                json!({ "jobs": jobs.iter().map(job_json).collect::<Vec<_>>() }),
                table(&jobs),
            ))
        }
        QueueCommand::Show(args) => {
            let (job, history) = q.show(args.id.parse()?).await.map_err(operator)?;
            Ok(Outcome::ok(
                json!({
                    "job": job_json(&job),
                    "history": history.iter().map(event_json).collect::<Vec<_>>(),
                    "receipt": job.receipt,
                }),
                show_text(&job, &history),
            ))
        }
        QueueCommand::Cancel(args) => {
            let id: JobId = args.id.parse()?;
            q.cancel(id).await.map_err(operator)?;
            Ok(changed(id, "cancelled", "the job was cancelled"))
        }
        QueueCommand::Retry(args) => {
            let id: JobId = args.id.parse()?;
            q.retry(id).await.map_err(operator)?;
            Ok(changed(id, "queued", "the job was queued again"))
        }
        QueueCommand::Resolve(args) => {
            let id: JobId = args.id.parse()?;
            let (resolution, state, done) = if args.sent {
                (Resolution::Sent, "sent", "the job was recorded as sent")
            } else {
                (
                    Resolution::Resend,
                    "queued",
                    "the job was queued to be sent again",
                )
            };
            q.resolve(id, resolution).await.map_err(operator)?;
            Ok(changed(id, state, done))
        }
        QueueCommand::Stats => stats(&q).await,
        QueueCommand::Purge(args) => {
            let older_than = queue::config::parse_duration(&args.older_than).map_err(|e| {
                let m = format!("--older-than: {}", e.message());
                e.with_message(m)
            })?;
            let n = q.purge(older_than).await.map_err(operator)?;
            let text = format!("purged {n} job{}\n", if n == 1 { "" } else { "s" });
            Ok(Outcome::done(
                format!("{n} jobs were purged"),
                json!({ "purged": n }),
                text,
            ))
        }
    }
}

async fn open(cx: &Context<'_>) -> Result<Queue, Failure> {
    queue::open(cx.client, cx.url).await.map_err(failure)
}

/// Validates the message exactly as `send` does, then stages and stores it; nothing is stored
/// when anything is refused.
async fn add(cx: &Context<'_>, args: QueueAddArgs, cancel: &Cancel) -> Result<Outcome, Failure> {
    if args.send.interactive {
        return Err(Error::invalid_input(
            "--interactive opens the message in a compose window now and cannot be queued: use `securesend send --interactive`",
        )
        .into());
    }
    let not_before = args.not_before.as_deref().map(not_before).transpose()?;
    let profile = match cx.profile {
        Some(p) => p.to_owned(),
        None => queue::default_profile(cx.client)?,
    };
    // The connector is how a worker will build the provider: the embedded default included.
    let provider = queue::connector(cx.client).connect(&profile)?;
    let message = send::message(args.send, None, cancel)?;
    let options = EnqueueOptions {
        idempotency_key: args.idempotency_key,
        not_before,
        priority: args.job_priority,
        ..EnqueueOptions::default()
    };
    let stage = match args.stage {
        StageArg::Copy => Stage::Copy,
        StageArg::Reference => Stage::Reference,
    };
    let q = open(cx).await?;
    let inserted = q
        .enqueue(&profile, &provider, message, &options, stage)
        .await
        .map_err(failure)?;
    let (id, created) = match inserted {
        Inserted::Created(id) => (id, true),
        Inserted::Existing(id) => (id, false),
    };
    let done = if created {
        format!("job {id} was queued")
    } else {
        format!("the key names job {id}, queued before")
    };
    Ok(Outcome::done(
        done,
        json!({ "job": id.to_string(), "created": created }),
        format!("{id}\n"),
    ))
}

/// `--not-before`: an RFC 3339 time, or a delay from now.
fn not_before(text: &str) -> Result<OffsetDateTime, Error> {
    if let Ok(at) = OffsetDateTime::parse(text.trim(), &Rfc3339) {
        return Ok(at);
    }
    let delay = queue::config::parse_duration(text).map_err(|_| {
        Error::invalid_input(format!(
            "--not-before {:?}: give a time as 2026-12-24T08:00:00Z or a delay as 10m",
            text.chars().take(40).collect::<String>()
        ))
    })?;
    Ok(OffsetDateTime::now_utc() + delay)
}

fn changed(id: JobId, state: &str, done: &str) -> Outcome {
    Outcome::done(
        done,
        json!({ "job": id.to_string(), "state": state }),
        format!("job {id} is {state}\n"),
    )
}

async fn stats(q: &Queue) -> Result<Outcome, Failure> {
    let stats = q.stats().await.map_err(operator)?;
    let mut text = String::new();
    let mut counts = serde_json::Map::new();
    for state in JobState::ALL {
        let n = stats.counts.get(&state).copied().unwrap_or(0);
        counts.insert(state.as_str().to_owned(), n.into());
        let _ = writeln!(text, "{:<10} {n}", state.as_str());
    }
    let oldest = stats.oldest_queued_age;
    let _ = writeln!(
        text,
        "oldest queued: {}",
        oldest.map_or_else(|| "none".to_owned(), age)
    );
    // The storage keeps no rate: it is counted from the sends that ended in the last minutes.
    let window = time::Duration::minutes(SENDS_WINDOW_MIN);
    let since = OffsetDateTime::now_utc() - window;
    let recent = q
        .list(Some(JobState::Sent))
        .await
        .map_err(operator)?
        .iter()
        .filter(|j| j.finished_at.unwrap_or(j.updated_at) >= since)
        .count();
    let per_minute = recent as f64 / SENDS_WINDOW_MIN as f64;
    let _ = writeln!(
        text,
        "sends per minute: {per_minute:.1} (last {SENDS_WINDOW_MIN} minutes)"
    );
    let json = json!({
        "counts": counts,
        "oldest_queued_age_s": oldest.map(|d| d.as_secs_f64()),
        "sends_per_minute": per_minute,
        "sends_window_minutes": SENDS_WINDOW_MIN,
    });
    Ok(Outcome::ok(json, text))
}

/// A job as `--json` shows it.
fn job_json(job: &Job) -> Value {
    json!({
        "id": job.id.to_string(),
        "state": job.state.as_str(),
        "phase": job.phase.as_str(),
        "profile": job.profile,
        "provider": job.provider,
        "priority": job.priority,
        "idempotency_key": job.idempotency_key,
        "subject": subject(job),
        "attempt": job.attempt,
        "failures": job.failures,
        "max_attempts": job.max_attempts,
        "created_at": stamp(job.created_at),
        "not_before": stamp(job.not_before),
        "updated_at": stamp(job.updated_at),
        "finished_at": job.finished_at.map(stamp),
        "committing_at": job.committing_at.map(stamp),
        "worker": job.worker,
        "lease_until": job.lease_until.map(stamp),
        "error_kind": job.error_kind,
        "error_message": job.error_message,
        "doubt_reason": job.doubt_reason,
        "message": job.spec,
    })
}

fn event_json(e: &JobEvent) -> Value {
    json!({
        "at": stamp(e.at),
        "actor": e.actor,
        "attempt": e.attempt,
        "event": e.event,
        "from": e.from.map(JobState::as_str),
        "to": e.to.as_str(),
        "detail": e.detail,
    })
}

fn subject(job: &Job) -> &str {
    job.spec
        .get("subject")
        .and_then(Value::as_str)
        .unwrap_or("")
}

/// What `queue ls` shows last: why a job is stuck or failed, else its subject.
fn summary(job: &Job) -> String {
    let why = match job.state {
        JobState::InDoubt => job.doubt_reason.as_deref(),
        JobState::Failed => job.error_message.as_deref(),
        JobState::Queued if job.failures > 0 => job.error_message.as_deref(),
        _ => None,
    };
    let line = match why {
        Some(why) => why.to_owned(),
        None if subject(job).is_empty() => "(no subject)".to_owned(),
        None => subject(job).to_owned(),
    };
    clip(&line, 70)
}

fn table(jobs: &[Job]) -> String {
    if jobs.is_empty() {
        return "no jobs\n".to_owned();
    }
    let rows: Vec<[String; 6]> = jobs
        .iter()
        .map(|j| {
            [
                j.id.to_string(),
                j.state.as_str().to_owned(),
                j.profile.clone(),
                format!("{}/{}", j.attempt, j.max_attempts),
                short_stamp(j.updated_at),
                summary(j),
            ]
        })
        .collect();
    let header = [
        "ID",
        "STATE",
        "PROFILE",
        "ATTEMPTS",
        "UPDATED",
        "SUBJECT OR DETAIL",
    ]
    .map(str::to_owned);
    let mut widths = [0usize; 6];
    for row in std::iter::once(&header).chain(&rows) {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut text = String::new();
    for row in std::iter::once(&header).chain(&rows) {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            if i + 1 == row.len() {
                line.push_str(cell);
            } else {
                let _ = write!(line, "{cell:<w$}  ", w = widths[i]);
            }
        }
        text.push_str(line.trim_end());
        text.push('\n');
    }
    text
}

fn show_text(job: &Job, history: &[JobEvent]) -> String {
    let mut t = format!("job {} {}\n", job.id, job.state);
    let _ = writeln!(t, "  profile: {} ({})", job.profile, job.provider);
    let _ = writeln!(t, "  subject: {}", subject(job));
    for role in ["to", "cc", "bcc"] {
        let list: Vec<String> = job.spec[role]
            .as_array()
            .map(|a| a.iter().map(address).collect())
            .unwrap_or_default();
        if !list.is_empty() {
            let _ = writeln!(t, "  {role}: {}", list.join(", "));
        }
    }
    for f in job.spec["files"].as_array().into_iter().flatten() {
        let _ = writeln!(
            t,
            "  file: {} ({}, sha256 {}, {})",
            f["name"].as_str().unwrap_or("?"),
            human_size(f["size"].as_u64().unwrap_or(0)),
            f["sha256"].as_str().unwrap_or("?"),
            f["stage"].as_str().unwrap_or("?"),
        );
    }
    let _ = writeln!(
        t,
        "  attempts: {} of at most {} ({} failed), priority {}",
        job.attempt, job.max_attempts, job.failures, job.priority
    );
    if let Some(key) = &job.idempotency_key {
        let _ = writeln!(t, "  idempotency key: {key}");
    }
    let _ = writeln!(
        t,
        "  created {}, not before {}, updated {}",
        short_stamp(job.created_at),
        short_stamp(job.not_before),
        short_stamp(job.updated_at)
    );
    if let Some(w) = &job.worker {
        let _ = writeln!(t, "  worker: {w}");
    }
    if let Some(m) = &job.error_message {
        let kind = job.error_kind.as_deref().unwrap_or("error");
        let _ = writeln!(t, "  last error ({kind}): {m}");
    }
    if let Some(r) = &job.doubt_reason {
        let _ = writeln!(t, "  in doubt: {r}");
    }
    t.push_str("history:\n");
    for e in history {
        let from = e.from.map_or("(new)", JobState::as_str);
        let _ = write!(
            t,
            "  {}  {}  {}  {from} → {}",
            short_stamp(e.at),
            e.actor,
            e.event,
            e.to
        );
        if let Some(d) = &e.detail {
            let _ = write!(t, "  {d}");
        }
        t.push('\n');
    }
    match &job.receipt {
        Some(r) => match serde_json::from_value::<SendReceipt>(r.clone()) {
            Ok(receipt) => {
                t.push_str("receipt:\n");
                for line in send::receipt_text("sent", &receipt).lines() {
                    let _ = writeln!(t, "  {line}");
                }
            }
            Err(_) => {
                let _ = writeln!(t, "receipt: {r}");
            }
        },
        None if job.state == JobState::Sent => {
            t.push_str("receipt: none (recorded as sent by an operator)\n");
        }
        None => {}
    }
    t
}

fn address(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// RFC 3339 in UTC, to the millisecond as stored.
pub fn stamp(t: OffsetDateTime) -> String {
    t.to_offset(time::UtcOffset::UTC)
        .format(&Rfc3339)
        .unwrap_or_else(|_| t.to_string())
}

/// RFC 3339 in UTC to the second, for tables.
fn short_stamp(t: OffsetDateTime) -> String {
    stamp(t.replace_nanosecond(0).unwrap_or(t))
}

/// A duration as a person reads it: `3m 20s`.
pub fn age(d: Duration) -> String {
    humantime::format_duration(Duration::from_secs(d.as_secs())).to_string()
}

fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        let mut out: String = s.chars().take(max - 1).collect();
        out.push('…');
        out
    }
}

/// A queue failure as the CLI reports it.
pub fn failure(e: QueueError) -> Failure {
    Failure::from(into_error(e))
}

pub fn into_error(e: QueueError) -> Error {
    match e {
        QueueError::Other(e) => e,
        other => Error::new(other.kind(), other.to_string()),
    }
}

/// A refusal of an operator's command: a job that is not there, or not in a state the command
/// applies to, is the operator's input to fix (exit 2), not a failure of the queue.
fn operator(e: QueueError) -> Failure {
    let mut f = failure(e);
    if matches!(f.error.kind(), ErrorKind::Conflict | ErrorKind::NotFound) {
        f.code = Some(exit::BAD_INPUT);
    }
    f
}
