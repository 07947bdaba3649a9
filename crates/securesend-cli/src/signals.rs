//! Ctrl-C and SIGTERM.
//!
//! The first signal fires the [`Cancel`] given to the running send, upload or download: the
//! provider stops at its next safe point, removes what it created on the service, and the
//! command exits 130 with one line saying what was and was not done. A send past its point of
//! no return is not stopped; its answer is awaited, so the line can say whether it went. A
//! second signal quits at once.

use securesend::Cancel;

use crate::{exit, output};

/// Watches for SIGINT and SIGTERM on the current runtime.
pub fn watch(cancel: Cancel) {
    tokio::spawn(async move {
        let Ok(mut interrupts) = Signals::new() else {
            return;
        };
        interrupts.next().await;
        cancel.cancel();
        interrupts.next().await;
        output::stderr_line(
            "error: interrupted twice: quit at once; what was in progress may be left unfinished on the service",
        );
        std::process::exit(i32::from(exit::CANCELLED));
    });
}

#[cfg(unix)]
struct Signals {
    interrupt: tokio::signal::unix::Signal,
    terminate: tokio::signal::unix::Signal,
}

#[cfg(unix)]
impl Signals {
    fn new() -> std::io::Result<Signals> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Signals {
            interrupt: signal(SignalKind::interrupt())?,
            terminate: signal(SignalKind::terminate())?,
        })
    }

    async fn next(&mut self) {
        tokio::select! {
            _ = self.interrupt.recv() => {}
            _ = self.terminate.recv() => {}
        }
    }
}

#[cfg(not(unix))]
struct Signals;

#[cfg(not(unix))]
impl Signals {
    fn new() -> std::io::Result<Signals> {
        Ok(Signals)
    }

    async fn next(&mut self) {
        let _ = tokio::signal::ctrl_c().await;
    }
}
