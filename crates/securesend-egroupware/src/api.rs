//! Wire types of EGroupware's mail REST API (`groupdav.php/mail…`).

use serde::{Deserialize, Serialize};

use securesend_core::clean_service_text;

/// The JSON body of `POST /mail[/<id>]` and `POST /mail[/<id>]/compose`. Falsy values are
/// dropped by the server, so empty ones are left out here.
#[derive(Serialize)]
pub(crate) struct MailBody<'a> {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub to: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cc: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub bcc: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replyto: Option<String>,
    pub subject: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<&'a str>,
    #[serde(rename = "bodyHtml", skip_serializing_if = "Option::is_none")]
    pub body_html: Option<&'a str>,
    /// 1 high, 3 normal, 5 low; left out for normal.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub priority: Option<u8>,
    /// Upload tokens (`/mail/attachments/<token>`) and VFS paths; must be an array.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<String>,
    #[serde(rename = "attachmentType", skip_serializing_if = "Option::is_none")]
    pub attachment_type: Option<&'static str>,
    /// `yyyy-mm-dd`.
    #[serde(rename = "shareExpiration", skip_serializing_if = "Option::is_none")]
    pub share_expiration: Option<String>,
    /// Exposed only here, where it goes on the wire.
    #[serde(rename = "sharePassword", skip_serializing_if = "Option::is_none")]
    pub share_password: Option<&'a str>,
}

/// A success answer: `{"status":200,"message":"…","warning":"…"}`.
#[derive(Debug, Deserialize)]
pub(crate) struct Success {
    #[serde(default)]
    pub warning: Option<String>,
}

/// The answer to an attachment upload: `{"status":201,"message":"Attachment stored","location":"/mail/attachments/<token>"}`.
#[derive(Debug, Deserialize)]
pub(crate) struct Stored {
    #[serde(default)]
    pub location: Option<String>,
}

/// EGroupware's error envelope: `{"error": <code>, "message": <text>, …}`. The code is the
/// exception's own code, which may differ from the HTTP status (an HTTP 500 with `error: 2`
/// is "entry not found").
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Envelope {
    pub code: Option<i64>,
    pub message: Option<String>,
}

impl Envelope {
    /// Reads the envelope from an error body; fields of the wrong type are ignored.
    pub(crate) fn parse(body: &[u8]) -> Option<Envelope> {
        let serde_json::Value::Object(map) = serde_json::from_slice(body).ok()? else {
            return None;
        };
        let code = match map.get("error") {
            Some(serde_json::Value::Number(n)) => n.as_i64(),
            Some(serde_json::Value::String(s)) => s.trim().parse().ok(),
            _ => None,
        };
        let message = match map.get("message") {
            Some(serde_json::Value::String(s)) if !s.trim().is_empty() => {
                Some(clean_service_text(s))
            }
            _ => None,
        };
        (code.is_some() || message.is_some()).then_some(Envelope { code, message })
    }
}

/// A mail identity from `GET /mail`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    /// The `ident_id`, used in `POST /mail/<id>`.
    pub id: u64,
    /// What EGroupware shows: realname, organisation and `<address>`.
    pub display: String,
    /// The address inside the display's last `<…>`, when there is one.
    pub email: Option<String>,
}

/// The identities of a `GET /mail` answer `{"responses": {"<path><ident_id>": "<display>"}}`.
/// `None` when the answer has no `responses` object (servers before December 2023 answered
/// `null`). Keys are read as "ends in an integer" because servers differ on the prefix.
pub(crate) fn parse_identities(value: &serde_json::Value) -> Option<Vec<Identity>> {
    let responses = value.get("responses")?.as_object()?;
    let mut out: Vec<Identity> = responses
        .iter()
        .filter_map(|(key, display)| {
            let id = key.trim_end_matches('/').rsplit('/').next()?.parse().ok()?;
            let display = clean_service_text(display.as_str()?);
            let email = display
                .rfind('<')
                .and_then(|start| {
                    let rest = &display[start + 1..];
                    rest.find('>').map(|end| rest[..end].trim().to_owned())
                })
                .filter(|e| e.contains('@'));
            Some(Identity { id, display, email })
        })
        .collect();
    out.sort_by_key(|i| i.id);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identities_from_both_key_forms() {
        let v: serde_json::Value = serde_json::from_str(
            r#"{"responses": {
                "/ralf/mail/52": "Ralf Becker  <sysop@testbox.egroupware.org>",
                "/mail/1": "Ralf Becker boulder.egroupware.org <ralf@boulder.egroupware.org>",
                "/mail/x": "ignored",
                "/mail/7": 5
            }}"#,
        )
        .unwrap();
        let ids = parse_identities(&v).unwrap();
        assert_eq!(ids.len(), 2);
        assert_eq!(ids[0].id, 1);
        assert_eq!(ids[0].email.as_deref(), Some("ralf@boulder.egroupware.org"));
        assert_eq!(ids[1].id, 52);
        assert_eq!(
            ids[1].email.as_deref(),
            Some("sysop@testbox.egroupware.org")
        );
        assert_eq!(
            parse_identities(&serde_json::json!({"responses": {}})),
            Some(vec![])
        );
        assert_eq!(parse_identities(&serde_json::Value::Null), None);
    }

    #[test]
    fn envelope_codes() {
        let e = Envelope::parse(br#"{"error":2,"message":"Entry not found!","details":null}"#);
        assert_eq!(
            e,
            Some(Envelope {
                code: Some(2),
                message: Some("Entry not found!".into())
            })
        );
        assert_eq!(
            Envelope::parse(br#"{"error":"404"}"#).unwrap().code,
            Some(404)
        );
        assert_eq!(Envelope::parse(b"<html>"), None);
        assert_eq!(Envelope::parse(br#"{"status":200}"#), None);
    }

    #[test]
    fn body_leaves_out_empty_fields() {
        let b = MailBody {
            to: vec!["a@example.com".into()],
            cc: vec![],
            bcc: vec![],
            replyto: None,
            subject: "s",
            body: Some("hi"),
            body_html: None,
            priority: None,
            attachments: vec![],
            attachment_type: None,
            share_expiration: None,
            share_password: None,
        };
        assert_eq!(
            serde_json::to_string(&b).unwrap(),
            r#"{"to":["a@example.com"],"subject":"s","body":"hi"}"#
        );
    }
}
