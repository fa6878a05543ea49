//! Everything that decides a fit besides the data, with each law's conventional defaults.

use super::hop::HopSettings;
use super::lbfgs;
use crate::law::{Init, Law, Tolerances};
use crate::loss::{Reduce, Residual};
use crate::{Error, Result};

/// Everything that decides a fit besides the data. Stored in fit files.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct FitSettings {
    /// The residual the Huber loss scores.
    pub residual: Residual,
    /// How per-row losses are combined.
    pub reduce: Reduce,
    /// The Huber threshold δ.
    pub delta: f64,
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
            delta: 1e-3,
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

    /// The errors settings have whatever the data: a Huber threshold or a unit that is not a
    /// positive number.
    pub fn check(&self) -> Result<()> {
        for (name, v) in [
            ("delta", self.delta),
            ("n-unit", self.n_unit),
            ("d-unit", self.d_unit),
        ] {
            if !(v > 0.0 && v.is_finite()) {
                return Err(Error::usage(format!(
                    "--{name} must be a positive number, got {v}"
                )));
            }
        }
        Ok(())
    }
}
