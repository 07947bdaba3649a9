//! Strict local emulators of the services securesend talks to, for tests, benchmarks and demos.
//!
//! The sandbox is the other side of the wire: it speaks HTTP only and depends on no adapter.
//! Each emulated service is a *service module* (one per provider) that supplies axum routes and
//! state; this crate is the harness around them. [`Sandbox::start`] binds `127.0.0.1:0`, mounts
//! a module, and returns a handle with the base URL, the test credentials and access to
//! everything the service received.
//!
//! | machinery | module | what it gives |
//! |---|---|---|
//! | serving | [`Sandbox`] | loopback listener, graceful shutdown (on drop or [`Sandbox::shutdown`]) |
//! | plug-in point | [`Service`], [`ServiceContext`], [`Mount`], [`Registry`] | how a module is mounted and listed |
//! | faults | [`fault`] | per-route rules: status + `Retry-After`, dropped connection (before or during the request body), truncated response body, delay; global seeded fault rate |
//! | latency | [`SandboxOptions::latency`] | a fixed delay before every request |
//! | journal | [`journal`] | every request: method, path, query, headers, body size + sha256, status, fault, timing |
//! | storage | [`store`] | bodies streamed to disk and hashed chunk by chunk; chunked uploads with rollback; Range downloads |
//! | messages | [`mail`] | delivered messages with recipients and attachments, for outcome assertions |
//! | tokens | [`tokens`] | opaque CSPRNG tokens with kinds, lifetimes, revocation, single use, "expire all now" |
//! | rate limits | [`ratelimit`] | per-IP fixed windows with the service's own refusal |
//! | time | [`clock`] | system clock, or a manual clock tests advance instead of sleeping |
//! | output | [`generated`] | the `securesend.toml` and seed manifest that `serve` writes |
//!
//! # Request pipeline
//!
//! For each request: a journal entry is opened → the latency elapses → the fault plan decides →
//! the service's router answers (a status fault answers instead; a drop fault closes the
//! connection) → a truncation fault cuts the body → the entry is completed. Request bodies are
//! hashed as the service reads them, so journaling never buffers a body.
//!
//! # Writing a service module
//!
//! A module implements [`Service`]: a key and a `mount` that builds routes from the
//! [`ServiceContext`] (store, outbox, tokens, clock, options), seeds data, and returns a [`Mount`]
//! with the router, its `securesend.toml` profile fields, its credentials and its seeded items.
//! Then it is added to [`Registry::builtin`]. Strictness rules live in the module; faults,
//! latency and journaling come from the harness for free.
//!
//! ```
//! use axum::{Router, extract::State, http::{HeaderMap, StatusCode}, routing::get};
//! use securesend_sandbox::{Mount, Sandbox, SandboxError, SandboxOptions, SeededItem, Service, ServiceContext};
//!
//! struct Hello;
//!
//! #[securesend_sandbox::async_trait]
//! impl Service for Hello {
//!     fn key(&self) -> &'static str { "hello" }
//!
//!     async fn mount(&self, ctx: ServiceContext) -> Result<Mount, SandboxError> {
//!         let token = ctx.tokens().issue("access", "demo");
//!         let seeded = ctx.store().put_bytes("readme.txt", "hi").await?;
//!         let router = Router::new()
//!             .route("/whoami", get(|State(ctx): State<ServiceContext>, h: HeaderMap| async move {
//!                 let bearer = h.get("authorization").and_then(|v| v.to_str().ok())
//!                     .and_then(|v| v.strip_prefix("Bearer ")).unwrap_or_default();
//!                 match ctx.tokens().validate("access", bearer) {
//!                     Ok(info) => (StatusCode::OK, info.subject),
//!                     Err(e) => (StatusCode::UNAUTHORIZED, e.to_string()),
//!                 }
//!             }))
//!             .with_state(ctx.clone());
//!         Ok(Mount::new(router)
//!             .profile_field("base_url", ctx.base_url())
//!             .profile_field("token", token.value.as_str())
//!             .credential("token", &token.value)
//!             .seeded(SeededItem::file(&seeded.id, &seeded)))
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), SandboxError> {
//! let sandbox = Sandbox::start(&Hello, SandboxOptions::default()).await?;
//! assert!(sandbox.base_url().starts_with("http://127.0.0.1:"));
//! assert_eq!(sandbox.profile()["provider"].as_str(), Some("hello"));
//! assert!(sandbox.journal().is_empty());
//! sandbox.shutdown().await;
//! # Ok(())
//! # }
//! ```
//!
//! # Binary
//!
//! `securesend-sandbox serve --provider <name|all> --config-out PATH [--seed-out PATH]
//! [--fault-rate F] [--seed N] [--latency-ms N] [--chunk-max BYTES]` starts one sandbox per
//! provider, writes a `securesend.toml` with one profile per provider (plus `local`), and serves
//! until SIGINT or SIGTERM.

#![deny(missing_docs)]

mod body;
pub mod clock;
pub mod egroupware;
mod error;
pub mod fault;
pub mod generated;
pub mod journal;
pub mod kiteworks;
pub mod mail;
mod options;
pub mod privasfer;
pub mod range;
pub mod ratelimit;
pub mod route;
mod server;
mod service;
pub mod store;
pub mod tokens;
pub mod tuyu;

pub use clock::{Clock, ManualClock};
pub use error::SandboxError;
pub use fault::{FaultAction, FaultPlan, FaultRule, Faults};
pub use journal::{Journal, JournalEntry, RequestSeq};
pub use mail::{Mail, MailAttachment, Outbox};
pub use options::SandboxOptions;
pub use ratelimit::{RateLimit, RateLimitSetting, RateLimiter};
pub use route::Route;
pub use server::Sandbox;
pub use service::{
    Credentials, LOCAL_PROVIDER, Mount, Registry, SeedKind, SeededItem, Selection, Service,
    ServiceContext,
};
pub use store::{FileStore, Fingerprints, StoreError, StoredFile};
pub use tokens::Tokens;

/// Re-exported so a service written outside this crate (a test's) needs no extra dependency.
pub use async_trait::async_trait;
