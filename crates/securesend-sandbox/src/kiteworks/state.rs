//! What the emulated Kiteworks remembers: the user and their folders, files, upload sessions
//! and mails, and how each is shown on the wire.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use serde_json::{Value, json};

use super::wire::timestamp;
use crate::store::StoredFile;

/// The signed-in user (the sandbox has one).
#[derive(Clone, Debug)]
pub(crate) struct User {
    pub id: String,
    pub email: String,
    pub name: String,
    pub basedir_id: String,
    pub mydir_id: String,
}

#[derive(Clone, Debug)]
pub(crate) struct Folder {
    pub id: String,
    pub parent_id: String,
    pub name: String,
    pub created: SystemTime,
    pub deleted: bool,
}

/// Fingerprints of a stored file, shown once `ready_at` (sandbox clock, monotonic) has passed.
#[derive(Clone, Debug)]
pub(crate) struct Fingerprints {
    pub md5: String,
    pub sha3_256: String,
    pub ready_at: Duration,
}

#[derive(Clone, Debug)]
pub(crate) struct FileRec {
    pub id: String,
    /// The folder it is in; `None` for an attachment uploaded onto a mail.
    pub folder_id: Option<String>,
    /// The draft it was uploaded onto, for attachments.
    pub mail_id: Option<String>,
    pub name: String,
    pub mime: String,
    pub stored: StoredFile,
    pub fingerprints: Fingerprints,
    pub created: SystemTime,
    pub modified: SystemTime,
    pub versions: u64,
    pub deleted: bool,
}

/// Where an upload session puts its file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Target {
    Folder(String),
    Mail(String),
}

#[derive(Clone, Debug)]
pub(crate) struct UploadRec {
    pub id: u64,
    pub target: Target,
    pub filename: String,
    pub total_size: u64,
    pub total_chunks: u64,
    pub uploaded_chunks: u64,
    pub uploaded_size: u64,
    /// `clientCreated` and `clientModified` as given (checked to be in the service's form).
    pub client_created: Option<String>,
    pub client_modified: Option<String>,
    /// The store's session id.
    pub store_id: String,
    pub started: SystemTime,
    pub last: SystemTime,
    /// A chunk is being received; a second one at the same time is refused.
    pub busy: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum MailStatus {
    Draft,
    Sent,
}

impl MailStatus {
    fn as_str(self) -> &'static str {
        match self {
            MailStatus::Draft => "draft",
            MailStatus::Sent => "sent",
        }
    }
}

#[derive(Clone, Debug)]
pub(crate) struct MailRec {
    pub id: String,
    pub status: MailStatus,
    pub to: Vec<String>,
    pub cc: Vec<String>,
    pub bcc: Vec<String>,
    pub subject: String,
    pub body: Option<String>,
    pub files: Vec<String>,
    pub expire: Option<String>,
    pub acl: Option<String>,
    pub secure_body: bool,
    pub self_copy: bool,
    pub include_fingerprint: bool,
    pub return_receipts: Vec<String>,
    /// The package's id and the link recipients open it with, once sent.
    pub package: Option<(String, String)>,
    pub created: SystemTime,
    pub modified: SystemTime,
}

/// All of it, behind one lock.
#[derive(Debug, Default)]
pub(crate) struct Data {
    pub next_upload: u64,
    pub folders: HashMap<String, Folder>,
    pub files: HashMap<String, FileRec>,
    pub uploads: HashMap<u64, UploadRec>,
    pub mails: HashMap<String, MailRec>,
}

/// The host segment of chunk URIs, as the service names its upload node.
pub(crate) const UPLOAD_HOST: &str = "kwupload1";

impl Data {
    /// A live folder by id.
    pub(crate) fn folder(&self, id: &str) -> Option<&Folder> {
        self.folders.get(id).filter(|f| !f.deleted)
    }

    /// The live child folder of `parent` named `name` (case-insensitive).
    pub(crate) fn child_folder(&self, parent: &str, name: &str) -> Option<&Folder> {
        self.folders
            .values()
            .find(|f| !f.deleted && f.parent_id == parent && f.name.eq_ignore_ascii_case(name))
    }

    /// The live file named `name` in folder `folder`.
    pub(crate) fn file_in(&self, folder: &str, name: &str) -> Option<&FileRec> {
        self.files.values().find(|f| {
            !f.deleted
                && f.folder_id.as_deref() == Some(folder)
                && f.name.eq_ignore_ascii_case(name)
        })
    }

    /// A folder's path from the user's root (`My Folder/a/b`).
    pub(crate) fn folder_path(&self, id: &str, root: &str) -> String {
        let mut parts = Vec::new();
        let mut cur = self.folders.get(id);
        while let Some(f) = cur {
            if f.id == root {
                break;
            }
            parts.push(f.name.clone());
            cur = self.folders.get(&f.parent_id);
        }
        parts.reverse();
        parts.join("/")
    }

    /// The folder at `path` from the root (`a/b`), case-insensitive.
    pub(crate) fn folder_at(&self, path: &str, root: &str) -> Option<&Folder> {
        let mut cur: Option<&Folder> = None;
        let mut parent = root.to_owned();
        for seg in path.split('/').filter(|s| !s.is_empty()) {
            let f = self.child_folder(&parent, seg)?;
            parent = f.id.clone();
            cur = Some(f);
        }
        cur
    }
}

pub(crate) fn folder_json(f: &Folder, path: &str, user: &User) -> Value {
    let parent = if f.parent_id == user.basedir_id {
        user.basedir_id.clone()
    } else {
        f.parent_id.clone()
    };
    json!({
        "id": f.id,
        "parentId": parent,
        "name": f.name,
        "type": "d",
        "userId": user.id,
        "created": timestamp(f.created),
        "modified": timestamp(f.created),
        "deleted": f.deleted,
        "permDeleted": false,
        "path": path,
        "secure": false,
        "expire": 0,
    })
}

pub(crate) fn file_json(f: &FileRec, user: &User, now: Duration, path: Option<String>) -> Value {
    let ready = now >= f.fingerprints.ready_at;
    let (fingerprint, fingerprints) = if ready {
        (
            Value::String(f.fingerprints.md5.clone()),
            json!([
                { "algo": "sha3-256", "hash": f.fingerprints.sha3_256 },
                { "algo": "md5", "hash": f.fingerprints.md5 },
            ]),
        )
    } else {
        (Value::String("Generating...".into()), json!([]))
    };
    json!({
        "id": f.id,
        "parentId": f.folder_id,
        "name": f.name,
        "type": "f",
        "userId": user.id,
        "created": timestamp(f.created),
        "modified": timestamp(f.modified),
        "size": f.stored.size,
        "mime": f.mime,
        "fingerprint": fingerprint,
        "fingerprints": fingerprints,
        "deleted": f.deleted,
        "permDeleted": false,
        "locked": false,
        "versionsCount": f.versions,
        "avStatus": "allowed",
        "path": path,
    })
}

pub(crate) fn upload_json(u: &UploadRec, user: &User, base_url: &str) -> Value {
    let uri = format!("{UPLOAD_HOST}/rest/uploads/{}", u.id);
    let email_id = match &u.target {
        Target::Mail(id) => Value::String(id.clone()),
        Target::Folder(_) => Value::Null,
    };
    json!({
        "id": u.id,
        "uri": uri,
        "uploadUrl": format!("{base_url}/{uri}"),
        "userId": user.id,
        "timestamp": timestamp(u.started),
        "lastTimestamp": timestamp(u.last),
        "totalSize": u.total_size,
        "totalChunks": u.total_chunks,
        "uploadedSize": u.uploaded_size,
        "uploadedChunks": u.uploaded_chunks,
        "completeOk": 0,
        "finished": false,
        "error": "OK",
        "clientName": u.filename,
        "clientCreated": u.client_created,
        "clientModified": u.client_modified,
        "backend": "acfs",
        "location": UPLOAD_HOST,
        "emailId": email_id,
    })
}

/// A mail entity; `string_variables` gives `variables` as the specification's strings.
pub(crate) fn mail_json(m: &MailRec, user: &User, string_variables: bool) -> Value {
    let mut recipients = Vec::new();
    for (kind, list) in [(0, &m.to), (1, &m.cc), (2, &m.bcc)] {
        for email in list {
            recipients.push(json!({
                "userId": "",
                "type": kind,
                "email": email,
                "isDistributionList": false,
            }));
        }
    }
    let bucket = match m.status {
        MailStatus::Draft => "draft",
        MailStatus::Sent => "sent",
    };
    json!({
        "id": m.id,
        "senderId": user.id,
        "status": m.status.as_str(),
        "type": "original",
        "created": timestamp(m.created),
        "date": timestamp(m.modified),
        "modifiedDate": timestamp(m.modified),
        "deleted": false,
        "isUserSent": true,
        "recipients": recipients,
        "secureBody": m.secure_body,
        "subject": m.subject,
        "body": m.body,
        "attachmentCount": m.files.len(),
        "expirationDate": m.expire,
        "package": m.package.as_ref().map(|(id, link)| json!({
            "id": id,
            "acl": m.acl,
            "selfCopy": m.self_copy,
            "includeFingerprint": m.include_fingerprint,
            "downloadLink": link,
        })),
        "variables": m.package.as_ref().map(|(_, link)| if string_variables {
            json!([format!("DOWNLOAD_LINK={link}"), format!("SUBJECT={}", m.subject)])
        } else {
            json!([
                { "variable": "DOWNLOAD_LINK", "value": link },
                { "variable": "SUBJECT", "value": m.subject },
            ])
        }),
        "bucket": bucket,
        "isRead": true,
        "emailFrom": user.email,
    })
}
