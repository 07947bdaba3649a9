//! Sending: the message is written to `outbox/<id>/message.eml` with `receipt.json` beside it,
//! and each attachment is also kept in the file store under `sent/<id>/<name>`.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use time::OffsetDateTime;
use tokio::io::AsyncReadExt;

use securesend_core::file::read_error;
use securesend_core::{
    BoxReader, CheckedFile, Error, FileProgress, Result, SecureMessage, SendReceipt, SendStatus,
};

use crate::eml::{self, BLOCK_INPUT, Base64Lines, PartWriter};
use crate::store::{Created, StagedBlob};
use crate::{LocalProvider, PROVIDER};

impl LocalProvider {
    pub(crate) async fn send_message(&self, msg: SecureMessage) -> Result<SendReceipt> {
        if let Some(journal) = msg.journal().filter(|j| j.committed_before()) {
            if let Some(receipt) = self.reconcile(journal.resume()).await? {
                return Ok(receipt);
            }
        }
        let id = message_id();
        let outbox = self.root.join("outbox");
        let staging = outbox.join(format!(".tmp-{id}"));
        tokio::fs::create_dir_all(&staging)
            .await
            .map_err(|e| Error::io(format!("creating {}", staging.display()), e))?;
        let mut created = Created::default();
        // The rename into the outbox is the point of no return; an interruption before it
        // drops the staged work, and the cleanup below removes it.
        let staged = msg
            .cancel()
            .guard(
                "the send",
                self.write_message(&msg, &id, &staging, &mut created),
            )
            .await;
        let result = match staged {
            Ok(receipt) => self.deliver(&msg, &staging, &id).await.map(|()| receipt),
            Err(e) => Err(e),
        };
        if let Err(e) = result {
            // Nothing of a failed send may stay visible: not the message, not its files.
            let _ = tokio::fs::remove_dir_all(&staging).await;
            created.undo();
            let e = if e.is_cancelled() {
                e.with_message(
                    "the send was interrupted before the message was stored; nothing was kept",
                )
            } else {
                e
            };
            return Err(e.not_sent());
        }
        result
    }

    /// Moves the staged message into the outbox, where readers see it whole.
    async fn deliver(&self, msg: &SecureMessage, staging: &Path, id: &str) -> Result<()> {
        // A journal that can no longer vouch for this send (another worker took it over)
        // stops it here, while the message is still only staged.
        if let Some(journal) = msg.journal() {
            // The id is what a take-over looks for in the outbox (see `reconcile`).
            journal
                .save(serde_json::json!({ "message_id": id }))
                .await?;
            journal.point_of_no_return().await?;
        }
        let final_dir = self.root.join("outbox").join(id);
        tokio::fs::rename(staging, &final_dir).await.map_err(|e| {
            Error::io(
                format!("moving the message into {}", final_dir.display()),
                e,
            )
        })?;
        sync_dir(final_dir.parent().unwrap_or(&final_dir));
        Ok(())
    }

    /// An earlier attempt of this send passed its point of no return and stopped. The outbox
    /// says what became of it: the message is there (its receipt is returned), or it is still
    /// staged and complete (the rename is made now), or neither, and nothing was delivered
    /// (`None`: send it afresh).
    async fn reconcile(
        &self,
        checkpoint: Option<serde_json::Value>,
    ) -> Result<Option<SendReceipt>> {
        let id = checkpoint
            .as_ref()
            .and_then(|c| c.get("message_id"))
            .and_then(serde_json::Value::as_str)
            .filter(|id| is_message_id(id))
            .ok_or_else(|| {
                Error::protocol(
                    "an earlier attempt of this send stopped after its point of no return without naming its message; look in the outbox before sending it again",
                )
                .maybe_sent()
            })?;
        let outbox = self.root.join("outbox");
        let done = outbox.join(id);
        let staged = outbox.join(format!(".tmp-{id}"));
        if !done.join("receipt.json").is_file() {
            if !staged.join("receipt.json").is_file() {
                return Ok(None);
            }
            tokio::fs::rename(&staged, &done).await.map_err(|e| {
                Error::io(format!("moving the message into {}", done.display()), e).maybe_sent()
            })?;
            sync_dir(&outbox);
        }
        let bytes = securesend_core::file::read_small_file(
            &done.join("receipt.json"),
            securesend_core::file::SmallFile::new(
                "stored receipt",
                MAX_RECEIPT_BYTES,
                securesend_core::ErrorKind::Protocol,
            ),
        )
        .map_err(Error::maybe_sent)?;
        let receipt = serde_json::from_slice(&bytes).map_err(|e| {
            Error::protocol(format!("the receipt of message {id} is damaged: {e}")).maybe_sent()
        })?;
        Ok(Some(receipt))
    }

    async fn write_message(
        &self,
        msg: &SecureMessage,
        id: &str,
        staging: &Path,
        created: &mut Created,
    ) -> Result<SendReceipt> {
        let from = msg
            .from()
            .or(self.config.from.as_ref())
            .cloned()
            .unwrap_or_else(crate::default_sender);
        let boundary = eml::boundary();
        let headers = eml::message_headers(msg, &from, id, &boundary)?;
        let eml_path = staging.join("message.eml");
        let file = tokio::fs::File::create(&eml_path)
            .await
            .map_err(|e| Error::io(format!("creating {}", eml_path.display()), e))?;
        let mut parts = PartWriter::new(
            tokio::io::BufWriter::with_capacity(256 * 1024, file),
            boundary,
        );
        parts.raw(headers.as_bytes()).await?;
        parts
            .raw(b"This is a multi-part message in MIME format.\r\n")
            .await?;
        parts.bodies(msg.text(), msg.html()).await?;

        let mut staged = Vec::new();
        for (index, file) in msg.attachments().iter().enumerate() {
            let blob = self.write_attachment(&mut parts, file, index, msg).await?;
            staged.push((file, blob));
        }
        let out = parts.close().await?;
        out.into_inner()
            .sync_all()
            .await
            .map_err(|e| Error::io("syncing the message", e))?;

        let folder = format!("sent/{id}");
        self.store.ensure_folder(&folder, true, created)?;
        let mut names = HashSet::new();
        let mut attachments = Vec::new();
        for (file, blob) in staged {
            let name = unique_name(file.name(), &mut names);
            let ctype = file.attachment.content_type();
            let entry = self
                .store
                .commit(blob, &folder, &name, &ctype, false, created)?;
            attachments.push(entry.to_remote());
        }

        let final_dir = self.root.join("outbox").join(id);
        let receipt = SendReceipt::new(PROVIDER, id, SendStatus::Stored)
            .with_recipients(msg.recipients().map(|a| a.email().to_owned()).collect())
            .with_attachments(attachments)
            .with_location(final_dir.join("message.eml").display().to_string());
        write_receipt(staging, &receipt).await?;
        Ok(receipt)
    }

    /// Streams one attachment into the message (base64) and into a staged blob at once.
    async fn write_attachment<W: tokio::io::AsyncWrite + Unpin>(
        &self,
        parts: &mut PartWriter<W>,
        file: &CheckedFile,
        index: usize,
        msg: &SecureMessage,
    ) -> Result<StagedBlob> {
        let name = file.name();
        let mut enc: Base64Lines = parts
            .start_attachment(&file.attachment.content_type(), name)
            .await?;
        let mut blob = self.store.new_blob().await?;
        let mut progress = FileProgress::start(msg.progress(), index, name, Some(file.size));
        let mut blocks = Blocks::new(file.open().await?, name);
        while let Some(block) = blocks.next().await? {
            parts.attachment_bytes(&mut enc, block).await?;
            blob.write(block).await?;
            progress.advance(block.len() as u64);
        }
        parts.end_attachment(enc).await?;
        let staged = blob.finish().await?;
        progress.finish();
        Ok(staged)
    }
}

/// Reads a file in blocks of whole base64 lines, so every block encodes without a remainder.
pub(crate) struct Blocks<'a> {
    reader: BoxReader,
    name: &'a str,
    buf: Vec<u8>,
}

impl<'a> Blocks<'a> {
    pub fn new(reader: BoxReader, name: &'a str) -> Self {
        Blocks {
            reader,
            name,
            buf: vec![0u8; BLOCK_INPUT],
        }
    }

    /// The next block (full unless it is the last), or `None` at the end.
    pub async fn next(&mut self) -> Result<Option<&[u8]>> {
        let mut filled = 0;
        while filled < self.buf.len() {
            let n = self
                .reader
                .read(&mut self.buf[filled..])
                .await
                .map_err(|e| read_error(&format!("reading {}", self.name), e))?;
            if n == 0 {
                break;
            }
            filled += n;
        }
        Ok((filled > 0).then(|| &self.buf[..filled]))
    }
}

/// The largest receipt a take-over reads back.
const MAX_RECEIPT_BYTES: u64 = 1 << 20;

/// Whether `id` has the shape [`message_id`] gives (a checkpoint is read back from storage:
/// it must not name a path).
fn is_message_id(id: &str) -> bool {
    id.len() <= 40 && id.len() > 17 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// A sortable, unique message id: UTC time plus 32 random bits.
fn message_id() -> String {
    let now = OffsetDateTime::now_utc();
    let stamp = now
        .format(time::macros::format_description!(
            "[year][month][day]T[hour][minute][second]Z"
        ))
        .unwrap_or_default();
    format!("{stamp}-{:08x}", rand::random::<u32>())
}

/// `name`, or `name (2).ext` and so on when a message carries two files of the same name.
fn unique_name(name: &str, seen: &mut HashSet<String>) -> String {
    if seen.insert(name.to_owned()) {
        return name.to_owned();
    }
    let (stem, ext) = match name.rfind('.') {
        Some(i) if i > 0 => (&name[..i], &name[i..]),
        _ => (name, ""),
    };
    (2..)
        .map(|n| format!("{stem} ({n}){ext}"))
        .find(|candidate| seen.insert(candidate.clone()))
        .expect("an unused name exists")
}

async fn write_receipt(dir: &Path, receipt: &SendReceipt) -> Result<()> {
    let path: PathBuf = dir.join("receipt.json");
    let mut json = serde_json::to_vec_pretty(receipt)
        .map_err(|e| Error::protocol(format!("encoding the receipt: {e}")))?;
    json.push(b'\n');
    let file = tokio::fs::File::create(&path)
        .await
        .map_err(|e| Error::io("creating receipt.json", e))?;
    let mut file = tokio::io::BufWriter::new(file);
    tokio::io::AsyncWriteExt::write_all(&mut file, &json)
        .await
        .map_err(|e| Error::io("writing receipt.json", e))?;
    tokio::io::AsyncWriteExt::flush(&mut file)
        .await
        .map_err(|e| Error::io("writing receipt.json", e))?;
    file.into_inner()
        .sync_all()
        .await
        .map_err(|e| Error::io("syncing receipt.json", e))
}

/// Makes a rename durable; failure only weakens durability, so it is logged, not returned.
fn sync_dir(dir: &Path) {
    if let Err(e) = std::fs::File::open(dir).and_then(|d| d.sync_all()) {
        tracing::debug!(dir = %dir.display(), error = %e, "directory sync failed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicate_names_get_numbers() {
        let mut seen = HashSet::new();
        let names: Vec<_> = ["a.pdf", "a.pdf", "a.pdf", "b", "b", ".x", ".x"]
            .iter()
            .map(|n| unique_name(n, &mut seen))
            .collect();
        assert_eq!(
            names,
            [
                "a.pdf",
                "a (2).pdf",
                "a (3).pdf",
                "b",
                "b (2)",
                ".x",
                ".x (2)"
            ]
        );
    }
}
