//! Writing to the terminal without panicking.
//!
//! `println!` and `eprintln!` panic when the stream is closed or the device is full. A panic
//! after a completed send would tell a script that the send failed, and the script would send
//! again; so everything goes through these functions, and a failed write of a result is
//! reported by its own exit code instead.

use std::io::{self, Write};

/// Writes `text` to standard output and flushes it.
pub fn stdout(text: &str) -> io::Result<()> {
    let mut out = io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()
}

/// Writes one line to standard error. Nothing can be done when that fails, so failures are
/// ignored: the exit code still tells what happened.
pub fn stderr_line(line: &str) {
    let mut err = io::stderr().lock();
    let _ = writeln!(err, "{line}");
    let _ = err.flush();
}
