//! Reading small local files (configuration, secrets, message bodies) under a hard cap.
//!
//! Whatever the path names — a FIFO nobody writes to, `/dev/zero`, a 3 GiB log, a procfs file
//! that reports 0 bytes — the read neither blocks nor takes more than the cap in memory: the
//! file is opened without blocking, refused unless it is a regular file, refused when its size
//! is over the cap, and read only up to one byte past the cap (a file that grows while it is
//! read, or reports a size it does not have, is still bounded).

use std::fs::{Metadata, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;

use crate::error::{Error, ErrorKind, Result};

/// The largest configuration file read (`securesend.toml`): 1 MiB.
pub const MAX_CONFIG_FILE: u64 = 1 << 20;
/// The largest secret file read (`{ file = "…" }` in the configuration, token caches, keys):
/// 64 KiB.
pub const MAX_SECRET_FILE: u64 = 64 << 10;
/// The largest message body read from a file or standard input (text or HTML): 8 MiB.
pub const MAX_BODY_FILE: u64 = 8 << 20;
/// The largest CA certificate file read (`http.ca_files`): 4 MiB. A whole system bundle
/// (Mozilla's roots, about 150 certificates) is about 250 KiB; the cap leaves room for a
/// bundle many times that, and still refuses `/dev/zero` or a log file given by mistake.
pub const MAX_CA_FILE: u64 = 4 << 20;

/// What a small file is for: the words errors use for it, its cap, and the kind of error
/// that reports a problem with it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SmallFile {
    what: &'static str,
    cap: u64,
    kind: ErrorKind,
}

impl SmallFile {
    /// The configuration file ([`MAX_CONFIG_FILE`], configuration errors).
    pub const CONFIG: SmallFile = SmallFile::new(
        "configuration file",
        MAX_CONFIG_FILE,
        ErrorKind::Configuration,
    );
    /// A file holding a secret ([`MAX_SECRET_FILE`], configuration errors).
    pub const SECRET: SmallFile =
        SmallFile::new("secret file", MAX_SECRET_FILE, ErrorKind::Configuration);
    /// A plain-text body (`--body-file`; [`MAX_BODY_FILE`], invalid-input errors).
    pub const BODY: SmallFile = SmallFile::new("body file", MAX_BODY_FILE, ErrorKind::InvalidInput);
    /// An HTML body (`--html-file`; [`MAX_BODY_FILE`], invalid-input errors).
    pub const HTML_BODY: SmallFile =
        SmallFile::new("HTML body file", MAX_BODY_FILE, ErrorKind::InvalidInput);

    /// A PEM file of CA certificates (`http.ca_files`; [`MAX_CA_FILE`], configuration errors).
    pub const CA_FILE: SmallFile =
        SmallFile::new("CA certificate file", MAX_CA_FILE, ErrorKind::Configuration);

    /// Another kind of small file: `what` names it in errors ("private key file"), `cap` is
    /// the most bytes accepted, `kind` the kind of its errors.
    pub const fn new(what: &'static str, cap: u64, kind: ErrorKind) -> SmallFile {
        SmallFile { what, cap, kind }
    }

    /// How errors name this kind of file.
    pub fn what(&self) -> &'static str {
        self.what
    }

    /// The most bytes accepted.
    pub fn cap(&self) -> u64 {
        self.cap
    }

    /// The kind of the errors.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    fn fail(&self, message: String) -> Error {
        Error::new(self.kind, message)
    }
}

/// Reads a whole small file, following symbolic links (configuration files often are one).
///
/// Refused, with one line naming the path and what to do, before anything past the cap is
/// read: a path that does not exist or cannot be read, anything but a regular file (FIFO,
/// device, socket, directory), a file larger than `limit`'s cap, and a file that yields more
/// than the cap although it reported less (procfs, or growing while read).
///
/// ```
/// use securesend_core::file::{SmallFile, read_small_file};
///
/// let err = read_small_file("/dev/zero".as_ref(), SmallFile::BODY).unwrap_err();
/// assert!(err.is_invalid_input());
/// assert!(err.to_string().contains("is a character device, not a regular file"));
/// ```
pub fn read_small_file(path: &Path, limit: SmallFile) -> Result<Vec<u8>> {
    let shown = path.display();
    let what = limit.what;
    let cannot = |e: io::Error| {
        limit.fail(match e.kind() {
            io::ErrorKind::NotFound => format!("{what} {shown} does not exist; check the path"),
            io::ErrorKind::PermissionDenied => {
                format!("{what} {shown} cannot be read: permission denied")
            }
            _ => format!("{what} {shown} cannot be read: {e}"),
        })
    };
    // Checked before opening too: opening a device can have effects of its own (a tape
    // rewinds, a terminal becomes the controlling one).
    regular(&std::fs::metadata(path).map_err(cannot)?, path, limit)?;
    // O_NONBLOCK: should the path be swapped for a FIFO after the check, opening it still
    // returns at once, and the check below refuses it.
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .map_err(cannot)?;
    let meta = file.metadata().map_err(cannot)?;
    regular(&meta, path, limit)?;
    if meta.len() > limit.cap {
        let (size, cap) = (human_size(meta.len()), human_size(limit.cap));
        // "is 8 MiB; the limit is 8 MiB" would say nothing: then exact counts.
        let (size, cap) = if size == cap {
            (
                format!("{} bytes", meta.len()),
                format!("{} bytes", limit.cap),
            )
        } else {
            (size, cap)
        };
        return Err(limit.fail(format!(
            "{what} {shown} is {size}; the limit for a {what} is {cap}"
        )));
    }
    read_capped(file, limit, &format!("{what} {shown}")).map_err(|e| match e {
        Capped::Io(e) => cannot(e),
        Capped::Over(msg) => limit.fail(msg),
    })
}

/// [`read_small_file`] for text: a file that is not UTF-8 is refused with one line.
pub fn read_small_text(path: &Path, limit: SmallFile) -> Result<String> {
    let bytes = read_small_file(path, limit)?;
    into_text(bytes, limit, &format!("{} {}", limit.what, path.display()))
}

/// Reads at most `limit`'s cap from `reader` (standard input for a body given as `-`);
/// `shown` names the source in errors ("standard input"). More than the cap is refused after
/// reading one byte past it.
pub fn read_small_from(reader: impl Read, limit: SmallFile, shown: &str) -> Result<Vec<u8>> {
    let named = format!("the {} from {shown}", limit.what);
    read_capped(reader, limit, &named).map_err(|e| match e {
        Capped::Io(e) => limit.fail(format!("{named} cannot be read: {e}")),
        Capped::Over(msg) => limit.fail(msg),
    })
}

/// [`read_small_from`] for text: input that is not UTF-8 is refused with one line.
pub fn read_small_text_from(reader: impl Read, limit: SmallFile, shown: &str) -> Result<String> {
    let bytes = read_small_from(reader, limit, shown)?;
    into_text(bytes, limit, &format!("the {} from {shown}", limit.what))
}

fn regular(meta: &Metadata, path: &Path, limit: SmallFile) -> Result<()> {
    let t = meta.file_type();
    let is = if t.is_file() {
        return Ok(());
    } else if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a FIFO (named pipe)"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else if t.is_socket() {
        "a socket"
    } else {
        "a special file"
    };
    Err(limit.fail(format!(
        "{} {} is {is}, not a regular file; give an ordinary file",
        limit.what,
        path.display()
    )))
}

enum Capped {
    Io(io::Error),
    Over(String),
}

/// Reads to the end, but never more than one byte past the cap.
fn read_capped(reader: impl Read, limit: SmallFile, named: &str) -> Result<Vec<u8>, Capped> {
    let mut out = Vec::new();
    let read = reader
        .take(limit.cap.saturating_add(1))
        .read_to_end(&mut out);
    match read {
        Ok(_) if out.len() as u64 > limit.cap => Err(Capped::Over(format!(
            "{named} holds more than the {} limit for a {} (it grew while it was read, or it is not a regular file with a stable size); give a smaller ordinary file",
            human_size(limit.cap),
            limit.what
        ))),
        Ok(_) => Ok(out),
        Err(e) => Err(Capped::Io(e)),
    }
}

fn into_text(bytes: Vec<u8>, limit: SmallFile, named: &str) -> Result<String> {
    String::from_utf8(bytes).map_err(|e| {
        limit.fail(format!(
            "{named} is not UTF-8 text (invalid byte at offset {}); save it as UTF-8",
            e.utf8_error().valid_up_to()
        ))
    })
}

/// A size for people: whole bytes below 1 KiB, else binary units with one decimal where it
/// is not a whole number ("1 MiB", "3.2 GiB").
pub(crate) fn human_size(n: u64) -> String {
    const UNITS: [&str; 6] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    if n < 1024 {
        return format!("{n} bytes");
    }
    let mut value = n as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    let tenths = (value * 10.0).round() / 10.0;
    if tenths.fract() == 0.0 {
        format!("{tenths:.0} {}", UNITS[unit])
    } else {
        format!("{tenths:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_as_people_say_them() {
        for (n, shown) in [
            (0, "0 bytes"),
            (1023, "1023 bytes"),
            (1024, "1 KiB"),
            (4198, "4.1 KiB"),
            (1 << 20, "1 MiB"),
            (3_435_973_837, "3.2 GiB"),
            (u64::MAX, "16 EiB"),
        ] {
            assert_eq!(human_size(n), shown, "{n}");
        }
    }

    #[test]
    fn a_reader_is_read_one_byte_past_the_cap_and_no_further() {
        let limit = SmallFile::new("body file", 10, ErrorKind::InvalidInput);
        assert_eq!(
            read_small_from(&b"0123456789"[..], limit, "standard input").unwrap(),
            b"0123456789"
        );
        // An endless source: `repeat` would never end, so any read past cap + 1 would hang.
        let mut endless = io::repeat(b'x');
        let err = read_small_from(&mut endless, limit, "standard input").unwrap_err();
        assert!(err.is_invalid_input(), "{err}");
        assert_eq!(
            err.to_string(),
            "invalid input: the body file from standard input holds more than the 10 bytes limit for a body file (it grew while it was read, or it is not a regular file with a stable size); give a smaller ordinary file"
        );
        let err = read_small_text_from(&b"caf\xe9"[..], limit, "standard input").unwrap_err();
        assert!(
            err.to_string()
                .contains("is not UTF-8 text (invalid byte at offset 3)"),
            "{err}"
        );
    }
}
