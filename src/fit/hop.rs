//! Basin-hopping (Wales & Doye 1997, as in `scipy.optimize.basinhopping`), the paper's optimiser.
//!
//! Several chains hop at once: each hop perturbs every chain's current minimum by a uniform
//! displacement in internal coordinates, re-minimises all the perturbed points as one batch, and
//! accepts each chain's new minimum by the Metropolis rule at `temperature` (on the optimiser's
//! scaled objective). The lowest minimum any chain visits is kept.

use super::batch::{minimize, Outcome};
use super::lbfgs::Settings;
use crate::backend::Backend;
use crate::objective::Problem;
use crate::rng::Rng;

/// How to hop.
#[derive(Clone, Copy, Debug, serde::Serialize, serde::Deserialize)]
pub struct HopSettings {
    /// Hops per chain (0: no basin-hopping).
    pub hops: usize,
    /// Half-width of the uniform displacement, per internal coordinate (scipy's `stepsize`).
    pub step: f64,
    /// The Metropolis temperature, on the optimiser's scaled objective.
    pub temperature: f64,
}

/// Run `settings.hops` hops from each of `chains`; returns each chain's lowest minimum.
pub fn basin_hop(
    problem: &Problem,
    chains: Vec<Outcome>,
    settings: &HopSettings,
    solver: &Settings,
    backend: &dyn Backend,
    rng: &mut Rng,
    progress: &mut (dyn FnMut(usize, usize) + Send),
) -> Vec<Outcome> {
    let mut current = chains.clone();
    let mut best = chains;
    for hop in 0..settings.hops {
        let starts: Vec<Vec<f64>> = current
            .iter()
            .map(|c| {
                let mut t: Vec<f64> = c
                    .theta
                    .iter()
                    .map(|v| v + rng.range(-settings.step, settings.step))
                    .collect();
                problem.coords().project(&mut t);
                t
            })
            .collect();
        let found = minimize(problem, starts, solver, backend, &mut |_, _| {});
        for ((cur, top), new) in current.iter_mut().zip(best.iter_mut()).zip(found) {
            let accept = new.f < cur.f
                || (new.f.is_finite()
                    && rng.uniform() < (-(new.f - cur.f) / settings.temperature).exp());
            if new.f < top.f {
                *top = new.clone();
            }
            if accept {
                *cur = new;
            }
        }
        progress(hop + 1, settings.hops);
    }
    best
}
