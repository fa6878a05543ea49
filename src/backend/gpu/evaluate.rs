//! The [`Backend`] implementation: per-entry work in f64 on the host around the f32 kernel.

use std::io::Write;

use super::device::Gpu;
use super::shader::Class;
use super::submit::record_width;
use crate::backend::{Backend, Candidates, Cpu, LatticeSweep};
use crate::law::Law;
use crate::objective::Problem;

impl Backend for Gpu {
    fn describe(&self) -> String {
        format!(
            "gpu (wgpu {:?}, {}, {:?}, f32)",
            self.info.backend, self.info.name, self.info.device_type
        )
    }

    /// f32 rounds to 6e-8; a row's value takes a few `exp`s (which WGSL lets be several ulp
    /// off) and is summed with the other rows in f32. At the additive law's minima on the
    /// paper's split, the GPU's objectives differ from f64 re-scores by 1e-6 to 2e-6 relative;
    /// 1e-5 leaves a margin.
    fn noise(&self) -> f64 {
        1e-5
    }
    fn check(&self, problem: &Problem) -> crate::Result<()> {
        Gpu::check(self, problem)
    }

    /// Supported laws run on the device, in f32, in the size class of `params`' dimension and
    /// `k` (the mixture search refines its best candidates in f64 on the CPU); anything else
    /// (an unsupported law, no domains or more than [`crate::law::MAX_DOMAINS`], or a size
    /// class that does not compile on this device) runs on the CPU.
    fn predict_mixtures(
        &self,
        law: &Law,
        params: &[Vec<f64>],
        ln_n: f64,
        ln_d: f64,
        hs: &[f64],
        k: usize,
        out: &mut [f64],
    ) {
        let dim = params.first().map_or(0, Vec::len);
        let sized = k > 0 && k <= crate::law::MAX_DOMAINS;
        let pipelines = Gpu::kernel_of(law)
            .ok()
            .filter(|_| sized)
            .and_then(|(_, formula)| self.pipelines(Class::of(dim, k), formula.as_ref()).ok());
        let Some(pipelines) = pipelines else {
            return Cpu.predict_mixtures(law, params, ln_n, ln_d, hs, k, out);
        };
        let pipeline = &pipelines.mixtures;
        self.mixtures_dispatch(pipeline, law, params, ln_n, ln_d, hs, k, out);
    }

    /// The separable sweep on the device (`sweep.rs`).
    fn lattice_candidates(&self, sweep: &LatticeSweep) -> Option<Candidates> {
        self.sweep_candidates(sweep)
    }

    /// # Panics
    /// If [`Gpu::check`] refuses the problem; the fitting code calls `check` first.
    fn evaluate(
        &self,
        problem: &Problem,
        thetas: &[f64],
        sets: &[u32],
        f: &mut [f64],
        g: &mut [f64],
    ) {
        let pipelines = match self.prepare(problem) {
            Ok(p) => p,
            Err(e) => panic!("{e}"),
        };
        let dim = problem.dim();
        let batch = f.len();
        assert_eq!(thetas.len(), batch * dim, "thetas is not batch × dim");
        assert_eq!(g.len(), batch * dim, "g is not batch × dim");
        assert_eq!(sets.len(), batch, "sets is not one per entry");
        if batch == 0 {
            return;
        }
        // Natural parameters in f64, and in f32 followed by the weight set; entries that do not
        // fit f32 go to the CPU path.
        let nat: Vec<f64> = thetas
            .chunks(dim)
            .flat_map(|t| problem.coords().to_natural(t))
            .collect();
        let p32: Vec<f32> = nat
            .chunks(dim)
            .zip(sets)
            .flat_map(|(p, &s)| p.iter().map(|&v| v as f32).chain([s as f32]))
            .collect();
        let on_cpu = |b: usize| {
            p32[b * (dim + 1)..b * (dim + 1) + dim]
                .iter()
                .any(|v| !v.is_finite())
        };

        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        let r = self.resident(&mut cache, problem, &pipelines);
        let width = record_width(dim);
        let chunk = self.chunk(dim);
        let rows = problem.rows().len();
        let mut start = 0;
        while start < batch {
            let n = (batch - start).min(chunk);
            let out = match r.cut {
                true => Vec::new(),
                false => self.dispatch(r, &p32[start * (dim + 1)..(start + n) * (dim + 1)], n),
            };
            // Every entry must have visited every row (counts in f32: exact below 2^24 rows).
            let cut = r.cut
                || out.chunks(width).any(|rec| {
                    let visited = rec[width - 1] as f64;
                    (visited - rows as f64).abs() > rows as f64 * 1e-6
                });
            if cut && !r.cut {
                r.cut = true;
                // Never a panic where stderr is closed: the run matters more than the note.
                let _ = writeln!(
                    std::io::stderr(),
                    "note: {} visited fewer of the {rows} rows than it should (its loops were \
                     cut short: Mesa's software device ends them past 65,535 iterations); this \
                     problem is evaluated on the CPU",
                    self.info.name
                );
            }
            for b in start..start + n {
                let gb = &mut g[b * dim..(b + 1) * dim];
                let set = sets[b] as usize;
                if cut || on_cpu(b) {
                    f[b] = problem.eval(&thetas[b * dim..(b + 1) * dim], set, gb);
                    continue;
                }
                let rec = &out[(b - start) * width..(b - start + 1) * width];
                let norm = problem.norm(set);
                if rec[width - 2] != 0.0 {
                    f[b] = f64::INFINITY;
                    gb.fill(0.0);
                    continue;
                }
                f[b] = rec[0] as f64 * norm;
                for (gj, r) in gb.iter_mut().zip(&rec[1..]) {
                    *gj = *r as f64 * norm;
                }
                problem
                    .coords()
                    .chain_rule(&nat[b * dim..(b + 1) * dim], gb);
            }
            start += n;
        }
    }
}
