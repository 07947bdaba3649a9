//! The emulated installation: accounts with identities, application passwords, uploaded
//! attachments, the VFS tree, vacation settings, and the switches a test flips.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use serde::Serialize;

use crate::service::ServiceContext;
use crate::tokens::{TokenFormat, random_token};

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Plain data, never left half-updated.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Application names EGroupware checks run rights for.
pub(crate) const APP_MAIL: &str = "mail";
pub(crate) const APP_GROUPDAV: &str = "groupdav";
pub(crate) const APP_FILEMANAGER: &str = "filemanager";

/// A mail identity (`ident_id`) of a mail account (`acc_id`).
#[derive(Clone, Debug)]
pub(crate) struct IdentityRecord {
    pub ident_id: u64,
    pub acc_id: u64,
    pub realname: String,
    pub org: String,
    pub email: String,
    /// SMTP-only accounts are not listed and cannot be the default for sending.
    pub smtp_only: bool,
    /// Whether the user may PATCH the account.
    pub user_editable: bool,
    pub name: String,
    pub signature: String,
}

impl IdentityRecord {
    /// What `GET /mail` shows: realname, space, organisation (an empty one leaves a double
    /// space), ` <email>`; the account name when realname and organisation are both empty.
    pub fn display(&self) -> String {
        let who = if self.realname.is_empty() && self.org.is_empty() {
            self.name.clone()
        } else {
            format!("{} {}", self.realname, self.org)
        };
        format!("{who} <{}>", self.email)
    }
}

/// An EGroupware user.
#[derive(Clone, Debug)]
pub(crate) struct Account {
    pub login: String,
    pub account_id: u32,
    pub password: String,
    pub admin: bool,
    pub apps: Vec<&'static str>,
    pub identities: Vec<IdentityRecord>,
}

/// An application password `token<id>_<secret>`.
#[derive(Clone, Debug)]
pub(crate) struct AppPassword {
    pub id: u32,
    pub secret: String,
    /// The account it belongs to; 0 = valid for every user (made by an admin).
    pub owner: u32,
    pub valid_until: Option<SystemTime>,
    pub revoked: bool,
    /// When set, the session may use only these apps.
    pub limits: Option<Vec<&'static str>>,
}

impl AppPassword {
    /// The value a client sends as password.
    pub fn value(&self) -> String {
        format!("token{}_{}", self.id, self.secret)
    }
}

/// An uploaded attachment, by token (`<name>--XXXXXX`).
#[derive(Clone, Debug)]
pub(crate) struct Upload {
    pub file_id: String,
    pub name: String,
}

/// A VFS entry.
#[derive(Clone, Debug)]
pub(crate) enum Node {
    Dir {
        modified: SystemTime,
    },
    File {
        file_id: String,
        size: u64,
        content_type: String,
        modified: SystemTime,
        etag: String,
    },
}

/// A compose or view window a client asked to open in a user's browser.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Window {
    /// `compose` or `view`.
    pub kind: String,
    /// The user's login.
    pub login: String,
    /// The identity (compose) or account (view) id from the path, if any.
    pub id: Option<u64>,
    /// The request body: the JSON message for compose, size and sha256 of the eml for view.
    pub request: serde_json::Value,
}

/// The switches of an EGroupware sandbox, shared with the running service: tests flip them
/// while it runs. Cheap to clone.
///
/// ```
/// use securesend_sandbox::egroupware::{Egroupware, EgroupwareControl};
/// let egw = Egroupware::new();
/// let control: EgroupwareControl = egw.control();
/// control.set_online("ralf", false);
/// control.set_quota("ralf", Some(1024));
/// assert!(!control.is_online("ralf"));
/// ```
#[derive(Clone, Debug, Default)]
pub struct EgroupwareControl {
    inner: Arc<Mutex<Flags>>,
}

#[derive(Debug)]
struct Flags {
    offline: HashSet<String>,
    token_session: bool,
    quota: HashMap<String, u64>,
    locked: HashSet<String>,
    fastcgi: bool,
    epl: bool,
    smtp_down: bool,
    blocked_user_agent: Option<String>,
    windows: Vec<Window>,
    drafts: Vec<serde_json::Value>,
}

impl Default for Flags {
    fn default() -> Self {
        Flags {
            offline: HashSet::new(),
            token_session: true,
            quota: HashMap::new(),
            locked: HashSet::new(),
            fastcgi: true,
            epl: false,
            smtp_down: false,
            blocked_user_agent: None,
            windows: Vec::new(),
            drafts: Vec::new(),
        }
    }
}

impl EgroupwareControl {
    fn flags(&self) -> MutexGuard<'_, Flags> {
        lock(&self.inner)
    }

    /// Marks a user online (default) or not: compose and view windows need the user online.
    pub fn set_online(&self, login: &str, online: bool) {
        let mut f = self.flags();
        if online {
            f.offline.remove(login);
        } else {
            f.offline.insert(login.to_owned());
        }
    }

    /// Whether a user counts as online.
    pub fn is_online(&self, login: &str) -> bool {
        !self.flags().offline.contains(login)
    }

    /// Whether sessions started with an application password lack the user password (default
    /// on, as on a real server): the sent mail is not copied to the Sent folder and the answer
    /// carries a `warning`; vacation answers leave out `script`.
    pub fn set_token_session(&self, on: bool) {
        self.flags().token_session = on;
    }

    pub(crate) fn token_session(&self) -> bool {
        self.flags().token_session
    }

    /// Sets a user's WebDAV quota in bytes (`None`: unlimited, the default).
    pub fn set_quota(&self, login: &str, bytes: Option<u64>) {
        let mut f = self.flags();
        match bytes {
            Some(b) => f.quota.insert(login.to_owned(), b),
            None => f.quota.remove(login),
        };
    }

    pub(crate) fn quota(&self, login: &str) -> Option<u64> {
        self.flags().quota.get(login).copied()
    }

    /// Locks or unlocks a VFS path (a PUT to a locked file is answered 423).
    pub fn set_locked(&self, path: &str, locked: bool) {
        let mut f = self.flags();
        if locked {
            f.locked.insert(path.to_owned());
        } else {
            f.locked.remove(path);
        }
    }

    pub(crate) fn is_locked(&self, path: &str) -> bool {
        self.flags().locked.contains(path)
    }

    /// Whether the server runs PHP behind Apache with FastCGI (default on): a PUT with
    /// `Transfer-Encoding: chunked` is then refused with 501.
    pub fn set_fastcgi(&self, on: bool) {
        self.flags().fastcgi = on;
    }

    pub(crate) fn fastcgi(&self) -> bool {
        self.flags().fastcgi
    }

    /// Whether the server runs the EPL edition (default off): share passwords, share expiry
    /// and writable shares fail with 500 on the community edition.
    pub fn set_epl(&self, on: bool) {
        self.flags().epl = on;
    }

    pub(crate) fn epl(&self) -> bool {
        self.flags().epl
    }

    /// Makes sending fail as with an unreachable SMTP server (HTTP 500, empty message).
    pub fn set_smtp_down(&self, down: bool) {
        self.flags().smtp_down = down;
    }

    pub(crate) fn smtp_down(&self) -> bool {
        self.flags().smtp_down
    }

    /// Refuses sending (403) to clients whose `User-Agent` contains this text, like the
    /// server's per-User-Agent deny list; `None` allows every client.
    pub fn set_blocked_user_agent(&self, contains: Option<&str>) {
        self.flags().blocked_user_agent = contains.map(str::to_owned);
    }

    pub(crate) fn blocks(&self, user_agent: &str) -> bool {
        self.flags()
            .blocked_user_agent
            .as_deref()
            .is_some_and(|b| user_agent.contains(b))
    }

    /// The compose and view windows clients asked to open, in order.
    pub fn windows(&self) -> Vec<Window> {
        self.flags().windows.clone()
    }

    pub(crate) fn open_window(&self, window: Window) {
        self.flags().windows.push(window);
    }

    /// Messages posted without any recipient, which EGroupware stores as drafts.
    pub fn drafts(&self) -> Vec<serde_json::Value> {
        self.flags().drafts.clone()
    }

    pub(crate) fn store_draft(&self, draft: serde_json::Value) {
        self.flags().drafts.push(draft);
    }
}

/// What the handlers share.
pub(crate) struct State {
    pub ctx: ServiceContext,
    pub control: EgroupwareControl,
    pub accounts: Vec<Account>,
    pub app_passwords: Vec<AppPassword>,
    inner: Mutex<Inner>,
}

#[derive(Default)]
pub(crate) struct Inner {
    pub uploads: HashMap<String, Upload>,
    pub vfs: BTreeMap<String, Node>,
    pub vacation: HashMap<u32, serde_json::Map<String, serde_json::Value>>,
    /// Fields changed with `PATCH /mail/<id>`, by identity.
    pub account_changes: HashMap<u64, serde_json::Map<String, serde_json::Value>>,
    /// Shares made by sends, by token (`share.php/<token>`).
    pub shares: HashMap<String, super::share::Share>,
}

fn identity(ident_id: u64, acc_id: u64, realname: &str, org: &str, email: &str) -> IdentityRecord {
    IdentityRecord {
        ident_id,
        acc_id,
        realname: realname.to_owned(),
        org: org.to_owned(),
        email: email.to_owned(),
        smtp_only: false,
        user_editable: true,
        name: format!("{email} account"),
        signature: String::new(),
    }
}

fn password() -> String {
    random_token(TokenFormat::Alphanumeric { len: 20 })
}

fn secret16() -> String {
    random_token(TokenFormat::Alphanumeric { len: 16 })
}

impl State {
    /// The seeded installation: `ralf` (two identities), `anna` (one), `smtponly` (only an
    /// SMTP-only account, so no IMAP account) and the admin `sysop`, plus application
    /// passwords covering each owner and validity rule.
    pub fn seed(ctx: ServiceContext, control: EgroupwareControl) -> State {
        let all_apps = vec![APP_MAIL, APP_GROUPDAV, APP_FILEMANAGER];
        let mut sysop_ident = identity(3, 3, "System Operator", "", "sysop@example.org");
        sysop_ident.user_editable = false;
        let mut second = identity(52, 2, "Ralf Becker", "", "rb@mail.example.net");
        second.user_editable = false;
        let mut smtp = identity(90, 9, "SMTP Only", "", "smtp@example.org");
        smtp.smtp_only = true;
        let accounts = vec![
            Account {
                login: "sysop".into(),
                account_id: 1,
                password: password(),
                admin: true,
                apps: all_apps.clone(),
                identities: vec![sysop_ident],
            },
            Account {
                login: "ralf".into(),
                account_id: 5,
                password: password(),
                admin: false,
                apps: all_apps.clone(),
                identities: vec![
                    identity(1, 1, "Ralf Becker", "example.org", "ralf@example.org"),
                    second,
                ],
            },
            Account {
                login: "anna".into(),
                account_id: 7,
                password: password(),
                admin: false,
                apps: all_apps.clone(),
                identities: vec![identity(
                    85,
                    4,
                    "Anna Schmidt",
                    "example.org",
                    "anna@example.org",
                )],
            },
            Account {
                login: "smtponly".into(),
                account_id: 9,
                password: password(),
                admin: false,
                apps: all_apps,
                identities: vec![smtp],
            },
        ];
        let now = ctx.clock().now();
        let token = |id, owner, limits: Option<Vec<&'static str>>| AppPassword {
            id,
            secret: secret16(),
            owner,
            valid_until: None,
            revoked: false,
            limits,
        };
        let mut revoked = token(4, 5, None);
        revoked.revoked = true;
        let mut expired = token(5, 5, None);
        expired.valid_until = Some(now - Duration::from_secs(86_400));
        let app_passwords = vec![
            token(1, 5, None),
            token(2, 0, None),
            token(3, 7, None),
            revoked,
            expired,
            token(6, 5, Some(vec![APP_FILEMANAGER])),
            token(7, 5, Some(vec![APP_GROUPDAV])),
        ];
        let mut inner = Inner::default();
        inner
            .vfs
            .insert("/home".to_owned(), Node::Dir { modified: now });
        for a in &accounts {
            inner
                .vfs
                .insert(format!("/home/{}", a.login), Node::Dir { modified: now });
        }
        State {
            ctx,
            control,
            accounts,
            app_passwords,
            inner: Mutex::new(inner),
        }
    }

    pub fn inner(&self) -> MutexGuard<'_, Inner> {
        lock(&self.inner)
    }

    pub fn account(&self, login: &str) -> Option<&Account> {
        self.accounts.iter().find(|a| a.login == login)
    }

    pub fn app_password(&self, id: u32) -> Option<&AppPassword> {
        self.app_passwords.iter().find(|t| t.id == id)
    }
}
