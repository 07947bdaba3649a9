//! [`Queue`]: a storage backend and a blob directory, and what applications and operators do
//! with them.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use securesend_core::{Error, Provider, SecureMessage};

use crate::blobs::{BlobStore, Stage};
use crate::config::{DEFAULT_DATA_DIR, QueueConfig};
use crate::job::{EnqueueOptions, JobId, JobSpec, JobState};
use crate::spec::MessageSpec;
use crate::storage::{Inserted, Job, JobEvent, QueueError, Resolution, Result, Stats, Storage};
use crate::{PostgresStorage, SqliteStorage};

/// How many finished jobs' blobs one sweep removes at most.
const SWEEP_BATCH: u32 = 500;

/// A delivery queue: where jobs are stored and where their files are staged.
///
/// ```
/// use securesend_queue::{EnqueueOptions, Queue, Stage};
/// use securesend_core::{Attachment, Capabilities, Provider, SecureMessage};
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// # let dir = tempfile::tempdir().unwrap();
/// let url = format!("sqlite://{}", dir.path().join("queue.db").display());
/// let queue = Queue::open(&url).await?;
/// # let mut caps = Capabilities::default(); caps.send = true; caps.attachments = true;
/// # let provider = Provider::new("local", caps);
/// let message = SecureMessage::builder()
///     .to("ada@example.com")
///     .subject("Payslip")
///     .attach(Attachment::from_bytes("payslip.pdf", "%PDF-1.7"))
///     .build()?;
/// let options = EnqueueOptions { idempotency_key: Some("payslip-2026-11-ada".into()), ..Default::default() };
/// let id = queue.enqueue("payroll", &provider, message.clone(), &options, Stage::Copy).await?.id();
/// // The same key again creates nothing.
/// let again = queue.enqueue("payroll", &provider, message, &options, Stage::Copy).await?;
/// assert_eq!(again.id(), id);
/// # Ok::<(), securesend_queue::QueueError>(())
/// # }).unwrap();
/// ```
#[derive(Clone)]
pub struct Queue {
    storage: Arc<dyn Storage>,
    blobs: BlobStore,
    config: QueueConfig,
    shown: String,
}

impl fmt::Debug for Queue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Queue")
            .field("url", &self.shown)
            .field("blobs", &self.blobs.dir())
            .finish()
    }
}

impl Queue {
    /// Opens the queue at `url` with the default settings; see [`Queue::open_with`].
    pub async fn open(url: &str) -> Result<Queue> {
        Queue::open_with(url, QueueConfig::default()).await
    }

    /// Opens the queue at `url`: `sqlite://PATH` (created with its directory when missing) or
    /// `postgres://…` / `postgresql://…`. The blob directory is `config.blobs`, else `blobs/`
    /// beside the SQLite file, else (PostgreSQL) `securesend-data/queue/blobs`.
    pub async fn open_with(url: &str, config: QueueConfig) -> Result<Queue> {
        let shown = redact_url(url);
        let (storage, default_blobs): (Arc<dyn Storage>, PathBuf) =
            if let Some(path) = url.strip_prefix("sqlite://") {
                let path = PathBuf::from(path);
                let dir = path
                    .parent()
                    .filter(|p| !p.as_os_str().is_empty())
                    .unwrap_or(Path::new("."))
                    .to_path_buf();
                create_private_dir(&dir)?;
                (
                    Arc::new(SqliteStorage::open(&path).await?),
                    dir.join("blobs"),
                )
            } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
                (
                    Arc::new(PostgresStorage::connect(url).await?),
                    Path::new(DEFAULT_DATA_DIR).join("queue").join("blobs"),
                )
            } else {
                return Err(QueueError::Other(Error::config(format!(
                    "unknown queue URL {shown:?}: use sqlite://PATH or postgres://USER@HOST/DB"
                ))));
            };
        let blobs = BlobStore::new(config.blobs.clone().unwrap_or(default_blobs));
        Ok(Queue {
            storage,
            blobs,
            config,
            shown,
        })
    }

    /// A queue over a storage already opened.
    pub fn from_parts(storage: Arc<dyn Storage>, blobs: BlobStore, config: QueueConfig) -> Queue {
        Queue {
            shown: format!("{storage:?}"),
            storage,
            blobs,
            config,
        }
    }

    /// The storage.
    pub fn storage(&self) -> &Arc<dyn Storage> {
        &self.storage
    }

    /// The blob directory.
    pub fn blobs(&self) -> &BlobStore {
        &self.blobs
    }

    /// The settings.
    pub fn config(&self) -> &QueueConfig {
        &self.config
    }

    /// The queue's URL with any password replaced.
    pub fn url(&self) -> &str {
        &self.shown
    }

    /// Queues `message` for `profile`, served by `provider`. The message is checked as
    /// [`Provider::send`] checks it (nothing is stored when it is refused), its files are staged,
    /// then the job is stored. With an idempotency key already used for the same content the
    /// existing job is returned and what was staged is removed again.
    pub async fn enqueue(
        &self,
        profile: &str,
        provider: &Provider,
        message: SecureMessage,
        options: &EnqueueOptions,
        stage: Stage,
    ) -> Result<Inserted> {
        options.validate()?;
        provider
            .capabilities()
            .check_message(provider.name(), &message)?;
        let mut options = options.clone();
        let limits = self.config.limits(profile);
        if options.max_attempts == EnqueueOptions::default().max_attempts
            && let Some(n) = limits.max_attempts
        {
            options.max_attempts = n;
        }
        if options.max_age.is_none() {
            options.max_age = limits.max_age;
        }
        // Refused before anything is staged.
        MessageSpec::of(&message, "00", Vec::new())?;
        let stage_id = JobId::new().to_string();
        let files = self
            .blobs
            .stage(&stage_id, message.attachments(), stage)
            .await?;
        let spec = MessageSpec::of(&message, &stage_id, files)?;
        let job =
            JobSpec::with_content(profile, provider.name(), spec.to_value(), &content(&spec))?;
        match self.storage.insert(&job, &options).await {
            Ok(Inserted::Created(id)) => Ok(Inserted::Created(id)),
            other => {
                // An existing job keeps its own files; a refusal stores nothing.
                let _ = self.blobs.remove(&stage_id).await;
                other
            }
        }
    }

    /// Cancels a queued job and removes its staged files.
    pub async fn cancel(&self, id: JobId) -> Result<()> {
        self.storage.cancel(id).await?;
        self.sweep_blobs().await?;
        Ok(())
    }

    /// Queues a failed job again. A job whose staged files were already removed (after the
    /// `[queue] blob_retention`) is refused: it would be sent without them.
    pub async fn retry(&self, id: JobId) -> Result<()> {
        let (job, _) = self.storage.show(id).await?;
        let has_files = job
            .spec
            .get("files")
            .and_then(Value::as_array)
            .is_some_and(|f| !f.is_empty());
        if has_files && job.blobs_removed_at.is_some() {
            return Err(QueueError::Other(Error::new(
                securesend_core::ErrorKind::Conflict,
                format!(
                    "job {id}: its staged files were removed when it failed; queue the message again (or keep files longer with [queue] blob_retention)"
                ),
            )));
        }
        self.storage.retry(id).await
    }

    /// Settles a job in doubt.
    pub async fn resolve(&self, id: JobId, resolution: Resolution) -> Result<()> {
        self.storage.resolve(id, resolution).await?;
        if resolution == Resolution::Sent {
            self.sweep_blobs().await?;
        }
        Ok(())
    }

    /// A job and its history.
    pub async fn show(&self, id: JobId) -> Result<(Job, Vec<JobEvent>)> {
        self.storage.show(id).await
    }

    /// Jobs, optionally in one state.
    pub async fn list(&self, state: Option<JobState>) -> Result<Vec<Job>> {
        self.storage.list(state).await
    }

    /// Counts per state and more.
    pub async fn stats(&self) -> Result<Stats> {
        self.storage.stats().await
    }

    /// Removes final jobs that ended more than `older_than` ago, with their history and
    /// whatever of their files is still staged; returns how many jobs.
    pub async fn purge(&self, older_than: Duration) -> Result<u64> {
        self.remove_blobs(older_than.min(self.retention())).await?;
        self.storage.purge(older_than).await
    }

    /// Removes the staged files of jobs that ended longer ago than the retention
    /// (`[queue] blob_retention`, default 0); returns how many jobs' files.
    pub async fn sweep_blobs(&self) -> Result<u64> {
        self.remove_blobs(self.retention()).await
    }

    fn retention(&self) -> Duration {
        self.config.blob_retention.unwrap_or_default()
    }

    async fn remove_blobs(&self, retention: Duration) -> Result<u64> {
        let mut removed = 0;
        loop {
            let due = self.storage.blobs_due(retention, SWEEP_BATCH).await?;
            let n = due.len();
            for (id, spec) in due {
                if let Some(stage_id) = spec.get("stage_id").and_then(Value::as_str) {
                    self.blobs.remove(stage_id).await?;
                }
                self.storage.mark_blobs_removed(id).await?;
                removed += 1;
            }
            if n < SWEEP_BATCH as usize {
                return Ok(removed);
            }
        }
    }
}

/// What an idempotency key is matched on: the message and its files' content, not where the
/// files were staged.
fn content(spec: &MessageSpec) -> Value {
    let mut value = spec.to_value();
    if let Some(map) = value.as_object_mut() {
        map.remove("stage_id");
        map.insert(
            "files".into(),
            spec.files
                .iter()
                .map(|f| json!({"name": f.name, "content_type": f.content_type, "size": f.size, "sha256": f.sha256}))
                .collect(),
        );
    }
    value
}

fn create_private_dir(dir: &Path) -> Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir).map_err(|e| {
        QueueError::Other(Error::io(
            format!("cannot create the queue directory {}", dir.display()),
            e,
        ))
    })
}

/// The URL with the password (between `user:` and `@`) replaced: URLs are shown in errors and
/// logs.
///
/// ```
/// assert_eq!(
///     securesend_queue::redact_url("postgres://app:s3cret@db:5432/q"),
///     "postgres://app:***@db:5432/q"
/// );
/// ```
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let Some((userinfo, host)) = authority.rsplit_once('@') else {
        return url.to_owned();
    };
    let user = userinfo.split_once(':').map_or(userinfo, |(u, _)| u);
    let masked = if userinfo.contains(':') {
        format!("{user}:***")
    } else {
        user.to_owned()
    };
    // A password may also ride in the query (`?password=`).
    let tail = match tail.find("password=") {
        Some(i) => {
            let end = tail[i..].find('&').map_or(tail.len(), |e| i + e);
            format!("{}password=***{}", &tail[..i], &tail[end..])
        }
        None => tail.to_owned(),
    };
    format!("{scheme}://{masked}@{host}{tail}")
}
