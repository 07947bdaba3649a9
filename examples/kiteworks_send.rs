//! Sends a message with two attachments through the `kiteworks` provider, against a Kiteworks
//! sandbox started in-process, then uploads a file into a new folder and downloads it again.
//!
//! `cargo run -p securesend-examples --example kiteworks_send`
//!
//! Against a real appliance, use a profile like the one in `docs/providers/kiteworks.md`
//! instead of the sandbox's.

use securesend::config::ProfileConfig;
use securesend::{Attachment, DownloadRequest, Expiry, SecureMessage, UploadRequest};
use securesend_sandbox::kiteworks::KiteworksService;
use securesend_sandbox::{Sandbox, SandboxOptions};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The emulator, with small chunks so the attachments travel in several pieces.
    let sandbox = Sandbox::start(
        &KiteworksService::default(),
        SandboxOptions::default().chunk_max(64 << 10),
    )
    .await?;
    let state = tempfile::tempdir()?;
    let mut fields = sandbox.profile().clone();
    fields.remove("provider");
    fields.insert(
        "state_dir".into(),
        state.path().display().to_string().into(),
    );
    let provider = securesend::connect(&ProfileConfig::new("example", "kiteworks", fields, "."))?;

    let figures: Vec<u8> = (0..200_000u32).flat_map(|i| i.to_le_bytes()).collect();
    let message = SecureMessage::builder()
        .to("Ada Lovelace <ada@example.com>")
        .cc("grace@example.com")
        .subject("Quarterly figures")
        .text("Hello Ada,\n\nthe figures are attached.\n")
        .expires(Expiry::Days(14))
        .require_login(true)
        .attach(Attachment::from_bytes("figures.bin", figures.clone()))
        .attach(Attachment::from_bytes("notes.txt", "Checked twice."))
        .build()?;
    let receipt = provider.send(message).await?;
    securesend_examples::print_receipt(&receipt);
    let delivered = sandbox
        .outbox()
        .get(&receipt.message_id)
        .ok_or("the sandbox delivered no such message")?;
    println!(
        "  the sandbox delivered it to {} with {} attachment(s)",
        delivered.recipients().collect::<Vec<_>>().join(", "),
        delivered.attachments.len()
    );

    let upload = UploadRequest::builder(Attachment::from_bytes("figures.bin", figures.clone()))
        .folder("My Folder/reports/2026")
        .create_parents(true)
        .build()?;
    let file = provider.upload(upload).await?;
    securesend_examples::print_file("uploaded", &file);
    let back = provider
        .download(DownloadRequest::new(&file.id))
        .await?
        .into_bytes(16 << 20)
        .await?;
    assert_eq!(back.as_ref(), figures.as_slice());
    println!("downloaded {} bytes, identical", back.len());
    sandbox.shutdown().await;
    Ok(())
}
