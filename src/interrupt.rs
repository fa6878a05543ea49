//! Stopping a long run from outside: a front end asks, the engine stops at its next round.
//!
//! A Python user presses Ctrl-C during a fit that runs with the interpreter's lock released; the
//! Python package notices the signal on its own thread and calls [`request`]. Ctrl-C is an event
//! of the whole process, so one process-wide flag models it exactly (and costs the engine one
//! relaxed load per optimiser round, instead of a token threaded through every signature). The
//! optimiser's rounds take milliseconds, so a run stops well within a second; the entry points
//! then return [`Error::Interrupted`] and write nothing (a bootstrap study keeps the replicates
//! it had appended, whole, and resumes from them).

use std::sync::atomic::{AtomicBool, Ordering};

use crate::error::{Error, Result};

static REQUESTED: AtomicBool = AtomicBool::new(false);

/// Ask every running fit, evaluation and study of this process to stop.
pub fn request() {
    REQUESTED.store(true, Ordering::Relaxed);
}

/// Forget a request: a front end calls it before it starts a run.
pub fn clear() {
    REQUESTED.store(false, Ordering::Relaxed);
}

/// Whether a stop was asked for.
pub fn requested() -> bool {
    REQUESTED.load(Ordering::Relaxed)
}

/// [`Error::Interrupted`] if a stop was asked for.
pub fn check() -> Result<()> {
    if requested() {
        Err(Error::Interrupted)
    } else {
        Ok(())
    }
}
