//! The measurements, in the order the table lists them.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::{Value, json};

use securesend::config::ProfileConfig;
use securesend::{Attachment, SecureMessage};
use securesend_sandbox::egroupware::Egroupware;
use securesend_sandbox::kiteworks::{KiteworksOptions, KiteworksService};
use securesend_sandbox::{RateLimitSetting, Sandbox, SandboxOptions};

use crate::Args;
use crate::measure::{self, Run, mib_s, percentile};
use crate::report::{Report, Row, round};

type Res<T> = Result<T, String>;

const USER: &str = "bench.user@example.com";

fn err(what: &str) -> impl FnOnce(String) -> String + '_ {
    move |e| format!("{what}: {e}")
}

fn ioe<E: std::fmt::Display>(what: &str) -> impl FnOnce(E) -> String + '_ {
    move |e| format!("{what}: {e}")
}

/// Runs every selected section and prints the report.
pub async fn run(args: &Args) -> Res<()> {
    // The load generator's reqwest client needs a TLS provider even for plain http.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cli = cli_path(args)?;
    for tool in ["curl", "openssl"] {
        which(tool).ok_or_else(|| {
            format!(
                "`{tool}` is not on PATH; the benchmark compares with it (apt-get install {tool})"
            )
        })?;
    }
    let mut report = Report::default();
    machine(&mut report, args);
    let base = match &args.work_dir {
        Some(d) => d.clone(),
        None => default_work_root()?,
    };
    std::fs::create_dir_all(&base).map_err(ioe("creating the work directory"))?;
    let work = tempfile::Builder::new()
        .prefix("securesend-bench-")
        .tempdir_in(&base)
        .map_err(ioe("creating the work directory"))?;
    eprintln!("work directory: {}", work.path().display());
    let result = run_in(args, &cli, work.path(), &mut report).await;
    report.print();
    result
}

async fn run_in(args: &Args, cli: &Path, work: &Path, report: &mut Report) -> Res<()> {
    let size = args.size();
    let small = args.small();
    let needs_files =
        args.wants("upload") || args.wants("memory") || args.wants("download") || args.wants("cpu");
    let big = work.join("big.bin");
    let mid = work.join("small.bin");
    if needs_files {
        eprintln!(
            "writing {} MiB and {} MiB test files…",
            size >> 20,
            small >> 20
        );
        measure::make_file(&big, size, 0x9e37_79b9_7f4a_7c15)
            .map_err(ioe("writing the big file"))?;
        measure::make_file(&mid, small, 0x2545_f491_4f6c_dd1d)
            .map_err(ioe("writing the small file"))?;
        let kw = KwBench::start(work, size).await?;
        let res = big_file_sections(args, cli, work, report, &kw, &big, &mid).await;
        kw.sandbox.shutdown().await;
        let _ = std::fs::remove_file(&big);
        let _ = std::fs::remove_file(&mid);
        res?;
    }
    if args.wants("sends") {
        measure::quiet_disk().await?;
        sends(args, work, report).await?;
    }
    if args.wants("latency") {
        measure::quiet_disk().await?;
        latency(args, work, report).await?;
    }
    Ok(())
}

/// A Kiteworks sandbox for the big-file sections, with a ready CLI configuration.
struct KwBench {
    sandbox: Sandbox,
    config: PathBuf,
    token: String,
    folder: String,
    http: reqwest::Client,
    big_size: u64,
}

impl KwBench {
    async fn start(work: &Path, size: u64) -> Res<KwBench> {
        let options = KiteworksOptions {
            user_email: USER.into(),
            // Fingerprints at once: how fast a real service computes them is not the client's
            // work, and a delay would only add the client's polling interval to every upload.
            fingerprint_delay: Duration::ZERO,
            ..KiteworksOptions::default()
        };
        let data = work.join("sandbox-data");
        std::fs::create_dir_all(&data).map_err(ioe("sandbox data directory"))?;
        let sandbox = Sandbox::start(
            &KiteworksService::new(options),
            SandboxOptions {
                // Room for curl's single chunk; the CLI keeps its own default chunk size.
                chunk_max: Some(size.max(8 << 20)),
                // The journal's own hashing is test machinery, not part of the service.
                hash_request_bodies: false,
                rate_limit: RateLimitSetting::Off,
                data_dir: Some(data),
                ..SandboxOptions::default()
            },
        )
        .await
        .map_err(ioe("starting the Kiteworks sandbox"))?;
        let mut profile = sandbox.profile().clone();
        profile.insert(
            "state_dir".into(),
            work.join("state").display().to_string().into(),
        );
        let mut fast = profile.clone();
        fast.insert("verify".into(), false.into());
        let mut profiles = toml::Table::new();
        profiles.insert("kw".into(), toml::Value::Table(profile));
        profiles.insert("kw_noverify".into(), toml::Value::Table(fast));
        let mut table = toml::Table::new();
        table.insert("default".into(), "kw".into());
        table.insert("profiles".into(), toml::Value::Table(profiles));
        let config = work.join("securesend.toml");
        std::fs::write(
            &config,
            toml::to_string(&table).map_err(ioe("writing the configuration"))?,
        )
        .map_err(ioe("writing the configuration"))?;
        let token = sandbox.tokens().issue("access", USER).value;
        let http = reqwest::Client::new();
        let mut kw = KwBench {
            sandbox,
            config,
            token,
            folder: String::new(),
            http,
            big_size: size,
        };
        let me = kw.get_json("rest/users/me").await?;
        kw.folder = me["mydirId"]
            .as_str()
            .ok_or("the sandbox named no mydirId")?
            .to_owned();
        Ok(kw)
    }

    fn url(&self, path: &str) -> String {
        format!("{}/{path}", self.sandbox.base_url())
    }

    async fn get_json(&self, path: &str) -> Res<Value> {
        let r = self
            .http
            .get(self.url(path))
            .bearer_auth(&self.token)
            .header("X-Accellion-Version", "28")
            .send()
            .await
            .map_err(ioe(path))?;
        r.json().await.map_err(ioe(path))
    }

    /// curl's headers, in a file so the token is not on a command line.
    fn header_file(&self, work: &Path) -> Res<PathBuf> {
        let path = work.join("curl-headers.txt");
        std::fs::write(
            &path,
            format!(
                "Authorization: Bearer {}\nX-Accellion-Version: 28\nExpect:\n",
                self.token
            ),
        )
        .map_err(ioe("writing curl's headers"))?;
        Ok(path)
    }

    /// The CLI uploads `file` (a new version each time, so names never clash).
    async fn cli_upload(
        &self,
        cli: &Path,
        work: &Path,
        file: &Path,
        verify: bool,
    ) -> Res<(Run, String)> {
        let config = self.config.display().to_string();
        let path = file.display().to_string();
        let profile = if verify { "kw" } else { "kw_noverify" };
        let run = measure::run(
            cli,
            &[
                "--config",
                &config,
                "--profile",
                profile,
                "--json",
                "--quiet",
                "upload",
                "--overwrite",
                &path,
            ],
            work,
        )
        .await?;
        let id = first_file_id(&run.stdout).ok_or("the CLI's upload output named no file id")?;
        self.prune(self.big_size);
        Ok((run, id))
    }

    /// The CLI downloads file `id` into `dir`, which is emptied afterwards so every run writes
    /// a new file.
    async fn cli_download(
        &self,
        cli: &Path,
        work: &Path,
        dir: &Path,
        id: &str,
        verify: bool,
    ) -> Res<Run> {
        let config = self.config.display().to_string();
        let out = dir.display().to_string();
        let profile = if verify { "kw" } else { "kw_noverify" };
        let run = measure::run(
            cli,
            &[
                "--config",
                &config,
                "--profile",
                profile,
                "--json",
                "--quiet",
                "download",
                "--overwrite",
                "-o",
                &out,
                id,
            ],
            work,
        )
        .await?;
        for entry in std::fs::read_dir(dir)
            .map_err(ioe("download directory"))?
            .flatten()
        {
            let _ = std::fs::remove_file(entry.path());
        }
        Ok(run)
    }

    /// curl posts `file` as the one chunk of a session the bench opens.
    async fn curl_upload(&self, work: &Path, file: &Path, n: usize) -> Res<(Run, String)> {
        let size = std::fs::metadata(file).map_err(ioe("test file"))?.len();
        let name = format!("curl-{n}.bin");
        let session: Value = self
            .http
            .post(self.url(&format!(
                "rest/folders/{}/actions/initiateUpload",
                self.folder
            )))
            .bearer_auth(&self.token)
            .header("X-Accellion-Version", "28")
            .json(&json!({ "filename": name, "totalSize": size, "totalChunks": 1 }))
            .send()
            .await
            .map_err(ioe("initiateUpload"))?
            .json()
            .await
            .map_err(ioe("initiateUpload"))?;
        let url = session["uploadUrl"]
            .as_str()
            .ok_or("initiateUpload answered no uploadUrl")?;
        let headers = self.header_file(work)?;
        let size_s = size.to_string();
        let run = measure::run(
            Path::new("curl"),
            &[
                "-sS",
                "--fail-with-body",
                "-H",
                &format!("@{}", headers.display()),
                "-F",
                "compressionMode=NORMAL",
                "-F",
                &format!("compressionSize={size_s}"),
                "-F",
                &format!("originalSize={size_s}"),
                "-F",
                "index=1",
                "-F",
                &format!("content=@{};filename={name}", file.display()),
                &format!("{url}?returnEntity=true"),
            ],
            work,
        )
        .await?;
        let entity: Value =
            serde_json::from_str(&run.stdout).map_err(ioe("curl's upload answer"))?;
        let id = entity["id"]
            .as_str()
            .ok_or("curl's upload answer named no file id")?
            .to_owned();
        self.prune(self.big_size);
        Ok((run, id))
    }

    /// Keeps the disk use at one copy of the big file (the newest, which the download
    /// section fetches) and at most one of anything else large.
    fn prune(&self, big_size: u64) {
        let store = self.sandbox.store();
        let mut big: Vec<_> = store
            .list()
            .into_iter()
            .filter(|f| f.size >= 1 << 20)
            .collect();
        let keep_big = big.iter().rposition(|f| f.size == big_size);
        let keep_other = big.iter().rposition(|f| f.size != big_size);
        let mut index = 0;
        big.retain(|_| {
            let drop = Some(index) != keep_big && Some(index) != keep_other;
            index += 1;
            drop
        });
        for f in big {
            let id = f.id.clone();
            let store = store.clone();
            // Removal is async; waiting for it is not worth a runtime hop here.
            tokio::spawn(async move { store.remove(&id).await });
        }
    }
}

fn first_file_id(stdout: &str) -> Option<String> {
    let doc: Value = serde_json::from_str(stdout.trim()).ok()?;
    fn find(v: &Value) -> Option<String> {
        match v {
            Value::Object(m) => {
                if let Some(Value::Array(files)) = m.get("files") {
                    return files.first()?.get("id")?.as_str().map(str::to_owned);
                }
                m.values().find_map(find)
            }
            _ => None,
        }
    }
    find(&doc)
}

fn best(runs: &[Run]) -> Run {
    runs.iter()
        .min_by_key(|r| r.wall)
        .cloned()
        .expect("at least one run")
}

#[allow(clippy::too_many_arguments)]
async fn big_file_sections(
    args: &Args,
    cli: &Path,
    work: &Path,
    report: &mut Report,
    kw: &KwBench,
    big: &Path,
    mid: &Path,
) -> Res<()> {
    let size = args.size();
    let gib = size as f64 / (1u64 << 30) as f64;
    let reps = args.repeat.max(1);
    let sz = format!("{} MiB", size >> 20);

    // Uploads. curl first warms the page cache and the sandbox for everyone.
    let mut curl_runs = Vec::new();
    let mut cli_runs = Vec::new();
    let mut fast_runs = Vec::new();
    let mut last_id = String::new();
    for i in 0..reps {
        eprintln!("upload {sz}: curl, run {}", i + 1);
        let (r, _) = kw
            .curl_upload(work, big, i)
            .await
            .map_err(err("curl upload"))?;
        curl_runs.push(r);
        eprintln!("upload {sz}: securesend, integrity on, run {}", i + 1);
        let (r, _) = kw
            .cli_upload(cli, work, big, true)
            .await
            .map_err(err("CLI upload"))?;
        cli_runs.push(r);
        eprintln!("upload {sz}: securesend, integrity off, run {}", i + 1);
        let (r, id) = kw
            .cli_upload(cli, work, big, false)
            .await
            .map_err(err("CLI upload (verify = false)"))?;
        fast_runs.push(r);
        last_id = id;
    }
    let curl = best(&curl_runs);
    let cli_on = best(&cli_runs);
    let cli_off = best(&fast_runs);
    let curl_rate = mib_s(size, curl.wall);
    let on_rate = mib_s(size, cli_on.wall);
    let off_rate = mib_s(size, cli_off.wall);
    report.figure("upload_bytes", size);
    report.figure("upload_curl_mib_s", round(curl_rate, 1));
    report.figure("upload_cli_mib_s", round(on_rate, 1));
    report.figure("upload_cli_noverify_mib_s", round(off_rate, 1));
    report.figure("upload_curl_s", round(curl.wall.as_secs_f64(), 3));
    report.figure("upload_cli_s", round(cli_on.wall.as_secs_f64(), 3));
    report.figure(
        "upload_cli_noverify_s",
        round(cli_off.wall.as_secs_f64(), 3),
    );

    // Digests alone (needed for the upload limit): the CLI's own code and openssl.
    let ours = own_digests(big).await?;
    let mut openssl = Vec::new();
    for (algo, flag) in [
        ("sha256", "-sha256"),
        ("sha3_256", "-sha3-256"),
        ("md5", "-md5"),
    ] {
        let path = big.display().to_string();
        let r = measure::run(Path::new("openssl"), &["dgst", flag, &path], work)
            .await
            .map_err(err("openssl dgst"))?;
        openssl.push((algo, r));
    }
    let openssl_cpu: f64 = openssl.iter().map(|(_, r)| r.cpu_s).sum();
    let ours_cpu: f64 = ours.iter().map(|(_, s)| s).sum();
    for (algo, r) in &openssl {
        report.figure(
            &format!("digest_openssl_{algo}_cpu_s_per_gib"),
            round(r.cpu_s / gib, 3),
        );
    }
    for (algo, s) in &ours {
        report.figure(&format!("digest_ours_{algo}_s_per_gib"), round(s / gib, 3));
    }
    // The client's required digest work, timed alone: its own three digests one after the
    // other on one core (what the CLI computes while uploading with integrity on).
    let digest_rate = (size >> 20) as f64 / ours_cpu.max(1e-9);
    let limit = curl_rate.min(digest_rate);
    report.figure("upload_digest_limit_mib_s", round(digest_rate, 1));
    report.figure("upload_limit_mib_s", round(limit, 1));

    // Client and sandbox share this machine's cores: with integrity on, both compute three
    // digests of every byte, and together they cannot go faster than the cores allow. With
    // integrity off the client no longer hashes, but the sandbox still does.
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    let cpu_bound =
        |run: &Run| (size >> 20) as f64 / ((run.cpu_s + run.server_cpu_s) / cpus).max(1e-9);
    let cpu_rate = cpu_bound(&cli_on);
    let off_cpu_rate = cpu_bound(&cli_off);
    for (key, seconds) in [
        ("upload_cli_sandbox_cpu_s_per_gib", cli_on.server_cpu_s),
        ("upload_curl_sandbox_cpu_s_per_gib", curl.server_cpu_s),
        ("upload_cli_noverify_cpu_s_per_gib", cli_off.cpu_s),
        (
            "upload_noverify_sandbox_cpu_s_per_gib",
            cli_off.server_cpu_s,
        ),
        ("upload_curl_cpu_s_per_gib", curl.cpu_s),
    ] {
        report.figure(key, round(seconds / gib, 3));
    }
    report.figure("upload_cpu_bound_mib_s", round(cpu_rate, 1));
    report.figure("upload_noverify_cpu_bound_mib_s", round(off_cpu_rate, 1));
    report.figure("a1_bound_ratio", round(on_rate / limit.min(cpu_rate), 3));

    if args.wants("upload") {
        report.note(format!(
            "upload with integrity on: the CLI used {:.2} and the in-process sandbox {:.2} CPU-s/GiB (curl's upload cost the sandbox {:.2}); on {cpus} cores that allows at most {cpu_rate:.0} MiB/s, so a1 is {:.2} × min(limit, that)",
            cli_on.cpu_s / gib,
            cli_on.server_cpu_s / gib,
            curl.server_cpu_s / gib,
            on_rate / limit.min(cpu_rate)
        ));
        report.note(format!(
            "upload with integrity off: the CLI used {:.2} and the sandbox {:.2} CPU-s/GiB (curl itself {:.2}, the sandbox {:.2} for it); on {cpus} cores that allows at most {off_cpu_rate:.0} MiB/s",
            cli_off.cpu_s / gib,
            cli_off.server_cpu_s / gib,
            curl.cpu_s / gib,
            curl.server_cpu_s / gib,
        ));
        report.row(
            Row {
                id: "a1",
                what: format!("upload {sz}, integrity on (MiB/s)"),
                securesend: format!("{on_rate:.0}"),
                reference: format!(
                    "limit {limit:.0} = min(curl {curl_rate:.0}, digests alone {digest_rate:.0})"
                ),
                ..Row::default()
            }
            .at_least(on_rate / limit, 0.8),
        );
        report.row(
            Row {
                id: "a2",
                what: format!("upload {sz}, integrity off (MiB/s)"),
                securesend: format!("{off_rate:.0}"),
                reference: format!("curl {curl_rate:.0}"),
                ..Row::default()
            }
            .at_least(off_rate / curl_rate, 0.9),
        );
    }

    if args.wants("memory") {
        eprintln!("memory: securesend upload of {} MiB", args.small() >> 20);
        let (small_run, _) = kw
            .cli_upload(cli, work, mid, true)
            .await
            .map_err(err("CLI upload (small)"))?;
        let small_mib = small_run.maxrss_kib as f64 / 1024.0;
        let big_mib = cli_on.maxrss_kib as f64 / 1024.0;
        report.figure("rss_small_file_bytes", args.small());
        report.figure("rss_small_mib", round(small_mib, 1));
        report.figure("rss_big_mib", round(big_mib, 1));
        report.figure(
            "rss_big_noverify_mib",
            round(cli_off.maxrss_kib as f64 / 1024.0, 1),
        );
        report.figure("rss_curl_mib", round(curl.maxrss_kib as f64 / 1024.0, 1));
        // Flat: the big file may cost at most 4 MiB (allocator noise) more than the small one.
        let flat = big_mib <= small_mib + 4.0;
        report.row(Row {
            id: "b",
            what: format!(
                "peak RSS of the CLI uploading {} MiB / {sz} (MiB)",
                args.small() >> 20
            ),
            securesend: format!("{small_mib:.1} / {big_mib:.1}"),
            reference: format!("curl {:.1}", curl.maxrss_kib as f64 / 1024.0),
            ratio: Some(big_mib / small_mib.max(1e-9)),
            target: "≤ 64 MiB and flat".into(),
            met: Some(big_mib <= 64.0 && small_mib <= 64.0 && flat),
        });
    }

    if args.wants("download") {
        let dl = work.join("downloads");
        std::fs::create_dir_all(&dl).map_err(ioe("download directory"))?;
        let headers = kw.header_file(work)?;
        let mut curl_dl = Vec::new();
        let mut curl_sync = Vec::new();
        let mut cli_dl = Vec::new();
        let mut fast_dl = Vec::new();
        for i in 0..reps {
            eprintln!("download {sz}: curl, run {}", i + 1);
            let out = dl.join("curl.bin");
            let r = measure::run(
                Path::new("curl"),
                &[
                    "-sS",
                    "--fail",
                    "-H",
                    &format!("@{}", headers.display()),
                    "-o",
                    &out.display().to_string(),
                    &kw.url(&format!("rest/files/{last_id}/content")),
                ],
                work,
            )
            .await
            .map_err(err("curl download"))?;
            let got = std::fs::metadata(&out).map(|m| m.len()).unwrap_or(0);
            if got != size {
                return Err(format!("curl downloaded {got} bytes, expected {size}"));
            }
            // What curl leaves in the page cache, made durable as securesend's save is: the
            // disk's share of a durable download, measured apart.
            let synced = Instant::now();
            std::fs::File::open(&out)
                .and_then(|f| f.sync_all())
                .map_err(ioe("fsync of curl's download"))?;
            curl_sync.push(synced.elapsed());
            let _ = std::fs::remove_file(&out);
            curl_dl.push(r);
            eprintln!("download {sz}: securesend, run {}", i + 1);
            cli_dl.push(
                kw.cli_download(cli, work, &dl, &last_id, true)
                    .await
                    .map_err(err("CLI download"))?,
            );
            eprintln!("download {sz}: securesend, integrity off, run {}", i + 1);
            fast_dl.push(
                kw.cli_download(cli, work, &dl, &last_id, false)
                    .await
                    .map_err(err("CLI download (verify = false)"))?,
            );
        }
        let c = best(&curl_dl);
        let s = best(&cli_dl);
        let f = best(&fast_dl);
        let (cr, sr, fr) = (
            mib_s(size, c.wall),
            mib_s(size, s.wall),
            mib_s(size, f.wall),
        );
        // The durable reference: curl's best run plus the shortest fsync of its file.
        let sync = curl_sync.iter().min().copied().unwrap_or_default();
        let durable = mib_s(size, c.wall + sync);
        // A verified Kiteworks download computes SHA-256 and SHA3-256 (MD5 is skipped when
        // SHA3-256 is known), each on a thread of its own: the slower one, alone on one core,
        // caps it.
        let slowest = ours
            .iter()
            .filter(|(a, _)| matches!(*a, "sha256" | "sha3_256"))
            .map(|(_, s)| *s)
            .fold(0.0, f64::max);
        let digest_limit = (size >> 20) as f64 / slowest.max(1e-9);
        let bound = cr.min(digest_limit);
        report.figure("download_curl_fsync_s", round(sync.as_secs_f64(), 3));
        report.figure("download_curl_durable_mib_s", round(durable, 1));
        report.figure("download_digest_limit_mib_s", round(digest_limit, 1));
        report.figure("c_bound_ratio", round(sr / bound, 3));
        report.figure("c2_durable_ratio", round(fr / durable, 3));
        // How much of the machine the verified download and the sandbox serving it used: near
        // all of it means the cores, not waiting, set the pace.
        let busy = (s.cpu_s + s.server_cpu_s) / s.wall.as_secs_f64().max(1e-9);
        report.figure(
            "download_cli_sandbox_cpu_s_per_gib",
            round(s.server_cpu_s / gib, 3),
        );
        report.figure("c_cores_busy", round(busy, 2));
        report.note(format!(
            "download bounds: a verified download needs SHA-256 and SHA3-256, each on its own thread; the slower alone on one core runs at {digest_limit:.0} MiB/s, so c is {:.2} × min(curl, that); the CLI and the in-process sandbox kept {busy:.2} of {cpus} cores busy during it. curl's file took {:.2} s more to fsync (securesend's save fsyncs before the rename): curl + fsync is {durable:.0} MiB/s, and c2 is {:.2} × that",
            sr / bound,
            sync.as_secs_f64(),
            fr / durable
        ));
        report.figure("download_curl_mib_s", round(cr, 1));
        report.figure("download_cli_mib_s", round(sr, 1));
        report.figure("download_cli_noverify_mib_s", round(fr, 1));
        report.figure("download_cli_cpu_s_per_gib", round(s.cpu_s / gib, 3));
        report.figure(
            "download_cli_noverify_cpu_s_per_gib",
            round(f.cpu_s / gib, 3),
        );
        report.figure("download_curl_cpu_s_per_gib", round(c.cpu_s / gib, 3));
        report.figure("rss_download_mib", round(s.maxrss_kib as f64 / 1024.0, 1));
        report.row(
            Row {
                id: "c",
                what: format!("download {sz}, integrity on (MiB/s)"),
                securesend: format!("{sr:.0}"),
                reference: format!("curl {cr:.0} (SHA3-256 alone {digest_limit:.0})"),
                ..Row::default()
            }
            .at_least(sr / cr, 0.9),
        );
        report.row(
            Row {
                id: "c2",
                what: format!("download {sz}, integrity off (MiB/s)"),
                securesend: format!("{fr:.0}"),
                reference: format!("curl {cr:.0} (curl + fsync {durable:.0})"),
                ..Row::default()
            }
            .at_least(fr / cr, 0.9),
        );
    }

    if args.wants("cpu") {
        let cli_cpu = cli_on.cpu_s / gib;
        let curl_cpu = curl.cpu_s / gib;
        let dig = openssl_cpu / gib;
        report.figure("upload_cli_cpu_s_per_gib", round(cli_cpu, 3));
        report.figure("digests_openssl_cpu_s_per_gib", round(dig, 3));
        report.figure("digests_ours_s_per_gib", round(ours_cpu / gib, 3));
        let budget = curl_cpu + dig;
        report.row(
            Row {
                id: "d",
                what: "CPU per GiB uploaded, integrity on (s)".into(),
                securesend: format!("{cli_cpu:.2}"),
                reference: format!(
                    "curl {curl_cpu:.2} + digests {dig:.2} (openssl {})",
                    openssl
                        .iter()
                        .map(|(a, r)| format!("{a} {:.2}", r.cpu_s / gib))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                ..Row::default()
            }
            .at_most(cli_cpu / budget, 1.5),
        );
        report.note(format!(
            "digests in securesend's own code, each alone, CPU s/GiB: {} (sum {:.2}); the upload limit's digest rate is the file size over that sum",
            ours.iter()
                .map(|(a, s)| format!("{a} {:.2}", s / gib))
                .collect::<Vec<_>>()
                .join(", "),
            ours_cpu / gib
        ));
    }
    Ok(())
}

/// Times each digest the CLI computes (SHA-256, SHA3-256, MD5), alone, with securesend's
/// own hasher over the file (1 MiB reads, from the page cache).
async fn own_digests(path: &Path) -> Res<Vec<(&'static str, f64)>> {
    use securesend::checksum::{DigestSet, Hasher};
    let path = path.to_owned();
    tokio::task::spawn_blocking(move || {
        use std::io::Read;
        let sets = [
            ("sha256", DigestSet::SHA256),
            (
                "sha3_256",
                DigestSet {
                    sha256: false,
                    md5: false,
                    sha3_256: true,
                },
            ),
            (
                "md5",
                DigestSet {
                    sha256: false,
                    md5: true,
                    sha3_256: false,
                },
            ),
        ];
        let mut out = Vec::new();
        let mut buf = vec![0u8; 1 << 20];
        for (name, set) in sets {
            let mut f = std::fs::File::open(&path).map_err(ioe("test file"))?;
            let mut h = Hasher::new(set);
            // CPU time of this thread, not wall time: comparable with openssl's rusage, and
            // not inflated when other processes share the cores.
            let started = thread_cpu();
            loop {
                let n = f.read(&mut buf).map_err(ioe("test file"))?;
                if n == 0 {
                    break;
                }
                h.update(&buf[..n]);
            }
            let _ = h.finish();
            out.push((name, thread_cpu() - started));
        }
        Ok(out)
    })
    .await
    .map_err(ioe("digest task"))?
}

/// User + system CPU seconds of the calling thread so far.
fn thread_cpu() -> f64 {
    measure::cpu_seconds(nix::sys::resource::UsageWho::RUSAGE_THREAD)
}

/// (e) Many small EGroupware sends through one provider handle vs a bare HTTP loop.
async fn sends(args: &Args, work: &Path, report: &mut Report) -> Res<()> {
    let n = args.sends();
    let k = args.in_flight.max(1);
    let sandbox = Sandbox::start(
        &Egroupware::new(),
        SandboxOptions {
            hash_request_bodies: false,
            rate_limit: RateLimitSetting::Off,
            ..SandboxOptions::default()
        },
    )
    .await
    .map_err(ioe("starting the EGroupware sandbox"))?;
    let mut fields = sandbox.profile().clone();
    fields.remove("provider");
    let provider = Arc::new(
        securesend::connect(&ProfileConfig::new("bench", "egroupware", fields, work))
            .map_err(ioe("connecting to the EGroupware sandbox"))?,
    );
    let message = || {
        SecureMessage::builder()
            .to("ada@example.com")
            .subject("Benchmark")
            .text("Hello from the benchmark.\n")
            .build()
            .map_err(ioe("building the message"))
    };
    // Warm-up: the identity lookup and the connection happen once per handle.
    provider
        .send(message()?)
        .await
        .map_err(ioe("warm-up send"))?;
    let warm = sandbox.journal().len();
    eprintln!("{n} EGroupware sends through the library, {k} in flight");
    let started = Instant::now();
    let mut lat: Vec<Duration> = futures::stream::iter(0..n)
        .map(|_| {
            let provider = provider.clone();
            async move {
                let msg = message()?;
                let t = Instant::now();
                provider.send(msg).await.map_err(ioe("send"))?;
                Ok::<_, String>(t.elapsed())
            }
        })
        .buffer_unordered(k)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Res<_>>()?;
    let lib_wall = started.elapsed();
    let entries = sandbox.journal().snapshot();
    let sent: Vec<_> = entries.iter().skip(warm).collect();
    let per_send = sent.len() as f64 / n as f64;
    let Some(sample) = sent.iter().find(|e| e.method == "POST") else {
        return Err("the library's sends left no POST in the journal".into());
    };
    let url = format!("{}{}", sandbox.base_url(), sample.path);
    let body = json!({ "to": ["ada@example.com"], "subject": "Benchmark", "body": "Hello from the benchmark.\n" })
        .to_string();
    if let Some(b) = &sample.body {
        if b.bytes != body.len() as u64 {
            report.note(format!(
                "the load generator's body has {} bytes, the library's {}: compare with care",
                body.len(),
                b.bytes
            ));
        }
    }
    let creds = sandbox.credentials();
    let user = creds
        .get("username")
        .ok_or("the EGroupware sandbox gave no username")?
        .to_owned();
    let pass = creds
        .get("password")
        .ok_or("the EGroupware sandbox gave no password")?
        .to_owned();
    lat.sort();
    eprintln!("{n} identical POSTs from the load generator, {k} in flight");
    let client = reqwest::Client::new();
    let started = Instant::now();
    let mut gen_lat: Vec<Duration> = futures::stream::iter(0..n)
        .map(|_| {
            let (client, url, body, user, pass) = (
                client.clone(),
                url.clone(),
                body.clone(),
                user.clone(),
                pass.clone(),
            );
            async move {
                let t = Instant::now();
                let r = client
                    .post(url)
                    .basic_auth(user, Some(pass))
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await
                    .map_err(ioe("load generator"))?;
                let status = r.status();
                let _ = r.bytes().await;
                if !status.is_success() {
                    return Err(format!("the load generator's POST was answered {status}"));
                }
                Ok::<_, String>(t.elapsed())
            }
        })
        .buffer_unordered(k)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Res<_>>()?;
    let gen_wall = started.elapsed();
    gen_lat.sort();
    sandbox.shutdown().await;
    let lib_rate = n as f64 / lib_wall.as_secs_f64();
    let gen_rate = n as f64 / gen_wall.as_secs_f64();
    let ms = |d: Duration| round(d.as_secs_f64() * 1000.0, 2);
    report.figure("sends", n);
    report.figure("sends_in_flight", k);
    report.figure("sends_requests_per_send", round(per_send, 2));
    report.figure("sends_lib_per_s", round(lib_rate, 1));
    report.figure("sends_gen_per_s", round(gen_rate, 1));
    report.figure("sends_lib_p50_ms", ms(percentile(&lat, 50.0)));
    report.figure("sends_lib_p99_ms", ms(percentile(&lat, 99.0)));
    report.figure("sends_gen_p50_ms", ms(percentile(&gen_lat, 50.0)));
    report.figure("sends_gen_p99_ms", ms(percentile(&gen_lat, 99.0)));
    report.row(
        Row {
            id: "e",
            what: format!("{n} EGroupware sends, {k} in flight (sends/s; p50/p99 ms)"),
            securesend: format!(
                "{lib_rate:.0}; {}/{}",
                ms(percentile(&lat, 50.0)),
                ms(percentile(&lat, 99.0))
            ),
            reference: format!(
                "load generator {gen_rate:.0}; {}/{}",
                ms(percentile(&gen_lat, 50.0)),
                ms(percentile(&gen_lat, 99.0))
            ),
            ..Row::default()
        }
        .at_least(lib_rate / gen_rate, 0.5),
    );
    report.note(format!(
        "sends: the library made {per_send:.2} requests per send after its warm-up send; the load generator posts the same JSON to {}",
        sample.path
    ));
    Ok(())
}

/// Sends timed per handle state in (f); the median is reported.
const LATENCY_ROUNDS: usize = 9;

/// (f) A Kiteworks send with 3 attachments under per-request latency vs the round-trip floor.
async fn latency(args: &Args, work: &Path, report: &mut Report) -> Res<()> {
    let rtt = Duration::from_millis(args.latency_ms);
    // The sandbox stands for a remote service: it gets a runtime of its own, so its work
    // never waits behind the client's tasks on the same worker threads (nor the reverse).
    let server_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("sandbox")
        .enable_all()
        .build()
        .map_err(ioe("starting the sandbox's runtime"))?;
    let sandbox = server_rt
        .spawn(async move {
            Sandbox::start(
                &KiteworksService::new(KiteworksOptions {
                    fingerprint_delay: Duration::ZERO,
                    ..KiteworksOptions::default()
                }),
                SandboxOptions {
                    latency: rtt,
                    hash_request_bodies: false,
                    rate_limit: RateLimitSetting::Off,
                    ..SandboxOptions::default()
                },
            )
            .await
        })
        .await
        .map_err(ioe("starting the Kiteworks sandbox"))?
        .map_err(ioe("starting the Kiteworks sandbox"))?;
    let mut fields = sandbox.profile().clone();
    fields.remove("provider");
    let message = || {
        let mut b = SecureMessage::builder()
            .to("ada@example.com")
            .subject("Three attachments")
            .text("See attached.\n");
        for i in 0..3u8 {
            b = b.attach(Attachment::from_bytes(
                format!("part-{i}.bin"),
                vec![i; 256 << 10],
            ));
        }
        b.build().map_err(ioe("building the message"))
    };
    // Each round: a fresh handle with its own state directory, as a CLI run has (sign-in and
    // settings are part of the send), then a second send on the same handle. One send is a
    // few milliseconds of scheduling noise from a verdict; the median of the rounds is not.
    let mut colds = Vec::new();
    let mut warms = Vec::new();
    let mut cold_entries = Vec::new();
    let mut warm_entries = Vec::new();
    let mut cold_servers = Vec::new();
    let mut warm_servers = Vec::new();
    for round in 0..LATENCY_ROUNDS {
        let mut fields = fields.clone();
        fields.insert(
            "state_dir".into(),
            work.join(format!("state-latency-{round}"))
                .display()
                .to_string()
                .into(),
        );
        let provider = securesend::connect(&ProfileConfig::new("bench", "kiteworks", fields, work))
            .map_err(ioe("connecting to the Kiteworks sandbox"))?;
        let seen = sandbox.journal().snapshot().len();
        let msg = message()?;
        let started = Instant::now();
        provider.send(msg).await.map_err(ioe("send"))?;
        colds.push(started.elapsed());
        let cold_seen = sandbox.journal().snapshot().len();
        let msg = message()?;
        let started = Instant::now();
        provider.send(msg).await.map_err(ioe("second send"))?;
        warms.push(started.elapsed());
        let mut all = sandbox.journal().snapshot();
        warm_entries = all.split_off(cold_seen);
        cold_entries = all.split_off(seen);
        cold_servers.push(sandbox_time(&cold_entries));
        warm_servers.push(sandbox_time(&warm_entries));
    }
    for times in [&mut colds, &mut warms, &mut cold_servers, &mut warm_servers] {
        times.sort();
    }
    let cold = percentile(&colds, 50.0);
    let warm = percentile(&warms, 50.0);
    server_rt
        .spawn(sandbox.shutdown())
        .await
        .map_err(ioe("stopping the sandbox"))?;
    server_rt.shutdown_background();

    let describe = |entries: &[securesend_sandbox::JournalEntry]| -> (usize, String) {
        let depth = critical_path(entries);
        let mut by_route = std::collections::BTreeMap::<String, usize>::new();
        for e in entries {
            let r = e.route.clone().unwrap_or_else(|| e.path.clone());
            *by_route.entry(format!("{} {r}", e.method)).or_default() += 1;
        }
        let list = by_route
            .iter()
            .map(|(r, c)| format!("{c}× {r}"))
            .collect::<Vec<_>>()
            .join(", ");
        (depth, list)
    };
    let (cold_depth, cold_list) = describe(&cold_entries);
    let (warm_depth, warm_list) = describe(&warm_entries);
    // The floor: what the protocol forces to be sequential. Cold: token → create draft →
    // initiateUpload → the (single) chunk → send = 5, the three attachments side by side and
    // the upload configuration beside the draft. Warm (token and configuration known): 4.
    let cold_floor = rtt * 5;
    let warm_floor = rtt * 4;
    let ms = |d: Duration| round(d.as_secs_f64() * 1000.0, 1);
    report.figure("latency_rtt_ms", args.latency_ms);
    report.figure("latency_cold_ms", ms(cold));
    report.figure("latency_cold_floor_ms", ms(cold_floor));
    report.figure("latency_cold_requests", cold_entries.len());
    report.figure("latency_cold_sequential", cold_depth);
    report.figure("latency_warm_ms", ms(warm));
    report.figure("latency_warm_floor_ms", ms(warm_floor));
    report.figure("latency_warm_requests", warm_entries.len());
    report.figure("latency_warm_sequential", warm_depth);
    let ratio = cold.as_secs_f64() / cold_floor.as_secs_f64();
    report.row(
        Row {
            id: "f",
            what: format!(
                "Kiteworks send, 3 × 256 KiB, {} ms per request, fresh handle (ms)",
                args.latency_ms
            ),
            securesend: format!(
                "{:.0} ({} requests, {cold_depth} in sequence)",
                ms(cold),
                cold_entries.len()
            ),
            reference: format!("floor {:.0} = 5 × {} ms", ms(cold_floor), args.latency_ms),
            ..Row::default()
        }
        .at_most(ratio, 1.2),
    );
    let wratio = warm.as_secs_f64() / warm_floor.as_secs_f64();
    report.row(
        Row {
            id: "f2",
            what: "the same send again on the same handle (ms)".into(),
            securesend: format!(
                "{:.0} ({} requests, {warm_depth} in sequence)",
                ms(warm),
                warm_entries.len()
            ),
            reference: format!("floor {:.0} = 4 × {} ms", ms(warm_floor), args.latency_ms),
            ..Row::default()
        }
        .at_most(wratio, 1.2),
    );
    let cold_server = percentile(&cold_servers, 50.0);
    let warm_server = percentile(&warm_servers, 50.0);
    // What the client itself adds to the round trips: the wall time less the sandbox's time.
    let client_over = |wall: Duration, server: Duration| ms(wall.saturating_sub(server));
    report.figure("latency_cold_sandbox_ms", ms(cold_server));
    report.figure("latency_warm_sandbox_ms", ms(warm_server));
    report.figure("latency_cold_client_ms", client_over(cold, cold_server));
    report.figure("latency_warm_client_ms", client_over(warm, warm_server));
    report.note(format!(
        "latency: medians of {LATENCY_ROUNDS} rounds. The sandbox spent {:.1} ms (fresh) and {:.1} ms (warm) answering the requests in sequence, i.e. {:.1} and {:.1} ms over the injected latency (its own hashing and storing, on the cores the client shares); the remaining {:.1} and {:.1} ms are the client's own work and the loopback",
        ms(cold_server),
        ms(warm_server),
        ms(cold_server.saturating_sub(cold_floor)),
        ms(warm_server.saturating_sub(warm_floor)),
        client_over(cold, cold_server),
        client_over(warm, warm_server),
    ));
    report.note(format!(
        "round-trip floor: token → create draft → initiateUpload → chunk → send are sequential by the protocol (each needs the previous answer); the three attachments go side by side and the upload configuration beside the draft, so a fresh handle needs 5 round trips and a warm one 4. Requests seen, fresh: {cold_list}; warm: {warm_list}"
    ));
    Ok(())
}

/// The longest chain of requests each of which arrived after the previous one was answered:
/// how many round trips the client actually put in sequence.
fn critical_path(entries: &[securesend_sandbox::JournalEntry]) -> usize {
    let spans: Vec<(std::time::SystemTime, std::time::SystemTime)> = entries
        .iter()
        .map(|e| (e.received_at, e.received_at + e.elapsed.unwrap_or_default()))
        .collect();
    let mut order: Vec<usize> = (0..spans.len()).collect();
    order.sort_by_key(|&i| spans[i].0);
    let mut depth = vec![1usize; spans.len()];
    for (a, &i) in order.iter().enumerate() {
        for &j in &order[..a] {
            if spans[j].1 <= spans[i].0 {
                depth[i] = depth[i].max(depth[j] + 1);
            }
        }
    }
    depth.into_iter().max().unwrap_or(0)
}

/// How long the sandbox took answering along the chain of requests in sequence: for each step
/// of the chain, the slowest request at that step (arrival to response head).
fn sandbox_time(entries: &[securesend_sandbox::JournalEntry]) -> Duration {
    let mut steps: Vec<(std::time::SystemTime, Duration)> = Vec::new();
    let mut sorted: Vec<_> = entries.iter().collect();
    sorted.sort_by_key(|e| e.received_at);
    for e in sorted {
        let took = e.elapsed.unwrap_or_default();
        match steps.last_mut() {
            // Arrived while the step's first request was unanswered: the same step.
            Some((start, longest)) if e.received_at < *start + *longest => {
                *longest = (*longest).max(took)
            }
            _ => steps.push((e.received_at, took)),
        }
    }
    steps.iter().map(|(_, took)| *took).sum()
}

fn machine(report: &mut Report, args: &Args) {
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".into());
    let mem_gib = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / (1024.0 * 1024.0));
    let load = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default();
    eprintln!("machine: {cpus} CPUs ({model}), {mem_gib:.1} GiB RAM, load average {load}");
    report.figure("cpus", cpus);
    report.figure("cpu_model", model);
    report.figure("mem_gib", round(mem_gib, 1));
    report.figure("load_at_start", load);
    report.figure("quick", args.quick);
}

fn which(tool: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(tool))
            .find(|p| p.is_file())
    })
}

fn cli_path(args: &Args) -> Res<PathBuf> {
    let path = match &args.cli {
        Some(p) => p.clone(),
        None => std::env::current_exe()
            .map_err(ioe("finding this binary"))?
            .with_file_name("securesend"),
    };
    if !path.is_file() {
        return Err(format!(
            "the CLI is not at {}; build it first with `cargo build --release -p securesend-cli` or pass --cli",
            path.display()
        ));
    }
    Ok(path)
}

/// `<target>/bench-work` beside this binary's profile directory.
fn default_work_root() -> Res<PathBuf> {
    let exe = std::env::current_exe().map_err(ioe("finding this binary"))?;
    let target = exe
        .parent()
        .and_then(Path::parent)
        .ok_or("cannot place the work directory; pass --work-dir")?;
    Ok(target.join("bench-work"))
}
