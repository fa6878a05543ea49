//! `mixlaw sweep`: the optimal mixture of every fitted target and of their average, as one CSV.

use std::path::PathBuf;

use clap::Args;

use super::optimize::{bound_names, MixtureArgs};
use crate::report;
use crate::Result;

#[derive(Args)]
pub struct SweepCmd {
    #[command(flatten)]
    m: MixtureArgs,
    /// Write the CSV here instead of standard output.
    #[arg(short, long, value_name = "CSV")]
    out: Option<PathBuf>,
    /// Overwrite an existing output file.
    #[arg(long)]
    force: bool,
}

pub fn run(c: SweepCmd) -> Result<()> {
    let settings = c.m.settings(c.m.scale())?;
    settings.check_fixed_scale()?;
    let (file, law) = c.m.read()?;
    if let Some(out) = &c.out {
        report::check_writable(out, c.force)?;
    }
    settings.check(&file, &law)?;
    let backend = c.m.backend(&law)?;
    let optimum = crate::sweep(&file, &law, &settings, backend.as_ref())?;
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header = vec!["target".to_string()];
    header.extend(file.domains.iter().map(|d| format!("h_{d}")));
    header.extend(file.targets.iter().map(|t| format!("pred_{}", t.target)));
    header.extend(["loss".into(), "lattice_loss".into(), "on_bounds".into()]);
    w.write_record(&header).expect("in-memory CSV");
    for s in optimum.solutions.iter().map(|p| &p.solution) {
        let mut rec = vec![s.target.clone()];
        rec.extend(s.h.iter().map(|v| v.to_string()));
        rec.extend(s.predicted.iter().map(|v| v.to_string()));
        rec.push(s.loss.to_string());
        rec.push(s.lattice_loss.to_string());
        rec.push(bound_names(s, &file.domains).join(" "));
        w.write_record(&rec).expect("in-memory CSV");
    }
    let bytes = w.into_inner().expect("in-memory CSV");
    report::emit(c.out.as_deref(), &bytes, c.force)
}
