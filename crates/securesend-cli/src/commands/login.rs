//! `securesend login`.

use std::process::{Command, Stdio};

use securesend::{LoginPrompt, Provider};
use serde_json::json;

use super::{Failure, Outcome};
use crate::args::LoginArgs;

/// Prints the sign-in address on stderr (stdout stays for the result) and, unless asked not
/// to, hands it to the desktop's browser opener.
struct TerminalPrompt {
    open_browser: bool,
}

impl LoginPrompt for TerminalPrompt {
    fn open_url(&self, url: &str) {
        crate::output::stderr_line(&format!(
            "Open this address in a browser to sign in:\n\n  {url}\n"
        ));
        if self.open_browser {
            let opener = if cfg!(target_os = "macos") {
                "open"
            } else {
                "xdg-open"
            };
            // Best effort: without a desktop the printed address is enough.
            let _ = Command::new(opener)
                .arg(url)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn();
        }
        crate::output::stderr_line("Waiting for the service to send you back here…");
    }
}

pub async fn run(provider: &Provider, args: LoginArgs) -> Result<Outcome, Failure> {
    let prompt = TerminalPrompt {
        open_browser: !args.no_browser,
    };
    let who = provider.login(&prompt).await?;
    let text = format!("{}: {who}\n", provider.name());
    Ok(Outcome::done(
        "signed in and kept the credentials",
        json!({ "provider": provider.name(), "login": who }),
        text,
    ))
}
