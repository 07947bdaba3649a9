//! The file store: contents by SHA-256, one metadata entry per file.
//!
//! ```text
//! <root>/files/blobs/<sha256>          contents, shared by identical files
//! <root>/files/entries/<folder>/<name> JSON metadata; the file's id is "<folder>/<name>"
//! <root>/files/.tmp/                   staging for blobs and entries
//! ```
//!
//! Everything is written to `.tmp` first and renamed into place, so no reader ever sees a
//! partial file, whatever runs concurrently.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use tokio::io::AsyncWriteExt;

use securesend_core::checksum::{DigestSet, Hasher};
use securesend_core::request::normalize_folder;
use securesend_core::{Checksums, Error, ErrorKind, RemoteFile, Result};

use crate::PROVIDER;

/// Largest metadata entry we read back (they are a few hundred bytes).
const MAX_ENTRY_BYTES: u64 = 64 * 1024;
/// Write buffer for blobs.
const WRITE_BUFFER: usize = 256 * 1024;

/// Metadata of one stored file.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Entry {
    pub id: String,
    pub name: String,
    pub size: u64,
    pub sha256: String,
    pub content_type: String,
    #[serde(with = "time::serde::rfc3339")]
    pub modified: OffsetDateTime,
}

impl Entry {
    pub fn to_remote(&self) -> RemoteFile {
        let mut file = RemoteFile::new(PROVIDER, &self.id, &self.name)
            .with_size(self.size)
            .with_content_type(&self.content_type)
            .with_checksums(Checksums::sha256(&self.sha256))
            .with_modified(self.modified);
        if let Some((folder, _)) = self.id.rsplit_once('/') {
            file = file.with_folder(folder);
        }
        file
    }
}

#[derive(Clone, Debug)]
pub(crate) struct Store {
    files: PathBuf,
}

/// A blob being written: bytes go to a temporary file and through the hasher.
pub(crate) struct BlobWriter {
    temp: tempfile::TempPath,
    out: tokio::io::BufWriter<tokio::fs::File>,
    hasher: Hasher,
}

/// A blob written and synced, not yet in the store.
pub(crate) struct StagedBlob {
    temp: tempfile::TempPath,
    pub size: u64,
    pub sha256: String,
}

/// What a send or upload created, so a failure can remove it again.
///
/// Blobs are left alone: an identical file committed concurrently may already share one, and
/// an unreferenced blob only costs space.
#[derive(Debug, Default)]
pub(crate) struct Created {
    entries: Vec<PathBuf>,
    dirs: Vec<PathBuf>,
}

impl Created {
    /// Removes what was created (best effort: it runs on a path that is already failing).
    pub fn undo(self) {
        for p in &self.entries {
            if let Err(e) = std::fs::remove_file(p) {
                tracing::warn!(path = %p.display(), error = %e, "could not remove after a failed send");
            }
        }
        // Only empty folders go: a folder someone else filled meanwhile stays.
        for d in self.dirs.iter().rev() {
            let _ = std::fs::remove_dir(d);
        }
    }
}

impl BlobWriter {
    pub async fn write(&mut self, data: &[u8]) -> Result<()> {
        self.hasher.update(data);
        self.out
            .write_all(data)
            .await
            .map_err(|e| Error::io("writing to the local store", e))
    }

    pub async fn finish(mut self) -> Result<StagedBlob> {
        self.out
            .flush()
            .await
            .map_err(|e| Error::io("writing to the local store", e))?;
        self.out
            .get_mut()
            .sync_all()
            .await
            .map_err(|e| Error::io("syncing the local store", e))?;
        let size = self.hasher.bytes();
        let sha256 = self.hasher.finish().sha256.unwrap_or_default();
        Ok(StagedBlob {
            temp: self.temp,
            size,
            sha256,
        })
    }
}

impl Store {
    pub fn new(root: &Path) -> Self {
        Store {
            files: root.join("files"),
        }
    }

    fn tmp(&self) -> PathBuf {
        self.files.join(".tmp")
    }

    fn blob_path(&self, sha256: &str) -> PathBuf {
        self.files.join("blobs").join(sha256)
    }

    fn entries(&self) -> PathBuf {
        self.files.join("entries")
    }

    /// The path of a folder's entries, `folder` already normalised.
    fn folder_path(&self, folder: &str) -> PathBuf {
        let mut p = self.entries();
        p.extend(folder.split('/').filter(|s| !s.is_empty()));
        p
    }

    /// Makes sure `folder` exists, creating it (and its parents) when `create` is set; the
    /// folder is recorded in `created` when this call made it.
    pub fn ensure_folder(&self, folder: &str, create: bool, created: &mut Created) -> Result<()> {
        let path = self.folder_path(folder);
        if path.is_dir() {
            return Ok(());
        }
        if path.exists() {
            return Err(Error::new(
                ErrorKind::Conflict,
                format!("{folder} is a file, not a folder"),
            ));
        }
        if !create && !folder.is_empty() {
            return Err(Error::new(
                ErrorKind::NotFound,
                format!(
                    "folder {folder} does not exist; create it or ask for missing folders to be created"
                ),
            ));
        }
        std::fs::create_dir_all(&path)
            .map_err(|e| Error::io(format!("creating folder {folder}"), e))?;
        created.dirs.push(path);
        Ok(())
    }

    /// What `folder` (normalised) is in the store.
    pub fn folder_state(&self, folder: &str) -> crate::browse::FolderState {
        use crate::browse::FolderState;
        let path = self.folder_path(folder);
        match std::fs::metadata(&path) {
            Ok(m) if m.is_dir() => FolderState::Folder,
            Ok(_) => FolderState::File,
            Err(_) => FolderState::Missing,
        }
    }

    /// The names in `folder` (normalised), sorted, each with whether it is a folder. The top
    /// level of a store nobody wrote to yet is empty, not missing.
    pub fn folder_names(&self, folder: &str) -> Result<Vec<(String, bool)>> {
        let path = self.folder_path(folder);
        let read = match std::fs::read_dir(&path) {
            Ok(r) => r,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && folder.is_empty() => {
                return Ok(Vec::new());
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::new(
                    ErrorKind::NotFound,
                    format!("folder {folder} does not exist"),
                ));
            }
            Err(e) if path.is_file() => {
                return Err(Error::invalid_input(format!(
                    "{folder} is a file, not a folder ({e})"
                )));
            }
            Err(e) => return Err(Error::io(format!("listing {folder}"), e)),
        };
        let mut names = Vec::new();
        for item in read {
            let item = item.map_err(|e| Error::io(format!("listing {folder}"), e))?;
            let is_dir = item.file_type().map(|t| t.is_dir()).unwrap_or(false);
            // Names were validated as UTF-8 when stored; anything else was not put there by us.
            if let Ok(name) = item.file_name().into_string() {
                names.push((name, is_dir));
            }
        }
        names.sort();
        Ok(names)
    }

    pub async fn new_blob(&self) -> Result<BlobWriter> {
        let tmp = self.tmp();
        tokio::fs::create_dir_all(&tmp)
            .await
            .map_err(|e| Error::io(format!("creating {}", tmp.display()), e))?;
        let temp = tempfile::Builder::new()
            .prefix("blob-")
            .tempfile_in(&tmp)
            .map_err(|e| Error::io(format!("creating a file in {}", tmp.display()), e))?;
        let (file, temp) = temp.into_parts();
        Ok(BlobWriter {
            temp,
            out: tokio::io::BufWriter::with_capacity(WRITE_BUFFER, tokio::fs::File::from_std(file)),
            hasher: Hasher::new(DigestSet::SHA256),
        })
    }

    /// Moves a staged blob into the store and records an entry `folder/name` for it.
    /// Without `overwrite`, an existing entry of that name is a conflict.
    pub fn commit(
        &self,
        blob: StagedBlob,
        folder: &str,
        name: &str,
        content_type: &str,
        overwrite: bool,
        created: &mut Created,
    ) -> Result<Entry> {
        let blobs = self.files.join("blobs");
        std::fs::create_dir_all(&blobs).map_err(|e| Error::io("creating the blob store", e))?;
        let blob_path = self.blob_path(&blob.sha256);
        if blob_path.exists() {
            // Same content stored before; the staged copy is dropped (and deleted) here.
            drop(blob.temp);
        } else {
            blob.temp
                .persist(&blob_path)
                .map_err(|e| Error::io("moving a file into the store", e.error))?;
        }
        let id = if folder.is_empty() {
            name.to_owned()
        } else {
            format!("{folder}/{name}")
        };
        let entry = Entry {
            id,
            name: name.to_owned(),
            size: blob.size,
            sha256: blob.sha256,
            content_type: content_type.to_owned(),
            modified: OffsetDateTime::now_utc(),
        };
        let dir = self.folder_path(folder);
        let path = dir.join(name);
        if path.is_dir() {
            return Err(Error::new(
                ErrorKind::Conflict,
                format!("{} is a folder; choose another name", entry.id),
            ));
        }
        let mut temp = tempfile::Builder::new()
            .prefix("entry-")
            .tempfile_in(self.tmp())
            .map_err(|e| Error::io("creating a metadata file", e))?;
        let json = serde_json::to_vec_pretty(&entry)
            .map_err(|e| Error::protocol(format!("encoding metadata: {e}")))?;
        temp.write_all(&json)
            .and_then(|()| temp.as_file().sync_all())
            .map_err(|e| Error::io("writing a metadata file", e))?;
        let persisted = if overwrite {
            temp.persist(&path).map_err(|e| e.error)
        } else {
            temp.persist_noclobber(&path).map_err(|e| e.error)
        };
        persisted.map_err(|e| {
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                Error::new(
                    ErrorKind::Conflict,
                    format!(
                        "a file named {} exists already; replace it or choose another name",
                        entry.id
                    ),
                )
            } else {
                Error::io(format!("recording {}", entry.id), e)
            }
        })?;
        created.entries.push(path);
        Ok(entry)
    }

    /// Reads the entry of a file id, refusing ids that leave the store.
    pub fn entry(&self, id: &str) -> Result<Entry> {
        let clean = normalize_folder(id).map_err(|_| {
            Error::invalid_input(format!(
                "{id:?} is not a local file id such as folder/name.pdf"
            ))
        })?;
        if clean.is_empty() {
            return Err(Error::invalid_input("the file id is empty"));
        }
        let path = self.folder_path(&clean);
        let meta = std::fs::metadata(&path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => {
                Error::new(ErrorKind::NotFound, format!("no file with id {clean}"))
            }
            _ => Error::io(format!("reading {}", path.display()), e),
        })?;
        if meta.is_dir() {
            return Err(Error::invalid_input(format!(
                "{clean} is a folder, not a file"
            )));
        }
        // The bounded reader refuses a FIFO or device in the entry's place (a plain read would
        // block or never end) and anything over the cap.
        let bytes = securesend_core::file::read_small_file(
            &path,
            securesend_core::file::SmallFile::new(
                "stored file's metadata",
                MAX_ENTRY_BYTES,
                ErrorKind::Protocol,
            ),
        )?;
        let entry: Entry = serde_json::from_slice(&bytes)
            .map_err(|e| Error::protocol(format!("metadata of {clean} is damaged: {e}")))?;
        let hex_ok =
            entry.sha256.len() == 64 && entry.sha256.bytes().all(|b| b.is_ascii_hexdigit());
        if !hex_ok {
            return Err(Error::protocol(format!(
                "metadata of {clean} names no valid content"
            )));
        }
        Ok(entry)
    }

    pub async fn open_blob(&self, entry: &Entry) -> Result<tokio::fs::File> {
        tokio::fs::File::open(self.blob_path(&entry.sha256))
            .await
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => Error::new(
                    ErrorKind::Integrity,
                    format!("the contents of {} are missing from the store", entry.id),
                ),
                _ => Error::io(format!("opening {}", entry.id), e),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fifo_in_place_of_an_entry_is_refused_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path());
        let path = store.folder_path("a.pdf");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let made = std::process::Command::new("mkfifo")
            .arg(&path)
            .status()
            .unwrap();
        assert!(made.success());
        // Read on another thread: a plain read of a FIFO with no writer blocks for ever.
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || tx.send(store.entry("a.pdf").map(|_| ())));
        let got = rx
            .recv_timeout(std::time::Duration::from_secs(10))
            .expect("the entry is refused at once, not read");
        let e = got.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Protocol, "{e}");
        assert!(e.to_string().contains("not a regular file"), "{e}");
        assert!(e.to_string().contains("stored file's metadata"), "{e}");
    }
}
