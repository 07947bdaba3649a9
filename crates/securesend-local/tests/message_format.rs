//! The stored message is a standard RFC 5322 message: Python's `email` package reads every
//! attachment back byte for byte.

use std::process::Command;

use securesend_core::checksum::sha256_hex;
use securesend_core::{Attachment, Priority, SecureMessage};
use securesend_local::{LocalConfig, LocalProvider};

const PARSE: &str = r#"
import email, hashlib, json, sys
from email import policy
msg = email.message_from_binary_file(open(sys.argv[1], "rb"), policy=policy.default)
out = {
    "defects": [str(d) for d in msg.defects],
    "subject": str(msg["Subject"]),
    "from": str(msg["From"]),
    "to": str(msg["To"]),
    "cc": str(msg["Cc"]),
    "bcc": msg["Bcc"],
    "priority": msg["X-Priority"],
    "text": msg.get_body(preferencelist=("plain",)).get_content(),
    "html": msg.get_body(preferencelist=("html",)).get_content(),
    "attachments": [],
}
for part in msg.iter_attachments():
    data = part.get_payload(decode=True)
    out["defects"] += [str(d) for d in part.defects]
    out["attachments"].append({"name": part.get_filename(), "size": len(data),
                               "sha256": hashlib.sha256(data).hexdigest(),
                               "type": part.get_content_type()})
print(json.dumps(out))
"#;

fn python() -> String {
    std::env::var("PYTHON").unwrap_or_else(|_| "python3".to_owned())
}

#[tokio::test]
async fn python_email_reads_every_attachment_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let provider = LocalProvider::new(LocalConfig::new(dir.path().join("data"))).into_provider();

    let binary: Vec<u8> = (0..300_001u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let latin1 = b"caf\xe9 cr\xe8me\r\n\x00\xff".to_vec();
    let long_name = format!("{}.txt", "Überlänge-".repeat(15));
    let files: Vec<(String, Vec<u8>)> = vec![
        ("report 2026 – Q3 (final).pdf".to_owned(), binary),
        ("notes.txt".to_owned(), latin1),
        ("empty.dat".to_owned(), Vec::new()),
        ("日本語の名前.csv".to_owned(), b"a,b\n1,2\n".to_vec()),
        (long_name, b"x".repeat(57 * 3 + 1)),
    ];
    let mut b = SecureMessage::builder()
        .from("Sender Ümlaut <sender@example.com>")
        .to("Ada Lovelace <ada@example.com>")
        .cc("\"Doe, Jane\" <jane@example.org>")
        .bcc("hidden@example.net")
        .subject("Grüße — quarterly report with a rather long subject line that needs folding because it goes on and on")
        .text("Hello Ada,\nfiles attached.\n")
        .html("<p>Hello <b>Ada</b> – files attached.</p>")
        .priority(Priority::High);
    for (name, data) in &files {
        b = b.attach(Attachment::from_bytes(name.clone(), data.clone()));
    }
    let receipt = provider.send(b.build().unwrap()).await.unwrap();
    let eml = receipt.location.clone().unwrap();

    let out = Command::new(python())
        .args(["-c", PARSE, &eml])
        .output()
        .expect("python3 runs (install it: the test suite needs it)");
    assert!(
        out.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let parsed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();

    assert_eq!(parsed["defects"], serde_json::json!([]), "{parsed}");
    assert_eq!(
        parsed["subject"],
        "Grüße — quarterly report with a rather long subject line that needs folding because it goes on and on"
    );
    assert_eq!(parsed["from"], "Sender Ümlaut <sender@example.com>");
    assert_eq!(parsed["to"], "Ada Lovelace <ada@example.com>");
    assert_eq!(parsed["cc"], "\"Doe, Jane\" <jane@example.org>");
    assert_eq!(
        parsed["bcc"],
        serde_json::Value::Null,
        "bcc must not be written into the message"
    );
    assert_eq!(parsed["priority"], "1 (Highest)");
    assert_eq!(parsed["text"], "Hello Ada,\nfiles attached.\n");
    assert_eq!(parsed["html"], "<p>Hello <b>Ada</b> – files attached.</p>");

    let got = parsed["attachments"].as_array().unwrap();
    assert_eq!(got.len(), files.len());
    for ((name, data), part) in files.iter().zip(got) {
        assert_eq!(part["name"], name.as_str());
        assert_eq!(part["size"], data.len());
        assert_eq!(part["sha256"], sha256_hex(data), "{name}");
    }
    assert!(
        receipt
            .recipients
            .contains(&"hidden@example.net".to_owned())
    );
    assert_eq!(
        receipt.attachments[0].content_type.as_deref(),
        Some("application/pdf")
    );
}
