//! Everything that decides a fit besides the data, with each law's conventional defaults.

use super::hop::HopSettings;
use super::lbfgs;
use crate::law::{Init, Law, Tolerances};
use crate::loss::{Loss, LossKind, Reduce, Residual};
use crate::{Error, Result};

/// Everything that decides a fit besides the data. Stored in fit files.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct FitSettings {
    /// The residual the loss scores.
    pub residual: Residual,
    /// How per-row losses are combined.
    pub reduce: Reduce,
    /// The loss (huber unless a fit file says otherwise; written only when it is not huber, so
    /// that huber fits' files read and write exactly as before losses were a setting).
    #[serde(default, skip_serializing_if = "is_huber")]
    pub loss: LossKind,
    /// The loss's width δ: the Huber threshold; for mae the width of the smoothed stand-in the
    /// exploration minimises (polishing narrows it); for mse only the optimiser's scale.
    pub delta: f64,
    /// Rows whose law predicts more than was observed weigh this many times more (1:
    /// symmetric; written only when it is not 1).
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub overestimate_penalty: f64,
    /// Where starts come from.
    pub init: Init,
    /// Random starts, or for the grid the first `starts` grid points (0: all).
    pub starts: usize,
    /// Seed of the starts and hops.
    pub seed: u64,
    /// Basin-hopping.
    pub hop: HopSettings,
    /// How many of the best starts basin-hop.
    pub hop_chains: usize,
    /// Tolerances for exploring from every start.
    pub solver: lbfgs::Settings,
    /// How many of the best distinct minima are polished afterwards.
    pub polish: usize,
    /// Tolerances for polishing.
    pub polish_solver: lbfgs::Settings,
    /// Fit the law nested in this one first (additive inside joint, joint inside full) and add
    /// its optimum as one more start.
    pub nest: bool,
    /// N is divided by this before the law sees it (1e6: N in millions).
    pub n_unit: f64,
    /// D is divided by this before the law sees it (1e9: D in billions).
    pub d_unit: f64,
}

impl FitSettings {
    /// The conventions of the law's home literature ([`Law::conventions`]: Hoffmann/Epoch's
    /// log-residual, summed, grid-started fit for chinchilla; the paper's mean Huber on raw loss
    /// with random starts for the mixture laws), and mixlaw's defaults for everything else.
    pub fn defaults_for(law: &Law) -> Self {
        let c = law.conventions();
        FitSettings {
            residual: c.residual,
            reduce: c.reduce,
            loss: LossKind::Huber,
            delta: 1e-3,
            overestimate_penalty: 1.0,
            init: c.init,
            starts: c.starts,
            seed: 0,
            hop: HopSettings {
                hops: 0,
                step: 0.5,
                temperature: 1.0,
            },
            hop_chains: 8,
            solver: match c.tolerances {
                Tolerances::Scipy => lbfgs::Settings::scipy(),
                Tolerances::Tight => lbfgs::Settings::default(),
            },
            polish: 8,
            nest: true,
            polish_solver: lbfgs::Settings::polish(),
            n_unit: 1e6,
            d_unit: 1e9,
        }
    }

    /// The loss these settings fit with.
    pub fn loss(&self) -> Loss {
        Loss {
            kind: self.loss,
            delta: self.delta,
            penalty: self.overestimate_penalty,
        }
    }

    /// The fitted objective in words, e.g. `mean asymmetric MAE, W = 10, raw residual`.
    pub fn objective_name(&self) -> String {
        self.loss().describe(self.residual, self.reduce)
    }

    /// Whether the objective is the default one (symmetric Huber), which summaries name only
    /// when it is not, so that their text stays what it was before losses were a setting.
    pub fn default_loss(&self) -> bool {
        is_huber(&self.loss) && is_one(&self.overestimate_penalty)
    }

    /// The errors settings have whatever the data: a loss width, overestimate penalty or unit
    /// that is not a positive normal number (a subnormal one, 1e-320, overflows what is divided
    /// by it: every start of a fit with `--n-unit 1e-320` failed), a tolerance that is not a
    /// non-negative one.
    pub fn check(&self) -> Result<()> {
        for (name, v) in [
            ("delta", self.delta),
            ("overestimate-penalty", self.overestimate_penalty),
            ("n-unit", self.n_unit),
            ("d-unit", self.d_unit),
        ] {
            if !(v > 0.0 && v.is_normal()) {
                return Err(Error::usage(format!(
                    "--{name} must be a positive number from {:e} up, got {}",
                    f64::MIN_POSITIVE,
                    crate::error::number(v)
                )));
            }
        }
        for (name, v) in [("ftol", self.solver.ftol), ("gtol", self.solver.gtol)] {
            if !(v >= 0.0 && v.is_finite()) {
                return Err(Error::usage(format!(
                    "--{name} must be a non-negative number, got {v}"
                )));
            }
        }
        Ok(())
    }
}

fn is_huber(kind: &LossKind) -> bool {
    *kind == LossKind::Huber
}

fn one() -> f64 {
    1.0
}

fn is_one(v: &f64) -> bool {
    *v == 1.0
}
