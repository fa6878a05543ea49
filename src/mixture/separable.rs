//! The lattice sweep of laws whose mixture enters through sums of per-domain terms
//! ([`crate::law::separable`]): every built-in mixture law.
//!
//! # Why it is shaped this way
//!
//! A point of the lattice `h_i = j_i / r` differs from its neighbour in the enumeration in one
//! or two weights, and each per-domain term takes only `r + 1` values, so evaluating every
//! candidate from scratch (`k` powers per target) repeats almost all of its work. Here each
//! target's terms are tabulated once per domain and level; a depth-first enumeration in rank
//! (lexicographic) order carries the partial sums of the domains fixed so far, so a candidate
//! costs one or two additions per sum and target plus the law's outer function (a reciprocal for
//! the additive law).
//!
//! * **Lines.** The last two weights are enumerated together: with `j_0 … j_{k−3}` fixed and `R`
//!   left, `j_{k−2} = v` and `j_{k−1} = R − v`. The last domain's table is stored reversed, so
//!   both tables are read contiguously and a line's sums are one loop that vectorises.
//! * **Blocks.** Lines are gathered into a buffer of a few hundred points before the laws' outer
//!   functions, the weightings' sums and the top-K scans run over it, so those are long loops
//!   too (and the outer function is one dynamic call per block, not per point).
//! * **Constraints prune.** `--min/--max/--available` are boxes, so each domain's feasible levels
//!   form an interval; a weight is only enumerated where the domains after it can still take
//!   what is left, so no infeasible point (or subtree) is ever visited.
//! * **Threads** take subtrees under the first one or two weights; each keeps its own top-K per
//!   weighting ([`Top`]), merged in an order that does not depend on the split.
//!
//! The sums are added in the order the laws' `eval` adds them (domain 0 first, from 0.0), with
//! the same terms, so the predictions, and hence the lattice best, are bit for bit those of
//! evaluating each point with the law (what the batched sweep of the parent module does). One
//! difference: a weighting's value sums only its non-zero weights, where the batched sweep also
//! adds `0 · L_t` of the other targets (which is NaN where some `L_t` is infinite).

use rayon::prelude::*;

use super::top::{self, Top};
use super::{Bounds, Laws, Weighting};
use crate::backend::{Backend, Cpu, LatticeSweep};
use crate::law::separable::Separable;

/// A weighting's best lattice points, `(value, h)`, best first.
type Points = Vec<(f64, Vec<f64>)>;

/// The interval of levels `j` each domain may take, as [`Bounds::contains`] judges `j / r`
/// (`None` if some domain has none).
pub(super) fn levels(bounds: &Bounds, r: usize) -> Option<Vec<(usize, usize)>> {
    (0..bounds.lo.len())
        .map(|i| {
            let ok = |j: usize| {
                let h = j as f64 / r as f64;
                h >= bounds.lo[i] - 1e-12 && h <= bounds.hi[i] + 1e-12
            };
            let lo = (0..=r).find(|&j| ok(j))?;
            let hi = (lo..=r).rev().find(|&j| ok(j))?;
            Some((lo, hi))
        })
        .collect()
}

/// What every thread of one sweep reads.
struct Plan {
    k: usize,
    r: usize,
    /// Sums per target.
    m: usize,
    /// The swept targets' laws at the scale.
    laws: Vec<Box<dyn Separable>>,
    /// Term tables: sum `q` of swept target `t`, domain `i`, level `j` at
    /// `((t·m + q)·k + i)·(r + 1) + j`; the last domain's reversed (level `r − j` at `j`).
    tables: Vec<f64>,
    levels: Vec<(usize, usize)>,
    /// `Σ_{i' ≥ i}` of the lowest and highest levels (one entry past the end: 0).
    rest_lo: Vec<usize>,
    rest_hi: Vec<usize>,
    /// Per weighting, its non-zero weights as (swept target, weight).
    weights: Vec<Vec<(usize, f64)>>,
    top: usize,
    /// Points per block.
    cap: usize,
}

impl Plan {
    fn table(&self, tq: usize, i: usize) -> &[f64] {
        let w = self.r + 1;
        &self.tables[(tq * self.k + i) * w..][..w]
    }

    /// The levels domain `i` may take with `left` to share among it and the domains after it.
    fn range(&self, i: usize, left: usize) -> Option<(usize, usize)> {
        let (lo, hi) = self.levels[i];
        let lo = lo.max(left.saturating_sub(self.rest_hi[i + 1]));
        let hi = hi.min(left.checked_sub(self.rest_lo[i + 1])?);
        (lo <= hi).then_some((lo, hi))
    }
}

/// One thread's buffers and best points.
struct Scratch {
    /// Partial sums before domain `d` at `d · (targets·m)`.
    partial: Vec<f64>,
    j: Vec<usize>,
    /// The block's sums: sum `q` of target `t`, point `c` at `(t·m + q)·cap + c`.
    sums: Vec<f64>,
    pred: Vec<f64>,
    value: Vec<f64>,
    fill: usize,
    /// The block's lines: (first point, first v, v's count, R), and their prefixes `j_0…j_{k−3}`.
    lines: Vec<(usize, usize, usize, usize)>,
    prefixes: Vec<usize>,
    tops: Vec<Top>,
}

impl Scratch {
    fn new(p: &Plan) -> Self {
        let tm = p.laws.len() * p.m;
        Scratch {
            partial: vec![0.0; (p.k + 1) * tm],
            j: vec![0; p.k],
            sums: vec![0.0; tm * p.cap],
            pred: vec![0.0; p.laws.len() * p.cap],
            value: vec![0.0; p.cap],
            fill: 0,
            lines: Vec::new(),
            prefixes: Vec::new(),
            tops: p.weights.iter().map(|_| Top::new(p.top)).collect(),
        }
    }

    /// Fix `j_d = j`: the partial sums before domain `d + 1`.
    fn fix(&mut self, p: &Plan, d: usize, j: usize) {
        let tm = p.laws.len() * p.m;
        self.j[d] = j;
        let (before, after) = self.partial.split_at_mut((d + 1) * tm);
        for (tq, (a, b)) in after[..tm].iter_mut().zip(&before[d * tm..]).enumerate() {
            *a = b + p.table(tq, d)[j];
        }
    }

    /// Every point under the fixed `j_0 … j_{d−1}` with `left` levels still to share.
    fn descend(&mut self, p: &Plan, d: usize, left: usize) {
        if d + 2 == p.k {
            return self.line(p, left);
        }
        let Some((lo, hi)) = p.range(d, left) else {
            return;
        };
        for j in lo..=hi {
            self.fix(p, d, j);
            self.descend(p, d + 1, left - j);
        }
    }

    /// The points `j_{k−2} = v`, `j_{k−1} = left − v` into the block.
    fn line(&mut self, p: &Plan, left: usize) {
        let (k, r) = (p.k, p.r);
        let Some((lo, hi)) = p.range(k - 2, left) else {
            return;
        };
        let n = hi - lo + 1;
        if self.fill + n > p.cap {
            self.flush(p);
        }
        let tm = p.laws.len() * p.m;
        let at = self.fill;
        for tq in 0..tm {
            let base = self.partial[(k - 2) * tm + tq];
            let a = &p.table(tq, k - 2)[lo..=hi];
            let b = &p.table(tq, k - 1)[r - left + lo..=r - left + hi];
            let out = &mut self.sums[tq * p.cap + at..][..n];
            for ((o, x), y) in out.iter_mut().zip(a).zip(b) {
                *o = (base + x) + y;
            }
        }
        self.lines.push((at, lo, n, left));
        self.prefixes.extend_from_slice(&self.j[..k - 2]);
        self.fill += n;
    }

    /// Predict, weigh and rank the block's points.
    fn flush(&mut self, p: &Plan) {
        let (n, cap, r) = (self.fill, p.cap, p.r as f64);
        if n == 0 {
            return;
        }
        for (t, law) in p.laws.iter().enumerate() {
            let sums = &self.sums[t * p.m * cap..(t + 1) * p.m * cap];
            law.outer(sums, cap, &mut self.pred[t * cap..t * cap + n]);
        }
        let pre = p.k - 2;
        for (weights, top) in p.weights.iter().zip(&mut self.tops) {
            // A weighting of one target at weight 1 is that target's prediction (`0 + 1·L`).
            let value: &[f64] = match weights[..] {
                [(t, 1.0)] => &self.pred[t * cap..t * cap + n],
                _ => {
                    let value = &mut self.value[..n];
                    value.fill(0.0);
                    for &(t, w) in weights {
                        for (v, l) in value.iter_mut().zip(&self.pred[t * cap..t * cap + n]) {
                            *v += w * l;
                        }
                    }
                    value
                }
            };
            // Most blocks hold nothing better than the worst kept point: one pass says so.
            let least = value.iter().fold(f64::INFINITY, |m, &v| m.min(v));
            let mut thr = top.threshold();
            if top.full() && least > thr {
                continue;
            }
            for (line, &(at, v0, len, left)) in self.lines.iter().enumerate() {
                for (c, &v) in value[at..at + len].iter().enumerate() {
                    if v <= thr || !top.full() {
                        let prefix = &self.prefixes[line * pre..(line + 1) * pre];
                        top.offer(v, || {
                            let last = [v0 + c, left - v0 - c];
                            prefix.iter().chain(&last).map(|&j| j as f64 / r).collect()
                        });
                        thr = top.threshold();
                    }
                }
            }
        }
        self.fill = 0;
        self.lines.clear();
        self.prefixes.clear();
    }
}

/// The `s.top` best feasible lattice points of every weighting by the laws' own arithmetic, best
/// first (not yet re-scored), or `None` when the law has no separable form (or `k < 2`, a
/// lattice of one point). Where `backend` has a sweep of its own (the GPU's, in f32) its
/// candidates are scored in f64 here; the weightings it declines the CPU sweeps (they stay
/// `None` without `cpu_fallback`).
pub(super) fn lattice_best(
    laws: &Laws,
    weightings: &[Weighting],
    bounds: &Bounds,
    (r, top): (usize, usize),
    backend: &dyn Backend,
    cpu_fallback: bool,
) -> Option<Vec<Option<Points>>> {
    let k = laws.domains.len();
    if k < 2 {
        return None;
    }
    let needed: Vec<usize> = (0..laws.params.len())
        .filter(|&t| weightings.iter().any(|o| o.weights[t] != 0.0))
        .collect();
    let (ln_n, ln_d) = (laws.n.ln(), laws.d.ln());
    let seps = needed
        .iter()
        .map(|&t| laws.law.separable(&laws.params[t], k, ln_n, ln_d))
        .collect::<Option<Vec<_>>>()?;
    let empty = || Some(weightings.iter().map(|_| Some(Vec::new())).collect());
    let Some(levels) = levels(bounds, r) else {
        return empty();
    };
    let weights: Vec<Vec<(usize, f64)>> = weightings
        .iter()
        .map(|o| {
            needed
                .iter()
                .enumerate()
                .filter(|&(_, &t)| o.weights[t] != 0.0)
                .map(|(s, &t)| (s, o.weights[t]))
                .collect()
        })
        .collect();
    let sweep = LatticeSweep {
        k,
        r,
        laws: &seps,
        levels: &levels,
        weights: &weights,
        top,
    };
    if let Some(candidates) = backend.lattice_candidates(&sweep) {
        let mut out: Vec<Option<Points>> = weightings
            .iter()
            .zip(candidates)
            .map(|(o, js)| js.map(|js| scored(laws, o, js, r, top)))
            .collect();
        let declined: Vec<usize> = (0..out.len()).filter(|&i| out[i].is_none()).collect();
        if cpu_fallback && !declined.is_empty() {
            let rest: Vec<Weighting> = declined.iter().map(|&i| weightings[i].clone()).collect();
            let cpu = lattice_best(laws, &rest, bounds, (r, top), &Cpu, true)?;
            for (i, points) in declined.into_iter().zip(cpu) {
                out[i] = points;
            }
        }
        return Some(out);
    }
    if !cpu_fallback {
        return Some(weightings.iter().map(|_| None).collect());
    }
    let m = seps.first().map_or(1, |s| s.sums());
    let mut tables = Vec::with_capacity(seps.len() * m * k * (r + 1));
    for s in &seps {
        for q in 0..m {
            for i in 0..k {
                let level = |j: usize| s.term(q, i, j as f64 / r as f64);
                match i + 1 == k {
                    true => tables.extend((0..=r).map(|j| level(r - j))),
                    false => tables.extend((0..=r).map(level)),
                }
            }
        }
    }
    let (rest_lo, rest_hi) = LatticeSweep::rests(&levels);
    let plan = Plan {
        k,
        r,
        m,
        laws: seps,
        tables,
        levels,
        rest_lo,
        rest_hi,
        weights,
        top,
        cap: 512.max(r + 1),
    };
    // Subtrees under the first weights (two where the lattice has room for them).
    let depth = (k - 2).min(2);
    let mut tasks: Vec<(Vec<usize>, usize)> = vec![(Vec::new(), r)];
    for d in 0..depth {
        tasks = tasks
            .into_iter()
            .flat_map(|(prefix, left)| {
                let (lo, hi) = plan.range(d, left).unwrap_or((1, 0));
                (lo..=hi).map(move |j| {
                    let mut p = prefix.clone();
                    p.push(j);
                    (p, left - j)
                })
            })
            .collect();
    }
    // A few interleaved shares of the subtrees per thread (neighbouring subtrees differ most in
    // size), each thread's best points kept across its share, so that few lists start empty.
    let shares = (4 * rayon::current_num_threads()).min(tasks.len()).max(1);
    let tops = (0..shares)
        .into_par_iter()
        .map(|share| {
            let mut sc = Scratch::new(&plan);
            for (prefix, left) in tasks.iter().skip(share).step_by(shares) {
                for (d, &j) in prefix.iter().enumerate() {
                    sc.fix(&plan, d, j);
                }
                sc.descend(&plan, depth, *left);
            }
            sc.flush(&plan);
            sc.tops
        })
        .reduce_with(|a, b| a.into_iter().zip(b).map(|(x, y)| x.merge(y)).collect())
        .unwrap_or_else(|| plan.weights.iter().map(|_| Top::new(top)).collect());
    Some(tops.into_iter().map(|t| Some(t.into_points())).collect())
}

/// A backend's candidate levels for weighting `o` scored in f64 (as the re-score computes it),
/// the best `top` in value and lattice order.
fn scored(laws: &Laws, o: &Weighting, candidates: Vec<Vec<usize>>, r: usize, top: usize) -> Points {
    let mut points: Points = candidates
        .into_iter()
        .map(|j| {
            let h: Vec<f64> = j.iter().map(|&v| v as f64 / r as f64).collect();
            (laws.value(o, &h, None), h)
        })
        .collect();
    points.sort_by(top::order);
    points.truncate(top);
    points
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_follow_the_boxes_and_infeasible_boxes_have_none() {
        let b = Bounds {
            lo: vec![0.25, 0.0],
            hi: vec![1.0, 0.5 + 1e-13],
        };
        assert_eq!(levels(&b, 4), Some(vec![(1, 4), (0, 2)]));
        let b = Bounds {
            lo: vec![0.3, 0.0],
            hi: vec![0.45, 1.0],
        };
        assert_eq!(levels(&b, 4), None);
    }
}
