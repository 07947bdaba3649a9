//! The `[queue]` table of `securesend.toml`.
//!
//! ```toml
//! [queue]
//! url = "postgres://securesend@db.example.com/securesend"   # default: SQLite under the data dir
//! blobs = "/mnt/shared/securesend-blobs"                     # default: beside the SQLite file
//! blob_retention = "0s"                                      # keep staged files after the job ends
//! retry_base = "30s"                                         # first retry delay (doubles, jitter)
//! retry_max = "1h"                                           # longest retry delay
//!
//! [queue.profiles.work]        # per profile (by profile name)
//! max_attempts = 10            # failed attempts before the job fails for good
//! max_age = "2d"               # a job older than this fails instead of retrying
//! max_in_flight = 4            # concurrent sends of this profile across all workers
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Deserializer};

use securesend_core::config::ConfigFile;
use securesend_core::{Error, Result};

/// Environment variable naming the queue (a URL), overriding `[queue] url`.
pub const QUEUE_ENV: &str = "SECURESEND_QUEUE";

/// The data directory of the embedded default (the `local` provider's): the queue's SQLite file
/// and blobs go under `<it>/queue/`.
pub const DEFAULT_DATA_DIR: &str = "securesend-data";

/// The `[queue]` table.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueConfig {
    /// `sqlite://PATH` or `postgres://…`.
    pub url: Option<String>,
    /// The blob directory.
    pub blobs: Option<PathBuf>,
    /// How long staged files are kept after their job ended.
    #[serde(default, deserialize_with = "duration")]
    pub blob_retention: Option<Duration>,
    /// The first retry's delay bound (default 30 s; doubled per failure, with full jitter).
    #[serde(default, deserialize_with = "duration")]
    pub retry_base: Option<Duration>,
    /// The longest retry delay (default 1 h).
    #[serde(default, deserialize_with = "duration")]
    pub retry_max: Option<Duration>,
    /// Limits per profile name.
    #[serde(default)]
    pub profiles: BTreeMap<String, ProfileLimits>,
}

/// Limits of one profile's jobs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileLimits {
    /// Failed attempts before a job fails for good (default 10).
    pub max_attempts: Option<u32>,
    /// Age after which a job fails instead of retrying.
    #[serde(default, deserialize_with = "duration")]
    pub max_age: Option<Duration>,
    /// Concurrent sends across all workers.
    pub max_in_flight: Option<u32>,
}

fn duration<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Option<Duration>, D::Error> {
    let text = String::deserialize(d)?;
    parse_duration(&text)
        .map(Some)
        .map_err(|e| serde::de::Error::custom(e.message().to_owned()))
}

/// Parses `30d`, `12h`, `90s`, `1h 30m`.
///
/// ```
/// use std::time::Duration;
/// assert_eq!(securesend_queue::config::parse_duration("2h")?, Duration::from_secs(7200));
/// assert!(securesend_queue::config::parse_duration("soon").is_err());
/// # Ok::<(), securesend_core::Error>(())
/// ```
pub fn parse_duration(text: &str) -> Result<Duration> {
    humantime::parse_duration(text.trim()).map_err(|_| {
        Error::invalid_input(format!(
            "{:?} is not a duration; write it as 30d, 12h, 90s or 1h 30m",
            text.chars().take(40).collect::<String>()
        ))
    })
}

impl QueueConfig {
    /// The `[queue]` table of `file`, checked (unknown keys are named by their full path).
    pub fn from_file(file: &ConfigFile) -> Result<QueueConfig> {
        let Some(table) = file.queue_table() else {
            return Ok(QueueConfig::default());
        };
        let mut config: QueueConfig =
            serde_path_to_error::deserialize(toml::Value::Table(table.clone())).map_err(|e| {
                let path = e.path().to_string();
                let at = if path == "." || path.is_empty() {
                    "queue".to_owned()
                } else {
                    format!("queue.{path}")
                };
                Error::config(format!("`{at}`: {}", one_line(&e.into_inner().to_string())))
            })?;
        let base = file.base_dir();
        config.blobs = config.blobs.map(|b| resolve(base, &b));
        if let Some(url) = &config.url
            && let Some(path) = url.strip_prefix("sqlite://")
        {
            config.url = Some(format!(
                "sqlite://{}",
                resolve(base, Path::new(path)).display()
            ));
        }
        for (name, limits) in &config.profiles {
            if limits.max_attempts == Some(0) {
                return Err(Error::config(format!(
                    "`queue.profiles.{name}.max_attempts` is 0: a job needs at least one attempt"
                )));
            }
            if limits.max_in_flight == Some(0) {
                return Err(Error::config(format!(
                    "`queue.profiles.{name}.max_in_flight` is 0: allow at least one send, or leave it out"
                )));
            }
        }
        Ok(config)
    }

    /// The profile's limits (all defaults when it has none).
    pub fn limits(&self, profile: &str) -> ProfileLimits {
        self.profiles.get(profile).cloned().unwrap_or_default()
    }
}

fn resolve(base: &Path, path: &Path) -> PathBuf {
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        base.join(path)
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Where the queue is: `explicit` (`--queue`), else `SECURESEND_QUEUE`, else `[queue] url`, else
/// the embedded SQLite file `securesend-data/queue/queue.sqlite3` (beside the configuration file
/// when there is one, else in the current directory).
pub fn queue_url(explicit: Option<&str>, config: Option<&ConfigFile>) -> Result<String> {
    if let Some(url) = explicit.filter(|u| !u.is_empty()) {
        return Ok(url.to_owned());
    }
    if let Some(url) = std::env::var(QUEUE_ENV).ok().filter(|u| !u.is_empty()) {
        return Ok(url);
    }
    if let Some(file) = config
        && let Some(url) = QueueConfig::from_file(file)?.url
    {
        return Ok(url);
    }
    let base = config.map_or(Path::new("."), ConfigFile::base_dir);
    Ok(format!(
        "sqlite://{}",
        base.join(DEFAULT_DATA_DIR)
            .join("queue")
            .join("queue.sqlite3")
            .display()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<QueueConfig> {
        QueueConfig::from_file(&ConfigFile::parse(text, "/etc/app")?)
    }

    #[test]
    fn reads_limits_and_resolves_paths() {
        let c = parse(
            "[queue]\nurl = \"sqlite://q/queue.db\"\nblobs = \"b\"\nblob_retention = \"1d\"\n\
             [queue.profiles.kw]\nmax_attempts = 3\nmax_age = \"2h\"\nmax_in_flight = 4\n",
        )
        .unwrap();
        assert_eq!(c.url.as_deref(), Some("sqlite:///etc/app/q/queue.db"));
        assert_eq!(c.blobs.as_deref(), Some(Path::new("/etc/app/b")));
        assert_eq!(c.blob_retention, Some(Duration::from_secs(86_400)));
        let kw = c.limits("kw");
        assert_eq!(kw.max_attempts, Some(3));
        assert_eq!(kw.max_age, Some(Duration::from_secs(7200)));
        assert_eq!(kw.max_in_flight, Some(4));
        assert_eq!(c.limits("other"), ProfileLimits::default());
    }

    #[test]
    fn unknown_keys_and_bad_values_name_their_path() {
        let err = parse("[queue]\nurll = \"x\"\n").unwrap_err();
        assert!(err.to_string().contains("`queue.urll`"), "{err}");
        let err = parse("[queue.profiles.kw]\nmax_age = \"soon\"\n").unwrap_err();
        assert!(
            err.to_string().contains("queue.profiles.kw.max_age"),
            "{err}"
        );
        let err = parse("[queue.profiles.kw]\nmax_in_flight = 0\n").unwrap_err();
        assert!(err.to_string().contains("max_in_flight"), "{err}");
    }
}
