//! Progress bars on a terminal; nothing when output is piped or quiet.

use std::io::IsTerminal;
use std::sync::{Arc, Mutex};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use securesend::{Progress, ProgressEvent};

/// Bars for the files of one command, keyed by file index.
#[derive(Clone)]
pub struct Bars {
    multi: MultiProgress,
    bars: Arc<Mutex<Vec<Option<ProgressBar>>>>,
}

impl Bars {
    /// Bars when stderr is a terminal and not quiet, else `None`.
    pub fn new(quiet: bool) -> Option<Bars> {
        if quiet || !std::io::stderr().is_terminal() {
            return None;
        }
        Some(Bars {
            multi: MultiProgress::with_draw_target(ProgressDrawTarget::stderr()),
            bars: Arc::new(Mutex::new(Vec::new())),
        })
    }

    /// A progress callback feeding these bars; `offset` shifts file indexes so that several
    /// requests can share one set of bars.
    pub fn callback(&self, offset: usize) -> Progress {
        let me = self.clone();
        Progress::new(move |e| me.on(offset, e))
    }

    fn on(&self, offset: usize, event: &ProgressEvent) {
        let Ok(mut bars) = self.bars.lock() else {
            return;
        };
        match event {
            ProgressEvent::Started { index, name, total } => {
                let i = offset + index;
                if bars.len() <= i {
                    bars.resize(i + 1, None);
                }
                let bar = self.multi.add(ProgressBar::new(total.unwrap_or(0)));
                bar.set_style(
                    ProgressStyle::with_template(
                        "{msg:30!} {bar:30} {binary_bytes:>10}/{binary_total_bytes:<10} {binary_bytes_per_sec:>12} {eta}",
                    )
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
                );
                bar.set_message(name.clone());
                bars[i] = Some(bar);
            }
            ProgressEvent::Advanced { index, done, .. } => {
                if let Some(Some(bar)) = bars.get(offset + index) {
                    bar.set_position(*done);
                }
            }
            ProgressEvent::Finished { index, .. } => {
                if let Some(Some(bar)) = bars.get(offset + index) {
                    bar.finish();
                }
            }
            _ => {}
        }
    }

    /// Removes the bars from the screen.
    pub fn clear(&self) {
        let _ = self.multi.clear();
    }
}
