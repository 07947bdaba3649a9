//! Folder listings, for providers that let a person look around.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::checksum::Checksums;
use crate::error::{Error, Result};

/// Whether an entry is a file or a folder.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    /// A file: its id is what [`Downloader`](crate::Downloader) accepts.
    File,
    /// A folder: its id or path is what [`Browser::list`] and uploads accept.
    Folder,
}

/// One entry of a folder listing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Entry {
    /// The id to download it (file) or list it (folder) with.
    pub id: String,
    /// Its name.
    pub name: String,
    /// File or folder.
    pub kind: EntryKind,
    /// Its size in bytes, for files when known.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub size: Option<u64>,
    /// When it was last modified, when known.
    #[serde(
        skip_serializing_if = "Option::is_none",
        default,
        with = "time::serde::rfc3339::option"
    )]
    pub modified: Option<OffsetDateTime>,
    /// Checksums the service reports.
    #[serde(skip_serializing_if = "Checksums::is_empty", default)]
    pub checksums: Checksums,
    /// Its path from the top, when the service has paths.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub path: Option<String>,
}

impl Entry {
    /// An entry; set the rest with the `with_*` methods.
    ///
    /// The name is shown to people, so its invisible format characters are removed
    /// ([`strip_invisible`](crate::names::strip_invisible)); the id and path stay as the
    /// service gave them, since they address the entry.
    pub fn new(id: impl Into<String>, name: impl Into<String>, kind: EntryKind) -> Self {
        Entry {
            id: id.into(),
            name: crate::names::strip_invisible(&name.into()),
            kind,
            size: None,
            modified: None,
            checksums: Checksums::default(),
            path: None,
        }
    }
    /// Sets the size.
    pub fn with_size(mut self, size: u64) -> Self {
        self.size = Some(size);
        self
    }
    /// Sets the modification time.
    pub fn with_modified(mut self, modified: OffsetDateTime) -> Self {
        self.modified = Some(modified);
        self
    }
    /// Sets the checksums.
    pub fn with_checksums(mut self, checksums: Checksums) -> Self {
        self.checksums = checksums;
        self
    }
    /// Sets the path.
    pub fn with_path(mut self, path: impl Into<String>) -> Self {
        self.path = Some(path.into());
        self
    }
}

/// One page of a listing.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Page {
    /// The entries of this page.
    pub entries: Vec<Entry>,
    /// Where the next page starts; `None` on the last page.
    pub next: Option<String>,
}

/// Which folder to list, and which page of it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListRequest {
    location: Option<String>,
    cursor: Option<String>,
    page_size: Option<usize>,
}

impl ListRequest {
    /// The top level.
    pub fn top() -> Self {
        ListRequest::default()
    }

    /// The folder at `location`: a path (`reports/2026`) or a folder id, as the provider
    /// documents. Empty or `/` is the top level.
    pub fn at(location: impl Into<String>) -> Self {
        let location = location.into();
        let trimmed = location.trim();
        ListRequest {
            location: (!trimmed.is_empty() && trimmed != "/").then(|| trimmed.to_owned()),
            ..ListRequest::default()
        }
    }

    /// Continues from a page's `next` cursor.
    pub fn after(mut self, cursor: impl Into<String>) -> Self {
        self.cursor = Some(cursor.into());
        self
    }

    /// Asks for pages of at most `size` entries (the provider may cap it).
    pub fn page_size(mut self, size: usize) -> Self {
        self.page_size = Some(size.max(1));
        self
    }

    /// The folder, `None` for the top level.
    pub fn location(&self) -> Option<&str> {
        self.location.as_deref()
    }
    /// The cursor to continue from.
    pub fn cursor(&self) -> Option<&str> {
        self.cursor.as_deref()
    }
    /// The requested page size.
    pub fn requested_page_size(&self) -> Option<usize> {
        self.page_size
    }

    /// Checks the location and cursor: no control characters, no `..` components.
    pub fn validate(&self) -> Result<()> {
        for (what, value) in [("folder", &self.location), ("cursor", &self.cursor)] {
            if let Some(v) = value {
                if v.chars().any(char::is_control) || v.len() > 4096 {
                    return Err(Error::invalid_input(format!(
                        "{what} {:?} contains control characters or is too long",
                        v.escape_debug().to_string()
                    )));
                }
            }
        }
        if let Some(loc) = &self.location {
            if loc.split('/').any(|p| p == "..") {
                return Err(Error::invalid_input(format!(
                    "folder {loc:?} contains `..`; give a path from the top"
                )));
            }
        }
        Ok(())
    }
}

/// Lists folders and creates them.
#[async_trait::async_trait]
pub trait Browser: Send + Sync {
    /// One page of the folder `request` names.
    async fn list(&self, request: ListRequest) -> Result<Page>;

    /// Creates the folder at `path` (`/`-separated). An existing folder is a
    /// [`Conflict`](crate::ErrorKind::Conflict), unless `parents` is set, which also creates
    /// missing parents and makes an existing folder a success.
    async fn create_folder(&self, path: &str, parents: bool) -> Result<Entry>;
}
