//! The emulated site: users, workspaces, files and folders, preparation ids and public links.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard};
use std::time::SystemTime;

use crate::store::StoredFile;

/// The entries of a listing page.
pub const PAGE_SIZE: usize = 50;

/// A user (or user group) of the site.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SiteUser {
    /// Numeric id.
    pub id: u64,
    /// Login name.
    pub username: String,
    /// E-mail address.
    pub email: String,
    /// First name.
    pub first_name: String,
    /// Last name.
    pub last_name: String,
    /// A user group (`uType` 0) rather than a person.
    pub group: bool,
    /// Members, for a group.
    pub members: Vec<u64>,
    /// Workspaces (ids) the user can reach.
    pub workspaces: Vec<u64>,
    /// The password, for `user_auth`.
    pub password: Option<String>,
}

/// A workspace: a top-level folder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Workspace {
    /// Numeric id.
    pub id: u64,
    /// Its path, `/Name_workspace/`.
    pub path: String,
}

/// A file or folder.
#[derive(Clone, Debug)]
pub struct Entry {
    /// Numeric id (the `file_id`).
    pub id: u64,
    /// Its name.
    pub name: String,
    /// The folder it is in, `/…/`.
    pub folder: String,
    /// Its workspace.
    pub workspace_id: u64,
    /// The stored bytes; `None` for a folder.
    pub file: Option<StoredFile>,
    /// Comment given at upload.
    pub comment: Option<String>,
    /// Tag given at upload.
    pub file_id_tag: Option<String>,
    /// Last change, Unix seconds.
    pub modified: u64,
    /// Who uploaded or created it.
    pub owner: u64,
}

impl Entry {
    /// The path of the entry itself when it is a folder (`/W/x/`).
    pub fn own_path(&self) -> String {
        format!("{}{}/", self.folder, self.name)
    }
}

/// A public link made by `create_file_link`.
#[derive(Clone, Debug)]
pub struct PublicLink {
    /// The file.
    pub file_id: u64,
    /// When it stops working; `None` for never.
    pub expires: Option<SystemTime>,
}

#[derive(Debug, Default)]
pub(crate) struct State {
    pub next_id: u64,
    pub users: Vec<SiteUser>,
    pub workspaces: Vec<Workspace>,
    pub entries: BTreeMap<u64, Entry>,
    /// Preparation id → the sorted file ids it was made for.
    pub preps: HashMap<String, Vec<u64>>,
    pub links: HashMap<u64, PublicLink>,
}

impl State {
    pub fn new_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    pub fn user(&self, id: u64) -> Option<&SiteUser> {
        self.users.iter().find(|u| u.id == id)
    }

    /// The workspace a `/…/` path is in, when the path exists (a workspace or a folder).
    pub fn workspace_of_path(&self, path: &str) -> Option<u64> {
        if let Some(w) = self.workspaces.iter().find(|w| w.path == path) {
            return Some(w.id);
        }
        self.entries
            .values()
            .find(|e| e.file.is_none() && e.own_path() == path)
            .map(|e| e.workspace_id)
    }

    /// Entries directly in a folder.
    pub fn children(&self, path: &str) -> Vec<&Entry> {
        self.entries.values().filter(|e| e.folder == path).collect()
    }

    /// The files of an entry: itself, or everything below a folder.
    pub fn files_of(&self, entry: &Entry) -> Vec<Entry> {
        match &entry.file {
            Some(_) => vec![entry.clone()],
            None => {
                let prefix = entry.own_path();
                self.entries
                    .values()
                    .filter(|e| e.file.is_some() && e.folder.starts_with(&prefix))
                    .cloned()
                    .collect()
            }
        }
    }

    /// Removes an entry (and, for a folder, everything below); returns the stored files freed.
    pub fn remove(&mut self, id: u64) -> Vec<StoredFile> {
        let Some(entry) = self.entries.remove(&id) else {
            return Vec::new();
        };
        let mut freed: Vec<StoredFile> = entry.file.clone().into_iter().collect();
        if entry.file.is_none() {
            let prefix = entry.own_path();
            let below: Vec<u64> = self
                .entries
                .values()
                .filter(|e| e.folder.starts_with(&prefix))
                .map(|e| e.id)
                .collect();
            for id in below {
                if let Some(e) = self.entries.remove(&id) {
                    freed.extend(e.file);
                }
            }
        }
        freed
    }
}

/// The site's state behind a lock; a handle in the service's axum state.
#[derive(Debug, Default)]
pub struct Site {
    state: Mutex<State>,
}

impl Site {
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        // Plain data, never left half-updated across a panic.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Every entry (files and folders), by id.
    pub fn entries(&self) -> Vec<Entry> {
        self.lock().entries.values().cloned().collect()
    }

    /// One entry.
    pub fn entry(&self, id: u64) -> Option<Entry> {
        self.lock().entries.get(&id).cloned()
    }

    /// The users and groups.
    pub fn users(&self) -> Vec<SiteUser> {
        self.lock().users.clone()
    }

    /// Public links made so far.
    pub fn links(&self) -> usize {
        self.lock().links.len()
    }
}
