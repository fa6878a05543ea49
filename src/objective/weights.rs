//! Row weights: one or more weight sets over the same rows.

/// Row weights, `rows` per set, set after set: one set of ones for a plain fit, one set of
/// resampling counts per replicate for a bootstrap study.
#[derive(Clone, Debug)]
pub struct WeightSets {
    rows: usize,
    weights: Vec<f64>,
    /// `Σ w` of each set (the mean's denominator).
    sums: Vec<f64>,
}

impl WeightSets {
    /// Weight sets over `rows` rows from `weights`, which must hold whole sets.
    ///
    /// # Panics
    /// If `weights` is empty or not a whole number of sets.
    pub fn new(rows: usize, weights: Vec<f64>) -> Self {
        let n = rows.max(1);
        assert!(
            !weights.is_empty() && weights.len().is_multiple_of(n),
            "weights must hold whole sets of {n} rows"
        );
        let sums = weights.chunks(n).map(|w| w.iter().sum()).collect();
        WeightSets {
            rows,
            weights,
            sums,
        }
    }
    /// How many sets.
    pub fn len(&self) -> usize {
        self.sums.len()
    }
    /// Whether there are none (never: a problem has at least one set).
    pub fn is_empty(&self) -> bool {
        self.sums.is_empty()
    }
    /// The weights of set `set`.
    pub fn set(&self, set: usize) -> &[f64] {
        &self.weights[set * self.rows..(set + 1) * self.rows]
    }
    /// `Σ w` of set `set`.
    pub fn sum(&self, set: usize) -> f64 {
        self.sums[set]
    }
    /// Every set's weights, set after set (what a device uploads).
    pub fn all(&self) -> &[f64] {
        &self.weights
    }
}
