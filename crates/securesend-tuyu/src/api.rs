//! Wire types: what the service answers, read from JSON or XML alike.
//!
//! Every answer is one top-level key (`fileInfo`, `usersLocationAccess`, …), or `error` with a
//! `title` and a `message`. Published samples mix numbers and strings for ids and sizes, and an
//! XML answer has only strings, so the readers here accept both; lists may arrive as an array,
//! as one object, or wrapped in an element per item (`<files><file>…</file></files>`).

use serde::de::{DeserializeOwned, Error as _};
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};

use securesend_core::{Error, Result};

use crate::xml;

/// An answer: a value, or the service's error envelope.
#[derive(Debug, PartialEq)]
pub enum Answer {
    /// A successful answer (`Null` for an empty body).
    Value(Value),
    /// The `error` envelope.
    Error {
        /// Its `title`.
        title: String,
        /// Its `message`.
        message: String,
    },
}

/// Reads a body as JSON or XML, whichever it is (a site may answer XML whatever was asked),
/// and separates the error envelope from a value. The error never quotes the body.
pub fn parse_answer(body: &[u8]) -> Result<Answer> {
    let text = trim_start(body);
    let value = match text.first() {
        None => return Ok(Answer::Value(Value::Null)),
        Some(b'<') => {
            xml::to_value(text).map_err(|why| Error::protocol(format!("the answer {why}")))?
        }
        Some(b'{' | b'[') => serde_json::from_slice(text).map_err(|e| {
            Error::protocol(format!(
                "the answer is not valid JSON (line {}, column {})",
                e.line(),
                e.column()
            ))
        })?,
        Some(_) => {
            return Err(Error::protocol(
                "the answer is neither JSON nor XML (the site may have answered with a web page)",
            ));
        }
    };
    Ok(match value {
        Value::Object(map) if map.contains_key("error") => envelope(map),
        other => Answer::Value(other),
    })
}

fn envelope(mut map: Map<String, Value>) -> Answer {
    let (title, message) = match map.remove("error") {
        Some(Value::Object(e)) => (text_of(e.get("title")), text_of(e.get("message"))),
        Some(other) => (text_of(Some(&other)), String::new()),
        None => (String::new(), String::new()),
    };
    Answer::Error { title, message }
}

fn text_of(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(s)) => s.trim().to_owned(),
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    }
}

fn trim_start(b: &[u8]) -> &[u8] {
    let b = b.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(b);
    let start = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    &b[start..]
}

/// Reads the value under the answer's top-level `key` into `T`.
pub fn take<T: DeserializeOwned>(value: Value, key: &str) -> Result<T> {
    let Value::Object(mut map) = value else {
        return Err(Error::protocol(format!(
            "the answer has no `{key}` (it is not an object)"
        )));
    };
    let inner = map
        .remove(key)
        .ok_or_else(|| Error::protocol(format!("the answer has no `{key}`")))?;
    serde_json::from_value(inner).map_err(|e| {
        // Type errors quote the offending value, which is server text: only a missing field
        // is named.
        let detail = e.to_string();
        match detail.find("missing field") {
            Some(at) => Error::protocol(format!(
                "`{key}` does not have the expected shape ({})",
                detail[at..].split(" at line").next().unwrap_or_default()
            )),
            None => Error::protocol(format!("`{key}` does not have the expected shape")),
        }
    })
}

/// `fileInfo` of `file_upload` and `file_delete`.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct FileInfo {
    /// The file's id.
    #[serde(rename = "fileId", deserialize_with = "id")]
    pub file_id: String,
    /// Its folder.
    #[serde(default, deserialize_with = "opt_text")]
    pub path: Option<String>,
    /// Its name.
    #[serde(rename = "fileName", default, deserialize_with = "opt_text")]
    pub file_name: Option<String>,
    /// Its size in bytes.
    #[serde(rename = "fileSize", default, deserialize_with = "opt_u64")]
    pub file_size: Option<u64>,
}

/// One entry of `usersLocationAccess`.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct LocationUser {
    /// The user's (or group's) id.
    #[serde(deserialize_with = "id")]
    pub id: String,
    /// Login name.
    #[serde(default, deserialize_with = "opt_text")]
    pub username: Option<String>,
    /// E-mail address.
    #[serde(default, deserialize_with = "opt_text")]
    pub email: Option<String>,
    /// 1 for a user, 0 for a user group.
    #[serde(rename = "uType", default, deserialize_with = "opt_u64")]
    pub u_type: Option<u64>,
}

impl LocationUser {
    /// Whether the entry is a person (not a user group).
    pub fn is_user(&self) -> bool {
        self.u_type != Some(0)
    }
}

/// `createFolder` of `create_folder`.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct CreatedFolder {
    /// The folder's id.
    #[serde(deserialize_with = "id")]
    pub folder_id: String,
    /// Its name.
    #[serde(default, deserialize_with = "opt_text")]
    pub folder_name: Option<String>,
    /// The folder it was created in.
    #[serde(default, deserialize_with = "opt_text")]
    pub folder_path: Option<String>,
    /// Its workspace.
    #[serde(default, deserialize_with = "opt_text")]
    pub workspace_id: Option<String>,
}

/// `fileCreateLink` of `create_file_link`.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct FileLink {
    /// The file's id.
    #[serde(rename = "fileId", deserialize_with = "id")]
    pub file_id: String,
    /// Its name.
    #[serde(rename = "fileName", default, deserialize_with = "opt_text")]
    pub file_name: Option<String>,
    /// The public URL.
    #[serde(rename = "downloadLink", deserialize_with = "id")]
    pub download_link: String,
}

/// `fileList` of `file_list` (the parts this adapter reads).
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct FileList {
    /// The folder listed.
    #[serde(default, deserialize_with = "opt_text")]
    pub path: Option<String>,
    /// Files in the folder, all pages.
    #[serde(rename = "totalFiles", default, deserialize_with = "opt_u64")]
    pub total_files: Option<u64>,
    /// Entries per page (50).
    #[serde(rename = "maxFilesPage", default, deserialize_with = "opt_u64")]
    pub max_files_page: Option<u64>,
    /// This page's entries.
    #[serde(default, deserialize_with = "list")]
    pub files: Vec<ListedFile>,
    /// The caller's permissions at this location.
    #[serde(rename = "userSettings", default)]
    pub user_settings: Option<Map<String, Value>>,
}

impl FileList {
    /// Whether the permission flag `name` is set; `None` when the answer does not say.
    pub fn permission(&self, name: &str) -> Option<bool> {
        let v = self.user_settings.as_ref()?.get(name)?;
        Some(match v {
            Value::Bool(b) => *b,
            Value::Number(n) => n.as_u64() == Some(1),
            Value::String(s) => matches!(s.trim(), "1" | "true"),
            _ => false,
        })
    }
}

/// One entry of a file listing.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct ListedFile {
    /// Its id.
    #[serde(deserialize_with = "id")]
    pub id: String,
    /// Its name.
    #[serde(default, deserialize_with = "opt_text")]
    pub name: Option<String>,
    /// `file` or `folder`.
    #[serde(rename = "type", default, deserialize_with = "opt_text")]
    pub kind: Option<String>,
    /// Size in bytes.
    #[serde(default, deserialize_with = "opt_u64")]
    pub size: Option<u64>,
    /// The folder it is in.
    #[serde(default, deserialize_with = "opt_text")]
    pub path: Option<String>,
    /// Last change, Unix seconds.
    #[serde(rename = "modDate", default, deserialize_with = "opt_u64")]
    pub mod_date: Option<u64>,
}

/// The preparation id in a `send_files_prep` answer. The method's page was not found, so the
/// key is looked for under the spellings the rest of the API uses: `filePreparationId`,
/// `file_preparation_id`, `preparationId` or `id`, at the top level or inside the one
/// top-level object (`{"sendFilesPrep": {…}}`), or as that object's value itself.
pub fn preparation_id(value: &Value) -> Result<String> {
    const KEYS: [&str; 4] = [
        "filePreparationId",
        "file_preparation_id",
        "preparationId",
        "id",
    ];
    fn scalar(v: &Value) -> Option<String> {
        match v {
            Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    }
    fn find(map: &Map<String, Value>) -> Option<String> {
        KEYS.iter().find_map(|k| map.get(*k).and_then(scalar))
    }
    let found = match value {
        Value::Object(map) => find(map).or_else(|| {
            let mut values = map.values();
            match (values.next(), values.next()) {
                (Some(Value::Object(inner)), None) => find(inner),
                (Some(v), None) => scalar(v),
                _ => None,
            }
        }),
        _ => None,
    };
    found.ok_or_else(|| {
        Error::protocol(
            "the send_files_prep answer carries no preparation id (looked for filePreparationId, file_preparation_id, preparationId, id)",
        )
    })
}

/// An id: a JSON number or a non-empty string.
fn id<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<String, D::Error> {
    match Value::deserialize(d)? {
        Value::String(s) if !s.trim().is_empty() => Ok(s.trim().to_owned()),
        Value::Number(n) => Ok(n.to_string()),
        _ => Err(D::Error::custom(
            "expected an id (a number or a non-empty string)",
        )),
    }
}

/// Text that may be missing, empty (an empty XML element) or a number.
fn opt_text<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Option<String>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::String(s) if !s.is_empty() => Some(s),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    })
}

/// A count or size: a number, or digits in a string.
fn opt_u64<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Option<u64>, D::Error> {
    match Value::deserialize(d)? {
        Value::Number(n) => n
            .as_u64()
            .map(Some)
            .ok_or_else(|| D::Error::custom("expected a whole number")),
        Value::String(s) if s.trim().is_empty() => Ok(None),
        Value::String(s) => s
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| D::Error::custom("expected a whole number")),
        Value::Null => Ok(None),
        _ => Err(D::Error::custom("expected a whole number")),
    }
}

/// A list in any of the shapes JSON and XML give it.
pub fn list<'de, D, T>(d: D) -> std::result::Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: DeserializeOwned,
{
    items(Value::deserialize(d)?)
        .into_iter()
        .map(|v| serde_json::from_value(v).map_err(D::Error::custom))
        .collect()
}

/// The items of a list value: an array, an element wrapping one kind of item, one item alone,
/// or nothing.
pub fn items(value: Value) -> Vec<Value> {
    match value {
        Value::Array(items) => items,
        Value::Null => Vec::new(),
        Value::String(s) if s.is_empty() => Vec::new(),
        Value::Object(map) if map.len() == 1 => {
            let (_, inner) = map.iter().next().expect("one entry");
            if matches!(inner, Value::Array(_) | Value::Object(_)) {
                let inner = map.into_iter().next().expect("one entry").1;
                items(inner)
            } else {
                vec![Value::Object(map)]
            }
        }
        other => vec![other],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn envelopes_in_json_and_xml() {
        let json = br#"{"error":{"title":"Authentication Failed","message":"Authentication parameters missing or invalid."}}"#;
        let xml = b"<?xml version=\"1.0\"?>\n<error><title>Authentication Failed</title><message>Authentication parameters missing or invalid.</message></error>";
        for body in [&json[..], &xml[..]] {
            assert_eq!(
                parse_answer(body).unwrap(),
                Answer::Error {
                    title: "Authentication Failed".into(),
                    message: "Authentication parameters missing or invalid.".into()
                }
            );
        }
        assert_eq!(parse_answer(b"  ").unwrap(), Answer::Value(Value::Null));
        let e = parse_answer(b"<html><body>login</body>").unwrap_err();
        assert!(e.is_protocol());
        let e = parse_answer(b"Sorry canary-body").unwrap_err();
        assert!(!e.to_string().contains("canary"));
    }

    #[test]
    fn file_info_reads_numbers_strings_and_escaped_slashes() {
        let a = parse_answer(
            br#"{"fileInfo":{"fileId":104565,"path":"\/Designers_workspace\/","fileName":"a.pdf","fileSize":"12"}}"#,
        )
        .unwrap();
        let Answer::Value(v) = a else { panic!() };
        let info: FileInfo = take(v, "fileInfo").unwrap();
        assert_eq!(
            info,
            FileInfo {
                file_id: "104565".into(),
                path: Some("/Designers_workspace/".into()),
                file_name: Some("a.pdf".into()),
                file_size: Some(12)
            }
        );
        let e = take::<FileInfo>(json!({"fileList": {}}), "fileInfo").unwrap_err();
        assert!(e.to_string().contains("`fileInfo`"), "{e}");
    }

    #[test]
    fn lists_in_every_shape() {
        let one = json!({"user": {"id": "7", "email": "a@example.com", "uType": "1"}});
        let many = json!([{"id": 7, "email": "a@example.com", "uType": 1}, {"id": 9, "uType": 0}]);
        let wrapped: Vec<LocationUser> = items(one)
            .into_iter()
            .map(|v| serde_json::from_value(v).unwrap())
            .collect();
        assert_eq!(wrapped.len(), 1);
        assert!(wrapped[0].is_user());
        let plain: Vec<LocationUser> = items(many)
            .into_iter()
            .map(|v| serde_json::from_value(v).unwrap())
            .collect();
        assert_eq!(plain[1].id, "9");
        assert!(!plain[1].is_user());
        assert!(items(json!("")).is_empty());
    }

    #[test]
    fn preparation_id_spellings() {
        for v in [
            json!({"sendFilesPrep": {"filePreparationId": "p1"}}),
            json!({"sendFilesPrep": {"id": "p1"}}),
            json!({"file_preparation_id": "p1"}),
            json!({"sendFilesPrep": "p1"}),
        ] {
            assert_eq!(preparation_id(&v).unwrap(), "p1", "{v}");
        }
        assert!(
            preparation_id(&json!({"sendFilesPrep": {}}))
                .unwrap_err()
                .is_protocol()
        );
    }

    #[test]
    fn permissions_from_user_settings() {
        let list: FileList = serde_json::from_value(json!({
            "path": "/W_workspace/", "totalFiles": "2",
            "files": {"file": [{"id": 1, "name": "a", "type": "file", "size": 3}, {"id": "2", "type": "folder"}]},
            "userSettings": {"sendFiles": 1, "sendFilesNonUser": "0"}
        }))
        .unwrap();
        assert_eq!(list.files.len(), 2);
        assert_eq!(list.permission("sendFiles"), Some(true));
        assert_eq!(list.permission("sendFilesNonUser"), Some(false));
        assert_eq!(list.permission("uploadFiles"), None);
    }
}
