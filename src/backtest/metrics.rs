//! How well a law ranks mixtures at a held-out scale: the Spearman correlation of predicted and
//! observed losses over the runs at one scale point, and the regret of the law's pick.

use serde::Serialize;

use super::Prediction;

/// Runs whose `D` lies within this factor of a scale point's smallest `D` share the point: a
/// table's runs of one size stop at nearly, not exactly, the same token count (103.678e9 and
/// 103.680e9 in the SlimPajama table).
const SAME_D: f64 = 1.01;

/// The runs of several mixtures at one scale.
#[derive(Clone, Debug, Serialize)]
pub struct ScalePoint {
    /// Raw `N`.
    pub n: f64,
    /// Raw `D` (the smallest of the point's runs).
    pub d: f64,
    /// Runs (distinct mixtures) at the point.
    pub runs: usize,
    /// Spearman's rank correlation between predicted and observed losses.
    pub spearman: f64,
    /// The observed loss of the run the law predicts lowest, minus the lowest observed loss.
    pub regret: f64,
}

/// The scale points among `predictions` (one `N`, `D` within 1 %) holding at least three
/// distinct mixtures (`mixture(row)` gives a row's), each with its rank correlation and regret.
pub fn scale_points<'a>(
    predictions: &[&Prediction],
    mixture: &dyn Fn(usize) -> &'a [f64],
) -> Vec<ScalePoint> {
    let mut sorted: Vec<&Prediction> = predictions.to_vec();
    sorted.sort_by(|a, b| a.n.total_cmp(&b.n).then(a.d.total_cmp(&b.d)));
    let mut points = Vec::new();
    let mut start = 0;
    while start < sorted.len() {
        let first = sorted[start];
        let end = start
            + sorted[start..]
                .iter()
                .take_while(|p| p.n == first.n && p.d <= first.d * SAME_D)
                .count();
        let runs = &sorted[start..end];
        let mut mixtures: Vec<&'a [f64]> = runs.iter().map(|p| mixture(p.row)).collect();
        mixtures.sort_by(|a, b| a.partial_cmp(b).expect("weights are finite"));
        mixtures.dedup();
        if mixtures.len() >= 3 {
            let predicted: Vec<f64> = runs.iter().map(|p| p.predicted).collect();
            let observed: Vec<f64> = runs.iter().map(|p| p.observed).collect();
            let pick = argmin(&predicted);
            let best = observed.iter().copied().fold(f64::INFINITY, f64::min);
            points.push(ScalePoint {
                n: first.n,
                d: first.d,
                runs: mixtures.len(),
                spearman: spearman(&predicted, &observed),
                regret: observed[pick] - best,
            });
        }
        start = end;
    }
    points
}

/// The index of the smallest value (the first of equals).
fn argmin(v: &[f64]) -> usize {
    (0..v.len())
        .min_by(|&a, &b| v[a].total_cmp(&v[b]))
        .expect("a scale point has runs")
}

/// Spearman's rank correlation of `x` and `y`: Pearson's correlation of their ranks, tied
/// values sharing their mean rank. NaN when either is constant.
pub fn spearman(x: &[f64], y: &[f64]) -> f64 {
    let (rx, ry) = (ranks(x), ranks(y));
    let n = x.len() as f64;
    let mean = (n + 1.0) / 2.0;
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in rx.iter().zip(&ry) {
        sxy += (a - mean) * (b - mean);
        sxx += (a - mean).powi(2);
        syy += (b - mean).powi(2);
    }
    sxy / (sxx * syy).sqrt()
}

/// 1-based ranks of `v`, ties sharing their mean rank.
fn ranks(v: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..v.len()).collect();
    order.sort_by(|&a, &b| v[a].total_cmp(&v[b]));
    let mut r = vec![0.0; v.len()];
    let mut i = 0;
    while i < order.len() {
        let j = i + order[i..]
            .iter()
            .take_while(|&&o| v[o] == v[order[i]])
            .count();
        let mean = (i + j + 1) as f64 / 2.0;
        for &o in &order[i..j] {
            r[o] = mean;
        }
        i = j;
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spearman_matches_hand_computed_values() {
        assert_eq!(spearman(&[1.0, 2.0, 3.0], &[10.0, 20.0, 30.0]), 1.0);
        assert_eq!(spearman(&[1.0, 2.0, 3.0], &[3.0, 2.0, 1.0]), -1.0);
        // Ranks (1, 2, 3, 4) against (2, 1, 4, 3): 1 - 6·4 / (4·15) = 0.6.
        assert!((spearman(&[1.0, 2.0, 3.0, 4.0], &[5.0, 1.0, 9.0, 7.0]) - 0.6).abs() < 1e-15);
        // Ties share their mean rank: (1.5, 1.5, 3) against (1, 2, 3).
        let s = spearman(&[1.0, 1.0, 2.0], &[1.0, 2.0, 3.0]);
        assert!((s - 1.5 / 3f64.sqrt()).abs() < 1e-15, "{s}");
        assert!(spearman(&[1.0, 1.0, 1.0], &[1.0, 2.0, 3.0]).is_nan());
    }
}
