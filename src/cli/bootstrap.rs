//! `mixlaw bootstrap`: bootstrap uncertainty studies, whole or sharded.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use super::eval::IntervalArgs;
use super::progress::Progress;
use super::{ColumnArgs, DataArgs, FitArgs, OutArgs, Talk};
use crate::bootstrap::{self, At, Destination, Event, Resample, Shard, Study, Summary};
use crate::data::{DataSpec, Table};
use crate::interval::{self, AtInterval};
use crate::report::{num, TextTable};
use crate::{Error, Result};

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum ResampleArg {
    /// Draw rows with replacement.
    Rows,
    /// Draw whole runs (every checkpoint of one mixture and N) with replacement.
    Runs,
}

impl From<ResampleArg> for Resample {
    fn from(r: ResampleArg) -> Resample {
        match r {
            ResampleArg::Rows => Resample::Rows,
            ResampleArg::Runs => Resample::Runs,
        }
    }
}

/// What a summary reports.
#[derive(Args, Clone, Debug)]
pub struct SummaryArgs {
    /// Confidence level of the percentile intervals.
    #[arg(long, default_value_t = 0.95)]
    pub level: f64,
    /// Also give intervals of the predicted loss at N,D (and mixture h_1,...,h_k for mixture
    /// laws), e.g. --at 7e9,140e9 (repeatable).
    #[arg(long, value_name = "N,D[,h...]")]
    pub at: Vec<String>,
}

impl SummaryArgs {
    pub fn points(&self) -> Result<Vec<At>> {
        bootstrap::check_level(self.level)?;
        self.at.iter().map(|a| At::parse(a)).collect()
    }
}

/// Refit a law on resampled tables: parameter, prediction and optimal-mixture intervals.
///
/// `--starts` counts the starts of each replicate (default 10: the full-data optimum and 9
/// drawn as a fit draws them); the full-data fit uses the law's usual starts, and `--hops`
/// basin-hops that fit only.
#[derive(Args)]
pub struct BootstrapCmd {
    #[command(flatten)]
    data: DataArgs,
    #[command(flatten)]
    fit: FitArgs,
    #[command(flatten)]
    study: StudyArgs,
    #[command(flatten)]
    summary: SummaryArgs,
    #[command(flatten)]
    intervals: IntervalArgs,
    #[command(flatten)]
    output: OutArgs,
}

/// A study's summary, with the calibrated intervals of its `--at` predictions when asked for.
#[derive(serde::Serialize)]
pub struct Outcome {
    #[serde(flatten)]
    pub summary: Summary,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub intervals: Vec<AtInterval>,
}

/// The study: how many replicates of what, and where they are written.
#[derive(Args, Clone, Debug)]
pub struct StudyArgs {
    /// Replicates in the whole study (all shards together).
    #[arg(long, default_value_t = 1000)]
    pub replicates: usize,
    /// What is drawn with replacement.
    #[arg(long, value_enum, default_value = "rows")]
    pub resample: ResampleArg,
    /// Raw N,D at which each replicate's optimal mixture is found (mixture laws)
    /// [default: the table's largest N and D].
    #[arg(long, value_name = "N,D")]
    pub optimum_at: Option<String>,
    /// Run only replicates j with j mod n = i; `auto` reads SLURM_ARRAY_TASK_ID and
    /// SLURM_ARRAY_TASK_COUNT. `mixlaw merge` joins the shards' study files.
    #[arg(long, value_name = "i/n|auto")]
    pub shard: Option<String>,
    /// The study file (JSON Lines: a header, then one record per replicate and target, written
    /// as replicates finish).
    #[arg(short, long, value_name = "STUDY.jsonl")]
    pub out: Option<PathBuf>,
    /// Continue the study in --out, keeping the replicates it already holds.
    #[arg(long, requires = "out", conflicts_with = "force")]
    pub resume: bool,
}

pub fn run(c: BootstrapCmd) -> Result<()> {
    let mut bar = Progress::new("bootstrap");
    let mut counting = false;
    let (_, outcome, backend) = compute(
        &c.data.columns,
        &c.fit,
        &c.study,
        &c.summary,
        &c.intervals,
        c.output.force,
        |spec| c.data.read(spec),
        &mut Talk {
            tell: &mut |line| errln!("{line}"),
            progress: &mut |what, done, total| {
                // The full-data fits count starts; the replicates come after them.
                if !what.starts_with("full-data fit") && !counting {
                    bar.count("replicates");
                    counting = true;
                }
                bar.update(what, done, total)
            },
        },
    )?;
    bar.finish();
    print(&outcome, backend, c.output.json);
    Ok(())
}

/// Run (or resume) the study of the table `read` gives and summarise it; returns the study, its
/// summary (with calibrated intervals at its `--at` points when asked for) and the backend's
/// description. Progress comes as `full-data fit TARGET` (starts), then per target
/// (replicates), then the backtests' fits.
#[allow(clippy::too_many_arguments)]
pub fn compute(
    columns: &ColumnArgs,
    fit_args: &FitArgs,
    args: &StudyArgs,
    summary: &SummaryArgs,
    intervals: &IntervalArgs,
    force: bool,
    read: impl FnOnce(&DataSpec) -> Result<Table>,
    talk: &mut Talk,
) -> Result<(Study, Outcome, String)> {
    let law = fit_args.law_told(talk.tell)?;
    let points = summary.points()?;
    let level = intervals.level()?;
    if level.is_some() && points.is_empty() {
        return Err(Error::usage(
            "--intervals gives calibrated intervals of the predictions at --at N,D[,h...]: \
             give at least one --at",
        ));
    }
    let shard = args
        .shard
        .as_deref()
        .map(Shard::parse)
        .transpose()?
        .filter(|s| s.count > 1);
    let fit = FitArgs {
        starts: None,
        ..fit_args.clone()
    }
    .settings(&law)?;
    let mut study = bootstrap::StudySettings::new(args.replicates, fit);
    if let Some(p) = fit_args.polish {
        study.fit.polish = p;
    }
    study.starts = fit_args.starts.unwrap_or(study.starts);
    study.resample = args.resample.into();
    study.optimum_at = args.optimum_at.as_deref().map(parse_pair).transpose()?;
    let dest = Destination {
        path: args.out.clone(),
        resume: args.resume,
        force,
    };
    study.check()?;
    dest.check()?;
    let spec = columns.spec(&law);
    let table = read(&spec)?;
    if let Some(out) = &args.out {
        crate::report::check_not_input(out, &fit_args.inputs(table.source()))?;
    }
    let ds = crate::load(&table, &spec)?;
    for n in &ds.notices {
        (talk.tell)(format!("note: {n}"));
    }
    for a in &points {
        a.check(&law, ds.k())?;
    }
    let backend = super::open_backend_told(fit_args.backend, Some(&law), talk.tell)?;
    let study = crate::bootstrap(
        &ds,
        &law,
        &study,
        shard,
        backend.as_ref(),
        &dest,
        &mut |event| match event {
            Event::FullFit {
                target,
                done,
                total,
            } => (talk.progress)(&format!("full-data fit {target}"), done, total),
            Event::Resumed { records } => (talk.tell)(format!(
                "note: resuming {}: {records} records already done",
                args.out
                    .as_ref()
                    .expect("a resumed study has a file")
                    .display()
            )),
            Event::Replicates {
                target,
                done,
                total,
            } => (talk.progress)(target, done, total),
        },
    )?;
    if let (Some(s), true) = (shard, study.records.is_empty()) {
        (talk.tell)(format!(
            "note: shard {}/{} holds no replicates (the study has {}): its study file is its \
             header alone, which merge takes as it is",
            s.index, s.count, args.replicates
        ));
    }
    let summary = study.summarise(summary.level, &points)?;
    let intervals = match level {
        Some(level) => interval::at_points(
            &table,
            &ds,
            &law,
            &study,
            &points,
            level,
            &intervals.backtest.settings(),
            backend.as_ref(),
            &mut |t, d, n| (talk.progress)(&format!("backtest {t}"), d, n),
        )?,
        None => Vec::new(),
    };
    Ok((study, Outcome { summary, intervals }, backend.describe()))
}

/// `N,D` as two positive numbers.
fn parse_pair(text: &str) -> Result<[f64; 2]> {
    let bad = || {
        Error::usage(format!(
            "--optimum-at '{text}' is not N,D (two positive numbers)"
        ))
    };
    let (n, d) = text.split_once(',').ok_or_else(bad)?;
    let (n, d): (f64, f64) = (
        n.trim().parse().map_err(|_| bad())?,
        d.trim().parse().map_err(|_| bad())?,
    );
    if n > 0.0 && d > 0.0 && n.is_finite() && d.is_finite() {
        Ok([n, d])
    } else {
        Err(bad())
    }
}

pub fn print(outcome: &Outcome, backend: String, json: bool) {
    if json {
        super::print_json(outcome);
    } else {
        out!("{}", render(&outcome.summary, &backend));
        if !outcome.intervals.is_empty() {
            out!("{}", render_intervals(&outcome.intervals));
        }
    }
}

/// The calibrated intervals of a study's predictions, a line per target and point.
fn render_intervals(intervals: &[AtInterval]) -> String {
    let level = intervals[0].calibration.level;
    let mut t = TextTable::new([
        "target",
        "predicted loss at",
        "estimate",
        "lo",
        "hi",
        "distance",
        "per decade",
        "bootstrap lo",
        "bootstrap hi",
    ]);
    for i in intervals {
        let mut at = format!("N={} D={}", num(i.at.n), num(i.at.d));
        if !i.at.h.is_empty() {
            let h: Vec<String> = i.at.h.iter().map(|v| num(*v)).collect();
            at.push_str(&format!(" h={}", h.join(",")));
        }
        let (blo, bhi) = i.interval.sampling.unwrap_or((f64::NAN, f64::NAN));
        t.row([
            i.target.clone(),
            at,
            num(i.interval.predicted),
            num(i.interval.lo),
            num(i.interval.hi),
            format!(
                "{:.3}{}",
                i.interval.distance,
                if i.interval.beyond_backtests {
                    " *"
                } else {
                    ""
                }
            ),
            format!("{:.4}", i.calibration.per_decade),
            num(blo),
            num(bhi),
        ]);
    }
    let mut out = format!(
        "\ncalibrated {}% prediction intervals (bootstrap spread widened by the backtests' \
         extrapolation error at the point's distance, in decades of N and D, from the table's \
         rows):\n",
        100.0 * level
    );
    out.push_str(&t.render());
    if intervals.iter().any(|i| i.interval.beyond_backtests) {
        out.push_str(
            "* farther out than any backtest prediction: the interval carries the error model \
             past the distances it was measured at\n",
        );
    }
    out
}

/// The human view: per target, the parameters, predictions and optimal mixture with intervals.
fn render(s: &Summary, backend: &str) -> String {
    let pct = format!("{:.4}", s.level * 100.0)
        .trim_end_matches('0')
        .trim_end_matches('.')
        .to_string();
    let mut out = format!(
        "{} law, {} replicates ({} resampled, {} starts each, seed {}; {backend}); \
         {pct}% percentile intervals\n",
        s.law,
        s.replicates,
        match s.resample {
            Resample::Rows => "rows",
            Resample::Runs => "runs",
        },
        s.starts,
        s.seed
    );
    let table = |first: &str, rows: &[(String, &bootstrap::Interval)]| {
        let mut t = TextTable::new([first, "estimate", "mean", "se", "lo", "hi"]);
        for (name, i) in rows {
            t.row([
                name.clone(),
                num(i.estimate),
                num(i.mean),
                num(i.se),
                num(i.lo),
                num(i.hi),
            ]);
        }
        t.render()
    };
    for t in &s.targets {
        out.push_str(&format!(
            "\n{}: {} replicates{}\n",
            t.target,
            t.replicates,
            if t.failed > 0 {
                format!(" ({} failed, left out)", t.failed)
            } else {
                String::new()
            }
        ));
        let rows: Vec<(String, &bootstrap::Interval)> =
            t.params.iter().map(|i| (i.name.clone(), i)).collect();
        out.push_str(&table("parameter", &rows));
        if !t.predictions.is_empty() {
            let rows: Vec<(String, &bootstrap::Interval)> = t
                .predictions
                .iter()
                .map(|p| {
                    let mut at = format!("N={} D={}", num(p.at.n), num(p.at.d));
                    if !p.at.h.is_empty() {
                        let h: Vec<String> = p.at.h.iter().map(|v| num(*v)).collect();
                        at.push_str(&format!(" h={}", h.join(",")));
                    }
                    (at, &p.loss)
                })
                .collect();
            out.push('\n');
            out.push_str(&table("predicted loss at", &rows));
        }
        if let (false, Some([n, d])) = (t.optimum.is_empty(), s.optimum_at) {
            out.push_str(&format!(
                "\noptimal mixture at N={} D={}:\n",
                num(n),
                num(d)
            ));
            let rows: Vec<(String, &bootstrap::Interval)> =
                t.optimum.iter().map(|i| (i.name.clone(), i)).collect();
            out.push_str(&table("domain", &rows));
        }
    }
    out
}
