//! `mixlaw predict`: a fit file and a table in, the table's predictions out as CSV.

use std::path::PathBuf;

use clap::Args;

use super::DataArgs;
use crate::fit::FitFile;
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
        report::check_writable(out, c.force)?;
    }
    let spec = c.data.spec(&law);
    let table = c.data.read(&spec)?;
    let p = crate::predict(&file, &law, &table, &spec)?;
    super::print_notices(&p.notices);
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header = vec!["row".to_string()];
    // A grouped fit's predictions say which group's laws made them.
    header.extend(p.groups.as_ref().map(|g| g.column.clone()));
    header.extend(["N".to_string(), "D".into()]);
    header.extend(
        p.domains
            .iter()
            .map(|d| format!("{}{d}", c.data.columns.weight_prefix)),
    );
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
    let bytes = w.into_inner().expect("in-memory CSV");
    report::emit(c.out.as_deref(), &bytes, c.force)
}
