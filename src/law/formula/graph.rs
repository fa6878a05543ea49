//! The typed expression graph a formula compiles to, and its derivative.
//!
//! Nodes are hash-consed: building a node that already exists returns the existing one, so a
//! subexpression written twice (or produced twice by differentiation) is computed once. Node ids
//! are topological (children before parents), which is the order the evaluators run them in.
//! Each node has a *shape*: whether it varies over the domains (`C[i]`, `h[i]`, anything built
//! from them inside `sum_i`/`prod_i`) and whether it varies over the rows (`N`, `D`, `h[i]`); the
//! evaluators keep a uniform node once rather than once per row.
//!
//! Differentiation is reverse mode done symbolically ([`Graph::adjoints`]): walking the nodes
//! from the output down, each node's adjoint (an expression, itself a node) is pushed to its
//! children by the local derivative rules, so `∂L/∂p` for every parameter and `∂L/∂h_i` come out
//! as more nodes of the same graph, sharing whatever they share with the value.

use std::collections::HashMap;

/// A node's index in its graph.
pub type Id = u32;

/// Weights below this count as this in logarithms and in non-integer powers (the built-in
/// laws' guard, [`crate::law::ln_weight`]).
pub const H_MIN: f64 = 1e-12;

/// What a node computes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Op {
    /// A number.
    Const(f64),
    /// A scalar parameter, by declaration index.
    Param(u32),
    /// A per-domain parameter family, by declaration index: its value at domain i.
    Family(u32),
    /// The number of domains.
    K,
    /// `ln N` of the row.
    LnN,
    /// `ln D` of the row.
    LnD,
    /// `h_i` of the row.
    H,
    /// `ln max(h_i, H_MIN)` of the row.
    LnH,
    Add(Id, Id),
    Sub(Id, Id),
    Mul(Id, Id),
    Div(Id, Id),
    Neg(Id),
    Exp(Id),
    /// Natural logarithm.
    Ln(Id),
    Log1p(Id),
    Sqrt(Id),
    Min(Id, Id),
    Max(Id, Id),
    /// `1` where `a ≤ b`, else `0` (derivatives of `min`/`max`).
    Le(Id, Id),
    /// `ln max(x, H_MIN)`.
    LnGuard(Id),
    /// `x^y` from `ln x` already formed: `(x, y, ln x)`; 0 where `x ≤ 0` and `y > 0`.
    Pow(Id, Id, Id),
    /// `x^n` for a small integer `n`, by multiplication.
    Powi(Id, i32),
    /// `Σ_i x_i`.
    SumI(Id),
    /// `Π_i x_i`.
    ProdI(Id),
}

/// Whether a node varies over domains and over rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Shape {
    /// One value per domain.
    pub domain: bool,
    /// One value per row.
    pub row: bool,
}

impl Shape {
    fn join(self, o: Shape) -> Shape {
        Shape {
            domain: self.domain || o.domain,
            row: self.row || o.row,
        }
    }
}

/// Hash key of an op (constants by their bits).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Key {
    Const(u64),
    Other([u32; 4]),
}

fn key(op: &Op) -> Key {
    let t = |tag: u32, a: u32, b: u32, c: u32| Key::Other([tag, a, b, c]);
    match *op {
        Op::Const(v) => Key::Const(v.to_bits()),
        Op::Param(i) => t(1, i, 0, 0),
        Op::Family(i) => t(2, i, 0, 0),
        Op::K => t(3, 0, 0, 0),
        Op::LnN => t(4, 0, 0, 0),
        Op::LnD => t(5, 0, 0, 0),
        Op::H => t(6, 0, 0, 0),
        Op::LnH => t(7, 0, 0, 0),
        Op::Add(a, b) => t(8, a, b, 0),
        Op::Sub(a, b) => t(9, a, b, 0),
        Op::Mul(a, b) => t(10, a, b, 0),
        Op::Div(a, b) => t(11, a, b, 0),
        Op::Neg(a) => t(12, a, 0, 0),
        Op::Exp(a) => t(13, a, 0, 0),
        Op::Ln(a) => t(14, a, 0, 0),
        Op::Log1p(a) => t(15, a, 0, 0),
        Op::Sqrt(a) => t(16, a, 0, 0),
        Op::Min(a, b) => t(17, a, b, 0),
        Op::Max(a, b) => t(18, a, b, 0),
        Op::Le(a, b) => t(19, a, b, 0),
        Op::LnGuard(a) => t(20, a, 0, 0),
        Op::Pow(a, b, c) => t(21, a, b, c),
        Op::Powi(a, n) => t(22, a, n as u32, 0),
        Op::SumI(a) => t(23, a, 0, 0),
        Op::ProdI(a) => t(24, a, 0, 0),
    }
}

impl Op {
    /// The node's operands.
    pub fn children(&self) -> Vec<Id> {
        match *self {
            Op::Const(_) | Op::Param(_) | Op::Family(_) | Op::K => vec![],
            Op::LnN | Op::LnD | Op::H | Op::LnH => vec![],
            Op::Neg(a) | Op::Exp(a) | Op::Ln(a) | Op::Log1p(a) | Op::Sqrt(a) => vec![a],
            Op::LnGuard(a) | Op::Powi(a, _) | Op::SumI(a) | Op::ProdI(a) => vec![a],
            Op::Add(a, b) | Op::Sub(a, b) | Op::Mul(a, b) | Op::Div(a, b) => vec![a, b],
            Op::Min(a, b) | Op::Max(a, b) | Op::Le(a, b) => vec![a, b],
            Op::Pow(a, b, c) => vec![a, b, c],
        }
    }
}

/// A hash-consed expression graph.
#[derive(Clone, Debug, Default)]
pub struct Graph {
    ops: Vec<Op>,
    shapes: Vec<Shape>,
    index: HashMap<Key, Id>,
}

impl Graph {
    /// The op of node `id`.
    pub fn op(&self, id: Id) -> Op {
        self.ops[id as usize]
    }
    /// The shape of node `id`.
    pub fn shape(&self, id: Id) -> Shape {
        self.shapes[id as usize]
    }
    /// How many nodes.
    pub fn len(&self) -> usize {
        self.ops.len()
    }
    /// The constant value of `id`, if it is one.
    pub fn constant(&self, id: Id) -> Option<f64> {
        match self.op(id) {
            Op::Const(v) => Some(v),
            _ => None,
        }
    }

    /// The node computing `op`, made if new.
    fn node(&mut self, op: Op) -> Id {
        let k = key(&op);
        if let Some(&id) = self.index.get(&k) {
            return id;
        }
        let shape = match op {
            Op::Const(_) | Op::Param(_) | Op::K => Shape {
                domain: false,
                row: false,
            },
            Op::Family(_) => Shape {
                domain: true,
                row: false,
            },
            Op::LnN | Op::LnD => Shape {
                domain: false,
                row: true,
            },
            Op::H | Op::LnH => Shape {
                domain: true,
                row: true,
            },
            Op::SumI(a) | Op::ProdI(a) => Shape {
                domain: false,
                row: self.shape(a).row,
            },
            _ => op.children().iter().map(|&c| self.shape(c)).fold(
                Shape {
                    domain: false,
                    row: false,
                },
                Shape::join,
            ),
        };
        let id = self.ops.len() as Id;
        self.ops.push(op);
        self.shapes.push(shape);
        self.index.insert(k, id);
        id
    }

    /// A constant.
    pub fn num(&mut self, v: f64) -> Id {
        self.node(Op::Const(v))
    }
    /// A leaf (parameter, input).
    pub fn leaf(&mut self, op: Op) -> Id {
        debug_assert!(op.children().is_empty());
        self.node(op)
    }

    /// `a + b`, simplified.
    pub fn add(&mut self, a: Id, b: Id) -> Id {
        match (self.constant(a), self.constant(b)) {
            (Some(x), Some(y)) => self.num(x + y),
            (Some(0.0), _) => b,
            (_, Some(0.0)) => a,
            // Addition commutes exactly in floating point: one order for both spellings.
            _ => self.node(Op::Add(a.min(b), a.max(b))),
        }
    }
    /// `a − b`, simplified.
    pub fn sub(&mut self, a: Id, b: Id) -> Id {
        match (self.constant(a), self.constant(b)) {
            (Some(x), Some(y)) => self.num(x - y),
            (_, Some(0.0)) => a,
            (Some(0.0), _) => self.neg(b),
            _ => self.node(Op::Sub(a, b)),
        }
    }
    /// `a · b`, simplified.
    pub fn mul(&mut self, a: Id, b: Id) -> Id {
        match (self.constant(a), self.constant(b)) {
            (Some(x), Some(y)) => self.num(x * y),
            (Some(1.0), _) => b,
            (_, Some(1.0)) => a,
            (Some(-1.0), _) => self.neg(b),
            (_, Some(-1.0)) => self.neg(a),
            (Some(0.0), _) | (_, Some(0.0)) => self.num(0.0),
            _ => self.node(Op::Mul(a.min(b), a.max(b))),
        }
    }
    /// `a / b`, simplified; `a / x^y` becomes `a · x^−y` (a multiplication rather than a
    /// division, as the built-in laws write their scale terms).
    pub fn div(&mut self, a: Id, b: Id) -> Id {
        match (self.constant(a), self.constant(b), self.op(b)) {
            (Some(x), Some(y), _) => self.num(x / y),
            (_, Some(1.0), _) => a,
            (Some(0.0), _, _) => self.num(0.0),
            (_, _, Op::Pow(x, y, lx)) => {
                let ny = self.neg(y);
                let p = self.node(Op::Pow(x, ny, lx));
                self.mul(a, p)
            }
            _ => self.node(Op::Div(a, b)),
        }
    }
    /// `−a`, simplified.
    pub fn neg(&mut self, a: Id) -> Id {
        match self.op(a) {
            Op::Const(v) => self.num(-v),
            Op::Neg(x) => x,
            _ => self.node(Op::Neg(a)),
        }
    }
    /// `e^a`.
    pub fn exp(&mut self, a: Id) -> Id {
        match self.constant(a) {
            Some(v) => self.num(v.exp()),
            None => self.node(Op::Exp(a)),
        }
    }
    /// `ln a`; `ln e^z = z` and `ln h_i` is the row's guarded `ln h_i`.
    pub fn ln(&mut self, a: Id) -> Id {
        match (self.constant(a), self.op(a)) {
            (Some(v), _) => self.num(v.ln()),
            (_, Op::Exp(z)) => z,
            (_, Op::H) => self.leaf(Op::LnH),
            _ => self.node(Op::Ln(a)),
        }
    }
    /// A unary function of a non-constant, or its folded value.
    pub fn unary(&mut self, a: Id, f: fn(f64) -> f64, op: fn(Id) -> Op) -> Id {
        match self.constant(a) {
            Some(v) => self.num(f(v)),
            None => self.node(op(a)),
        }
    }
    /// `min(a, b)` or `max(a, b)` (`op` is [`Op::Min`] or [`Op::Max`]).
    pub fn minmax(&mut self, a: Id, b: Id, op: fn(Id, Id) -> Op) -> Id {
        match (self.constant(a), self.constant(b), op(0, 0)) {
            (Some(x), Some(y), Op::Min(..)) => self.num(x.min(y)),
            (Some(x), Some(y), _) => self.num(x.max(y)),
            _ => self.node(op(a, b)),
        }
    }
    /// `a ≤ b` as 1 or 0.
    fn le(&mut self, a: Id, b: Id) -> Id {
        self.node(Op::Le(a, b))
    }
    /// `x^y`: by multiplication for a small integer constant `y`, else `e^(y ln x)` with the
    /// logarithm guarded (exact for `x = e^z`: `N^α` uses the row's `ln N`).
    pub fn pow(&mut self, x: Id, y: Id) -> Id {
        if let (Some(b), Some(e)) = (self.constant(x), self.constant(y)) {
            return self.num(b.powf(e));
        }
        if let Some(e) = self.constant(y) {
            if e == e.trunc() && e.abs() <= 4.0 {
                return match e as i32 {
                    0 => self.num(1.0),
                    1 => x,
                    n => self.node(Op::Powi(x, n)),
                };
            }
        }
        let lx = match self.op(x) {
            Op::Const(b) => self.num(b.max(H_MIN).ln()),
            Op::Exp(z) => z,
            Op::H => self.leaf(Op::LnH),
            _ => self.node(Op::LnGuard(x)),
        };
        self.node(Op::Pow(x, y, lx))
    }
    /// `Σ_i a` (`k · a` for an `a` that does not vary over domains).
    pub fn sum_i(&mut self, a: Id) -> Id {
        if self.shape(a).domain {
            self.node(Op::SumI(a))
        } else {
            let k = self.leaf(Op::K);
            self.mul(k, a)
        }
    }
    /// `Π_i a`.
    pub fn prod_i(&mut self, a: Id) -> Id {
        self.node(Op::ProdI(a))
    }

    /// The adjoints of every node for output `out`: `adj[n]` is `∂out/∂n` as a node (`None` where
    /// `out` does not depend on `n`). An adjoint of a per-domain node may itself be uniform over
    /// domains (the same for every `i`); adjoints reaching a node that does not vary over
    /// domains from one that does are summed over the domains.
    pub fn adjoints(&mut self, out: Id) -> Vec<Option<Id>> {
        let mut adj: Vec<Option<Id>> = vec![None; self.len()];
        adj[out as usize] = Some(self.num(1.0));
        for n in (0..=out).rev() {
            let Some(g) = adj[n as usize] else { continue };
            let op = self.op(n);
            let mut push = |gr: &mut Graph, child: Id, d: Id| {
                let d = if gr.shape(n).domain && !gr.shape(child).domain {
                    gr.sum_i(d)
                } else {
                    d
                };
                adj[child as usize] = Some(match adj[child as usize] {
                    Some(prev) => gr.add(prev, d),
                    None => d,
                });
            };
            match op {
                Op::Const(_) | Op::Param(_) | Op::Family(_) | Op::K => {}
                Op::LnN | Op::LnD | Op::H => {}
                Op::LnH => {
                    // ln h_i (guarded) is a function of h_i: its adjoint passes to h.
                    let h = self.leaf(Op::H);
                    let floor = self.num(H_MIN);
                    let m = self.minmax(h, floor, Op::Max);
                    let d = self.div(g, m);
                    push(self, h, d);
                }
                Op::Add(a, b) => {
                    push(self, a, g);
                    push(self, b, g);
                }
                Op::Sub(a, b) => {
                    push(self, a, g);
                    let d = self.neg(g);
                    push(self, b, d);
                }
                Op::Mul(a, b) => {
                    let da = self.mul(g, b);
                    push(self, a, da);
                    let db = self.mul(g, a);
                    push(self, b, db);
                }
                Op::Div(a, b) => {
                    let da = self.div(g, b);
                    push(self, a, da);
                    let gn = self.mul(g, n);
                    let q = self.div(gn, b);
                    let db = self.neg(q);
                    push(self, b, db);
                }
                Op::Neg(a) => {
                    let d = self.neg(g);
                    push(self, a, d);
                }
                Op::Exp(a) => {
                    let d = self.mul(g, n);
                    push(self, a, d);
                }
                Op::Ln(a) => {
                    let d = self.div(g, a);
                    push(self, a, d);
                }
                Op::Log1p(a) => {
                    let one = self.num(1.0);
                    let u = self.add(one, a);
                    let d = self.div(g, u);
                    push(self, a, d);
                }
                Op::Sqrt(a) => {
                    let half = self.num(0.5);
                    let gh = self.mul(g, half);
                    let d = self.div(gh, n);
                    push(self, a, d);
                }
                Op::Min(a, b) | Op::Max(a, b) => {
                    // The derivative follows the operand chosen (the first on a tie).
                    let first = match op {
                        Op::Min(..) => self.le(a, b),
                        _ => self.le(b, a),
                    };
                    let da = self.mul(g, first);
                    push(self, a, da);
                    let one = self.num(1.0);
                    let second = self.sub(one, first);
                    let db = self.mul(g, second);
                    push(self, b, db);
                }
                Op::Le(..) => {}
                Op::LnGuard(a) => {
                    let floor = self.num(H_MIN);
                    let m = self.minmax(a, floor, Op::Max);
                    let d = self.div(g, m);
                    push(self, a, d);
                }
                Op::Pow(x, y, lx) => {
                    // ∂/∂x = y·x^y / max(x, H_MIN) (the built-in laws' guarded form), unless x
                    // is e^z, whose chain goes through z: ∂/∂z = y·x^y.
                    let gn = self.mul(g, n);
                    let gny = self.mul(gn, y);
                    match self.op(x) {
                        Op::Exp(z) if z == lx => push(self, z, gny),
                        _ => {
                            let floor = self.num(H_MIN);
                            let m = self.minmax(x, floor, Op::Max);
                            let dx = self.div(gny, m);
                            push(self, x, dx);
                        }
                    }
                    let dy = self.mul(gn, lx);
                    push(self, y, dy);
                }
                Op::Powi(a, m) => {
                    let c = self.num(m as f64);
                    let lower = self.pow_i(a, m - 1);
                    let cl = self.mul(c, lower);
                    let d = self.mul(g, cl);
                    push(self, a, d);
                }
                Op::SumI(a) => push(self, a, g),
                Op::ProdI(a) => {
                    let gn = self.mul(g, n);
                    let d = self.div(gn, a);
                    push(self, a, d);
                }
            }
        }
        adj
    }

    /// `a^m` for an integer `m`, simplified.
    fn pow_i(&mut self, a: Id, m: i32) -> Id {
        match m {
            0 => self.num(1.0),
            1 => a,
            _ => self.node(Op::Powi(a, m)),
        }
    }
}
