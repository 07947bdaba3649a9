//! Configuration: `securesend.toml` with named profiles, each naming its provider.
//!
//! ```toml
//! default = "work"
//!
//! [profiles.work]
//! provider = "kiteworks"
//! base_url = "https://files.example.com"
//! client_secret = { env = "KW_CLIENT_SECRET" }
//!
//! [profiles.demo]
//! provider = "local"
//! root = "./securesend-data"
//! ```
//!
//! This module reads the file and picks a profile; each adapter deserialises its own fields
//! from the profile with [`ProfileConfig::parse`], which rejects unknown keys by their full
//! path (`profiles.work.clent_id`).

mod url;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

use crate::error::{Error, Result};
use crate::file::{SmallFile, read_small_text};

pub use self::url::{check_base_url, is_loopback};

/// The fields of a profile, as TOML (for building a [`ProfileConfig`] in code).
pub use toml::Table;

/// Environment variable naming the configuration file.
pub const CONFIG_ENV: &str = "SECURESEND_CONFIG";
/// File name looked for in the platform configuration directory.
pub const CONFIG_FILE_NAME: &str = "securesend.toml";

/// A parsed configuration file.
#[derive(Clone)]
pub struct ConfigFile {
    path: Option<PathBuf>,
    base_dir: PathBuf,
    default: Option<String>,
    profiles: BTreeMap<String, toml::Table>,
    queue: Option<toml::Table>,
}

impl fmt::Debug for ConfigFile {
    // Profiles may hold literal secrets: show only their names.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConfigFile")
            .field("path", &self.path)
            .field("default", &self.default)
            .field("profiles", &self.profiles.keys().collect::<Vec<_>>())
            .field(
                "queue",
                &self.queue.as_ref().map(|q| q.keys().collect::<Vec<_>>()),
            )
            .finish()
    }
}

impl ConfigFile {
    /// Reads and parses a configuration file: a regular file of at most
    /// [`MAX_CONFIG_FILE`](crate::file::MAX_CONFIG_FILE) bytes of UTF-8 (anything else is
    /// refused before more than that is read, see [`read_small_text`]).
    pub fn load(path: impl AsRef<Path>) -> Result<ConfigFile> {
        let path = path.as_ref();
        let text = read_small_text(path, SmallFile::CONFIG)?;
        let base_dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        let mut file = ConfigFile::parse(&text, base_dir)
            .map_err(|e| Error::config(format!("{}: {}", path.display(), e.message())))?;
        file.path = Some(path.to_path_buf());
        Ok(file)
    }

    /// Parses configuration text; relative paths in it are taken from `base_dir`.
    pub fn parse(text: &str, base_dir: impl Into<PathBuf>) -> Result<ConfigFile> {
        // The parser's full report quotes the offending line, which may hold a secret: keep
        // only the line number and the parser's own message.
        let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
            let line = e
                .span()
                .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1);
            let at = line.map(|l| format!(" at line {l}")).unwrap_or_default();
            Error::config(format!("not valid TOML{at}: {}", one_line(e.message())))
        })?;
        let mut default = None;
        let mut profiles = BTreeMap::new();
        let mut queue = None;
        for (key, value) in table {
            match key.as_str() {
                "default" => match value {
                    toml::Value::String(s) => default = Some(s),
                    _ => return Err(Error::config("`default` must be a profile name (a string)")),
                },
                "profiles" => {
                    let toml::Value::Table(t) = value else {
                        return Err(Error::config("`profiles` must be a table of profiles"));
                    };
                    for (name, profile) in t {
                        let toml::Value::Table(p) = profile else {
                            return Err(Error::config(format!(
                                "`profiles.{name}` must be a table ([profiles.{name}])"
                            )));
                        };
                        profiles.insert(name, p);
                    }
                }
                "queue" => {
                    let toml::Value::Table(t) = value else {
                        return Err(Error::config("`queue` must be a table ([queue])"));
                    };
                    queue = Some(t);
                }
                other => {
                    return Err(Error::config(format!(
                        "unknown key `{other}` at the top level; expected `default`, `profiles` or `queue`"
                    )));
                }
            }
        }
        if let Some(d) = &default {
            if !profiles.contains_key(d) {
                return Err(Error::config(format!(
                    "`default` names profile `{d}`, which is not defined; define [profiles.{d}]"
                )));
            }
        }
        Ok(ConfigFile {
            path: None,
            base_dir: base_dir.into(),
            default,
            profiles,
            queue,
        })
    }

    /// The `[queue]` table, as written: the delivery queue reads (and checks) its own keys.
    pub fn queue_table(&self) -> Option<&toml::Table> {
        self.queue.as_ref()
    }

    /// The directory relative paths in the file are resolved against (the file's own).
    pub fn base_dir(&self) -> &Path {
        &self.base_dir
    }

    /// Finds the configuration file: `explicit` (from `--config`), else the file named by
    /// `SECURESEND_CONFIG`, else `securesend.toml` in the platform configuration directory.
    /// `Ok(None)` means there is none, and the embedded default applies.
    pub fn discover(explicit: Option<&Path>) -> Result<Option<ConfigFile>> {
        if let Some(path) = explicit {
            return ConfigFile::load(path).map(Some);
        }
        if let Some(path) = std::env::var_os(CONFIG_ENV).filter(|v| !v.is_empty()) {
            return ConfigFile::load(Path::new(&path))
                .map_err(|e| Error::config(format!("{CONFIG_ENV}: {}", e.message())))
                .map(Some);
        }
        if let Some(dir) = dirs::config_dir() {
            let path = dir.join("securesend").join(CONFIG_FILE_NAME);
            if path.is_file() {
                return ConfigFile::load(path).map(Some);
            }
        }
        Ok(None)
    }

    /// Where the file was read from.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// The profile names.
    pub fn profile_names(&self) -> impl Iterator<Item = &str> {
        self.profiles.keys().map(String::as_str)
    }

    /// Picks a profile: `name` if given, else `default`, else the only one.
    pub fn profile(&self, name: Option<&str>) -> Result<ProfileConfig> {
        let known = || {
            let names: Vec<_> = self.profiles.keys().map(|n| format!("`{n}`")).collect();
            if names.is_empty() {
                "none".to_owned()
            } else {
                names.join(", ")
            }
        };
        let name = match (name, &self.default) {
            (Some(n), _) => n.to_owned(),
            (None, Some(d)) => d.clone(),
            (None, None) if self.profiles.len() == 1 => {
                self.profiles.keys().next().cloned().unwrap_or_default()
            }
            (None, None) => {
                return Err(Error::config(format!(
                    "no profile chosen and no `default`; pass --profile or set `default` (profiles: {})",
                    known()
                )));
            }
        };
        let mut table = self.profiles.get(&name).cloned().ok_or_else(|| {
            Error::config(format!(
                "profile `{name}` is not defined (profiles: {})",
                known()
            ))
        })?;
        let provider = match table.remove("provider") {
            Some(toml::Value::String(p)) => p,
            Some(_) => {
                return Err(Error::config(format!(
                    "`profiles.{name}.provider` must be a string such as \"kiteworks\""
                )));
            }
            None => {
                return Err(Error::config(format!(
                    "profile `{name}` has no `provider`; add provider = \"local\" (or another provider key)"
                )));
            }
        };
        Ok(ProfileConfig {
            name,
            provider,
            table,
            base_dir: self.base_dir.clone(),
        })
    }
}

/// One profile: its name, its provider key and the provider's own fields.
#[derive(Clone)]
pub struct ProfileConfig {
    name: String,
    provider: String,
    table: toml::Table,
    base_dir: PathBuf,
}

impl fmt::Debug for ProfileConfig {
    // Field values may be literal secrets: show only the keys.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProfileConfig")
            .field("name", &self.name)
            .field("provider", &self.provider)
            .field("keys", &self.table.keys().collect::<Vec<_>>())
            .field("base_dir", &self.base_dir)
            .finish()
    }
}

impl ProfileConfig {
    /// A profile built in code (no file): `fields` are the provider's own keys.
    pub fn new(
        name: impl Into<String>,
        provider: impl Into<String>,
        fields: toml::Table,
        base_dir: impl Into<PathBuf>,
    ) -> Self {
        ProfileConfig {
            name: name.into(),
            provider: provider.into(),
            table: fields,
            base_dir: base_dir.into(),
        }
    }

    /// The embedded default: the `local` provider in `./securesend-data`.
    pub fn embedded_default() -> Self {
        let mut fields = toml::Table::new();
        fields.insert("root".into(), toml::Value::String("securesend-data".into()));
        ProfileConfig::new("default", "local", fields, ".")
    }

    /// The profile's name.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// The provider key.
    pub fn provider(&self) -> &str {
        &self.provider
    }
    /// The directory relative paths are resolved against (the configuration file's).
    pub fn base_dir(&self) -> &Path {
        &self.base_dir
    }

    /// Resolves a path from the configuration against [`ProfileConfig::base_dir`].
    pub fn resolve_path(&self, path: &Path) -> PathBuf {
        if path.is_absolute() {
            path.to_path_buf()
        } else {
            self.base_dir.join(path)
        }
    }

    /// Deserialises the provider's fields into `T` (which should deny unknown fields). Errors
    /// name the full key path, such as `profiles.work.http.timeout`.
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T> {
        let value = toml::Value::Table(self.table.clone());
        serde_path_to_error::deserialize::<_, T>(value).map_err(|e| {
            let path = e.path().to_string();
            let inner = one_line(&e.into_inner().to_string());
            let at = if path == "." || path.is_empty() {
                format!("profiles.{}", self.name)
            } else {
                format!("profiles.{}.{path}", self.name)
            };
            Error::config(format!("`{at}`: {inner}"))
        })
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::SecretRef;
    use serde::Deserialize;

    #[derive(Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Demo {
        base_url: String,
        password: SecretRef,
        #[serde(default)]
        http: Nested,
    }

    #[derive(Deserialize, Debug, Default)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Nested {
        timeout_secs: Option<u64>,
    }

    const TEXT: &str = r#"
default = "a"
[profiles.a]
provider = "demo"
base_url = "https://x.example"
password = "canary-a1b2"
[profiles.b]
provider = "demo"
base_url = "https://x.example"
password = { env = "X" }
[profiles.b.http]
timeot_secs = 3
"#;

    #[test]
    fn picks_profiles() {
        let f = ConfigFile::parse(TEXT, ".").unwrap();
        assert_eq!(f.profile(None).unwrap().name(), "a");
        assert_eq!(f.profile(Some("b")).unwrap().provider(), "demo");
        let e = f.profile(Some("c")).unwrap_err();
        assert!(
            e.is_configuration() && e.to_string().contains("`a`, `b`"),
            "{e}"
        );
    }

    #[test]
    fn unknown_keys_are_named_by_path() {
        let f = ConfigFile::parse(TEXT, ".").unwrap();
        let e = f.profile(Some("b")).unwrap().parse::<Demo>().unwrap_err();
        let s = e.to_string();
        assert!(s.contains("profiles.b.http.timeot_secs"), "{s}");
        assert!(!s.contains('\n'));
        let e = ConfigFile::parse("defualt = \"a\"", ".").unwrap_err();
        assert!(e.to_string().contains("`defualt`"), "{e}");
    }

    #[test]
    fn debug_hides_values() {
        let f = ConfigFile::parse(TEXT, ".").unwrap();
        let p = f.profile(None).unwrap();
        let parsed: Demo = p.parse().unwrap();
        for shown in [format!("{f:?}"), format!("{p:?}"), format!("{parsed:?}")] {
            assert!(!shown.contains("canary"), "{shown}");
        }
    }

    #[test]
    fn structural_errors() {
        for (text, needle) in [
            ("default = 1", "`default`"),
            ("default = \"x\"", "not defined"),
            ("profiles = 1", "`profiles`"),
            ("[profiles]\na = 1", "profiles.a"),
            ("[profiles.a]\nx = 1", "no `provider`"),
            ("[profiles.a\n", "TOML"),
        ] {
            let e = ConfigFile::parse(text, ".").and_then(|f| f.profile(Some("a")).map(|_| ()));
            let e = e.unwrap_err();
            assert!(e.is_configuration());
            assert!(e.to_string().contains(needle), "{text}: {e}");
        }
    }
}
