//! `mixlaw backtest`: fit on the smaller runs of a table, predict its larger runs, step by step.

use clap::Args;

use super::progress::Progress;
use super::{ColumnArgs, DataArgs, FitArgs, OutArgs, Talk};
use crate::backtest::{self, Backtest};
use crate::data::{DataSpec, Table};
use crate::report::{num, TextTable};
use crate::{Error, Result};

/// Backtest a law on its own table: for each step, fit on the rows up to one value of a scale
/// column and predict every larger one; report the error per target, step and held-out value,
/// against the distance from the training rows, and for mixture laws the rank correlation and
/// regret over the mixtures at each held-out scale.
#[derive(Args)]
pub struct BacktestCmd {
    #[command(flatten)]
    data: DataArgs,
    #[command(flatten)]
    fit: FitArgs,
    #[command(flatten)]
    backtest: BacktestArgs,
    #[command(flatten)]
    output: OutArgs,
}

/// What a backtest rolls over.
#[derive(Args, Clone, Debug)]
pub struct BacktestArgs {
    /// The scale column the backtest rolls over [default: the N column].
    #[arg(long, value_name = "COL")]
    pub by: Option<String>,
    /// Steps at most (cut points evenly spaced in rank when the column has more values).
    #[arg(long, default_value_t = 8)]
    pub steps: usize,
}

impl BacktestArgs {
    pub fn settings(&self) -> backtest::Settings {
        backtest::Settings {
            by: self.by.clone(),
            steps: self.steps,
        }
    }
}

/// Backtest the law on the table `read` gives.
pub fn compute(
    columns: &ColumnArgs,
    fit: &FitArgs,
    args: &BacktestArgs,
    read: impl FnOnce(&DataSpec) -> Result<Table>,
    talk: &mut Talk,
) -> Result<Backtest> {
    let super::Prepared {
        law,
        settings,
        table,
        ds,
        backend,
    } = super::prepare_with(columns, fit, None, false, read, talk.tell)?;
    // A backtest rolls over a scale; a target or a weight column leaves N and D where they are,
    // so every held-out row is at distance 0 and its error per decade is 0/0.
    if let Some(by) = &args.by {
        let role = if ds.targets.iter().any(|t| &t.name == by) {
            Some("a target")
        } else if ds
            .domains
            .iter()
            .any(|d| format!("{}{d}", columns.weight_prefix) == *by)
        {
            Some("a domain weight")
        } else {
            None
        };
        if let Some(role) = role {
            return Err(Error::usage(format!(
                "--by {by} is {role}: a backtest fits on the smaller runs and predicts the \
                 larger, by a scale column (model size, tokens, FLOP or a budget)"
            )));
        }
    }
    let b = backtest::run(
        &table,
        &ds,
        &law,
        &settings,
        &args.settings(),
        backend.as_ref(),
        talk.progress,
    )?;
    for note in &b.notes {
        (talk.tell)(format!("note: {note}"));
    }
    Ok(b)
}

pub fn run(c: BacktestCmd) -> Result<()> {
    let mut bar = Progress::new("backtest");
    let b = compute(
        &c.data.columns,
        &c.fit,
        &c.backtest,
        |spec| c.data.read(spec),
        &mut Talk {
            tell: &mut |line| errln!("{line}"),
            progress: &mut |t, d, n| bar.update(t, d, n),
        },
    )?;
    bar.finish();
    if c.output.json {
        super::print_json(&b);
        return Ok(());
    }
    outln!(
        "{} law, backtest by {} ({:.2}s): fit on the rows up to each value, predict the larger ones\n",
        b.law,
        b.by,
        b.wall_s
    );
    out!("{}", render(&b));
    Ok(())
}

/// The backtest as a text table: a line per target, step and held-out value.
pub fn render(b: &Backtest) -> String {
    let grouped = b.targets.iter().any(|t| t.group.is_some());
    let mixtures = b
        .targets
        .iter()
        .flat_map(|t| &t.steps)
        .flat_map(|s| &s.held_out)
        .any(|h| h.spearman.is_some());
    let mut head: Vec<String> = grouped.then(|| "group".to_string()).into_iter().collect();
    head.extend(
        [
            "target",
            "train up to",
            "train rows",
            "held out",
            "rows",
            "distance",
            "MRE %",
        ]
        .map(String::from),
    );
    if mixtures {
        head.extend(["Spearman", "regret"].map(String::from));
    }
    let mut t = TextTable::new(head);
    for tb in &b.targets {
        for s in &tb.steps {
            for h in &s.held_out {
                let mut row: Vec<String> = tb.group.iter().cloned().collect();
                row.extend([
                    tb.target.clone(),
                    num(s.up_to),
                    s.train_rows.to_string(),
                    num(h.by),
                    h.rows.to_string(),
                    format!("{:.3}", h.median_distance),
                    format!("{:.3}", h.mre_pct),
                ]);
                if mixtures {
                    row.push(h.spearman.map_or("-".into(), |v| format!("{v:.3}")));
                    row.push(h.regret.map_or("-".into(), |v| format!("{v:.4}")));
                }
                t.row(row);
            }
        }
    }
    let mut text = t.render();
    let mut slope = TextTable::new(
        grouped.then(|| "group".to_string()).into_iter().chain(
            [
                "target",
                "predictions",
                "median error per decade %",
                "90th percentile per decade %",
            ]
            .map(String::from),
        ),
    );
    for tb in &b.targets {
        slope.row(tb.group.iter().cloned().chain([
            tb.target.clone(),
            tb.predictions().count().to_string(),
            format!("{:.3}", tb.median_error_per_decade_pct),
            format!("{:.3}", tb.p90_error_per_decade_pct),
        ]));
    }
    text.push_str("\nerror against distance: |ln(observed / predicted)| / distance, over every held-out prediction\n");
    text.push_str(&slope.render());
    text.push_str(
        "\ndistance: the median, over the held-out rows, of the distance in decades of N and D \
         from the nearest training row\n",
    );
    if mixtures {
        text.push_str(
            "Spearman, regret: over the mixtures at each held-out scale point (one N, D within \
             1%, at least 3 runs), averaged; regret is the observed loss of the law's pick minus \
             the best observed\n",
        );
    }
    text
}
