//! What a send records in its [`SendJournal`], so that another process can take it over.
//!
//! One JSON object, replaced as the send moves on:
//!
//! ```json
//! {"v":1,"draft":"<mail id>","files":[{"index":0,"size":12,"name":"a.pdf","id":"<file id>",
//!   "content_type":"application/pdf","checksums":{"sha256":"…"}}]}
//! ```
//!
//! `draft` is saved as soon as the draft exists, and each attachment once its last chunk is
//! stored, so a later attempt uploads only what is not listed. An entry is reused only for the
//! attachment at the same `index` with the same `size` and `name`: a message whose files
//! changed since uploads them again. The checksums are ours, as sent, for the receipt.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use securesend_core::checksum::Checksums;
use securesend_core::{CheckedFile, RemoteFile, Result, SendJournal};

use crate::PROVIDER;
use crate::client::valid_id;

/// The shape written now; a checkpoint of another version is not used.
const VERSION: u32 = 1;

/// An attachment already stored on the draft.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct SavedFile {
    pub index: usize,
    pub size: u64,
    pub name: String,
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    #[serde(default)]
    pub checksums: Checksums,
}

impl SavedFile {
    /// The file as the receipt lists it.
    pub(crate) fn remote(&self) -> RemoteFile {
        let mut r = RemoteFile::new(PROVIDER, self.id.clone(), self.name.clone())
            .with_size(self.size)
            .with_checksums(self.checksums.clone());
        if let Some(t) = &self.content_type {
            r = r.with_content_type(t.clone());
        }
        r
    }
}

/// A send's progress: its draft and the attachments stored on it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Checkpoint {
    pub v: u32,
    pub draft: String,
    #[serde(default)]
    pub files: Vec<SavedFile>,
}

impl Checkpoint {
    /// A checkpoint an earlier attempt saved, if it is one of ours and its ids can be put in a
    /// request; anything else is as if nothing were saved.
    pub(crate) fn read(saved: &Value) -> Option<Checkpoint> {
        let cp: Checkpoint = serde_json::from_value(saved.clone()).ok()?;
        let sound =
            cp.v == VERSION && valid_id(&cp.draft) && cp.files.iter().all(|f| valid_id(&f.id));
        if !sound {
            tracing::warn!(
                provider = PROVIDER,
                "the send's saved progress is not a Kiteworks checkpoint of version {VERSION}; it is not used"
            );
            return None;
        }
        Some(cp)
    }

    /// The stored file of the attachment at `index`, if the checkpoint lists that very one.
    pub(crate) fn stored(&self, index: usize, file: &CheckedFile) -> Option<&SavedFile> {
        self.files
            .iter()
            .find(|f| f.index == index && f.size == file.size && f.name == file.name())
    }

    /// The attachments the receipt lists, in the message's order.
    pub(crate) fn remote_files(&self) -> Vec<RemoteFile> {
        let mut files: Vec<&SavedFile> = self.files.iter().collect();
        files.sort_by_key(|f| f.index);
        files.into_iter().map(SavedFile::remote).collect()
    }
}

/// Saves a send's checkpoints into its journal, one at a time and each extending the last;
/// without a journal it records nothing.
pub(crate) struct Recorder {
    journal: Option<Arc<dyn SendJournal>>,
    current: tokio::sync::Mutex<Option<Checkpoint>>,
}

impl Recorder {
    pub(crate) fn new(journal: Option<Arc<dyn SendJournal>>) -> Recorder {
        Recorder {
            journal,
            current: tokio::sync::Mutex::new(None),
        }
    }

    /// Records the draft the send works on, with the attachments `kept` from an earlier
    /// attempt already on it.
    pub(crate) async fn draft(&self, draft: &str, kept: Vec<SavedFile>) -> Result<()> {
        let mut current = self.current.lock().await;
        let cp = Checkpoint {
            v: VERSION,
            draft: draft.to_owned(),
            files: kept,
        };
        self.save(&cp).await?;
        *current = Some(cp);
        Ok(())
    }

    /// Records that the attachment at `index` is stored on the draft as `stored`.
    pub(crate) async fn file(
        &self,
        index: usize,
        file: &CheckedFile,
        stored: &RemoteFile,
    ) -> Result<()> {
        let mut current = self.current.lock().await;
        let Some(cp) = current.as_ref() else {
            return Ok(());
        };
        let mut next = cp.clone();
        next.files.retain(|f| f.index != index);
        next.files.push(SavedFile {
            index,
            size: file.size,
            name: file.name().to_owned(),
            id: stored.id.clone(),
            content_type: stored.content_type.clone(),
            checksums: stored.checksums.clone(),
        });
        self.save(&next).await?;
        *current = Some(next);
        Ok(())
    }

    async fn save(&self, cp: &Checkpoint) -> Result<()> {
        let Some(journal) = &self.journal else {
            return Ok(());
        };
        let value = serde_json::to_value(cp).map_err(|e| {
            securesend_core::Error::protocol(format!(
                "the send's checkpoint cannot be written: {e}"
            ))
        })?;
        journal
            .save(value)
            .await
            .map_err(|e| e.or_provider(PROVIDER).or_operation("send"))
    }

    /// Marks the point of no return in the journal, when there is one.
    pub(crate) async fn point_of_no_return(&self) -> Result<()> {
        match &self.journal {
            Some(j) => j
                .point_of_no_return()
                .await
                .map_err(|e| e.or_provider(PROVIDER).or_operation("send")),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use securesend_core::Attachment;

    #[test]
    fn only_sound_checkpoints_of_this_version_are_read() {
        let good = serde_json::json!({"v":1,"draft":"d-1","files":[{"index":0,"size":3,"name":"a","id":"f-1"}]});
        let cp = Checkpoint::read(&good).unwrap();
        assert_eq!(cp.files[0].id, "f-1");
        for bad in [
            serde_json::json!({"v":2,"draft":"d-1"}),
            serde_json::json!({"v":1,"draft":"../x"}),
            serde_json::json!({"v":1,"draft":"d","files":[{"index":0,"size":1,"name":"a","id":"a/b"}]}),
            serde_json::json!({"draft":"d-1"}),
            serde_json::json!("d-1"),
        ] {
            assert_eq!(Checkpoint::read(&bad), None, "{bad}");
        }
    }

    #[test]
    fn a_file_is_reused_only_at_its_index_with_its_size_and_name() {
        let cp = Checkpoint::read(&serde_json::json!({"v":1,"draft":"d","files":[{"index":1,"size":3,"name":"a.txt","id":"f"}]})).unwrap();
        let same = CheckedFile::check(Attachment::from_bytes("a.txt", "abc")).unwrap();
        let longer = CheckedFile::check(Attachment::from_bytes("a.txt", "abcd")).unwrap();
        let renamed = CheckedFile::check(Attachment::from_bytes("b.txt", "abc")).unwrap();
        assert!(cp.stored(1, &same).is_some());
        assert!(cp.stored(0, &same).is_none());
        assert!(cp.stored(1, &longer).is_none());
        assert!(cp.stored(1, &renamed).is_none());
    }
}
