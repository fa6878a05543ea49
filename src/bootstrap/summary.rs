//! From replicates to uncertainty: means, standard errors and percentile intervals.
//!
//! Intervals are the plain percentile bootstrap (Efron & Tibshirani 1993, ch. 13): the
//! `(1 − level)/2` and `(1 + level)/2` quantiles of the replicate estimates, interpolated
//! linearly between order statistics as numpy's default `quantile` does, so the numbers can be
//! checked against a notebook. The summary is computed from the replicates sorted by index, so
//! it is the same whichever order they finished in and however they were sharded.

use serde::{Deserialize, Serialize};

/// One quantity: its full-data estimate and its distribution over replicates.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Interval {
    /// What is summarised: a parameter, a domain's optimal weight, or a target's predicted loss.
    pub name: String,
    /// The value on the full data.
    pub estimate: f64,
    /// Mean of the replicate values.
    pub mean: f64,
    /// Standard deviation of the replicate values (the bootstrap standard error).
    pub se: f64,
    /// Lower end of the percentile interval: the `(1 − level)/2` quantile of the replicate values.
    pub lo: f64,
    /// Upper end of the percentile interval: the `(1 + level)/2` quantile.
    pub hi: f64,
}

impl Interval {
    /// Summarise `values` (at least one) at confidence `level`.
    pub fn new(name: impl Into<String>, estimate: f64, values: &[f64], level: f64) -> Self {
        let mut v = values.to_vec();
        v.sort_by(f64::total_cmp);
        let n = v.len() as f64;
        let mean = v.iter().sum::<f64>() / n;
        let var = match v.len() {
            0 => f64::NAN,
            1 => 0.0,
            _ => v.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (n - 1.0),
        };
        Interval {
            name: name.into(),
            estimate,
            mean,
            se: var.sqrt(),
            lo: quantile(&v, (1.0 - level) / 2.0),
            hi: quantile(&v, (1.0 + level) / 2.0),
        }
    }

    /// Whether `x` lies in `[lo, hi]`.
    pub fn covers(&self, x: f64) -> bool {
        self.lo <= x && x <= self.hi
    }
}

/// The `q`-quantile of ascending `sorted` (numpy's "linear" method).
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let pos = q.clamp(0.0, 1.0) * (sorted.len() - 1) as f64;
    let (i, frac) = (pos.floor() as usize, pos.fract());
    match sorted.get(i + 1) {
        Some(next) if frac > 0.0 => sorted[i] + frac * (next - sorted[i]),
        _ => sorted[i],
    }
}

/// A point at which the predicted loss is summarised (`--at N,D[,h...]`), in raw units.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct At {
    /// Raw N (parameters).
    pub n: f64,
    /// Raw D (tokens).
    pub d: f64,
    /// The mixture, for laws that take one.
    pub h: Vec<f64>,
}

impl At {
    /// `N,D` or `N,D,h_1,...,h_k` (raw N and D).
    pub fn parse(text: &str) -> crate::Result<At> {
        let values: Vec<f64> = text
            .split(',')
            .map(|v| {
                v.trim().parse::<f64>().map_err(|_| {
                    crate::Error::usage(format!(
                        "--at '{text}': '{}' is not a number (expected N,D[,h...])",
                        v.trim()
                    ))
                })
            })
            .collect::<crate::Result<_>>()?;
        if values.len() < 2 {
            return Err(crate::Error::usage(format!(
                "--at '{text}': expected N,D[,h...]"
            )));
        }
        Ok(At {
            n: values[0],
            d: values[1],
            h: values[2..].to_vec(),
        })
    }

    /// An error unless N, D are positive and `h` is a mixture over `k` domains (or empty for a
    /// law without one).
    pub fn check(&self, law: &crate::law::Law, k: usize) -> crate::Result<()> {
        let want = if law.uses_mixture() { k } else { 0 };
        let bad = |msg: String| {
            Err(crate::Error::usage(format!(
                "--at {},{}{}: {msg}",
                self.n,
                self.d,
                self.h.iter().map(|v| format!(",{v}")).collect::<String>()
            )))
        };
        if !(self.n > 0.0 && self.d > 0.0 && self.n.is_finite() && self.d.is_finite()) {
            return bad("N and D must be positive numbers".into());
        }
        if self.h.len() != want {
            return bad(format!(
                "the {} law needs {want} mixture weights after N and D, got {}",
                law.name(),
                self.h.len()
            ));
        }
        let sum: f64 = self.h.iter().sum();
        if want > 0 && (self.h.iter().any(|&v| v.is_nan() || v < 0.0) || (sum - 1.0).abs() > 1e-3) {
            return bad(format!(
                "mixture weights must be non-negative and sum to 1 (they sum to {sum})"
            ));
        }
        Ok(())
    }
}

/// The predicted loss of one target at one point.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Prediction {
    /// Where the loss is predicted.
    pub at: At,
    #[serde(flatten)]
    /// The predicted loss: its full-data estimate and distribution over replicates (flattened
    /// into this object on disk).
    pub loss: Interval,
}

/// Everything a study says about one target.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TargetSummary {
    /// The target column.
    pub target: String,
    /// Replicates summarised (those whose fit reached a finite objective).
    pub replicates: usize,
    /// Replicates left out because no start reached a finite objective.
    pub failed: usize,
    /// One interval per parameter, in the law's order (fit units).
    pub params: Vec<Interval>,
    /// The predicted loss at each `--at` point.
    pub predictions: Vec<Prediction>,
    /// The optimal mixture's weight per domain (mixture laws only), at `optimum_at`.
    pub optimum: Vec<Interval>,
}

/// The summary of a study: what `bootstrap` and `merge` print.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// The law's registered name.
    pub law: String,
    /// Confidence level of the intervals (e.g. 0.95).
    pub level: f64,
    /// What the replicates drew with replacement.
    pub resample: super::plan::Resample,
    /// Replicates the study asked for.
    pub replicates: usize,
    /// Starts per replicate.
    pub starts: usize,
    /// Seed of the replicates' resampling draws and random starts.
    pub seed: u64,
    /// Raw N and D at which optimal mixtures were found (mixture laws only).
    pub optimum_at: Option<[f64; 2]>,
    /// One summary per target, in the table's order.
    pub targets: Vec<TargetSummary>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_interpolate_like_numpy() {
        let v = [1.0, 2.0, 3.0, 4.0, 10.0];
        // numpy.quantile([1,2,3,4,10], [0, .025, .5, .975, 1]) = [1, 1.1, 3, 9.4, 10]
        let want = [1.0, 1.1, 3.0, 9.4, 10.0];
        for (q, w) in [0.0, 0.025, 0.5, 0.975, 1.0].iter().zip(want) {
            assert!((quantile(&v, *q) - w).abs() < 1e-12, "q {q}");
        }
        assert_eq!(quantile(&[5.0], 0.3), 5.0);
    }

    #[test]
    fn intervals_have_the_sample_mean_and_standard_deviation() {
        let i = Interval::new("x", 2.5, &[4.0, 1.0, 3.0, 2.0], 0.5);
        assert_eq!(i.mean, 2.5);
        assert!((i.se - (5.0f64 / 3.0).sqrt()).abs() < 1e-15);
        assert_eq!((i.lo, i.hi), (1.75, 3.25));
        assert!(i.covers(2.0) && !i.covers(3.5));
    }
}
