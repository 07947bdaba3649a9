//! The durable delivery queue of securesend (the facade re-exports it as `securesend::queue`).
//!
//! | piece | what it does |
//! |---|---|
//! | [`Queue`] | opens `sqlite://…` or `postgres://…`, enqueues a checked message (idempotency key, `not_before`, priority), staging its files ([`blobs`]), and the operator commands |
//! | [`Worker`] | claims jobs atomically under a lease renewed by a heartbeat, sends each with a [`SendJournal`](securesend_core::SendJournal) that checkpoints and marks the point of no return, records the outcome; graceful shutdown and drain |
//! | [`Storage`] | every worker write fenced by `(job id, attempt)`; two backends with embedded migrations and times from the database clock: [`SqliteStorage`] (WAL, `synchronous=FULL`, `BEGIN IMMEDIATE`) and [`PostgresStorage`] (`FOR UPDATE SKIP LOCKED`) |
//! | [`job`], [`state`] | the job model and the allowed transitions as a pure table |
//! | [`config`] | the `[queue]` table: URL, blob directory, retention, retry spacing, per-profile limits |
//!
//! `docs/queue.md` describes the model, the per-provider guarantees and operations.
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
