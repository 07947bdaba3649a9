//! The JSON the service sends: field names, timestamp and size formats as documented.

use std::time::SystemTime;

use serde_json::{Value, json};
use time::OffsetDateTime;
use time::macros::format_description;

use super::state::{Data, DownloadRec, FileRec, InboxRec, SentRec, User};

/// `YYYY-MM-DD HH:MM:SS`, no zone (the service's zone is unknown; the sandbox uses UTC).
pub(crate) fn timestamp(t: SystemTime) -> String {
    let format = format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    OffsetDateTime::from(t)
        .format(format)
        .unwrap_or_else(|_| "1970-01-01 00:00:00".to_owned())
}

/// Base 1024, two decimals: 43389 → "42.37 KB" (the documented example).
pub(crate) fn formatted_size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KB", "MB", "GB", "TB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.2} {}", UNITS[unit])
}

fn person(user: &User) -> Value {
    json!({
        "name": user.name,
        "initials": user.initials(),
        "email": user.email,
        "photo_url": "https://privasfer.com/img/no_image.png",
        "timezone": user.timezone,
    })
}

fn sender(user: &User) -> Value {
    json!({ "name": user.name, "email": user.email })
}

/// A File object; `category` only when included (its shape is undocumented: `null` here).
pub(crate) fn file(data: &Data, f: &FileRec, include_category: bool) -> Value {
    let mut v = json!({
        "id": f.id,
        "filename": f.filename,
        "type": f.mime,
        "extension": f.extension,
        "full_filename": f.full_filename(),
        "size": f.size(),
        "formatted_size": formatted_size(f.size()),
        "encrypted_size": f.encrypted_size(),
        "formatted_encrypted_size": formatted_size(f.encrypted_size()),
        "created_by": person(&data.users[f.owner]),
        "created_at": timestamp(f.created_at),
        "disk": "local-spaces",
        "trashed": f.trashed,
    });
    if include_category {
        v["category"] = Value::Null;
    }
    v
}

/// Which related objects a mail list asked for.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct MailIncludes {
    pub download: bool,
    pub download_files: bool,
    pub author: bool,
}

fn download(data: &Data, d: Option<&DownloadRec>, inc: MailIncludes) -> Option<Value> {
    if !(inc.download || inc.download_files) {
        return None;
    }
    let Some(d) = d else {
        return Some(Value::Null);
    };
    let mut v = json!({ "id": d.id, "created_at": timestamp(d.created_at) });
    if inc.download_files {
        v["files"] = data
            .download_files(d)
            .into_iter()
            .map(|f| file(data, f, false))
            .collect();
    }
    Some(v)
}

pub(crate) fn inbox_mail(data: &Data, m: &InboxRec, inc: MailIncludes) -> Value {
    let from = &data.users[m.sender];
    let mut v = json!({
        "id": m.id,
        "identifier": m.identifier,
        "subject": m.subject,
        "body": m.body,
        "sender": sender(from),
        "received_at": timestamp(m.received_at),
        "opened": m.opened,
    });
    let d = data.downloads.iter().find(|d| d.id == m.download);
    if let Some(dl) = download(data, d, inc) {
        v["download"] = dl;
    }
    if inc.author {
        v["author"] = person(from);
    }
    v
}

pub(crate) fn sent_mail(data: &Data, m: &SentRec, inc: MailIncludes) -> Value {
    let me = &data.users[m.owner];
    let to = &data.users[m.recipient];
    let mut v = json!({
        "id": m.id,
        "identifier": m.identifier,
        "subject": m.subject,
        "body": m.body,
        "sender": sender(me),
        "recipient": person(to),
        "recipient_email": to.email,
        "created_at": timestamp(m.created_at),
        "sent_at": timestamp(m.sent_at),
        "status": "success",
        // The documented quirk: an empty string, not null, until the mail is opened.
        "opened_at": m.opened_at.map(timestamp).unwrap_or_default(),
    });
    let d = data.downloads.iter().find(|d| d.id == m.download);
    if let Some(dl) = download(data, d, inc) {
        v["download"] = dl;
    }
    if inc.author {
        v["author"] = person(me);
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn documented_formats() {
        assert_eq!(formatted_size(43_389), "42.37 KB");
        assert_eq!(formatted_size(78_508), "76.67 KB");
        assert_eq!(formatted_size(12), "12 B");
        assert_eq!(formatted_size(3 << 20), "3.00 MB");
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(timestamp(t), "2023-11-14 22:13:20");
    }
}
