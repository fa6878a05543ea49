//! `mixlaw eval`: fit on one split of a table, score mean relative error on another — the
//! paper's extrapolation protocol (fit small models, predict larger ones).

use std::path::{Path, PathBuf};

use clap::Args;

use super::progress::Progress;
use super::{ColumnArgs, DataArgs, FitArgs, OutArgs, Talk};
use crate::data::{DataSpec, Table};
use crate::fit::{EvalReport, FitFile};
use crate::report::{self, num, TextTable};
use crate::Result;

#[derive(Args)]
pub struct EvalCmd {
    #[command(flatten)]
    data: DataArgs,
    #[command(flatten)]
    fit: FitArgs,
    #[command(flatten)]
    split: SplitArgs,
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

/// Fit on the train split of the table `read` gives and score both splits (an output file `out`
/// checked writable first).
pub fn compute(
    columns: &ColumnArgs,
    args: &FitArgs,
    split: &SplitArgs,
    out: Option<&Path>,
    force: bool,
    read: impl FnOnce(&DataSpec) -> Result<Table>,
    talk: &mut Talk,
) -> Result<(FitFile, EvalReport)> {
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
    crate::eval(
        &table,
        &ds,
        &law,
        &settings,
        &split.train,
        &split.test,
        backend.as_ref(),
        talk.progress,
    )
}

pub fn run(c: EvalCmd) -> Result<()> {
    let mut bar = Progress::new("eval");
    let (file, rep) = compute(
        &c.data.columns,
        &c.fit,
        &c.split,
        c.out.as_deref(),
        c.output.force,
        |spec| c.data.read(spec),
        &mut Talk {
            tell: &mut |line| eprintln!("{line}"),
            progress: &mut |t, d, n| bar.update(t, d, n),
        },
    )?;
    bar.finish();
    if let Some(out) = &c.out {
        let json = file.render(out)?;
        report::write_atomic(out, json.as_bytes(), c.output.force)?;
    }
    if c.output.json {
        super::print_json(&rep);
        return Ok(());
    }
    // A grouped table's scores lead with the group.
    let group = file.data.group_by.as_ref();
    let mut t = TextTable::new(
        group.into_iter().cloned().chain(
            [
                "target",
                "train rows",
                "test rows",
                "objective",
                "train MRE %",
                "test MRE %",
            ]
            .map(String::from),
        ),
    );
    for s in &rep.targets {
        t.row(s.group.iter().cloned().chain([
            s.target.clone(),
            s.train_rows.to_string(),
            s.test_rows.to_string(),
            num(s.objective),
            format!("{:.4}", s.train_mre_pct),
            s.test_mre_pct.map_or("-".into(), |v| format!("{v:.4}")),
        ]));
    }
    t.row(
        group.map(|_| String::new()).into_iter().chain([
            "mean".to_string(),
            String::new(),
            String::new(),
            String::new(),
            format!("{:.4}", rep.mean_train_mre_pct),
            rep.mean_test_mre_pct
                .map_or("-".into(), |v| format!("{v:.4}")),
        ]),
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
    Ok(())
}
