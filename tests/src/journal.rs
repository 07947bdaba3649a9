//! The point of no return as the delivery queue sees it: a send marks it in the message's
//! journal immediately before the request that may deliver, and a journal that refuses stops
//! the send with nothing delivered.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use securesend::journal::MemoryJournal;
use securesend::{
    Attachment, Capabilities, Error, ErrorKind, Result, SecureMessage, SendJournal, async_trait,
};
use serde_json::Value;
use tokio::sync::oneshot;

use crate::{DeliveredFile, Target, TestFiles, sha256_file};

/// What the refusing journal answers, as a worker whose job was taken over would.
pub const TAKEN_OVER: &str = "another worker has taken this send over; this attempt stops";

/// A message to one recipient, with one file where the provider sends files.
fn message(
    caps: &Capabilities,
    dir: &TestFiles,
    subject: &str,
) -> (SecureMessage, Vec<DeliveredFile>) {
    let mut b = SecureMessage::builder()
        .to("ada@example.com")
        .subject(subject)
        .text("Sent by the conformance suite through a journal.");
    let mut files = Vec::new();
    if caps.attachments {
        let path = dir.create("ledger.csv", 4096);
        files.push(DeliveredFile {
            name: "ledger.csv".to_owned(),
            size: 4096,
            sha256: sha256_file(&path),
        });
        b = b.attach(Attachment::from_path(path));
    }
    (b.build().expect("a valid message"), files)
}

/// A [`MemoryJournal`] that holds the send at its point of no return until the scenario has
/// looked at the service's records, so "before the request" is observed, not assumed.
#[derive(Debug)]
struct Gate {
    memory: Arc<MemoryJournal>,
    calls: Arc<AtomicUsize>,
    reached: Mutex<Option<oneshot::Sender<()>>>,
    release: Mutex<Option<oneshot::Receiver<()>>>,
}

#[async_trait]
impl SendJournal for Gate {
    fn resume(&self) -> Option<Value> {
        self.memory.resume()
    }

    fn committed_before(&self) -> bool {
        self.memory.committed_before()
    }

    async fn save(&self, checkpoint: Value) -> Result<()> {
        self.memory.save(checkpoint).await
    }

    async fn point_of_no_return(&self) -> Result<()> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.memory.point_of_no_return().await?;
        let reached = self
            .reached
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        let release = self
            .release
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let (Some(reached), Some(release)) = (reached, release) {
            let _ = reached.send(());
            let _ = release.await;
        }
        Ok(())
    }
}

/// Sends one message with a journal and checks that the provider marked its point of no
/// return once, before the service had delivered anything, and that the service then
/// delivered the message exactly once, files byte for byte. Returns the checkpoints the
/// provider saved, oldest first.
pub async fn journal_marks_the_point_of_no_return(target: &Target) -> Vec<Value> {
    let provider = target.provider.name().to_owned();
    let caps = target.provider.capabilities().clone();
    assert!(
        caps.journal,
        "{provider}: the capabilities say it marks no point of no return"
    );
    let dir = TestFiles::new();
    let (msg, expected) = message(&caps, &dir, "journal: the point of no return");
    let memory = Arc::new(MemoryJournal::default());
    let calls = Arc::new(AtomicUsize::new(0));
    let (reached_tx, mut reached) = oneshot::channel();
    let (release, release_rx) = oneshot::channel();
    let gate = Gate {
        memory: memory.clone(),
        calls: calls.clone(),
        reached: Mutex::new(Some(reached_tx)),
        release: Mutex::new(Some(release_rx)),
    };
    let msg = msg.with_journal(Arc::new(gate));

    let before = target.observer.deliveries().await;
    let send = target.provider.send(msg);
    tokio::pin!(send);
    let mut at_the_point = None;
    let sent = tokio::select! {
        // Finished without reaching the point of no return: the checks below say so.
        r = &mut send => r,
        Ok(()) = &mut reached => {
            at_the_point = Some(target.observer.deliveries().await);
            let _ = release.send(());
            send.await
        }
    };
    let receipt = sent.unwrap_or_else(|e| panic!("{provider}: the send failed: {e}"));

    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "{provider}: how often the point of no return was marked"
    );
    assert!(memory.passed_point_of_no_return(), "{provider}");
    assert_eq!(
        at_the_point,
        Some(before),
        "{provider}: deliveries when the point of no return was marked (it must come first)"
    );
    assert_eq!(
        target.observer.deliveries().await,
        before + 1,
        "{provider}: deliveries the send made"
    );
    assert_eq!(
        target.observer.delivered(&receipt).await,
        expected,
        "{provider}: what the recipient received"
    );
    memory.saved()
}

/// A journal whose point of no return is refused, as when another worker took the job over.
#[derive(Debug, Default)]
struct Refusing {
    calls: AtomicUsize,
}

#[async_trait]
impl SendJournal for Refusing {
    fn resume(&self) -> Option<Value> {
        None
    }

    fn committed_before(&self) -> bool {
        false
    }

    async fn save(&self, _checkpoint: Value) -> Result<()> {
        Ok(())
    }

    async fn point_of_no_return(&self) -> Result<()> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Err(Error::new(ErrorKind::Conflict, TAKEN_OVER))
    }
}

/// Sends one message whose journal refuses the point of no return and checks that the send
/// fails with the journal's error (kind `Conflict`, its words kept), marked not sent, after
/// asking the journal once, and that the service delivered nothing. Returns the error; the
/// provider's test checks that nothing the send created was left behind.
pub async fn failing_journal_sends_nothing(target: &Target) -> Error {
    let provider = target.provider.name().to_owned();
    let caps = target.provider.capabilities().clone();
    assert!(
        caps.journal,
        "{provider}: the capabilities say it marks no point of no return"
    );
    let dir = TestFiles::new();
    let (msg, _) = message(&caps, &dir, "journal: refused");
    let journal = Arc::new(Refusing::default());
    let msg = msg.with_journal(journal.clone());

    let before = target.observer.deliveries().await;
    let err = match target.provider.send(msg).await {
        Ok(r) => panic!(
            "{provider}: the journal refused, yet the send succeeded ({})",
            r.message_id
        ),
        Err(e) => e,
    };
    assert_eq!(err.kind(), ErrorKind::Conflict, "{provider}: {err}");
    assert!(err.is_not_sent(), "{provider}: not marked not sent: {err}");
    assert!(!err.outcome_unknown(), "{provider}: {err}");
    assert!(
        err.to_string().contains(TAKEN_OVER),
        "{provider}: the journal's words are lost: {err}"
    );
    assert_eq!(
        journal.calls.load(Ordering::SeqCst),
        1,
        "{provider}: how often the point of no return was asked for"
    );
    assert_eq!(
        target.observer.deliveries().await,
        before,
        "{provider}: the service delivered a message"
    );
    err
}
