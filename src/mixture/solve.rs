//! The mixture search as a front end asks for it: a fit file, where to solve (a scale, a grid
//! of scales, or a compute budget), what to minimise and under which limits.

use super::{at_flops, minimize, Constraints, Laws, Search, Solution, Weighting};
use crate::backend::Backend;
use crate::fit::FitFile;
use crate::law::Law;
use crate::{Error, Result};

/// Where to solve, in raw units (parameters, tokens, FLOP).
#[derive(Clone, Debug, PartialEq)]
pub enum Scale {
    /// One model size and token count.
    At {
        /// Model size N.
        n: f64,
        /// Training tokens D.
        d: f64,
    },
    /// Every pair of `n × d`: a table h*(N, D).
    Grid {
        /// Model sizes.
        n: Vec<f64>,
        /// Token counts.
        d: Vec<f64>,
    },
    /// A compute budget C: N (with D = C/(6N)) chosen with the mixture.
    Flops(f64),
}

/// What to optimise: the request of `mixlaw optimize` and `mixlaw sweep`.
#[derive(Clone, Debug)]
pub struct OptimizeSettings {
    /// Where.
    pub scale: Scale,
    /// What to minimise (empty: the targets' average, `avg`).
    pub weightings: Vec<Weighting>,
    /// Limits on domains.
    pub constraints: Constraints,
    /// Lattice resolution r: the sweep visits every h with h_i = j_i / r.
    pub resolution: usize,
    /// Best lattice points refined by mirror descent, per weighting.
    pub top: usize,
}

/// An optimum at one scale.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Placed {
    /// Model size N (raw).
    pub n: f64,
    /// Training tokens D (raw).
    pub d: f64,
    /// The optimum of one weighting there.
    pub solution: Solution,
}

/// The answer: every weighting's optimum at every scale asked for.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Optimum {
    /// The lattice resolution swept.
    pub resolution: usize,
    /// The compute budget, for [`Scale::Flops`].
    pub flops: Option<f64>,
    /// The scales solved at (one for [`Scale::At`], every pair for [`Scale::Grid`], none for a
    /// budget, whose scale is part of each optimum).
    pub scales: Vec<(f64, f64)>,
    /// Scale by scale, weighting by weighting.
    pub solutions: Vec<Placed>,
}

/// The optimal mixtures `settings` asks for, of the fitted `law` of `fit`, the lattice sweep's
/// predictions on `backend` (refined in f64 on the CPU).
pub fn optimize(
    fit: &FitFile,
    law: &Law,
    settings: &OptimizeSettings,
    backend: &dyn Backend,
) -> Result<Optimum> {
    let positive = |v: f64| v > 0.0 && v.is_finite();
    // The laws' scale to begin with: the scale asked for, or a placeholder a budget replaces.
    let (n, d) = match &settings.scale {
        Scale::At { n, d } if positive(*n) && positive(*d) => (*n, *d),
        Scale::Grid { n, d } => (
            n.first().copied().unwrap_or(1e9),
            d.first().copied().unwrap_or(2e10),
        ),
        Scale::Flops(c) if positive(*c) => (1e9, c / 6e9),
        _ => {
            return Err(Error::usage(
                "give a positive --n and --d, or a positive --flops",
            ))
        }
    };
    let mut laws = Laws::new(fit, law, n, d)?;
    let fixed_d = match &settings.scale {
        Scale::Flops(_) => None,
        _ => Some(d),
    };
    let bounds = settings.constraints.bounds(&fit.domains, fixed_d)?;
    if settings.resolution == 0 || settings.top == 0 {
        return Err(Error::usage("--resolution and --top must be at least 1"));
    }
    let search = Search {
        resolution: settings.resolution,
        top: settings.top,
        max_iter: 100_000,
    };
    let weightings = if settings.weightings.is_empty() {
        vec![Weighting::avg(fit)]
    } else {
        settings.weightings.clone()
    };
    let mut out = Optimum {
        resolution: settings.resolution,
        flops: None,
        scales: Vec::new(),
        solutions: Vec::new(),
    };
    if let Scale::Flops(c) = settings.scale {
        out.flops = Some(c);
        for w in &weightings {
            let (n, solution) = at_flops(&mut laws, fit.units, w, &bounds, &search, backend, c)?;
            let d = c / (6.0 * n);
            out.solutions.push(Placed { n, d, solution });
        }
        return Ok(out);
    }
    out.scales = match &settings.scale {
        Scale::Grid { n, d } => {
            if n.is_empty() || d.is_empty() || n.iter().chain(d).any(|v| !positive(*v)) {
                return Err(Error::usage(
                    "--n-grid and --d-grid need positive values (and --n, --d where a grid is \
                     not given)",
                ));
            }
            n.iter()
                .flat_map(|&n| d.iter().map(move |&d| (n, d)))
                .collect()
        }
        _ => vec![(n, d)],
    };
    for &(n, d) in &out.scales {
        laws.n = n / fit.units.n;
        laws.d = d / fit.units.d;
        for solution in minimize(&laws, &weightings, &bounds, &search, backend)? {
            out.solutions.push(Placed { n, d, solution });
        }
    }
    Ok(out)
}

/// [`optimize`] for every fitted target alone and for their average, at one scale (whatever
/// `settings.weightings` holds).
pub fn sweep(
    fit: &FitFile,
    law: &Law,
    settings: &OptimizeSettings,
    backend: &dyn Backend,
) -> Result<Optimum> {
    if let Scale::Flops(_) = settings.scale {
        return Err(Error::usage(
            "sweep solves at a fixed --n and --d; use optimize --flops for a budget",
        ));
    }
    let settings = OptimizeSettings {
        weightings: Weighting::each_and_avg(fit),
        ..settings.clone()
    };
    optimize(fit, law, &settings, backend)
}
