//! A Kiteworks sandbox that holds one chunk request for an hour, so a test can act on the CLI
//! (kill it, interrupt it) at an exact point of a chunked transfer without any timing.

use std::path::PathBuf;
use std::process::{Child, Command};
use std::time::Duration;

use securesend_sandbox::fault::{AppliedFault, FaultAction, FaultRule};
use securesend_sandbox::journal::{EntryState, JournalEntry};
use securesend_sandbox::kiteworks::{KiteworksInspector, KiteworksService};
use securesend_sandbox::{Route, Sandbox, SandboxOptions, generated};

/// The sandbox's chunk cap.
pub const CHUNK: u64 = 64 * 1024;
/// The chunk requests of an upload.
pub const CHUNK_ROUTE: &str = "POST /kwupload1/rest/uploads/*";
/// Generous: the held chunk is normally reached within a second; this only bounds a broken run.
const PATIENCE: Duration = Duration::from_secs(120);

pub struct Scene {
    pub dir: tempfile::TempDir,
    pub sandbox: Sandbox,
    pub inspect: KiteworksInspector,
    pub config: PathBuf,
    pub file: PathBuf,
}

impl Scene {
    /// A Kiteworks sandbox holding the `held`th chunk request (1-based), a configuration
    /// pointing at it with a `state_dir` every run shares, and `name` holding `content`.
    pub async fn new(held: u64, name: &str, content: &[u8]) -> Scene {
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
        profile.insert(
            "state_dir".into(),
            dir.path().join("state").display().to_string().into(),
        );
        let config = dir.path().join("securesend.toml");
        generated::write_config(&config, &table).unwrap();
        let file = dir.path().join(name);
        std::fs::write(&file, content).unwrap();
        Scene {
            dir,
            sandbox,
            inspect,
            config,
            file,
        }
    }

    /// `securesend --config … ARGS` in the scene's directory, with nothing from the user's
    /// environment.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_securesend"));
        c.current_dir(self.dir.path())
            .env_remove("SECURESEND_CONFIG")
            .env_remove("RUST_LOG")
            .env("HOME", self.dir.path())
            .env("XDG_CONFIG_HOME", self.dir.path().join(".config"))
            .arg("--config")
            .arg(&self.config)
            .args(args);
        c
    }

    pub fn chunks(&self) -> Vec<JournalEntry> {
        self.sandbox
            .journal()
            .matching(&Route::parse(CHUNK_ROUTE).unwrap())
    }

    pub fn count(&self, method: &str, path_part: &str) -> usize {
        self.sandbox
            .journal()
            .snapshot()
            .iter()
            .filter(|e| e.method == method && e.path.contains(path_part))
            .count()
    }

    /// Upload sessions saved on disk.
    pub fn saved_sessions(&self) -> usize {
        std::fs::read_dir(self.dir.path().join("state/uploads")).map_or(0, |d| d.count())
    }

    /// Waits until the held chunk request has reached the service and is being held. A CLI
    /// that exits first, or never gets there, fails the test with what it printed, at once
    /// rather than after the whole patience.
    pub async fn wait_for_held_chunk(&self, child: &mut Child) {
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
        let _ = child.wait();
        let mut stderr = String::new();
        if let Some(mut e) = child.stderr.take() {
            let _ = std::io::Read::read_to_string(&mut e, &mut stderr);
        }
        panic!("the transfer never reached the held chunk: {why}; stderr: {stderr}");
    }
}
