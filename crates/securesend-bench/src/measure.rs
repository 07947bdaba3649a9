//! Running a program and reading what the kernel says it cost.
//!
//! Peak memory and CPU time of a child come from `getrusage(RUSAGE_CHILDREN)` — not from
//! polling `/proc`, which misses short peaks. `RUSAGE_CHILDREN` covers every child a process
//! ever waited for (and `ru_maxrss` is the largest of them), so each measured program runs
//! under a fresh copy of this binary (the *wrapper*) whose only child it is: the wrapper's
//! figures are then exactly that program's.

use std::io::Write;
use std::path::Path;
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use nix::sys::resource::{UsageWho, getrusage};
use serde_json::{Value, json};

/// First argument that turns this binary into the wrapper.
pub const RUSAGE_WRAPPER: &str = "__rusage";

/// `__rusage OUT PROGRAM ARGS…`: runs the program with inherited stdio and writes its rusage
/// as JSON to OUT.
pub fn wrapper_main(args: &[String]) -> ExitCode {
    let [out, program, rest @ ..] = args else {
        eprintln!("usage: securesend-bench {RUSAGE_WRAPPER} OUT PROGRAM [ARGS…]");
        return ExitCode::from(2);
    };
    let status = match Command::new(program).args(rest).status() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("securesend-bench: cannot run {program}: {e}");
            return ExitCode::from(127);
        }
    };
    let usage = match getrusage(UsageWho::RUSAGE_CHILDREN) {
        Ok(u) => u,
        Err(e) => {
            eprintln!("securesend-bench: getrusage: {e}");
            return ExitCode::from(127);
        }
    };
    let secs = |t: nix::sys::time::TimeVal| t.tv_sec() as f64 + t.tv_usec() as f64 / 1e6;
    let doc = json!({
        "code": status.code(),
        "maxrss_kib": usage.max_rss(),
        "user_s": secs(usage.user_time()),
        "sys_s": secs(usage.system_time()),
    });
    if let Err(e) = std::fs::write(out, doc.to_string()) {
        eprintln!("securesend-bench: cannot write {out}: {e}");
        return ExitCode::from(127);
    }
    if status.success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// What one program run cost.
#[derive(Clone, Debug)]
pub struct Run {
    /// Wall time from spawn to exit (the wrapper's own start-up, about a millisecond, included).
    pub wall: Duration,
    /// User + system CPU seconds of the program.
    pub cpu_s: f64,
    /// User + system CPU seconds of this process meanwhile: the in-process sandbox serving
    /// the program (the bench itself only waits).
    pub server_cpu_s: f64,
    /// Peak resident set, KiB.
    pub maxrss_kib: u64,
    /// Its standard output.
    pub stdout: String,
}

/// Runs `program args` under the wrapper and returns its cost; a failing program is an
/// error carrying its standard error.
pub async fn run(program: &Path, args: &[&str], scratch: &Path) -> Result<Run, String> {
    let me = std::env::current_exe().map_err(|e| format!("cannot find this binary: {e}"))?;
    let out = tempfile::Builder::new()
        .prefix("rusage-")
        .suffix(".json")
        .tempfile_in(scratch)
        .map_err(|e| format!("cannot create a scratch file: {e}"))?;
    let mut cmd = Command::new(me);
    cmd.arg(RUSAGE_WRAPPER)
        .arg(out.path())
        .arg(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    quiet_disk().await?;
    let server_before = own_cpu();
    let started = Instant::now();
    // A blocking wait on a thread of the blocking pool: the in-process sandbox keeps serving
    // on the runtime meanwhile.
    let output = tokio::task::spawn_blocking(move || cmd.output())
        .await
        .map_err(|e| format!("waiting for {}: {e}", program.display()))?
        .map_err(|e| format!("cannot run {}: {e}", program.display()))?;
    let wall = started.elapsed();
    let server_cpu_s = own_cpu() - server_before;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    if !output.status.success() {
        let mut stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        stderr.truncate(2000);
        return Err(format!(
            "{} {} failed: {}{}",
            program.display(),
            args.first().copied().unwrap_or_default(),
            stderr.trim(),
            if stdout.is_empty() {
                String::new()
            } else {
                format!(" / {}", stdout.chars().take(500).collect::<String>())
            }
        ));
    }
    let doc: Value = serde_json::from_str(
        &std::fs::read_to_string(out.path()).map_err(|e| format!("rusage file: {e}"))?,
    )
    .map_err(|e| format!("rusage file: {e}"))?;
    let f = |k: &str| doc[k].as_f64().unwrap_or(0.0);
    Ok(Run {
        wall,
        cpu_s: f("user_s") + f("sys_s"),
        server_cpu_s,
        maxrss_kib: doc["maxrss_kib"].as_u64().unwrap_or(0),
        stdout,
    })
}

/// Flushes what earlier measurements wrote: its write-back would otherwise take the next
/// measurement's cores and disk, and a figure would depend on what ran before it.
pub async fn quiet_disk() -> Result<(), String> {
    tokio::task::spawn_blocking(nix::unistd::sync)
        .await
        .map_err(|e| format!("flushing the disk: {e}"))
}

/// User + system CPU seconds of this process (all its threads) so far.
fn own_cpu() -> f64 {
    cpu_seconds(nix::sys::resource::UsageWho::RUSAGE_SELF)
}

/// User + system CPU seconds so far of `who` (this process, or the calling thread).
pub fn cpu_seconds(who: nix::sys::resource::UsageWho) -> f64 {
    nix::sys::resource::getrusage(who).map_or(0.0, |u| {
        let secs = |t: nix::sys::time::TimeVal| t.tv_sec() as f64 + t.tv_usec() as f64 / 1e6;
        secs(u.user_time()) + secs(u.system_time())
    })
}

/// Writes `size` bytes of pseudo-random content (incompressible, unlike a sparse file of
/// zeros, and cheap to make: xorshift, not a CSPRNG).
pub fn make_file(path: &Path, size: u64, seed: u64) -> std::io::Result<()> {
    let file = std::fs::File::create(path)?;
    let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
    let mut state = seed | 1;
    let mut block = vec![0u8; 1 << 20];
    let mut left = size;
    while left > 0 {
        for word in block.chunks_exact_mut(8) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            word.copy_from_slice(&state.to_le_bytes());
        }
        let n = left.min(block.len() as u64) as usize;
        out.write_all(&block[..n])?;
        left -= n as u64;
    }
    out.flush()?;
    Ok(())
}

/// The `p`-th percentile (0–100) of sorted values, nearest rank.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// MiB per second.
pub fn mib_s(bytes: u64, wall: Duration) -> f64 {
    bytes as f64 / (1 << 20) as f64 / wall.as_secs_f64().max(1e-9)
}
