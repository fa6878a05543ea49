//! Which formula laws are sums of per-domain terms, and their separable form
//! ([`crate::law::separable`]), so that the mixture search sweeps them by tables and partial
//! sums as it does the built-in laws.
//!
//! A formula is separable when `h` enters only through `sum_i(...)` reductions whose bodies read
//! `h[i]`, per-domain families `X[i]` and scalars but not `N` or `D` (and no reduction over `h`
//! nested inside one): then the law is `outer(N, D, θ, S_1, …, S_m)` with `S_j = Σ_i f_j(h_i)`.
//! `prod_i` over `h`, or a body that reads the scale, is not (a product is not a sum of terms,
//! and a body that reads `N` would need a table per row); such a law is swept point by point.
//! [`analyse`] decides from the compiled graph and says why not.
//!
//! At one scale and parameter vector, every node that reads neither `h` nor a sum is a constant,
//! computed once; the outer function is then the few nodes between the sums and the output, run
//! in graph order per candidate. The arithmetic is the CPU program's (`program.rs`: `vmath`'s
//! `exp` and `ln`, the guarded powers), so the sweep ranks as `eval` does to rounding; the
//! search re-scores its best points with `eval` in any case.

use std::collections::HashMap;

use super::graph::{Graph, Id, Op, H_MIN};
use super::program::powi;
use crate::law::separable::Separable;
use crate::vmath;

/// The sums of `h` the output of `graph` reads (`SumI` nodes, in graph order), or why it is
/// not separable.
pub(super) fn analyse(graph: &Graph, out: Id) -> Result<Vec<Id>, String> {
    let n = out as usize + 1;
    let (mut reads_h, mut reads_scale) = (vec![false; n], vec![false; n]);
    for id in 0..n {
        let op = graph.op(id as Id);
        let kids = op.children();
        reads_h[id] = matches!(op, Op::H | Op::LnH) || kids.iter().any(|&c| reads_h[c as usize]);
        reads_scale[id] =
            matches!(op, Op::LnN | Op::LnD) || kids.iter().any(|&c| reads_scale[c as usize]);
    }
    // The nodes the output reaches, and which of them sit inside a sum over h.
    let mut reached = vec![false; n];
    let mut inside = vec![false; n];
    reached[out as usize] = true;
    let mut sums = Vec::new();
    for id in (0..n).rev() {
        if !reached[id] {
            continue;
        }
        let op = graph.op(id as Id);
        match op {
            Op::ProdI(a) if reads_h[a as usize] => {
                return Err("prod_i over h is not a sum of per-domain terms".into())
            }
            Op::SumI(a) if reads_h[a as usize] => {
                if inside[id] {
                    return Err("a sum over h inside another sum over h".into());
                }
                if reads_scale[a as usize] {
                    return Err("a sum over h whose terms read N or D".into());
                }
                sums.push(id as Id);
                mark(graph, a, &mut inside);
            }
            _ => {}
        }
        for c in op.children() {
            reached[c as usize] = true;
            if inside[id] {
                inside[c as usize] = true;
            }
        }
    }
    sums.reverse();
    Ok(sums)
}

/// Marks `id` and everything below it.
fn mark(graph: &Graph, id: Id, set: &mut [bool]) {
    if !set[id as usize] {
        set[id as usize] = true;
        for c in graph.op(id).children() {
            mark(graph, c, set);
        }
    }
}

/// What a node's value is at one domain: the inputs of [`value`].
struct At<'a> {
    graph: &'a Graph,
    p: &'a [f64],
    /// Each declaration's place in `p`.
    offsets: &'a [usize],
    k: usize,
    ln_n: f64,
    ln_d: f64,
    /// The domain and its weight, for nodes that read `h`.
    i: usize,
    h: f64,
}

/// Node `id`'s value (at domain `at.i` if it varies over domains), memoised per (node, domain).
fn value(at: &At, id: Id, memo: &mut HashMap<(Id, usize), f64>) -> f64 {
    let domain = at.graph.shape(id).domain;
    let key = (id, if domain { at.i } else { usize::MAX });
    if let Some(&v) = memo.get(&key) {
        return v;
    }
    let mut v = |c: Id| value(at, c, memo);
    let x = match at.graph.op(id) {
        Op::Const(c) => c,
        Op::Param(d) => at.p[at.offsets[d as usize]],
        Op::Family(d) => at.p[at.offsets[d as usize] + at.i],
        Op::K => at.k as f64,
        Op::LnN => at.ln_n,
        Op::LnD => at.ln_d,
        Op::H => at.h,
        Op::LnH => at.h.max(H_MIN).ln(),
        Op::Add(a, b) => v(a) + v(b),
        Op::Sub(a, b) => v(a) - v(b),
        Op::Mul(a, b) => v(a) * v(b),
        Op::Div(a, b) => v(a) / v(b),
        Op::Neg(a) => -v(a),
        Op::Exp(a) => vmath::exp(v(a)),
        Op::Ln(a) => vmath::ln(v(a)),
        Op::Log1p(a) => v(a).ln_1p(),
        Op::Sqrt(a) => v(a).sqrt(),
        Op::Min(a, b) => {
            let (x, y) = (v(a), v(b));
            if y < x {
                y
            } else {
                x
            }
        }
        Op::Max(a, b) => {
            let (x, y) = (v(a), v(b));
            if y > x {
                y
            } else {
                x
            }
        }
        Op::Le(a, b) => f64::from(u8::from(v(a) <= v(b))),
        Op::LnGuard(a) => vmath::ln(v(a).max(H_MIN)),
        Op::Pow(a, b, l) => guarded(v(a), v(b), v(l)),
        Op::Powi(a, m) => powi(v(a), m),
        // Reductions of nodes that do not read h (the analysis keeps h out of these).
        Op::SumI(a) => (0..at.k).fold(0.0, |s, i| s + value(&At { i, ..*at }, a, memo)),
        Op::ProdI(a) => (0..at.k).fold(1.0, |s, i| s * value(&At { i, ..*at }, a, memo)),
    };
    memo.insert(key, x);
    x
}

/// `x^y` from `ln x`, 0 where `x ≤ 0 < y` (the program's `Pow`).
fn guarded(x: f64, y: f64, lx: f64) -> f64 {
    let v = vmath::exp(y * lx);
    if x <= 0.0 && y > 0.0 {
        0.0
    } else {
        v
    }
}

/// A formula law at one scale and parameter vector as sums of per-domain terms.
pub(super) struct FormulaSums {
    graph: Graph,
    p: Vec<f64>,
    offsets: Vec<usize>,
    k: usize,
    ln_n: f64,
    ln_d: f64,
    /// The sums' bodies.
    bodies: Vec<Id>,
    /// The outer function: the nodes that read a sum, in graph order, each with its operands
    /// as slots (a sum, an earlier step, or a constant), and the output's slot.
    steps: Vec<(Op, Vec<Slot>)>,
    out: Slot,
}

#[derive(Clone, Copy)]
enum Slot {
    Sum(usize),
    Step(usize),
    Value(f64),
}

impl FormulaSums {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn new(
        graph: &Graph,
        sums: &[Id],
        out: Id,
        p: &[f64],
        offsets: &[usize],
        k: usize,
        ln_n: f64,
        ln_d: f64,
    ) -> FormulaSums {
        let at = At {
            graph,
            p,
            offsets,
            k,
            ln_n,
            ln_d,
            i: 0,
            h: f64::NAN,
        };
        let mut memo = HashMap::new();
        let mut slots: HashMap<Id, Slot> = sums
            .iter()
            .enumerate()
            .map(|(q, &s)| (s, Slot::Sum(q)))
            .collect();
        let mut steps = Vec::new();
        // Nodes above the sums read one of them; the rest are constants at this scale.
        let mut above = vec![false; out as usize + 1];
        for id in 0..=out {
            let op = graph.op(id);
            above[id as usize] = !sums.contains(&id)
                && op
                    .children()
                    .iter()
                    .any(|&c| above[c as usize] || sums.contains(&c));
        }
        for id in 0..=out {
            if !above[id as usize] {
                continue;
            }
            let operands = graph
                .op(id)
                .children()
                .into_iter()
                .map(|c| match slots.get(&c) {
                    Some(&s) => s,
                    None => Slot::Value(value(&at, c, &mut memo)),
                })
                .collect();
            slots.insert(id, Slot::Step(steps.len()));
            steps.push((graph.op(id), operands));
        }
        let out_slot = match slots.get(&out) {
            Some(&s) => s,
            None => Slot::Value(value(&at, out, &mut memo)),
        };
        FormulaSums {
            graph: graph.clone(),
            p: p.to_vec(),
            offsets: offsets.to_vec(),
            k,
            ln_n,
            ln_d,
            bodies: sums
                .iter()
                .map(|&s| match graph.op(s) {
                    Op::SumI(a) => a,
                    _ => unreachable!("analyse returns SumI nodes"),
                })
                .collect(),
            steps,
            out: out_slot,
        }
    }
}

impl Separable for FormulaSums {
    fn sums(&self) -> usize {
        self.bodies.len()
    }
    fn term(&self, q: usize, i: usize, h: f64) -> f64 {
        let at = At {
            graph: &self.graph,
            p: &self.p,
            offsets: &self.offsets,
            k: self.k,
            ln_n: self.ln_n,
            ln_d: self.ln_d,
            i,
            h,
        };
        value(&at, self.bodies[q], &mut HashMap::new())
    }
    fn outer(&self, sums: &[f64], stride: usize, out: &mut [f64]) {
        let mut vals = vec![0.0; self.steps.len()];
        for (c, o) in out.iter_mut().enumerate() {
            let get = |s: Slot, vals: &[f64]| match s {
                Slot::Sum(q) => sums[q * stride + c],
                Slot::Step(j) => vals[j],
                Slot::Value(v) => v,
            };
            for j in 0..self.steps.len() {
                let (op, args) = &self.steps[j];
                let a = |n: usize| get(args[n], &vals);
                vals[j] = match *op {
                    Op::Add(..) => a(0) + a(1),
                    Op::Sub(..) => a(0) - a(1),
                    Op::Mul(..) => a(0) * a(1),
                    Op::Div(..) => a(0) / a(1),
                    Op::Neg(_) => -a(0),
                    Op::Exp(_) => vmath::exp(a(0)),
                    Op::Ln(_) => vmath::ln(a(0)),
                    Op::Log1p(_) => a(0).ln_1p(),
                    Op::Sqrt(_) => a(0).sqrt(),
                    Op::Min(..) => {
                        let (x, y) = (a(0), a(1));
                        if y < x {
                            y
                        } else {
                            x
                        }
                    }
                    Op::Max(..) => {
                        let (x, y) = (a(0), a(1));
                        if y > x {
                            y
                        } else {
                            x
                        }
                    }
                    Op::Le(..) => f64::from(u8::from(a(0) <= a(1))),
                    Op::LnGuard(_) => vmath::ln(a(0).max(H_MIN)),
                    Op::Pow(..) => guarded(a(0), a(1), a(2)),
                    Op::Powi(_, m) => powi(a(0), m),
                    _ => unreachable!("no leaf or reduction reads a sum of a separable formula"),
                };
            }
            *o = get(self.out, &vals);
        }
    }
}
