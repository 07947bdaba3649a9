//! Every small local file (configuration, secret files, bodies) is read under a cap: a FIFO, a
//! device, a huge or endless file is refused with one line of the right kind, and never hangs
//! or fills memory.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use securesend_core::config::ConfigFile;
use securesend_core::file::{
    MAX_CONFIG_FILE, MAX_SECRET_FILE, SmallFile, read_small_file, read_small_text,
};
use securesend_core::{Error, ErrorKind, SecretRef};

/// Runs `f` on its own thread and fails the test if it has not returned within five seconds
/// (a FIFO opened for reading without a writer would block for ever).
fn within<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(Duration::from_secs(5)) {
        Ok(out) => out,
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("{what}: still reading after 5 s"),
        Err(mpsc::RecvTimeoutError::Disconnected) => panic!("{what}: the reader panicked"),
    }
}

fn fifo(dir: &Path) -> PathBuf {
    let path = dir.join("pipe");
    nix::unistd::mkfifo(&path, nix::sys::stat::Mode::from_bits_truncate(0o600)).expect("mkfifo");
    path
}

/// A sparse file of `len` bytes: its size is real, its blocks are not.
fn sparse(dir: &Path, name: &str, len: u64) -> PathBuf {
    let path = dir.join(name);
    std::fs::File::create(&path).unwrap().set_len(len).unwrap();
    path
}

fn one_line(err: &Error, kind: ErrorKind, needles: &[&str]) {
    let line = err.to_string();
    assert_eq!(err.kind(), kind, "{line}");
    assert!(!line.contains('\n'), "{line:?}");
    for n in needles {
        assert!(line.contains(n), "{line:?} does not say {n:?}");
    }
}

/// The bad files every reader must refuse, with what the refusal must say.
fn bad_files(dir: &Path, cap: u64) -> Vec<(PathBuf, Vec<&'static str>)> {
    vec![
        (
            fifo(dir),
            vec!["pipe", "is a FIFO (named pipe), not a regular file"],
        ),
        (
            PathBuf::from("/dev/zero"),
            vec!["/dev/zero", "is a character device, not a regular file"],
        ),
        (
            PathBuf::from("/dev/null"),
            vec!["/dev/null", "is a character device, not a regular file"],
        ),
        (
            dir.to_path_buf(),
            vec!["is a directory, not a regular file"],
        ),
        (
            sparse(dir, "huge.bin", 3_435_973_837),
            vec!["huge.bin is 3.2 GiB; the limit"],
        ),
        (
            sparse(dir, "one-over.bin", cap + 1),
            vec!["one-over.bin is"],
        ),
        (dir.join("absent.txt"), vec!["absent.txt does not exist"]),
    ]
}

#[test]
fn the_helper_refuses_what_is_not_a_small_regular_file() {
    let dir = tempfile::tempdir().unwrap();
    for (path, needles) in bad_files(dir.path(), SmallFile::BODY.cap()) {
        let shown = path.display().to_string();
        let err = within(&shown, move || {
            read_small_file(&path, SmallFile::BODY).expect_err("refused")
        });
        one_line(&err, ErrorKind::InvalidInput, &needles);
    }
    // The body cap itself is what the caps say, byte for byte.
    let at_cap = sparse(dir.path(), "at-cap.txt", SmallFile::BODY.cap());
    assert_eq!(
        read_small_file(&at_cap, SmallFile::BODY).unwrap().len() as u64,
        SmallFile::BODY.cap()
    );
    let over = sparse(dir.path(), "over.txt", SmallFile::BODY.cap() + 1);
    let err = read_small_file(&over, SmallFile::BODY).unwrap_err();
    one_line(
        &err,
        ErrorKind::InvalidInput,
        &["over.txt is 8388609 bytes; the limit for a body file is 8388608 bytes"],
    );
}

#[test]
fn a_file_reporting_less_than_it_holds_is_read_only_one_byte_past_the_cap() {
    // procfs reports 0 bytes for /proc/self/status, which holds about 1.4 KiB.
    let path = Path::new("/proc/self/status");
    assert_eq!(std::fs::metadata(path).unwrap().len(), 0);
    let small = SmallFile::new("status file", 100, ErrorKind::InvalidInput);
    let err = read_small_file(path, small).unwrap_err();
    one_line(
        &err,
        ErrorKind::InvalidInput,
        &["/proc/self/status holds more than the 100 bytes limit for a status file"],
    );
    // Under a cap it fits, it is read whole although it reports 0 bytes.
    let text = read_small_text(path, SmallFile::BODY).unwrap();
    assert!(text.starts_with("Name:"), "{text:?}");
}

#[test]
fn text_that_is_not_utf8_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("latin1.txt");
    std::fs::write(&path, b"Gr\xfc\xdfe").unwrap();
    let err = read_small_text(&path, SmallFile::HTML_BODY).unwrap_err();
    one_line(
        &err,
        ErrorKind::InvalidInput,
        &[
            "HTML body file",
            "latin1.txt is not UTF-8 text (invalid byte at offset 2)",
        ],
    );
    assert_eq!(
        read_small_file(&path, SmallFile::HTML_BODY).unwrap().len(),
        5
    );
}

#[test]
fn the_configuration_file_is_bounded() {
    let dir = tempfile::tempdir().unwrap();
    for (path, needles) in bad_files(dir.path(), MAX_CONFIG_FILE) {
        let shown = path.display().to_string();
        let err = within(&shown, move || {
            ConfigFile::load(&path).expect_err("refused")
        });
        one_line(&err, ErrorKind::Configuration, &needles);
        assert!(err.to_string().contains("configuration file"), "{err}");
    }
    let latin1 = dir.path().join("latin1.toml");
    std::fs::write(&latin1, b"# Gr\xfc\xdfe\n").unwrap();
    one_line(
        &ConfigFile::load(&latin1).unwrap_err(),
        ErrorKind::Configuration,
        &["latin1.toml is not UTF-8 text"],
    );
    // Through a symbolic link, as configuration files often are.
    let real = dir.path().join("real.toml");
    std::fs::write(&real, "[profiles.a]\nprovider = \"local\"\n").unwrap();
    let link = dir.path().join("link.toml");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let f = ConfigFile::load(&link).unwrap();
    assert_eq!(f.profile_names().collect::<Vec<_>>(), ["a"]);
}

#[test]
fn secret_files_are_bounded() {
    let dir = tempfile::tempdir().unwrap();
    for (path, needles) in bad_files(dir.path(), MAX_SECRET_FILE) {
        let shown = path.display().to_string();
        let err = within(&shown, move || {
            SecretRef::File(path)
                .resolve("client_secret", Path::new("/"))
                .expect_err("refused")
        });
        one_line(&err, ErrorKind::Configuration, &needles);
        assert!(
            err.to_string()
                .contains("secret `client_secret`: secret file"),
            "{err}"
        );
    }
    let over = sparse(dir.path(), "big-secret", MAX_SECRET_FILE + 1);
    let err = SecretRef::File(over)
        .resolve("pin", dir.path())
        .unwrap_err();
    one_line(
        &err,
        ErrorKind::Configuration,
        &["big-secret is 65537 bytes; the limit for a secret file is 65536 bytes"],
    );
    let latin1 = dir.path().join("latin1-secret");
    std::fs::write(&latin1, b"p\xe4ss\n").unwrap();
    let err = SecretRef::File("latin1-secret".into())
        .resolve("pin", dir.path())
        .unwrap_err();
    one_line(&err, ErrorKind::Configuration, &["is not UTF-8 text"]);
    // A secret at the cap is read.
    let at_cap = dir.path().join("at-cap");
    std::fs::write(&at_cap, "k".repeat(MAX_SECRET_FILE as usize)).unwrap();
    let s = SecretRef::File(at_cap).resolve("pin", dir.path()).unwrap();
    assert_eq!(s.expose().len() as u64, MAX_SECRET_FILE);
}
