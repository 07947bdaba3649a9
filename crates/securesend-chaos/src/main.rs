//! `securesend-chaos`: the chaos soak.
//!
//! For each provider that can send or upload, a fresh sandbox is started with a global fault
//! rate (503 and 429 with `Retry-After`, connections dropped before and during the request
//! body, truncated answers, slow answers, all drawn from a seed), and the library is driven
//! through it like a careful application: every operation carries a unique tag in its subject
//! and file names; a clean, retryable failure is tried again a bounded number of times; an
//! operation whose outcome is unknown is never repeated. Then the sandbox's own records are
//! read: an operation recorded twice is a duplicate, a reported success it does not have is
//! lost, and every record's files are compared by size and SHA-256 with what was sent.
//!
//! The last line reads `delivered=N exact=N duplicates=D lost=L`; the exit status is 0 only
//! when nothing was duplicated, lost, altered, or left hanging.
#![deny(missing_docs)]

mod drive;
mod files;
mod providers;
mod tally;

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;
use securesend_sandbox::SandboxOptions;
use securesend_sandbox::fault::FaultMix;

use drive::{Policy, Verdict};
use providers::{Started, Subject};
use tally::{Records, Tally};

/// The seed a run uses unless told otherwise, so two runs without `--seed` are the same run.
const DEFAULT_SEED: u64 = 20_240_607;

/// Kiteworks chunk cap in the soak's sandbox: 1–3 MiB files then go in 2–6 chunks, so chunk
/// resends and the session check after a lost chunk answer are exercised, not just one-shot
/// uploads.
const KITEWORKS_CHUNK: u64 = 512 * 1024;

/// Notes printed per provider at most; the counts cover the rest.
const MAX_NOTES: usize = 20;

#[derive(Debug, Parser)]
#[command(
    name = "securesend-chaos",
    version,
    about = "Sends and uploads through each provider's sandbox under injected faults, then checks the service's records: nothing lost, nothing duplicated, every byte exact"
)]
struct Args {
    /// Provider to soak (kiteworks, egroupware, tuyu, privasfer, local) or `all`.
    #[arg(long, default_value = "all")]
    provider: String,
    /// Operations per provider.
    #[arg(long, default_value_t = 200)]
    operations: usize,
    /// Probability (0–1) that a request gets a fault.
    #[arg(long, default_value_t = 0.1, value_parser = parse_rate)]
    fault_rate: f64,
    /// Seed for faults, file sizes and contents; a failing run is replayed with its seed.
    #[arg(long, default_value_t = DEFAULT_SEED)]
    seed: u64,
    /// Operations in flight at once per provider. 1 replays a seed most faithfully (the
    /// faults then meet the same requests in the same order).
    #[arg(long, default_value_t = 4)]
    concurrency: usize,
    /// Tries per operation after clean, retryable failures (1 = never repeat).
    #[arg(long, default_value_t = 3)]
    tries: u32,
    /// Seconds one try may take before the operation counts as hung.
    #[arg(long, default_value_t = 300)]
    op_timeout_secs: u64,
}

fn parse_rate(s: &str) -> Result<f64, String> {
    let r: f64 = s.parse().map_err(|_| format!("`{s}` is not a number"))?;
    if (0.0..=1.0).contains(&r) {
        Ok(r)
    } else {
        Err(format!("the fault rate must be between 0 and 1, got {r}"))
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    let keys: Vec<&'static str> = if args.provider.eq_ignore_ascii_case("all") {
        providers::ALL.to_vec()
    } else {
        match providers::key_of(&args.provider) {
            Some(k) => vec![k],
            None => {
                eprintln!(
                    "securesend-chaos: unknown provider `{}`; use one of {} or all",
                    args.provider,
                    providers::ALL.join(", ")
                );
                return ExitCode::from(2);
            }
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("securesend-chaos: no async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(soak(&args, &keys)) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("securesend-chaos: {e}");
            ExitCode::from(2)
        }
    }
}

/// Runs every provider in turn; `Ok(passed)`, or `Err` when the soak itself could not run.
async fn soak(args: &Args, keys: &[&'static str]) -> Result<bool, String> {
    let mix = FaultMix::default();
    println!(
        "chaos soak: seed={} operations={} fault_rate={} concurrency={} tries={} faults={}",
        args.seed,
        args.operations,
        args.fault_rate,
        args.concurrency,
        args.tries,
        describe(&mix)
    );
    let policy = Policy {
        tries: args.tries.max(1),
        op_timeout: Duration::from_secs(args.op_timeout_secs.max(1)),
        concurrency: args.concurrency.max(1),
    };
    let mut totals = Tally::default();
    let mut passed = true;
    for key in keys {
        // Keyed by the provider, not by its place in this run, so `--provider X` replays
        // exactly what X did in a run of all.
        let stream = providers::ALL.iter().position(|k| k == key).unwrap_or(0);
        let scratch = tempfile::Builder::new()
            .prefix("securesend-chaos-")
            .tempdir()
            .map_err(|e| format!("no scratch directory: {e}"))?;
        let mut options = SandboxOptions::default()
            .fault_rate(args.fault_rate)
            .seed(args.seed);
        options.fault_mix = mix.clone();
        // The journal's body hashes are not read here; the store hashes what it keeps.
        options.hash_request_bodies = false;
        if *key == "kiteworks" {
            options = options.chunk_max(KITEWORKS_CHUNK);
        }
        let subject = match providers::start(key, options, &scratch.path().join("state")).await? {
            Started::Ready(s) => *s,
            Started::Skipped(reason) => {
                println!("{key}: skipped: {reason}");
                continue;
            }
        };
        let Subject {
            sandbox,
            provider,
            kiteworks,
        } = subject;
        let started = Instant::now();
        let ops = drive::plan(
            provider.capabilities(),
            args.operations,
            args.seed,
            stream as u64,
        );
        let runs = drive::run_all(
            &provider,
            ops,
            &policy,
            args.seed,
            stream as u64,
            &scratch.path().join("files"),
        )
        .await;
        let records = Records::of(&sandbox);
        // A request the client gave up on may still be in the service's hands, and could land
        // after the count. Stopping the service first (requests in flight finish, the rest are
        // cut off) makes its records final.
        sandbox.shutdown().await;
        let mut tally = tally::count(&runs, &records);
        tally.wall = started.elapsed();
        if let Some(kw) = &kiteworks {
            let (drafts, sessions) = (kw.drafts().len(), kw.open_uploads());
            if drafts + sessions > 0 {
                tally.notes.push(format!(
                    "left on the service: {drafts} drafts, {sessions} open upload sessions (never sent; a real service purges them)"
                ));
            }
        }
        tally.notes.extend(errors_seen(&runs));
        println!("{}", tally.line(key));
        for note in tally.notes.iter().take(MAX_NOTES) {
            println!("  {note}");
        }
        if tally.notes.len() > MAX_NOTES {
            println!("  … {} more notes", tally.notes.len() - MAX_NOTES);
        }
        passed &= tally.passed();
        totals.add(&tally);
        drop(scratch);
    }
    if totals.hung > 0 {
        println!(
            "hung={} (operations abandoned without an answer)",
            totals.hung
        );
    }
    println!("{}", totals.totals_line());
    Ok(passed)
}

/// The errors operations ended with, each with how often, as notes.
fn errors_seen(runs: &[drive::Run]) -> Vec<String> {
    let mut seen: BTreeMap<(String, &str), usize> = BTreeMap::new();
    for run in runs {
        let label = match run.verdict {
            Verdict::Done { .. } => continue,
            Verdict::Failed { .. } => "failed",
            Verdict::Unknown => "unknown",
            Verdict::Hung => "hung",
        };
        if let Some(e) = &run.error {
            // Without the tag, the same failure of different operations is one line.
            let e = e.replace(&run.op.tag, "<tag>");
            *seen.entry((e, label)).or_default() += 1;
        }
    }
    seen.into_iter()
        .map(|((e, label), n)| format!("{label} ×{n}: {e}"))
        .collect()
}

/// The fault mix in one short phrase.
fn describe(mix: &FaultMix) -> String {
    use securesend_sandbox::FaultAction;
    let total: u32 = mix.entries.iter().map(|(w, _)| w).sum();
    mix.entries
        .iter()
        .map(|(w, a)| {
            let what = match a {
                FaultAction::Status(s) => match s.retry_after {
                    Some(r) => format!("{} (Retry-After {r}s)", s.status.as_u16()),
                    None => s.status.as_u16().to_string(),
                },
                FaultAction::Drop => "drop before body".into(),
                FaultAction::DropAfterBody { bytes } => {
                    format!("drop after {} KiB of body", bytes / 1024)
                }
                FaultAction::Truncate { .. } => "truncated answer".into(),
                FaultAction::Delay(d) => format!("{} ms delay", d.as_millis()),
                FaultAction::HoldAnswer(d) => format!("answer held {} ms", d.as_millis()),
            };
            format!("{what} {w}/{total}")
        })
        .collect::<Vec<_>>()
        .join(", ")
}
