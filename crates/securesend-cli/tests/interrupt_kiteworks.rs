//! Ctrl-C in the middle of a Kiteworks transfer. An interrupted send deletes its draft and leaves
//! no upload session open on the service; an interrupted upload keeps its session, saved on
//! disk, and its one line names `--resume`. Both exit 130.
//!
//! The signal lands at an exact point without any timing: the sandbox holds the second chunk
//! request for an hour, the test waits until the journal shows it held, then sends SIGINT.

use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use securesend_sandbox::fault::{AppliedFault, FaultAction, FaultRule};
use securesend_sandbox::journal::{EntryState, JournalEntry};
use securesend_sandbox::kiteworks::{KiteworksInspector, KiteworksService};
use securesend_sandbox::{Route, Sandbox, SandboxOptions, generated};

const CHUNK: u64 = 64 * 1024;
const FILE_SIZE: u64 = 6 * CHUNK + 123;
const CHUNK_ROUTE: &str = "POST /kwupload1/rest/uploads/*";
const PATIENCE: Duration = Duration::from_secs(120);

struct Scene {
    dir: tempfile::TempDir,
    sandbox: Sandbox,
    inspect: KiteworksInspector,
    config: PathBuf,
    file: PathBuf,
}

impl Scene {
    /// A Kiteworks sandbox holding the second chunk request, a configuration pointing at it
    /// (with its own state directory) and a file of several chunks.
    async fn new() -> Scene {
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
            .nth(2),
        );
        let dir = tempfile::tempdir().unwrap();
        let mut table = generated::config_table(std::slice::from_ref(&sandbox), None);
        let profile = table
            .get_mut("profiles")
            .and_then(|p| p.as_table_mut())
            .and_then(|p| p.get_mut("kiteworks"))
            .and_then(|p| p.as_table_mut())
            .expect("the generated configuration has a kiteworks profile");
        profile.insert(
            "state_dir".into(),
            dir.path().join("state").display().to_string().into(),
        );
        let config = dir.path().join("securesend.toml");
        generated::write_config(&config, &table).unwrap();
        let file = dir.path().join("contract.bin");
        std::fs::write(&file, vec![7u8; FILE_SIZE as usize]).unwrap();
        Scene {
            dir,
            sandbox,
            inspect,
            config,
            file,
        }
    }

    fn spawn(&self, args: &[&str]) -> Child {
        Command::new(env!("CARGO_BIN_EXE_securesend"))
            .current_dir(self.dir.path())
            .env_remove("SECURESEND_CONFIG")
            .env_remove("RUST_LOG")
            .env("HOME", self.dir.path())
            .env("XDG_CONFIG_HOME", self.dir.path().join(".config"))
            .arg("--config")
            .arg(&self.config)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the CLI starts")
    }

    /// Waits until the held chunk request is being held; fails at once if the CLI exits first.
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
            () = tokio::time::sleep(PATIENCE) => format!("nothing within {}s", PATIENCE.as_secs()),
        };
        let _ = child.kill();
        let out = std::mem::replace(child, Command::new("true").spawn().unwrap());
        let out = out.wait_with_output().unwrap();
        panic!(
            "the transfer never reached the held chunk: {why}; stderr: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn saved_sessions(&self) -> usize {
        std::fs::read_dir(self.dir.path().join("state/uploads")).map_or(0, |d| d.count())
    }

    fn count(&self, method: &str, path_part: &str) -> usize {
        self.sandbox
            .journal()
            .snapshot()
            .iter()
            .filter(|e| e.method == method && e.path.contains(path_part))
            .count()
    }
}

/// SIGINT, then the command's exit code and its standard error.
async fn interrupt(child: Child) -> Output {
    kill(Pid::from_raw(child.id() as i32), Signal::SIGINT).unwrap();
    tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap()
}

fn one_line(stderr: &str) -> &str {
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one line on stderr: {stderr:?}");
    lines[0]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_kiteworks_send_deletes_its_draft() {
    let scene = Scene::new().await;
    let file = scene.file.display().to_string();
    let mut child = scene.spawn(&[
        "send",
        "--to",
        "ada@example.com",
        "--subject",
        "Contract",
        &file,
    ]);
    scene.wait_for_held_chunk(&mut child).await;
    assert_eq!(scene.inspect.drafts().len(), 1, "the send made its draft");

    let out = interrupt(child).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "stderr: {stderr}");
    let line = one_line(&stderr);
    assert!(line.contains("before the message was sent"), "{line}");
    assert!(line.contains("draft was deleted"), "{line}");

    assert!(scene.inspect.drafts().is_empty(), "the draft is gone");
    assert_eq!(scene.inspect.mail_count(), 0, "no mail was kept, none sent");
    assert_eq!(
        scene.count("PUT", "/actions/sendFile"),
        0,
        "the send never reached its point of no return"
    );
    assert_eq!(
        scene.inspect.open_uploads(),
        0,
        "no upload session left open"
    );
    assert_eq!(scene.saved_sessions(), 0, "no upload session saved on disk");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_kiteworks_upload_says_how_to_resume() {
    let scene = Scene::new().await;
    let file = scene.file.display().to_string();
    let before = scene.inspect.files_in("My Folder");
    let mut child = scene.spawn(&["upload", &file]);
    scene.wait_for_held_chunk(&mut child).await;

    let out = interrupt(child).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "stderr: {stderr}");
    let line = one_line(&stderr);
    assert!(line.contains("--resume"), "{line}");
    assert_eq!(
        scene.inspect.files_in("My Folder"),
        before,
        "nothing was stored"
    );
    assert_eq!(scene.inspect.open_uploads(), 1, "the session stays open");
    assert_eq!(scene.saved_sessions(), 1, "and saved on disk");

    // The command the line names finishes the upload from the service's progress.
    let mut again = Command::new(env!("CARGO_BIN_EXE_securesend"));
    again
        .current_dir(scene.dir.path())
        .env_remove("SECURESEND_CONFIG")
        .env("HOME", scene.dir.path())
        .arg("--config")
        .arg(&scene.config)
        .args(["upload", &file, "--resume"]);
    let out = tokio::task::spawn_blocking(move || again.output().unwrap())
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(scene.count("POST", "/actions/initiateUpload"), 1);
    let stored: Vec<_> = scene
        .inspect
        .files_in("My Folder")
        .into_iter()
        .filter(|f| !before.contains(f))
        .collect();
    assert_eq!(stored.len(), 1, "one new file: {stored:?}");
    assert_eq!(stored[0].1, "contract.bin");
    assert_eq!(stored[0].2, FILE_SIZE);
}
