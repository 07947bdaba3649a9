//! Mail: drafts, sending (into the outbox), reading and deleting drafts.

use axum::Extension;
use axum::extract::{Path, RawQuery, State};
use axum::response::Response;
use bytes::Bytes;
use http::HeaderMap;
use serde_json::{Map, Value, json};

use super::Kw;
use super::files::no_access;
use super::state::{MailRec, MailStatus, mail_json};
use super::uploads::mail_uploads;
use super::wire::{
    self, MAX_FORM_BODY, error, json_answer, loose_bool, no_content, parse_body, query_flag,
    string_list,
};
use crate::journal::RequestSeq;
use crate::mail::{Mail, MailAttachment};
use crate::tokens::{TokenFormat, random_token};

const ACLS: [&str; 6] = [
    "verify_recipient",
    "no_auth",
    "otp",
    "internal",
    "anyone_auth",
    "email_otp",
];

fn valid_address(a: &str) -> bool {
    let ok_chars = !a.chars().any(|c| c.is_control() || c.is_whitespace());
    matches!(a.split_once('@'), Some((l, d)) if !l.is_empty() && d.contains('.') && !d.contains('@'))
        && ok_chars
        && a.len() <= 254
}

/// Applies the fields present in a sendFile body to `m`; fields left out keep their values.
fn apply(m: &mut MailRec, f: &Map<String, Value>) -> Result<(), Response> {
    let list = |key: &str| {
        string_list(f.get(key)).map_err(|()| {
            error(
                422,
                "ERR_INVALID_PARAMETER",
                &format!("{key} must be a list"),
            )
        })
    };
    for (key, slot) in [("to", &mut m.to), ("cc", &mut m.cc), ("bcc", &mut m.bcc)] {
        if f.contains_key(key) {
            let l = list(key)?;
            if l.iter().any(|a| !valid_address(a)) {
                return Err(error(
                    422,
                    "ERR_INPUT_INVALID_FORMAT",
                    "Invalid email address",
                ));
            }
            *slot = l;
        }
    }
    if f.contains_key("files") {
        m.files = list("files")?;
    }
    if f.contains_key("returnReceipts") {
        m.return_receipts = list("returnReceipts")?;
    }
    if let Some(s) = f.get("subject") {
        let s = s.as_str().unwrap_or_default();
        if s.chars().count() > 998 {
            return Err(error(
                422,
                "ERR_INPUT_EXCEEDS_MAX_VALUE",
                "Subject is too long",
            ));
        }
        m.subject = s.to_owned();
    }
    if let Some(b) = f.get("body") {
        if b.as_str()
            .is_some_and(|b| b.len() > super::MAX_MAIL_BODY_BYTES)
        {
            return Err(error(
                422,
                "ERR_INPUT_EXCEEDS_MAX_VALUE",
                "Field value exceeds maximum allowed value",
            ));
        }
        m.body = b.as_str().map(str::to_owned);
    }
    if let Some(e) = f.get("expire") {
        m.expire = e.as_str().map(str::to_owned).filter(|s| !s.is_empty());
    }
    if let Some(a) = f.get("acl") {
        let a = a.as_str().unwrap_or_default();
        if !ACLS.contains(&a) {
            return Err(error(422, "ERR_INPUT_NOT_IN_LIST", "Unknown acl"));
        }
        m.acl = Some(a.to_owned());
    }
    for (key, slot) in [
        ("secureBody", &mut m.secure_body),
        ("selfCopy", &mut m.self_copy),
        ("includeFingerprint", &mut m.include_fingerprint),
    ] {
        if let Some(v) = f.get(key) {
            *slot = loose_bool(v).ok_or_else(|| {
                error(
                    422,
                    "ERR_INVALID_PARAMETER",
                    &format!("{key} must be a boolean"),
                )
            })?;
        }
    }
    Ok(())
}

/// Checks a mail about to leave and hands it to the outbox.
fn deliver(kw: &Kw, m: &mut MailRec) -> Result<(), Response> {
    if m.to.is_empty() && m.cc.is_empty() && m.bcc.is_empty() {
        return Err(error(
            403,
            "ERR_INPUT_EMAIL_WITH_NO_RECIPIENTS_NOT_ALLOWED",
            "An email needs recipients",
        ));
    }
    if m.secure_body && m.acl.as_deref() == Some("no_auth") {
        return Err(error(
            403,
            "ERR_INPUT_SECURE_BODY_WITH_NO_AUTH_NOT_ALLOWED",
            "A secure body needs authenticated recipients",
        ));
    }
    if let Some(e) = &m.expire {
        let format = time::macros::format_description!("[year]-[month]-[day]");
        let day = e.get(..10).unwrap_or(e);
        let Ok(date) = time::Date::parse(day, &format) else {
            return Err(error(422, "ERR_INPUT_INVALID_DATE", "Invalid date"));
        };
        if date <= time::OffsetDateTime::from(kw.now()).date() {
            return Err(error(422, "ERR_INPUT_PAST_DATE", "The date is in the past"));
        }
    }
    let own = mail_uploads(kw, &m.id);
    let mut attachments = Vec::new();
    {
        let data = kw.data();
        for id in &m.files {
            // The user's folder files, or files uploaded onto this draft.
            let file = data
                .files
                .get(id)
                .filter(|f| !f.deleted && (f.folder_id.is_some() || own.contains_key(&f.id)));
            let Some(file) = file else {
                return Err(no_access());
            };
            let mut a = MailAttachment::from(&file.stored);
            a.name.clone_from(&file.name);
            attachments.push(a);
        }
    }
    m.status = MailStatus::Sent;
    m.modified = kw.now();
    let link = format!(
        "{}/w/{}",
        kw.ctx().base_url(),
        random_token(TokenFormat::Alphanumeric { len: 32 })
    );
    m.package = Some((uuid::Uuid::new_v4().to_string(), link.clone()));
    let mut mail = Mail::new("kiteworks", &kw.user().email, &m.subject);
    mail.id = m.id.clone();
    mail.to.clone_from(&m.to);
    mail.cc.clone_from(&m.cc);
    mail.bcc.clone_from(&m.bcc);
    mail.text_body.clone_from(&m.body);
    mail.attachments = attachments;
    let d = &mut mail.details;
    d.insert("acl".into(), json!(m.acl));
    d.insert("expire".into(), json!(m.expire));
    d.insert("secureBody".into(), json!(m.secure_body));
    d.insert("selfCopy".into(), json!(m.self_copy));
    d.insert("includeFingerprint".into(), json!(m.include_fingerprint));
    d.insert("returnReceipts".into(), json!(m.return_receipts));
    d.insert("downloadLink".into(), json!(link));
    kw.ctx().outbox().deliver(mail);
    Ok(())
}

fn body_fields(headers: &HeaderMap, body: &Bytes) -> Result<Map<String, Value>, Response> {
    if body.len() > MAX_FORM_BODY {
        return Err(error(
            400,
            "ERR_REQUEST_INVALID_JSON",
            "Invalid json provided",
        ));
    }
    parse_body(headers, body)
}

fn truthy(f: &Map<String, Value>, key: &str) -> Result<bool, Response> {
    match f.get(key) {
        None => Ok(false),
        Some(v) => loose_bool(v).ok_or_else(|| {
            error(
                422,
                "ERR_INVALID_PARAMETER",
                &format!("{key} must be a boolean"),
            )
        }),
    }
}

/// `POST /rest/mail/actions/sendFile`: a draft (`draft` true) or a mail sent at once.
pub(crate) async fn create(
    State(kw): State<Kw>,
    Extension(seq): Extension<RequestSeq>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let f = match body_fields(&headers, &body) {
        Ok(f) => f,
        Err(r) => return r,
    };
    kw.record_body(seq, &f);
    let (draft, uploading) = match (truthy(&f, "draft"), truthy(&f, "uploading")) {
        (Ok(d), Ok(u)) => (d, u),
        (Err(r), _) | (_, Err(r)) => return r,
    };
    let now = kw.now();
    let mut m = MailRec {
        id: uuid::Uuid::new_v4().to_string(),
        status: MailStatus::Draft,
        to: Vec::new(),
        cc: Vec::new(),
        bcc: Vec::new(),
        subject: String::new(),
        body: None,
        files: Vec::new(),
        expire: None,
        acl: None,
        secure_body: false,
        self_copy: false,
        include_fingerprint: false,
        return_receipts: Vec::new(),
        package: None,
        created: now,
        modified: now,
    };
    if let Err(r) = apply(&mut m, &f) {
        return r;
    }
    if !draft && !uploading {
        if let Err(r) = deliver(&kw, &mut m) {
            return r;
        }
    }
    kw.data().mails.insert(m.id.clone(), m.clone());
    let entity = (query_flag(q.as_deref(), "returnEntity") && kw.options().return_entities)
        .then(|| mail_json(&m, kw.user(), kw.string_variables()));
    wire::created(
        kw.location_header(),
        &kw.url(&format!("mail/{}", m.id)),
        entity.as_ref(),
    )
}

/// `PUT /rest/mail/{id}/actions/sendFile`: updates the draft and sends it (200).
pub(crate) async fn send_draft(
    State(kw): State<Kw>,
    Extension(seq): Extension<RequestSeq>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let f = match body_fields(&headers, &body) {
        Ok(f) => f,
        Err(r) => return r,
    };
    kw.record_body(seq, &f);
    let (draft, uploading) = match (truthy(&f, "draft"), truthy(&f, "uploading")) {
        (Ok(d), Ok(u)) => (d, u),
        (Err(r), _) | (_, Err(r)) => return r,
    };
    let Some(mut m) = kw.data().mails.get(&id).cloned() else {
        return no_access();
    };
    if m.status != MailStatus::Draft {
        return error(
            403,
            "ERR_ENTITY_EMAIL_NOT_DRAFT",
            "The email is not a draft",
        );
    }
    if let Err(r) = apply(&mut m, &f) {
        return r;
    }
    m.modified = kw.now();
    // `uploading` holds the mail back, as does saving it as a draft again.
    if !draft && !uploading {
        if let Err(r) = deliver(&kw, &mut m) {
            return r;
        }
    }
    kw.data().mails.insert(m.id.clone(), m.clone());
    if query_flag(q.as_deref(), "returnEntity") && kw.options().return_entities {
        json_answer(200, &mail_json(&m, kw.user(), kw.string_variables()))
    } else {
        axum::response::IntoResponse::into_response(http::StatusCode::OK)
    }
}

/// `GET /rest/mail/{id}`.
pub(crate) async fn get_mail(State(kw): State<Kw>, Path(id): Path<String>) -> Response {
    match kw.data().mails.get(&id) {
        Some(m) => json_answer(200, &mail_json(m, kw.user(), kw.string_variables())),
        None => no_access(),
    }
}

/// `DELETE /rest/mail/{id}`: drafts only, with the files uploaded onto them.
pub(crate) async fn delete_mail(State(kw): State<Kw>, Path(id): Path<String>) -> Response {
    let status = kw.data().mails.get(&id).map(|m| m.status);
    match status {
        None => return no_access(),
        Some(MailStatus::Sent) => {
            return error(
                403,
                "ERR_ENTITY_EMAIL_IS_SENT",
                "A sent email cannot be deleted",
            );
        }
        Some(MailStatus::Draft) => {}
    }
    let files = mail_uploads(&kw, &id);
    let sessions: Vec<String> = {
        let mut data = kw.data();
        data.mails.remove(&id);
        for file in files.keys() {
            data.files.remove(file);
        }
        let open: Vec<u64> = data
            .uploads
            .values()
            .filter(|u| u.target == super::state::Target::Mail(id.clone()))
            .map(|u| u.id)
            .collect();
        open.iter()
            .filter_map(|n| data.uploads.remove(n))
            .map(|u| u.store_id)
            .collect()
    };
    let store = kw.ctx().store();
    for stored in files.values() {
        store.remove(stored).await;
    }
    for s in sessions {
        store.abort_upload(&s).await;
    }
    no_content()
}
