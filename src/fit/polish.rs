//! Polishing: the best few minima of a fit re-scored and re-minimised in f64 on the CPU.
//!
//! For a non-smooth loss (the absolute error) this is also where the smoothing goes: the
//! exploration minimised the stand-in `Huber_δ/δ` at the fit's δ; polishing re-minimises the
//! contenders at δ, then at δ/10, δ/100, … ([`NARROWINGS`] steps, each from the last one's
//! minimum: continuation), and finally ranks every minimum by the exact loss.

use super::batch::{self, Outcome};
use super::{lbfgs, FitSettings};
use crate::backend::{Backend, Cpu};
use crate::objective::Problem;

/// How many times polishing divides a non-smooth loss's smoothing width by [`NARROWING`] after
/// polishing at the fit's δ (δ = 1e-3 ends at 1e-12). The stand-in `Huber_δ/δ` is `|r| − δ/2`
/// outside the band and within `W·δ/2` below `|r|` inside it, so the exact loss at the
/// stand-in's minimum exceeds the least one by about δ times the share of rows in the band:
/// on kyo-takano's asymmetric fit of Epoch's rows (mean asymmetric MAE, W = 10) the best exact
/// objective was 2.28399e-2 at δ = 1e-3, 2.27847e-2 at 1e-4, 2.2781845e-2 at 1e-6 and
/// 2.27818141e-2 at 1e-9, each decade a tenth of the last gap, settling at 2.278181409077e-2
/// (1e-13 relative) by 1e-12, a few hundred evaluations per contender in all.
const NARROWINGS: usize = 9;

/// The factor each narrowing divides the width by.
const NARROWING: f64 = 10.0;

/// Re-minimise the best `s.polish` distinct minima with tight tolerances, in place, on the f64
/// CPU backend whatever backend explored. Exploring every start to the last digit would spend
/// most of the time on starts that lose; polishing only the contenders gives the winner full
/// f64 precision at a fraction of the cost — and an f32 GPU exploration f64 quality.
pub(crate) fn polish(problem: &Problem, outcomes: &mut [Outcome], s: &FitSettings) {
    polish_groups(problem, &mut [(0, outcomes)], s.polish, &s.polish_solver);
}

/// [`polish`] for several groups of outcomes at once, each under its own weight set (the
/// replicates of a bootstrap study): one re-scoring batch and one polishing run for all (per
/// width, for a non-smooth loss). Afterwards every outcome's `f` is the exact objective on the
/// optimiser's scale, so that whoever ranks them ranks by the loss the fit reports.
pub(crate) fn polish_groups(
    problem: &Problem,
    groups: &mut [(u32, &mut [Outcome])],
    count: usize,
    solver: &lbfgs::Settings,
) {
    // Re-score every minimum in f64 first: an f32 exploration's objectives are only good to
    // ~1e-6 relative (`Backend::noise` allows 1e-5), too coarse to rank minima that close.
    let dim = problem.dim();
    let mut thetas = Vec::new();
    let mut sets = Vec::new();
    for (set, outcomes) in groups.iter() {
        for o in outcomes.iter() {
            thetas.extend_from_slice(&o.theta);
            sets.push(*set);
        }
    }
    let mut f = vec![0.0; sets.len()];
    let mut g = vec![0.0; sets.len() * dim];
    Cpu.evaluate(problem, &thetas, &sets, &mut f, &mut g);
    let mut f = f.into_iter();
    for (_, outcomes) in groups.iter_mut() {
        for o in outcomes.iter_mut() {
            o.f = f.next().expect("one value per outcome");
        }
    }
    let chosen: Vec<Vec<usize>> = groups
        .iter()
        .map(|(_, outcomes)| contenders(outcomes, count))
        .collect();
    minimize_chosen(problem, groups, &chosen, solver);
    if problem.loss().kind.is_smooth() {
        return;
    }
    let mut narrow = problem.loss();
    for _ in 0..NARROWINGS {
        narrow = narrow.narrowed(NARROWING);
        minimize_chosen(&problem.with_loss(narrow), groups, &chosen, solver);
    }
    // The exact loss of every minimum, polished or not: what the fit ranks and reports.
    for (set, outcomes) in groups.iter_mut() {
        for o in outcomes.iter_mut() {
            if o.f.is_finite() {
                o.f = problem.exact(&o.theta, *set as usize);
            }
        }
    }
}

/// Re-minimise the outcomes `chosen[j]` of each group `j` under `problem`, from where they are,
/// in place (values and evaluations); on the f64 CPU backend.
fn minimize_chosen(
    problem: &Problem,
    groups: &mut [(u32, &mut [Outcome])],
    chosen: &[Vec<usize>],
    solver: &lbfgs::Settings,
) {
    let jobs: Vec<batch::Job> = groups
        .iter()
        .zip(chosen)
        .map(|((set, outcomes), c)| batch::Job {
            set: *set,
            starts: c.iter().map(|&i| outcomes[i].theta.clone()).collect(),
        })
        .collect();
    batch::run(
        problem,
        jobs.into_iter(),
        usize::MAX,
        solver,
        &Cpu,
        &mut |finished| {
            for (j, polished) in finished {
                let outcomes = &mut groups[j].1;
                for (&i, p) in chosen[j].iter().zip(polished) {
                    // L-BFGS never ends above its start, so the polished point is at least as good.
                    outcomes[i].theta = p.theta;
                    outcomes[i].f = p.f;
                    outcomes[i].evaluations += p.evaluations;
                }
            }
            std::ops::ControlFlow::Continue(())
        },
        &mut |_| {},
    );
}

/// Indices of the best `count` finite outcomes whose parameters differ (best first).
fn contenders(outcomes: &[Outcome], count: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..outcomes.len())
        .filter(|&i| outcomes[i].f.is_finite())
        .collect();
    order.sort_by(|&a, &b| outcomes[a].f.total_cmp(&outcomes[b].f));
    let mut chosen: Vec<usize> = Vec::new();
    for i in order {
        if chosen.len() == count {
            break;
        }
        let distinct = chosen.iter().all(|&c| {
            outcomes[c]
                .theta
                .iter()
                .zip(&outcomes[i].theta)
                .any(|(a, b)| (a - b).abs() > 1e-6 * a.abs().max(1.0))
        });
        if distinct {
            chosen.push(i);
        }
    }
    chosen
}
