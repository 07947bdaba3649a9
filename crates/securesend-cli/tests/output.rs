//! What the command prints, and what it does when printing fails: a result that cannot be
//! written never turns a completed send into a reported failure (a script would send again),
//! and no write to a full device or a closed pipe panics.

mod common;

use std::fs::File;
use std::path::Path;
use std::process::{Output, Stdio};

use common::{Running, Sandbox, json, sha256_hex};
use securesend_sandbox::kiteworks::KiteworksService;

/// The exit codes the README documents.
const BAD_INPUT: i32 = 2;
const SERVICE: i32 = 4;
const IO: i32 = 5;
const DONE_UNREPORTED: i32 = 6;

fn dev_full() -> Stdio {
    Stdio::from(File::options().write(true).open("/dev/full").unwrap())
}

/// A pipe whose reading end is already closed: every write fails with EPIPE.
fn closed_pipe() -> Stdio {
    let (reader, writer) = nix::unistd::pipe().unwrap();
    drop(reader);
    Stdio::from(writer)
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn assert_no_panic(what: &str, out: &Output) {
    let err = stderr(out);
    assert!(!err.contains("panicked"), "{what}: {err}");
    assert_ne!(out.status.code(), Some(101), "{what}: exit 101 is a panic");
    assert!(out.status.code().is_some(), "{what}: killed by a signal");
}

/// Messages in the local provider's outbox, and `.tmp` leftovers beside them.
fn outbox(data: &Path) -> usize {
    std::fs::read_dir(data.join("outbox")).map_or(0, |d| d.count())
}

fn entries(data: &Path, folder: &str) -> Vec<String> {
    let dir = data.join("files/entries").join(folder);
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[test]
fn a_send_or_upload_whose_result_cannot_be_written_exits_6_and_happens_once() {
    for (label, stdout) in [
        ("/dev/full", dev_full as fn() -> Stdio),
        ("closed pipe", closed_pipe),
    ] {
        for json_flag in [false, true] {
            let sb = Sandbox::new();
            sb.file("a.txt", b"alpha");
            let mut args = vec![];
            if json_flag {
                args.push("--json");
            }
            let what = format!("send, stdout {label}, json {json_flag}");
            let send = [&args[..], &["send", "--to", "ada@example.com", "a.txt"]].concat();
            let out = sb.cmd().args(&send).stdout(stdout()).output().unwrap();
            assert_no_panic(&what, &out);
            assert_eq!(
                out.status.code(),
                Some(DONE_UNREPORTED),
                "{what}: {}",
                stderr(&out)
            );
            let err = stderr(&out);
            assert_eq!(err.lines().count(), 1, "{what}: {err}");
            assert!(err.contains("the message was sent, but"), "{what}: {err}");
            assert_eq!(outbox(&sb.data_dir()), 1, "{what}: exactly one delivery");

            let what = format!("upload, stdout {label}, json {json_flag}");
            let upload = [
                &args[..],
                &["upload", "a.txt", "--to-folder", "in", "--parents"],
            ]
            .concat();
            let out = sb.cmd().args(&upload).stdout(stdout()).output().unwrap();
            assert_no_panic(&what, &out);
            assert_eq!(
                out.status.code(),
                Some(DONE_UNREPORTED),
                "{what}: {}",
                stderr(&out)
            );
            assert!(stderr(&out).contains("1 file was uploaded, but"), "{what}");
            assert_eq!(entries(&sb.data_dir(), "in").len(), 1, "{what}");
        }
    }
}

#[test]
fn a_kiteworks_send_whose_receipt_cannot_be_written_is_delivered_once() {
    let service = KiteworksService::default();
    let running = Running::start(&service);
    let sb = Sandbox::new();
    let config = running.write_config(sb.path());
    sb.file("report.pdf", &[7u8; 100_000]);
    let out = sb
        .cmd()
        .arg("--config")
        .arg(&config)
        .args([
            "send",
            "--to",
            "ada@example.com",
            "--subject",
            "once",
            "report.pdf",
        ])
        .stdout(dev_full())
        .output()
        .unwrap();
    assert_no_panic("kiteworks send", &out);
    assert_eq!(out.status.code(), Some(DONE_UNREPORTED), "{}", stderr(&out));
    let sent = running.sandbox().outbox().with_subject("once");
    assert_eq!(
        sent.len(),
        1,
        "exactly one delivery in the service's records"
    );

    let out = sb
        .cmd()
        .arg("--config")
        .arg(&config)
        .args(["upload", "report.pdf"])
        .stdout(closed_pipe())
        .output()
        .unwrap();
    assert_no_panic("kiteworks upload", &out);
    assert_eq!(out.status.code(), Some(DONE_UNREPORTED), "{}", stderr(&out));
    let stored = running
        .sandbox()
        .store()
        .find_by_sha256(&sha256_hex(&[7u8; 100_000]));
    // The send stored the file once as an attachment; the upload stored it once more.
    assert_eq!(stored.len(), 2, "one attachment and one upload: {stored:?}");
}

#[test]
fn commands_that_only_read_exit_5_on_a_full_stdout_and_errors_survive_a_full_stderr() {
    let sb = Sandbox::new();
    for args in [
        &["providers"][..],
        &["ls"],
        &["doctor"],
        &["--help"],
        &["--version"],
        &["send", "--help"],
    ] {
        let out = sb.cmd().args(args).stdout(dev_full()).output().unwrap();
        assert_no_panic(&format!("{args:?}"), &out);
        assert_eq!(out.status.code(), Some(IO), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains("standard output"), "{args:?}");
    }
    // With stderr full too, the exit code still says what happened.
    for (args, code) in [
        (&["send", "--to", "nobody", "x"][..], BAD_INPUT),
        (&["--no-such-flag"], BAD_INPUT),
        (&["download", "missing.bin"], SERVICE),
        (&["providers"], IO),
    ] {
        let out = sb
            .cmd()
            .args(args)
            .stdout(dev_full())
            .stderr(dev_full())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(code), "{args:?}");
    }
}

#[test]
fn receipts_keep_recipient_roles_and_show_the_expiry() {
    let sb = Sandbox::new();
    sb.file("a.txt", b"alpha");
    let roles = [
        "--to",
        "ada@example.com",
        "--cc",
        "grace@example.com",
        "--bcc",
        "alan@example.com",
    ];
    let out = sb.run(&[&["send"][..], &roles, &["a.txt"]].concat());
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    for line in [
        "  to: ada@example.com\n",
        "  cc: grace@example.com\n",
        "  bcc: alan@example.com\n",
    ] {
        assert!(text.contains(line), "{line:?} missing from:\n{text}");
    }
    let out = sb.run(&[
        "--json",
        "send",
        "--to",
        "ada@example.com",
        "--bcc",
        "alan@example.com",
        "a.txt",
    ]);
    let receipt = &json(&out)["receipt"];
    assert_eq!(receipt["to"], serde_json::json!(["ada@example.com"]));
    assert_eq!(receipt["bcc"], serde_json::json!(["alan@example.com"]));
    assert!(receipt.get("cc").is_none(), "no empty role: {receipt}");

    // The local provider has no expiry; Kiteworks does.
    let service = KiteworksService::default();
    let running = Running::start(&service);
    let config = running.write_config(sb.path());
    let expiring = ["--expires", "2099-01-31", "a.txt"];
    let out = sb
        .cmd()
        .arg("--config")
        .arg(&config)
        .args([&["send"][..], &roles, &expiring].concat())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    for line in [
        "  to: ada@example.com\n",
        "  cc: grace@example.com\n",
        "  bcc: alan@example.com\n",
        "  expires: end of 2099-01-31 (UTC)\n",
    ] {
        assert!(text.contains(line), "{line:?} missing from:\n{text}");
    }
    // A link delivery lists the link the recipients get.
    let sent = running
        .sandbox()
        .journal()
        .snapshot()
        .into_iter()
        .filter(|e| e.method == "PUT" && e.path.ends_with("/actions/sendFile"))
        .count();
    assert_eq!(sent, 1, "one send reached the service");
    assert!(
        text.lines()
            .any(|l| l.starts_with("  link: http") && l.contains("/w/")),
        "the download link is listed:\n{text}"
    );
    let out = sb
        .cmd()
        .arg("--config")
        .arg(&config)
        .args(
            [
                &["--json", "send", "--to", "ada@example.com"][..],
                &expiring,
            ]
            .concat(),
        )
        .output()
        .unwrap();
    let receipt = &json(&out)["receipt"];
    assert_eq!(receipt["expires"], "2099-01-31");
    let link = receipt["links"][0]["url"].as_str().unwrap_or_default();
    assert!(
        link.starts_with("http"),
        "a link in the JSON receipt: {receipt}"
    );
}

#[test]
fn a_multi_file_upload_reports_every_file_and_keep_going_goes_on() {
    let sb = Sandbox::new();
    for name in ["a.txt", "b.txt", "c.txt"] {
        sb.file(name, name.as_bytes());
    }
    let out = sb.run(&["upload", "b.txt", "--to-folder", "in", "--parents"]);
    assert!(out.status.success(), "{}", stderr(&out));

    // b.txt exists there already: it fails, and without --keep-going c.txt is not attempted.
    let out = sb.run(&["upload", "a.txt", "b.txt", "c.txt", "--to-folder", "in"]);
    assert_eq!(out.status.code(), Some(SERVICE), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(lines[0].starts_with("uploaded a.txt"), "{text}");
    assert!(lines[1].starts_with("FAILED b.txt"), "{text}");
    assert_eq!(lines[2], "not attempted c.txt");
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("1 of 3 files uploaded, 1 not attempted (--keep-going"),
        "{err}"
    );
    assert_eq!(entries(&sb.data_dir(), "in"), ["a.txt", "b.txt"]);

    let out = sb.run(&[
        "--json",
        "upload",
        "a.txt",
        "b.txt",
        "c.txt",
        "--to-folder",
        "in",
        "--overwrite",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));

    std::fs::write(sb.path().join("d.txt"), b"d").unwrap();
    let out = sb.run(&[
        "--json",
        "upload",
        "d.txt",
        "b.txt",
        "c.txt",
        "--to-folder",
        "in",
        "--keep-going",
    ]);
    assert_eq!(out.status.code(), Some(SERVICE), "{}", stderr(&out));
    let doc = json(&out);
    let completed = &doc["completed"];
    assert_eq!(completed["files"].as_array().unwrap().len(), 1, "{doc}");
    assert_eq!(completed["files"][0]["name"], "d.txt");
    let failed = completed["failed"].as_array().unwrap();
    assert_eq!(failed.len(), 2, "b.txt and c.txt exist: {doc}");
    assert_eq!(failed[0]["name"], "b.txt");
    assert_eq!(failed[1]["name"], "c.txt");
    assert_eq!(failed[1]["kind"], "conflict");
    assert_eq!(completed["skipped"], serde_json::json!([]));
}

#[test]
fn a_multi_file_download_reports_every_file_and_keep_going_goes_on() {
    let sb = Sandbox::new();
    sb.file("a.txt", b"alpha");
    sb.file("c.txt", b"gamma");
    let out = sb.run(&["upload", "a.txt", "c.txt", "--to-folder", "in", "--parents"]);
    assert!(out.status.success(), "{}", stderr(&out));
    std::fs::create_dir(sb.path().join("out")).unwrap();
    let ids = ["in/a.txt", "in/missing.txt", "in/c.txt"];

    let out = sb.run(&[&["download"][..], &ids, &["-o", "out"]].concat());
    assert_eq!(out.status.code(), Some(SERVICE), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(text.contains("saved in/a.txt"), "{text}");
    assert!(text.contains("FAILED in/missing.txt"), "{text}");
    assert!(text.contains("not attempted in/c.txt"), "{text}");
    assert!(!sb.path().join("out/c.txt").exists());

    let out = sb.run(
        &[
            &["download"][..],
            &ids,
            &["-o", "out", "--keep-going", "--overwrite"],
        ]
        .concat(),
    );
    assert_eq!(out.status.code(), Some(SERVICE), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("2 of 3 files saved"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        std::fs::read(sb.path().join("out/c.txt")).unwrap(),
        b"gamma"
    );
}

#[test]
fn a_single_download_goes_to_a_file_path_or_to_stdout() {
    let sb = Sandbox::new();
    let data: Vec<u8> = (0..200_000u32).map(|i| (i % 253) as u8).collect();
    sb.file("data.bin", &data);
    let out = sb.run(&["upload", "data.bin"]);
    assert!(out.status.success(), "{}", stderr(&out));

    let out = sb.run(&["download", "data.bin", "-o", "copy.bin"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(std::fs::read(sb.path().join("copy.bin")).unwrap(), data);
    // A file path is not replaced unless asked, like a file in a directory.
    let out = sb.run(&["download", "data.bin", "-o", "copy.bin"]);
    assert_eq!(out.status.code(), Some(BAD_INPUT));
    assert!(stderr(&out).contains("--overwrite"), "{}", stderr(&out));

    let out = sb.run(&["download", "data.bin", "-o", "-"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(out.stdout.len(), data.len());
    assert_eq!(sha256_hex(&out.stdout), sha256_hex(&data));
    assert!(out.stderr.is_empty(), "{}", stderr(&out));
}
