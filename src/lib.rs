//! # mixlaw
//!
//! Fit data-mixture scaling laws (Shukor et al. 2025, arXiv 2507.09404) to tables of training
//! runs, score their extrapolation, and use them to choose mixtures.
//!
//! ```text
//! CSV runs ──► data::Dataset ──► law::Law ──► fit::Problem ──► fit::batch (many starts) ──► report::FitFile
//!              (columns,          (value +      (Huber on raw or   lock-step L-BFGS, bounds,
//!               filters,           gradient)     log residual,     basin-hopping, f64 polish;
//!               validation)                      row weight sets)  a Backend evaluates f, ∇f)
//! FitFile ──► mixture::optimize (lattice sweep on a Backend, mirror descent in f64) ──► h*
//! Dataset ──► bootstrap::Plan (a weight set per replicate) ──► the same fit::batch ──► intervals
//! ```
//!
//! * [`data`] reads a wide CSV (one row per run checkpoint), maps columns, applies `--where`
//!   filters and validates every cell, so that later stages can trust their input.
//! * [`law`] defines each law family once: named parameters, default bounds, value and analytic
//!   gradient (checked against finite differences).
//! * [`fit`] turns a law and a target column into an objective (mean or summed Huber of raw or
//!   log residuals), and minimises it from many starts at once with one batched L-BFGS whose
//!   every start keeps its own state. The starts advance in lock step so that a backend sees one
//!   large batch of parameter vectors per round — the shape that lets a GPU backend slot in.
//! * [`backend`] evaluates objective and gradient for such a batch: the CPU (rayon, f64) or the
//!   GPU (wgpu compute shaders, f32; the best minima are always polished in f64 on the CPU).
//! * [`engine`] is the one fitting entry point the commands share.
//! * [`mixture`] turns fitted laws into optimal mixtures for one or many targets.
//! * [`bootstrap`] refits on resampled tables — each replicate a weight set of one problem, all
//!   replicates streamed through the batched optimiser — and summarises parameter, prediction
//!   and optimal-mixture uncertainty; studies shard across a cluster and resume.
//! * [`report`] is the fit file (JSON), the human tables and atomic output.
//!
//! The binary (`src/main.rs`, `src/cli/`) is a thin layer over these modules.

pub mod backend;
pub mod bootstrap;
pub mod data;
pub mod engine;
pub mod error;
pub mod fit;
pub mod law;
pub mod mixture;
pub mod report;
pub mod rng;
pub mod simulate;

pub use error::{Error, Result};
