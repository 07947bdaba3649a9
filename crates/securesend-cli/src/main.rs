//! The `securesend` command.

mod args;
mod commands;
mod exit;
mod progress;

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use securesend::Client;
use tracing_subscriber::EnvFilter;

use args::{Cli, Command};
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
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .init();
}

async fn run(cli: Cli) -> Result<Outcome, Failure> {
    let connect = || -> Result<securesend::Provider, Failure> {
        let client = Client::discover(cli.config.as_deref())?;
        Ok(client.connect(cli.profile.as_deref())?)
    };
    let bars = if cli.json { None } else { Bars::new(cli.quiet) };
    let outcome = match cli.command {
        Command::Providers => Ok(commands::providers::run()),
        Command::Login(args) => commands::login::run(&connect()?, args).await,
        Command::Inbox(args) => commands::inbox::run(&connect()?, args).await,
        Command::Ls(args) => commands::browse::ls(&connect()?, args).await,
        Command::Mkdir(args) => commands::browse::mkdir(&connect()?, args).await,
        Command::Doctor => {
            Ok(commands::doctor::run(cli.config.as_deref(), cli.profile.as_deref()).await)
        }
        Command::Send(args) => commands::send::run(&connect()?, *args, bars.as_ref()).await,
        Command::Upload(args) => commands::upload::run(&connect()?, args, bars.as_ref()).await,
        Command::Download(args) => commands::download::run(&connect()?, args, bars.as_ref()).await,
    };
    if let Some(b) = &bars {
        b.clear();
    }
    outcome
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(&cli);
    let json = cli.json;
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(exit::IO);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(outcome) => {
            if json {
                println!("{}", outcome.json);
            } else {
                print!("{}", outcome.text);
            }
            ExitCode::from(outcome.code)
        }
        Err(Failure { error, completed }) => {
            if let (false, Some(done)) = (json, &completed) {
                if done["files"].as_array().is_some_and(|f| !f.is_empty()) {
                    eprintln!("completed before the error: {done}");
                }
            }
            let code = exit::report(&error, json, completed);
            ExitCode::from(code)
        }
    }
}
