//! The delivery queue (`queue` feature): the `securesend-queue` crate, with the configuration
//! and the providers of this facade wired in.
//!
//! ```
//! use securesend::{Attachment, Client, SecureMessage};
//! use securesend::queue::{self, EnqueueOptions, Stage, Worker, WorkerOptions};
//!
//! # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let dir = tempfile::tempdir()?;
//! # let path = dir.path().join("securesend.toml");
//! # std::fs::write(&path, "[profiles.demo]\nprovider = \"local\"\nroot = \"data\"\n")?;
//! let client = Client::discover(Some(&path))?;
//! let q = queue::open(&client, None).await?;
//! let provider = client.connect(Some("demo"))?;
//! let message = SecureMessage::builder()
//!     .to("ada@example.com")
//!     .subject("Lab results")
//!     .attach(Attachment::from_bytes("results.csv", "test,value\nHb,14.1\n"))
//!     .build()?;
//! let job = q.enqueue("demo", &provider, message, &EnqueueOptions::default(), Stage::Copy).await?;
//!
//! // A worker sends it; `drain` stops it once nothing is left.
//! let options = WorkerOptions { drain: true, ..WorkerOptions::default() };
//! Worker::new(q.clone(), queue::connector(&client), options)
//!     .run(securesend::Cancel::new())
//!     .await?;
//! let (done, _history) = q.show(job.id()).await?;
//! assert_eq!(done.state, queue::JobState::Sent);
//! # Ok(()) }
//! ```

use std::sync::Arc;

pub use securesend_queue::*;

use crate::{Client, Provider, Result};

/// Opens the queue `explicit` names (a `--queue` flag), else `SECURESEND_QUEUE`, else
/// `[queue] url` of the client's configuration, else the embedded SQLite file under
/// `securesend-data/queue/`, with the `[queue]` settings of the configuration.
pub async fn open(client: &Client, explicit: Option<&str>) -> Result<Queue, QueueError> {
    let url = config::queue_url(explicit, client.config())?;
    let settings = match client.config() {
        Some(file) => QueueConfig::from_file(file)?,
        None => QueueConfig::default(),
    };
    Queue::open_with(&url, settings).await
}

/// The [`Connector`] that builds each job's provider from the client's configuration.
pub fn connector(client: &Client) -> Arc<dyn Connector> {
    Arc::new(ClientConnector {
        client: client.clone(),
    })
}

/// The profile name a job gets when none is asked for: the configuration's default profile,
/// else the embedded default's.
pub fn default_profile(client: &Client) -> Result<String> {
    Ok(client.profile(None)?.name().to_owned())
}

#[derive(Debug)]
struct ClientConnector {
    client: Client,
}

impl Connector for ClientConnector {
    fn connect(&self, profile: &str) -> Result<Provider> {
        let embedded = securesend_core::config::ProfileConfig::embedded_default();
        if self.client.config().is_none() && profile == embedded.name() {
            return self.client.connect(None);
        }
        self.client.connect(Some(profile))
    }

    fn reconciling_providers(&self) -> Vec<String> {
        crate::providers()
            .into_iter()
            .filter(|p| p.capabilities().is_some_and(|c| c.reconcile))
            .map(|p| p.key.to_owned())
            .collect()
    }
}
