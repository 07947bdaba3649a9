//! The data a fresh Privasfer sandbox starts with, listed in the seed manifest.

use std::time::{Duration, SystemTime};

use rand::{RngCore, SeedableRng};
use serde_json::json;

use crate::error::SandboxError;
use crate::service::{SeededItem, ServiceContext};
use crate::tokens::{Lifetime, TokenFormat, TokenRequest, random_token};

use super::state::{Data, DownloadRec, FileRec, InboxRec, SentRec, User};
use super::zip::crc32;
use super::{API_TOKEN_KIND, KEY};

/// What seeding produced.
pub(crate) struct Seeded {
    pub data: Data,
    pub token: String,
    pub pin: String,
    pub other_token: String,
    pub other_pin: String,
    pub items: Vec<SeededItem>,
}

const ADA: usize = 0;
const GRACE: usize = 1;
const DAY: Duration = Duration::from_secs(86_400);

/// Deterministic content: the same sandbox seed gives the same bytes, so manifests compare.
fn content(seed: u64, name: &str, size: usize, text: bool) -> Vec<u8> {
    let key = name.bytes().fold(seed ^ size as u64, |h, b| {
        h.wrapping_mul(31).wrapping_add(u64::from(b))
    });
    let mut rng = rand::rngs::StdRng::seed_from_u64(key);
    let mut out = vec![0u8; size];
    rng.fill_bytes(&mut out);
    if text {
        for b in &mut out {
            *b = b"abcdefghij klmnopqrstuvwxyz,;\n0123456789"[usize::from(*b) % 40];
        }
    }
    out
}

fn split_name(name: &str) -> (String, String) {
    match name.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() && !ext.is_empty() => (stem.into(), ext.into()),
        _ => (name.into(), String::new()),
    }
}

struct Seeder<'a> {
    ctx: &'a ServiceContext,
    data: Data,
    items: Vec<SeededItem>,
    now: SystemTime,
}

impl Seeder<'_> {
    fn id() -> String {
        uuid::Uuid::new_v4().to_string()
    }

    fn identifier(&self) -> String {
        loop {
            let id = random_token(TokenFormat::Alphanumeric { len: 4 });
            let taken = self.data.inbox.iter().any(|m| m.identifier == id)
                || self.data.sent.iter().any(|m| m.identifier == id);
            if !taken {
                return id;
            }
        }
    }

    async fn file(
        &mut self,
        owner: usize,
        name: &str,
        mime: &str,
        size: usize,
        age: Duration,
    ) -> Result<String, SandboxError> {
        let bytes = content(self.ctx.seed(), name, size, mime.starts_with("text/"));
        let crc = crc32(&bytes);
        let stored = self.ctx.store().put_bytes(name, bytes).await?;
        let (filename, extension) = split_name(name);
        let id = Self::id();
        self.items.push(
            SeededItem::file(&id, &stored)
                .detail("owner", self.data.users[owner].email.as_str())
                .detail("location", if owner == ADA { "files" } else { "other" }),
        );
        self.data.files.push(FileRec {
            id: id.clone(),
            owner,
            stored,
            filename,
            extension,
            mime: mime.to_owned(),
            created_at: self.now - age,
            trashed: false,
            crc32: crc,
        });
        Ok(id)
    }

    fn download(&mut self, owner: usize, files: &[String], created_at: SystemTime) -> String {
        let id = Self::id();
        self.data.downloads.push(DownloadRec {
            id: id.clone(),
            owner,
            files: files.to_vec(),
            created_at,
            created: self.ctx.clock().elapsed(),
            manual: false,
        });
        id
    }

    /// A mail from `from` to `to`: in `to`'s inbox and `from`'s sent items, with one download.
    fn mail(
        &mut self,
        from: usize,
        to: usize,
        subject: &str,
        files: &[String],
        age: Duration,
        opened: Option<Duration>,
    ) {
        let sent_at = self.now - age;
        let download = self.download(to, files, sent_at);
        let identifier = self.identifier();
        let body = format!("<p>{subject}: the files are attached securely.</p>");
        let inbox_id = Self::id();
        self.data.inbox.push(InboxRec {
            id: inbox_id.clone(),
            identifier: identifier.clone(),
            owner: to,
            sender: from,
            subject: subject.to_owned(),
            body: body.clone(),
            received_at: sent_at,
            opened: opened.is_some(),
            download: download.clone(),
        });
        let sent_id = Self::id();
        self.data.sent.push(SentRec {
            id: sent_id.clone(),
            identifier: identifier.clone(),
            owner: from,
            recipient: to,
            subject: subject.to_owned(),
            body,
            created_at: sent_at,
            sent_at,
            opened_at: opened.map(|after| sent_at + after),
            download: download.clone(),
        });
        let to_profile_account = to == ADA;
        let (from, to) = (
            self.data.users[from].email.clone(),
            self.data.users[to].email.clone(),
        );
        let common = |item: SeededItem| {
            item.detail("identifier", identifier.as_str())
                .detail("sender", from.as_str())
                .detail("recipient", to.as_str())
                .detail("download_id", download.as_str())
                .detail("files", json!(files))
        };
        self.items
            .push(common(SeededItem::message(&inbox_id, subject)).detail("box", "inbox"));
        self.items
            .push(common(SeededItem::message(&sent_id, subject)).detail("box", "sent"));
        // The files of a mail in the profile account's inbox, found by the mail.
        if to_profile_account {
            for item in self.items.iter_mut() {
                if files.contains(&item.id) {
                    item.details.insert("location".into(), "inbox".into());
                    item.details
                        .insert("mail_id".into(), inbox_id.clone().into());
                    item.details.insert("mail_files".into(), files.len().into());
                }
            }
        }
    }
}

pub(crate) async fn seed(ctx: &ServiceContext) -> Result<Seeded, SandboxError> {
    let user = |name: &str, email: &str| User {
        name: name.to_owned(),
        email: email.to_owned(),
        // Documented PINs are short and alphanumeric ("1a2s3d").
        pin: random_token(TokenFormat::Alphanumeric { len: 6 }),
        timezone: "Europe/Vilnius".to_owned(),
    };
    let mut s = Seeder {
        ctx,
        data: Data::default(),
        items: Vec::new(),
        now: ctx.clock().now(),
    };
    s.data.users = vec![
        user("Ada Lovelace", "ada@example.com"),
        user("Grace Hopper", "grace@example.com"),
    ];
    let token = |email: &str| {
        ctx.tokens()
            .issue_with(
                TokenRequest::new(API_TOKEN_KIND, email)
                    .lifetime(Lifetime::Never)
                    .format(TokenFormat::Alphanumeric { len: 60 }),
            )
            .value
    };
    let (ada_token, grace_token) = (token("ada@example.com"), token("grace@example.com"));

    s.file(ADA, "report.pdf", "application/pdf", 43_389, 3 * DAY)
        .await?;
    let figures = s
        .file(ADA, "figures.csv", "text/csv", 1_200, 2 * DAY)
        .await?;
    let overview = s
        .file(ADA, "Übersicht 2026.txt", "text/plain", 5_000, DAY)
        .await?;
    let contract = s
        .file(GRACE, "contract.pdf", "application/pdf", 20_000, 5 * DAY)
        .await?;
    let photo = s
        .file(GRACE, "photo.jpg", "image/jpeg", 30_000, 4 * DAY)
        .await?;
    let readme = s
        .file(GRACE, "readme.txt", "text/plain", 700, 4 * DAY)
        .await?;
    let hostile = s
        .file(
            GRACE,
            "../Q3 report:final?.pdf",
            "application/pdf",
            3_000,
            2 * DAY,
        )
        .await?;
    s.file(GRACE, "private.txt", "text/plain", 100, DAY).await?;

    s.mail(
        GRACE,
        ADA,
        "Contract for signature",
        &[contract],
        5 * DAY,
        None,
    );
    s.mail(
        GRACE,
        ADA,
        "Holiday photos",
        &[photo, readme],
        4 * DAY,
        Some(DAY),
    );
    s.mail(GRACE, ADA, "Q3 report", &[hostile], 2 * DAY, None);
    s.mail(
        ADA,
        GRACE,
        "Figures for Q3",
        &[figures],
        2 * DAY,
        Some(DAY / 2),
    );
    s.mail(ADA, GRACE, "Overview", &[overview], DAY, None);

    let (pin, other_pin) = (
        s.data.users[ADA].pin.clone(),
        s.data.users[GRACE].pin.clone(),
    );
    tracing::debug!(service = KEY, items = s.items.len(), "seeded");
    Ok(Seeded {
        data: s.data,
        token: ada_token,
        pin,
        other_token: grace_token,
        other_pin,
        items: s.items,
    })
}
