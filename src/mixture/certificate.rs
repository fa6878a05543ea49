//! Certified optima: where the objective is convex on the feasible set, a bound on how far the
//! refined mixture's loss is from the minimum.
//!
//! A lattice and a descent alone cannot tell whether the point they end at is the minimum. For
//! a convex `f` on the polytope `P = {lo ≤ h ≤ hi, Σ h = 1}` the Frank–Wolfe duality gap
//! `g(h) = ∇f(h)·h − min_{s∈P} ∇f(h)·s` bounds `f(h) − min_P f` (convexity gives
//! `f(s) ≥ f(h) + ∇f(h)·(s − h)` for every `s`), costs one gradient and a greedy fill of the
//! boxes, and is 0 exactly at the minimum. It is a certificate only under convexity, which the
//! laws judge for their own parameters ([`crate::law::Family::convex_in_h`]: the additive law
//! with every `C_i > 0` and `0 < γ_i ≤ 1`, the linear law, the data mixing law with `C ≥ 0`); a
//! weighting of such targets with non-negative weights is convex too. Elsewhere the result says
//! why there is none, and the lattice is what guards against a local minimum.
//!
//! The gap is computed in f64 from the analytic gradient, so it carries the rounding of a few
//! sums of the gradient's size: a reported gap of 1e-15 means "zero to rounding".

use super::{Bounds, Laws, Weighting};

/// Whether an optimum is certified, and how closely.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Certificate {
    /// Whether the weighting is convex in `h` on the feasible set.
    pub convex: bool,
    /// For a convex weighting, the duality gap at the refined `h`: its loss exceeds the minimum
    /// by at most this (to rounding).
    pub gap: Option<f64>,
    /// For a non-convex one, why it is not known to be convex.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub why: Option<String>,
}

/// `Ok` if weighting `o` of `laws` is convex in `h`, else the reason of its first target that is
/// not.
pub(super) fn convexity(laws: &Laws, o: &Weighting) -> Result<(), String> {
    for (t, (p, &w)) in laws.params.iter().zip(&o.weights).enumerate() {
        if w < 0.0 {
            return Err(format!("target {} has a negative weight", t + 1));
        }
        if w > 0.0 {
            laws.law
                .convex_in_h(p, &laws.domains)
                .map_err(|e| format!("the {} law of target {}: {e}", laws.law.name(), t + 1))?;
        }
    }
    Ok(())
}

/// The Frank–Wolfe gap of `f` with gradient `g` at `h` over `bounds`: `g·h − min_{s∈P} g·s`, the
/// minimum by filling the boxes above their floors in increasing order of `g`.
pub(super) fn gap(g: &[f64], h: &[f64], bounds: &Bounds) -> f64 {
    let mut order: Vec<usize> = (0..g.len()).collect();
    order.sort_by(|&a, &b| g[a].total_cmp(&g[b]));
    let mut left = 1.0 - bounds.lo.iter().sum::<f64>();
    let mut best: f64 = g.iter().zip(&bounds.lo).map(|(g, l)| g * l).sum();
    for i in order {
        let add = left.min(bounds.hi[i] - bounds.lo[i]).max(0.0);
        best += g[i] * add;
        left -= add;
    }
    let at: f64 = g.iter().zip(h).map(|(g, h)| g * h).sum();
    (at - best).max(0.0)
}

/// The certificate of weighting `o` at `h`.
pub(super) fn certify(laws: &Laws, o: &Weighting, bounds: &Bounds, h: &[f64]) -> Certificate {
    match convexity(laws, o) {
        Ok(()) => {
            let mut g = vec![0.0; h.len()];
            laws.value(o, h, Some(&mut g));
            Certificate {
                convex: true,
                gap: Some(gap(&g, h, bounds)),
                why: None,
            }
        }
        Err(why) => Certificate {
            convex: false,
            gap: None,
            why: Some(why),
        },
    }
}
