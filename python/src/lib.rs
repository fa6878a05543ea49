//! `mixlaw._native`: the engine's commands for the Python package.
//!
//! The Python layer (`mixlaw/__init__.py`) turns a call's keyword arguments into the command
//! line's flags (`n_col="N"` into `--n-col N`) and hands them here with the table; they are
//! parsed by the very clap definitions the `mixlaw` binary uses ([`mixlaw::cli`]) and run through
//! the same `compute` functions, so defaults, checks, messages and numbers cannot differ from the
//! CLI's. Results cross back as the CLI's own formats (the fit file's JSON, `--json` reports, CSV
//! tables), which the Python layer turns into DataFrames.
//!
//! Every run happens on a worker thread while this thread waits with the interpreter released,
//! waking every 50 ms to pass progress to Python and to let Python's signal handlers run: a
//! Ctrl-C raises `KeyboardInterrupt` here, which asks the engine to stop
//! ([`mixlaw::interrupt`]); the run ends at its next optimiser round and the exception reaches
//! the caller. SIGTERM takes the same way: during a call the Python layer gives it a handler
//! that raises `SystemExit` (`mixlaw/__init__.py`).
//!
//! Importing the module sizes rayon's pool as the binary does ([`mixlaw::backend::cap_threads`],
//! before any parallel work can have built it); its note, if any, is `thread_note`, which the
//! Python layer raises as a warning. Tables arrive as columns: numbers as the bytes of a float64 array (NaN for a
//! missing value), anything else as text.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use clap::Parser;
use pyo3::create_exception;
use pyo3::exceptions::{
    PyFileNotFoundError, PyKeyboardInterrupt, PyOSError, PyRuntimeError, PyTypeError, PyValueError,
};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyTuple};

use mixlaw::cli::backtest::BacktestArgs;
use mixlaw::cli::bootstrap::{StudyArgs, SummaryArgs};
use mixlaw::cli::eval::{IntervalArgs, SamplingArgs, SplitArgs};
use mixlaw::cli::optimize::{GoalArgs, MixtureArgs};
use mixlaw::cli::report::{ReadTable, SourceArgs};
use mixlaw::cli::simulate::DesignArgs;
use mixlaw::cli::{self, ColumnArgs, FitArgs, Talk};
use mixlaw::data::{Column, DataSpec, Table};
use mixlaw::fit::FitFile;
use mixlaw::law::Law;
use mixlaw::Error;

create_exception!(
    _native,
    InputError,
    PyValueError,
    "Bad input: a table's cell, a keyword's value, a fit or study file. The message names the \
     file (or table), the row and the column."
);

create_exception!(
    _native,
    GpuError,
    PyRuntimeError,
    "The GPU backend cannot run: no adapter, no device, a shader that does not compile, or a \
     problem beyond the device's limits."
);

/// How often the waiting thread wakes to report progress and run Python's signal handlers.
const POLL: Duration = Duration::from_millis(50);

/// A table as Python hands it over: a CSV file's path, or named columns.
enum Source {
    Path(PathBuf),
    Columns(String, Vec<(String, Column)>),
}

impl Source {
    /// `data`: a path (`str` or `os.PathLike`), or `(name, [(column, bytes | list[str])])`.
    fn from_py(data: &Bound<'_, PyAny>) -> PyResult<Source> {
        if let Ok(t) = data.cast::<PyTuple>() {
            let (name, columns): (String, Bound<'_, PyList>) = t.extract()?;
            let mut out = Vec::with_capacity(columns.len());
            for item in columns.iter() {
                let (column, values): (String, Bound<'_, PyAny>) = item.extract()?;
                let values = match values.cast::<PyBytes>() {
                    Ok(b) => Column::Numbers(
                        b.as_bytes()
                            .chunks_exact(8)
                            .map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes")))
                            .collect(),
                    ),
                    Err(_) => Column::Text(values.extract()?),
                };
                out.push((column, values));
            }
            return Ok(Source::Columns(name, out));
        }
        Ok(Source::Path(data.extract()?))
    }

    /// The table, once `spec` has been checked (a bad keyword is reported before a missing
    /// file, as on the command line).
    fn read(&self, spec: &DataSpec) -> mixlaw::Result<Table> {
        spec.check()?;
        match self {
            Source::Path(p) => Table::read(p),
            Source::Columns(name, columns) => {
                Table::from_columns(name.clone(), columns.iter().cloned())
            }
        }
    }
}

/// The Python exception for an engine error.
fn to_py(e: Error) -> PyErr {
    let msg = e.to_string();
    match e {
        Error::Data { .. } | Error::Usage(_) | Error::FitFile { .. } => InputError::new_err(msg),
        Error::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
            PyFileNotFoundError::new_err(msg)
        }
        Error::Io { .. } => PyOSError::new_err(msg),
        Error::Gpu(_) => GpuError::new_err(msg),
        Error::Interrupted => PyKeyboardInterrupt::new_err(msg),
    }
}

/// Parse a call's flags with the command line's definitions: an unknown keyword is a
/// `TypeError`, a bad value an [`InputError`] (the Python layer renames flags to keywords).
fn parse<T: Parser>(args: Vec<String>) -> PyResult<T> {
    T::try_parse_from(std::iter::once(String::from("mixlaw")).chain(args)).map_err(|e| {
        let text = e.render().to_string();
        let first = text.lines().next().unwrap_or_default();
        let msg = first.strip_prefix("error: ").unwrap_or(first).to_string();
        match e.kind() {
            clap::error::ErrorKind::UnknownArgument => PyTypeError::new_err(msg),
            _ => InputError::new_err(msg),
        }
    })
}

#[derive(Default)]
struct Shared {
    notes: Vec<String>,
    progress: Option<(String, usize, usize)>,
}

/// Run `work` on a worker thread with the interpreter released; returns its result and the notes
/// it told. Progress goes to `progress(what, done, total)`; a Python exception raised by a signal
/// handler (Ctrl-C) or by `progress` stops the run and is raised once it has stopped.
fn run<T: Send>(
    py: Python<'_>,
    progress: Option<&Bound<'_, PyAny>>,
    work: impl FnOnce(&mut Talk) -> mixlaw::Result<T> + Send,
) -> PyResult<(T, Vec<String>)> {
    mixlaw::interrupt::clear();
    let shared = Mutex::new(Shared::default());
    let mut stopped: Option<PyErr> = None;
    let result = std::thread::scope(|scope| {
        let worker = scope.spawn(|| {
            let mut tell = |line: String| shared.lock().expect("not poisoned").notes.push(line);
            let mut report = |what: &str, done: usize, total: usize| {
                shared.lock().expect("not poisoned").progress = Some((what.into(), done, total))
            };
            work(&mut Talk {
                tell: &mut tell,
                progress: &mut report,
            })
        });
        loop {
            py.detach(|| {
                let t0 = Instant::now();
                while !worker.is_finished() && t0.elapsed() < POLL {
                    std::thread::sleep(Duration::from_millis(2));
                }
            });
            let finished = worker.is_finished();
            let latest = shared.lock().expect("not poisoned").progress.take();
            if let (Some(cb), Some(p), None) = (progress, latest, &stopped) {
                if let Err(e) = cb.call1(p) {
                    mixlaw::interrupt::request();
                    stopped = Some(e);
                }
            }
            if finished {
                break;
            }
            if stopped.is_none() {
                if let Err(e) = py.check_signals() {
                    mixlaw::interrupt::request();
                    stopped = Some(e);
                }
            }
        }
        worker.join()
    });
    mixlaw::interrupt::clear();
    if let Some(e) = stopped {
        return Err(e);
    }
    let result =
        result.map_err(|_| PyRuntimeError::new_err("mixlaw panicked (a bug: please report it)"))?;
    let notes = std::mem::take(&mut shared.lock().expect("not poisoned").notes);
    Ok((result.map_err(to_py)?, notes))
}

/// A fit file's text as the Python `Fit` holds it, checked.
fn fit_file(text: &str) -> PyResult<(FitFile, Law)> {
    FitFile::parse(text, Path::new("<Fit>")).map_err(to_py)
}

fn pretty(value: &impl serde::Serialize) -> String {
    serde_json::to_string_pretty(value).expect("results serialise")
}

fn text(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).expect("CSV written from UTF-8 text")
}

#[derive(Parser)]
struct FitKw {
    #[command(flatten)]
    columns: ColumnArgs,
    #[command(flatten)]
    fit: FitArgs,
}

/// `fit(data, args, progress)`: the fit file's JSON (as `mixlaw fit --json` prints it) and the
/// notes.
#[pyfunction]
#[pyo3(signature = (data, args, progress=None))]
fn fit(
    py: Python<'_>,
    data: &Bound<'_, PyAny>,
    args: Vec<String>,
    progress: Option<&Bound<'_, PyAny>>,
) -> PyResult<(String, Vec<String>)> {
    let kw: FitKw = parse(args)?;
    let source = Source::from_py(data)?;
    let (file, notes) = run(py, progress, |talk| {
        cli::fit::compute(
            &kw.columns,
            &kw.fit,
            None,
            false,
            |spec| source.read(spec),
            talk,
        )
    })?;
    Ok((pretty(&file), notes))
}

#[derive(Parser)]
struct EvalKw {
    #[command(flatten)]
    columns: ColumnArgs,
    #[command(flatten)]
    fit: FitArgs,
    #[command(flatten)]
    split: SplitArgs,
    #[command(flatten)]
    intervals: IntervalArgs,
    #[command(flatten)]
    sampling: SamplingArgs,
}

/// `eval(data, args, progress)`: the fit on the train split (JSON), the evaluation as
/// `mixlaw eval --json` prints it, and the notes.
#[pyfunction]
#[pyo3(signature = (data, args, progress=None))]
fn eval(
    py: Python<'_>,
    data: &Bound<'_, PyAny>,
    args: Vec<String>,
    progress: Option<&Bound<'_, PyAny>>,
) -> PyResult<(String, String, Vec<String>)> {
    let kw: EvalKw = parse(args)?;
    let source = Source::from_py(data)?;
    let ((file, report), notes) = run(py, progress, |talk| {
        cli::eval::compute(
            &kw.columns,
            &kw.fit,
            &kw.split,
            &kw.intervals,
            &kw.sampling,
            None,
            false,
            |spec| source.read(spec),
            talk,
        )
    })?;
    Ok((pretty(&file), pretty(&report), notes))
}

#[derive(Parser)]
struct BacktestKw {
    #[command(flatten)]
    columns: ColumnArgs,
    #[command(flatten)]
    fit: FitArgs,
    #[command(flatten)]
    backtest: BacktestArgs,
}

/// `backtest(data, args, progress)`: the backtest as `mixlaw backtest --json` prints it, and the
/// notes.
#[pyfunction]
#[pyo3(signature = (data, args, progress=None))]
fn backtest(
    py: Python<'_>,
    data: &Bound<'_, PyAny>,
    args: Vec<String>,
    progress: Option<&Bound<'_, PyAny>>,
) -> PyResult<(String, Vec<String>)> {
    let kw: BacktestKw = parse(args)?;
    let source = Source::from_py(data)?;
    let (b, notes) = run(py, progress, |talk| {
        cli::backtest::compute(
            &kw.columns,
            &kw.fit,
            &kw.backtest,
            |spec| source.read(spec),
            talk,
        )
    })?;
    Ok((pretty(&b), notes))
}

#[derive(Parser)]
struct PredictKw {
    #[command(flatten)]
    columns: ColumnArgs,
}

/// `predict(fit, data, args)`: the predictions as `mixlaw predict` writes them (CSV), and the
/// notes.
#[pyfunction]
fn predict(
    py: Python<'_>,
    fit: &str,
    data: &Bound<'_, PyAny>,
    args: Vec<String>,
) -> PyResult<(String, Vec<String>)> {
    let kw: PredictKw = parse(args)?;
    let (file, law) = fit_file(fit)?;
    let source = Source::from_py(data)?;
    let (p, notes) = run(py, None, |talk| {
        cli::predict::compute(
            &file,
            &law,
            &kw.columns,
            |spec| source.read(spec),
            talk.tell,
        )
    })?;
    Ok((
        text(cli::predict::csv(&p, &kw.columns.weight_prefix)),
        notes,
    ))
}

#[derive(Parser)]
struct OptimizeKw {
    #[command(flatten)]
    m: MixtureArgs,
    #[command(flatten)]
    goals: GoalArgs,
}

/// `optimize(fit, args)`: the optimum as `mixlaw optimize --json` prints it, and the notes.
#[pyfunction]
fn optimize(py: Python<'_>, fit: &str, args: Vec<String>) -> PyResult<(String, Vec<String>)> {
    let kw: OptimizeKw = parse(args)?;
    let (file, law) = fit_file(fit)?;
    let (optimum, notes) = run(py, None, |talk| {
        cli::optimize::compute(&file, &law, &kw.m, &kw.goals, talk.tell)
    })?;
    Ok((pretty(&cli::optimize::report(&file, &optimum)), notes))
}

#[derive(Parser)]
struct SweepKw {
    #[command(flatten)]
    m: MixtureArgs,
}

/// `sweep(fit, args)`: the sweep as `mixlaw sweep` writes it (CSV), and the notes.
#[pyfunction]
fn sweep(py: Python<'_>, fit: &str, args: Vec<String>) -> PyResult<(String, Vec<String>)> {
    let kw: SweepKw = parse(args)?;
    let (file, law) = fit_file(fit)?;
    let (optimum, notes) = run(py, None, |talk| {
        cli::sweep::compute(&file, &law, &kw.m, talk.tell)
    })?;
    Ok((text(cli::sweep::csv(&file, &optimum)), notes))
}

#[derive(Parser)]
struct BootstrapKw {
    #[command(flatten)]
    columns: ColumnArgs,
    #[command(flatten)]
    fit: FitArgs,
    #[command(flatten)]
    study: StudyArgs,
    #[command(flatten)]
    summary: SummaryArgs,
    #[command(flatten)]
    intervals: IntervalArgs,
    /// Replace an existing study file.
    #[arg(long)]
    force: bool,
}

/// `bootstrap(data, args, progress)`: the study (header and records, JSON), its summary as
/// `mixlaw bootstrap --json` prints it, the backend's description, and the notes.
#[pyfunction]
#[pyo3(signature = (data, args, progress=None))]
fn bootstrap(
    py: Python<'_>,
    data: &Bound<'_, PyAny>,
    args: Vec<String>,
    progress: Option<&Bound<'_, PyAny>>,
) -> PyResult<(String, String, String, Vec<String>)> {
    let kw: BootstrapKw = parse(args)?;
    let source = Source::from_py(data)?;
    let ((study, summary, backend), notes) = run(py, progress, |talk| {
        cli::bootstrap::compute(
            &kw.columns,
            &kw.fit,
            &kw.study,
            &kw.summary,
            &kw.intervals,
            kw.force,
            |spec| source.read(spec),
            talk,
        )
    })?;
    Ok((
        serde_json::to_string(&study).expect("studies serialise"),
        pretty(&summary),
        backend,
        notes,
    ))
}

#[derive(Parser)]
struct MergeKw {
    #[command(flatten)]
    summary: SummaryArgs,
}

/// `merge(paths, out, force, args)`: the merged study (JSON) and its summary, as `bootstrap`
/// returns them.
#[pyfunction]
#[pyo3(signature = (paths, out, force, args))]
fn merge(
    py: Python<'_>,
    paths: Vec<PathBuf>,
    out: Option<PathBuf>,
    force: bool,
    args: Vec<String>,
) -> PyResult<(String, String)> {
    let kw: MergeKw = parse(args)?;
    let ((study, summary), _) = run(py, None, |_| {
        let points = kw.summary.points()?;
        let study = mixlaw::merge(&paths, out.as_deref(), force)?;
        let summary = study.summarise(kw.summary.level, &points)?;
        Ok((study, summary))
    })?;
    Ok((
        serde_json::to_string(&study).expect("studies serialise"),
        pretty(&summary),
    ))
}

#[derive(Parser)]
struct SimulateKw {
    #[command(flatten)]
    design: DesignArgs,
}

/// `simulate(args)`: the simulated table as `mixlaw simulate` writes it (CSV).
#[pyfunction]
fn simulate(args: Vec<String>) -> PyResult<String> {
    let kw: SimulateKw = parse(args)?;
    cli::simulate::compute(&kw.design).map(text).map_err(to_py)
}

#[derive(Parser)]
struct FigureKw {
    #[command(flatten)]
    sources: SourceArgs,
    #[arg(long = "of")]
    of: Option<String>,
    #[arg(long)]
    index: Option<usize>,
    #[arg(long)]
    title: Option<String>,
}

/// A study as the Python `Study` holds it (its header and records, JSON).
fn study(text: Option<&str>) -> PyResult<Option<mixlaw::bootstrap::Study>> {
    text.map(|t| {
        serde_json::from_str(t)
            .map_err(|e| InputError::new_err(format!("<Study>: not a mixlaw study: {e}")))
    })
    .transpose()
}

fn kind(name: &str) -> PyResult<mixlaw::plot::Kind> {
    <mixlaw::plot::Kind as clap::ValueEnum>::from_str(name, false).map_err(|_| {
        let all: Vec<String> = <mixlaw::plot::Kind as clap::ValueEnum>::value_variants()
            .iter()
            .map(|k| mixlaw::plot::kind_name(*k))
            .collect();
        InputError::new_err(format!(
            "no figure kind '{name}': one of {}",
            all.join(", ")
        ))
    })
}

fn format(name: &str) -> PyResult<mixlaw::plot::Format> {
    match name {
        "svg" => Ok(mixlaw::plot::Format::Svg),
        "png" => Ok(mixlaw::plot::Format::Png),
        _ => Err(InputError::new_err(format!("format '{name}': svg or png"))),
    }
}

/// `figure(fit, kind, data, study, args, format, width, height)`: one figure, drawn (SVG text
/// or PNG bytes), and the notes.
#[pyfunction]
#[pyo3(signature = (fit, kind_name, data, study_text, args, format_name, width, height))]
#[allow(clippy::too_many_arguments)]
fn figure(
    py: Python<'_>,
    fit: &str,
    kind_name: &str,
    data: Option<&Bound<'_, PyAny>>,
    study_text: Option<&str>,
    args: Vec<String>,
    format_name: &str,
    width: u32,
    height: u32,
) -> PyResult<(Py<PyBytes>, Vec<String>)> {
    let kw: FigureKw = parse(args)?;
    let (file, law) = fit_file(fit)?;
    let (k, f) = (kind(kind_name)?, format(format_name)?);
    let source = data.map(Source::from_py).transpose()?;
    let study = study(study_text)?;
    let (bytes, notes) = run(py, None, |talk| {
        let read = source.as_ref().map(|s| move |spec: &DataSpec| s.read(spec));
        mixlaw::cli::report::figure(
            &file,
            &law,
            &kw.sources,
            read.as_ref().map(|r| r as ReadTable),
            study,
            k,
            kw.of.as_deref(),
            kw.index,
            f,
            (width, height),
            talk.tell,
        )
    })?;
    Ok((PyBytes::new(py, &bytes).unbind(), notes))
}

/// `report(fit, data, study, args)`: the HTML report, and the notes.
#[pyfunction]
fn report(
    py: Python<'_>,
    fit: &str,
    data: Option<&Bound<'_, PyAny>>,
    study_text: Option<&str>,
    args: Vec<String>,
) -> PyResult<(String, Vec<String>)> {
    let kw: FigureKw = parse(args)?;
    let (file, law) = fit_file(fit)?;
    let source = data.map(Source::from_py).transpose()?;
    let study = study(study_text)?;
    run(py, None, |talk| {
        let read = source.as_ref().map(|s| move |spec: &DataSpec| s.read(spec));
        mixlaw::cli::report::html(
            &file,
            &law,
            &kw.sources,
            read.as_ref().map(|r| r as ReadTable),
            study,
            kw.title.as_deref(),
            "<Fit>",
            talk.tell,
        )
    })
}

/// `study_figure(study, kind, target, index, level, format, width, height)`: a figure of a study
/// alone (histograms, alpha-beta).
#[pyfunction]
#[allow(clippy::too_many_arguments)]
fn study_figure(
    py: Python<'_>,
    study_text: &str,
    kind_name: &str,
    target: Option<String>,
    index: Option<usize>,
    level: f64,
    format_name: &str,
    width: u32,
    height: u32,
) -> PyResult<Py<PyBytes>> {
    let s = study(Some(study_text))?.expect("given");
    let (k, f) = (kind(kind_name)?, format(format_name)?);
    mixlaw::bootstrap::check_level(level).map_err(to_py)?;
    let summary = s.summarise(level, &[]).map_err(to_py)?;
    let targets: Vec<String> = match target {
        Some(t) => vec![t],
        None => summary.targets.iter().map(|t| t.target.clone()).collect(),
    };
    let charts: Vec<mixlaw::plot::Chart> = match k {
        mixlaw::plot::Kind::Histograms => targets
            .iter()
            .flat_map(|t| mixlaw::plot::figures::histograms(&s, &summary, t))
            .collect(),
        mixlaw::plot::Kind::AlphaBeta => targets
            .iter()
            .filter_map(|t| mixlaw::plot::figures::alpha_beta(&s, t))
            .collect(),
        _ => {
            return Err(InputError::new_err(format!(
            "a study alone draws histograms and alpha-beta; {kind_name} needs the fit (Fit.plot)"
        )))
        }
    };
    let chosen = match (charts.len(), index) {
        (0, _) => {
            return Err(InputError::new_err(format!(
                "no {kind_name} figure for {targets:?}"
            )))
        }
        (1, None) => 0,
        (n, Some(i)) if i < n => i,
        (n, _) => {
            let list: Vec<String> = charts
                .iter()
                .enumerate()
                .map(|(i, c)| format!("  {i}: {}", c.title))
                .collect();
            return Err(InputError::new_err(format!(
                "{n} {kind_name} figures; choose one with index= (and target=):\n{}",
                list.join("\n")
            )));
        }
    };
    let bytes = charts[chosen].render(f, (width, height)).map_err(to_py)?;
    Ok(PyBytes::new(py, &bytes).unbind())
}

/// `laws()`: the built-in laws as `mixlaw laws --json` lists them.
#[pyfunction]
fn laws() -> String {
    pretty(&cli::laws::json())
}

/// `devices()`: the GPU adapters as `mixlaw devices --json` lists them.
#[pyfunction]
fn devices(py: Python<'_>) -> String {
    py.detach(|| pretty(&mixlaw::backend::gpu::devices()))
}

/// `load_fit(path)`: the text of a fit file, checked.
#[pyfunction]
fn load_fit(path: PathBuf) -> PyResult<String> {
    let text = std::fs::read_to_string(&path).map_err(|source| {
        to_py(Error::Io {
            path: path.clone(),
            source,
        })
    })?;
    FitFile::parse(&text, &path).map_err(to_py)?;
    Ok(text)
}

/// `write(path, text, force)`: write a file atomically, as the CLI writes its outputs (an
/// existing file only with `force`).
#[pyfunction]
fn write(path: PathBuf, text: &str, force: bool) -> PyResult<()> {
    mixlaw::report::write_atomic(&path, text.as_bytes(), force).map_err(to_py)
}

/// `write_bytes(path, bytes, force)`: [`write`] for bytes (a PNG).
#[pyfunction]
fn write_bytes(path: PathBuf, bytes: &[u8], force: bool) -> PyResult<()> {
    mixlaw::report::write_atomic(&path, bytes, force).map_err(to_py)
}

/// mixlaw's engine, for the `mixlaw` Python package.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("InputError", m.py().get_type::<InputError>())?;
    m.add("GpuError", m.py().get_type::<GpuError>())?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("thread_note", mixlaw::backend::cap_threads())?;
    m.add_function(wrap_pyfunction!(fit, m)?)?;
    m.add_function(wrap_pyfunction!(eval, m)?)?;
    m.add_function(wrap_pyfunction!(backtest, m)?)?;
    m.add_function(wrap_pyfunction!(predict, m)?)?;
    m.add_function(wrap_pyfunction!(optimize, m)?)?;
    m.add_function(wrap_pyfunction!(sweep, m)?)?;
    m.add_function(wrap_pyfunction!(bootstrap, m)?)?;
    m.add_function(wrap_pyfunction!(merge, m)?)?;
    m.add_function(wrap_pyfunction!(simulate, m)?)?;
    m.add_function(wrap_pyfunction!(laws, m)?)?;
    m.add_function(wrap_pyfunction!(devices, m)?)?;
    m.add_function(wrap_pyfunction!(load_fit, m)?)?;
    m.add_function(wrap_pyfunction!(write, m)?)?;
    m.add_function(wrap_pyfunction!(write_bytes, m)?)?;
    m.add_function(wrap_pyfunction!(figure, m)?)?;
    m.add_function(wrap_pyfunction!(report, m)?)?;
    m.add_function(wrap_pyfunction!(study_figure, m)?)?;
    Ok(())
}
