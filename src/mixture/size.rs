//! How big a lattice sweep is, counted before it runs.
//!
//! The lattice has `C(r + k − 1, k − 1)` points: 32 million at k = 7, r = 50, but 2.3e19 at the
//! default resolution with 64 domains, which would run for centuries without a word. So the
//! points a request will visit (the feasible ones, times the sweeps a search makes: one per
//! scale, about ninety for a compute budget) are counted first, in saturating u128 arithmetic:
//! above [`LIMIT`] a search is refused with the count and the finest resolution that fits,
//! unless asked to go on; above [`QUIET`] the front end says how many points and roughly how long,
//! timed on a small lattice of the same laws.

use std::time::Instant;

use super::separable::levels;
use super::{lattice_best, Bounds, Laws, Search, Weighting};
use crate::backend::Cpu;
use crate::{Error, Result};

/// Points (all sweeps together) above which a search is refused unless asked to go on.
pub const LIMIT: u128 = 10_000_000_000;

/// Points above which a front end tells the count and the time it expects.
pub const QUIET: u128 = 100_000_000;

/// The feasible points of the lattice of resolution `r` within `bounds`: the number of
/// `j` with `Σ j_i = r` and every `j_i` in its box, by a sum over domains (saturating).
pub fn feasible(bounds: &Bounds, r: usize) -> u128 {
    let Some(levels) = levels(bounds, r) else {
        return 0;
    };
    // ways[s]: choices of the domains so far summing to s.
    let mut ways = vec![0u128; r + 1];
    ways[0] = 1;
    for &(lo, hi) in &levels {
        let mut prefix = vec![0u128; r + 2];
        for s in 0..=r {
            prefix[s + 1] = prefix[s].saturating_add(ways[s]);
        }
        if prefix[r + 1] == u128::MAX {
            // Past u128 the differences below mean nothing; so many points are too many anyway.
            return u128::MAX;
        }
        for (s, w) in ways.iter_mut().enumerate() {
            // Σ ways[s − j] for j in [lo, hi] with s − j ≥ 0.
            *w = match s.checked_sub(lo) {
                Some(top) => prefix[top + 1] - prefix[s.saturating_sub(hi)],
                None => 0,
            };
        }
    }
    ways[r]
}

/// The finest resolution whose `sweeps` sweeps stay within [`LIMIT`] points (at least 1).
fn fitting(bounds: &Bounds, sweeps: u128, r: usize) -> usize {
    let fits = |r: usize| feasible(bounds, r).saturating_mul(sweeps) <= LIMIT;
    let (mut lo, mut hi) = (1, r);
    while lo < hi {
        let mid = lo + (hi - lo).div_ceil(2);
        if fits(mid) {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    lo
}

/// An error for a search of `sweeps` sweeps of the lattice of `r` within `bounds` beyond
/// [`LIMIT`], unless `go_on`; else the points it visits.
pub(super) fn check(bounds: &Bounds, r: usize, sweeps: u128, go_on: bool) -> Result<u128> {
    let points = feasible(bounds, r).saturating_mul(sweeps);
    if points > LIMIT && !go_on {
        let times = match sweeps {
            1 => String::new(),
            n => format!(" ({} points a sweep, {n} sweeps)", feasible(bounds, r)),
        };
        return Err(Error::usage(format!(
            "the lattice at --resolution {r} has {} points{times}, over the limit of {LIMIT:.0e}: \
             --resolution {} fits (the descent refines its best points to the optimum either \
             way), or --large-lattice sweeps it all",
            count_text(points),
            fitting(bounds, sweeps, r),
        )));
    }
    Ok(points)
}

/// A count as digits, or `≥ 3.4e38` when it saturated.
fn count_text(points: u128) -> String {
    match points {
        u128::MAX => format!("at least {:e}", u128::MAX as f64),
        p if p < 1_000_000 => p.to_string(),
        p => format!("{:.3e}", p as f64),
    }
}

/// What a front end tells about a sweep of `points` points in all, when there are more than
/// [`QUIET`]: the count and a time estimate from sweeping a lattice of about 10⁵ points of the
/// same laws and weightings first.
pub(super) fn notice(laws: &Laws, weightings: &[Weighting], points: u128) -> Option<String> {
    if points <= QUIET {
        return None;
    }
    let k = laws.domains.len();
    let r = (1..)
        .take_while(|&r| super::lattice::count(k, r) <= 100_000)
        .last()
        .unwrap_or(1);
    let small = super::lattice::count(k, r) as f64;
    let search = Search {
        resolution: r,
        top: 1,
        max_iter: 0,
    };
    let t = Instant::now();
    lattice_best(laws, weightings, &Bounds::free(k), &search, &Cpu);
    let per_point = t.elapsed().as_secs_f64() / small;
    Some(format!(
        "note: sweeping {} lattice points; about {:.0} s at this machine's pace",
        count_text(points),
        (points as f64 * per_point).max(1.0)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mixture::lattice::count;

    #[test]
    fn feasible_points_are_the_binomial_freely_and_fewer_in_boxes() {
        for (k, r) in [(2, 10), (3, 4), (7, 50), (64, 20)] {
            assert_eq!(feasible(&Bounds::free(k), r), count(k, r), "k={k} r={r}");
        }
        // j_0 ≥ 1 and j_1 ≤ 1 on k = 3, r = 4: j_0 = 1..4, j_1 = 0..min(1, 4 − j_0).
        let b = Bounds {
            lo: vec![0.25, 0.0, 0.0],
            hi: vec![1.0, 0.25, 1.0],
        };
        assert_eq!(feasible(&b, 4), 2 + 2 + 2 + 1);
        let none = Bounds {
            lo: vec![0.6, 0.6],
            hi: vec![1.0, 1.0],
        };
        assert_eq!(feasible(&none, 10), 0);
        // 64 domains at r = 1000 overflow u64 and saturate u128 without a panic.
        assert!(feasible(&Bounds::free(64), 1000) > u64::MAX as u128);
    }

    #[test]
    fn a_lattice_over_the_limit_is_refused_with_one_that_fits() {
        let free = Bounds::free(64);
        let e = check(&free, 20, 1, false).unwrap_err();
        assert!(matches!(e, Error::Usage(_)));
        let msg = e.to_string();
        let r: usize = msg
            .split("--resolution ")
            .nth(2)
            .unwrap()
            .split(' ')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        assert!(count(64, r) <= LIMIT && count(64, r + 1) > LIMIT, "{msg}");
        assert!(msg.contains("--large-lattice"), "{msg}");
        assert_eq!(check(&free, 20, 1, true).unwrap(), count(64, 20));
        // Sweeps multiply: 7 domains at r = 50 fit once but not 400 times.
        let seven = Bounds::free(7);
        assert_eq!(check(&seven, 50, 1, false).unwrap(), 32_468_436);
        assert!(check(&seven, 50, 400, false).is_err());
    }
}
