//! Resampling plans: which weight every row of the table gets in replicate `j`.
//!
//! A bootstrap replicate is a multiset of the observations, so it is expressed as integer row
//! weights (how often each row was drawn) rather than as a copied table: every replicate then
//! shares the rows already on the device and differs only in its weight set. A replicate's
//! weights depend on nothing but `(seed, j)`, which is what lets a shard draw replicate `j`
//! exactly as a whole run would.

use crate::data::Dataset;
use crate::rng::Rng;

/// What is drawn with replacement.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Resample {
    /// Rows: multinomial counts over the table's rows.
    Rows,
    /// Whole runs: the rows of one (mixture, N), its checkpoints, are drawn together, since
    /// the checkpoints of one run share its noise and are not independent observations.
    Runs,
}

/// Streams of a replicate's generator (a salt keeps them apart from the fit's start streams).
const SALT: u64 = 0xB007_57A9_0000_0000;

/// The generator of replicate `j` for `purpose` (0: resampling, 1: starts).
pub fn rng(seed: u64, j: u64, purpose: u64) -> Rng {
    Rng::new(seed ^ SALT, 2 * j + purpose)
}

/// Runs among `rows` of `ds`: for each, the index of its (mixture, N) group, in order of first
/// appearance.
pub fn runs(ds: &Dataset, rows: &[usize]) -> Vec<usize> {
    let mut keys: Vec<Vec<u64>> = Vec::new();
    rows.iter()
        .map(|&r| {
            let key: Vec<u64> = std::iter::once(ds.n[r].to_bits())
                .chain(ds.h_row(r).iter().map(|v| v.to_bits()))
                .collect();
            match keys.iter().position(|k| *k == key) {
                Some(i) => i,
                None => {
                    keys.push(key);
                    keys.len() - 1
                }
            }
        })
        .collect()
}

/// A plan over some rows of a table (those a target is fitted on): how they group into
/// resampling units. Targets fitted on the same rows get the same draws.
#[derive(Clone, Debug)]
pub struct Plan {
    /// The unit of each planned row (a run, or the row itself).
    unit: Vec<usize>,
    units: usize,
    seed: u64,
}

impl Plan {
    /// A plan over `rows` of `ds`, grouped into units as `resample` says; `seed` decides every
    /// replicate's draws.
    pub fn new(ds: &Dataset, rows: &[usize], resample: Resample, seed: u64) -> Self {
        let unit = match resample {
            Resample::Rows => (0..rows.len()).collect(),
            Resample::Runs => runs(ds, rows),
        };
        let units = unit.iter().max().map_or(0, |m| m + 1);
        Plan { unit, units, seed }
    }

    /// How many units are drawn per replicate.
    pub fn units(&self) -> usize {
        self.units
    }

    /// Replicate `j`'s weight of every planned row: how many times its unit was drawn in
    /// `units()` draws with replacement.
    pub fn weights(&self, j: u64) -> Vec<f64> {
        let mut rng = rng(self.seed, j, 0);
        let mut counts = vec![0u32; self.units];
        for _ in 0..self.units {
            counts[rng.below(self.units)] += 1;
        }
        self.unit.iter().map(|&u| counts[u] as f64).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> Dataset {
        // Two runs (mixtures) at each of two sizes, three checkpoints each.
        let mut ds = Dataset {
            source: "t.csv".into(),
            domains: vec!["a".into(), "b".into()],
            h: vec![],
            n: vec![],
            d: vec![],
            targets: vec![],
            row_ids: vec![],
            duplicates_dropped: 0,
            filtered_out: 0,
            notices: vec![],
            groups: None,
        };
        for n in [1e8, 3e8] {
            for h in [[0.3, 0.7], [0.6, 0.4]] {
                for d in [1e9, 2e9, 4e9] {
                    ds.n.push(n);
                    ds.d.push(d);
                    ds.h.extend(h);
                    ds.row_ids.push(ds.row_ids.len() + 2);
                }
            }
        }
        ds
    }

    fn all(ds: &Dataset) -> Vec<usize> {
        (0..ds.rows()).collect()
    }

    #[test]
    fn only_the_planned_rows_are_drawn() {
        let ds = table();
        let plan = Plan::new(&ds, &[1, 4, 7], Resample::Rows, 3);
        assert_eq!(plan.units(), 3);
        for j in 0..10 {
            let w = plan.weights(j);
            assert_eq!((w.len(), w.iter().sum::<f64>()), (3, 3.0));
        }
    }

    #[test]
    fn row_weights_are_multinomial_counts_reproducible_from_seed_and_replicate() {
        let ds = table();
        let plan = Plan::new(&ds, &all(&ds), Resample::Rows, 7);
        assert_eq!(plan.units(), 12);
        let w = plan.weights(3);
        assert_eq!(w.iter().sum::<f64>(), 12.0);
        assert!(w.iter().all(|v| v.fract() == 0.0 && *v >= 0.0));
        assert_eq!(w, Plan::new(&ds, &all(&ds), Resample::Rows, 7).weights(3));
        assert_ne!(w, plan.weights(4));
        assert_ne!(w, Plan::new(&ds, &all(&ds), Resample::Rows, 8).weights(3));
    }

    #[test]
    fn run_resampling_keeps_the_checkpoints_of_a_run_together() {
        let ds = table();
        assert_eq!(runs(&ds, &all(&ds)), [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3]);
        assert_eq!(runs(&ds, &[4, 5, 9, 0]), [0, 0, 1, 2]);
        let plan = Plan::new(&ds, &all(&ds), Resample::Runs, 1);
        assert_eq!(plan.units(), 4);
        for j in 0..20 {
            let w = plan.weights(j);
            assert_eq!(w.iter().sum::<f64>(), 12.0, "4 runs of 3 checkpoints");
            for run in w.chunks(3) {
                assert!(run.iter().all(|&v| v == run[0]), "replicate {j}: {w:?}");
            }
        }
    }

    #[test]
    fn every_row_is_drawn_about_once_on_average() {
        let ds = table();
        let plan = Plan::new(&ds, &all(&ds), Resample::Rows, 2);
        let mut mean = vec![0.0; 12];
        let b = 4000;
        for j in 0..b {
            for (m, w) in mean.iter_mut().zip(plan.weights(j)) {
                *m += w / b as f64;
            }
        }
        // Each count is Binomial(12, 1/12): variance 11/12, so the mean of 4000 has sd 0.015.
        assert!(mean.iter().all(|m| (m - 1.0).abs() < 0.08), "{mean:?}");
    }
}
