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
//! and a backtracking Armijo search runs along the projected path `P(x + t·d)`. Pairs with
//! non-positive curvature are skipped, and a direction that fails to descend resets the memory.
//! Stopping rules follow L-BFGS-B's: the relative decrease `(f_k − f_{k+1}) / max(|f_k|,
//! |f_{k+1}|, 1) ≤ ftol`, or the projected-gradient infinity norm `≤ gtol`.

use std::collections::VecDeque;

/// Solver settings shared by every start.
#[derive(Clone, Copy, Debug, serde::Serialize, serde::Deserialize)]
pub struct Settings {
    /// Curvature pairs kept (L-BFGS memory).
    pub memory: usize,
    /// Iterations (accepted steps) per start.
    pub max_iter: usize,
    /// Relative-decrease tolerance.
    pub ftol: f64,
    /// Projected-gradient tolerance (infinity norm).
    pub gtol: f64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            memory: 10,
            max_iter: 2000,
            ftol: 1e-13,
            gtol: 1e-9,
        }
    }
}

/// Where a start is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
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

const ARMIJO_C1: f64 = 1e-4;
const MAX_BACKTRACKS: usize = 40;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Phase {
    Start,
    Search,
}

/// One start's solver state.
#[derive(Clone, Debug)]
pub struct Lbfgs {
    x: Vec<f64>,
    f: f64,
    g: Vec<f64>,
    s: VecDeque<Vec<f64>>,
    y: VecDeque<Vec<f64>>,
    rho: VecDeque<f64>,
    dir: Vec<f64>,
    free: Vec<bool>,
    t: f64,
    trial: Vec<f64>,
    phase: Phase,
    backtracks: usize,
    pub iterations: usize,
    pub evaluations: usize,
    pub status: Status,
}

fn dot_masked(a: &[f64], b: &[f64], m: &[bool]) -> f64 {
    a.iter()
        .zip(b)
        .zip(m)
        .filter(|(_, &f)| f)
        .map(|((x, y), _)| x * y)
        .sum()
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
            s: VecDeque::new(),
            y: VecDeque::new(),
            rho: VecDeque::new(),
            dir: vec![0.0; n],
            free: vec![true; n],
            t: 1.0,
            trial: x0,
            phase: Phase::Start,
            backtracks: 0,
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
            Phase::Search => {
                let decrease: f64 = (0..self.x.len())
                    .map(|i| self.g[i] * (self.trial[i] - self.x[i]))
                    .sum();
                let finite = f.is_finite() && g.iter().all(|v| v.is_finite());
                if finite && f <= self.f + ARMIJO_C1 * decrease {
                    self.accept(f, g, st);
                    if self.running() {
                        self.next_direction(lo, hi, st);
                    }
                } else {
                    self.backtrack(f, lo, hi);
                }
            }
        }
    }

    fn accept(&mut self, f: f64, g: &[f64], st: &Settings) {
        let n = self.x.len();
        let s: Vec<f64> = (0..n).map(|i| self.trial[i] - self.x[i]).collect();
        let y: Vec<f64> = (0..n).map(|i| g[i] - self.g[i]).collect();
        let sy: f64 = s.iter().zip(&y).map(|(a, b)| a * b).sum();
        let yy: f64 = y.iter().map(|v| v * v).sum();
        if sy > 1e-12 * yy.max(f64::MIN_POSITIVE) && sy > 0.0 {
            if self.s.len() == st.memory {
                self.s.pop_front();
                self.y.pop_front();
                self.rho.pop_front();
            }
            self.s.push_back(s);
            self.y.push_back(y);
            self.rho.push_back(1.0 / sy);
        }
        let f_old = self.f;
        self.x.copy_from_slice(&self.trial);
        self.f = f;
        self.g.copy_from_slice(g);
        self.iterations += 1;
        if (f_old - f) <= st.ftol * f_old.abs().max(f.abs()).max(1.0) {
            self.status = Status::Converged;
        }
    }

    fn backtrack(&mut self, f: f64, lo: &[f64], hi: &[f64]) {
        self.backtracks += 1;
        if self.backtracks > MAX_BACKTRACKS {
            self.status = Status::Stalled;
            return;
        }
        // Safeguarded quadratic interpolation of φ(t) = f(x + t d) from φ(0), φ'(0), φ(t).
        let dphi0: f64 = dot_masked(&self.g, &self.dir, &self.free);
        let t = self.t;
        let mut next = 0.1 * t;
        if f.is_finite() {
            let curv = f - self.f - dphi0 * t;
            if curv > 0.0 {
                next = (-dphi0 * t * t / (2.0 * curv)).clamp(0.1 * t, 0.5 * t);
            } else {
                next = 0.5 * t;
            }
        }
        self.t = next;
        project_into(&self.x, self.t, &self.dir, lo, hi, &mut self.trial);
        if self.trial == self.x {
            self.status = Status::Stalled;
        }
    }

    fn next_direction(&mut self, lo: &[f64], hi: &[f64], st: &Settings) {
        let n = self.x.len();
        let mut pg = 0.0f64;
        for i in 0..n {
            pg = pg.max(((self.x[i] - self.g[i]).clamp(lo[i], hi[i]) - self.x[i]).abs());
            self.free[i] = !((self.x[i] <= lo[i] && self.g[i] > 0.0)
                || (self.x[i] >= hi[i] && self.g[i] < 0.0));
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
        let descends = dot_masked(&self.g, &self.dir, &self.free) < 0.0;
        if !descends {
            self.s.clear();
            self.y.clear();
            self.rho.clear();
            self.two_loop();
        }
        self.t = if self.s.is_empty() {
            let norm = dot_masked(&self.dir, &self.dir, &self.free).sqrt();
            (1.0 / norm).min(1.0)
        } else {
            1.0
        };
        self.phase = Phase::Search;
        self.backtracks = 0;
        project_into(&self.x, self.t, &self.dir, lo, hi, &mut self.trial);
        if self.trial == self.x {
            self.status = Status::Converged;
        }
    }

    /// `dir = −H·g` on the free variables (zero elsewhere), H the L-BFGS inverse Hessian.
    fn two_loop(&mut self) {
        let m = self.s.len();
        let free = &self.free;
        let mut q: Vec<f64> = self
            .g
            .iter()
            .zip(free)
            .map(|(&v, &f)| if f { v } else { 0.0 })
            .collect();
        let mut alpha = vec![0.0; m];
        for j in (0..m).rev() {
            let a = self.rho[j] * dot_masked(&self.s[j], &q, free);
            alpha[j] = a;
            for (qi, (yi, &fi)) in q.iter_mut().zip(self.y[j].iter().zip(free)) {
                if fi {
                    *qi -= a * yi;
                }
            }
        }
        if m > 0 {
            let (s, y) = (&self.s[m - 1], &self.y[m - 1]);
            let sy = dot_masked(s, y, free);
            let yy = dot_masked(y, y, free);
            if sy > 0.0 && yy > 0.0 {
                let gamma = sy / yy;
                q.iter_mut().for_each(|v| *v *= gamma);
            }
        }
        for (j, a) in alpha.iter().enumerate() {
            let b = self.rho[j] * dot_masked(&self.y[j], &q, free);
            for (qi, (si, &fi)) in q.iter_mut().zip(self.s[j].iter().zip(free)) {
                if fi {
                    *qi += (a - b) * si;
                }
            }
        }
        for (d, (qi, &fi)) in self.dir.iter_mut().zip(q.iter().zip(free)) {
            *d = if fi { -qi } else { 0.0 };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Drive one start to the end on a closure.
    fn run(f: impl Fn(&[f64], &mut [f64]) -> f64, x0: Vec<f64>, lo: &[f64], hi: &[f64]) -> Lbfgs {
        let st = Settings::default();
        let mut s = Lbfgs::new(x0, lo, hi);
        let mut g = vec![0.0; lo.len()];
        while s.running() {
            let v = f(s.trial(), &mut g);
            s.feed(v, &g, lo, hi, &st);
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
    fn a_non_finite_start_fails() {
        let s = run(|_, _| f64::NAN, vec![0.0], &[-1.0], &[1.0]);
        assert_eq!(s.status, Status::Failed);
    }
}
