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

    /// The delivery queue (`sqlite://PATH` or `postgres://…`; default: $SECURESEND_QUEUE, then
    /// `[queue] url`, then securesend-data/queue/queue.sqlite3).
    #[arg(long, global = true, value_name = "URL")]
    pub queue: Option<String>,

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
    /// Queue sends for a worker, and look after the queued jobs.
    Queue(QueueArgs),
    /// Send queued jobs: until SIGINT/SIGTERM, or with --drain until nothing is left.
    Worker(WorkerArgs),
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

const QUEUE_COMMANDS: &str = "\
Examples:
  securesend queue add --to ada@example.com --subject Payslip --idempotency-key payslip-ada payslip.pdf
  securesend queue add --not-before 10m --stage reference --priority 5 … FILES
  securesend queue ls --state in-doubt
  securesend queue show ID
  securesend queue resolve ID --sent | --resend
  securesend queue purge --older-than 30d";

#[derive(Debug, Args)]
#[command(after_help = QUEUE_COMMANDS)]
pub struct QueueArgs {
    #[command(subcommand)]
    pub command: QueueCommand,
}

#[derive(Debug, Subcommand)]
pub enum QueueCommand {
    /// Queue a message: the arguments of `send` (its --priority is --message-priority here);
    /// prints the job id.
    // The job's place in the queue takes `--priority`, so the message's own priority, which
    // `send` calls `--priority`, is renamed rather than the two sharing one flag.
    #[command(mut_arg("priority", |a| a.long("message-priority")))]
    Add(Box<QueueAddArgs>),
    /// List jobs, oldest first.
    Ls(QueueLsArgs),
    /// A job: its state, its history and its receipt.
    Show(JobArg),
    /// Cancel a queued job and remove its staged files (only a queued job).
    Cancel(JobArg),
    /// Queue a failed job again, from the start.
    Retry(JobArg),
    /// Settle a job in doubt: it was delivered (--sent) or it was not (--resend).
    Resolve(ResolveArgs),
    /// Jobs per state, the oldest queued job's age, sends per minute, paused profiles.
    Stats,
    /// Remove jobs that ended (sent, failed, cancelled) longer ago than --older-than.
    Purge(PurgeArgs),
}

#[derive(Debug, Args)]
pub struct QueueAddArgs {
    #[command(flatten)]
    pub send: SendArgs,
    /// Queueing the same key again returns the job queued first and queues nothing.
    #[arg(long, value_name = "KEY")]
    pub idempotency_key: Option<String>,
    /// Not sent before this time: RFC 3339 (2026-12-24T08:00:00Z) or a delay from now (10m).
    #[arg(long, value_name = "TIME")]
    pub not_before: Option<String>,
    /// Copy the files into the queue, or refer to them where they are (checked before sending).
    #[arg(long, value_enum, default_value = "copy")]
    pub stage: StageArg,
    /// The job's place in the queue: higher runs first.
    #[arg(long = "priority", id = "job_priority", value_name = "N", default_value = "0",
          value_parser = job_priority, allow_negative_numbers = true)]
    pub job_priority: i16,
}

fn job_priority(s: &str) -> Result<i16, String> {
    s.parse().map_err(|_| {
        if matches!(s, "low" | "normal" | "high") {
            format!(
                "the job's priority is a number (higher runs first); the message's priority is --message-priority {s}"
            )
        } else {
            format!("{s:?} is not a number from -32768 to 32767")
        }
    })
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum StageArg {
    Copy,
    Reference,
}

#[derive(Debug, Args)]
pub struct QueueLsArgs {
    /// Only jobs in this state: queued, running, sent, failed, in-doubt, cancelled.
    #[arg(long, value_name = "STATE")]
    pub state: Option<String>,
}

#[derive(Debug, Args)]
pub struct JobArg {
    /// The job's id (as `queue add` and `queue ls` print it).
    #[arg(value_name = "ID")]
    pub id: String,
}

#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("resolution").required(true).args(["sent", "resend"]))]
pub struct ResolveArgs {
    /// The job's id.
    #[arg(value_name = "ID")]
    pub id: String,
    /// It was delivered (you checked on the service): the job becomes sent.
    #[arg(long)]
    pub sent: bool,
    /// It was not delivered: the job is queued again from the start.
    #[arg(long)]
    pub resend: bool,
}

#[derive(Debug, Args)]
pub struct PurgeArgs {
    /// How long ago the jobs ended: 30d, 12h, 0s (all of them).
    #[arg(long, value_name = "AGE", required = true)]
    pub older_than: String,
}

#[derive(Debug, Args)]
pub struct WorkerArgs {
    /// Jobs sent at once.
    #[arg(long, value_name = "N", default_value = "1",
          value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub concurrency: u16,
    /// Exit once nothing is queued or running.
    #[arg(long)]
    pub drain: bool,
    /// Serve Prometheus metrics on http://ADDR/metrics (port 0: any free port, printed on
    /// stderr).
    #[arg(long, value_name = "ADDR")]
    pub metrics: Option<std::net::SocketAddr>,
    /// The name recorded on every job this worker touches (default: host name and process id).
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// How long a job stays this worker's without a heartbeat (renewed every third of it); a
    /// killed worker's jobs are taken over after it.
    #[arg(long, value_name = "DURATION", default_value = "60s")]
    pub lease: String,
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
