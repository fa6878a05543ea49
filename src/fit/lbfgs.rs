//! L-BFGS with box bounds, written as a state machine so that many starts advance in lock step.
//!
//! Each start owns its state (iterate, gradient, curvature pairs). A round asks every running
//! start for the one point it needs evaluated next ([`Lbfgs::trial`]), a backend evaluates the
//! whole batch at once, and each start digests its own result ([`Lbfgs::feed`]). Nothing couples
//! the starts: they are never summed into one objective, and a start that has converged simply
//! stops asking. This is the problem/solver/executor split of argmin, with the executor batched.
//!
//! The solver is a projected L-BFGS (Nocedal & Wright, *Numerical Optimization*, §7.2 and §16.7,
//! in the two-metric projection form of Bertsekas): variables held at a bound with the gradient
//! pushing outward are frozen for the step, the two-loop recursion runs on the free variables,
//! and a line search for the strong Wolfe conditions (N&W Algorithms 3.5–3.6: bracket, then zoom
//! by safeguarded interpolation: the cubic through both ends' values and slopes, N&W eq. 3.59,
//! with the quadratic as fallback) runs along the projected path `P(x + t·d)`. The
//! curvature condition matters: it keeps the (s, y) pairs informative, which roughly halves the
//! iterations against plain Armijo backtracking. Pairs with non-positive curvature are skipped,
//! and a direction that fails to descend resets the memory.
//! Stopping rules: the relative decrease `(f_k − f_{k+1}) / max(|f_k|, |f_{k+1}|) ≤ ftol`, or the
//! projected-gradient infinity norm `≤ gtol`. L-BFGS-B floors the denominator at 1, which makes
//! its ftol absolute for small objectives — with the paper's mean Huber (~1e-5) that stops long
//! before the fit is done — so the decrease here is purely relative.
//!
//! Values from an f32 backend are good to about 1e-6 relative ([`Settings::noise`]), while the
//! mixture laws' valleys descend by less than that per step. Judged by values alone, such a
//! start stops at the first step whose gain rounds away, often far above its basin's floor, and
//! the f64 polish then finishes whichever basin it happens to be near. Where values are noisy,
//! both the line search (Hager & Zhang's approximate Wolfe condition) and the decrease test also
//! accept progress that the gradients show, which the f32 gradients resolve much further down.

use crate::vmath;

/// Solver settings shared by every start.
#[derive(Clone, Copy, Debug, serde::Serialize, serde::Deserialize)]
pub struct Settings {
    /// Curvature pairs kept (L-BFGS memory), at most twice the dimension (and at least 10; 0 is
    /// taken as 1).
    pub memory: usize,
    /// Iterations (accepted steps) per start.
    pub max_iter: usize,
    /// Relative-decrease tolerance.
    pub ftol: f64,
    /// Projected-gradient tolerance (infinity norm).
    pub gtol: f64,
    /// Relative precision of the objective values the backend returns ([`Backend::noise`]):
    /// 0 for exact (f64) values. Not a user setting: the executor sets it from the backend.
    ///
    /// [`Backend::noise`]: crate::backend::Backend::noise
    #[serde(skip)]
    pub noise: f64,
}

impl Default for Settings {
    /// Exploration of the mixture laws. Their valleys are long and flat: stopping at a relative
    /// decrease of 1e-7 ranked starts before they had reached their basin's floor, and the
    /// deepest basin of a 1,000-start additive fit was missed (the JAX peer found it); 1e-9 and
    /// a projected gradient of 1e-4 (on the objective divided by δ) find it.
    fn default() -> Self {
        Settings {
            memory: 40,
            max_iter: 2000,
            ftol: 1e-9,
            gtol: 1e-4,
            noise: 0.0,
        }
    }
}

impl Settings {
    /// L-BFGS-B's defaults as scipy applies them (`factr = 1e7`, `pgtol = 1e-5`) in the units the
    /// optimiser sees (the objective divided by δ = 1e-3): the protocol of Hoffmann et al. and
    /// Epoch for the well-conditioned chinchilla law, whose 4,500 grid starts need no more.
    pub fn scipy() -> Self {
        Settings {
            ftol: 2.2e-6,
            gtol: 1e-2,
            ..Settings::default()
        }
    }
}

impl Settings {
    /// Polishing: run to the objective's rounding floor.
    pub fn polish() -> Self {
        Settings {
            memory: 40,
            max_iter: 10_000,
            ftol: 1e-15,
            gtol: 1e-11,
            noise: 0.0,
        }
    }
}

/// Where a start is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Still iterating: it has a trial point awaiting evaluation.
    Running,
    /// Met `ftol` or `gtol`.
    Converged,
    /// Used up its iterations.
    MaxIter,
    /// The line search found no decrease (usually the objective's rounding floor).
    Stalled,
    /// The objective was not finite at the start point.
    Failed,
}

const WOLFE_C1: f64 = 1e-4;
const WOLFE_C2: f64 = 0.9;
/// Evaluations one line search may spend before it settles for the best sufficient decrease.
const MAX_SEARCH_EVALS: usize = 30;

/// The bracketing state of one line search along `dir` from `x`.
#[derive(Clone, Debug, Default)]
struct LineSearch {
    /// φ'(0) along the (free) direction.
    dphi0: f64,
    /// The best step so far that satisfies sufficient decrease (0: none yet), its value, slope,
    /// point and gradient.
    t_lo: f64,
    f_lo: f64,
    dphi_lo: f64,
    x_lo: Vec<f64>,
    g_lo: Vec<f64>,
    /// A step known to be too long, and its value (once bracketed).
    hi: Option<(f64, f64, f64)>,
    evals: usize,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Phase {
    Start,
    Search,
}

/// The L-BFGS memory: the last curvature pairs `(s, y)` and their `1/sᵀy`, in flat ring
/// buffers. A round of a few thousand starts stores a pair and runs the two-loop recursion for
/// each of them, so neither may allocate: the buffers are sized once, at the first pair.
#[derive(Clone, Debug, Default)]
struct Pairs {
    /// Dimension.
    n: usize,
    /// Pairs kept at most.
    cap: usize,
    /// Slot of the oldest pair.
    head: usize,
    len: usize,
    s: Vec<f64>,
    y: Vec<f64>,
    rho: Vec<f64>,
}

impl Pairs {
    fn len(&self) -> usize {
        self.len
    }

    fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn clear(&mut self) {
        (self.head, self.len) = (0, 0);
    }

    /// Slot of the `j`-th oldest pair.
    #[inline]
    fn slot(&self, j: usize) -> usize {
        // `(head + j) mod cap` without a division: both terms are below `cap`.
        let i = self.head + j;
        if i >= self.cap {
            i - self.cap
        } else {
            i
        }
    }

    /// The `j`-th oldest pair and its `ρ = 1/sᵀy`.
    #[inline(always)]
    fn get(&self, j: usize) -> (&[f64], &[f64], f64) {
        let (i, n) = (self.slot(j), self.n);
        (&self.s[i * n..][..n], &self.y[i * n..][..n], self.rho[i])
    }

    /// Room for a new pair (the oldest is dropped when `cap` are kept): its `s` and `y` to fill,
    /// and its `ρ`.
    fn push(&mut self, n: usize, cap: usize) -> (&mut [f64], &mut [f64], &mut f64) {
        if self.cap != cap || self.n != n {
            *self = Pairs {
                n,
                cap,
                s: vec![0.0; cap * n],
                y: vec![0.0; cap * n],
                rho: vec![0.0; cap],
                ..Pairs::default()
            };
        }
        let i = if self.len < cap {
            self.len += 1;
            self.slot(self.len - 1)
        } else {
            let i = self.head;
            self.head = self.slot(1);
            i
        };
        (
            &mut self.s[i * n..][..n],
            &mut self.y[i * n..][..n],
            &mut self.rho[i],
        )
    }
}

/// One start's solver state.
#[derive(Clone, Debug)]
pub struct Lbfgs {
    x: Vec<f64>,
    f: f64,
    g: Vec<f64>,
    pairs: Pairs,
    dir: Vec<f64>,
    /// 1.0 on the free variables, 0.0 on those held at a bound this step: the products that
    /// restrict to the free set are branch-free.
    mask: Vec<f64>,
    t: f64,
    trial: Vec<f64>,
    /// Scratch of the two-loop recursion: its `α` per pair.
    alpha: Vec<f64>,
    phase: Phase,
    search: LineSearch,
    /// Accepted steps so far.
    pub iterations: usize,
    /// Objective and gradient evaluations so far.
    pub evaluations: usize,
    /// Running, or how the start ended.
    pub status: Status,
}

/// `Σ a_i·b_i` over the free variables (`mask` 1.0 on them, 0.0 elsewhere), in four partial
/// sums as [`vmath::dot`] takes them: these vectors have a few elements, where a single running
/// sum is all latency.
fn dot_masked(a: &[f64], b: &[f64], mask: &[f64]) -> f64 {
    let mut acc = [0.0; 4];
    for ((x, y), m) in a.chunks(4).zip(b.chunks(4)).zip(mask.chunks(4)) {
        for (((s, x), y), m) in acc.iter_mut().zip(x).zip(y).zip(m) {
            *s += x * y * m;
        }
    }
    (acc[0] + acc[1]) + (acc[2] + acc[3])
}

fn project_into(x: &[f64], t: f64, d: &[f64], lo: &[f64], hi: &[f64], out: &mut [f64]) {
    for i in 0..x.len() {
        out[i] = (x[i] + t * d[i]).clamp(lo[i], hi[i]);
    }
}

impl Lbfgs {
    /// A start at `x0` (projected into the box).
    pub fn new(mut x0: Vec<f64>, lo: &[f64], hi: &[f64]) -> Self {
        for i in 0..x0.len() {
            x0[i] = x0[i].clamp(lo[i], hi[i]);
        }
        let n = x0.len();
        Lbfgs {
            x: x0.clone(),
            f: f64::INFINITY,
            g: vec![0.0; n],
            pairs: Pairs::default(),
            dir: vec![0.0; n],
            mask: vec![1.0; n],
            t: 1.0,
            trial: x0,
            alpha: Vec::new(),
            phase: Phase::Start,
            search: LineSearch::default(),
            iterations: 0,
            evaluations: 0,
            status: Status::Running,
        }
    }

    /// The point this start needs evaluated next.
    pub fn trial(&self) -> &[f64] {
        &self.trial
    }

    /// The current iterate and its objective.
    pub fn best(&self) -> (&[f64], f64) {
        (&self.x, self.f)
    }

    /// Whether the start still asks for evaluations.
    pub fn running(&self) -> bool {
        self.status == Status::Running
    }

    /// Digest the objective `f` and gradient `g` at [`Self::trial`].
    pub fn feed(&mut self, f: f64, g: &[f64], lo: &[f64], hi: &[f64], st: &Settings) {
        debug_assert!(self.running());
        self.evaluations += 1;
        match self.phase {
            Phase::Start => {
                if !f.is_finite() || g.iter().any(|v| !v.is_finite()) {
                    self.status = Status::Failed;
                    return;
                }
                self.f = f;
                self.g.copy_from_slice(g);
                self.next_direction(lo, hi, st);
            }
            Phase::Search => self.search_step(f, g, lo, hi, st),
        }
    }

    /// One step of the strong-Wolfe line search with the value and gradient at `self.t`.
    fn search_step(&mut self, f: f64, g: &[f64], lo: &[f64], hi: &[f64], st: &Settings) {
        let n = self.x.len();
        let t = self.t;
        self.search.evals += 1;
        let finite = f.is_finite() && g.iter().all(|v| v.is_finite());
        // Slope along the step actually taken (the projection may have shortened it), and at
        // its end.
        let disp: f64 = (0..n)
            .map(|i| self.g[i] * (self.trial[i] - self.x[i]))
            .sum();
        let dphi: f64 = (0..n)
            .map(|i| g[i] * (self.trial[i] - self.x[i]))
            .sum::<f64>()
            / t;
        // Sufficient decrease by the values (Armijo), or, where values are only good to
        // `noise`, by the slopes: Hager & Zhang's approximate Wolfe condition
        // (SIAM J. Optim. 16, 2005, §4), `φ'(t) ≤ (2c₁ − 1)·φ'(0)` with `φ(t)` no more than the
        // rounding above `φ(0)`. That is the Armijo condition of the quadratic through the
        // two slopes, which the gradients resolve long after the values stop. `φ'(0)` is taken
        // along the step actually made (`disp / t`), which a bound may have shortened. Such a
        // step may raise the objective by up to `noise` relative; the f64 re-score and polish
        // of the best minima absorb that.
        let armijo = f <= self.f + WOLFE_C1 * disp;
        let approximate = st.noise > 0.0
            && f <= self.f + st.noise * self.f.abs()
            && dphi <= (2.0 * WOLFE_C1 - 1.0) * (disp / t);
        let sufficient = finite && (armijo || approximate);
        if !sufficient || (self.search.t_lo > 0.0 && f >= self.search.f_lo) {
            self.search.hi = Some(if finite {
                (t, f, dphi)
            } else {
                (t, f64::INFINITY, f64::NAN)
            });
        } else {
            // Curvature: the slope has flattened enough (and not turned steeply upward).
            if dphi >= WOLFE_C2 * self.search.dphi0 && dphi <= -10.0 * WOLFE_C2 * self.search.dphi0
            {
                self.accept(f, g, st);
                if self.running() {
                    self.next_direction(lo, hi, st);
                }
                return;
            }
            if dphi >= 0.0 {
                let s = &self.search;
                self.search.hi = Some((s.t_lo, s.f_lo, s.dphi_lo));
            }
            let s = &mut self.search;
            s.t_lo = t;
            s.f_lo = f;
            s.dphi_lo = dphi;
            s.x_lo.clear();
            s.x_lo.extend_from_slice(&self.trial);
            s.g_lo.clear();
            s.g_lo.extend_from_slice(g);
        }
        if self.search.evals >= MAX_SEARCH_EVALS {
            self.settle(lo, hi, st);
            return;
        }
        let s = &self.search;
        let next = match s.hi {
            // Still descending and nothing too long yet: extrapolate.
            None => 4.0 * t,
            Some((t_hi, f_hi, d_hi)) => {
                let (a, fa, da) = if s.t_lo > 0.0 {
                    (s.t_lo, s.f_lo, s.dphi_lo)
                } else {
                    (0.0, self.f, s.dphi0)
                };
                let width = t_hi - a;
                // The minimiser of the cubic through both ends' values and slopes (N&W eq. 3.59);
                // without a finite one, of the quadratic through the values and the slope at
                // `a`; without that, the midpoint.
                let d1 = da + d_hi - 3.0 * (fa - f_hi) / (a - t_hi);
                let d2 = width.signum() * (d1 * d1 - da * d_hi).sqrt();
                let cubic = t_hi - width * (d_hi + d2 - d1) / (d_hi - da + 2.0 * d2);
                let curv = f_hi - fa - da * width;
                let quad = if cubic.is_finite() {
                    cubic
                } else if f_hi.is_finite() && curv > 0.0 {
                    a - da * width * width / (2.0 * curv)
                } else {
                    a + 0.5 * width
                };
                let (lo_t, hi_t) = if width > 0.0 {
                    (a + 0.1 * width, t_hi - 0.1 * width)
                } else {
                    (t_hi - 0.1 * width, a + 0.1 * width)
                };
                quad.clamp(lo_t.min(hi_t), lo_t.max(hi_t))
            }
        };
        self.t = next;
        // The new trial point, and whether the projection left it where it was.
        let mut same = true;
        for i in 0..n {
            let v = (self.x[i] + next * self.dir[i]).clamp(lo[i], hi[i]);
            same &= v == self.trial[i];
            self.trial[i] = v;
        }
        if same || self.trial == self.x {
            self.settle(lo, hi, st);
        }
    }

    /// End a line search that found no Wolfe point: take the best sufficient decrease, if any.
    fn settle(&mut self, lo: &[f64], hi: &[f64], st: &Settings) {
        if self.search.t_lo > 0.0 {
            let (f, g) = (self.search.f_lo, std::mem::take(&mut self.search.g_lo));
            self.trial.copy_from_slice(&self.search.x_lo);
            self.accept(f, &g, st);
            self.search.g_lo = g; // keeps its capacity for the next search
            if self.running() {
                self.next_direction(lo, hi, st);
            }
        } else if !self.pairs.is_empty() {
            // The quasi-Newton direction failed along the projected path (typically at a bound):
            // forget the curvature pairs and retry from the projected steepest descent.
            self.pairs.clear();
            self.next_direction(lo, hi, st);
        } else {
            self.status = Status::Stalled;
        }
    }

    fn accept(&mut self, f: f64, g: &[f64], st: &Settings) {
        let n = self.x.len();
        let step = |i: usize| (self.trial[i] - self.x[i], g[i] - self.g[i]);
        let sy: f64 = (0..n).map(step).map(|(s, y)| s * y).sum();
        let yy: f64 = (0..n).map(step).map(|(_, y)| y * y).sum();
        if sy > 1e-12 * yy.max(f64::MIN_POSITIVE) && sy > 0.0 {
            // More pairs than twice the dimension add cost, not information.
            let cap = st.memory.clamp(1, (2 * n).max(10));
            let (s, y, rho) = self.pairs.push(n, cap);
            for i in 0..n {
                (s[i], y[i]) = (self.trial[i] - self.x[i], g[i] - self.g[i]);
            }
            *rho = 1.0 / sy;
        }
        // The decrease of this step. Where values are only good to `noise`, value differences
        // that small are rounding, so the gradients' estimate `−½(g_old + g_new)·s` (the
        // trapezoidal rule for the integral of the slope along the step) counts too: without
        // it, an f32 exploration stops the first time a step's gain drowns in rounding,
        // often far from the floor of a long, flat valley.
        let mut decrease = self.f - f;
        if st.noise > 0.0 {
            let slope: f64 = (0..n)
                .map(|i| (self.g[i] + g[i]) * (self.trial[i] - self.x[i]))
                .sum();
            decrease = decrease.max(-0.5 * slope);
        }
        let f_old = self.f;
        self.x.copy_from_slice(&self.trial);
        self.f = f;
        self.g.copy_from_slice(g);
        self.iterations += 1;
        if decrease <= st.ftol * f_old.abs().max(f.abs()) {
            self.status = Status::Converged;
        }
    }

    fn next_direction(&mut self, lo: &[f64], hi: &[f64], st: &Settings) {
        let n = self.x.len();
        let mut pg = 0.0f64;
        for i in 0..n {
            pg = pg.max(((self.x[i] - self.g[i]).clamp(lo[i], hi[i]) - self.x[i]).abs());
            // ε-active set (Bertsekas): a variable within ε of a bound that the gradient pushes
            // against is held, so that steps are not wasted on moves the projection undoes.
            let eps = if (hi[i] - lo[i]).is_finite() {
                1e-10 * (hi[i] - lo[i])
            } else {
                0.0
            };
            let held = (self.x[i] <= lo[i] + eps && self.g[i] > 0.0)
                || (self.x[i] >= hi[i] - eps && self.g[i] < 0.0);
            self.mask[i] = if held { 0.0 } else { 1.0 };
        }
        if pg <= st.gtol {
            self.status = Status::Converged;
            return;
        }
        if self.iterations >= st.max_iter {
            self.status = Status::MaxIter;
            return;
        }
        self.two_loop();
        let descends = dot_masked(&self.g, &self.dir, &self.mask) < 0.0;
        if !descends {
            self.pairs.clear();
            self.two_loop();
        }
        self.t = if self.pairs.is_empty() {
            let norm = dot_masked(&self.dir, &self.dir, &self.mask).sqrt();
            (1.0 / norm).min(1.0)
        } else {
            1.0
        };
        self.phase = Phase::Search;
        self.search.dphi0 = dot_masked(&self.g, &self.dir, &self.mask);
        self.search.t_lo = 0.0;
        self.search.hi = None;
        self.search.evals = 0;
        project_into(&self.x, self.t, &self.dir, lo, hi, &mut self.trial);
        if self.trial == self.x {
            self.status = Status::Converged;
        }
    }

    /// `dir = −H·g` on the free variables (zero elsewhere), H the L-BFGS inverse Hessian.
    ///
    /// `q` lives in `dir` (negated at the end) and the `α`s in `alpha`: nothing is allocated.
    fn two_loop(&mut self) {
        let m = self.pairs.len();
        // `mask` is 1.0 on free variables, 0.0 on held ones: q stays zero off the free set, so
        // every dot product with q is already restricted to it and needs no mask.
        let mask = &self.mask;
        let q = &mut self.dir;
        for ((qi, gi), w) in q.iter_mut().zip(&self.g).zip(mask) {
            *qi = gi * w;
        }
        self.alpha.resize(m, 0.0);
        for j in (0..m).rev() {
            let (s, y, rho) = self.pairs.get(j);
            let a = rho * vmath::dot(s, q);
            self.alpha[j] = a;
            for ((qi, yi), w) in q.iter_mut().zip(y).zip(mask) {
                *qi -= a * yi * w;
            }
        }
        if m > 0 {
            let (s, y, _) = self.pairs.get(m - 1);
            let sy = dot_masked(s, y, &self.mask);
            let yy = dot_masked(y, y, &self.mask);
            if sy > 0.0 && yy > 0.0 {
                let gamma = sy / yy;
                q.iter_mut().for_each(|v| *v *= gamma);
            }
        }
        for (j, a) in self.alpha.iter().enumerate() {
            let (s, y, rho) = self.pairs.get(j);
            let b = rho * vmath::dot(y, q);
            for ((qi, si), w) in q.iter_mut().zip(s).zip(mask) {
                *qi += (a - b) * si * w;
            }
        }
        q.iter_mut().for_each(|v| *v = -*v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Drive one start to the end on a closure.
    fn run(f: impl Fn(&[f64], &mut [f64]) -> f64, x0: Vec<f64>, lo: &[f64], hi: &[f64]) -> Lbfgs {
        run_with(&Settings::polish(), f, x0, lo, hi)
    }

    fn run_with(
        st: &Settings,
        f: impl Fn(&[f64], &mut [f64]) -> f64,
        x0: Vec<f64>,
        lo: &[f64],
        hi: &[f64],
    ) -> Lbfgs {
        let mut s = Lbfgs::new(x0, lo, hi);
        let mut g = vec![0.0; lo.len()];
        while s.running() {
            let v = f(s.trial(), &mut g);
            s.feed(v, &g, lo, hi, st);
        }
        s
    }

    fn rosenbrock(x: &[f64], g: &mut [f64]) -> f64 {
        let (a, b) = (x[0], x[1]);
        g[0] = -2.0 * (1.0 - a) - 400.0 * a * (b - a * a);
        g[1] = 200.0 * (b - a * a);
        (1.0 - a).powi(2) + 100.0 * (b - a * a).powi(2)
    }

    #[test]
    fn minimises_rosenbrock_unbounded() {
        let inf = f64::INFINITY;
        let s = run(rosenbrock, vec![-1.2, 1.0], &[-inf, -inf], &[inf, inf]);
        let (x, f) = s.best();
        assert!(f < 1e-14, "f = {f}, status {:?}", s.status);
        assert!(
            (x[0] - 1.0).abs() < 1e-6 && (x[1] - 1.0).abs() < 1e-6,
            "{x:?}"
        );
        assert_eq!(s.status, Status::Converged);
    }

    #[test]
    fn respects_bounds_and_finds_the_boundary_optimum() {
        // Rosenbrock with x0 <= 0.5: optimum at (0.5, 0.25) on the bound.
        let s = run(rosenbrock, vec![-1.2, 1.0], &[-2.0, -2.0], &[0.5, 2.0]);
        let (x, _) = s.best();
        assert_eq!(x[0], 0.5);
        assert!((x[1] - 0.25).abs() < 1e-6, "{x:?}");
    }

    #[test]
    fn quadratic_with_bad_scaling_converges() {
        let w = [1.0, 1e4, 1e-2, 30.0];
        let f = |x: &[f64], g: &mut [f64]| {
            let mut v = 0.0;
            for i in 0..4 {
                g[i] = w[i] * (x[i] - i as f64);
                v += 0.5 * w[i] * (x[i] - i as f64).powi(2);
            }
            v
        };
        let inf = f64::INFINITY;
        let s = run(f, vec![5.0; 4], &[-inf; 4], &[inf; 4]);
        for (i, xi) in s.best().0.iter().enumerate() {
            assert!((xi - i as f64).abs() < 1e-4, "x{i} = {xi}");
        }
    }

    #[test]
    fn the_memory_keeps_the_newest_pairs_oldest_first() {
        let mut pairs = Pairs::default();
        for v in 0..13 {
            let (s, y, rho) = pairs.push(2, 10);
            s.copy_from_slice(&[v as f64, -v as f64]);
            y.fill(2.0 * v as f64);
            *rho = v as f64;
        }
        assert_eq!(pairs.len(), 10);
        for j in 0..10 {
            let v = (j + 3) as f64;
            assert_eq!(pairs.get(j), (&[v, -v][..], &[2.0 * v, 2.0 * v][..], v));
        }
        pairs.clear();
        assert!(pairs.is_empty());
        *pairs.push(2, 10).2 = 7.0;
        assert_eq!((pairs.len(), pairs.get(0).2), (1, 7.0));
    }

    /// Values rounded to f32, as a GPU returns them, with exact slopes: 1 + Rosenbrock, whose
    /// valley floor lies below f32's resolution at 1. Comparing values as exact, the search
    /// stops where a step's gain first rounds away; told the values' precision, it goes on by
    /// the slopes to the minimum.
    #[test]
    fn with_rounded_values_the_slopes_carry_the_search_to_the_floor() {
        let f = |x: &[f64], g: &mut [f64]| (1.0 + rosenbrock(x, g)) as f32 as f64;
        let inf = f64::INFINITY;
        let miss = |noise: f64| {
            let st = Settings {
                ftol: 1e-12,
                gtol: 1e-9,
                noise,
                ..Settings::default()
            };
            let s = run_with(&st, f, vec![-1.2, 1.0], &[-inf; 2], &[inf; 2]);
            let x = s.best().0;
            eprintln!(
                "noise {noise:e}: {x:?}, {:?} after {} iterations",
                s.status, s.iterations
            );
            (x[0] - 1.0).abs().max((x[1] - 1.0).abs())
        };
        let (exact, aware) = (miss(0.0), miss(1e-6));
        // Values resolve f − f* to f32's 6e-8, so x − x* only to about its square root.
        assert!(
            exact > 1e-5,
            "values compared as exact: {exact:e} from the minimum"
        );
        assert!(
            aware < 1e-6,
            "values known to be rounded: {aware:e} from the minimum"
        );
    }

    #[test]
    fn a_memory_of_zero_keeps_one_pair() {
        let st = Settings {
            memory: 0,
            ..Settings::polish()
        };
        let inf = f64::INFINITY;
        let s = run_with(&st, rosenbrock, vec![-1.2, 1.0], &[-inf; 2], &[inf; 2]);
        let x = s.best().0;
        assert!(
            (x[0] - 1.0).abs() < 1e-6 && (x[1] - 1.0).abs() < 1e-6,
            "{x:?}"
        );
    }

    #[test]
    fn a_non_finite_start_fails() {
        let s = run(|_, _| f64::NAN, vec![0.0], &[-1.0], &[1.0]);
        assert_eq!(s.status, Status::Failed);
    }
}
