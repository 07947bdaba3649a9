//! `securesend-bench`: measures securesend against its own sandbox, side by side with plain
//! tools on the same server (curl, openssl, a bare HTTP load generator), and prints a markdown
//! table and one JSON line with every figure.
//!
//! `cargo build --release -p securesend-cli && cargo run --release -p securesend-bench -- [--quick]`
//!
//! See `docs/benchmarks.md` for what each row means and the targets.

mod measure;
mod report;
mod scenarios;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

/// Benchmarks securesend (CLI and library) against curl, openssl and a plain HTTP load
/// generator, on the same loopback sandbox. Needs `curl` and `openssl` on PATH and the release
/// CLI (`cargo build --release -p securesend-cli`).
#[derive(Debug, Parser)]
#[command(name = "securesend-bench", version)]
pub struct Args {
    /// Small sizes (64 MiB files, 200 sends): every measurement in under a minute.
    #[arg(long)]
    pub quick: bool,
    /// Size of the big file in MiB (default 1024; 64 with --quick).
    #[arg(long, value_name = "MIB")]
    pub size_mib: Option<u64>,
    /// Size of the smaller file the memory check compares with, in MiB (default 256; 32 with
    /// --quick).
    #[arg(long, value_name = "MIB")]
    pub small_mib: Option<u64>,
    /// Number of small EGroupware sends (default 2000; 200 with --quick).
    #[arg(long, value_name = "N")]
    pub sends: Option<usize>,
    /// Sends in flight at once.
    #[arg(long, value_name = "N", default_value_t = 64)]
    pub in_flight: usize,
    /// Sandbox latency per request for the round-trip measurement, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 20)]
    pub latency_ms: u64,
    /// Runs of each throughput measurement; the best one counts (the machine's noise only
    /// ever slows a run down).
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub repeat: usize,
    /// The `securesend` binary (default: next to this one, i.e. target/release/securesend).
    #[arg(long, value_name = "PATH")]
    pub cli: Option<PathBuf>,
    /// Where the test files go (default: a temporary directory under the target directory,
    /// removed at the end).
    #[arg(long, value_name = "DIR")]
    pub work_dir: Option<PathBuf>,
    /// Only these sections (comma-separated: upload, memory, download, cpu, sends, latency).
    #[arg(long, value_delimiter = ',', value_name = "LIST")]
    pub only: Vec<String>,
}

impl Args {
    fn size(&self) -> u64 {
        self.size_mib.unwrap_or(if self.quick { 64 } else { 1024 }) << 20
    }
    fn small(&self) -> u64 {
        self.small_mib.unwrap_or(if self.quick { 32 } else { 256 }) << 20
    }
    fn sends(&self) -> usize {
        self.sends.unwrap_or(if self.quick { 200 } else { 2000 })
    }
    fn wants(&self, section: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|s| s == section)
    }
}

fn main() -> ExitCode {
    // The rusage wrapper runs before anything else: it must stay a bare parent of one child.
    let raw: Vec<String> = std::env::args().collect();
    if raw.get(1).map(String::as_str) == Some(measure::RUSAGE_WRAPPER) {
        return measure::wrapper_main(&raw[2..]);
    }
    let args = Args::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("securesend-bench: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(scenarios::run(&args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("securesend-bench: {e}");
            ExitCode::FAILURE
        }
    }
}
