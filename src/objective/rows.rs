//! One target's rows in fit units, stored both ways the evaluators read them.

use crate::law::{ln_weight, Law, Point, Points};

/// One target's rows in fit units, ready to evaluate: `ln N`, `ln D`, the mixture and its
/// logarithms point-major (row by row, as the GPU's row layout and one-point evaluations want)
/// and domain-major (domain by domain, what a loop over rows vectorises on), and the targets.
#[derive(Clone, Debug)]
pub struct Rows {
    ln_n: Vec<f64>,
    ln_d: Vec<f64>,
    /// rows × k, row-major.
    h: Vec<f64>,
    /// `ln h` (clamped as the laws clamp it), rows × k.
    ln_h: Vec<f64>,
    y: Vec<f64>,
    ln_y: Vec<f64>,
    k: usize,
    /// `h` and `ln h` again, domain-major (`k × rows`), for [`Points`].
    h_cols: Vec<f64>,
    ln_h_cols: Vec<f64>,
}

impl Rows {
    /// Rows from `ln N`, `ln D` (fit units), weights (rows × k) and targets.
    pub fn new(ln_n: Vec<f64>, ln_d: Vec<f64>, h: Vec<f64>, y: Vec<f64>, k: usize) -> Self {
        let ln_h: Vec<f64> = h.iter().map(|&v| ln_weight(v)).collect();
        let ln_y = y.iter().map(|v| v.ln()).collect();
        let n = y.len();
        let transpose = |m: &[f64]| -> Vec<f64> {
            (0..k * n)
                .map(|c| m[(c % n.max(1)) * k + c / n.max(1)])
                .collect()
        };
        let (h_cols, ln_h_cols) = (transpose(&h), transpose(&ln_h));
        Rows {
            h_cols,
            ln_h_cols,
            ln_n,
            ln_d,
            h,
            ln_h,
            y,
            ln_y,
            k,
        }
    }

    /// The same rows with targets `y` instead.
    pub fn with_y(&self, y: Vec<f64>) -> Rows {
        assert_eq!(y.len(), self.y.len(), "one target per row");
        Rows {
            ln_y: y.iter().map(|v| v.ln()).collect(),
            y,
            ..self.clone()
        }
    }

    /// How many rows.
    pub fn len(&self) -> usize {
        self.y.len()
    }
    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.y.is_empty()
    }
    /// The number of domains.
    pub fn k(&self) -> usize {
        self.k
    }
    /// `ln N` per row, N in fit units.
    pub fn ln_n(&self) -> &[f64] {
        &self.ln_n
    }
    /// `ln D` per row, D in fit units.
    pub fn ln_d(&self) -> &[f64] {
        &self.ln_d
    }
    /// The mixture of row `j`.
    pub fn h(&self, j: usize) -> &[f64] {
        &self.h[j * self.k..(j + 1) * self.k]
    }
    /// `ln h` of row `j`, clamped as [`ln_weight`] clamps it.
    pub fn ln_h(&self, j: usize) -> &[f64] {
        &self.ln_h[j * self.k..(j + 1) * self.k]
    }
    /// The observed target per row.
    pub fn y(&self) -> &[f64] {
        &self.y
    }
    /// `ln y` per row, for the log residual.
    pub fn ln_y(&self) -> &[f64] {
        &self.ln_y
    }

    /// Rows `range` as a column view for [`Law::eval_rows`].
    pub fn points(&self, range: std::ops::Range<usize>) -> Points<'_> {
        let k = self.k;
        Points {
            ln_n: &self.ln_n[range.clone()],
            ln_d: &self.ln_d[range.clone()],
            h: &self.h[range.start * k..range.end * k],
            ln_h: &self.ln_h[range.start * k..range.end * k],
            k,
            h_cols: &self.h_cols[range.start.min(self.h_cols.len())..],
            ln_h_cols: &self.ln_h_cols[range.start.min(self.ln_h_cols.len())..],
            stride: self.len(),
        }
    }

    /// Row `j` as a point (through the one-row view, which owns the slicing).
    pub fn point(&self, j: usize) -> Point<'_> {
        self.points(j..j + 1).point(0)
    }

    /// `100 · mean |L̂ − L| / L` of `law` at natural parameters `p` over these rows
    /// (unweighted): the mean relative error in percent.
    pub fn mre_pct(&self, law: &Law, p: &[f64]) -> f64 {
        let s: f64 = (0..self.len())
            .map(|j| {
                let pred = law.eval(p, &self.point(j), None);
                ((pred - self.y[j]) / self.y[j]).abs()
            })
            .sum();
        100.0 * s / self.len() as f64
    }
}
