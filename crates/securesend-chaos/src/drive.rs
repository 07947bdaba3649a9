//! Driving operations the way a careful application would: a clean failure that may pass is
//! tried again (a bounded number of times), an operation whose outcome is unknown never is.

use std::path::{Path, PathBuf};
use std::time::Duration;

use futures::StreamExt;
use securesend::{
    Attachment, Capabilities, Error, ErrorKind, Provider, SecureMessage, UploadRequest,
};

use crate::files::{self, Draw, Expected};

/// What an operation does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A message with attachments.
    Send,
    /// One file into the provider's default folder.
    Upload,
}

/// One operation, with a tag unique within the run that appears in its subject and file names.
#[derive(Clone, Debug)]
pub struct Op {
    /// Position in the run, from 0.
    pub index: usize,
    /// Send or upload.
    pub kind: Kind,
    /// `s0042` or `u0042`.
    pub tag: String,
    /// The message subject (sends only, but always set).
    pub subject: String,
    /// Sizes of the files, in the order they are attached.
    pub sizes: Vec<u64>,
}

impl Op {
    /// The name of the `n`th file (from 1).
    pub fn file_name(&self, n: usize) -> String {
        format!("chaos-{}-{n}.bin", self.tag)
    }
}

/// How an operation ended, as the application saw it.
#[derive(Clone, Debug)]
pub enum Verdict {
    /// The library reported success; for a send, the receipt's message id.
    Done {
        /// The receipt's message id (sends) or the remote file id (uploads).
        id: String,
    },
    /// The library reported a failure that is not ambiguous.
    Failed {
        /// The error's kind.
        kind: ErrorKind,
    },
    /// The library said the outcome is unknown; the operation was not repeated.
    Unknown,
    /// No answer within the per-operation limit; the operation was abandoned.
    Hung,
}

/// An operation as it was run.
#[derive(Clone, Debug)]
pub struct Run {
    /// The operation.
    pub op: Op,
    /// The files as the service should hold them.
    pub expected: Vec<Expected>,
    /// How it ended.
    pub verdict: Verdict,
    /// How many times the application tried it.
    pub tries: u32,
    /// The last error's one-line description, if any.
    pub error: Option<String>,
}

/// The driver's settings.
#[derive(Clone, Debug)]
pub struct Policy {
    /// Tries per operation in all (1 = never repeat).
    pub tries: u32,
    /// How long one try may take before the operation counts as hung.
    pub op_timeout: Duration,
    /// Operations in flight at once.
    pub concurrency: usize,
}

/// The operations of one provider's run: sends and uploads drawn from the seed, as far as
/// the capabilities allow.
pub fn plan(caps: &Capabilities, operations: usize, seed: u64, stream: u64) -> Vec<Op> {
    let mut draw = Draw::new(seed, stream);
    let max_files = caps.max_attachments.unwrap_or(usize::MAX).clamp(1, 2) as u64;
    (0..operations)
        .map(|index| {
            let kind = match (caps.send, caps.upload) {
                (true, true) if draw.next_u64().is_multiple_of(2) => Kind::Send,
                (true, true) => Kind::Upload,
                (true, false) => Kind::Send,
                _ => Kind::Upload,
            };
            let count = match kind {
                Kind::Send => draw.between(1, max_files),
                Kind::Upload => 1,
            };
            let sizes = (0..count)
                .map(|_| draw.between(files::MIN_SIZE, files::MAX_SIZE))
                .collect();
            let tag = match kind {
                Kind::Send => format!("s{index:04}"),
                Kind::Upload => format!("u{index:04}"),
            };
            Op {
                index,
                kind,
                subject: format!("chaos {tag} (seed {seed})"),
                tag,
                sizes,
            }
        })
        .collect()
}

/// Runs every operation against `provider`, writing each one's files under `scratch` just
/// before and removing them just after.
pub async fn run_all(
    provider: &Provider,
    ops: Vec<Op>,
    policy: &Policy,
    seed: u64,
    stream: u64,
    scratch: &Path,
) -> Vec<Run> {
    let mut runs: Vec<Run> = futures::stream::iter(ops)
        .map(|op| run_one(provider, op, policy, seed, stream, scratch))
        .buffer_unordered(policy.concurrency.max(1))
        .collect()
        .await;
    runs.sort_by_key(|r| r.op.index);
    runs
}

async fn run_one(
    provider: &Provider,
    op: Op,
    policy: &Policy,
    seed: u64,
    stream: u64,
    scratch: &Path,
) -> Run {
    let dir = scratch.join(&op.tag);
    let written = write_files(&op, &dir, seed, stream);
    let run = match written {
        Ok((paths, expected)) => drive(provider, op, paths, expected, policy).await,
        Err(e) => Run {
            expected: Vec::new(),
            verdict: Verdict::Failed {
                kind: ErrorKind::Io,
            },
            tries: 0,
            error: Some(format!("could not write the operation's files: {e}")),
            op,
        },
    };
    // Scratch files are 1–3 MiB each: gone as soon as the operation is.
    let _ = std::fs::remove_dir_all(&dir);
    run
}

fn write_files(
    op: &Op,
    dir: &Path,
    seed: u64,
    stream: u64,
) -> std::io::Result<(Vec<PathBuf>, Vec<Expected>)> {
    std::fs::create_dir_all(dir)?;
    // Contents depend on the operation, not on the order operations happen to run in.
    let mut draw = Draw::new(seed, stream.wrapping_mul(1 << 20) + op.index as u64 + 1);
    let mut paths = Vec::new();
    let mut expected = Vec::new();
    for (n, size) in op.sizes.iter().enumerate() {
        let (path, e) = files::write(dir, &op.file_name(n + 1), *size, &mut draw)?;
        paths.push(path);
        expected.push(e);
    }
    Ok((paths, expected))
}

async fn drive(
    provider: &Provider,
    op: Op,
    paths: Vec<PathBuf>,
    expected: Vec<Expected>,
    policy: &Policy,
) -> Run {
    let mut tries = 0;
    loop {
        tries += 1;
        let attempt = tokio::time::timeout(policy.op_timeout, once(provider, &op, &paths)).await;
        let error = match attempt {
            Ok(Ok(id)) => {
                return Run {
                    op,
                    expected,
                    verdict: Verdict::Done { id },
                    tries,
                    error: None,
                };
            }
            Ok(Err(e)) => e,
            Err(_) => {
                return Run {
                    op,
                    expected,
                    verdict: Verdict::Hung,
                    tries,
                    error: Some(format!("no answer within {}s", policy.op_timeout.as_secs())),
                };
            }
        };
        let verdict = if error.outcome_unknown() {
            // The service may have done it: repeating could do it twice.
            Some(Verdict::Unknown)
        } else if error.is_retryable() && tries < policy.tries {
            None
        } else {
            Some(Verdict::Failed { kind: error.kind() })
        };
        if let Some(verdict) = verdict {
            return Run {
                op,
                expected,
                verdict,
                tries,
                error: Some(error.to_string()),
            };
        }
        tokio::time::sleep(pause(tries, &error)).await;
    }
}

/// The application's own wait before trying an operation again: what the service asked
/// for, else a short doubling backoff; both capped so a soak stays in minutes.
fn pause(tries: u32, error: &Error) -> Duration {
    error
        .retry_after()
        .unwrap_or_else(|| Duration::from_millis(200 << tries.min(4)))
        .min(Duration::from_secs(5))
}

async fn once(provider: &Provider, op: &Op, paths: &[PathBuf]) -> securesend::Result<String> {
    match op.kind {
        Kind::Send => {
            let mut b = SecureMessage::builder()
                .to("ada@example.com")
                .subject(op.subject.clone())
                .text(format!("Chaos soak operation {}.", op.tag));
            for p in paths {
                b = b.attach(Attachment::from_path(p));
            }
            let receipt = provider.send(b.build()?).await?;
            Ok(receipt.message_id)
        }
        Kind::Upload => {
            let req = UploadRequest::builder(Attachment::from_path(&paths[0])).build()?;
            let file = provider.upload(req).await?;
            Ok(file.id)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caps(send: bool, upload: bool) -> Capabilities {
        let mut c = Capabilities::default();
        c.send = send;
        c.upload = upload;
        c
    }

    #[test]
    fn plans_follow_capabilities_and_seed() {
        let both = plan(&caps(true, true), 200, 9, 1);
        assert_eq!(both.len(), 200);
        let sends = both.iter().filter(|o| o.kind == Kind::Send).count();
        assert!((60..140).contains(&sends), "{sends} sends of 200");
        assert!(
            both.iter()
                .all(|o| !o.sizes.is_empty() && o.sizes.len() <= 2)
        );
        assert!(
            both.iter()
                .flat_map(|o| &o.sizes)
                .all(|s| (files::MIN_SIZE..=files::MAX_SIZE).contains(s))
        );
        let again = plan(&caps(true, true), 200, 9, 1);
        assert_eq!(
            both.iter().map(|o| &o.sizes).collect::<Vec<_>>(),
            again.iter().map(|o| &o.sizes).collect::<Vec<_>>()
        );
        assert!(
            plan(&caps(false, true), 20, 9, 1)
                .iter()
                .all(|o| o.kind == Kind::Upload)
        );
        let tags: std::collections::HashSet<_> = both.iter().map(|o| o.tag.clone()).collect();
        assert_eq!(tags.len(), 200, "tags are unique");
    }

    #[test]
    fn the_application_waits_what_the_service_asks_within_a_cap() {
        let e = Error::new(ErrorKind::RateLimited, "slow down")
            .with_retry_after(Duration::from_secs(1));
        assert_eq!(pause(1, &e), Duration::from_secs(1));
        let e = Error::new(ErrorKind::RateLimited, "slow down")
            .with_retry_after(Duration::from_secs(600));
        assert_eq!(pause(1, &e), Duration::from_secs(5));
        let e = Error::new(ErrorKind::Unavailable, "down");
        assert_eq!(pause(1, &e), Duration::from_millis(400));
    }
}
