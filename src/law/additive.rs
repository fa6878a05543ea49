//! The additive law of Shukor et al. 2025 (eq. 2.4): the mixture term and the scale terms add,
//! so the optimal mixture does not depend on N or D.

use super::chinchilla::{scale_eval, scale_params, scale_rows_inline, scale_start};
use super::separable::{power_term, OuterWgsl, Separable};
use super::{guarded_exp, per_domain, Family, ParamSpec, Point, Points};
use crate::rng::Rng;
use crate::vmath;

pub struct Additive;

/// `S = Σ C_i h_i^γ_i` at `x`, with the per-domain `h_i^γ_i` and `ln h_i` written out.
pub(crate) fn mixture_sum(c: &[f64], g: &[f64], x: &Point, hg: &mut [f64], lnh: &mut [f64]) -> f64 {
    let mut s = 0.0;
    for i in 0..x.h.len() {
        let (p, l) = x.h_pow(i, g[i]);
        hg[i] = p;
        lnh[i] = l;
        s += c[i] * p;
    }
    s
}

/// Gradient of `1/S` with respect to `C` and `γ`, written into `dc`, `dg`.
pub(crate) fn mixture_grad(
    c: &[f64],
    s: f64,
    hg: &[f64],
    lnh: &[f64],
    dc: &mut [f64],
    dg: &mut [f64],
) {
    let inv_s2 = 1.0 / (s * s);
    for i in 0..c.len() {
        dc[i] = -hg[i] * inv_s2;
        dg[i] = -c[i] * hg[i] * lnh[i] * inv_s2;
    }
}

/// `∂(1/S)/∂h_i = −C_i γ_i h_i^(γ_i−1) / S²`.
pub(crate) fn mixture_grad_h(c: &[f64], g: &[f64], x: &Point, dh: &mut [f64]) {
    let (h, k) = (x.h, x.h.len());
    let (mut hg, mut lnh) = ([0.0; super::MAX_DOMAINS], [0.0; super::MAX_DOMAINS]);
    let s = mixture_sum(c, g, x, &mut hg[..k], &mut lnh[..k]);
    for i in 0..k {
        let hi = h[i].max(1e-12);
        dh[i] = -c[i] * g[i] * hg[i] / hi / (s * s);
    }
}

/// The mixture term over points `rows` of `x` (`n` points in all): `S = Σ_i C_i h_i^γ_i` into
/// `s` (which starts at 0), and with `grad` the columns of `C` (at `c0`) and `γ` (at `g0`)
/// filled with `∂(1/S)/∂C_i`, `∂(1/S)/∂γ_i` — the arithmetic of [`mixture_sum`] and
/// [`mixture_grad`], one domain at a time over contiguous columns.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub(crate) fn mixture_columns(
    p: &[f64],
    c0: usize,
    g0: usize,
    x: &Points,
    n: usize,
    rows: std::ops::Range<usize>,
    s: &mut [f64],
    mut grad: Option<&mut [f64]>,
) {
    let k = x.k;
    for i in 0..k {
        let (c, g) = (p[c0 + i], p[g0 + i]);
        let (h, ln_h) = x.h_col(i);
        let (h, ln_h) = (&h[rows.clone()], &ln_h[rows.clone()]);
        match grad.as_deref_mut() {
            Some(gr) => {
                let (dc, dg) = gr[(c0 + i) * n..].split_at_mut((g0 - c0) * n);
                let (dc, dg) = (&mut dc[rows.clone()], &mut dg[rows.clone()]);
                let cols = dc.iter_mut().zip(dg.iter_mut());
                for ((sj, (hj, lj)), (dcj, dgj)) in s.iter_mut().zip(h.iter().zip(ln_h)).zip(cols) {
                    let v = guarded_exp(*hj, *lj, g);
                    *sj += c * v;
                    *dcj = v;
                    *dgj = -c * v * lj;
                }
            }
            None => {
                for (sj, (hj, lj)) in s.iter_mut().zip(h.iter().zip(ln_h)) {
                    *sj += c * guarded_exp(*hj, *lj, g);
                }
            }
        }
    }
    if let Some(gr) = grad {
        for i in 0..k {
            let (dc, dg) = gr[(c0 + i) * n..].split_at_mut((g0 - c0) * n);
            let (dc, dg) = (&mut dc[rows.clone()], &mut dg[rows.clone()]);
            for ((dcj, dgj), sj) in dc.iter_mut().zip(dg.iter_mut()).zip(s.iter()) {
                let inv_s2 = 1.0 / (sj * sj);
                *dcj = -*dcj * inv_s2;
                *dgj *= inv_s2;
            }
        }
    }
}

/// [`Additive`]'s value at every point of `x`, with the arithmetic of [`Law::eval`] in loops over
/// points: the scale part, the mixture term ([`mixture_columns`]), then `1/S`.
#[inline(always)]
fn additive_rows(p: &[f64], x: &Points, pred: &mut [f64], mut grad: Option<&mut [f64]>) {
    const BLOCK: usize = 64;
    let (n, k) = (x.len(), x.k);
    scale_rows_inline(p, x, pred, grad.as_deref_mut());
    for start in (0..n).step_by(BLOCK) {
        let m = BLOCK.min(n - start);
        let rows = start..start + m;
        let mut s = [0.0; BLOCK];
        let s = &mut s[..m];
        mixture_columns(p, 5, 5 + k, x, n, rows.clone(), s, grad.as_deref_mut());
        for (pj, sj) in pred[rows].iter_mut().zip(s.iter()) {
            *pj += 1.0 / sj;
        }
    }
}

/// The additive law at one scale: `base + 1/S`, `S = Σ C_i h_i^γ_i`, `base` the scale terms.
struct AdditiveSums {
    c: Vec<f64>,
    g: Vec<f64>,
    base: f64,
}

/// `base + 1/S` over a run of sums (a loop that vectorises; `eval` adds in the same order).
#[inline(always)]
fn reciprocal_plus(base: f64, s: &[f64], out: &mut [f64]) {
    for (o, s) in out.iter_mut().zip(s) {
        *o = base + 1.0 / s;
    }
}

impl Separable for AdditiveSums {
    fn sums(&self) -> usize {
        1
    }
    fn term(&self, _q: usize, i: usize, h: f64) -> f64 {
        power_term(self.c[i], self.g[i], h)
    }
    fn outer(&self, sums: &[f64], _stride: usize, out: &mut [f64]) {
        let (base, s) = (self.base, &sums[..out.len()]);
        vmath::wide!(reciprocal_plus; base: f64, s: &[f64], out: &mut [f64] => ())
    }
    fn wgsl(&self) -> Option<OuterWgsl> {
        Some(OuterWgsl {
            expr: "c(0u) + 1.0 / s(0u)",
            consts: vec![self.base],
        })
    }
}

impl Family for Additive {
    fn params(&self, domains: &[String]) -> Vec<ParamSpec> {
        let mut v = scale_params();
        v.extend(per_domain("C", domains, 1e-8, 1e4, true));
        v.extend(per_domain("gamma", domains, -3.0, 3.0, false));
        v
    }
    fn sample_start(&self, k: usize, rng: &mut Rng) -> Vec<f64> {
        let mut x = scale_start(rng);
        x.extend((0..k).map(|_| rng.log10_range(-1.0, 1.0)));
        x.extend((0..k).map(|_| rng.range(-1.0, 1.0)));
        x
    }
    fn eval(&self, p: &[f64], x: &Point, grad: Option<&mut [f64]>) -> f64 {
        let k = x.h.len();
        let (c, g) = (&p[5..5 + k], &p[5 + k..5 + 2 * k]);
        let mut hg = [0.0; super::MAX_DOMAINS];
        let mut lnh = [0.0; super::MAX_DOMAINS];
        let s = mixture_sum(c, g, x, &mut hg[..k], &mut lnh[..k]);
        match grad {
            Some(gr) => {
                let (scale, mix) = gr.split_at_mut(5);
                let (dc, dg) = mix[..2 * k].split_at_mut(k);
                mixture_grad(c, s, &hg[..k], &lnh[..k], dc, dg);
                scale_eval(p, x.ln_n, x.ln_d, Some(scale)) + 1.0 / s
            }
            None => scale_eval(p, x.ln_n, x.ln_d, None) + 1.0 / s,
        }
    }
    fn eval_rows(&self, p: &[f64], x: &Points, pred: &mut [f64], grad: Option<&mut [f64]>) {
        vmath::wide!(additive_rows; p: &[f64], x: &Points, pred: &mut [f64], grad: Option<&mut [f64]> => ())
    }
    fn grad_h(&self, p: &[f64], x: &Point, dh: &mut [f64]) {
        let k = x.h.len();
        mixture_grad_h(&p[5..5 + k], &p[5 + k..5 + 2 * k], x, dh);
    }
    /// `S = Σ C_i h_i^γ_i` is concave and positive where every `C_i > 0` and `0 < γ_i ≤ 1`, and
    /// `1/S` is then convex (a convex decreasing function of a concave one); the scale terms
    /// do not depend on `h`.
    fn convex_in_h(&self, p: &[f64], domains: &[String]) -> Result<(), String> {
        let k = domains.len();
        let (c, g) = (&p[5..5 + k], &p[5 + k..5 + 2 * k]);
        if let Some(i) = (0..k).find(|&i| c[i].is_nan() || c[i] <= 0.0) {
            return Err(format!(
                "C of domain '{}' is {} (convex needs every C_i > 0)",
                domains[i], c[i]
            ));
        }
        if let Some(i) = (0..k).find(|&i| !(0.0..=1.0).contains(&g[i]) || g[i] == 0.0) {
            return Err(format!(
                "gamma of domain '{}' is {} (convex needs every 0 < gamma_i <= 1)",
                domains[i], g[i]
            ));
        }
        Ok(())
    }
    fn separable(&self, p: &[f64], k: usize, ln_n: f64, ln_d: f64) -> Option<Box<dyn Separable>> {
        Some(Box::new(AdditiveSums {
            c: p[5..5 + k].to_vec(),
            g: p[5 + k..5 + 2 * k].to_vec(),
            base: scale_eval(p, ln_n, ln_d, None),
        }))
    }
}
