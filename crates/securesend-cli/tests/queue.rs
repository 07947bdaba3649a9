//! `securesend queue …` and `securesend worker` through the real binary, against the `local`
//! provider: the embedded default (no configuration, everything under the working directory)
//! and a configuration file with its own `[queue]` table. What is checked is what a user would
//! check: the jobs' states and histories, and the messages in the local outbox with the SHA-256
//! of every attachment.

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Output, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use common::{Sandbox, sha256_hex};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::Value;

const PATIENCE: Duration = Duration::from_secs(60);

/// Where a test's queue, blobs and outbox are.
struct Setup {
    sb: Sandbox,
    /// `--config FILE` when there is one.
    config: Option<PathBuf>,
    profile: &'static str,
    data: PathBuf,
    blobs: PathBuf,
}

impl Setup {
    /// No configuration: the embedded default in the working directory.
    fn embedded() -> Setup {
        let sb = Sandbox::new();
        let data = sb.data_dir();
        Setup {
            blobs: data.join("queue").join("blobs"),
            data,
            sb,
            config: None,
            profile: "default",
        }
    }

    /// A configuration file naming a local profile and the queue's file and blob directory.
    fn configured() -> Setup {
        let sb = Sandbox::new();
        let config = sb.file(
            "securesend.toml",
            b"default = \"work\"\n\n[profiles.work]\nprovider = \"local\"\nroot = \"mail\"\n\n\
              [queue]\nurl = \"sqlite://q/jobs.db\"\nblobs = \"staged\"\n",
        );
        Setup {
            data: sb.path().join("mail"),
            blobs: sb.path().join("staged"),
            sb,
            config: Some(config),
            profile: "work",
        }
    }

    fn cmd(&self, args: &[&str]) -> std::process::Command {
        let mut c = self.sb.cmd();
        c.env_remove("SECURESEND_QUEUE").stdin(Stdio::null());
        if let Some(config) = &self.config {
            c.arg("--config").arg(config);
        }
        c.args(args);
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }

    /// Runs a command that must succeed; returns its stdout.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "securesend {args:?} exited {:?}: {}",
            out.status.code(),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    fn ok_json(&self, args: &[&str]) -> Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        serde_json::from_str(&self.ok(&all)).unwrap()
    }

    /// Queues `files` to ada with `subject` (and `extra` arguments); returns the job document.
    fn add(&self, subject: &str, extra: &[&str], files: &[&str]) -> Value {
        let mut args = vec![
            "queue",
            "add",
            "--to",
            "ada@example.com",
            "--subject",
            subject,
        ];
        args.extend_from_slice(extra);
        args.extend_from_slice(files);
        self.ok_json(&args)
    }

    fn jobs(&self, state: Option<&str>) -> Vec<Value> {
        let mut args = vec!["queue", "ls"];
        if let Some(s) = state {
            args.extend(["--state", s]);
        }
        self.ok_json(&args)["jobs"].as_array().unwrap().clone()
    }

    fn show(&self, id: &str) -> Value {
        self.ok_json(&["queue", "show", id])
    }

    /// Runs `worker --drain`; returns its stdout lines.
    fn drain(&self) -> Vec<String> {
        let out = self.ok(&["worker", "--drain"]);
        out.lines().map(str::to_owned).collect()
    }

    fn spawn_worker(&self, extra: &[&str]) -> Child {
        let mut args = vec!["worker"];
        args.extend_from_slice(extra);
        self.cmd(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    }

    /// Messages in the local outbox: subject → attachments (name → SHA-256 of the content).
    fn outbox(&self) -> BTreeMap<String, BTreeMap<String, String>> {
        let mut out = BTreeMap::new();
        let Ok(dir) = std::fs::read_dir(self.data.join("outbox")) else {
            return out;
        };
        for e in dir.flatten() {
            let eml = e.path().join("message.eml");
            assert!(eml.is_file(), "{} holds no message", e.path().display());
            let (subject, files) = parse_eml(&std::fs::read_to_string(&eml).unwrap());
            assert!(
                out.insert(subject.clone(), files).is_none(),
                "two messages with subject {subject:?}"
            );
        }
        out
    }

    /// Files under the blob directory.
    fn blob_files(&self) -> Vec<PathBuf> {
        files_under(&self.blobs)
    }
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(read) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in read.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// The subject and the attachments (name → SHA-256 of the decoded content) of a message the
/// local provider wrote: `multipart/mixed`, every part base64.
fn parse_eml(text: &str) -> (String, BTreeMap<String, String>) {
    let subject = text
        .lines()
        .find_map(|l| l.strip_prefix("Subject: "))
        .unwrap_or("")
        .trim()
        .to_owned();
    let boundary = text
        .split("boundary=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a multipart boundary");
    let mut files = BTreeMap::new();
    for part in text.split(&format!("--{boundary}")).skip(1) {
        let part = part.replace("\r\n", "\n");
        let Some((headers, body)) = part.split_once("\n\n") else {
            continue;
        };
        let Some(name) = headers
            .split("filename=\"")
            .nth(1)
            .and_then(|r| r.split('"').next())
        else {
            continue;
        };
        let b64: String = body.chars().filter(|c| !c.is_whitespace()).collect();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(b64.as_bytes())
            .unwrap_or_else(|e| panic!("attachment {name}: bad base64: {e}"));
        files.insert(name.to_owned(), sha256_hex(&bytes));
    }
    (subject, files)
}

fn data(seed: u32, len: u32) -> Vec<u8> {
    (0..len).map(|i| ((i * 31 + seed) % 251) as u8).collect()
}

fn states(jobs: &[Value]) -> Vec<&str> {
    jobs.iter().map(|j| j["state"].as_str().unwrap()).collect()
}

fn events(job: &Value) -> Vec<&str> {
    job["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect()
}

/// Add two jobs, see them queued, drain them with one worker, and find each message delivered
/// once with its files intact; then the history, the receipt, the counts and the purge.
fn round_trip(s: &Setup) {
    let a = data(1, 150_000);
    let b = data(2, 4096);
    let c = b"third file\n".to_vec();
    s.sb.file("a.bin", &a);
    s.sb.file("b.bin", &b);
    s.sb.file("c.txt", &c);

    let first = s.add("Report A", &["--idempotency-key", "report-a"], &["a.bin"]);
    assert_eq!(first["created"], true, "{first}");
    let id_a = first["job"].as_str().unwrap().to_owned();
    // The same key and content again: the same job, nothing new.
    let again = s.add("Report A", &["--idempotency-key", "report-a"], &["a.bin"]);
    assert_eq!(again["job"], id_a.as_str());
    assert_eq!(again["created"], false);
    let second = s.add("Report B", &[], &["b.bin", "c.txt"]);
    let id_b = second["job"].as_str().unwrap().to_owned();

    let jobs = s.jobs(None);
    assert_eq!(states(&jobs), ["queued", "queued"], "{jobs:?}");
    assert_eq!(s.jobs(Some("queued")).len(), 2);
    let table = s.ok(&["queue", "ls"]);
    assert!(
        table.contains(&id_a) && table.contains("Report B"),
        "{table}"
    );

    let lines = s.drain();
    assert_eq!(lines.len(), 2, "one line per job: {lines:?}");
    for id in [&id_a, &id_b] {
        let line = lines
            .iter()
            .find(|l| l.contains(id.as_str()))
            .unwrap_or_else(|| panic!("no line for {id}: {lines:?}"));
        let prefix = format!("job {id} sent via {}: ", s.profile);
        assert!(line.starts_with(&prefix) && line.ends_with(" s)"), "{line}");
    }
    assert_eq!(states(&s.jobs(None)), ["sent", "sent"]);

    let outbox = s.outbox();
    assert_eq!(outbox.len(), 2, "exactly two deliveries: {outbox:?}");
    assert_eq!(
        outbox["Report A"],
        BTreeMap::from([("a.bin".to_owned(), sha256_hex(&a))])
    );
    assert_eq!(
        outbox["Report B"],
        BTreeMap::from([
            ("b.bin".to_owned(), sha256_hex(&b)),
            ("c.txt".to_owned(), sha256_hex(&c)),
        ])
    );
    assert!(
        s.blob_files().is_empty(),
        "staged copies are removed once sent: {:?}",
        s.blob_files()
    );

    let shown = s.show(&id_a);
    let ev = events(&shown);
    assert_eq!(ev.first(), Some(&"enqueued"), "{shown}");
    assert!(ev.contains(&"claimed"), "{shown}");
    assert!(ev.contains(&"committing"), "{shown}");
    assert_eq!(ev.last(), Some(&"sent"), "{shown}");
    let last = shown["history"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (last["from"].as_str(), last["to"].as_str()),
        (Some("running"), Some("sent"))
    );
    assert!(last["actor"].as_str().is_some_and(|a| !a.is_empty()));
    let receipt = &shown["receipt"];
    assert_eq!(receipt["provider"], "local");
    assert_eq!(
        receipt["attachments"][0]["checksums"]["sha256"],
        sha256_hex(&a)
    );
    let text = s.ok(&["queue", "show", &id_a]);
    assert!(
        text.contains("history:") && text.contains("receipt:"),
        "{text}"
    );
    assert!(
        text.contains(receipt["message_id"].as_str().unwrap()),
        "{text}"
    );

    let stats = s.ok_json(&["queue", "stats"]);
    assert_eq!(stats["counts"]["sent"], 2, "{stats}");
    assert_eq!(stats["counts"]["queued"], 0, "{stats}");
    // Two sends within the averaging window.
    let window = stats["sends_window_minutes"].as_f64().unwrap();
    assert_eq!(
        stats["sends_per_minute"].as_f64(),
        Some(2.0 / window),
        "{stats}"
    );

    let purged = s.ok_json(&["queue", "purge", "--older-than", "0s"]);
    assert_eq!(purged["purged"], 2, "{purged}");
    assert!(s.jobs(None).is_empty());
}

#[test]
fn queued_jobs_are_sent_once_with_their_files_embedded_default() {
    let s = Setup::embedded();
    round_trip(&s);
    assert!(
        s.sb.path()
            .join("securesend-data/queue/queue.sqlite3")
            .is_file(),
        "the embedded queue file is under securesend-data"
    );
}

#[test]
fn queued_jobs_are_sent_once_with_their_files_configured_queue() {
    let s = Setup::configured();
    round_trip(&s);
    assert!(
        s.sb.path().join("q/jobs.db").is_file(),
        "`[queue] url` is resolved beside the configuration file"
    );
    assert!(
        !s.sb.data_dir().exists(),
        "nothing under the embedded default"
    );
}

/// Each bad input: `queue add` exits 2 with exactly the error line `send` gives, and stores
/// nothing: no job, no staged file.
#[test]
fn bad_input_is_refused_as_send_refuses_it_and_nothing_is_stored() {
    let s = Setup::embedded();
    s.sb.file("ok.txt", b"ok");
    std::fs::create_dir(s.sb.path().join("adir")).unwrap();
    let cases: [(&str, Vec<&str>); 4] = [
        ("invalid address", vec!["--to", "not an address", "ok.txt"]),
        (
            "CR/LF subject",
            vec![
                "--to",
                "ada@example.com",
                "--subject",
                "hi\r\nBcc: x@evil.test",
                "ok.txt",
            ],
        ),
        (
            "missing file",
            vec!["--to", "ada@example.com", "missing.pdf"],
        ),
        ("directory", vec!["--to", "ada@example.com", "adir"]),
    ];
    for (what, args) in cases {
        let mut send = vec!["send"];
        send.extend_from_slice(&args);
        let sent = s.run(&send);
        let mut add = vec!["queue", "add"];
        add.extend_from_slice(&args);
        let queued = s.run(&add);
        assert_eq!(sent.status.code(), Some(2), "{what}: send");
        assert_eq!(queued.status.code(), Some(2), "{what}: queue add");
        let line = String::from_utf8_lossy(&queued.stderr).into_owned();
        assert_eq!(line, String::from_utf8_lossy(&sent.stderr), "{what}");
        assert!(
            line.starts_with("error: ") && line.lines().count() == 1,
            "{what}: {line}"
        );
        assert!(queued.stdout.is_empty(), "{what}: no job id printed");
    }
    assert!(s.jobs(None).is_empty(), "no job stored");
    assert!(
        s.blob_files().is_empty(),
        "nothing staged: {:?}",
        s.blob_files()
    );
    assert!(!s.data.join("outbox").exists(), "nothing sent");
}

#[test]
fn a_referenced_file_changed_before_the_worker_runs_fails_the_job_naming_it() {
    let s = Setup::embedded();
    let path = s.sb.file("ledger.csv", b"a,b\n1,2\n");
    let id = s.add("Ledger", &["--stage", "reference"], &["ledger.csv"])["job"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(s.blob_files().is_empty(), "a reference is not copied");
    std::fs::write(&path, b"a,b\n1,3\n").unwrap();

    let lines = s.drain();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].starts_with(&format!("job {id} failed via default: ")),
        "{lines:?}"
    );
    let job = s.show(&id);
    assert_eq!(job["job"]["state"], "failed", "{job}");
    let message = job["job"]["error_message"].as_str().unwrap();
    assert!(message.contains("ledger.csv"), "{message}");
    assert!(s.outbox().is_empty(), "nothing delivered");
}

#[test]
fn cancel_takes_only_a_queued_job_and_removes_its_files() {
    let s = Setup::embedded();
    s.sb.file("one.txt", b"one");
    s.sb.file("two.txt", b"two");
    let sent = s.add("One", &[], &["one.txt"])["job"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(s.drain().len(), 1);
    let queued = s.add("Two", &[], &["two.txt"])["job"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(s.blob_files().len(), 1, "the queued job's copy");

    let done = s.ok_json(&["queue", "cancel", &queued]);
    assert_eq!(done["state"], "cancelled");
    assert_eq!(s.show(&queued)["job"]["state"], "cancelled");
    assert!(
        s.blob_files().is_empty(),
        "its copy is gone: {:?}",
        s.blob_files()
    );
    assert_eq!(s.drain().len(), 0, "nothing left to send");
    assert!(!s.outbox().contains_key("Two"));

    for args in [
        vec!["queue", "cancel", sent.as_str()],
        vec!["queue", "retry", sent.as_str()],
        vec!["queue", "resolve", sent.as_str(), "--resend"],
        vec!["queue", "cancel", "0190f3a2-7c1e-7d4b-9a8e-1f2d3c4b5a69"],
        vec!["queue", "show", "not-a-job"],
        vec!["queue", "ls", "--state", "done"],
        vec!["queue", "purge", "--older-than", "soon"],
    ] {
        let out = s.run(&args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.starts_with("error: ") && err.lines().count() == 1,
            "{args:?}: {err}"
        );
    }
    let out = s.run(&["queue", "cancel", &sent]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("sent") && err.contains("queued"),
        "says why: {err}"
    );
    assert_eq!(s.show(&sent)["job"]["state"], "sent", "untouched");
}

#[test]
fn not_before_takes_a_time_or_a_delay() {
    let s = Setup::embedded();
    s.sb.file("x.txt", b"x");
    let at = s.add(
        "Later",
        &["--not-before", "2031-01-02T03:04:05Z"],
        &["x.txt"],
    );
    let job = s.show(at["job"].as_str().unwrap());
    assert!(
        job["job"]["not_before"]
            .as_str()
            .unwrap()
            .starts_with("2031-01-02T03:04:05"),
        "{job}"
    );
    let out = s.run(&[
        "queue",
        "add",
        "--to",
        "ada@example.com",
        "--not-before",
        "someday",
        "x.txt",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--not-before"));
    let out = s.run(&[
        "queue",
        "add",
        "--to",
        "ada@example.com",
        "--priority",
        "high",
        "x.txt",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--message-priority"));
    assert_eq!(s.jobs(None).len(), 1);
}

/// Waits for `child` to exit within `limit`; kills it and fails otherwise.
fn exits_within(child: &mut Child, limit: Duration) -> std::process::ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            panic!("the worker did not exit within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_worker_stops_cleanly_and_promptly_on_sigterm_and_sigint() {
    let s = Setup::embedded();
    for signal in [Signal::SIGTERM, Signal::SIGINT] {
        let mut child = s.spawn_worker(&[]);
        // Idle: polling an empty queue.
        std::thread::sleep(Duration::from_millis(700));
        assert!(
            child.try_wait().unwrap().is_none(),
            "{signal}: still running"
        );
        let sent = Instant::now();
        kill(Pid::from_raw(child.id() as i32), signal).unwrap();
        let status = exits_within(&mut child, Duration::from_secs(10));
        let mut err = String::new();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut err)
            .unwrap();
        assert_eq!(status.code(), Some(0), "{signal}: {err}");
        assert!(
            sent.elapsed() < Duration::from_secs(5),
            "{signal}: {:?}",
            sent.elapsed()
        );
    }
}

#[test]
fn metrics_count_the_attempts_by_outcome_while_the_worker_runs() {
    let s = Setup::embedded();
    s.sb.file("m.txt", b"metrics");
    let id = s.add("Counted", &[], &["m.txt"])["job"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut child = s.spawn_worker(&["--metrics", "127.0.0.1:0"]);
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    stderr.read_line(&mut line).unwrap();
    let addr = line
        .trim()
        .strip_prefix("metrics on http://")
        .and_then(|r| r.strip_suffix("/metrics"))
        .unwrap_or_else(|| panic!("no metrics address on stderr: {line:?}"))
        .to_owned();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut job_line = String::new();
    stdout.read_line(&mut job_line).unwrap();
    assert!(
        job_line.starts_with(&format!("job {id} sent via ")),
        "{job_line}"
    );

    let deadline = Instant::now() + PATIENCE;
    let body = loop {
        let body = get(&addr, "/metrics");
        // The gauges are read from the queue every few seconds; the counter is at once.
        if body.contains("securesend_worker_queue_jobs{state=\"sent\"} 1")
            || Instant::now() > deadline
        {
            break body;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(body.starts_with("HTTP/1.1 200"), "{body}");
    assert!(
        body.contains("securesend_worker_attempts_total{outcome=\"sent\"} 1"),
        "{body}"
    );
    assert!(
        body.contains("securesend_worker_send_duration_seconds_count{outcome=\"sent\"} 1"),
        "{body}"
    );
    assert!(
        body.contains("securesend_worker_queue_jobs{state=\"sent\"} 1"),
        "{body}"
    );
    assert!(
        body.contains("securesend_worker_queue_in_doubt_jobs 0"),
        "{body}"
    );
    assert!(get(&addr, "/other").starts_with("HTTP/1.1 404"));

    kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM).unwrap();
    assert_eq!(
        exits_within(&mut child, Duration::from_secs(10)).code(),
        Some(0)
    );
}

/// A plain HTTP/1.1 GET; returns the whole response.
fn get(addr: &str, path: &str) -> String {
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    stream.read_to_string(&mut out).unwrap();
    out
}

#[test]
fn worker_lines_are_json_with_json() {
    let s = Setup::embedded();
    s.sb.file("j.txt", b"json");
    let id = s.add("Json", &[], &["j.txt"])["job"]
        .as_str()
        .unwrap()
        .to_owned();
    let out = s.run(&["--json", "worker", "--drain"]);
    assert!(out.status.success());
    let lines: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0]["job"], id.as_str());
    assert_eq!(lines[0]["outcome"], "sent");
    assert_eq!(lines[0]["profile"], "default");
    assert!(
        lines[0]["message_id"]
            .as_str()
            .is_some_and(|m| !m.is_empty())
    );
}
