//! Uploading: one streamed `file_upload` into the request's folder or `workspace_path`.

use securesend_core::checksum::Checksums;
use securesend_core::{CheckedFile, Error, RemoteFile, Result, UploadRequest, check_header_text};

use crate::api::FileInfo;
use crate::browse::MadeFolders;
use crate::client::UploadSpec;
use crate::{PROVIDER, TuyuProvider};

/// Tuyu's own upload options.
///
/// ```
/// use securesend_tuyu::UploadOptions;
/// let o = UploadOptions::default().comment("signed copy").file_id_tag("INV-2026-7");
/// assert_eq!(o.comment.as_deref(), Some("signed copy"));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct UploadOptions {
    /// A comment stored with the file.
    pub comment: Option<String>,
    /// A tag to find the file by (`file_search_site`'s `file_id_tag`).
    pub file_id_tag: Option<String>,
}

impl UploadOptions {
    /// Sets the comment.
    pub fn comment(mut self, comment: impl Into<String>) -> Self {
        self.comment = Some(comment.into());
        self
    }

    /// Sets the file id tag.
    pub fn file_id_tag(mut self, tag: impl Into<String>) -> Self {
        self.file_id_tag = Some(tag.into());
        self
    }

    fn check(&self) -> Result<()> {
        for (field, value) in [
            ("comment", &self.comment),
            ("file_id_tag", &self.file_id_tag),
        ] {
            if let Some(v) = value {
                check_header_text(field, v).map_err(|e| e.with_provider(PROVIDER))?;
            }
        }
        Ok(())
    }
}

impl TuyuProvider {
    pub(crate) async fn upload_file(
        &self,
        req: UploadRequest,
        options: &UploadOptions,
    ) -> Result<RemoteFile> {
        options.check()?;
        // A request's folder is a path from `folder_root` (by default the site's root, so
        // `Workspace_workspace/sub`).
        let path = match req.folder() {
            Some(f) => self.below_root(f)?,
            None => self.settings.workspace_path.clone(),
        };
        let cancel = req.cancel();
        let interrupted = |e: Error| e.or_provider(PROVIDER).or_operation("upload");
        let mut folders = MadeFolders::default();
        if req.create_parents() && req.folder().is_some() {
            let made = cancel
                .guard(
                    "the upload, before any byte was sent,",
                    self.ensure_folders(&path, &mut folders),
                )
                .await;
            made.map_err(|e| folders.noted(interrupted(e)))?;
        }
        let spec = UploadSpec {
            path: &path,
            file: req.file(),
            overwrite: req.overwrite(),
            comment: options.comment.as_deref(),
            file_id_tag: options.file_id_tag.as_deref(),
            progress: req.progress(),
            index: 0,
        };
        // Tuyu stores a file only when its one `file_upload` request is complete, so an
        // upload abandoned mid-body leaves nothing behind.
        let uploaded = cancel
            .guard(
                &format!("the upload of {}", req.file().name()),
                self.client.file_upload(&spec),
            )
            .await;
        let (info, sums) = match uploaded {
            Ok(done) => done,
            Err(e) if e.is_cancelled() => {
                return Err(folders.noted(crate::send::with_note(
                    interrupted(e),
                    &format!(
                        "Tuyu keeps a file only when its upload arrived whole, so {path} holds it only if the interruption came at the very end"
                    ),
                )));
            }
            Err(e) => {
                let hint = if req.create_parents() {
                    ""
                } else {
                    "; create it first (securesend mkdir --parents) or upload with --parents"
                };
                return Err(self.missing_or_refused(&path, e, "upload", hint).await);
            }
        };
        remote_file(&info, req.file(), &path, sums)
    }
}

/// The uploaded file as a [`RemoteFile`]: the service's id, name and folder, our size and
/// SHA-256 (checked against the size the service reports).
pub(crate) fn remote_file(
    info: &FileInfo,
    file: &CheckedFile,
    folder: &str,
    sums: Checksums,
) -> Result<RemoteFile> {
    if let Some(stored) = info.file_size {
        if stored != file.size {
            return Err(Error::integrity(format!(
                "{}: the service stored {stored} bytes of {}",
                file.name(),
                file.size
            ))
            .with_provider(PROVIDER)
            .with_operation("upload"));
        }
    }
    let name = info
        .file_name
        .clone()
        .unwrap_or_else(|| file.name().to_owned());
    Ok(RemoteFile::new(PROVIDER, info.file_id.clone(), name)
        .with_size(file.size)
        .with_content_type(file.attachment.content_type())
        .with_checksums(sums)
        .with_folder(info.path.clone().unwrap_or_else(|| folder.to_owned())))
}
