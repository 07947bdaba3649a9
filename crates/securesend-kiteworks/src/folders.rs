//! Folders by path: found with `GET /rest/search?path=`, created with
//! `POST /rest/folders/{parent}/folders` when asked.
//!
//! Paths are relative to the user's root, so the first segment is a top-level folder (such as
//! `My Folder`). Names compare case-insensitively, as the service does.

use securesend_core::{Error, ErrorKind, Result};

use crate::api::Folder;
use crate::{Inner, PROVIDER};

/// The parent id that means "top level" when creating a folder.
pub(crate) const TOP_LEVEL: &str = "0";

fn usable<'a>(found: &'a [Folder], path: &str) -> Option<&'a Folder> {
    let last = path.rsplit('/').next().unwrap_or(path);
    let named: Vec<&Folder> = found
        .iter()
        .filter(|f| f.deleted != Some(true))
        .filter(|f| {
            f.name
                .as_deref()
                .is_some_and(|n| n.eq_ignore_ascii_case(last))
        })
        .collect();
    // Several hits: the one whose own path is the one asked for.
    named
        .iter()
        .find(|f| {
            f.path
                .as_deref()
                .is_some_and(|p| p.trim_matches('/').eq_ignore_ascii_case(path))
        })
        .or(named.first())
        .copied()
}

impl Inner {
    /// The id of the folder at `path` (`a/b/c`), creating missing folders when `create`.
    pub(crate) async fn folder_id(&self, path: &str, create: bool) -> Result<String> {
        if let Some(f) = usable(&self.api.search_folder(path).await?, path) {
            return Ok(f.id.clone());
        }
        if !create {
            return Err(Error::new(
                ErrorKind::NotFound,
                format!("folder {path:?} does not exist; create it or allow creating folders"),
            )
            .with_provider(PROVIDER)
            .with_operation("find folder"));
        }
        let parts: Vec<&str> = path.split('/').collect();
        // The deepest folder that exists, then the rest created under it.
        let mut parent = TOP_LEVEL.to_owned();
        let mut have = 0;
        for n in (1..parts.len()).rev() {
            let prefix = parts[..n].join("/");
            if let Some(f) = usable(&self.api.search_folder(&prefix).await?, &prefix) {
                parent = f.id.clone();
                have = n;
                break;
            }
        }
        for name in &parts[have..] {
            parent = match self.api.create_folder(&parent, name).await {
                Ok(id) => id,
                // Created meanwhile (another client, or our own request answered late).
                Err(e) if e.is_conflict() => {
                    let found = self.api.child_folders(&parent, name).await?;
                    usable(&found, name).map(|f| f.id.clone()).ok_or(e)?
                }
                Err(e) => return Err(e),
            };
        }
        Ok(parent)
    }

    /// The folder uploads without a destination go to: `upload_folder`, else the user's own.
    pub(crate) async fn default_folder(&self) -> Result<(String, Option<String>)> {
        if let Some(path) = &self.settings.upload_folder {
            return Ok((self.folder_id(path, false).await?, Some(path.clone())));
        }
        let me = self.me().await?;
        let id = me.mydir_id.clone().ok_or_else(|| {
            Error::config(
                "the account has no own folder (mydirId); set `upload_folder` in the profile",
            )
            .with_provider(PROVIDER)
        })?;
        if !crate::client::valid_id(&id) {
            return Err(crate::error::protocol(
                "find folder",
                "the own folder id is not usable",
            ));
        }
        Ok((id, None))
    }
}
