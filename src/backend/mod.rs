//! Backends evaluate the objective and its gradient for a *batch* of parameter vectors.
//!
//! The optimiser never evaluates anything itself: each lock-step round it hands the backend one
//! flat batch (`batch × dim` internal coordinates) and gets back one objective and one gradient
//! per entry. That single narrow interface is what lets a compute-shader backend replace the CPU
//! one without the optimiser, the starts or the reports knowing.

mod cpu;
pub mod gpu;

pub use cpu::Cpu;
pub use gpu::Gpu;

use crate::fit::Problem;

/// Evaluates `H(θ)` and `∇H(θ)` (the optimiser's scaled objective) for many θ at once.
pub trait Backend: Sync {
    /// A short description for reports (`"cpu (rayon, 16 threads, f64)"`).
    fn describe(&self) -> String;
    /// For each of the `f.len()` entries of `thetas` (row-major, `problem.dim()` wide), write
    /// the objective to `f[b]` and the gradient to `g[b*dim..(b+1)*dim]`.
    fn evaluate(&self, problem: &Problem, thetas: &[f64], f: &mut [f64], g: &mut [f64]);
}
