//! Wire types of the Kiteworks REST API (v28) and its OAuth token endpoint.
//!
//! Only the fields this client reads are declared; everything else the service sends is
//! ignored. Ids are UUID strings on current servers and integers on old ones (upload ids are
//! always integers), so every id is read as either and kept as a string.

use serde::{Deserialize, Deserializer, Serialize};
use time::OffsetDateTime;

/// Reads a string or an integer as a string.
fn id<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    match serde_json::Value::deserialize(d)? {
        serde_json::Value::String(s) => Ok(s),
        serde_json::Value::Number(n) => Ok(n.to_string()),
        _ => Err(serde::de::Error::custom("expected a string or number id")),
    }
}

fn opt_id<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    match Option::<serde_json::Value>::deserialize(d)? {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::String(s)) => Ok(Some(s)),
        Some(serde_json::Value::Number(n)) => Ok(Some(n.to_string())),
        Some(_) => Err(serde::de::Error::custom("expected a string or number id")),
    }
}

/// Reads a number that may arrive as a string (`"360000"`), as the token endpoint of old
/// servers sends `expires_in`.
fn loose_u64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    match Option::<serde_json::Value>::deserialize(d)? {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::Number(n)) => n
            .as_u64()
            .map(Some)
            .ok_or_else(|| serde::de::Error::custom("expected a non-negative integer")),
        Some(serde_json::Value::String(s)) => s
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| serde::de::Error::custom("expected an integer")),
        Some(_) => Err(serde::de::Error::custom("expected an integer")),
    }
}

/// Reads a timestamp as the service writes it (`2026-11-23T00:20:00+0000`, RFC 3339, or Unix
/// seconds). A time is only shown to the user, so one it cannot read is left out rather than
/// failing the listing.
fn loose_time<'de, D: Deserializer<'de>>(d: D) -> Result<Option<OffsetDateTime>, D::Error> {
    Ok(match Option::<serde_json::Value>::deserialize(d)? {
        Some(serde_json::Value::String(s)) => parse_time(s.trim()),
        Some(serde_json::Value::Number(n)) => n
            .as_i64()
            .and_then(|secs| OffsetDateTime::from_unix_timestamp(secs).ok()),
        _ => None,
    })
}

/// Reads a day as the service writes it: `2026-11-23`, or a time whose UTC day it is. Only
/// shown to the user, so junk is left out.
fn loose_date<'de, D: Deserializer<'de>>(d: D) -> Result<Option<time::Date>, D::Error> {
    Ok(match Option::<serde_json::Value>::deserialize(d)? {
        Some(serde_json::Value::String(s)) => {
            let s = s.trim();
            let day = time::macros::format_description!("[year]-[month]-[day]");
            time::Date::parse(s, &day)
                .ok()
                .or_else(|| parse_time(s).map(|t| t.to_offset(time::UtcOffset::UTC).date()))
        }
        _ => None,
    })
}

fn parse_time(s: &str) -> Option<OffsetDateTime> {
    use time::format_description::well_known::{Iso8601, Rfc3339};
    OffsetDateTime::parse(s, &Rfc3339)
        .or_else(|_| OffsetDateTime::parse(s, &Iso8601::DEFAULT))
        .or_else(|_| {
            OffsetDateTime::parse(
                s,
                time::macros::format_description!(
                    "[year]-[month]-[day]T[hour]:[minute]:[second][offset_hour sign:mandatory][offset_minute]"
                ),
            )
        })
        .ok()
}

/// A time as the service writes its own, and as a strict server accepts it:
/// `YYYY-MM-DDTHH:MM:SS+0000`, whole seconds, UTC. RFC 3339 with fractions or `Z`, which
/// `time` writes by default, is refused by strict appliances with `ERR_INPUT_INVALID_FORMAT`.
pub(crate) fn service_time(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}+0000",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// Reads `true`/`false`, `1`/`0` or their string forms.
fn loose_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    Ok(match Option::<serde_json::Value>::deserialize(d)? {
        Some(serde_json::Value::Bool(b)) => Some(b),
        Some(serde_json::Value::Number(n)) => Some(n.as_u64() != Some(0)),
        Some(serde_json::Value::String(s)) => match s.to_ascii_lowercase().as_str() {
            "true" | "1" => Some(true),
            "false" | "0" => Some(false),
            _ => None,
        },
        _ => None,
    })
}

/// `POST /oauth/token` success.
#[derive(Deserialize)]
pub(crate) struct TokenResponse {
    pub access_token: String,
    #[serde(default, deserialize_with = "loose_u64")]
    pub expires_in: Option<u64>,
    #[serde(default)]
    pub token_type: Option<String>,
    #[serde(default)]
    pub refresh_token: Option<String>,
}

/// `GET /rest/users/me`.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Me {
    #[serde(deserialize_with = "id")]
    pub id: String,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "opt_id")]
    pub mydir_id: Option<String>,
}

/// `GET /rest/uploads/config`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct UploadConfig {
    #[serde(default, deserialize_with = "loose_u64")]
    pub upload_chunk_max: Option<u64>,
}

/// An upload session (`initiateUpload`, intermediate chunks, `GET /rest/uploads/{id}`).
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Upload {
    #[serde(deserialize_with = "id")]
    pub id: String,
    #[serde(default)]
    pub uri: Option<String>,
    #[serde(default, deserialize_with = "loose_u64")]
    pub total_size: Option<u64>,
    #[serde(default, deserialize_with = "loose_u64")]
    pub total_chunks: Option<u64>,
    #[serde(default, deserialize_with = "loose_u64")]
    pub uploaded_chunks: Option<u64>,
}

/// The body of `initiateUpload`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct InitiateUpload<'a> {
    pub filename: &'a str,
    pub total_size: u64,
    pub total_chunks: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_modified: Option<String>,
}

/// One of a file's fingerprints.
#[derive(Clone, Debug, Deserialize)]
pub(crate) struct Fingerprint {
    #[serde(default)]
    pub algo: Option<String>,
    #[serde(default)]
    pub hash: Option<String>,
}

/// A file (`GET /rest/files/{id}`, the last chunk's entity, search results).
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct File {
    #[serde(deserialize_with = "id")]
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "loose_u64")]
    pub size: Option<u64>,
    #[serde(default)]
    pub mime: Option<String>,
    /// Legacy MD5, or `"Generating..."` while the service computes it.
    #[serde(default)]
    pub fingerprint: Option<String>,
    #[serde(default)]
    pub fingerprints: Option<Vec<Fingerprint>>,
    #[serde(default, deserialize_with = "loose_bool")]
    pub deleted: Option<bool>,
    #[serde(default, deserialize_with = "loose_time")]
    pub modified: Option<OffsetDateTime>,
}

/// A folder.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Folder {
    #[serde(deserialize_with = "id")]
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub path: Option<String>,
    #[serde(default, deserialize_with = "loose_time")]
    pub modified: Option<OffsetDateTime>,
    #[serde(default, deserialize_with = "loose_bool")]
    pub deleted: Option<bool>,
}

/// `GET /rest/search`.
#[derive(Debug, Deserialize)]
pub(crate) struct Search {
    #[serde(default)]
    pub folders: Vec<Folder>,
}

/// A list with `{data, metadata}` (or, as some documentation shows, a bare array).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum Listing<T> {
    Enveloped { data: Vec<T> },
    Bare(Vec<T>),
}

impl<T> Listing<T> {
    pub fn into_vec(self) -> Vec<T> {
        match self {
            Listing::Enveloped { data } => data,
            Listing::Bare(v) => v,
        }
    }
}

/// The body of `POST /rest/folders/{parent}/folders`.
#[derive(Serialize)]
pub(crate) struct CreateFolder<'a> {
    pub name: &'a str,
}

/// A mail (`POST`/`PUT …/sendFile`, `GET /rest/mail/{id}`).
///
/// Only the id must be there. Everything else is read leniently: these answers come after the
/// point of no return, where a field of an unexpected shape must not turn a delivered message
/// into a failure (the v28 specification itself gives `variables` as an array of strings,
/// while servers send objects).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Mail {
    #[serde(deserialize_with = "id")]
    pub id: String,
    #[serde(default, deserialize_with = "loose_string")]
    pub status: Option<String>,
    /// What went wrong, when the status is `error`.
    #[serde(default, deserialize_with = "loose_string")]
    pub error: Option<String>,
    /// Whether the message was deleted (a deleted draft may still be shown).
    #[serde(default, deserialize_with = "loose_bool")]
    pub deleted: Option<bool>,
    /// The recipients' entries, as sent; see [`Mail::recipient_emails`].
    #[serde(default)]
    pub recipients: Option<serde_json::Value>,
    /// When the files stop being available: a date or a time, as the service writes it.
    #[serde(default, deserialize_with = "loose_date")]
    pub expiration_date: Option<time::Date>,
    /// The package (its `downloadLink`), as sent.
    #[serde(default)]
    pub package: Option<serde_json::Value>,
    /// Template variables, among them `DOWNLOAD_LINK`, as sent.
    #[serde(default)]
    pub variables: Option<serde_json::Value>,
}

/// A string, or `None` for anything else.
fn loose_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Option::<serde_json::Value>::deserialize(d)? {
        Some(serde_json::Value::String(s)) => Some(s),
        _ => None,
    })
}

impl Mail {
    /// The recipients' addresses the service lists; entries of another shape are skipped.
    pub(crate) fn recipient_emails(&self) -> Vec<String> {
        self.recipients
            .as_ref()
            .and_then(serde_json::Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|r| r.get("email")?.as_str())
            .filter(|e| !e.is_empty())
            .map(str::to_owned)
            .collect()
    }

    /// The link recipients open the files with: the package's, else the template's (objects
    /// `{"variable": "DOWNLOAD_LINK", "value": …}`; other entries are ignored).
    pub(crate) fn download_link(&self) -> Option<&str> {
        self.package
            .as_ref()
            .and_then(|p| p.get("downloadLink"))
            .and_then(serde_json::Value::as_str)
            .filter(|l| !l.is_empty())
            .or_else(|| {
                self.variables
                    .as_ref()
                    .and_then(serde_json::Value::as_array)?
                    .iter()
                    .find_map(|v| {
                        (v.get("variable")?.as_str()? == "DOWNLOAD_LINK")
                            .then(|| v.get("value")?.as_str())
                            .flatten()
                    })
            })
            .filter(|l| !l.is_empty())
    }
}

/// The body of `POST /rest/mail/actions/sendFile` and `PUT /rest/mail/{id}/actions/sendFile`.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SendMail {
    pub to: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cc: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub bcc: Vec<String>,
    /// Always present, possibly empty: some servers require the key.
    pub files: Vec<String>,
    pub subject: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    pub draft: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uploading: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expire: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acl: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secure_body: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub self_copy: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub include_fingerprint: Option<bool>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub return_receipts: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_numbers_in_either_form() {
        let u: Upload = serde_json::from_str(
            r#"{"id":7890,"uri":"dacfs_upload1/rest/uploads/7890","totalSize":"10","uploadedChunks":2}"#,
        )
        .unwrap();
        assert_eq!(u.id, "7890");
        assert_eq!((u.total_size, u.uploaded_chunks), (Some(10), Some(2)));
        let t: TokenResponse =
            serde_json::from_str(r#"{"access_token":"a","expires_in":"360000"}"#).unwrap();
        assert_eq!(t.expires_in, Some(360_000));
        let l: Listing<Folder> = serde_json::from_str(r#"[{"id":"a"}]"#).unwrap();
        assert_eq!(l.into_vec().len(), 1);
        let l: Listing<Folder> =
            serde_json::from_str(r#"{"data":[{"id":1,"name":"x"}],"metadata":{}}"#).unwrap();
        assert_eq!(l.into_vec()[0].id, "1");
    }

    #[test]
    fn a_mails_link_and_last_day_in_either_form() {
        let m: Mail = serde_json::from_str(
            r#"{"id":"m","expirationDate":"2026-12-11T00:00:00+0000","package":{"downloadLink":"https://kw.example/w/abc"}}"#,
        )
        .unwrap();
        assert_eq!(m.download_link(), Some("https://kw.example/w/abc"));
        assert_eq!(m.expiration_date.unwrap().to_string(), "2026-12-11");
        let m: Mail = serde_json::from_str(
            r#"{"id":"m","expirationDate":"2026-12-11","variables":[{"variable":"HOST","value":"kw"},{"variable":"DOWNLOAD_LINK","value":"https://kw.example/w/x"}]}"#,
        )
        .unwrap();
        assert_eq!(m.download_link(), Some("https://kw.example/w/x"));
        assert_eq!(m.expiration_date.unwrap().to_string(), "2026-12-11");
        let m: Mail =
            serde_json::from_str(r#"{"id":"m","expirationDate":0,"package":{"downloadLink":""}}"#)
                .unwrap();
        assert_eq!((m.download_link(), m.expiration_date), (None, None));
    }

    #[test]
    fn times_go_out_in_the_service_form_whole_seconds_utc() {
        let t = OffsetDateTime::from_unix_timestamp_nanos(1_795_393_205_123_456_789)
            .unwrap()
            .to_offset(time::macros::offset!(+2));
        assert_eq!(service_time(t), "2026-11-23T00:20:05+0000");
        // What is sent reads back as the same second.
        assert_eq!(
            parse_time(&service_time(t)).unwrap().unix_timestamp(),
            1_795_393_205
        );
    }

    #[test]
    fn times_in_the_service_forms_and_junk_left_out() {
        let f: File =
            serde_json::from_str(r#"{"id":"a","modified":"2026-11-23T00:20:05+0000"}"#).unwrap();
        assert_eq!(f.modified.unwrap().unix_timestamp(), 1_795_393_205);
        let f: File =
            serde_json::from_str(r#"{"id":"a","modified":"2026-11-23T00:20:05Z"}"#).unwrap();
        assert_eq!(f.modified.unwrap().unix_timestamp(), 1_795_393_205);
        for junk in [r#""yesterday""#, "[]", "null", r#""9999999-01-01""#] {
            let f: File =
                serde_json::from_str(&format!(r#"{{"id":"a","modified":{junk}}}"#)).unwrap();
            assert_eq!(f.modified, None, "{junk}");
        }
    }
}
