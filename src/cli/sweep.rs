//! `mixlaw sweep`: the optimal mixture of every fitted target and of their average, as one CSV.

use std::path::PathBuf;

use clap::Args;

use super::optimize::{bound_names, FitFileArg, MixtureArgs};
use crate::fit::FitFile;
use crate::law::Law;
use crate::mixture::Optimum;
use crate::report;
use crate::Result;

#[derive(Args)]
pub struct SweepCmd {
    #[command(flatten)]
    file: FitFileArg,
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
    c.m.settings(c.m.scale()?)?.check_fixed_scale()?;
    let (file, law) = c.file.read()?;
    if let Some(out) = &c.out {
        report::check_not_input(out, &[c.file.path()])?;
        report::check_writable(out, c.force)?;
    }
    let optimum = compute(&file, &law, &c.m, &mut |line| errln!("{line}"))?;
    report::emit(c.out.as_deref(), &csv(&file, &optimum), c.force)
}

/// The optimal mixture of every target of `file` (of the group `m` names) and of their average
/// (the backend's notes told to `tell`).
pub fn compute(
    file: &FitFile,
    law: &Law,
    m: &MixtureArgs,
    tell: &mut dyn FnMut(String),
) -> Result<Optimum> {
    let settings = m.settings(m.scale()?)?;
    settings.check_fixed_scale()?;
    settings.check(file, law)?;
    let backend = m.backend(law, tell)?;
    if let Some(line) = settings.lattice_notice(file, law)? {
        tell(line);
    }
    crate::sweep(file, law, &settings, backend.as_ref())
}

/// The sweep as CSV: a row per target (and `avg`), the mixture, every target's prediction, the
/// loss, the lattice's loss and the domains on a bound.
pub fn csv(file: &FitFile, optimum: &Optimum) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let file = &file.of_group(optimum.group.as_deref());
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
    w.into_inner().expect("in-memory CSV")
}
