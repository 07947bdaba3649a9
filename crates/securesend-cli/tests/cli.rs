//! The `securesend` command against the embedded default (the local provider).

mod common;

use common::{Sandbox, json, sha256_hex};

#[test]
fn send_prints_where_the_message_went_and_json_lists_attachments() {
    let sb = Sandbox::new();
    let a = b"alpha".to_vec();
    let b: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    sb.file("a.txt", &a);
    sb.file("b.bin", &b);

    let out = sb.run(&[
        "send",
        "--to",
        "ada@example.com",
        "--subject",
        "hi",
        "--body",
        "x",
        "a.txt",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("message at: "), "{text}");
    assert!(
        out.stderr.is_empty(),
        "no progress or log output when piped: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    let out = sb.run(&[
        "--json",
        "send",
        "--to",
        "ada@example.com",
        "--cc",
        "b@example.com",
        "a.txt",
        "b.bin",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc = json(&out);
    let receipt = &doc["receipt"];
    assert_eq!(receipt["provider"], "local");
    assert_eq!(
        receipt["recipients"],
        serde_json::json!(["ada@example.com", "b@example.com"])
    );
    let atts = receipt["attachments"].as_array().unwrap();
    assert_eq!(atts.len(), 2);
    for (att, (name, data)) in atts.iter().zip([("a.txt", &a), ("b.bin", &b)]) {
        assert_eq!(att["name"], name);
        assert_eq!(att["size"], data.len());
        assert_eq!(att["checksums"]["sha256"], sha256_hex(data));
        assert!(att["id"].as_str().is_some_and(|id| !id.is_empty()));
    }
    let eml = receipt["location"].as_str().unwrap();
    assert!(std::path::Path::new(eml).is_file());
}

#[test]
fn upload_then_download_round_trips_by_sha256() {
    let sb = Sandbox::new();
    let data: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 256) as u8).collect();
    sb.file("data.bin", &data);
    sb.file("empty.txt", b"");
    let out = sb.run(&[
        "--json",
        "upload",
        "data.bin",
        "empty.txt",
        "--to-folder",
        "in/2026",
        "--parents",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc = json(&out);
    let files = doc["files"].as_array().unwrap();
    assert_eq!(files[0]["id"], "in/2026/data.bin");
    assert_eq!(files[0]["checksums"]["sha256"], sha256_hex(&data));
    assert_eq!(files[1]["checksums"]["sha256"], sha256_hex(b""));

    std::fs::create_dir(sb.path().join("out")).unwrap();
    let out = sb.run(&[
        "--json",
        "download",
        "in/2026/data.bin",
        "in/2026/empty.txt",
        "-o",
        "out",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc = json(&out);
    let saved = doc["files"].as_array().unwrap();
    assert_eq!(saved[0]["sha256"], sha256_hex(&data));
    let path = saved[0]["path"].as_str().unwrap();
    assert_eq!(std::fs::read(sb.path().join(path)).unwrap(), data);
    assert_eq!(saved[1]["size"], 0);

    // A second download would replace the first: refused unless asked, and the file is kept.
    let out = sb.run(&["download", "in/2026/data.bin", "-o", "out"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--overwrite"));
    let out = sb.run(&["download", "in/2026/data.bin", "-o", "out", "--overwrite"]);
    assert!(out.status.success());

    let out = sb.run(&["download", "in/2026/nothing.bin", "-o", "out"]);
    assert_eq!(out.status.code(), Some(4), "not found is a service answer");
}

/// Each case exits 2 with a single `error:` line, and nothing is written.
#[test]
fn bad_input_exits_2_and_writes_nothing() {
    let sb = Sandbox::new();
    sb.file("ok.txt", b"ok");
    std::fs::create_dir(sb.path().join("adir")).unwrap();
    sb.file(
        "bad-key.toml",
        b"[profiles.x]\nprovider = \"local\"\nroot = \"d\"\nrooot = \"e\"\n",
    );
    sb.file(
        "bad-provider.toml",
        b"[profiles.x]\nprovider = \"dropbox\"\n",
    );
    sb.file("not-toml.toml", b"[profiles.x\n");
    let cases: Vec<(&str, Vec<&str>, &str)> = vec![
        (
            "bad address",
            vec!["send", "--to", "nobody", "ok.txt"],
            "not a valid mail address",
        ),
        (
            "CR/LF address",
            vec!["send", "--to", "a@example.com\r\nBcc: e@x.y", "ok.txt"],
            "control character",
        ),
        (
            "CR/LF subject",
            vec![
                "send",
                "--to",
                "a@example.com",
                "--subject",
                "a\r\nBcc: e@x.y",
            ],
            "subject",
        ),
        ("no recipient", vec!["send", "ok.txt"], "no recipients"),
        (
            "missing file",
            vec!["send", "--to", "a@example.com", "nope.pdf"],
            "does not exist",
        ),
        (
            "directory",
            vec!["send", "--to", "a@example.com", "adir"],
            "is a directory",
        ),
        (
            "bad expiry",
            vec!["send", "--to", "a@example.com", "--expires", "0d"],
            "at least one day",
        ),
        (
            "unset password var",
            vec![
                "send",
                "--to",
                "a@example.com",
                "--password-env",
                "SURELY_UNSET_PW_VAR",
            ],
            "SURELY_UNSET_PW_VAR",
        ),
        (
            "missing body file",
            vec!["send", "--to", "a@example.com", "--body-file", "none.txt"],
            "none.txt",
        ),
        (
            "unsupported option",
            vec!["send", "--to", "a@example.com", "--link"],
            "links",
        ),
        ("upload directory", vec!["upload", "adir"], "is a directory"),
        (
            "upload bad folder",
            vec!["upload", "ok.txt", "--to-folder", "../x"],
            "..",
        ),
        (
            "download into missing dir",
            vec!["download", "x", "-o", "no-such-dir/"],
            "no-such-dir",
        ),
        (
            "unknown config key",
            vec!["--config", "bad-key.toml", "send", "--to", "a@example.com"],
            "profiles.x.rooot",
        ),
        (
            "unknown provider",
            vec![
                "--config",
                "bad-provider.toml",
                "send",
                "--to",
                "a@example.com",
            ],
            "`local`",
        ),
        (
            "broken config",
            vec!["--config", "not-toml.toml", "send", "--to", "a@example.com"],
            "TOML",
        ),
        (
            "missing config",
            vec!["--config", "absent.toml", "send", "--to", "a@example.com"],
            "absent.toml",
        ),
        (
            "missing profile",
            vec!["--profile", "work", "send", "--to", "a@example.com"],
            "work",
        ),
        (
            "login without a login role",
            vec!["login", "--no-browser"],
            "no interactive login",
        ),
        ("inbox without an inbox", vec!["inbox"], "no inbox"),
        (
            "compose without a compose window",
            vec!["send", "--to", "a@example.com", "--interactive"],
            "compose window",
        ),
        (
            "resume without resumable uploads",
            vec!["upload", "ok.txt", "--resume"],
            "resuming",
        ),
    ];
    for (name, args, needle) in cases {
        let out = sb.run(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{name}: {stderr}");
        assert_eq!(
            stderr.lines().count(),
            1,
            "{name}: one line expected, got {stderr:?}"
        );
        assert!(stderr.starts_with("error: "), "{name}: {stderr}");
        assert!(
            stderr.contains(needle),
            "{name}: {needle:?} not in {stderr:?}"
        );
        assert!(
            !sb.data_dir().exists(),
            "{name}: wrote {}",
            sb.data_dir().display()
        );
        assert!(
            !sb.path().join("d").exists(),
            "{name}: wrote the configured root"
        );
    }
    // With --json, the error is also one JSON document on stdout.
    let out = sb.run(&["--json", "send", "--to", "nobody"]);
    let doc = json(&out);
    assert_eq!(doc["error"]["kind"], "invalid input");
    assert_eq!(doc["error"]["exit_code"], 2);
}

#[test]
fn doctor_names_the_failing_step() {
    let sb = Sandbox::new();
    let out = sb.run(&["doctor"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("embedded default") && text.contains("all steps passed"),
        "{text}"
    );

    sb.file(
        "c.toml",
        b"[profiles.x]\nprovider = \"local\"\nroot = \"d\"\ncolour = \"red\"\n",
    );
    let out = sb.run(&["--config", "c.toml", "doctor"]);
    assert_eq!(out.status.code(), Some(2));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("FAIL  settings") && text.contains("profiles.x.colour"),
        "{text}"
    );

    let out = sb.run(&["--json", "--config", "c.toml", "doctor"]);
    let doc = json(&out);
    assert_eq!(doc["ok"], false);
    assert_eq!(doc["failed_step"], "settings");

    sb.file("blocked", b"");
    sb.file(
        "r.toml",
        b"[profiles.x]\nprovider = \"local\"\nroot = \"blocked/data\"\n",
    );
    let out = sb.run(&["--config", "r.toml", "doctor"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stdout).contains("FAIL  reach"));
}

#[test]
fn providers_lists_capabilities() {
    let sb = Sandbox::new();
    let out = sb.run(&["--json", "providers"]);
    assert!(out.status.success());
    let doc = json(&out);
    let local = doc["providers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["key"] == "local")
        .unwrap();
    assert_eq!(local["compiled"], true);
    assert_eq!(local["capabilities"]["send"], true);
    assert_eq!(local["capabilities"]["link_delivery"], false);
    let out = sb.run(&["providers"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("link delivery") && text.contains("local"),
        "{text}"
    );
}

#[test]
fn help_lists_exit_codes() {
    let out = Sandbox::new().run(&["--help"]);
    let text = String::from_utf8_lossy(&out.stdout);
    for line in [
        "0  success",
        "2  bad input",
        "3  authentication",
        "4  the service",
        "5  local I/O",
    ] {
        assert!(text.contains(line), "{line:?} missing from --help");
    }
}

#[test]
fn ls_and_mkdir_find_what_to_download() {
    let sb = Sandbox::new();
    sb.file("x.txt", b"x marks the spot");
    let out = sb.run(&["mkdir", "inbox/2026"]);
    assert_eq!(
        out.status.code(),
        Some(4),
        "missing parent is the service's answer"
    );
    assert!(
        sb.run(&["mkdir", "--parents", "inbox/2026"])
            .status
            .success()
    );
    let out = sb.run(&["mkdir", "inbox/2026"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("exists already"));
    assert!(
        sb.run(&["mkdir", "-p", "inbox/2026"]).status.success(),
        "-p makes it a no-op"
    );
    assert!(
        sb.run(&["upload", "x.txt", "--to-folder", "inbox/2026"])
            .status
            .success()
    );

    let out = sb.run(&["--json", "ls", "inbox/2026"]);
    let doc = json(&out);
    let entries = doc["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0]["kind"], "file");
    let id = entries[0]["id"].as_str().unwrap().to_owned();
    std::fs::create_dir(sb.path().join("got")).unwrap();
    assert!(sb.run(&["download", &id, "-o", "got"]).status.success());
    assert_eq!(
        std::fs::read(sb.path().join("got/x.txt")).unwrap(),
        b"x marks the spot"
    );

    let text = String::from_utf8(sb.run(&["ls"]).stdout).unwrap();
    assert!(text.contains("dir ") && text.contains("inbox"), "{text}");
    let out = sb.run(&["ls", "../etc"]);
    assert_eq!(out.status.code(), Some(2));
}

/// Runs the command with `stdin`, killing it (and failing) if it has not ended in 30 s.
fn run_bounded(sb: &Sandbox, args: &[&str], stdin: std::process::Stdio) -> std::process::Output {
    let mut child = sb
        .cmd()
        .args(args)
        .stdin(stdin)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > std::time::Duration::from_secs(30) {
            let _ = child.kill();
            panic!("`securesend {}` hung", args.join(" "));
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    child.wait_with_output().unwrap()
}

/// Bodies, configuration and secret files are read under a cap: a FIFO, a device or a huge
/// file is refused with one line (exit 2) at once, never read into memory or waited on.
#[test]
fn every_small_file_the_command_reads_is_bounded() {
    let sb = Sandbox::new();
    sb.file("ok.txt", b"ok");
    nix::unistd::mkfifo(&sb.path().join("fifo"), nix::sys::stat::Mode::S_IRWXU).unwrap();
    let huge = std::fs::File::create(sb.path().join("huge.txt")).unwrap();
    huge.set_len(4 << 30).unwrap();
    sb.file(
        "fifo-secret.toml",
        b"[profiles.x]\nprovider = \"egroupware\"\nbase_url = \"http://127.0.0.1:9/\"\nusername = \"u\"\npassword = { file = \"fifo\" }\n",
    );
    let send = ["send", "--to", "ada@example.com", "ok.txt"];
    let with = |extra: &[&'static str]| -> Vec<&'static str> { [&send[..], extra].concat() };
    let cases: Vec<(&str, Vec<&str>, &str)> = vec![
        ("body from a FIFO", with(&["--body-file", "fifo"]), "FIFO"),
        (
            "body from /dev/zero",
            with(&["--body-file", "/dev/zero"]),
            "not a regular file",
        ),
        (
            "body over the cap",
            with(&["--body-file", "huge.txt"]),
            "limit",
        ),
        (
            "HTML body from a FIFO",
            with(&["--html-file", "fifo"]),
            "FIFO",
        ),
        (
            "configuration from a FIFO",
            [&["--config", "fifo"][..], &send].concat(),
            "FIFO",
        ),
        (
            "configuration from /dev/zero",
            [&["--config", "/dev/zero"][..], &send].concat(),
            "not a regular file",
        ),
        (
            "secret from a FIFO",
            [&["--config", "fifo-secret.toml"][..], &send].concat(),
            "FIFO",
        ),
    ];
    for (name, args, expect) in cases {
        let out = run_bounded(&sb, &args, std::process::Stdio::null());
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{name}: {err}");
        assert_eq!(err.lines().count(), 1, "{name}: {err}");
        assert!(err.contains(expect), "{name}: {expect:?} not in {err}");
    }
    // A body on standard input is capped too: /dev/zero never ends.
    let zero = std::fs::File::open("/dev/zero").unwrap();
    let out = run_bounded(&sb, &with(&["--body-file", "-"]), zero.into());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("standard input"), "{err}");
    assert!(!sb.data_dir().join("outbox").exists(), "nothing was sent");
}
