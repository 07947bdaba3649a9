//! Sends a message with attachments through EGroupware, then shares a file from EGroupware's
//! file manager by its VFS path.
//!
//! `cargo run -p securesend-examples --example egroupware_send` runs against the EGroupware
//! emulator of `securesend-sandbox`, started in this process. Against a real server, the same
//! profile fields go into `securesend.toml` (see docs/providers/egroupware.md):
//!
//! ```toml
//! [profiles.groupware]
//! provider = "egroupware"
//! base_url = "https://groupware.example.com/egroupware/"
//! username = "ralf"
//! app_password = { env = "EGW_APP_PASSWORD" }
//! ```

use securesend::config::ProfileConfig;
use securesend::{Attachment, Delivery, SecureMessage, UploadRequest};
use securesend_egroupware::{AttachmentType, EgroupwareProvider, MailOptions, VfsPath};
use securesend_sandbox::egroupware::Egroupware;
use securesend_sandbox::{Sandbox, SandboxOptions};

#[tokio::main]
async fn main() -> securesend::Result<()> {
    let sandbox = Sandbox::start(&Egroupware::new(), SandboxOptions::default())
        .await
        .expect("the EGroupware sandbox starts on 127.0.0.1");
    let mut fields = sandbox.profile().clone();
    fields.remove("provider");
    let profile = ProfileConfig::new("example", "egroupware", fields, ".");

    // Through the facade, like any provider: attachments are uploaded (streamed) and sent.
    let provider = securesend::connect(&profile)?;
    let receipt = provider
        .send(
            SecureMessage::builder()
                .to("Ada Lovelace <ada@example.com>")
                .cc("grace@example.com")
                .subject("Quarterly figures")
                .text("Hello Ada,\n\nthe figures are attached.\n")
                .attach(Attachment::from_bytes(
                    "figures.csv",
                    "quarter,total\nQ3,42\n",
                ))
                .attach(Attachment::from_bytes("notes.txt", "Checked twice."))
                .build()?,
        )
        .await?;
    securesend_examples::print_receipt(&receipt);
    for warning in &receipt.warnings {
        println!("  warning: {warning}");
    }

    // Upload into the user's files over WebDAV, then share that file read-only by its VFS
    // path: EGroupware's own options go through `send_with`.
    let uploaded = provider
        .upload(
            UploadRequest::builder(Attachment::from_bytes("contract.txt", "Terms: none."))
                .folder("shared/contracts")
                .create_parents(true)
                .overwrite(true)
                .build()?,
        )
        .await?;
    securesend_examples::print_file("uploaded", &uploaded);

    let egroupware = EgroupwareProvider::from_profile(&profile)?;
    let home = egroupware.home().clone();
    let options = MailOptions::default()
        .vfs_attachment(VfsPath::from_id(&uploaded.id, &home)?)
        .attachment_type(AttachmentType::ShareRo);
    let shared = egroupware
        .send_with(
            SecureMessage::builder()
                .to("ada@example.com")
                .subject("The contract, as a read-only share")
                .delivery(Delivery::Link)
                .build()?,
            &options,
        )
        .await?;
    securesend_examples::print_receipt(&shared);
    Ok(())
}
