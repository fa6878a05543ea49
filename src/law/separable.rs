//! Laws whose mixture enters only through sums of per-domain terms.
//!
//! Every built-in mixture law is `outer(Σ_i t_1(i, h_i), …, Σ_i t_m(i, h_i))`: the additive law's
//! `1/S` with `S = Σ C_i h_i^γ_i`, the joint law's `1/S` and two powers of `Σ CA_i h_i` and
//! `Σ CB_i h_i`, and so on. On the simplex lattice `h_i = j_i / r` each term takes only `r + 1`
//! values per domain, so a sweep that tabulates the terms once and carries partial sums down a
//! depth-first enumeration pays a few additions per candidate plus the outer function, instead
//! of `k` powers (`mixture::separable`). A law says so by returning a [`Separable`] from
//! [`super::Family::separable`]; the terms and the outer function are the law's own arithmetic,
//! in the order its `eval` adds, so that the sweep's predictions equal `eval`'s bit for bit.

use super::guarded_pow;

/// A law's prediction at one scale as an outer function of `sums()` sums of per-domain terms.
pub trait Separable: Send + Sync {
    /// How many sums the outer function reads.
    fn sums(&self) -> usize;
    /// Sum `q`'s term of domain `i` at weight `h`.
    fn term(&self, q: usize, i: usize, h: f64) -> f64;
    /// The predictions at `out.len()` points whose sums are given sum-major: sum `q` of point
    /// `c` at `sums[q * stride + c]`.
    fn outer(&self, sums: &[f64], stride: usize, out: &mut [f64]);
    /// The outer function in WGSL, for a sweep on the GPU (`None`: the law has none, and is
    /// swept on the CPU).
    fn wgsl(&self) -> Option<OuterWgsl> {
        None
    }
}

/// A law's outer function as a WGSL expression (f32) for the device sweep: `s(q)` reads the
/// point's sum `q`, `c(q)` the law's constant `q` at this scale (`consts[q]`, which the host
/// computes in f64 and uploads as f32), and `gpow(x, g)` is [`super::guarded_pow`]. Every
/// target of one law shares the expression; only the constants differ.
#[derive(Clone, Debug, PartialEq)]
pub struct OuterWgsl {
    /// The expression.
    pub expr: &'static str,
    /// Its constants.
    pub consts: Vec<f64>,
}

/// `C h^γ` as the power laws' `Σ C_i h_i^γ_i` adds it (guarded at `h = 0`).
#[inline]
pub(crate) fn power_term(c: f64, g: f64, h: f64) -> f64 {
    c * guarded_pow(h, g).0
}
