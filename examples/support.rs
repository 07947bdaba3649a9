//! Small helpers shared by the example programs in this directory.
//!
//! Run an example with `cargo run -p securesend-examples --example <name>`.

use securesend::{RemoteFile, SendReceipt};

/// Prints a receipt the way a program might log it.
pub fn print_receipt(receipt: &SendReceipt) {
    println!(
        "{} accepted message {} ({:?}) for {}",
        receipt.provider,
        receipt.message_id,
        receipt.status,
        receipt.recipients.join(", ")
    );
    for file in &receipt.attachments {
        print_file("  attached", file);
    }
    if let Some(location) = &receipt.location {
        println!("  see {location}");
    }
}

/// Prints one remote file.
pub fn print_file(prefix: &str, file: &RemoteFile) {
    println!(
        "{prefix} {} ({} bytes) id={} sha256={}",
        file.name,
        file.size.unwrap_or(0),
        file.id,
        file.checksums.sha256.as_deref().unwrap_or("-")
    );
}
