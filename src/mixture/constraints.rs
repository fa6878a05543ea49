//! Constraints on a mixture: boxes on the weights, from named domains' limits.

use crate::{Error, Result};

/// Limits on domains by name, as a user gives them: lowest and highest weights, and tokens
/// available (with `D` tokens in all, a domain with `t` tokens available may weigh at most
/// `t / D`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Constraints {
    /// `(domain, lowest weight)`.
    pub min: Vec<(String, f64)>,
    /// `(domain, highest weight)`.
    pub max: Vec<(String, f64)>,
    /// `(domain, tokens available)`.
    pub available: Vec<(String, f64)>,
}

impl Constraints {
    /// The boxes these limits put on the weights of `domains`, with `d` tokens in all (`None`:
    /// no fixed token count, which token limits need). Unknown domains are errors naming the
    /// domains there are.
    pub fn bounds(&self, domains: &[String], d: Option<f64>) -> Result<Bounds> {
        let mut bounds = Bounds::free(domains.len());
        let index = |flag: &str, name: &str| {
            domains
                .iter()
                .position(|x| x == name.trim())
                .ok_or_else(|| {
                    Error::usage(format!(
                        "--{flag}: unknown domain '{}'; the domains are {}",
                        name.trim(),
                        domains.join(", ")
                    ))
                })
        };
        for (flag, limits) in [("min", &self.min), ("max", &self.max)] {
            for (name, v) in limits {
                if !(0.0..=1.0).contains(v) {
                    return Err(Error::usage(format!(
                        "--{flag} {}={v}: a weight limit is a number from 0 to 1",
                        name.trim()
                    )));
                }
            }
        }
        for (name, tokens) in &self.available {
            if !(*tokens >= 0.0 && tokens.is_finite()) {
                return Err(Error::usage(format!(
                    "--available {}={tokens}: tokens available must be a non-negative number of \
                     tokens",
                    name.trim()
                )));
            }
        }
        for (name, v) in &self.min {
            let i = index("min", name)?;
            bounds.lo[i] = bounds.lo[i].max(*v);
        }
        for (name, v) in &self.max {
            let i = index("max", name)?;
            bounds.hi[i] = bounds.hi[i].min(*v);
        }
        if !self.available.is_empty() && d.is_none() {
            return Err(Error::usage(
                "--available needs a fixed D (--d), not --flops",
            ));
        }
        for (name, tokens) in &self.available {
            let i = index("available", name)?;
            let d = d.expect("checked");
            bounds.hi[i] = bounds.hi[i].min(tokens / d);
            // Said in tokens, as they were given: a weight limit alone would hide where it came
            // from.
            if bounds.lo[i] > bounds.hi[i] {
                return Err(Error::usage(format!(
                    "infeasible constraints: {} must weigh at least {}, {} of the D = {d} \
                     tokens, but --available gives it {tokens} tokens",
                    domains[i],
                    bounds.lo[i],
                    bounds.lo[i] * d
                )));
            }
        }
        if let (false, Some(d)) = (self.available.is_empty(), d) {
            let most: f64 = bounds.hi.iter().sum();
            if most < 1.0 - 1e-12 {
                return Err(Error::usage(format!(
                    "infeasible constraints: with the tokens available (--available) and the \
                     limits, the domains cover at most {} of the D = {d} tokens to train on",
                    most * d
                )));
            }
        }
        Ok(bounds)
    }
}

/// Box constraints on the weights.
#[derive(Clone, Debug)]
pub struct Bounds {
    /// The lowest weight of each domain.
    pub lo: Vec<f64>,
    /// The highest weight of each domain.
    pub hi: Vec<f64>,
}

impl Bounds {
    /// `[0, 1]` for every domain.
    pub fn free(k: usize) -> Self {
        Bounds {
            lo: vec![0.0; k],
            hi: vec![1.0; k],
        }
    }

    /// An error unless some `h` on the simplex satisfies the boxes.
    pub fn check(&self, domains: &[String]) -> Result<()> {
        for ((d, lo), hi) in domains.iter().zip(&self.lo).zip(&self.hi) {
            if lo > hi {
                return Err(Error::usage(format!(
                    "infeasible constraints: {d} must be at least {lo} and at most {hi}"
                )));
            }
        }
        let (lo, hi): (f64, f64) = (self.lo.iter().sum(), self.hi.iter().sum());
        if lo > 1.0 + 1e-12 || hi < 1.0 - 1e-12 {
            return Err(Error::usage(format!(
                "infeasible constraints: the minimum weights sum to {lo} and the maximum weights to {hi}; \
                 a mixture needs the first at most 1 and the second at least 1"
            )));
        }
        Ok(())
    }

    pub(crate) fn contains(&self, h: &[f64]) -> bool {
        h.iter()
            .zip(&self.lo)
            .zip(&self.hi)
            .all(|((v, l), u)| *v >= l - 1e-12 && *v <= u + 1e-12)
    }

    /// KL projection onto `{lo ≤ h ≤ hi, Σ h = 1}`: rescale the free weights, clamp the ones that
    /// leave their box, and repeat with those held (at most k rounds).
    pub fn project(&self, h: &mut [f64]) {
        let k = h.len();
        let mut held = vec![false; k];
        for _ in 0..=k {
            let fixed: f64 = (0..k).filter(|&i| held[i]).map(|i| h[i]).sum();
            let free: f64 = (0..k).filter(|&i| !held[i]).map(|i| h[i]).sum();
            if free <= 0.0 {
                // Nothing left to rescale: spread the remainder over the free weights.
                let n = held.iter().filter(|&&x| !x).count().max(1) as f64;
                (0..k)
                    .filter(|&i| !held[i])
                    .for_each(|i| h[i] = (1.0 - fixed) / n);
            } else {
                let s = (1.0 - fixed) / free;
                (0..k).filter(|&i| !held[i]).for_each(|i| h[i] *= s);
            }
            let mut changed = false;
            for i in 0..k {
                if !held[i] && (h[i] < self.lo[i] || h[i] > self.hi[i]) {
                    h[i] = h[i].clamp(self.lo[i], self.hi[i]);
                    held[i] = true;
                    changed = true;
                }
            }
            if !changed {
                return;
            }
        }
    }
}
