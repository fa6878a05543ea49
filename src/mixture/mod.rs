//! Optimal mixtures: the weights `h` on the simplex that minimise a fitted law, for many targets.
//!
//! Two stages, as in the paper's use of its laws: an exact sweep of the simplex lattice
//! `h_i = j_i / r` keeps the best few points per target, then mirror descent (exponentiated
//! gradient, `h ← h ⊙ exp(−η ∇L) / Σ`) refines each of them to the optimum. The sweep guards
//! against the non-convexity a descent alone could be trapped by; the descent gives the digits a
//! lattice cannot. Where the objective is convex, a duality gap certifies the refined point
//! (`certificate.rs`) and the descent stops on it. Constraints are boxes on the weights (`--min`,
//! `--max`, and token availability `h_i·D ≤ tokens_i`), kept by a KL projection that rescales
//! the free weights.
//!
//! The sweep is sized before it runs (`size.rs`: a refusal beyond 1e10 points). Laws whose
//! mixture enters through sums of per-domain terms (every built-in one, and formula laws of that
//! shape) are swept by tables and partial sums (`separable.rs`, on the GPU by the backend's own
//! sweep where it has one, its f32 candidates re-scored in f64); any other by evaluating each
//! point on a backend (`batched.rs`).
//! Both keep their best points in the same order (`top.rs`), so they agree point for point.

mod batched;
mod certificate;
mod constraints;
mod flops;
pub mod lattice;
mod separable;
mod size;
mod solve;
mod top;
mod weighting;

pub use certificate::Certificate;
pub use constraints::{Bounds, Constraints};
pub use flops::at_flops;
pub use size::{feasible, LIMIT as LATTICE_LIMIT};
pub use solve::{optimize, sweep, OptimizeSettings, Optimum, Placed, Scale};
pub use weighting::Weighting;

use rayon::prelude::*;

use crate::backend::Backend;
use crate::fit::FitFile;
use crate::law::{Law, Point};
use crate::{Error, Result};

/// The fitted laws of every target at one scale, ready to evaluate at any `h`.
pub struct Laws {
    /// The fitted law.
    pub law: Law,
    /// The domains, in the order of the law's per-domain parameters.
    pub domains: Vec<String>,
    /// One parameter vector per fitted target.
    pub params: Vec<Vec<f64>>,
    /// N in fit units.
    pub n: f64,
    /// D in fit units.
    pub d: f64,
}

impl Laws {
    /// The laws of `fit` at raw `n` parameters and `d` tokens. A fit of several groups is a
    /// usage error: the laws of one group ([`FitFile::select_group`]) are optimised together,
    /// never those of different studies.
    pub fn new(fit: &FitFile, law: &Law, n: f64, d: f64) -> Result<Self> {
        if !law.uses_mixture() {
            return Err(Error::usage(format!(
                "the {} law has no mixture to optimise",
                law.name()
            )));
        }
        if fit.groups().len() > 1 {
            // The error that lists the groups to choose from.
            fit.select_group(None)?;
        }
        let params = (0..fit.targets.len())
            .map(|t| fit.param_vector(law, t))
            .collect();
        Ok(Laws {
            law: law.clone(),
            domains: fit.domains.clone(),
            params,
            n: n / fit.units.n,
            d: d / fit.units.d,
        })
    }

    /// Predicted loss of every fitted target at `h`.
    pub fn predict(&self, h: &[f64]) -> Vec<f64> {
        let x = Point::new(self.n, self.d, h);
        self.params
            .iter()
            .map(|p| self.law.eval(p, &x, None))
            .collect()
    }

    /// `Σ_t w_t L_t(h)` and, if asked, its gradient in `h`.
    pub fn value(&self, o: &Weighting, h: &[f64], grad: Option<&mut [f64]>) -> f64 {
        let x = Point::new(self.n, self.d, h);
        let mut v = 0.0;
        let k = h.len();
        let mut dh = [0.0; crate::law::MAX_DOMAINS];
        match grad {
            Some(g) => {
                g.fill(0.0);
                for (p, &w) in self
                    .params
                    .iter()
                    .zip(&o.weights)
                    .filter(|(_, &w)| w != 0.0)
                {
                    v += w * self.law.eval(p, &x, None);
                    self.law.grad_h(p, &x, &mut dh[..k]);
                    for (gi, di) in g.iter_mut().zip(&dh[..k]) {
                        *gi += w * di;
                    }
                }
            }
            None => {
                for (p, &w) in self
                    .params
                    .iter()
                    .zip(&o.weights)
                    .filter(|(_, &w)| w != 0.0)
                {
                    v += w * self.law.eval(p, &x, None);
                }
            }
        }
        v
    }
}

/// The optimum of one weighting.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Solution {
    /// The weighting's name (a target, `avg`, or a row's `name`).
    pub target: String,
    /// The refined optimum.
    pub h: Vec<f64>,
    /// The objective at `h`.
    pub loss: f64,
    /// Every fitted target's predicted loss at `h`.
    pub predicted: Vec<f64>,
    /// The best lattice point and its objective.
    pub lattice_h: Vec<f64>,
    /// The objective at `lattice_h`, re-scored in f64.
    pub lattice_loss: f64,
    /// Domains whose weight sits on a bound (0, 1, or a constraint).
    pub on_bounds: Vec<usize>,
    /// Mirror-descent iterations of the refinement that won.
    pub descent_iterations: usize,
    /// Whether `h` is certified the minimum, and how closely.
    pub certificate: Certificate,
}

/// How to search.
#[derive(Clone, Debug)]
pub struct Search {
    /// Lattice resolution `r`: the sweep visits every feasible `h_i = j_i / r`.
    pub resolution: usize,
    /// Lattice points refined per weighting.
    pub top: usize,
    /// Mirror-descent iterations per refined point, at most.
    pub max_iter: usize,
}

/// Minimise every weighting over the simplex within `bounds`; the lattice sweep's predictions
/// run on `backend`, the refinement in f64 on the CPU.
pub fn minimize(
    laws: &Laws,
    weightings: &[Weighting],
    bounds: &Bounds,
    s: &Search,
    backend: &dyn Backend,
) -> Result<Vec<Solution>> {
    let k = laws.domains.len();
    bounds.check(&laws.domains)?;
    let tops = lattice_best(laws, weightings, bounds, s, backend);
    Ok(weightings
        .par_iter()
        .zip(tops)
        .map(|(o, top)| {
            let (lattice_loss, lattice_h) = top
                .first()
                .cloned()
                .unwrap_or((f64::INFINITY, vec![1.0 / k as f64; k]));
            let mut starts: Vec<Vec<f64>> = top.into_iter().map(|(_, h)| h).collect();
            if starts.is_empty() {
                let mut h = vec![1.0 / k as f64; k];
                bounds.project(&mut h);
                starts.push(h);
            }
            let convex = certificate::convexity(laws, o).is_ok();
            let (mut h, mut loss, iters) = starts
                .into_iter()
                .map(|h0| descend(laws, o, bounds, h0, s.max_iter, convex))
                .min_by(|a, b| a.1.total_cmp(&b.1))
                .expect("at least one start");
            // Descent starts just off the lattice point (a zero weight must be able to move), so
            // on a law with a kink it can end above the point it started from: the lattice
            // point is a candidate too, and the better of the two is the optimum.
            if lattice_loss < loss {
                (h, loss) = (lattice_h.clone(), lattice_loss);
            }
            let on_bounds = (0..k)
                .filter(|&i| h[i] <= bounds.lo[i] + 1e-6 || h[i] >= bounds.hi[i] - 1e-6)
                .collect();
            Solution {
                target: o.name.clone(),
                certificate: certificate::certify(laws, o, bounds, &h),
                predicted: laws.predict(&h),
                h,
                loss,
                lattice_h,
                lattice_loss,
                on_bounds,
                descent_iterations: iters,
            }
        })
        .collect())
}

/// The `s.top` best feasible lattice points of every weighting, best first, re-scored in f64:
/// by the separable sweep where the law has a separable form (every built-in law; on `backend`
/// where it has a sweep of its own, the GPU, else on the CPU), else by evaluating each point on
/// `backend` ([`lattice_best_batched`]).
pub fn lattice_best(
    laws: &Laws,
    weightings: &[Weighting],
    bounds: &Bounds,
    s: &Search,
    backend: &dyn Backend,
) -> Vec<Vec<(f64, Vec<f64>)>> {
    let sizes = (s.resolution, s.top);
    let mut best = separable::lattice_best(laws, weightings, bounds, sizes, backend, true)
        .map(|all| all.into_iter().map(Option::unwrap_or_default).collect())
        .unwrap_or_else(|| batched::lattice_best(laws, weightings, bounds, s, backend));
    rescore(laws, weightings, &mut best);
    best
}

/// A weighting's best lattice points `(value, h)`, best first.
pub type LatticePoints = Vec<(f64, Vec<f64>)>;

/// [`lattice_best`] by `backend`'s own separable sweep (the GPU's) alone, per weighting: `None`
/// for the weightings the backend declines, and for all where the law has no separable form or
/// the backend has no sweep. For benchmarks and tests, which must know which sweep ran.
pub fn lattice_best_device(
    laws: &Laws,
    weightings: &[Weighting],
    bounds: &Bounds,
    s: &Search,
    backend: &dyn Backend,
) -> Vec<Option<LatticePoints>> {
    let sizes = (s.resolution, s.top);
    let Some(best) = separable::lattice_best(laws, weightings, bounds, sizes, backend, false)
    else {
        return weightings.iter().map(|_| None).collect();
    };
    weightings
        .iter()
        .zip(best)
        .map(|(o, points)| {
            let mut one = vec![points?];
            rescore(laws, std::slice::from_ref(o), &mut one);
            one.pop()
        })
        .collect()
}

/// [`lattice_best`] by evaluating every point on `backend`, whatever the law: the route of laws
/// without a separable form, public so that benchmarks can set the two side by side.
pub fn lattice_best_batched(
    laws: &Laws,
    weightings: &[Weighting],
    bounds: &Bounds,
    s: &Search,
    backend: &dyn Backend,
) -> Vec<Vec<(f64, Vec<f64>)>> {
    let mut best = batched::lattice_best(laws, weightings, bounds, s, backend);
    rescore(laws, weightings, &mut best);
    best
}

/// Each weighting's points re-scored in f64 and sorted by that score (ties in lattice order).
fn rescore(laws: &Laws, weightings: &[Weighting], best: &mut [Vec<(f64, Vec<f64>)>]) {
    for (o, top) in weightings.iter().zip(best.iter_mut()) {
        for (v, h) in top.iter_mut() {
            *v = laws.value(o, h, None);
        }
        top.sort_by(top::order);
    }
}

/// Where the objective is convex, the descent stops once the duality gap (which bounds the loss's
/// distance to the minimum) is below this fraction of the loss: f64's own rounding of the loss.
const GAP_STOP: f64 = 1e-15;

/// Mirror descent from `h0` (nudged off the simplex boundary, where multiplicative updates could
/// never move a zero weight), with a step that grows after a success and halves after a failure.
/// With `convex`, it stops as soon as the duality gap certifies the loss to [`GAP_STOP`];
/// otherwise (and where rounding keeps the gap above it) when the steps stop moving.
fn descend(
    laws: &Laws,
    o: &Weighting,
    bounds: &Bounds,
    h0: Vec<f64>,
    max_iter: usize,
    convex: bool,
) -> (Vec<f64>, f64, usize) {
    let k = h0.len();
    let mut h: Vec<f64> = h0.iter().map(|v| 0.999 * v + 0.001 / k as f64).collect();
    bounds.project(&mut h);
    let mut g = vec![0.0; k];
    let mut f = laws.value(o, &h, Some(&mut g));
    let scale = g.iter().fold(0.0f64, |m, v| m.max(v.abs())).max(1e-300);
    let mut eta = 0.1 / scale;
    let mut trial = vec![0.0; k];
    let mut gt = vec![0.0; k];
    let mut iters = 0;
    // Where convex, the gap at `h`: near the minimum, where f64 can no longer tell the losses of
    // neighbouring points apart, a step that lowers the gap without raising the loss beyond
    // rounding is progress too (the gradient still points the way).
    let gap_at = |g: &[f64], h: &[f64]| convex.then(|| certificate::gap(g, h, bounds));
    let mut gap = gap_at(&g, &h);
    while iters < max_iter && eta > 1e-300 {
        if gap.is_some_and(|v| v <= GAP_STOP * f.abs()) {
            break;
        }
        iters += 1;
        let m = g.iter().fold(f64::INFINITY, |a, &b| a.min(b));
        for i in 0..k {
            trial[i] = h[i] * (-eta * (g[i] - m)).exp();
        }
        bounds.project(&mut trial);
        let ft = laws.value(o, &trial, Some(&mut gt));
        let gap_t = gap_at(&gt, &trial);
        let level = ft <= f + 4.0 * f64::EPSILON * f.abs();
        if ft < f || (level && gap_t < gap) {
            let moved = trial
                .iter()
                .zip(&h)
                .fold(0.0f64, |a, (x, y)| a.max((x - y).abs()));
            std::mem::swap(&mut h, &mut trial);
            std::mem::swap(&mut g, &mut gt);
            f = ft;
            gap = gap_t;
            eta *= 1.5;
            if moved < 1e-15 {
                break;
            }
        } else {
            eta *= 0.5;
            if eta * scale < 1e-18 {
                break;
            }
        }
    }
    (h, f, iters)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::Cpu;

    /// An additive law over `c.len()` domains with every γ_i = γ: its optimum maximises
    /// `S = Σ C_i h_i^γ`, which for 0 < γ < 1 is `h_i ∝ C_i^(1/(1−γ))`.
    fn additive(c: &[f64], gamma: f64) -> Laws {
        let k = c.len();
        let mut p = vec![1.5, 4.0, 0.3, 1.5, 0.3];
        p.extend_from_slice(c);
        p.extend(std::iter::repeat_n(gamma, k));
        Laws {
            law: crate::law::registry::by_name("additive").unwrap(),
            domains: (0..k).map(|i| format!("d{i}")).collect(),
            params: vec![p],
            n: 100.0,
            d: 10.0,
        }
    }

    fn one() -> Vec<Weighting> {
        vec![Weighting {
            name: "t".into(),
            weights: vec![1.0],
        }]
    }

    fn search(r: usize) -> Search {
        Search {
            resolution: r,
            top: 4,
            max_iter: 100_000,
        }
    }

    fn closed_form(c: &[f64], gamma: f64) -> Vec<f64> {
        let w: Vec<f64> = c.iter().map(|v| v.powf(1.0 / (1.0 - gamma))).collect();
        let s: f64 = w.iter().sum();
        w.iter().map(|v| v / s).collect()
    }

    #[test]
    fn refined_optimum_matches_the_closed_form_and_the_lattice_is_within_its_spacing() {
        for (c, gamma) in [
            (vec![2.0, 1.0], 0.5),
            (vec![1.0, 2.0, 3.0], 0.5),
            (vec![0.5, 1.5, 1.0], 0.3),
        ] {
            let laws = additive(&c, gamma);
            let want = closed_form(&c, gamma);
            let r = 20;
            let sol =
                &minimize(&laws, &one(), &Bounds::free(c.len()), &search(r), &Cpu).unwrap()[0];
            for i in 0..c.len() {
                assert!(
                    (sol.h[i] - want[i]).abs() < 1e-6,
                    "h = {:?}, want {want:?}",
                    sol.h
                );
                assert!(
                    (sol.lattice_h[i] - want[i]).abs() <= 1.0 / r as f64,
                    "{:?}",
                    sol.lattice_h
                );
            }
            assert!(sol.loss <= sol.lattice_loss);
            assert!(sol.on_bounds.is_empty());
        }
    }

    #[test]
    fn the_additive_optimum_does_not_depend_on_scale() {
        let mut laws = additive(&[1.0, 2.0, 3.0], 0.4);
        let h0 = minimize(&laws, &one(), &Bounds::free(3), &search(10), &Cpu).unwrap()[0]
            .h
            .clone();
        for (n, d) in [(10.0, 1.0), (1e4, 1e3)] {
            laws.n = n;
            laws.d = d;
            let h = &minimize(&laws, &one(), &Bounds::free(3), &search(10), &Cpu).unwrap()[0].h;
            // The same optimum, to the precision a descent on values can resolve: f is flat to
            // second order at the optimum, so f64's 1e-16 in f leaves ~1e-8 in h.
            for i in 0..3 {
                assert!((h[i] - h0[i]).abs() < 1e-7, "{h:?} vs {h0:?}");
            }
        }
    }

    #[test]
    fn constraints_are_respected_and_bind_where_they_should() {
        let laws = additive(&[1.0, 2.0, 3.0], 0.5);
        // Unconstrained h3 = 9/14 > 0.4: the cap binds and the rest keep h_i ∝ C_i².
        let bounds = Bounds {
            lo: vec![0.0; 3],
            hi: vec![1.0, 1.0, 0.4],
        };
        let sol = &minimize(&laws, &one(), &bounds, &search(20), &Cpu).unwrap()[0];
        assert!((sol.h[2] - 0.4).abs() < 1e-9, "{:?}", sol.h);
        assert!(
            (sol.h[0] - 0.12).abs() < 1e-6 && (sol.h[1] - 0.48).abs() < 1e-6,
            "{:?}",
            sol.h
        );
        assert_eq!(sol.on_bounds, vec![2]);
        assert!(bounds.contains(&sol.h) && bounds.contains(&sol.lattice_h));
        let floor = Bounds {
            lo: vec![0.3, 0.0, 0.0],
            hi: vec![1.0; 3],
        };
        let sol = &minimize(&laws, &one(), &floor, &search(20), &Cpu).unwrap()[0];
        assert!(sol.h[0] >= 0.3 - 1e-12 && (sol.h.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    }

    #[test]
    fn infeasible_constraints_are_an_error() {
        let laws = additive(&[1.0, 2.0], 0.5);
        let over = Bounds {
            lo: vec![0.6, 0.6],
            hi: vec![1.0; 2],
        };
        let e = minimize(&laws, &one(), &over, &search(5), &Cpu)
            .unwrap_err()
            .to_string();
        assert!(e.contains("infeasible"), "{e}");
        let under = Bounds {
            lo: vec![0.0; 2],
            hi: vec![0.3, 0.3],
        };
        assert!(minimize(&laws, &one(), &under, &search(5), &Cpu).is_err());
    }

    #[test]
    fn several_objectives_are_solved_together() {
        let mut laws = additive(&[1.0, 2.0], 0.5);
        let mut p = laws.params[0].clone();
        p[5] = 2.0;
        p[6] = 1.0;
        laws.params.push(p);
        let objs = vec![
            Weighting {
                name: "a".into(),
                weights: vec![1.0, 0.0],
            },
            Weighting {
                name: "b".into(),
                weights: vec![0.0, 1.0],
            },
        ];
        let sols = minimize(&laws, &objs, &Bounds::free(2), &search(10), &Cpu).unwrap();
        assert!((sols[0].h[1] - 0.8).abs() < 1e-6 && (sols[1].h[0] - 0.8).abs() < 1e-6);
        assert_eq!(sols[0].predicted.len(), 2);
    }

    /// Fits whose optimum is known (h_i ∝ C_i^(1/(1−γ)), free and with a cap that binds): the
    /// certificate is convex, its gap bounds the loss's distance to the known minimum, and it
    /// is rounding-small (the descent stops on it: measured 4e-16 to 2e-15); at a point away from the minimum the gap still bounds the distance.
    #[test]
    fn a_convex_optimum_is_certified_by_a_gap_that_bounds_its_distance_to_the_minimum() {
        let f = |laws: &Laws, h: &[f64]| laws.value(&one()[0], h, None);
        for (c, gamma) in [
            (vec![2.0, 1.0], 0.5),
            (vec![1.0, 2.0, 3.0], 0.5),
            (vec![0.5, 1.5, 1.0, 2.5], 0.3),
        ] {
            let laws = additive(&c, gamma);
            let want = closed_form(&c, gamma);
            let sol =
                &minimize(&laws, &one(), &Bounds::free(c.len()), &search(10), &Cpu).unwrap()[0];
            let cert = &sol.certificate;
            assert!(cert.convex && cert.why.is_none(), "{cert:?}");
            let gap = cert.gap.unwrap();
            let excess = sol.loss - f(&laws, &want);
            eprintln!(
                "gap {gap:e} excess {excess:e} iters {}",
                sol.descent_iterations
            );
            assert!(
                gap >= excess - 1e-15 && gap < 1e-12,
                "gap {gap:e}, excess {excess:e}"
            );
            // Away from the minimum the bound holds and is not small.
            let h = vec![1.0 / c.len() as f64; c.len()];
            let mut g = vec![0.0; c.len()];
            let v = laws.value(&one()[0], &h, Some(&mut g));
            let far = certificate::gap(&g, &h, &Bounds::free(c.len()));
            assert!(far >= v - f(&laws, &want) && far > 1e-4, "{far:e}");
        }
        // A cap that binds: h = (0.12, 0.48, 0.4), as in the constraints test.
        let laws = additive(&[1.0, 2.0, 3.0], 0.5);
        let capped = Bounds {
            lo: vec![0.0; 3],
            hi: vec![1.0, 1.0, 0.4],
        };
        let sol = &minimize(&laws, &one(), &capped, &search(20), &Cpu).unwrap()[0];
        let excess = sol.loss - f(&laws, &[0.12, 0.48, 0.4]);
        let gap = sol.certificate.gap.unwrap();
        eprintln!(
            "capped gap {gap:e} excess {excess:e} iters {}",
            sol.descent_iterations
        );
        assert!(
            gap >= excess - 1e-15 && gap < 1e-12,
            "gap {gap:e}, excess {excess:e}"
        );
    }

    /// A γ_i above 1 or a negative C_i is not convex: no certificate, and the reason names it;
    /// a weighting that gives such a target no weight is still certified.
    #[test]
    fn a_fit_that_is_not_convex_is_refused_a_certificate() {
        let mut laws = additive(&[1.0, 2.0, 3.0], 0.5);
        let mut steep = laws.params[0].clone();
        steep[5 + 3 + 1] = 1.5;
        let mut negative = laws.params[0].clone();
        negative[5 + 2] = -0.5;
        laws.params.extend([steep, negative]);
        let w = |weights: Vec<f64>| Weighting {
            name: "w".into(),
            weights,
        };
        let ws = [
            w(vec![1.0, 0.0, 0.0]),
            w(vec![0.5, 0.5, 0.0]),
            w(vec![0.0, 0.0, 1.0]),
        ];
        let sols = minimize(&laws, &ws, &Bounds::free(3), &search(10), &Cpu).unwrap();
        assert!(sols[0].certificate.convex && sols[0].certificate.gap.is_some());
        for (s, word) in sols[1..]
            .iter()
            .zip(["gamma of domain 'd1' is 1.5", "C of domain 'd2' is -0.5"])
        {
            let c = &s.certificate;
            assert!(!c.convex && c.gap.is_none(), "{c:?}");
            assert!(c.why.as_deref().unwrap().contains(word), "{c:?}");
        }
        // The joint law has no convexity test.
        let joint = crate::law::registry::by_name("joint").unwrap();
        let e = joint
            .convex_in_h(&[0.0; 5 + 4 * 2], &["a".into(), "b".into()])
            .unwrap_err();
        assert!(e.contains("not known"), "{e}");
    }
}
