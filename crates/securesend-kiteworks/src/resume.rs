//! Upload sessions kept on disk, so `securesend upload --resume` in a later run continues an
//! interrupted upload from the service's `uploadedChunks` instead of starting over.
//!
//! A session is found by what identifies the same upload: the account, the local file (path,
//! size, modification time), the destination folder and the remote name. A file that changed
//! since has another key, so stale bytes are never continued. The record is removed when the
//! upload completes, fails for good, or is started afresh.

use std::time::UNIX_EPOCH;

use serde::{Deserialize, Serialize};

use securesend_core::CheckedFile;

use crate::token_store::{StateDir, digest_of};

/// One interrupted upload.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct SavedUpload {
    pub upload_id: String,
    pub uri: Option<String>,
    pub total_size: u64,
    pub total_chunks: u64,
    pub chunk_size: u64,
}

/// The saved sessions of one profile.
#[derive(Clone, Debug)]
pub(crate) struct ResumeBook {
    dir: StateDir,
    account: String,
}

impl ResumeBook {
    pub(crate) fn new(dir: StateDir, account_parts: &[&str]) -> ResumeBook {
        ResumeBook {
            dir,
            account: digest_of(account_parts),
        }
    }

    /// The key of uploading `file` as `name` into `folder_id`; `None` for sources that are not
    /// files on disk (bytes and readers cannot be matched in a later run).
    pub(crate) fn key(&self, file: &CheckedFile, folder_id: &str, name: &str) -> Option<String> {
        let path = file.attachment.source().as_path()?;
        let full = std::fs::canonicalize(path).ok()?;
        let meta = std::fs::metadata(&full).ok()?;
        let modified = meta
            .modified()
            .ok()?
            .duration_since(UNIX_EPOCH)
            .ok()?
            .as_nanos()
            .to_string();
        Some(digest_of(&[
            &self.account,
            &full.to_string_lossy(),
            &file.size.to_string(),
            &modified,
            folder_id,
            name,
        ]))
    }

    fn file_name(key: &str) -> String {
        format!("uploads/{key}.json")
    }

    pub(crate) fn load(&self, key: &str) -> Option<SavedUpload> {
        serde_json::from_slice(&self.dir.read(&Self::file_name(key))?).ok()
    }

    /// Saves a session; whether it was saved. Failing to save only costs the ability to
    /// resume, so it is logged, and the caller words what it tells the user by it.
    pub(crate) fn save(&self, key: &str, saved: &SavedUpload) -> bool {
        let Ok(bytes) = serde_json::to_vec(saved) else {
            return false;
        };
        match self.dir.write(&Self::file_name(key), &bytes) {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!(
                    provider = crate::PROVIDER,
                    "could not keep the upload session on disk ({e}); it cannot be resumed in a later run"
                );
                false
            }
        }
    }

    pub(crate) fn remove(&self, key: &str) {
        self.dir.remove(&Self::file_name(key));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use securesend_core::Attachment;

    #[test]
    fn key_follows_file_identity_and_destination() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("a.bin");
        std::fs::write(&path, b"abc").unwrap();
        let book = ResumeBook::new(StateDir::new(tmp.path().join("state")), &["acct"]);
        let file = CheckedFile::check(Attachment::from_path(&path)).unwrap();
        let k = book.key(&file, "folder-1", "a.bin").unwrap();
        assert_eq!(book.key(&file, "folder-1", "a.bin").unwrap(), k);
        assert_ne!(book.key(&file, "folder-2", "a.bin").unwrap(), k);
        let bytes = CheckedFile::check(Attachment::from_bytes("a.bin", "abc")).unwrap();
        assert!(book.key(&bytes, "folder-1", "a.bin").is_none());
        let saved = SavedUpload {
            upload_id: "7".into(),
            uri: None,
            total_size: 3,
            total_chunks: 1,
            chunk_size: 8,
        };
        book.save(&k, &saved);
        assert_eq!(book.load(&k), Some(saved));
        book.remove(&k);
        assert_eq!(book.load(&k), None);
    }

    #[test]
    fn sessions_are_not_read_through_links_or_fifos_nor_written_through_links() {
        let tmp = tempfile::tempdir().unwrap();
        let state = tmp.path().join("state");
        let book = ResumeBook::new(StateDir::new(&state), &["acct"]);
        let saved = SavedUpload {
            upload_id: "7".into(),
            uri: None,
            total_size: 3,
            total_chunks: 1,
            chunk_size: 8,
        };
        assert!(book.save("k1", &saved));
        assert_eq!(book.load("k1"), Some(saved.clone()));
        // The same session behind a link (planted by someone else) is not continued.
        let real = state.join("uploads/k1.json");
        let planted = tmp.path().join("planted.json");
        std::fs::rename(&real, &planted).unwrap();
        std::os::unix::fs::symlink(&planted, &real).unwrap();
        assert_eq!(book.load("k1"), None);
        // A FIFO is passed over at once (this would block forever if it were opened plainly).
        let status = std::process::Command::new("mkfifo")
            .arg(state.join("uploads/k2.json"))
            .status()
            .unwrap();
        assert!(status.success());
        // On a thread of its own, so that a regression fails the test instead of hanging it
        // (the blocked thread is left behind).
        let (tx, rx) = std::sync::mpsc::channel();
        let reader = book.clone();
        std::thread::spawn(move || {
            let _ = tx.send(reader.load("k2"));
        });
        let loaded = rx
            .recv_timeout(std::time::Duration::from_secs(10))
            .expect("reading a FIFO does not block");
        assert_eq!(loaded, None);
        // A linked uploads directory is neither read nor written.
        let outside = tmp.path().join("outside");
        std::fs::create_dir(&outside).unwrap();
        std::fs::remove_dir_all(state.join("uploads")).unwrap();
        std::os::unix::fs::symlink(&outside, state.join("uploads")).unwrap();
        assert!(!book.save("k3", &saved), "not saved, and said so");
        assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0);
        assert_eq!(book.load("k3"), None);
    }
}
