//! A lattice sweep of laws given as sums of per-domain terms, described for a backend that runs
//! it itself (the GPU: `gpu/sweep.rs`).
//!
//! The mixture search owns the sweep (`mixture::separable`: the CPU's exact f64 enumeration);
//! a backend only offers *candidates*: per weighting, lattice points among which its best
//! `top` lie. The caller re-scores them in f64 and keeps the best, so a backend may rank in
//! lower precision as long as it returns enough points to cover its own rounding, or declines
//! (`None`) where it cannot tell.

use crate::law::separable::Separable;

/// Per weighting, a backend's candidate points (levels `j`), or `None` where it declined.
pub type Candidates = Vec<Option<Vec<Vec<usize>>>>;

/// What a backend needs to sweep the simplex lattice `h_i = j_i / r` of `k` domains.
pub struct LatticeSweep<'a> {
    /// Domains.
    pub k: usize,
    /// Resolution.
    pub r: usize,
    /// The swept targets' laws at the scale, all of one law.
    pub laws: &'a [Box<dyn Separable>],
    /// The interval of levels each domain may take (the boxes).
    pub levels: &'a [(usize, usize)],
    /// Per weighting, its non-zero weights as (index into `laws`, weight).
    pub weights: &'a [Vec<(usize, f64)>],
    /// Points the caller keeps per weighting.
    pub top: usize,
}

impl LatticeSweep<'_> {
    /// `cnt[d][left]`: the feasible ways domains `d…k−1` can share `left` levels (`d = k`: one
    /// way to share none), saturating. A sweep that enumerates in rank order uses it to say
    /// which point the `n`-th of a subtree is ([`LatticeSweep::unrank`]).
    pub fn counts(&self) -> Vec<Vec<u64>> {
        let (k, r) = (self.k, self.r);
        let mut cnt = vec![vec![0u64; r + 1]; k + 1];
        cnt[k][0] = 1;
        for d in (0..k).rev() {
            let (lo, hi) = self.levels[d];
            for left in 0..=r {
                cnt[d][left] = (lo..=hi.min(left))
                    .map(|j| cnt[d + 1][left - j])
                    .fold(0u64, u64::saturating_add);
            }
        }
        cnt
    }

    /// What the domains from `i` on can take at least and at most, `Σ_{i' ≥ i}` of their lowest
    /// and highest levels (`k + 1` entries, the last 0): a level is only taken where the domains
    /// after it can still share what is left.
    pub fn rests(levels: &[(usize, usize)]) -> (Vec<usize>, Vec<usize>) {
        let k = levels.len();
        let (mut lo, mut hi) = (vec![0; k + 1], vec![0; k + 1]);
        for i in (0..k).rev() {
            lo[i] = lo[i + 1] + levels[i].0;
            hi[i] = hi[i + 1] + levels[i].1;
        }
        (lo, hi)
    }

    /// The `n`-th feasible point (in rank order) with its first levels `prefix` fixed and
    /// `left` levels for the rest, if there is one.
    pub fn unrank(
        &self,
        cnt: &[Vec<u64>],
        prefix: &[usize],
        left: usize,
        mut n: u64,
    ) -> Option<Vec<usize>> {
        let mut j = prefix.to_vec();
        let mut left = left;
        for d in prefix.len()..self.k {
            let (lo, hi) = self.levels[d];
            let mut chosen = None;
            for v in lo..=hi.min(left) {
                let c = cnt[d + 1][left - v];
                if n < c {
                    chosen = Some(v);
                    break;
                }
                n -= c;
            }
            let v = chosen?;
            j.push(v);
            left -= v;
        }
        Some(j)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unranking_visits_the_feasible_points_in_rank_order() {
        let levels = [(0, 3), (1, 2), (0, 4), (0, 1)];
        let sweep = LatticeSweep {
            k: 4,
            r: 4,
            laws: &[],
            levels: &levels,
            weights: &[],
            top: 1,
        };
        // Every composition of 4 into 4 parts within the boxes, in lexicographic order.
        let mut want = Vec::new();
        for a in 0..=4usize {
            for b in 0..=4 - a {
                for c in 0..=4 - a - b {
                    let d = 4 - a - b - c;
                    let j = [a, b, c, d];
                    if j.iter()
                        .zip(&levels)
                        .all(|(v, (lo, hi))| v >= lo && v <= hi)
                    {
                        want.push(j.to_vec());
                    }
                }
            }
        }
        let cnt = sweep.counts();
        assert_eq!(cnt[0][4], want.len() as u64);
        let got: Vec<Vec<usize>> = (0..want.len() as u64)
            .map(|n| sweep.unrank(&cnt, &[], 4, n).unwrap())
            .collect();
        assert_eq!(got, want);
        assert_eq!(sweep.unrank(&cnt, &[], 4, want.len() as u64), None);
        // Under a prefix: the points starting with j_0 = 1.
        let under: Vec<&Vec<usize>> = want.iter().filter(|j| j[0] == 1).collect();
        for (n, j) in under.iter().enumerate() {
            assert_eq!(sweep.unrank(&cnt, &[1], 3, n as u64).as_ref(), Some(*j));
        }
    }
}
