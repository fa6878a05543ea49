//! The simple law of Shukor et al. 2025 (eq. 6.1): one power of a linear mixture term added to
//! Chinchilla, `L = E + (Σ C_i h_i)^γ + A/N^α + B/D^β` (the paper's printing swaps the letters of
//! the last two terms; this is the intended form). 6+k parameters.

use super::chinchilla::{scale_eval, scale_params, scale_start};
use super::guarded_pow;
use super::joint::pow_sum;
use super::separable::{OuterWgsl, Separable};
use super::{per_domain, Family, ParamSpec, Point};
use crate::rng::Rng;

pub struct Simple;

/// The simple law at one scale: `base + U^γ`, `U = Σ C_i h_i`, `base` the scale terms.
struct SimpleSums {
    c: Vec<f64>,
    g: f64,
    base: f64,
}

impl Separable for SimpleSums {
    fn sums(&self) -> usize {
        1
    }
    fn term(&self, _q: usize, i: usize, h: f64) -> f64 {
        self.c[i] * h
    }
    fn outer(&self, sums: &[f64], _stride: usize, out: &mut [f64]) {
        for (o, u) in out.iter_mut().zip(sums) {
            *o = self.base + guarded_pow(*u, self.g).0;
        }
    }
    fn wgsl(&self) -> Option<OuterWgsl> {
        Some(OuterWgsl {
            expr: "c(0u) + gpow(s(0u), c(1u))",
            consts: vec![self.base, self.g],
        })
    }
}

impl Family for Simple {
    fn params(&self, domains: &[String]) -> Vec<ParamSpec> {
        let mut v = scale_params();
        v.extend(per_domain("C", domains, 1e-8, 1e4, true));
        v.push(ParamSpec::new("gamma", -3.0, 3.0, false));
        v
    }
    fn sample_start(&self, k: usize, rng: &mut Rng) -> Vec<f64> {
        let mut x = scale_start(rng);
        x.extend((0..k).map(|_| rng.log10_range(-1.0, 1.0)));
        x.push(rng.range(-1.0, 1.0));
        x
    }
    fn eval(&self, p: &[f64], x: &Point, grad: Option<&mut [f64]>) -> f64 {
        let k = x.h.len();
        let c = &p[5..5 + k];
        // U = Σ C_i h_i may reach 0 off the simplex; pow_sum guards it.
        let m = pow_sum(c, x.h, p[5 + k]);
        match grad {
            Some(gr) => {
                let v = scale_eval(p, x.ln_n, x.ln_d, Some(&mut gr[..5]));
                for i in 0..k {
                    gr[5 + i] = m.dw_du * x.h[i];
                }
                gr[5 + k] = m.w * m.ln_u;
                v + m.w
            }
            None => scale_eval(p, x.ln_n, x.ln_d, None) + m.w,
        }
    }
    fn grad_h(&self, p: &[f64], x: &Point, dh: &mut [f64]) {
        let k = x.h.len();
        let c = &p[5..5 + k];
        let m = pow_sum(c, x.h, p[5 + k]);
        for i in 0..k {
            dh[i] = m.dw_du * c[i];
        }
    }
    fn separable(&self, p: &[f64], k: usize, ln_n: f64, ln_d: f64) -> Option<Box<dyn Separable>> {
        Some(Box::new(SimpleSums {
            c: p[5..5 + k].to_vec(),
            g: p[5 + k],
            base: scale_eval(p, ln_n, ln_d, None),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_computed_point() {
        // k=2, h=(.5,.5), N=100, D=10, E=1, A=2, α=.5, B=3, β=1, C=(2,6), γ=−1.
        // U = 2·.5 + 6·.5 = 4, U^γ = 1/4 = .25; A/N^α = 2/10 = .2; B/D^β = 3/10 = .3.
        // L = 1 + .25 + .2 + .3 = 1.75.
        let p = [1.0, 2.0, 0.5, 3.0, 1.0, 2.0, 6.0, -1.0];
        let x = Point::new(100.0, 10.0, &[0.5, 0.5]);
        let v = Simple.eval(&p, &x, None);
        assert!((v - 1.75).abs() < 1e-12, "{v}");
    }
}
