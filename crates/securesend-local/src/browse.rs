//! Browsing the file store: folders are directories of entries, ids are paths.

use securesend_core::request::normalize_folder;
use securesend_core::{
    Browser, Entry, EntryKind, Error, ErrorKind, ListRequest, Page, Result, async_trait,
};

use crate::{LocalProvider, PROVIDER};

/// Entries per page when the caller does not ask for a size.
const DEFAULT_PAGE: usize = 200;

#[async_trait]
impl Browser for LocalProvider {
    async fn list(&self, req: ListRequest) -> Result<Page> {
        self.capabilities.check_list(PROVIDER, &req)?;
        let folder = normalize_folder(req.location().unwrap_or(""))?;
        let offset = match req.cursor() {
            None => 0,
            Some(c) => c.parse::<usize>().map_err(|_| {
                Error::invalid_input(format!("{c:?} is not a local listing cursor"))
            })?,
        };
        let size = req.requested_page_size().unwrap_or(DEFAULT_PAGE);
        let names = self.store.folder_names(&folder)?;
        let end = offset.saturating_add(size).min(names.len());
        let mut entries = Vec::new();
        for (name, is_dir) in names.get(offset..end).unwrap_or_default() {
            let id = if folder.is_empty() {
                name.clone()
            } else {
                format!("{folder}/{name}")
            };
            entries.push(if *is_dir {
                Entry::new(&id, name, EntryKind::Folder).with_path(id.clone())
            } else {
                let stored = self.store.entry(&id)?;
                let remote = stored.to_remote();
                Entry::new(&id, name, EntryKind::File)
                    .with_size(stored.size)
                    .with_modified(stored.modified)
                    .with_checksums(remote.checksums)
                    .with_path(id.clone())
            });
        }
        let next = (end < names.len()).then(|| end.to_string());
        Ok(Page { entries, next })
    }

    async fn create_folder(&self, path: &str, parents: bool) -> Result<Entry> {
        let folder = self.capabilities.check_create_folder(PROVIDER, path)?;
        let name = folder.rsplit('/').next().unwrap_or(&folder).to_owned();
        let entry = Entry::new(&folder, name, EntryKind::Folder).with_path(folder.clone());
        match self.store.folder_state(&folder) {
            FolderState::Folder if parents => return Ok(entry),
            FolderState::Folder => {
                return Err(Error::new(
                    ErrorKind::Conflict,
                    format!("folder {folder} exists already"),
                ));
            }
            FolderState::File => {
                return Err(Error::new(
                    ErrorKind::Conflict,
                    format!("{folder} is a file; choose another name"),
                ));
            }
            FolderState::Missing => {}
        }
        if let Some((parent, _)) = folder.rsplit_once('/') {
            if !parents && self.store.folder_state(parent) != FolderState::Folder {
                return Err(Error::new(
                    ErrorKind::NotFound,
                    format!("parent folder {parent} does not exist; create it too (--parents)"),
                ));
            }
        }
        let mut created = crate::store::Created::default();
        self.store.ensure_folder(&folder, true, &mut created)?;
        Ok(entry)
    }
}

/// What a path in the store is.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum FolderState {
    Folder,
    File,
    Missing,
}
