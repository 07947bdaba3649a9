//! Finds what there is to download on Privasfer and downloads it, verified.
//!
//! `cargo run -p securesend-examples --example privasfer_download` starts the Privasfer
//! sandbox on this machine and works against it; `… -- PROFILE` uses that profile of your
//! configuration instead (a `provider = "privasfer"` profile with your token and PIN).
//! Files are written to `./privasfer-downloads`.

use securesend::{Client, DownloadRequest, InboxQuery};
use securesend_privasfer::{ListQuery, PrivasferProvider};
use securesend_sandbox::privasfer::Privasfer;
use securesend_sandbox::{Sandbox, SandboxOptions};

#[tokio::main]
async fn main() -> securesend::Result<()> {
    // The sandbox stays up while `_sandbox` lives.
    let (profile, _sandbox) = match std::env::args().nth(1) {
        Some(name) => (Client::discover(None)?.profile(Some(&name))?, None),
        None => {
            let sandbox = Sandbox::start(&Privasfer, SandboxOptions::default())
                .await
                .map_err(|e| securesend::Error::config(format!("sandbox: {e}")))?;
            let mut fields = sandbox.profile().clone();
            fields.remove("provider");
            println!("using the Privasfer sandbox at {}", sandbox.base_url());
            let profile =
                securesend::config::ProfileConfig::new("sandbox", "privasfer", fields, ".");
            (profile, Some(sandbox))
        }
    };

    // The provider-specific API: sent mails and the account's own files.
    let privasfer = PrivasferProvider::from_profile(&profile)?;
    for mail in privasfer.sent_mails(&ListQuery::all()).await? {
        let opened = match mail.opened_at {
            Some(at) => format!("opened on {}", at.date()),
            None => "not opened yet".to_owned(),
        };
        println!(
            "sent {:?} to {} ({opened})",
            mail.subject.unwrap_or_default(),
            mail.recipient_email.unwrap_or_default()
        );
    }
    let own = privasfer
        .files(&ListQuery::all().sorted_by("size", true))
        .await?;

    // The generic roles, as any provider offers them.
    let provider = privasfer.clone().into_provider();
    let out = std::path::Path::new("privasfer-downloads");
    std::fs::create_dir_all(out).map_err(|e| securesend::Error::io("creating the folder", e))?;
    let mut ids: Vec<String> = own.iter().filter_map(|f| f.download_id.clone()).collect();
    for message in provider.inbox(InboxQuery::all()).await? {
        println!(
            "inbox: {:?} from {}",
            message.subject.unwrap_or_default(),
            message.from.unwrap_or_default()
        );
        ids.extend(message.files.into_iter().map(|f| f.id));
    }
    for id in ids {
        // Each download verifies size (and SHA-256 where known) before the file appears.
        let saved = provider
            .download(DownloadRequest::new(&id))
            .await?
            .save_replacing(out)
            .await?;
        println!(
            "  {id}\n    → {} ({} bytes, sha256 {})",
            saved.path.display(),
            saved.size,
            saved.checksums.sha256.unwrap_or_default()
        );
    }
    // Temporary keys are revoked after each download already; with `reuse_temporary_key`
    // this revokes the kept one.
    privasfer.close().await
}
