//! One module per subcommand. Each returns a JSON document and the text a person reads.

pub mod batch;
pub mod browse;
pub mod doctor;
pub mod download;
pub mod inbox;
pub mod login;
pub mod providers;
pub mod queue;
pub mod send;
pub mod upload;
pub mod worker;

use securesend::Error;
use serde_json::Value;

/// What a command produced.
pub struct Outcome {
    /// The `--json` document.
    pub json: Value,
    /// The text printed without `--json`.
    pub text: String,
    /// The exit code (0 unless a command reports failure without an error, like doctor).
    pub code: u8,
    /// What the command changed ("the message was sent"), for commands that change something:
    /// when the result cannot be printed, the error says this was done nonetheless.
    pub done: Option<String>,
    /// The command printed its results as it went (the worker's line per job): nothing is left
    /// to print at the end.
    pub streamed: bool,
}

impl Outcome {
    /// The result of a command that only reads.
    pub fn ok(json: Value, text: String) -> Self {
        Outcome {
            json,
            text,
            code: crate::exit::OK,
            done: None,
            streamed: false,
        }
    }

    /// The result of a command that changed something, described by `done`.
    pub fn done(done: impl Into<String>, json: Value, text: String) -> Self {
        Outcome {
            done: Some(done.into()),
            ..Outcome::ok(json, text)
        }
    }
}

impl Outcome {
    /// The result of a command that printed as it went: nothing is left to print.
    pub fn streamed() -> Self {
        Outcome {
            streamed: true,
            ..Outcome::ok(Value::Null, String::new())
        }
    }
}

/// A failed command, with what it finished before failing.
pub struct Failure {
    pub error: Error,
    /// The `completed` part of the `--json` error document.
    pub completed: Option<Value>,
    /// Appended to the error line: what was and was not done before the error.
    pub note: Option<String>,
    /// Printed on stdout before the error line, without `--json`: the report of every file.
    pub text: Option<String>,
    /// The exit code when it is not the error kind's (see [`crate::exit::code`]).
    pub code: Option<u8>,
}

impl From<Error> for Failure {
    fn from(error: Error) -> Self {
        Failure {
            error,
            completed: None,
            note: None,
            text: None,
            code: None,
        }
    }
}

/// Human-readable byte counts.
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}
