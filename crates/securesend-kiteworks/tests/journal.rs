//! Sends that survive their process: checkpoints in the message's journal, the point of no
//! return, a taken-over send continued or reconciled from what the service holds, and several
//! processes refreshing the shared token at once.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{CHUNK, Kit, kit, sha256};
use securesend_core::journal::MemoryJournal;
use securesend_core::{
    Attachment, Error, ErrorKind, Result, SecureMailer, SecureMessage, SendJournal, SendReceipt,
    async_trait,
};
use securesend_sandbox::fault::{FaultAction, FaultRule};
use securesend_sandbox::journal::EntryState;
use securesend_sandbox::route::Route;
use serde_json::Value;

const INITIATE: &str = "/actions/initiateUpload";

/// The three attachments every message here carries; the second spans two chunks.
fn contents() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("a.txt", b"first attachment".to_vec()),
        ("b.bin", (0..CHUNK + 7).map(|i| (i % 251) as u8).collect()),
        ("c.txt", b"third attachment".to_vec()),
    ]
}

fn message(subject: &str, journal: Arc<dyn SendJournal>) -> SecureMessage {
    let mut b = SecureMessage::builder()
        .to("ada@example.com")
        .subject(subject)
        .text("the contract");
    for (name, data) in contents() {
        b = b.attach(Attachment::from_bytes(name, data));
    }
    b.build().unwrap().with_journal(journal)
}

/// A journal that records what the adapter did, and can fail or hang where told.
#[derive(Debug, Default)]
struct Scripted {
    resume: Option<Value>,
    committed: bool,
    /// `save` calls and `point_of_no_return` calls, in order.
    events: Mutex<Vec<&'static str>>,
    saved: Mutex<Vec<Value>>,
    /// The save (1-based) that fails.
    fail_save: Option<usize>,
    fail_point: bool,
    /// `point_of_no_return` records itself, then never returns: the process dies there.
    hang_point: bool,
}

fn taken_over() -> Error {
    Error::new(
        ErrorKind::Conflict,
        "the job was taken over by another worker; this attempt stops",
    )
}

impl Scripted {
    fn events(&self) -> Vec<&'static str> {
        self.events.lock().unwrap().clone()
    }
    fn saved(&self) -> Vec<Value> {
        self.saved.lock().unwrap().clone()
    }
    fn last(&self) -> Value {
        self.saved().pop().expect("a checkpoint was saved")
    }
}

#[async_trait]
impl SendJournal for Scripted {
    fn resume(&self) -> Option<Value> {
        self.resume.clone()
    }
    fn committed_before(&self) -> bool {
        self.committed
    }
    async fn save(&self, checkpoint: Value) -> Result<()> {
        let n = {
            let mut events = self.events.lock().unwrap();
            events.push("save");
            events.iter().filter(|e| **e == "save").count()
        };
        if self.fail_save == Some(n) {
            return Err(taken_over());
        }
        self.saved.lock().unwrap().push(checkpoint);
        Ok(())
    }
    async fn point_of_no_return(&self) -> Result<()> {
        self.events.lock().unwrap().push("point");
        if self.fail_point {
            return Err(taken_over());
        }
        if self.hang_point {
            std::future::pending::<()>().await;
        }
        Ok(())
    }
}

fn rule(route: &str, action: FaultAction) -> FaultRule {
    FaultRule::new(Route::parse(route).unwrap(), action)
}

/// Runs `send` in a task and kills it (drops it, as SIGKILL would stop the process, with no
/// clean-up) once `dead` holds.
async fn die_when(
    k: &Kit,
    send: impl std::future::Future<Output = Result<SendReceipt>> + Send + 'static,
    dead: impl Fn(&Kit) -> bool,
) {
    let task = tokio::spawn(send);
    for _ in 0..2000 {
        if dead(k) {
            task.abort();
            let gone = task.await;
            assert!(gone.is_err_and(|e| e.is_cancelled()), "killed mid-send");
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the send never reached the point it is killed at");
}

fn held(k: &Kit, method: &str, part: &str) -> bool {
    k.sandbox
        .journal()
        .snapshot()
        .iter()
        .any(|e| e.method == method && e.path.contains(part) && e.state == EntryState::Pending)
}

/// The one mail delivered carries the three attachments byte for byte.
fn assert_delivered_once(k: &Kit, receipt: &SendReceipt) {
    assert_eq!(k.sandbox.outbox().delivered_total(), 1);
    let mail = k
        .sandbox
        .outbox()
        .get(&receipt.message_id)
        .expect("delivered under the receipt's id");
    let mut got: Vec<(String, u64, String)> = mail
        .attachments
        .iter()
        .map(|a| (a.name.clone(), a.size, a.sha256.clone()))
        .collect();
    got.sort();
    let want: Vec<(String, u64, String)> = contents()
        .into_iter()
        .map(|(n, d)| (n.to_owned(), d.len() as u64, sha256(&d)))
        .collect();
    assert_eq!(got, want);
    assert!(k.inspect.drafts().is_empty(), "no draft is left");
    assert_eq!(k.inspect.open_uploads(), 0);
}

#[tokio::test]
async fn a_fresh_send_checkpoints_its_draft_then_each_file_then_marks_the_point_once() {
    let k = kit().await;
    let journal = Arc::new(Scripted::default());
    let receipt = k
        .provider()
        .send(message("fresh", journal.clone()))
        .await
        .unwrap();
    assert_eq!(journal.events(), ["save", "save", "save", "save", "point"]);
    let saved = journal.saved();
    assert_eq!(
        saved[0],
        serde_json::json!({"v": 1, "draft": receipt.message_id, "files": []}),
        "the draft first, before any file"
    );
    // Each checkpoint keeps what the one before it listed and adds one file.
    for (n, cp) in saved.iter().enumerate() {
        assert_eq!(cp["draft"], receipt.message_id.as_str());
        let files = cp["files"].as_array().unwrap();
        assert_eq!(files.len(), n);
        if n > 0 {
            for f in saved[n - 1]["files"].as_array().unwrap() {
                assert!(files.contains(f), "{cp}");
            }
        }
    }
    let last = saved[3]["files"].as_array().unwrap();
    let mut listed: Vec<(u64, String, u64, String)> = last
        .iter()
        .map(|f| {
            (
                f["index"].as_u64().unwrap(),
                f["name"].as_str().unwrap().to_owned(),
                f["size"].as_u64().unwrap(),
                f["id"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    listed.sort();
    let want: Vec<(u64, String, u64, String)> = contents()
        .into_iter()
        .zip(&receipt.attachments)
        .enumerate()
        .map(|(i, ((n, d), r))| (i as u64, n.to_owned(), d.len() as u64, r.id.clone()))
        .collect();
    assert_eq!(
        listed, want,
        "each file by index, name, size and its service id"
    );
    assert_eq!(k.count("PUT", "/actions/sendFile"), 1);
    assert_delivered_once(&k, &receipt);
}

#[tokio::test]
async fn a_send_killed_during_its_third_upload_is_continued_on_the_same_draft() {
    let k = kit().await;
    let mut fields = k.fields();
    // One file after the other, so that the third is the one held.
    fields.insert("attachment_concurrency".into(), 1.into());
    let first = Arc::new(Scripted::default());
    k.sandbox.faults().add(
        rule(
            "POST /rest/mail/*/actions/initiateUpload",
            FaultAction::Delay(Duration::from_secs(3600)),
        )
        .nth(3),
    );
    let p = k.provider_with(fields.clone());
    let msg = message("taken over", first.clone());
    let j = first.clone();
    die_when(&k, async move { p.send(msg).await }, move |k| {
        j.saved().len() == 3 && held(k, "POST", INITIATE)
    })
    .await;
    let checkpoint = first.last();
    let draft = checkpoint["draft"].as_str().unwrap().to_owned();
    assert_eq!(checkpoint["files"].as_array().unwrap().len(), 2);
    assert_eq!(k.inspect.drafts(), std::slice::from_ref(&draft));
    assert_eq!(k.count("POST", INITIATE), 3);

    // Another worker takes the job over.
    k.sandbox.faults().clear();
    let second = Arc::new(MemoryJournal::resuming(Some(checkpoint), false));
    let receipt = k
        .provider_with(fields)
        .send(message("taken over", second.clone()))
        .await
        .unwrap();
    assert_eq!(receipt.message_id, draft, "the same draft was sent");
    assert_eq!(
        k.count("POST", INITIATE),
        4,
        "only the third file was uploaded"
    );
    assert_eq!(
        k.count("POST", "/rest/mail/actions/sendFile"),
        1,
        "no new draft"
    );
    assert_eq!(k.count("PUT", "/actions/sendFile"), 1);
    assert!(second.passed_point_of_no_return());
    let saved = second.saved();
    assert_eq!(
        saved
            .iter()
            .map(|c| c["files"].as_array().unwrap().len())
            .collect::<Vec<_>>(),
        [2, 3],
        "the reused files are checkpointed again, then the third"
    );
    assert_eq!(receipt.attachments.len(), 3);
    assert_delivered_once(&k, &receipt);
}

#[tokio::test]
async fn a_send_killed_after_its_point_of_no_return_is_sent_once_and_never_afresh() {
    let k = kit().await;
    // The first worker marks its point of no return and dies before its PUT leaves.
    let first = Arc::new(Scripted {
        hang_point: true,
        ..Scripted::default()
    });
    let p = k.provider();
    let msg = message("committed", first.clone());
    let j = first.clone();
    die_when(&k, async move { p.send(msg).await }, move |_| {
        j.events().last() == Some(&"point")
    })
    .await;
    assert_eq!(k.count("PUT", "/actions/sendFile"), 0);
    let checkpoint = first.last();
    let draft = checkpoint["draft"].as_str().unwrap().to_owned();
    let uploads = k.count("POST", INITIATE);

    // Still a draft: the taken-over send makes the PUT, once.
    let second = Arc::new(MemoryJournal::resuming(Some(checkpoint.clone()), true));
    let receipt = k
        .provider()
        .send(message("committed", second.clone()))
        .await
        .unwrap();
    assert_eq!(receipt.message_id, draft);
    assert_eq!(k.count("PUT", "/actions/sendFile"), 1);
    assert_eq!(k.count("POST", INITIATE), uploads, "nothing uploaded again");
    assert_eq!(
        k.count("POST", "/rest/mail/actions/sendFile"),
        1,
        "no new draft"
    );
    assert_delivered_once(&k, &receipt);

    // A third worker, whether or not the last one was seen to commit, finds it sent: no PUT.
    for committed in [true, false] {
        let third = Arc::new(MemoryJournal::resuming(Some(checkpoint.clone()), committed));
        let again = k
            .provider()
            .send(message("committed", third.clone()))
            .await
            .unwrap();
        assert_eq!(again.message_id, draft);
        assert_eq!(
            again.attachments.iter().map(|a| &a.id).collect::<Vec<_>>(),
            receipt
                .attachments
                .iter()
                .map(|a| &a.id)
                .collect::<Vec<_>>()
        );
        assert!(!third.passed_point_of_no_return());
        assert_eq!(k.count("PUT", "/actions/sendFile"), 1, "no PUT at all");
        assert_delivered_once(&k, &receipt);
    }
}

#[tokio::test]
async fn a_put_refused_as_not_a_draft_after_the_point_of_no_return_is_the_earlier_send_landing() {
    let k = kit().await;
    let first = Arc::new(Scripted::default());
    let receipt = k
        .provider()
        .send(message("late", first.clone()))
        .await
        .unwrap();
    // The earlier attempt's PUT lands between this attempt's look at the message (still a
    // draft) and its own PUT, which the service then refuses as not a draft.
    let draft_view = serde_json::json!({"id": receipt.message_id, "status": "draft"}).to_string();
    k.sandbox.faults().add(
        rule(
            "GET /rest/mail/*",
            FaultAction::status(200).with_body("application/json", draft_view),
        )
        .nth(1),
    );
    let second = Arc::new(MemoryJournal::resuming(Some(first.last()), true));
    let again = k.provider().send(message("late", second)).await.unwrap();
    assert_eq!(again.message_id, receipt.message_id);
    assert_eq!(
        k.count("PUT", "/actions/sendFile"),
        2,
        "one sent, one refused"
    );
    assert_delivered_once(&k, &receipt);
}

#[tokio::test]
async fn a_checkpoint_whose_draft_is_gone_is_in_doubt_after_the_point_and_afresh_before() {
    let k = kit().await;
    // The first attempt fails at its last checkpoint and, as any failure before the send,
    // deletes its draft: the checkpoint it saved before names a draft that is gone.
    let first = Arc::new(Scripted {
        fail_save: Some(4),
        ..Scripted::default()
    });
    let e = k
        .provider()
        .send(message("stale", first.clone()))
        .await
        .unwrap_err();
    assert!(e.is_not_sent(), "{e}");
    assert_eq!(
        e.kind(),
        ErrorKind::Conflict,
        "the journal's own error: {e}"
    );
    assert!(k.inspect.drafts().is_empty());
    let stale = first.last();
    let draft = stale["draft"].as_str().unwrap().to_owned();

    // Committed before: never sent afresh, and the error names the message to look for.
    let doubt = Arc::new(MemoryJournal::resuming(Some(stale.clone()), true));
    let e = k
        .provider()
        .send(message("stale", doubt.clone()))
        .await
        .unwrap_err();
    assert!(
        e.outcome_unknown() && !e.is_not_sent(),
        "may have been sent: {e}"
    );
    assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
    assert!(e.to_string().contains(&draft), "{e}");
    assert!(e.to_string().contains("sent messages"), "{e}");
    assert_eq!(k.count("PUT", "/actions/sendFile"), 0);
    assert_eq!(
        k.count("POST", "/rest/mail/actions/sendFile"),
        1,
        "no new draft"
    );
    assert!(!doubt.passed_point_of_no_return());
    // Committed with no checkpoint at all: in doubt too.
    let blind = Arc::new(MemoryJournal::resuming(None, true));
    let e = k
        .provider()
        .send(message("stale", blind))
        .await
        .unwrap_err();
    assert!(
        e.outcome_unknown() && !e.is_not_sent(),
        "may have been sent: {e}"
    );
    assert_eq!(k.count("POST", "/rest/mail/actions/sendFile"), 1);
    assert_eq!(k.count("PUT", "/actions/sendFile"), 0);

    // Not committed: a new draft, sent once.
    let retry = Arc::new(MemoryJournal::resuming(Some(stale), false));
    let receipt = k.provider().send(message("stale", retry)).await.unwrap();
    assert_ne!(receipt.message_id, draft);
    assert_eq!(k.count("POST", "/rest/mail/actions/sendFile"), 2);
    assert_eq!(k.count("PUT", "/actions/sendFile"), 1);
    assert_delivered_once(&k, &receipt);
}

#[tokio::test]
async fn a_journal_that_fails_stops_the_send_before_the_put_and_deletes_the_draft() {
    let k = kit().await;
    for (n, journal) in [
        Scripted {
            fail_point: true,
            ..Scripted::default()
        },
        Scripted {
            fail_save: Some(1),
            ..Scripted::default()
        },
    ]
    .into_iter()
    .enumerate()
    {
        let journal = Arc::new(journal);
        let e = k
            .provider()
            .send(message("refused", journal.clone()))
            .await
            .unwrap_err();
        assert!(e.is_not_sent(), "{e}");
        assert_eq!(e.kind(), ErrorKind::Conflict, "{e}");
        assert!(e.to_string().contains("taken over"), "{e}");
        assert_eq!(k.count("PUT", "/actions/sendFile"), 0, "no PUT");
        assert_eq!(
            k.count("DELETE", "/rest/mail/"),
            n + 1,
            "the draft was deleted"
        );
        assert!(k.inspect.drafts().is_empty());
        assert_eq!(k.inspect.mail_count(), 0);
        assert_eq!(k.inspect.open_uploads(), 0);
        assert_eq!(k.sandbox.outbox().delivered_total(), 0);
    }
}

#[tokio::test]
async fn two_processes_refreshing_the_shared_token_at_once_both_send() {
    let k = kit().await;
    // The refresh-token grant: its configured token is spent at the first sign-in, so a
    // process whose refresh is refused cannot fall back on it.
    let issued = k.sandbox.tokens().issue_with(
        securesend_sandbox::tokens::TokenRequest::new("refresh", &k.options.user_email)
            .lifetime(securesend_sandbox::tokens::Lifetime::Never),
    );
    let mut fields = k.fields_for("refresh_token");
    fields.insert("refresh_token".into(), issued.value.as_str().into());
    securesend_core::Diagnostics::authenticate(&k.provider_with(fields.clone()))
        .await
        .unwrap();
    // Both processes start with the kept token, expired by their clocks.
    let token_file = k.dir.path().join("state/token.json");
    let mut kept: Value =
        serde_json::from_str(&std::fs::read_to_string(&token_file).unwrap()).unwrap();
    kept["expires_at"] = 1.into();
    std::fs::write(&token_file, kept.to_string()).unwrap();
    let (a, b) = (k.provider_with(fields.clone()), k.provider_with(fields));
    // The first refresh to arrive is held a moment, so that both are made with the same
    // refresh token before either process has written the new one.
    k.sandbox
        .faults()
        .add(rule("POST /oauth/token", FaultAction::delay_ms(500)).nth(2));
    let barrier = Arc::new(tokio::sync::Barrier::new(2));
    let send = |p: securesend_kiteworks::KiteworksProvider, subject: &'static str| {
        let barrier = barrier.clone();
        async move {
            barrier.wait().await;
            let msg = SecureMessage::builder()
                .to("ada@example.com")
                .subject(subject)
                .build()
                .unwrap();
            p.send(msg).await
        }
    };
    let (ra, rb) = tokio::join!(
        tokio::spawn(send(a, "from worker a")),
        tokio::spawn(send(b, "from worker b"))
    );
    let (ra, rb) = (ra.unwrap().unwrap(), rb.unwrap().unwrap());
    assert_ne!(ra.message_id, rb.message_id);
    let outbox = k.sandbox.outbox();
    assert_eq!(outbox.delivered_total(), 2);
    assert_eq!(outbox.with_subject("from worker a").len(), 1);
    assert_eq!(outbox.with_subject("from worker b").len(), 1);
    let refreshes: Vec<Option<u16>> = k
        .sandbox
        .journal()
        .snapshot()
        .iter()
        .filter(|e| e.method == "POST" && e.path.contains("/oauth/token"))
        .map(|e| e.status)
        .skip(1)
        .collect();
    let mut sorted = refreshes.clone();
    sorted.sort();
    assert_eq!(
        sorted,
        [Some(200), Some(400)],
        "both refreshed with the same refresh token, one was refused: {refreshes:?}"
    );
}
