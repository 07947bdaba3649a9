//! A send taken over after its point of no return (the rename into the outbox) is settled from
//! the outbox: the message there is reported sent, a complete staged one is moved in, and only
//! when neither exists is it written afresh. Never two messages.

use std::path::Path;
use std::sync::Arc;

use securesend_core::journal::MemoryJournal;
use securesend_core::{Attachment, Provider, SecureMessage};
use securesend_local::{LocalConfig, LocalProvider};

fn message() -> SecureMessage {
    SecureMessage::builder()
        .to("ada@example.com")
        .subject("Lab results")
        .attach(Attachment::from_bytes("results.csv", "Hb,14.1\n"))
        .build()
        .unwrap()
}

/// The messages in the outbox (visible ones) and the staged ones.
fn outbox(root: &Path) -> (Vec<String>, Vec<String>) {
    let mut visible = Vec::new();
    let mut staged = Vec::new();
    for e in std::fs::read_dir(root.join("outbox")).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        match name.strip_prefix(".tmp-") {
            Some(id) => staged.push(id.to_owned()),
            None => visible.push(name),
        }
    }
    (visible, staged)
}

/// A first send with a journal; returns the provider, its checkpoint and the message id.
async fn first_send(root: &Path) -> (Provider, serde_json::Value, String) {
    let provider = LocalProvider::new(LocalConfig::new(root)).into_provider();
    let journal = Arc::new(MemoryJournal::default());
    let receipt = provider
        .send(message().with_journal(journal.clone()))
        .await
        .unwrap();
    let saved = journal.saved();
    assert_eq!(saved.len(), 1);
    assert_eq!(saved[0]["message_id"], receipt.message_id.as_str());
    (provider, saved[0].clone(), receipt.message_id)
}

async fn take_over(
    provider: &Provider,
    checkpoint: serde_json::Value,
) -> securesend_core::Result<securesend_core::SendReceipt> {
    let journal = Arc::new(MemoryJournal::resuming(Some(checkpoint), true));
    provider.send(message().with_journal(journal)).await
}

#[tokio::test]
async fn a_message_already_in_the_outbox_is_reported_sent_not_sent_again() {
    let dir = tempfile::tempdir().unwrap();
    let (provider, checkpoint, id) = first_send(dir.path()).await;
    let receipt = take_over(&provider, checkpoint).await.unwrap();
    assert_eq!(receipt.message_id, id);
    assert_eq!(outbox(dir.path()), (vec![id], vec![]));
}

#[tokio::test]
async fn a_complete_staged_message_is_moved_in() {
    let dir = tempfile::tempdir().unwrap();
    let (provider, checkpoint, id) = first_send(dir.path()).await;
    // The dead attempt had staged everything but not renamed it yet.
    let outbox_dir = dir.path().join("outbox");
    std::fs::rename(outbox_dir.join(&id), outbox_dir.join(format!(".tmp-{id}"))).unwrap();
    let receipt = take_over(&provider, checkpoint).await.unwrap();
    assert_eq!(receipt.message_id, id);
    assert_eq!(outbox(dir.path()), (vec![id], vec![]));
}

#[tokio::test]
async fn a_message_never_stored_is_written_afresh_once() {
    let dir = tempfile::tempdir().unwrap();
    let (provider, checkpoint, id) = first_send(dir.path()).await;
    std::fs::remove_dir_all(dir.path().join("outbox").join(&id)).unwrap();
    let receipt = take_over(&provider, checkpoint).await.unwrap();
    assert_ne!(receipt.message_id, id);
    assert_eq!(outbox(dir.path()), (vec![receipt.message_id], vec![]));
}

#[tokio::test]
async fn a_checkpoint_naming_a_path_is_refused_as_maybe_sent() {
    let dir = tempfile::tempdir().unwrap();
    let (provider, _, id) = first_send(dir.path()).await;
    for bad in [
        serde_json::json!({"message_id": "../../../etc/passwd-aaaaaaaaaaaa"}),
        serde_json::json!({"draft": 7}),
    ] {
        let err = take_over(&provider, bad).await.unwrap_err();
        assert!(err.outcome_unknown(), "{err}");
        assert!(!err.is_not_sent(), "{err}");
    }
    assert_eq!(outbox(dir.path()), (vec![id], vec![]));
}
