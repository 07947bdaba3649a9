//! Command-line arguments.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

const EXIT_CODES: &str = "\
Exit codes:
  0  success
  2  bad input or configuration (nothing was sent)
  3  authentication failed or access denied
  4  the service failed or refused the request
  5  local I/O error
  6  done (sent, uploaded, saved), but the result could not be written: do not repeat it
  130  interrupted (Ctrl-C, SIGTERM); the error line says what was and was not done

With no configuration file, the `local` provider stores everything in ./securesend-data.";

/// Send files securely through the file-transfer service your configuration names.
#[derive(Debug, Parser)]
#[command(name = "securesend", version, after_help = EXIT_CODES, max_term_width = 100)]
pub struct Cli {
    /// Configuration file (default: $SECURESEND_CONFIG, then the platform config directory).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Profile to use (default: the file's `default`).
    #[arg(long, global = true, value_name = "NAME")]
    pub profile: Option<String>,

    /// Print one JSON document on stdout instead of text.
    #[arg(long, global = true)]
    pub json: bool,

    /// More log output (-v info, -vv debug, -vvv trace).
    #[arg(short, long, global = true, action = clap::ArgAction::Count, conflicts_with = "quiet")]
    pub verbose: u8,

    /// Only errors; no progress bars.
    #[arg(short, long, global = true)]
    pub quiet: bool,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Send a message with files to recipients.
    Send(Box<SendArgs>),
    /// Upload files.
    Upload(UploadArgs),
    /// Download files by id.
    Download(DownloadArgs),
    /// Sign in interactively (providers with an authorization-code login) and keep the
    /// credentials for later runs.
    Login(LoginArgs),
    /// List received messages and the ids of their files (providers with an inbox).
    Inbox(InboxArgs),
    /// List a folder: files (with the ids `download` takes) and subfolders.
    Ls(LsArgs),
    /// Create a folder.
    Mkdir(MkdirArgs),
    /// List the providers built into this program and what each can do.
    Providers,
    /// Check the configuration step by step: file, secrets, service, credentials.
    Doctor,
}

#[derive(Debug, Args)]
pub struct SendArgs {
    /// Recipient (repeatable).
    #[arg(long, value_name = "ADDRESS")]
    pub to: Vec<String>,
    /// Copy recipient (repeatable).
    #[arg(long, value_name = "ADDRESS")]
    pub cc: Vec<String>,
    /// Blind copy recipient (repeatable).
    #[arg(long, value_name = "ADDRESS")]
    pub bcc: Vec<String>,
    /// Reply-To address (repeatable).
    #[arg(long, value_name = "ADDRESS")]
    pub reply_to: Vec<String>,
    /// Sender, where the provider lets you choose it.
    #[arg(long, value_name = "ADDRESS")]
    pub from: Option<String>,
    /// Subject line.
    #[arg(long, short, default_value = "")]
    pub subject: String,
    /// Plain-text body.
    #[arg(long, short, conflicts_with = "body_file")]
    pub body: Option<String>,
    /// Read the plain-text body from a file (`-` for standard input).
    #[arg(long, value_name = "FILE")]
    pub body_file: Option<PathBuf>,
    /// Read an HTML body from a file.
    #[arg(long, value_name = "FILE")]
    pub html_file: Option<PathBuf>,
    /// When the files expire: days (7d), weeks (2w) or a date (2026-12-31).
    #[arg(long, value_name = "WHEN")]
    pub expires: Option<String>,
    /// Protect the files with the password held in this environment variable.
    #[arg(long, value_name = "VAR")]
    pub password_env: Option<String>,
    /// Deliver the files as links instead of attachments.
    #[arg(long)]
    pub link: bool,
    /// Ask for a receipt when a recipient downloads.
    #[arg(long)]
    pub download_receipt: bool,
    /// Recipients must log in to download.
    #[arg(long)]
    pub require_login: bool,
    /// Message priority.
    #[arg(long, value_enum, default_value = "normal")]
    pub priority: PriorityArg,
    /// Open the message in your compose window on the service instead of sending it.
    #[arg(long)]
    pub interactive: bool,
    /// Files to attach.
    #[arg(value_name = "FILES")]
    pub files: Vec<PathBuf>,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum PriorityArg {
    Low,
    Normal,
    High,
}

#[derive(Debug, Args)]
pub struct UploadArgs {
    /// Files to upload.
    #[arg(value_name = "FILES", required = true)]
    pub files: Vec<PathBuf>,
    /// Destination folder on the service (`/`-separated path).
    #[arg(long, value_name = "PATH")]
    pub to_folder: Option<String>,
    /// Create the destination folder and its parents when missing.
    #[arg(long)]
    pub parents: bool,
    /// Replace files of the same name.
    #[arg(long)]
    pub overwrite: bool,
    /// Continue an interrupted upload of the same files where it stopped.
    #[arg(long)]
    pub resume: bool,
    /// Go on with the next file after one fails (the exit code is still the failure's).
    #[arg(long)]
    pub keep_going: bool,
}

#[derive(Debug, Args)]
pub struct DownloadArgs {
    /// Ids of the files to download.
    #[arg(value_name = "IDS", required = true)]
    pub ids: Vec<String>,
    /// Where to save: a directory (the files keep their names), a file path (one id only), or
    /// `-` for standard output (one id only).
    #[arg(short, long, value_name = "DIR|FILE|-", default_value = ".")]
    pub output: PathBuf,
    /// Replace files that exist already.
    #[arg(long)]
    pub overwrite: bool,
    /// Go on with the next file after one fails (the exit code is still the failure's).
    #[arg(long)]
    pub keep_going: bool,
}

#[derive(Debug, Args)]
pub struct LoginArgs {
    /// Print the sign-in address without trying to open a browser.
    #[arg(long)]
    pub no_browser: bool,
}

#[derive(Debug, Args)]
pub struct InboxArgs {
    /// Only messages matching this text.
    #[arg(long, short)]
    pub keyword: Option<String>,
    /// Sort by this field (the provider's names, such as received_at).
    #[arg(long)]
    pub sort: Option<String>,
    /// Sort descending.
    #[arg(long, requires = "sort")]
    pub desc: bool,
    /// At most this many messages.
    #[arg(long)]
    pub limit: Option<usize>,
}

#[derive(Debug, Args)]
pub struct LsArgs {
    /// Folder path or id (default: the top level).
    #[arg(value_name = "PATH|ID")]
    pub location: Option<String>,
    /// Entries fetched per request (the provider may cap it).
    #[arg(long, value_name = "N")]
    pub page_size: Option<usize>,
}

#[derive(Debug, Args)]
pub struct MkdirArgs {
    /// Folder path (`/`-separated).
    #[arg(value_name = "PATH")]
    pub path: String,
    /// Create missing parents; an existing folder is then not an error.
    #[arg(long, short)]
    pub parents: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Clap's own consistency checks (unique flags, valid defaults) run on every subcommand.
    #[test]
    fn arguments_are_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
