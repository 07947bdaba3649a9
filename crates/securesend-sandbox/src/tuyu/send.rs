//! Recipients and sending: `users_location_access`, `send_files_prep`, `file_send`,
//! `user_auth`.

use axum::response::Response;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::files::reachable;
use super::site::Entry;
use super::{Call, Svc, check_path, issue_auth_code};
use crate::mail::{Mail, MailAttachment};

/// `users_location_access`: users and groups that can reach the path.
pub(super) fn users_location_access(svc: &Svc, call: &Call) -> Response {
    let (_, ws) = match check_path(svc, call, call.param("path")) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let non_admins_only = match call.param("type").unwrap_or("all") {
        "all" => false,
        "nonAdminsOnly" => true,
        _ => {
            return svc.invalid(
                call.fmt,
                call.seq,
                "Invalid Type",
                "type must be all or nonAdminsOnly.",
            );
        }
    };
    let _ = non_admins_only; // nobody is an administrator on this site
    let users: Vec<Value> = svc
        .site
        .lock()
        .users
        .iter()
        .filter(|u| u.workspaces.contains(&ws))
        .map(|u| {
            json!({
                "id": u.id,
                "username": u.username,
                "email": u.email,
                "firstName": u.first_name,
                "lastName": u.last_name,
                "organization": null,
                "subAdmin": null,
                "admin": 0,
                "uType": u8::from(!u.group),
                "autoRecip": 0,
            })
        })
        .collect();
    svc.ok(call.fmt, json!({ "usersLocationAccess": users }))
}

fn file_ids(svc: &Svc, call: &Call) -> Result<Vec<Entry>, Response> {
    let raw = call.param("file_id").unwrap_or_default();
    if raw.trim().is_empty() {
        return Err(svc.invalid(call.fmt, call.seq, "Invalid File", "file_id is required."));
    }
    let mut out: Vec<Entry> = Vec::new();
    for id in raw.split(',') {
        match reachable(svc, call, id) {
            Some(e) if !out.iter().any(|o| o.id == e.id) => out.push(e),
            Some(_) => {}
            None => {
                return Err(svc.no_access(
                    call.fmt,
                    call.seq,
                    "a file_id is unknown or out of reach",
                ));
            }
        }
    }
    Ok(out)
}

fn id_set(entries: &[Entry]) -> Vec<u64> {
    let mut ids: Vec<u64> = entries.iter().map(|e| e.id).collect();
    ids.sort_unstable();
    ids
}

/// `send_files_prep`: a preparation id bound to the exact set of files.
pub(super) fn send_files_prep(svc: &Svc, call: &Call) -> Response {
    let entries = match file_ids(svc, call) {
        Ok(e) => e,
        Err(r) => return r,
    };
    let id = crate::tokens::random_token(crate::tokens::TokenFormat::Hex { bytes: 8 });
    svc.site.lock().preps.insert(id.clone(), id_set(&entries));
    svc.ok(
        call.fmt,
        json!({"sendFilesPrep": {"filePreparationId": id}}),
    )
}

fn flag(call: &Call, name: &str) -> Result<bool, String> {
    match call.param(name).unwrap_or("0") {
        "0" => Ok(false),
        "1" => Ok(true),
        _ => Err(format!("{name} must be 0 or 1.")),
    }
}

fn list(call: &Call, name: &str) -> Vec<String> {
    call.param(name)
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The receipt id the adapter derives from the same fields.
pub(super) fn message_id(params: &[(String, String)]) -> String {
    let mut lines: Vec<String> = params
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "api_key" | "auth_code" | "signature"))
        .map(|(k, v)| format!("{k}={v}\n"))
        .collect();
    lines.sort();
    format!(
        "tuyu-{}",
        &hex::encode(Sha256::digest(lines.concat().as_bytes()))[..24]
    )
}

/// `file_send`: the documented rules, silent drops included; the delivered message goes to
/// the outbox.
pub(super) fn file_send(svc: &Svc, call: &Call) -> Response {
    let fail = |title: &str, message: &str| svc.invalid(call.fmt, call.seq, title, message);
    let entries = match file_ids(svc, call) {
        Ok(e) => e,
        Err(r) => return r,
    };
    let mut workspaces: Vec<u64> = entries.iter().map(|e| e.workspace_id).collect();
    workspaces.dedup();
    if workspaces.len() > 1 {
        return fail(
            "Files Cannot Be Sent",
            "All files must be in the same workspace.",
        );
    }
    let days = match call.param("link_expiration").map(str::parse::<u64>) {
        None => 15,
        Some(Ok(d)) if d <= 15 => d,
        Some(_) => {
            return fail(
                "Invalid Link Expiration",
                "link_expiration must be between 0 and 15 days.",
            );
        }
    };
    let (download_receipt, require_login, bcc) = match (
        flag(call, "download_receipt"),
        flag(call, "require_login"),
        flag(call, "bcc"),
    ) {
        (Ok(a), Ok(b), Ok(c)) => (a, b, c),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => return fail("Invalid Flag", &e),
    };
    let non_users_given = list(call, "non_users");
    let folders = entries.iter().any(|e| e.file.is_none());
    if (entries.len() >= 2 || folders) && non_users_given.len() >= 3 {
        let prep = call.param("file_preparation_id").unwrap_or_default();
        let bound = svc.site.lock().preps.get(prep).cloned();
        if bound.as_deref() != Some(id_set(&entries).as_slice()) {
            return fail(
                "File Preparation Required",
                "Sending several files or a folder to three or more non-users needs a file_preparation_id from send_files_prep for these files.",
            );
        }
    }

    let s = svc.site.lock();
    let ws = workspaces[0];
    let mut dropped: Vec<String> = Vec::new();
    let mut user_emails: Vec<String> = Vec::new();
    let mut kept_ids: Vec<String> = Vec::new();
    let add_user = |id: u64, emails: &mut Vec<String>| {
        if let Some(u) = s
            .user(id)
            .filter(|u| !u.group && u.workspaces.contains(&ws))
        {
            if !emails.contains(&u.email) {
                emails.push(u.email.clone());
            }
            true
        } else {
            false
        }
    };
    for raw in list(call, "user_ids") {
        match raw.parse::<u64>() {
            Ok(id) if add_user(id, &mut user_emails) => kept_ids.push(raw),
            _ => dropped.push(format!("user {raw}")),
        }
    }
    for raw in list(call, "user_group_ids") {
        let members = raw
            .parse::<u64>()
            .ok()
            .and_then(|id| s.user(id).filter(|g| g.group && g.workspaces.contains(&ws)))
            .map(|g| g.members.clone());
        match members {
            Some(m) => {
                for id in m {
                    add_user(id, &mut user_emails);
                }
            }
            None => dropped.push(format!("group {raw}")),
        }
    }
    let sender = s
        .user(call.user)
        .map(|u| u.email.clone())
        .unwrap_or_default();
    let may_send_non_users = svc.opts.non_user_sends || call.user != super::ACCOUNT_ID;
    let mut non_users: Vec<String> = Vec::new();
    for address in non_users_given {
        let plausible = address.contains('@') && !address.chars().any(char::is_whitespace);
        if require_login || !may_send_non_users || !plausible {
            dropped.push(address);
        } else if !non_users.contains(&address) {
            non_users.push(address);
        }
    }
    let attachments: Vec<MailAttachment> = entries
        .iter()
        .flat_map(|e| s.files_of(e))
        .filter_map(|e| e.file.as_ref().map(MailAttachment::from))
        .collect();
    drop(s);

    let id = message_id(&call.params);
    let recipients: Vec<String> = user_emails.into_iter().chain(non_users.clone()).collect();
    if !dropped.is_empty() {
        svc.ctx.journal().note(
            call.seq,
            format!("silently dropped: {}", dropped.join(", ")),
        );
    }
    if recipients.is_empty() {
        // The service answers as if all went well.
        svc.ctx
            .journal()
            .note(call.seq, "every recipient was dropped; nothing delivered");
    } else {
        let mut mail = Mail::new("tuyu", &sender, call.param("subject").unwrap_or_default());
        mail.id = id.clone();
        if bcc && svc.opts.bcc {
            mail.bcc = recipients;
        } else {
            mail.to = recipients;
        }
        mail.text_body = call.param("message").map(str::to_owned);
        mail.attachments = attachments;
        let d = &mut mail.details;
        d.insert("link_expiration".into(), days.into());
        d.insert("require_login".into(), require_login.into());
        d.insert("download_receipt".into(), download_receipt.into());
        d.insert("user_ids".into(), kept_ids.join(",").into());
        d.insert("non_users".into(), non_users.join(",").into());
        d.insert("dropped".into(), dropped.join(",").into());
        if let Some(p) = call.param("file_preparation_id") {
            d.insert("file_preparation_id".into(), p.into());
        }
        svc.ctx.outbox().deliver(mail);
    }
    let ids: Vec<String> = entries.iter().map(|e| e.id.to_string()).collect();
    svc.ok(call.fmt, json!({"fileSend": {"fileId": ids.join(",")}}))
}

/// `user_auth`: an auth code for a user, given the SHA-1 (hex) of their password.
pub(super) fn user_auth(svc: &Svc, call: &Call) -> Response {
    let name = call.param("username_auth").unwrap_or_default();
    let hash = call.param("password_auth").unwrap_or_default();
    let user = svc
        .site
        .lock()
        .users
        .iter()
        .find(|u| u.username == name && !u.group)
        .cloned();
    let ok = user
        .as_ref()
        .and_then(|u| u.password.as_deref())
        .is_some_and(|p| super::signing::key_of(p) == hash);
    match user {
        Some(u) if ok => {
            let code = issue_auth_code(svc, u.id);
            svc.ok(call.fmt, json!({ "authCode": code }))
        }
        _ => svc.refuse(
            call.fmt,
            call.seq,
            super::answer::Refusal::Auth,
            "Invalid Username or Password",
            "This user cannot be found on this site.",
            "user_auth refused",
        ),
    }
}
