//! Command-line layer: clap definitions, the step from raw flags to validated settings, and one
//! file per command. It lives in the library, above every other module, because the flags are
//! the vocabulary of every front end: the Python package parses its keyword arguments with these
//! same definitions (keyword `n_col` is flag `--n-col`), so defaults, checks and messages cannot
//! drift apart. Nothing here computes: a command file parses its flags into the library's
//! settings (checking them before any slow step), calls the library's entry point and prints
//! what it returns.

/// Print to standard output (as `print!`, but never a panic): see [`stdout`].
macro_rules! out {
    ($($t:tt)*) => { $crate::cli::stdout(format_args!($($t)*)) };
}

/// Print a line to standard output (as `println!`, but never a panic): see [`stdout`].
macro_rules! outln {
    () => { $crate::cli::stdout(format_args!("\n")) };
    ($($t:tt)*) => { $crate::cli::stdout(format_args!("{}\n", format_args!($($t)*))) };
}

/// Print a line to standard error (as `eprintln!`, but never a panic): see [`stderr`].
macro_rules! errln {
    ($($t:tt)*) => { $crate::cli::stderr(format_args!("{}\n", format_args!($($t)*))) };
}

pub mod backtest;
pub mod bench;
pub mod bootstrap;
pub mod devices;
pub mod eval;
pub mod fit;
pub mod laws;
pub mod merge;
pub mod optimize;
pub mod predict;
pub mod progress;
pub mod reference;
pub mod report;
pub mod simulate;
pub mod sweep;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::backend::{Backend, Choice};
use crate::data::{DataSpec, Dataset, Table};
use crate::fit::FitSettings;
use crate::law::{formula, registry, Init, Law};
use crate::loss::{LossKind, Reduce, Residual};
use crate::{Error, Result};

#[derive(Parser)]
#[command(
    name = "mixlaw",
    version,
    about = "Fit data-mixture scaling laws and choose training mixtures"
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Fit a law to every target of a run table.
    Fit(fit::FitCmd),
    /// Fit on one split of a table and score MRE on another.
    Eval(eval::EvalCmd),
    /// Fit on the smaller runs of a table and predict its larger runs, step by step.
    Backtest(backtest::BacktestCmd),
    /// Predict a table's targets from a fit file, as CSV.
    Predict(predict::PredictCmd),
    /// List the law families with their formulas and parameter counts.
    Laws(laws::LawsCmd),
    /// Write a table of runs simulated from a law with given parameters.
    Simulate(simulate::SimulateCmd),
    /// List the GPU adapters wgpu can see.
    Devices(devices::DevicesCmd),
    /// Objective+gradient throughput of each backend, side by side.
    Bench(bench::BenchCmd),
    /// The mixture minimising one or more fitted targets (lattice sweep + mirror descent).
    Optimize(optimize::OptimizeCmd),
    /// The optimal mixture of every fitted target and of their average, as one CSV.
    Sweep(sweep::SweepCmd),
    /// Bootstrap uncertainty: refit on resampled tables, shardable across a cluster.
    Bootstrap(bootstrap::BootstrapCmd),
    /// Merge the study files of a sharded bootstrap into one study.
    Merge(merge::MergeCmd),
    /// One self-contained HTML report of a fit: its table, optimum and bootstrap study as figures.
    Report(report::ReportCmd),
    /// One figure (SVG or PNG) of a fit, a table, an optimum or a study.
    Plot(report::PlotCmd),
}

pub fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Fit(c) => fit::run(c),
        Command::Eval(c) => eval::run(c),
        Command::Backtest(c) => backtest::run(c),
        Command::Predict(c) => predict::run(c),
        Command::Laws(c) => laws::run(c),
        Command::Simulate(c) => simulate::run(c),
        Command::Devices(c) => devices::run(c),
        Command::Bench(c) => bench::run(c),
        Command::Optimize(c) => optimize::run(c),
        Command::Sweep(c) => sweep::run(c),
        Command::Bootstrap(c) => bootstrap::run(c),
        Command::Merge(c) => merge::run(c),
        Command::Report(c) => report::run(c),
        Command::Plot(c) => report::run_plot(c),
    }
}

/// The run table, which of its columns mean what, and which rows to use.
#[derive(Args, Clone, Debug)]
pub struct DataArgs {
    /// The run table (CSV, one row per run checkpoint).
    pub table: PathBuf,
    #[command(flatten)]
    pub columns: ColumnArgs,
}

impl DataArgs {
    /// How to read the table for `law`.
    pub fn spec(&self, law: &Law) -> DataSpec {
        self.columns.spec(law)
    }

    /// The table, read once the spec has been checked (so that a bad flag is reported before
    /// a missing file).
    pub fn read(&self, spec: &DataSpec) -> Result<Table> {
        spec.check()?;
        Table::read(&self.table)
    }
}

/// Which columns of a table mean what, and which rows to use.
#[derive(Args, Clone, Debug)]
pub struct ColumnArgs {
    /// Column holding N, the model size in parameters [default: model_size, N or "Model Size"].
    #[arg(long)]
    pub n_col: Option<String>,
    /// Column holding D, the training tokens [default: n_tokens, D or tokens].
    #[arg(long)]
    pub d_col: Option<String>,
    /// Derive D = C/(6N) from this column of training FLOP (Epoch's "Training FLOP").
    #[arg(long, conflicts_with = "d_col")]
    pub flops_col: Option<String>,
    /// Prefix of the mixture-weight columns; the rest of the name is the domain.
    #[arg(long, default_value = "weight_")]
    pub weight_prefix: String,
    /// A target loss column (repeatable) [default: every *_loss column, or loss].
    #[arg(long = "target")]
    pub targets: Vec<String>,
    /// Keep only rows where EXPR holds, e.g. 'model_size<=1.3e9 and n_tokens>=4e9' (repeatable, ANDed).
    #[arg(long = "where", value_name = "EXPR")]
    pub filters: Vec<String>,
    /// Drop the K highest losses of each target (Epoch drops 5).
    #[arg(long, default_value_t = 0, value_name = "K")]
    pub drop_highest: usize,
    /// Keep rows that repeat an earlier row (same mixture and N, D within 0.1%, same losses).
    #[arg(long)]
    pub keep_duplicates: bool,
    /// Fit once per distinct value of this column (a long table holding several studies, e.g.
    /// an experiment column); every row needs a value.
    #[arg(long, value_name = "COL")]
    pub group_by: Option<String>,
}

impl ColumnArgs {
    /// How to read a table for `law`.
    pub fn spec(&self, law: &Law) -> DataSpec {
        DataSpec {
            n_col: self.n_col.clone(),
            d_col: self.d_col.clone(),
            flops_col: self.flops_col.clone(),
            weight_prefix: self.weight_prefix.clone(),
            targets: self.targets.clone(),
            filters: self.filters.clone(),
            drop_highest: self.drop_highest,
            keep_duplicates: self.keep_duplicates,
            group_by: self.group_by.clone(),
            ..DataSpec::default()
        }
        .for_law(law)
    }
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum ResidualArg {
    Raw,
    Log,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum ReduceArg {
    Mean,
    Sum,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum LossArg {
    /// Huber with threshold --delta (the default).
    Huber,
    /// Squared error.
    Mse,
    /// Absolute error: explored smoothed at width --delta, narrowed while polishing, reported
    /// exactly.
    Mae,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum BackendArg {
    /// A real GPU if there is one (and it implements the law), else the CPU.
    Auto,
    Cpu,
    /// Any wgpu adapter (a software one such as lavapipe too); an error if there is none.
    Gpu,
}

impl BackendArg {
    fn choice(self) -> Choice {
        match self {
            BackendArg::Auto => Choice::Auto,
            BackendArg::Cpu => Choice::Cpu,
            BackendArg::Gpu => Choice::Gpu,
        }
    }
}

/// The help of `--law`: the registry's laws.
fn law_help() -> String {
    format!(
        "Law: {}, or a law file (a path ending in .toml, e.g. laws/additive-shared-gamma.toml)",
        registry::names().join(", ")
    )
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum InitArg {
    Grid,
    Random,
}

/// How to fit. Unset flags take the law's conventional defaults (see `mixlaw laws`).
#[derive(Args, Clone, Debug)]
pub struct FitArgs {
    #[arg(long, default_value = "additive", help = law_help())]
    pub law: String,
    /// Fit a law written inline, e.g. "E + A/N^alpha + B/D^beta": names that are not inputs (N,
    /// D, h[i]) become parameters, X[i] a per-domain family (docs/guide/laws.md).
    #[arg(long, conflicts_with = "law", value_name = "FORMULA")]
    pub formula: Option<String>,
    /// Bounds of a --formula parameter, NAME=LO,HI (repeatable); starts move inside them.
    #[arg(long = "bound", value_name = "NAME=LO,HI", requires = "formula")]
    pub bounds: Vec<String>,
    /// Where objectives and gradients are evaluated; the best minima are always polished and
    /// re-scored in f64 on the CPU.
    #[arg(long, value_enum, default_value = "auto")]
    pub backend: BackendArg,
    /// Residual scored by the loss [default: log for chinchilla, else raw].
    #[arg(long, value_enum)]
    pub residual: Option<ResidualArg>,
    /// Combine per-row losses by mean or sum [default: sum for chinchilla, else mean].
    #[arg(long, value_enum)]
    pub reduce: Option<ReduceArg>,
    /// The loss of each row's residual (docs/guide/losses.md).
    #[arg(long, value_enum, default_value = "huber")]
    pub loss: LossArg,
    /// Huber threshold δ; for mae the width of the smoothed stand-in the exploration minimises
    /// (polishing narrows it); for mse the residual scale the tolerances refer to.
    #[arg(long, default_value_t = 1e-3)]
    pub delta: f64,
    /// Weigh the loss of rows the law over-predicts (prediction above observation) W times
    /// (kyo-takano's chinchilla package: mae with W = 10).
    #[arg(
        long,
        default_value_t = 1.0,
        value_name = "W",
        allow_negative_numbers = true
    )]
    pub overestimate_penalty: f64,
    /// Start points: Hoffmann's grid (chinchilla) or random draws [default: grid for chinchilla].
    #[arg(long, value_enum)]
    pub init: Option<InitArg>,
    /// Random starts, or with --init grid the first N grid points [default: 100, or the whole grid;
    /// in a bootstrap study, 10 per replicate].
    #[arg(long)]
    pub starts: Option<usize>,
    /// Seed for starts and hops.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Basin-hopping hops from the best starts (the paper's optimiser; 0: none).
    #[arg(long, default_value_t = 0)]
    pub hops: usize,
    /// How many of the best starts basin-hop.
    #[arg(long, default_value_t = 8)]
    pub hop_chains: usize,
    /// L-BFGS iterations per start.
    #[arg(long, default_value_t = 2000)]
    pub max_iter: usize,
    /// Relative-decrease stopping tolerance while exploring from every start
    /// [default: 2.2e-6 for chinchilla (scipy's L-BFGS-B), else 1e-9].
    #[arg(long)]
    pub ftol: Option<f64>,
    /// Projected-gradient stopping tolerance while exploring, on the scaled objective the
    /// optimiser sees (huber: divided by δ) [default: 1e-2 for chinchilla, else 1e-4].
    #[arg(long)]
    pub gtol: Option<f64>,
    /// Do not start a joint (full) fit from the optimum of the additive (joint) law it contains.
    #[arg(long)]
    pub no_nest: bool,
    /// How many of the best distinct minima are then polished to full precision
    /// [default: 8 for a fit, 2 per replicate for a bootstrap study].
    #[arg(long)]
    pub polish: Option<usize>,
    /// N is divided by this before the law sees it (N in millions by default).
    #[arg(long, default_value_t = 1e6)]
    pub n_unit: f64,
    /// D is divided by this before the law sees it (D in billions by default).
    #[arg(long, default_value_t = 1e9)]
    pub d_unit: f64,
}

impl FitArgs {
    /// The law `--law` names (a built-in law or a law file), or the inline `--formula`; the
    /// formula's warnings go to stderr.
    pub fn law(&self) -> Result<Law> {
        self.law_told(&mut |line| errln!("{line}"))
    }

    /// [`FitArgs::law`], telling the warnings to `tell` (`warning: ...`).
    pub fn law_told(&self, tell: &mut dyn FnMut(String)) -> Result<Law> {
        let (law, warnings) = match &self.formula {
            Some(text) => {
                let bounds = self
                    .bounds
                    .iter()
                    .map(|b| parse_bound(b))
                    .collect::<Result<Vec<_>>>()?;
                formula::file::inline(text, &bounds)?
            }
            None if !self.bounds.is_empty() => {
                return Err(Error::Usage(format!(
                    "--bound sets the bounds of a --formula law's parameters; '{}' keeps its own \
                     (for other bounds, write the law as a law file: laws/ holds every built-in \
                     law as one, with its bounds under [parameters])",
                    self.law
                )))
            }
            None => registry::lookup_warned(&self.law)?,
        };
        for w in warnings {
            tell(format!("warning: {w}"));
        }
        Ok(law)
    }

    /// The files a fit reads: the table at `table` and the law file `--law` names, if any (no
    /// output may replace either).
    pub fn inputs<'a>(&'a self, table: &'a std::path::Path) -> Vec<&'a std::path::Path> {
        let law = self
            .formula
            .is_none()
            .then(|| registry::law_file(&self.law));
        std::iter::once(table).chain(law.flatten()).collect()
    }

    /// Validated settings: the law's defaults overridden by what was given.
    pub fn settings(&self, law: &Law) -> Result<FitSettings> {
        let mut s = FitSettings::defaults_for(law);
        if let Some(r) = self.residual {
            s.residual = match r {
                ResidualArg::Raw => Residual::Raw,
                ResidualArg::Log => Residual::Log,
            };
        }
        if let Some(r) = self.reduce {
            s.reduce = match r {
                ReduceArg::Mean => Reduce::Mean,
                ReduceArg::Sum => Reduce::Sum,
            };
        }
        if let Some(i) = self.init {
            s.init = match i {
                InitArg::Grid => Init::Grid,
                InitArg::Random => Init::Random,
            };
            if s.init == Init::Random && self.starts.is_none() {
                s.starts = 100;
            }
        }
        if let Some(n) = self.starts {
            s.starts = n;
        }
        s.loss = match self.loss {
            LossArg::Huber => LossKind::Huber,
            LossArg::Mse => LossKind::Mse,
            LossArg::Mae => LossKind::Mae,
        };
        s.delta = self.delta;
        s.overestimate_penalty = self.overestimate_penalty;
        s.seed = self.seed;
        s.hop.hops = self.hops;
        s.hop_chains = self.hop_chains;
        s.solver.max_iter = self.max_iter;
        if let Some(v) = self.ftol {
            s.solver.ftol = v;
        }
        if let Some(v) = self.gtol {
            s.solver.gtol = v;
        }
        if let Some(p) = self.polish {
            s.polish = p;
        }
        s.nest = !self.no_nest;
        s.n_unit = self.n_unit;
        s.d_unit = self.d_unit;
        s.check()?;
        Ok(s)
    }
}

/// `NAME=LO,HI` as `--bound` takes it.
fn parse_bound(text: &str) -> Result<(String, [f64; 2])> {
    let bad = || {
        Error::usage(format!(
            "--bound '{text}': expected NAME=LO,HI with LO < HI, e.g. alpha=0,2"
        ))
    };
    let (name, range) = text.split_once('=').ok_or_else(bad)?;
    let (lo, hi) = range.split_once(',').ok_or_else(bad)?;
    let (lo, hi): (f64, f64) = (
        lo.trim().parse().map_err(|_| bad())?,
        hi.trim().parse().map_err(|_| bad())?,
    );
    if name.trim().is_empty() || lo.partial_cmp(&hi) != Some(std::cmp::Ordering::Less) {
        return Err(bad());
    }
    Ok((name.trim().to_string(), [lo, hi]))
}

/// Open the backend `choice` names for `law` and say on stderr which one runs (and why, when
/// `auto` chose the CPU for a law without a GPU kernel).
pub fn open_backend(choice: BackendArg, law: Option<&Law>) -> Result<Box<dyn Backend>> {
    open_backend_told(choice, law, &mut |line| errln!("{line}"))
}

/// [`open_backend`], telling its notes to `tell`.
pub fn open_backend_told(
    choice: BackendArg,
    law: Option<&Law>,
    tell: &mut dyn FnMut(String),
) -> Result<Box<dyn Backend>> {
    let (b, notice) = crate::backend::open(choice.choice(), law)?;
    if let Some(n) = notice {
        tell(format!("note: {n}"));
    }
    tell(format!("note: backend {}", b.describe()));
    Ok(b)
}

/// How a running command talks: its warnings and notes (`warning: ...`, `note: ...`) and its
/// progress (`what`, done, total). The binary prints them on stderr; the Python package hands
/// them to Python (warnings, a progress bar).
pub struct Talk<'a> {
    /// Receives each warning or note as it arises.
    pub tell: &'a mut (dyn FnMut(String) + Send),
    /// Receives progress: what is running, how many of how many are done.
    pub progress: &'a mut (dyn FnMut(&str, usize, usize) + Send),
}

/// Where results go.
#[derive(Args, Clone, Debug)]
pub struct OutArgs {
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Overwrite an existing output file.
    #[arg(long)]
    pub force: bool,
}

/// What a fitting command needs before it fits: the law and its settings, the table and its
/// dataset (notices told on stderr), and the backend; an output file is checked first so that a
/// fit is never thrown away for want of `--force`.
pub fn prepare(
    data: &DataArgs,
    fit: &FitArgs,
    out: Option<&std::path::Path>,
    force: bool,
) -> Result<Prepared> {
    prepare_with(
        &data.columns,
        fit,
        out,
        force,
        |spec| data.read(spec),
        &mut |line| errln!("{line}"),
    )
}

/// [`prepare`] for a table that `read` gives once the spec has been checked (a file, or columns
/// a front end holds), telling its warnings and notes to `tell` as they arise (`warning: ...`,
/// `note: ...`).
pub fn prepare_with(
    columns: &ColumnArgs,
    fit: &FitArgs,
    out: Option<&std::path::Path>,
    force: bool,
    read: impl FnOnce(&DataSpec) -> Result<Table>,
    tell: &mut dyn FnMut(String),
) -> Result<Prepared> {
    let law = fit.law_told(tell)?;
    let settings = fit.settings(&law)?;
    if let Some(out) = out {
        crate::report::check_writable(out, force)?;
    }
    let spec = columns.spec(&law);
    let table = read(&spec)?;
    if let Some(out) = out {
        crate::report::check_not_input(out, &fit.inputs(table.source()))?;
    }
    let ds = crate::load(&table, &spec)?;
    for n in &ds.notices {
        tell(format!("note: {n}"));
    }
    let backend = open_backend_told(fit.backend, Some(&law), tell)?;
    Ok(Prepared {
        law,
        settings,
        table,
        ds,
        backend,
    })
}

/// See [`prepare`].
pub struct Prepared {
    pub law: Law,
    pub settings: FitSettings,
    pub table: Table,
    pub ds: Dataset,
    pub backend: Box<dyn Backend>,
}

/// Tell the user on stderr what the reader dropped or skipped.
pub fn print_notices(notices: &[String]) {
    for n in notices {
        errln!("note: {n}");
    }
}

/// Write to standard output. A closed pipe (`mixlaw laws | head -1`) ends the program quietly,
/// as it ends other Unix tools; any other write error (`> /dev/full`) is an error message and
/// exit 1. Commands print last, after their files are written, so nothing is lost by ending here.
pub fn stdout(args: std::fmt::Arguments) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_fmt(args).and_then(|_| out.flush()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        errln!("error: <stdout>: {e}");
        std::process::exit(1);
    }
}

/// Write to standard error, whatever becomes of it: a closed or full stderr (`2>&1 | head -1`)
/// loses the message, never the run (`eprintln!` would panic, exit 101, mid-study).
pub fn stderr(args: std::fmt::Arguments) {
    use std::io::Write;
    let mut err = std::io::stderr().lock();
    let _ = err.write_fmt(args).and_then(|_| err.flush());
}

/// Print `value` as pretty JSON on stdout.
pub fn print_json(value: &impl serde::Serialize) {
    outln!(
        "{}",
        serde_json::to_string_pretty(value).expect("results serialise")
    );
}
