//! The full law of Shukor et al. 2025 (eq. 6.2–6.3): the joint law with mixture-dependent
//! exponents as well, `L = E + 1/(Σ C_i h_i^γ_i) + A_h/N^α_h + B_h/D^β_h` with
//! `A_h = (Σ CA_i h_i)^γA`, `B_h = (Σ CB_i h_i)^γB`, `α_h = (Σ Cα_i h_i)^γα` and
//! `β_h = (Σ Cβ_i h_i)^γβ`. 5+6k parameters.

use super::additive::{mixture_grad, mixture_grad_h, mixture_sum};
use super::guarded_pow;
use super::joint::pow_sum;
use super::separable::{power_term, OuterWgsl, Separable};
use super::{per_domain, Family, ParamSpec, Point, MAX_DOMAINS};
use crate::rng::Rng;

pub struct Full;

/// Index offsets of the full law's parameters for `k` domains.
struct FullLayout {
    c: usize,
    g: usize,
    ca: usize,
    ga: usize,
    cb: usize,
    gb: usize,
    cal: usize,
    gal: usize,
    cbe: usize,
    gbe: usize,
}

fn layout(k: usize) -> FullLayout {
    FullLayout {
        c: 1,
        g: 1 + k,
        ca: 1 + 2 * k,
        ga: 1 + 3 * k,
        cb: 2 + 3 * k,
        gb: 2 + 4 * k,
        cal: 3 + 4 * k,
        gal: 3 + 5 * k,
        cbe: 4 + 5 * k,
        gbe: 4 + 6 * k,
    }
}

/// Joint `[E, α, β, C, γ, CA, γA, CB, γB]` as full: `Cα_i = α`, `γα = 1`, `Cβ_i = β`, `γβ = 1`,
/// so that `α_h = α` and `β_h = β` on the simplex.
pub(super) fn from_joint(p: &[f64], k: usize) -> Vec<f64> {
    let (alpha, beta) = (p[1].max(1e-8), p[2].max(1e-8));
    let mut x = vec![p[0]];
    x.extend_from_slice(&p[3..]);
    x.extend(std::iter::repeat_n(alpha, k));
    x.push(1.0);
    x.extend(std::iter::repeat_n(beta, k));
    x.push(1.0);
    x
}

/// The full law at one scale, from the sums `S = Σ C_i h_i^γ_i` and the four linear sums of
/// `A_h`, `B_h`, `α_h`, `β_h`.
struct FullSums {
    p: Vec<f64>,
    k: usize,
    ln_n: f64,
    ln_d: f64,
}

impl Separable for FullSums {
    fn sums(&self) -> usize {
        5
    }
    fn term(&self, q: usize, i: usize, h: f64) -> f64 {
        let (p, l) = (&self.p, layout(self.k));
        match q {
            0 => power_term(p[l.c + i], p[l.g + i], h),
            1 => p[l.ca + i] * h,
            2 => p[l.cb + i] * h,
            3 => p[l.cal + i] * h,
            _ => p[l.cbe + i] * h,
        }
    }
    fn outer(&self, sums: &[f64], stride: usize, out: &mut [f64]) {
        let (p, l) = (&self.p, layout(self.k));
        for (c, o) in out.iter_mut().enumerate() {
            let u = |q: usize| sums[q * stride + c];
            let a_h = guarded_pow(u(1), p[l.ga]).0;
            let b_h = guarded_pow(u(2), p[l.gb]).0;
            let al_h = guarded_pow(u(3), p[l.gal]).0;
            let be_h = guarded_pow(u(4), p[l.gbe]).0;
            let (nn, dd) = ((-al_h * self.ln_n).exp(), (-be_h * self.ln_d).exp());
            *o = p[0] + 1.0 / u(0) + a_h * nn + b_h * dd;
        }
    }
    fn wgsl(&self) -> Option<OuterWgsl> {
        let (p, l) = (&self.p, layout(self.k));
        Some(OuterWgsl {
            expr: "c(0u) + 1.0 / s(0u) \
                   + gpow(s(1u), c(1u)) * exp(-gpow(s(3u), c(3u)) * c(5u)) \
                   + gpow(s(2u), c(2u)) * exp(-gpow(s(4u), c(4u)) * c(6u))",
            consts: vec![
                p[0], p[l.ga], p[l.gb], p[l.gal], p[l.gbe], self.ln_n, self.ln_d,
            ],
        })
    }
}

impl Family for Full {
    fn params(&self, domains: &[String]) -> Vec<ParamSpec> {
        let mut v = vec![ParamSpec::new("E", 0.0, 10.0, true)];
        v.extend(per_domain("C", domains, 1e-8, 1e4, true));
        v.extend(per_domain("gamma", domains, -3.0, 3.0, false));
        v.extend(per_domain("CA", domains, 1e-8, 1e4, true));
        v.push(ParamSpec::new("gammaA", -3.0, 3.0, false));
        v.extend(per_domain("CB", domains, 1e-8, 1e4, true));
        v.push(ParamSpec::new("gammaB", -3.0, 3.0, false));
        v.extend(per_domain("Calpha", domains, 1e-8, 1e4, true));
        v.push(ParamSpec::new("gamma_alpha", -3.0, 3.0, false));
        v.extend(per_domain("Cbeta", domains, 1e-8, 1e4, true));
        v.push(ParamSpec::new("gamma_beta", -3.0, 3.0, false));
        v
    }
    /// As the joint law, with `Cα_i, Cβ_i ~ 10^U(−1, −0.2)` and `γα, γβ ~ U(.5, 1.5)`, so that
    /// on the simplex the exponents `α_h, β_h` (powers of a weighted mean in [0.1, 0.63]) start
    /// in about [0.03, 0.8], like the joint law's α, β ~ U(.1, 1).
    fn sample_start(&self, k: usize, rng: &mut Rng) -> Vec<f64> {
        let mut x = vec![rng.range(1.0, 3.0)];
        x.extend((0..k).map(|_| rng.log10_range(-1.0, 1.0)));
        x.extend((0..k).map(|_| rng.range(-1.0, 1.0)));
        x.extend((0..k).map(|_| rng.log10_range(-1.0, 1.0)));
        x.push(rng.range(0.5, 2.0));
        x.extend((0..k).map(|_| rng.log10_range(-1.0, 1.0)));
        x.push(rng.range(0.5, 2.0));
        x.extend((0..k).map(|_| rng.log10_range(-1.0, -0.2)));
        x.push(rng.range(0.5, 1.5));
        x.extend((0..k).map(|_| rng.log10_range(-1.0, -0.2)));
        x.push(rng.range(0.5, 1.5));
        x
    }
    fn eval(&self, p: &[f64], x: &Point, grad: Option<&mut [f64]>) -> f64 {
        let k = x.h.len();
        let l = layout(k);
        let (c, g) = (&p[l.c..l.c + k], &p[l.g..l.g + k]);
        let mut hg = [0.0; MAX_DOMAINS];
        let mut lnh = [0.0; MAX_DOMAINS];
        let s = mixture_sum(c, g, x, &mut hg[..k], &mut lnh[..k]);
        // All four sums are guarded by pow_sum (they may reach 0 off the simplex).
        let a_h = pow_sum(&p[l.ca..l.ca + k], x.h, p[l.ga]);
        let b_h = pow_sum(&p[l.cb..l.cb + k], x.h, p[l.gb]);
        let al_h = pow_sum(&p[l.cal..l.cal + k], x.h, p[l.gal]);
        let be_h = pow_sum(&p[l.cbe..l.cbe + k], x.h, p[l.gbe]);
        let (ln_n, ln_d) = (x.ln_n, x.ln_d);
        let (nn, dd) = ((-al_h.w * ln_n).exp(), (-be_h.w * ln_d).exp());
        let value = p[0] + 1.0 / s + a_h.w * nn + b_h.w * dd;
        if let Some(gr) = grad {
            gr[0] = 1.0;
            let (dc, dg) = gr[l.c..l.c + 2 * k].split_at_mut(k);
            mixture_grad(c, s, &hg[..k], &lnh[..k], dc, dg);
            // ∂L/∂α_h = −A_h ln N · N^−α_h, likewise for β_h.
            let dl_dal = -a_h.w * ln_n * nn;
            let dl_dbe = -b_h.w * ln_d * dd;
            for i in 0..k {
                let h = x.h[i];
                gr[l.ca + i] = a_h.dw_du * h * nn;
                gr[l.cb + i] = b_h.dw_du * h * dd;
                gr[l.cal + i] = dl_dal * al_h.dw_du * h;
                gr[l.cbe + i] = dl_dbe * be_h.dw_du * h;
            }
            gr[l.ga] = a_h.w * a_h.ln_u * nn;
            gr[l.gb] = b_h.w * b_h.ln_u * dd;
            gr[l.gal] = dl_dal * al_h.w * al_h.ln_u;
            gr[l.gbe] = dl_dbe * be_h.w * be_h.ln_u;
        }
        value
    }
    fn grad_h(&self, p: &[f64], x: &Point, dh: &mut [f64]) {
        let k = x.h.len();
        let l = layout(k);
        mixture_grad_h(&p[l.c..l.c + k], &p[l.g..l.g + k], x, dh);
        let (ca, cb) = (&p[l.ca..l.ca + k], &p[l.cb..l.cb + k]);
        let (cal, cbe) = (&p[l.cal..l.cal + k], &p[l.cbe..l.cbe + k]);
        let a_h = pow_sum(ca, x.h, p[l.ga]);
        let b_h = pow_sum(cb, x.h, p[l.gb]);
        let al_h = pow_sum(cal, x.h, p[l.gal]);
        let be_h = pow_sum(cbe, x.h, p[l.gbe]);
        let (ln_n, ln_d) = (x.ln_n, x.ln_d);
        let (nn, dd) = ((-al_h.w * ln_n).exp(), (-be_h.w * ln_d).exp());
        let dl_dal = -a_h.w * ln_n * nn;
        let dl_dbe = -b_h.w * ln_d * dd;
        for i in 0..k {
            dh[i] += a_h.dw_du * ca[i] * nn
                + b_h.dw_du * cb[i] * dd
                + dl_dal * al_h.dw_du * cal[i]
                + dl_dbe * be_h.dw_du * cbe[i];
        }
    }
    fn separable(&self, p: &[f64], k: usize, ln_n: f64, ln_d: f64) -> Option<Box<dyn Separable>> {
        Some(Box::new(FullSums {
            p: p.to_vec(),
            k,
            ln_n,
            ln_d,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_computed_point() {
        // k=2, h=(.5,.5), N=100, D=16, E=1.
        // S = 1·.5² + 2·.5¹ = 1.25, 1/S = .8.
        // A_h = (2·.5 + 6·.5)^.5 = 4^.5 = 2;  B_h = (1·.5 + 3·.5)^2 = 2² = 4.
        // α_h = (.2·.5 + .3·.5)^.5 = .25^.5 = .5;  β_h = (1·.5 + 3·.5)^−1 = 1/2 = .5.
        // A_h/N^α_h = 2/100^.5 = .2;  B_h/D^β_h = 4/16^.5 = 1.
        // L = 1 + .8 + .2 + 1 = 3.
        let p = [
            1.0, // E
            1.0, 2.0, // C
            2.0, 1.0, // gamma
            2.0, 6.0, 0.5, // CA, gammaA
            1.0, 3.0, 2.0, // CB, gammaB
            0.2, 0.3, 0.5, // Calpha, gamma_alpha
            1.0, 3.0, -1.0, // Cbeta, gamma_beta
        ];
        let x = Point::new(100.0, 16.0, &[0.5, 0.5]);
        let v = Full.eval(&p, &x, None);
        assert!((v - 3.0).abs() < 1e-12, "{v}");
    }

    #[test]
    fn reduces_to_joint() {
        // Cα_i = α, γα = 1 (and likewise β) on the simplex gives the joint law.
        let joint = super::super::registry::by_name("joint").unwrap();
        let (e, al, be) = (1.2, 0.35, 0.6);
        // C, gamma, CA, gammaA, CB, gammaB for k = 2.
        let mix = [0.5, 2.0, 0.2, -0.4, 3.0, 1.0, 0.7, 0.9, 4.0, 1.2];
        let mut pj = vec![e, al, be];
        pj.extend(mix);
        let mut pf = vec![e];
        pf.extend(mix);
        pf.extend([al, al, 1.0, be, be, 1.0]);
        let x = Point::new(700.0, 30.0, &[0.3, 0.7]);
        let (vj, vf) = (joint.eval(&pj, &x, None), Full.eval(&pf, &x, None));
        assert!((vj - vf).abs() < 1e-12, "{vj} vs {vf}");
    }
}
