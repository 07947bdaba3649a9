//! Exit codes and error output.

use securesend::{Error, ErrorKind};

use crate::commands::Failure;
use crate::output;

/// Success.
pub const OK: u8 = 0;
/// Bad input or configuration; nothing was sent.
pub const BAD_INPUT: u8 = 2;
/// Authentication failed or access denied.
pub const AUTH: u8 = 3;
/// The service failed or refused.
pub const SERVICE: u8 = 4;
/// Local I/O error.
pub const IO: u8 = 5;
/// The work was done (sent, uploaded, saved, created), but its result could not be written to
/// standard output: a script must not do it again.
pub const DONE_UNREPORTED: u8 = 6;
/// Interrupted (Ctrl-C, SIGTERM): 128 + SIGINT, as shells report it.
pub const CANCELLED: u8 = 130;

/// The exit code for an error.
pub fn code(e: &Error) -> u8 {
    match e.kind() {
        ErrorKind::InvalidInput | ErrorKind::Configuration | ErrorKind::Unsupported => BAD_INPUT,
        ErrorKind::Unauthenticated | ErrorKind::PermissionDenied => AUTH,
        ErrorKind::Io => IO,
        ErrorKind::Cancelled => CANCELLED,
        _ => SERVICE,
    }
}

/// Prints a failure: one line on stderr (the error, then what was done before it), and with
/// `--json` an error document on stdout.
pub fn report(failure: Failure, json: bool) -> u8 {
    let Failure {
        error: e,
        completed,
        note,
        text,
        code: fixed,
    } = failure;
    let code = fixed.unwrap_or_else(|| code(&e));
    if let (false, Some(text)) = (json, &text) {
        // The error line below says what failed whatever happens to this report.
        let _ = output::stdout(text);
    }
    match &note {
        Some(note) => output::stderr_line(&format!("error: {e}; {note}")),
        None => output::stderr_line(&format!("error: {e}")),
    }
    if json {
        let doc = serde_json::json!({
            "error": {
                "kind": e.kind().as_str(),
                "message": e.to_string(),
                "provider": e.provider(),
                "status": e.status(),
                "service_code": e.service_code(),
                "outcome_unknown": e.outcome_unknown(),
                "exit_code": code,
            },
            "completed": completed,
        });
        // The error line is on stderr already; a stdout that fails changes nothing more.
        let _ = output::stdout(&format!("{doc}\n"));
    }
    code
}
