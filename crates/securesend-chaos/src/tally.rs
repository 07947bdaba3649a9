//! Counting from the service's side: what the sandbox delivered (outbox) and stored (store),
//! matched to the operations by their tags, and what faults it injected (journal).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use securesend_sandbox::Sandbox;
use securesend_sandbox::journal::{EntryState, Journal};
use securesend_sandbox::mail::{Mail, Outbox};
use securesend_sandbox::store::{FileStore, StoredFile};

use crate::drive::{Kind, Run, Verdict};
use crate::files::Expected;

/// One provider's figures.
#[derive(Clone, Debug, Default)]
pub struct Tally {
    /// Operations run.
    pub operations: usize,
    /// Of which sends.
    pub sends: usize,
    /// Of which uploads.
    pub uploads: usize,
    /// Reported successful.
    pub ok: usize,
    /// Reported failed (not ambiguous).
    pub failed: usize,
    /// Reported with an unknown outcome.
    pub unknown: usize,
    /// Abandoned without an answer.
    pub hung: usize,
    /// Tried more than once by the application.
    pub retried: usize,
    /// Operations the service holds at least one record of.
    pub delivered: usize,
    /// Of those, the ones whose every record is byte-exact.
    pub exact: usize,
    /// Records beyond the first, over all operations.
    pub duplicates: usize,
    /// Reported successful, but the service has no record (or not under the receipt's id).
    pub lost: usize,
    /// Reported failed although the service has a record: the application was told a
    /// falsehood, even if no duplicate followed.
    pub failed_but_delivered: usize,
    /// Reported unknown; the service has a record.
    pub unknown_delivered: usize,
    /// Requests the service never finished: their connection closed mid-request (a client
    /// abandoning the other uploads of a send that failed) or they outlived the shutdown grace.
    pub unfinished: usize,
    /// Requests the service received.
    pub requests: usize,
    /// Faults injected, by kind.
    pub faults: BTreeMap<&'static str, usize>,
    /// What the wall clock said for the provider's run.
    pub wall: Duration,
    /// Findings worth a line each (a bad record, an error seen), without secrets: errors are
    /// the library's Display, which never shows one.
    pub notes: Vec<String>,
}

impl Tally {
    /// Whether nothing was lost, duplicated, altered or stuck.
    pub fn passed(&self) -> bool {
        self.duplicates == 0 && self.lost == 0 && self.exact == self.delivered && self.hung == 0
    }

    /// Adds another provider's figures (for the totals).
    pub fn add(&mut self, other: &Tally) {
        self.delivered += other.delivered;
        self.exact += other.exact;
        self.duplicates += other.duplicates;
        self.lost += other.lost;
        self.hung += other.hung;
    }

    /// The provider's line.
    pub fn line(&self, key: &str) -> String {
        let faults: usize = self.faults.values().sum();
        let kinds = self
            .faults
            .iter()
            .map(|(k, n)| format!("{k}:{n}"))
            .collect::<Vec<_>>()
            .join(",");
        let mut s = format!(
            "{key}: operations={} sends={} uploads={} ok={} failed={} unknown={}",
            self.operations, self.sends, self.uploads, self.ok, self.failed, self.unknown
        );
        if self.hung > 0 {
            let _ = write!(s, " hung={}", self.hung);
        }
        let _ = write!(
            s,
            " retried={} failed_but_delivered={} unknown_delivered={} delivered={} exact={} duplicates={} lost={} requests={} faults={faults} ({kinds}) wall={:.1}s",
            self.retried,
            self.failed_but_delivered,
            self.unknown_delivered,
            self.delivered,
            self.exact,
            self.duplicates,
            self.lost,
            self.requests,
            self.wall.as_secs_f64()
        );
        s
    }

    /// The final line, in the format the issue fixes.
    pub fn totals_line(&self) -> String {
        format!(
            "delivered={} exact={} duplicates={} lost={}",
            self.delivered, self.exact, self.duplicates, self.lost
        )
    }
}

/// What a sandbox recorded, read after it stopped so that nothing lands after the count.
#[derive(Debug)]
pub struct Records {
    outbox: Outbox,
    store: FileStore,
    journal: Journal,
}

impl Records {
    /// Handles on `sandbox`'s records that outlive it.
    pub fn of(sandbox: &Sandbox) -> Records {
        Records {
            outbox: sandbox.outbox().clone(),
            store: sandbox.store().clone(),
            journal: sandbox.journal().clone(),
        }
    }
}

/// Compares what the operations reported with what the service recorded.
pub fn count(runs: &[Run], records: &Records) -> Tally {
    let mut t = compare(runs, &records.outbox.messages(), &records.store.list());
    for entry in records.journal.snapshot() {
        t.requests += 1;
        if let Some(f) = &entry.fault {
            *t.faults.entry(f.kind()).or_default() += 1;
        }
        if entry.state == EntryState::Pending {
            t.unfinished += 1;
        }
    }
    if t.unfinished > 0 {
        t.notes.push(format!(
            "{} requests never finished on the service (the connection closed mid-request, or they outlived the service's shutdown grace)",
            t.unfinished
        ));
    }
    t
}

/// Compares what the operations reported with the service's delivered messages and stored
/// files.
fn compare(runs: &[Run], mails: &[Mail], stored: &[StoredFile]) -> Tally {
    let mut t = Tally {
        operations: runs.len(),
        ..Tally::default()
    };
    for run in runs {
        match run.op.kind {
            Kind::Send => t.sends += 1,
            Kind::Upload => t.uploads += 1,
        }
        if run.tries > 1 {
            t.retried += 1;
        }
        let records = match run.op.kind {
            Kind::Send => send_records(run, mails),
            Kind::Upload => upload_records(run, stored),
        };
        let n = records.len();
        if n > 0 {
            t.delivered += 1;
            let bad: Vec<&Record> = records
                .iter()
                .filter(|r| !r.matches(&run.expected))
                .collect();
            if bad.is_empty() {
                t.exact += 1;
            } else {
                for r in bad {
                    t.notes.push(format!(
                        "{}: {} holds {:?}, sent {:?}",
                        run.op.tag,
                        r.what,
                        r.files,
                        sizes_and_hashes(&run.expected)
                    ));
                }
            }
        }
        if n > 1 {
            t.duplicates += n - 1;
            t.notes.push(format!(
                "{}: recorded {n} times ({}); the application was told {}",
                run.op.tag,
                records
                    .iter()
                    .map(|r| r.what.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                told(run)
            ));
        }
        match &run.verdict {
            Verdict::Done { id } => {
                t.ok += 1;
                if let Some(reason) = lost(run, id, &records, mails) {
                    t.lost += 1;
                    t.notes.push(format!("{}: lost: {reason}", run.op.tag));
                }
            }
            Verdict::Failed { .. } => {
                t.failed += 1;
                if n > 0 {
                    t.failed_but_delivered += 1;
                    t.notes.push(format!(
                        "{}: reported failed, yet the service has it: {}",
                        run.op.tag,
                        run.error.as_deref().unwrap_or("")
                    ));
                }
            }
            Verdict::Unknown => {
                t.unknown += 1;
                if n > 0 {
                    t.unknown_delivered += 1;
                }
            }
            Verdict::Hung => {
                t.unknown += 1;
                t.hung += 1;
                t.notes.push(format!(
                    "{}: hung after {} tries: {}",
                    run.op.tag,
                    run.tries,
                    run.error.as_deref().unwrap_or("")
                ));
            }
        }
    }
    t
}

/// What the application was told, for a note.
fn told(run: &Run) -> String {
    match &run.verdict {
        Verdict::Done { .. } => format!("success after {} tries", run.tries),
        Verdict::Failed { kind } => format!("failed ({}) after {} tries", kind.as_str(), run.tries),
        Verdict::Unknown => format!("outcome unknown after {} tries", run.tries),
        Verdict::Hung => "nothing (hung)".into(),
    }
}

/// One record the service holds of an operation.
struct Record {
    /// `mail <id>` or `file <id>`.
    what: String,
    /// `(size, sha256)` of each file in it.
    files: Vec<(u64, String)>,
}

impl Record {
    fn matches(&self, expected: &[Expected]) -> bool {
        let mut theirs = self.files.clone();
        theirs.sort();
        theirs == sizes_and_hashes(expected)
    }
}

fn sizes_and_hashes(expected: &[Expected]) -> Vec<(u64, String)> {
    let mut v: Vec<_> = expected
        .iter()
        .map(|e| (e.size, e.sha256.clone()))
        .collect();
    v.sort();
    v
}

fn send_records(run: &Run, mails: &[Mail]) -> Vec<Record> {
    mails
        .iter()
        .filter(|m| m.subject == run.op.subject)
        .map(|m| Record {
            what: format!("mail {}", m.id),
            files: m
                .attachments
                .iter()
                .map(|a| (a.size, a.sha256.clone()))
                .collect(),
        })
        .collect()
}

fn upload_records(run: &Run, stored: &[StoredFile]) -> Vec<Record> {
    let name = run.op.file_name(1);
    stored
        .iter()
        .filter(|f| f.name == name)
        .map(|f| Record {
            what: format!("file {}", f.id),
            files: vec![(f.size, f.sha256.clone())],
        })
        .collect()
}

/// Why a success the library reported is not on the service, if it is not.
fn lost(run: &Run, id: &str, records: &[Record], mails: &[Mail]) -> Option<String> {
    if records.is_empty() {
        return Some(format!("reported done as {id}, the service has no record"));
    }
    if run.op.kind == Kind::Send
        && !mails
            .iter()
            .any(|m| m.id == id && m.subject == run.op.subject)
    {
        // An application keeps the receipt's id to find its message again.
        return Some(format!(
            "the receipt's message id {id} names no message of this send"
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use securesend::ErrorKind;
    use securesend_sandbox::mail::MailAttachment;

    use super::*;
    use crate::drive::Op;

    fn expected(op: &Op) -> Vec<Expected> {
        op.sizes
            .iter()
            .enumerate()
            .map(|(n, size)| Expected {
                name: op.file_name(n + 1),
                size: *size,
                sha256: format!("{:064x}", op.index * 10 + n),
            })
            .collect()
    }

    fn run(index: usize, kind: Kind, verdict: Verdict) -> Run {
        let tag = match kind {
            Kind::Send => format!("s{index:04}"),
            Kind::Upload => format!("u{index:04}"),
        };
        let op = Op {
            index,
            kind,
            subject: format!("chaos {tag}"),
            tag,
            sizes: vec![1 << 20],
        };
        Run {
            expected: expected(&op),
            op,
            verdict,
            tries: 1,
            error: None,
        }
    }

    fn done(id: &str) -> Verdict {
        Verdict::Done { id: id.into() }
    }

    /// The service's message for `run`, under `id`, holding exactly what was sent.
    fn mail(run: &Run, id: &str) -> Mail {
        let mut m = Mail::new("test", "a@example.com", &run.op.subject);
        m.id = id.into();
        m.attachments = run
            .expected
            .iter()
            .map(|e| MailAttachment {
                file_id: format!("f-{id}"),
                name: e.name.clone(),
                size: e.size,
                sha256: e.sha256.clone(),
            })
            .collect();
        m
    }

    /// The service's stored file for `run`, holding exactly what was sent.
    fn file(run: &Run, id: &str) -> StoredFile {
        let e = &run.expected[0];
        StoredFile {
            id: id.into(),
            name: e.name.clone(),
            size: e.size,
            sha256: e.sha256.clone(),
            path: std::path::PathBuf::new(),
            stored_at: std::time::SystemTime::UNIX_EPOCH,
            fingerprints: None,
        }
    }

    #[test]
    fn exact_deliveries_of_reported_successes_pass() {
        let runs = [
            run(0, Kind::Send, done("m0")),
            run(1, Kind::Upload, done("x")),
        ];
        let t = compare(&runs, &[mail(&runs[0], "m0")], &[file(&runs[1], "f1")]);
        assert_eq!((t.delivered, t.exact, t.duplicates, t.lost), (2, 2, 0, 0));
        assert!(t.passed(), "{}", t.line("test"));
        assert_eq!(t.totals_line(), "delivered=2 exact=2 duplicates=0 lost=0");
    }

    #[test]
    fn a_reported_success_the_service_lacks_is_lost() {
        let runs = [
            run(0, Kind::Send, done("m0")),
            run(1, Kind::Upload, done("x")),
        ];
        let t = compare(&runs, &[], &[]);
        assert_eq!((t.delivered, t.lost), (0, 2));
        assert!(!t.passed());
    }

    #[test]
    fn a_receipt_naming_another_message_is_lost() {
        let runs = [run(0, Kind::Send, done("m-other"))];
        let t = compare(&runs, &[mail(&runs[0], "m0")], &[]);
        assert_eq!((t.delivered, t.lost), (1, 1));
        assert!(!t.passed());
    }

    #[test]
    fn an_unknown_outcome_may_or_may_not_have_landed() {
        let runs = [
            run(0, Kind::Send, Verdict::Unknown),
            run(1, Kind::Send, Verdict::Unknown),
        ];
        let t = compare(&runs, &[mail(&runs[1], "m1")], &[]);
        assert_eq!(
            (t.unknown, t.unknown_delivered, t.delivered, t.lost),
            (2, 1, 1, 0)
        );
        assert!(t.passed(), "{}", t.line("test"));
    }

    #[test]
    fn a_double_delivery_is_a_duplicate_whatever_the_client_was_told() {
        for verdict in [
            done("m0"),
            Verdict::Unknown,
            Verdict::Failed {
                kind: ErrorKind::Unavailable,
            },
        ] {
            let runs = [run(0, Kind::Send, verdict)];
            let t = compare(&runs, &[mail(&runs[0], "m0"), mail(&runs[0], "m1")], &[]);
            assert_eq!((t.delivered, t.duplicates), (1, 1));
            assert!(!t.passed());
        }
        let runs = [run(0, Kind::Upload, done("x"))];
        let t = compare(&runs, &[], &[file(&runs[0], "a"), file(&runs[0], "b")]);
        assert_eq!(t.duplicates, 1);
        assert!(!t.passed());
    }

    #[test]
    fn altered_bytes_are_delivered_but_not_exact() {
        let runs = [
            run(0, Kind::Upload, done("x")),
            run(1, Kind::Send, done("m1")),
        ];
        let mut f = file(&runs[0], "a");
        f.sha256 = format!("{:064x}", 999);
        let mut m = mail(&runs[1], "m1");
        m.attachments[0].size -= 1;
        let t = compare(&runs, &[m], &[f]);
        assert_eq!((t.delivered, t.exact, t.lost), (2, 0, 0));
        assert!(!t.passed());
    }

    #[test]
    fn a_failure_that_was_delivered_is_counted() {
        let runs = [run(
            0,
            Kind::Upload,
            Verdict::Failed {
                kind: ErrorKind::Conflict,
            },
        )];
        let t = compare(&runs, &[], &[file(&runs[0], "a")]);
        assert_eq!((t.failed, t.failed_but_delivered, t.delivered), (1, 1, 1));
    }

    #[test]
    fn a_hang_fails_the_run() {
        let runs = [run(0, Kind::Upload, Verdict::Hung)];
        let t = compare(&runs, &[], &[]);
        assert_eq!((t.hung, t.unknown), (1, 1));
        assert!(!t.passed());
    }
}
