//! # mixlaw
//!
//! Fit data-mixture scaling laws (Shukor et al. 2025, arXiv 2507.09404) to tables of training
//! runs, score their extrapolation, and use them to choose mixtures.
//!
//! ```text
//! Table (CSV or columns) ──► data::Dataset ──► law::Law (registry entry) ──► objective::Problem
//!        ──► fit (lock-step L-BFGS, hops, f64 polish; a Backend evaluates f, ∇f) ──► FitFile
//! FitFile ──► mixture (lattice sweep on a Backend, mirror descent in f64) ──► h*
//! Dataset ──► bootstrap (plan → weight sets → the same fit → study file) ──► intervals
//! ```
//!
//! The modules, floor by floor (each imports only from the floors beneath it):
//!
//! * Ground: [`error`], [`interrupt`] (a front end's request to stop a run), [`memory`] (sizes checked against memory before any work), [`rng`], [`vmath`] (exp/ln/sums that vectorise), [`loss`] (residual
//!   kinds, reductions, the losses: Huber, squared and absolute error, each optionally
//!   asymmetric) and [`report`] (text tables, atomic output: it knows nothing of fits).
//! * [`law`] defines each law once: a registry entry (name, formula, parameter count, GPU kernel,
//!   fitting conventions) around its mathematics (named parameters, default bounds, value and
//!   analytic gradients, checked against finite differences). [`data`] reads and validates a
//!   table of runs, from a CSV file or from columns in memory.
//! * [`objective`] is the contract between the optimiser and the evaluators: a [`objective::Problem`]
//!   (rows, weight sets, the loss of raw or log residuals, the coordinate map).
//! * [`backend`] evaluates objective and gradient for a batch of parameter vectors: the CPU
//!   (rayon, f64) or the GPU (wgpu compute shaders, f32; the `gpu` cargo feature).
//! * [`mod@fit`] minimises a problem from many starts at once with one batched L-BFGS whose every
//!   start keeps its own state, basin-hops, polishes the best minima in f64, and writes the fit
//!   file; it also evaluates extrapolation and predicts.
//! * [`mixture`] turns fitted laws into optimal mixtures; [`mod@bootstrap`] refits on resampled
//!   tables and runs studies that shard across a cluster and resume; [`simulate`] writes tables
//!   from known laws; [`throughput`] measures the backends; [`plot`] draws figures and the HTML
//!   report.
//!
//! Front ends (the `mixlaw` binary, a Python package) call the entry points re-exported here and
//! compute nothing themselves; [`cli`] holds the command line's flags and commands, in the library
//! so that the Python package reads its keywords with the very same definitions: [`load`] a table, then [`fit()`], [`eval()`], [`predict()`],
//! [`optimize()`], [`sweep()`], [`bootstrap()`] or [`merge()`]; results are plain serde structs.
//!
//! ```
//! use mixlaw::{backend::Cpu, data::{DataSpec, Table}, fit::FitSettings, law::registry};
//!
//! let law = registry::lookup("additive")?;
//! let table = Table::read(concat!(env!("CARGO_MANIFEST_DIR"), "/data/example.csv").as_ref())?;
//! let ds = mixlaw::load(&table, &DataSpec::default().for_law(&law))?;
//! let settings = FitSettings { starts: 8, ..FitSettings::defaults_for(&law) };
//! let fit = mixlaw::fit(&ds, &law, &settings, &Cpu, &[], &mut |_, _, _| {})?;
//! let alpha = fit.targets[0].params.get("alpha").unwrap();
//! assert!((alpha - 0.34).abs() < 0.02, "the example was simulated with α = 0.34");
//! # Ok::<(), mixlaw::Error>(())
//! ```
#![warn(missing_docs)]

#[cfg(test)]
mod architecture;
pub mod backend;
pub mod backtest;
pub mod bootstrap;
// The command line's doc comments are its help text, written for a terminal (`h[i]`, not links).
#[allow(missing_docs, rustdoc::broken_intra_doc_links)]
pub mod cli;
pub mod data;
pub mod error;
pub mod fit;
pub mod interrupt;
pub mod interval;
pub mod law;
pub mod loss;
pub mod memory;
pub mod mixture;
pub mod objective;
pub mod plot;
pub mod report;
pub mod rng;
pub mod simulate;
pub mod throughput;
pub mod vmath;

pub use bootstrap::{merge, run as bootstrap};
pub use data::load;
pub use error::{Error, Result};
pub use fit::{eval, fit, predict};
pub use mixture::{optimize, sweep};

/// The Rust blocks of the documentation, compiled and run as doctests (`cargo test --doc`), so
/// that an example a reader copies works. Every Markdown file with a `rust` block is listed
/// here (a test of the suite, `docs::`, checks it).
#[cfg(doctest)]
// `sh no-run` blocks are shell, which rustdoc skips; its lint takes `no-run` for a misspelt
// `no_run`.
#[allow(rustdoc::invalid_codeblock_attributes)]
mod documentation {
    #[doc = include_str!("../README.md")]
    struct Readme;
    #[doc = include_str!("../docs/guide/library.md")]
    struct Library;
}
