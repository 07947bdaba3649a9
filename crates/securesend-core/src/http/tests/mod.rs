//! Tests of the HTTP plumbing against local servers. Waits between attempts are recorded by
//! a [`crate::http::Sleeper`], never slept, and nothing asserts on wall-clock time.

mod retry;
mod secrets;
mod server;
mod setup;
mod wire;
