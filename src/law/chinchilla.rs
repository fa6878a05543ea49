//! The Chinchilla law of Hoffmann et al. 2022, `L = E + A/N^α + B/D^β`: the starting point of
//! Shukor et al. 2025 (their §2), fitted per mixture or pooled, with no mixture term. Also
//! provides Hoffmann's 4,500-point start grid, converted to fit units ([`Family::grid`]).

use super::{Axis, Family, ParamSpec, Point, Points};
use crate::rng::Rng;
use crate::vmath;

pub struct Chinchilla;

/// The scale part `E + A/N^α + B/D^β` over `p = [E, A, alpha, B, beta]`; when asked, its
/// gradient is written into `grad[..5]`. Shared with the laws that add a mixture term to it.
pub(crate) fn scale_eval(p: &[f64], ln_n: f64, ln_d: f64, grad: Option<&mut [f64]>) -> f64 {
    let (e, a, al, b, be) = (p[0], p[1], p[2], p[3], p[4]);
    let (nn, dd) = ((-al * ln_n).exp(), (-be * ln_d).exp());
    if let Some(gr) = grad {
        gr[0] = 1.0;
        gr[1] = nn;
        gr[2] = -a * ln_n * nn;
        gr[3] = dd;
        gr[4] = -b * ln_d * dd;
    }
    e + a * nn + b * dd
}

/// [`scale_eval`] at every point of `x` (see [`Law::eval_rows`] for the layout of `grad`, of
/// which this fills the first five columns): one loop over points that vectorises.
pub(crate) fn scale_rows(p: &[f64], x: &Points, pred: &mut [f64], grad: Option<&mut [f64]>) {
    vmath::wide!(scale_rows_inline; p: &[f64], x: &Points, pred: &mut [f64], grad: Option<&mut [f64]> => ())
}

#[inline(always)]
pub(crate) fn scale_rows_inline(p: &[f64], x: &Points, pred: &mut [f64], grad: Option<&mut [f64]>) {
    let (e, a, al, b, be) = (p[0], p[1], p[2], p[3], p[4]);
    let n = x.len();
    let points = x.ln_n.iter().zip(x.ln_d).zip(pred.iter_mut());
    match grad {
        Some(g) => {
            let (g0, g) = g.split_at_mut(n);
            let (g1, g) = g.split_at_mut(n);
            let (g2, g) = g.split_at_mut(n);
            let (g3, g) = g.split_at_mut(n);
            let g4 = &mut g[..n];
            let cols = g0.iter_mut().zip(g1).zip(g2).zip(g3).zip(g4);
            for (((ln_n, ln_d), pj), ((((d0, d1), d2), d3), d4)) in points.zip(cols) {
                let (nn, dd) = (vmath::exp(-al * ln_n), vmath::exp(-be * ln_d));
                *d0 = 1.0;
                *d1 = nn;
                *d2 = -a * ln_n * nn;
                *d3 = dd;
                *d4 = -b * ln_d * dd;
                *pj = e + a * nn + b * dd;
            }
        }
        None => {
            for ((ln_n, ln_d), pj) in points {
                *pj = e + a * vmath::exp(-al * ln_n) + b * vmath::exp(-be * ln_d);
            }
        }
    }
}

/// The five scale parameters `E, A, alpha, B, beta` with their default bounds.
pub(crate) fn scale_params() -> Vec<ParamSpec> {
    vec![
        ParamSpec::new("E", 0.0, 10.0, true),
        ParamSpec::new("A", 0.0, 1e4, true).times_power(2, Axis::N),
        ParamSpec::new("alpha", 0.0, 3.0, false),
        ParamSpec::new("B", 0.0, 1e4, true).times_power(4, Axis::D),
        ParamSpec::new("beta", 0.0, 3.0, false),
    ]
}

/// A random start for `E, A, alpha, B, beta` (the ranges of the paper's code base).
pub(crate) fn scale_start(rng: &mut Rng) -> Vec<f64> {
    vec![
        rng.range(1.0, 3.0),
        rng.log10_range(-1.0, 2.0),
        rng.range(0.1, 1.0),
        rng.log10_range(-1.0, 2.0),
        rng.range(0.1, 1.0),
    ]
}

/// Hoffmann et al.'s start grid (α, β ∈ {0, .5, 1, 1.5, 2}, e ∈ {−1, −.5, 0, .5, 1},
/// a, b ∈ {0, 5, …, 25}, with `E = e^e`, `A = e^a`, `B = e^b` in raw units: N in parameters,
/// D in tokens), in `itertools.product(alphas, betas, es, as, bs)` order, each point as
/// `[E, A, alpha, B, beta]` in fit units. A raw N is `n_unit · N`, so
/// `A/N_raw^α = (A · n_unit^−α)/N^α`; likewise B with `d_unit` and β.
/// Points may lie outside the default bounds (e.g. `A = e^25` at α = 0).
fn hoffmann_grid(n_unit: f64, d_unit: f64) -> Vec<Vec<f64>> {
    const EXPONENTS: [f64; 5] = [0.0, 0.5, 1.0, 1.5, 2.0];
    const ES: [f64; 5] = [-1.0, -0.5, 0.0, 0.5, 1.0];
    const LOG_AMPS: [f64; 6] = [0.0, 5.0, 10.0, 15.0, 20.0, 25.0];
    let (ln_nu, ln_du) = (n_unit.ln(), d_unit.ln());
    let mut out = Vec::with_capacity(4500);
    for &alpha in &EXPONENTS {
        for &beta in &EXPONENTS {
            for &e in &ES {
                for &a in &LOG_AMPS {
                    for &b in &LOG_AMPS {
                        out.push(vec![
                            e.exp(),
                            (a - alpha * ln_nu).exp(),
                            alpha,
                            (b - beta * ln_du).exp(),
                            beta,
                        ]);
                    }
                }
            }
        }
    }
    out
}

impl Family for Chinchilla {
    fn params(&self, _domains: &[String]) -> Vec<ParamSpec> {
        scale_params()
    }
    fn sample_start(&self, _k: usize, rng: &mut Rng) -> Vec<f64> {
        scale_start(rng)
    }
    fn grid(&self, n_unit: f64, d_unit: f64) -> Option<Vec<Vec<f64>>> {
        Some(hoffmann_grid(n_unit, d_unit))
    }
    fn eval(&self, p: &[f64], x: &Point, grad: Option<&mut [f64]>) -> f64 {
        scale_eval(p, x.ln_n, x.ln_d, grad)
    }
    fn eval_rows(&self, p: &[f64], x: &Points, pred: &mut [f64], grad: Option<&mut [f64]>) {
        scale_rows(p, x, pred, grad)
    }
    fn grad_h(&self, _p: &[f64], _x: &Point, _dh: &mut [f64]) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_computed_point() {
        // E=1, A=2, α=.5, B=3, β=1 at N=100, D=10: 1 + 2/10 + 3/10 = 1.5.
        let x = Point::new(100.0, 10.0, &[]);
        let v = Chinchilla.eval(&[1.0, 2.0, 0.5, 3.0, 1.0], &x, None);
        assert!((v - 1.5).abs() < 1e-12, "{v}");
    }

    #[test]
    fn grid_has_4500_points_in_product_order() {
        let g = hoffmann_grid(1e6, 1e9);
        assert_eq!(g.len(), 4500);
        assert!(g.iter().all(|p| p.len() == 5));
        // First point: α=β=0, e=−1, a=b=0.
        assert_eq!(g[0], vec![(-1.0f64).exp(), 1.0, 0.0, 1.0, 0.0]);
        // Index of (α=.5, β=1, e=−.5, a=10, b=5) with sizes (5, 5, 5, 6, 6):
        // 1·900 + 2·180 + 1·36 + 2·6 + 1 = 1309. In fit units (N in 1e6, D in 1e9):
        // E = e^−.5 = 0.6065306597, A = e^10 · (1e6)^−.5 = 22026.46579/1000 = 22.02646579,
        // B = e^5 · (1e9)^−1 = 148.4131591e−9.
        let p = &g[1309];
        let want = [
            0.6065306597126334,
            22.02646579480672,
            0.5,
            1.484131591025766e-7,
            1.0,
        ];
        for (v, w) in p.iter().zip(want) {
            assert!((v - w).abs() <= 1e-12 * w.abs().max(1e-300), "{p:?}");
        }
        // Last point: α=β=2, e=1, a=b=25.
        let last = &g[4499];
        assert_eq!((last[2], last[4]), (2.0, 2.0));
        assert!((last[0] - 1f64.exp()).abs() < 1e-15);
        assert!((last[1] / (25f64.exp() * 1e-12) - 1.0).abs() < 1e-12);
        assert!((last[3] / (25f64.exp() * 1e-18) - 1.0).abs() < 1e-12);
    }
}
