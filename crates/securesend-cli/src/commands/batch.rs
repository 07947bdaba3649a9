//! Commands over several files (upload, download): every file is reported, done, failed or
//! not attempted, and `--keep-going` goes on past a failure.

use std::fmt::Write as _;

use securesend::{Cancel, Error};
use serde_json::{Value, json};

use super::{Failure, Outcome};
use crate::exit;

/// The files of one command and what became of each.
pub struct Batch {
    /// Past tense of the command's verb: "uploaded", "saved".
    verb: &'static str,
    keep_going: bool,
    done: Vec<Value>,
    failed: Vec<(String, Error)>,
    skipped: Vec<String>,
    text: String,
}

impl Batch {
    pub fn new(verb: &'static str, keep_going: bool) -> Batch {
        Batch {
            verb,
            keep_going,
            done: Vec::new(),
            failed: Vec::new(),
            skipped: Vec::new(),
            text: String::new(),
        }
    }

    /// Whether the next file should be attempted: not after an interruption, and after a
    /// failure only with `--keep-going`.
    pub fn goes_on(&self, cancel: &Cancel) -> bool {
        !cancel.is_cancelled() && (self.failed.is_empty() || self.keep_going)
    }

    /// A file that was done: its JSON record and its line of text.
    pub fn done(&mut self, record: Value, line: String) {
        self.done.push(record);
        self.text.push_str(&line);
        self.text.push('\n');
    }

    pub fn failed(&mut self, name: String, error: Error) {
        let _ = writeln!(self.text, "FAILED {name}: {error}");
        self.failed.push((name, error));
    }

    pub fn skipped(&mut self, name: String) {
        let _ = writeln!(self.text, "not attempted {name}");
        self.skipped.push(name);
    }

    /// The command's result: success when every file was done, else the failure that decides
    /// the exit code (an interruption, or the first error) with every file's fate.
    pub fn finish(mut self, provider: &str) -> Result<Outcome, Failure> {
        let total = self.done.len() + self.failed.len() + self.skipped.len();
        if self.failed.is_empty() {
            let done = format!(
                "{} file{} {}",
                total,
                if total == 1 { " was" } else { "s were" },
                self.verb
            );
            let json = json!({ "provider": provider, "files": self.done });
            return Ok(Outcome::done(done, json, self.text));
        }
        let failed: Vec<Value> = self
            .failed
            .iter()
            .map(|(name, e)| {
                json!({
                    "name": name,
                    "kind": e.kind().as_str(),
                    "message": e.to_string(),
                    "exit_code": exit::code(e),
                })
            })
            .collect();
        let mut note = format!("{} of {total} files {}", self.done.len(), self.verb);
        if self.failed.len() > 1 {
            let _ = write!(note, ", {} failed", self.failed.len());
        }
        if !self.skipped.is_empty() {
            let _ = write!(note, ", {} not attempted", self.skipped.len());
            if !self.keep_going && !self.failed.iter().any(|(_, e)| e.is_cancelled()) {
                note.push_str(" (--keep-going goes on past a failure)");
            }
        }
        let decisive = self
            .failed
            .iter()
            .position(|(_, e)| e.is_cancelled())
            .unwrap_or(0);
        let (_, error) = self.failed.swap_remove(decisive);
        // One file: its error says it all.
        let several = total > 1;
        Err(Failure {
            error,
            completed: Some(json!({
                "provider": provider,
                "files": self.done,
                "failed": failed,
                "skipped": self.skipped,
            })),
            note: several.then_some(note),
            text: several.then_some(self.text),
            code: None,
        })
    }
}
