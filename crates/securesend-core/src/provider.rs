//! A connected provider: its name, capabilities and roles behind one handle.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use crate::browse::{Browser, Entry, ListRequest, Page};
use crate::capabilities::Capabilities;
use crate::download::Download;
use crate::error::{Error, Result};
use crate::inbox::{InboxQuery, ReceivedMessage};
use crate::message::SecureMessage;
use crate::remote::{RemoteFile, SendReceipt};
use crate::request::{DownloadRequest, UploadRequest};
use crate::roles::{
    Composer, Diagnostics, Downloader, Inbox, Login, LoginPrompt, SecureMailer, Uploader,
};

/// What a message asked for that every receipt reports: the recipients by role and the
/// expiry. Adapters fill what the service says; the rest comes from here.
struct Asked {
    to: Vec<String>,
    cc: Vec<String>,
    bcc: Vec<String>,
    expires: Option<time::Date>,
}

impl Asked {
    fn of(message: &SecureMessage) -> Asked {
        let emails = |list: &[crate::Address]| list.iter().map(|a| a.email().to_owned()).collect();
        Asked {
            to: emails(message.to()),
            cc: emails(message.cc()),
            bcc: emails(message.bcc()),
            expires: message
                .options()
                .expires
                .map(|e| e.date_from(time::OffsetDateTime::now_utc().date())),
        }
    }

    fn fill(self, mut receipt: SendReceipt) -> SendReceipt {
        if receipt.to.is_empty() && receipt.cc.is_empty() && receipt.bcc.is_empty() {
            receipt = receipt.with_roles(self.to, self.cc, self.bcc);
        }
        if receipt.expires.is_none() {
            receipt.expires = self.expires;
        }
        receipt
    }
}

/// A provider ready to use. Cloning is cheap (the roles are shared).
///
/// Every call is checked against [`Provider::capabilities`] before the role runs, so a request
/// the provider cannot serve fails with no network traffic. A role the provider lacks is an
/// [`Unsupported`](crate::ErrorKind::Unsupported) error.
#[derive(Clone)]
pub struct Provider {
    name: Cow<'static, str>,
    capabilities: Capabilities,
    mailer: Option<Arc<dyn SecureMailer>>,
    uploader: Option<Arc<dyn Uploader>>,
    downloader: Option<Arc<dyn Downloader>>,
    diagnostics: Option<Arc<dyn Diagnostics>>,
    login: Option<Arc<dyn Login>>,
    inbox: Option<Arc<dyn Inbox>>,
    composer: Option<Arc<dyn Composer>>,
    browser: Option<Arc<dyn Browser>>,
}

impl fmt::Debug for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Provider")
            .field("name", &self.name)
            .field("send", &self.mailer.is_some())
            .field("upload", &self.uploader.is_some())
            .field("download", &self.downloader.is_some())
            .field("login", &self.login.is_some())
            .field("inbox", &self.inbox.is_some())
            .field("compose", &self.composer.is_some())
            .field("browse", &self.browser.is_some())
            .finish()
    }
}

impl Provider {
    /// A provider named `name` (its configuration key) with `capabilities` and no roles yet.
    pub fn new(name: impl Into<Cow<'static, str>>, capabilities: Capabilities) -> Self {
        Provider {
            name: name.into(),
            capabilities,
            mailer: None,
            uploader: None,
            downloader: None,
            diagnostics: None,
            login: None,
            inbox: None,
            composer: None,
            browser: None,
        }
    }

    /// Adds the sending role.
    pub fn with_mailer(mut self, mailer: Arc<dyn SecureMailer>) -> Self {
        self.mailer = Some(mailer);
        self
    }
    /// Adds the upload role.
    pub fn with_uploader(mut self, uploader: Arc<dyn Uploader>) -> Self {
        self.uploader = Some(uploader);
        self
    }
    /// Adds the download role.
    pub fn with_downloader(mut self, downloader: Arc<dyn Downloader>) -> Self {
        self.downloader = Some(downloader);
        self
    }
    /// Adds the interactive sign-in role.
    pub fn with_login(mut self, login: Arc<dyn Login>) -> Self {
        self.login = Some(login);
        self
    }
    /// Adds the inbox role.
    pub fn with_inbox(mut self, inbox: Arc<dyn Inbox>) -> Self {
        self.inbox = Some(inbox);
        self
    }
    /// Adds the compose-window role.
    pub fn with_composer(mut self, composer: Arc<dyn Composer>) -> Self {
        self.composer = Some(composer);
        self
    }
    /// Adds the browsing role.
    pub fn with_browser(mut self, browser: Arc<dyn Browser>) -> Self {
        self.browser = Some(browser);
        self
    }
    /// Adds the doctor checks.
    pub fn with_diagnostics(mut self, diagnostics: Arc<dyn Diagnostics>) -> Self {
        self.diagnostics = Some(diagnostics);
        self
    }

    /// The provider key (`kiteworks`, `local`, …).
    pub fn name(&self) -> &str {
        &self.name
    }
    /// What it can do.
    pub fn capabilities(&self) -> &Capabilities {
        &self.capabilities
    }

    fn lacks(&self, role: &str, operation: &'static str) -> Error {
        Error::unsupported(format!("{} has no {role} role", self.name))
            .with_provider(self.name.clone())
            .with_operation(operation)
    }

    /// The sending role.
    pub fn mailer(&self) -> Result<&Arc<dyn SecureMailer>> {
        self.mailer
            .as_ref()
            .ok_or_else(|| self.lacks("send", "send"))
    }
    /// The upload role.
    pub fn uploader(&self) -> Result<&Arc<dyn Uploader>> {
        self.uploader
            .as_ref()
            .ok_or_else(|| self.lacks("upload", "upload"))
    }
    /// The download role.
    pub fn downloader(&self) -> Result<&Arc<dyn Downloader>> {
        self.downloader
            .as_ref()
            .ok_or_else(|| self.lacks("download", "download"))
    }

    /// Checks `message` against the capabilities, then sends it.
    pub async fn send(&self, message: SecureMessage) -> Result<SendReceipt> {
        self.capabilities.check_message(&self.name, &message)?;
        let mailer = self.mailer()?;
        let asked = Asked::of(&message);
        mailer
            .send(message)
            .await
            .map(|r| asked.fill(r))
            .map_err(|e| self.context(e, "send"))
    }

    /// Checks `request` against the capabilities, then uploads.
    pub async fn upload(&self, request: UploadRequest) -> Result<RemoteFile> {
        self.capabilities.check_upload(&self.name, &request)?;
        let uploader = self.uploader()?;
        uploader
            .upload(request)
            .await
            .map_err(|e| self.context(e, "upload"))
    }

    /// Checks `request`, then starts the download.
    pub async fn download(&self, request: DownloadRequest) -> Result<Download> {
        self.capabilities.check_download(&self.name, &request)?;
        let progress = request.progress().cloned();
        let downloader = self.downloader()?;
        let download = downloader
            .download(request)
            .await
            .map_err(|e| self.context(e, "download"))?;
        Ok(download.with_progress(progress))
    }

    /// Opens `message` in the person's compose window instead of sending it.
    pub async fn compose(&self, message: SecureMessage) -> Result<SendReceipt> {
        self.capabilities.check_compose(&self.name, &message)?;
        let composer = self
            .composer
            .as_ref()
            .ok_or_else(|| self.lacks("compose", "compose"))?;
        let asked = Asked::of(&message);
        composer
            .compose(message)
            .await
            .map(|r| asked.fill(r))
            .map_err(|e| self.context(e, "compose"))
    }

    /// Signs in interactively; `prompt` shows the person the URL to open.
    pub async fn login(&self, prompt: &dyn LoginPrompt) -> Result<String> {
        let login = self
            .login
            .as_ref()
            .ok_or_else(|| self.lacks("interactive login", "login"))?;
        login
            .login(prompt)
            .await
            .map_err(|e| self.context(e, "login"))
    }

    /// Lists received messages.
    pub async fn inbox(&self, query: InboxQuery) -> Result<Vec<ReceivedMessage>> {
        let inbox = self
            .inbox
            .as_ref()
            .ok_or_else(|| self.lacks("inbox", "inbox"))?;
        inbox
            .inbox(query)
            .await
            .map_err(|e| self.context(e, "inbox"))
    }

    /// One page of a folder listing.
    pub async fn list_page(&self, request: ListRequest) -> Result<Page> {
        self.capabilities.check_list(&self.name, &request)?;
        let browser = self
            .browser
            .as_ref()
            .ok_or_else(|| self.lacks("browse", "list"))?;
        browser
            .list(request)
            .await
            .map_err(|e| self.context(e, "list"))
    }

    /// Every entry of a folder, following the pages to the end.
    ///
    /// A service that hands back a cursor it already gave is a protocol error rather than an
    /// endless loop.
    pub async fn list(&self, request: ListRequest) -> Result<Vec<Entry>> {
        let mut entries = Vec::new();
        let mut seen = std::collections::HashSet::new();
        let mut page = self.list_page(request.clone()).await?;
        loop {
            entries.append(&mut page.entries);
            let Some(next) = page.next.take() else {
                return Ok(entries);
            };
            if !seen.insert(next.clone()) {
                return Err(Error::protocol("the service repeated a page cursor")
                    .with_provider(self.name.clone())
                    .with_operation("list"));
            }
            page = self.list_page(request.clone().after(next)).await?;
        }
    }

    /// Creates a folder; see [`Browser::create_folder`].
    pub async fn create_folder(&self, path: &str, parents: bool) -> Result<Entry> {
        let clean = self.capabilities.check_create_folder(&self.name, path)?;
        let browser = self
            .browser
            .as_ref()
            .ok_or_else(|| self.lacks("browse", "create folder"))?;
        browser
            .create_folder(&clean, parents)
            .await
            .map_err(|e| self.context(e, "create folder"))
    }

    /// Reaches the service without credentials (doctor step).
    pub async fn reach(&self) -> Result<String> {
        match &self.diagnostics {
            Some(d) => d.reach().await.map_err(|e| self.context(e, "reach")),
            None => Ok(format!("{} has nothing to reach", self.name)),
        }
    }

    /// Authenticates (doctor step).
    pub async fn authenticate(&self) -> Result<String> {
        match &self.diagnostics {
            Some(d) => d
                .authenticate()
                .await
                .map_err(|e| self.context(e, "authenticate")),
            None => Ok(format!("{} needs no credentials", self.name)),
        }
    }

    fn context(&self, e: Error, operation: &'static str) -> Error {
        e.or_provider(self.name.clone()).or_operation(operation)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::browse::EntryKind;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Pages of two entries; `loop_at` makes the service repeat its first cursor.
    struct Pages {
        total: usize,
        loop_at: Option<usize>,
        calls: AtomicUsize,
    }

    #[async_trait::async_trait]
    impl Browser for Pages {
        async fn list(&self, req: ListRequest) -> Result<Page> {
            let call = self.calls.fetch_add(1, Ordering::SeqCst);
            let start: usize = req.cursor().map(|c| c.parse().unwrap()).unwrap_or(0);
            let end = (start + 2).min(self.total);
            let entries = (start..end)
                .map(|i| Entry::new(i.to_string(), format!("f{i}"), EntryKind::File))
                .collect();
            let next = match self.loop_at {
                Some(at) if call >= at => Some("2".to_owned()),
                _ => (end < self.total).then(|| end.to_string()),
            };
            Ok(Page { entries, next })
        }
        async fn create_folder(&self, _: &str, _: bool) -> Result<Entry> {
            unreachable!("not used here")
        }
    }

    fn provider(pages: Pages) -> Provider {
        let caps = Capabilities {
            browse: true,
            ..Capabilities::default()
        };
        Provider::new("paged", caps).with_browser(Arc::new(pages))
    }

    #[tokio::test]
    async fn list_follows_pages_to_the_end() {
        let p = provider(Pages {
            total: 7,
            loop_at: None,
            calls: AtomicUsize::new(0),
        });
        let names: Vec<_> = p
            .list(ListRequest::top())
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.name)
            .collect();
        assert_eq!(names, ["f0", "f1", "f2", "f3", "f4", "f5", "f6"]);
    }

    #[tokio::test]
    async fn a_repeated_cursor_is_a_protocol_error_not_a_loop() {
        let p = provider(Pages {
            total: 100,
            loop_at: Some(1),
            calls: AtomicUsize::new(0),
        });
        let err = p.list(ListRequest::top()).await.unwrap_err();
        assert!(err.is_protocol(), "{err}");
    }

    #[tokio::test]
    async fn absent_roles_are_unsupported() {
        let p = Provider::new("bare", Capabilities::default());
        assert!(
            p.list(ListRequest::top())
                .await
                .unwrap_err()
                .is_unsupported()
        );
        assert!(
            p.create_folder("a", false)
                .await
                .unwrap_err()
                .is_unsupported()
        );
        assert!(
            p.inbox(InboxQuery::all())
                .await
                .unwrap_err()
                .is_unsupported()
        );
    }
}
