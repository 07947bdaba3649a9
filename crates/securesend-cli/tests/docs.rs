//! The commands the README and `docs/` show work as shown, the way `cargo test` runs rustdoc
//! examples.
//!
//! - Every `securesend …` command in a shell block (and `cargo run -p securesend-cli -- …`) is
//!   run, in a scratch directory that is also `HOME`, against the embedded default or against
//!   the sandbox profile the block names. It must exit 0 and print no warning.
//! - A shell block may be preceded by a directive line naming what it needs:
//!   `<!-- docs-test: profile=egroupware files=a.pdf,b.pdf dirs=Downloads env=PW=x set=edition=epl -->`
//!   (`profile`: a sandbox provider key, `files`: created before the block, `dirs`: likewise,
//!   `env`: variables for its commands, `set`: fields changed in that profile).
//! - Developer commands (`cargo test|build|run|fuzz`, `target/…/<binary>`) are checked, not run
//!   (they would run this very suite): the package, test, binary and example they name exist,
//!   and a binary's flags are in its `--help` when the binary is built beside this test (which
//!   `cargo test --workspace`, the README's test command, always does).
//! - Inline spans such as `` `securesend upload --resume` `` name a real subcommand and flags.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{Running, Sandbox as Scratch};
use securesend_sandbox::Service;
use securesend_sandbox::egroupware::Egroupware;
use securesend_sandbox::kiteworks::KiteworksService;
use securesend_sandbox::privasfer::Privasfer;
use securesend_sandbox::tuyu::{Tuyu, TuyuOptions};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// The Markdown files whose commands are checked.
fn documents() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "md") {
                out.push(p);
            }
        }
    }
    let mut out = vec![repo().join("README.md")];
    walk(&repo().join("docs"), &mut out);
    out.sort();
    out
}

/// A shell block: its commands (continuations joined, comments dropped) and its directive.
#[derive(Debug)]
struct Block {
    at: String,
    directive: BTreeMap<String, String>,
    commands: Vec<Vec<String>>,
}

fn directive(line: &str) -> Option<BTreeMap<String, String>> {
    let body = line
        .trim()
        .strip_prefix("<!-- docs-test:")?
        .strip_suffix("-->")?;
    Some(
        body.split_whitespace()
            .map(|kv| {
                let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
                (k.to_owned(), v.to_owned())
            })
            .collect(),
    )
}

fn words(line: &str, at: &str) -> Vec<String> {
    let mut words = shlex::split(line).unwrap_or_else(|| panic!("{at}: cannot split {line:?}"));
    if let Some(comment) = words.iter().position(|w| w.starts_with('#')) {
        words.truncate(comment);
    }
    words
}

fn blocks(doc: &Path) -> Vec<Block> {
    let text = std::fs::read_to_string(doc).unwrap();
    let name = doc.strip_prefix(repo()).unwrap().display().to_string();
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let fence = lines[i].trim_start();
        if !fence.starts_with("```") {
            i += 1;
            continue;
        }
        let info = fence.trim_start_matches('`').trim();
        let start = i;
        i += 1;
        let mut body = Vec::new();
        while i < lines.len() && !lines[i].trim_start().starts_with("```") {
            body.push(lines[i]);
            i += 1;
        }
        i += 1;
        if !matches!(info, "sh" | "bash" | "shell" | "console") {
            continue;
        }
        let at = format!("{name}:{}", start + 1);
        let directive = lines[..start]
            .iter()
            .rev()
            .find(|l| !l.trim().is_empty())
            .and_then(|l| directive(l))
            .unwrap_or_default();
        let mut commands = Vec::new();
        let mut pending = String::new();
        for line in body {
            if let Some(cont) = line.trim_end().strip_suffix('\\') {
                pending.push_str(cont);
                pending.push(' ');
                continue;
            }
            pending.push_str(line);
            let w = words(&pending, &at);
            pending.clear();
            if !w.is_empty() {
                commands.push(w);
            }
        }
        out.push(Block {
            at,
            directive,
            commands,
        });
    }
    out
}

/// The workspace's packages (and the fuzz crate's) with their targets.
#[derive(Default, Debug)]
struct Package {
    dir: PathBuf,
    bins: BTreeSet<String>,
    tests: BTreeSet<String>,
    examples: BTreeSet<String>,
}

fn packages() -> BTreeMap<String, Package> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(repo().join("crates"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    dirs.extend(["tests", "examples", "fuzz"].map(|d| repo().join(d)));
    let mut out = BTreeMap::new();
    for dir in dirs {
        let Ok(text) = std::fs::read_to_string(dir.join("Cargo.toml")) else {
            continue;
        };
        let manifest: toml::Table = text.parse().unwrap();
        let name = manifest["package"]["name"].as_str().unwrap().to_owned();
        let mut p = Package {
            dir: dir.clone(),
            ..Package::default()
        };
        let names = |key: &str| -> Vec<String> {
            manifest
                .get(key)
                .and_then(|v| v.as_array())
                .map(|a| {
                    a.iter()
                        .filter_map(|t| t.get("name")?.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default()
        };
        let stems = |sub: &str| -> Vec<String> {
            std::fs::read_dir(dir.join(sub))
                .map(|d| {
                    d.flatten()
                        .filter_map(|e| {
                            let p = e.path();
                            (p.extension()? == "rs")
                                .then(|| p.file_stem()?.to_str().map(str::to_owned))?
                        })
                        .collect()
                })
                .unwrap_or_default()
        };
        p.bins.extend(names("bin"));
        p.bins.extend(stems("src/bin"));
        if dir.join("src/main.rs").is_file() {
            p.bins.insert(name.clone());
        }
        p.tests.extend(names("test"));
        p.tests.extend(stems("tests"));
        p.examples.extend(names("example"));
        p.examples.extend(stems("examples"));
        out.insert(name, p);
    }
    out
}

/// A binary built beside this test (`target/debug/<name>`), when there is one.
fn built_binary(name: &str) -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let dir = exe.parent()?.parent()?;
    let path = dir.join(name);
    path.is_file().then_some(path)
}

/// Checks that each `--flag` in `args` is one `bin --help` (or `bin <sub> --help`) lists.
fn flags_exist(at: &str, bin: &Path, args: &[String]) {
    // The deepest subcommand's help (`queue resolve ID --sent` is checked against
    // `queue resolve --help`): the longest run of plain words whose `--help` works, else the
    // top level's.
    let plain: Vec<&str> = args
        .iter()
        .filter(|a| !a.starts_with('-'))
        .map(String::as_str)
        .collect();
    let mut help_args = vec!["--help"];
    let mut out = Command::new(bin).args(&help_args).output().unwrap();
    for n in (1..=plain.len()).rev() {
        let mut tried = plain[..n].to_vec();
        tried.push("--help");
        let o = Command::new(bin).args(&tried).output().unwrap();
        if o.status.success() {
            (help_args, out) = (tried, o);
            break;
        }
    }
    let help = String::from_utf8_lossy(&out.stdout);
    for flag in args.iter().filter(|a| a.starts_with("--")) {
        let flag = flag.split('=').next().unwrap();
        assert!(
            help.contains(&format!("{flag} "))
                || help.contains(&format!("{flag}\n"))
                || help.contains(&format!("{flag}="))
                || help.contains(&format!("{flag},")),
            "{at}: {} {help_args:?} does not list {flag}",
            bin.display()
        );
    }
}

/// Checks a developer command (cargo or a built binary) without running it.
fn check_developer_command(
    at: &str,
    cwd: &Path,
    words: &[String],
    pkgs: &BTreeMap<String, Package>,
) {
    let value = |flag: &str| -> Option<&str> {
        words
            .iter()
            .position(|w| w == flag)
            .and_then(|i| words.get(i + 1))
            .map(String::as_str)
    };
    if words[0] == "cargo" {
        let sub = words
            .iter()
            .skip(1)
            .find(|w| !w.starts_with('+'))
            .map(String::as_str)
            .unwrap_or_default();
        let here = pkgs.values().find(|p| p.dir == cwd);
        let pkg = match value("-p").or(value("--package")) {
            Some(name) => Some(
                pkgs.get(name)
                    .unwrap_or_else(|| panic!("{at}: no package {name}")),
            ),
            None => here,
        };
        assert!(
            matches!(sub, "test" | "build" | "run" | "fuzz" | "bench"),
            "{at}: unexpected cargo command {words:?}"
        );
        if sub == "fuzz" {
            let target = words.iter().skip_while(|w| *w != "run").nth(1).unwrap();
            assert!(
                cwd.join("fuzz_targets")
                    .join(format!("{target}.rs"))
                    .is_file(),
                "{at}: no fuzz target {target}"
            );
            return;
        }
        let Some(pkg) = pkg else {
            assert!(
                words.iter().any(|w| w == "--workspace"),
                "{at}: {words:?} names no package"
            );
            return;
        };
        if let Some(t) = value("--test") {
            assert!(pkg.tests.contains(t), "{at}: no test target {t} in {pkg:?}");
        }
        if let Some(e) = value("--example") {
            assert!(pkg.examples.contains(e), "{at}: no example {e}");
        }
        if sub == "run" {
            let bin = value("--bin").map(str::to_owned).unwrap_or_else(|| {
                assert_eq!(pkg.bins.len(), 1, "{at}: which binary of {pkg:?}?");
                pkg.bins.iter().next().unwrap().clone()
            });
            assert!(pkg.bins.contains(&bin), "{at}: no binary {bin}");
            let args: Vec<String> = words
                .iter()
                .skip_while(|w| *w != "--")
                .skip(1)
                .cloned()
                .collect();
            check_binary_flags(at, &bin, &args);
        }
        return;
    }
    // target/<profile>/<binary> …
    let bin = Path::new(&words[0]).file_name().unwrap().to_str().unwrap();
    assert!(
        words[0].starts_with("target/") && pkgs.values().any(|p| p.bins.contains(bin)),
        "{at}: unknown command {words:?}"
    );
    check_binary_flags(at, bin, &words[1..]);
}

fn check_binary_flags(at: &str, bin: &str, args: &[String]) {
    match built_binary(bin) {
        Some(path) => flags_exist(at, &path, args),
        // Only the fuzz crate's binaries, built by cargo fuzz outside the workspace, and a
        // partial `cargo test -p …` run, miss them.
        None => eprintln!("{at}: {bin} is not built in this run; its flags were not checked"),
    }
}

/// The sandbox a profile name needs, switched as the block's `set` fields configure the
/// profile (an EGroupware profile with `edition=epl` talks to an EPL server).
fn service(key: &str, set: &[String]) -> Box<dyn Service> {
    match key {
        "kiteworks" => Box::new(KiteworksService::default()),
        "egroupware" => {
            let egw = Egroupware::new();
            egw.control()
                .set_epl(set.iter().any(|kv| kv == "edition=epl"));
            Box::new(egw)
        }
        "tuyu" => Box::new(Tuyu::new(TuyuOptions::default())),
        "privasfer" => Box::new(Privasfer),
        other => panic!("no sandbox for profile {other}"),
    }
}

/// Runs a block's securesend commands in a fresh scratch directory.
fn run_block(block: &Block, pkgs: &BTreeMap<String, Package>) -> usize {
    let scratch = Scratch::new();
    let d = &block.directive;
    let list = |key: &str| -> Vec<String> {
        d.get(key)
            .map(|v| {
                v.split(',')
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    };
    for f in list("files") {
        let path = scratch.path().join(&f);
        let content = match std::fs::read(repo().join(&f)) {
            Ok(bytes) => bytes,
            Err(_) => format!("{f}: a file made for the documentation test\n").into_bytes(),
        };
        std::fs::write(path, content).unwrap();
    }
    for dir in list("dirs") {
        std::fs::create_dir_all(scratch.path().join(dir)).unwrap();
    }
    let running = d.get("profile").map(|key| {
        let set = list("set");
        let running = Running::start(service(key, &set).as_ref());
        let config = running.write_config(scratch.path());
        if !set.is_empty() {
            let mut table: toml::Table = std::fs::read_to_string(&config).unwrap().parse().unwrap();
            let profile = table["profiles"][key.as_str()].as_table().unwrap().clone();
            let mut profile = profile;
            for kv in set {
                let (k, v) = kv.split_once('=').unwrap();
                profile.insert(k.to_owned(), v.into());
            }
            table["profiles"]
                .as_table_mut()
                .unwrap()
                .insert(key.clone(), profile.into());
            std::fs::write(&config, toml::to_string(&table).unwrap()).unwrap();
        }
        (running, config)
    });
    let mut cwd = repo();
    let mut ran = 0;
    for words in &block.commands {
        let at = &block.at;
        let args: Option<&[String]> = match words[0].as_str() {
            "securesend" => Some(&words[1..]),
            "cargo"
                if words.get(1).is_some_and(|w| w == "run")
                    && words.windows(2).any(|w| w == ["-p", "securesend-cli"]) =>
            {
                words
                    .iter()
                    .position(|w| w == "--")
                    .map(|i| &words[i + 1..])
            }
            _ => None,
        };
        let Some(args) = args else {
            match words[0].as_str() {
                "export" => {}
                "cd" => {
                    cwd = cwd.join(&words[1]);
                    assert!(cwd.is_dir(), "{at}: cd {} goes nowhere", words[1]);
                }
                _ => check_developer_command(at, &cwd, words, pkgs),
            }
            continue;
        };
        let home = scratch.path().display().to_string();
        let args: Vec<String> = args
            .iter()
            .map(|a| match a.strip_prefix("~/") {
                Some(rest) => format!("{home}/{rest}"),
                None => a.clone(),
            })
            .collect();
        let mut cmd = scratch.cmd();
        if let Some((_, config)) = &running {
            cmd.env("SECURESEND_CONFIG", config);
        }
        for kv in list("env") {
            let (k, v) = kv.split_once('=').unwrap();
            cmd.env(k, v);
        }
        let out = cmd.args(&args).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success(),
            "{at}: `securesend {}` exited {:?}:\n{stderr}",
            args.join(" "),
            out.status.code()
        );
        assert!(
            !stderr.to_lowercase().contains("warn"),
            "{at}: `securesend {}` warned:\n{stderr}",
            args.join(" ")
        );
        ran += 1;
    }
    drop(running);
    ran
}

#[test]
fn every_documented_command_runs_as_shown() {
    let pkgs = packages();
    let mut ran = 0;
    let mut blocks_seen = 0;
    for doc in documents() {
        for block in blocks(&doc) {
            blocks_seen += 1;
            ran += run_block(&block, &pkgs);
        }
    }
    assert!(blocks_seen >= 8, "only {blocks_seen} shell blocks found");
    assert!(ran >= 8, "only {ran} securesend commands ran");
}

#[test]
fn inline_commands_name_real_subcommands_and_flags() {
    let bin = Path::new(env!("CARGO_BIN_EXE_securesend"));
    let mut checked = 0;
    for doc in documents() {
        let text = std::fs::read_to_string(&doc).unwrap();
        let name = doc.strip_prefix(repo()).unwrap().display().to_string();
        let mut in_fence = false;
        for (n, line) in text.lines().enumerate() {
            if line.trim_start().starts_with("```") {
                in_fence = !in_fence;
                continue;
            }
            if in_fence {
                continue;
            }
            for span in line.split('`').skip(1).step_by(2) {
                let Some(rest) = span.strip_prefix("securesend ") else {
                    continue;
                };
                let at = format!("{name}:{}", n + 1);
                let args: Vec<String> = rest
                    .split_whitespace()
                    .filter(|w| *w != "…")
                    .map(str::to_owned)
                    .collect();
                flags_exist(&at, bin, &args);
                if let Some(sub) = args.iter().find(|a| !a.starts_with('-')) {
                    let out = Command::new(bin).args([sub, "--help"]).output().unwrap();
                    assert!(
                        out.status.success()
                            || sub.chars().all(|c| c.is_ascii_uppercase() || c == '_'),
                        "{at}: `securesend {rest}`: no subcommand {sub}"
                    );
                }
                checked += 1;
            }
        }
    }
    assert!(checked >= 10, "only {checked} inline commands found");
}
