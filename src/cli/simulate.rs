//! `mixlaw simulate`: write a run table generated from a law with known parameters.

use std::path::PathBuf;

use clap::Args;

use crate::law::registry;
use crate::simulate::{parse_params, simulate, Design};
use crate::Result;

#[derive(Args)]
pub struct SimulateCmd {
    #[command(flatten)]
    design: DesignArgs,
    /// Write the table here instead of standard output.
    #[arg(short, long, value_name = "CSV")]
    out: Option<PathBuf>,
    /// Overwrite an existing output file.
    #[arg(long)]
    force: bool,
}

/// The law, its parameters and the design of the simulated runs.
#[derive(Args, Clone, Debug)]
pub struct DesignArgs {
    /// Law family to simulate from.
    #[arg(long)]
    law: String,
    /// Parameters as name=value pairs, comma-separated, in fit units (see `mixlaw laws --json`).
    #[arg(long)]
    params: String,
    /// Domain names, comma-separated (mixture laws).
    #[arg(long, value_delimiter = ',')]
    domains: Vec<String>,
    /// Number of random mixtures (uniform on the simplex).
    #[arg(long, default_value_t = 20)]
    mixtures: usize,
    /// Lowest weight of any domain in a mixture.
    #[arg(long, default_value_t = 0.0)]
    min_weight: f64,
    /// Model sizes N in parameters, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1e8,3e8,1e9")]
    sizes: Vec<f64>,
    /// Token counts D, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "2e9,5e9,1e10,2e10")]
    tokens: Vec<f64>,
    /// Relative Gaussian noise on the loss.
    #[arg(long, default_value_t = 0.0)]
    noise: f64,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Name of the loss column.
    #[arg(long, default_value = "target_loss")]
    target_name: String,
    /// N unit of the parameters (N in millions by default).
    #[arg(long, default_value_t = 1e6)]
    n_unit: f64,
    /// D unit of the parameters (D in billions by default).
    #[arg(long, default_value_t = 1e9)]
    d_unit: f64,
}

pub fn run(c: SimulateCmd) -> Result<()> {
    if let Some(out) = &c.out {
        crate::report::check_writable(out, c.force)?;
        let law = registry::law_file(&c.design.law);
        crate::report::check_not_input(out, &law.into_iter().collect::<Vec<_>>())?;
    }
    let table = compute(&c.design)?;
    crate::report::emit(c.out.as_deref(), &table, c.force)
}

/// The simulated table as CSV.
pub fn compute(c: &DesignArgs) -> Result<Vec<u8>> {
    let law = registry::lookup(&c.law)?;
    let domains: Vec<String> = if law.uses_mixture() {
        c.domains.clone()
    } else {
        Vec::new()
    };
    let params = parse_params(&law, &domains, &c.params)?;
    let design = Design {
        domains: domains.clone(),
        mixtures: c.mixtures,
        min_weight: c.min_weight,
        sizes: c.sizes.clone(),
        tokens: c.tokens.clone(),
        noise: c.noise,
        seed: c.seed,
        n_unit: c.n_unit,
        d_unit: c.d_unit,
    };
    Ok(simulate(&law, &params, &design)?.to_csv(&domains, &c.target_name))
}
