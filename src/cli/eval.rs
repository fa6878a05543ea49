//! `mixlaw eval`: fit on one split of a table, score mean relative error on another — the
//! paper's extrapolation protocol (fit small models, predict larger ones).

use std::path::PathBuf;

use clap::Args;

use super::progress::Progress;
use super::{DataArgs, FitArgs, OutArgs};
use mixlaw::fit::{mre_pct, target_rows};
use mixlaw::report::{self, num, Table};
use mixlaw::{Error, Result};

#[derive(Args)]
pub struct EvalCmd {
    #[command(flatten)]
    data: DataArgs,
    #[command(flatten)]
    fit: FitArgs,
    /// Rows to fit on (repeatable, ANDed), e.g. 'model_size<=1.3e9'.
    #[arg(long = "train", value_name = "EXPR", required = true)]
    train: Vec<String>,
    /// Rows to score (repeatable, ANDed), e.g. 'model_size>=2e9'.
    #[arg(long = "test", value_name = "EXPR", required = true)]
    test: Vec<String>,
    /// Also write the fit (on the train split) to this fit file.
    #[arg(long, value_name = "FIT.json")]
    out: Option<PathBuf>,
    #[command(flatten)]
    output: OutArgs,
}

#[derive(serde::Serialize)]
struct TargetScore {
    target: String,
    train_mre_pct: f64,
    test_mre_pct: Option<f64>,
    objective: f64,
    train_rows: usize,
    test_rows: usize,
    params: mixlaw::report::Params,
}

#[derive(serde::Serialize)]
struct EvalReport {
    law: String,
    train: Vec<String>,
    test: Vec<String>,
    targets: Vec<TargetScore>,
    mean_train_mre_pct: f64,
    mean_test_mre_pct: Option<f64>,
    backend: String,
    wall_s: f64,
}

pub fn run(c: EvalCmd) -> Result<()> {
    let super::Prepared {
        law,
        settings,
        ds,
        backend,
    } = super::prepare(&c.data, &c.fit, c.out.as_deref(), c.output.force)?;
    let split = |exprs: &[String], which: &str| -> Result<mixlaw::data::Dataset> {
        let keep = mixlaw::data::mask(&ds, &c.data.table, exprs)?;
        if !keep.iter().any(|&k| k) {
            return Err(Error::usage(format!(
                "no rows of {} satisfy the --{which} expression(s) {}",
                c.data.table.display(),
                exprs.join(" and ")
            )));
        }
        Ok(ds.subset(&keep))
    };
    let train = split(&c.train, "train")?;
    let test = split(&c.test, "test")?;
    let mut bar = Progress::new("eval");
    let file = mixlaw::engine::fit(
        &train,
        law,
        &settings,
        backend.as_ref(),
        &c.train,
        &mut |t, d, n| bar.update(t, d, n),
    )?;
    bar.finish();
    let targets: Vec<TargetScore> = file
        .targets
        .iter()
        .enumerate()
        .map(|(t, f)| {
            let rows = target_rows(&test, t, settings.n_unit, settings.d_unit);
            let p = file.param_vector(law, t);
            TargetScore {
                target: f.target.clone(),
                train_mre_pct: f.train_mre_pct,
                test_mre_pct: (!rows.is_empty()).then(|| mre_pct(law, &p, &rows)),
                objective: f.objective,
                train_rows: f.rows,
                test_rows: rows.len(),
                params: f.params.clone(),
            }
        })
        .collect();
    let mean = |v: Vec<f64>| (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64);
    let rep = EvalReport {
        law: law.name().into(),
        train: c.train.clone(),
        test: c.test.clone(),
        mean_train_mre_pct: mean(targets.iter().map(|t| t.train_mre_pct).collect())
            .unwrap_or(f64::NAN),
        mean_test_mre_pct: mean(targets.iter().filter_map(|t| t.test_mre_pct).collect()),
        targets,
        backend: file.backend.clone(),
        wall_s: file.wall_s,
    };
    if let Some(out) = &c.out {
        let json = serde_json::to_string_pretty(&file).expect("fit files serialise");
        report::write_atomic(out, json.as_bytes(), c.output.force)?;
    }
    if c.output.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&rep).expect("serialisable")
        );
        return Ok(());
    }
    let mut t = Table::new([
        "target",
        "train rows",
        "test rows",
        "objective",
        "train MRE %",
        "test MRE %",
    ]);
    for s in &rep.targets {
        t.row([
            s.target.clone(),
            s.train_rows.to_string(),
            s.test_rows.to_string(),
            num(s.objective),
            format!("{:.4}", s.train_mre_pct),
            s.test_mre_pct.map_or("-".into(), |v| format!("{v:.4}")),
        ]);
    }
    t.row([
        "mean".to_string(),
        String::new(),
        String::new(),
        String::new(),
        format!("{:.4}", rep.mean_train_mre_pct),
        rep.mean_test_mre_pct
            .map_or("-".into(), |v| format!("{v:.4}")),
    ]);
    println!(
        "{} law, train: {}; test: {}  ({:.2}s)\n",
        rep.law,
        c.train.join(" and "),
        c.test.join(" and "),
        rep.wall_s
    );
    print!("{}", t.render());
    Ok(())
}
