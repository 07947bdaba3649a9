//! The service's records: accounts, files, mails and downloads.

use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use crate::service::ServiceContext;
use crate::store::StoredFile;

use super::MANUAL_DOWNLOAD_LIFETIME;

/// An account. Index 0 is the profile's account.
#[derive(Clone, Debug)]
pub(crate) struct User {
    pub name: String,
    pub email: String,
    pub pin: String,
    pub timezone: String,
}

impl User {
    /// "Ada L." — the documented `initials` look like a first name and an initial.
    pub fn initials(&self) -> String {
        let mut parts = self.name.split_whitespace();
        match (parts.next(), parts.last()) {
            (Some(first), Some(last)) => {
                format!("{first} {}.", last.chars().next().unwrap_or('?'))
            }
            (Some(first), None) => first.to_owned(),
            _ => String::new(),
        }
    }
}

/// An uploaded file.
#[derive(Clone, Debug)]
pub(crate) struct FileRec {
    pub id: String,
    pub owner: usize,
    pub stored: StoredFile,
    pub filename: String,
    pub extension: String,
    pub mime: String,
    pub created_at: SystemTime,
    pub trashed: bool,
    /// For the ZIP archive of multi-file downloads.
    pub crc32: u32,
}

impl FileRec {
    pub fn full_filename(&self) -> String {
        if self.extension.is_empty() {
            self.filename.clone()
        } else {
            format!("{}.{}", self.filename, self.extension)
        }
    }

    pub fn size(&self) -> u64 {
        self.stored.size
    }

    /// Stored (encrypted) bytes. The documented example is 43 389 → 78 508 bytes; this keeps
    /// that ratio (the real figure depends on the server's encryption envelope).
    pub fn encrypted_size(&self) -> u64 {
        (self.size() * 78_508).div_ceil(43_389)
    }
}

/// A received mail (in `owner`'s inbox).
#[derive(Clone, Debug)]
pub(crate) struct InboxRec {
    pub id: String,
    pub identifier: String,
    pub owner: usize,
    pub sender: usize,
    pub subject: String,
    pub body: String,
    pub received_at: SystemTime,
    pub opened: bool,
    pub download: String,
}

/// A sent mail (in `owner`'s sent items).
#[derive(Clone, Debug)]
pub(crate) struct SentRec {
    pub id: String,
    pub identifier: String,
    pub owner: usize,
    pub recipient: usize,
    pub subject: String,
    pub body: String,
    pub created_at: SystemTime,
    pub sent_at: SystemTime,
    pub opened_at: Option<SystemTime>,
    pub download: String,
}

/// A download: a set of files fetched together with a public key.
#[derive(Clone, Debug)]
pub(crate) struct DownloadRec {
    pub id: String,
    pub owner: usize,
    pub files: Vec<String>,
    pub created_at: SystemTime,
    /// Creation on the clock's monotonic scale, for the one-minute life of manual downloads.
    pub created: Duration,
    /// Created with `POST /api/downloads`: single use, one minute.
    pub manual: bool,
}

impl DownloadRec {
    /// Time left, `None` for downloads that do not expire.
    pub fn remaining(&self, now: Duration) -> Option<Duration> {
        self.manual
            .then(|| (self.created + MANUAL_DOWNLOAD_LIFETIME).saturating_sub(now))
    }

    pub fn is_live(&self, now: Duration) -> bool {
        self.remaining(now).is_none_or(|left| !left.is_zero())
    }
}

/// Everything the service holds.
#[derive(Debug, Default)]
pub(crate) struct Data {
    pub users: Vec<User>,
    pub files: Vec<FileRec>,
    pub inbox: Vec<InboxRec>,
    pub sent: Vec<SentRec>,
    pub downloads: Vec<DownloadRec>,
}

impl Data {
    pub fn user_by_email(&self, email: &str) -> Option<usize> {
        self.users.iter().position(|u| u.email == email)
    }

    pub fn file(&self, id: &str) -> Option<&FileRec> {
        self.files.iter().find(|f| f.id == id)
    }

    /// A download that exists and has not expired; expired manual downloads are dropped.
    pub fn live_download(&mut self, id: &str, now: Duration) -> Option<&DownloadRec> {
        self.downloads.retain(|d| d.is_live(now));
        self.downloads.iter().find(|d| d.id == id)
    }

    pub fn download_files(&self, download: &DownloadRec) -> Vec<&FileRec> {
        download
            .files
            .iter()
            .filter_map(|id| self.file(id))
            .collect()
    }
}

/// The module's shared state.
#[derive(Debug)]
pub(crate) struct State {
    pub ctx: ServiceContext,
    data: Mutex<Data>,
}

impl State {
    pub fn new(ctx: ServiceContext, data: Data) -> State {
        State {
            ctx,
            data: Mutex::new(data),
        }
    }

    pub fn data(&self) -> MutexGuard<'_, Data> {
        // Plain records, each change one assignment or push: still sound after a panic.
        self.data.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn now(&self) -> SystemTime {
        self.ctx.clock().now()
    }

    pub fn elapsed(&self) -> Duration {
        self.ctx.clock().elapsed()
    }
}
