//! Files to send or upload: where the bytes come from, their name, type and size; and
//! [`read_small_file`], the bounded reader of every small local file (configuration, secrets,
//! message bodies).

use std::fmt;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use tokio::io::AsyncRead;

use crate::error::{Error, Result};
use crate::names::validate_file_name;

mod size;
mod small;

use size::ExactReader;
pub use size::read_error;
pub(crate) use size::{Found, size_change_in, size_changed};
pub use small::{
    MAX_BODY_FILE, MAX_CA_FILE, MAX_CONFIG_FILE, MAX_SECRET_FILE, SmallFile, read_small_file,
    read_small_from, read_small_text, read_small_text_from,
};

/// A boxed byte reader.
pub type BoxReader = Box<dyn AsyncRead + Send + Unpin>;

/// Where a file's bytes come from.
///
/// Paths and in-memory bytes can be read any number of times (so a failed upload can start
/// again); a reader can be read once.
#[derive(Clone)]
pub struct FileSource {
    kind: SourceKind,
}

#[derive(Clone)]
enum SourceKind {
    Path(PathBuf),
    Bytes(Bytes),
    Reader {
        reader: Arc<Mutex<Option<BoxReader>>>,
        len: u64,
    },
}

impl FileSource {
    /// A file on this machine, read when it is sent.
    pub fn path(path: impl Into<PathBuf>) -> Self {
        FileSource {
            kind: SourceKind::Path(path.into()),
        }
    }

    /// Bytes already in memory.
    pub fn bytes(bytes: impl Into<Bytes>) -> Self {
        FileSource {
            kind: SourceKind::Bytes(bytes.into()),
        }
    }

    /// An async reader that yields exactly `len` bytes; it can be read once.
    pub fn reader(reader: impl AsyncRead + Send + Unpin + 'static, len: u64) -> Self {
        FileSource {
            kind: SourceKind::Reader {
                reader: Arc::new(Mutex::new(Some(Box::new(reader)))),
                len,
            },
        }
    }

    /// The local path, when the source is a file.
    pub fn as_path(&self) -> Option<&Path> {
        match &self.kind {
            SourceKind::Path(p) => Some(p),
            _ => None,
        }
    }

    /// Whether the bytes can be read again after a failed attempt.
    pub fn is_replayable(&self) -> bool {
        !matches!(self.kind, SourceKind::Reader { .. })
    }

    /// Checks the source without reading it and returns its size: a path must name a readable
    /// regular file. Errors are invalid input naming the path and what to fix.
    pub fn inspect(&self) -> Result<u64> {
        match &self.kind {
            SourceKind::Bytes(b) => Ok(b.len() as u64),
            SourceKind::Reader { reader, len } => {
                if reader.lock().map(|r| r.is_none()).unwrap_or(true) {
                    return Err(consumed());
                }
                Ok(*len)
            }
            SourceKind::Path(path) => {
                let shown = path.display();
                let meta = std::fs::metadata(path).map_err(|e| match e.kind() {
                    io::ErrorKind::NotFound => {
                        Error::invalid_input(format!("file {shown} does not exist; check the path"))
                    }
                    io::ErrorKind::PermissionDenied => Error::invalid_input(format!(
                        "file {shown} cannot be read: permission denied"
                    )),
                    _ => Error::invalid_input(format!("file {shown} cannot be read: {e}")),
                })?;
                if meta.is_dir() {
                    return Err(Error::invalid_input(format!(
                        "{shown} is a directory; give the files inside it"
                    )));
                }
                if !meta.is_file() {
                    return Err(Error::invalid_input(format!(
                        "{shown} is not a regular file (device, pipe or socket); give a regular file"
                    )));
                }
                // Opening proves readability now, before anything is sent.
                let file = std::fs::File::open(path).map_err(|e| {
                    Error::invalid_input(format!("file {shown} cannot be read: {e}"))
                })?;
                let size = meta.len();
                if size <= READ_WHEN_CHECKED {
                    confirm_size(file, path, size)?;
                }
                Ok(size)
            }
        }
    }

    /// How errors name the source: the path, or the data given for `name`.
    fn label(&self, name: &str) -> String {
        match &self.kind {
            SourceKind::Path(p) => format!("file {}", p.display()),
            _ => format!("the data given for {name}"),
        }
    }

    /// Opens the bytes for reading. The reader yields exactly `expected_len` bytes or fails
    /// with an integrity error (the file changed after it was checked; see [`read_error`]).
    pub async fn open(&self, expected_len: u64) -> Result<BoxReader> {
        self.open_as(expected_len, self.label("the attachment"))
            .await
    }

    async fn open_as(&self, expected_len: u64, label: String) -> Result<BoxReader> {
        let inner: BoxReader = match &self.kind {
            SourceKind::Path(path) => Box::new(open_path(path).await?),
            SourceKind::Bytes(b) => Box::new(io::Cursor::new(b.clone())),
            SourceKind::Reader { reader, .. } => reader
                .lock()
                .map_err(|_| consumed())?
                .take()
                .ok_or_else(consumed)?,
        };
        Ok(Box::new(ExactReader::new(inner, expected_len, label)))
    }
}

/// Files up to this size are read whole when checked: a file whose reported size is not what
/// it holds (procfs reports 0 bytes, sysfs 4096) is then refused before anything is sent, and
/// an empty file is known to be empty. Larger files are checked as they are read.
const READ_WHEN_CHECKED: u64 = 64 << 10;

/// Reads a small file once, to confirm it holds exactly the `size` bytes it reports.
fn confirm_size(file: std::fs::File, path: &Path, size: u64) -> Result<()> {
    let shown = path.display();
    let mut held = Vec::with_capacity(size as usize + 1);
    file.take(size + 1)
        .read_to_end(&mut held)
        .map_err(|e| Error::invalid_input(format!("file {shown} cannot be read: {e}")))?;
    let held = held.len() as u64;
    if held == size {
        return Ok(());
    }
    let holds = if held > size {
        "more".to_owned()
    } else {
        held.to_string()
    };
    Err(Error::invalid_input(format!(
        "file {shown} reports {size} bytes but holds {holds}: it is not a regular file with a stable size (procfs, sysfs, or it is changing); copy it to an ordinary file and send that"
    )))
}

/// Opens a file to read its bytes; the error names the path.
pub(crate) async fn open_path(path: &Path) -> Result<tokio::fs::File> {
    tokio::fs::File::open(path)
        .await
        .map_err(|e| Error::io(format!("opening {}", path.display()), e))
}

fn consumed() -> Error {
    Error::invalid_input(
        "this reader source was already read; use a path or bytes source to send it again",
    )
}

impl fmt::Debug for FileSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            SourceKind::Path(p) => f.debug_tuple("Path").field(p).finish(),
            SourceKind::Bytes(b) => write!(f, "Bytes({} bytes)", b.len()),
            SourceKind::Reader { len, .. } => write!(f, "Reader({len} bytes)"),
        }
    }
}

/// A file to send or upload: its source, the name the recipient sees, and its content type.
///
/// ```
/// use securesend_core::Attachment;
///
/// let a = Attachment::from_bytes("notes.txt", "hello");
/// assert_eq!(a.name(), "notes.txt");
/// assert_eq!(a.content_type(), "text/plain");
/// ```
#[derive(Clone, Debug)]
pub struct Attachment {
    source: FileSource,
    name: Option<String>,
    content_type: Option<String>,
}

impl Attachment {
    /// A file on disk; the name defaults to the path's file name.
    pub fn from_path(path: impl Into<PathBuf>) -> Self {
        Attachment {
            source: FileSource::path(path),
            name: None,
            content_type: None,
        }
    }

    /// Bytes in memory under `name`.
    pub fn from_bytes(name: impl Into<String>, bytes: impl Into<Bytes>) -> Self {
        Attachment {
            source: FileSource::bytes(bytes),
            name: Some(name.into()),
            content_type: None,
        }
    }

    /// A reader of exactly `len` bytes under `name` (can be read once).
    pub fn from_reader(
        name: impl Into<String>,
        reader: impl AsyncRead + Send + Unpin + 'static,
        len: u64,
    ) -> Self {
        Attachment {
            source: FileSource::reader(reader, len),
            name: Some(name.into()),
            content_type: None,
        }
    }

    /// Any source under `name`.
    pub fn new(name: impl Into<String>, source: FileSource) -> Self {
        Attachment {
            source,
            name: Some(name.into()),
            content_type: None,
        }
    }

    /// Sets the name the recipient sees.
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Sets the content type instead of guessing it from the name.
    pub fn with_content_type(mut self, content_type: impl Into<String>) -> Self {
        self.content_type = Some(content_type.into());
        self
    }

    /// Where the bytes come from.
    pub fn source(&self) -> &FileSource {
        &self.source
    }

    /// The name the recipient sees.
    pub fn name(&self) -> &str {
        if let Some(n) = &self.name {
            return n;
        }
        self.source
            .as_path()
            .and_then(Path::file_name)
            .and_then(|n| n.to_str())
            .unwrap_or("")
    }

    /// The content type: as set, or guessed from the name, else `application/octet-stream`.
    pub fn content_type(&self) -> String {
        match &self.content_type {
            Some(t) => t.clone(),
            None => mime_guess::from_path(self.name())
                .first_raw()
                .unwrap_or("application/octet-stream")
                .to_owned(),
        }
    }

    /// Checks name, content type and source without sending anything, and returns the size.
    pub fn inspect(&self) -> Result<u64> {
        if self.name.is_none() {
            if let Some(path) = self.source.as_path() {
                if path.file_name().is_some() && path.file_name().and_then(|n| n.to_str()).is_none()
                {
                    return Err(Error::invalid_input(format!(
                        "file name of {} is not valid UTF-8; give a name explicitly",
                        path.display()
                    )));
                }
            }
        }
        let size = self.source.inspect()?;
        validate_file_name(self.name())?;
        if let Some(t) = &self.content_type {
            validate_content_type(t)?;
        }
        Ok(size)
    }
}

fn validate_content_type(t: &str) -> Result<()> {
    let ok = t.parse::<mime_guess::mime::Mime>().is_ok() && !t.chars().any(char::is_control);
    if ok {
        Ok(())
    } else {
        Err(Error::invalid_input(format!(
            "content type {:?} is not a valid MIME type such as application/pdf",
            t.escape_debug().to_string()
        )))
    }
}

/// An attachment that passed [`Attachment::inspect`], with its size.
#[derive(Clone, Debug)]
pub struct CheckedFile {
    /// The file.
    pub attachment: Attachment,
    /// Its size in bytes when it was checked.
    pub size: u64,
}

impl CheckedFile {
    /// Checks an attachment and records its size.
    pub fn check(attachment: Attachment) -> Result<CheckedFile> {
        let size = attachment.inspect()?;
        Ok(CheckedFile { attachment, size })
    }

    /// The name the recipient sees.
    pub fn name(&self) -> &str {
        self.attachment.name()
    }

    /// Opens the bytes; the reader fails with an integrity error if the file no longer has
    /// the checked size (see [`read_error`]).
    pub async fn open(&self) -> Result<BoxReader> {
        self.attachment
            .source
            .open_as(self.size, self.label())
            .await
    }

    /// How errors name this file: its path, or the data given for its name.
    pub(crate) fn label(&self) -> String {
        self.attachment.source.label(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    #[tokio::test]
    async fn exact_reader_enforces_length() {
        let src = FileSource::bytes(&b"hello"[..]);
        let mut out = Vec::new();
        src.open(5)
            .await
            .unwrap()
            .read_to_end(&mut out)
            .await
            .unwrap();
        assert_eq!(out, b"hello");

        let mut out = Vec::new();
        let err = src.open(4).await.unwrap().read_to_end(&mut out).await;
        assert_eq!(err.unwrap_err().kind(), io::ErrorKind::InvalidData);

        let mut out = Vec::new();
        let err = src.open(6).await.unwrap().read_to_end(&mut out).await;
        let err = read_error("reading", err.unwrap_err());
        assert!(err.is_integrity(), "{err}");
        assert!(
            err.message()
                .starts_with("the data given for the attachment shrank")
        );
    }

    #[test]
    fn a_file_that_does_not_hold_its_reported_size_is_refused_when_checked() {
        // procfs reports 0 bytes and holds more; sysfs reports 4096 and holds a few.
        for (path, holds) in [
            ("/proc/self/status", "reports 0 bytes but holds more"),
            (
                "/sys/devices/system/cpu/online",
                "reports 4096 bytes but holds ",
            ),
        ] {
            if !Path::new(path).exists() {
                eprintln!("{path} is not here; case left out");
                continue;
            }
            let err = Attachment::from_path(path).inspect().unwrap_err();
            assert!(err.is_invalid_input(), "{err}");
            let line = err.to_string();
            assert!(line.contains(&format!("file {path} {holds}")), "{line}");
            assert!(
                line.ends_with("copy it to an ordinary file and send that"),
                "{line}"
            );
        }
        // Genuine files, empty or not, keep their size.
        let dir = tempfile::tempdir().unwrap();
        for len in [
            0usize,
            1,
            READ_WHEN_CHECKED as usize,
            READ_WHEN_CHECKED as usize + 1,
        ] {
            let f = dir.path().join(format!("f{len}"));
            std::fs::write(&f, vec![b'x'; len]).unwrap();
            assert_eq!(Attachment::from_path(&f).inspect().unwrap(), len as u64);
        }
    }

    #[tokio::test]
    async fn reader_source_reads_once() {
        let a = Attachment::from_reader("r.bin", io::Cursor::new(vec![1u8, 2, 3]), 3);
        assert_eq!(a.inspect().unwrap(), 3);
        let mut out = Vec::new();
        a.source()
            .open(3)
            .await
            .unwrap()
            .read_to_end(&mut out)
            .await
            .unwrap();
        assert_eq!(out, [1, 2, 3]);
        assert!(a.source().open(3).await.is_err());
        assert!(a.inspect().unwrap_err().is_invalid_input());
    }

    #[test]
    fn inspect_explains_bad_paths() {
        let dir = tempfile::tempdir().unwrap();
        let missing = Attachment::from_path(dir.path().join("nope.pdf"));
        assert!(
            missing
                .inspect()
                .unwrap_err()
                .to_string()
                .contains("does not exist")
        );
        let as_dir = Attachment::from_path(dir.path());
        assert!(
            as_dir
                .inspect()
                .unwrap_err()
                .to_string()
                .contains("is a directory")
        );
        let f = dir.path().join("ok.txt");
        std::fs::write(&f, b"abc").unwrap();
        assert_eq!(Attachment::from_path(&f).inspect().unwrap(), 3);
        let bad_type = Attachment::from_path(&f).with_content_type("text/plain\r\nX: y");
        assert!(bad_type.inspect().unwrap_err().is_invalid_input());
        let bad_name = Attachment::from_path(&f).with_name("../ok.txt");
        assert!(bad_name.inspect().unwrap_err().is_invalid_input());
    }
}
