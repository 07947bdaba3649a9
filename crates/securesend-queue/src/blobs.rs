//! The files of queued messages: staged at enqueue, checked before sending, removed when the
//! job ends.
//!
//! A job must not depend on the enqueuing process keeping its files where they were. By default
//! ([`Stage::Copy`]) each attachment is streamed into the queue's blob directory with its size
//! and SHA-256 recorded; the copy is written under a temporary name, flushed to disk and renamed,
//! so a crash never leaves a half-copied file under a job's name. [`Stage::Reference`] keeps the
//! file where it is and records its size and SHA-256; before sending, both are checked again and
//! a changed file fails the job for good.
//!
//! Copies are named relative to the blob directory, so workers on other machines that mount the
//! same directory elsewhere find them.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use securesend_core::{Attachment, CheckedFile, Error, Result};

/// Buffer size for copying and hashing: large enough to keep the disk busy, small enough that
/// memory stays flat whatever the file's size.
const BUF: usize = 1 << 20;

/// How a job keeps its attachments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Copied into the blob directory (the default): the job no longer needs the original.
    #[default]
    Copy,
    /// Left in place; size and SHA-256 are checked again before sending. Files given as bytes
    /// or a reader have no place to refer to and are copied.
    Reference,
}

impl std::str::FromStr for Stage {
    type Err = Error;

    fn from_str(s: &str) -> Result<Stage> {
        match s {
            "copy" => Ok(Stage::Copy),
            "reference" => Ok(Stage::Reference),
            other => Err(Error::invalid_input(format!(
                "unknown staging {other:?}: use copy or reference"
            ))),
        }
    }
}

/// One attachment of a queued message, as staged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StagedFile {
    /// The name recipients see.
    pub name: String,
    /// Its content type.
    pub content_type: String,
    /// Its size in bytes when it was staged.
    pub size: u64,
    /// Its SHA-256 (hex) when it was staged.
    pub sha256: String,
    /// How it is kept.
    pub stage: Stage,
    /// A copy: its path inside the blob directory; a reference: the file's absolute path.
    pub path: PathBuf,
}

/// The blob directory of a queue.
#[derive(Debug, Clone)]
pub struct BlobStore {
    dir: PathBuf,
}

impl BlobStore {
    /// Blobs under `dir` (created when the first file is staged).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        BlobStore { dir: dir.into() }
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Stages `files` under `stage_id` (a fresh id per job). On any failure what was already
    /// staged is removed again and the error names the file.
    pub async fn stage(
        &self,
        stage_id: &str,
        files: &[CheckedFile],
        mode: Stage,
    ) -> Result<Vec<StagedFile>> {
        check_stage_id(stage_id)?;
        let mut staged = Vec::with_capacity(files.len());
        for (index, file) in files.iter().enumerate() {
            match self.stage_one(stage_id, index, file, mode).await {
                Ok(s) => staged.push(s),
                Err(e) => {
                    // The job is not stored; leave nothing of it behind.
                    let _ = self.remove(stage_id).await;
                    return Err(e);
                }
            }
        }
        Ok(staged)
    }

    async fn stage_one(
        &self,
        stage_id: &str,
        index: usize,
        file: &CheckedFile,
        mode: Stage,
    ) -> Result<StagedFile> {
        let name = file.name().to_owned();
        let content_type = file.attachment.content_type();
        let referable = file.attachment.source().as_path().map(Path::to_path_buf);
        if let (Stage::Reference, Some(path)) = (mode, referable) {
            let path = std::fs::canonicalize(&path)
                .map_err(|e| Error::io(format!("cannot resolve {}", path.display()), e))?;
            let (size, sha256) = hash_reader(file.open().await?, &name).await?;
            return Ok(StagedFile {
                name,
                content_type,
                size,
                sha256,
                stage: Stage::Reference,
                path,
            });
        }
        let job_dir = self.dir.join(stage_id);
        create_private_dir(&job_dir).await?;
        let relative = PathBuf::from(stage_id).join(format!("{index:04}"));
        let part = job_dir.join(format!(".{index:04}.part"));
        let (size, sha256) = copy_hashed(file.open().await?, &part, &name).await?;
        tokio::fs::rename(&part, self.dir.join(&relative))
            .await
            .map_err(|e| Error::io(format!("cannot store the copy of {name}"), e))?;
        sync_dir(&job_dir).await;
        Ok(StagedFile {
            name,
            content_type,
            size,
            sha256,
            stage: Stage::Copy,
            path: relative,
        })
    }

    /// Where `file` is on this machine.
    pub fn locate(&self, file: &StagedFile) -> PathBuf {
        match file.stage {
            Stage::Copy => self.dir.join(&file.path),
            Stage::Reference => file.path.clone(),
        }
    }

    /// Checks `file` before it is sent and returns it as an attachment. A copy must still have
    /// its size (the blob directory is trusted); a reference must have its size and SHA-256,
    /// else the error (kind integrity, permanent) says the file changed since it was queued.
    pub async fn attachment(&self, file: &StagedFile) -> Result<Attachment> {
        let path = self.locate(file);
        let changed = |what: String| {
            Error::integrity(format!(
                "{} ({}) {what} since the job was queued; queue it again with the file as it should be sent",
                file.name,
                path.display()
            ))
        };
        let meta = tokio::fs::metadata(&path)
            .await
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => changed("is gone".to_owned()),
                _ => Error::io(format!("cannot read {}", path.display()), e),
            })?;
        if !meta.is_file() || meta.len() != file.size {
            return Err(changed(format!(
                "changed size ({} bytes, queued with {})",
                meta.len(),
                file.size
            )));
        }
        if file.stage == Stage::Reference {
            let reader = tokio::fs::File::open(&path)
                .await
                .map_err(|e| Error::io(format!("cannot open {}", path.display()), e))?;
            let (_, sha256) = hash_reader(Box::new(reader.take(file.size + 1)), &file.name).await?;
            if sha256 != file.sha256 {
                return Err(changed("changed content (another SHA-256)".to_owned()));
            }
        }
        Ok(Attachment::from_path(path)
            .with_name(file.name.clone())
            .with_content_type(file.content_type.clone()))
    }

    /// Removes the copies staged under `stage_id`; references are left alone. Removing what is
    /// already gone is not an error.
    pub async fn remove(&self, stage_id: &str) -> Result<()> {
        check_stage_id(stage_id)?;
        match tokio::fs::remove_dir_all(self.dir.join(stage_id)).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::io(
                format!("cannot remove the staged files of job {stage_id}"),
                e,
            )),
        }
    }
}

/// Stage ids become directory names: only what a UUID is made of.
fn check_stage_id(id: &str) -> Result<()> {
    if id.is_empty() || id.len() > 64 || !id.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
        return Err(Error::invalid_input(format!(
            "{:?} is not a staging id",
            id.chars().take(70).collect::<String>()
        )));
    }
    Ok(())
}

async fn create_private_dir(dir: &Path) -> Result<()> {
    let mut builder = tokio::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    builder.mode(0o700);
    builder.create(dir).await.map_err(|e| {
        Error::io(
            format!("cannot create the blob directory {}", dir.display()),
            e,
        )
    })
}

/// Makes a rename durable; where a directory cannot be opened (not on Unix) the rename is
/// durable at the file system's next commit.
async fn sync_dir(dir: &Path) {
    if let Ok(d) = tokio::fs::File::open(dir).await {
        let _ = d.sync_all().await;
    }
}

async fn copy_hashed(
    mut reader: securesend_core::BoxReader,
    to: &Path,
    name: &str,
) -> Result<(u64, String)> {
    let mut out = tokio::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(to)
        .await
        .map_err(|e| Error::io(format!("cannot write the copy of {name}"), e))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; BUF];
    let mut size = 0u64;
    loop {
        let n = reader
            .read(&mut buf)
            .await
            .map_err(|e| securesend_core::file::read_error(name, e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        out.write_all(&buf[..n])
            .await
            .map_err(|e| Error::io(format!("cannot write the copy of {name}"), e))?;
        size += n as u64;
    }
    out.sync_all()
        .await
        .map_err(|e| Error::io(format!("cannot flush the copy of {name}"), e))?;
    Ok((size, hex::encode(hasher.finalize())))
}

async fn hash_reader(mut reader: securesend_core::BoxReader, name: &str) -> Result<(u64, String)> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; BUF];
    let mut size = 0u64;
    loop {
        let n = reader
            .read(&mut buf)
            .await
            .map_err(|e| securesend_core::file::read_error(name, e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        size += n as u64;
    }
    Ok((size, hex::encode(hasher.finalize())))
}
