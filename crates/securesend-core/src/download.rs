//! Downloads: a remote file's metadata and its bytes as a stream, with an atomic, verified save.

use std::fmt;
use std::path::{Path, PathBuf};
use std::pin::Pin;

use bytes::{Bytes, BytesMut};
use futures::{Stream, StreamExt};
use serde::Serialize;

use crate::checksum::{Checksums, DigestSet, Hasher};
use crate::error::{Error, ErrorKind, Result};
use crate::hash_threads::{Batch, HashThreads};
use crate::names::sanitize_file_name;
use crate::progress::{FileProgress, Progress};
use crate::remote::RemoteFile;

/// Whether `path` is a directory (following symbolic links, as `Path::is_dir`), asked without
/// blocking the runtime.
async fn is_dir(path: &Path) -> bool {
    tokio::fs::metadata(path).await.is_ok_and(|m| m.is_dir())
}

/// Received bytes are handed to the writer and digest threads in batches of about this size:
/// network reads are tens of KiB, and a message per read would cost more than it carries.
const BATCH_BYTES: usize = 1 << 20;
/// Batches queued per thread (writer, each digest) before the network side waits.
const BATCH_QUEUE: usize = 4;
/// The writer's buffer: a gigabyte is a few thousand disk writes.
const WRITE_BUFFER: usize = 256 << 10;
/// Written bytes after which the writer asks for them to reach the disk in the background, so
/// that the final `fsync` waits for the last stretch only, not the whole file.
const SYNC_EVERY: u64 = 32 << 20;

/// A stream of bytes from a service.
pub type ByteStream = Pin<Box<dyn Stream<Item = Result<Bytes>> + Send>>;

/// A file being downloaded: what the service says about it, and its bytes.
pub struct Download {
    file: RemoteFile,
    stream: ByteStream,
    progress: Option<Progress>,
    digests: bool,
}

impl fmt::Debug for Download {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Download")
            .field("file", &self.file)
            .finish_non_exhaustive()
    }
}

/// A file written to disk by [`Download::save_to`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SavedFile {
    /// Where it was written.
    pub path: PathBuf,
    /// How many bytes were written.
    pub size: u64,
    /// Checksums of what was written: SHA-256 always, unless the download was made
    /// [`Download::without_digests`].
    pub checksums: Checksums,
}

/// A file written to a stream by [`Download::write_to`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StreamedFile {
    /// How many bytes were written.
    pub size: u64,
    /// Checksums of what was written, as for [`SavedFile`].
    pub checksums: Checksums,
}

impl Download {
    /// A download of `file` whose bytes come from `stream`. The file's size and checksums, when
    /// set, are what the bytes are verified against.
    pub fn new(file: RemoteFile, stream: ByteStream) -> Self {
        Download {
            file,
            stream,
            progress: None,
            digests: true,
        }
    }

    /// Computes no digest while saving, for integrity checks switched off: only the size is
    /// checked, the file's checksums are not, and the [`SavedFile`] carries none. A digest
    /// costs from one to five CPU-seconds per GiB.
    pub fn without_digests(mut self) -> Self {
        self.digests = false;
        self
    }

    /// Reports progress while the bytes are read by [`Download::save_to`] or
    /// [`Download::into_bytes`].
    pub fn with_progress(mut self, progress: Option<Progress>) -> Self {
        self.progress = progress;
        self
    }

    /// What the service says about the file.
    pub fn file(&self) -> &RemoteFile {
        &self.file
    }

    /// The raw bytes, unverified.
    pub fn into_stream(self) -> ByteStream {
        self.stream
    }

    /// Writes the file to `target` and verifies it; an existing file is never replaced.
    ///
    /// When `target` is a directory the file goes inside it under the remote name, sanitised
    /// (no path traversal, no device names). Bytes go to a temporary file in the same directory,
    /// are checked against the size and every checksum the service gave, and only then renamed
    /// into place: a failure leaves nothing behind.
    pub async fn save_to(self, target: impl AsRef<Path>) -> Result<SavedFile> {
        self.save(target.as_ref(), false).await
    }

    /// Like [`Download::save_to`], but replaces an existing file (atomically).
    pub async fn save_replacing(self, target: impl AsRef<Path>) -> Result<SavedFile> {
        self.save(target.as_ref(), true).await
    }

    /// The final path for `target`: inside it when it is a directory.
    pub async fn destination(&self, target: &Path) -> PathBuf {
        self.place(target, is_dir(target).await)
    }

    fn place(&self, target: &Path, target_is_dir: bool) -> PathBuf {
        if target_is_dir {
            target.join(sanitize_file_name(&self.file.name))
        } else {
            target.to_path_buf()
        }
    }

    async fn save(self, target: &Path, replace: bool) -> Result<SavedFile> {
        // Asked once, off the runtime's threads, so the name checked is the name used.
        let target_is_dir = is_dir(target).await;
        let dest = self.place(target, target_is_dir);
        if !target_is_dir {
            // A name the caller chose is held to the rules of a name to send: no control
            // characters, no invisible characters, no `..`, not over 255 bytes.
            let Some(name) = dest.file_name() else {
                return Err(Error::invalid_input(format!(
                    "cannot save to {}: it does not end in a file name; give a file or a directory",
                    dest.display()
                )));
            };
            crate::names::validate_file_name(&name.to_string_lossy()).map_err(|e| {
                Error::invalid_input(format!(
                    "cannot save to {}: {}",
                    dest.display(),
                    e.message()
                ))
            })?;
        }
        let parent = match dest.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        if !is_dir(&parent).await {
            return Err(Error::invalid_input(format!(
                "cannot save to {}: directory {} does not exist",
                dest.display(),
                parent.display()
            )));
        }
        // As `Path::exists`, without blocking the runtime; the rename below refuses a file
        // that appears meanwhile.
        if !replace && tokio::fs::try_exists(&dest).await.unwrap_or(false) {
            return Err(Error::new(
                ErrorKind::Conflict,
                format!(
                    "{} exists already; choose another place or allow replacing it",
                    dest.display()
                ),
            ));
        }
        let temp = tempfile::Builder::new()
            .prefix(".securesend-")
            .suffix(".part")
            .tempfile_in(&parent)
            .map_err(|e| {
                Error::io(
                    format!("creating a temporary file in {}", parent.display()),
                    e,
                )
            })?;
        let std_file = temp
            .as_file()
            .try_clone()
            .map_err(|e| Error::io("opening the temporary file", e))?;
        let what = dest.display().to_string();
        let (mut stream, verifier) = self.into_parts();
        let Verifier {
            file: remote,
            hasher,
            mut progress,
        } = verifier;
        // The received `Bytes` are gathered into batches of about a MiB and shared with a writer
        // thread and one thread per digest: the disk and the digests (seconds per GiB) then
        // overlap with the network and with each other instead of holding the runtime.
        let mut digests = HashThreads::start(hasher, BATCH_QUEUE);
        let (tx, rx) = tokio::sync::mpsc::channel::<Batch>(BATCH_QUEUE);
        let writer = tokio::task::spawn_blocking(move || write_batches(std_file, rx));
        let mut received = 0u64;
        let read = async {
            let mut batch = Vec::new();
            let mut batched = 0usize;
            loop {
                let next = stream.next().await.transpose()?;
                let ended = next.is_none();
                if let Some(chunk) = next {
                    received += chunk.len() as u64;
                    if let Some(size) = remote.size {
                        if received > size {
                            return Err(Error::integrity(format!(
                                "{}: the service sent more than the {size} bytes it announced",
                                remote.name
                            )));
                        }
                    }
                    progress.advance(chunk.len() as u64);
                    batched += chunk.len();
                    batch.push(chunk);
                }
                if batched >= BATCH_BYTES || (ended && !batch.is_empty()) {
                    let full: Batch = std::mem::take(&mut batch).into();
                    batched = 0;
                    digests.feed(full.clone()).await;
                    if tx.send(full).await.is_err() {
                        break; // the writer failed; its error is reported below
                    }
                }
                if ended {
                    break;
                }
            }
            Ok(())
        }
        .await;
        drop(tx);
        let written = writer
            .await
            .map_err(|e| Error::io(format!("writing {what}"), std::io::Error::other(e)));
        let hashed = digests.finish().await;
        read?;
        written?.map_err(|e| Error::io(format!("writing {what}"), e))?;
        let (size, checksums) = Verifier {
            file: remote,
            hasher: hashed?,
            progress,
        }
        .finish()?;
        let persisted = if replace {
            temp.persist(&dest).map_err(|e| e.error)
        } else {
            temp.persist_noclobber(&dest).map_err(|e| e.error)
        };
        persisted.map_err(|e| {
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                Error::new(
                    ErrorKind::Conflict,
                    format!("{what} appeared while downloading; nothing was replaced"),
                )
            } else {
                Error::io(format!("moving the download into {what}"), e)
            }
        })?;
        Ok(SavedFile {
            path: dest,
            size,
            checksums,
        })
    }

    /// Streams the bytes into `out` (standard output, a pipe), verifying them as they pass;
    /// nothing is buffered beyond one received piece. Unlike [`Download::save_to`], bytes are
    /// written before they are verified: a failed check is reported after `out` has them, so
    /// the error says to discard what was written.
    pub async fn write_to<W>(self, out: &mut W) -> Result<StreamedFile>
    where
        W: tokio::io::AsyncWrite + Unpin + ?Sized,
    {
        use tokio::io::AsyncWriteExt;
        let (mut stream, mut verifier) = self.into_parts();
        let name = verifier.file.name.clone();
        let written = |e: std::io::Error| Error::io(format!("writing {name}"), e);
        while let Some(chunk) = stream.next().await {
            let chunk = chunk?;
            verifier.feed(&chunk)?;
            out.write_all(&chunk).await.map_err(written)?;
        }
        out.flush().await.map_err(written)?;
        let (size, checksums) = verifier.finish().map_err(|e| {
            let text = format!(
                "{}; the bytes already written are not the file: discard them",
                e.message()
            );
            e.with_message(text)
        })?;
        Ok(StreamedFile { size, checksums })
    }

    /// Reads the whole file into memory, verified, refusing more than `limit` bytes.
    pub async fn into_bytes(self, limit: u64) -> Result<Bytes> {
        if self.file.size.is_some_and(|s| s > limit) {
            return Err(Error::invalid_input(format!(
                "{} is larger than the {limit}-byte limit; save it to a file instead",
                self.file.name
            )));
        }
        let (mut stream, mut verifier) = self.into_parts();
        let mut buf = BytesMut::new();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk?;
            if buf.len() as u64 + chunk.len() as u64 > limit {
                return Err(Error::protocol(format!(
                    "the service sent more than the {limit}-byte limit"
                )));
            }
            verifier.feed(&chunk)?;
            buf.extend_from_slice(&chunk);
        }
        verifier.finish()?;
        Ok(buf.freeze())
    }

    fn into_parts(mut self) -> (ByteStream, Verifier) {
        let set = if self.digests {
            let known = self.file.checksums.digest_set();
            DigestSet {
                sha256: true,
                // One strong digest to check against is enough: with SHA3-256 known, MD5 (a
                // second digest of the same bytes, and the weaker) would only cost CPU.
                md5: known.md5 && !known.sha3_256,
                sha3_256: known.sha3_256,
            }
        } else {
            self.file.checksums = Checksums::default();
            DigestSet::NONE
        };
        let progress =
            FileProgress::start(self.progress.as_ref(), 0, &self.file.name, self.file.size);
        let verifier = Verifier {
            hasher: Hasher::new(set),
            progress,
            file: self.file,
        };
        (self.stream, verifier)
    }
}

/// Writes the batches to `file` in order, then makes them durable: `fsync` before the
/// caller renames the file into place, so a crash never leaves a short file under the final
/// name. Stretches of [`SYNC_EVERY`] bytes are flushed to disk on a second thread while later
/// ones are written, which overlaps the disk with the network.
fn write_batches(
    file: std::fs::File,
    mut rx: tokio::sync::mpsc::Receiver<Batch>,
) -> std::io::Result<()> {
    use std::io::Write;
    let syncer = BackgroundSync::start(&file)?;
    let mut out = std::io::BufWriter::with_capacity(WRITE_BUFFER, file);
    let mut unsynced = 0u64;
    while let Some(batch) = rx.blocking_recv() {
        for piece in batch.iter() {
            out.write_all(piece)?;
            unsynced += piece.len() as u64;
        }
        if unsynced >= SYNC_EVERY {
            out.flush()?;
            syncer.request();
            unsynced = 0;
        }
    }
    let file = out.into_inner().map_err(|e| e.into_error())?;
    syncer.finish()?;
    file.sync_all()
}

/// `fdatasync` on a thread of its own, on request; requests made while one runs fold into
/// the next.
struct BackgroundSync {
    tx: std::sync::mpsc::SyncSender<()>,
    thread: std::thread::JoinHandle<std::io::Result<()>>,
}

impl BackgroundSync {
    fn start(file: &std::fs::File) -> std::io::Result<BackgroundSync> {
        let file = file.try_clone()?;
        let (tx, rx) = std::sync::mpsc::sync_channel::<()>(1);
        let thread = std::thread::Builder::new()
            .name("securesend-sync".into())
            .spawn(move || {
                while rx.recv().is_ok() {
                    file.sync_data()?;
                }
                Ok(())
            })?;
        Ok(BackgroundSync { tx, thread })
    }

    fn request(&self) {
        // Full means a sync is already due: it will cover these bytes too.
        let _ = self.tx.try_send(());
    }

    /// Waits for the sync under way; its error, if it failed.
    fn finish(self) -> std::io::Result<()> {
        drop(self.tx);
        self.thread
            .join()
            .map_err(|_| std::io::Error::other("the sync thread stopped"))?
    }
}

/// Counts, hashes and checks the bytes of one download against what the service announced.
struct Verifier {
    file: RemoteFile,
    hasher: Hasher,
    progress: FileProgress,
}

impl Verifier {
    fn feed(&mut self, chunk: &[u8]) -> Result<()> {
        if let Some(size) = self.file.size {
            if self.hasher.bytes() + chunk.len() as u64 > size {
                return Err(Error::integrity(format!(
                    "{}: the service sent more than the {size} bytes it announced",
                    self.file.name
                )));
            }
        }
        self.hasher.update(chunk);
        self.progress.advance(chunk.len() as u64);
        Ok(())
    }

    fn finish(self) -> Result<(u64, Checksums)> {
        let got = self.hasher.bytes();
        if let Some(size) = self.file.size {
            if got != size {
                return Err(Error::integrity(format!(
                    "{}: received {got} of {size} bytes",
                    self.file.name
                )));
            }
        }
        let sums = self.hasher.finish();
        sums.verify(&self.file.checksums, &self.file.name)?;
        self.progress.finish();
        Ok((got, sums))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checksum::sha256_hex;

    fn download(data: &'static [u8], file: RemoteFile) -> Download {
        let chunks: Vec<Result<Bytes>> =
            data.chunks(3).map(|c| Ok(Bytes::from_static(c))).collect();
        Download::new(file, Box::pin(futures::stream::iter(chunks)))
    }

    #[tokio::test]
    async fn saves_verified_into_directory_under_sanitised_name() {
        let dir = tempfile::tempdir().unwrap();
        let file = RemoteFile::new("t", "1", "../../evil.txt")
            .with_size(11)
            .with_checksums(Checksums::sha256(sha256_hex(b"hello world")));
        let saved = download(b"hello world", file)
            .save_to(dir.path())
            .await
            .unwrap();
        assert_eq!(saved.path, dir.path().join("_._.._evil.txt"));
        assert_eq!(std::fs::read(&saved.path).unwrap(), b"hello world");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[tokio::test]
    async fn a_name_with_invisible_characters_is_saved_as_what_it_is() {
        let dir = tempfile::tempdir().unwrap();
        let mut file = RemoteFile::new("t", "1", "x").with_size(2);
        // As a service could send it, past the constructor's own clean-up.
        file.name = "inv\u{202E}fdp.exe\u{200B}".to_owned();
        let saved = download(b"MZ", file).save_to(dir.path()).await.unwrap();
        assert_eq!(saved.path, dir.path().join("invfdp.exe"));
        assert_eq!(std::fs::read(&saved.path).unwrap(), b"MZ");
        // And a name given by the service is reported without them too.
        let listed = RemoteFile::new("t", "1", "inv\u{202E}fdp.exe");
        assert_eq!(listed.name, "invfdp.exe");
        let entry = crate::Entry::new("1", "\u{2067}a.txt", crate::EntryKind::File);
        assert_eq!(entry.name, "a.txt");
    }

    #[tokio::test]
    async fn a_chosen_name_with_an_invisible_character_is_refused_before_any_write() {
        let dir = tempfile::tempdir().unwrap();
        let file = RemoteFile::new("t", "1", "a.txt").with_size(2);
        let e = download(b"MZ", file)
            .save_to(dir.path().join("inv\u{202E}fdp.exe"))
            .await
            .unwrap_err();
        assert!(e.is_invalid_input(), "{e}");
        assert!(
            e.to_string().contains("U+202E RIGHT-TO-LEFT OVERRIDE"),
            "{e}"
        );
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[tokio::test]
    async fn a_chosen_name_with_a_control_character_is_refused_before_any_write() {
        let dir = tempfile::tempdir().unwrap();
        for bad in ["report\u{1b}[2J.txt", "a\rb.txt", "tab\there.txt"] {
            let file = RemoteFile::new("t", "1", "a.txt").with_size(2);
            let e = download(b"MZ", file)
                .save_to(dir.path().join(bad))
                .await
                .unwrap_err();
            assert!(e.is_invalid_input(), "{e}");
            let line = e.to_string();
            assert!(!line.chars().any(char::is_control), "{line:?}");
            assert!(line.contains("cannot save to"), "{line}");
            assert!(line.contains("control character"), "{line}");
        }
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        // An ordinary chosen name still works.
        let file = RemoteFile::new("t", "1", "a.txt").with_size(2);
        let saved = download(b"MZ", file)
            .save_to(dir.path().join("Übersicht 2026.bin"))
            .await
            .unwrap();
        assert_eq!(std::fs::read(saved.path).unwrap(), b"MZ");
    }

    #[tokio::test]
    async fn mismatch_leaves_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        let bad_sum = RemoteFile::new("t", "1", "a.txt").with_checksums(Checksums::sha256("00"));
        let e = download(b"hello", bad_sum)
            .save_to(dir.path())
            .await
            .unwrap_err();
        assert!(e.is_integrity(), "{e}");
        let short = RemoteFile::new("t", "1", "a.txt").with_size(6);
        let e = download(b"hello", short)
            .save_to(dir.path())
            .await
            .unwrap_err();
        assert!(e.is_integrity(), "{e}");
        let long = RemoteFile::new("t", "1", "a.txt").with_size(4);
        let e = download(b"hello", long)
            .save_to(dir.path())
            .await
            .unwrap_err();
        assert!(e.is_integrity(), "{e}");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[tokio::test]
    async fn a_long_download_arrives_whole_through_batches_and_background_syncs() {
        // Longer than a sync stretch, in network-sized pieces that do not divide a batch.
        let data: Bytes = (0..(SYNC_EVERY as usize + 3 * BATCH_BYTES + 12_345))
            .map(|i| (i % 251) as u8)
            .collect::<Vec<u8>>()
            .into();
        let pieces: Vec<Result<Bytes>> = (0..data.len())
            .step_by(40_000)
            .map(|at| Ok(data.slice(at..(at + 40_000).min(data.len()))))
            .collect();
        let file = RemoteFile::new("t", "1", "big.bin")
            .with_size(data.len() as u64)
            .with_checksums(Checksums::sha256(sha256_hex(&data)));
        let dir = tempfile::tempdir().unwrap();
        let saved = Download::new(file, Box::pin(futures::stream::iter(pieces)))
            .save_to(dir.path())
            .await
            .unwrap();
        assert_eq!(saved.size, data.len() as u64);
        assert_eq!(std::fs::read(&saved.path).unwrap(), &data[..]);
    }

    #[tokio::test]
    async fn without_digests_only_the_size_is_checked() {
        let dir = tempfile::tempdir().unwrap();
        let bad_sum = RemoteFile::new("t", "1", "a.txt")
            .with_size(5)
            .with_checksums(Checksums::sha256("00"));
        let saved = download(b"hello", bad_sum)
            .without_digests()
            .save_to(dir.path())
            .await
            .unwrap();
        assert_eq!(std::fs::read(&saved.path).unwrap(), b"hello");
        assert_eq!((saved.size, saved.checksums), (5, Checksums::default()));
        let short = RemoteFile::new("t", "2", "b.txt").with_size(6);
        let e = download(b"hello", short)
            .without_digests()
            .save_to(dir.path())
            .await
            .unwrap_err();
        assert!(e.is_integrity(), "{e}");
        assert!(!dir.path().join("b.txt").exists());
    }

    #[tokio::test]
    async fn sha3_is_checked_and_md5_not_computed_beside_it() {
        let mut reference = Hasher::new(crate::checksum::DigestSet::ALL);
        reference.update(b"hello world");
        let right = reference.finish();
        let dir = tempfile::tempdir().unwrap();
        let wrong_md5 = Checksums {
            md5: Some("00".repeat(16)),
            ..right.clone()
        };
        let saved = download(
            b"hello world",
            RemoteFile::new("t", "1", "a.txt").with_checksums(wrong_md5),
        )
        .save_to(dir.path())
        .await
        .unwrap();
        assert_eq!(saved.checksums.sha3_256, right.sha3_256);
        assert_eq!(saved.checksums.sha256, right.sha256);
        assert_eq!(saved.checksums.md5, None);
        let wrong_sha3 = Checksums {
            sha3_256: Some("00".repeat(32)),
            ..right.clone()
        };
        let e = download(
            b"hello world",
            RemoteFile::new("t", "1", "b.txt").with_checksums(wrong_sha3),
        )
        .save_to(dir.path())
        .await
        .unwrap_err();
        assert!(
            e.is_integrity() && e.to_string().contains("sha3-256"),
            "{e}"
        );
        // Without SHA3-256, MD5 is what the bytes are checked against.
        let md5_only = Checksums {
            md5: Some("00".repeat(16)),
            ..Checksums::default()
        };
        let e = download(
            b"hello world",
            RemoteFile::new("t", "1", "c.txt").with_checksums(md5_only),
        )
        .save_to(dir.path())
        .await
        .unwrap_err();
        assert!(e.is_integrity() && e.to_string().contains("md5"), "{e}");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[tokio::test]
    async fn never_replaces_unless_asked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.txt");
        std::fs::write(&path, b"mine").unwrap();
        let e = download(b"theirs", RemoteFile::new("t", "1", "a.txt"))
            .save_to(&path)
            .await
            .unwrap_err();
        assert!(e.is_conflict());
        assert_eq!(std::fs::read(&path).unwrap(), b"mine");
        download(b"theirs", RemoteFile::new("t", "1", "a.txt"))
            .save_replacing(&path)
            .await
            .unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"theirs");
    }

    #[tokio::test]
    async fn write_to_streams_verified_bytes_and_flags_a_mismatch() {
        let data = b"streamed to a pipe";
        let file = RemoteFile::new("p", "1", "s.txt")
            .with_size(data.len() as u64)
            .with_checksums(Checksums::sha256(sha256_hex(data)));
        let mut out = Vec::new();
        let done = download(data, file.clone())
            .write_to(&mut out)
            .await
            .unwrap();
        assert_eq!(out, data);
        assert_eq!(done.size, data.len() as u64);
        assert_eq!(done.checksums.sha256.as_deref(), Some(&*sha256_hex(data)));

        let lying = file.with_checksums(Checksums::sha256(sha256_hex(b"other")));
        let mut out = Vec::new();
        let e = download(data, lying).write_to(&mut out).await.unwrap_err();
        assert!(e.is_integrity());
        assert!(e.message().contains("discard them"), "{e}");
    }

    #[tokio::test]
    async fn into_bytes_caps_size() {
        let got = download(b"abcdef", RemoteFile::new("t", "1", "a"))
            .into_bytes(6)
            .await
            .unwrap();
        assert_eq!(&got[..], b"abcdef");
        let e = download(b"abcdefg", RemoteFile::new("t", "1", "a"))
            .into_bytes(6)
            .await
            .unwrap_err();
        assert!(e.is_protocol());
    }
}
