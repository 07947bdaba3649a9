//! The files `serve` writes: a ready `securesend.toml` pointing at the running sandboxes, and a
//! JSON manifest of seeded items. Both are written atomically (temporary file + rename), so a
//! script polling for them never reads half a file.
//!
//! The configuration holds no secret itself: [`write_config`] moves every secret field
//! ([`SECRET_FIELDS`]) into an owner-only file of a `<stem>-secrets/` directory beside it and
//! writes `{ file = "<stem>-secrets/<profile>.<field>" }` in its place, so commands against a
//! generated configuration print no "secret written in the configuration file" warning.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

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

/// Renders the configuration with a header saying what it is. Secrets still in `table` are
/// rendered as they are (literal values make every command warn); [`write_config`] moves them
/// into files first.
pub fn render_config(table: &toml::Table) -> Result<String, toml::ser::Error> {
    let body = toml::to_string(table)?;
    Ok(format!(
        "# securesend configuration written by securesend-sandbox {}.\n\
         # Each profile points at an emulator on this machine; the credentials are throwaway\n\
         # test values that work only while that sandbox runs.\n\n{body}",
        env!("CARGO_PKG_VERSION"),
    ))
}

/// The profile fields the adapters read as secrets (`SecretRef`s), at any depth of a profile.
pub const SECRET_FIELDS: &[&str] = &[
    "password",
    "app_password",
    "client_secret",
    "refresh_token",
    "signature_key",
    "token",
    "pin",
    "api_key",
    "api_secret",
    "auth_code",
];

/// The directory beside `config_path` that [`write_config`] keeps its secrets in:
/// `<stem>-secrets` (`securesend-secrets` for `securesend.toml`).
pub fn secrets_dir(config_path: &Path) -> PathBuf {
    let stem = config_path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("securesend");
    let name = format!("{stem}-secrets");
    match config_path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.join(name),
        _ => PathBuf::from(name),
    }
}

/// Moves every literal secret of `table`'s profiles into its own file below
/// [`secrets_dir`]`(config_path)` (created owner-only, 0700; files 0600, written atomically)
/// and replaces it with `{ file = "<dir name>/<profile>.<field>" }`, a path relative to the
/// configuration file's directory, which is how the core resolves it. Secrets already given as
/// `{ env = … }` or `{ file = … }` are left alone.
pub fn externalize_secrets(table: &mut toml::Table, config_path: &Path) -> io::Result<()> {
    let dir = secrets_dir(config_path);
    let dir_name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "securesend-secrets".to_owned());
    let Some(toml::Value::Table(profiles)) = table.get_mut("profiles") else {
        return Ok(());
    };
    let mut created = false;
    for (profile, value) in profiles.iter_mut() {
        if let toml::Value::Table(fields) = value {
            let mut at = vec![profile.clone()];
            externalize_in(fields, &mut at, &dir, &dir_name, &mut created)?;
        }
    }
    Ok(())
}

fn externalize_in(
    fields: &mut toml::Table,
    at: &mut Vec<String>,
    dir: &Path,
    dir_name: &str,
    created: &mut bool,
) -> io::Result<()> {
    for (key, value) in fields.iter_mut() {
        let literal = match value {
            toml::Value::Table(inner) => {
                at.push(key.clone());
                externalize_in(inner, at, dir, dir_name, created)?;
                at.pop();
                continue;
            }
            toml::Value::String(s) if SECRET_FIELDS.contains(&key.as_str()) => s.clone(),
            toml::Value::Integer(n) if SECRET_FIELDS.contains(&key.as_str()) => n.to_string(),
            _ => continue,
        };
        if !*created {
            create_private_dir(dir)?;
            *created = true;
        }
        let file_name = format!("{}.{key}", at.join("."));
        write_atomic(&dir.join(&file_name), literal.as_bytes())?;
        let mut reference = toml::Table::new();
        reference.insert("file".into(), format!("{dir_name}/{file_name}").into());
        *value = toml::Value::Table(reference);
    }
    Ok(())
}

/// Creates `dir` (and its parents) and makes it owner-only, also when it already existed. A
/// symlink at `dir` is refused rather than followed: the secrets would land, and the mode
/// change would apply, wherever it points.
fn create_private_dir(dir: &Path) -> io::Result<()> {
    let refuse_link = || -> io::Result<()> {
        match std::fs::symlink_metadata(dir) {
            Ok(m) if m.file_type().is_symlink() => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "{} is a symbolic link; the sandbox writes secrets only into a directory of its own, so remove the link",
                    dir.display()
                ),
            )),
            Ok(_) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e),
        }
    };
    refuse_link()?;
    std::fs::create_dir_all(dir)?;
    // Looked at again: a link put there meanwhile is refused before the mode is set.
    refuse_link()?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

/// Writes a generated configuration to `path` the way `serve` does: secrets moved into files
/// ([`externalize_secrets`]), then the rendered text written atomically, owner-only.
pub fn write_config(path: &Path, table: &toml::Table) -> io::Result<()> {
    let mut table = table.clone();
    externalize_secrets(&mut table, path)?;
    let text = render_config(&table).map_err(io::Error::other)?;
    write_atomic(path, text.as_bytes())
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
    fn secrets_go_to_owner_only_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("securesend.toml");
        let table: toml::Table = r#"
            default = "svc"
            [profiles.svc]
            provider = "svc"
            username = "ralf"
            password = "hunter2"
            pin = 1234
            api_key = { env = "KEY" }
            [profiles.svc.act_as]
            password = "nested-secret"
        "#
        .parse()
        .unwrap();
        write_config(&path, &table).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        for secret in ["hunter2", "1234", "nested-secret"] {
            assert!(!text.contains(secret), "{secret} in:\n{text}");
        }
        let parsed: toml::Table = text.parse().unwrap();
        let svc = parsed["profiles"]["svc"].as_table().unwrap();
        assert_eq!(svc["username"].as_str(), Some("ralf"));
        assert_eq!(
            svc["password"]["file"].as_str(),
            Some("securesend-secrets/svc.password")
        );
        assert_eq!(svc["api_key"]["env"].as_str(), Some("KEY"));
        let secrets = dir.path().join("securesend-secrets");
        let read = |name: &str| std::fs::read_to_string(secrets.join(name)).unwrap();
        assert_eq!(read("svc.password"), "hunter2");
        assert_eq!(read("svc.pin"), "1234");
        assert_eq!(read("svc.act_as.password"), "nested-secret");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&secrets), 0o700);
            assert_eq!(mode(&secrets.join("svc.password")), 0o600);
        }
    }

    #[cfg(unix)]
    #[test]
    fn a_symlink_at_the_secrets_dir_is_refused_not_followed() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let elsewhere = dir.path().join("elsewhere");
        std::fs::create_dir(&elsewhere).unwrap();
        std::fs::set_permissions(&elsewhere, std::fs::Permissions::from_mode(0o755)).unwrap();
        let link = dir.path().join("securesend-secrets");
        std::os::unix::fs::symlink(&elsewhere, &link).unwrap();
        let path = dir.path().join("securesend.toml");
        let table: toml::Table = "[profiles.svc]\nprovider = \"svc\"\npassword = \"hunter2\"\n"
            .parse()
            .unwrap();
        let e = write_config(&path, &table).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "{e}");
        assert!(e.to_string().contains(&link.display().to_string()), "{e}");
        assert!(e.to_string().contains("symbolic link"), "{e}");
        assert_eq!(
            std::fs::read_dir(&elsewhere).unwrap().count(),
            0,
            "nothing written there"
        );
        let mode = std::fs::metadata(&elsewhere).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o755, "its mode is untouched");
        assert!(!path.exists(), "no configuration pointing at it");
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
