//! The separable lattice sweep on the device (`shaders/sweep.wgsl`): each workgroup enumerates
//! part of the lattice with the per-domain term tables at hand, top-K per weighting on the
//! device.
//!
//! # Why it is shaped this way
//!
//! * **Pieces of bounded work, one per invocation.** The host cuts the lattice, in rank order,
//!   into pieces: the points under a prefix of fixed levels whose next level lies in a range
//!   (a sub-simplex, a run of neighbouring ones, or part of a line of the last two domains),
//!   each of at most a budget of points ([`LOOP_BUDGET`] loop iterations' worth; at most a
//!   million pieces). Invocations so do similar work, and a large lattice fills a device. Each
//!   invocation enumerates its piece depth first in rank order, carrying the partial sums in
//!   private memory, as the CPU sweep does (`mixture::separable`). Boxes prune as there: a level
//!   is only taken where the domains after it can still take what is left, so no infeasible
//!   subtree is entered.
//! * **Every loop iteration accounted for.** Mesa's software device (lavapipe) ends every loop
//!   of a shader invocation after one iteration once the invocation has taken 65,535 loop
//!   iterations in all (gallivm's `LP_MAX_TGSI_LOOP_ITERATIONS`, a guard against shaders that
//!   never end), silently: a sub-simplex of a few thousand points came back half enumerated and
//!   its workgroup's later record blocks unwritten. The budget keeps an invocation well below
//!   that limit, and the shader counts the points it enumerated and the iterations of every loop
//!   after them; the host compares each workgroup's count with what it must be and, on any
//!   difference (a device that cut a loop short, or never ran), vouches for nothing (the CPU
//!   sweeps).
//! * **Tables uploaded once**, every sum's per-domain terms at every level (`k·(r+1)` floats
//!   per sum and target), in a read-only storage buffer: every invocation reads them, so they
//!   stay in the device's caches. (Workgroup memory would hold them only up to 16 kB, a few
//!   thousand floats: too few for many targets at r = 100.)
//! * **Top-K on the device, small records back.** Each invocation keeps its best `kd` points
//!   per weighting, the workgroup merges them in workgroup memory, and only `kd` records per
//!   workgroup and weighting come back: the value (f32), the piece and the point's index
//!   in it, which the host turns into the point by unranking ([`LatticeSweep::unrank`]).
//! * **f32 on the device, f64 for the answer.** The device ranks in f32; the caller re-scores
//!   the candidates in f64. So that rounding cannot lose the f64 best, the device keeps
//!   [`MARGIN`] more points than asked, and the host declines (the CPU sweeps instead) when the
//!   last point it kept is within [`TOL`] (relative) of the `top`-th: then a point it dropped
//!   might be better in f64 (per weighting: the others keep the device's answer). Exact ties
//!   keep the earlier point in rank order, as the CPU does.
//! * **Generated per law and size.** The law's outer function is its own WGSL expression
//!   ([`crate::law::separable::OuterWgsl`]), and the sizes (domains, sums, targets,
//!   weightings and their weights, kept points) are constants, so the private arrays are exactly as large
//!   as needed; each distinct source is compiled once and kept.

use std::sync::Arc;

use super::device::Gpu;
use crate::backend::{Candidates, LatticeSweep};
use crate::Error;

const SHADER: &str = include_str!("../../../shaders/sweep.wgsl");

/// Points kept beyond `top` per weighting, against f32's reordering of near ties.
pub const MARGIN: usize = 4;
/// Most points kept per weighting: the workgroup's merge holds `64·3·4` bytes per kept point in
/// workgroup memory (and 256 more), which downlevel devices cap at 16 kB.
const MAX_KEPT: usize = 16;
/// The relative difference below which two f32 sweep values may be misordered: a value is a
/// few sums and an outer function in f32 (6e-8 each, `exp`/`log` several ulp), as the fit
/// kernel's objectives (`Backend::noise`).
pub const TOL: f64 = 1e-5;
/// Loop iterations one invocation's piece may take (estimated per point by [`loop_cost`]): well
/// within lavapipe's limit (which cut pieces of 273 points of the paper's fit short and passed
/// 200, each estimated at 60 iterations a point), leaving room for the workgroup's merge.
const LOOP_BUDGET: u64 = 1 << 12;
/// Most pieces the split makes (their levels are one upload).
const MAX_PIECES: usize = 1 << 20;
/// Piece-simplices per dispatch (1,024 workgroups).
const PER_DISPATCH: usize = 1 << 16;

/// A compiled sweep pipeline, or why its source did not compile, by source.
pub(super) type SweepPipeline = (String, Result<Arc<wgpu::ComputePipeline>, String>);

/// One kept point as the device reports it.
#[derive(Clone, Copy)]
struct Record {
    value: f32,
    piece: u32,
    index: u32,
}

impl Gpu {
    /// Candidates for every weighting of `sweep` (see [`crate::backend::Backend::
    /// lattice_candidates`]), `None` where the device cannot sweep this law, and `None` for a
    /// weighting whose f32 ranking it cannot vouch for.
    pub(super) fn sweep_candidates(&self, sweep: &LatticeSweep) -> Option<Candidates> {
        let (k, r) = (sweep.k, sweep.r);
        let (t, w) = (sweep.laws.len(), sweep.weights.len());
        let kept = sweep.top + MARGIN;
        if !(2..=crate::law::MAX_DOMAINS).contains(&k) || t == 0 || w == 0 || kept > MAX_KEPT {
            return None;
        }
        let outers = sweep
            .laws
            .iter()
            .map(|l| l.wgsl())
            .collect::<Option<Vec<_>>>()?;
        let (expr, nc) = (outers[0].expr, outers[0].consts.len());
        if outers
            .iter()
            .any(|o| o.expr != expr || o.consts.len() != nc)
        {
            return None;
        }
        let m = sweep.laws[0].sums();
        let cnt = sweep.counts();
        if cnt[0][r] == 0 {
            return Some(vec![Some(Vec::new()); w]);
        }
        let pairs: usize = sweep.weights.iter().map(Vec::len).sum();
        let budget =
            (self.sweep_points).unwrap_or_else(|| (LOOP_BUDGET / loop_cost(m, t, w, pairs)).max(1));
        let pieces = split(sweep, &cnt, budget)?;

        // Tables, weights and constants in f32; a weight or constant f32 cannot hold is left to
        // the CPU. A term may overflow to ±∞ (a power of a weight near 0 with γ < 0): the sums
        // then are ±∞ too (`1/S` = 0, the limit f64 rounds to as well), and where ∞ − ∞ makes a
        // value NaN the device counts it and the weighting is ranked on the CPU.
        let mut tables = Vec::with_capacity(t * m * k * (r + 1));
        for law in sweep.laws {
            for q in 0..m {
                for i in 0..k {
                    tables.extend((0..=r).map(|j| law.term(q, i, j as f64 / r as f64)));
                }
            }
        }
        // Each target's constants (at least one slot each), then every weighting's weights.
        let mut numbers = Vec::with_capacity(t * nc.max(1) + pairs);
        for o in &outers {
            numbers.extend(&o.consts);
            numbers.extend((nc..1).map(|_| 0.0));
        }
        numbers.extend(sweep.weights.iter().flatten().map(|&(_, v)| v));
        let f32s = |v: &[f64]| -> Option<Vec<f32>> {
            v.iter()
                .map(|&x| Some(x as f32).filter(|y| y.is_finite() || !x.is_finite()))
                .collect()
        };
        let numbers = f32s(&numbers)?;
        let tables: Vec<f32> = tables.iter().map(|&x| x as f32).collect();
        let mut ints: Vec<u32> = Vec::with_capacity(4 * k + 3 + w + pairs + pieces.len() * (k + 2));
        ints.extend(sweep.levels.iter().map(|l| l.0 as u32));
        ints.extend(sweep.levels.iter().map(|l| l.1 as u32));
        let (rest_lo, rest_hi) = LatticeSweep::rests(sweep.levels);
        ints.extend(rest_lo.iter().chain(&rest_hi).map(|&v| v as u32));
        // Where each weighting's weights start (and the last ends), and their targets.
        ints.extend(sweep.weights.iter().scan(0, |at, ws| {
            let start = *at;
            *at += ws.len() as u32;
            Some(start)
        }));
        ints.push(pairs as u32);
        ints.extend(sweep.weights.iter().flatten().map(|&(tt, _)| tt as u32));
        ints.extend(pieces.iter().flat_map(|piece| &piece.levels));

        let consts = format!(
            "const K: u32 = {k}u;\nconst M: u32 = {m}u;\nconst T: u32 = {t}u;\n\
             const W: u32 = {w}u;\nconst KD: u32 = {kept}u;\nconst NC: u32 = {}u;\n\
             const NP: u32 = {pairs}u;\n\n\
             fn outer() -> f32 {{\n    return {expr};\n}}\n\n",
            nc.max(1)
        );
        let pipeline = self.sweep_pipeline(consts + SHADER).ok()?;
        if (ints.len().max(tables.len()) * 4) as u64 > self.max_binding {
            return None;
        }

        let n_pieces = pieces.len();
        let tables = self.upload_storage("sweep tables", &tables);
        let ints = self.upload_u32("sweep bounds, weightings and pieces", &ints);
        let numbers = self.upload_storage("sweep weights and constants", &numbers);
        let mut records: Vec<Vec<Record>> = vec![Vec::new(); w];
        let mut nan = vec![false; w];
        let mut first = 0;
        while first < n_pieces {
            let n = (n_pieces - first).min(PER_DISPATCH);
            let groups = n.div_ceil(WG);
            let params = [r as u32, n as u32, first as u32, 0];
            let uniforms = self.upload_u32_uniform("sweep params", &params);
            let block = kept * 3 + 1;
            let bytes = (groups * (w * block + 1) * 4) as u64;
            let (out, readback) = self.output("sweep records", bytes, false);
            let bind = self.bind(&pipeline, &[&uniforms, &tables, &ints, &numbers, &out]);
            let raw = self.run(&pipeline, &bind, (groups, 1), &out, &readback, bytes, None);
            let (blocks, steps) = raw.split_at(groups * w * block);
            // Each workgroup's count of loop iterations, as the shader counts them: a device
            // that cut a loop short (or never ran) is not trusted with any weighting.
            let fixed = (WG * w * kept + w * (WG * kept + WG + kept) + WG) as u32;
            for (g, got) in steps.iter().enumerate() {
                let own = &pieces[first + g * WG..(first + (g + 1) * WG).min(first + n)];
                let points = own
                    .iter()
                    .fold(0u32, |a, piece| a.wrapping_add(piece.points));
                if got.to_bits() != points.wrapping_add(fixed) {
                    return None;
                }
            }
            for (x, recs) in blocks.chunks(block).enumerate() {
                let o = x % w;
                // The last word counts the points the workgroup could not score (NaN in f32).
                nan[o] |= recs[block - 1].to_bits() > 0;
                for rec in recs[..block - 1].chunks(3) {
                    let index = rec[2].to_bits();
                    if index != u32::MAX {
                        records[o].push(Record {
                            value: rec[0],
                            piece: rec[1].to_bits(),
                            index,
                        });
                    }
                }
            }
            first += n;
        }

        let total = cnt[0][r];
        let mut out = Vec::with_capacity(w);
        for (mut recs, nan) in records.into_iter().zip(nan) {
            if nan {
                out.push(None);
                continue;
            }
            recs.sort_by(|a, b| {
                a.value
                    .total_cmp(&b.value)
                    .then(a.piece.cmp(&b.piece))
                    .then(a.index.cmp(&b.index))
            });
            recs.truncate(kept);
            // Every feasible point is a candidate, or the device found fewer finite values than
            // it should have kept (NaN and ∞ never enter its lists): the CPU ranks those.
            if (recs.len() as u64) < total.min(kept as u64) {
                out.push(None);
                continue;
            }
            if recs.len() == kept && (total > kept as u64) {
                let top = recs[sweep.top.min(kept) - 1].value as f64;
                let last = recs[kept - 1].value as f64;
                if last - top <= TOL * top.abs().max(1.0) {
                    out.push(None);
                    continue;
                }
            }
            let points = recs
                .iter()
                .map(|rec| {
                    let piece = &pieces[rec.piece as usize];
                    let depth = piece.levels[0] as usize;
                    let prefix: Vec<usize> = piece.levels[1..=depth]
                        .iter()
                        .map(|&j| j as usize)
                        .collect();
                    let left = piece.levels[k - 1] as usize;
                    sweep.unrank(&cnt, &prefix, left, piece.skip + rec.index as u64)
                })
                .collect::<Option<Vec<_>>>();
            out.push(points);
        }
        Some(out)
    }

    /// The sweep pipeline of `source`, compiled (under error scopes, as the objective's) the
    /// first time it is needed and kept.
    fn sweep_pipeline(&self, source: String) -> Result<Arc<wgpu::ComputePipeline>, Error> {
        let mut built = self.sweeps.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, p)) = built.iter().find(|(s, _)| *s == source) {
            return p.clone().map_err(Error::Gpu);
        }
        let scopes = [
            wgpu::ErrorFilter::Validation,
            wgpu::ErrorFilter::Internal,
            wgpu::ErrorFilter::OutOfMemory,
        ]
        .map(|filter| self.device.push_error_scope(filter));
        let module = self
            .device
            .create_shader_module(wgpu::ShaderModuleDescriptor {
                label: Some("sweep.wgsl"),
                source: wgpu::ShaderSource::Wgsl(source.as_str().into()),
            });
        let pipeline = self
            .device
            .create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                label: Some("sweep"),
                layout: None,
                module: &module,
                entry_point: Some("sweep"),
                compilation_options: Default::default(),
                cache: None,
            });
        let mut errors = Vec::new();
        for scope in scopes.into_iter().rev() {
            errors.extend(pollster::block_on(scope.pop()));
        }
        let p = match errors.pop() {
            Some(e) => Err(format!(
                "shaders/sweep.wgsl does not compile on {}: {e}",
                self.info.name
            )),
            None => Ok(Arc::new(pipeline)),
        };
        built.push((source, p.clone()));
        p.map_err(Error::Gpu)
    }
}

/// Invocations per workgroup (the shader's `WG`).
const WG: usize = 64;

/// The loop iterations the shader takes per point it enumerates, at most: the line's, the sums'
/// (`t·m`), the outer functions' (`t`), the weightings' (`w`) and their `pairs` weights, and the
/// insertions into the weightings' lists (a shift or two, almost always none).
fn loop_cost(m: usize, t: usize, w: usize, pairs: usize) -> u64 {
    (1 + t * m + t + pairs + 3 * w) as u64
}

/// One piece of the lattice for one invocation: the points under a prefix of fixed levels whose
/// next level lies in `a..=b` (a whole sub-simplex, several neighbouring ones, or part of a
/// line), in the shader's layout, with its number of points and the points of the prefix's
/// subtree before it (to unrank a point by its index in the piece).
struct Piece {
    /// `k + 2` words: the number of levels fixed, those levels (padded to `k − 2`), the levels
    /// left for the rest, `a`, `b`.
    levels: Vec<u32>,
    points: u32,
    skip: u64,
}

/// The lattice in pieces of at most `budget` points each, in rank order: the feasible levels of
/// the next domain are gathered, in order, into runs whose subtrees hold at most `budget` points
/// between them; a level whose subtree holds more is split the same way one domain deeper, and
/// a line (the last two domains) longer than `budget` is cut. Where that makes more than
/// [`MAX_PIECES`] pieces, the budget is doubled until it does not.
fn split(sweep: &LatticeSweep, cnt: &[Vec<u64>], budget: u64) -> Option<Vec<Piece>> {
    /// The run `a..=b` of `points` under `prefix`, ending `skip` points into its subtree.
    fn close(
        at: (&[usize], usize),
        run: Option<(usize, u64)>,
        b: usize,
        skip: u64,
        out: &mut Vec<Piece>,
        k: usize,
    ) -> bool {
        if let Some((a, points)) = run {
            let (prefix, left) = at;
            let mut levels = vec![0u32; k + 2];
            levels[0] = prefix.len() as u32;
            for (l, &j) in levels[1..].iter_mut().zip(prefix) {
                *l = j as u32;
            }
            levels[k - 1] = left as u32;
            levels[k] = a as u32;
            levels[k + 1] = b as u32;
            out.push(Piece {
                levels,
                points: points as u32,
                skip: skip - points,
            });
        }
        out.len() <= MAX_PIECES
    }
    fn visit(
        sweep: &LatticeSweep,
        cnt: &[Vec<u64>],
        budget: u64,
        prefix: &mut Vec<usize>,
        left: usize,
        out: &mut Vec<Piece>,
    ) -> bool {
        let (k, d) = (sweep.k, prefix.len());
        let (lo, hi) = sweep.levels[d];
        // The run gathered so far (its first level and points), and the points before `j`.
        let (mut run, mut skip) = (None::<(usize, u64)>, 0u64);
        for j in lo..=hi.min(left) {
            let points = cnt[d + 1][left - j];
            if points == 0 {
                continue;
            }
            if run.is_some_and(|(_, p)| p + points > budget)
                && !close((prefix, left), run.take(), j - 1, skip, out, k)
            {
                return false;
            }
            // Past a line's depth every level is one point (or none), within any budget.
            if points > budget {
                prefix.push(j);
                let ok = visit(sweep, cnt, budget, prefix, left - j, out);
                prefix.pop();
                if !ok {
                    return false;
                }
            } else {
                run.get_or_insert((j, 0)).1 += points;
            }
            skip += points;
        }
        close((prefix, left), run, hi.min(left), skip, out, k)
    }
    let mut budget = budget;
    while budget < u32::MAX as u64 {
        let mut pieces = Vec::new();
        if visit(sweep, cnt, budget, &mut Vec::new(), sweep.r, &mut pieces) {
            return Some(pieces);
        }
        budget *= 2;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The pieces cover every feasible point once, in rank order, each within the budget: the
    /// `i`-th point of a piece (by its prefix, levels left and skip) is the next point of the
    /// lattice.
    #[test]
    fn pieces_cut_the_lattice_in_rank_order_within_the_budget() {
        for (k, r, levels) in [
            (2, 9, vec![(0, 9); 2]),
            (4, 10, vec![(0, 10); 4]),
            (5, 12, vec![(1, 12), (0, 3), (0, 12), (2, 6), (0, 12)]),
            (7, 16, vec![(0, 16); 7]),
        ] {
            let sweep = LatticeSweep {
                k,
                r,
                laws: &[],
                levels: &levels,
                weights: &[],
                top: 1,
            };
            let cnt = sweep.counts();
            let total = cnt[0][r];
            for budget in [1, 3, 7, 40, 1000] {
                let pieces = split(&sweep, &cnt, budget).unwrap();
                let mut n = 0;
                for piece in &pieces {
                    assert!(piece.points >= 1 && piece.points as u64 <= budget);
                    let depth = piece.levels[0] as usize;
                    let prefix: Vec<usize> = piece.levels[1..=depth]
                        .iter()
                        .map(|&j| j as usize)
                        .collect();
                    let left = piece.levels[k - 1] as usize;
                    let (a, b) = (piece.levels[k] as usize, piece.levels[k + 1] as usize);
                    for i in 0..piece.points as u64 {
                        let got = sweep.unrank(&cnt, &prefix, left, piece.skip + i).unwrap();
                        assert_eq!(Some(got.clone()), sweep.unrank(&cnt, &[], r, n));
                        assert!((a..=b).contains(&got[depth]), "{got:?} {a}..={b}");
                        n += 1;
                    }
                }
                assert_eq!(n, total, "k={k} r={r} budget={budget}");
            }
        }
    }
}
