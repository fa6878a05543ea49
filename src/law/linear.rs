//! A RegMix-style linear baseline at fixed (N, D) (Shukor et al. 2025, appendix B):
//! `L = E + Σ_i C_i h_i`, 1+k parameters; the C_i may be negative. With Σ h_i = 1 the intercept
//! is not identified: E + t and C_i − t (all i) give the same loss for every t, a flat direction
//! that the fit report will show (only E + C_i is determined).

use super::separable::{OuterWgsl, Separable};
use super::{per_domain, Family, ParamSpec, Point};
use crate::rng::Rng;

pub struct Linear;

/// The law from its one sum `U = Σ C_i h_i`: `E + U`.
struct LinearSums {
    p: Vec<f64>,
}

impl Separable for LinearSums {
    fn sums(&self) -> usize {
        1
    }
    fn term(&self, _q: usize, i: usize, h: f64) -> f64 {
        self.p[1 + i] * h
    }
    fn outer(&self, sums: &[f64], _stride: usize, out: &mut [f64]) {
        for (o, u) in out.iter_mut().zip(sums) {
            *o = self.p[0] + u;
        }
    }
    fn wgsl(&self) -> Option<OuterWgsl> {
        Some(OuterWgsl {
            expr: "c(0u) + s(0u)",
            consts: vec![self.p[0]],
        })
    }
}

impl Family for Linear {
    fn params(&self, domains: &[String]) -> Vec<ParamSpec> {
        let mut v = vec![ParamSpec::new("E", 0.0, 10.0, true)];
        v.extend(per_domain("C", domains, -1e4, 1e4, false));
        v
    }
    fn sample_start(&self, k: usize, rng: &mut Rng) -> Vec<f64> {
        let mut x = vec![rng.range(1.0, 3.0)];
        x.extend((0..k).map(|_| rng.range(-1.0, 1.0)));
        x
    }
    fn eval(&self, p: &[f64], x: &Point, grad: Option<&mut [f64]>) -> f64 {
        let k = x.h.len();
        if let Some(gr) = grad {
            gr[0] = 1.0;
            gr[1..1 + k].copy_from_slice(x.h);
        }
        p[0] + p[1..1 + k].iter().zip(x.h).map(|(c, h)| c * h).sum::<f64>()
    }
    fn grad_h(&self, p: &[f64], x: &Point, dh: &mut [f64]) {
        let k = x.h.len();
        dh[..k].copy_from_slice(&p[1..1 + k]);
    }
    /// Affine in `h`, so convex whatever the `C_i`.
    fn convex_in_h(&self, _p: &[f64], _domains: &[String]) -> Result<(), String> {
        Ok(())
    }
    fn separable(&self, p: &[f64], _k: usize, _: f64, _: f64) -> Option<Box<dyn Separable>> {
        Some(Box::new(LinearSums { p: p.to_vec() }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_computed_point() {
        // E=1, C=(2,−4,6), h=(.5,.25,.25): 1 + 1 − 1 + 1.5 = 2.5.
        let x = Point::new(1.0, 1.0, &[0.5, 0.25, 0.25]);
        let v = Linear.eval(&[1.0, 2.0, -4.0, 6.0], &x, None);
        assert!((v - 2.5).abs() < 1e-12, "{v}");
    }

    #[test]
    fn intercept_is_a_flat_direction_on_the_simplex() {
        let x = Point::new(1.0, 1.0, &[0.2, 0.3, 0.5]);
        let a = Linear.eval(&[1.0, 2.0, -4.0, 6.0], &x, None);
        let b = Linear.eval(&[1.5, 1.5, -4.5, 5.5], &x, None);
        assert!((a - b).abs() < 1e-12, "{a} vs {b}");
    }
}
