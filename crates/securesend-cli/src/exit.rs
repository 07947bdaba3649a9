//! Exit codes and error output.

use securesend::{Error, ErrorKind};

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

/// Prints an error: one line on stderr, and with `--json` an error document on stdout.
pub fn report(e: &Error, json: bool, completed: Option<serde_json::Value>) -> u8 {
    let code = code(e);
    eprintln!("error: {e}");
    if json {
        let doc = serde_json::json!({
            "error": {
                "kind": e.kind().as_str(),
                "message": e.to_string(),
                "provider": e.provider(),
                "status": e.status(),
                "service_code": e.service_code(),
                "exit_code": code,
            },
            "completed": completed,
        });
        println!("{doc}");
    }
    code
}
