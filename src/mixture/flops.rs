//! Compute-optimal search: with a budget of `C` FLOP, the model size `N` (with `D = C/(6N)`)
//! and the mixture that minimise a weighting together.

use super::{minimize, Bounds, Laws, Search, Solution, Weighting};
use crate::backend::Backend;
use crate::fit::Units;
use crate::Result;

/// Points of the scan of `ln N` over [1e6, 1e13], less one.
const STEPS: usize = 28;

/// The width in `ln N` at which the golden-section refinement stops.
const TOLERANCE: f64 = 1e-6;

/// The lattice sweeps one budget search makes: the scan's, two per golden-section step (whose
/// interval shrinks by the same factor whichever side it keeps), and the last.
pub(super) fn sweeps() -> u128 {
    let phi = (5f64.sqrt() - 1.0) / 2.0;
    let mut width = 2.0 * (1e13f64.ln() - 1e6f64.ln()) / STEPS as f64;
    let mut steps = 0;
    while width > TOLERANCE {
        width *= phi;
        steps += 1;
    }
    (STEPS as u128 + 1) + 2 * steps + 1
}

/// The `N` (raw parameters; `D = C/(6N)` tokens) and optimal mixture minimising `w` at a budget
/// of `c` FLOP: a scan of `ln N` over [1e6, 1e13] followed by golden-section refinement around
/// the best point. `laws` is moved to each scale tried (`units` converts raw N and D into its
/// fit units) and left at the last.
pub fn at_flops(
    laws: &mut Laws,
    units: Units,
    w: &Weighting,
    bounds: &Bounds,
    search: &Search,
    backend: &dyn Backend,
    c: f64,
) -> Result<(f64, Solution)> {
    let mut solve = |ln_n: f64| -> Result<Solution> {
        let n = ln_n.exp();
        laws.n = n / units.n;
        laws.d = c / (6.0 * n) / units.d;
        Ok(minimize(laws, std::slice::from_ref(w), bounds, search, backend)?.remove(0))
    };
    let (lo, hi) = (1e6f64.ln(), 1e13f64.ln());
    let steps = STEPS;
    let grid: Vec<f64> = (0..=steps)
        .map(|i| lo + (hi - lo) * i as f64 / steps as f64)
        .collect();
    let mut best = (0, f64::INFINITY);
    for (i, &x) in grid.iter().enumerate() {
        let v = solve(x)?.loss;
        if v < best.1 {
            best = (i, v);
        }
    }
    let (mut a, mut b) = (
        grid[best.0.saturating_sub(1)],
        grid[(best.0 + 1).min(steps)],
    );
    let phi = (5f64.sqrt() - 1.0) / 2.0;
    while b - a > TOLERANCE {
        let (x1, x2) = (b - phi * (b - a), a + phi * (b - a));
        if solve(x1)?.loss < solve(x2)?.loss {
            b = x2;
        } else {
            a = x1;
        }
    }
    let x = 0.5 * (a + b);
    Ok((x.exp(), solve(x)?))
}
