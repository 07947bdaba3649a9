//! Secrets: values that never appear in Display, Debug, logs or errors.

use std::fmt;
use std::path::{Path, PathBuf};

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};

use crate::error::{Error, Result};
use crate::file::{SmallFile, read_small_text};

/// A secret value (password, token, PIN, API secret, key). Debug prints `[redacted]`; the
/// value is zeroed on drop and reachable only through [`Secret::expose`].
///
/// ```
/// use securesend_core::Secret;
/// let s = Secret::new("hunter2");
/// assert_eq!(format!("{s:?}"), "Secret([redacted])");
/// assert_eq!(s.expose(), "hunter2");
/// ```
#[derive(Clone)]
pub struct Secret(SecretString);

impl Secret {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(SecretString::from(value.into()))
    }

    /// The value. Call it only where the value goes on the wire or into a signature.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }

    /// Whether the value is empty.
    pub fn is_empty(&self) -> bool {
        self.expose().is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

impl From<String> for Secret {
    fn from(s: String) -> Self {
        Secret::new(s)
    }
}

impl From<&str> for Secret {
    fn from(s: &str) -> Self {
        Secret::new(s)
    }
}

/// Where a secret in a configuration file comes from.
///
/// In TOML: `{ env = "VAR" }`, `{ file = "path" }` (relative to the configuration file; a
/// regular file of at most [`MAX_SECRET_FILE`](crate::file::MAX_SECRET_FILE) bytes of UTF-8;
/// one trailing newline is removed), or a literal string (allowed, but a warning is logged because
/// the file then holds the secret).
#[derive(Clone)]
pub enum SecretRef {
    /// An environment variable.
    Env(String),
    /// A file holding the secret.
    File(PathBuf),
    /// The value itself.
    Literal(Secret),
}

impl fmt::Debug for SecretRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretRef::Env(v) => f.debug_struct("SecretRef").field("env", v).finish(),
            SecretRef::File(p) => f.debug_struct("SecretRef").field("file", p).finish(),
            SecretRef::Literal(_) => f.write_str("SecretRef(literal [redacted])"),
        }
    }
}

impl SecretRef {
    /// Reads the secret. `field` names the configuration key for error messages; relative
    /// files are resolved against `base_dir`.
    pub fn resolve(&self, field: &str, base_dir: &Path) -> Result<Secret> {
        let value = match self {
            SecretRef::Literal(s) => {
                tracing::warn!(
                    field,
                    "secret `{field}` is written in the configuration file; prefer {{ env = \"VAR\" }} or {{ file = \"path\" }}"
                );
                s.clone()
            }
            SecretRef::Env(var) => match std::env::var(var) {
                Ok(v) => Secret::new(v),
                Err(std::env::VarError::NotPresent) => {
                    return Err(Error::config(format!(
                        "secret `{field}`: environment variable {var} is not set; export it or change `{field}`"
                    )));
                }
                Err(std::env::VarError::NotUnicode(_)) => {
                    return Err(Error::config(format!(
                        "secret `{field}`: environment variable {var} is not valid UTF-8"
                    )));
                }
            },
            SecretRef::File(path) => {
                let full = if path.is_absolute() {
                    path.clone()
                } else {
                    base_dir.join(path)
                };
                let text = read_small_text(&full, SmallFile::SECRET)
                    .map_err(|e| Error::config(format!("secret `{field}`: {}", e.message())))?;
                let text = text
                    .strip_suffix("\r\n")
                    .or_else(|| text.strip_suffix('\n'))
                    .unwrap_or(&text);
                Secret::new(text)
            }
        };
        if value.is_empty() {
            return Err(Error::config(format!(
                "secret `{field}` is empty; give it a value"
            )));
        }
        Ok(value)
    }
}

fn hidden<E: de::Error>() -> E {
    E::custom(
        "expected a secret: { env = \"VAR\" }, { file = \"path\" } or a string (value not shown)",
    )
}

impl<'de> Deserialize<'de> for SecretRef {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = SecretRef;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a secret: { env = \"VAR\" }, { file = \"path\" } or a string")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<SecretRef, E> {
                Ok(SecretRef::Literal(Secret::new(v)))
            }
            // PINs are often written as bare numbers.
            fn visit_i64<E: de::Error>(self, v: i64) -> std::result::Result<SecretRef, E> {
                Ok(SecretRef::Literal(Secret::new(v.to_string())))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> std::result::Result<SecretRef, E> {
                Ok(SecretRef::Literal(Secret::new(v.to_string())))
            }
            // Serde's default errors quote the value; a mistyped secret must not be echoed.
            fn visit_f64<E: de::Error>(self, _: f64) -> std::result::Result<SecretRef, E> {
                Err(hidden())
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> std::result::Result<SecretRef, E> {
                Err(hidden())
            }
            fn visit_seq<A: de::SeqAccess<'de>>(
                self,
                _: A,
            ) -> std::result::Result<SecretRef, A::Error> {
                Err(hidden())
            }
            fn visit_map<A: MapAccess<'de>>(
                self,
                mut map: A,
            ) -> std::result::Result<SecretRef, A::Error> {
                let key: String = map.next_key()?.ok_or_else(|| {
                    de::Error::custom("empty table; use { env = \"VAR\" } or { file = \"path\" }")
                })?;
                let out = match key.as_str() {
                    // A literal secret mistakenly put here would be echoed by a type error.
                    "env" => SecretRef::Env(map.next_value().map_err(|_: A::Error| hidden())?),
                    "file" => SecretRef::File(map.next_value().map_err(|_: A::Error| hidden())?),
                    other => return Err(de::Error::unknown_field(other, &["env", "file"])),
                };
                if let Some(extra) = map.next_key::<String>()? {
                    return Err(de::Error::custom(format!(
                        "unexpected key `{extra}`: a secret takes exactly one of `env` or `file`"
                    )));
                }
                Ok(out)
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize, Debug)]
    struct Holder {
        s: SecretRef,
    }

    fn parse(text: &str) -> std::result::Result<SecretRef, toml::de::Error> {
        toml::from_str::<Holder>(text).map(|h| h.s)
    }

    #[test]
    fn forms_parse_and_resolve() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("pw"), "from-file\n").unwrap();
        let f = parse(r#"s = { file = "pw" }"#).unwrap();
        assert_eq!(f.resolve("pw", dir.path()).unwrap().expose(), "from-file");
        let l = parse(r#"s = "lit""#).unwrap();
        assert_eq!(l.resolve("pw", dir.path()).unwrap().expose(), "lit");
        let e = parse(r#"s = { env = "SECURESEND_TEST_SURELY_UNSET_VAR" }"#).unwrap();
        let err = e.resolve("client_secret", dir.path()).unwrap_err();
        assert!(err.is_configuration());
        assert!(err.to_string().contains("SECURESEND_TEST_SURELY_UNSET_VAR"));
        assert!(parse(r#"s = { nope = "x" }"#).is_err());
        assert!(parse(r#"s = { env = "A", file = "b" }"#).is_err());
    }

    #[test]
    fn debug_never_shows_value() {
        let l = parse(r#"s = "canary-7f3a""#).unwrap();
        assert!(!format!("{l:?}").contains("canary"));
        assert!(!format!("{:?}", Secret::new("canary-7f3a")).contains("canary"));
    }
}
