//! `securesend-queue-soak`: several `securesend worker` processes on one queue, sending through
//! the Kiteworks, EGroupware and Tuyu sandboxes under injected faults, while a random worker is
//! killed with SIGKILL every few seconds and started again.
//!
//! At the end every job must be in a final state (or in doubt), and the sandboxes' records must
//! match the queue: every `sent` job delivered exactly once, every `failed` job zero times, every
//! `in_doubt` job at most once. The last line is the tally; the exit status is 0 only when it
//! holds.
//!
//! The queue is PostgreSQL when `--queue` or `SECURESEND_TEST_POSTGRES` names a server (a fresh
//! database is created for the run and dropped after), else a SQLite file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use clap::Parser;
use securesend::queue::{self, EnqueueOptions, JobState, Stage};
use securesend::{Attachment, Client, SecureMessage};
use securesend_sandbox::egroupware::Egroupware;
use securesend_sandbox::fault::FaultMix;
use securesend_sandbox::kiteworks::KiteworksService;
use securesend_sandbox::tuyu::Tuyu;
use securesend_sandbox::{Sandbox, SandboxOptions, Service, generated};

#[derive(Debug, Parser)]
#[command(
    name = "securesend-queue-soak",
    version,
    about = "Workers on one queue, killed at random, under injected faults: every job ends once"
)]
struct Args {
    /// Jobs to queue, spread over the three services.
    #[arg(long, default_value_t = 300)]
    jobs: usize,
    /// Worker processes.
    #[arg(long, default_value_t = 3)]
    workers: usize,
    /// Jobs each worker runs at once.
    #[arg(long, default_value_t = 4)]
    concurrency: usize,
    /// Probability (0–1) that a request to a service gets a fault.
    #[arg(long, default_value_t = 0.1)]
    fault_rate: f64,
    /// Seed for the faults and the kills.
    #[arg(long, default_value_t = 20_240_607)]
    seed: u64,
    /// Milliseconds between kills.
    #[arg(long, default_value_t = 3000)]
    kill_every_ms: u64,
    /// The queue URL (default: a fresh database on `SECURESEND_TEST_POSTGRES`, else SQLite).
    #[arg(long)]
    queue: Option<String>,
    /// The `securesend` binary (default: beside this one).
    #[arg(long)]
    securesend: Option<PathBuf>,
    /// Seconds before the run is given up.
    #[arg(long, default_value_t = 900)]
    timeout_secs: u64,
}

const SERVICES: [&str; 3] = ["kiteworks", "egroupware", "tuyu"];

fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("securesend-queue-soak: no async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(soak(&args)) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("securesend-queue-soak: {e}");
            ExitCode::from(2)
        }
    }
}

/// A small deterministic generator (SplitMix64): the soak's choices replay with its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

struct Workers {
    bin: PathBuf,
    config: PathBuf,
    queue: String,
    concurrency: usize,
    log_dir: PathBuf,
    running: Vec<Child>,
    started: usize,
}

impl Workers {
    fn spawn(&mut self) -> Result<Child, String> {
        self.started += 1;
        let name = format!("soak-{}", self.started);
        let log = std::fs::File::create(self.log_dir.join(format!("{name}.log")))
            .map_err(|e| format!("worker log: {e}"))?;
        Command::new(&self.bin)
            .arg("--config")
            .arg(&self.config)
            .arg("--queue")
            .arg(&self.queue)
            .args(["--json", "worker", "--name", &name, "--lease", "3s"])
            .args(["--concurrency", &self.concurrency.to_string()])
            .env_remove("SECURESEND_CONFIG")
            .env_remove("SECURESEND_QUEUE")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", self.bin.display()))
    }
}

async fn soak(args: &Args) -> Result<bool, String> {
    let scratch = tempfile::Builder::new()
        .prefix("securesend-queue-soak-")
        .tempdir()
        .map_err(|e| format!("no scratch directory: {e}"))?;
    let dir = scratch.path();
    let bin = match &args.securesend {
        Some(p) => p.clone(),
        None => std::env::current_exe()
            .map_err(|e| format!("cannot find this program: {e}"))?
            .with_file_name("securesend"),
    };
    if !bin.is_file() {
        return Err(format!(
            "{} is missing: build it first (cargo build -p securesend-cli) or pass --securesend",
            bin.display()
        ));
    }

    // The services, each with its own fault stream from the seed.
    let mut sandboxes = Vec::new();
    for (i, key) in SERVICES.iter().enumerate() {
        let service: Box<dyn Service> = match *key {
            "kiteworks" => Box::new(KiteworksService::default()),
            "egroupware" => Box::new(Egroupware::new()),
            _ => Box::new(Tuyu::default()),
        };
        let mut options = SandboxOptions::default()
            .fault_rate(args.fault_rate)
            .seed(args.seed.wrapping_add(i as u64));
        options.fault_mix = FaultMix::default();
        options.hash_request_bodies = false;
        if *key == "kiteworks" {
            options = options.chunk_max(256 * 1024);
        }
        sandboxes.push(
            Sandbox::start(service.as_ref(), options)
                .await
                .map_err(|e| format!("{key}: the sandbox did not start: {e}"))?,
        );
    }

    let (queue_url, dropper) = queue_url(args, dir).await?;
    let mut table = generated::config_table(&sandboxes, None);
    if let Some(kw) = table
        .get_mut("profiles")
        .and_then(|p| p.as_table_mut())
        .and_then(|p| p.get_mut("kiteworks"))
        .and_then(|p| p.as_table_mut())
    {
        kw.insert(
            "state_dir".into(),
            dir.join("state").display().to_string().into(),
        );
    }
    let mut q = toml::Table::new();
    q.insert(
        "blobs".into(),
        dir.join("blobs").display().to_string().into(),
    );
    // Quick retries: the soak is about crashes and faults, not about waiting.
    q.insert("retry_base".into(), "200ms".into());
    q.insert("retry_max".into(), "2s".into());
    table.insert("queue".into(), toml::Value::Table(q));
    let config = dir.join("securesend.toml");
    generated::write_config(&config, &table).map_err(|e| format!("config: {e}"))?;

    let client = Client::discover(Some(&config)).map_err(|e| e.to_string())?;
    let jobs = queue::open(&client, Some(&queue_url))
        .await
        .map_err(|e| format!("the queue does not open: {e}"))?;
    let files = dir.join("files");
    std::fs::create_dir_all(&files).map_err(|e| e.to_string())?;
    let mut rng = Rng(args.seed);
    let mut tags: BTreeMap<String, (String, String)> = BTreeMap::new();
    let providers: Vec<_> = SERVICES
        .iter()
        .map(|k| client.connect(Some(k)).map_err(|e| format!("{k}: {e}")))
        .collect::<Result<_, _>>()?;
    let started = Instant::now();
    for n in 0..args.jobs {
        let i = n % SERVICES.len();
        let tag = format!("q{:05}x{:08x}", n, rng.next() as u32);
        let mut message = SecureMessage::builder()
            .to("ada@example.com")
            .subject(format!("soak {tag}"))
            .text("queued by the soak");
        for f in 0..=rng.below(2) {
            let size = 1 + rng.below(300 * 1024) as usize;
            let byte = rng.next() as u8;
            let path = files.join(format!("{tag}-{f}.bin"));
            std::fs::write(&path, vec![byte; size]).map_err(|e| e.to_string())?;
            message = message.attach(Attachment::from_path(path));
        }
        let message = message.build().map_err(|e| e.to_string())?;
        let options = EnqueueOptions {
            idempotency_key: Some(tag.clone()),
            ..EnqueueOptions::default()
        };
        let id = jobs
            .enqueue(SERVICES[i], &providers[i], message, &options, Stage::Copy)
            .await
            .map_err(|e| format!("enqueue: {e}"))?
            .id();
        tags.insert(id.to_string(), (tag, SERVICES[i].to_owned()));
    }
    let enqueued = started.elapsed();

    let mut workers = Workers {
        bin,
        config: config.clone(),
        queue: queue_url.clone(),
        concurrency: args.concurrency,
        log_dir: dir.to_path_buf(),
        running: Vec::new(),
        started: 0,
    };
    for _ in 0..args.workers.max(1) {
        let child = workers.spawn()?;
        workers.running.push(child);
    }
    let mut kills = 0;
    let deadline = Instant::now() + Duration::from_secs(args.timeout_secs);
    let mut next_kill = Instant::now() + Duration::from_millis(args.kill_every_ms);
    let finished = loop {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let stats = jobs.stats().await.map_err(|e| e.to_string())?;
        let n = |s| stats.counts.get(&s).copied().unwrap_or(0);
        if n(JobState::Queued) == 0 && n(JobState::Running) == 0 {
            break true;
        }
        if Instant::now() > deadline {
            break false;
        }
        if Instant::now() >= next_kill {
            let victim = rng.below(workers.running.len() as u64) as usize;
            let mut child = workers.running.remove(victim);
            let _ = child.kill();
            let _ = child.wait();
            kills += 1;
            let child = workers.spawn()?;
            workers.running.push(child);
            next_kill = Instant::now() + Duration::from_millis(args.kill_every_ms);
        }
    };
    for child in &mut workers.running {
        let _ = nix_term(child);
    }
    for child in &mut workers.running {
        let _ = child.wait();
    }
    let wall = started.elapsed();
    // Requests in flight finish, the rest are cut: the records are final.
    let mut delivered: BTreeMap<String, usize> = BTreeMap::new();
    for sandbox in &sandboxes {
        for mail in sandbox.outbox().messages() {
            if let Some(tag) = mail.subject.strip_prefix("soak ") {
                *delivered.entry(tag.to_owned()).or_default() += 1;
            }
        }
    }
    for sandbox in sandboxes {
        sandbox.shutdown().await;
    }

    let mut t = BTreeMap::<&str, usize>::new();
    let mut problems = Vec::new();
    for job in jobs.list(None).await.map_err(|e| e.to_string())? {
        let Some((tag, profile)) = tags.get(&job.id.to_string()) else {
            continue;
        };
        let d = delivered.get(tag).copied().unwrap_or(0);
        *t.entry(job.state.as_str()).or_default() += 1;
        if d > 1 {
            *t.entry("duplicates").or_default() += d - 1;
            problems.push(format!("{profile} job {} delivered {d} times", job.id));
        }
        match job.state {
            JobState::Sent if d == 0 => {
                *t.entry("lost").or_default() += 1;
                problems.push(format!("{profile} job {} sent but not delivered", job.id));
            }
            JobState::Failed if d > 0 => {
                *t.entry("failed_but_delivered").or_default() += 1;
                problems.push(format!(
                    "{profile} job {} failed ({}) but delivered",
                    job.id,
                    job.error_message.as_deref().unwrap_or("")
                ));
            }
            JobState::Queued | JobState::Running => {
                *t.entry("unfinished").or_default() += 1;
            }
            _ => {}
        }
    }
    if let Some(drop_db) = dropper {
        drop(jobs);
        drop_db.await;
    }
    let get = |k: &str| t.get(k).copied().unwrap_or(0);
    for p in problems.iter().take(20) {
        println!("  {p}");
    }
    let ok = finished
        && get("duplicates") == 0
        && get("lost") == 0
        && get("failed_but_delivered") == 0
        && get("unfinished") == 0;
    println!(
        "queue soak: jobs={} workers={} kills={} sent={} failed={} in_doubt={} delivered={} duplicates={} lost={} failed_but_delivered={} unfinished={} enqueue={:.1}s wall={:.1}s {}",
        args.jobs,
        args.workers,
        kills,
        get("sent"),
        get("failed"),
        get("in_doubt"),
        delivered.values().sum::<usize>(),
        get("duplicates"),
        get("lost"),
        get("failed_but_delivered"),
        get("unfinished"),
        enqueued.as_secs_f64(),
        wall.as_secs_f64(),
        if ok { "PASS" } else { "FAIL" }
    );
    Ok(ok)
}

/// SIGTERM, so a worker still running at the end shuts down cleanly.
fn nix_term(child: &Child) -> std::io::Result<()> {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()?;
    if status.success() {
        Ok(())
    } else {
        Err(std::io::Error::other("kill failed"))
    }
}

type Dropper = std::pin::Pin<Box<dyn std::future::Future<Output = ()>>>;

/// The queue for the run, and how to remove it after.
async fn queue_url(args: &Args, dir: &Path) -> Result<(String, Option<Dropper>), String> {
    if let Some(url) = &args.queue {
        return Ok((url.clone(), None));
    }
    let Some(server) = std::env::var("SECURESEND_TEST_POSTGRES")
        .ok()
        .filter(|s| !s.is_empty())
    else {
        return Ok((format!("sqlite://{}", dir.join("queue.db").display()), None));
    };
    let name = format!("soak_{}_{}", std::process::id(), args.seed);
    let shown = queue::redact_url(&server);
    let admin = sqlx::postgres::PgPool::connect(&server)
        .await
        .map_err(|e| format!("PostgreSQL at {shown}: {e}"))?;
    // The name is made of digits and `soak_` only.
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&admin)
        .await
        .map_err(|e| format!("creating database {name} at {shown}: {e}"))?;
    let url = with_database(&server, &name);
    let drop_db: Dropper = Box::pin(async move {
        let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
        )))
        .execute(&admin)
        .await;
        admin.close().await;
    });
    Ok((url, Some(drop_db)))
}

fn with_database(server: &str, name: &str) -> String {
    let (base, query) = server
        .split_once('?')
        .map_or((server, None), |(b, q)| (b, Some(q)));
    let after_scheme = base.find("://").map_or(0, |i| i + 3);
    let base = match base[after_scheme..].find('/') {
        Some(i) => &base[..after_scheme + i],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}
