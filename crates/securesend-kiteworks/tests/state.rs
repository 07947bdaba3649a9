//! Local state against the sandbox: the state directory stays private and is never a link,
//! token files that are links, FIFOs or too big are ignored without waiting on them, and the
//! JWT key file is read under the secret cap.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use common::kit;
use securesend_core::config::Table;
use securesend_core::{Diagnostics, ErrorKind, ListRequest};
use securesend_kiteworks::KiteworksProvider;

fn mkfifo(path: &Path) {
    let status = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .expect("mkfifo runs");
    assert!(status.success());
}

/// Builds the provider on a thread of its own, failing the test if that blocks (a FIFO opened
/// for reading waits for a writer forever). A blocked thread is left behind rather than
/// joined: a blocking task of the runtime would make the runtime's shutdown wait forever.
async fn build(k: &common::Kit, fields: Table) -> securesend_core::Result<KiteworksProvider> {
    let profile = k.profile(fields);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(KiteworksProvider::from_profile(&profile));
    });
    // Waiting here blocks this test's runtime thread, which has nothing else to do meanwhile.
    rx.recv_timeout(Duration::from_secs(10))
        .expect("building the provider does not block")
}

fn token_requests(k: &common::Kit) -> usize {
    k.count("POST", "/oauth/token")
}

#[tokio::test]
async fn a_state_dir_that_is_a_link_is_refused_with_its_key_and_target() {
    let k = kit().await;
    let elsewhere = k.dir.path().join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    let link = k.dir.path().join("linked-state");
    std::os::unix::fs::symlink(&elsewhere, &link).unwrap();
    for shown in [link.display().to_string(), format!("{}/", link.display())] {
        let mut fields = k.fields();
        fields.insert("state_dir".into(), shown.clone().into());
        let e = build(&k, fields).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Configuration, "{e}");
        let line = e.to_string();
        assert!(
            line.contains("profiles.test.state_dir")
                && line.contains("symbolic link")
                && line.contains(&elsewhere.display().to_string())
                && !line.contains('\n'),
            "{shown}: {line}"
        );
    }
    assert_eq!(std::fs::read_dir(&elsewhere).unwrap().count(), 0);
    assert_eq!(token_requests(&k), 0, "refused before any request");
}

#[tokio::test]
async fn an_open_state_dir_is_made_private() {
    let k = kit().await;
    let state = k.dir.path().join("state");
    k.provider().authenticate().await.unwrap();
    assert_eq!(mode(&state), 0o700, "created owner-only");
    std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(
        state.join("token.json"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let p = build(&k, k.fields()).await.unwrap();
    assert_eq!(mode(&state), 0o700, "fixed before anything was read");
    assert_eq!(mode(&state.join("token.json")), 0o600);
    // The token itself is still good: no sign-in.
    let calls = token_requests(&k);
    p.into_provider().list(ListRequest::top()).await.unwrap();
    assert_eq!(token_requests(&k), calls);
}

fn mode(p: &Path) -> u32 {
    std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o777
}

#[tokio::test]
async fn a_token_file_that_is_a_fifo_is_ignored_without_blocking() {
    let k = kit().await;
    let state = k.dir.path().join("state");
    std::fs::create_dir_all(&state).unwrap();
    std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o700)).unwrap();
    mkfifo(&state.join("token.json"));
    let p = build(&k, k.fields()).await.unwrap();
    let calls = token_requests(&k);
    p.into_provider().list(ListRequest::top()).await.unwrap();
    assert_eq!(
        token_requests(&k),
        calls + 1,
        "signed in as if nothing were kept"
    );
    // Signing in put a regular file in its place.
    assert!(
        std::fs::symlink_metadata(state.join("token.json"))
            .unwrap()
            .is_file()
    );
}

#[tokio::test]
async fn a_token_file_that_is_a_link_is_not_used_nor_written_through() {
    let k = kit().await;
    // A real token, kept for this very profile, but elsewhere.
    let mut other = k.fields();
    let other_state = k.dir.path().join("other-state");
    other.insert("state_dir".into(), other_state.display().to_string().into());
    build(&k, other.clone())
        .await
        .unwrap()
        .authenticate()
        .await
        .unwrap();
    let kept = std::fs::read(other_state.join("token.json")).unwrap();
    let state = k.dir.path().join("state");
    std::fs::create_dir_all(&state).unwrap();
    std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o700)).unwrap();
    std::os::unix::fs::symlink(other_state.join("token.json"), state.join("token.json")).unwrap();

    let calls = token_requests(&k);
    let p = build(&k, k.fields()).await.unwrap().into_provider();
    p.list(ListRequest::top()).await.unwrap();
    assert_eq!(
        token_requests(&k),
        calls + 1,
        "the linked token is not used"
    );
    // The new token replaced the link; the file it pointed to is untouched.
    assert!(
        std::fs::symlink_metadata(state.join("token.json"))
            .unwrap()
            .is_file()
    );
    assert_eq!(std::fs::read(other_state.join("token.json")).unwrap(), kept);
}

#[tokio::test]
async fn a_token_file_over_the_cap_is_ignored() {
    let k = kit().await;
    k.provider().authenticate().await.unwrap();
    let file = k.dir.path().join("state/token.json");
    // Still valid JSON, a real token, padded past 64 KiB.
    let mut text = std::fs::read_to_string(&file).unwrap();
    text.push_str(&" ".repeat(64 << 10));
    std::fs::write(&file, text).unwrap();
    let calls = token_requests(&k);
    let p = build(&k, k.fields()).await.unwrap().into_provider();
    p.list(ListRequest::top()).await.unwrap();
    assert_eq!(token_requests(&k), calls + 1);
}

#[tokio::test]
async fn the_jwt_key_file_is_read_under_the_secret_cap() {
    let k = kit().await;
    let fifo = k.dir.path().join("key.fifo");
    mkfifo(&fifo);
    let big = k.dir.path().join("key.big");
    std::fs::write(&big, vec![b'A'; (64 << 10) + 1]).unwrap();
    for (path, says) in [
        (&fifo, "is a FIFO (named pipe), not a regular file"),
        (&big, "the limit for a private key file is"),
        (&k.dir.path().join("missing.pem"), "does not exist"),
    ] {
        let mut fields = k.fields_for("jwt");
        fields.insert(
            "jwt_private_key_file".into(),
            path.display().to_string().into(),
        );
        let e = build(&k, fields).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Configuration, "{e}");
        let line = e.to_string();
        assert!(
            line.contains("profiles.test.jwt_private_key_file")
                && line.contains(says)
                && !line.contains('\n'),
            "{line}"
        );
    }
    // The real key still works.
    build(&k, k.fields_for("jwt"))
        .await
        .unwrap()
        .authenticate()
        .await
        .unwrap();
}
