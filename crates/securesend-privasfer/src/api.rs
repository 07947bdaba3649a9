//! Wire types: what the service sends, as documented (2019 snapshot). Only the fields the
//! adapter uses are read, and each is optional where the documentation is not sure of it, so an
//! extra or missing field is not a failure.

use serde::Deserialize;

/// Every success body: `{"data": …}`.
#[derive(Debug, Deserialize)]
pub(crate) struct Data<T> {
    pub data: T,
}

/// A list: `data`, and `links.next` if the service paginates (Laravel resources do; whether
/// Privasfer's lists are paginated is undocumented).
#[derive(Debug, Deserialize)]
pub(crate) struct Page<T> {
    pub data: Vec<T>,
    #[serde(default)]
    pub links: Option<Links>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct Links {
    #[serde(default)]
    pub next: Option<String>,
}

/// `{name, email, …}` (`created_by`, `sender`, `recipient`).
#[derive(Clone, Debug, Default, Deserialize)]
pub(crate) struct Person {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
}

/// A File object (S3).
#[derive(Clone, Debug, Deserialize)]
pub(crate) struct File {
    pub id: String,
    #[serde(default)]
    pub filename: Option<String>,
    #[serde(default, rename = "type")]
    pub mime: Option<String>,
    #[serde(default)]
    pub extension: Option<String>,
    #[serde(default)]
    pub full_filename: Option<String>,
    pub size: u64,
    #[serde(default)]
    pub encrypted_size: Option<u64>,
    #[serde(default)]
    pub created_by: Option<Person>,
    #[serde(default)]
    pub created_at: Option<String>,
    #[serde(default)]
    pub trashed: Option<bool>,
}

impl File {
    /// `full_filename`, else `filename` + `.` + `extension`, else the id; printable (it is
    /// shown to people before [`securesend_core::names::sanitize_file_name`] makes it a path).
    pub fn name(&self) -> String {
        let name = if let Some(full) = self.full_filename.as_deref().filter(|n| !n.is_empty()) {
            full.to_owned()
        } else {
            match (self.filename.as_deref(), self.extension.as_deref()) {
                (Some(f), Some(e)) if !f.is_empty() && !e.is_empty() => format!("{f}.{e}"),
                (Some(f), _) if !f.is_empty() => f.to_owned(),
                _ => self.id.clone(),
            }
        };
        printable(&name, MAX_TEXT)
    }
}

/// The `download` of a mail (with `include=download`, and its files with `download.files`).
#[derive(Clone, Debug, Deserialize)]
pub(crate) struct DownloadRef {
    pub id: String,
    #[serde(default)]
    pub files: Option<Vec<File>>,
}

/// A received mail (S5).
#[derive(Clone, Debug, Deserialize)]
pub(crate) struct InboxMail {
    pub id: String,
    #[serde(default)]
    pub identifier: Option<String>,
    #[serde(default)]
    pub subject: Option<String>,
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default)]
    pub sender: Option<Person>,
    #[serde(default)]
    pub received_at: Option<String>,
    #[serde(default)]
    pub opened: Option<bool>,
    #[serde(default)]
    pub download: Option<DownloadRef>,
}

/// A sent mail (S4). `opened_at` is `""` until the mail is opened.
#[derive(Clone, Debug, Deserialize)]
pub(crate) struct SentMail {
    pub id: String,
    #[serde(default)]
    pub identifier: Option<String>,
    #[serde(default)]
    pub subject: Option<String>,
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default)]
    pub recipient: Option<Person>,
    #[serde(default)]
    pub recipient_email: Option<String>,
    #[serde(default)]
    pub created_at: Option<String>,
    #[serde(default)]
    pub sent_at: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub opened_at: Option<String>,
    #[serde(default)]
    pub download: Option<DownloadRef>,
}

/// `POST /api/keys` (S7): the temporary key. Its `expires_at` carries no zone, so the
/// documented one-hour life is what the adapter goes by.
#[derive(Deserialize)]
pub(crate) struct TemporaryKey {
    pub key: String,
}

/// `POST /api/downloads/{id}/keys` (S8): the public download key.
#[derive(Deserialize)]
pub(crate) struct PublicKey {
    pub key: String,
}

/// Laravel's error body: `{"message": …, "errors": {field: [messages]}}`.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct ErrorBody {
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub errors: Option<serde_json::Map<String, serde_json::Value>>,
}

/// The longest service text (name, subject, address) kept, in characters.
pub(crate) const MAX_TEXT: usize = 1000;

/// Server text made safe to print: control characters (which could drive a terminal) become
/// spaces, and the length is capped.
pub(crate) fn printable(text: &str, max_chars: usize) -> String {
    let mut out: String = text
        .chars()
        .take(max_chars)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if text.chars().nth(max_chars).is_some() {
        out.push('…');
    }
    out
}

/// A UUID as the service writes ids (any case; returned lowercase), or `None`. Every id that
/// goes into a URL passes through here, so a hostile id cannot add path segments.
pub(crate) fn uuid(text: &str) -> Option<String> {
    let b = text.as_bytes();
    let ok = b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        });
    ok.then(|| text.to_ascii_lowercase())
}

/// A key from the service, checked to be URL-safe (documented: 32 alphanumerics).
pub(crate) fn url_safe_key(text: &str) -> bool {
    (1..=512).contains(&text.len())
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_shapes_parse() {
        let f: Data<File> = serde_json::from_str(
            r#"{"data":{"id":"4f1c0cbe-6a9c-4f7e-8a8e-3f2c1e1b2a3d","filename":"report","type":"application/pdf","extension":"pdf","full_filename":"report.pdf","size":43389,"formatted_size":"42.37 KB","encrypted_size":78508,"formatted_encrypted_size":"76.67 KB","created_by":{"name":"Ada","initials":"Ada L.","email":"ada@example.com","photo_url":"x","timezone":"Europe/Vilnius"},"created_at":"2019-07-08 10:00:00","disk":"local-spaces","trashed":false}}"#,
        )
        .unwrap();
        assert_eq!(f.data.name(), "report.pdf");
        let m: Page<SentMail> = serde_json::from_str(
            r#"{"data":[{"id":"x","identifier":"awGj","subject":"s","body":"<p>b</p>","sender":{"name":"a","email":"a@x"},"recipient":{"name":"g"},"recipient_email":"g@x","created_at":"2019-07-08 10:00:00","sent_at":"2019-07-08 10:00:00","status":"success","opened_at":""}]}"#,
        )
        .unwrap();
        assert_eq!(m.data[0].opened_at.as_deref(), Some(""));
        assert!(m.links.is_none());
    }

    #[test]
    fn text_is_printable() {
        assert_eq!(printable("a\x1b[2Jb\r\nc", 100), "a [2Jb  c");
        assert_eq!(printable("abcdef", 3), "abc…");
    }

    #[test]
    fn ids_and_keys() {
        assert_eq!(
            uuid("4F1C0CBE-6A9C-4F7E-8A8E-3F2C1E1B2A3D").as_deref(),
            Some("4f1c0cbe-6a9c-4f7e-8a8e-3f2c1e1b2a3d")
        );
        for bad in [
            "",
            "../files",
            "4f1c0cbe-6a9c-4f7e-8a8e-3f2c1e1b2a3",
            "4f1c0cbe/6a9c-4f7e-8a8e-3f2c1e1b2a3d",
        ] {
            assert!(uuid(bad).is_none(), "{bad}");
        }
        assert!(url_safe_key("Ab12"));
        assert!(
            !url_safe_key("a/b")
                && !url_safe_key("a b")
                && !url_safe_key("a?b")
                && !url_safe_key("")
        );
    }
}
