//! The fitting objective: the contract between the optimiser and the evaluators.
//!
//! `H(θ) = reduce_j w_j · ℓ(r_j)` with `r_j = L̂_j − L_j` (raw, the paper's choice) or
//! `ln L̂_j − ln L_j` (log, Hoffmann/Epoch's), `ℓ` the [`Loss`] (Huber by default, squared or
//! absolute error, each optionally weighing over-predictions `W` times), reduced by a weighted
//! mean or sum ([`crate::loss`]).
//! A [`Problem`] holds one or more *weight sets* over the same rows and every evaluation names
//! the set it uses: a plain fit has one set of ones, a bootstrap study one set of resampling
//! counts per replicate, so that all replicates' starts run as one batch over rows uploaded once.
//!
//! This module is the floor that both the optimiser (`fit`) and the backends stand on: a backend
//! needs nothing but a `Problem` to evaluate a batch, and the optimiser nothing but a backend. The
//! optimiser sees internal coordinates ([`Coordinates`]: log and centred amplitudes, a box) and
//! the objective times [`Loss::scale`]: for Huber that is 1/δ, since with δ = 1e-3 the Huber
//! values (~1e-5) and gradients are otherwise so small that any sensible tolerance stops L-BFGS
//! before it has fitted anything (PAPER.md, pitfalls); the other losses are scaled to match.
//! [`Problem::eval`] is the f64 reference every backend is held to.
//!
//! The optimiser minimises [`Loss::smoothed`] (for the absolute error a smoothed stand-in, whose
//! width the polishing stage shrinks: [`Problem::with_loss`]); what a fit reports is
//! [`Problem::objective_natural`], the exact loss ([`Loss::exact`]), never the stand-in.

mod coords;
mod rows;
mod weights;

pub use coords::Coordinates;
pub use rows::Rows;
pub use weights::WeightSets;

use std::sync::Arc;

use crate::law::{Law, ParamSpec};
use crate::loss::{Loss, LossKind, Reduce, Residual};
use crate::vmath;

/// Rows per block of [`Problem::objective_natural`]'s evaluation.
const BLOCK: usize = 64;

/// A minimisation problem: everything a backend needs to evaluate `H` and `∇H` at a batch of θ.
pub struct Problem {
    id: u64,
    law: Law,
    /// Shared with the problems [`Problem::with_loss`] derives (a bootstrap's weight sets can
    /// be large).
    rows: Arc<Rows>,
    weights: Arc<WeightSets>,
    residual: Residual,
    reduce: Reduce,
    loss: Loss,
    coords: Coordinates,
}

impl Problem {
    /// The problem of fitting `law` (whose parameters are `specs`) to `rows` under the weight
    /// sets `weights` (`rows.len()` weights per set), scoring `residual`s by `loss`, reduced by
    /// `reduce`.
    ///
    /// # Panics
    /// If the loss's δ or penalty is not a positive finite number, or `weights` is not a whole
    /// number of sets.
    pub fn new(
        law: &Law,
        specs: Vec<ParamSpec>,
        rows: Rows,
        weights: Vec<f64>,
        residual: Residual,
        reduce: Reduce,
        loss: Loss,
    ) -> Self {
        check_loss(loss);
        let weights = WeightSets::new(rows.len(), weights);
        let coords = Coordinates::new(specs, residual, rows.ln_n(), rows.ln_d());
        Problem {
            id: next_id(),
            law: law.clone(),
            rows: Arc::new(rows),
            weights: Arc::new(weights),
            residual,
            reduce,
            loss,
            coords,
        }
    }

    /// The same problem (rows, weights, residual, reduction, coordinates) scored by `loss`
    /// instead, under a new [`Problem::id`]: the polishing stage re-minimises a non-smooth loss
    /// at successively narrower widths this way. Rows and weights are shared, not copied.
    ///
    /// # Panics
    /// If the loss's δ or penalty is not a positive finite number.
    pub fn with_loss(&self, loss: Loss) -> Problem {
        check_loss(loss);
        Problem {
            id: next_id(),
            law: self.law.clone(),
            rows: Arc::clone(&self.rows),
            weights: Arc::clone(&self.weights),
            residual: self.residual,
            reduce: self.reduce,
            loss,
            coords: self.coords.clone(),
        }
    }

    /// Unique per `Problem` value (from a process-wide counter), so that a backend can cache
    /// what it derived from the rows (e.g. device buffers) under a key that cannot be reused.
    pub fn id(&self) -> u64 {
        self.id
    }
    /// The law being fitted.
    pub fn law(&self) -> &Law {
        &self.law
    }
    /// The rows.
    pub fn rows(&self) -> &Rows {
        &self.rows
    }
    /// The weight sets.
    pub fn weights(&self) -> &WeightSets {
        &self.weights
    }
    /// The residual the loss scores.
    pub fn residual(&self) -> Residual {
        self.residual
    }
    /// How per-row losses are combined.
    pub fn reduce(&self) -> Reduce {
        self.reduce
    }
    /// The loss.
    pub fn loss(&self) -> Loss {
        self.loss
    }
    /// The loss's width δ (the Huber threshold; for the absolute error the stand-in's width).
    pub fn delta(&self) -> f64 {
        self.loss.delta
    }
    /// What the optimiser's objective is multiplied by ([`Loss::scale`]).
    pub fn scale(&self) -> f64 {
        self.loss.scale()
    }
    /// The map between natural parameters and the optimiser's coordinates.
    pub fn coords(&self) -> &Coordinates {
        &self.coords
    }
    /// How many parameters.
    pub fn dim(&self) -> usize {
        self.coords.dim()
    }

    /// What the reduction multiplies the weighted sum by under weight set `set`: `1/Σw` for the
    /// mean (0 for a set with no weight at all), 1 for the sum.
    pub fn norm(&self, set: usize) -> f64 {
        match self.reduce {
            Reduce::Mean if self.weights.sum(set) > 0.0 => 1.0 / self.weights.sum(set),
            Reduce::Mean => 0.0,
            Reduce::Sum => 1.0,
        }
    }

    /// The exact objective `H` at natural parameters `p` under weight set `set`, unscaled:
    /// what fits report. For the absolute error this is the weighted mean or sum of `|r|`
    /// (times the penalty), not the smoothed stand-in the optimiser sees.
    pub fn objective_natural(&self, p: &[f64], set: usize) -> f64 {
        self.eval_natural(p, set, None, true)
    }

    /// The smoothed objective the optimiser minimises at natural `p`, unscaled (for the smooth
    /// losses the same as [`Problem::objective_natural`]).
    pub fn smoothed_natural(&self, p: &[f64], set: usize) -> f64 {
        self.eval_natural(p, set, None, false)
    }

    /// The exact objective at internal θ on the optimiser's scale: what the polishing stage
    /// ranks minima by, at the end, for a loss the optimiser sees only smoothed.
    pub fn exact(&self, theta: &[f64], set: usize) -> f64 {
        self.objective_natural(&self.coords.to_natural(theta), set) * self.scale()
    }

    /// The scaled objective seen by the optimiser at internal θ under weight set `set`, and its
    /// gradient in `grad`. Non-finite predictions give `+∞` (the line search backs off).
    pub fn eval(&self, theta: &[f64], set: usize, grad: &mut [f64]) -> f64 {
        // Natural parameters in per-thread scratch: this runs once per start and round.
        thread_local! {
            static NATURAL: std::cell::RefCell<Vec<f64>> = const { std::cell::RefCell::new(Vec::new()) };
        }
        NATURAL.with_borrow_mut(|p| {
            self.coords.natural_into(theta, p);
            let scale = self.loss.scale();
            let f = self.eval_natural(p, set, Some(grad), false);
            grad.iter_mut().for_each(|g| *g *= scale);
            self.coords.chain_rule(p, grad);
            f * scale
        })
    }

    /// Unscaled `H` at natural `p`, smoothed or `exact`; with `grad` (smoothed only),
    /// `∂H/∂p` (natural coordinates).
    ///
    /// Rows go through the law in blocks ([`Law::eval_rows`]), then residuals, losses and the
    /// gradient's row sums are taken over each block in loops that vectorise.
    fn eval_natural(&self, p: &[f64], set: usize, grad: Option<&mut [f64]>, exact: bool) -> f64 {
        // The gradient columns of a block of rows, kept per thread: this runs a few hundred
        // thousand times per fit, and zeroing fresh scratch each time showed in profiles.
        thread_local! {
            static SCRATCH: std::cell::RefCell<Vec<f64>> = const { std::cell::RefCell::new(Vec::new()) };
        }
        SCRATCH.with_borrow_mut(|dl| {
            let need = p.len() * BLOCK;
            if dl.len() < need {
                dl.resize(need, 0.0);
            }
            let (this, dl) = (self, &mut dl[..need]);
            vmath::wide!(Problem::eval_block_loop; this: &Problem, p: &[f64], set: usize, grad: Option<&mut [f64]>, dl: &mut [f64], exact: bool => f64)
        })
    }

    /// [`Problem::eval_natural`] with `dl` (`dim × BLOCK`) as scratch.
    #[inline(always)]
    fn eval_block_loop(
        &self,
        p: &[f64],
        set: usize,
        mut grad: Option<&mut [f64]>,
        dl: &mut [f64],
        exact: bool,
    ) -> f64 {
        debug_assert!(
            !(exact && grad.is_some()),
            "the exact loss has no gradient here"
        );
        let weights = self.weights.set(set);
        let dim = p.len();
        let (mut pred, mut r, mut dr) = ([0.0; BLOCK], [0.0; BLOCK], [1.0; BLOCK]);
        let (mut hv, mut c) = ([0.0; BLOCK], [0.0; BLOCK]);
        if let Some(g) = grad.as_deref_mut() {
            g.fill(0.0);
        }
        let mut total = 0.0;
        let rows = self.rows.len();
        for start in (0..rows).step_by(BLOCK) {
            let n = BLOCK.min(rows - start);
            let block = start..start + n;
            let want = grad.is_some();
            self.law.eval_rows(
                p,
                &self.rows.points(block.clone()),
                &mut pred[..n],
                if want { Some(&mut dl[..dim * n]) } else { None },
            );
            match self.residual {
                Residual::Raw => {
                    for ((rj, pj), y) in r
                        .iter_mut()
                        .zip(&pred[..n])
                        .zip(&self.rows.y()[block.clone()])
                    {
                        *rj = pj - y;
                    }
                }
                Residual::Log => {
                    let cols = r.iter_mut().zip(dr.iter_mut()).zip(&pred[..n]);
                    for (((rj, drj), pj), ln_y) in cols.zip(&self.rows.ln_y()[block.clone()]) {
                        *rj = vmath::ln(*pj) - ln_y;
                        *drj = 1.0 / pj;
                    }
                }
            }
            let (r, dr, w) = (&r[..n], &dr[..n], &weights[block]);
            let (hv, c) = (&mut hv[..n], &mut c[..n]);
            // One loop per loss, each with its kind (and, when there is none, its penalty of 1)
            // a constant the compiler folds: branch-free selects that vectorise, and the
            // symmetric Huber loop exactly the one before losses were data.
            let l = self.loss;
            macro_rules! score {
                ($l:ident: $kind:ident => $f:expr) => {
                    if l.penalty == 1.0 {
                        let $l = Loss {
                            kind: LossKind::$kind,
                            penalty: 1.0,
                            ..l
                        };
                        score_rows(r, dr, w, hv, c, $f)
                    } else {
                        let $l = Loss {
                            kind: LossKind::$kind,
                            ..l
                        };
                        score_rows(r, dr, w, hv, c, $f)
                    }
                };
            }
            match (l.kind, exact) {
                (LossKind::Huber, _) => score!(k: Huber => |x| k.smoothed(x)),
                (LossKind::Mse, _) => score!(k: Mse => |x| k.smoothed(x)),
                (LossKind::Mae, false) => score!(k: Mae => |x| k.smoothed(x)),
                (LossKind::Mae, true) => score!(k: Mae => |x| (k.exact(x), 0.0)),
            }
            let block_total = vmath::sum(hv);
            total += block_total;
            if !block_total.is_finite() {
                if let Some(g) = grad.as_deref_mut() {
                    g.fill(0.0);
                }
                return f64::INFINITY;
            }
            if let Some(g) = grad.as_deref_mut() {
                for (gi, col) in g.iter_mut().zip(dl.chunks(n)) {
                    *gi += vmath::dot(col, c);
                }
            }
        }
        let norm = self.norm(set);
        if let Some(g) = grad {
            g.iter_mut().for_each(|v| *v *= norm);
        }
        total * norm
    }

    /// The mean relative error in percent of the law at natural `p` over these rows
    /// (unweighted).
    pub fn mre_pct(&self, p: &[f64]) -> f64 {
        self.rows.mre_pct(&self.law, p)
    }
}

/// A fresh [`Problem::id`].
fn next_id() -> u64 {
    static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

/// Panics unless the loss's δ and penalty are positive finite numbers (settings are checked,
/// with a usage error, long before a problem is built).
fn check_loss(loss: Loss) {
    for (what, v) in [("δ", loss.delta), ("overestimate penalty", loss.penalty)] {
        assert!(
            v > 0.0 && v.is_finite(),
            "the loss's {what} must be a positive number, not {v}"
        );
    }
}

/// Per row of a block: `hv = w·ℓ(r)` and `c = w·ℓ'(r)·dr/dpred` from `loss` (value and
/// derivative). Rows of weight 0 take no part, whatever their residual; a live row with a
/// non-finite residual has a non-finite value, caught by the caller in the block's sum.
#[inline(always)]
fn score_rows(
    r: &[f64],
    dr: &[f64],
    w: &[f64],
    hv: &mut [f64],
    c: &mut [f64],
    loss: impl Fn(f64) -> (f64, f64),
) {
    let out = hv.iter_mut().zip(c.iter_mut());
    for ((hj, cj), ((rj, drj), &w)) in out.zip(r.iter().zip(dr).zip(w)) {
        let (h, psi) = loss(*rj);
        let live = w != 0.0;
        *hj = if live { w * h } else { 0.0 };
        *cj = if live { w * psi * drj } else { 0.0 };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::law::{registry, Point};
    use crate::rng::Rng;

    fn problem(residual: Residual, reduce: Reduce) -> Problem {
        problem_with(residual, reduce, Loss::huber(1e-3))
    }

    /// 30 rows of the additive law with 1 % noise and random weights, scored by `loss`.
    fn problem_with(residual: Residual, reduce: Reduce, loss: Loss) -> Problem {
        let law = &registry::by_name("additive").unwrap();
        let mut rng = Rng::new(5, 0);
        let k = 3;
        let domains: Vec<String> = (0..k).map(|i| format!("d{i}")).collect();
        let truth = law.sample_start(k, &mut rng);
        let (mut n, mut d, mut h, mut y) = (vec![], vec![], vec![], vec![]);
        for _ in 0..30 {
            let (_, hh, nn, dd) = crate::law::tests::fixture(k, &mut rng);
            let v = law.eval(&truth, &Point::new(nn, dd, &hh), None);
            n.push(nn.ln());
            d.push(dd.ln());
            h.extend(hh);
            y.push(v * (1.0 + 0.01 * rng.normal()));
        }
        let weights = (0..30).map(|_| rng.range(0.0, 3.0)).collect();
        Problem::new(
            law,
            law.params(&domains),
            Rows::new(n, d, h, y, k),
            weights,
            residual,
            reduce,
            loss,
        )
    }

    /// With the log residual, `A` and `B` are optimised as the logs of their terms at the rows'
    /// geometric-mean N and D; with the raw residual (a box on every amplitude) nothing is
    /// centred. Both maps invert each other.
    #[test]
    fn log_amplitudes_are_centred_on_the_rows_scale() {
        let raw = problem(Residual::Raw, Reduce::Mean);
        assert!((0..raw.dim()).all(|j| raw.coords().centre(j).is_none()));
        let pr = problem(Residual::Log, Reduce::Mean);
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
        let (m_n, m_d) = (mean(pr.rows().ln_n()), mean(pr.rows().ln_d()));
        assert_eq!(pr.coords().centre(1), Some((2, m_n)));
        assert_eq!(pr.coords().centre(3), Some((4, m_d)));
        let centred = (0..pr.dim())
            .filter(|&j| pr.coords().centre(j).is_some())
            .count();
        assert_eq!(centred, 2, "only A and B multiply a power of the scale");
        let p = pr.law().sample_start(3, &mut Rng::new(2, 0));
        let theta = pr.coords().to_internal(&p);
        let term_at_mean = |amp: f64, exponent: f64, m: f64| (amp * (-exponent * m).exp()).ln();
        assert!((theta[1] - term_at_mean(p[1], p[2], m_n)).abs() < 1e-12);
        assert!((theta[3] - term_at_mean(p[3], p[4], m_d)).abs() < 1e-12);
        for (a, b) in pr.coords().to_natural(&theta).iter().zip(&p) {
            assert!((a - b).abs() <= 1e-14 * b.abs(), "{a} vs {b}");
        }
    }

    /// Every law's block evaluation (the fitting hot path, vectorised for some laws) gives what
    /// evaluating the points one by one gives, values and gradients, to 1e-13 relative: the
    /// same formulas, with exp and ln that differ from the platform's by at most an ulp.
    #[test]
    fn block_evaluation_equals_point_by_point_for_every_law() {
        let mut rng = Rng::new(8, 0);
        let k = 3;
        let rows = 150;
        let (mut n, mut d, mut h) = (vec![], vec![], vec![]);
        for j in 0..rows {
            let (_, mut hh, nn, dd) = crate::law::tests::fixture(k, &mut rng);
            if j % 7 == 0 {
                hh[j % k] = 0.0; // on the simplex boundary
                let s: f64 = hh.iter().sum();
                hh.iter_mut().for_each(|v| *v /= s);
            }
            n.push(nn.ln());
            d.push(dd.ln());
            h.extend(hh);
        }
        let r = Rows::new(n, d, h, vec![1.0; rows], k);
        for law in registry::builtin() {
            for _ in 0..3 {
                let p = law.sample_start(k, &mut rng);
                let dim = p.len();
                for block in [0..rows, 37..101, 149..150] {
                    let m = block.len();
                    let (mut pred, mut grad) = (vec![0.0; m], vec![0.0; dim * m]);
                    law.eval_rows(&p, &r.points(block.clone()), &mut pred, Some(&mut grad));
                    let mut values = vec![0.0; m];
                    law.eval_rows(&p, &r.points(block.clone()), &mut values, None);
                    let mut g1 = vec![0.0; dim];
                    for (b, j) in block.clone().enumerate() {
                        let v = law.eval(&p, &r.point(j), Some(&mut g1));
                        let what = format!("{} row {j}", law.name());
                        let close = |a: f64, b: f64| (a - b).abs() <= 1e-13 * a.abs().max(b.abs());
                        assert!(close(pred[b], v), "{what}: {} vs {v}", pred[b]);
                        assert_eq!(values[b], pred[b], "{what}: with and without the gradient");
                        for (i, gi) in g1.iter().enumerate() {
                            let gb = grad[i * m + b];
                            assert!(close(gb, *gi), "{what} ∂/∂p{i}: {gb} vs {gi}");
                        }
                    }
                }
            }
        }
    }

    /// The parameters [`problem_with`]'s rows were simulated from (its generator's first draw).
    fn truth() -> Vec<f64> {
        registry::by_name("additive")
            .unwrap()
            .sample_start(3, &mut Rng::new(5, 0))
    }

    /// Every loss (with and without an overestimate penalty; δ = 1e-3 and 2e-2, which puts
    /// many of the 1 %-noise residuals in the quadratic band) × residual × reduction: the
    /// gradient the optimiser sees is the derivative of the value it sees, by central
    /// differences in internal coordinates, at random draws (residuals mostly far beyond δ) and
    /// at points near the parameters the rows came from (residuals of both signs, near 0, where
    /// the penalty switches).
    #[test]
    fn objective_gradient_matches_central_differences_in_internal_coordinates() {
        let mut losses = Vec::new();
        for kind in [LossKind::Huber, LossKind::Mse, LossKind::Mae] {
            for penalty in [1.0, 10.0] {
                for delta in [1e-3, 2e-2] {
                    losses.push(Loss {
                        kind,
                        delta,
                        penalty,
                    });
                }
            }
        }
        for loss in losses {
            for residual in [Residual::Raw, Residual::Log] {
                for reduce in [Reduce::Mean, Reduce::Sum] {
                    let pr = problem_with(residual, reduce, loss);
                    let mut rng = Rng::new(9, 1);
                    for i in 0..8 {
                        let p = if i < 5 {
                            pr.law().sample_start(3, &mut rng)
                        } else {
                            truth()
                                .iter()
                                .map(|v| v * (1.0 + 1e-3 * rng.normal()))
                                .collect()
                        };
                        let theta = pr.coords().to_internal(&p);
                        let mut g = vec![0.0; pr.dim()];
                        let f = pr.eval(&theta, 0, &mut g);
                        assert!(f.is_finite());
                        for j in 0..pr.dim() {
                            let h = 1e-6 * theta[j].abs().max(1e-2);
                            let (mut a, mut b) = (theta.clone(), theta.clone());
                            a[j] += h;
                            b[j] -= h;
                            let mut tmp = vec![0.0; pr.dim()];
                            let fd =
                                (pr.eval(&a, 0, &mut tmp) - pr.eval(&b, 0, &mut tmp)) / (2.0 * h);
                            assert!(
                                (fd - g[j]).abs() <= 1e-5 * (1.0 + fd.abs()),
                                "{loss:?} {residual:?}/{reduce:?} param {j}: {} vs {fd}",
                                g[j]
                            );
                        }
                    }
                }
            }
        }
    }

    /// What the optimiser sees is the smoothed objective times the loss's scale, and for the
    /// smooth losses the smoothed objective is the exact one, bit for bit (symmetric Huber:
    /// the value over δ, as before losses were data).
    #[test]
    fn scaled_objective_is_the_smoothed_value_times_the_scale() {
        let pr = problem(Residual::Raw, Reduce::Mean);
        let p = pr.law().sample_start(3, &mut Rng::new(1, 1));
        let mut g = vec![0.0; pr.dim()];
        let scaled = pr.eval(&pr.coords().to_internal(&p), 0, &mut g);
        assert!((scaled * pr.delta() - pr.objective_natural(&p, 0)).abs() <= 1e-12 * scaled.abs());
        for kind in [LossKind::Huber, LossKind::Mse, LossKind::Mae] {
            for penalty in [1.0, 10.0] {
                let loss = Loss {
                    kind,
                    delta: 1e-3,
                    penalty,
                };
                let pr = problem_with(Residual::Log, Reduce::Sum, loss);
                let theta = pr.coords().to_internal(&p);
                let scaled = pr.eval(&theta, 0, &mut g);
                let smoothed = pr.smoothed_natural(&p, 0);
                assert!((scaled - smoothed * pr.scale()).abs() <= 1e-12 * scaled.abs());
                if kind.is_smooth() {
                    assert_eq!(smoothed, pr.objective_natural(&p, 0));
                }
                let at = pr.coords().to_natural(&theta);
                assert_eq!(
                    pr.exact(&theta, 0),
                    pr.objective_natural(&at, 0) * pr.scale()
                );
            }
        }
    }

    /// The reported objective is the exact loss, computed here row by row: for the absolute
    /// error `Σ w·|r|·(W if r > 0 else 1)` over `Σ w` (mean) or not (sum), never the stand-in,
    /// which lies below it by at most `W·δ/2` per unit weight.
    #[test]
    fn reported_objective_is_the_exact_loss() {
        let p = problem(Residual::Raw, Reduce::Mean)
            .law()
            .sample_start(3, &mut Rng::new(3, 3));
        for kind in [LossKind::Huber, LossKind::Mse, LossKind::Mae] {
            for residual in [Residual::Raw, Residual::Log] {
                for reduce in [Reduce::Mean, Reduce::Sum] {
                    let loss = Loss {
                        kind,
                        delta: 1e-3,
                        penalty: 10.0,
                    };
                    let pr = problem_with(residual, reduce, loss);
                    let w = pr.weights().set(0);
                    let mut want = 0.0;
                    for (j, &wj) in w.iter().enumerate() {
                        let pred = pr.law().eval(&p, &pr.rows().point(j), None);
                        let y = pr.rows().y()[j];
                        let r = match residual {
                            Residual::Raw => pred - y,
                            Residual::Log => pred.ln() - y.ln(),
                        };
                        let m = if r > 0.0 { 10.0 } else { 1.0 };
                        want += wj
                            * m
                            * match kind {
                                LossKind::Huber => crate::loss::huber(r, 1e-3).0,
                                LossKind::Mse => r * r,
                                LossKind::Mae => r.abs(),
                            };
                    }
                    let sum_w: f64 = w.iter().sum();
                    if reduce == Reduce::Mean {
                        want /= sum_w;
                    }
                    let got = pr.objective_natural(&p, 0);
                    assert!(
                        (got - want).abs() <= 1e-12 * want,
                        "{kind:?}: {got} vs {want}"
                    );
                    if kind == LossKind::Mae {
                        let smoothed = pr.smoothed_natural(&p, 0);
                        let gap = 10.0 * 5e-4 * if reduce == Reduce::Mean { 1.0 } else { sum_w };
                        assert!(smoothed <= got && got - smoothed <= gap, "{smoothed} {got}");
                    }
                }
            }
        }
    }

    /// A problem derived with another loss shares the rows and weights but not the id (a
    /// backend's cache must not serve one for the other).
    #[test]
    fn with_loss_shares_rows_under_a_new_id() {
        let pr = problem(Residual::Raw, Reduce::Mean);
        let narrow = pr.with_loss(pr.loss().narrowed(10.0));
        assert_ne!(pr.id(), narrow.id());
        assert!(std::ptr::eq(pr.rows(), narrow.rows()));
        assert!(std::ptr::eq(pr.weights(), narrow.weights()));
        assert_eq!(narrow.delta(), 1e-4);
    }
}
