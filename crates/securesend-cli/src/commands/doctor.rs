//! `securesend doctor`: each step of using a profile, in order, stopping at the first failure.

use std::fmt::Write as _;
use std::path::Path;

use securesend::{Client, Error};
use serde_json::{Value, json};

use super::Outcome;
use crate::exit;

struct Steps {
    done: Vec<Value>,
    text: String,
}

impl Steps {
    fn pass(&mut self, step: &str, detail: String) {
        let _ = writeln!(self.text, "ok    {step:<14} {detail}");
        self.done
            .push(json!({ "step": step, "ok": true, "detail": detail }));
    }

    fn fail(mut self, step: &str, e: &Error) -> Outcome {
        let _ = writeln!(self.text, "FAIL  {step:<14} {e}");
        let _ = writeln!(
            self.text,
            "doctor: the `{step}` step failed; fix it and run doctor again"
        );
        self.done.push(json!({ "step": step, "ok": false, "detail": e.to_string(), "kind": e.kind().as_str() }));
        Outcome {
            code: exit::code(e),
            ..Outcome::ok(
                json!({ "ok": false, "failed_step": step, "steps": self.done }),
                self.text,
            )
        }
    }
}

pub async fn run(config: Option<&Path>, profile: Option<&str>) -> Outcome {
    let mut steps = Steps {
        done: Vec::new(),
        text: String::new(),
    };
    let client = match Client::discover(config) {
        Ok(c) => c,
        Err(e) => return steps.fail("configuration", &e),
    };
    let detail = match client.config().and_then(|c| c.path()) {
        Some(p) => format!("read {}", p.display()),
        None => "no configuration file; using the embedded default (local provider in ./securesend-data)".to_owned(),
    };
    steps.pass("configuration", detail);
    let chosen = match client.profile(profile) {
        Ok(p) => p,
        Err(e) => return steps.fail("profile", &e),
    };
    steps.pass(
        "profile",
        format!("`{}` uses provider `{}`", chosen.name(), chosen.provider()),
    );
    let provider = match securesend::connect(&chosen) {
        Ok(p) => p,
        Err(e) => return steps.fail("settings", &e),
    };
    steps.pass(
        "settings",
        "every key is valid and every secret resolved".to_owned(),
    );
    match provider.reach().await {
        Ok(d) => steps.pass("reach", d),
        Err(e) => return steps.fail("reach", &e),
    }
    match provider.authenticate().await {
        Ok(d) => steps.pass("authenticate", d),
        Err(e) => return steps.fail("authenticate", &e),
    }
    let text = format!("{}doctor: all steps passed\n", steps.text);
    Outcome::ok(json!({ "ok": true, "steps": steps.done }), text)
}
