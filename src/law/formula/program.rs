//! A formula's graph compiled to a register program, evaluated over blocks of rows in f64.
//!
//! # Why a register program over blocks
//!
//! A fit evaluates the same formula at the same rows a few hundred thousand times. Walking a
//! tree per row would pay a dispatch per node per row; here each instruction runs as one loop
//! over a block of up to 64 rows (over `k × rows` for per-domain values), so the dispatch is paid
//! once per block and the loops vectorise like the built-in laws' hand-written ones (the same
//! [`vmath`] exp and ln, compiled for AVX2/FMA where the CPU has them). Values that do not vary
//! over rows (anything built from parameters alone) are computed once per block, not per row.
//! Registers are reused once their value is dead, so a program needs few of them.

use super::graph::{Graph, Id, Op, Shape, H_MIN};
use crate::vmath;

/// Where an operand comes from.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Src {
    /// A register.
    Reg(u32),
    /// A constant, by index into [`Program::consts`].
    Const(u32),
    /// A scalar parameter (declaration index).
    Param(u32),
    /// A per-domain family (declaration index).
    Family(u32),
    /// The number of domains.
    K,
    /// The row's `ln N`.
    LnN,
    /// The row's `ln D`.
    LnD,
    /// The row's `h_i`.
    H,
    /// The row's guarded `ln h_i`.
    LnH,
}

/// An instruction's operation (the graph's ops less the leaves).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Code {
    Add,
    Sub,
    Mul,
    Div,
    Neg,
    Exp,
    Ln,
    Log1p,
    Sqrt,
    Min,
    Max,
    Le,
    LnGuard,
    Pow,
    Powi(i32),
    SumI,
    ProdI,
}

/// One instruction: `out = code(args)`.
#[derive(Clone, Debug)]
pub struct Instr {
    pub code: Code,
    pub out: u32,
    pub args: Vec<Src>,
}

/// A compiled program.
#[derive(Clone, Debug)]
pub struct Program {
    pub instrs: Vec<Instr>,
    /// Each register's shape.
    pub regs: Vec<Shape>,
    /// The constants instructions read.
    pub consts: Vec<f64>,
    /// Where each output is found after a run, in the order `compile` was given them.
    pub outputs: Vec<Src>,
}

impl Program {
    /// The program computing `outputs` (nodes of `graph`), with only the nodes they need.
    pub fn compile(graph: &Graph, outputs: &[Id]) -> Program {
        let n = graph.len();
        let mut live = vec![false; n];
        let mut stack: Vec<Id> = outputs.to_vec();
        while let Some(id) = stack.pop() {
            if !std::mem::replace(&mut live[id as usize], true) {
                stack.extend(graph.op(id).children());
            }
        }
        // The last instruction that reads each node (outputs are read at the end).
        let mut last = vec![0usize; n];
        for (id, _) in live.iter().enumerate().filter(|(_, l)| **l) {
            for c in graph.op(id as Id).children() {
                last[c as usize] = last[c as usize].max(id);
            }
        }
        for &id in outputs {
            last[id as usize] = usize::MAX;
        }
        let mut src: Vec<Option<Src>> = vec![None; n];
        let mut regs: Vec<Shape> = Vec::new();
        let mut free: Vec<u32> = Vec::new();
        let mut instrs = Vec::new();
        let mut consts = Vec::new();
        for id in 0..n {
            if !live[id] {
                continue;
            }
            let op = graph.op(id as Id);
            let leaf = match op {
                Op::Const(v) => {
                    consts.push(v);
                    Some(Src::Const(consts.len() as u32 - 1))
                }
                Op::Param(d) => Some(Src::Param(d)),
                Op::Family(d) => Some(Src::Family(d)),
                Op::K => Some(Src::K),
                Op::LnN => Some(Src::LnN),
                Op::LnD => Some(Src::LnD),
                Op::H => Some(Src::H),
                Op::LnH => Some(Src::LnH),
                _ => None,
            };
            if let Some(s) = leaf {
                src[id] = Some(s);
                continue;
            }
            let shape = graph.shape(id as Id);
            let out = match free.iter().position(|&r| regs[r as usize] == shape) {
                Some(i) => free.swap_remove(i),
                None => {
                    regs.push(shape);
                    regs.len() as u32 - 1
                }
            };
            let children = op.children();
            let args: Vec<Src> = children
                .iter()
                .map(|&c| src[c as usize].expect("children come first"))
                .collect();
            let code = match op {
                Op::Add(..) => Code::Add,
                Op::Sub(..) => Code::Sub,
                Op::Mul(..) => Code::Mul,
                Op::Div(..) => Code::Div,
                Op::Neg(_) => Code::Neg,
                Op::Exp(_) => Code::Exp,
                Op::Ln(_) => Code::Ln,
                Op::Log1p(_) => Code::Log1p,
                Op::Sqrt(_) => Code::Sqrt,
                Op::Min(..) => Code::Min,
                Op::Max(..) => Code::Max,
                Op::Le(..) => Code::Le,
                Op::LnGuard(_) => Code::LnGuard,
                Op::Pow(..) => Code::Pow,
                Op::Powi(_, m) => Code::Powi(m),
                Op::SumI(_) => Code::SumI,
                Op::ProdI(_) => Code::ProdI,
                _ => unreachable!("leaves are handled above"),
            };
            instrs.push(Instr { code, out, args });
            src[id] = Some(Src::Reg(out));
            let mut seen = Vec::new();
            for c in children {
                if last[c as usize] == id && !seen.contains(&c) {
                    seen.push(c);
                    if let Some(Src::Reg(r)) = src[c as usize] {
                        free.push(r);
                    }
                }
            }
        }
        let outputs = outputs
            .iter()
            .map(|&id| src[id as usize].expect("live"))
            .collect();
        Program {
            instrs,
            regs,
            consts,
            outputs,
        }
    }
}

/// The inputs of one block evaluation.
pub struct Env<'a> {
    /// The parameter vector.
    pub p: &'a [f64],
    /// Where each declaration's values start in `p`.
    pub offsets: &'a [usize],
    /// Domains.
    pub k: usize,
    /// Rows in the block.
    pub m: usize,
    /// `ln N` of the block's rows.
    pub ln_n: &'a [f64],
    /// `ln D` of the block's rows.
    pub ln_d: &'a [f64],
    /// The block's weights domain-major: weight `i` of row `j` at `h[i·stride + j]`.
    pub h: &'a [f64],
    /// `ln h` laid out as `h`.
    pub ln_h: &'a [f64],
    /// Distance between domains in `h` and `ln_h`.
    pub stride: usize,
}

/// An operand seen by a loop: element `(i, j)` at `data[i·dstride + j]` (`j` only if `row`).
#[derive(Clone, Copy)]
struct View<'a> {
    data: &'a [f64],
    dstride: usize,
    row: bool,
}

impl<'a> View<'a> {
    #[inline(always)]
    fn domain(&self, i: usize) -> &'a [f64] {
        &self.data[i * self.dstride..]
    }
}

/// Register storage: one buffer per register, sized for the block.
#[derive(Default)]
pub struct Scratch {
    regs: Vec<Vec<f64>>,
    k_value: [f64; 1],
}

impl Program {
    /// Runs the program over one block, leaving every output in `scratch`; read them with
    /// [`Program::output`].
    pub fn run(&self, env: &Env, scratch: &mut Scratch) {
        let prog = self;
        vmath::wide!(Program::run_inline; prog: &Program, env: &Env, scratch: &mut Scratch => ())
    }

    #[inline(always)]
    fn run_inline(&self, env: &Env, scratch: &mut Scratch) {
        let (k, m) = (env.k, env.m);
        scratch.k_value = [k as f64];
        if scratch.regs.len() < self.regs.len() {
            scratch.regs.resize_with(self.regs.len(), Vec::new);
        }
        for ins in &self.instrs {
            let shape = self.regs[ins.out as usize];
            let size = (if shape.domain { k } else { 1 }) * (if shape.row { m } else { 1 });
            let mut out = std::mem::take(&mut scratch.regs[ins.out as usize]);
            out.resize(size, 0.0);
            {
                let view = |s: Src| view_of(self, env, scratch, s);
                let a = view(ins.args[0]);
                let o = &mut out[..];
                match ins.code {
                    Code::Add => map2(o, shape, k, m, a, view(ins.args[1]), |x, y| x + y),
                    Code::Sub => map2(o, shape, k, m, a, view(ins.args[1]), |x, y| x - y),
                    Code::Mul => map2(o, shape, k, m, a, view(ins.args[1]), |x, y| x * y),
                    Code::Div => map2(o, shape, k, m, a, view(ins.args[1]), |x, y| x / y),
                    Code::Min => map2(o, shape, k, m, a, view(ins.args[1]), |x, y| {
                        if y < x {
                            y
                        } else {
                            x
                        }
                    }),
                    Code::Max => map2(o, shape, k, m, a, view(ins.args[1]), |x, y| {
                        if y > x {
                            y
                        } else {
                            x
                        }
                    }),
                    Code::Le => map2(o, shape, k, m, a, view(ins.args[1]), |x, y| {
                        if x <= y {
                            1.0
                        } else {
                            0.0
                        }
                    }),
                    Code::Neg => map1(o, shape, k, m, a, |x| -x),
                    Code::Exp => map1(o, shape, k, m, a, vmath::exp),
                    Code::Ln => map1(o, shape, k, m, a, vmath::ln),
                    Code::Log1p => map1(o, shape, k, m, a, f64::ln_1p),
                    Code::Sqrt => map1(o, shape, k, m, a, f64::sqrt),
                    Code::LnGuard => map1(o, shape, k, m, a, |x| {
                        vmath::ln(if x > H_MIN { x } else { H_MIN })
                    }),
                    Code::Powi(n) => map1(o, shape, k, m, a, |x| powi(x, n)),
                    Code::Pow => {
                        let (y, lx) = (view(ins.args[1]), view(ins.args[2]));
                        map3(o, shape, k, m, a, y, lx, |x, y, lx| {
                            let v = vmath::exp(y * lx);
                            if x <= 0.0 && y > 0.0 {
                                0.0
                            } else {
                                v
                            }
                        })
                    }
                    Code::SumI => reduce(o, k, m, a, 0.0, |s, x| s + x),
                    Code::ProdI => reduce(o, k, m, a, 1.0, |s, x| s * x),
                }
            }
            scratch.regs[ins.out as usize] = out;
        }
    }

    /// Output `index`'s value at domain `i`, row `j` after [`Program::run`].
    #[inline]
    pub fn output(&self, index: usize, env: &Env, scratch: &Scratch, i: usize, j: usize) -> f64 {
        let v = view_of(self, env, scratch, self.outputs[index]);
        let d = v.domain(if v.dstride == 0 { 0 } else { i });
        if v.row {
            d[j]
        } else {
            d[0]
        }
    }

    /// Output `index` over the block's rows at domain `i`, into `out` (`m` values).
    #[inline]
    pub fn output_rows(
        &self,
        index: usize,
        env: &Env,
        scratch: &Scratch,
        i: usize,
        out: &mut [f64],
    ) {
        let v = view_of(self, env, scratch, self.outputs[index]);
        let d = v.domain(if v.dstride == 0 { 0 } else { i });
        if v.row {
            out.copy_from_slice(&d[..out.len()]);
        } else {
            out.fill(d[0]);
        }
    }
}

fn view_of<'a>(prog: &'a Program, env: &Env<'a>, scratch: &'a Scratch, s: Src) -> View<'a> {
    let scalar = |data: &'a [f64]| View {
        data,
        dstride: 0,
        row: false,
    };
    match s {
        Src::Reg(r) => {
            let shape = prog.regs[r as usize];
            View {
                data: &scratch.regs[r as usize],
                dstride: if shape.domain {
                    if shape.row {
                        env.m
                    } else {
                        1
                    }
                } else {
                    0
                },
                row: shape.row,
            }
        }
        Src::Const(c) => scalar(&prog.consts[c as usize..c as usize + 1]),
        Src::Param(d) => {
            let o = env.offsets[d as usize];
            scalar(&env.p[o..o + 1])
        }
        Src::Family(d) => {
            let o = env.offsets[d as usize];
            View {
                data: &env.p[o..o + env.k],
                dstride: 1,
                row: false,
            }
        }
        Src::K => scalar(&scratch.k_value),
        Src::LnN => View {
            data: env.ln_n,
            dstride: 0,
            row: true,
        },
        Src::LnD => View {
            data: env.ln_d,
            dstride: 0,
            row: true,
        },
        Src::H => View {
            data: env.h,
            dstride: env.stride,
            row: true,
        },
        Src::LnH => View {
            data: env.ln_h,
            dstride: env.stride,
            row: true,
        },
    }
}

/// `x^n` by multiplication (`n` a small integer, negative for reciprocals).
#[inline(always)]
pub(super) fn powi(x: f64, n: i32) -> f64 {
    let mut v = 1.0;
    for _ in 0..n.unsigned_abs() {
        v *= x;
    }
    if n < 0 {
        1.0 / v
    } else {
        v
    }
}

#[inline(always)]
fn map1(out: &mut [f64], shape: Shape, k: usize, m: usize, a: View, f: impl Fn(f64) -> f64) {
    let (nd, w) = extents(shape, k, m);
    for i in 0..nd {
        let o = &mut out[i * w..(i + 1) * w];
        let ai = a.domain(if a.dstride == 0 { 0 } else { i });
        if a.row {
            for (oj, x) in o.iter_mut().zip(&ai[..w]) {
                *oj = f(*x);
            }
        } else {
            o.fill(f(ai[0]));
        }
    }
}

#[inline(always)]
fn map2(
    out: &mut [f64],
    shape: Shape,
    k: usize,
    m: usize,
    a: View,
    b: View,
    f: impl Fn(f64, f64) -> f64,
) {
    let (nd, w) = extents(shape, k, m);
    for i in 0..nd {
        let o = &mut out[i * w..(i + 1) * w];
        let ai = a.domain(if a.dstride == 0 { 0 } else { i });
        let bi = b.domain(if b.dstride == 0 { 0 } else { i });
        match (a.row, b.row) {
            (true, true) => {
                for ((oj, x), y) in o.iter_mut().zip(&ai[..w]).zip(&bi[..w]) {
                    *oj = f(*x, *y);
                }
            }
            (true, false) => {
                let y = bi[0];
                for (oj, x) in o.iter_mut().zip(&ai[..w]) {
                    *oj = f(*x, y);
                }
            }
            (false, true) => {
                let x = ai[0];
                for (oj, y) in o.iter_mut().zip(&bi[..w]) {
                    *oj = f(x, *y);
                }
            }
            (false, false) => o.fill(f(ai[0], bi[0])),
        }
    }
}

#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn map3(
    out: &mut [f64],
    shape: Shape,
    k: usize,
    m: usize,
    a: View,
    b: View,
    c: View,
    f: impl Fn(f64, f64, f64) -> f64,
) {
    let (nd, w) = extents(shape, k, m);
    for i in 0..nd {
        let o = &mut out[i * w..(i + 1) * w];
        let at = |v: &View, j: usize| {
            let d = v.domain(if v.dstride == 0 { 0 } else { i });
            if v.row {
                d[j]
            } else {
                d[0]
            }
        };
        if a.row && c.row && !b.row {
            // x^y over rows with a uniform exponent: the common case (h_i^γ_i, N^−α).
            let (ai, ci, y) = (
                &a.domain(if a.dstride == 0 { 0 } else { i })[..w],
                &c.domain(if c.dstride == 0 { 0 } else { i })[..w],
                at(&b, 0),
            );
            for ((oj, x), lx) in o.iter_mut().zip(ai).zip(ci) {
                *oj = f(*x, y, *lx);
            }
        } else {
            for (j, oj) in o.iter_mut().enumerate() {
                *oj = f(at(&a, j), at(&b, j), at(&c, j));
            }
        }
    }
}

/// `out[j] = fold over i of a(i, j)`, in domain order.
#[inline(always)]
fn reduce(out: &mut [f64], k: usize, m: usize, a: View, init: f64, f: impl Fn(f64, f64) -> f64) {
    let w = if a.row { m } else { 1 };
    let out = &mut out[..w];
    out.fill(init);
    for i in 0..k {
        let ai = &a.domain(if a.dstride == 0 { 0 } else { i })[..w];
        for (o, x) in out.iter_mut().zip(ai) {
            *o = f(*o, *x);
        }
    }
}

/// Domains and row width of a shape.
#[inline(always)]
fn extents(shape: Shape, k: usize, m: usize) -> (usize, usize) {
    (
        if shape.domain { k } else { 1 },
        if shape.row { m } else { 1 },
    )
}
