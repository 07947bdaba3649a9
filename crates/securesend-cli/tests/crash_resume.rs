//! Crash resume: `securesend upload --resume` is killed (SIGKILL, no chance to clean up) in the
//! middle of a multi-chunk Kiteworks upload, and the very same command is run again. The second
//! run must continue the service's upload session from the chunks the service says it holds,
//! the stored file must be byte-exact, and nothing may be stored twice.
//!
//! The kill point is made exact without any timing: the sandbox holds one chunk request (a
//! long delay fault on the Nth chunk), the test waits until the journal shows that request
//! held, checks the service holds exactly N−1 chunks, and kills the process then.

use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use nix::sys::signal::Signal;
use securesend_sandbox::fault::{AppliedFault, FaultAction, FaultRule};
use securesend_sandbox::journal::{EntryState, JournalEntry};
use securesend_sandbox::kiteworks::{KiteworksInspector, KiteworksService};
use securesend_sandbox::{Route, Sandbox, SandboxOptions, generated};

/// The sandbox's chunk cap; the file is `CHUNKS` chunks of it (the last one short).
const CHUNK: u64 = 64 * 1024;
const CHUNKS: u64 = 8;
const FILE_SIZE: u64 = (CHUNKS - 1) * CHUNK + 1_000;
const CHUNK_ROUTE: &str = "POST /kwupload1/rest/uploads/*";
const FILE_NAME: &str = "big.bin";
/// Generous: the held chunk is normally reached within a second; this only bounds a broken run.
const PATIENCE: Duration = Duration::from_secs(120);

struct Scene {
    dir: tempfile::TempDir,
    sandbox: Sandbox,
    inspect: KiteworksInspector,
    config: PathBuf,
    file: PathBuf,
}

impl Scene {
    /// A Kiteworks sandbox that holds the `held`th chunk request (1-based) for an hour, a
    /// configuration pointing at it, and the file to upload.
    async fn new(held: u64) -> Scene {
        let service = KiteworksService::default();
        let inspect = service.inspector();
        let sandbox = Sandbox::start(&service, SandboxOptions::default().chunk_max(CHUNK))
            .await
            .expect("the kiteworks sandbox starts");
        sandbox.faults().add(
            FaultRule::new(
                Route::parse(CHUNK_ROUTE).unwrap(),
                FaultAction::Delay(Duration::from_secs(3600)),
            )
            .nth(held),
        );
        let dir = tempfile::tempdir().unwrap();
        let mut table = generated::config_table(std::slice::from_ref(&sandbox), None);
        let profile = table
            .get_mut("profiles")
            .and_then(|p| p.as_table_mut())
            .and_then(|p| p.get_mut("kiteworks"))
            .and_then(|p| p.as_table_mut())
            .expect("the generated configuration has a kiteworks profile");
        // Tokens and the saved upload session live here, shared by both runs.
        profile.insert(
            "state_dir".into(),
            dir.path().join("state").display().to_string().into(),
        );
        let config = dir.path().join("securesend.toml");
        generated::write_config(&config, &table).unwrap();
        let file = dir.path().join(FILE_NAME);
        std::fs::write(&file, content(FILE_SIZE)).unwrap();
        Scene {
            dir,
            sandbox,
            inspect,
            config,
            file,
        }
    }

    /// The command both runs use, word for word.
    fn command(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_securesend"));
        c.current_dir(self.dir.path())
            .env_remove("SECURESEND_CONFIG")
            .env_remove("RUST_LOG")
            .env("HOME", self.dir.path())
            .env("XDG_CONFIG_HOME", self.dir.path().join(".config"))
            .arg("--config")
            .arg(&self.config)
            .arg("--json")
            .arg("upload")
            .arg(&self.file)
            .arg("--resume");
        c
    }

    fn chunks(&self) -> Vec<JournalEntry> {
        self.sandbox
            .journal()
            .matching(&Route::parse(CHUNK_ROUTE).unwrap())
    }

    fn count(&self, method: &str, path_part: &str) -> usize {
        self.sandbox
            .journal()
            .snapshot()
            .iter()
            .filter(|e| e.method == method && e.path.contains(path_part))
            .count()
    }

    fn saved_sessions(&self) -> usize {
        std::fs::read_dir(self.dir.path().join("state/uploads")).map_or(0, |d| d.count())
    }

    /// Waits until the held chunk request has reached the service and is being held. A CLI
    /// that exits first, or never gets there, fails the test with what it printed, at once
    /// rather than after the whole patience.
    async fn wait_for_held_chunk(&self, child: &mut Child) {
        let held = |entries: &[JournalEntry]| {
            entries.iter().any(|e| {
                e.method == "POST"
                    && e.path.starts_with("/kwupload1/rest/uploads/")
                    && e.state == EntryState::Pending
                    && matches!(e.fault, Some(AppliedFault::Delay { .. }))
            })
        };
        let exited = async {
            loop {
                if let Ok(Some(status)) = child.try_wait() {
                    return status;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        };
        let why = tokio::select! {
            () = self.sandbox.journal().wait_until(held) => return,
            status = exited => format!("the CLI exited first ({status})"),
            () = tokio::time::sleep(PATIENCE) => {
                format!("nothing within {}s", PATIENCE.as_secs())
            }
        };
        let _ = child.kill();
        let _ = child.wait();
        let mut stderr = String::new();
        if let Some(mut e) = child.stderr.take() {
            let _ = std::io::Read::read_to_string(&mut e, &mut stderr);
        }
        panic!("the upload never reached the held chunk: {why}; stderr: {stderr}");
    }
}

/// Bytes that differ at every chunk boundary, so a chunk stored at the wrong place or twice
/// changes the file's hash.
fn content(len: u64) -> Vec<u8> {
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

fn sha256_hex(data: &[u8]) -> String {
    securesend::checksum::sha256_hex(data)
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not one JSON document ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn upload_id_of(path: &Path) -> u64 {
    path.file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no upload id at the end of {}", path.display()))
}

/// Kills the CLI while the service holds `landed` chunks (it is sending chunk `landed + 1`),
/// then runs the same command again and checks every promise of a resumed upload.
async fn crash_then_resume(landed: u64) {
    let scene = Scene::new(landed + 1).await;
    let expected = std::fs::read(&scene.file).unwrap();

    // First run, killed mid-upload.
    let mut child = scene
        .command()
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the CLI starts");
    scene.wait_for_held_chunk(&mut child).await;
    let held = scene.chunks().last().cloned().unwrap();
    let upload_id = upload_id_of(Path::new(&held.path));
    assert_eq!(
        scene.inspect.upload_progress(upload_id),
        Some((landed, CHUNKS)),
        "the service holds exactly the chunks before the held one"
    );
    child.kill().unwrap();
    let status = child.wait().unwrap();
    assert_eq!(
        status.signal(),
        Some(Signal::SIGKILL as i32),
        "the first run was killed, it did not finish: {status:?}"
    );
    assert_eq!(scene.saved_sessions(), 1, "the session was saved on disk");
    assert_eq!(scene.inspect.open_uploads(), 1);
    let killed_at = scene.sandbox.journal().last().unwrap().seq;

    // Second run: the same command, word for word.
    let cmd = scene.command();
    let out = tokio::task::spawn_blocking(move || {
        let mut cmd = cmd;
        cmd.output().unwrap()
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "the second run succeeds: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc = json(&out);
    let file = &doc["files"][0];
    assert_eq!(file["checksums"]["sha256"], sha256_hex(&expected), "{doc}");
    assert_eq!(file["size"], FILE_SIZE, "{doc}");

    // It resumed from the service's progress: the same session, asked for its state, and only
    // the chunks the service did not hold were sent.
    assert_eq!(
        scene.count("POST", "/actions/initiateUpload"),
        1,
        "no second session was opened"
    );
    let second: Vec<JournalEntry> = scene
        .sandbox
        .journal()
        .snapshot()
        .into_iter()
        .filter(|e| e.seq > killed_at)
        .collect();
    let first_chunk = second
        .iter()
        .position(|e| e.method == "POST" && e.path.starts_with("/kwupload1/rest/uploads/"))
        .expect("the second run sent chunks");
    assert!(
        second[..first_chunk]
            .iter()
            .any(|e| e.method == "GET" && e.path == format!("/rest/uploads/{upload_id}")),
        "the second run asked the service for the session's progress before sending"
    );
    let resent: Vec<&JournalEntry> = second
        .iter()
        .filter(|e| e.method == "POST" && e.path.starts_with("/kwupload1/rest/uploads/"))
        .collect();
    assert_eq!(
        resent.len() as u64,
        CHUNKS - landed,
        "only chunks {}..={CHUNKS} were sent again",
        landed + 1
    );
    assert!(
        resent
            .iter()
            .all(|e| e.path.ends_with(&format!("/{upload_id}"))),
        "every chunk went to the first run's session"
    );

    // Nothing stored twice: every chunk accepted once over both runs, one file, no session left.
    let accepted = scene
        .chunks()
        .iter()
        .filter(|e| e.status.is_some_and(|s| (200..300).contains(&s)))
        .count() as u64;
    assert_eq!(accepted, CHUNKS, "each chunk was accepted exactly once");
    let stored: Vec<_> = scene
        .sandbox
        .store()
        .list()
        .into_iter()
        .filter(|f| f.name == FILE_NAME)
        .collect();
    assert_eq!(stored.len(), 1, "one file stored: {stored:?}");
    let id = file["id"].as_str().expect("the file has an id");
    let (store_id, name) = scene.inspect.file(id).expect("the service has the file");
    assert_eq!(name, FILE_NAME);
    assert_eq!(store_id, stored[0].id);

    // Byte-exact.
    assert_eq!(
        scene.sandbox.store().read(&store_id).await.unwrap(),
        expected,
        "the stored bytes are the file's"
    );
    assert_eq!(stored[0].sha256, sha256_hex(&expected));
    assert_eq!(scene.inspect.open_uploads(), 0, "no session is left open");
    assert_eq!(scene.saved_sessions(), 0, "the saved session was removed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_before_any_chunk_landed_resumes_the_same_session() {
    crash_then_resume(0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_mid_upload_resumes_from_the_services_chunk_count() {
    crash_then_resume(3).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_during_the_last_chunk_sends_only_the_last_chunk() {
    crash_then_resume(CHUNKS - 1).await;
}
