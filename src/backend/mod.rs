//! Backends evaluate the objective and its gradient for a *batch* of parameter vectors.
//!
//! The optimiser never evaluates anything itself: each lock-step round it hands the backend one
//! flat batch (`batch × dim` internal coordinates, each entry naming the problem's weight set it
//! is scored under) and gets back one objective and one gradient
//! per entry. That single narrow interface is what lets a compute-shader backend replace the CPU
//! one without the optimiser, the starts or the reports knowing.

mod cpu;
pub mod gpu;
mod sweep;

pub use cpu::{cap_threads, Cpu};
pub use gpu::Gpu;
pub use sweep::{Candidates, LatticeSweep};

use crate::law::{ln_weight, Law, Point};
use crate::objective::Problem;

/// Evaluates `H(θ)` and `∇H(θ)` (the optimiser's scaled objective) for many θ at once.
pub trait Backend: Sync {
    /// A short description for reports (`"cpu (rayon, 16 threads, f64)"`).
    fn describe(&self) -> String;
    /// For each of the `f.len()` entries of `thetas` (row-major, `problem.dim()` wide), write
    /// the objective under weight set `sets[b]` to `f[b]` and the gradient to
    /// `g[b*dim..(b+1)*dim]`. An entry's result depends on nothing but its θ and its set, never
    /// on the rest of the batch: that is what makes a sharded bootstrap equal a whole one.
    fn evaluate(
        &self,
        problem: &Problem,
        thetas: &[f64],
        sets: &[u32],
        f: &mut [f64],
        g: &mut [f64],
    );
    /// The relative precision of the objective values this backend returns: value differences
    /// below `noise · |f|` may be rounding. 0 (the default) for exact f64 arithmetic, whose
    /// rounding lies far below every tolerance; the optimiser then compares values as they
    /// are. A backend in lower precision says so, and the optimiser judges progress below
    /// that level by the gradients instead (`fit::lbfgs::Settings::noise`).
    fn noise(&self) -> f64 {
        0.0
    }
    /// Whether this backend can evaluate `problem` (law, size, device limits), with a clear
    /// error if not. Called before a fit starts.
    fn check(&self, _problem: &Problem) -> crate::Result<()> {
        Ok(())
    }
    /// Mixture search: the prediction of each target (natural parameters `params[t]`) at each
    /// candidate mixture in `hs` (`k` weights per candidate), at `ln N`, `ln D` in fit units;
    /// `out[c * params.len() + t]`. The default evaluates the law on the CPU.
    #[allow(clippy::too_many_arguments)]
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
        use rayon::prelude::*;
        let targets = params.len();
        out.par_chunks_mut(targets)
            .zip(hs.par_chunks(k.max(1)))
            .for_each_init(
                || vec![0.0; k],
                |ln_h, (o, h)| {
                    for (l, &v) in ln_h.iter_mut().zip(h) {
                        *l = ln_weight(v);
                    }
                    let x = Point::from_logs(ln_n, ln_d, h, ln_h);
                    for (ot, p) in o.iter_mut().zip(params) {
                        *ot = law.eval(p, &x, None);
                    }
                },
            );
    }
    /// Mixture search by a separable sweep on this backend: per weighting of `sweep`, lattice
    /// levels `j` (`h_i = j_i / r`) among which its best `sweep.top` feasible points lie,
    /// for the caller to re-score in f64 (`None` for a weighting whose ranking the backend
    /// cannot vouch for); `None` (the default) where this backend has no sweep of its own. The
    /// caller sweeps what is `None` on the CPU.
    fn lattice_candidates(&self, _sweep: &LatticeSweep) -> Option<Candidates> {
        None
    }
}

/// Which backend a command asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Choice {
    /// A real (non-CPU) GPU adapter if one exists and implements the law, else the CPU.
    Auto,
    /// The CPU.
    Cpu,
    /// Any GPU adapter (a software one such as lavapipe too); an error if there is none.
    Gpu,
}

/// Open the backend `choice` asks for, to evaluate `law` (`None`: any law). `Auto` falls back
/// to the CPU when there is no adapter or only a CPU rasteriser (lavapipe), and when the law
/// has no GPU kernel, which the returned notice then says; `Gpu` takes any adapter, lavapipe
/// included, and fails clearly when there is none (and, through [`Backend::check`], for a law
/// without a kernel).
pub fn open(
    choice: Choice,
    law: Option<&Law>,
) -> crate::Result<(Box<dyn Backend>, Option<String>)> {
    match choice {
        Choice::Cpu => Ok((Box::new(Cpu), None)),
        Choice::Gpu => Ok((Box::new(Gpu::new()?), None)),
        Choice::Auto => match Gpu::new() {
            Ok(gpu) if gpu.is_real_gpu() => match law.filter(|l| l.kernel().is_none()) {
                Some(l) => Ok((
                    Box::new(Cpu),
                    Some(format!(
                        "law '{}' has no GPU kernel: evaluating on the CPU",
                        l.name()
                    )),
                )),
                None => Ok((Box::new(gpu), None)),
            },
            _ => Ok((Box::new(Cpu), None)),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::law::{Conventions, Definition, Family, ParamSpec};
    use crate::loss::{Loss, Reduce, Residual};
    use crate::objective::Rows;
    use crate::rng::Rng;

    /// `L = E + Σ C_i h_i` without a GPU kernel, as a law users define at run time will be.
    struct Affine;

    impl Family for Affine {
        fn params(&self, domains: &[String]) -> Vec<ParamSpec> {
            let mut v = vec![ParamSpec::new("E", 0.0, 10.0, true)];
            v.extend(
                domains
                    .iter()
                    .map(|d| ParamSpec::new(format!("C_{d}"), -5.0, 5.0, false)),
            );
            v
        }
        fn sample_start(&self, k: usize, rng: &mut Rng) -> Vec<f64> {
            (0..=k).map(|_| rng.range(0.5, 1.5)).collect()
        }
        fn eval(&self, p: &[f64], x: &Point, grad: Option<&mut [f64]>) -> f64 {
            if let Some(g) = grad {
                g[0] = 1.0;
                g[1..].copy_from_slice(x.h);
            }
            p[0] + p[1..].iter().zip(x.h).map(|(c, h)| c * h).sum::<f64>()
        }
        fn grad_h(&self, p: &[f64], _x: &Point, dh: &mut [f64]) {
            dh.copy_from_slice(&p[1..]);
        }
    }

    fn affine(kernel: Option<crate::law::Kernel>) -> Law {
        Law::new(Definition {
            name: "affine".into(),
            formula: "L = E + Σ_i C_i h_i".into(),
            parameters: "1+k".into(),
            uses_mixture: true,
            uses_scale: false,
            kernel,
            conventions: Conventions::SHUKOR,
            nested: None,
            source: None,
            family: Box::new(Affine),
        })
    }

    /// Under `auto` a law without a GPU kernel is evaluated (on the CPU, with a notice when a
    /// real GPU was passed over) rather than refused; asked for the GPU explicitly, the GPU
    /// refuses it clearly before a fit starts.
    #[test]
    fn a_law_without_a_kernel_runs_on_the_cpu_under_auto() {
        let law = affine(None);
        let problem_of = |law: &Law| {
            let domains = ["a".to_string(), "b".to_string()];
            let h = vec![0.2, 0.8, 0.5, 0.5, 1.0, 0.0];
            let rows = Rows::new(vec![0.0; 3], vec![0.0; 3], h, vec![1.0, 1.1, 1.2], 2);
            Problem::new(
                law,
                law.params(&domains),
                rows,
                vec![1.0; 3],
                Residual::Raw,
                Reduce::Mean,
                Loss::huber(1e-3),
            )
        };
        let problem = problem_of(&law);
        let (backend, notice) = open(Choice::Auto, Some(&law)).unwrap();
        backend.check(&problem).unwrap();
        let (mut f, mut g) = (vec![0.0], vec![0.0; 3]);
        backend.evaluate(&problem, &[0.0, 1.0, 1.0], &[0], &mut f, &mut g);
        let mut want = vec![0.0; 3];
        assert_eq!(f[0], problem.eval(&[0.0, 1.0, 1.0], 0, &mut want));
        let real_gpu = Gpu::new().is_ok_and(|g| g.is_real_gpu());
        assert_eq!(notice.is_some(), real_gpu, "{notice:?}");
        if let Ok(gpu) = Gpu::new() {
            let e = gpu.check(&problem).unwrap_err().to_string();
            assert!(e.contains("no kernel for law 'affine'"), "{e}");
            // A kernel the registry does not hold (here: the linear law's id under another
            // function) is refused too, rather than running another law's function.
            let forged = affine(Some(crate::law::Kernel::Builtin {
                id: 6,
                function: "affine",
            }));
            let e = gpu.check(&problem_of(&forged)).unwrap_err().to_string();
            assert!(e.contains("no kernel for law 'affine'"), "{e}");
        }
    }
}
