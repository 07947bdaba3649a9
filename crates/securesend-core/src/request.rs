//! Upload and download requests.

use crate::cancel::Cancel;
use crate::error::{Error, Result};
use crate::file::{Attachment, CheckedFile};
use crate::names::validate_file_name;
use crate::progress::Progress;

/// A file to upload and where to put it.
///
/// ```
/// use securesend_core::{Attachment, UploadRequest};
///
/// let req = UploadRequest::builder(Attachment::from_bytes("a.txt", "hi"))
///     .folder("/reports//2026/")
///     .create_parents(true)
///     .build()?;
/// assert_eq!(req.folder(), Some("reports/2026"));
/// assert_eq!(req.file().size, 2);
/// # Ok::<(), securesend_core::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct UploadRequest {
    file: CheckedFile,
    folder: Option<String>,
    create_parents: bool,
    overwrite: bool,
    resume: bool,
    progress: Option<Progress>,
    cancel: Cancel,
}

impl UploadRequest {
    /// Starts a request for `file`.
    pub fn builder(file: Attachment) -> UploadBuilder {
        UploadBuilder {
            file,
            folder: None,
            create_parents: false,
            overwrite: false,
            resume: false,
            progress: None,
            cancel: Cancel::new(),
        }
    }

    /// The file, with its checked size.
    pub fn file(&self) -> &CheckedFile {
        &self.file
    }
    /// The destination folder, normalised to `a/b/c` (no leading or trailing slash); `None`
    /// means the provider's default place.
    pub fn folder(&self) -> Option<&str> {
        self.folder.as_deref()
    }
    /// Whether missing folders are created.
    pub fn create_parents(&self) -> bool {
        self.create_parents
    }
    /// Whether an existing file of the same name may be replaced.
    pub fn overwrite(&self) -> bool {
        self.overwrite
    }
    /// Whether an interrupted upload of this file to this place, saved by an earlier run,
    /// should be continued instead of started afresh.
    pub fn resume(&self) -> bool {
        self.resume
    }
    /// The progress callback, when any.
    pub fn progress(&self) -> Option<&Progress> {
        self.progress.as_ref()
    }
    /// The signal that asks this upload to stop (never fires unless the caller gave one).
    pub fn cancel(&self) -> &Cancel {
        &self.cancel
    }
}

/// Builds an [`UploadRequest`].
#[derive(Debug)]
pub struct UploadBuilder {
    file: Attachment,
    folder: Option<String>,
    create_parents: bool,
    overwrite: bool,
    resume: bool,
    progress: Option<Progress>,
    cancel: Cancel,
}

impl UploadBuilder {
    /// Uploads into this folder path (`/` separated).
    pub fn folder(mut self, path: impl Into<String>) -> Self {
        self.folder = Some(path.into());
        self
    }
    /// Creates missing folders on the way.
    pub fn create_parents(mut self, on: bool) -> Self {
        self.create_parents = on;
        self
    }
    /// Replaces an existing file of the same name.
    pub fn overwrite(mut self, on: bool) -> Self {
        self.overwrite = on;
        self
    }
    /// Continues an interrupted upload saved by an earlier run, where the provider can.
    pub fn resume(mut self, on: bool) -> Self {
        self.resume = on;
        self
    }
    /// Receives progress events.
    pub fn progress(mut self, progress: Progress) -> Self {
        self.progress = Some(progress);
        self
    }
    /// Lets `cancel` interrupt the upload; a resumable upload keeps its session for
    /// [`resume`](Self::resume).
    pub fn cancel_on(mut self, cancel: Cancel) -> Self {
        self.cancel = cancel;
        self
    }
    /// Checks the file and folder and returns the request.
    pub fn build(self) -> Result<UploadRequest> {
        let folder = match self.folder {
            Some(f) => Some(normalize_folder(&f)?).filter(|f| !f.is_empty()),
            None => None,
        };
        Ok(UploadRequest {
            file: CheckedFile::check(self.file)?,
            folder,
            create_parents: self.create_parents,
            overwrite: self.overwrite,
            resume: self.resume,
            progress: self.progress,
            cancel: self.cancel,
        })
    }
}

/// Normalises a remote folder path to `a/b/c`; each component must be a valid file name.
///
/// ```
/// use securesend_core::request::normalize_folder;
/// assert_eq!(normalize_folder("/a/./b//c/").unwrap(), "a/b/c");
/// assert_eq!(normalize_folder("/").unwrap(), "");
/// assert!(normalize_folder("a/../b").is_err());
/// ```
pub fn normalize_folder(path: &str) -> Result<String> {
    let mut parts = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                return Err(Error::invalid_input(format!(
                    "folder {path:?} contains `..`; give a path from the top"
                )));
            }
            p => {
                validate_file_name(p).map_err(|e| {
                    Error::invalid_input(format!("folder {path:?}: {}", e.message()))
                })?;
                parts.push(p);
            }
        }
    }
    Ok(parts.join("/"))
}

/// Which remote file to download.
///
/// ```
/// use securesend_core::DownloadRequest;
/// let req = DownloadRequest::new("4f1c");
/// assert_eq!(req.id(), "4f1c");
/// ```
#[derive(Clone, Debug)]
pub struct DownloadRequest {
    id: String,
    progress: Option<Progress>,
}

impl DownloadRequest {
    /// Downloads the file with this provider-specific id.
    pub fn new(id: impl Into<String>) -> Self {
        DownloadRequest {
            id: id.into(),
            progress: None,
        }
    }

    /// Receives progress events.
    pub fn with_progress(mut self, progress: Progress) -> Self {
        self.progress = Some(progress);
        self
    }

    /// The id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The progress callback, when any.
    pub fn progress(&self) -> Option<&Progress> {
        self.progress.as_ref()
    }

    /// Checks the id: not empty, no control characters or white space, at most 1024 bytes.
    pub fn validate(&self) -> Result<()> {
        let id = &self.id;
        if id.is_empty() {
            return Err(Error::invalid_input(
                "the file id is empty; give the id to download",
            ));
        }
        if id.len() > 1024 || id.chars().any(|c| c.is_control() || c.is_whitespace()) {
            let shown: String = id.escape_debug().take(60).collect();
            return Err(Error::invalid_input(format!(
                "file id \"{shown}\" is not a valid id (white space, control characters or too long)"
            )));
        }
        Ok(())
    }
}
