//! Sends two files through Tuyu, to a user of the site and to an outside address, with links.
//!
//! `cargo run -p securesend-examples --example tuyu_send` starts the sandbox's Tuyu emulator
//! on loopback and sends there; `… --example tuyu_send -- PROFILE` sends through a `tuyu`
//! profile of your configuration instead (its `workspace_path` receives the files).

use securesend::config::ProfileConfig;
use securesend::{Attachment, Client, Delivery, Expiry, SecureMessage};
use securesend_sandbox::tuyu::{SITE_USER, Tuyu};
use securesend_sandbox::{Sandbox, SandboxOptions};

#[tokio::main]
async fn main() -> securesend::Result<()> {
    let profile = std::env::args().nth(1);
    // Kept alive until the end: dropping it stops the emulator.
    let mut sandbox = None;
    let (provider, colleague) = match profile {
        Some(name) => (
            Client::discover(None)?.connect(Some(&name))?,
            "colleague@example.com".to_owned(),
        ),
        None => {
            let s = Sandbox::start(&Tuyu::default(), SandboxOptions::default())
                .await
                .map_err(|e| securesend::Error::config(format!("sandbox: {e}")))?;
            let mut fields = s.profile().clone();
            fields.remove("provider");
            let p = securesend::connect(&ProfileConfig::new("sandbox", "tuyu", fields, "."))?;
            println!("Tuyu sandbox at {}", s.base_url());
            sandbox = Some(s);
            (p, SITE_USER.to_owned())
        }
    };

    let message = SecureMessage::builder()
        .to(colleague.as_str())
        .to("client@example.org")
        .subject("Signed contract")
        .text("Both copies are attached; the links work for a week.")
        .expires(Expiry::Days(7))
        .download_receipt(true)
        .delivery(Delivery::Link)
        .attach(Attachment::from_bytes(
            "contract.txt",
            "Signed by both parties.\n",
        ))
        .attach(Attachment::from_bytes(
            "annex.csv",
            "item,price\nwidget,42\n",
        ))
        .build()?;

    let receipt = provider.send(message).await?;
    securesend_examples::print_receipt(&receipt);
    for link in &receipt.links {
        println!(
            "  public link for {}: {}",
            link.file.as_deref().unwrap_or("?"),
            link.url
        );
    }
    if let Some(s) = &sandbox {
        let mail = s
            .outbox()
            .get(&receipt.message_id)
            .expect("the emulator recorded the message");
        println!(
            "the emulator mailed {} with {} files",
            mail.to.join(", "),
            mail.attachments.len()
        );
    }
    Ok(())
}
