//! `securesend send`.

use std::fmt::Write as _;
use std::path::Path;

use securesend::file::{SmallFile, read_small_text, read_small_text_from};
use securesend::{
    Attachment, Cancel, Delivery, Error, Expiry, Priority, Provider, SecureMessage, SendReceipt,
};
use serde_json::json;

use super::{Failure, Outcome, human_size};
use crate::args::{PriorityArg, SendArgs};
use crate::progress::Bars;

/// A body from a file, or from standard input for `-`, never more than its cap.
fn read_text(path: &Path, limit: SmallFile) -> Result<String, Error> {
    if path == Path::new("-") {
        read_small_text_from(std::io::stdin().lock(), limit, "standard input")
    } else {
        read_small_text(path, limit)
    }
}

/// Builds the message from the arguments; every problem is reported before anything is sent.
pub fn message(
    args: SendArgs,
    bars: Option<&Bars>,
    cancel: &Cancel,
) -> Result<SecureMessage, Error> {
    let mut b = SecureMessage::builder()
        .subject(args.subject)
        .cancel_on(cancel.clone());
    for a in &args.to {
        b = b.to(a.as_str());
    }
    for a in &args.cc {
        b = b.cc(a.as_str());
    }
    for a in &args.bcc {
        b = b.bcc(a.as_str());
    }
    for a in &args.reply_to {
        b = b.reply_to(a.as_str());
    }
    if let Some(f) = &args.from {
        b = b.from(f.as_str());
    }
    if let Some(text) = args.body {
        b = b.text(text);
    } else if let Some(path) = &args.body_file {
        b = b.text(read_text(path, SmallFile::BODY)?);
    }
    if let Some(path) = &args.html_file {
        b = b.html(read_text(path, SmallFile::HTML_BODY)?);
    }
    if let Some(when) = &args.expires {
        b = b.expires(Expiry::parse(when)?);
    }
    if let Some(var) = &args.password_env {
        let password = std::env::var(var).map_err(|_| {
            Error::invalid_input(format!(
                "--password-env {var}: environment variable {var} is not set (or not UTF-8)"
            ))
        })?;
        b = b.password(password);
    }
    if args.link {
        b = b.delivery(Delivery::Link);
    }
    b = b
        .download_receipt(args.download_receipt)
        .require_login(args.require_login)
        .priority(match args.priority {
            PriorityArg::Low => Priority::Low,
            PriorityArg::Normal => Priority::Normal,
            PriorityArg::High => Priority::High,
        });
    for f in args.files {
        b = b.attach(Attachment::from_path(f));
    }
    if let Some(bars) = bars {
        b = b.progress(bars.callback(0));
    }
    b.build()
}

pub async fn run(
    provider: &Provider,
    args: SendArgs,
    bars: Option<&Bars>,
    cancel: &Cancel,
) -> Result<Outcome, Failure> {
    let interactive = args.interactive;
    let msg = message(args, bars, cancel)?;
    let receipt = if interactive {
        provider.compose(msg).await?
    } else {
        provider.send(msg).await?
    };
    let (verb, done) = if interactive {
        (
            "opened in the compose window:",
            "the message was opened in the compose window",
        )
    } else {
        ("sent", "the message was sent")
    };
    let text = receipt_text(verb, &receipt);
    let json = json!({ "receipt": receipt });
    Ok(Outcome::done(done, json, text))
}

/// The receipt as a person reads it: recipients by role, expiry, files, links.
pub fn receipt_text(verb: &str, receipt: &SendReceipt) -> String {
    let mut text = format!(
        "{verb} message {} via {} ({:?})\n",
        receipt.message_id, receipt.provider, receipt.status,
    );
    for (role, list) in [
        ("to", &receipt.to),
        ("cc", &receipt.cc),
        ("bcc", &receipt.bcc),
    ] {
        if !list.is_empty() {
            let _ = writeln!(text, "  {role}: {}", list.join(", "));
        }
    }
    if let Some(day) = receipt.expires {
        let _ = writeln!(text, "  expires: end of {day} (UTC)");
    }
    for a in &receipt.attachments {
        let _ = writeln!(
            text,
            "  attached {} ({}, id {}, sha256 {})",
            a.name,
            human_size(a.size.unwrap_or(0)),
            a.id,
            a.checksums.sha256.as_deref().unwrap_or("unknown")
        );
    }
    for l in &receipt.links {
        let mut about = Vec::new();
        if let Some(file) = &l.file {
            about.push(file.clone());
        }
        if let Some(at) = l.expires {
            about.push(format!("expires {}", at.date()));
        }
        if about.is_empty() {
            let _ = writeln!(text, "  link: {}", l.url);
        } else {
            let _ = writeln!(text, "  link: {} ({})", l.url, about.join(", "));
        }
    }
    for w in &receipt.warnings {
        let _ = writeln!(text, "  warning: {w}");
    }
    if let Some(loc) = &receipt.location {
        let _ = writeln!(text, "  message at: {loc}");
    }
    text
}
