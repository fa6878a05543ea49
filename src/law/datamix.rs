//! The data mixing law of Ye et al. 2024 (their M4), a baseline at fixed (N, D) in Shukor et al.
//! 2025 (appendix B): `L = E + C·exp(Σ_i γ_i h_i)`. It ignores N and D, so a fit uses rows of one
//! model size and token count. 2+k parameters. With Σ h_i = 1, C·e^−t and γ_i + t (all i) give
//! the same loss for every t: a flat direction, like the linear law's intercept.

use super::separable::{OuterWgsl, Separable};
use super::{per_domain, Family, ParamSpec, Point};
use crate::rng::Rng;

pub struct DataMix;

/// The law from its one sum `z = Σ γ_i h_i`: `E + C·e^z`.
struct DataMixSums {
    p: Vec<f64>,
}

impl Separable for DataMixSums {
    fn sums(&self) -> usize {
        1
    }
    fn term(&self, _q: usize, i: usize, h: f64) -> f64 {
        self.p[2 + i] * h
    }
    fn outer(&self, sums: &[f64], _stride: usize, out: &mut [f64]) {
        for (o, z) in out.iter_mut().zip(sums) {
            *o = self.p[0] + self.p[1] * z.exp();
        }
    }
    fn wgsl(&self) -> Option<OuterWgsl> {
        Some(OuterWgsl {
            expr: "c(0u) + c(1u) * exp(s(0u))",
            consts: vec![self.p[0], self.p[1]],
        })
    }
}

impl Family for DataMix {
    fn params(&self, domains: &[String]) -> Vec<ParamSpec> {
        let mut v = vec![
            ParamSpec::new("E", 0.0, 10.0, true),
            ParamSpec::new("C", 1e-8, 1e4, true),
        ];
        v.extend(per_domain("gamma", domains, -20.0, 20.0, false));
        v
    }
    fn sample_start(&self, k: usize, rng: &mut Rng) -> Vec<f64> {
        let mut x = vec![rng.range(0.5, 3.0), rng.log10_range(-1.0, 0.5)];
        x.extend((0..k).map(|_| rng.range(-2.0, 2.0)));
        x
    }
    fn eval(&self, p: &[f64], x: &Point, grad: Option<&mut [f64]>) -> f64 {
        let k = x.h.len();
        let g = &p[2..2 + k];
        // On the simplex the exponent is a weighted mean of the γ_i, so |z| ≤ 20 within bounds:
        // exp cannot overflow and needs no guard.
        let z: f64 = g.iter().zip(x.h).map(|(g, h)| g * h).sum();
        let ez = z.exp();
        if let Some(gr) = grad {
            gr[0] = 1.0;
            gr[1] = ez;
            for i in 0..k {
                gr[2 + i] = p[1] * ez * x.h[i];
            }
        }
        p[0] + p[1] * ez
    }
    fn grad_h(&self, p: &[f64], x: &Point, dh: &mut [f64]) {
        let k = x.h.len();
        let g = &p[2..2 + k];
        let z: f64 = g.iter().zip(x.h).map(|(g, h)| g * h).sum();
        let cez = p[1] * z.exp();
        for i in 0..k {
            dh[i] = cez * g[i];
        }
    }
    /// `C·e^z` with `z` affine in `h` is convex for `C ≥ 0`.
    fn convex_in_h(&self, p: &[f64], _domains: &[String]) -> Result<(), String> {
        match p[1] >= 0.0 {
            true => Ok(()),
            false => Err(format!("C is {} (convex needs C >= 0)", p[1])),
        }
    }
    fn separable(&self, p: &[f64], _k: usize, _: f64, _: f64) -> Option<Box<dyn Separable>> {
        Some(Box::new(DataMixSums { p: p.to_vec() }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_computed_point() {
        // E=1, C=2, γ=(1,3), h=(.5,.5): Σγh = .5 + 1.5 = 2, L = 1 + 2e² = 1 + 2·7.38905609893065
        // = 15.7781121978613 (N, D ignored).
        let x = Point::new(123.0, 4.0, &[0.5, 0.5]);
        let v = DataMix.eval(&[1.0, 2.0, 1.0, 3.0], &x, None);
        assert!((v - 15.7781121978613).abs() < 1e-12, "{v}");
    }
}
