//! A formula's graph as a WGSL function for the objective kernel: the shader twin of
//! [`super::program`], in the form the hand-written kernel functions take
//! (`shaders/objective.wgsl`): `fn formula_law(ln_n: f32, ln_d: f32) -> f32` returns the
//! prediction at the current row and writes `∂L/∂p` into the kernel's `dl`.
//!
//! Per-domain values are computed in loops over the domains. A reduction (`sum_i`, `prod_i`) is
//! only known after its loop, so nodes are scheduled by *level*, the number of reductions on
//! their deepest path: level `L`'s scalars, then one loop computing level `L`'s per-domain nodes
//! and accumulating the reductions of level `L + 1`. A per-domain value a later loop reads is kept
//! in a private array (`MAXK` long, as the hand-written laws keep `h_i^γ_i`); the others are
//! locals of their loop.

use std::fmt::Write;

use super::graph::{Graph, Id, Op, H_MIN};
use super::Decl;

/// The name of the generated function.
pub const FUNCTION: &str = "formula_law";

/// The WGSL function computing node `value` of `graph` and, into `dl`, `grads[d]` for each
/// declaration `d` (a family's at `dl[o_d + i]`).
pub fn function(graph: &Graph, value: Id, grads: &[Id], decls: &[Decl]) -> String {
    let n = graph.len();
    let mut live = vec![false; n];
    let mut stack: Vec<Id> = std::iter::once(value)
        .chain(grads.iter().copied())
        .collect();
    while let Some(id) = stack.pop() {
        if !std::mem::replace(&mut live[id as usize], true) {
            stack.extend(graph.op(id).children());
        }
    }
    let mut level = vec![0usize; n];
    for id in 0..n {
        let op = graph.op(id as Id);
        let l = op
            .children()
            .iter()
            .map(|&c| level[c as usize])
            .max()
            .unwrap_or(0);
        level[id] = match op {
            Op::SumI(_) | Op::ProdI(_) => l + 1,
            _ => l,
        };
    }
    let domain = |id: Id| graph.shape(id).domain;
    // Per-domain nodes read by a loop of a later level are kept in arrays.
    let mut array = vec![false; n];
    for id in 0..n {
        if !live[id] {
            continue;
        }
        for c in graph.op(id as Id).children() {
            let reader = match graph.op(id as Id) {
                Op::SumI(_) | Op::ProdI(_) => level[c as usize],
                _ => level[id],
            };
            if domain(c) && is_computed(graph.op(c)) && level[c as usize] < reader {
                array[c as usize] = true;
            }
        }
    }
    let top = (0..n)
        .filter(|&i| live[i])
        .map(|i| level[i])
        .max()
        .unwrap_or(0);

    let mut s = String::new();
    let _ = writeln!(
        s,
        "\n// Generated from a formula law by src/law/formula/wgsl.rs.\nfn {FUNCTION}(ln_n: f32, ln_d: f32) -> f32 {{"
    );
    // Declaration offsets in the parameter vector.
    let (mut scalars, mut families) = (0, 0);
    for (d, decl) in decls.iter().enumerate() {
        let _ = writeln!(s, "    let o{d} = {scalars}u + {families}u * params.k;");
        if decl.per_domain {
            families += 1;
        } else {
            scalars += 1;
        }
    }
    for id in 0..n {
        if live[id] && array[id] {
            let _ = writeln!(s, "    var a{id}: array<f32, MAXK>;");
        }
    }
    let r = |c: Id, in_loop_level: Option<usize>| -> String {
        reference(graph, c, &array, &level, in_loop_level)
    };
    for l in 0..=top {
        // Scalars of this level, and the accumulators its loop fills.
        for id in 0..n as Id {
            let i = id as usize;
            if !live[i] || domain(id) || !is_computed(graph.op(id)) {
                continue;
            }
            match graph.op(id) {
                Op::SumI(a) | Op::ProdI(a) if level[a as usize] == l => {
                    let init = if matches!(graph.op(id), Op::SumI(_)) {
                        "0.0"
                    } else {
                        "1.0"
                    };
                    let _ = writeln!(s, "    var v{id} = {init};");
                }
                Op::SumI(_) | Op::ProdI(_) => {}
                op if level[i] == l => {
                    let _ = writeln!(s, "    let v{id} = {};", expr(op, &|c| r(c, None)));
                }
                _ => {}
            }
        }
        let body: Vec<Id> = (0..n as Id)
            .filter(|&id| {
                let i = id as usize;
                live[i] && domain(id) && is_computed(graph.op(id)) && level[i] == l
            })
            .collect();
        let reductions: Vec<Id> = (0..n as Id)
            .filter(|&id| {
                live[id as usize]
                    && matches!(graph.op(id), Op::SumI(a) | Op::ProdI(a) if level[a as usize] == l)
            })
            .collect();
        let grads_here: Vec<(usize, Id)> = grads
            .iter()
            .enumerate()
            .filter(|(d, &g)| decls[*d].per_domain && domain(g) && level[g as usize] == l)
            .map(|(d, &g)| (d, g))
            .collect();
        if body.is_empty() && reductions.is_empty() && grads_here.is_empty() {
            continue;
        }
        let _ = writeln!(s, "    for (var i = 0u; i < params.k; i++) {{");
        for &id in &body {
            let e = expr(graph.op(id), &|c| r(c, Some(l)));
            let _ = writeln!(s, "        let v{id} = {e};");
            if array[id as usize] {
                let _ = writeln!(s, "        a{id}[i] = v{id};");
            }
        }
        for &id in &reductions {
            let (a, op) = match graph.op(id) {
                Op::SumI(a) => (a, "+"),
                Op::ProdI(a) => (a, "*"),
                _ => unreachable!(),
            };
            let _ = writeln!(s, "        v{id} {op}= {};", r(a, Some(l)));
        }
        for &(d, g) in &grads_here {
            let _ = writeln!(s, "        dl[o{d} + i] = {};", r(g, Some(l)));
        }
        let _ = writeln!(s, "    }}");
    }
    for (d, &g) in grads.iter().enumerate() {
        if decls[d].per_domain {
            if !domain(g) {
                let _ = writeln!(
                    s,
                    "    for (var i = 0u; i < params.k; i++) {{\n        dl[o{d} + i] = {};\n    }}",
                    r(g, None)
                );
            }
        } else {
            let _ = writeln!(s, "    dl[o{d}] = {};", r(g, None));
        }
    }
    let _ = writeln!(s, "    return {};\n}}", r(value, None));
    let _ = writeln!(
        s,
        "\n// ln(1 + x) without losing small x to the rounding of 1 + x.\nfn formula_log1p(x: f32) -> f32 {{\n    let u = 1.0 + x;\n    if u == 1.0 {{\n        return x;\n    }}\n    return log(u) * x / (u - 1.0);\n}}"
    );
    s
}

/// Whether a node is computed (rather than read: constants, parameters, inputs).
fn is_computed(op: Op) -> bool {
    !op.children().is_empty()
}

/// How the generated code reads node `c` (inside the loop of level `lvl`, or outside loops).
fn reference(graph: &Graph, c: Id, array: &[bool], level: &[usize], lvl: Option<usize>) -> String {
    match graph.op(c) {
        Op::Const(v) => literal(v),
        Op::Param(d) => format!("p[o{d}]"),
        Op::Family(d) => format!("p[o{d} + i]"),
        Op::K => "f32(params.k)".into(),
        Op::LnN => "ln_n".into(),
        Op::LnD => "ln_d".into(),
        Op::H => "h(i)".into(),
        Op::LnH => "ln_h(i)".into(),
        _ if graph.shape(c).domain && array[c as usize] && lvl != Some(level[c as usize]) => {
            format!("a{c}[i]")
        }
        _ => format!("v{c}"),
    }
}

/// A WGSL f32 literal for `v`.
fn literal(v: f64) -> String {
    let f = v as f32;
    if f.is_nan() {
        "bitcast<f32>(0x7fc00000u)".into()
    } else if f.is_infinite() {
        if f > 0.0 {
            "bitcast<f32>(0x7f800000u)".into()
        } else {
            "bitcast<f32>(0xff800000u)".into()
        }
    } else {
        // Debug formatting gives the shortest text that reads back as the same f32, always with a
        // '.' or an exponent, both of which WGSL accepts.
        let t = format!("{f:?}");
        if f < 0.0 {
            format!("({t})")
        } else {
            t
        }
    }
}

/// The WGSL expression of `op` with its operands read through `r`.
fn expr(op: Op, r: &dyn Fn(Id) -> String) -> String {
    match op {
        Op::Add(a, b) => format!("{} + {}", r(a), r(b)),
        Op::Sub(a, b) => format!("{} - {}", r(a), r(b)),
        Op::Mul(a, b) => format!("{} * {}", r(a), r(b)),
        Op::Div(a, b) => format!("{} / {}", r(a), r(b)),
        Op::Neg(a) => format!("-{}", r(a)),
        Op::Exp(a) => format!("exp({})", r(a)),
        Op::Ln(a) => format!("log({})", r(a)),
        Op::Log1p(a) => format!("formula_log1p({})", r(a)),
        Op::Sqrt(a) => format!("sqrt({})", r(a)),
        Op::Min(a, b) => format!("min({}, {})", r(a), r(b)),
        Op::Max(a, b) => format!("max({}, {})", r(a), r(b)),
        Op::Le(a, b) => format!("select(0.0, 1.0, {} <= {})", r(a), r(b)),
        Op::LnGuard(a) => format!("log(max({}, {}))", r(a), literal(H_MIN)),
        Op::Pow(x, y, lx) => format!("guarded_pow({}, {}, {})", r(x), r(lx), r(y)),
        Op::Powi(a, m) => {
            let prod = vec![r(a); m.unsigned_abs() as usize].join(" * ");
            if m < 0 {
                format!("1.0 / ({prod})")
            } else {
                format!("({prod})")
            }
        }
        _ => unreachable!("leaves and reductions are not expressions"),
    }
}
