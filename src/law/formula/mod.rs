//! Laws users write: a formula over `N`, `D` and the weights `h[i]`, compiled once into a program
//! that evaluates the law and its derivatives over blocks of rows on the CPU (f64), and into WGSL
//! for the GPU kernel.
//!
//! # The pipeline
//!
//! * `parse`: text → syntax tree, with spans for errors that point at the fault.
//! * `build` (here): syntax tree → typed expression `graph`, resolving every name to a
//!   declared parameter (a scalar, or a per-domain family `C[i]`) or an input (`N`, `D`, `h[i]`).
//!   In a law file an undeclared name is an error; in an inline `--formula` it becomes a
//!   parameter with the default bounds of its role ([`Decl::inline`]).
//! * `graph::Graph::adjoints`: the derivative in reverse mode, as more nodes of the same graph,
//!   so `∂L/∂p` and `∂L/∂h_i` share subexpressions with the value.
//! * `program`: the graph compiled to a register program run over blocks of rows, and `wgsl`:
//!   the same graph as a WGSL function for the objective kernel.
//!
//! A compiled formula is a [`Family`] like the hand-written laws, so every command (fit, predict,
//! optimize, sweep, bootstrap) works on it unchanged. The law files in `laws/` define each
//! built-in law this way, and the tests hold the two to 1e-12.
//!
//! # Why not a crate
//!
//! Expression crates (`meval`, `evalexpr`, `fasteval`) evaluate a tree or bytecode one point at a
//! time, in f64 only, with no derivative, no per-domain reductions and no way to emit WGSL; the
//! parts mixlaw needs (typed shapes, symbolic reverse mode, block evaluation, code generation)
//! are the compiler, and the parser is the small part.

pub mod file;
mod graph;
mod parse;
mod program;
mod separable;
mod wgsl;

use std::cell::RefCell;

pub use parse::FormulaError;
pub use wgsl::FUNCTION as WGSL_FUNCTION;

use self::graph::{Graph, Id, Op};
use self::parse::{Ast, AstKind, BinOp, Span};
use self::program::{Env, Program, Scratch};
use super::{Axis, Family, ParamSpec, Point, Points};
use crate::rng::Rng;

/// How a parameter's starting values are drawn.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Start {
    /// Uniform in `[lo, hi)`.
    Uniform([f64; 2]),
    /// Log-uniform in `[lo, hi)` (`lo > 0`).
    LogUniform([f64; 2]),
}

impl Start {
    /// The range.
    pub fn range(&self) -> [f64; 2] {
        match *self {
            Start::Uniform(r) | Start::LogUniform(r) => r,
        }
    }
    fn draw(&self, rng: &mut Rng) -> f64 {
        match *self {
            Start::Uniform([lo, hi]) => rng.range(lo, hi),
            Start::LogUniform([lo, hi]) => rng.log10_range(lo.log10(), hi.log10()),
        }
    }
}

/// A declared parameter of a formula law.
#[derive(Clone, Debug, PartialEq)]
pub struct Decl {
    /// The name the formula uses (`C` for the family `C[i]`).
    pub name: String,
    /// A family with one value per domain, written `C[i]`.
    pub per_domain: bool,
    /// Box bounds `[lo, hi]`.
    pub bounds: [f64; 2],
    /// How starts are drawn.
    pub start: Start,
    /// A positive amplitude, optimised as its logarithm.
    pub amplitude: bool,
    /// Grid values for [`super::Init::Grid`] in raw units (N in parameters, D in tokens).
    pub grid: Option<Grid>,
}

/// A parameter's values in a start grid, in raw units.
#[derive(Clone, Debug, PartialEq)]
pub enum Grid {
    /// The values.
    Values(Vec<f64>),
    /// The natural logarithms of the values (Hoffmann et al. write their amplitude grids so).
    Ln(Vec<f64>),
}

impl Grid {
    /// The grid's numbers as written.
    pub fn numbers(&self) -> &[f64] {
        match self {
            Grid::Values(v) | Grid::Ln(v) => v,
        }
    }
}

impl Decl {
    /// The parameter an inline formula makes of an unknown name: an *exponent* if it appears in
    /// an exponent (right of `^` or inside `exp`), bounds `[−3, 3]`, starts uniform in `[0, 1)`;
    /// otherwise an *amplitude*, positive, bounds `[0, 1e4]`, starts log-uniform in `[0.1, 10)`.
    pub fn inline(name: &str, per_domain: bool, exponent: bool) -> Decl {
        let (bounds, start, amplitude) = if exponent {
            ([-3.0, 3.0], Start::Uniform([0.0, 1.0]), false)
        } else {
            ([0.0, 1e4], Start::LogUniform([0.1, 10.0]), true)
        };
        Decl {
            name: name.to_string(),
            per_domain,
            bounds,
            start,
            amplitude,
            grid: None,
        }
    }
}

/// The functions a formula may call, with their argument counts.
const FUNCTIONS: [(&str, usize); 8] = [
    ("exp", 1),
    ("log", 1),
    ("log1p", 1),
    ("sqrt", 1),
    ("min", 2),
    ("max", 2),
    ("sum_i", 1),
    ("prod_i", 1),
];

/// The names of the inputs.
pub const INPUTS: [&str; 3] = ["N", "D", "h"];

/// A formula compiled against its declarations.
pub struct Compiled {
    /// The formula's text.
    pub text: String,
    /// The parameters, in the order of the parameter vector (a family takes `k` places).
    pub decls: Vec<Decl>,
    /// Warnings (declared parameters the formula does not use).
    pub warnings: Vec<String>,
    /// Whether the formula reads `h` or has a per-domain family (either needs the domains).
    pub uses_mixture: bool,
    /// Whether it reads `N` or `D`.
    pub uses_scale: bool,
    /// Per declaration, the scale power it multiplies (`A` in `A/N^alpha`): the declaration
    /// index of the exponent and the axis.
    powers: Vec<Option<(usize, Axis)>>,
    graph: Graph,
    value_node: Id,
    /// The sums of `h` the law reads if it is separable, else why not (`separable.rs`).
    sums: Result<Vec<Id>, String>,
    /// Per declaration, the node of `∂L/∂` it.
    grad_nodes: Vec<Id>,
    /// For a law started from a grid ([`super::Init::Grid`], set by its law file): the
    /// declarations in the grid's product order, outermost first.
    grid_order: Option<Vec<usize>>,
    /// The prediction.
    value: Program,
    /// The prediction and `∂L/∂p` per declaration.
    gradient: Program,
    /// The prediction and `∂L/∂h_i`.
    mixture: Program,
}

impl std::fmt::Debug for Compiled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Compiled({})", self.text)
    }
}

/// Compiles `text` against `decls`; with `inline`, unknown names are declared (appended to
/// `decls` in order of first appearance) instead of refused.
pub fn compile(text: &str, mut decls: Vec<Decl>, inline: bool) -> Result<Compiled, FormulaError> {
    let ast = parse::parse(text)?;
    if inline {
        let mut found = Vec::new();
        unknown_names(&ast, &decls, false, &mut found);
        for (name, per_domain, exponent) in found {
            decls.push(Decl::inline(&name, per_domain, exponent));
        }
    }
    let mut b = Builder {
        text,
        decls: &decls,
        graph: Graph::default(),
        used: vec![false; decls.len()],
        in_reduction: false,
    };
    let value_node = b.build(&ast)?;
    let used = b.used;
    let mut graph = b.graph;
    let warnings = decls
        .iter()
        .zip(&used)
        .filter(|(_, u)| !**u)
        .map(|(d, _)| {
            format!(
                "parameter '{}' is declared but the formula does not use it",
                d.name
            )
        })
        .collect();
    let reads = |g: &Graph, ops: &[Op]| (0..g.len() as Id).any(|i| ops.contains(&g.op(i)));
    // A per-domain family needs the table's domains as much as h does: it has one value per
    // domain, and a table without a mixture has none (its fit would silently drop the family).
    let uses_mixture = reads(&graph, &[Op::H, Op::LnH]) || decls.iter().any(|d| d.per_domain);
    let uses_scale = reads(&graph, &[Op::LnN, Op::LnD]);
    // The adjoints: H must exist before they are taken (ln h_i passes its adjoint to it).
    let h = uses_mixture.then(|| graph.leaf(Op::H));
    let leaves: Vec<Id> = decls
        .iter()
        .enumerate()
        .map(|(i, d)| {
            graph.leaf(if d.per_domain {
                Op::Family(i as u32)
            } else {
                Op::Param(i as u32)
            })
        })
        .collect();
    let adj = graph.adjoints(value_node);
    let zero = graph.num(0.0);
    let grad_of = |id: Id| adj.get(id as usize).copied().flatten().unwrap_or(zero);
    let grad_nodes: Vec<Id> = leaves.iter().map(|&id| grad_of(id)).collect();
    // Outputs: the value, then ∂L/∂ each declaration (gradient) or ∂L/∂h (mixture).
    let gradient = Program::compile(&graph, &[&[value_node], &grad_nodes[..]].concat());
    let value = Program::compile(&graph, &[value_node]);
    let mixture = Program::compile(&graph, &[value_node, h.map(grad_of).unwrap_or(zero)]);
    let powers = powers(&graph, &decls);
    let sums = separable::analyse(&graph, value_node);
    Ok(Compiled {
        text: text.to_string(),
        decls,
        warnings,
        uses_mixture,
        uses_scale,
        powers,
        graph,
        value_node,
        sums,
        grad_nodes,
        grid_order: None,
        value,
        gradient,
        mixture,
    })
}

/// Which amplitudes multiply a power of the scale, `A·x^−e` (`A/N^alpha` after the graph's
/// rewrite), `e` a scalar parameter: what the log residual's coordinates centre.
fn powers(graph: &Graph, decls: &[Decl]) -> Vec<Option<(usize, Axis)>> {
    let mut out = vec![None; decls.len()];
    for id in 0..graph.len() as Id {
        let Op::Mul(a, b) = graph.op(id) else {
            continue;
        };
        for (amp, pow) in [(a, b), (b, a)] {
            let (Op::Param(d), Op::Pow(x, y, lx)) = (graph.op(amp), graph.op(pow)) else {
                continue;
            };
            let axis = match (graph.op(x), graph.op(lx)) {
                (Op::Exp(z), Op::LnN) if z == lx => Axis::N,
                (Op::Exp(z), Op::LnD) if z == lx => Axis::D,
                _ => continue,
            };
            if let (Op::Neg(e), true) = (graph.op(y), decls[d as usize].amplitude) {
                if let Op::Param(e) = graph.op(e) {
                    out[d as usize].get_or_insert((e as usize, axis));
                }
            }
        }
    }
    out
}

/// The unknown names of `ast` in order of first appearance: `(name, indexed, in an exponent)`.
fn unknown_names(ast: &Ast, decls: &[Decl], exponent: bool, out: &mut Vec<(String, bool, bool)>) {
    match &ast.kind {
        AstKind::Num(_) => {}
        AstKind::Name { name, indexed } => {
            if INPUTS.contains(&name.as_str()) || decls.iter().any(|d| &d.name == name) {
                return;
            }
            match out.iter_mut().find(|(n, ..)| n == name) {
                Some(entry) => entry.2 |= exponent,
                None => out.push((name.clone(), *indexed, exponent)),
            }
        }
        AstKind::Neg(e) => unknown_names(e, decls, exponent, out),
        AstKind::Binary(op, a, b) => {
            unknown_names(a, decls, exponent, out);
            unknown_names(b, decls, exponent || *op == BinOp::Pow, out);
        }
        AstKind::Call { name, args, .. } => {
            for a in args {
                unknown_names(a, decls, exponent || name == "exp", out);
            }
        }
    }
}

struct Builder<'a> {
    text: &'a str,
    decls: &'a [Decl],
    graph: Graph,
    used: Vec<bool>,
    in_reduction: bool,
}

impl Builder<'_> {
    fn error(&self, span: &Span, msg: impl Into<String>) -> FormulaError {
        FormulaError::new(self.text, span.clone(), msg)
    }

    fn build(&mut self, ast: &Ast) -> Result<Id, FormulaError> {
        Ok(match &ast.kind {
            AstKind::Num(v) => self.graph.num(*v),
            AstKind::Name { name, indexed } => self.name(name, *indexed, &ast.span)?,
            AstKind::Neg(e) => {
                let e = self.build(e)?;
                self.graph.neg(e)
            }
            AstKind::Binary(op, a, b) => {
                let (a, b) = (self.build(a)?, self.build(b)?);
                let g = &mut self.graph;
                match op {
                    BinOp::Add => g.add(a, b),
                    BinOp::Sub => g.sub(a, b),
                    BinOp::Mul => g.mul(a, b),
                    BinOp::Div => g.div(a, b),
                    BinOp::Pow => g.pow(a, b),
                }
            }
            AstKind::Call {
                name,
                name_span,
                args,
            } => self.call(name, name_span, args)?,
        })
    }

    fn name(&mut self, name: &str, indexed: bool, span: &Span) -> Result<Id, FormulaError> {
        if indexed && !self.in_reduction {
            return Err(self.error(
                span,
                format!(
                    "{name}[i] outside sum_i(...) or prod_i(...): the domain index i exists \
                     only inside them"
                ),
            ));
        }
        if FUNCTIONS.iter().any(|(f, _)| *f == name) {
            return Err(self.error(span, format!("'{name}' is a function: write {name}(...)")));
        }
        let g = &mut self.graph;
        match (name, indexed) {
            ("N", false) => {
                let l = g.leaf(Op::LnN);
                return Ok(g.exp(l));
            }
            ("D", false) => {
                let l = g.leaf(Op::LnD);
                return Ok(g.exp(l));
            }
            ("h", true) => return Ok(g.leaf(Op::H)),
            ("h", false) => {
                return Err(self.error(
                    span,
                    "h is per domain: write h[i] inside sum_i(...) or prod_i(...)",
                ))
            }
            ("N" | "D", true) => {
                return Err(self.error(span, format!("{name} does not vary over domains")))
            }
            _ => {}
        }
        let Some(d) = self.decls.iter().position(|d| d.name == name) else {
            let known: Vec<String> = self
                .decls
                .iter()
                .map(|d| {
                    if d.per_domain {
                        format!("{}[i]", d.name)
                    } else {
                        d.name.clone()
                    }
                })
                .collect();
            return Err(self.error(
                span,
                format!(
                    "unknown name '{name}': the parameters are {}, the inputs N, D and h[i]",
                    if known.is_empty() {
                        "none".to_string()
                    } else {
                        known.join(", ")
                    }
                ),
            ));
        };
        self.used[d] = true;
        match (self.decls[d].per_domain, indexed) {
            (true, true) => Ok(self.graph.leaf(Op::Family(d as u32))),
            (false, false) => Ok(self.graph.leaf(Op::Param(d as u32))),
            (true, false) => Err(self.error(
                span,
                format!("{name} is per domain: write {name}[i] inside sum_i(...) or prod_i(...)"),
            )),
            (false, true) => Err(self.error(
                span,
                format!("{name} is one number, not per domain: write {name}, not {name}[i]"),
            )),
        }
    }

    fn call(&mut self, name: &str, span: &Span, args: &[Ast]) -> Result<Id, FormulaError> {
        let Some(&(_, arity)) = FUNCTIONS.iter().find(|(f, _)| *f == name) else {
            let names: Vec<&str> = FUNCTIONS.iter().map(|f| f.0).collect();
            return Err(self.error(
                span,
                format!(
                    "unknown function '{name}'; the functions are {}",
                    names.join(", ")
                ),
            ));
        };
        if args.len() != arity {
            return Err(self.error(
                span,
                format!(
                    "{name} takes {arity} argument{}, not {}",
                    if arity == 1 { "" } else { "s" },
                    args.len()
                ),
            ));
        }
        if name == "sum_i" || name == "prod_i" {
            if self.in_reduction {
                return Err(self.error(span, format!("{name} inside another domain reduction")));
            }
            self.in_reduction = true;
            let body = self.build(&args[0]);
            self.in_reduction = false;
            let body = body?;
            return Ok(if name == "sum_i" {
                self.graph.sum_i(body)
            } else if self.graph.shape(body).domain {
                self.graph.prod_i(body)
            } else {
                // Π_i x = x^K for an x that does not vary over domains.
                let k = self.graph.leaf(Op::K);
                self.graph.pow(body, k)
            });
        }
        let a = self.build(&args[0])?;
        let g = &mut self.graph;
        Ok(match name {
            "exp" => g.exp(a),
            "log" => g.ln(a),
            "log1p" => g.unary(a, f64::ln_1p, Op::Log1p),
            "sqrt" => g.unary(a, f64::sqrt, Op::Sqrt),
            _ => {
                let b = self.build(&args[1])?;
                let op = if name == "min" { Op::Min } else { Op::Max };
                self.graph.minmax(a, b, op)
            }
        })
    }
}

thread_local! {
    /// Per-thread registers and parameter offsets of formula evaluations.
    static SCRATCH: RefCell<(Scratch, Vec<usize>)> = RefCell::new((Scratch::default(), Vec::new()));
}

/// Rows per block of a formula evaluation.
const BLOCK: usize = 64;

impl Compiled {
    /// Where each declaration's values start in the parameter vector for `k` domains.
    fn offsets_into(&self, k: usize, out: &mut Vec<usize>) {
        out.clear();
        let mut at = 0;
        for d in &self.decls {
            out.push(at);
            at += if d.per_domain { k } else { 1 };
        }
    }

    /// The parameter count for `k` domains.
    pub fn dim(&self, k: usize) -> usize {
        self.decls
            .iter()
            .map(|d| if d.per_domain { k } else { 1 })
            .sum()
    }

    /// The WGSL function `fn formula_law(ln_n: f32, ln_d: f32) -> f32` evaluating this formula
    /// and its gradient into the kernel's `dl`, as the hand-written kernel functions do.
    pub fn wgsl(&self) -> String {
        wgsl::function(&self.graph, self.value_node, &self.grad_nodes, &self.decls)
    }

    /// Runs `prog` over the points `x[rows]`, calling `take` with the environment and scratch.
    fn run_block(
        &self,
        prog: &Program,
        p: &[f64],
        x: &Points,
        rows: std::ops::Range<usize>,
        take: &mut dyn FnMut(&Env, &Scratch),
    ) {
        SCRATCH.with_borrow_mut(|(scratch, offsets)| {
            self.offsets_into(x.k, offsets);
            let s = rows.start;
            let env = Env {
                p,
                offsets,
                k: x.k,
                m: rows.len(),
                ln_n: &x.ln_n[rows.clone()],
                ln_d: &x.ln_d[rows.clone()],
                h: x.h_cols.get(s..).unwrap_or(&[]),
                ln_h: x.ln_h_cols.get(s..).unwrap_or(&[]),
                stride: x.stride,
            };
            prog.run(&env, scratch);
            take(&env, scratch);
        })
    }

    /// Runs `prog` at one point.
    fn run_point(
        &self,
        prog: &Program,
        p: &[f64],
        x: &Point,
        take: &mut dyn FnMut(&Env, &Scratch),
    ) {
        let k = x.h.len();
        let mut ln_h = [0.0; super::MAX_DOMAINS];
        for (i, l) in ln_h[..k].iter_mut().enumerate() {
            *l = x
                .ln_h
                .get(i)
                .copied()
                .unwrap_or_else(|| super::ln_weight(x.h[i]));
        }
        SCRATCH.with_borrow_mut(|(scratch, offsets)| {
            self.offsets_into(k, offsets);
            let env = Env {
                p,
                offsets,
                k,
                m: 1,
                ln_n: std::slice::from_ref(&x.ln_n),
                ln_d: std::slice::from_ref(&x.ln_d),
                h: x.h,
                ln_h: &ln_h[..k],
                stride: 1,
            };
            prog.run(&env, scratch);
            take(&env, scratch);
        })
    }
}

impl Family for Compiled {
    fn params(&self, domains: &[String]) -> Vec<ParamSpec> {
        let mut offsets = Vec::new();
        self.offsets_into(domains.len(), &mut offsets);
        let mut out = Vec::new();
        for (i, d) in self.decls.iter().enumerate() {
            let spec = |name: String| {
                let s = ParamSpec::new(name, d.bounds[0], d.bounds[1], d.amplitude);
                match self.powers[i] {
                    Some((e, axis)) => s.times_power(offsets[e], axis),
                    None => s,
                }
            };
            if d.per_domain {
                out.extend(domains.iter().map(|dom| spec(format!("{}_{dom}", d.name))));
            } else {
                out.push(spec(d.name.clone()));
            }
        }
        out
    }

    fn sample_start(&self, k: usize, rng: &mut Rng) -> Vec<f64> {
        let mut out = Vec::with_capacity(self.dim(k));
        for d in &self.decls {
            for _ in 0..if d.per_domain { k } else { 1 } {
                out.push(d.start.draw(rng));
            }
        }
        out
    }

    fn grid(&self, n_unit: f64, d_unit: f64) -> Option<Vec<Vec<f64>>> {
        self.grid_points(n_unit, d_unit)
    }

    fn eval(&self, p: &[f64], x: &Point, grad: Option<&mut [f64]>) -> f64 {
        let mut v = 0.0;
        match grad {
            Some(g) => self.run_point(&self.gradient, p, x, &mut |env, s| {
                v = self.gradient.output(0, env, s, 0, 0);
                let mut at = 0;
                for (o, d) in self.decls.iter().enumerate() {
                    for i in 0..if d.per_domain { env.k } else { 1 } {
                        g[at] = self.gradient.output(1 + o, env, s, i, 0);
                        at += 1;
                    }
                }
            }),
            None => self.run_point(&self.value, p, x, &mut |env, s| {
                v = self.value.output(0, env, s, 0, 0);
            }),
        }
        v
    }

    fn eval_rows(&self, p: &[f64], x: &Points, pred: &mut [f64], mut grad: Option<&mut [f64]>) {
        let n = x.len();
        for start in (0..n).step_by(BLOCK) {
            let rows = start..(start + BLOCK).min(n);
            match grad.as_deref_mut() {
                Some(g) => self.run_block(&self.gradient, p, x, rows.clone(), &mut |env, s| {
                    let prog = &self.gradient;
                    prog.output_rows(0, env, s, 0, &mut pred[rows.clone()]);
                    let mut at = 0;
                    for (o, d) in self.decls.iter().enumerate() {
                        for i in 0..if d.per_domain { env.k } else { 1 } {
                            let col = &mut g[at * n..(at + 1) * n];
                            prog.output_rows(1 + o, env, s, i, &mut col[rows.clone()]);
                            at += 1;
                        }
                    }
                }),
                None => self.run_block(&self.value, p, x, rows.clone(), &mut |env, s| {
                    self.value
                        .output_rows(0, env, s, 0, &mut pred[rows.clone()]);
                }),
            }
        }
    }

    fn not_separable(&self) -> Option<String> {
        self.sums
            .as_ref()
            .err()
            .filter(|_| self.uses_mixture)
            .cloned()
    }

    /// Where the formula is a function of sums of per-domain terms ([`Compiled::separable_sums`]).
    fn separable(
        &self,
        p: &[f64],
        k: usize,
        ln_n: f64,
        ln_d: f64,
    ) -> Option<Box<dyn super::separable::Separable>> {
        let sums = self.sums.as_ref().ok()?;
        let mut offsets = Vec::new();
        self.offsets_into(k, &mut offsets);
        Some(Box::new(separable::FormulaSums::new(
            &self.graph,
            sums,
            self.value_node,
            p,
            &offsets,
            k,
            ln_n,
            ln_d,
        )))
    }

    fn grad_h(&self, p: &[f64], x: &Point, dh: &mut [f64]) {
        self.run_point(&self.mixture, p, x, &mut |env, s| {
            for (i, d) in dh.iter_mut().enumerate().take(env.k) {
                *d = self.mixture.output(1, env, s, i, 0);
            }
        });
    }
}

#[cfg(test)]
mod tests;
