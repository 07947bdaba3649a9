//! Browsing the VFS over WebDAV: `PROPFIND` with `Depth: 1` lists a folder, `MKCOL` creates
//! one.
//!
//! A depth-1 `PROPFIND` answers the whole folder at once. Without a page size the listing is
//! one page (`next` is `None`); with one, the answer is cut into pages here, sorted by name,
//! and the cursor carries the offset and a fingerprint of the folder's members, so a folder
//! that changes between two pages is reported (a conflict: list it again) instead of showing
//! an entry twice or not at all. Each page asks the server again: pages keep no state.

use std::collections::HashSet;

use percent_encoding::percent_decode_str;
use securesend_core::checksum::sha256_hex;
use securesend_core::names::validate_file_name;
use securesend_core::{
    Browser, Entry, EntryKind, Error, ErrorKind, ListRequest, Page, Result, async_trait,
};
use url::Url;

use crate::multistatus::DavResource;
use crate::vfs::VfsPath;
use crate::{EgroupwareProvider, PROVIDER};

/// The cap of a depth-0 answer (one resource).
const ONE_RESOURCE_CAP: usize = 64 << 10;

fn fail(kind: ErrorKind, operation: &'static str, message: String) -> Error {
    Error::new(kind, message)
        .with_provider(PROVIDER)
        .with_operation(operation)
}

fn context(e: Error, operation: &'static str) -> Error {
    e.or_provider(PROVIDER).or_operation(operation)
}

/// The decoded path segments of an href, resolved against the listed folder's URL (an href
/// may be a path, an absolute URL or, against the RFC, relative). `None` for a segment that
/// is not UTF-8 once decoded.
pub(crate) fn href_segments(folder_url: &Url, href: &str) -> Option<Vec<String>> {
    let url = folder_url.join(href).ok()?;
    url.path()
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| {
            percent_decode_str(s)
                .decode_utf8()
                .ok()
                .map(|c| c.into_owned())
        })
        .collect()
}

/// The VFS path of segments below `webdav.php`, when every segment is a usable name (no
/// separators, controls, `..`; a `%2F` decoded inside a segment must not split it).
pub(crate) fn vfs_path(segments: &[String]) -> Option<VfsPath> {
    let mut path = VfsPath::root();
    for s in segments {
        validate_file_name(s).ok()?;
        path = path.join(s).ok()?;
    }
    Some(path)
}

/// The segments every href starts with: those of the configured `webdav.php` when the server
/// uses them, else what precedes the listed folder in its own href (a proxy that maps
/// `webdav.php` elsewhere).
fn href_prefix(
    configured: &[String],
    folder: &VfsPath,
    hrefs: &[(Vec<String>, &DavResource)],
) -> Option<Vec<String>> {
    if hrefs.iter().any(|(s, _)| s.starts_with(configured)) {
        return Some(configured.to_vec());
    }
    let own = folder.segments();
    hrefs
        .iter()
        .find(|(s, _)| s.ends_with(own))
        .map(|(s, _)| s[..s.len() - own.len()].to_vec())
}

/// The first 16 hex digits of the SHA-256 over the sorted ids: which members the folder had.
fn fingerprint(entries: &[Entry]) -> String {
    let ids: Vec<&str> = entries.iter().map(|e| e.id.as_str()).collect();
    sha256_hex(ids.join("\n").as_bytes())[..16].to_owned()
}

/// `<offset>:<fingerprint>`.
fn parse_cursor(cursor: &str) -> Result<(usize, &str)> {
    cursor
        .split_once(':')
        .and_then(|(o, f)| {
            let ok = f.len() == 16 && f.bytes().all(|b| b.is_ascii_hexdigit());
            ok.then(|| o.parse().ok().map(|o| (o, f)))?
        })
        .ok_or_else(|| {
            fail(
                ErrorKind::InvalidInput,
                "list",
                format!(
                    "{:?} is not an EGroupware listing cursor",
                    cursor.escape_debug().take(40).collect::<String>()
                ),
            )
        })
}

/// The folders an upload with `--parents` created: an interruption does not remove them (they
/// may hold other files by then), so its message names them.
#[derive(Debug, Default)]
pub(crate) struct MadeFolders {
    created: Vec<String>,
    /// The folder whose MKCOL had not answered when the work stopped: it may exist now.
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
        let message = format!("{}; {}", e.message(), parts.join("; "));
        e.with_message(message)
    }
}

impl EgroupwareProvider {
    /// The folder a listing names: the home folder at the top, an absolute VFS path, or a
    /// path from the home folder; percent-encoded like ids (`%20`, `%25`).
    fn folder_at(&self, location: Option<&str>) -> Result<VfsPath> {
        let Some(location) = location else {
            return Ok(self.home.clone());
        };
        let decoded = percent_decode_str(location).decode_utf8().map_err(|_| {
            fail(
                ErrorKind::InvalidInput,
                "list",
                format!(
                    "folder {:?} does not decode to UTF-8",
                    location.escape_debug().take(80).collect::<String>()
                ),
            )
        })?;
        let path = if decoded.starts_with('/') {
            VfsPath::new(&decoded)
        } else {
            self.home.join(&decoded)
        };
        path.map_err(|e| context(e, "list"))
    }

    /// Every member of `folder`, sorted by name: files with size and modification time,
    /// folders; ids are VFS path ids.
    async fn members(&self, folder: &VfsPath) -> Result<Vec<Entry>> {
        let cap = usize::try_from(self.config.max_listing_bytes).unwrap_or(usize::MAX);
        let resources = self
            .client
            .propfind(folder, true, cap)
            .await?
            .ok_or_else(|| {
                fail(
                    ErrorKind::NotFound,
                    "list",
                    format!("folder {folder} does not exist"),
                )
            })?;
        let mut folder_url = self.client.webdav.clone();
        folder_url
            .path_segments_mut()
            .expect("an http URL has a path")
            .extend(folder.segments())
            .push("");
        let hrefs: Vec<(Vec<String>, &DavResource)> = resources
            .iter()
            .filter_map(|r| href_segments(&folder_url, &r.href).map(|s| (s, r)))
            .collect();
        let configured: Vec<String> = self
            .client
            .webdav
            .path_segments()
            .map(|s| {
                s.filter(|s| !s.is_empty())
                    .map(|s| percent_decode_str(s).decode_utf8_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        let Some(prefix) = href_prefix(&configured, folder, &hrefs) else {
            if resources.is_empty() {
                return Ok(Vec::new());
            }
            return Err(fail(
                ErrorKind::Protocol,
                "list",
                format!(
                    "the listing of {folder} names its entries below another address than webdav.php; check base_url"
                ),
            ));
        };
        let mut seen = HashSet::new();
        let mut entries = Vec::new();
        let mut left_out = 0usize;
        for (segments, r) in &hrefs {
            let path = segments.strip_prefix(prefix.as_slice()).and_then(vfs_path);
            let Some(path) = path else {
                left_out += 1;
                continue;
            };
            if &path == folder {
                if !r.collection {
                    return Err(fail(
                        ErrorKind::InvalidInput,
                        "list",
                        format!("{folder} is a file, not a folder; download it instead"),
                    ));
                }
                continue;
            }
            // Members only: a server that answered more than one level, or hrefs elsewhere,
            // are not this folder's entries.
            if path.parent().as_ref() != Some(folder) || !seen.insert(path.clone()) {
                left_out += 1;
                continue;
            }
            let name = path.name().unwrap_or_default().to_owned();
            let entry = if r.collection {
                Entry::new(path.to_id(), name, EntryKind::Folder)
            } else {
                let mut e = Entry::new(path.to_id(), name, EntryKind::File);
                if let Some(size) = r.size {
                    e = e.with_size(size);
                }
                e
            };
            let entry = match r.modified {
                Some(m) => entry.with_modified(m),
                None => entry,
            };
            entries.push(entry.with_path(path.to_string()));
        }
        left_out += resources.len() - hrefs.len();
        if left_out > 0 {
            tracing::warn!(
                provider = PROVIDER,
                folder = %folder,
                left_out,
                "listing entries left out: their hrefs name no member of the folder or no usable name"
            );
        }
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(entries)
    }

    /// Creates the folders from below the home folder down to `folder`, which lies below it.
    /// MKCOL answers 405 for anything already there, which must then be a folder.
    pub(crate) async fn make_folders(
        &self,
        folder: &VfsPath,
        made: &mut MadeFolders,
    ) -> Result<()> {
        let mut current = self.home.clone();
        for segment in folder.segments().iter().skip(self.home.segments().len()) {
            current = current.join(segment)?;
            made.pending = Some(current.to_string());
            let created = self.client.mkcol(&current).await?;
            made.pending = None;
            if created {
                made.created.push(current.to_string());
                continue;
            }
            let found = self
                .client
                .propfind(&current, false, ONE_RESOURCE_CAP)
                .await?;
            if found.is_some_and(|r| r.first().is_some_and(|r| !r.collection)) {
                return Err(fail(
                    ErrorKind::Conflict,
                    "create folder",
                    format!("{current} is a file; choose another folder name"),
                ));
            }
        }
        Ok(())
    }
}

#[async_trait]
impl Browser for EgroupwareProvider {
    async fn list(&self, req: ListRequest) -> Result<Page> {
        self.capabilities.check_list(PROVIDER, &req)?;
        let folder = self.folder_at(req.location())?;
        let (offset, expected) = match req.cursor() {
            Some(c) => {
                let (o, f) = parse_cursor(c)?;
                (o, Some(f.to_owned()))
            }
            None => (0, None),
        };
        let mut entries = self.members(&folder).await?;
        let print = fingerprint(&entries);
        if expected.is_some_and(|f| !f.eq_ignore_ascii_case(&print)) {
            return Err(fail(
                ErrorKind::Conflict,
                "list",
                format!("folder {folder} changed between two pages of its listing; list it again"),
            ));
        }
        let total = entries.len();
        let end = match req.requested_page_size() {
            Some(size) => offset.saturating_add(size).min(total),
            None => total,
        };
        let page: Vec<Entry> = if offset < total {
            entries.drain(offset..end).collect()
        } else {
            Vec::new()
        };
        let next = (end < total).then(|| format!("{end}:{print}"));
        Ok(Page {
            entries: page,
            next,
        })
    }

    async fn create_folder(&self, path: &str, parents: bool) -> Result<Entry> {
        let clean = self.capabilities.check_create_folder(PROVIDER, path)?;
        let target = self
            .home
            .join(&clean)
            .map_err(|e| context(e, "create folder"))?;
        if parents {
            self.make_folders(&target, &mut MadeFolders::default())
                .await?;
        } else if !self.client.mkcol(&target).await? {
            return Err(fail(
                ErrorKind::Conflict,
                "create folder",
                format!(
                    "{target} exists already; choose another name, or accept an existing folder with parents (--parents)"
                ),
            ));
        }
        tracing::info!(provider = PROVIDER, folder = %target, parents, "folder ready");
        let name = target.name().unwrap_or_default().to_owned();
        Ok(Entry::new(target.to_id(), name, EntryKind::Folder).with_path(target.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segs(s: &[&str]) -> Vec<String> {
        s.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn hrefs_decode_and_resolve() {
        let base = Url::parse("https://egw.example/egroupware/webdav.php/home/ralf/").unwrap();
        assert_eq!(
            href_segments(&base, "/egroupware/webdav.php/home/ralf/Q3%20report%23.pdf").unwrap(),
            segs(&["egroupware", "webdav.php", "home", "ralf", "Q3 report#.pdf"])
        );
        assert_eq!(
            href_segments(
                &base,
                "https://other.example/egroupware/webdav.php/home/ralf/"
            )
            .unwrap(),
            segs(&["egroupware", "webdav.php", "home", "ralf"])
        );
        assert_eq!(
            href_segments(&base, "a.txt").unwrap(),
            segs(&["egroupware", "webdav.php", "home", "ralf", "a.txt"])
        );
        // Dot segments are resolved away, so they cannot climb out unnoticed.
        assert_eq!(
            href_segments(&base, "/egroupware/webdav.php/home/ralf/%2e%2e/anna/x").unwrap(),
            segs(&["egroupware", "webdav.php", "home", "anna", "x"])
        );
        assert_eq!(href_segments(&base, "/x/%FF"), None);
    }

    #[test]
    fn only_usable_names_make_paths() {
        assert_eq!(
            vfs_path(&segs(&["home", "ralf", "a b.txt"]))
                .unwrap()
                .to_string(),
            "/home/ralf/a b.txt"
        );
        for bad in [
            &["home", "a/b"][..],
            &["home", "a\nb"],
            &["home", ".."],
            &["home", " x"],
        ] {
            assert!(vfs_path(&segs(bad)).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn prefix_from_configuration_or_the_folder_itself() {
        let folder = VfsPath::new("/home/ralf").unwrap();
        let configured = segs(&["egroupware", "webdav.php"]);
        let r = DavResource::default();
        let direct = vec![(segs(&["egroupware", "webdav.php", "home", "ralf"]), &r)];
        assert_eq!(
            href_prefix(&configured, &folder, &direct).unwrap(),
            configured
        );
        let proxied = vec![(segs(&["dav", "home", "ralf"]), &r)];
        assert_eq!(
            href_prefix(&configured, &folder, &proxied).unwrap(),
            segs(&["dav"])
        );
        let elsewhere = vec![(segs(&["x", "y"]), &r)];
        assert_eq!(href_prefix(&configured, &folder, &elsewhere), None);
    }

    #[test]
    fn cursors() {
        assert_eq!(
            parse_cursor("50:0123456789abcdef").unwrap(),
            (50, "0123456789abcdef")
        );
        for bad in ["50", "x:0123456789abcdef", "5:0123", "5:0123456789abcdeg"] {
            assert!(parse_cursor(bad).unwrap_err().is_invalid_input(), "{bad}");
        }
    }
}
