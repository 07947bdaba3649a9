//! Recipients as the service gets them: an internationalised domain as A-labels (no service
//! here speaks SMTPUTF8), and each mailbox once however often, and in whichever role and
//! spelling, the caller gave it.

use securesend::{Attachment, SecureMessage};

use crate::{Target, TestFiles};

/// The address part of what a service recorded (`"Ada" <ada@x>` or `ada@x`), with the domain
/// in lower case, as mailboxes compare.
fn mailbox(recorded: &str) -> String {
    let bare = match (recorded.rfind('<'), recorded.rfind('>')) {
        (Some(open), Some(close)) if open < close => &recorded[open + 1..close],
        _ => recorded,
    };
    match bare.trim().rsplit_once('@') {
        Some((user, domain)) => format!("{user}@{}", domain.to_ascii_lowercase()),
        None => bare.trim().to_owned(),
    }
}

/// Sends one message whose recipients repeat (in another case, in punycode, in another role)
/// and have internationalised domains, then checks what the service delivered to: every
/// address in ASCII with its domain as A-labels, each mailbox exactly once. Returns how many
/// recipients the service recorded (0 when the provider cannot send).
pub async fn recipients_once_in_ascii(target: &Target) -> usize {
    let caps = target.provider.capabilities().clone();
    if !caps.send {
        return 0;
    }
    let provider = target.provider.name().to_owned();
    let dir = TestFiles::new();
    let mut b = SecureMessage::builder()
        .subject("recipients once, in ASCII")
        .text("hello")
        .to("Ada <ada@bücher.example>")
        .to("grace@example.com")
        .to("ada@BÜCHER.example")
        .to("ada@xn--bcher-kva.example")
        .to("ken@例え.jp")
        .to("Grace H <grace@EXAMPLE.COM>");
    let mut expected = vec![
        "ada@xn--bcher-kva.example",
        "grace@example.com",
        "ken@xn--r8jz45g.jp",
    ];
    if caps.cc {
        b = b
            .cc("grace@example.com")
            .cc("cat@bücher.example")
            .cc("cat@xn--bcher-kva.example");
        expected.push("cat@xn--bcher-kva.example");
    }
    // A provider without cc hides every recipient or none (Tuyu's bcc flag): mixing to and
    // bcc is refused there, so bcc joins only where roles mix.
    if caps.bcc && caps.cc {
        b = b.bcc("ken@例え.jp").bcc("eve@example.com");
        expected.push("eve@example.com");
    }
    if caps.attachments {
        b = b.attach(Attachment::from_path(dir.create("note.txt", 64)));
    }
    let msg = b.build().expect("a valid message");
    let receipt = target
        .provider
        .send(msg)
        .await
        .unwrap_or_else(|e| panic!("{provider}: send failed: {e}"));

    let mut recorded: Vec<String> = target.observer.recipients(&receipt).await;
    for r in &recorded {
        assert!(
            r.is_ascii(),
            "{provider}: the service got {r:?}, not the A-label form"
        );
    }
    let mut got: Vec<String> = recorded.drain(..).map(|r| mailbox(&r)).collect();
    got.sort();
    expected.sort();
    assert_eq!(got, expected, "{provider}: who the service delivered to");

    // The receipt tells the sender what went out: the same addresses, once.
    let mut in_receipt: Vec<String> = receipt
        .to
        .iter()
        .chain(&receipt.cc)
        .chain(&receipt.bcc)
        .map(|r| mailbox(r))
        .collect();
    in_receipt.sort();
    if !in_receipt.is_empty() {
        assert_eq!(in_receipt, expected, "{provider}: the receipt's recipients");
    }
    got.len()
}
