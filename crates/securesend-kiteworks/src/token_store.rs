//! What is kept on disk between runs: tokens that carry a refresh token, and the sessions of
//! interrupted uploads (see `resume.rs`).
//!
//! Everything lives in one directory per profile, and nothing in it may be read or redirected
//! by another local user:
//!
//! - the directories are created owner-only (0700); an existing one open to the group or
//!   others is made 0700 with a warning, and one that is a symbolic link is never used (the
//!   configured `state_dir` itself is refused when the profile is read, see `config.rs`);
//! - each file is written to a new temporary file in the same directory, opened with
//!   `O_CREAT | O_EXCL | O_NOFOLLOW` and mode 0600, then renamed into place, so a reader
//!   never sees half a token and a planted link is replaced, not written through;
//! - a file is read only when it is a regular file of at most [`MAX_STATE_FILE`], opened with
//!   `O_NOFOLLOW | O_NONBLOCK` and checked again on the open descriptor; a FIFO, a device, a
//!   link or a big file is ignored with a warning (as if nothing were kept), never waited on.
//!
//! A kept token is used only by the credentials that obtained it: the file holds a salted
//! fingerprint of the base URL, client id, grant, user and the secrets (client secret and the
//! grant's password, key or refresh token), never a secret itself. A token made with other
//! credentials is ignored and replaced at the next sign-in.

use std::fs::{self, Metadata, OpenOptions};
use std::io::{self, Read, Write};
use std::num::NonZeroU32;
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use sha2::Digest;

use securesend_core::http::Token;

/// Files larger than this are not ours; they are ignored rather than read (the core's cap for
/// secret files, 64 KiB).
pub(crate) const MAX_STATE_FILE: u64 = securesend_core::file::MAX_SECRET_FILE;

/// A profile's state directory.
#[derive(Clone, Debug)]
pub(crate) struct StateDir {
    dir: PathBuf,
}

/// Says why a path in the state directory is not used.
fn refused(path: &Path, why: &str) -> io::Error {
    io::Error::other(format!("{} {why}", path.display()))
}

/// Why a file found in the state directory is not one of ours, if it is not.
fn not_ours(meta: &Metadata) -> Option<String> {
    let t = meta.file_type();
    let why = if t.is_symlink() {
        "is a symbolic link"
    } else if t.is_fifo() {
        "is a FIFO (named pipe)"
    } else if t.is_char_device() || t.is_block_device() {
        "is a device"
    } else if !t.is_file() {
        "is not a regular file"
    } else if meta.len() > MAX_STATE_FILE {
        return Some(format!(
            "is {} bytes, more than the {} KiB a state file can be",
            meta.len(),
            MAX_STATE_FILE >> 10
        ));
    } else {
        return None;
    };
    Some(why.to_owned())
}

/// Logs that a state file is not used. One line, the path and the reason: never its content.
fn ignore(path: &Path, why: &str) {
    tracing::warn!(
        provider = crate::PROVIDER,
        "ignoring {}: it {why}; securesend goes on as if nothing were kept there",
        path.display()
    );
}

impl StateDir {
    pub(crate) fn new(dir: impl Into<PathBuf>) -> StateDir {
        StateDir { dir: dir.into() }
    }

    #[cfg(test)]
    pub(crate) fn path(&self) -> &Path {
        &self.dir
    }

    /// Before anything in the directory is read: if it is open to the group or others, it is
    /// made owner-only with a warning. A link or something other than a directory is refused,
    /// naming its key, when the profile is read (`config.rs`); should one appear since, it is
    /// left alone here and refused by every read and write.
    pub(crate) fn prepare(&self) -> io::Result<()> {
        match fs::symlink_metadata(&self.dir) {
            Ok(meta) if meta.is_dir() => make_private(&self.dir, &meta),
            Ok(_) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Creates `dir` owner-only if it is missing, else checks it as [`StateDir::prepare`] does.
    fn ensure(&self, dir: &Path) -> io::Result<()> {
        match fs::symlink_metadata(dir) {
            Ok(meta) => check_dir(dir, &meta),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                // Missing parents are made 0700 too (the platform's data directory should be).
                fs::DirBuilder::new()
                    .recursive(true)
                    .mode(0o700)
                    .create(dir)?;
                // Whatever stands there now (made by us, or by someone in between) is checked.
                check_dir(dir, &fs::symlink_metadata(dir)?)
            }
            Err(e) => Err(e),
        }
    }

    /// The directories between the state directory and `path`, the state directory included.
    fn dirs_to<'a>(&'a self, path: &'a Path) -> impl Iterator<Item = &'a Path> {
        path.ancestors()
            .skip(1)
            .take_while(move |d| d.starts_with(&self.dir))
    }

    /// Writes `name` (a relative path) atomically, readable by the owner only.
    pub(crate) fn write(&self, name: &str, contents: &[u8]) -> io::Result<()> {
        let path = self.dir.join(name);
        let mut dirs: Vec<&Path> = self.dirs_to(&path).collect();
        dirs.reverse();
        for d in &dirs {
            self.ensure(d)?;
        }
        let parent = path.parent().unwrap_or(&self.dir);
        let file_name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let tmp = parent.join(format!(".{file_name}.{:016x}.tmp", rand::random::<u64>()));
        let written = (|| {
            // create_new is O_CREAT|O_EXCL, which already refuses an existing link; O_NOFOLLOW
            // says so in the open itself.
            let mut f = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
                .open(&tmp)?;
            f.write_all(contents)?;
            drop(f);
            // No fsync: it would cost milliseconds on the path of every sign-in and upload,
            // and what a crash can leave (an empty or cut file) fails to parse and is ignored:
            // the next run signs in again or starts the upload afresh. rename replaces a link
            // planted at `path` rather than writing through it.
            fs::rename(&tmp, &path)
        })();
        if written.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        written
    }

    /// Reads `name`, if it exists and is a small regular file of ours. Anything else is
    /// ignored with a warning, without waiting on it (FIFOs, devices) or following it (links).
    pub(crate) fn read(&self, name: &str) -> Option<Vec<u8>> {
        let path = self.dir.join(name);
        // O_NOFOLLOW guards only the last component: the directories on the way are checked.
        for d in self.dirs_to(&path) {
            match fs::symlink_metadata(d) {
                Ok(m) if m.file_type().is_symlink() => {
                    ignore(d, "is a symbolic link");
                    return None;
                }
                // Each directory on the way as when written: a real one, made owner-only.
                Ok(m) => {
                    if let Err(e) = check_dir(d, &m) {
                        ignore(d, &format!("cannot be used ({e})"));
                        return None;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => return None,
                Err(e) => {
                    ignore(d, &format!("cannot be read ({e})"));
                    return None;
                }
            }
        }
        let meta = match fs::symlink_metadata(&path) {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return None,
            Err(e) => {
                ignore(&path, &format!("cannot be read ({e})"));
                return None;
            }
        };
        // Checked before opening too: opening a device can have effects of its own.
        if let Some(why) = not_ours(&meta) {
            ignore(&path, &why);
            return None;
        }
        // O_NONBLOCK: should the file be swapped for a FIFO after the check, the open still
        // returns at once and the check on the descriptor refuses it.
        let file = match OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY | libc::O_CLOEXEC)
            .open(&path)
        {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return None,
            Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
                ignore(&path, "is a symbolic link");
                return None;
            }
            Err(e) => {
                ignore(&path, &format!("cannot be opened ({e})"));
                return None;
            }
        };
        let meta = match file.metadata() {
            Ok(m) => m,
            Err(e) => {
                ignore(&path, &format!("cannot be examined ({e})"));
                return None;
            }
        };
        if let Some(why) = not_ours(&meta) {
            ignore(&path, &why);
            return None;
        }
        let mode = meta.mode() & 0o777;
        if mode & 0o077 != 0 {
            if let Err(e) = file.set_permissions(fs::Permissions::from_mode(0o600)) {
                ignore(
                    &path,
                    &format!(
                        "is open to other users (mode {mode:o}) and cannot be made owner-only ({e})"
                    ),
                );
                return None;
            }
            tracing::warn!(
                provider = crate::PROVIDER,
                "{} was open to other users (mode {mode:o}); made it owner-only (0600)",
                path.display()
            );
        }
        let mut out = Vec::new();
        if let Err(e) = (&file).take(MAX_STATE_FILE + 1).read_to_end(&mut out) {
            ignore(&path, &format!("cannot be read ({e})"));
            return None;
        }
        if out.len() as u64 > MAX_STATE_FILE {
            ignore(
                &path,
                &format!(
                    "holds more than the {} KiB a state file can be",
                    MAX_STATE_FILE >> 10
                ),
            );
            return None;
        }
        Some(out)
    }

    /// Removes `name`; a missing file is fine. A link is removed, never what it points to.
    pub(crate) fn remove(&self, name: &str) {
        let _ = fs::remove_file(self.dir.join(name));
    }
}

/// A state directory must be a real directory, private to its owner.
fn check_dir(dir: &Path, meta: &Metadata) -> io::Result<()> {
    if meta.file_type().is_symlink() {
        let target = fs::read_link(dir)
            .map(|t| t.display().to_string())
            .unwrap_or_else(|_| "an unknown target".to_owned());
        return Err(refused(
            dir,
            &format!("is a symbolic link to {target}; state is kept only in a real directory"),
        ));
    }
    if !meta.is_dir() {
        return Err(refused(dir, "is not a directory"));
    }
    make_private(dir, meta)
}

/// Makes a directory open to the group or others owner-only, with a warning.
fn make_private(dir: &Path, meta: &Metadata) -> io::Result<()> {
    let mode = meta.mode() & 0o777;
    if mode & 0o077 != 0 {
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).map_err(|e| {
            refused(
                dir,
                &format!(
                    "is open to other users (mode {mode:o}) and cannot be made owner-only ({e})"
                ),
            )
        })?;
        tracing::warn!(
            provider = crate::PROVIDER,
            "the state directory {} was open to other users (mode {mode:o}); made it owner-only (0700)",
            dir.display()
        );
    }
    Ok(())
}

/// A hex digest naming something without revealing it.
pub(crate) fn digest_of(parts: &[&str]) -> String {
    hex::encode(raw_digest(parts))
}

/// SHA-256 over the parts, each prefixed with its length so `["ab", "c"]` and `["a", "bc"]`
/// differ.
fn raw_digest(parts: &[&str]) -> [u8; 32] {
    let mut h = sha2::Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p.as_bytes());
    }
    h.finalize().into()
}

/// PBKDF2 rounds of the credentials' fingerprint. The file also holds the refresh token, so
/// this is a second line: someone who reads the file should not cheaply try passwords
/// against the fingerprint. About 10 ms per sign-in or start of a run.
const FINGERPRINT_ROUNDS: NonZeroU32 = NonZeroU32::new(20_000).expect("non-zero");

#[derive(Serialize, Deserialize)]
struct Fingerprint {
    /// Random per write, hex.
    salt: String,
    /// PBKDF2-HMAC-SHA256 of the credentials with `salt`, hex.
    digest: String,
}

#[derive(Serialize, Deserialize)]
struct SavedToken {
    /// Which account and application the token belongs to; another one's token is never used.
    account: String,
    /// Which credentials obtained it; a token from other credentials is never used. Caches
    /// written before this field existed have none and are ignored.
    #[serde(default)]
    credentials: Option<Fingerprint>,
    access_token: String,
    refresh_token: Option<String>,
    /// Unix seconds.
    expires_at: Option<u64>,
}

/// What the token file holds for this profile.
#[derive(Debug)]
pub(crate) enum Kept {
    /// No usable token file.
    Nothing,
    /// A token of another account or made with other credentials: not used.
    Foreign,
    /// A token of these credentials (an expired one still has its refresh token).
    Token(Token),
}

/// The token file of one profile.
#[derive(Clone)]
pub(crate) struct TokenStore {
    dir: StateDir,
    account: String,
    /// SHA-256 of the account and the secrets, in memory only: the input of the fingerprint.
    credentials: [u8; 32],
}

impl std::fmt::Debug for TokenStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenStore")
            .field("dir", &self.dir)
            .field("account", &self.account)
            .finish_non_exhaustive()
    }
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
    /// user), usable only with the credentials `secrets` (client secret, then the grant's
    /// password, key or refresh token).
    pub(crate) fn new(dir: StateDir, account_parts: &[&str], secrets: &[&str]) -> TokenStore {
        let mut all = account_parts.to_vec();
        all.extend_from_slice(secrets);
        TokenStore {
            dir,
            account: digest_of(account_parts),
            credentials: raw_digest(&all),
        }
    }

    /// The kept token, if it belongs to this account and these credentials.
    pub(crate) fn load(&self) -> Kept {
        let Some(bytes) = self.dir.read(TOKEN_FILE) else {
            return Kept::Nothing;
        };
        let Ok(saved) = serde_json::from_slice::<SavedToken>(&bytes) else {
            return Kept::Nothing;
        };
        if saved.account != self.account {
            return Kept::Foreign;
        }
        let matches = saved.credentials.as_ref().is_some_and(|fp| {
            match (hex::decode(&fp.salt), hex::decode(&fp.digest)) {
                (Ok(salt), Ok(digest)) => ring::pbkdf2::verify(
                    ring::pbkdf2::PBKDF2_HMAC_SHA256,
                    FINGERPRINT_ROUNDS,
                    &salt,
                    &self.credentials,
                    &digest,
                )
                .is_ok(),
                _ => false,
            }
        });
        if !matches {
            return Kept::Foreign;
        }
        if saved.access_token.is_empty() {
            return Kept::Nothing;
        }
        let mut token = Token::new(saved.access_token);
        if let Some(at) = saved.expires_at {
            token = token.with_expires_in(Duration::from_secs(at.saturating_sub(unix_now())));
        }
        if let Some(r) = saved.refresh_token {
            token = token.with_refresh_token(r);
        }
        Kept::Token(token)
    }

    fn fingerprint(&self) -> Fingerprint {
        let salt: [u8; 16] = rand::random();
        let mut digest = [0u8; 32];
        ring::pbkdf2::derive(
            ring::pbkdf2::PBKDF2_HMAC_SHA256,
            FINGERPRINT_ROUNDS,
            &salt,
            &self.credentials,
            &mut digest,
        );
        Fingerprint {
            salt: hex::encode(salt),
            digest: hex::encode(digest),
        }
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
            credentials: Some(self.fingerprint()),
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

    const ACCOUNT: [&str; 4] = ["https://a", "cid", "password", "u"];

    fn kept(store: &TokenStore) -> Option<Token> {
        match store.load() {
            Kept::Token(t) => Some(t),
            _ => None,
        }
    }

    fn mode(p: &Path) -> u32 {
        fs::symlink_metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn kept_tokens_are_private_and_bound_to_their_account() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = StateDir::new(tmp.path().join("p"));
        let store = TokenStore::new(dir.clone(), &ACCOUNT, &["secret", "pw"]);
        let t = Token::new("canary-access").with_refresh_token("canary-refresh");
        store.save(&t, Some(unix_now() + 100));
        let back = kept(&store).unwrap();
        assert_eq!(back.access().expose(), "canary-access");
        assert_eq!(back.refresh_token().unwrap().expose(), "canary-refresh");
        assert_eq!(mode(&dir.path().join(TOKEN_FILE)), 0o600);
        assert_eq!(mode(dir.path()), 0o700);
        let names: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1, "no temporary file is left behind");
        let other = TokenStore::new(
            dir.clone(),
            &["https://a", "cid", "password", "v"],
            &["secret", "pw"],
        );
        assert!(
            matches!(other.load(), Kept::Foreign),
            "another user's token"
        );
        // Without a refresh token nothing is kept.
        store.save(&Token::new("x"), None);
        assert!(matches!(store.load(), Kept::Nothing));
    }

    #[test]
    fn a_token_from_other_credentials_is_not_used_and_no_secret_is_kept() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = StateDir::new(tmp.path().join("p"));
        let store = TokenStore::new(dir.clone(), &ACCOUNT, &["canary-secret", "canary-pw"]);
        store.save(&Token::new("a").with_refresh_token("r"), None);
        assert!(kept(&store).is_some());
        for secrets in [
            ["canary-secret", "other-pw"],
            ["other-secret", "canary-pw"],
            ["canary-secretcanary-pw", ""],
        ] {
            let changed = TokenStore::new(dir.clone(), &ACCOUNT, &secrets);
            assert!(matches!(changed.load(), Kept::Foreign), "{secrets:?}");
        }
        let text = fs::read_to_string(dir.path().join(TOKEN_FILE)).unwrap();
        assert!(!text.contains("canary"), "{text}");
        let json: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(json["credentials"]["salt"].as_str().unwrap().len(), 32);
        // A cache from before fingerprints (none stored) is not used either.
        let mut old = json.clone();
        old.as_object_mut().unwrap().remove("credentials");
        fs::write(dir.path().join(TOKEN_FILE), old.to_string()).unwrap();
        assert!(matches!(store.load(), Kept::Foreign));
        // The next sign-in replaces it.
        store.save(&Token::new("b").with_refresh_token("r2"), None);
        assert_eq!(kept(&store).unwrap().access().expose(), "b");
    }

    #[test]
    fn an_open_directory_and_file_are_made_private() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("p");
        let dir = StateDir::new(&root);
        dir.write("uploads/x.json", b"{}").unwrap();
        assert_eq!(mode(&root), 0o700);
        assert_eq!(mode(&root.join("uploads")), 0o700);
        fs::set_permissions(&root, fs::Permissions::from_mode(0o755)).unwrap();
        fs::set_permissions(root.join("uploads"), fs::Permissions::from_mode(0o777)).unwrap();
        fs::set_permissions(
            root.join("uploads/x.json"),
            fs::Permissions::from_mode(0o644),
        )
        .unwrap();
        dir.prepare().unwrap();
        assert_eq!(mode(&root), 0o700);
        assert_eq!(dir.read("uploads/x.json").unwrap(), b"{}");
        assert_eq!(mode(&root.join("uploads")), 0o700, "made private when read");
        assert_eq!(mode(&root.join("uploads/x.json")), 0o600);
        dir.write("uploads/y.json", b"{}").unwrap();
        assert_eq!(mode(&root.join("uploads")), 0o700);
    }

    #[test]
    fn links_are_neither_followed_nor_written_through() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("p");
        let dir = StateDir::new(&root);
        dir.write("token.json", b"ours").unwrap();
        let elsewhere = tmp.path().join("elsewhere");
        fs::write(&elsewhere, b"not ours").unwrap();
        fs::remove_file(root.join("token.json")).unwrap();
        std::os::unix::fs::symlink(&elsewhere, root.join("token.json")).unwrap();
        assert_eq!(dir.read("token.json"), None, "a linked file is not read");
        dir.write("token.json", b"new").unwrap();
        assert_eq!(fs::read(&elsewhere).unwrap(), b"not ours");
        assert!(
            !fs::symlink_metadata(root.join("token.json"))
                .unwrap()
                .is_symlink()
        );
        assert_eq!(dir.read("token.json").unwrap(), b"new");

        // A linked subdirectory is neither read nor written.
        let outside = tmp.path().join("outside");
        fs::create_dir(&outside).unwrap();
        fs::write(outside.join("k.json"), b"planted").unwrap();
        std::os::unix::fs::symlink(&outside, root.join("uploads")).unwrap();
        assert_eq!(dir.read("uploads/k.json"), None);
        let e = dir.write("uploads/k.json", b"x").unwrap_err();
        assert!(e.to_string().contains("symbolic link"), "{e}");
        assert_eq!(fs::read(outside.join("k.json")).unwrap(), b"planted");

        // A state directory that is a link (refused with its key when the profile is read)
        // is left alone by `prepare`, whose mode fix does not reach through it, and is
        // neither written nor read.
        fs::set_permissions(&outside, fs::Permissions::from_mode(0o755)).unwrap();
        let linked = StateDir::new(tmp.path().join("linked"));
        std::os::unix::fs::symlink(&outside, linked.path()).unwrap();
        linked.prepare().unwrap();
        assert_eq!(mode(&outside), 0o755);
        let e = linked.write("token.json", b"x").unwrap_err();
        assert!(e.to_string().contains("symbolic link to"), "{e}");
        assert_eq!(linked.read("k.json"), None);
    }

    #[test]
    fn big_and_special_files_are_ignored() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("p");
        let dir = StateDir::new(&root);
        dir.write("token.json", &vec![b' '; MAX_STATE_FILE as usize])
            .unwrap();
        assert!(dir.read("token.json").is_some(), "at the cap is fine");
        dir.write("token.json", &vec![b' '; MAX_STATE_FILE as usize + 1])
            .unwrap();
        assert_eq!(dir.read("token.json"), None);
        fs::remove_file(root.join("token.json")).unwrap();
        fs::create_dir(root.join("token.json")).unwrap();
        assert_eq!(dir.read("token.json"), None);
    }
}
