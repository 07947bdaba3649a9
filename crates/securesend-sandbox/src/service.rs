//! How a service module plugs into the harness: the [`Service`] trait, the [`ServiceContext`]
//! it is mounted with, what it hands back ([`Mount`]), and the [`Registry`] of compiled-in
//! modules.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use axum::Router;
use serde::{Deserialize, Serialize};

use crate::clock::Clock;
use crate::error::SandboxError;
use crate::journal::Journal;
use crate::mail::Outbox;
use crate::options::SandboxOptions;
use crate::ratelimit::{RateLimit, RateLimitSetting, RateLimiter};
use crate::store::{FileStore, StoredFile};
use crate::tokens::Tokens;

/// The provider key of securesend's `local` adapter, which needs no server; the generated
/// configuration gets a profile for it next to the emulated services.
pub const LOCAL_PROVIDER: &str = "local";

/// An emulated service. Implement it once per provider, register it in
/// [`Registry::builtin`], and the harness serves it on loopback, injects faults and latency in
/// front of it, journals its requests and writes its profile into the generated configuration.
#[async_trait]
pub trait Service: Send + Sync + 'static {
    /// The provider key, as used in `securesend.toml` (`"kiteworks"`, `"egroupware"`, …).
    fn key(&self) -> &'static str;

    /// One line for listings.
    fn description(&self) -> &'static str {
        ""
    }

    /// Builds the service's routes and state, seeds its data, and says how a client reaches
    /// it. Called once per sandbox, after the listener is bound, so
    /// [`ServiceContext::base_url`] is final.
    async fn mount(&self, ctx: ServiceContext) -> Result<Mount, SandboxError>;
}

/// What a mounted service hands back to the harness.
pub struct Mount {
    /// Its routes. The harness adds fault injection, latency and the journal around them.
    pub router: Router,
    /// Its profile fields for `securesend.toml` (everything but `provider`, which the harness
    /// adds): `base_url` pointing at [`ServiceContext::base_url`] and the credentials. The
    /// generated file is throwaway test configuration, so credentials are written as literal
    /// values: the file then works at once, with no environment to prepare.
    pub profile: toml::Table,
    /// The test credentials a person or test needs to call the service by hand.
    pub credentials: Credentials,
    /// Seeded files and messages, for the seed manifest.
    pub seeded: Vec<SeededItem>,
}

impl fmt::Debug for Mount {
    // Profile values may be credentials: show the keys only.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mount")
            .field("profile_keys", &self.profile.keys().collect::<Vec<_>>())
            .field("credentials", &self.credentials)
            .field("seeded", &self.seeded)
            .finish_non_exhaustive()
    }
}

impl Mount {
    /// A mount with these routes and nothing else yet.
    pub fn new(router: Router) -> Mount {
        Mount {
            router,
            profile: toml::Table::new(),
            credentials: Credentials::default(),
            seeded: Vec::new(),
        }
    }

    /// Adds a profile field.
    pub fn profile_field(mut self, key: &str, value: impl Into<toml::Value>) -> Mount {
        self.profile.insert(key.to_owned(), value.into());
        self
    }

    /// Adds a credential.
    pub fn credential(mut self, key: &str, value: &str) -> Mount {
        self.credentials.insert(key, value);
        self
    }

    /// Adds a seeded item.
    pub fn seeded(mut self, item: SeededItem) -> Mount {
        self.seeded.push(item);
        self
    }
}

/// A service's test credentials, by name (`client_id`, `password`, `api_key`, …). They are
/// throwaway values generated per sandbox; Debug still shows only the names, so they do not
/// end up in test logs by accident.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credentials(BTreeMap<String, String>);

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Credentials")
            .field(&self.0.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Credentials {
    /// Sets one credential.
    pub fn insert(&mut self, key: &str, value: &str) {
        self.0.insert(key.to_owned(), value.to_owned());
    }

    /// One credential.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    /// All credentials, by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// What a seeded item is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SeedKind {
    /// A file a client can list or download.
    File,
    /// A folder.
    Folder,
    /// A message (for example an inbox mail).
    Message,
}

/// One seeded item in the manifest.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SeededItem {
    /// What it is.
    pub kind: SeedKind,
    /// The id a client uses for it on the service's API.
    pub id: String,
    /// Its name (file name, folder name, subject).
    pub name: String,
    /// Size in bytes, for files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// Lowercase hex sha256, for files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// Anything else a test needs (folder path, download id, sender).
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub details: serde_json::Map<String, serde_json::Value>,
}

impl SeededItem {
    /// A seeded file known to clients as `id`.
    pub fn file(id: impl Into<String>, file: &StoredFile) -> SeededItem {
        SeededItem {
            kind: SeedKind::File,
            id: id.into(),
            name: file.name.clone(),
            size: Some(file.size),
            sha256: Some(file.sha256.clone()),
            details: serde_json::Map::new(),
        }
    }

    /// A seeded folder.
    pub fn folder(id: impl Into<String>, name: &str) -> SeededItem {
        SeededItem {
            kind: SeedKind::Folder,
            id: id.into(),
            name: name.to_owned(),
            size: None,
            sha256: None,
            details: serde_json::Map::new(),
        }
    }

    /// A seeded message, named by its subject.
    pub fn message(id: impl Into<String>, subject: &str) -> SeededItem {
        SeededItem {
            kind: SeedKind::Message,
            id: id.into(),
            name: subject.to_owned(),
            size: None,
            sha256: None,
            details: serde_json::Map::new(),
        }
    }

    /// Adds a detail.
    pub fn detail(mut self, key: &str, value: impl Into<serde_json::Value>) -> SeededItem {
        self.details.insert(key.to_owned(), value.into());
        self
    }
}

/// Everything a service module gets from the harness; a cheap-to-clone handle to keep in the
/// service's axum state.
#[derive(Clone, Debug)]
pub struct ServiceContext {
    inner: Arc<ContextInner>,
}

#[derive(Debug)]
struct ContextInner {
    key: &'static str,
    addr: SocketAddr,
    base_url: String,
    options: SandboxOptions,
    store: FileStore,
    outbox: Outbox,
    tokens: Tokens,
    journal: Journal,
}

impl ServiceContext {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        key: &'static str,
        addr: SocketAddr,
        options: SandboxOptions,
        store: FileStore,
        outbox: Outbox,
        tokens: Tokens,
        journal: Journal,
    ) -> ServiceContext {
        ServiceContext {
            inner: Arc::new(ContextInner {
                key,
                addr,
                base_url: format!("http://{addr}"),
                options,
                store,
                outbox,
                tokens,
                journal,
            }),
        }
    }

    /// The service key.
    pub fn key(&self) -> &'static str {
        self.inner.key
    }

    /// `http://127.0.0.1:<port>`, without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.inner.base_url
    }

    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        self.inner.addr
    }

    /// The sandbox clock; use it for every timestamp and expiry so tests can move time.
    pub fn clock(&self) -> &Clock {
        &self.inner.options.clock
    }

    /// The file store.
    pub fn store(&self) -> &FileStore {
        &self.inner.store
    }

    /// The outbox of delivered messages.
    pub fn outbox(&self) -> &Outbox {
        &self.inner.outbox
    }

    /// The token registry.
    pub fn tokens(&self) -> &Tokens {
        &self.inner.tokens
    }

    /// The request journal (for [`Journal::note`]).
    pub fn journal(&self) -> &Journal {
        &self.inner.journal
    }

    /// The sandbox seed, for services that derive seeded content or ids deterministically.
    pub fn seed(&self) -> u64 {
        self.inner.options.seed
    }

    /// The chunk cap: the sandbox option if set, else the service's documented default.
    pub fn chunk_max_or(&self, service_default: u64) -> u64 {
        self.inner.options.chunk_max.unwrap_or(service_default)
    }

    /// The default token lifetime.
    pub fn token_lifetime(&self) -> Duration {
        self.inner.options.token_lifetime
    }

    /// A rate limiter for this service, or `None` when limits are off: the sandbox-wide limit
    /// if one was set, else `service_default` (the service's documented limit).
    pub fn rate_limiter(&self, service_default: RateLimit) -> Option<RateLimiter> {
        let limit = match self.inner.options.rate_limit {
            RateLimitSetting::Off => return None,
            RateLimitSetting::ServiceDefault => service_default,
            RateLimitSetting::Limit(l) => l,
        };
        Some(RateLimiter::new(self.clock().clone(), limit))
    }
}

/// The service modules compiled into this build.
#[derive(Default)]
pub struct Registry {
    services: Vec<Box<dyn Service>>,
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Registry").field(&self.keys()).finish()
    }
}

/// The services chosen by a `--provider` argument.
#[derive(Debug)]
pub struct Selection<'a> {
    /// Services to serve, in registry order.
    pub services: Vec<&'a dyn Service>,
    /// Whether a `local` profile was asked for.
    pub local: bool,
}

impl fmt::Debug for dyn Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Service({})", self.key())
    }
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Registry {
        Registry::default()
    }

    /// The compiled-in service modules. Each adapter issue adds its module here.
    pub fn builtin() -> Registry {
        Registry::new()
            .with(crate::kiteworks::KiteworksService::default())
            .with(crate::egroupware::Egroupware::new())
            .with(crate::privasfer::Privasfer)
            .with(crate::tuyu::Tuyu::default())
    }

    /// Adds a service (a later one with the same key replaces the earlier, in its place, so
    /// the order of `all` and the default profile stay the same).
    pub fn with(mut self, service: impl Service) -> Registry {
        match self.services.iter().position(|s| s.key() == service.key()) {
            Some(at) => self.services[at] = Box::new(service),
            None => self.services.push(Box::new(service)),
        }
        self
    }

    /// The keys, in registration order.
    pub fn keys(&self) -> Vec<&'static str> {
        self.services.iter().map(|s| s.key()).collect()
    }

    /// Every service.
    pub fn iter(&self) -> impl Iterator<Item = &dyn Service> {
        self.services.iter().map(|s| s.as_ref())
    }

    /// The names `--provider` accepts: every key, `local`, and `all`.
    pub fn accepted_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.keys().into_iter().map(str::to_owned).collect();
        names.push(LOCAL_PROVIDER.to_owned());
        names.push("all".to_owned());
        names
    }

    /// One service by key; the error lists the names that would have worked.
    pub fn get(&self, key: &str) -> Result<&dyn Service, SandboxError> {
        self.iter()
            .find(|s| s.key() == key)
            .ok_or_else(|| SandboxError::UnknownProvider {
                name: key.to_owned(),
                available: self.accepted_names(),
            })
    }

    /// Resolves a `--provider` value: `all` (every service plus `local`), or one or more
    /// comma-separated names, each a service key or `local`.
    pub fn select(&self, spec: &str) -> Result<Selection<'_>, SandboxError> {
        let spec = spec.trim();
        if spec == "all" {
            return Ok(Selection {
                services: self.iter().collect(),
                local: true,
            });
        }
        let mut local = false;
        let mut wanted = Vec::new();
        for name in spec.split(',').map(str::trim) {
            if name == LOCAL_PROVIDER {
                local = true;
            } else {
                let service = self.get(name)?;
                if !wanted
                    .iter()
                    .any(|s: &&dyn Service| s.key() == service.key())
                {
                    wanted.push(service);
                }
            }
        }
        Ok(Selection {
            services: wanted,
            local,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Named(&'static str);

    #[async_trait]
    impl Service for Named {
        fn key(&self) -> &'static str {
            self.0
        }
        async fn mount(&self, _ctx: ServiceContext) -> Result<Mount, SandboxError> {
            Ok(Mount::new(Router::new()))
        }
    }

    #[test]
    fn select_names_all_and_unknown() {
        let r = Registry::new().with(Named("alpha")).with(Named("beta"));
        let all = r.select("all").unwrap();
        assert_eq!(all.services.len(), 2);
        assert!(all.local);
        let some = r.select("beta, local,beta").unwrap();
        assert_eq!(
            some.services.iter().map(|s| s.key()).collect::<Vec<_>>(),
            ["beta"]
        );
        assert!(some.local);
        let err = r.select("gamma").unwrap_err().to_string();
        assert_eq!(
            err,
            "unknown provider `gamma`; available: `alpha`, `beta`, `local`, `all`"
        );
    }

    #[test]
    fn empty_registry_still_offers_local_and_all() {
        let r = Registry::new();
        assert!(r.select("all").unwrap().services.is_empty());
        let err = r.select("kiteworks").unwrap_err().to_string();
        assert!(err.contains("`local`, `all`"), "{err}");
    }

    #[test]
    fn credentials_debug_hides_values() {
        let mut c = Credentials::default();
        c.insert("password", "hunter2");
        assert!(!format!("{c:?}").contains("hunter2"));
        assert_eq!(c.get("password"), Some("hunter2"));
    }
}
