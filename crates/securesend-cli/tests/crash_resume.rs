//! Crash resume: `securesend upload --resume` is killed (SIGKILL, no chance to clean up) in the
//! middle of a multi-chunk Kiteworks upload, and the very same command is run again. The second
//! run must continue the service's upload session from the chunks the service says it holds,
//! the stored file must be byte-exact, and nothing may be stored twice.
//!
//! The kill point is made exact without any timing: the sandbox holds one chunk request (a
//! long delay fault on the Nth chunk), the test waits until the journal shows that request
//! held, checks the service holds exactly N−1 chunks, and kills the process then.

mod common;

use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use common::held_chunk::{CHUNK, Scene};
use nix::sys::signal::Signal;
use securesend_sandbox::journal::JournalEntry;

/// The file is `CHUNKS` chunks of the sandbox's cap (the last one short).
const CHUNKS: u64 = 8;
const FILE_SIZE: u64 = (CHUNKS - 1) * CHUNK + 1_000;
const FILE_NAME: &str = "big.bin";

/// The command both runs use, word for word.
fn upload(scene: &Scene) -> Command {
    let file = scene.file.display().to_string();
    scene.command(&["--json", "upload", &file, "--resume"])
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
    let scene = Scene::new(landed + 1, FILE_NAME, &content(FILE_SIZE)).await;
    let expected = std::fs::read(&scene.file).unwrap();

    // First run, killed mid-upload.
    let mut child = upload(&scene)
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
    let cmd = upload(&scene);
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
