//! The roles a provider plays. Each is an object-safe async trait, usable as `Arc<dyn …>`.
//!
//! Implementations may assume their input passed the provider's
//! [`Capabilities`](crate::Capabilities) checks when they are called through a
//! [`Provider`](crate::Provider), and must check it themselves otherwise.

use async_trait::async_trait;

use crate::download::Download;
use crate::error::Result;
use crate::inbox::{InboxQuery, ReceivedMessage};
use crate::message::SecureMessage;
use crate::remote::{RemoteFile, SendReceipt};
use crate::request::{DownloadRequest, UploadRequest};

/// Sends messages with attachments to recipients.
#[async_trait]
pub trait SecureMailer: Send + Sync {
    /// Sends `message`. A send is never repeated blindly: after an ambiguous failure the
    /// implementation checks the service's state before trying again, and a failure cleans up
    /// what the attempt created on the service.
    async fn send(&self, message: SecureMessage) -> Result<SendReceipt>;
}

/// Uploads files to the service.
#[async_trait]
pub trait Uploader: Send + Sync {
    /// Uploads one file and returns it as the service now knows it.
    async fn upload(&self, request: UploadRequest) -> Result<RemoteFile>;
}

/// Downloads files from the service.
#[async_trait]
pub trait Downloader: Send + Sync {
    /// Starts downloading; the returned [`Download`] streams the bytes.
    async fn download(&self, request: DownloadRequest) -> Result<Download>;
}

/// Step-by-step checks behind `securesend doctor`.
#[async_trait]
pub trait Diagnostics: Send + Sync {
    /// Reaches the service without credentials; says what answered.
    async fn reach(&self) -> Result<String>;
    /// Authenticates; says as whom.
    async fn authenticate(&self) -> Result<String>;
}

/// Shows a person what an interactive login needs them to do.
pub trait LoginPrompt: Send + Sync {
    /// Asks the person to open `url` in a browser (and may open it for them).
    fn open_url(&self, url: &str);
}

/// Signs in interactively (an authorization-code flow) and keeps what later runs need.
#[async_trait]
pub trait Login: Send + Sync {
    /// Runs the login; says as whom the account is now signed in.
    async fn login(&self, prompt: &dyn LoginPrompt) -> Result<String>;
}

/// Lists messages the account received, with file ids to download.
#[async_trait]
pub trait Inbox: Send + Sync {
    /// The received messages matching `query`.
    async fn inbox(&self, query: InboxQuery) -> Result<Vec<ReceivedMessage>>;
}

/// Opens a prepared message in the person's compose window on the service instead of sending it.
#[async_trait]
pub trait Composer: Send + Sync {
    /// Hands `message` to the compose window; the receipt's status is
    /// [`SendStatus::Composing`](crate::SendStatus::Composing).
    async fn compose(&self, message: SecureMessage) -> Result<SendReceipt>;
}
