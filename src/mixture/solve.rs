//! The mixture search as a front end asks for it: a fit file (of a grouped fit, one group's
//! laws), where to solve (a scale, a grid of scales, or a compute budget), what to minimise and
//! under which limits.

use super::{
    at_flops, flops, minimize, size, Bounds, Constraints, Laws, Search, Solution, Weighting,
};
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
    /// Every pair of `n_grid × d_grid`: a table h*(N, D). An empty list stands for the one
    /// value `n` (or `d`), and a token cap ([`Constraints::available`]) is taken at `d`.
    Grid {
        /// The model size an empty `n_grid` stands for.
        n: f64,
        /// The token count an empty `d_grid` stands for, and at which token caps hold.
        d: f64,
        /// Model sizes.
        n_grid: Vec<f64>,
        /// Token counts.
        d_grid: Vec<f64>,
    },
    /// A compute budget C: N (with D = C/(6N)) chosen with the mixture.
    Flops(f64),
}

/// What to optimise: the request of `mixlaw optimize` and `mixlaw sweep`.
#[derive(Clone, Debug)]
pub struct OptimizeSettings {
    /// Where.
    pub scale: Scale,
    /// The group whose laws to use, of a grouped fit ([`FitFile::select_group`]: required when
    /// the fit has several groups).
    pub group: Option<String>,
    /// What to minimise (empty: the targets' average, `avg`), weightings of the targets of the
    /// group's fit.
    pub weightings: Vec<Weighting>,
    /// Limits on domains.
    pub constraints: Constraints,
    /// Lattice resolution r: the sweep visits every h with h_i = j_i / r.
    pub resolution: usize,
    /// Best lattice points refined by mirror descent, per weighting.
    pub top: usize,
    /// Sweep a lattice of more than [`size::LIMIT`] points (all sweeps together) rather than
    /// refuse it.
    pub large_lattice: bool,
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
    /// The group whose laws were optimised, of a grouped fit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
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

/// The laws at the scale to begin with, the boxes on the weights, the search and the lattice
/// points it will visit: what every solve needs, checked in the order a user fixes them (scale,
/// law, limits, search, its size). `fit` is one group's ([`FitFile::select_group`]).
/// The finest lattice a search takes (`--resolution`).
const MAX_RESOLUTION: usize = 1_000_000;
/// The most lattice points refined per weighting (`--top`).
const MAX_TOP: usize = 100_000;

fn prepare(
    fit: &FitFile,
    law: &Law,
    settings: &OptimizeSettings,
) -> Result<(Laws, Bounds, Search, u128)> {
    // A scale is a positive finite number: an infinite model or budget has no optimum to report.
    let check = |flag: &str, v: f64| {
        if v > 0.0 && v.is_finite() {
            Ok(v)
        } else {
            Err(Error::usage(format!(
                "{flag} must be a positive finite number, got {v}"
            )))
        }
    };
    let (n, d) = match &settings.scale {
        Scale::At { n, d } => (check("--n", *n)?, check("--d", *d)?),
        Scale::Grid {
            n,
            d,
            n_grid,
            d_grid,
        } => {
            for v in n_grid {
                check("--n-grid", *v)?;
            }
            for v in d_grid {
                check("--d-grid", *v)?;
            }
            (check("--n", *n)?, check("--d", *d)?)
        }
        // A placeholder scale, which the search over budgets replaces.
        Scale::Flops(c) => (1e9, check("--flops", *c)? / 6e9),
    };
    let laws = Laws::new(fit, law, n, d)?;
    let fixed_d = match &settings.scale {
        Scale::Flops(_) => None,
        _ => Some(d),
    };
    let bounds = settings.constraints.bounds(&fit.domains, fixed_d)?;
    if settings.resolution == 0 || settings.top == 0 {
        return Err(Error::usage("--resolution and --top must be at least 1"));
    }
    // Beyond these a search is not slow but meaningless (a lattice finer than f64's weights
    // tell apart at a few domains, more refinements than any lattice keeps): refused before
    // anything is sized by them.
    if settings.resolution > MAX_RESOLUTION || settings.top > MAX_TOP {
        return Err(Error::usage(format!(
            "--resolution may be at most {MAX_RESOLUTION} and --top at most {MAX_TOP} (got {} \
             and {})",
            settings.resolution, settings.top
        )));
    }
    let search = Search {
        resolution: settings.resolution,
        top: settings.top,
        max_iter: 100_000,
    };
    bounds.check(&fit.domains)?;
    let sweeps = match &settings.scale {
        Scale::At { .. } => 1,
        Scale::Grid { n_grid, d_grid, .. } => {
            n_grid.len().max(1) as u128 * d_grid.len().max(1) as u128
        }
        Scale::Flops(_) => flops::sweeps() * settings.weightings.len().max(1) as u128,
    };
    let points = size::check(&bounds, search.resolution, sweeps, settings.large_lattice)?;
    Ok((laws, bounds, search, points))
}

impl OptimizeSettings {
    /// The errors these settings have for the fitted `law` of `fit` before any search: an
    /// unknown or missing group, a scale that is not positive, a law without a mixture, unknown
    /// domains or infeasible limits, an empty search. Front ends call it before opening a
    /// backend.
    pub fn check(&self, fit: &FitFile, law: &Law) -> Result<()> {
        let fit = fit.select_group(self.group.as_deref())?;
        prepare(&fit, law, self).map(|_| ())
    }

    /// For a search of more than 1e8 lattice points, a line saying how many and
    /// about how long they take (timed on a small lattice of the same laws), and for a formula
    /// law that is not a sum of per-domain terms a line saying that it is swept point by point
    /// and why; errors as [`OptimizeSettings::check`].
    pub fn lattice_notice(&self, fit: &FitFile, law: &Law) -> Result<Option<String>> {
        let fit = &fit.select_group(self.group.as_deref())?;
        let (laws, _, _, points) = prepare(fit, law, self)?;
        let weightings = match self.weightings.is_empty() {
            true => vec![Weighting::avg(fit)],
            false => self.weightings.clone(),
        };
        let route = law.not_separable().map(|why| {
            format!(
                "law '{}' is swept point by point (slower than the separable sweep): {why}",
                law.name()
            )
        });
        Ok(match (route, size::notice(&laws, &weightings, points)) {
            (Some(a), Some(b)) => Some(format!("{a}\n{b}")),
            (a, b) => a.or(b),
        })
    }

    /// An error for a compute budget, which [`sweep`] does not take.
    pub fn check_fixed_scale(&self) -> Result<()> {
        match self.scale {
            Scale::Flops(_) => Err(Error::usage(
                "sweep solves at a fixed --n and --d; use optimize --flops for a budget",
            )),
            _ => Ok(()),
        }
    }
}

/// The optimal mixtures `settings` asks for, of the fitted `law` of `fit` (of the group it
/// names), the lattice sweep's predictions on `backend` (refined in f64 on the CPU).
pub fn optimize(
    fit: &FitFile,
    law: &Law,
    settings: &OptimizeSettings,
    backend: &dyn Backend,
) -> Result<Optimum> {
    let fit = &fit.select_group(settings.group.as_deref())?;
    let (mut laws, bounds, search, _) = prepare(fit, law, settings)?;
    let weightings = if settings.weightings.is_empty() {
        vec![Weighting::avg(fit)]
    } else {
        settings.weightings.clone()
    };
    let mut out = Optimum {
        group: fit.groups().first().map(|g| g.to_string()),
        resolution: settings.resolution,
        flops: None,
        scales: Vec::new(),
        solutions: Vec::new(),
    };
    out.scales = match &settings.scale {
        Scale::Flops(c) => {
            out.flops = Some(*c);
            for w in &weightings {
                let (n, solution) =
                    at_flops(&mut laws, fit.units, w, &bounds, &search, backend, *c)?;
                let d = c / (6.0 * n);
                out.solutions.push(Placed { n, d, solution });
            }
            return finite(out);
        }
        Scale::At { n, d } => vec![(*n, *d)],
        Scale::Grid {
            n,
            d,
            n_grid,
            d_grid,
        } => {
            let ns = if n_grid.is_empty() {
                vec![*n]
            } else {
                n_grid.clone()
            };
            let ds = if d_grid.is_empty() {
                vec![*d]
            } else {
                d_grid.clone()
            };
            if ns.iter().chain(&ds).any(|v| v.is_nan() || *v <= 0.0) {
                return Err(Error::usage(
                    "--n-grid and --d-grid need positive values (and --n, --d where a grid is \
                     not given)",
                ));
            }
            ns.iter()
                .flat_map(|&n| ds.iter().map(move |&d| (n, d)))
                .collect()
        }
    };
    for &(n, d) in &out.scales {
        laws.n = n / fit.units.n;
        laws.d = d / fit.units.d;
        for solution in minimize(&laws, &weightings, &bounds, &search, backend)? {
            out.solutions.push(Placed { n, d, solution });
        }
    }
    finite(out)
}

/// `out`, or an error where an optimum's loss is not finite: the law cannot be evaluated in f64
/// at that scale (`--n 1e-320` makes `A/N^α` overflow) or under that weighting (a weight of
/// 1e308 in `--targets`), and an "optimum" of `inf`, reported with a certificate and exit 0,
/// would mean nothing.
fn finite(out: Optimum) -> Result<Optimum> {
    match out.solutions.iter().find(|p| !p.solution.loss.is_finite()) {
        None => Ok(out),
        Some(p) => Err(Error::usage(format!(
            "{}: the predicted loss is {} even at the optimum, at N = {:e}, D = {:e}: the law \
             cannot be evaluated there in f64; check the scale and the weighting",
            p.solution.target, p.solution.loss, p.n, p.d
        ))),
    }
}

/// [`optimize`] for every fitted target (of the group `settings` names) alone and for their
/// average, at one scale (whatever `settings.weightings` holds).
pub fn sweep(
    fit: &FitFile,
    law: &Law,
    settings: &OptimizeSettings,
    backend: &dyn Backend,
) -> Result<Optimum> {
    settings.check_fixed_scale()?;
    let fit = &fit.select_group(settings.group.as_deref())?;
    let settings = OptimizeSettings {
        weightings: Weighting::each_and_avg(fit),
        ..settings.clone()
    };
    optimize(fit, law, &settings, backend)
}
