//! `groupdav.php/…/mail…`: identities, send, compose, view, attachment upload and download,
//! vacation, and the mail account.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use http::{HeaderMap, HeaderValue, Method, header};
use percent_encoding::{AsciiSet, CONTROLS, percent_decode_str, utf8_percent_encode};
use serde_json::{Map, Value, json};

use super::auth::{Session, authenticate};
use super::reply::{GROUPDAV_REALM, empty, envelope, json, plain, refused_401, status};
use super::state::{
    APP_GROUPDAV, APP_MAIL, IdentityRecord, Inner, Node, State as Egw, Upload, Window,
};
use crate::mail::{Mail, MailAttachment};
use crate::tokens::{TokenFormat, random_token};

/// The largest JSON or eml body read.
const BODY_CAP: usize = 8 << 20;

/// PHP's `tempnam` keeps this many bytes of the `attach--<name>--` prefix.
const TEMPNAM_PREFIX: usize = 63;

/// Characters escaped in the `Location` URL of an upload.
const PATH_SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'/')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'`')
    .add(b'{')
    .add(b'}');

fn decode(segment: &str) -> String {
    percent_decode_str(segment).decode_utf8_lossy().into_owned()
}

/// Whether the request wants JSON: a JSON `Accept`, or a collection path ending in `/`.
fn wants_json(headers: &HeaderMap, path: &str) -> bool {
    path.ends_with('/')
        || headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|a| {
                a.contains("application/json") || a.contains("application/pretty+json")
            })
        || headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|t| t.starts_with("application/json"))
}

/// An exception escaping the handler: the global handler answers JSON requests with HTTP 500
/// and others with a 401 whose realm carries the message.
fn escaped(headers: &HeaderMap, path: &str, code: i64, message: &str) -> Response {
    if wants_json(headers, path) {
        json(500, message, &json!({ "error": code, "message": message }))
    } else {
        refused_401(GROUPDAV_REALM, Some(message))
    }
}

/// The WS layer's checks of a POST's `Content-*` headers.
fn content_checks(headers: &HeaderMap) -> Option<Response> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if ct
        .trim_start()
        .to_ascii_lowercase()
        .starts_with("multipart/")
    {
        return Some(plain(
            501,
            "Not Implemented",
            "501 Not Implemented: multipart bodies are not supported",
        ));
    }
    for name in headers.keys() {
        let n = name.as_str();
        if !n.starts_with("content-") {
            continue;
        }
        match n {
            "content-type" | "content-length" | "content-language" => {}
            "content-encoding" => {
                let enc = headers[name]
                    .to_str()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase();
                match enc.as_str() {
                    "" | "identity" => {}
                    // EGroupware inflates these; the sandbox does not emulate that.
                    "gzip" | "deflate" => {
                        return Some(plain(
                            501,
                            "Not Implemented",
                            "the sandbox does not inflate request bodies",
                        ));
                    }
                    _ => return Some(empty(415, "Unsupported Media Type")),
                }
            }
            _ => return Some(empty(501, "Not Implemented")),
        }
    }
    None
}

/// The `groupdav.php` entry point.
pub(crate) async fn handle(State(state): State<Arc<Egw>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let raw = parts
        .uri
        .path()
        .strip_prefix("/egroupware/groupdav.php")
        .unwrap_or("")
        .to_owned();
    let session = match authenticate(&state, &parts.headers, None, GROUPDAV_REALM, APP_GROUPDAV) {
        Ok(s) => s,
        Err(r) => return r,
    };
    if parts.method == Method::POST {
        if let Some(r) = content_checks(&parts.headers) {
            return r;
        }
    }
    let segments: Vec<&str> = raw.split('/').skip(1).collect();
    // Optional user prefix: `/<user>/mail/…`, the literal `{username}` meaning oneself.
    let (prefix_user, rest) = match segments.as_slice() {
        ["mail", rest @ ..] => (None, rest),
        [user, "mail", rest @ ..] => {
            let user = decode(user);
            let user = if user == "{username}" {
                session.account.login.clone()
            } else {
                user
            };
            (Some(user), rest)
        }
        _ => return empty(501, "Not Implemented"),
    };
    let mut target = session.account;
    if let Some(user) = &prefix_user {
        if *user != session.account.login {
            let other = state.account(user);
            match (&parts.method, other) {
                (&Method::GET, Some(other)) if session.account.admin => target = other,
                _ => {
                    return escaped(
                        &parts.headers,
                        &raw,
                        403,
                        &format!("Forbidden: no rights to access user '{user}'"),
                    );
                }
            }
        }
    }
    let rest: Vec<&str> = rest.to_vec();
    let headers = &parts.headers;
    if rest.first() == Some(&"attachments") {
        let name_raw = raw
            .split_once("/mail/attachments")
            .map(|(_, n)| n.strip_prefix('/').unwrap_or(n))
            .unwrap_or("");
        return match parts.method {
            Method::POST => upload(&state, headers, name_raw, body).await,
            Method::GET => download_attachment(&state, name_raw).await,
            _ => empty(501, "Not Implemented"),
        };
    }
    let rest: Vec<&str> = rest.into_iter().filter(|s| !s.is_empty()).collect();
    let (id, tail) = match rest.first() {
        Some(s) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => {
            (s.parse::<u64>().ok(), &rest[1..])
        }
        Some(&"{id}") => (None, &rest[1..]),
        _ => (None, &rest[..]),
    };
    let action = tail.first().copied();
    match (&parts.method, action) {
        (&Method::GET, None) if id.is_none() => identities(&session, target, headers, &raw),
        (&Method::GET, None) => account_get(&state, &session, id.unwrap_or(0)),
        (&Method::GET, Some("vacation")) => vacation_get(&state, &session, id),
        (&Method::POST, Some("compose")) => {
            let body = match read(body).await {
                Ok(b) => b,
                Err(r) => return r,
            };
            compose(&state, &session, id, &body)
        }
        (&Method::POST, Some("view")) => view(&state, &session, id, body).await,
        (&Method::POST, Some("vacation")) => {
            let body = match read(body).await {
                Ok(b) => b,
                Err(r) => return r,
            };
            vacation_set(&state, &session, id, &body)
        }
        (&Method::POST, _) => {
            let ua = headers
                .get(header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            if state.control.blocks(ua) {
                return empty(403, "Forbidden");
            }
            let body = match read(body).await {
                Ok(b) => b,
                Err(r) => return r,
            };
            send(&state, &session, id, headers, &body)
        }
        (&Method::PATCH, None) if id.is_some() => {
            let body = match read(body).await {
                Ok(b) => b,
                Err(r) => return r,
            };
            account_patch(&state, &session, id.unwrap_or(0), headers, &body)
        }
        _ => empty(501, "Not Implemented"),
    }
}

async fn read(body: Body) -> Result<bytes::Bytes, Response> {
    axum::body::to_bytes(body, BODY_CAP)
        .await
        .map_err(|_| empty(413, "Request Entity Too Large"))
}

/// `GET /mail`: `{"responses": {"<collection><ident_id>": "<display>"}}`, or the HTML index
/// for `/mail` without a JSON `Accept`.
fn identities(
    session: &Session<'_>,
    target: &super::state::Account,
    headers: &HeaderMap,
    raw: &str,
) -> Response {
    if !session.can(APP_MAIL) {
        return empty(403, "Forbidden: no app rights for 'mail'");
    }
    if !wants_json(headers, raw) {
        let mut r = status(
            200,
            "",
            Body::from(format!(
                "<html><head><title>EGroupware CalDAV/CardDAV/GroupDAV server: {raw}</title></head><body><h1>Index of {raw}/</h1></body></html>"
            )),
        );
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
        return r;
    }
    let collection = if raw.ends_with('/') {
        raw.to_owned()
    } else {
        format!("{raw}/")
    };
    let responses: Map<String, Value> = target
        .identities
        .iter()
        .filter(|i| !i.smtp_only)
        .map(|i| {
            (
                format!("{collection}{}", i.ident_id),
                Value::String(i.display()),
            )
        })
        .collect();
    let value = json!({ "responses": responses });
    let pretty = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("application/pretty+json"));
    let body = if pretty {
        serde_json::to_string_pretty(&value)
    } else {
        serde_json::to_string(&value)
    }
    .unwrap_or_default();
    let mut r = status(200, "", Body::from(body));
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    r
}

/// Decodes a JSON request body the way the handler does: a decoding failure or a value PHP
/// deems empty is a 422.
fn decode_json(body: &[u8]) -> Result<Map<String, Value>, Response> {
    let value: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(_) => return Err(envelope(422, "Error decoding JSON: Syntax error")),
    };
    if falsy(&value) {
        return Err(envelope(422, "Error decoding JSON: No error"));
    }
    match value {
        Value::Object(map) => Ok(map),
        other => Err(envelope(
            0,
            &format!(
                "Cannot access offset of type string on {}",
                match other {
                    Value::Array(_) => "array",
                    Value::String(_) => "string",
                    Value::Number(_) => "int",
                    _ => "bool",
                }
            ),
        )),
    }
}

/// PHP's notion of an empty value.
fn falsy(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty() || s == "0",
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
    }
}

/// A field, unless PHP deems it empty.
fn field<'a>(data: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    data.get(key).filter(|v| !falsy(v))
}

fn text(data: &Map<String, Value>, key: &str) -> Option<String> {
    field(data, key).map(|v| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    })
}

/// Recipients: an array or a single string; numeric entries would be address-list ids (none
/// are seeded, so they expand to nobody).
fn recipients(data: &Map<String, Value>, key: &str) -> Vec<String> {
    let entries: Vec<&Value> = match field(data, key) {
        Some(Value::Array(a)) => a.iter().collect(),
        Some(v) => vec![v],
        None => Vec::new(),
    };
    entries
        .into_iter()
        .filter(|v| !falsy(v))
        .filter_map(|v| v.as_str())
        .filter(|s| !s.bytes().all(|b| b.is_ascii_digit()))
        .map(bare_address)
        .collect()
}

/// `"Name" <a@b>` → `a@b`.
fn bare_address(s: &str) -> String {
    match (s.rfind('<'), s.rfind('>')) {
        (Some(start), Some(end)) if start < end => s[start + 1..end].trim().to_owned(),
        _ => s.trim().to_owned(),
    }
}

const ATTACHMENT_TYPES: [&str; 4] = ["attach", "link", "share_ro", "share_rw"];

/// What the `attachments` entries refer to.
struct Resolved {
    /// (token or VFS path, stored file id, name)
    files: Vec<(Option<String>, String, String)>,
    attachment_type: String,
}

/// Checks `attachments` and `attachmentType` (only when there is at least one attachment).
fn resolve_attachments(
    inner: &Inner,
    session: &Session<'_>,
    data: &Map<String, Value>,
) -> Result<Resolved, Response> {
    let entries = match data.get("attachments") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) => a.clone(),
        Some(v) if falsy(v) => Vec::new(),
        // The handler iterates it as an array: anything else is a TypeError.
        Some(_) => {
            return Err(envelope(
                0,
                "foreach() argument must be of type array|object",
            ));
        }
    };
    let attachment_type = text(data, "attachmentType").unwrap_or_else(|| "attach".to_owned());
    if entries.is_empty() {
        return Ok(Resolved {
            files: Vec::new(),
            attachment_type,
        });
    }
    if !ATTACHMENT_TYPES.contains(&attachment_type.as_str()) {
        return Err(envelope(
            422,
            &format!(
                "Invalid attachmentType '{attachment_type}', allowed values: {}",
                ATTACHMENT_TYPES.join(", ")
            ),
        ));
    }
    let home = format!("/home/{}/", session.account.login);
    let mut files = Vec::new();
    for entry in &entries {
        let shown = match entry {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let not_found = || envelope(400, &format!("Attachment {shown} NOT found"));
        let Value::String(entry) = entry else {
            return Err(not_found());
        };
        if let Some(token) = token_of(entry) {
            let upload = inner.uploads.get(token).ok_or_else(not_found)?;
            files.push((
                Some(token.to_owned()),
                upload.file_id.clone(),
                upload.name.clone(),
            ));
        } else {
            let readable = session.account.admin || entry.starts_with(&home);
            match inner.vfs.get(entry.as_str()) {
                Some(Node::File { file_id, .. }) if readable => {
                    let name = entry.rsplit('/').next().unwrap_or(entry).to_owned();
                    files.push((None, file_id.clone(), name));
                }
                _ => return Err(not_found()),
            }
        }
    }
    Ok(Resolved {
        files,
        attachment_type,
    })
}

/// The token of an entry matching `^/mail/attachments/([^/]+)--[^/.-]{6,}$`.
fn token_of(entry: &str) -> Option<&str> {
    let token = entry.strip_prefix("/mail/attachments/")?;
    let (name, random) = token.rsplit_once("--")?;
    let ok = !name.is_empty()
        && !token.contains('/')
        && random.chars().count() >= 6
        && !random.contains(['/', '.', '-']);
    ok.then_some(token)
}

/// The identity a send uses: the path's, else the first of the first IMAP account.
fn send_identity<'a>(
    session: &Session<'a>,
    id: Option<u64>,
) -> Result<&'a IdentityRecord, Response> {
    let account = session.account;
    match id {
        Some(id) => account
            .identities
            .iter()
            .find(|i| i.ident_id == id)
            .ok_or_else(|| envelope(2, "Entry not found!")),
        None => account
            .identities
            .iter()
            .find(|i| !i.smtp_only)
            .ok_or_else(|| {
                envelope(
                    404,
                    &format!("No IMAP account found for user #{}", account.account_id),
                )
            }),
    }
}

/// The EPL-only options, which fail on the community edition.
fn epl_check(state: &Egw, data: &Map<String, Value>, resolved: &Resolved) -> Option<Response> {
    if resolved.files.is_empty() || state.control.epl() {
        return None;
    }
    let needs_epl = resolved.attachment_type == "share_rw"
        || (resolved.attachment_type != "attach"
            && (field(data, "sharePassword").is_some()
                || field(data, "shareExpiration").is_some()));
    needs_epl.then(|| envelope(0, "Class 'EGroupware\\Epl\\Sharing' not found"))
}

/// `shareExpiration`: `yyyy-mm-dd` or `+<n>days`.
fn valid_expiration(v: &str) -> bool {
    let date = v.len() == 10
        && v.bytes().enumerate().all(|(i, b)| {
            if i == 4 || i == 7 {
                b == b'-'
            } else {
                b.is_ascii_digit()
            }
        });
    let relative = v
        .strip_prefix('+')
        .and_then(|r| r.strip_suffix("days").or_else(|| r.strip_suffix("day")))
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
    date || relative
}

/// `POST /mail[/<id>]`.
fn send(
    state: &Egw,
    session: &Session<'_>,
    id: Option<u64>,
    headers: &HeaderMap,
    body: &[u8],
) -> Response {
    let data = match decode_json(body) {
        Ok(d) => d,
        Err(r) => return r,
    };
    let identity = match send_identity(session, id) {
        Ok(i) => i,
        Err(r) => return r,
    };
    // Held until the tokens are consumed, so two sends can never both use one.
    let mut inner = state.inner();
    let resolved = match resolve_attachments(&inner, session, &data) {
        Ok(r) => r,
        Err(r) => return r,
    };
    if let Some(r) = epl_check(state, &data, &resolved) {
        return r;
    }
    let now = state.ctx.clock().now();
    let mut share_expires = None;
    if let Some(exp) = text(&data, "shareExpiration") {
        if !resolved.files.is_empty() {
            share_expires = valid_expiration(&exp)
                .then(|| super::share::expiry_of(&exp, now))
                .flatten();
            if share_expires.is_none() {
                return envelope(0, &format!("Invalid shareExpiration '{exp}'"));
            }
        }
    }
    let (to, cc, bcc) = (
        recipients(&data, "to"),
        recipients(&data, "cc"),
        recipients(&data, "bcc"),
    );
    if to.is_empty() && cc.is_empty() && bcc.is_empty() {
        // The compose layer saves a message without recipients as a draft and reports success.
        state.control.store_draft(Value::Object(data));
        return json(
            200,
            "",
            &json!({"status": 200, "message": "Mail successful sent"}),
        );
    }
    if state.control.smtp_down() {
        return envelope(500, "");
    }
    let subject = text(&data, "subject").unwrap_or_default();
    let mut mail = Mail::new(state.ctx.key(), &identity.email, &subject);
    mail.id = headers
        .get("x-securesend-message-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 100 && v.bytes().all(|b| b.is_ascii_graphic()))
        .unwrap_or("")
        .to_owned();
    mail.to = to;
    mail.cc = cc;
    mail.bcc = bcc;
    mail.reply_to = text(&data, "replyto");
    mail.text_body = text(&data, "body");
    mail.html_body = text(&data, "bodyHtml");
    let files = state.ctx.store();
    for (_, file_id, name) in &resolved.files {
        if let Some(stored) = files.get(file_id) {
            let mut a = MailAttachment::from(&stored);
            a.name.clone_from(name);
            mail.attachments.push(a);
        }
    }
    let d = &mut mail.details;
    d.insert("identity".into(), json!(identity.ident_id));
    d.insert("login".into(), json!(session.account.login));
    d.insert(
        "session".into(),
        json!(if session.token {
            "application password"
        } else {
            "password"
        }),
    );
    for key in ["priority", "shareExpiration", "sharePassword", "folder"] {
        if let Some(v) = field(&data, key) {
            d.insert(key.into(), v.clone());
        }
    }
    if !resolved.files.is_empty() {
        d.insert("attachmentType".into(), json!(resolved.attachment_type));
        if resolved.attachment_type != "attach" {
            let base = state.ctx.base_url();
            let password = text(&data, "sharePassword");
            let mut links = Vec::new();
            for (_, file_id, name) in &resolved.files {
                let token = random_token(TokenFormat::Alphanumeric { len: 32 });
                links.push(format!("{base}/egroupware/share.php/{token}"));
                inner.shares.insert(
                    token,
                    super::share::Share {
                        file_id: file_id.clone(),
                        name: name.clone(),
                        password: password.clone(),
                        expires: share_expires,
                    },
                );
            }
            d.insert("links".into(), json!(links));
        }
    }
    // A successful send deletes the uploaded temp files: tokens are single-use.
    for (token, _, _) in &resolved.files {
        if let Some(token) = token {
            inner.uploads.remove(token);
        }
    }
    drop(inner);
    state.ctx.outbox().deliver(mail);
    let mut answer = json!({"status": 200, "message": "Mail successful sent"});
    if !session.has_password(state) {
        answer["warning"] = json!("Mail NOT saved to Sent folder, as no user password");
    }
    json(200, "", &answer)
}

/// `POST /mail[/<id>]/compose`: same parsing and attachment checks, identity not validated,
/// the user must be online; temp files are kept.
fn compose(state: &Egw, session: &Session<'_>, id: Option<u64>, body: &[u8]) -> Response {
    let data = match decode_json(body) {
        Ok(d) => d,
        Err(r) => return r,
    };
    if let Err(r) = resolve_attachments(&state.inner(), session, &data) {
        return r;
    }
    let account = session.account;
    if !state.control.is_online(&account.login) {
        return envelope(
            404,
            &format!(
                "User '{}' (#{}) is NOT online",
                account.login, account.account_id
            ),
        );
    }
    state.control.open_window(Window {
        kind: "compose".into(),
        login: account.login.clone(),
        id,
        request: Value::Object(data),
    });
    json(
        200,
        "",
        &json!({"status": 200, "message": "Request to open compose window sent"}),
    )
}

/// `POST /mail[/<id>]/view`: the online check first, then the raw eml is imported.
async fn view(state: &Egw, session: &Session<'_>, id: Option<u64>, body: Body) -> Response {
    let account = session.account;
    if !state.control.is_online(&account.login) {
        return envelope(
            404,
            &format!(
                "User '{}' (#{}) is NOT online",
                account.login, account.account_id
            ),
        );
    }
    let stored = match state
        .ctx
        .store()
        .write_body("message.eml", body, None)
        .await
    {
        Ok(s) => s,
        Err(_) => return envelope(500, "Error importing eml"),
    };
    state.control.open_window(Window {
        kind: "view".into(),
        login: account.login.clone(),
        id,
        request: json!({ "size": stored.size, "sha256": stored.sha256 }),
    });
    json(
        200,
        "",
        &json!({"status": 200, "message": "Request to open view window sent"}),
    )
}

/// The name a `tempnam("attach--<name>--")` keeps and the token it yields.
fn tempnam_token(name: &str) -> (String, String) {
    let mut prefix = format!("attach--{name}--");
    if prefix.len() > TEMPNAM_PREFIX {
        let mut cut = TEMPNAM_PREFIX;
        while !prefix.is_char_boundary(cut) {
            cut -= 1;
        }
        prefix.truncate(cut);
    }
    let kept = prefix["attach--".len()..].to_owned();
    let token = format!(
        "{kept}{}",
        random_token(TokenFormat::Alphanumeric { len: 6 })
    );
    (kept, token)
}

/// `POST /mail/attachments/<filename>`: the raw body streamed to a temp file.
async fn upload(state: &Egw, headers: &HeaderMap, name_raw: &str, body: Body) -> Response {
    let mut name = decode(name_raw).replace('/', "-");
    if name.is_empty() {
        name = "no-name".to_owned();
    }
    let (_, token) = tempnam_token(&name);
    let store = state.ctx.store();
    let stored = match store.write_body(&name, body, None).await {
        Ok(s) => s,
        Err(_) => return envelope(500, "Error storing attachment"),
    };
    if stored.size == 0 {
        store.remove(&stored.id).await;
        return envelope(500, "Error storing attachment");
    }
    state.inner().uploads.insert(
        token.clone(),
        Upload {
            file_id: stored.id,
            name: token
                .rsplit_once("--")
                .map_or(token.as_str(), |(n, _)| n)
                .to_owned(),
        },
    );
    let location = format!("/mail/attachments/{token}");
    // PHP's empty(): "" and "0" do not count.
    let no_location = headers
        .get("x-no-location")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| !v.is_empty() && v != "0");
    if no_location {
        return json(
            200,
            "",
            &json!({"status": 200, "message": "Attachment stored", "location": location}),
        );
    }
    let mut r = json(
        201,
        "",
        &json!({"status": 201, "message": "Attachment stored", "location": location}),
    );
    let url = format!(
        "{}/egroupware/groupdav.php/mail/attachments/{}",
        state.ctx.base_url(),
        utf8_percent_encode(&token, PATH_SEGMENT)
    );
    if let Ok(v) = HeaderValue::from_str(&url) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r
}

/// A content type from a file name's extension.
pub(crate) fn type_by_extension(name: &str) -> &'static str {
    let ext = name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
    match ext.as_deref() {
        Some("txt") => "text/plain",
        Some("csv") => "text/csv",
        Some("html" | "htm") => "text/html",
        Some("pdf") => "application/pdf",
        Some("json") => "application/json",
        Some("zip") => "application/zip",
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("eml") => "message/rfc822",
        _ => "application/octet-stream",
    }
}

/// `GET /mail/attachments/<token>`.
async fn download_attachment(state: &Egw, name_raw: &str) -> Response {
    let token = decode(name_raw);
    let entry = format!("/mail/attachments/{token}");
    if token_of(&entry).is_none() {
        return empty(501, "Not Implemented");
    }
    let upload = state.inner().uploads.get(&token).cloned();
    let store = state.ctx.store();
    let Some(file) = upload.and_then(|u| store.get(&u.file_id).map(|f| (u, f))) else {
        return envelope(404, &format!("Attachment {entry} NOT found"));
    };
    let (upload, file) = file;
    let content_type = type_by_extension(&upload.name);
    let Ok(response) = store.respond(&file, &HeaderMap::new(), content_type).await else {
        return envelope(500, "Error reading attachment");
    };
    let mut response = super::reply::with_no_cache(response);
    let ascii: String = upload
        .name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let disposition = format!(
        "attachment; filename=\"{ascii}\"; filename*=utf-8''{}",
        utf8_percent_encode(&upload.name, PATH_SEGMENT)
    );
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        response
            .headers_mut()
            .insert(header::CONTENT_DISPOSITION, v);
    }
    response
}

/// The identity `id` of the session's user, else the error the handler gives.
fn own_identity<'a>(
    state: &'a Egw,
    session: &Session<'a>,
    id: u64,
) -> Result<&'a IdentityRecord, Response> {
    if let Some(i) = session.account.identities.iter().find(|i| i.ident_id == id) {
        return Ok(i);
    }
    let foreign = state
        .accounts
        .iter()
        .flat_map(|a| &a.identities)
        .find(|i| i.ident_id == id);
    match foreign {
        Some(i) if session.account.admin => Ok(i),
        Some(_) => Err(empty(403, "Forbidden")),
        None => Err(envelope(2, "Entry not found!")),
    }
}

/// `GET /mail/<id>`: the mail account of an identity.
fn account_get(state: &Egw, session: &Session<'_>, id: u64) -> Response {
    let identity = match own_identity(state, session, id) {
        Ok(i) => i,
        Err(r) => return r,
    };
    let inner = state.inner();
    let patched = inner.account_changes.get(&identity.ident_id);
    let mut value = json!({
        "accId": identity.acc_id,
        "accName": identity.name,
        "accImapHost": "mail",
        "accImapPort": 993,
        "accImapSsl": 2,
        "accImapPassword": "********",
        "accSmtpHost": "mail",
        "accSmtpPort": 465,
        "accSmtpPassword": "********",
        "accUserEditable": identity.user_editable,
        "accFurtherIdentities": false,
        "accountStatus": true,
        "identId": identity.ident_id,
        "identEmail": identity.email,
        "identRealname": identity.realname,
        "identOrg": identity.org,
        "identName": identity.name,
        "identSignature": identity.signature,
        "mailLocalAddress": identity.email,
        "mailAlternateAddress": [],
        "mailForwardingAddress": [],
        "quotaLimit": null,
        "quotaUsed": null,
        "deliveryMode": null,
    });
    if let (Some(patch), Some(obj)) = (patched, value.as_object_mut()) {
        for (k, v) in patch {
            obj.insert(k.clone(), v.clone());
        }
    }
    json(200, "", &value)
}

/// `PATCH /mail/<id>`: changes are kept and shown by later GETs; a validation error is
/// printed as JSON with status 200 (the handler does not return its status).
fn account_patch(
    state: &Egw,
    session: &Session<'_>,
    id: u64,
    headers: &HeaderMap,
    body: &[u8],
) -> Response {
    let json_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("application/json"));
    if !json_type || id == 0 {
        return empty(501, "Not Implemented");
    }
    let identity = match own_identity(state, session, id) {
        Ok(i) => i,
        Err(r) => return r,
    };
    if !identity.user_editable && !session.account.admin {
        return empty(403, "Not Authorized");
    }
    let data = match decode_json(body) {
        Ok(d) => d,
        Err(r) => return r,
    };
    for key in ["identEmail", "mailLocalAddress"] {
        if let Some(v) = data.get(key).and_then(Value::as_str) {
            if !v.contains('@') {
                return json(
                    200,
                    "",
                    &json!({"error": 400, "message": format!("Invalid email address '{v}' in {key}")}),
                );
            }
        }
    }
    let mut inner = state.inner();
    let stored = inner.account_changes.entry(identity.ident_id).or_default();
    for (k, v) in data {
        if !k.to_ascii_lowercase().ends_with("password") && k != "accId" && k != "identId" {
            stored.insert(k, v);
        }
    }
    empty(204, "No Content")
}

const VACATION_KEYS: [&str; 8] = [
    "status",
    "start",
    "end",
    "text",
    "modus",
    "forwards",
    "addresses",
    "days",
];

/// The account whose vacation `id` names: the user's default account without an id.
fn vacation_account(session: &Session<'_>, id: Option<u64>) -> Result<u32, Response> {
    match id {
        None => Ok(session.account.account_id),
        Some(id) if session.account.identities.iter().any(|i| i.ident_id == id) => {
            Ok(session.account.account_id)
        }
        Some(_) => Err(envelope(2, "Entry not found!")),
    }
}

fn vacation_view(stored: Option<&Map<String, Value>>, with_script: bool) -> Map<String, Value> {
    let mut out = Map::new();
    out.insert("status".into(), json!("off"));
    out.insert("modus".into(), json!("notice+store"));
    if let Some(stored) = stored {
        for (k, v) in stored {
            if !falsy(v) {
                out.insert(k.clone(), v.clone());
            }
        }
    }
    if with_script {
        out.insert("script".into(), json!("egroupware"));
    }
    out
}

/// `GET /mail[/<id>]/vacation`.
fn vacation_get(state: &Egw, session: &Session<'_>, id: Option<u64>) -> Response {
    let account = match vacation_account(session, id) {
        Ok(a) => a,
        Err(r) => return r,
    };
    let inner = state.inner();
    let view = vacation_view(inner.vacation.get(&account), session.has_password(state));
    json(200, "", &Value::Object(view))
}

/// A date `YYYY-mm-dd`, or `+<n>day(s)` from today.
fn vacation_date(state: &Egw, v: &str) -> Option<String> {
    if v.len() == 10 && valid_expiration(v) {
        return Some(v.to_owned());
    }
    let n: u64 = v
        .strip_prefix('+')?
        .strip_suffix("days")
        .or_else(|| v.strip_prefix('+')?.strip_suffix("day"))?
        .parse()
        .ok()?;
    let now = state
        .ctx
        .clock()
        .now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?
        .as_secs();
    let days = (now / 86_400 + n) as i64;
    Some(civil(days))
}

/// Days since 1970-01-01 → `YYYY-mm-dd` (Howard Hinnant's civil-from-days).
fn civil(days: i64) -> String {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

/// `POST /mail[/<id>]/vacation`: merged over the current settings like a PATCH.
fn vacation_set(state: &Egw, session: &Session<'_>, id: Option<u64>, body: &[u8]) -> Response {
    let account = match vacation_account(session, id) {
        Ok(a) => a,
        Err(r) => return r,
    };
    let data: Map<String, Value> = match serde_json::from_slice::<Value>(body) {
        Err(_) => return envelope(4, "Syntax error"),
        Ok(Value::Object(m)) if m.is_empty() => {
            // Meant to be a 400, but a misspelt class name makes it a 500.
            return envelope(
                0,
                "Class \"EGroupware\\Api\\Exception\\WrongParameters\" not found",
            );
        }
        Ok(Value::Object(m)) => m,
        Ok(_) => return envelope(4, "Syntax error"),
    };
    let unknown: Vec<&str> = data
        .keys()
        .map(String::as_str)
        .filter(|k| !VACATION_KEYS.contains(k))
        .collect();
    if !unknown.is_empty() {
        return envelope(400, &format!("Invalid attribute: {}", unknown.join(", ")));
    }
    if let Some(m) = data.get("modus").and_then(Value::as_str) {
        if !["notice+store", "notice", "store"].contains(&m) {
            return envelope(400, &format!("Invalid modus '{m}'"));
        }
    }
    for key in ["forwards", "addresses"] {
        if let Some(Value::Array(list)) = data.get(key) {
            if list
                .iter()
                .any(|a| !a.as_str().is_some_and(|s| s.contains('@')))
            {
                return envelope(
                    0,
                    &format!(
                        "Error parsing email-addresses in attribute {key}: {}",
                        Value::Array(list.clone())
                    ),
                );
            }
        }
    }
    let primary = session
        .account
        .identities
        .first()
        .map(|i| i.email.clone())
        .unwrap_or_default();
    let mut inner = state.inner();
    let current = inner.vacation.entry(account).or_insert_with(|| {
        let mut m = Map::new();
        m.insert("status".into(), json!("on"));
        m.insert("addresses".into(), json!([primary]));
        m.insert("days".into(), json!(3));
        m
    });
    for (k, v) in &data {
        if v.is_null() {
            current.remove(k);
            continue;
        }
        let v = match (k.as_str(), v.as_str()) {
            ("start" | "end", Some(s)) => match vacation_date(state, s) {
                Some(d) => json!(d),
                None => return envelope(0, &format!("Invalid date '{s}' in {k}")),
            },
            _ => v.clone(),
        };
        current.insert(k.clone(), v);
    }
    if !data.contains_key("status") {
        let dated = data.get("start").is_some_and(|v| !v.is_null())
            || data.get("end").is_some_and(|v| !v.is_null());
        let undated = ["start", "end"]
            .iter()
            .any(|k| data.get(*k).is_some_and(Value::is_null));
        if dated {
            current.insert("status".into(), json!("by_date"));
        } else if undated {
            current.insert("status".into(), json!("off"));
        }
    }
    let view = vacation_view(Some(current), session.has_password(state));
    json(
        200,
        "",
        &json!({"status": 200, "message": "Vacation handling updated", "vacation": view}),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tempnam_cuts_long_names() {
        let (kept, token) = tempnam_token("report.pdf");
        assert_eq!(kept, "report.pdf--");
        assert!(token_of(&format!("/mail/attachments/{token}")).is_some());
        let long = "x".repeat(53);
        let (_, token) = tempnam_token(&long);
        assert!(token_of(&format!("/mail/attachments/{token}")).is_some());
        let longer = "x".repeat(54);
        let (kept, token) = tempnam_token(&longer);
        assert_eq!(kept.len(), 55);
        assert!(token_of(&format!("/mail/attachments/{token}")).is_none());
    }

    #[test]
    fn php_empty_and_dates() {
        for v in [
            json!(null),
            json!(""),
            json!("0"),
            json!(0),
            json!([]),
            json!({}),
            json!(false),
        ] {
            assert!(falsy(&v), "{v}");
        }
        assert!(!falsy(&json!("a")));
        assert_eq!(civil(0), "1970-01-01");
        assert_eq!(civil(19_675), "2023-11-14");
        assert!(valid_expiration("2026-12-31") && valid_expiration("+2days"));
        assert!(!valid_expiration("soon"));
        assert_eq!(bare_address("\"Ada\" <ada@example.com>"), "ada@example.com");
    }
}
