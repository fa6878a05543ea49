//! `mixlaw predict`: a fit file and a table in, the table's predictions out as CSV.

use std::path::PathBuf;

use clap::Args;

use super::DataArgs;
use mixlaw::law::Point;
use mixlaw::report::{self, FitFile};
use mixlaw::{Error, Result};

#[derive(Args)]
pub struct PredictCmd {
    /// The fit file written by `mixlaw fit --out`.
    fit: PathBuf,
    #[command(flatten)]
    data: DataArgs,
    /// Write the CSV here instead of standard output.
    #[arg(long, value_name = "CSV")]
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
    let mut spec = c.data.spec(law);
    if spec.targets.is_empty() {
        spec.targets = file.targets.iter().map(|t| t.target.clone()).collect();
    }
    spec.targets_optional = true;
    let ds = mixlaw::data::load(&c.data.table, &spec)?;
    super::print_notices(&ds);
    if law.uses_mixture() && ds.domains != file.domains {
        return Err(Error::usage(format!(
            "{} has domains [{}] but the fit in {} has [{}]",
            c.data.table.display(),
            ds.domains.join(", "),
            c.fit.display(),
            file.domains.join(", ")
        )));
    }
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header = vec!["row".to_string(), "N".into(), "D".into()];
    header.extend(
        ds.domains
            .iter()
            .map(|d| format!("{}{d}", c.data.weight_prefix)),
    );
    for t in &file.targets {
        header.push(t.target.clone());
        header.push(format!("{}_pred", t.target));
    }
    w.write_record(&header).expect("in-memory CSV");
    let observed: Vec<Option<&Vec<f64>>> = file
        .targets
        .iter()
        .map(|t| ds.targets.iter().find(|x| x.name == t.target).map(|x| &x.y))
        .collect();
    let params: Vec<Vec<f64>> = (0..file.targets.len())
        .map(|t| file.param_vector(law, t))
        .collect();
    for r in 0..ds.rows() {
        let mut rec = vec![
            ds.row_ids[r].to_string(),
            ds.n[r].to_string(),
            ds.d[r].to_string(),
        ];
        rec.extend(ds.h_row(r).iter().map(|v| v.to_string()));
        let x = Point::new(ds.n[r] / file.units.n, ds.d[r] / file.units.d, ds.h_row(r));
        for (t, p) in params.iter().enumerate() {
            let obs = observed[t].map(|y| y[r]).filter(|v| v.is_finite());
            rec.push(obs.map_or(String::new(), |v| v.to_string()));
            rec.push(law.eval(p, &x, None).to_string());
        }
        w.write_record(&rec).expect("in-memory CSV");
    }
    let bytes = w.into_inner().expect("in-memory CSV");
    mixlaw::report::emit(c.out.as_deref(), &bytes, c.force)
}
