//! Progress events for transfers.

use std::fmt;
use std::sync::Arc;

/// Something that happened to one file of a transfer.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProgressEvent {
    /// A file started moving; `total` is its size when known.
    Started {
        /// Position of the file in its message or request, from 0.
        index: usize,
        /// The file's name.
        name: String,
        /// Its size in bytes, when known.
        total: Option<u64>,
    },
    /// More bytes of a file moved (fired per chunk or buffer).
    Advanced {
        /// Position of the file, from 0.
        index: usize,
        /// Bytes moved so far.
        done: u64,
        /// Its size in bytes, when known.
        total: Option<u64>,
    },
    /// A file finished moving.
    Finished {
        /// Position of the file, from 0.
        index: usize,
        /// Bytes moved in all.
        bytes: u64,
    },
}

/// A callback receiving [`ProgressEvent`]s; cheap to clone, callable from any task.
///
/// ```
/// use std::sync::atomic::{AtomicU64, Ordering};
/// use std::sync::Arc;
/// use securesend_core::{Progress, ProgressEvent};
///
/// let seen = Arc::new(AtomicU64::new(0));
/// let s = seen.clone();
/// let p = Progress::new(move |e: &ProgressEvent| {
///     if let ProgressEvent::Advanced { done, .. } = e {
///         s.store(*done, Ordering::Relaxed);
///     }
/// });
/// p.emit(ProgressEvent::Advanced { index: 0, done: 42, total: None });
/// assert_eq!(seen.load(Ordering::Relaxed), 42);
/// ```
#[derive(Clone)]
pub struct Progress(Arc<dyn Fn(&ProgressEvent) + Send + Sync>);

impl Progress {
    /// Wraps a callback.
    pub fn new(f: impl Fn(&ProgressEvent) + Send + Sync + 'static) -> Self {
        Progress(Arc::new(f))
    }

    /// Delivers one event.
    pub fn emit(&self, event: ProgressEvent) {
        (self.0)(&event)
    }
}

impl fmt::Debug for Progress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Progress(..)")
    }
}

/// Emits events for one file, if anyone listens.
#[derive(Clone, Debug)]
pub struct FileProgress {
    sink: Option<Progress>,
    index: usize,
    total: Option<u64>,
    done: u64,
}

impl FileProgress {
    /// Starts reporting on file `index` (emits [`ProgressEvent::Started`]).
    pub fn start(sink: Option<&Progress>, index: usize, name: &str, total: Option<u64>) -> Self {
        if let Some(s) = sink {
            s.emit(ProgressEvent::Started {
                index,
                name: name.to_owned(),
                total,
            });
        }
        FileProgress {
            sink: sink.cloned(),
            index,
            total,
            done: 0,
        }
    }

    /// Records `n` more bytes.
    pub fn advance(&mut self, n: u64) {
        self.done += n;
        if let Some(s) = &self.sink {
            s.emit(ProgressEvent::Advanced {
                index: self.index,
                done: self.done,
                total: self.total,
            });
        }
    }

    /// Sets the absolute position (after a resume, say).
    pub fn set(&mut self, done: u64) {
        self.done = done;
        self.advance(0);
    }

    /// Emits [`ProgressEvent::Finished`].
    pub fn finish(self) {
        if let Some(s) = &self.sink {
            s.emit(ProgressEvent::Finished {
                index: self.index,
                bytes: self.done,
            });
        }
    }
}
