//! Ctrl-C (SIGINT) and SIGTERM in the middle of a transfer: the command exits 130 with one line
//! saying what was and was not done, and leaves nothing behind — no message, no stored file, no
//! temporary file.
//!
//! Each test waits until the transfer is visibly under way (a temporary file growing past a
//! MiB) before it signals, so the signal always lands mid-transfer; the files are large enough
//! that the transfer cannot finish in between.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::Sandbox;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

const BIG: u64 = 512 << 20;
const UNDER_WAY: u64 = 1 << 20;
const PATIENCE: Duration = Duration::from_secs(120);

fn big_file(sb: &Sandbox, name: &str) -> PathBuf {
    // Sparse: quick to make, and read like any other file.
    let path = sb.path().join(name);
    let f = std::fs::File::create(&path).unwrap();
    f.set_len(BIG).unwrap();
    path
}

/// Files under `dir` (recursively) with their sizes.
fn files_under(dir: &Path) -> Vec<(PathBuf, u64)> {
    let mut out = Vec::new();
    let Ok(read) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in read.flatten() {
        let path = e.path();
        match e.metadata() {
            Ok(m) if m.is_dir() => out.extend(files_under(&path)),
            Ok(m) => out.push((path, m.len())),
            Err(_) => {}
        }
    }
    out
}

/// Waits until a file whose name starts with `prefix` under `dir` holds more than a MiB.
fn wait_until_under_way(child: &mut Child, dir: &Path, prefix: &str) {
    let start = Instant::now();
    loop {
        let growing = files_under(dir).into_iter().any(|(p, len)| {
            len > UNDER_WAY
                && p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with(prefix))
        });
        if growing {
            return;
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the command ended ({status}) before the transfer was seen under way");
        }
        assert!(
            start.elapsed() < PATIENCE,
            "the transfer never got under way"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Signals the command and returns its exit code and standard error.
fn interrupt(child: Child, signal: Signal) -> (Option<i32>, String) {
    kill(Pid::from_raw(child.id() as i32), signal).unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn spawn(sb: &Sandbox, args: &[&str]) -> Child {
    sb.cmd()
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn an_interrupted_local_send_keeps_nothing() {
    for signal in [Signal::SIGINT, Signal::SIGTERM] {
        let sb = Sandbox::new();
        big_file(&sb, "big.bin");
        let mut child = spawn(&sb, &["send", "--to", "ada@example.com", "big.bin"]);
        wait_until_under_way(&mut child, &sb.data_dir().join("outbox"), "message.eml");
        let (code, err) = interrupt(child, signal);
        assert_eq!(code, Some(130), "{signal}: {err}");
        assert_eq!(err.lines().count(), 1, "{signal}: one line: {err}");
        assert!(
            err.contains("interrupted before the message was stored; nothing was kept"),
            "{signal}: {err}"
        );
        let data = sb.data_dir();
        assert_eq!(
            files_under(&data.join("outbox")),
            [],
            "{signal}: the outbox"
        );
        assert_eq!(files_under(&data.join("files/entries")), [], "{signal}");
        assert_eq!(files_under(&data.join("files/.tmp")), [], "{signal}");
    }
}

#[test]
fn an_interrupted_local_upload_keeps_nothing() {
    let sb = Sandbox::new();
    big_file(&sb, "big.bin");
    let mut child = spawn(
        &sb,
        &["upload", "big.bin", "--to-folder", "in", "--parents"],
    );
    wait_until_under_way(&mut child, &sb.data_dir().join("files/.tmp"), "");
    let (code, err) = interrupt(child, Signal::SIGINT);
    assert_eq!(code, Some(130), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("the upload of big.bin was interrupted before it was stored"),
        "{err}"
    );
    let data = sb.data_dir();
    assert_eq!(files_under(&data.join("files/entries")), []);
    assert_eq!(files_under(&data.join("files/.tmp")), []);
    assert!(
        !data.join("files/entries/in").exists(),
        "the folder the upload made is taken back"
    );
}

#[test]
fn an_interrupted_download_removes_its_partial_file() {
    let sb = Sandbox::new();
    big_file(&sb, "big.bin");
    let out = sb.run(&["upload", "big.bin"]);
    assert!(out.status.success());
    let target = sb.path().join("out");
    std::fs::create_dir(&target).unwrap();
    let mut child = spawn(&sb, &["download", "big.bin", "-o", "out"]);
    wait_until_under_way(&mut child, &target, ".securesend-");
    let (code, err) = interrupt(child, Signal::SIGINT);
    assert_eq!(code, Some(130), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("interrupted while downloading big.bin; its partial file was removed"),
        "{err}"
    );
    assert_eq!(files_under(&target), [], "nothing is left in the target");
}
