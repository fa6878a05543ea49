//! A progress line on stderr for long fits, drawn only when stderr is a terminal.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

pub struct Progress {
    label: String,
    start: Instant,
    last: Option<Instant>,
    enabled: bool,
}

impl Progress {
    pub fn new(label: impl Into<String>) -> Self {
        Progress {
            label: label.into(),
            start: Instant::now(),
            last: None,
            enabled: std::io::stderr().is_terminal(),
        }
    }

    /// Redraw (at most ten times a second) with `done` of `total` starts of `target` finished.
    pub fn update(&mut self, target: &str, done: usize, total: usize) {
        if !self.enabled
            || self
                .last
                .is_some_and(|t| t.elapsed() < Duration::from_millis(100))
                && done < total
        {
            return;
        }
        self.last = Some(Instant::now());
        let width = 30;
        let filled = (done * width).checked_div(total).unwrap_or(width);
        eprint!(
            "\r\x1b[2K{} {target} [{}{}] {done}/{total} starts done, {:.1}s",
            self.label,
            "#".repeat(filled),
            ".".repeat(width - filled),
            self.start.elapsed().as_secs_f64()
        );
        let _ = std::io::stderr().flush();
    }

    /// Clear the line.
    pub fn finish(&mut self) {
        if self.enabled && self.last.is_some() {
            eprint!("\r\x1b[2K");
            let _ = std::io::stderr().flush();
        }
    }
}
