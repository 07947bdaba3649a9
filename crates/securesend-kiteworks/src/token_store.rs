//! What is kept on disk between runs: tokens that carry a refresh token, and the sessions of
//! interrupted uploads (see `resume.rs`).
//!
//! Everything lives in one directory per profile, created owner-only (0700); each file is
//! written to a temporary file in the same directory (created 0600) and renamed into place, so
//! a reader never sees half a token, and no other local user can read one.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use sha2::Digest;

use securesend_core::http::Token;

/// Files larger than this are not ours; they are ignored rather than read.
const MAX_STATE_FILE: u64 = 64 << 10;

/// A profile's state directory.
#[derive(Clone, Debug)]
pub(crate) struct StateDir {
    dir: PathBuf,
}

impl StateDir {
    pub(crate) fn new(dir: impl Into<PathBuf>) -> StateDir {
        StateDir { dir: dir.into() }
    }

    pub(crate) fn path(&self) -> &Path {
        &self.dir
    }

    fn ensure(&self, dir: &Path) -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
        }
        Ok(())
    }

    /// Writes `name` (a relative path) atomically, readable by the owner only.
    pub(crate) fn write(&self, name: &str, contents: &[u8]) -> std::io::Result<()> {
        let path = self.dir.join(name);
        let dir = path.parent().unwrap_or(&self.dir).to_path_buf();
        self.ensure(&self.dir)?;
        self.ensure(&dir)?;
        // tempfile creates the file 0600 on Unix.
        let mut tmp = tempfile::Builder::new()
            .prefix(".securesend-")
            .tempfile_in(&dir)?;
        tmp.write_all(contents)?;
        // No fsync: it would cost milliseconds on the path of every sign-in and upload, and
        // what a crash can leave (an empty or cut file) fails to parse and is ignored: the
        // next run signs in again or starts the upload afresh.
        tmp.persist(&path).map_err(|e| e.error)?;
        Ok(())
    }

    /// Reads `name`, if it exists and is small enough to be ours.
    pub(crate) fn read(&self, name: &str) -> Option<Vec<u8>> {
        let path = self.dir.join(name);
        let meta = std::fs::metadata(&path).ok()?;
        if !meta.is_file() || meta.len() > MAX_STATE_FILE {
            return None;
        }
        std::fs::read(path).ok()
    }

    /// Removes `name`; a missing file is fine.
    pub(crate) fn remove(&self, name: &str) {
        let _ = std::fs::remove_file(self.dir.join(name));
    }
}

/// A hex digest naming something without revealing it.
pub(crate) fn digest_of(parts: &[&str]) -> String {
    let mut h = sha2::Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p.as_bytes());
    }
    hex::encode(h.finalize())
}

#[derive(Serialize, Deserialize)]
struct SavedToken {
    /// Which account and application the token belongs to; another one's token is never used.
    account: String,
    access_token: String,
    refresh_token: Option<String>,
    /// Unix seconds.
    expires_at: Option<u64>,
}

/// The token file of one profile.
#[derive(Clone, Debug)]
pub(crate) struct TokenStore {
    dir: StateDir,
    account: String,
}

const TOKEN_FILE: &str = "token.json";

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl TokenStore {
    /// The store in `dir` for the account named by `account_parts` (base URL, client id, grant,
    /// user).
    pub(crate) fn new(dir: StateDir, account_parts: &[&str]) -> TokenStore {
        TokenStore {
            dir,
            account: digest_of(account_parts),
        }
    }

    /// The kept token, if it belongs to this account. An expired one is still returned for its
    /// refresh token.
    pub(crate) fn load(&self) -> Option<Token> {
        let bytes = self.dir.read(TOKEN_FILE)?;
        let saved: SavedToken = serde_json::from_slice(&bytes).ok()?;
        if saved.account != self.account || saved.access_token.is_empty() {
            return None;
        }
        let mut token = Token::new(saved.access_token);
        if let Some(at) = saved.expires_at {
            token = token.with_expires_in(Duration::from_secs(at.saturating_sub(unix_now())));
        }
        if let Some(r) = saved.refresh_token {
            token = token.with_refresh_token(r);
        }
        Some(token)
    }

    /// Keeps `token` when it has a refresh token (without one, signing in again is cheaper than
    /// keeping a bearer token on disk). Failures are logged, never fatal: the run goes on with
    /// the token in memory.
    pub(crate) fn save(&self, token: &Token, expires_at: Option<u64>) {
        let Some(refresh) = token.refresh_token() else {
            self.clear();
            return;
        };
        let saved = SavedToken {
            account: self.account.clone(),
            access_token: token.access().expose().to_owned(),
            refresh_token: Some(refresh.expose().to_owned()),
            expires_at,
        };
        let bytes = match serde_json::to_vec(&saved) {
            Ok(b) => b,
            Err(_) => return,
        };
        if let Err(e) = self.dir.write(TOKEN_FILE, &bytes) {
            tracing::warn!(
                provider = crate::PROVIDER,
                dir = %self.dir.path().display(),
                "could not keep the token on disk ({e}); the next run signs in again"
            );
        }
    }

    /// Removes the kept token.
    pub(crate) fn clear(&self) {
        self.dir.remove(TOKEN_FILE);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kept_tokens_are_private_and_bound_to_their_account() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = StateDir::new(tmp.path().join("p"));
        let store = TokenStore::new(dir.clone(), &["https://a", "cid", "password", "u"]);
        let t = Token::new("canary-access").with_refresh_token("canary-refresh");
        store.save(&t, Some(unix_now() + 100));
        let back = store.load().unwrap();
        assert_eq!(back.access().expose(), "canary-access");
        assert_eq!(back.refresh_token().unwrap().expose(), "canary-refresh");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(TOKEN_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{mode:o}");
            let dmode = std::fs::metadata(dir.path()).unwrap().permissions().mode();
            assert_eq!(dmode & 0o777, 0o700, "{dmode:o}");
        }
        let other = TokenStore::new(dir.clone(), &["https://a", "cid", "password", "v"]);
        assert!(other.load().is_none(), "another user's token is never used");
        // Without a refresh token nothing is kept.
        store.save(&Token::new("x"), None);
        assert!(store.load().is_none());
    }
}
