//! How a residual is scored: the residual kinds, the reductions over rows and the losses
//! (Huber, squared error, absolute error, each optionally weighing over-predictions more).
//!
//! These are the ground floor of the fitting objective, beneath both the laws (whose registry
//! entries name the residual and reduction their literature fits with) and the objective
//! ([`crate::objective::Problem`]) that applies them, so that neither has to import the other.
//!
//! A [`Loss`] gives two things per residual: the value and derivative the optimiser sees
//! ([`Loss::smoothed`]) and the exact value that fits report ([`Loss::exact`]). They are the same
//! for the smooth losses (Huber, squared error); for the absolute error, whose kink at 0 no
//! gradient method can sit on, the optimiser sees a smoothed stand-in whose width a fit shrinks
//! while polishing, and every reported objective is the exact one.

/// How a residual is formed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Residual {
    /// `L̂ − L`, the paper's choice.
    Raw,
    /// `ln L̂ − ln L`, Hoffmann et al.'s and Epoch's.
    Log,
}

/// How per-row losses are combined.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Reduce {
    /// The weighted mean `Σ w·loss / Σ w` (the paper's).
    Mean,
    /// The weighted sum `Σ w·loss` (Hoffmann et al.'s).
    Sum,
}

/// Which function of the residual a fit minimises.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LossKind {
    /// `Huber_δ(r)`: `r²/2` for `|r| ≤ δ`, `δ·(|r| − δ/2)` beyond (Hoffmann et al., the paper).
    #[default]
    Huber,
    /// `r²`, least squares.
    Mse,
    /// `|r|`, least absolute deviations (non-smooth: optimised through a smoothed stand-in).
    Mae,
}

impl LossKind {
    /// Whether the optimiser minimises the loss itself (Huber, squared error) rather than a
    /// smoothed stand-in of it (absolute error).
    pub fn is_smooth(self) -> bool {
        !matches!(self, LossKind::Mae)
    }

    /// The name used on the command line and in fit files.
    pub fn name(self) -> &'static str {
        match self {
            LossKind::Huber => "huber",
            LossKind::Mse => "mse",
            LossKind::Mae => "mae",
        }
    }
}

/// The loss of one residual `r`: its kind, the width δ and the overestimate penalty `W`.
///
/// The penalty multiplies the loss of a row whose law predicts more than was observed (`r > 0`,
/// for the raw and the log residual alike) by `W`, and leaves the others as they are: with the
/// absolute error and `W = 10` the mean is kyo-takano's asymmetric MAE,
/// `mean(where(r > 0, W·r, −r))`. Every smoothed loss has a continuous derivative that is 0 at
/// `r = 0`, so the penalty keeps it continuous.
///
/// What δ means depends on the kind:
/// * **huber**: the threshold between the quadratic and the linear branch;
/// * **mae**: the width of the smoothed stand-in, `Huber_δ(r)/δ` (`r²/(2δ)` within δ, `|r| − δ/2`
///   beyond), which lies within δ/2 below `|r|` everywhere and equals `|r| − δ/2` outside the
///   band, so its minimiser tends to the absolute error's as δ shrinks;
/// * **mse**: nothing about the loss; it only sets the scale the optimiser sees (see
///   [`Loss::scale`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Loss {
    /// Which function.
    pub kind: LossKind,
    /// The width δ (see the type's documentation).
    pub delta: f64,
    /// The overestimate penalty `W` (1: symmetric).
    pub penalty: f64,
}

impl Loss {
    /// Huber with threshold `delta`, symmetric: the default loss.
    pub fn huber(delta: f64) -> Self {
        Loss {
            kind: LossKind::Huber,
            delta,
            penalty: 1.0,
        }
    }

    /// The penalty's factor at residual `r`: `W` for an over-prediction (`r > 0`), else 1.
    #[inline(always)]
    fn factor(&self, r: f64) -> f64 {
        if r > 0.0 {
            self.penalty
        } else {
            1.0
        }
    }

    /// The value and derivative in `r` that the optimiser sees at residual `r`, before
    /// [`Loss::scale`]: the loss itself for huber and mse, `Huber_δ(r)/δ` for mae, each times
    /// the penalty's factor. Branch-free (selects only), so that the row loops vectorise; a NaN
    /// residual gives NaN.
    #[inline(always)]
    pub fn smoothed(&self, r: f64) -> (f64, f64) {
        let (v, d) = match self.kind {
            LossKind::Huber => huber(r, self.delta),
            LossKind::Mse => (r * r, 2.0 * r),
            LossKind::Mae => {
                let inv = 1.0 / self.delta;
                let (v, d) = huber(r, self.delta);
                (v * inv, d * inv)
            }
        };
        let m = self.factor(r);
        (v * m, d * m)
    }

    /// The exact loss at residual `r`, times the penalty's factor: what fits report.
    #[inline(always)]
    pub fn exact(&self, r: f64) -> f64 {
        match self.kind {
            LossKind::Huber | LossKind::Mse => self.smoothed(r).0,
            LossKind::Mae => r.abs() * self.factor(r),
        }
    }

    /// What the optimiser multiplies the (smoothed) objective by, so that its tolerances mean
    /// the same for every loss: `1/δ` for huber, whose values (~1e-5 at δ = 1e-3) and gradients
    /// would otherwise stop any sensible tolerance before anything is fitted; `1/(2δ)` for mse,
    /// so that it sees exactly what it sees for huber wherever every residual is within δ
    /// (`r²/(2δ)` both); 1 for mae, whose stand-in `Huber_δ/δ` is already on the scale of `|r|`
    /// (and at the exploring width is exactly huber's scaled objective).
    pub fn scale(&self) -> f64 {
        match self.kind {
            LossKind::Huber => 1.0 / self.delta,
            LossKind::Mse => 1.0 / (2.0 * self.delta),
            LossKind::Mae => 1.0,
        }
    }

    /// `f` divided by [`Loss::scale`]: a scaled objective back in the loss's own units.
    pub fn unscale(&self, f: f64) -> f64 {
        match self.kind {
            LossKind::Huber => f * self.delta,
            LossKind::Mse => f * (2.0 * self.delta),
            LossKind::Mae => f,
        }
    }

    /// This loss with its width divided by `by` (the continuation steps of a non-smooth loss).
    pub fn narrowed(&self, by: f64) -> Self {
        Loss {
            delta: self.delta / by,
            ..*self
        }
    }

    /// The objective in words, e.g. `mean asymmetric MAE, W = 10, raw residual`.
    pub fn describe(&self, residual: Residual, reduce: Reduce) -> String {
        let reduce = match reduce {
            Reduce::Mean => "mean",
            Reduce::Sum => "summed",
        };
        let residual = match residual {
            Residual::Raw => "raw",
            Residual::Log => "log",
        };
        let what = match self.kind {
            LossKind::Huber => format!("Huber (δ = {})", self.delta),
            LossKind::Mse => "MSE".to_string(),
            LossKind::Mae => "MAE".to_string(),
        };
        if self.penalty == 1.0 {
            format!("{reduce} {what}, {residual} residual")
        } else {
            let w = self.penalty;
            format!("{reduce} asymmetric {what}, W = {w}, {residual} residual")
        }
    }
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

    fn loss(kind: LossKind, penalty: f64) -> Loss {
        Loss {
            kind,
            delta: 1e-3,
            penalty,
        }
    }

    /// Without a penalty the default loss is `huber` itself, bit for bit (the fits of every
    /// earlier version are reproduced exactly).
    #[test]
    fn symmetric_huber_is_the_huber_function() {
        let l = Loss::huber(1e-3);
        for r in [-3e-3, -1e-3, -5e-4, 0.0, 2e-4, 1e-3, 0.02] {
            assert_eq!(l.smoothed(r), huber(r, 1e-3));
            assert_eq!(l.exact(r), huber(r, 1e-3).0);
        }
    }

    /// The exact values: `r²`, `|r|`, Huber; over-predictions (`r > 0`) times W.
    #[test]
    fn exact_values_and_the_penalty() {
        for w in [1.0, 10.0] {
            assert_eq!(loss(LossKind::Mse, w).exact(-0.5), 0.25);
            assert_eq!(loss(LossKind::Mse, w).exact(0.5), 0.25 * w);
            assert_eq!(loss(LossKind::Mae, w).exact(-0.5), 0.5);
            assert_eq!(loss(LossKind::Mae, w).exact(0.5), 0.5 * w);
            assert_eq!(loss(LossKind::Mae, w).exact(0.0), 0.0);
            let h = huber(0.5, 1e-3).0;
            assert_eq!(loss(LossKind::Huber, w).exact(0.5), h * w);
            assert_eq!(loss(LossKind::Huber, w).exact(-0.5), h);
        }
    }

    /// The smoothed absolute error lies within δ/2 below `|r|` and is `|r| − δ/2` outside the
    /// band; every smoothed loss's derivative is its value's (central differences), also
    /// across 0 and the band's edges, where the penalty switches.
    #[test]
    fn smoothed_losses_and_their_derivatives() {
        for kind in [LossKind::Huber, LossKind::Mse, LossKind::Mae] {
            for w in [1.0, 10.0] {
                let l = loss(kind, w);
                for r in [-0.3, -1e-3, -4e-4, -1e-9, 0.0, 1e-9, 7e-4, 1e-3, 2e-3, 0.3] {
                    let (v, d) = l.smoothed(r);
                    let h = 1e-9;
                    let fd = (l.smoothed(r + h).0 - l.smoothed(r - h).0) / (2.0 * h);
                    let tol = 1e-5 * (1.0 + d.abs());
                    assert!((fd - d).abs() <= tol, "{kind:?} W={w} r={r}: {d} vs {fd}");
                    if kind == LossKind::Mae {
                        let e = l.exact(r);
                        let m = if r > 0.0 { w } else { 1.0 };
                        assert!(v <= e && e - v <= m * 5e-4 * (1.0 + 1e-12), "r={r}");
                        if r.abs() >= 1e-3 {
                            assert!((v - m * (r.abs() - 5e-4)).abs() <= 1e-15, "r={r}");
                        }
                    }
                }
            }
        }
        // Scaled, mse is huber where every residual is within δ, and mae's stand-in at the
        // same width is huber's scaled objective.
        let (h, m, a) = (
            loss(LossKind::Huber, 1.0),
            loss(LossKind::Mse, 1.0),
            loss(LossKind::Mae, 1.0),
        );
        for r in [-8e-4, 3e-4] {
            let want = h.smoothed(r).0 * h.scale();
            assert!((m.smoothed(r).0 * m.scale() - want).abs() <= 1e-15 * want);
        }
        for r in [-8e-4, 3e-4, 0.2] {
            let want = h.smoothed(r).0 * h.scale();
            assert!((a.smoothed(r).0 * a.scale() - want).abs() <= 1e-15 * want);
        }
        for l in [h, m, a] {
            assert!((l.unscale(l.scale() * 0.37) - 0.37).abs() < 1e-15);
        }
    }

    #[test]
    fn descriptions_name_the_objective() {
        let l = Loss {
            kind: LossKind::Mae,
            delta: 1e-3,
            penalty: 10.0,
        };
        assert_eq!(
            l.describe(Residual::Raw, Reduce::Mean),
            "mean asymmetric MAE, W = 10, raw residual"
        );
        assert_eq!(
            Loss::huber(1e-3).describe(Residual::Log, Reduce::Sum),
            "summed Huber (δ = 0.001), log residual"
        );
    }
}
