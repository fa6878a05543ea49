//! # mixlaw
//!
//! Fit data-mixture scaling laws (Shukor et al. 2025, arXiv 2507.09404) to tables of training
//! runs, score their extrapolation, and use them to choose mixtures.
//!
//! ```text
//! CSV runs ──► data::Dataset ──► law::Law ──► fit::Objective ──► fit::lbfgs (many starts) ──► fit::FitReport
//!              (columns,          (value +      (Huber on raw or     batched L-BFGS, box bounds,
//!               filters,           gradient)     log residual,       basin-hopping; a Backend
//!               validation)                      row weights)        evaluates f, ∇f for a batch)
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
//! * [`backend`] evaluates objective and gradient for such a batch (CPU: rayon, f64).
//! * [`report`] is the fit file (JSON) and the human tables.
//!
//! The binary (`src/main.rs`, `src/cli/`) is a thin layer over these modules.

pub mod backend;
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
