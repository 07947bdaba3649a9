//! Browsing: folders and files by path or folder id, paged with `offset`/`limit`.
//!
//! | listing | calls |
//! |---|---|
//! | the top level | `GET /rest/folders/top` (folders only: files live in folders) |
//! | a folder (path or id) | `GET /rest/search?path=` for a path, then `GET /rest/folders/{id}/folders` and `GET /rest/folders/{id}/files` |
//! | a new folder | `POST /rest/folders/{parent}/folders` (`0` = top level) |
//!
//! A location that is a UUID is a folder id; anything else is a path from the user's root
//! (`My Folder/reports`). The cursor says which list and where: `folders:<offset>` while the
//! subfolders last, then `files:<offset>`; a list ends when a page comes back short.

use securesend_core::{
    Browser, Entry, EntryKind, Error, ErrorKind, ListRequest, Page, Result, async_trait,
};

use crate::api::{File, Folder};
use crate::upload::service_checksums;
use crate::{KiteworksProvider, PROVIDER, client};

/// Entries per request unless the caller asks for another size.
const DEFAULT_PAGE: u64 = 200;
/// The most entries asked for in one request.
const MAX_PAGE: u64 = 1000;

/// Where a listing continues.
#[derive(Debug, PartialEq, Eq)]
enum Cursor {
    Folders(u64),
    Files(u64),
}

impl Cursor {
    fn parse(s: Option<&str>) -> Result<Cursor> {
        let Some(s) = s else {
            return Ok(Cursor::Folders(0));
        };
        let bad = || Error::invalid_input(format!("{s:?} is not a Kiteworks listing cursor"));
        let (list, offset) = s.split_once(':').ok_or_else(bad)?;
        let offset = offset.parse::<u64>().map_err(|_| bad())?;
        match list {
            "folders" => Ok(Cursor::Folders(offset)),
            "files" => Ok(Cursor::Files(offset)),
            _ => Err(bad()),
        }
    }

    fn render(&self) -> String {
        match self {
            Cursor::Folders(o) => format!("folders:{o}"),
            Cursor::Files(o) => format!("files:{o}"),
        }
    }
}

/// Whether a location names a folder by id (a UUID) rather than by path.
fn is_folder_id(location: &str) -> bool {
    let b = location.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

fn join(parent: Option<&str>, name: &str) -> String {
    match parent {
        Some(p) if !p.is_empty() => format!("{}/{name}", p.trim_end_matches('/')),
        _ => name.to_owned(),
    }
}

fn folder_entry(f: &Folder, parent_path: Option<&str>) -> Entry {
    let name = f.name.clone().unwrap_or_else(|| f.id.clone());
    let path = f
        .path
        .clone()
        .map(|p| p.trim_matches('/').to_owned())
        .unwrap_or_else(|| join(parent_path, &name));
    let e = Entry::new(&f.id, name, EntryKind::Folder).with_path(path);
    match f.modified {
        Some(t) => e.with_modified(t),
        None => e,
    }
}

pub(crate) fn file_entry(f: &File, parent_path: Option<&str>) -> Entry {
    let name = f.name.clone().unwrap_or_else(|| f.id.clone());
    let mut e = Entry::new(&f.id, &name, EntryKind::File)
        .with_checksums(service_checksums(f))
        .with_path(join(parent_path, &name));
    if let Some(size) = f.size {
        e = e.with_size(size);
    }
    if let Some(t) = f.modified {
        e = e.with_modified(t);
    }
    e
}

impl KiteworksProvider {
    /// The folder a listing names: its id and, when known, its path.
    async fn resolve(&self, location: &str) -> Result<(String, Option<String>)> {
        if is_folder_id(location) {
            return Ok((location.to_owned(), None));
        }
        let path = securesend_core::request::normalize_folder(location)?;
        let id = self.inner.folder_id(&path, false).await?;
        Ok((id, Some(path)))
    }
}

#[async_trait]
impl Browser for KiteworksProvider {
    async fn list(&self, req: ListRequest) -> Result<Page> {
        self.inner.capabilities.check_list(PROVIDER, &req)?;
        let limit = req
            .requested_page_size()
            .map_or(DEFAULT_PAGE, |n| n as u64)
            .clamp(1, MAX_PAGE);
        let cursor = Cursor::parse(req.cursor())?;
        let api = &self.inner.api;
        let Some(location) = req.location() else {
            // The top level holds folders only.
            let Cursor::Folders(offset) = cursor else {
                return Ok(Page::default());
            };
            let folders = api.top_folders(offset, limit).await?;
            let next =
                (folders.len() as u64 == limit).then(|| Cursor::Folders(offset + limit).render());
            let entries = folders
                .iter()
                .filter(|f| f.deleted != Some(true))
                .map(|f| folder_entry(f, None))
                .collect();
            return Ok(Page { entries, next });
        };
        let (id, path) = self.resolve(location).await?;
        if !client::valid_id(&id) {
            return Err(Error::invalid_input(format!("{id:?} is not a folder id")));
        }
        let mut entries = Vec::new();
        let mut cursor = cursor;
        // A short page of folders moves on to the files within the same call, so a page is
        // never empty while entries remain.
        loop {
            match cursor {
                Cursor::Folders(offset) => {
                    let folders = api.folder_children(&id, offset, limit).await?;
                    let full = folders.len() as u64 == limit;
                    entries.extend(
                        folders
                            .iter()
                            .filter(|f| f.deleted != Some(true))
                            .map(|f| folder_entry(f, path.as_deref())),
                    );
                    if full {
                        return Ok(Page {
                            entries,
                            next: Some(Cursor::Folders(offset + limit).render()),
                        });
                    }
                    cursor = Cursor::Files(0);
                }
                Cursor::Files(offset) => {
                    let room = limit.saturating_sub(entries.len() as u64).max(1);
                    let files = api.folder_files(&id, offset, room).await?;
                    let next =
                        (files.len() as u64 == room).then(|| Cursor::Files(offset + room).render());
                    entries.extend(
                        files
                            .iter()
                            .filter(|f| f.deleted != Some(true))
                            .map(|f| file_entry(f, path.as_deref())),
                    );
                    return Ok(Page { entries, next });
                }
            }
        }
    }

    async fn create_folder(&self, path: &str, parents: bool) -> Result<Entry> {
        let path = self
            .inner
            .capabilities
            .check_create_folder(PROVIDER, path)?;
        let name = path.rsplit('/').next().unwrap_or(&path).to_owned();
        let entry = |id: String| Entry::new(id, &name, EntryKind::Folder).with_path(path.clone());
        if parents {
            // Missing levels are created; an existing folder is the answer.
            return Ok(entry(self.inner.folder_id(&path, true).await?));
        }
        let parent = match path.rsplit_once('/') {
            None => crate::folders::TOP_LEVEL.to_owned(),
            Some((parent, _)) => self.inner.folder_id(parent, false).await.map_err(|e| {
                if e.is_not_found() {
                    Error::new(
                        ErrorKind::NotFound,
                        format!("parent folder {parent} does not exist; create it too (--parents)"),
                    )
                    .with_provider(PROVIDER)
                    .with_operation("create folder")
                } else {
                    e
                }
            })?,
        };
        let id = self
            .inner
            .api
            .create_folder(&parent, &name)
            .await
            .map_err(|e| {
                if e.is_conflict() {
                    e.with_message(format!("folder {path} exists already"))
                } else {
                    e
                }
            })?;
        Ok(entry(id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_junk() {
        for c in [Cursor::Folders(0), Cursor::Folders(400), Cursor::Files(7)] {
            assert_eq!(Cursor::parse(Some(&c.render())).unwrap(), c);
        }
        assert_eq!(Cursor::parse(None).unwrap(), Cursor::Folders(0));
        for bad in ["", "folders", "files:-1", "mail:3", "folders:x"] {
            assert!(
                Cursor::parse(Some(bad)).unwrap_err().is_invalid_input(),
                "{bad}"
            );
        }
    }

    #[test]
    fn ids_and_paths_are_told_apart() {
        assert!(is_folder_id("0b1e6f2c-3b7a-4b8e-9a51-2f8c1d0e7a66"));
        assert!(!is_folder_id("My Folder/reports"));
        assert!(!is_folder_id("2026"));
        assert!(!is_folder_id("0b1e6f2c-3b7a-4b8e-9a51-2f8c1d0e7a6"));
    }
}
