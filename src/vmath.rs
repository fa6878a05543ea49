//! `exp`, `ln`, sums and dot products in f64 written so that loops over them vectorise.
//!
//! The fitting hot loop spends most of its time in `N^−α = e^(−α ln N)`, `D^−β` and, for the log
//! residual, `ln L̂`. The platform's libm is accurate but opaque: a call per row stops the
//! compiler from vectorising the row loop. These versions are branch-free (special cases are
//! selects), use only arithmetic, fused multiply-adds and bit operations, and are inlined, so a
//! loop over rows compiles to vector code (where the CPU has FMA: see `wide!` below). Accuracy is that of a good libm: within 1 ulp of the
//! correctly rounded result over the whole range (the tests check it against `std` on random
//! and special inputs), so objectives agree with a libm evaluation to ~1e-16 relative.
//!
//! * `exp`: `x = k·ln 2 + r`, `|r| ≤ ln 2 / 2`, `e^r` by its Taylor series to degree 13 (the
//!   truncation error is below 1e-17 relative), `2^k` built in two halves from exponent bits so
//!   that subnormal results and overflow to `+∞` come out right.
//! * `ln`: `x = 2^k·m` with `m ∈ [√½, √2)`, `ln m = ln(1+f)` by fdlibm's minimax polynomial in
//!   `s = f/(2+f)` (Sun Microsystems' `e_log.c`, whose coefficients these are).
//! * `sum`, `dot`: four interleaved partial sums, which the compiler keeps in vector registers
//!   (a single running sum is a chain of dependent scalar additions it may not reorder). The
//!   four sums pass through `black_box` before they are combined: the compiler otherwise
//!   matches the combining additions to a pattern of 2-wide registers and keeps the sums in
//!   two of them, with shuffles on every load when the pattern pairs lanes 0 and 2. The
//!   chinchilla objective took 87 instructions per row with the shuffles, 79 with two 2-wide
//!   registers and 74 with one 4-wide register.
//! * The polynomials are evaluated with fused multiply-adds (`mul_add`): half the operations of
//!   separate products and sums, one rounding instead of two.
//! * `wide!` calls a function through a copy compiled for AVX2 and FMA when the CPU has them
//!   (4 f64 lanes instead of SSE2's 2, and `mul_add` as one instruction). Elsewhere `mul_add` is
//!   a call to libm's `fma`: exactly rounded too, so with a correctly rounded `fma` (glibc's,
//!   musl's, Apple's) results are bit for bit the same on either path, but the row loops no
//!   longer vectorise, and on a CPU without FMA (x86-64 before 2013, or a VM hiding AVX)
//!   `exp` and `ln` cost several times as much. On aarch64 `mul_add` is one instruction.

/// `1.5·2^52`: adding it rounds an `f64` below `2^51` in magnitude to an integer, which then sits
/// in the low bits of the sum (the classic round-to-nearest without an instruction for it).
const SHIFT: f64 = 6_755_399_441_055_744.0;

/// `ln 2` split as fdlibm splits it: `LN2_HI` has trailing zero bits, so `k·LN2_HI` is exact for
/// every exponent `k` a double can have, and `LN2_LO` carries the rest.
const LN2_HI: f64 = 6.931_471_803_691_238e-1;
const LN2_LO: f64 = 1.908_214_929_270_587_7e-10;

/// `2^j` for `j + 1023` in `[1, 2046]`, from any integer whose low 12 bits are those of `j`
/// (in two's complement): shifting `j + 1023` into the exponent field drops the bits above.
#[inline(always)]
fn pow2_bits(j: u64) -> f64 {
    f64::from_bits(j.wrapping_add(1023) << 52)
}

/// `e^x` (within 1 ulp; `NaN` for `NaN`, 0 below −745.2, `+∞` above 709.8).
#[inline(always)]
pub fn exp(x: f64) -> f64 {
    let x = x.clamp(-746.0, 710.0); // keeps NaN
                                    // `t`'s significand holds `2^51 + k`, `k = round(x/ln 2)` (the bits above it shift out later).
    let t = x.mul_add(std::f64::consts::LOG2_E, SHIFT);
    let kf = t - SHIFT;
    let r = (-kf).mul_add(LN2_LO, (-kf).mul_add(LN2_HI, x));
    // Taylor coefficients 1/n!, n = 0..13. The terms from r⁴ on are summed by Estrin's scheme
    // (pairs, then pairs of pairs) and the first four by Horner's rule: the chain of dependent
    // operations is 14 long rather than Horner's 26 — it matters wherever an exp is not one of
    // many independent vector lanes — while the terms that carry the rounding error still go
    // through Horner's well-conditioned last steps.
    const C: [f64; 14] = [
        1.0,
        1.0,
        1.0 / 2.0,
        1.0 / 6.0,
        1.0 / 24.0,
        1.0 / 120.0,
        1.0 / 720.0,
        1.0 / 5040.0,
        1.0 / 40_320.0,
        1.0 / 362_880.0,
        1.0 / 3_628_800.0,
        1.0 / 39_916_800.0,
        1.0 / 479_001_600.0,
        1.0 / 6_227_020_800.0,
    ];
    let (r2, q) = (r * r, |i: usize| C[i + 1].mul_add(r, C[i]));
    let r4 = r2 * r2;
    let tail = q(6).mul_add(r2, q(4)) + q(10).mul_add(r2, q(8)) * r4 + q(12) * (r4 * r4);
    let p = r.mul_add(
        r.mul_add(r.mul_add(r.mul_add(tail, C[3]), C[2]), C[1]),
        C[0],
    );
    // 2^k as 2^⌊k/2⌋ · 2^⌈k/2⌉: each half stays a normal number for k ∈ [−1077, 1025]. Halving
    // `2^51 + k` gives `2^50 + ⌊k/2⌋`, and what is left of it `2^50 + ⌈k/2⌉`: the same low bits.
    let (u, half) = (t.to_bits(), t.to_bits() >> 1);
    p * pow2_bits(half) * pow2_bits(u.wrapping_sub(half))
}

/// `ln x` (within 1 ulp; `−∞` at 0, `NaN` below 0 or for `NaN`, `+∞` at `+∞`).
#[inline(always)]
pub fn ln(x: f64) -> f64 {
    const LG: [f64; 7] = [
        0.666_666_666_666_673_5,
        0.399_999_999_994_094_2,
        0.285_714_287_436_623_9,
        0.222_221_984_321_497_84,
        0.181_835_721_616_180_5,
        0.153_138_376_992_093_73,
        0.147_981_986_051_165_86,
    ];
    // Subnormals are scaled into the normal range first.
    let tiny = x < f64::MIN_POSITIVE;
    let xs = if tiny {
        x * 18_014_398_509_481_984.0
    } else {
        x
    }; // 2^54
    let bias = if tiny { 1023.0 + 54.0 } else { 1023.0 };
    // Shift the exponent boundary to √½ so that m lands in [√½, √2) (as musl's log does).
    let ix = xs
        .to_bits()
        .wrapping_add(0x3ff0_0000_0000_0000 - 0x3fe6_a09e_0000_0000);
    let e = f64::from_bits((ix >> 52) | 0x4330_0000_0000_0000) - 4_503_599_627_370_496.0;
    let kf = e - bias;
    let m = f64::from_bits((ix & 0x000f_ffff_ffff_ffff) + 0x3fe6_a09e_0000_0000);
    let f = m - 1.0;
    let s = f / (2.0 + f);
    let z = s * s;
    // The polynomial in z by Estrin's scheme (pairs, then pairs of pairs): `ln` ends a chain of
    // dependent operations that starts at the division above, and Horner's rule would add
    // six multiply-adds to it, Estrin's three.
    let (z2, q) = (z * z, |i: usize| LG[i + 1].mul_add(z, LG[i]));
    let z4 = z2 * z2;
    let poly = q(2).mul_add(z2, q(0)) + LG[6].mul_add(z2, q(4)) * z4;
    let r = z * poly;
    let hfsq = 0.5 * f * f;
    let y = kf.mul_add(LN2_HI, f - (hfsq - s.mul_add(hfsq + r, kf * LN2_LO)));
    // `y` is right for positive finite `x`, whose bits read as an integer lie in
    // `[1, +∞'s bits)`: two integer comparisons (written as float comparisons, the compiler
    // turns them into a longer class test).
    let bits = x.to_bits() as i64;
    let special = if x == 0.0 {
        f64::NEG_INFINITY
    } else if x == f64::INFINITY {
        x
    } else {
        f64::NAN
    };
    if bits > 0 && bits < f64::INFINITY.to_bits() as i64 {
        y
    } else {
        special
    }
}

/// The body of a function: calls `$f` (which must be `#[inline(always)]`, with the arguments
/// named and typed as given) through a copy compiled for AVX2 and FMA when the CPU has them, so
/// that the loops inlined into the copy use 4-wide vectors and fused multiply-adds; elsewhere it
/// calls `$f` as it is.
macro_rules! wide {
    ($f:path; $($a:ident: $t:ty),* => $r:ty) => {{
        #[cfg(target_arch = "x86_64")]
        {
            #[target_feature(enable = "avx2,fma")]
            unsafe fn avx2($($a: $t),*) -> $r {
                $f($($a),*)
            }
            if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
                // SAFETY: the CPU was just checked to support AVX2 and FMA.
                return unsafe { avx2($($a),*) };
            }
        }
        $f($($a),*)
    }};
}
pub(crate) use wide;

/// `Σ a_i`, in four interleaved partial sums.
#[inline]
pub fn sum(a: &[f64]) -> f64 {
    let mut acc = [0.0; 4];
    let chunks = a.chunks_exact(4);
    let rest: f64 = chunks.remainder().iter().sum();
    for c in chunks {
        for (s, v) in acc.iter_mut().zip(c) {
            *s += v;
        }
    }
    let acc = std::hint::black_box(acc);
    (acc[0] + acc[2]) + (acc[1] + acc[3]) + rest
}

/// `Σ a_i·b_i` over the shorter of the two, in four interleaved partial sums.
#[inline]
pub fn dot(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0.0; 4];
    let (ca, cb) = (a.chunks_exact(4), b.chunks_exact(4));
    let rest: f64 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in ca.zip(cb) {
        for ((s, x), y) in acc.iter_mut().zip(x).zip(y) {
            *s += x * y;
        }
    }
    let acc = std::hint::black_box(acc);
    (acc[0] + acc[2]) + (acc[1] + acc[3]) + rest
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    /// Distance in units in the last place between two finite values of the same sign.
    fn ulps(a: f64, b: f64) -> u64 {
        (a.to_bits() as i64 - b.to_bits() as i64).unsigned_abs()
    }

    #[test]
    fn exp_is_within_one_ulp_of_std_over_its_range() {
        let mut rng = Rng::new(3, 0);
        let mut worst = 0;
        for i in 0..400_000 {
            let x = match i % 4 {
                0 => rng.range(-1.0, 1.0),
                1 => rng.range(-50.0, 50.0),
                2 => rng.range(-708.0, 709.7),
                _ => rng.range(-745.0, -708.0), // subnormal results
            };
            let (got, want) = (exp(x), x.exp());
            let u = ulps(got, want);
            worst = worst.max(u);
            assert!(u <= 1, "exp({x:e}) = {got:e}, std {want:e} ({u} ulp)");
        }
        eprintln!("exp: worst {worst} ulp");
    }

    /// `exp` then `ln` of every element, in place (a loop for `wide!` to compile twice).
    #[inline(always)]
    fn exp_ln_inline(x: &mut [f64]) {
        for v in x.iter_mut() {
            *v = ln(exp(*v) + 0.5);
        }
    }

    fn exp_ln_wide(x: &mut [f64]) {
        wide!(exp_ln_inline; x: &mut [f64] => ())
    }

    #[test]
    fn the_wide_copy_gives_the_plain_results_bit_for_bit() {
        let mut rng = Rng::new(5, 0);
        let x: Vec<f64> = (0..10_000).map(|_| rng.range(-40.0, 40.0)).collect();
        let (mut wide, mut plain) = (x.clone(), x);
        exp_ln_wide(&mut wide);
        exp_ln_inline(&mut plain);
        for (i, (a, b)) in wide.iter().zip(&plain).enumerate() {
            assert_eq!(a.to_bits(), b.to_bits(), "element {i}: {a:e} vs {b:e}");
        }
    }

    #[test]
    fn sums_and_dot_products_of_every_length() {
        for n in 0..11 {
            let a: Vec<f64> = (0..n).map(|i| (i + 1) as f64).collect();
            let b: Vec<f64> = (0..n).map(|i| (2 * i) as f64 - 3.0).collect();
            let want_sum = (n * (n + 1) / 2) as f64;
            let want_dot: f64 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
            assert_eq!(sum(&a), want_sum, "n {n}");
            assert_eq!(dot(&a, &b), want_dot, "n {n}");
            assert_eq!(dot(&a, &b[..n / 2]), dot(&a[..n / 2], &b), "n {n}");
        }
    }

    #[test]
    fn exp_special_values() {
        assert_eq!(exp(0.0), 1.0);
        assert!(ulps(exp(1.0), std::f64::consts::E) <= 1);
        assert_eq!(exp(-800.0), 0.0);
        assert_eq!(exp(f64::NEG_INFINITY), 0.0);
        assert_eq!(exp(710.0), f64::INFINITY);
        assert_eq!(exp(f64::INFINITY), f64::INFINITY);
        assert!(exp(f64::NAN).is_nan());
        assert!(ulps(exp(709.78), 709.78f64.exp()) <= 1);
        assert_eq!(exp(-745.0), (-745.0f64).exp()); // the smallest subnormal
    }

    #[test]
    fn ln_is_within_one_ulp_of_std_over_its_range() {
        let mut rng = Rng::new(4, 0);
        let mut worst = 0;
        for i in 0..400_000 {
            let x = match i % 4 {
                0 => rng.range(0.5, 2.0),
                1 => 10f64.powf(rng.range(-300.0, 300.0)),
                2 => 1.0 + rng.range(-1e-6, 1e-6),
                _ => f64::from_bits(rng.next_u64() >> 12), // subnormals
            };
            if x == 0.0 {
                continue;
            }
            let (got, want) = (ln(x), x.ln());
            let u = ulps(got, want);
            worst = worst.max(u);
            assert!(u <= 1, "ln({x:e}) = {got:e}, std {want:e} ({u} ulp)");
        }
        eprintln!("ln: worst {worst} ulp");
    }

    #[test]
    fn ln_special_values() {
        assert_eq!(ln(1.0), 0.0);
        assert_eq!(ln(2.0), std::f64::consts::LN_2);
        assert_eq!(ln(0.0), f64::NEG_INFINITY);
        assert_eq!(ln(f64::INFINITY), f64::INFINITY);
        assert!(ln(-1.0).is_nan());
        assert!(ln(f64::NAN).is_nan());
        assert!(ln(f64::NEG_INFINITY).is_nan());
        assert_eq!(ln(f64::MAX), f64::MAX.ln());
        assert_eq!(ln(5e-324), 5e-324f64.ln());
    }
}
