//! A progress line on stderr for long fits and studies, drawn only when stderr is a terminal.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

pub struct Progress {
    label: String,
    /// What is counted ("starts", "replicates").
    unit: String,
    start: Instant,
    last: Option<Instant>,
    /// The item the rate is measured on, its count and the time when it was first seen (work
    /// already done before, such as a resumed study's, does not count towards the rate).
    base: Option<(String, usize, Instant)>,
    enabled: bool,
}

impl Progress {
    pub fn new(label: impl Into<String>) -> Self {
        Progress {
            label: label.into(),
            unit: "starts".into(),
            start: Instant::now(),
            last: None,
            base: None,
            enabled: std::io::stderr().is_terminal(),
        }
    }

    /// Count `unit` rather than starts.
    pub fn count(&mut self, unit: &str) {
        self.unit = unit.into();
    }

    /// Redraw (at most ten times a second) with `done` of `total` of `what` finished, and an
    /// estimate of the time left once some have finished.
    pub fn update(&mut self, what: &str, done: usize, total: usize) {
        if !self.enabled {
            return;
        }
        if self.base.as_ref().is_none_or(|(w, _, _)| w != what) {
            self.base = Some((what.to_string(), done, Instant::now()));
        }
        if self
            .last
            .is_some_and(|t| t.elapsed() < Duration::from_millis(100))
            && done < total
        {
            return;
        }
        self.last = Some(Instant::now());
        let width = 30;
        let filled = (done * width).checked_div(total).unwrap_or(width);
        let (_, d0, t0) = self.base.as_ref().expect("set above");
        let eta = match done.checked_sub(*d0) {
            Some(n) if n > 0 && done < total => {
                let left = t0.elapsed().as_secs_f64() / n as f64 * (total - done) as f64;
                format!(", ETA {left:.0}s")
            }
            _ => String::new(),
        };
        crate::cli::stderr(format_args!(
            "\r\x1b[2K{} {what} [{}{}] {done}/{total} {} done, {:.1}s{eta}",
            self.label,
            "#".repeat(filled),
            ".".repeat(width - filled),
            self.unit,
            self.start.elapsed().as_secs_f64()
        ));
    }

    /// Clear the line.
    pub fn finish(&mut self) {
        if self.enabled && self.last.is_some() {
            crate::cli::stderr(format_args!("\r\x1b[2K"));
        }
    }
}
