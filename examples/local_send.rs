//! Sends a message with two attachments through the `local` provider, configured in code.
//!
//! `cargo run -p securesend-examples --example local_send` writes into `./securesend-data`.

use securesend::config::{ProfileConfig, Table};
use securesend::{Attachment, Priority, SecureMessage};

#[tokio::main]
async fn main() -> securesend::Result<()> {
    let mut fields = Table::new();
    fields.insert("root".into(), "securesend-data".into());
    fields.insert("from".into(), "Reports <reports@example.com>".into());
    let provider = securesend::connect(&ProfileConfig::new("example", "local", fields, "."))?;

    let message = SecureMessage::builder()
        .to("Ada Lovelace <ada@example.com>")
        .cc("grace@example.com")
        .subject("Quarterly figures")
        .text("Hello Ada,\n\nthe figures are attached.\n")
        .html("<p>Hello Ada,</p><p>the figures are attached.</p>")
        .priority(Priority::High)
        .attach(Attachment::from_bytes(
            "figures.csv",
            "quarter,total\nQ3,42\n",
        ))
        .attach(Attachment::from_bytes("notes.txt", "Checked twice."))
        .build()?;

    let receipt = provider.send(message).await?;
    securesend_examples::print_receipt(&receipt);
    Ok(())
}
