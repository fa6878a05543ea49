//! Simulated run tables from a law with known parameters: the ground truth for recovery tests
//! and for the bundled example in `data/`.

use crate::law::{Law, Point};
use crate::rng::Rng;
use crate::{Error, Result};

/// What to simulate. N and D lists are raw (parameters, tokens); `params` are in fit units.
#[derive(Clone, Debug)]
pub struct Design {
    /// Domain names (empty for a law without a mixture).
    pub domains: Vec<String>,
    /// Random mixtures drawn uniformly from the simplex (then floored at `min_weight`).
    pub mixtures: usize,
    /// The least weight of every domain: draws are rescaled into the `1 − k · min_weight` left.
    pub min_weight: f64,
    /// Model sizes N (raw parameters); ignored by laws that do not use N and D.
    pub sizes: Vec<f64>,
    /// Token counts D (raw tokens); ignored by laws that do not use N and D.
    pub tokens: Vec<f64>,
    /// Relative Gaussian noise: `L · (1 + noise · ε)`.
    pub noise: f64,
    /// Seed of the mixtures and the noise.
    pub seed: u64,
    /// N is divided by this before the law sees it (1e6: N in millions).
    pub n_unit: f64,
    /// D is divided by this before the law sees it (1e9: D in billions).
    pub d_unit: f64,
}

/// A simulated table: one row per (mixture, N, D).
pub struct Simulated {
    /// The mixture of each row (empty for a law without one).
    pub h: Vec<Vec<f64>>,
    /// Raw N of each row.
    pub n: Vec<f64>,
    /// Raw D of each row.
    pub d: Vec<f64>,
    /// The law's loss at each row, noise included.
    pub loss: Vec<f64>,
}

/// Parse `name=value,name=value` against the law's parameter names (all required, none unknown).
pub fn parse_params(law: &Law, domains: &[String], text: &str) -> Result<Vec<f64>> {
    let specs = law.distinct_params(domains).map_err(Error::usage)?;
    let names: Vec<&str> = specs.iter().map(|s| s.name.as_str()).collect();
    let mut values = vec![f64::NAN; specs.len()];
    for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (name, value) = item
            .split_once('=')
            .ok_or_else(|| Error::usage(format!("--params: '{item}' is not name=value")))?;
        let j = names
            .iter()
            .position(|n| *n == name.trim())
            .ok_or_else(|| {
                Error::usage(format!(
                    "--params: the {} law has no parameter '{}'; its parameters are {}",
                    law.name(),
                    name.trim(),
                    names.join(", ")
                ))
            })?;
        // NaN would read as "missing" below, and an infinite parameter is no law.
        values[j] = value
            .trim()
            .parse()
            .ok()
            .filter(|v: &f64| v.is_finite())
            .ok_or_else(|| {
                Error::usage(format!(
                    "--params: {name} = '{}' is not a finite number",
                    value.trim()
                ))
            })?;
    }
    let missing: Vec<&str> = names
        .iter()
        .zip(&values)
        .filter(|(_, v)| v.is_nan())
        .map(|(n, _)| *n)
        .collect();
    if !missing.is_empty() {
        return Err(Error::usage(format!(
            "--params: missing {}",
            missing.join(", ")
        )));
    }
    // A truth outside the law's bounds is one no fit of the table could find.
    if let Some((s, v)) = specs
        .iter()
        .zip(&values)
        .find(|(s, v)| !(s.lo..=s.hi).contains(*v))
    {
        return Err(Error::usage(format!(
            "--params: {} = {} is outside the {} law's bounds [{}, {}], where a fit of the \
             simulated table could never find it",
            s.name,
            crate::error::number(*v),
            law.name(),
            crate::error::number(s.lo),
            crate::error::number(s.hi)
        )));
    }
    Ok(values)
}

/// Draw the design's rows and evaluate the law at each.
pub fn simulate(law: &Law, params: &[f64], design: &Design) -> Result<Simulated> {
    let k = design.domains.len();
    if law.uses_mixture() && k == 0 {
        return Err(Error::usage(format!(
            "the {} law needs --domains",
            law.name()
        )));
    }
    // Every number of the design is checked as `optimize` checks its scales: a NaN weight floor
    // or an infinite size was written into the table (NaN weights, `inf` sizes) with exit 0, and
    // a zero unit gave every row the law's value at infinity.
    if design.min_weight.is_nan() || design.min_weight < 0.0 {
        return Err(Error::usage(format!(
            "--min-weight must be a weight from 0 to 1, got {}",
            design.min_weight
        )));
    }
    if design.min_weight * k as f64 > 1.0 {
        return Err(Error::usage(
            "--min-weight times the number of domains exceeds 1",
        ));
    }
    for (flag, values) in [
        ("--sizes", &design.sizes[..]),
        ("--tokens", &design.tokens[..]),
        ("--n-unit", &[design.n_unit][..]),
        ("--d-unit", &[design.d_unit][..]),
    ] {
        if let Some(v) = values.iter().find(|v| !(**v > 0.0 && v.is_finite())) {
            return Err(Error::usage(format!(
                "{flag} takes positive finite numbers, got {v}"
            )));
        }
    }
    if law.uses_mixture() && design.mixtures == 0 {
        return Err(Error::usage("--mixtures must be at least 1"));
    }
    let rows = design.mixtures.max(1) as u128
        * design.sizes.len().max(1) as u128
        * design.tokens.len().max(1) as u128;
    // Each row is held as numbers (N, D, the loss and k weights) and then as CSV text.
    crate::memory::check(
        &format!("a table of {rows} rows"),
        rows * (64 + 40 * (k as u128 + 3)),
        "simulate fewer mixtures, sizes or token counts",
    )?;
    let mut rng = Rng::new(design.seed, 0);
    let mixtures: Vec<Vec<f64>> = if law.uses_mixture() {
        (0..design.mixtures)
            .map(|_| {
                let e: Vec<f64> = (0..k).map(|_| -(1.0 - rng.uniform()).ln()).collect();
                let s: f64 = e.iter().sum();
                e.iter()
                    .map(|v| design.min_weight + (1.0 - k as f64 * design.min_weight) * v / s)
                    .collect()
            })
            .collect()
    } else {
        vec![Vec::new()]
    };
    let (sizes, tokens) = if law.uses_scale() {
        (design.sizes.clone(), design.tokens.clone())
    } else {
        (vec![design.n_unit], vec![design.d_unit])
    };
    if sizes.is_empty() || tokens.is_empty() {
        return Err(Error::usage(
            "--sizes and --tokens need at least one value each",
        ));
    }
    let mut out = Simulated {
        h: vec![],
        n: vec![],
        d: vec![],
        loss: vec![],
    };
    for h in &mixtures {
        for &n in &sizes {
            for &d in &tokens {
                let x = Point::new(n / design.n_unit, d / design.d_unit, h);
                let clean = law.eval(params, &x, None);
                let loss = clean * (1.0 + design.noise * rng.normal());
                if !(loss.is_finite() && loss > 0.0) {
                    return Err(Error::usage(format!(
                        "the law gives a non-positive or non-finite loss ({loss}) at N={n}, D={d}; check --params"
                    )));
                }
                out.h.push(h.clone());
                out.n.push(n);
                out.d.push(d);
                out.loss.push(loss);
            }
        }
    }
    Ok(out)
}

impl Simulated {
    /// The table as CSV in the paper's layout (`weight_<domain>`, `model_size`, `n_tokens`,
    /// then the target column).
    pub fn to_csv(&self, domains: &[String], target: &str) -> Vec<u8> {
        let mut w = csv::Writer::from_writer(Vec::new());
        let mut header: Vec<String> = domains.iter().map(|d| format!("weight_{d}")).collect();
        header.extend(["model_size".into(), "n_tokens".into(), target.to_string()]);
        w.write_record(&header).expect("in-memory CSV");
        for r in 0..self.loss.len() {
            let mut rec: Vec<String> = self.h[r].iter().map(|v| format!("{v:?}")).collect();
            rec.push(format!("{:?}", self.n[r]));
            rec.push(format!("{:?}", self.d[r]));
            rec.push(format!("{:?}", self.loss[r]));
            w.write_record(&rec).expect("in-memory CSV");
        }
        w.into_inner().expect("in-memory CSV")
    }
}
