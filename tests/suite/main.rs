//! mixlaw's integration tests, as one test binary (`cargo test --test suite`): the library and
//! the tests are linked once, not once per file.
//!
//! * `backend`: one parity suite instantiated per backend (`backend::cpu::*`, and under the `gpu`
//!   cargo feature `backend::gpu::*`), end-to-end fits and mixture searches on each backend, and
//!   the GPU's own checks (size classes, kernel time, batches beyond one dispatch);
//! * `bad_input`: every error a user can cause, with its file, row and column;
//! * `bootstrap`: reproducibility, shards and resume, coverage;
//! * `cli`: the commands end to end on the bundled example;
//! * `crash`: a bootstrap killed with SIGKILL again and again, resumed to the very file of one
//!   uninterrupted run;
//! * `docs`: every code block of the documentation run, its links resolved, the flag reference
//!   held to the clap definitions;
//! * `extrapolation`: backtests, and calibrated intervals held to the published tables' largest
//!   runs;
//! * `fuzz`: the fuzzers' corpus and regressions replayed through the fuzz targets' code;
//! * `formula`: formula laws held to the built-in laws on the published tables, and their errors;
//! * `golden`: every command's output on the published tables, byte for byte;
//! * `hostile`: hostile input, racing writers and tampered files: errors, never panics;
//! * `lattice`: the separable lattice sweep against brute force on every law;
//! * `peers`: the published tables against the reference scripts' recorded outputs;
//! * `plots`: figures (the data each draws) and the HTML report, opened in a headless browser;
//! * `recovery`: synthetic tables fitted back to the parameters that made them;
//! * `slurm`: the guide's Slurm script run as a job array, a task requeued, on a real (one-node)
//!   cluster when there is one (`.ci/slurm-up.sh`);
//! * `tables`: the tables people have: weight columns in any order, text columns in `--where`,
//!   long tables fitted per group (`--group-by`);
//! * `together`: inputs that belong together checked together (a flag and its law, a path and
//!   its exit code).
//!
//! `common` holds the shared helpers (the published tables, running the binary, temporary
//! directories, opening the GPU). Every temporary directory is named after its test and the
//! process, so the names must be unique across the whole binary. Fixtures stay in
//! `tests/fixtures/`. Run one module with a filter, e.g. `cargo test --test suite golden::`.

mod common;

mod backend;
mod bad_input;
mod bootstrap;
mod cli;
mod crash;
mod docs;
mod extrapolation;
mod formula;
mod fuzz;
mod golden;
mod hostile;
mod lattice;
mod losses;
mod peers;
mod plots;
mod recovery;
mod slurm;
mod tables;
mod together;
