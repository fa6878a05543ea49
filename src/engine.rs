//! The one entry point every fitting command goes through: a dataset and a law in, a fit file
//! out. `fit`, `eval` (and later `bootstrap`) differ only in which rows they pass and what they
//! do with the result.

use std::time::Instant;

use crate::backend::Backend;
use crate::data::Dataset;
use crate::fit::{fit_target, FitSettings};
use crate::law::Law;
use crate::report::{DataSummary, FitFile, Units, FIT_FILE_VERSION};
use crate::Result;

/// Fit `law` to every target of `ds`. `progress(target, done, total)` reports starts finished.
pub fn fit(
    ds: &Dataset,
    law: &'static dyn Law,
    settings: &FitSettings,
    backend: &dyn Backend,
    filters: &[String],
    progress: &mut (dyn FnMut(&str, usize, usize) + Send),
) -> Result<FitFile> {
    let clock = Instant::now();
    let mut targets = Vec::with_capacity(ds.targets.len());
    for (t, target) in ds.targets.iter().enumerate() {
        let name = target.name.clone();
        targets.push(fit_target(ds, t, law, settings, backend, &mut |d, n| {
            progress(&name, d, n)
        })?);
    }
    Ok(FitFile {
        version: FIT_FILE_VERSION,
        mixlaw: env!("CARGO_PKG_VERSION").to_string(),
        law: law.name().to_string(),
        formula: law.formula().to_string(),
        domains: ds.domains.clone(),
        units: Units {
            n: settings.n_unit,
            d: settings.d_unit,
        },
        backend: backend.describe(),
        settings: settings.clone(),
        data: DataSummary {
            source: ds.source.display().to_string(),
            rows: ds.rows(),
            duplicates_dropped: ds.duplicates_dropped,
            filtered_out: ds.filtered_out,
            filters: filters.to_vec(),
            notices: ds.notices.clone(),
        },
        targets,
        wall_s: clock.elapsed().as_secs_f64(),
    })
}
