//! The joint law of Shukor et al. 2025 (eq. 2.5): the additive law with mixture-dependent scale
//! amplitudes, `L = E + 1/(Σ C_i h_i^γ_i) + A_h/N^α + B_h/D^β` with `A_h = (Σ CA_i h_i)^γA` and
//! `B_h = (Σ CB_i h_i)^γB`, so the optimal mixture changes with N and D. With γA = γB = 1,
//! CA_i = A and CB_i = B it is the additive law on the simplex.

use super::additive::{mixture_columns, mixture_grad, mixture_grad_h, mixture_sum};
use super::separable::{power_term, OuterWgsl, Separable};
use super::MAX_DOMAINS;
use super::{guarded_exp, guarded_pow, per_domain, Family, ParamSpec, Point, Points};
use crate::rng::Rng;
use crate::vmath;

pub struct Joint;

/// `W = (Σ_i c_i h_i)^g` with what its derivatives need.
#[derive(Clone, Copy, Debug)]
pub(crate) struct PowSum {
    /// `W = U^g`.
    pub w: f64,
    /// `ln U` (clamped as in [`guarded_pow`]), so `∂W/∂g = W ln U`.
    pub ln_u: f64,
    /// `∂W/∂U = g U^(g−1)`, so `∂W/∂c_i = dw_du · h_i` and `∂W/∂h_i = dw_du · c_i`.
    pub dw_du: f64,
}

/// `(Σ_i c_i h_i)^g`, computed as `exp(g ln U)` (never `powf`). With positive amplitudes `c_i` and
/// `h` on the simplex `U > 0`, but `U` may reach 0 (or below) off the simplex or with all weight on
/// the boundary, so it is guarded like [`guarded_pow`]: `U` is clamped at 1e-12, giving 0 for
/// `g > 0` and a large finite value for `g < 0` instead of `inf`/`NaN`.
#[inline]
pub(crate) fn pow_sum(c: &[f64], h: &[f64], g: f64) -> PowSum {
    let u: f64 = c.iter().zip(h).map(|(c, h)| c * h).sum();
    let (w, ln_u) = guarded_pow(u, g);
    PowSum {
        w,
        ln_u,
        dw_du: g * w / u.max(1e-12),
    }
}

/// Index ranges of the joint law's parameters for `k` domains.
struct JointLayout {
    c: usize,
    g: usize,
    ca: usize,
    ga: usize,
    cb: usize,
    gb: usize,
}

fn layout(k: usize) -> JointLayout {
    JointLayout {
        c: 3,
        g: 3 + k,
        ca: 3 + 2 * k,
        ga: 3 + 3 * k,
        cb: 4 + 3 * k,
        gb: 4 + 4 * k,
    }
}

/// Additive `[E, A, α, B, β, C, γ]` as joint: `CA_i = A`, `γA = 1`, `CB_i = B`, `γB = 1`, so
/// that `A_h = Σ A h_i = A` on the simplex (amplitudes floored at their lower bound).
pub(super) fn from_additive(p: &[f64], k: usize) -> Vec<f64> {
    let (a, b) = (p[1].max(1e-8), p[3].max(1e-8));
    let mut x = vec![p[0], p[2], p[4]];
    x.extend_from_slice(&p[5..5 + 2 * k]);
    x.extend(std::iter::repeat_n(a, k));
    x.push(1.0);
    x.extend(std::iter::repeat_n(b, k));
    x.push(1.0);
    x
}

/// [`Joint`]'s value at every point of `x` with the arithmetic of its [`Law::eval`], in loops over
/// points (domain-major mixture columns; see [`mixture_columns`]).
#[inline(always)]
fn joint_rows(p: &[f64], x: &Points, pred: &mut [f64], mut grad: Option<&mut [f64]>) {
    const BLOCK: usize = 64;
    let (n, k) = (x.len(), x.k);
    let l = layout(k);
    let (e, al, be, ga, gb) = (p[0], p[1], p[2], p[l.ga], p[l.gb]);
    for start in (0..n).step_by(BLOCK) {
        let m = BLOCK.min(n - start);
        let rows = start..start + m;
        let (mut s, mut ua, mut ub) = ([0.0; BLOCK], [0.0; BLOCK], [0.0; BLOCK]);
        let (s, ua, ub) = (&mut s[..m], &mut ua[..m], &mut ub[..m]);
        mixture_columns(p, l.c, l.g, x, n, rows.clone(), s, grad.as_deref_mut());
        for i in 0..k {
            let (ca, cb) = (p[l.ca + i], p[l.cb + i]);
            let h = &x.h_col(i).0[rows.clone()];
            for ((a, b), hj) in ua.iter_mut().zip(ub.iter_mut()).zip(h) {
                *a += ca * hj;
                *b += cb * hj;
            }
        }
        let (ln_n, ln_d) = (&x.ln_n[rows.clone()], &x.ln_d[rows.clone()]);
        for j in 0..m {
            let (nn, dd) = (vmath::exp(-al * ln_n[j]), vmath::exp(-be * ln_d[j]));
            let (lua, lub) = (vmath::ln(ua[j].max(1e-12)), vmath::ln(ub[j].max(1e-12)));
            let (wa, wb) = (guarded_exp(ua[j], lua, ga), guarded_exp(ub[j], lub, gb));
            pred[start + j] = e + 1.0 / s[j] + wa * nn + wb * dd;
            if let Some(gr) = grad.as_deref_mut() {
                let (da, db) = (ga * wa / ua[j].max(1e-12), gb * wb / ub[j].max(1e-12));
                let at = |col: usize| col * n + start + j;
                gr[at(0)] = 1.0;
                gr[at(1)] = -wa * ln_n[j] * nn;
                gr[at(2)] = -wb * ln_d[j] * dd;
                for i in 0..k {
                    let hij = x.h_col(i).0[start + j];
                    gr[at(l.ca + i)] = da * hij * nn;
                    gr[at(l.cb + i)] = db * hij * dd;
                }
                gr[at(l.ga)] = wa * lua * nn;
                gr[at(l.gb)] = wb * lub * dd;
            }
        }
    }
}

/// The joint law at one scale: `E + 1/S + (U_A)^γA·N^−α + (U_B)^γB·D^−β` from the sums
/// `S = Σ C_i h_i^γ_i`, `U_A = Σ CA_i h_i`, `U_B = Σ CB_i h_i`.
struct JointSums {
    p: Vec<f64>,
    k: usize,
    nn: f64,
    dd: f64,
}

impl Separable for JointSums {
    fn sums(&self) -> usize {
        3
    }
    fn term(&self, q: usize, i: usize, h: f64) -> f64 {
        let (p, l) = (&self.p, layout(self.k));
        match q {
            0 => power_term(p[l.c + i], p[l.g + i], h),
            1 => p[l.ca + i] * h,
            _ => p[l.cb + i] * h,
        }
    }
    fn outer(&self, sums: &[f64], stride: usize, out: &mut [f64]) {
        let l = layout(self.k);
        let (e, ga, gb) = (self.p[0], self.p[l.ga], self.p[l.gb]);
        for (c, o) in out.iter_mut().enumerate() {
            let (s, ua, ub) = (sums[c], sums[stride + c], sums[2 * stride + c]);
            let (wa, wb) = (guarded_pow(ua, ga).0, guarded_pow(ub, gb).0);
            *o = e + 1.0 / s + wa * self.nn + wb * self.dd;
        }
    }
    fn wgsl(&self) -> Option<OuterWgsl> {
        let l = layout(self.k);
        Some(OuterWgsl {
            expr: "c(0u) + 1.0 / s(0u) + gpow(s(1u), c(1u)) * c(3u) + gpow(s(2u), c(2u)) * c(4u)",
            consts: vec![self.p[0], self.p[l.ga], self.p[l.gb], self.nn, self.dd],
        })
    }
}

impl Family for Joint {
    fn params(&self, domains: &[String]) -> Vec<ParamSpec> {
        let mut v = vec![
            ParamSpec::new("E", 0.0, 10.0, true),
            ParamSpec::new("alpha", 0.0, 3.0, false),
            ParamSpec::new("beta", 0.0, 3.0, false),
        ];
        v.extend(per_domain("C", domains, 1e-8, 1e4, true));
        v.extend(per_domain("gamma", domains, -3.0, 3.0, false));
        v.extend(per_domain("CA", domains, 1e-8, 1e4, true));
        v.push(ParamSpec::new("gammaA", -3.0, 3.0, false));
        v.extend(per_domain("CB", domains, 1e-8, 1e4, true));
        v.push(ParamSpec::new("gammaB", -3.0, 3.0, false));
        v
    }
    fn sample_start(&self, k: usize, rng: &mut Rng) -> Vec<f64> {
        let mut x = vec![
            rng.range(1.0, 3.0),
            rng.range(0.1, 1.0),
            rng.range(0.1, 1.0),
        ];
        x.extend((0..k).map(|_| rng.log10_range(-1.0, 1.0)));
        x.extend((0..k).map(|_| rng.range(-1.0, 1.0)));
        x.extend((0..k).map(|_| rng.log10_range(-1.0, 1.0)));
        x.push(rng.range(0.5, 2.0));
        x.extend((0..k).map(|_| rng.log10_range(-1.0, 1.0)));
        x.push(rng.range(0.5, 2.0));
        x
    }
    fn eval(&self, p: &[f64], x: &Point, grad: Option<&mut [f64]>) -> f64 {
        let k = x.h.len();
        let l = layout(k);
        let (e, al, be) = (p[0], p[1], p[2]);
        let (c, g) = (&p[l.c..l.c + k], &p[l.g..l.g + k]);
        let (ca, cb) = (&p[l.ca..l.ca + k], &p[l.cb..l.cb + k]);
        let (ln_n, ln_d) = (x.ln_n, x.ln_d);
        let (nn, dd) = ((-al * ln_n).exp(), (-be * ln_d).exp());
        let mut hg = [0.0; MAX_DOMAINS];
        let mut lnh = [0.0; MAX_DOMAINS];
        let s = mixture_sum(c, g, x, &mut hg[..k], &mut lnh[..k]);
        let a_h = pow_sum(ca, x.h, p[l.ga]);
        let b_h = pow_sum(cb, x.h, p[l.gb]);
        let value = e + 1.0 / s + a_h.w * nn + b_h.w * dd;
        if let Some(gr) = grad {
            gr[0] = 1.0;
            gr[1] = -a_h.w * ln_n * nn;
            gr[2] = -b_h.w * ln_d * dd;
            let (dc, dg) = gr[l.c..l.c + 2 * k].split_at_mut(k);
            mixture_grad(c, s, &hg[..k], &lnh[..k], dc, dg);
            for i in 0..k {
                gr[l.ca + i] = a_h.dw_du * x.h[i] * nn;
                gr[l.cb + i] = b_h.dw_du * x.h[i] * dd;
            }
            gr[l.ga] = a_h.w * a_h.ln_u * nn;
            gr[l.gb] = b_h.w * b_h.ln_u * dd;
        }
        value
    }
    fn eval_rows(&self, p: &[f64], x: &Points, pred: &mut [f64], grad: Option<&mut [f64]>) {
        vmath::wide!(joint_rows; p: &[f64], x: &Points, pred: &mut [f64], grad: Option<&mut [f64]> => ())
    }
    fn grad_h(&self, p: &[f64], x: &Point, dh: &mut [f64]) {
        let k = x.h.len();
        let l = layout(k);
        mixture_grad_h(&p[l.c..l.c + k], &p[l.g..l.g + k], x, dh);
        let (ca, cb) = (&p[l.ca..l.ca + k], &p[l.cb..l.cb + k]);
        let nn = (-p[1] * x.ln_n).exp();
        let dd = (-p[2] * x.ln_d).exp();
        let a_h = pow_sum(ca, x.h, p[l.ga]);
        let b_h = pow_sum(cb, x.h, p[l.gb]);
        for i in 0..k {
            dh[i] += a_h.dw_du * ca[i] * nn + b_h.dw_du * cb[i] * dd;
        }
    }
    fn separable(&self, p: &[f64], k: usize, ln_n: f64, ln_d: f64) -> Option<Box<dyn Separable>> {
        Some(Box::new(JointSums {
            p: p.to_vec(),
            k,
            nn: (-p[1] * ln_n).exp(),
            dd: (-p[2] * ln_d).exp(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_computed_point() {
        // k=2, h=(.5,.5), N=100, D=10, E=1, α=.5, β=1.
        // S = 1·.5² + 2·.5¹ = 1.25, 1/S = .8.
        // U = 2·.5 + 6·.5 = 4, A_h = 4^.5 = 2, A_h/N^α = 2/10 = .2.
        // V = 1·.5 + 3·.5 = 2, B_h = 2² = 4, B_h/D^β = 4/10 = .4.
        // L = 1 + .8 + .2 + .4 = 2.4.
        let p = [
            1.0, 0.5, 1.0, // E, alpha, beta
            1.0, 2.0, // C
            2.0, 1.0, // gamma
            2.0, 6.0, 0.5, // CA, gammaA
            1.0, 3.0, 2.0, // CB, gammaB
        ];
        let x = Point::new(100.0, 10.0, &[0.5, 0.5]);
        let v = Joint.eval(&p, &x, None);
        assert!((v - 2.4).abs() < 1e-12, "{v}");
    }

    #[test]
    fn reduces_to_additive() {
        // γA = γB = 1, CA_i = A, CB_i = B on the simplex gives the additive law.
        let add = super::super::registry::by_name("additive").unwrap();
        let (e, a, al, b, be) = (1.7, 30.0, 0.3, 12.0, 0.4);
        let (c, g) = ([0.5, 2.0, 1.3], [0.2, -0.4, 0.7]);
        let mut pa = vec![e, a, al, b, be];
        pa.extend(c);
        pa.extend(g);
        let mut pj = vec![e, al, be];
        pj.extend(c);
        pj.extend(g);
        pj.extend([a, a, a, 1.0, b, b, b, 1.0]);
        let x = Point::new(400.0, 20.0, &[0.2, 0.5, 0.3]);
        let (va, vj) = (add.eval(&pa, &x, None), Joint.eval(&pj, &x, None));
        assert!((va - vj).abs() < 1e-12, "{va} vs {vj}");
    }
}
