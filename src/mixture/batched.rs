//! The lattice sweep of any law: candidates generated on the host in rank order, feasible ones
//! collected into batches, and the backend predicts every weighed target at every candidate of
//! a batch at once (the GPU in f32); weightings are weighted sums of those predictions. Laws
//! with a separable form take the faster route of `separable.rs`; this one serves the
//! rest (a formula law, or one domain) and any backend's `predict_mixtures`.

use super::top::Top;
use super::{lattice, Bounds, Laws, Search, Weighting};
use crate::backend::Backend;

/// The `s.top` best feasible lattice points of every weighting as `backend` predicts them, best
/// first (not yet re-scored).
pub(super) fn lattice_best(
    laws: &Laws,
    weightings: &[Weighting],
    bounds: &Bounds,
    s: &Search,
    backend: &dyn Backend,
) -> Vec<Vec<(f64, Vec<f64>)>> {
    const BATCH: usize = 1 << 15;
    let k = laws.domains.len();
    // Targets no weighting weighs are never evaluated.
    let needed: Vec<usize> = (0..laws.params.len())
        .filter(|&t| weightings.iter().any(|o| o.weights[t] != 0.0))
        .collect();
    let params: Vec<Vec<f64>> = needed.iter().map(|&t| laws.params[t].clone()).collect();
    let (ln_n, ln_d) = (laws.n.ln(), laws.d.ln());
    let mut best: Vec<Top> = weightings.iter().map(|_| Top::new(s.top)).collect();
    let mut j = vec![0usize; k];
    lattice::unrank(0, s.resolution, &mut j);
    let mut more = true;
    let mut hs: Vec<f64> = Vec::with_capacity(BATCH * k);
    let mut h = vec![0.0; k];
    let mut preds = vec![0.0; BATCH * params.len()];
    while more {
        hs.clear();
        while more && hs.len() < BATCH * k {
            for (hi, ji) in h.iter_mut().zip(&j) {
                *hi = *ji as f64 / s.resolution as f64;
            }
            if bounds.contains(&h) {
                hs.extend_from_slice(&h);
            }
            more = lattice::next(&mut j);
        }
        let n = hs.len() / k;
        let t = params.len();
        backend.predict_mixtures(&laws.law, &params, ln_n, ln_d, &hs, k, &mut preds[..n * t]);
        for c in 0..n {
            let p = &preds[c * t..(c + 1) * t];
            for (o, top) in weightings.iter().zip(best.iter_mut()) {
                let v: f64 = needed.iter().zip(p).map(|(&i, l)| o.weights[i] * l).sum();
                if v <= top.threshold() || !top.full() {
                    top.offer(v, || hs[c * k..(c + 1) * k].to_vec());
                }
            }
        }
    }
    best.into_iter().map(Top::into_points).collect()
}
