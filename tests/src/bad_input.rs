//! Bad input: every case is refused with a one-line error that names what to fix, and leaves
//! no trace on the service.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;

use securesend::{
    Attachment, DownloadRequest, Error, ErrorKind, Expiry, MessageBuilder, Result, SecureMessage,
    UploadRequest,
};

use crate::{Target, TestFiles};

type Case<'a> = Pin<Box<dyn Future<Output = Result<()>> + Send + 'a>>;

/// One bad input: its name, the kind of error, words the message must contain (the field or
/// file to fix), and the call.
struct BadCase<'a> {
    name: &'static str,
    kind: ErrorKind,
    names: String,
    call: Case<'a>,
}

fn message_case<'a>(
    target: &'a Target,
    build: impl FnOnce() -> Result<SecureMessage> + Send + 'a,
) -> Case<'a> {
    Box::pin(async move {
        let msg = build()?;
        target.provider.send(msg).await.map(|_| ())
    })
}

fn upload_case<'a>(
    target: &'a Target,
    build: impl FnOnce() -> Result<UploadRequest> + Send + 'a,
) -> Case<'a> {
    Box::pin(async move {
        let req = build()?;
        target.provider.upload(req).await.map(|_| ())
    })
}

fn download_case<'a>(target: &'a Target, id: &'static str) -> Case<'a> {
    Box::pin(async move {
        target
            .provider
            .download(DownloadRequest::new(id))
            .await
            .map(|_| ())
    })
}

/// An invalid-input case.
fn case<'a>(name: &'static str, names: &str, call: Case<'a>) -> BadCase<'a> {
    BadCase {
        name,
        kind: ErrorKind::InvalidInput,
        names: names.to_owned(),
        call,
    }
}

fn to_one() -> MessageBuilder {
    SecureMessage::builder()
        .to("ada@example.com")
        .subject("bad input")
}

fn attach(path: &Path) -> MessageBuilder {
    to_one().attach(Attachment::from_path(path))
}

/// A file nobody can read, even root: two symbolic links pointing at each other
/// (opening fails with "too many levels of symbolic links" whatever the privileges).
fn symlink_loop(dir: &TestFiles) -> PathBuf {
    let a = dir.path().join("loop-a.txt");
    let b = dir.path().join("loop-b.txt");
    std::os::unix::fs::symlink(&b, &a).expect("symlink a -> b");
    std::os::unix::fs::symlink(&a, &b).expect("symlink b -> a");
    a
}

/// A file with mode 000, or `None` when this process reads it anyway (root, or
/// CAP_DAC_OVERRIDE): then permissions cannot make a file unreadable and the symlink-loop
/// case stands in for it.
pub(crate) fn mode_000_file(dir: &Path, name: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(name);
    std::fs::write(&path, b"secret").expect("write the unreadable file");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o000)).expect("chmod 000");
    if std::fs::File::open(&path).is_ok() {
        eprintln!("running privileged: a mode-000 file is readable, so that case is left out");
        return None;
    }
    Some(path)
}

/// Runs the bad-input matrix: each case must fail with the expected kind, say so on one line
/// that names the field or file to fix, and leave the service's records unchanged. Returns how
/// many cases ran.
pub async fn bad_input_matrix(target: &Target) -> usize {
    let caps = target.provider.capabilities().clone();
    let dir = TestFiles::new();
    let good = dir.create("good.txt", 10);
    let empty = dir.create("empty.txt", 0);
    let sub = dir.subdir("a-directory");
    let missing = dir.path().join("missing.pdf");
    let looped = symlink_loop(&dir);
    let unreadable = mode_000_file(dir.path(), "unreadable.txt");
    let long_name = format!("{}.txt", "x".repeat(300));
    // A date long past, parsed as a user would type it.
    let past = Expiry::parse("2020-01-31").expect("a well-formed date");

    let t = target;
    let mut cases: Vec<BadCase<'_>> = vec![
        case(
            "no recipients",
            "no recipients",
            message_case(t, || SecureMessage::builder().subject("x").build()),
        ),
        case(
            "malformed address",
            "to: address \"not-an-address\"",
            message_case(t, || SecureMessage::builder().to("not-an-address").build()),
        ),
        case(
            "empty address",
            "to: empty address",
            message_case(t, || SecureMessage::builder().to("").build()),
        ),
        case(
            "CR/LF in address",
            "to: address",
            message_case(t, || {
                SecureMessage::builder()
                    .to("a@example.com\r\nBcc: eve@example.com")
                    .build()
            }),
        ),
        case(
            "CR/LF in cc",
            "cc: address",
            message_case(t, || to_one().cc("c@example.com\r\nX-Evil: 1").build()),
        ),
        case(
            "LF in bcc",
            "bcc: address",
            message_case(t, || to_one().bcc("b@example.com\nX-Evil: 1").build()),
        ),
        case(
            "malformed reply-to",
            "reply-to: address",
            message_case(t, || to_one().reply_to("r@").build()),
        ),
        case(
            "CR/LF in from",
            "from: address",
            message_case(t, || {
                to_one()
                    .from("me@example.com\r\nBcc: eve@example.com")
                    .build()
            }),
        ),
        case(
            "CR/LF in subject",
            "subject",
            message_case(t, || to_one().subject("hi\r\nBcc: eve@example.com").build()),
        ),
        case(
            "escape character in subject",
            "subject",
            message_case(t, || to_one().subject("hi \u{1b}[2J").build()),
        ),
        case(
            "NUL in text body",
            "text body",
            message_case(t, || to_one().text("a\0b").build()),
        ),
        case(
            "missing file",
            "missing.pdf",
            message_case(t, || attach(&missing).build()),
        ),
        case(
            "file in a symlink loop",
            "loop-a.txt",
            message_case(t, || attach(&looped).build()),
        ),
        case(
            "device as file",
            "/dev/null",
            message_case(t, || attach(Path::new("/dev/null")).build()),
        ),
        case(
            "directory as file",
            "a-directory",
            message_case(t, || attach(&sub).build()),
        ),
        case(
            "slash in name",
            "a/b.txt",
            message_case(t, || {
                to_one()
                    .attach(Attachment::from_path(&good).with_name("a/b.txt"))
                    .build()
            }),
        ),
        case(
            "backslash in name",
            "path separator",
            message_case(t, || {
                to_one()
                    .attach(Attachment::from_path(&good).with_name("..\\b.txt"))
                    .build()
            }),
        ),
        case(
            "dot-dot name",
            "file name \"..\"",
            message_case(t, || {
                to_one()
                    .attach(Attachment::from_path(&good).with_name(".."))
                    .build()
            }),
        ),
        case(
            "NUL in name",
            "control character",
            message_case(t, || {
                to_one()
                    .attach(Attachment::from_path(&good).with_name("a\0b.txt"))
                    .build()
            }),
        ),
        case(
            "CR/LF in name",
            "control character",
            message_case(t, || {
                to_one()
                    .attach(Attachment::from_path(&good).with_name("a\r\nb.txt"))
                    .build()
            }),
        ),
        case(
            "empty name",
            "file name is empty",
            message_case(t, || {
                to_one()
                    .attach(Attachment::from_path(&good).with_name(""))
                    .build()
            }),
        ),
        case(
            "name with trailing space",
            "white space",
            message_case(t, || {
                to_one()
                    .attach(Attachment::from_path(&good).with_name("report.pdf "))
                    .build()
            }),
        ),
        case(
            "name over 255 bytes",
            "255 bytes",
            message_case(t, || {
                to_one()
                    .attach(Attachment::from_path(&good).with_name(long_name.as_str()))
                    .build()
            }),
        ),
        case(
            "right-to-left override in name",
            "file name \"inv\\u{202e}fdp.exe\" contains the invisible character U+202E RIGHT-TO-LEFT OVERRIDE",
            message_case(t, || {
                to_one()
                    .attach(Attachment::from_path(&good).with_name("inv\u{202E}fdp.exe"))
                    .build()
            }),
        ),
        case(
            "zero-width space in name",
            "U+200B ZERO WIDTH SPACE",
            message_case(t, || {
                to_one()
                    .attach(Attachment::from_path(&good).with_name("report\u{200B}.pdf"))
                    .build()
            }),
        ),
        case(
            "soft hyphen in name",
            "U+00AD SOFT HYPHEN",
            message_case(t, || {
                to_one()
                    .attach(Attachment::from_path(&good).with_name("in\u{AD}voice.pdf"))
                    .build()
            }),
        ),
        case(
            "zero-width joiner outside a word in name",
            "U+200D ZERO WIDTH JOINER outside a word",
            message_case(t, || {
                to_one()
                    .attach(Attachment::from_path(&good).with_name("a\u{200D}b.txt"))
                    .build()
            }),
        ),
        case(
            "Hangul filler in name",
            "U+3164 HANGUL FILLER",
            message_case(t, || {
                to_one()
                    .attach(Attachment::from_path(&good).with_name("report\u{3164}.pdf"))
                    .build()
            }),
        ),
        case(
            "variation selector with nothing visible before it in name",
            "U+FE0F VARIATION SELECTOR-16 with no visible character before it",
            message_case(t, || {
                to_one()
                    .attach(Attachment::from_path(&good).with_name("\u{FE0F}report.pdf"))
                    .build()
            }),
        ),
        case(
            "blank Braille pattern in uploaded name",
            "U+2800 BRAILLE PATTERN BLANK",
            upload_case(t, || {
                UploadRequest::builder(Attachment::from_path(&good).with_name("report\u{2800}.pdf"))
                    .build()
            }),
        ),
        case(
            "right-to-left override in uploaded name",
            "U+202E RIGHT-TO-LEFT OVERRIDE",
            upload_case(t, || {
                UploadRequest::builder(Attachment::from_path(&good).with_name("inv\u{202E}fdp.exe"))
                    .build()
            }),
        ),
        case(
            "isolate in upload folder",
            "U+2067 RIGHT-TO-LEFT ISOLATE",
            upload_case(t, || {
                UploadRequest::builder(Attachment::from_path(&good))
                    .folder("in\u{2067}box")
                    .build()
            }),
        ),
        case(
            "right-to-left override in subject",
            "subject contains the invisible character U+202E RIGHT-TO-LEFT OVERRIDE",
            message_case(t, || to_one().subject("Invoice \u{202E}fdp.exe").build()),
        ),
        case(
            "embedding in display name",
            "to: display name",
            message_case(t, || {
                SecureMessage::builder()
                    .to("\"Bank \u{202B}x\" <ada@example.com>")
                    .build()
            }),
        ),
        case(
            "non-ASCII user part",
            "needs SMTPUTF8",
            message_case(t, || {
                SecureMessage::builder().to("jürgen@example.com").build()
            }),
        ),
        case(
            "invalid internationalised domain",
            "not a valid internationalised domain",
            message_case(t, || to_one().cc("ada@xn--zz.example").build()),
        ),
        case(
            "CR/LF in content type",
            "content type",
            message_case(t, || {
                to_one()
                    .attach(
                        Attachment::from_path(&good).with_content_type("text/plain\r\nX-Evil: 1"),
                    )
                    .build()
            }),
        ),
        case(
            "zero-day expiry",
            "expiry",
            message_case(t, || to_one().expires(Expiry::Days(0)).build()),
        ),
        case(
            "expiry in the past",
            "not in the future",
            message_case(t, move || to_one().expires(past).build()),
        ),
        case(
            "empty password",
            "password",
            message_case(t, || to_one().password("").build()),
        ),
        case(
            "upload of missing file",
            "missing.pdf",
            upload_case(t, || {
                UploadRequest::builder(Attachment::from_path(&missing)).build()
            }),
        ),
        case(
            "upload of directory",
            "a-directory",
            upload_case(t, || {
                UploadRequest::builder(Attachment::from_path(&sub)).build()
            }),
        ),
        case(
            "upload to ../ folder",
            "folder \"../up\"",
            upload_case(t, || {
                UploadRequest::builder(Attachment::from_path(&good))
                    .folder("../up")
                    .build()
            }),
        ),
        case(
            "upload to folder with LF",
            "folder \"in\\nbox\"",
            upload_case(t, || {
                UploadRequest::builder(Attachment::from_path(&good))
                    .folder("in\nbox")
                    .build()
            }),
        ),
        case(
            "download of blank id",
            "file id \" \"",
            download_case(t, " "),
        ),
        case(
            "download of id with newline",
            "file id \"a\\nb\"",
            download_case(t, "a\nb"),
        ),
    ];

    // Pseudo-files report a size they do not hold: procfs 0 bytes, sysfs 4096.
    for (name, path) in [
        ("procfs file (reports 0 bytes)", "/proc/self/status"),
        (
            "sysfs file (reports 4096 bytes)",
            "/sys/devices/system/cpu/online",
        ),
    ] {
        if Path::new(path).exists() {
            cases.push(case(
                name,
                path,
                message_case(t, move || attach(Path::new(path)).build()),
            ));
        } else {
            eprintln!("{path} is not here: the case `{name}` is left out");
        }
    }
    if let Some(path) = unreadable {
        cases.push(case(
            "unreadable file (mode 000)",
            "unreadable.txt",
            message_case(t, move || attach(&path).build()),
        ));
    }
    if !caps.empty_files {
        // A provider that cannot send at all refuses the message for that first.
        let (kind, names) = if caps.send {
            (ErrorKind::InvalidInput, "empty.txt is empty")
        } else {
            (ErrorKind::Unsupported, "cannot send")
        };
        cases.push(BadCase {
            name: "zero-byte file",
            kind,
            names: names.to_owned(),
            call: message_case(t, || attach(&empty).build()),
        });
    }
    if let Some(max) = caps.max_file_size {
        // One byte over the provider's own limit, as its capabilities state it.
        let big = dir.create("too-big.bin", max + 1);
        cases.push(case(
            "oversize file",
            &format!(
                "too-big.bin is {} bytes, larger than the {max}-byte limit",
                max + 1
            ),
            upload_case(t, move || {
                UploadRequest::builder(Attachment::from_path(&big)).build()
            }),
        ));
    }

    let count = cases.len();
    let provider = target.provider.name().to_owned();
    for BadCase {
        name,
        kind,
        names,
        call,
    } in cases
    {
        let before = target.observer.fingerprint().await;
        let err: Error = match call.await {
            Ok(()) => panic!("{provider}: bad input `{name}` was accepted"),
            Err(e) => e,
        };
        let line = err.to_string();
        assert_eq!(err.kind(), kind, "{name}: {line}");
        assert!(
            !line.contains('\n') && !line.contains('\r'),
            "{name}: multi-line error {line:?}"
        );
        assert!(
            line.contains(names.as_str()),
            "{name}: {line:?} does not name {names:?}"
        );
        let after = target.observer.fingerprint().await;
        assert_eq!(before, after, "{name}: the service recorded something");
    }
    eprintln!("{provider}: {count} bad-input cases refused before any request");
    count
}

/// A file whose size changes after it was checked (a reader yielding more or fewer bytes than
/// it declared, as a file being written or a pseudo-file does): sending and uploading it fail
/// with one permanent integrity error that says to copy the file to an ordinary one — never a
/// retryable error, never "the service may have processed the request". Returns how many
/// cases ran (send and upload, each as far as the provider can).
pub async fn size_changes(target: &Target) -> usize {
    let caps = target.provider.capabilities().clone();
    let provider = target.provider.name().to_owned();
    let lying = |grew: bool| {
        let (name, held) = if grew {
            ("grew.bin", 5_000)
        } else {
            ("shrank.bin", 3_000)
        };
        Attachment::from_reader(name, std::io::Cursor::new(vec![7u8; held]), 4_000)
    };
    let mut count = 0;
    for grew in [true, false] {
        let word = if grew { "grew" } else { "shrank" };
        let mut results: Vec<(&str, Result<()>)> = Vec::new();
        if caps.upload {
            let req = UploadRequest::builder(lying(grew)).build();
            let r = match req {
                Ok(req) => target.provider.upload(req).await.map(|_| ()),
                Err(e) => Err(e),
            };
            results.push(("upload", r));
        }
        if caps.send {
            let msg = to_one().attach(lying(grew)).build();
            let r = match msg {
                Ok(msg) => target.provider.send(msg).await.map(|_| ()),
                Err(e) => Err(e),
            };
            results.push(("send", r));
        }
        for (op, r) in results {
            let err = r.expect_err("a file whose size changed was accepted");
            let line = err.to_string();
            assert_eq!(err.kind(), ErrorKind::Integrity, "{provider} {op}: {line}");
            assert!(
                !err.is_retryable() && !err.outcome_unknown(),
                "{provider} {op}: {line}"
            );
            assert!(!line.contains('\n'), "{provider} {op}: {line:?}");
            for needle in [
                &format!("{word} after it was checked (4000 bytes then"),
                "copy it to an ordinary file and send that",
            ] {
                assert!(line.contains(needle), "{provider} {op}: {line:?}");
            }
            count += 1;
        }
    }
    count
}
