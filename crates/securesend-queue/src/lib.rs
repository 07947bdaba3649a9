//! The durable delivery queue of securesend: job storage.
//!
//! What is built: the job model ([`job`]), the allowed state transitions as a pure table
//! ([`state`]), the [`Storage`] trait whose every worker write is fenced by
//! `(job id, attempt)`, and two backends with embedded migrations and times from the database
//! clock: SQLite for workers on one machine ([`sqlite::SqliteStorage`]: WAL, `synchronous=FULL`,
//! `BEGIN IMMEDIATE` for every write) and PostgreSQL for many machines
//! ([`postgres::PostgresStorage`]: claims with `FOR UPDATE SKIP LOCKED`).
//!
//! Not built yet: blob staging, the worker (heartbeat, shutdown, drain),
//! reconciliation of in-doubt sends with the provider, profile pauses and in-flight caps, and the
//! facade's `Queue::open`. A job's payload is, for now, an opaque JSON spec with its fingerprint.
#![deny(missing_docs)]

pub mod blobs;
mod common;
pub mod config;
pub mod job;
pub mod postgres;
mod queue;
pub mod spec;
pub mod sqlite;
pub mod state;
pub mod storage;
pub mod worker;

pub use blobs::{BlobStore, Stage, StagedFile};
pub use common::RETRIES_EXHAUSTED;
pub use config::QueueConfig;
pub use job::{EnqueueOptions, JobId, JobSpec, JobState, Phase};
pub use postgres::PostgresStorage;
pub use queue::{Queue, redact_url};
pub use sqlite::SqliteStorage;
pub use storage::{
    ClaimRequest, Claimed, Inserted, Job, JobEvent, Outcome, ProfilePause, QueueError, Resolution,
    Stats, Storage,
};
pub use worker::{Backoff, Connector, JobReport, Worker, WorkerOptions, WorkerSummary};
