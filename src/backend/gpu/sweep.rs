//! The separable lattice sweep on the device (`shaders/sweep.wgsl`): the issue's "each workgroup
//! enumerates a sub-simplex, top-K per target on the device".
//!
//! # Why it is shaped this way
//!
//! * **Sub-simplices, one per invocation.** The host fixes the first few levels (`depth`) of
//!   every feasible point, which splits the lattice into sub-simplices of similar size, enough
//!   of them (about 16,000, at most 2 million) to fill a device; each invocation enumerates one
//!   depth first in rank order, carrying the partial sums in private memory, as the CPU sweep
//!   does (`mixture::separable`). Boxes prune as there: a level is only taken where the domains
//!   after it can still take what is left, so no infeasible subtree is entered.
//! * **Tables uploaded once**, every sum's per-domain terms at every level (`k·(r+1)` floats
//!   per sum and target), in a read-only storage buffer: every invocation reads them, so they
//!   stay in the device's caches. (Workgroup memory would hold them only up to 16 kB, a few
//!   thousand floats: too few for many targets at r = 100.)
//! * **Top-K on the device, small records back.** Each invocation keeps its best `kd` points
//!   per weighting, the workgroup merges them in workgroup memory, and only `kd` records per
//!   workgroup and weighting come back: the value (f32), the sub-simplex and the point's index
//!   in it, which the host turns into the point by unranking ([`LatticeSweep::unrank`]).
//! * **f32 on the device, f64 for the answer.** The device ranks in f32; the caller re-scores
//!   the candidates in f64. So that rounding cannot lose the f64 best, the device keeps
//!   [`MARGIN`] more points than asked, and the host declines (the CPU sweeps instead) when the
//!   last point it kept is within [`TOL`] (relative) of the `top`-th: then a point it dropped
//!   might be better in f64 (per weighting: the others keep the device's answer). Exact ties
//!   keep the earlier point in rank order, as the CPU does.
//! * **Generated per law and size.** The law's outer function is its own WGSL expression
//!   ([`crate::law::separable::OuterWgsl`]), and the sizes (domains, sums, targets,
//!   weightings, kept points, depth) are constants, so the private arrays are exactly as large
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
/// The bit of a record block's last word that says the device wrote the block.
const WRITTEN: u32 = 1 << 31;
/// Sub-simplices the split aims at, and the most it makes.
const AIM_SUBS: usize = 1 << 14;
const MAX_SUBS: usize = 1 << 21;
/// Sub-simplices per dispatch (1,024 workgroups).
const PER_DISPATCH: usize = 1 << 16;

/// A compiled sweep pipeline, or why its source did not compile, by source.
pub(super) type SweepPipeline = (String, Result<Arc<wgpu::ComputePipeline>, String>);

/// One kept point as the device reports it.
#[derive(Clone, Copy)]
struct Record {
    value: f32,
    sub: u32,
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
        let (depth, subs) = split(sweep, &cnt)?;

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
        let mut numbers = vec![0.0; w * t];
        for (o, weights) in sweep.weights.iter().enumerate() {
            for &(tt, v) in weights {
                numbers[o * t + tt] = v;
            }
        }
        numbers.extend(outers.iter().flat_map(|o| o.consts.iter().copied()));
        let f32s = |v: &[f64]| -> Option<Vec<f32>> {
            v.iter()
                .map(|&x| Some(x as f32).filter(|y| y.is_finite() || !x.is_finite()))
                .collect()
        };
        let numbers = f32s(&numbers)?;
        let tables: Vec<f32> = tables.iter().map(|&x| x as f32).collect();
        let mut ints: Vec<u32> = Vec::with_capacity(4 * k + 2 + subs.len());
        ints.extend(sweep.levels.iter().map(|l| l.0 as u32));
        ints.extend(sweep.levels.iter().map(|l| l.1 as u32));
        let (mut rest_lo, mut rest_hi) = (vec![0u32; k + 1], vec![0u32; k + 1]);
        for i in (0..k).rev() {
            rest_lo[i] = rest_lo[i + 1] + sweep.levels[i].0 as u32;
            rest_hi[i] = rest_hi[i + 1] + sweep.levels[i].1 as u32;
        }
        ints.extend(&rest_lo);
        ints.extend(&rest_hi);
        ints.extend(&subs);

        let consts = format!(
            "const K: u32 = {k}u;\nconst M: u32 = {m}u;\nconst T: u32 = {t}u;\n\
             const W: u32 = {w}u;\nconst KD: u32 = {kept}u;\nconst NC: u32 = {}u;\n\
             const DEPTH: u32 = {depth}u;\n\nfn outer() -> f32 {{\n    return {expr};\n}}\n\n",
            nc.max(1)
        );
        let pipeline = self.sweep_pipeline(consts + SHADER).ok()?;

        let n_subs = subs.len() / (depth + 1);
        let tables = self.upload_storage("sweep tables", &tables);
        let ints = self.upload_u32("sweep bounds and sub-simplices", &ints);
        let numbers = self.upload_storage("sweep weights and constants", &numbers);
        let mut records: Vec<Vec<Record>> = vec![Vec::new(); w];
        let mut nan = vec![false; w];
        let mut first = 0;
        while first < n_subs {
            let n = (n_subs - first).min(PER_DISPATCH);
            let groups = n.div_ceil(64);
            let params = [r as u32, n as u32, first as u32, 0];
            let uniforms = self.upload_u32_uniform("sweep params", &params);
            let block = kept * 3 + 1;
            let bytes = (groups * w * block * 4) as u64;
            let (out, readback) = self.output("sweep records", bytes, false);
            let bind = self.bind(&pipeline, &[&uniforms, &tables, &ints, &numbers, &out]);
            let raw = self.run(&pipeline, &bind, (groups, 1), &out, &readback, bytes, None);
            for (x, recs) in raw.chunks(block).enumerate() {
                let o = x % w;
                // The last word: the top bit says the workgroup wrote this block at all (a device
                // that did not is not trusted with any weighting), the rest counts NaN points.
                let flag = recs[block - 1].to_bits();
                if flag & WRITTEN == 0 {
                    return None;
                }
                nan[o] |= flag & !WRITTEN > 0;
                for rec in recs[..block - 1].chunks(3) {
                    let index = rec[2].to_bits();
                    if index != u32::MAX {
                        records[o].push(Record {
                            value: rec[0],
                            sub: rec[1].to_bits(),
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
                    .then(a.sub.cmp(&b.sub))
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
                    let at = rec.sub as usize * (depth + 1);
                    let prefix: Vec<usize> =
                        subs[at..at + depth].iter().map(|&j| j as usize).collect();
                    let left = subs[at + depth] as usize;
                    sweep.unrank(&cnt, &prefix, left, rec.index as u64)
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

/// The sub-simplices: every feasible prefix of the first `depth` levels, deepened until there
/// are about [`AIM_SUBS`] (not past [`MAX_SUBS`], nor into the last two domains, which each
/// invocation enumerates as lines), flattened as the prefix followed by the levels left. `None`
/// if some sub-simplex has 2³² points or more (its indices would not fit a `u32`).
fn split(sweep: &LatticeSweep, cnt: &[Vec<u64>]) -> Option<(usize, Vec<u32>)> {
    let k = sweep.k;
    let mut subs: Vec<(Vec<usize>, usize)> = vec![(Vec::new(), sweep.r)];
    let mut depth = 0;
    while depth + 2 < k && subs.len() < AIM_SUBS {
        let (lo, hi) = sweep.levels[depth];
        let next: Vec<(Vec<usize>, usize)> = subs
            .iter()
            .flat_map(|(prefix, left)| {
                (lo..=hi.min(*left))
                    .filter(move |&j| cnt[depth + 1][left - j] > 0)
                    .map(move |j| {
                        let mut p = prefix.clone();
                        p.push(j);
                        (p, left - j)
                    })
            })
            .collect();
        if next.len() > MAX_SUBS {
            break;
        }
        subs = next;
        depth += 1;
    }
    if subs
        .iter()
        .any(|(_, left)| cnt[depth][*left] >= u32::MAX as u64)
    {
        return None;
    }
    let flat = subs
        .iter()
        .flat_map(|(p, left)| p.iter().chain([left]).map(|&v| v as u32))
        .collect();
    Some((depth, flat))
}
