//! `securesend-sandbox`: serves emulated services on loopback and writes a ready
//! `securesend.toml` for them.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use securesend_sandbox::egroupware::Egroupware;
use securesend_sandbox::generated::{
    config_table, manifest, secrets_dir, write_atomic, write_config,
};
use securesend_sandbox::{RateLimit, RateLimitSetting, Registry, Sandbox, SandboxOptions};

#[derive(Parser, Debug)]
#[command(
    name = "securesend-sandbox",
    version,
    about = "Strict local emulators of the services securesend talks to"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Serve emulated providers on 127.0.0.1 until SIGINT or SIGTERM.
    Serve(ServeArgs),
    /// List the providers this build can serve.
    List,
}

#[derive(Args, Debug)]
struct ServeArgs {
    /// Provider key to serve, several separated by commas, or `all`.
    #[arg(long, value_name = "NAME|all")]
    provider: String,
    /// Where to write the generated securesend.toml.
    #[arg(long, value_name = "PATH")]
    config_out: PathBuf,
    /// Where to write a JSON manifest of seeded items (ids, names, sha256).
    #[arg(long, value_name = "PATH")]
    seed_out: Option<PathBuf>,
    /// Probability (0–1) that a request gets a random fault (503/429 with Retry-After,
    /// dropped connection, truncated body, slow answer).
    #[arg(long, value_name = "F", default_value_t = 0.0, value_parser = parse_rate)]
    fault_rate: f64,
    /// Seed for fault decisions; printed when chosen at random, so a run can be replayed.
    #[arg(long, value_name = "N")]
    seed: Option<u64>,
    /// Latency added to every request, in milliseconds.
    #[arg(long, value_name = "N", default_value_t = 0)]
    latency_ms: u64,
    /// Largest upload chunk the services accept (bytes; K/M/G and KiB/MiB/GiB suffixes allowed).
    #[arg(long, value_name = "BYTES", value_parser = parse_bytes)]
    chunk_max: Option<u64>,
    /// Lifetime of issued access tokens, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 3600)]
    token_lifetime_secs: u64,
    /// Do not hash request bodies in the journal (saves CPU in throughput benchmarks; stored
    /// files are still hashed).
    #[arg(long)]
    no_body_hash: bool,
    /// Directory for stored files (default: a temporary directory removed on exit), e.g. on a
    /// tmpfs for benchmarks.
    #[arg(long, value_name = "PATH")]
    data_dir: Option<PathBuf>,
    /// Rate limits: `default` (each service's documented limit), `off`, or requests per minute.
    #[arg(long, value_name = "default|off|N", default_value = "default", value_parser = parse_rate_limit)]
    rate_limit: RateLimitSetting,
    /// The EGroupware edition the egroupware sandbox runs: `community` (share passwords, share
    /// expiry and writable shares fail as on a community server) or `epl` (they work, and the
    /// generated profile says `edition = "epl"`).
    #[arg(long, value_enum, value_name = "EDITION", default_value = "community")]
    egroupware_edition: EgroupwareEdition,
}

/// `--egroupware-edition`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum EgroupwareEdition {
    Community,
    Epl,
}

fn parse_rate(s: &str) -> Result<f64, String> {
    let f: f64 = s.parse().map_err(|_| format!("`{s}` is not a number"))?;
    if (0.0..=1.0).contains(&f) {
        Ok(f)
    } else {
        Err(format!("fault rate must be between 0 and 1, got {f}"))
    }
}

fn parse_bytes(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("`{s}` is not a byte count"))?;
    let mult: u64 = match unit.trim() {
        "" | "B" => 1,
        "K" | "KiB" => 1 << 10,
        "M" | "MiB" => 1 << 20,
        "G" | "GiB" => 1 << 30,
        other => {
            return Err(format!(
                "unknown unit `{other}` (use K, M, G, KiB, MiB or GiB)"
            ));
        }
    };
    match n.checked_mul(mult) {
        Some(0) => Err("must be at least 1 byte".into()),
        Some(v) => Ok(v),
        None => Err(format!("`{s}` is too large")),
    }
}

fn parse_rate_limit(s: &str) -> Result<RateLimitSetting, String> {
    match s {
        "default" => Ok(RateLimitSetting::ServiceDefault),
        "off" => Ok(RateLimitSetting::Off),
        n => match n.parse::<u32>() {
            Ok(0) | Err(_) => Err(format!(
                "`{s}`: expected `default`, `off` or a positive number of requests per minute"
            )),
            Ok(n) => Ok(RateLimitSetting::Limit(RateLimit::per_minute(n))),
        },
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let registry = Registry::builtin();
    match cli.command {
        Command::List => {
            list(&registry);
            ExitCode::SUCCESS
        }
        Command::Serve(args) => {
            let registry = match args.egroupware_edition {
                EgroupwareEdition::Community => registry,
                EgroupwareEdition::Epl => registry.with(Egroupware::epl()),
            };
            let runtime = match tokio::runtime::Runtime::new() {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("error: cannot start the async runtime: {e}");
                    return ExitCode::FAILURE;
                }
            };
            match runtime.block_on(serve(&registry, args)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

fn list(registry: &Registry) {
    for service in registry.iter() {
        println!("{:<12} {}", service.key(), service.description());
    }
    println!("{:<12} a directory on this machine (no server)", "local");
}

async fn serve(registry: &Registry, args: ServeArgs) -> Result<(), String> {
    let selection = registry.select(&args.provider).map_err(|e| e.to_string())?;
    // Handlers first: a signal that arrives as soon as the files exist must stop us cleanly,
    // not kill us with the default action.
    let mut signals = Signals::install().map_err(|e| format!("cannot watch signals: {e}"))?;

    let seed = args.seed.unwrap_or_else(rand::random);
    let options = SandboxOptions {
        fault_rate: args.fault_rate,
        seed,
        latency: Duration::from_millis(args.latency_ms),
        chunk_max: args.chunk_max,
        token_lifetime: Duration::from_secs(args.token_lifetime_secs.max(1)),
        rate_limit: args.rate_limit,
        hash_request_bodies: !args.no_body_hash,
        ..SandboxOptions::default()
    };

    let mut sandboxes = Vec::new();
    for service in &selection.services {
        let mut options = options.clone();
        // One subdirectory per service, so two services never share a store directory.
        options.data_dir = args.data_dir.as_ref().map(|d| d.join(service.key()));
        let sandbox = Sandbox::start(*service, options)
            .await
            .map_err(|e| e.to_string())?;
        sandboxes.push(sandbox);
    }

    let local_root = if selection.local {
        Some(prepare_local_root(&args.config_out)?)
    } else {
        None
    };
    let table = config_table(&sandboxes, local_root.as_deref());
    // The secrets go to owner-only files beside the configuration, so commands against it
    // print no warning about secrets written in the file.
    write_config(&args.config_out, &table).map_err(|e| {
        format!(
            "cannot write {} (and its secrets in {}): {e}",
            args.config_out.display(),
            secrets_dir(&args.config_out).display()
        )
    })?;
    if let Some(path) = &args.seed_out {
        let json = serde_json::to_vec_pretty(&manifest(&sandboxes))
            .map_err(|e| format!("cannot render the seed manifest: {e}"))?;
        write_atomic(path, &json).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }

    report(&sandboxes, local_root.as_deref(), &args, seed);
    let signal = signals.wait().await;
    println!("{signal} received, stopping");
    for sandbox in sandboxes {
        sandbox.shutdown().await;
    }
    Ok(())
}

/// The local profile's directory, next to the configuration file so it outlives the sandbox;
/// returned as the relative path written into the file (resolved against the file's directory).
fn prepare_local_root(config_out: &Path) -> Result<String, String> {
    let stem = config_out
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("securesend");
    let name = format!("{stem}-local");
    let dir = match config_out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.join(&name),
        _ => PathBuf::from(&name),
    };
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    Ok(name)
}

fn report(sandboxes: &[Sandbox], local_root: Option<&str>, args: &ServeArgs, seed: u64) {
    println!(
        "securesend-sandbox {}: {} emulated provider(s)",
        env!("CARGO_PKG_VERSION"),
        sandboxes.len()
    );
    for s in sandboxes {
        // These are the sandbox's own throwaway credentials; showing them is the point.
        let creds: Vec<String> = s
            .credentials()
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        println!("  {:<12} {}  {}", s.key(), s.base_url(), creds.join(" "));
    }
    if let Some(root) = local_root {
        println!(
            "  {:<12} (no server) root = {root}, next to the configuration",
            "local"
        );
    }
    if sandboxes.is_empty() && local_root.is_some() {
        println!("  no service modules are compiled into this build; only `local` is configured");
    }
    println!(
        "configuration: {} (secrets in {})",
        args.config_out.display(),
        secrets_dir(&args.config_out).display()
    );
    println!(
        "  use it with: SECURESEND_CONFIG={} (profile names are the provider keys)",
        args.config_out.display()
    );
    if let Some(path) = &args.seed_out {
        println!("seed manifest: {}", path.display());
    }
    if args.fault_rate > 0.0 {
        println!(
            "faults: rate {} with seed {seed} (pass --seed {seed} to replay the same faults)",
            args.fault_rate
        );
    }
    if args.latency_ms > 0 {
        println!("latency: {} ms per request", args.latency_ms);
    }
    println!("ready: stop with Ctrl-C or SIGTERM");
}

struct Signals {
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
}

impl Signals {
    #[cfg(unix)]
    fn install() -> std::io::Result<Signals> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Signals {
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
        })
    }

    #[cfg(not(unix))]
    fn install() -> std::io::Result<Signals> {
        Ok(Signals {})
    }

    #[cfg(unix)]
    async fn wait(&mut self) -> &'static str {
        tokio::select! {
            _ = self.term.recv() => "SIGTERM",
            _ = self.int.recv() => "SIGINT",
        }
    }

    #[cfg(not(unix))]
    async fn wait(&mut self) -> &'static str {
        let _ = tokio::signal::ctrl_c().await;
        "Ctrl-C"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_counts() {
        assert_eq!(parse_bytes("1024"), Ok(1024));
        assert_eq!(parse_bytes("10MiB"), Ok(10 << 20));
        assert_eq!(parse_bytes("2G"), Ok(2 << 30));
        assert!(parse_bytes("0").is_err());
        assert!(parse_bytes("5 parsecs").is_err());
        assert!(parse_bytes("99999999999999G").is_err());
    }

    #[test]
    fn rates_and_limits() {
        assert_eq!(parse_rate("0.25"), Ok(0.25));
        assert!(parse_rate("1.5").is_err());
        assert!(parse_rate("x").is_err());
        assert_eq!(parse_rate_limit("off"), Ok(RateLimitSetting::Off));
        assert_eq!(
            parse_rate_limit("300"),
            Ok(RateLimitSetting::Limit(RateLimit::per_minute(300)))
        );
        assert!(parse_rate_limit("0").is_err());
    }
}
