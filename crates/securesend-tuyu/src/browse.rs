//! Browsing: `file_list` pages and `create_folder`.
//!
//! The service lists 50 entries a page, whatever a caller asks for, so a requested page size
//! is ignored; the cursor is the next page number. Listings ask for `name_asc`, so an entry
//! added while a folder is listed moves only the pages after its name. Folders are addressed
//! by their Tuyu path (`/Designers_workspace/reports/`), which is both a folder entry's id and
//! what `ls` takes; a file's id is the service's `id`, which `download` takes.
//!
//! `create_folder` answers "Cannot create folder" whatever the reason, so whether a folder
//! exists is read from the service instead: a folder exists when `file_list` of its path
//! answers, and a file of that name shows up in its parent's listing.

use securesend_core::names::validate_file_name;
use securesend_core::request::normalize_folder;
use securesend_core::{
    Browser, Entry, EntryKind, Error, ErrorKind, ListRequest, Page, Result, async_trait,
    clean_service_text,
};
use time::OffsetDateTime;

use crate::api::ListedFile;
use crate::{PROVIDER, TuyuProvider};

/// Entries per page when the answer does not say (documented: 50).
const SERVICE_PAGE: u64 = 50;
/// The order listings ask for.
const ORDER: &str = "name_asc";
/// Pages read at most when looking for a name in a folder (10 000 entries).
const MAX_SCAN_PAGES: u64 = 200;

fn fail(kind: ErrorKind, operation: &'static str, message: String) -> Error {
    Error::new(kind, message)
        .with_provider(PROVIDER)
        .with_operation(operation)
}

/// `/a/b/` → (`/a/`, `b`); `None` for `/`.
fn split(path: &str) -> Option<(String, String)> {
    let inner = path.strip_suffix('/')?;
    let (parent, name) = inner.rsplit_once('/')?;
    (!name.is_empty()).then(|| (format!("{parent}/"), name.to_owned()))
}

/// Whether a listed entry is a folder (`type` `folder`; the documentation shows only `file`).
fn is_folder(f: &ListedFile) -> bool {
    f.kind
        .as_deref()
        .is_some_and(|k| k.trim().eq_ignore_ascii_case("folder"))
}

/// The folders an upload with `--parents` made: an interruption does not remove them (they
/// may hold other files by then), so its message names them.
#[derive(Debug, Default)]
pub(crate) struct MadeFolders {
    created: Vec<String>,
    /// The folder being created when the work stopped: it may exist now.
    pending: Option<String>,
}

impl MadeFolders {
    /// `e` with the folders named, when it is an interruption and there are any.
    pub(crate) fn noted(&self, e: Error) -> Error {
        if !e.is_cancelled() {
            return e;
        }
        let mut parts = Vec::new();
        if !self.created.is_empty() {
            parts.push(format!(
                "the folder(s) created for it stay: {}",
                self.created.join(", ")
            ));
        }
        if let Some(p) = &self.pending {
            parts.push(format!("folder {p} may have been created as well"));
        }
        if parts.is_empty() {
            return e;
        }
        crate::send::with_note(e, &parts.join("; "))
    }
}

/// What a scan of a folder's listing for one name found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Listed {
    /// Listed, as this kind.
    Found(EntryKind),
    /// Not listed, and every page was read.
    Absent,
    /// A page could not be read, or the scan stopped before the end: nothing is known.
    Unknown,
}

/// A refusal at the site root, which only administrators may use, explained.
fn at_root(e: Error, operation: &'static str, hint: &str) -> Error {
    if !e.is_permission_denied() {
        return e;
    }
    let mut out = fail(ErrorKind::PermissionDenied, operation, hint.to_owned()).with_service_error(
        e.service_code().map(str::to_owned),
        e.service_message().map(str::to_owned),
    );
    if let Some(s) = e.status() {
        out = out.with_status(s);
    }
    out
}

impl TuyuProvider {
    /// Tuyu answers a folder that does not exist exactly like one the account may not use
    /// ("You do not have access privileges for this location"). When `e` is that refusal for
    /// `path`, the folders above it are listed to tell the two apart: the first reachable
    /// folder above that does not list the next one down means that one is missing, and the
    /// error becomes `NotFound` naming it, with `hint` appended. Otherwise `e` stands.
    pub(crate) async fn missing_or_refused(
        &self,
        path: &str,
        e: Error,
        operation: &'static str,
        hint: &str,
    ) -> Error {
        if !e.is_permission_denied() || e.service_code().is_none() || path == "/" {
            return e;
        }
        let Some(missing) = self.first_missing(path).await else {
            return e;
        };
        let mut out = fail(
            ErrorKind::NotFound,
            operation,
            format!("folder {missing} does not exist{hint}"),
        )
        .with_service_error(
            e.service_code().map(str::to_owned),
            e.service_message().map(str::to_owned),
        );
        if let Some(s) = e.status() {
            out = out.with_status(s);
        }
        out
    }

    /// The highest folder of `path` that does not exist, when the folders above it can tell:
    /// only a complete scan of a reachable parent that does not list it proves a folder is
    /// missing. A listing that failed or a scan cut short proves nothing, so it is `None` and
    /// the service's refusal stands.
    async fn first_missing(&self, path: &str) -> Option<String> {
        let mut child = path.to_owned();
        // One level per path segment at most.
        for _ in 0..path.matches('/').count() {
            let (parent, name) = split(&child)?;
            if self.folder_exists(&parent).await.ok()? {
                // Listed there: the refusal was about rights (or something below it).
                return match self.listed_kind(&parent, &name).await {
                    Listed::Absent => Some(child),
                    Listed::Found(_) | Listed::Unknown => None,
                };
            }
            child = parent;
        }
        None
    }

    /// A path from `folder_root` (`a/b` → `<root>a/b/`), checked.
    pub(crate) fn below_root(&self, relative: &str) -> Result<String> {
        let parts = normalize_folder(relative)?;
        let root = &self.settings.folder_root;
        Ok(if parts.is_empty() {
            root.clone()
        } else {
            format!("{root}{parts}/")
        })
    }

    /// The folder a listing names: `folder_root` at the top, a Tuyu path when it starts with
    /// `/`, else a path from `folder_root`.
    fn folder_at(&self, location: Option<&str>) -> Result<String> {
        match location {
            None => Ok(self.settings.folder_root.clone()),
            Some(l) if l.starts_with('/') => {
                let parts = normalize_folder(l)?;
                Ok(if parts.is_empty() {
                    "/".to_owned()
                } else {
                    format!("/{parts}/")
                })
            }
            Some(l) => self.below_root(l),
        }
    }

    /// Whether `path` is a folder this account can reach: `file_list` answers for it. A
    /// refusal means no (the service answers a missing folder like a forbidden one); a failure
    /// to ask is an error.
    async fn folder_exists(&self, path: &str) -> Result<bool> {
        match self.client.file_list_sorted(path, 1, Some(ORDER)).await {
            Ok(_) => Ok(true),
            Err(e) if e.is_unauthenticated() || e.service_code().is_none() => Err(e),
            Err(_) => Ok(false),
        }
    }

    /// Whether `parent` lists an entry called `name`, and whether it is a folder. `Absent`
    /// only after every page was read; a page that failed or a scan stopped at
    /// [`MAX_SCAN_PAGES`] is `Unknown`.
    async fn listed_kind(&self, parent: &str, name: &str) -> Listed {
        for page in 1..=MAX_SCAN_PAGES {
            let Ok(list) = self
                .client
                .file_list_sorted(parent, page, Some(ORDER))
                .await
            else {
                return Listed::Unknown;
            };
            if let Some(f) = list.files.iter().find(|f| f.name.as_deref() == Some(name)) {
                return Listed::Found(if is_folder(f) {
                    EntryKind::Folder
                } else {
                    EntryKind::File
                });
            }
            let per = list
                .max_files_page
                .filter(|n| *n > 0)
                .unwrap_or(SERVICE_PAGE);
            let more = match list.total_files {
                Some(total) => page.saturating_mul(per) < total,
                None => list.files.len() as u64 >= per,
            };
            if !more || list.files.is_empty() {
                return Listed::Absent;
            }
        }
        Listed::Unknown
    }

    /// `create_folder` of `name` in `parent`. An existing folder is fine with `parents`, else a
    /// conflict; so is one that appears after an answer that may have come after the service
    /// acted (the folder is then ours).
    async fn make_folder(&self, parent: &str, name: &str, parents: bool) -> Result<()> {
        let target = format!("{parent}{name}/");
        let refused = match self.client.create_folder(name, parent).await {
            Ok(_) => return Ok(()),
            Err(e) if e.is_unauthenticated() => return Err(e),
            Err(e) if e.outcome_unknown() || e.service_code().is_some() => e,
            Err(e) => return Err(e),
        };
        if self.folder_exists(&target).await? {
            if parents || refused.outcome_unknown() {
                return Ok(());
            }
            return Err(exists(&target));
        }
        if self.listed_kind(parent, name).await == Listed::Found(EntryKind::File) {
            return Err(fail(
                ErrorKind::Conflict,
                "create folder",
                format!("a file named {name} is in {parent}; choose another folder name"),
            ));
        }
        if !parents && parent != "/" && !self.folder_exists(parent).await? {
            return Err(fail(
                ErrorKind::NotFound,
                "create folder",
                format!("parent folder {parent} does not exist; create it too (--parents)"),
            ));
        }
        if parent == "/" {
            return Err(at_root(
                refused,
                "create folder",
                "only administrators may create folders at the site root (they are workspaces); give a path inside a workspace, or set folder_root to one",
            ));
        }
        Err(refused)
    }

    /// Creates `path` (`/…/`) and every missing folder above it, one level at a time; `made`
    /// records them as they go, so an interrupted caller can name them.
    pub(crate) async fn ensure_folders(&self, path: &str, made: &mut MadeFolders) -> Result<()> {
        if path == "/" || self.folder_exists(path).await? {
            return Ok(());
        }
        let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
        let mut parent = "/".to_owned();
        for (i, name) in parts.iter().enumerate() {
            let level = format!("{parent}{name}/");
            // The last level is known to be missing; the ones above are looked at first.
            let last = i + 1 == parts.len();
            if last || !self.folder_exists(&level).await? {
                made.pending = Some(level.clone());
                self.make_folder(&parent, name, true).await?;
                made.pending = None;
                made.created.push(level.clone());
            }
            parent = level;
        }
        Ok(())
    }

    fn entry(&self, folder: &str, f: ListedFile) -> Option<Entry> {
        let raw = f.name.clone().unwrap_or_default();
        if is_folder(&f) {
            // A folder is addressed by its path, so its name must be one.
            validate_file_name(&raw).ok()?;
            let path = format!("{folder}{raw}/");
            let e = Entry::new(&path, raw, EntryKind::Folder).with_path(path);
            return Some(match modified(&f) {
                Some(m) => e.with_modified(m),
                None => e,
            });
        }
        let name = match clean_service_text(&raw) {
            n if n.is_empty() => format!("tuyu-file-{}", f.id),
            n => n,
        };
        let mut e = Entry::new(&f.id, &name, EntryKind::File).with_path(format!("{folder}{name}"));
        if let Some(size) = f.size {
            e = e.with_size(size);
        }
        if let Some(m) = modified(&f) {
            e = e.with_modified(m);
        }
        Some(e)
    }
}

fn modified(f: &ListedFile) -> Option<OffsetDateTime> {
    let secs = i64::try_from(f.mod_date?).ok()?;
    OffsetDateTime::from_unix_timestamp(secs).ok()
}

fn exists(target: &str) -> Error {
    fail(
        ErrorKind::Conflict,
        "create folder",
        format!(
            "folder {target} exists already; choose another name, or accept an existing folder with parents (--parents)"
        ),
    )
}

#[async_trait]
impl Browser for TuyuProvider {
    async fn list(&self, req: ListRequest) -> Result<Page> {
        self.capabilities.check_list(PROVIDER, &req)?;
        let folder = self
            .folder_at(req.location())
            .map_err(|e| e.or_provider(PROVIDER).or_operation("list"))?;
        let page: u64 = match req.cursor() {
            None => 1,
            Some(c) => c.parse().ok().filter(|p| *p >= 1).ok_or_else(|| {
                fail(
                    ErrorKind::InvalidInput,
                    "list",
                    format!(
                        "{:?} is not a Tuyu listing cursor (a page number)",
                        c.escape_debug().take(40).collect::<String>()
                    ),
                )
            })?,
        };
        let list = self
            .client
            .file_list_sorted(&folder, page, Some(ORDER))
            .await
            .map_err(|e| {
                if folder == "/" {
                    Err(at_root(
                        e,
                        "list",
                        &format!(
                            "only administrators may list the site root /; list a workspace such as {}, or set folder_root to one",
                            self.settings.workspace_path
                        ),
                    ))
                } else {
                    Ok(e)
                }
            });
        let list = match list {
            Ok(list) => list,
            Err(Err(e)) => return Err(e),
            Err(Ok(e)) => return Err(self.missing_or_refused(&folder, e, "list", "").await),
        };
        let per = list
            .max_files_page
            .filter(|n| *n > 0)
            .unwrap_or(SERVICE_PAGE);
        let more = match list.total_files {
            Some(total) => page.saturating_mul(per) < total,
            None => list.files.len() as u64 >= per,
        };
        let next = (more && !list.files.is_empty()).then(|| (page + 1).to_string());
        let listed = list.files.len();
        let entries: Vec<Entry> = list
            .files
            .into_iter()
            .filter_map(|f| self.entry(&folder, f))
            .collect();
        if entries.len() < listed {
            tracing::warn!(
                provider = PROVIDER,
                folder = %folder,
                left_out = listed - entries.len(),
                "folders whose names cannot be part of a path were left out of the listing"
            );
        }
        Ok(Page { entries, next })
    }

    async fn create_folder(&self, path: &str, parents: bool) -> Result<Entry> {
        let clean = self.capabilities.check_create_folder(PROVIDER, path)?;
        let target = self
            .below_root(&clean)
            .map_err(|e| e.or_provider(PROVIDER).or_operation("create folder"))?;
        let (parent, name) = split(&target).ok_or_else(|| {
            fail(
                ErrorKind::InvalidInput,
                "create folder",
                "the folder path is empty; give the folder to create".to_owned(),
            )
        })?;
        if parents {
            self.ensure_folders(&target, &mut MadeFolders::default())
                .await?;
        } else {
            // Looked at first: the service's refusal would not say that the folder exists.
            if self.folder_exists(&target).await? {
                return Err(exists(&target));
            }
            self.make_folder(&parent, &name, false).await?;
        }
        tracing::info!(provider = PROVIDER, folder = %target, parents, "folder ready");
        Ok(Entry::new(&target, name, EntryKind::Folder).with_path(target))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_split_into_parent_and_name() {
        assert_eq!(
            split("/W_workspace/a/b/"),
            Some(("/W_workspace/a/".to_owned(), "b".to_owned()))
        );
        assert_eq!(
            split("/W_workspace/"),
            Some(("/".to_owned(), "W_workspace".to_owned()))
        );
        assert_eq!(split("/"), None);
    }
}
