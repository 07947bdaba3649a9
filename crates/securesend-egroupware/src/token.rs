//! Upload tokens: what `POST /mail/attachments/<name>` returns, and the names that fit one.
//!
//! EGroupware stores an upload as `attach--<name>--XXXXXX` (PHP `tempnam`, `/` in the name
//! becomes `-`) and answers with the location `/mail/attachments/<name>--XXXXXX`. When sending,
//! only entries matching `^/mail/attachments/([^/]+)--[^/.-]{6,}$` are taken as tokens, and the
//! part before the last `--` becomes the attachment's name. `tempnam` keeps 63 bytes of
//! prefix, so a name longer than 53 bytes loses the `--` and its token is useless.

use std::borrow::Cow;

use securesend_core::{Result, clean_service_text};

use crate::error::{Step, protocol};

/// The prefix of every token location.
const PREFIX: &str = "/mail/attachments/";

/// The longest location accepted from the server.
const MAX_LOCATION: usize = 1024;

/// A single-use reference to an uploaded attachment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct UploadToken {
    location: String,
}

impl UploadToken {
    /// Checks a location from the server (hostile input): `/mail/attachments/<name>--<6+ chars
    /// without / . ->`. A user-prefixed form (`/<user>/mail/attachments/…`) is reduced to the
    /// plain one, which is the only form the send handler recognises.
    pub(crate) fn parse(raw: &str) -> Result<UploadToken> {
        let bad = |why: &str| {
            protocol(
                Step::UploadAttachment,
                format!("EGroupware answered an unusable attachment location ({why})"),
            )
        };
        if raw.len() > MAX_LOCATION || raw.chars().any(char::is_control) {
            return Err(bad("too long or with control characters"));
        }
        let location = match raw.find(PREFIX) {
            Some(0) => raw,
            Some(at) if raw.starts_with('/') && !raw[1..at].contains('/') => &raw[at..],
            _ => return Err(bad("not below /mail/attachments/")),
        };
        let token = &location[PREFIX.len()..];
        if token.contains('/') {
            return Err(bad("it has more than one path segment"));
        }
        let Some((name, random)) = token.rsplit_once("--") else {
            return Err(bad(
                "no `--` before the random part: EGroupware cut the file name; shorten it",
            ));
        };
        let random_ok = random.chars().count() >= 6 && !random.contains(['/', '.', '-']);
        if name.is_empty() || !random_ok {
            return Err(bad(
                "it does not end in `--` and six random characters: EGroupware cut the file name; shorten it",
            ));
        }
        Ok(UploadToken {
            location: location.to_owned(),
        })
    }

    /// `/mail/attachments/<token>`, as the send request's `attachments` entry.
    pub(crate) fn location(&self) -> &str {
        &self.location
    }

    /// The last path segment.
    pub(crate) fn token(&self) -> &str {
        &self.location[PREFIX.len()..]
    }

    /// The attachment name EGroupware will use (cleaned for display).
    pub(crate) fn name(&self) -> String {
        let (name, _) = self.token().rsplit_once("--").unwrap_or((self.token(), ""));
        clean_service_text(name)
    }
}

/// The name as EGroupware will keep it: `/` becomes `-` (core names never hold one).
pub(crate) fn stored_name(name: &str) -> Cow<'_, str> {
    if name.contains('/') {
        Cow::Owned(name.replace('/', "-"))
    } else {
        Cow::Borrowed(name)
    }
}

/// `name` shortened to at most `max` bytes, keeping a short extension; `None` when it fits.
///
/// The cut falls on a character boundary, and white space or dots left at the end of the stem
/// are trimmed so the result stays a valid file name.
pub(crate) fn shorten(name: &str, max: usize) -> Option<String> {
    if name.len() <= max {
        return None;
    }
    let ext = name
        .rfind('.')
        .filter(|&dot| dot > 0)
        .map(|dot| &name[dot..])
        .filter(|ext| ext.len() <= 16.min(max / 2) && !ext.contains(char::is_whitespace))
        .unwrap_or("");
    let stem = &name[..name.len() - ext.len()];
    let mut budget = max - ext.len();
    while !stem.is_char_boundary(budget.min(stem.len())) {
        budget -= 1;
    }
    let cut =
        stem[..budget.min(stem.len())].trim_end_matches(|c: char| c.is_whitespace() || c == '.');
    let cut = if cut.is_empty() { "file" } else { cut };
    Some(format!("{cut}{ext}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations() {
        let t = UploadToken::parse("/mail/attachments/report.pdf--a1B2c3").unwrap();
        assert_eq!(t.location(), "/mail/attachments/report.pdf--a1B2c3");
        assert_eq!(t.token(), "report.pdf--a1B2c3");
        assert_eq!(t.name(), "report.pdf");
        let t = UploadToken::parse("/mail/attachments/a--b---Xy12zQ").unwrap();
        assert_eq!(t.name(), "a--b-");
        let t = UploadToken::parse("/ralf/mail/attachments/x.txt--abcdef").unwrap();
        assert_eq!(t.location(), "/mail/attachments/x.txt--abcdef");
        for bad in [
            "/mail/attachments/noseparatorabcdef",
            "/mail/attachments/x--abc",
            "/mail/attachments/x--abc.def",
            "/mail/attachments/--abcdef",
            "/mail/attachments/a/b--abcdef",
            "/home/ralf/x--abcdef",
            "/a/b/mail/attachments/x--abcdef",
            "https://evil.example/mail/attachments/x--abcdef",
            "/mail/attachments/x\n--abcdef",
        ] {
            let e = UploadToken::parse(bad).unwrap_err();
            assert!(e.is_protocol(), "{bad}: {e}");
        }
    }

    #[test]
    fn shortening_keeps_extension_and_boundaries() {
        assert_eq!(shorten("short.pdf", 53), None);
        let long = format!("{}.pdf", "a".repeat(60));
        let s = shorten(&long, 53).unwrap();
        assert_eq!(s.len(), 53);
        assert!(s.ends_with(".pdf"));
        let uni = format!("{}.txt", "ü".repeat(40));
        let s = shorten(&uni, 53).unwrap();
        assert!(s.len() <= 53 && s.ends_with(".txt"), "{s}");
        let no_ext = "x".repeat(80);
        assert_eq!(shorten(&no_ext, 53).unwrap().len(), 53);
        let dots = format!("{}. . .{}.bin", "y".repeat(45), "z".repeat(20));
        let s = shorten(&dots, 53).unwrap();
        assert!(!s.contains(". .bin") && s.ends_with(".bin"), "{s}");
        assert_eq!(stored_name("a/b"), "a-b");
    }
}
