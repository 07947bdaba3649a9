//! The binary's contract: the last line's format, the exit status, refused arguments. (It also
//! makes `cargo test` build the binary, which CI's short soak then runs.)

use std::process::{Command, Output};

fn chaos(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_securesend-chaos"))
        .args(args)
        .output()
        .expect("securesend-chaos runs")
}

fn last_line(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .last()
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn a_clean_run_ends_with_the_tally_and_succeeds() {
    let out = chaos(&[
        "--provider",
        "egroupware",
        "--operations",
        "3",
        "--fault-rate",
        "0",
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        last_line(&out),
        "delivered=3 exact=3 duplicates=0 lost=0",
        "{stdout}"
    );
    assert!(stdout.contains("egroupware: operations=3 "), "{stdout}");
}

#[test]
fn a_provider_without_a_wire_is_skipped_not_failed() {
    let out = chaos(&["--provider", "local", "--operations", "2"]);
    assert!(out.status.success());
    assert_eq!(last_line(&out), "delivered=0 exact=0 duplicates=0 lost=0");
}

#[test]
fn unknown_providers_and_impossible_rates_are_refused() {
    let out = chaos(&["--provider", "dropbox", "--operations", "1"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown provider `dropbox`"));
    let out = chaos(&["--fault-rate", "1.5", "--operations", "1"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty(), "nothing ran");
}
