//! Shared helpers: a Privasfer sandbox, a provider configured against it, and readers of what
//! the sandbox received.

#![allow(dead_code)] // each test binary uses a different part

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use securesend_core::config::ProfileConfig;
use securesend_core::http::Sleeper;
use securesend_privasfer::{PrivasferConfig, PrivasferProvider};
use securesend_sandbox::privasfer::Privasfer;
use securesend_sandbox::{ManualClock, Sandbox, SandboxOptions, SeedKind, SeededItem};
use sha2::Digest;

pub async fn sandbox(options: SandboxOptions) -> Sandbox {
    Sandbox::start(&Privasfer, options)
        .await
        .expect("the sandbox starts")
}

/// The sandbox's profile fields plus `extra`, as a profile.
pub fn profile(sb: &Sandbox, extra: &[(&str, toml::Value)]) -> ProfileConfig {
    let mut fields = sb.profile().clone();
    fields.remove("provider");
    for (k, v) in extra {
        fields.insert((*k).to_owned(), v.clone());
    }
    ProfileConfig::new("test", "privasfer", fields, ".")
}

pub fn config(sb: &Sandbox, extra: &[(&str, toml::Value)]) -> PrivasferConfig {
    PrivasferConfig::from_profile(&profile(sb, extra)).expect("the sandbox profile is valid")
}

/// Waits recorded, not slept; each also moves the sandbox's manual clock (when given), so a
/// rate-limit window or a `Retry-After` passes as it would in real time.
#[derive(Clone, Default)]
pub struct Waits(Arc<Mutex<Vec<Duration>>>);

impl Waits {
    pub fn sleeper(&self, clock: Option<ManualClock>) -> Sleeper {
        let waits = self.0.clone();
        Sleeper::new(move |d| {
            waits.lock().unwrap().push(d);
            if let Some(c) = &clock {
                c.advance(d);
            }
            Box::pin(async {})
        })
    }

    pub fn get(&self) -> Vec<Duration> {
        self.0.lock().unwrap().clone()
    }
}

pub fn provider(
    sb: &Sandbox,
    extra: &[(&str, toml::Value)],
    sleeper: Sleeper,
) -> PrivasferProvider {
    PrivasferProvider::with_sleeper(config(sb, extra), sleeper).expect("the provider builds")
}

/// Each request the sandbox saw as `METHOD route status` (routes are patterns, so ids do
/// not get in the way of comparing).
pub fn calls(sb: &Sandbox) -> Vec<String> {
    sb.journal()
        .snapshot()
        .iter()
        .map(|e| {
            format!(
                "{} {} {}",
                e.method,
                e.route.as_deref().unwrap_or(&e.path),
                e.status.map(|s| s.to_string()).unwrap_or_default()
            )
        })
        .collect()
}

pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(data))
}

pub fn sha256_file(path: &Path) -> String {
    sha256_hex(&std::fs::read(path).expect("read the saved file"))
}

/// Seeded files by name.
pub fn seeded_files(sb: &Sandbox) -> BTreeMap<String, SeededItem> {
    sb.seeded()
        .iter()
        .filter(|i| i.kind == SeedKind::File)
        .map(|i| (i.name.clone(), i.clone()))
        .collect()
}

/// Seeded messages of one box (`inbox` or `sent`) by subject.
pub fn seeded_mails(sb: &Sandbox, mailbox: &str) -> BTreeMap<String, SeededItem> {
    sb.seeded()
        .iter()
        .filter(|i| i.kind == SeedKind::Message && i.details["box"] == mailbox)
        .map(|i| (i.name.clone(), i.clone()))
        .collect()
}

fn u16_at(b: &[u8], i: usize) -> usize {
    usize::from(u16::from_le_bytes([b[i], b[i + 1]]))
}

fn u32_at(b: &[u8], i: usize) -> usize {
    u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]) as usize
}

/// The members of a ZIP of stored entries: (name, sha256 of the content).
pub fn zip_members(bytes: &[u8]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut i = 0;
    while bytes[i..].starts_with(b"PK\x03\x04") {
        assert_eq!(u16_at(bytes, i + 8), 0, "stored entries only");
        let size = u32_at(bytes, i + 18);
        let (n, m) = (u16_at(bytes, i + 26), u16_at(bytes, i + 28));
        let name = String::from_utf8(bytes[i + 30..i + 30 + n].to_vec()).unwrap();
        let start = i + 30 + n + m;
        out.push((name, sha256_hex(&bytes[start..start + size])));
        i = start + size;
    }
    assert!(
        bytes[i..].starts_with(b"PK\x01\x02"),
        "the central directory follows"
    );
    out
}
