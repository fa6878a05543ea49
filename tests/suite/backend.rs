//! Backend parity: every backend returns what `Problem::eval` returns (the f64 reference), and
//! fits and mixture searches end to end come out the same on every backend as on the CPU.
//!
//! One suite, instantiated once per backend by `backend_suite!`: every parity and end-to-end
//! test is one function of the backend, run as `cpu::<name>` on the CPU and, in a build with the
//! `gpu` cargo feature, as `gpu::<name>` on the GPU. GPU tests skip with a printed reason when no
//! adapter exists, unless `MIXLAW_REQUIRE_GPU=1`, where a missing adapter fails them. What only
//! a GPU has (size classes, kernel time, batches beyond one dispatch's workgroups, the domain
//! limit of its checks) is tested in `gpu_only`, under the same feature.
//!
//! # The tolerance, derived from f32 rounding
//!
//! The GPU evaluates each row in f32 (unit roundoff `u = 2^-24`) and sums rows in f32; the host
//! does per-entry work in f64. For row `j` (f64 reference values from the CPU path: prediction
//! `pred_j`, law gradient `d_j = ∂pred/∂p`, residual `r_j`, `ρ_j = dr/dpred`, the loss the
//! optimiser sees `H_j` and its derivative `ψ_j` (for Huber `ψ_j = clamp(r_j, −δ, δ)`; see
//! `Loss::smoothed`), each times the overestimate penalty `W` where `r_j > 0`):
//!
//! * **Prediction.** Every input (a parameter, ln N, ln D, ln h) is rounded to f32 with relative
//!   error ≤ u, and an error of relative size ε in `p_i` moves `pred` by `ε·|p_i·d_ij|`; an
//!   exponent argument `a` rounded relatively moves `exp(a)` by `|a|·u` relatively, and that is
//!   again `|p_i·d_ij|·u` for the exponent parameter `p_i` of that term. So the prediction's error
//!   is `Δpred_j ≤ C·u·S_j` with `S_j = |pred_j| + Σ_i |p_i·d_ij|`, where `C` counts the roundings
//!   each term passes through (≲ 10 per term; we take `C = 32`). `Λ_j = S_j / |pred_j|` is the
//!   row's relative condition number.
//! * **Residual.** raw: `Δr_j ≤ C·u·(S_j + |y_j|)`;
//!   log: `Δr_j ≤ C·u·(Λ_j + |ln y_j| + |ln pred_j|)` (ln y is taken in f64 and rounded once).
//! * **Objective.** `ψ` is the derivative of `H`, so `ΔH_j ≤ |ψ_j|·Δr_j` plus the rounding of `H`
//!   itself; a sum of `m` terms each thread accumulates `m/64` of, then a 6-level tree, errs by
//!   `≤ (m/64 + 6)·u·Σ|terms|`. With `s` the reduction's factor (`1/Σw` for the mean, 1 for
//!   the sum) times the loss's scale (`1/δ` for Huber, `1/(2δ)` for the squared error, 1 for
//!   the absolute error's stand-in):
//!   `|Δf| ≤ s·[Σ_j w_j·|ψ_j|·Δr_j + (m/64 + 6 + C)·u·Σ_j w_j·H_j]`.
//! * **Gradient**, norm-wise (components of mixed sign cancel; a component-wise bound would be
//!   meaningless where the sum is near 0). `ψ` is `L`-Lipschitz in `r` (`L = max(W, 1)` times 1
//!   for Huber, 2 for the squared error, `1/δ` for the absolute error's stand-in) and, but for
//!   the squared error, constant (±δ·W or ±δ, exact in f32 after the scaling) for `|r| > δ`, so
//!   `Δψ_j ≤ L·Δr_j` where `|r_j| ≤ δ + Δr_j` (everywhere for the squared error) and 0
//!   elsewhere; every component of `ρ_j·d_j` is a product of factors whose relative error is
//!   `≤ C·u·Λ_j`. With `d̃_j` the gradient in internal coordinates (`d_ij·p_i` for a log
//!   coordinate):
//!   `‖Δg‖₂ ≤ s·Σ_j w_j·|ρ_j|·‖d̃_j‖₂·(Δψ_j + |ψ_j|·C·u·Λ_j + (m/64 + 6)·u·|ψ_j|)`.
//!
//! The bound is first-order (it ignores products of two rounding errors) and uses a generous
//! `C`; the suite prints the largest `error / tolerance` ratio it meets, which is what to watch.

use mixlaw::backend::gpu::size_class;
#[cfg(feature = "gpu")]
use mixlaw::backend::Gpu;
use mixlaw::backend::{Backend, Cpu};
use mixlaw::data::Dataset;
use mixlaw::fit::FitSettings;
use mixlaw::law::{registry, Law, Point, MAX_DOMAINS};
use mixlaw::loss::{Loss, LossKind, Reduce, Residual};
use mixlaw::objective::{Problem, Rows};
use mixlaw::rng::Rng;

use crate::common;

/// f32 unit roundoff.
const U: f64 = 1.0 / (1u64 << 24) as f64;
/// Roundings per term, with margin (see the module doc).
const C: f64 = 32.0;
const K: usize = 3;
const ROWS: usize = 200;

/// A backend the suite runs on: what its tests ask of it beyond [`Backend`].
trait Subject: Backend {
    /// Whether it evaluates `law` (the CPU every law, the GPU those with a kernel).
    fn supports(&self, law: &Law) -> bool;
    /// The kernel size classes it has built so far, for a backend that has them (the GPU).
    fn classes(&self) -> Option<Vec<(usize, usize)>>;
}

impl Subject for Cpu {
    fn supports(&self, _: &Law) -> bool {
        true
    }
    fn classes(&self) -> Option<Vec<(usize, usize)>> {
        None
    }
}

#[cfg(feature = "gpu")]
impl Subject for Gpu {
    fn supports(&self, law: &Law) -> bool {
        law.kernel().is_some()
    }
    fn classes(&self) -> Option<Vec<(usize, usize)>> {
        Some(self.size_classes())
    }
}

/// The GPU backend shared by the GPU tests, or `None` (after saying why) when there is no
/// adapter.
#[cfg(feature = "gpu")]
fn gpu() -> Option<&'static Gpu> {
    static GPU: std::sync::OnceLock<Option<Gpu>> = std::sync::OnceLock::new();
    GPU.get_or_init(|| common::open_gpu(None)).as_ref()
}

/// Turns each suite function `name` (taking the backend) into the tests `cpu::name` and, with
/// the `gpu` cargo feature, `gpu::name`. The GPU test runs on the device the suite shares
/// ([`gpu`]), or on a device of its own where the entry says `[own]` (a test that asserts which
/// size classes were built) or `[split N]` (at most `N` entries per dispatch); without an
/// adapter it skips with a printed reason, unless `MIXLAW_REQUIRE_GPU=1`. Attributes before an
/// entry go on its GPU test alone: `#[ignore = ..]` puts the end-to-end fits that take lavapipe
/// (the software GPU of CI and of 2-core boxes) 10 s and more in the slow tier, while their CPU
/// twins stay in the fast one.
macro_rules! backend_suite {
    (@gpu) => {
        super::gpu()
    };
    (@gpu own) => {
        &crate::common::open_gpu(None)
    };
    (@gpu split $n:literal) => {
        &crate::common::open_gpu(Some($n))
    };
    ($($(#[$gpu_attr:meta])* $name:ident $([$($how:tt)*])?),* $(,)?) => {
        mod cpu {
            $(#[test]
            fn $name() {
                super::$name(&super::Cpu);
            })*
        }
        #[cfg(feature = "gpu")]
        mod gpu {
            $(#[test]
            $(#[$gpu_attr])*
            fn $name() {
                if let Some(gpu) = backend_suite!(@gpu $($($how)*)?) {
                    super::$name(gpu);
                }
            })*
        }
    };
}

backend_suite! {
    agrees_with_the_f64_reference,
    #[ignore = "slow tier: cargo test -- --include-ignored"]
    agrees_with_the_f64_reference_beyond_16_domains,
    agrees_with_the_f64_reference_for_every_loss,
    interleaved_problems_do_not_mix,
    split_batches_match_single_entries [split 7],
    #[ignore = "slow tier: cargo test -- --include-ignored"]
    chinchilla_grid_fit_matches_cpu,
    #[ignore = "slow tier: cargo test -- --include-ignored"]
    asymmetric_loss_fits_match_cpu,
    #[ignore = "slow tier: cargo test -- --include-ignored"]
    additive_paper_split_fit_matches_cpu,
    mixture_predictions_match_cpu,
    #[ignore = "slow tier: cargo test -- --include-ignored"]
    mixture_predictions_beyond_16_domains_match_cpu [own],
    optimize_matches_cpu,
    optimize_beyond_16_domains_matches_cpu [own],
}

/// A random problem: `ROWS` rows over `K` domains (a few on the simplex boundary), targets from
/// a random truth with noise of about δ, and two weight sets: random weights (a few exactly 0)
/// and bootstrap-like counts (0 to 3).
fn problem(law: &Law, residual: Residual, reduce: Reduce, seed: u64) -> Problem {
    problem_k(law, K, residual, reduce, seed)
}

/// [`problem`] over `k` domains.
fn problem_k(law: &Law, k: usize, residual: Residual, reduce: Reduce, seed: u64) -> Problem {
    let mut rng = Rng::new(seed, 7);
    let truth = law.sample_start(k, &mut rng);
    problem_at(
        law,
        &truth,
        k,
        residual,
        reduce,
        Loss::huber(1e-3),
        &mut rng,
    )
}

fn problem_at(
    law: &Law,
    truth: &[f64],
    k: usize,
    residual: Residual,
    reduce: Reduce,
    loss: Loss,
    rng: &mut Rng,
) -> Problem {
    let domains: Vec<String> = (0..k).map(|i| format!("d{i}")).collect();
    let (mut ln_n, mut ln_d, mut h, mut y, mut w) = (vec![], vec![], vec![], vec![], vec![]);
    for j in 0..ROWS {
        let mut hh: Vec<f64> = (0..k).map(|_| rng.range(0.05, 1.0)).collect();
        if j % 25 == 0 {
            hh[j / 25 % k] = 0.0;
        }
        let s: f64 = hh.iter().sum();
        hh.iter_mut().for_each(|v| *v /= s);
        let (n, d) = (rng.range(50.0, 3000.0), rng.range(1.0, 100.0));
        let v = law.eval(truth, &Point::new(n, d, &hh), None);
        ln_n.push(n.ln());
        ln_d.push(d.ln());
        h.extend(hh);
        y.push(v * (1.0 + 5e-4 * rng.normal()));
        w.push(if j % 17 == 3 {
            0.0
        } else {
            rng.range(0.1, 3.0)
        });
    }
    let counts: Vec<f64> = (0..ROWS).map(|_| (rng.uniform() * 4.0).floor()).collect();
    w.extend(counts);
    Problem::new(
        law,
        law.params(&domains),
        Rows::new(ln_n, ln_d, h, y, k),
        w,
        residual,
        reduce,
        loss,
    )
}

/// Random starts, in internal coordinates (mostly far from the fit: most residuals exceed δ).
fn thetas(problem: &Problem, n: usize, seed: u64) -> Vec<f64> {
    let mut rng = Rng::new(seed, 11);
    let k = problem.rows().k();
    (0..n)
        .flat_map(|_| {
            problem
                .coords()
                .to_internal(&problem.law().sample_start(k, &mut rng))
        })
        .collect()
}

/// Weight set of batch entry `b` in the tests: the two sets alternate.
fn set_of(b: usize) -> u32 {
    (b % 2) as u32
}

fn sets(n: usize) -> Vec<u32> {
    (0..n).map(set_of).collect()
}

/// The tolerances of the module doc for `f` and `‖g‖₂` at internal `theta` under weight set `set`.
fn tolerance(pr: &Problem, theta: &[f64], set: usize) -> (f64, f64) {
    let p = pr.coords().to_natural(theta);
    let dim = pr.dim();
    let loss = pr.loss();
    let delta = loss.delta;
    let weights = pr.weights().set(set);
    let s = pr.norm(set) * pr.scale();
    let lipschitz = loss.penalty.max(1.0)
        * match loss.kind {
            LossKind::Huber => 1.0,
            LossKind::Mse => 2.0,
            LossKind::Mae => 1.0 / delta,
        };
    let m = pr.rows().len() as f64;
    let sum_err = (m / 64.0 + 6.0) * U;
    let (mut tf, mut tg, mut sum_h) = (0.0, 0.0, 0.0);
    let mut d = vec![0.0; dim];
    for (j, &w) in weights.iter().enumerate() {
        if w == 0.0 {
            continue;
        }
        let pred = pr.law().eval(&p, &pr.rows().point(j), Some(&mut d));
        let y = pr.rows().y()[j];
        let sens: f64 = p.iter().zip(&d).map(|(a, b)| (a * b).abs()).sum();
        let lambda = 1.0 + sens / pred.abs();
        let (r, rho, dr) = match pr.residual() {
            Residual::Raw => (pred - y, 1.0, C * U * (pred.abs() + sens + y.abs())),
            Residual::Log => (
                pred.ln() - y.ln(),
                1.0 / pred,
                C * U * (lambda + y.ln().abs() + pred.ln().abs()),
            ),
        };
        let (h, psi) = loss.smoothed(r);
        let dn: f64 = d
            .iter()
            .zip(&p)
            .enumerate()
            .map(
                |(i, (di, pi))| {
                    if pr.coords().is_log(i) {
                        di * pi
                    } else {
                        *di
                    }
                },
            )
            .map(|v| v * v)
            .sum::<f64>()
            .sqrt();
        tf += w * psi.abs() * dr;
        sum_h += w * h;
        let bent = loss.kind == LossKind::Mse || r.abs() <= delta + dr;
        let dpsi = if bent { lipschitz * dr } else { 0.0 };
        tg += w * rho.abs() * dn * (dpsi + psi.abs() * (C * U * lambda + sum_err));
    }
    (s * (tf + (sum_err + C * U) * sum_h), s * tg)
}

/// `n` points near `truth` (relative perturbations of 1e-4), in internal coordinates: most
/// residuals are within δ there, the quadratic branch of the Huber loss.
fn near(problem: &Problem, truth: &[f64], n: usize, seed: u64) -> Vec<f64> {
    let mut rng = Rng::new(seed, 13);
    (0..n)
        .flat_map(|_| {
            let p: Vec<f64> = truth
                .iter()
                .map(|v| v * (1.0 + 1e-4 * rng.normal()))
                .collect();
            problem.coords().to_internal(&p)
        })
        .collect()
}

/// Largest error/tolerance ratios and relative errors seen, for the report.
#[derive(Default)]
struct Worst {
    f: f64,
    g: f64,
    f_rel: f64,
    g_rel: f64,
}

/// Every built-in law, and every law file of `laws/` (the built-in laws again as formulas, whose
/// GPU kernels are generated, and the laws that are not built in).
fn laws() -> Vec<Law> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("laws");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let mut laws = registry::builtin().to_vec();
    laws.extend(
        files
            .iter()
            .map(|f| mixlaw::law::formula::file::load(f).unwrap()),
    );
    laws
}

/// The backend agrees with `Problem::eval` within the derived tolerance, for every law the
/// backend supports, both residuals and both reductions.
fn agrees_with_the_f64_reference(backend: &impl Subject) {
    let mut tested = 0;
    for law in &laws() {
        if !backend.supports(law) {
            eprintln!(
                "{}: {} not supported, not tested",
                backend.describe(),
                law.name()
            );
            continue;
        }
        let mut worst = Worst::default();
        let mut seed = 0;
        for residual in [Residual::Raw, Residual::Log] {
            for reduce in [Reduce::Mean, Reduce::Sum] {
                for _ in 0..2 {
                    seed += 1;
                    let huber = Loss::huber(1e-3);
                    agrees_on_one_problem(
                        backend,
                        law,
                        K,
                        (residual, reduce, huber),
                        seed,
                        &mut worst,
                    );
                }
            }
        }
        tested += 1;
        report_worst(backend, law, K, &worst);
    }
    assert!(tested >= 3, "fewer than three laws tested");
}

/// Past the default size class (72 parameters, 16 domains): every law at k = 20 and at the
/// crate's limit of 64 domains (the full law's 389 parameters) agrees with the f64 reference
/// within the same derived tolerance; on the GPU each is evaluated in the size class made for it.
fn agrees_with_the_f64_reference_beyond_16_domains(backend: &impl Subject) {
    let cases = [(Residual::Raw, Reduce::Mean), (Residual::Log, Reduce::Sum)];
    for k in [20, MAX_DOMAINS] {
        for law in &laws() {
            let mut worst = Worst::default();
            let mut dim = 0;
            for (seed, (residual, reduce)) in (100..).zip(cases) {
                let scoring = (residual, reduce, Loss::huber(1e-3));
                dim = agrees_on_one_problem(backend, law, k, scoring, seed, &mut worst);
            }
            report_worst(backend, law, k, &worst);
            if let Some(built) = backend.classes() {
                let class = size_class(dim, k);
                assert!(class.0 >= dim && class.1 >= k && class.1 > 16, "{class:?}");
                assert!(built.contains(&class), "{class:?} not built");
            }
        }
    }
    // The laws with more than 72 parameters at k = 20 (joint 85, full 125) ran in a larger
    // class than the default.
    if let Some(built) = backend.classes() {
        assert!(built.contains(&(144, 32)));
        assert!(built.contains(&(576, 64)));
    }
}

/// Every loss (huber, mse, mae; symmetric and with an overestimate penalty of 10; mae's stand-in
/// at the exploring width and at one a hundred times narrower, as polishing sees it), both
/// residuals and both reductions, for a law of the scale and one of the mixture: the backend
/// agrees with `Problem::eval` within the derived tolerance.
fn agrees_with_the_f64_reference_for_every_loss(backend: &impl Subject) {
    let mut seed = 500;
    for name in ["chinchilla", "additive"] {
        let law = registry::by_name(name).unwrap();
        let mut worst = Worst::default();
        for (kind, delta) in [
            (LossKind::Huber, 1e-3),
            (LossKind::Mse, 1e-3),
            (LossKind::Mae, 1e-3),
            (LossKind::Mae, 1e-5),
        ] {
            for penalty in [1.0, 10.0] {
                let loss = Loss {
                    kind,
                    delta,
                    penalty,
                };
                for residual in [Residual::Raw, Residual::Log] {
                    for reduce in [Reduce::Mean, Reduce::Sum] {
                        seed += 1;
                        let scoring = (residual, reduce, loss);
                        agrees_on_one_problem(backend, &law, K, scoring, seed, &mut worst);
                    }
                }
            }
        }
        report_worst(backend, &law, K, &worst);
    }
}

/// One random problem of `law` over `k` domains (seed `seed`) scored as `scoring` says
/// (residual, reduction, loss): 32 entries, half random starts and half near the truth, each
/// within the derived tolerance of `Problem::eval`; the largest ratios go into `worst`.
fn agrees_on_one_problem(
    backend: &dyn Backend,
    law: &Law,
    k: usize,
    scoring: (Residual, Reduce, Loss),
    seed: u64,
    worst: &mut Worst,
) -> usize {
    let (residual, reduce, loss) = scoring;
    let mut rng = Rng::new(seed, 7);
    let truth = law.sample_start(k, &mut rng);
    let pr = problem_at(law, &truth, k, residual, reduce, loss, &mut rng);
    let dim = pr.dim();
    let n = 32;
    let mut th = thetas(&pr, n / 2, seed);
    th.extend(near(&pr, &truth, n / 2, seed));
    let (mut f, mut g) = (vec![0.0; n], vec![0.0; n * dim]);
    backend.evaluate(&pr, &th, &sets(n), &mut f, &mut g);
    let mut finite = 0;
    for b in 0..n {
        let theta = &th[b * dim..(b + 1) * dim];
        let set = set_of(b) as usize;
        let mut g_ref = vec![0.0; dim];
        let f_ref = pr.eval(theta, set, &mut g_ref);
        let gb = &g[b * dim..(b + 1) * dim];
        let what = format!(
            "{} k={k} {residual:?}/{reduce:?} {loss:?} entry {b} (weight set {set})",
            law.name()
        );
        if !f_ref.is_finite() {
            assert_eq!(f[b], f_ref, "{what}");
            assert!(gb.iter().all(|&v| v == 0.0), "{what}");
            continue;
        }
        finite += 1;
        let (tf, tg) = tolerance(&pr, theta, set);
        let ef = (f[b] - f_ref).abs();
        let eg = gb
            .iter()
            .zip(&g_ref)
            .map(|(a, b)| (a - b) * (a - b))
            .sum::<f64>()
            .sqrt();
        assert!(
            ef <= tf,
            "{what}: f {} vs {f_ref} (error {ef:e} > tolerance {tf:e})",
            f[b]
        );
        assert!(
            eg <= tg,
            "{what}: |Δg| {eg:e} > tolerance {tg:e}\n  got {gb:?}\n want {g_ref:?}"
        );
        worst.f = worst.f.max(ef / tf);
        worst.g = worst.g.max(eg / tg);
        worst.f_rel = worst.f_rel.max(ef / f_ref.abs());
        let gn = g_ref.iter().map(|v| v * v).sum::<f64>().sqrt();
        worst.g_rel = worst.g_rel.max(eg / gn);
    }
    // The entries near the truth have finite objectives: the comparison is never vacuous.
    assert!(
        finite >= n / 2,
        "{} k={k}: {finite} finite entries",
        law.name()
    );
    dim
}

fn report_worst(backend: &dyn Backend, law: &Law, k: usize, worst: &Worst) {
    eprintln!(
        "{}: {:<10} k={k:<2} largest error/tolerance: f {:.2e}, g {:.2e}; \
         largest relative error: f {:.1e}, ‖g‖ {:.1e}",
        backend.describe(),
        law.name(),
        worst.f,
        worst.g,
        worst.f_rel,
        worst.g_rel
    );
}

/// One call with a batch that spans several dispatches gives, entry for entry, exactly what
/// evaluating the entries one at a time gives. (On the GPU, with at most 7 entries per dispatch,
/// 150 entries take 22 dispatches.)
fn split_batches_match_single_entries(backend: &dyn Backend) {
    let pr = problem(
        &registry::by_name("additive").unwrap(),
        Residual::Log,
        Reduce::Mean,
        99,
    );
    let dim = pr.dim();
    let n = 150;
    let th = thetas(&pr, n, 5);
    let (mut f, mut g) = (vec![0.0; n], vec![0.0; n * dim]);
    backend.evaluate(&pr, &th, &sets(n), &mut f, &mut g);
    for b in 0..n {
        let (mut f1, mut g1) = ([0.0], vec![0.0; dim]);
        let one = [set_of(b)];
        backend.evaluate(&pr, &th[b * dim..(b + 1) * dim], &one, &mut f1, &mut g1);
        assert_eq!(f1[0].to_bits(), f[b].to_bits(), "entry {b}: f");
        assert_eq!(g1, g[b * dim..(b + 1) * dim], "entry {b}: g");
    }
}

/// Evaluating several problems in turn (the cache holds a few) gives the same answers as
/// evaluating each fresh: no problem reads another's rows.
fn interleaved_problems_do_not_mix(backend: &dyn Backend) {
    let law = registry::by_name("joint").unwrap();
    let problems: Vec<Problem> = (0..6)
        .map(|s| problem(&law, Residual::Raw, Reduce::Mean, 200 + s))
        .collect();
    let dim = problems[0].dim();
    let th = thetas(&problems[0], 4, 1);
    let first: Vec<Vec<f64>> = problems
        .iter()
        .map(|pr| {
            let (mut f, mut g) = (vec![0.0; 4], vec![0.0; 4 * dim]);
            backend.evaluate(pr, &th, &sets(4), &mut f, &mut g);
            f
        })
        .collect();
    for round in 0..2 {
        for (i, pr) in problems.iter().enumerate().rev() {
            let (mut f, mut g) = (vec![0.0; 4], vec![0.0; 4 * dim]);
            backend.evaluate(pr, &th, &sets(4), &mut f, &mut g);
            assert_eq!(f, first[i], "problem {i}, round {round}");
        }
    }
}

/// Best objective of an end-to-end fit of `ds` on `backend` (the polish runs on the CPU).
fn best_objective(
    ds: &Dataset,
    law: &Law,
    settings: &FitSettings,
    backend: &dyn Backend,
) -> Vec<f64> {
    let fit = mixlaw::fit::fit(ds, law, settings, backend, &[], &mut |_, _, _| {}).unwrap();
    fit.targets.iter().map(|t| t.objective).collect()
}

/// The best objectives `got` on `backend` are those of the all-CPU fit, `cpu`, to 1e-6 relative.
fn same_after_polish(cpu: &[f64], got: &[f64], backend: &dyn Backend, what: &str) {
    assert_eq!(cpu.len(), got.len(), "{what}: targets fitted");
    let name = backend.describe();
    for (c, g) in cpu.iter().zip(got) {
        assert!(
            (c - g).abs() <= 1e-6 * c,
            "{what}: cpu {c:e} vs {name} {g:e}"
        );
    }
}

/// Hoffmann's 4,500-point grid on Epoch's points: the backend explores (the GPU in f32), the
/// CPU polishes in f64, and the best objective matches the all-CPU fit to 1e-6 relative.
fn chinchilla_grid_fit_matches_cpu(backend: &dyn Backend) {
    let law = registry::by_name("chinchilla").unwrap();
    let Some(ds) = common::epoch() else {
        return;
    };
    let s = FitSettings::defaults_for(&law);
    same_after_polish(
        &best_objective(&ds, &law, &s, &Cpu),
        &best_objective(&ds, &law, &s, backend),
        backend,
        "chinchilla",
    );
}

/// The asymmetric fits of kyo-takano's chinchilla package on Epoch's rows (C > 1e18, N < D):
/// the absolute error with W = 10 on the raw residual, mean (its smoothed stand-in explored on
/// the backend, narrowed and ranked exactly in the polish), and the squared error with W = 3 on
/// the log residual, summed; the first also with the law written as a formula
/// (`laws/chinchilla.toml`). Hoffmann's grid on the backend, the best exact objective after
/// polish the all-CPU fit's to 1e-6 relative.
fn asymmetric_loss_fits_match_cpu(backend: &dyn Backend) {
    let builtin = registry::by_name("chinchilla").unwrap();
    let file = mixlaw::law::formula::file::load(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("laws/chinchilla.toml"),
    )
    .unwrap();
    let Some(ds) = common::epoch_kyo_takano() else {
        return;
    };
    for (law, loss, penalty, residual, reduce) in [
        (&builtin, LossKind::Mae, 10.0, Residual::Raw, Reduce::Mean),
        (&builtin, LossKind::Mse, 3.0, Residual::Log, Reduce::Sum),
        (&file, LossKind::Mae, 10.0, Residual::Raw, Reduce::Mean),
    ] {
        let s = FitSettings {
            loss,
            overestimate_penalty: penalty,
            residual,
            reduce,
            ..FitSettings::defaults_for(law)
        };
        same_after_polish(
            &best_objective(&ds, law, &s, &Cpu),
            &best_objective(&ds, law, &s, backend),
            backend,
            &format!("{} ({})", s.objective_name(), law.name()),
        );
    }
}

/// The additive law on the paper's train split, 20 starts, on the backend and on the CPU: the
/// same best objective after polish (1e-6 relative) wherever that optimum belongs to the problem
/// rather than to the starts drawn.
///
/// f32 and f64 trajectories part ways in this law's long, flat valleys, so the two backends
/// reach the same basins only in distribution, and where the deepest basin is rare, whether 20
/// starts find it is a coin flip on either backend: on c4 the CPU reaches 8.3682e-6 under seed 0
/// but 8.3728e-6 under seeds 1 to 7. So the test takes the targets in table order, fits each on
/// the CPU under seeds 0 to 3, and keeps those whose best objective is the same under all four
/// (five of the eight when this was written), until it has two; the backend, under seed 0, must
/// reach that objective on both.
fn additive_paper_split_fit_matches_cpu(backend: &dyn Backend) {
    let law = registry::by_name("additive").unwrap();
    let mut s = FitSettings::defaults_for(&law);
    s.starts = 20;
    let targets = [
        "arxiv_loss",
        "book_loss",
        "c4_loss",
        "github_loss",
        "commoncrawl_loss",
        "stackexchange_loss",
        "wikipedia_loss",
        "openhermes_loss",
    ];
    let mut settled = Vec::new();
    for target in targets {
        if settled.len() == 2 {
            break;
        }
        let Some(ds) = common::slimpajama_train(target) else {
            return;
        };
        let bests: Vec<f64> = (0..4)
            .map(|seed| {
                s.seed = seed;
                best_objective(&ds, &law, &s, &Cpu)[0]
            })
            .collect();
        let lo = bests.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = bests.iter().copied().fold(0.0, f64::max);
        if hi - lo <= 1e-6 * lo {
            settled.push((target, ds, bests[0]));
        }
    }
    assert_eq!(
        settled.len(),
        2,
        "fewer than two targets have one 20-start optimum under seeds 0-3"
    );
    s.seed = 0;
    for (target, ds, cpu) in &settled {
        same_after_polish(
            &[*cpu],
            &best_objective(ds, &law, &s, backend),
            backend,
            target,
        );
    }
}

/// The mixture search's predictions on the backend agree with the CPU's f64 laws within the
/// prediction part of the tolerance derived at the top of this file: `|Δpred| ≤ C·u·S`,
/// `S = |pred| + Σ_i |p_i·∂pred/∂p_i|`.
fn mixture_predictions_match_cpu(backend: &dyn Backend) {
    mixture_predictions_match_cpu_at(backend, 3);
}

/// The mixture search's predictions past the default size class, at k = 20 and 64 domains,
/// within the same bound; on the GPU (a device of its own) each law's class is built for it:
/// the search ran on the device, not on the CPU fallback.
fn mixture_predictions_beyond_16_domains_match_cpu(backend: &impl Subject) {
    let mut want = vec![(72, 16)];
    for k in [20, MAX_DOMAINS] {
        let classes = mixture_predictions_match_cpu_at(backend, k);
        for c in classes {
            if !want.contains(&c) {
                want.push(c);
            }
        }
    }
    assert!(want.contains(&(576, 64)), "{want:?}");
    if let Some(built) = backend.classes() {
        assert_eq!(built, want);
    }
}

/// [`mixture_predictions_match_cpu`] over `k` domains; returns each law's size class.
fn mixture_predictions_match_cpu_at(backend: &dyn Backend, k: usize) -> Vec<(usize, usize)> {
    let (u, c) = (2f64.powi(-24), 32.0);
    let mut rng = Rng::new(21, 0);
    let mut classes = vec![];
    for law in registry::builtin().iter().filter(|l| l.uses_mixture()) {
        let params: Vec<Vec<f64>> = (0..3).map(|_| law.sample_start(k, &mut rng)).collect();
        let hs: Vec<f64> = (0..500)
            .flat_map(|_| {
                let e: Vec<f64> = (0..k).map(|_| -(1.0 - rng.uniform()).ln()).collect();
                let s: f64 = e.iter().sum();
                e.into_iter().map(move |v| v / s)
            })
            .collect();
        let (ln_n, ln_d) = (300f64.ln(), 20f64.ln());
        let mut want = vec![0.0; 500 * 3];
        let mut got = vec![0.0; 500 * 3];
        Cpu.predict_mixtures(law, &params, ln_n, ln_d, &hs, k, &mut want);
        backend.predict_mixtures(law, &params, ln_n, ln_d, &hs, k, &mut got);
        classes.push(size_class(params[0].len(), k));
        let mut worst = 0.0f64;
        for (i, (w, g)) in want.iter().zip(&got).enumerate() {
            let (cand, t) = (i / 3, i % 3);
            let h = &hs[cand * k..(cand + 1) * k];
            let x = Point::new(300.0, 20.0, h);
            let mut d = vec![0.0; params[t].len()];
            law.eval(&params[t], &x, Some(&mut d));
            let s = w.abs()
                + params[t]
                    .iter()
                    .zip(&d)
                    .map(|(p, di)| (p * di).abs())
                    .sum::<f64>();
            let ratio = (w - g).abs() / (c * u * s);
            worst = worst.max(ratio);
            assert!(
                ratio <= 1.0,
                "{}: cpu {w} {} {g} (bound {})",
                law.name(),
                backend.describe(),
                c * u * s
            );
        }
        eprintln!(
            "{}: {} k={k}: worst error / tolerance {worst:.2e}",
            backend.describe(),
            law.name()
        );
    }
    classes
}

/// The same optimal mixture whichever backend sweeps the lattice (the refinement is f64).
fn optimize_matches_cpu(backend: &dyn Backend) {
    optimize_matches_cpu_at(backend, 4, 20);
}

/// The same at 20 domains (45 parameters) on a lattice of resolution 3; on the GPU (a device of
/// its own) the point-by-point sweep (the route of laws without a separable form; built-in laws
/// take the separable sweep on the CPU) built and ran size class (72, 32) rather than falling
/// back to the CPU.
fn optimize_beyond_16_domains_matches_cpu(backend: &impl Subject) {
    optimize_matches_cpu_at(backend, 20, 3);
    if let Some(built) = backend.classes() {
        assert_eq!(built, [(72, 16), (72, 32)]);
    }
}

/// The mixture search (`minimize`) over three additive laws of `k` domains, lattice resolution
/// `r`, on the CPU and on `backend`: the same optima.
fn optimize_matches_cpu_at(backend: &dyn Backend, k: usize, r: usize) {
    use mixlaw::mixture::{minimize, Bounds, Laws, Search, Weighting};
    let law = registry::by_name("additive").unwrap();
    let mut rng = Rng::new(5, 0);
    // Every γ_i in (0, 1): the optimum is unique and interior (h_i ∝ C_i^(1/(1−γ)) when the γ_i
    // are equal), so both backends must find the same one.
    let params = (0..3)
        .map(|_| {
            let mut p = vec![1.5, 4.0, 0.3, 1.5, 0.3];
            p.extend((0..k).map(|_| rng.range(0.5, 2.0)));
            p.extend((0..k).map(|_| rng.range(0.3, 0.6)));
            p
        })
        .collect();
    let laws = Laws {
        law,
        domains: (0..k).map(|i| format!("d{i}")).collect(),
        params,
        n: 500.0,
        d: 50.0,
    };
    let weightings: Vec<Weighting> = (0..3)
        .map(|t| {
            let mut weights = vec![0.0; 3];
            weights[t] = 1.0;
            Weighting {
                name: format!("t{t}"),
                weights,
            }
        })
        .collect();
    let s = Search {
        resolution: r,
        top: 4,
        max_iter: 100_000,
    };
    let cpu = minimize(&laws, &weightings, &Bounds::free(k), &s, &Cpu).unwrap();
    let got = minimize(&laws, &weightings, &Bounds::free(k), &s, backend).unwrap();
    // The point-by-point sweep on `backend` (f32 on the GPU) finds lattice bests as good as the
    // separable sweep's, to f32 rounding of near-ties.
    let exact = mixlaw::mixture::lattice_best(&laws, &weightings, &Bounds::free(k), &s, &Cpu);
    let swept =
        mixlaw::mixture::lattice_best_batched(&laws, &weightings, &Bounds::free(k), &s, backend);
    for (a, b) in exact.iter().zip(&swept) {
        assert!(
            (a[0].0 - b[0].0).abs() <= 1e-6 * a[0].0.abs(),
            "{} vs {}",
            a[0].0,
            b[0].0
        );
    }
    assert_eq!(cpu.len(), 3);
    assert_eq!(got.len(), 3);
    for (a, b) in cpu.iter().zip(&got) {
        assert!(
            (a.loss - b.loss).abs() <= 1e-9 * a.loss.abs(),
            "{} vs {}",
            a.loss,
            b.loss
        );
        for (x, y) in a.h.iter().zip(&b.h) {
            assert!((x - y).abs() < 1e-6, "{:?} vs {:?}", a.h, b.h);
        }
    }
}

/// What only the GPU has: kernel size classes, dispatches and their workgroup limit, timestamp
/// queries, and the domain limit of its checks.
#[cfg(feature = "gpu")]
mod gpu_only {
    use super::*;

    /// Problems of different size classes through the one problem cache: each keeps its own
    /// class's pipeline and bind group, so interleaving them changes no answer.
    #[test]
    fn problems_of_different_size_classes_interleave() {
        let Some(gpu) = gpu() else { return };
        let law = registry::by_name("full").unwrap();
        let problems: Vec<Problem> = [3, 20, 11, 40]
            .into_iter()
            .map(|k| problem_k(&law, k, Residual::Raw, Reduce::Mean, 300 + k as u64))
            .collect();
        let eval = |pr: &Problem| {
            let th = thetas(pr, 4, 2);
            let (mut f, mut g) = (vec![0.0; 4], vec![0.0; 4 * pr.dim()]);
            gpu.evaluate(pr, &th, &sets(4), &mut f, &mut g);
            (f, g)
        };
        let first: Vec<_> = problems.iter().map(eval).collect();
        let classes: Vec<_> = problems
            .iter()
            .map(|pr| size_class(pr.dim(), pr.rows().k()))
            .collect();
        assert_eq!(classes, [(72, 16), (144, 32), (72, 16), (288, 64)]);
        for round in 0..2 {
            for (i, pr) in problems.iter().enumerate().rev() {
                assert_eq!(eval(pr), first[i], "problem {i}, round {round}");
            }
        }
    }

    /// More entries than one dispatch may have workgroups (65,535), on a tiny problem.
    #[test]
    fn batch_beyond_the_workgroup_limit() {
        let Some(gpu) = gpu() else { return };
        let pr = problem(
            &registry::by_name("chinchilla").unwrap(),
            Residual::Raw,
            Reduce::Mean,
            3,
        );
        let dim = pr.dim();
        let base = thetas(&pr, 10, 3);
        let n = 70_000;
        let th: Vec<f64> = (0..n)
            .flat_map(|b| base[b % 10 * dim..][..dim].to_vec())
            .collect();
        let (mut f, mut g) = (vec![0.0; n], vec![0.0; n * dim]);
        gpu.evaluate(&pr, &th, &sets(n), &mut f, &mut g);
        let (mut f10, mut g10) = (vec![0.0; 10], vec![0.0; 10 * dim]);
        gpu.evaluate(&pr, &base, &sets(10), &mut f10, &mut g10);
        for b in 0..n {
            assert_eq!(f[b].to_bits(), f10[b % 10].to_bits(), "entry {b}");
            assert_eq!(g[b * dim..][..dim], g10[b % 10 * dim..][..dim], "entry {b}");
        }
    }

    /// A table of 100,000 rows: each of the kernel's 64 threads visits 1,563 rows, past the
    /// 65,535 loop iterations after which Mesa's software device silently ends a shader's loops
    /// (it returned a fortieth of the objective here). The backend notices the rows it did not
    /// visit and evaluates on the CPU; a device without that limit evaluates the whole table.
    /// Either way the objective and gradient are the f64 reference's, within the derived
    /// tolerance, at the truth and away from it.
    #[test]
    fn a_table_past_the_software_devices_loop_limit() {
        let Some(gpu) = gpu() else { return };
        let law = registry::by_name("additive").unwrap();
        let (k, rows) = (7, 100_000);
        let mut rng = Rng::new(16, 1);
        let truth = law.sample_start(k, &mut rng);
        let domains: Vec<String> = (0..k).map(|i| format!("d{i}")).collect();
        let (mut ln_n, mut ln_d, mut h, mut y) = (vec![], vec![], vec![], vec![]);
        for _ in 0..rows {
            let mut hh: Vec<f64> = (0..k).map(|_| rng.range(0.05, 1.0)).collect();
            let s: f64 = hh.iter().sum();
            hh.iter_mut().for_each(|v| *v /= s);
            let (n, d) = (rng.range(50.0, 3000.0), rng.range(1.0, 100.0));
            y.push(law.eval(&truth, &Point::new(n, d, &hh), None) * (1.0 + 0.05 * rng.normal()));
            ln_n.push(n.ln());
            ln_d.push(d.ln());
            h.extend(hh);
        }
        let pr = Problem::new(
            &law,
            law.params(&domains),
            Rows::new(ln_n, ln_d, h, y, k),
            vec![1.0; rows],
            Residual::Log,
            Reduce::Mean,
            Loss::huber(1e-3),
        );
        let dim = pr.dim();
        let mut th = pr.coords().to_internal(&truth);
        th.extend(thetas(&pr, 1, 16));
        let (mut f, mut g) = (vec![0.0; 2], vec![0.0; 2 * dim]);
        gpu.evaluate(&pr, &th, &[0, 0], &mut f, &mut g);
        for b in 0..2 {
            let theta = &th[b * dim..(b + 1) * dim];
            let mut want_g = vec![0.0; dim];
            let want = pr.eval(theta, 0, &mut want_g);
            let (tf, tg) = tolerance(&pr, theta, 0);
            assert!(
                (f[b] - want).abs() <= tf,
                "entry {b}: f {} vs {want} (tol {tf:e})",
                f[b]
            );
            let err: f64 = g[b * dim..(b + 1) * dim]
                .iter()
                .zip(&want_g)
                .map(|(a, w)| (a - w) * (a - w))
                .sum::<f64>()
                .sqrt();
            assert!(err <= tg, "entry {b}: gradient off by {err:e} (tol {tg:e})");
        }
    }

    /// Kernel time from timestamp queries: where the adapter has them, a batch (4 dispatches)
    /// takes a positive device time no longer than the wall time of the call, and
    /// `reset_kernel_time` starts the total over; where it lacks them, `kernel_time` is `None`
    /// and evaluation works. Opens its own device, so that other tests' evaluations do not add
    /// to the total.
    #[test]
    fn kernel_time_from_timestamp_queries() {
        let Some(gpu) = common::open_gpu(Some(500)) else {
            return;
        };
        let pr = problem(
            &registry::by_name("additive").unwrap(),
            Residual::Raw,
            Reduce::Mean,
            5,
        );
        let (dim, n) = (pr.dim(), 2_000);
        let th = thetas(&pr, n, 5);
        let (mut f, mut g) = (vec![0.0; n], vec![0.0; n * dim]);
        // The first evaluation uploads the rows; time the second.
        gpu.evaluate(&pr, &th, &sets(n), &mut f, &mut g);
        gpu.reset_kernel_time();
        let start = std::time::Instant::now();
        gpu.evaluate(&pr, &th, &sets(n), &mut f, &mut g);
        let wall = start.elapsed();
        assert!(f.iter().any(|v| v.is_finite()));
        match gpu.kernel_time() {
            Some(kernel) => {
                eprintln!(
                    "{}: timestamp queries: kernel {kernel:?} of {wall:?} wall",
                    gpu.describe()
                );
                assert!(kernel > std::time::Duration::ZERO, "kernel time {kernel:?}");
                assert!(kernel <= wall, "kernel {kernel:?} > wall {wall:?}");
                gpu.reset_kernel_time();
                assert_eq!(gpu.kernel_time(), Some(std::time::Duration::ZERO));
            }
            None => eprintln!(
                "{}: no timestamp queries on this adapter: kernel_time is None",
                gpu.describe()
            ),
        }
    }

    /// A problem over `k` domains with one row, straight from `Problem::new`.
    fn one_row_problem(law: &Law, k: usize) -> Problem {
        let domains: Vec<String> = (0..k).map(|i| format!("d{i}")).collect();
        Problem::new(
            law,
            law.params(&domains),
            Rows::new(vec![5.0], vec![2.0], vec![1.0 / k as f64; k], vec![3.0], k),
            vec![1.0],
            Residual::Raw,
            Reduce::Mean,
            Loss::huber(1e-3),
        )
    }

    /// `check` takes every law up to the crate's 64 domains (building the size class it needs,
    /// on a device of its own so that the classes built are this test's), and refuses more,
    /// clearly.
    #[test]
    fn checks_problems_up_to_the_crate_limit_and_refuses_beyond() {
        let Some(gpu) = common::open_gpu(None) else {
            return;
        };
        assert_eq!(gpu.size_classes(), [(72, 16)]);
        assert!(registry::builtin().iter().all(|l| l.kernel().is_some()));
        let additive = registry::by_name("additive").unwrap();
        assert!(gpu
            .check(&problem(&additive, Residual::Raw, Reduce::Sum, 1))
            .is_ok());
        assert_eq!(gpu.size_classes(), [(72, 16)]);
        // additive at 17 domains: 39 parameters, the first class past 16 domains.
        gpu.check(&one_row_problem(&additive, 17)).unwrap();
        assert_eq!(gpu.size_classes(), [(72, 16), (72, 32)]);
        // full at 64 domains: 389 parameters.
        let full = registry::by_name("full").unwrap();
        let pr = one_row_problem(&full, MAX_DOMAINS);
        assert_eq!(pr.dim(), 389);
        gpu.check(&pr).unwrap();
        assert_eq!(gpu.size_classes(), [(72, 16), (72, 32), (576, 64)]);
        // Checking again builds nothing.
        gpu.check(&pr).unwrap();
        assert_eq!(gpu.size_classes().len(), 3);
        let msg = gpu
            .check(&one_row_problem(&additive, MAX_DOMAINS + 1))
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("65 domains") && msg.contains("at most 64"),
            "{msg}"
        );
        assert_eq!(gpu.size_classes().len(), 3);
    }
}
