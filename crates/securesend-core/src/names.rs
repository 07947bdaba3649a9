//! File names: strict validation for names we send, sanitising for names a server sends us.

use crate::error::{Error, Result};

/// Longest file name in bytes, the common limit of file systems and services.
pub const MAX_NAME_BYTES: usize = 255;

const WINDOWS_DEVICES: [&str; 22] = [
    "CON", "PRN", "AUX", "NUL", "COM1", "COM2", "COM3", "COM4", "COM5", "COM6", "COM7", "COM8",
    "COM9", "LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9",
];

/// Checks a file name the caller wants to send or upload.
///
/// Unicode is welcome; what is refused is what would change meaning on the other side: path
/// separators, `.`/`..`, control characters (CR, LF, NUL…), leading or trailing spaces, and names
/// longer than 255 bytes.
///
/// ```
/// use securesend_core::names::validate_file_name;
/// assert!(validate_file_name("Übersicht 2026 – 日本.pdf").is_ok());
/// assert!(validate_file_name("../etc/passwd").is_err());
/// assert!(validate_file_name("a\r\nb.txt").is_err());
/// ```
pub fn validate_file_name(name: &str) -> Result<()> {
    let shown: String = name.escape_debug().take(80).collect();
    let fail = |why: &str| Err(Error::invalid_input(format!("file name \"{shown}\" {why}")));
    if name.is_empty() {
        return Err(Error::invalid_input(
            "file name is empty; give the file a name",
        ));
    }
    if name.chars().any(char::is_control) {
        return fail("contains a control character (CR, LF, NUL, …); rename the file");
    }
    if name.contains('/') || name.contains('\\') {
        return fail("contains a path separator; give a bare file name");
    }
    if name == "." || name == ".." {
        return fail("is a path component, not a file name");
    }
    if name.trim() != name {
        return fail("starts or ends with white space; trim it");
    }
    if name.len() > MAX_NAME_BYTES {
        return fail("is longer than 255 bytes; shorten it");
    }
    Ok(())
}

/// Turns a name that came from a server into one safe to create on this machine.
///
/// Path separators, control characters and reserved characters become `_`; `.`/`..`, names of
/// Windows devices and leading dots are defused; the result is at most 255 bytes and never
/// empty. The result never names another directory.
///
/// ```
/// use securesend_core::names::sanitize_file_name;
/// assert_eq!(sanitize_file_name("../../x"), "_._.._x");
/// assert_eq!(sanitize_file_name("/etc/passwd"), "_etc_passwd");
/// assert_eq!(sanitize_file_name("CON"), "_CON");
/// assert_eq!(sanitize_file_name("a\0b\r\n.txt"), "a_b__.txt");
/// assert_eq!(sanitize_file_name(""), "download");
/// ```
pub fn sanitize_file_name(name: &str) -> String {
    let mapped: String = name
        .chars()
        .map(|c| match c {
            '/' | '\\' | ':' | '*' | '?' | '"' | '<' | '>' | '|' => '_',
            c if c.is_control() => '_',
            c => c,
        })
        .collect();
    // Trailing dots and spaces vanish on some file systems, which can turn "a.txt." into
    // another file's name.
    // Any Unicode white space, as `validate_file_name` counts it (fuzzing found a trailing
    // no-break space kept here and refused there).
    let mut out = mapped
        .trim_start()
        .trim_end_matches(|c: char| c == '.' || c.is_whitespace())
        .to_owned();
    if out.starts_with('.') {
        out.replace_range(0..1, "_");
    }
    let stem = out.split('.').next().unwrap_or("").to_ascii_uppercase();
    if WINDOWS_DEVICES.contains(&stem.as_str()) {
        out.insert(0, '_');
    }
    if out.len() > MAX_NAME_BYTES {
        // Keep the extension where possible, cut on a character boundary.
        let ext = out
            .rfind('.')
            .filter(|&i| out.len() - i <= 16)
            .map(|i| out[i..].to_owned())
            .unwrap_or_default();
        let mut cut = MAX_NAME_BYTES - ext.len();
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        out.truncate(cut);
        out.push_str(&ext);
    }
    if out.is_empty() {
        return "download".to_owned();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_rejects_each_bad_form() {
        let long = "x".repeat(256);
        for bad in [
            "",
            ".",
            "..",
            "a/b",
            "a\\b",
            "a\0",
            "a\nb",
            " a",
            "a ",
            long.as_str(),
        ] {
            let e = validate_file_name(bad).expect_err(bad);
            assert!(e.is_invalid_input());
            assert!(!e.to_string().contains('\n'));
        }
        assert!(validate_file_name(&"é".repeat(127)).is_ok());
    }

    #[test]
    fn sanitised_names_pass_validation_even_with_unicode_white_space() {
        // Found by the `address` fuzz target: "   J Jl\u{4de}p\u{a0}".
        for raw in [
            "   J Jl\u{4de}p\u{a0}",
            "a.txt\u{2003}",
            "\u{a0}\u{a0}",
            "b.\u{3000}.",
        ] {
            let safe = sanitize_file_name(raw);
            assert!(validate_file_name(&safe).is_ok(), "{raw:?} -> {safe:?}");
        }
    }

    #[test]
    fn sanitised_names_are_safe() {
        let nasty = [
            "../../x",
            "..",
            ".",
            "/etc/passwd",
            "C:\\Windows\\system32",
            "CON",
            "con.txt",
            "lpt9.tar.gz",
            "a\0b",
            "line\r\nbreak",
            "...",
            " . ",
            ".bashrc",
            "name.",
        ];
        for n in nasty {
            let s = sanitize_file_name(n);
            assert!(validate_file_name(&s).is_ok(), "{n:?} -> {s:?}");
            assert!(!s.starts_with('.'), "{n:?} -> {s:?}");
            let stem = s.split('.').next().unwrap().to_ascii_uppercase();
            assert!(!WINDOWS_DEVICES.contains(&stem.as_str()), "{n:?} -> {s:?}");
        }
        let long = format!("{}.pdf", "ü".repeat(300));
        let s = sanitize_file_name(&long);
        assert!(s.len() <= MAX_NAME_BYTES && s.ends_with(".pdf"));
        assert_eq!(sanitize_file_name("report 2026.pdf"), "report 2026.pdf");
    }
}
