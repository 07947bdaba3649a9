//! The `securesend` command.

mod args;
mod commands;
mod exit;
mod metrics;
mod output;
mod progress;
mod signals;

use std::future::Future;
use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use securesend::{Cancel, Client, Error};
use tracing_subscriber::EnvFilter;

use args::{Cli, Command, QueueCommand};
use commands::{Failure, Outcome};
use progress::Bars;

fn init_logging(cli: &Cli) {
    let level = match (cli.quiet, cli.verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        (false, 2) => "debug",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    // The formatter ignores failed writes, so a full or closed stderr never panics here.
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .init();
}

/// Runs a command that changes nothing on the service until it is done, or until interrupted.
async fn interruptible<F>(cancel: &Cancel, what: &'static str, work: F) -> Result<Outcome, Failure>
where
    F: Future<Output = Result<Outcome, Failure>>,
{
    tokio::select! {
        biased;
        () = cancel.cancelled() => Err(Error::cancelled(what).into()),
        r = work => r,
    }
}

async fn run(cli: Cli, cancel: &Cancel) -> Result<Outcome, Failure> {
    let connect = || -> Result<securesend::Provider, Failure> {
        let client = Client::discover(cli.config.as_deref())?;
        Ok(client.connect(cli.profile.as_deref())?)
    };
    let bars = if cli.json { None } else { Bars::new(cli.quiet) };
    const NOTHING_CHANGED: &str = "interrupted; nothing was changed";
    let outcome = match cli.command {
        Command::Providers => Ok(commands::providers::run()),
        Command::Login(args) => {
            let provider = connect()?;
            interruptible(
                cancel,
                "interrupted; not signed in",
                commands::login::run(&provider, args),
            )
            .await
        }
        Command::Inbox(args) => {
            let provider = connect()?;
            interruptible(
                cancel,
                NOTHING_CHANGED,
                commands::inbox::run(&provider, args),
            )
            .await
        }
        Command::Ls(args) => {
            let provider = connect()?;
            interruptible(
                cancel,
                NOTHING_CHANGED,
                commands::browse::ls(&provider, args),
            )
            .await
        }
        Command::Mkdir(args) => {
            let provider = connect()?;
            interruptible(
                cancel,
                "interrupted before the service confirmed the folder; it may have been created (`securesend ls` shows it)",
                commands::browse::mkdir(&provider, args),
            )
            .await
        }
        Command::Doctor => {
            interruptible(cancel, NOTHING_CHANGED, async {
                Ok(commands::doctor::run(cli.config.as_deref(), cli.profile.as_deref()).await)
            })
            .await
        }
        Command::Send(args) => commands::send::run(&connect()?, *args, bars.as_ref(), cancel).await,
        Command::Upload(args) => {
            commands::upload::run(&connect()?, args, bars.as_ref(), cancel).await
        }
        Command::Download(args) => {
            commands::download::run(&connect()?, args, bars.as_ref(), cancel, cli.json).await
        }
        Command::Queue(args) => {
            let client = Client::discover(cli.config.as_deref())?;
            let cx = commands::queue::Context {
                client: &client,
                url: cli.queue.as_deref(),
                profile: cli.profile.as_deref(),
            };
            let reads_only = matches!(
                args.command,
                QueueCommand::Ls(_) | QueueCommand::Show(_) | QueueCommand::Stats
            );
            let work = commands::queue::run(cx, args.command, cancel);
            if reads_only {
                interruptible(cancel, NOTHING_CHANGED, work).await
            } else {
                // A change to the queue is one short transaction (or, for `add`, staging then
                // one): it is let finish, so the result printed is what the queue holds.
                work.await
            }
        }
        Command::Worker(args) => {
            let client = Client::discover(cli.config.as_deref())?;
            commands::worker::run(
                &client,
                cli.queue.as_deref(),
                args,
                cli.json,
                cli.quiet,
                cancel,
            )
            .await
        }
    };
    if let Some(b) = &bars {
        b.clear();
    }
    outcome
}

/// Prints clap's help, version or usage error; a help text that cannot be written is an I/O
/// failure, not a success.
fn parse_failure(e: clap::Error) -> u8 {
    let code = u8::try_from(e.exit_code()).unwrap_or(exit::BAD_INPUT);
    match e.print() {
        Ok(()) => code,
        Err(io) if code == exit::OK => {
            output::stderr_line(&format!("error: cannot write to standard output: {io}"));
            exit::IO
        }
        Err(_) => code,
    }
}

/// Prints a command's result; when that fails after the work was done, says so with its own
/// exit code so that a script does not do the work again.
fn print_outcome(outcome: Outcome, json: bool) -> u8 {
    if outcome.streamed {
        return outcome.code;
    }
    let text = if json {
        format!("{}\n", outcome.json)
    } else {
        outcome.text
    };
    match output::stdout(&text) {
        Ok(()) => outcome.code,
        Err(e) => match outcome.done {
            Some(done) => {
                output::stderr_line(&format!(
                    "error: {done}, but the result could not be written to standard output ({e}); do not do it again"
                ));
                exit::DONE_UNREPORTED
            }
            None => {
                output::stderr_line(&format!("error: cannot write to standard output: {e}"));
                exit::IO
            }
        },
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return ExitCode::from(parse_failure(e)),
    };
    init_logging(&cli);
    let json = cli.json;
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            output::stderr_line(&format!("error: cannot start the async runtime: {e}"));
            return ExitCode::from(exit::IO);
        }
    };
    let cancel = Cancel::new();
    let result = runtime.block_on(async {
        signals::watch(cancel.clone());
        run(cli, &cancel).await
    });
    let code = match result {
        Ok(outcome) => print_outcome(outcome, json),
        Err(failure) => exit::report(failure, json),
    };
    ExitCode::from(code)
}
