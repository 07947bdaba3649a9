//! The files `serve` writes: a ready `securesend.toml` pointing at the running sandboxes, and a
//! JSON manifest of seeded items. Both are written atomically (temporary file + rename), so a
//! script polling for them never reads half a file.

use std::io::{self, Write};
use std::path::Path;

use serde_json::json;

use crate::server::Sandbox;
use crate::service::LOCAL_PROVIDER;

/// Builds the configuration: one profile per sandbox (profile name = provider key), plus a
/// `local` profile when `local_root` is given (a path, relative to the configuration file's
/// directory or absolute). The default profile is the first sandbox, else `local`.
pub fn config_table(sandboxes: &[Sandbox], local_root: Option<&str>) -> toml::Table {
    let mut profiles = toml::Table::new();
    for s in sandboxes {
        profiles.insert(s.key().to_owned(), toml::Value::Table(s.profile().clone()));
    }
    if let Some(root) = local_root {
        let mut local = toml::Table::new();
        local.insert("provider".into(), LOCAL_PROVIDER.into());
        local.insert("root".into(), root.into());
        profiles.insert(LOCAL_PROVIDER.to_owned(), toml::Value::Table(local));
    }
    let default = sandboxes
        .first()
        .map(|s| s.key())
        .or(local_root.map(|_| LOCAL_PROVIDER));
    let mut table = toml::Table::new();
    if let Some(d) = default {
        table.insert("default".into(), d.into());
    }
    table.insert("profiles".into(), toml::Value::Table(profiles));
    table
}

/// Renders the configuration with a header saying what it is.
pub fn render_config(table: &toml::Table) -> Result<String, toml::ser::Error> {
    let body = toml::to_string(table)?;
    Ok(format!(
        "# securesend configuration written by securesend-sandbox {}.\n\
         # Each profile points at an emulator on this machine; the credentials are throwaway\n\
         # test values that work only while that sandbox runs.\n\n{body}",
        env!("CARGO_PKG_VERSION"),
    ))
}

/// The seed manifest: per provider, its base URL and seeded items.
pub fn manifest(sandboxes: &[Sandbox]) -> serde_json::Value {
    let providers: serde_json::Map<String, serde_json::Value> = sandboxes
        .iter()
        .map(|s| {
            (
                s.key().to_owned(),
                json!({ "base_url": s.base_url(), "items": s.seeded() }),
            )
        })
        .collect();
    json!({
        "generated_by": format!("securesend-sandbox {}", env!("CARGO_PKG_VERSION")),
        "providers": providers,
    })
}

/// Writes `contents` to `path` atomically: a temporary file in the same directory, synced,
/// then renamed over `path`. On Unix the file is readable by its owner only, as it holds
/// credentials.
pub fn write_atomic(path: &Path, contents: &[u8]) -> io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".securesend-sandbox-")
        .tempfile_in(dir)?;
    tmp.write_all(contents)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_only_config() {
        let table = config_table(&[], Some("securesend-local"));
        let text = render_config(&table).unwrap();
        let parsed: toml::Table = text.parse().unwrap();
        assert_eq!(parsed["default"].as_str(), Some("local"));
        let local = parsed["profiles"]["local"].as_table().unwrap();
        assert_eq!(local["provider"].as_str(), Some("local"));
        assert_eq!(local["root"].as_str(), Some("securesend-local"));
    }

    #[test]
    fn atomic_write_replaces() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("out.toml");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1, "no temporary file left behind");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&p).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "owner-only: {mode:o}");
        }
    }
}
