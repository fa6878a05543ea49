//! `mixlaw fit`: fit a law to every target of a table.

use std::path::{Path, PathBuf};

use clap::Args;

use super::progress::Progress;
use super::{ColumnArgs, DataArgs, FitArgs, OutArgs, Talk};
use crate::data::{DataSpec, Table};
use crate::fit::FitFile;
use crate::report::{self, num, TextTable};
use crate::Result;

#[derive(Args)]
pub struct FitCmd {
    #[command(flatten)]
    data: DataArgs,
    #[command(flatten)]
    fit: FitArgs,
    /// Write the fit file (JSON) here.
    #[arg(short, long, value_name = "FIT.json")]
    out: Option<PathBuf>,
    #[command(flatten)]
    output: OutArgs,
}

pub fn run(c: FitCmd) -> Result<()> {
    let mut bar = Progress::new("fit");
    let file = compute(
        &c.data.columns,
        &c.fit,
        c.out.as_deref(),
        c.output.force,
        |spec| c.data.read(spec),
        &mut Talk {
            tell: &mut |line| errln!("{line}"),
            progress: &mut |t, d, n| bar.update(t, d, n),
        },
    )?;
    bar.finish();
    let json = file.render(c.out.as_deref().unwrap_or("<stdout>".as_ref()))?;
    if let Some(out) = &c.out {
        report::write_atomic(out, json.as_bytes(), c.output.force)?;
    }
    if c.output.json {
        outln!("{json}");
    } else {
        out!("{}", summary(&file));
    }
    Ok(())
}

/// The fit of the table `read` gives (an output file `out` checked writable first).
pub fn compute(
    columns: &ColumnArgs,
    args: &FitArgs,
    out: Option<&Path>,
    force: bool,
    read: impl FnOnce(&DataSpec) -> Result<Table>,
    talk: &mut Talk,
) -> Result<FitFile> {
    let super::Prepared {
        law,
        settings,
        ds,
        backend,
        ..
    } = super::prepare_with(columns, args, out, force, read, talk.tell)?;
    crate::fit(
        &ds,
        &law,
        &settings,
        backend.as_ref(),
        &columns.filters,
        talk.progress,
    )
}

/// The human view of a fit file: one line per target, then the parameters (a column per target,
/// or for a grouped fit a line per group and target, led by the group).
pub fn summary(file: &FitFile) -> String {
    let group = file.data.group_by.as_ref();
    let mut t = TextTable::new(
        group.into_iter().cloned().chain(
            [
                "target",
                "rows",
                "objective",
                "train MRE %",
                "converged",
                "flat",
                "at bounds",
            ]
            .map(String::from),
        ),
    );
    for f in &file.targets {
        t.row(f.group.iter().cloned().chain([
            f.target.clone(),
            f.rows.to_string(),
            num(f.objective),
            format!("{:.4}", f.train_mre_pct),
            format!("{}/{}", f.converged, f.starts),
            f.flat.join(" "),
            f.at_bounds.join(" "),
        ]));
    }
    let p = match group {
        Some(column) => grouped_parameters(file, column),
        None => parameters(file),
    };
    format!(
        "{} law: {}  ({} rows, {}, {:.2}s)\n{}\n{}\n{}",
        file.law,
        file.formula,
        file.data.rows,
        file.backend,
        file.wall_s,
        objective_line(&file.settings),
        t.render(),
        p.render()
    )
}

/// The parameters with a column per target.
fn parameters(file: &FitFile) -> TextTable {
    let mut p = TextTable::new(
        std::iter::once("parameter".to_string())
            .chain(file.targets.iter().map(|f| f.target.clone())),
    );
    if let Some(first) = file.targets.first() {
        for (name, _) in &first.params.0 {
            p.row(
                std::iter::once(name.clone()).chain(
                    file.targets
                        .iter()
                        .map(|f| num(f.params.get(name).unwrap_or(f64::NAN))),
                ),
            );
        }
    }
    p
}

/// The parameters of a grouped fit with a line per group and target (groups' names are long
/// and many: as columns they would not fit a screen).
fn grouped_parameters(file: &FitFile, column: &str) -> TextTable {
    let names: Vec<&String> = file
        .targets
        .first()
        .map_or(Vec::new(), |f| f.params.0.iter().map(|(n, _)| n).collect());
    let mut p = TextTable::new(
        [column.to_string(), "target".into()]
            .into_iter()
            .chain(names.iter().map(|n| n.to_string())),
    );
    for f in &file.targets {
        p.row(
            [f.group.clone().unwrap_or_default(), f.target.clone()]
                .into_iter()
                .chain(
                    names
                        .iter()
                        .map(|n| num(f.params.get(n).unwrap_or(f64::NAN))),
                ),
        );
    }
    p
}

/// The line under a summary's header naming the objective, `objective: mean asymmetric MAE,
/// W = 10, raw residual`, for every loss but the default (symmetric Huber), whose summaries
/// read as they always have (an empty line).
pub fn objective_line(settings: &crate::fit::FitSettings) -> String {
    if settings.default_loss() {
        String::new()
    } else {
        format!("objective: {}\n", settings.objective_name())
    }
}
