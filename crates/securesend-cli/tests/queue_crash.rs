//! A worker killed with SIGKILL at each checkpoint of a send, then another worker finishing the
//! queue: each job ends `sent` exactly once (Kiteworks, by reconciliation where needed) or
//! `in_doubt`, and the sandbox's records never show a message delivered twice.
//!
//! The kill lands at an exact point without any timing: the sandbox holds one request (before
//! the service acts on it, or after, with its answer held back), the test waits until the
//! journal shows it held, then kills the worker. The second worker takes the job over once the
//! dead one's lease (1 s here) runs out.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use securesend_sandbox::egroupware::Egroupware;
use securesend_sandbox::fault::{FaultAction, FaultRule};
use securesend_sandbox::journal::{EntryState, JournalEntry};
use securesend_sandbox::kiteworks::KiteworksService;
use securesend_sandbox::tuyu::Tuyu;
use securesend_sandbox::{Route, Sandbox, SandboxOptions, Service, generated};

/// Bounds a broken run; a held request is normally reached within a second or two.
const PATIENCE: Duration = Duration::from_secs(120);
const CHUNK: u64 = 64 * 1024;
const HOUR: Duration = Duration::from_secs(3600);

struct Scene {
    dir: tempfile::TempDir,
    sandbox: Sandbox,
    config: PathBuf,
    queue: String,
    files: Vec<PathBuf>,
    profile: &'static str,
}

/// Where the sandbox holds the worker.
#[derive(Clone, Copy, Debug)]
enum Hold {
    /// The `nth` request matching the route waits before the service sees it.
    Before(&'static str, u64),
    /// The `nth` request matching the route is acted on, its answer held back.
    After(&'static str, u64),
}

impl Scene {
    async fn new(service: &dyn Service, profile: &'static str, hold: Hold) -> Scene {
        let sandbox = Sandbox::start(service, SandboxOptions::default().chunk_max(CHUNK))
            .await
            .expect("the sandbox starts");
        let (route, nth, action) = match hold {
            Hold::Before(route, nth) => (route, nth, FaultAction::Delay(HOUR)),
            Hold::After(route, nth) => (route, nth, FaultAction::HoldAnswer(HOUR)),
        };
        sandbox
            .faults()
            .add(FaultRule::new(Route::parse(route).unwrap(), action).nth(nth));
        let dir = tempfile::tempdir().unwrap();
        let mut table = generated::config_table(std::slice::from_ref(&sandbox), None);
        if profile == "kiteworks" {
            let profiles = table
                .get_mut("profiles")
                .and_then(|p| p.as_table_mut())
                .and_then(|p| p.get_mut("kiteworks"))
                .and_then(|p| p.as_table_mut())
                .expect("a kiteworks profile");
            // Every worker process shares the token cache, as on one machine.
            profiles.insert(
                "state_dir".into(),
                dir.path().join("state").display().to_string().into(),
            );
        }
        let config = dir.path().join("securesend.toml");
        generated::write_config(&config, &table).unwrap();
        let mut files = Vec::new();
        for (i, size) in [3 * CHUNK + 17, 2 * CHUNK, 5000].into_iter().enumerate() {
            let path = dir.path().join(format!("part-{i}.bin"));
            let content: Vec<u8> = (0..size).map(|b| (b * 31 + i as u64) as u8).collect();
            std::fs::write(&path, content).unwrap();
            files.push(path);
        }
        let queue = format!("sqlite://{}", dir.path().join("queue.db").display());
        Scene {
            dir,
            sandbox,
            config,
            queue,
            files,
            profile,
        }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_securesend"));
        c.current_dir(self.dir.path())
            .env_remove("SECURESEND_CONFIG")
            .env_remove("SECURESEND_QUEUE")
            .env_remove("RUST_LOG")
            .env("HOME", self.dir.path())
            .env("XDG_CONFIG_HOME", self.dir.path().join(".config"))
            .arg("--config")
            .arg(&self.config)
            .arg("--queue")
            .arg(&self.queue)
            .arg("--profile")
            .arg(self.profile)
            .args(args)
            .stdin(Stdio::null());
        c
    }

    fn run(&self, args: &[&str]) -> String {
        let out = self.command(args).output().unwrap();
        assert!(
            out.status.success(),
            "securesend {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Queues the message with its three files; returns the job id.
    fn enqueue(&self) -> String {
        let mut args = vec![
            "--json",
            "queue",
            "add",
            "--to",
            "ada@example.com",
            "--subject",
            "Case file 7",
        ];
        let files: Vec<String> = self.files.iter().map(|f| f.display().to_string()).collect();
        args.extend(files.iter().map(String::as_str));
        let out: serde_json::Value = serde_json::from_str(&self.run(&args)).unwrap();
        out["job"].as_str().unwrap().to_owned()
    }

    /// Starts a worker that runs until killed.
    fn worker(&self, name: &str) -> Child {
        self.command(&["worker", "--name", name, "--lease", "1s"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    }

    /// Waits until the held request has reached the sandbox and is held.
    async fn wait_for_hold(&self, child: &mut Child) {
        let held = |entries: &[JournalEntry]| {
            entries
                .iter()
                .any(|e| e.fault.is_some() && e.state == EntryState::Pending)
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
            status = exited => format!("the worker exited first ({status})"),
            () = tokio::time::sleep(PATIENCE) => format!("nothing within {}s", PATIENCE.as_secs()),
        };
        let _ = child.kill();
        let _ = child.wait();
        let mut stderr = String::new();
        if let Some(mut e) = child.stderr.take() {
            let _ = std::io::Read::read_to_string(&mut e, &mut stderr);
        }
        panic!("the worker never reached the held request: {why}; stderr: {stderr}");
    }

    /// The job's state after a second worker drained the queue.
    fn job(&self, id: &str) -> serde_json::Value {
        serde_json::from_str(&self.run(&["--json", "queue", "show", id])).unwrap()
    }

    fn deliveries(&self) -> usize {
        self.sandbox
            .outbox()
            .messages()
            .iter()
            .filter(|m| m.subject == "Case file 7")
            .count()
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

/// Queues a send, lets a worker reach `hold`, kills it, drains with a second worker; returns the
/// scene and the job as `queue show --json` prints it.
async fn crash(
    service: &dyn Service,
    profile: &'static str,
    hold: Hold,
) -> (Scene, serde_json::Value) {
    let scene = Scene::new(service, profile, hold).await;
    let id = scene.enqueue();
    let mut first = scene.worker("doomed");
    scene.wait_for_hold(&mut first).await;
    first.kill().unwrap();
    first.wait().unwrap();
    // Nothing more is held: the second worker meets a healthy service.
    scene.sandbox.faults().clear();
    let mut second = scene.command(&["worker", "--drain", "--name", "survivor", "--lease", "1s"]);
    let out = tokio::task::spawn_blocking(move || second.output().unwrap())
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "the draining worker failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let job = scene.job(&id);
    (scene, job)
}

fn state(job: &serde_json::Value) -> &str {
    job["job"]["state"]
        .as_str()
        .or_else(|| job["state"].as_str())
        .unwrap_or_else(|| panic!("no state in {job}"))
}

fn events(job: &serde_json::Value) -> Vec<String> {
    job["history"]
        .as_array()
        .map(|h| {
            h.iter()
                .filter_map(|e| e["event"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

const KW_DRAFT: &str = "POST /rest/mail/actions/sendFile";
const KW_INITIATE: &str = "POST /rest/mail/*/actions/initiateUpload";
const KW_CHUNK: &str = "POST /kwupload1/rest/uploads/*";
const KW_PUT: &str = "PUT /rest/mail/*/actions/sendFile";

async fn kiteworks(hold: Hold) -> (Scene, serde_json::Value) {
    crash(&KiteworksService::default(), "kiteworks", hold).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kiteworks_killed_before_its_draft_exists_is_sent_once() {
    let (scene, job) = kiteworks(Hold::Before(KW_DRAFT, 1)).await;
    assert_eq!(state(&job), "sent", "{job}");
    assert_eq!(scene.deliveries(), 1);
    assert!(events(&job).contains(&"taken_over".to_owned()), "{job}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kiteworks_killed_after_the_draft_reuses_it() {
    let (scene, job) = kiteworks(Hold::Before(KW_INITIATE, 1)).await;
    assert_eq!(state(&job), "sent", "{job}");
    assert_eq!(scene.deliveries(), 1);
    // The taken-over job sent the draft the dead worker made: one draft, one mail.
    assert_eq!(scene.count("POST", "/rest/mail/actions/sendFile"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kiteworks_killed_mid_chunk_is_sent_once() {
    let (scene, job) = kiteworks(Hold::Before(KW_CHUNK, 3)).await;
    assert_eq!(state(&job), "sent", "{job}");
    assert_eq!(scene.deliveries(), 1);
    assert_eq!(scene.count("POST", "/rest/mail/actions/sendFile"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kiteworks_killed_just_before_the_put_is_reconciled_and_sent_once() {
    let (scene, job) = kiteworks(Hold::Before(KW_PUT, 1)).await;
    assert_eq!(state(&job), "sent", "{job}");
    assert_eq!(scene.deliveries(), 1);
    // No file was uploaded again: the checkpoint named all three.
    assert_eq!(scene.count("POST", "/actions/initiateUpload"), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kiteworks_killed_just_after_the_put_is_reconciled_without_a_second_put() {
    let (scene, job) = kiteworks(Hold::After(KW_PUT, 1)).await;
    assert_eq!(state(&job), "sent", "{job}");
    assert_eq!(scene.deliveries(), 1);
    assert_eq!(
        scene.count("PUT", "/actions/sendFile"),
        1,
        "the send was repeated"
    );
    assert!(
        job["job"]["receipt"]["message_id"].is_string() || job["receipt"]["message_id"].is_string(),
        "the reconciled job keeps a receipt: {job}"
    );
}

const EGW_ATTACH: &str = "POST /egroupware/groupdav.php/**";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn egroupware_killed_before_its_send_is_sent_once() {
    // The second upload request (the first attachment is through).
    let (scene, job) = crash(
        &Egroupware::new(),
        "egroupware",
        Hold::Before(EGW_ATTACH, 2),
    )
    .await;
    assert_eq!(state(&job), "sent", "{job}");
    assert_eq!(scene.deliveries(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn egroupware_killed_at_its_send_is_in_doubt_and_delivered_at_most_once() {
    // Three uploads, then the send: the fourth POST.
    let (scene, job) = crash(&Egroupware::new(), "egroupware", Hold::After(EGW_ATTACH, 4)).await;
    assert_eq!(state(&job), "in_doubt", "{job}");
    assert!(scene.deliveries() <= 1);
}

const TUYU_UPLOAD: &str = "POST /api/file_upload";
const TUYU_SEND: &str = "POST /api/file_send";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tuyu_killed_before_its_send_is_sent_once() {
    let (scene, job) = crash(&Tuyu::default(), "tuyu", Hold::Before(TUYU_UPLOAD, 2)).await;
    assert_eq!(state(&job), "sent", "{job}");
    assert_eq!(scene.deliveries(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tuyu_killed_at_its_send_is_in_doubt_and_delivered_at_most_once() {
    let (scene, job) = crash(&Tuyu::default(), "tuyu", Hold::After(TUYU_SEND, 1)).await;
    assert_eq!(state(&job), "in_doubt", "{job}");
    assert_eq!(
        scene.deliveries(),
        1,
        "the held answer's send was made once"
    );
}
