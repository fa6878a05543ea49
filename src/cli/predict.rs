//! `mixlaw predict`: a fit file and a table in, the table's predictions out as CSV.

use std::path::PathBuf;

use clap::Args;

use super::{ColumnArgs, DataArgs};
use crate::data::{DataSpec, Table};
use crate::fit::{FitFile, Predictions};
use crate::law::Law;
use crate::report;
use crate::Result;

#[derive(Args)]
pub struct PredictCmd {
    /// The fit file written by `mixlaw fit --out`.
    fit: PathBuf,
    #[command(flatten)]
    data: DataArgs,
    /// Write the CSV here instead of standard output.
    #[arg(short, long, value_name = "CSV")]
    out: Option<PathBuf>,
    /// Overwrite an existing output file.
    #[arg(long)]
    force: bool,
}

pub fn run(c: PredictCmd) -> Result<()> {
    let (file, law) = FitFile::read(&c.fit)?;
    if let Some(out) = &c.out {
        report::check_not_input(out, &[&c.fit, &c.data.table])?;
        report::check_writable(out, c.force)?;
    }
    let p = compute(
        &file,
        &law,
        &c.data.columns,
        |spec| c.data.read(spec),
        &mut |line| errln!("{line}"),
    )?;
    let bytes = csv(&p, &c.data.columns.weight_prefix);
    report::emit(c.out.as_deref(), &bytes, c.force)
}

/// The predictions of `file` for the table `read` gives (the reader's notes told to `tell`).
pub fn compute(
    file: &FitFile,
    law: &Law,
    columns: &ColumnArgs,
    read: impl FnOnce(&DataSpec) -> Result<Table>,
    tell: &mut dyn FnMut(String),
) -> Result<Predictions> {
    let spec = columns.spec(law);
    let table = read(&spec)?;
    let p = crate::predict(file, law, &table, &spec)?;
    for n in &p.notices {
        tell(format!("note: {n}"));
    }
    Ok(p)
}

/// Predictions as CSV: the 1-based data row, its group (of a grouped fit), N, D, the mixture
/// (named with `weight_prefix`), then per target the observed value (empty where there is
/// none) and the prediction.
pub fn csv(p: &Predictions, weight_prefix: &str) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header = vec!["row".to_string()];
    // A grouped fit's predictions say which group's laws made them.
    header.extend(p.groups.as_ref().map(|g| g.column.clone()));
    header.extend(["N".to_string(), "D".into()]);
    header.extend(p.domains.iter().map(|d| format!("{weight_prefix}{d}")));
    for t in &p.targets {
        header.push(t.target.clone());
        header.push(format!("{}_pred", t.target));
    }
    w.write_record(&header).expect("in-memory CSV");
    let k = p.domains.len();
    for (r, row) in p.rows.iter().enumerate() {
        let mut rec = vec![row.to_string()];
        rec.extend(p.groups.as_ref().map(|g| g.names[g.of_row[r]].clone()));
        rec.extend([p.n[r].to_string(), p.d[r].to_string()]);
        rec.extend(p.h[r * k..(r + 1) * k].iter().map(|v| v.to_string()));
        for t in &p.targets {
            rec.push(t.observed[r].map_or(String::new(), |v| v.to_string()));
            rec.push(t.predicted[r].to_string());
        }
        w.write_record(&rec).expect("in-memory CSV");
    }
    w.into_inner().expect("in-memory CSV")
}
