//! Paths in EGroupware's virtual file system (VFS), and the file ids made of them.
//!
//! A file's id is its VFS path with `%`, white space and control characters percent-encoded
//! (`/home/ralf/Q3 report.pdf` → `/home/ralf/Q3%20report.pdf`), so every id passes the core's
//! id rules and reads like a URL path. A relative id is taken from the configured home folder.

use std::fmt;

use securesend_core::names::validate_file_name;
use securesend_core::{Error, Result};

/// An absolute, normalised VFS path such as `/home/ralf/reports/q3.pdf`: no `.` or `..`, no
/// empty or control-character segments.
///
/// ```
/// use securesend_egroupware::VfsPath;
/// let p = VfsPath::new("/home//ralf/./Q3 report.pdf")?;
/// assert_eq!(p.to_string(), "/home/ralf/Q3 report.pdf");
/// assert_eq!(p.name(), Some("Q3 report.pdf"));
/// assert_eq!(p.to_id(), "/home/ralf/Q3%20report.pdf");
/// assert!(VfsPath::new("/home/ralf/../anna").is_err());
/// assert!(VfsPath::new("home/ralf").is_err());
/// # Ok::<(), securesend_core::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct VfsPath {
    segments: Vec<String>,
}

impl VfsPath {
    /// Parses an absolute path.
    pub fn new(path: &str) -> Result<VfsPath> {
        if !path.starts_with('/') {
            return Err(Error::invalid_input(format!(
                "VFS path {:?} is not absolute; write it from the top, such as /home/<user>/file.pdf",
                shown(path)
            )));
        }
        VfsPath::root().join(path)
    }

    /// `/`.
    pub fn root() -> VfsPath {
        VfsPath {
            segments: Vec::new(),
        }
    }

    /// This path followed by the `/`-separated segments of `relative`.
    pub fn join(&self, relative: &str) -> Result<VfsPath> {
        let mut segments = self.segments.clone();
        for part in relative.split('/') {
            match part {
                "" | "." => {}
                ".." => {
                    return Err(Error::invalid_input(format!(
                        "VFS path {:?} contains `..`; give a path from the top",
                        shown(relative)
                    )));
                }
                p => {
                    validate_file_name(p).map_err(|e| {
                        Error::invalid_input(format!(
                            "VFS path {:?}: {}",
                            shown(relative),
                            e.message()
                        ))
                    })?;
                    segments.push(p.to_owned());
                }
            }
        }
        Ok(VfsPath { segments })
    }

    /// The segments, top first.
    pub fn segments(&self) -> &[String] {
        &self.segments
    }

    /// The last segment (the file name); `None` for `/`.
    pub fn name(&self) -> Option<&str> {
        self.segments.last().map(String::as_str)
    }

    /// The folder holding this path; `None` for `/`.
    pub fn parent(&self) -> Option<VfsPath> {
        let (_, rest) = self.segments.split_last()?;
        Some(VfsPath {
            segments: rest.to_vec(),
        })
    }

    /// Whether `other` is this path or lies below it.
    pub fn contains(&self, other: &VfsPath) -> bool {
        other.segments.starts_with(&self.segments)
    }

    /// The file id: the path with `%`, white space and control characters percent-encoded.
    pub fn to_id(&self) -> String {
        let mut out = String::new();
        for c in self.to_string().chars() {
            if c == '%' || c.is_whitespace() || c.is_control() {
                let mut buf = [0u8; 4];
                for b in c.encode_utf8(&mut buf).bytes() {
                    out.push_str(&format!("%{b:02X}"));
                }
            } else {
                out.push(c);
            }
        }
        out
    }

    /// The path an id names: decoded, and taken from `home` when relative.
    ///
    /// ```
    /// use securesend_egroupware::VfsPath;
    /// let home = VfsPath::new("/home/ralf")?;
    /// assert_eq!(VfsPath::from_id("a/Q3%20report.pdf", &home)?.to_string(), "/home/ralf/a/Q3 report.pdf");
    /// assert_eq!(VfsPath::from_id("/apps/x/1.txt", &home)?.to_string(), "/apps/x/1.txt");
    /// # Ok::<(), securesend_core::Error>(())
    /// ```
    pub fn from_id(id: &str, home: &VfsPath) -> Result<VfsPath> {
        let decoded = percent_encoding::percent_decode_str(id)
            .decode_utf8()
            .map_err(|_| {
                Error::invalid_input(format!("file id {:?} does not decode to UTF-8", shown(id)))
            })?;
        if decoded.ends_with('/') {
            return Err(Error::invalid_input(format!(
                "file id {:?} names a folder, not a file",
                shown(id)
            )));
        }
        let path = if decoded.starts_with('/') {
            VfsPath::new(&decoded)?
        } else {
            home.join(&decoded)?
        };
        if path.name().is_none() {
            return Err(Error::invalid_input(format!(
                "file id {:?} names a folder, not a file",
                shown(id)
            )));
        }
        Ok(path)
    }
}

impl fmt::Display for VfsPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.segments.is_empty() {
            return f.write_str("/");
        }
        for s in &self.segments {
            write!(f, "/{s}")?;
        }
        Ok(())
    }
}

fn shown(s: &str) -> String {
    s.escape_debug().take(80).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip() {
        let home = VfsPath::new("/home/ralf").unwrap();
        for path in [
            "/home/ralf/plain.txt",
            "/home/ralf/with space/100% sure.pdf",
            "/home/ralf/Übersicht – 日本.pdf",
            "/home/ralf/nbsp\u{a0}name.txt",
        ] {
            let p = VfsPath::new(path).unwrap();
            let id = p.to_id();
            assert!(
                !id.chars().any(|c| c.is_whitespace() || c.is_control()),
                "{id}"
            );
            assert_eq!(VfsPath::from_id(&id, &home).unwrap(), p, "{id}");
        }
        assert!(VfsPath::from_id("/", &home).is_err());
        assert!(VfsPath::from_id("docs/", &home).is_err());
        assert!(VfsPath::from_id("../anna/x", &home).is_err());
        assert!(VfsPath::from_id("a%0Ab", &home).is_err());
    }

    #[test]
    fn parents_and_containment() {
        let p = VfsPath::new("/home/ralf/a/b.txt").unwrap();
        let home = VfsPath::new("/home/ralf").unwrap();
        assert!(home.contains(&p));
        assert!(!p.contains(&home));
        assert_eq!(p.parent().unwrap().to_string(), "/home/ralf/a");
        assert_eq!(VfsPath::root().parent(), None);
    }
}
