//! Scaling laws: each law is *data* (a registry entry: name, formula, parameter count, which
//! inputs it uses, its GPU kernel and its fitting conventions) around *mathematics* (a
//! [`Family`]: named parameters with default box bounds, start draws, the value and its analytic
//! gradients).
//!
//! # Why laws are split this way
//!
//! Everything the rest of mixlaw needs to know *about* a law — how `--law` names it, what `mixlaw
//! laws` prints, which shader function evaluates it, whether a fit starts from Hoffmann's grid on
//! the log residual or from random draws on the raw loss — is one entry in [`registry`]. Nothing
//! else in the crate tells laws apart: a [`Law`] carries its entry, and code asks it
//! ([`Law::conventions`], [`Law::kernel`], [`Law::uses_mixture`]) instead of comparing names.
//! Adding a built-in law is then its family's file, its registry entry and, for GPU speed, its
//! shader function; the parity suite and the gradient tests below pick it up from the registry.
//!
//! # The mathematics
//!
//! A law predicts the loss of one target at one point `(N, D, h)`. `N` and `D` arrive in the fit's
//! units (by default N in millions and D in billions, the convention of the paper's code base) so
//! that default bounds such as `A ∈ [0, 1e4]` mean the same thing on every table. Laws that do not
//! use `N`/`D` (the fixed-scale baselines) or `h` (chinchilla) ignore them.
//!
//! Parameters are plain `f64` slices in the order of [`Family::params`]. The fitting code may run
//! the optimiser in other coordinates (log of the positive amplitudes, see
//! [`ParamSpec::amplitude`]); laws never need to know. Every gradient is checked against central
//! finite differences in the tests at the bottom of this file.
//!
//! Fitting evaluates a law at the same rows thousands of times, so a law may also evaluate a
//! block of rows at once ([`Family::eval_rows`], rows as columns in [`Points`]) with loops that
//! vectorise ([`crate::vmath`]); chinchilla, additive and joint do. The block path computes the
//! same formulas with `vmath`'s exp and ln (within 1 ulp of the platform's, which `eval` uses: in
//! scalar code the platform's table-driven versions are faster), and a test holds the two within
//! 1e-13 relative of each other for every law.

mod additive;
mod chinchilla;
mod datamix;
pub mod formula;
mod full;
mod joint;
mod linear;
pub mod registry;
pub mod separable;
mod simple;

use std::sync::Arc;

use crate::loss::{Reduce, Residual};
use crate::rng::Rng;
use crate::vmath;

/// The most domains a mixture may have (laws keep per-domain scratch on the stack).
pub const MAX_DOMAINS: usize = 64;

/// One evaluation point. Laws only ever need `ln N` and `ln D` (`N^−α = e^(−α ln N)`) and, for
/// `h_i^γ_i`, `ln h_i`, so a point can carry the logarithms precomputed once per data row rather
/// than once per evaluation (the fitting hot loop does; one-off callers use [`Point::new`]).
#[derive(Clone, Copy, Debug)]
pub struct Point<'a> {
    /// `ln N`, N in fit units.
    pub ln_n: f64,
    /// `ln D`, D in fit units.
    pub ln_d: f64,
    /// Mixture weights, one per domain (empty for laws without a mixture).
    pub h: &'a [f64],
    /// `ln max(h_i, H_MIN)` per domain, or empty to compute on demand.
    ln_h: &'a [f64],
}

impl<'a> Point<'a> {
    /// A point from N and D in fit units.
    pub fn new(n: f64, d: f64, h: &'a [f64]) -> Self {
        Point {
            ln_n: n.ln(),
            ln_d: d.ln(),
            h,
            ln_h: &[],
        }
    }

    /// A point from precomputed logarithms; `ln_h` as [`ln_weight`] gives, one per domain.
    pub fn from_logs(ln_n: f64, ln_d: f64, h: &'a [f64], ln_h: &'a [f64]) -> Self {
        debug_assert_eq!(h.len(), ln_h.len());
        Point {
            ln_n,
            ln_d,
            h,
            ln_h,
        }
    }

    /// `(h_i^g, ln h_i)`, guarded as [`guarded_pow`] is.
    #[inline]
    pub(crate) fn h_pow(&self, i: usize, g: f64) -> (f64, f64) {
        let ln_h = if self.ln_h.is_empty() {
            ln_weight(self.h[i])
        } else {
            self.ln_h[i]
        };
        guarded_pow_ln(self.h[i], ln_h, g)
    }
}

/// Many evaluation points as columns — the rows of a fit — so that laws can evaluate them in
/// loops that vectorise ([`Law::eval_rows`]).
#[derive(Clone, Copy, Debug)]
pub struct Points<'a> {
    /// `ln N` per point, N in fit units.
    pub ln_n: &'a [f64],
    /// `ln D` per point, D in fit units.
    pub ln_d: &'a [f64],
    /// Mixture weights, `len × k`, point-major.
    pub h: &'a [f64],
    /// `ln h` as [`ln_weight`] gives, `len × k`.
    pub ln_h: &'a [f64],
    /// Domains per point.
    pub k: usize,
    /// The same weights domain-major, so that one domain's weights over the points are
    /// contiguous (what a loop over points vectorises on): weight `i` of point `j` is
    /// `h_cols[i·stride + j]`, and `ln h` likewise in `ln_h_cols`.
    pub h_cols: &'a [f64],
    /// `ln h` domain-major, laid out as `h_cols`.
    pub ln_h_cols: &'a [f64],
    /// Distance from one domain's column to the next in `h_cols` and `ln_h_cols` (at least the
    /// number of points).
    pub stride: usize,
}

impl<'a> Points<'a> {
    /// Number of points.
    pub fn len(&self) -> usize {
        self.ln_n.len()
    }

    /// Whether there are no points.
    pub fn is_empty(&self) -> bool {
        self.ln_n.is_empty()
    }

    /// Domain `i`'s weights over the points, and their logarithms.
    pub fn h_col(&self, i: usize) -> (&'a [f64], &'a [f64]) {
        let w = i * self.stride..i * self.stride + self.len();
        (&self.h_cols[w.clone()], &self.ln_h_cols[w])
    }

    /// Point `j`.
    pub fn point(&self, j: usize) -> Point<'a> {
        let w = j * self.k..(j + 1) * self.k;
        Point::from_logs(
            self.ln_n[j],
            self.ln_d[j],
            &self.h[w.clone()],
            &self.ln_h[w],
        )
    }
}

/// Weights below this are treated as this in logarithms (a weight of exactly 0 stays 0 in
/// `h^γ` for `γ > 0`).
const H_MIN: f64 = 1e-12;

/// `ln h`, clamped at `H_MIN`.
#[inline]
pub fn ln_weight(h: f64) -> f64 {
    h.max(H_MIN).ln()
}

/// A parameter of a law: its name, default bounds and whether it is a positive amplitude.
#[derive(Clone, Debug, PartialEq)]
pub struct ParamSpec {
    /// The name the parameter is reported and read back by.
    pub name: String,
    /// Default lower bound (natural coordinates, fit units).
    pub lo: f64,
    /// Default upper bound (natural coordinates, fit units).
    pub hi: f64,
    /// A positive scale (E, A, B, C_i, ...) that the log parametrisation (`--residual log`, the
    /// LSE form of Hoffmann et al.) optimises as `ln p`. Exponents are never amplitudes.
    pub amplitude: bool,
    /// For an amplitude that multiplies a power of the scale, as `A` in `A/N^α`: the power.
    pub power: Option<Power>,
}

/// The power of the scale that an amplitude multiplies: `x^−p[exponent]`, `x` being N or D.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Power {
    /// Index of the exponent in the parameter vector.
    pub exponent: usize,
    /// Which scale variable the power is of.
    pub of: Axis,
}

/// A scale axis: the variable a power of the scale is taken of.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Axis {
    /// Model size N (parameters).
    N,
    /// Training tokens D.
    D,
}

impl ParamSpec {
    /// A parameter named `name` with default bounds `[lo, hi]`, an amplitude if `amplitude` (see
    /// [`ParamSpec::amplitude`]), multiplying no power.
    pub fn new(name: impl Into<String>, lo: f64, hi: f64, amplitude: bool) -> Self {
        ParamSpec {
            name: name.into(),
            lo,
            hi,
            amplitude,
            power: None,
        }
    }

    /// This amplitude multiplies `of^−p[exponent]`.
    pub fn times_power(self, exponent: usize, of: Axis) -> Self {
        ParamSpec {
            power: Some(Power { exponent, of }),
            ..self
        }
    }
}

/// The mathematics of a law family. Implementations are stateless unit structs; `k` (the number
/// of domains) and the domain names are passed where needed.
pub trait Family: Send + Sync {
    /// Named parameters with default bounds, in the order of the parameter vector.
    fn params(&self, domains: &[String]) -> Vec<ParamSpec>;
    /// A random starting point inside the default bounds (the ranges of the paper's code base).
    fn sample_start(&self, k: usize, rng: &mut Rng) -> Vec<f64>;
    /// The law's own grid of starting points in fit units, if it has one (chinchilla:
    /// Hoffmann et al.'s 4,500 points), for [`Init::Grid`].
    fn grid(&self, _n_unit: f64, _d_unit: f64) -> Option<Vec<Vec<f64>>> {
        None
    }
    /// The predicted loss at `x`; when `grad` is given, also `∂L/∂p` written into it.
    fn eval(&self, p: &[f64], x: &Point, grad: Option<&mut [f64]>) -> f64;
    /// The predicted loss at every point of `x` into `pred` and, when `grad` is given, the
    /// gradients parameter-major: `grad[i·n + j] = ∂L_j/∂p_i` for the `n` points. The default
    /// evaluates point by point with [`Family::eval`]; a law whose rows vectorise overrides it
    /// with the same arithmetic in a loop over points (the fitting hot path).
    fn eval_rows(&self, p: &[f64], x: &Points, pred: &mut [f64], grad: Option<&mut [f64]>) {
        let n = x.len();
        match grad {
            Some(g) => {
                let mut d = vec![0.0; p.len()];
                for (j, pj) in pred.iter_mut().enumerate() {
                    *pj = self.eval(p, &x.point(j), Some(&mut d));
                    for (i, di) in d.iter().enumerate() {
                        g[i * n + j] = *di;
                    }
                }
            }
            None => {
                for (j, pj) in pred.iter_mut().enumerate() {
                    *pj = self.eval(p, &x.point(j), None);
                }
            }
        }
    }
    /// The law's gradient with respect to the mixture, `∂L/∂h_i`, written into `dh`.
    /// Used by mixture optimisation.
    fn grad_h(&self, p: &[f64], x: &Point, dh: &mut [f64]);
    /// The law at `ln N`, `ln D` (fit units) over `k` domains as sums of per-domain terms, if
    /// its mixture enters that way ([`separable`]); `None` (the default) leaves the mixture
    /// search to evaluate the law point by point.
    fn separable(
        &self,
        _p: &[f64],
        _k: usize,
        _ln_n: f64,
        _ln_d: f64,
    ) -> Option<Box<dyn separable::Separable>> {
        None
    }
    /// For a law that might have had a separable form but has none (a formula law whose `h`
    /// does not enter through sums of per-domain terms), why not, for the mixture search to say
    /// that it sweeps point by point; `None` for every other law.
    fn not_separable(&self) -> Option<String> {
        None
    }
    /// `Ok` if the law with parameters `p` over `domains` is convex in `h` on the simplex at
    /// every scale (so that a stationary point of the mixture search is the minimum and a
    /// duality gap bounds its distance to it); else why not, naming the domain at fault.
    fn convex_in_h(&self, _p: &[f64], _domains: &[String]) -> Result<(), String> {
        Err("not known to be convex in h".into())
    }
}

/// How starting points are drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Init {
    /// The law's own start grid ([`Family::grid`]: Hoffmann et al.'s for chinchilla).
    Grid,
    /// Draws from the law's start ranges ([`Family::sample_start`]).
    Random,
}

/// The stopping tolerances a law's exploration runs with (each a preset of the optimiser's,
/// `fit::lbfgs::Settings`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tolerances {
    /// L-BFGS-B's defaults as scipy applies them: enough for a well-conditioned law started
    /// from a dense grid, as Hoffmann et al. and Epoch fit chinchilla.
    Scipy,
    /// Tight tolerances for the mixture laws' long, flat valleys.
    Tight,
}

/// How a law's home literature fits it: the defaults of every fit of the law, each of which a
/// user can override.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Conventions {
    /// The residual the Huber loss scores.
    pub residual: Residual,
    /// How per-row losses are combined.
    pub reduce: Reduce,
    /// Where starts come from.
    pub init: Init,
    /// Random starts, or for [`Init::Grid`] the first `starts` grid points (0: all).
    pub starts: usize,
    /// The exploration's stopping tolerances.
    pub tolerances: Tolerances,
}

impl Conventions {
    /// Hoffmann et al.'s and Epoch's: Huber on the log residual (the LSE form), summed, from the
    /// whole start grid, with scipy's L-BFGS-B tolerances.
    pub const HOFFMANN: Conventions = Conventions {
        residual: Residual::Log,
        reduce: Reduce::Sum,
        init: Init::Grid,
        starts: 0,
        tolerances: Tolerances::Scipy,
    };
    /// Shukor et al.'s: mean Huber on the raw loss from 100 random starts, explored with tight
    /// tolerances.
    pub const SHUKOR: Conventions = Conventions {
        residual: Residual::Raw,
        reduce: Reduce::Mean,
        init: Init::Random,
        starts: 100,
        tolerances: Tolerances::Tight,
    };
}

/// How a law is evaluated on the GPU.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Kernel {
    /// A hand-written function of `shaders/objective.wgsl`, and the id the kernel's generated
    /// `predict` switches on (see `backend::gpu`).
    Builtin {
        /// The law's id in the generated shader.
        id: u32,
        /// The WGSL function: `fn NAME(ln_n: f32, ln_d: f32) -> f32`, the prediction at the
        /// current row with its gradient in `dl`.
        function: &'static str,
    },
    /// WGSL generated from a formula law ([`formula`]): the function
    /// `fn formula_law(ln_n: f32, ln_d: f32) -> f32` and its helpers, compiled into a kernel of
    /// its own.
    Generated(Arc<str>),
}

/// A simpler law nested in a richer one: a fit of the simpler law is a valid start for the
/// richer (PAPER.md: an additive fit starts a joint fit), so the richer law never ends worse than
/// the law it contains.
#[derive(Clone, Copy, Debug)]
pub struct Nested {
    /// The registered name of the simpler law.
    pub law: &'static str,
    /// Its parameters for `k` domains mapped to the richer law's, with the same predictions on
    /// the simplex.
    pub embed: Embed,
}

/// A map of a nested law's parameters for `k` domains to the richer law's.
pub type Embed = fn(&[f64], usize) -> Vec<f64>;

/// Everything that defines a law: its registry entry's data and its mathematics.
pub struct Definition {
    /// Short name used on the command line and in fit files (`additive`, `joint`, ...).
    pub name: String,
    /// The formula, for `mixlaw laws` and the fit file.
    pub formula: String,
    /// The parameter count as a rule in `k`, the number of domains: `"5"`, `"5+2k"`, `"6+k"`.
    pub parameters: String,
    /// Whether the law uses the mixture `h` (false for chinchilla).
    pub uses_mixture: bool,
    /// Whether the law uses `N` and `D` (false for the fixed-scale baselines).
    pub uses_scale: bool,
    /// The GPU kernel, if the shader implements the law.
    pub kernel: Option<Kernel>,
    /// The defaults of a fit.
    pub conventions: Conventions,
    /// The law nested in this one, if any.
    pub nested: Option<Nested>,
    /// For a law defined by a law file (or an inline formula), the file's text: what a fit file
    /// stores so that the law can be rebuilt from it alone. `None` for the built-in laws.
    pub source: Option<String>,
    /// The mathematics.
    pub family: Box<dyn Family>,
}

/// A law: a shared handle to its [`Definition`], cheap to clone. Built-in laws come from the
/// [`registry`].
#[derive(Clone)]
pub struct Law(Arc<Definition>);

impl std::fmt::Debug for Law {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Law({})", self.0.name)
    }
}

impl Law {
    /// A law from its definition.
    pub fn new(definition: Definition) -> Law {
        Law(Arc::new(definition))
    }
    /// See [`Definition::name`].
    pub fn name(&self) -> &str {
        &self.0.name
    }
    /// See [`Definition::formula`].
    pub fn formula(&self) -> &str {
        &self.0.formula
    }
    /// See [`Definition::parameters`].
    pub fn parameters(&self) -> &str {
        &self.0.parameters
    }
    /// See [`Definition::uses_mixture`].
    pub fn uses_mixture(&self) -> bool {
        self.0.uses_mixture
    }
    /// See [`Definition::uses_scale`].
    pub fn uses_scale(&self) -> bool {
        self.0.uses_scale
    }
    /// See [`Definition::kernel`].
    pub fn kernel(&self) -> Option<&Kernel> {
        self.0.kernel.as_ref()
    }
    /// See [`Definition::source`].
    pub fn source(&self) -> Option<&str> {
        self.0.source.as_deref()
    }
    /// See [`Definition::conventions`].
    pub fn conventions(&self) -> &Conventions {
        &self.0.conventions
    }
    /// The law nested in this one, resolved in the registry, and the embedding of its
    /// parameters.
    pub fn nested(&self) -> Option<(Law, Embed)> {
        let n = self.0.nested?;
        let inner = registry::by_name(n.law).expect("a nested law is registered");
        Some((inner, n.embed))
    }
    /// See [`Family::params`].
    pub fn params(&self, domains: &[String]) -> Vec<ParamSpec> {
        self.0.family.params(domains)
    }
    /// [`Law::params`] over `domains`, or an error naming the parameter that two of them share
    /// (a domain named like a parameter: `--law full` on a domain `alpha`, or a formula's
    /// `C_web` beside its family `C[i]` on a domain `web`), which no fit or file could tell
    /// apart.
    pub fn distinct_params(&self, domains: &[String]) -> Result<Vec<ParamSpec>, String> {
        let specs = self.params(domains);
        let mut seen = std::collections::HashSet::new();
        match specs.iter().find(|s| !seen.insert(s.name.as_str())) {
            Some(twice) => Err(format!(
                "the {} law over the domains {} has two parameters named '{}': rename the domain \
                 (its weight column) or the parameter",
                self.name(),
                domains.join(", "),
                twice.name
            )),
            None => Ok(specs),
        }
    }
    /// See [`Family::sample_start`].
    pub fn sample_start(&self, k: usize, rng: &mut Rng) -> Vec<f64> {
        self.0.family.sample_start(k, rng)
    }
    /// See [`Family::grid`].
    pub fn grid(&self, n_unit: f64, d_unit: f64) -> Option<Vec<Vec<f64>>> {
        self.0.family.grid(n_unit, d_unit)
    }
    /// See [`Family::eval`].
    #[inline]
    pub fn eval(&self, p: &[f64], x: &Point, grad: Option<&mut [f64]>) -> f64 {
        self.0.family.eval(p, x, grad)
    }
    /// See [`Family::eval_rows`].
    #[inline]
    pub fn eval_rows(&self, p: &[f64], x: &Points, pred: &mut [f64], grad: Option<&mut [f64]>) {
        self.0.family.eval_rows(p, x, pred, grad)
    }
    /// See [`Family::grad_h`].
    pub fn grad_h(&self, p: &[f64], x: &Point, dh: &mut [f64]) {
        self.0.family.grad_h(p, x, dh)
    }
    /// See [`Family::convex_in_h`].
    pub fn convex_in_h(&self, p: &[f64], domains: &[String]) -> Result<(), String> {
        self.0.family.convex_in_h(p, domains)
    }
    /// See [`Family::not_separable`].
    pub fn not_separable(&self) -> Option<String> {
        self.0.family.not_separable()
    }
    /// See [`Family::separable`].
    pub fn separable(
        &self,
        p: &[f64],
        k: usize,
        ln_n: f64,
        ln_d: f64,
    ) -> Option<Box<dyn separable::Separable>> {
        self.0.family.separable(p, k, ln_n, ln_d)
    }
}

/// Parameter names `<prefix>_<domain>` for every domain.
pub(crate) fn per_domain<'a>(
    prefix: &str,
    domains: &'a [String],
    lo: f64,
    hi: f64,
    amplitude: bool,
) -> impl Iterator<Item = ParamSpec> + 'a {
    let prefix = prefix.to_string();
    domains
        .iter()
        .map(move |d| ParamSpec::new(format!("{prefix}_{d}"), lo, hi, amplitude))
}

/// `h^g` guarded at `h = 0`: 0 for `g > 0`, 1 for `g = 0` and a large finite value for `g < 0`
/// (so a start on the simplex boundary gives a huge loss rather than `inf`/`NaN`). Returns
/// `(h^g, ln h)` with `ln h` clamped likewise, which is what every gradient needs.
#[inline]
pub(crate) fn guarded_pow(h: f64, g: f64) -> (f64, f64) {
    guarded_pow_ln(h, ln_weight(h), g)
}

/// [`guarded_pow`] with `ln h` already known.
#[inline]
fn guarded_pow_ln(h: f64, ln_h: f64, g: f64) -> (f64, f64) {
    if h <= 0.0 && g > 0.0 {
        (0.0, ln_h)
    } else {
        ((g * ln_h).exp(), ln_h)
    }
}

/// `h^g` from `ln h` as [`guarded_pow`] gives it, branch-free with [`vmath::exp`] for loops over
/// points.
#[inline(always)]
pub(crate) fn guarded_exp(h: f64, ln_h: f64, g: f64) -> f64 {
    let v = vmath::exp(g * ln_h);
    if h <= 0.0 && g > 0.0 {
        0.0
    } else {
        v
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Random domain names and a point strictly inside the simplex.
    pub fn fixture(k: usize, rng: &mut Rng) -> (Vec<String>, Vec<f64>, f64, f64) {
        let domains = (0..k).map(|i| format!("d{i}")).collect();
        let mut h: Vec<f64> = (0..k).map(|_| rng.range(0.05, 1.0)).collect();
        let s: f64 = h.iter().sum();
        h.iter_mut().for_each(|v| *v /= s);
        (domains, h, rng.range(50.0, 3000.0), rng.range(1.0, 100.0))
    }

    /// Checks `eval`'s gradient against central differences at random interior points.
    fn check_param_gradient(law: &Law) {
        let mut rng = Rng::new(42, 0);
        for k in [1usize, 2, 3, 7] {
            for _ in 0..20 {
                let (domains, h, n, d) = fixture(k, &mut rng);
                let x = Point::new(n, d, &h);
                let p = law.sample_start(k, &mut rng);
                assert_eq!(p.len(), law.params(&domains).len(), "{}", law.name());
                let mut g = vec![0.0; p.len()];
                let v = law.eval(&p, &x, Some(&mut g));
                assert!(v.is_finite(), "{} value {v} at {p:?}", law.name());
                assert_eq!(
                    v,
                    law.eval(&p, &x, None),
                    "{}: value differs with grad",
                    law.name()
                );
                for j in 0..p.len() {
                    let step = 1e-6 * p[j].abs().max(1e-3);
                    let (mut hi, mut lo) = (p.clone(), p.clone());
                    hi[j] += step;
                    lo[j] -= step;
                    let fd = (law.eval(&hi, &x, None) - law.eval(&lo, &x, None)) / (2.0 * step);
                    let tol = 1e-6 * (1.0 + fd.abs().max(g[j].abs()));
                    assert!(
                        (fd - g[j]).abs() <= tol,
                        "{} d/d{}: analytic {} vs central difference {} (k={k})",
                        law.name(),
                        law.params(&domains)[j].name,
                        g[j],
                        fd
                    );
                }
            }
        }
    }

    /// Checks `grad_h` against central differences (h moved off the simplex; laws are defined
    /// for any positive h).
    fn check_mixture_gradient(law: &Law) {
        let mut rng = Rng::new(43, 0);
        for k in [1usize, 2, 3, 7] {
            for _ in 0..20 {
                let (_, h, n, d) = fixture(k, &mut rng);
                let p = law.sample_start(k, &mut rng);
                let mut dh = vec![0.0; k];
                law.grad_h(&p, &Point::new(n, d, &h), &mut dh);
                for i in 0..k {
                    let step = 1e-7;
                    let (mut hi, mut lo) = (h.clone(), h.clone());
                    hi[i] += step;
                    lo[i] -= step;
                    let fd = (law.eval(&p, &Point::new(n, d, &hi), None)
                        - law.eval(&p, &Point::new(n, d, &lo), None))
                        / (2.0 * step);
                    let tol = 1e-5 * (1.0 + fd.abs().max(dh[i].abs()));
                    assert!(
                        (fd - dh[i]).abs() <= tol,
                        "{} dL/dh_{i}: analytic {} vs central difference {fd}",
                        law.name(),
                        dh[i]
                    );
                }
            }
        }
    }

    #[test]
    fn every_gradient_matches_central_differences() {
        for law in registry::builtin() {
            check_param_gradient(law);
            if law.uses_mixture() {
                check_mixture_gradient(law);
            }
        }
    }

    #[test]
    fn starts_lie_inside_default_bounds() {
        let mut rng = Rng::new(1, 0);
        for law in registry::builtin() {
            for k in [1, 4] {
                let (domains, ..) = fixture(k, &mut rng);
                let specs = law.params(&domains);
                for _ in 0..50 {
                    let p = law.sample_start(k, &mut rng);
                    for (v, s) in p.iter().zip(&specs) {
                        assert!(s.lo <= *v && *v <= s.hi, "{} {} = {v}", law.name(), s.name);
                    }
                }
            }
        }
    }

    #[test]
    fn parameter_count_matches_the_registered_rule() {
        // The rule is "a", "a+bk" or "k+a".
        fn count(f: &str, k: usize) -> usize {
            f.split('+')
                .map(|t| match t.strip_suffix('k') {
                    Some("") => k,
                    Some(b) => b.parse::<usize>().unwrap() * k,
                    None => t.parse().unwrap(),
                })
                .sum()
        }
        let mut rng = Rng::new(2, 0);
        for law in registry::builtin() {
            for k in [1, 3, 7] {
                let (domains, ..) = fixture(k, &mut rng);
                let want = count(law.parameters(), k);
                assert_eq!(law.params(&domains).len(), want, "{}", law.name());
                assert_eq!(law.sample_start(k, &mut rng).len(), want, "{}", law.name());
            }
        }
    }

    /// Mixtures on the simplex boundary (a vertex, one zero weight) give finite values and
    /// gradients from every start: the guards, not `inf`/`NaN`.
    #[test]
    fn boundary_mixtures_stay_finite() {
        let mut rng = Rng::new(3, 0);
        for law in registry::builtin() {
            for h in [vec![1.0, 0.0, 0.0], vec![0.0, 0.4, 0.6]] {
                for _ in 0..20 {
                    let p = law.sample_start(3, &mut rng);
                    let x = Point::new(300.0, 10.0, &h);
                    let mut g = vec![0.0; p.len()];
                    let mut dh = vec![0.0; 3];
                    let v = law.eval(&p, &x, Some(&mut g));
                    law.grad_h(&p, &x, &mut dh);
                    assert!(v.is_finite(), "{} value {v} at {p:?}", law.name());
                    assert!(g.iter().chain(&dh).all(|v| v.is_finite()), "{}", law.name());
                }
            }
        }
    }

    #[test]
    fn nested_laws_embed_to_identical_predictions_on_the_simplex() {
        let mut rng = Rng::new(44, 0);
        for law in registry::builtin() {
            let Some((nested, embed)) = law.nested() else {
                continue;
            };
            for k in [1usize, 3, 7] {
                let inner = nested.sample_start(k, &mut rng);
                let outer = embed(&inner, k);
                let (domains, ..) = fixture(k, &mut rng);
                assert_eq!(outer.len(), law.params(&domains).len(), "{}", law.name());
                for _ in 0..10 {
                    let (_, h, n, d) = fixture(k, &mut rng);
                    let x = Point::new(n, d, &h);
                    let (a, b) = (nested.eval(&inner, &x, None), law.eval(&outer, &x, None));
                    assert!(
                        (a - b).abs() <= 1e-12 * a.abs(),
                        "{} from {}: {a} vs {b}",
                        law.name(),
                        nested.name()
                    );
                }
            }
        }
    }

    #[test]
    fn names_are_unique_and_found() {
        for law in registry::builtin() {
            assert_eq!(registry::by_name(law.name()).unwrap().name(), law.name());
        }
        assert!(registry::by_name("nope").is_none());
        let e = registry::lookup("nope").unwrap_err().to_string();
        assert!(e.contains("the laws are chinchilla, additive"), "{e}");
    }
}
