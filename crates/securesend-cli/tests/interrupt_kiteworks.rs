//! Ctrl-C in the middle of a Kiteworks transfer. An interrupted send deletes its draft and leaves
//! no upload session open on the service; an interrupted upload keeps its session, saved on
//! disk, and its one line names `--resume`. Both exit 130.
//!
//! The signal lands at an exact point without any timing: the sandbox holds the second chunk
//! request for an hour, the test waits until the journal shows it held, then sends SIGINT.

mod common;

use std::process::{Child, Output, Stdio};

use common::held_chunk::{CHUNK, Scene};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

const FILE_SIZE: u64 = 6 * CHUNK + 123;

/// A scene holding the second chunk request, with a file of several chunks.
async fn scene() -> Scene {
    Scene::new(2, "contract.bin", &vec![7u8; FILE_SIZE as usize]).await
}

/// The command, its output piped, nothing on its standard input.
fn spawn(scene: &Scene, args: &[&str]) -> Child {
    scene
        .command(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the CLI starts")
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
    let scene = scene().await;
    let file = scene.file.display().to_string();
    let mut child = spawn(
        &scene,
        &[
            "send",
            "--to",
            "ada@example.com",
            "--subject",
            "Contract",
            &file,
        ],
    );
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
    let scene = scene().await;
    let file = scene.file.display().to_string();
    let before = scene.inspect.files_in("My Folder");
    let mut child = spawn(&scene, &["upload", &file]);
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
    let mut again = scene.command(&["upload", &file, "--resume"]);
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
