//! How a residual is scored: the residual kinds, the reductions over rows and the Huber loss.
//!
//! These are the ground floor of the fitting objective, beneath both the laws (whose registry
//! entries name the residual and reduction their literature fits with) and the objective
//! ([`crate::objective::Problem`]) that applies them, so that neither has to import the other.

/// How a residual is formed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Residual {
    /// `L̂ − L`, the paper's choice.
    Raw,
    /// `ln L̂ − ln L`, Hoffmann et al.'s and Epoch's.
    Log,
}

/// How per-row Huber values are combined.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Reduce {
    /// The weighted mean (the paper's).
    Mean,
    /// The weighted sum (Hoffmann et al.'s).
    Sum,
}

/// `Huber_δ(r)` and its derivative `clamp(r, −δ, δ)`.
///
/// Written without a branch so that the objective's row loops vectorise: with `c = min(|r|, δ)`,
/// `c·(|r| − c/2)` is `r²/2` inside (bit for bit: halving is exact) and `δ·(|r| − δ/2)` outside.
/// The minimum and the clamp are comparisons rather than `f64::min` and `clamp`, which must
/// also pick the number out of a NaN pair and cost a vector loop three instructions each; a
/// NaN residual still gives NaN for both.
#[inline]
pub fn huber(r: f64, delta: f64) -> (f64, f64) {
    let a = r.abs();
    let c = if a < delta { a } else { delta };
    let psi = if r > delta { delta } else { r };
    let psi = if psi < -delta { -delta } else { psi };
    (c * (a - 0.5 * c), psi)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn huber_is_quadratic_inside_and_linear_outside() {
        assert_eq!(huber(5e-4, 1e-3), (1.25e-7, 5e-4));
        let (v, d) = huber(-3e-3, 1e-3);
        assert!((v - 1e-3 * (3e-3 - 5e-4)).abs() < 1e-18);
        assert_eq!(d, -1e-3);
        let (v, d) = huber(f64::NAN, 1e-3);
        assert!(v.is_nan() && d.is_nan());
    }
}
