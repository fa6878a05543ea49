//! `mixlaw eval`: fit on one split of a table, score mean relative error on another — the
//! paper's extrapolation protocol (fit small models, predict larger ones).

use std::path::{Path, PathBuf};

use clap::Args;

use super::backtest::BacktestArgs;
use super::bootstrap::ResampleArg;
use super::progress::Progress;
use super::{ColumnArgs, DataArgs, FitArgs, OutArgs, Talk};
use crate::data::{DataSpec, Table};
use crate::fit::{EvalReport, FitFile};
use crate::interval;
use crate::report::{self, num, TextTable};
use crate::{Error, Result};

#[derive(Args)]
pub struct EvalCmd {
    #[command(flatten)]
    data: DataArgs,
    #[command(flatten)]
    fit: FitArgs,
    #[command(flatten)]
    split: SplitArgs,
    #[command(flatten)]
    intervals: IntervalArgs,
    #[command(flatten)]
    sampling: SamplingArgs,
    /// Also write the fit (on the train split) to this fit file.
    #[arg(short, long, value_name = "FIT.json")]
    out: Option<PathBuf>,
    #[command(flatten)]
    output: OutArgs,
}

/// The two splits of an evaluation.
#[derive(Args, Clone, Debug)]
pub struct SplitArgs {
    /// Rows to fit on (repeatable, ANDed), e.g. 'model_size<=1.3e9'.
    #[arg(long = "train", value_name = "EXPR", required = true)]
    pub train: Vec<String>,
    /// Rows to score (repeatable, ANDed), e.g. 'model_size>=2e9'.
    #[arg(long = "test", value_name = "EXPR", required = true)]
    pub test: Vec<String>,
}

/// Calibrated prediction intervals (docs/guide/intervals.md).
#[derive(Args, Clone, Debug)]
pub struct IntervalArgs {
    /// Give every prediction an interval at this level (e.g. 0.9) calibrated on the table's own
    /// backtests: the bootstrap's spread widened by the extrapolation error the backtests show
    /// at the prediction's distance from the training rows.
    #[arg(long, value_name = "LEVEL")]
    pub intervals: Option<f64>,
    #[command(flatten)]
    pub backtest: BacktestArgs,
}

impl IntervalArgs {
    /// The level asked for, checked; `None` without `--intervals` (an error if `--by` was given
    /// without it, since it would do nothing).
    pub fn level(&self) -> Result<Option<f64>> {
        match (self.intervals, &self.backtest.by) {
            (None, Some(_)) => Err(Error::usage(
                "--by chooses the backtests of --intervals; give --intervals LEVEL too (or run \
                 mixlaw backtest)",
            )),
            (None, None) => Ok(None),
            (Some(level), _) if !(level > 0.0 && level < 1.0) => Err(Error::usage(format!(
                "--intervals must be a level between 0 and 1, got {level}"
            ))),
            (Some(level), _) => Ok(Some(level)),
        }
    }
}

/// The bootstrap behind `eval --intervals`.
#[derive(Args, Clone, Debug)]
pub struct SamplingArgs {
    /// Bootstrap replicates of the train rows for --intervals (0: no sampling part).
    #[arg(long, default_value_t = 100)]
    pub replicates: usize,
    /// Starts per replicate for --intervals: the train fit's optimum and starts − 1 drawn.
    #[arg(long, default_value_t = 4)]
    pub replicate_starts: usize,
    /// What the bootstrap of --intervals draws with replacement.
    #[arg(long, value_enum, default_value = "runs")]
    pub resample: ResampleArg,
}

/// An evaluation, with its intervals when they were asked for.
#[derive(serde::Serialize)]
pub struct Evaluation {
    #[serde(flatten)]
    pub report: EvalReport,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub intervals: Option<interval::Report>,
}

/// Fit on the train split of the table `read` gives and score both splits (an output file `out`
/// checked writable first); with `--intervals`, give every test row a calibrated interval.
#[allow(clippy::too_many_arguments)]
pub fn compute(
    columns: &ColumnArgs,
    args: &FitArgs,
    split: &SplitArgs,
    intervals: &IntervalArgs,
    sampling: &SamplingArgs,
    out: Option<&Path>,
    force: bool,
    read: impl FnOnce(&DataSpec) -> Result<Table>,
    talk: &mut Talk,
) -> Result<(FitFile, Evaluation)> {
    let level = intervals.level()?;
    let super::Prepared {
        law,
        settings,
        table,
        ds,
        backend,
    } = super::prepare_with(columns, args, out, force, read, talk.tell)?;
    // Rows in both splits score the fit on rows it was fitted on: allowed (a split may mean
    // it), but never silent.
    let train = crate::data::mask(&ds, &table, &split.train)?;
    let test = crate::data::mask(&ds, &table, &split.test)?;
    let both = train.iter().zip(&test).filter(|(a, b)| **a && **b).count();
    if both > 0 {
        (talk.tell)(format!(
            "note: {both} rows are in both the --train and the --test split: their test errors \
             are errors on rows the law was fitted to"
        ));
    }
    let (file, report) = crate::eval(
        &table,
        &ds,
        &law,
        &settings,
        &split.train,
        &split.test,
        backend.as_ref(),
        talk.progress,
    )?;
    let Some(level) = level else {
        return Ok((
            file,
            Evaluation {
                report,
                intervals: None,
            },
        ));
    };
    let (train, test) = crate::fit::split(&table, &ds, &split.train, &split.test)?;
    let report_intervals = interval::for_rows(
        &table,
        &train,
        &test,
        &file,
        &law,
        &settings,
        &interval::Settings {
            level,
            backtest: intervals.backtest.settings(),
            replicates: sampling.replicates,
            starts: sampling.replicate_starts,
            resample: sampling.resample.into(),
        },
        backend.as_ref(),
        talk.progress,
    )?;
    for note in &report_intervals.notes {
        (talk.tell)(format!("note: {note}"));
    }
    Ok((
        file,
        Evaluation {
            report,
            intervals: Some(report_intervals),
        },
    ))
}

pub fn run(c: EvalCmd) -> Result<()> {
    let mut bar = Progress::new("eval");
    let (file, eval) = compute(
        &c.data.columns,
        &c.fit,
        &c.split,
        &c.intervals,
        &c.sampling,
        c.out.as_deref(),
        c.output.force,
        |spec| c.data.read(spec),
        &mut Talk {
            tell: &mut |line| errln!("{line}"),
            progress: &mut |t, d, n| bar.update(t, d, n),
        },
    )?;
    bar.finish();
    if let Some(out) = &c.out {
        let json = file.render(out)?;
        report::write_atomic(out, json.as_bytes(), c.output.force)?;
    }
    if c.output.json {
        super::print_json(&eval);
        return Ok(());
    }
    let rep = &eval.report;
    let covered = |s: &crate::fit::TargetScore| {
        eval.intervals.as_ref().and_then(|i| {
            i.targets
                .iter()
                .find(|t| t.target == s.target && t.group == s.group)
        })
    };
    // A grouped table's scores lead with the group.
    let group = file.data.group_by.as_ref();
    let mut t = TextTable::new(
        group
            .into_iter()
            .cloned()
            .chain(
                [
                    "target",
                    "train rows",
                    "test rows",
                    "objective",
                    "train MRE %",
                    "test MRE %",
                ]
                .map(String::from),
            )
            .chain(eval.intervals.iter().flat_map(|_| {
                ["coverage %", "bootstrap cov. %", "median ± %", "beyond"].map(String::from)
            })),
    );
    let pct = |v: f64| format!("{:.1}", 100.0 * v);
    for s in &rep.targets {
        t.row(
            s.group
                .iter()
                .cloned()
                .chain([
                    s.target.clone(),
                    s.train_rows.to_string(),
                    s.test_rows.to_string(),
                    num(s.objective),
                    format!("{:.4}", s.train_mre_pct),
                    s.test_mre_pct.map_or("-".into(), |v| format!("{v:.4}")),
                ])
                .chain(eval.intervals.iter().flat_map(|_| match covered(s) {
                    Some(c) => [
                        pct(c.coverage),
                        c.bootstrap_coverage.map_or("-".into(), pct),
                        format!("{:.3}", c.median_half_width_pct),
                        c.beyond_backtests.to_string(),
                    ],
                    None => ["-", "-", "-", "-"].map(String::from),
                })),
        );
    }
    t.row(
        group
            .map(|_| String::new())
            .into_iter()
            .chain([
                "mean".to_string(),
                String::new(),
                String::new(),
                String::new(),
                format!("{:.4}", rep.mean_train_mre_pct),
                rep.mean_test_mre_pct
                    .map_or("-".into(), |v| format!("{v:.4}")),
            ])
            .chain(eval.intervals.iter().flat_map(|i| {
                [
                    pct(i.coverage),
                    i.bootstrap_coverage.map_or("-".into(), pct),
                    format!("{:.3}", i.median_half_width_pct),
                    i.targets
                        .iter()
                        .map(|t| t.beyond_backtests)
                        .sum::<usize>()
                        .to_string(),
                ]
            })),
    );
    outln!(
        "{} law, train: {}; test: {}  ({:.2}s)\n{}",
        rep.law,
        c.split.train.join(" and "),
        c.split.test.join(" and "),
        rep.wall_s,
        rep.objective_name
            .as_ref()
            .map_or(String::new(), |o| format!("objective: {o}\n"))
    );
    out!("{}", t.render());
    if let Some(i) = &eval.intervals {
        outln!(
            "\n{:.0}% intervals: backtests by {} on the train rows, {} bootstrap replicates of them \
             ({} resampled); coverage: the share of test rows whose observed loss the interval \
             holds, beside the bootstrap's percentile interval alone; median ±: half-width \
             relative to the prediction (the median absolute error is {:.3}%); beyond: test rows \
             farther from the train rows than any backtest prediction (their intervals carry the \
             error model past where it was measured)",
            100.0 * i.level,
            i.by,
            i.replicates,
            match c.sampling.resample {
                ResampleArg::Rows => "rows",
                ResampleArg::Runs => "runs",
            },
            i.median_abs_error_pct
        );
    }
    Ok(())
}
