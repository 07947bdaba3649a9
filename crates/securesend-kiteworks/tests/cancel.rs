//! Interrupting a send or an upload (Ctrl-C): a send stopped before its point of no return
//! leaves nothing on the service; one whose `PUT …/sendFile` is in flight is let finish; an
//! upload keeps its session for `--resume`.

mod common;

use std::time::Duration;

use common::{CHUNK, file, kit};
use securesend_core::{
    Attachment, Cancel, ErrorKind, SecureMailer, SecureMessage, UploadRequest, Uploader,
};
use securesend_sandbox::fault::{FaultAction, FaultRule};
use securesend_sandbox::journal::EntryState;
use securesend_sandbox::route::Route;

const CHUNK_ROUTE: &str = "POST /kwupload1/rest/uploads/*";

fn hold(route: &str, nth: u64) -> FaultRule {
    FaultRule::new(
        Route::parse(route).unwrap(),
        FaultAction::Delay(Duration::from_secs(3600)),
    )
    .nth(nth)
}

/// Whatever `work` gives, failing the test if it takes longer than a cancelled operation
/// should (a held request is held for an hour).
async fn promptly<T>(work: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(30), work)
        .await
        .expect("the operation stopped promptly")
}

/// Fires `cancel` once the sandbox holds a request matching `method` and `path_part`.
async fn cancel_when_held(k: &common::Kit, method: &str, path_part: &str, cancel: &Cancel) {
    for _ in 0..1000 {
        let held = k.sandbox.journal().snapshot().into_iter().any(|e| {
            e.method == method && e.path.contains(path_part) && e.state == EntryState::Pending
        });
        if held {
            cancel.cancel();
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("no {method} {path_part} was held");
}

/// Fires `cancel` once the sandbox holds a chunk on a `Delay` fault (not any chunk in flight).
async fn cancel_when_chunk_held(k: &common::Kit, cancel: &Cancel) {
    let held = |entries: &[securesend_sandbox::journal::JournalEntry]| {
        entries.iter().any(|e| {
            e.method == "POST"
                && e.path.starts_with("/kwupload1/rest/uploads/")
                && e.state == EntryState::Pending
                && matches!(
                    e.fault,
                    Some(securesend_sandbox::fault::AppliedFault::Delay { .. })
                )
        })
    };
    tokio::time::timeout(
        Duration::from_secs(20),
        k.sandbox.journal().wait_until(held),
    )
    .await
    .expect("the held chunk was reached");
    cancel.cancel();
}

#[tokio::test]
async fn a_send_cancelled_mid_chunk_deletes_its_draft_and_sessions_and_sends_nothing() {
    let k = kit().await;
    let p = k.provider();
    let dir = tempfile::tempdir().unwrap();
    let big = file(dir.path(), "big.bin", (3 * CHUNK + 1) as usize);
    // The second chunk is held by the service until the send is cancelled.
    k.sandbox.faults().add(hold(CHUNK_ROUTE, 2));
    let cancel = Cancel::new();
    let msg = SecureMessage::builder()
        .to("ada@example.com")
        .subject("interrupted")
        .attach(Attachment::from_path(&big))
        .attach(Attachment::from_bytes("small.txt", "done before the cut"))
        .cancel_on(cancel.clone())
        .build()
        .unwrap();
    let (sent, ()) =
        promptly(async { tokio::join!(p.send(msg), cancel_when_chunk_held(&k, &cancel)) }).await;
    let e = sent.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Cancelled, "{e}");
    assert!(e.is_not_sent(), "{e}");
    assert!(
        e.message().contains(
            "the send was interrupted before the message was sent; its draft was deleted"
        ),
        "{e}"
    );
    // Nothing is left on the service, and nothing went out.
    assert!(k.inspect.drafts().is_empty());
    assert_eq!(k.inspect.mail_count(), 0);
    assert_eq!(k.inspect.open_uploads(), 0);
    assert_eq!(k.sandbox.outbox().delivered_total(), 0);
    assert_eq!(k.count("PUT", "/rest/mail/"), 0);
    assert_eq!(k.count("DELETE", "/rest/mail/"), 1, "the draft was deleted");
    // Both files upload at once, so one or both sessions were unfinished at the cut; each
    // unfinished one was discarded, none is left.
    let discarded = k.count("DELETE", "/rest/uploads/");
    assert!(
        (1..=2).contains(&discarded),
        "{discarded} sessions discarded"
    );
}

#[tokio::test]
async fn a_cancel_during_the_send_itself_lets_it_finish() {
    let k = kit().await;
    let p = k.provider();
    // The PUT is held a moment; the cancel fires while it is in flight.
    k.sandbox.faults().add(
        FaultRule::new(
            Route::parse("PUT /rest/mail/*/actions/sendFile").unwrap(),
            FaultAction::Delay(Duration::from_millis(500)),
        )
        .nth(1),
    );
    let cancel = Cancel::new();
    let msg = SecureMessage::builder()
        .to("ada@example.com")
        .attach(Attachment::from_bytes("a.txt", "hello"))
        .cancel_on(cancel.clone())
        .build()
        .unwrap();
    let (sent, ()) = promptly(async {
        tokio::join!(
            p.send(msg),
            cancel_when_held(&k, "PUT", "/actions/sendFile", &cancel)
        )
    })
    .await;
    let receipt = sent.unwrap();
    assert!(cancel.is_cancelled());
    assert!(k.sandbox.outbox().get(&receipt.message_id).is_some());
    assert_eq!(k.sandbox.outbox().delivered_total(), 1);
    assert_eq!(k.count("DELETE", "/rest/mail/"), 0);
}

#[tokio::test]
async fn an_upload_cancelled_mid_chunk_keeps_its_session_and_names_resume() {
    let k = kit().await;
    let dir = tempfile::tempdir().unwrap();
    let path = file(dir.path(), "long.bin", (4 * CHUNK + 1) as usize);
    k.sandbox.faults().add(hold(CHUNK_ROUTE, 3));
    let cancel = Cancel::new();
    let first = k.provider();
    let req = UploadRequest::builder(Attachment::from_path(&path))
        .cancel_on(cancel.clone())
        .build()
        .unwrap();
    let (up, ()) =
        promptly(async { tokio::join!(first.upload(req), cancel_when_chunk_held(&k, &cancel)) })
            .await;
    let e = up.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Cancelled, "{e}");
    assert!(e.message().contains("--resume"), "{e}");
    assert_eq!(k.inspect.open_uploads(), 1, "the session is kept");
    let saved = k.dir.path().join("state/uploads");
    assert_eq!(std::fs::read_dir(&saved).unwrap().count(), 1);
    k.sandbox.faults().clear();

    // The next run with resume sends only what the service does not have.
    let before = k.count("POST", "/kwupload1/");
    let remote = k
        .provider()
        .upload(
            UploadRequest::builder(Attachment::from_path(&path))
                .resume(true)
                .build()
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(k.count("POST", "initiateUpload"), 1);
    assert_eq!(k.count("POST", "/kwupload1/") - before, 3, "chunks 3 to 5");
    let stored = k.inspect.file(&remote.id).unwrap();
    assert_eq!(
        k.sandbox.store().read(&stored.0).await.unwrap(),
        std::fs::read(&path).unwrap()
    );
    assert_eq!(k.inspect.open_uploads(), 0);
}

#[tokio::test]
async fn an_upload_that_cannot_resume_discards_its_session_when_cancelled() {
    let k = kit().await;
    k.sandbox.faults().add(hold(CHUNK_ROUTE, 2));
    let cancel = Cancel::new();
    let data: Vec<u8> = (0..(2 * CHUNK + 3)).map(|i| (i % 13) as u8).collect();
    let req = UploadRequest::builder(Attachment::from_bytes("mem.bin", data))
        .cancel_on(cancel.clone())
        .build()
        .unwrap();
    let p = k.provider();
    let (up, ()) =
        promptly(async { tokio::join!(p.upload(req), cancel_when_chunk_held(&k, &cancel)) }).await;
    let e = up.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Cancelled, "{e}");
    assert!(e.message().contains("discarded"), "{e}");
    assert_eq!(k.inspect.open_uploads(), 0);
    assert_eq!(k.count("DELETE", "/rest/uploads/"), 1);
}

#[tokio::test]
async fn a_cancel_during_the_pause_before_asking_for_the_draft_again_stops_at_once() {
    let k = kit().await;
    let p = k.provider();
    // The service does not take the draft and asks for half a minute's patience.
    k.sandbox.faults().add(
        FaultRule::new(
            Route::parse("POST /rest/mail/actions/sendFile").unwrap(),
            FaultAction::status_retry_after(503, 30),
        )
        .nth(1),
    );
    let cancel = Cancel::new();
    let msg = SecureMessage::builder()
        .to("ada@example.com")
        .subject("patience")
        .cancel_on(cancel.clone())
        .build()
        .unwrap();
    let canceller = async {
        for _ in 0..500 {
            if k.count("POST", "/rest/mail/actions/sendFile") == 1
                && k.sandbox
                    .journal()
                    .snapshot()
                    .iter()
                    .all(|e| e.state != EntryState::Pending)
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        cancel.cancel();
    };
    let started = std::time::Instant::now();
    let (sent, ()) = tokio::join!(p.send(msg), canceller);
    let e = sent.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Cancelled, "{e}");
    assert!(e.is_not_sent(), "{e}");
    assert!(e.message().contains("nothing was created"), "{e}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(k.count("POST", "/rest/mail/actions/sendFile"), 1);
    assert_eq!(k.inspect.mail_count(), 0);
}

#[tokio::test]
async fn a_cancel_while_a_session_is_being_opened_lets_it_open_then_discards_it() {
    let k = kit().await;
    let p = k.provider();
    // The service takes a moment to open the attachment's upload session.
    k.sandbox.faults().add(
        FaultRule::new(
            Route::parse("POST /rest/mail/*/actions/initiateUpload").unwrap(),
            FaultAction::delay_ms(800),
        )
        .nth(1),
    );
    let cancel = Cancel::new();
    let msg = SecureMessage::builder()
        .to("ada@example.com")
        .subject("opening")
        .attach(Attachment::from_bytes("a.txt", "hello"))
        .cancel_on(cancel.clone())
        .build()
        .unwrap();
    let (sent, ()) = promptly(async {
        tokio::join!(
            p.send(msg),
            cancel_when_held(&k, "POST", "/actions/initiateUpload", &cancel)
        )
    })
    .await;
    let e = sent.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Cancelled, "{e}");
    assert!(e.is_not_sent(), "{e}");
    let journal = k.sandbox.journal().snapshot();
    let opened = journal
        .iter()
        .find(|e| e.path.ends_with("/actions/initiateUpload"))
        .unwrap();
    // The session's opening was answered, not cut, and the session it made was discarded.
    assert_eq!(opened.state, EntryState::Answered);
    assert_eq!(opened.status, Some(201));
    assert_eq!(k.count("DELETE", "/rest/uploads/"), 1);
    assert_eq!(k.count("POST", "/kwupload1/"), 0, "no chunk went");
    assert!(k.inspect.drafts().is_empty());
    assert_eq!(k.inspect.open_uploads(), 0);
    assert_eq!(k.sandbox.outbox().delivered_total(), 0);
}

#[tokio::test]
async fn a_cancel_during_the_last_chunk_lets_it_finish_and_the_upload_is_done() {
    let k = kit().await;
    let dir = tempfile::tempdir().unwrap();
    let path = file(dir.path(), "last.bin", (2 * CHUNK + 1) as usize);
    // The last of three chunks is held a moment; the cancel fires while it is in flight.
    k.sandbox.faults().add(
        FaultRule::new(
            Route::parse(CHUNK_ROUTE).unwrap(),
            FaultAction::delay_ms(600),
        )
        .nth(3),
    );
    let cancel = Cancel::new();
    let req = UploadRequest::builder(Attachment::from_path(&path))
        .cancel_on(cancel.clone())
        .build()
        .unwrap();
    let p = k.provider();
    let (up, ()) =
        promptly(async { tokio::join!(p.upload(req), cancel_when_chunk_held(&k, &cancel)) }).await;
    let remote = up.unwrap();
    assert!(cancel.is_cancelled());
    let stored = k.inspect.file(&remote.id).unwrap();
    assert_eq!(
        k.sandbox.store().read(&stored.0).await.unwrap(),
        std::fs::read(&path).unwrap()
    );
    assert_eq!(k.inspect.open_uploads(), 0);
    assert_eq!(k.count("DELETE", "/rest/uploads/"), 0);
}

#[tokio::test]
async fn an_upload_whose_session_could_not_be_saved_does_not_name_resume() {
    let k = kit().await;
    // The state directory cannot hold the session: its `uploads` is a plain file.
    let state = k.dir.path().join("state");
    std::fs::create_dir_all(&state).unwrap();
    std::fs::write(state.join("uploads"), b"in the way").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = file(dir.path(), "long.bin", (3 * CHUNK + 1) as usize);
    k.sandbox.faults().add(hold(CHUNK_ROUTE, 2));
    let cancel = Cancel::new();
    let req = UploadRequest::builder(Attachment::from_path(&path))
        .cancel_on(cancel.clone())
        .build()
        .unwrap();
    let p = k.provider();
    let (up, ()) =
        promptly(async { tokio::join!(p.upload(req), cancel_when_chunk_held(&k, &cancel)) }).await;
    let e = up.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Cancelled, "{e}");
    assert!(!e.message().contains("--resume"), "{e}");
    assert!(e.message().contains("could not be saved"), "{e}");
    assert_eq!(k.inspect.open_uploads(), 0, "the session was discarded");
}
