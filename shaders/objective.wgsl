// The fitting objective on the device: one workgroup per batch entry.
//
// The shader twin of `Problem::eval` (src/objective/mod.rs) and of the laws in src/law/; the
// parity suite (tests/suite/backend.rs) holds them together. Per entry it computes, in f32,
//
//   out[0]        = Σ_j w_j · m_j · Huber_δ(r_j) / δ
//   out[1 + i]    = Σ_j w_j · m_j · clamp(r_j/δ, −1, 1) · dr_j/dpred · ∂pred_j/∂p_i
//
// with m_j the overestimate penalty W where r_j > 0, else 1 (`Loss::smoothed` times
// `Loss::scale`, src/loss.rs): the Huber loss over δ and the absolute error's stand-in
// Huber_δ/δ are the same values; the squared error scaled by 1/(2δ) is the quadratic branch
// everywhere (r²/(2δ), r/δ), which `loss` = 1 selects.
//   out[1 + dim]  = number of rows whose residual was not finite (0 or more)
//   out[2 + dim]  = number of rows visited, which the host checks is every row: Mesa's software
//                   device (lavapipe) silently ends a shader's loops once an invocation has taken
//                   65,535 iterations, which a large table reaches (src/backend/gpu/evaluate.rs)
//
// in *natural* coordinates. The host does everything that is per entry rather than per row, in
// f64: internal → natural coordinates (exp of log coordinates), the mean's 1/Σw, the chain rule
// of log coordinates, and "+∞, zero gradient" when a residual was not finite.
//
// Row layout (`stride` = 3 + 2k floats): ln N, ln D, target, h_0..h_{k−1}, ln h_0..ln h_{k−1}
// where the target is y (raw residual) or ln y (log residual) and ln h is clamped on the host as
// `law::ln_weight` clamps it. Row weights are a separate buffer of one or more weight sets
// (`n_rows` weights each, set after set: one per bootstrap replicate); each θ record ends with the
// index of the set it is scored under.

const WG: u32 = 64u;
// Lengths of the per-thread private arrays (parameters, gradients: MAXP; per-domain terms:
// MAXK). WGSL needs them at compile time, and larger ones cost registers (or spill to slower
// memory) for every problem, so the host compiles this source once per *size class*: these two
// lines, exactly as written (the host checks each occurs once), are replaced by the smallest
// MAXP = 72·2^a, MAXK = 16·2^b that hold the problem. Small problems keep this default class
// (src/backend/gpu/shader.rs, `Class`).
const MAXP: u32 = 72u;
const MAXK: u32 = 16u;

struct Uniforms {
    n_rows: u32,
    k: u32,
    dim: u32,
    law: u32,
    // 0: raw residual, 1: log residual.
    residual: u32,
    stride: u32,
    delta: f32,
    inv_delta: f32,
    // `predict_mixtures` only: how many targets' parameter vectors `theta` holds.
    targets: u32,
    // 0: Huber over δ (and the absolute error's stand-in, the same values), 1: squared error
    // over 2δ.
    loss: u32,
    // The overestimate penalty W (1: symmetric).
    penalty: f32,
    pad0: u32,
}

@group(0) @binding(0) var<uniform> params: Uniforms;
@group(0) @binding(1) var<storage, read> rows: array<f32>;
// `main`: per entry the natural parameters and then its weight set's index, `dim + 1` wide.
// `predict_mixtures`: one parameter vector per target, `dim` wide.
@group(0) @binding(2) var<storage, read> theta: array<f32>;
// Per entry `dim + 2` floats, see the top of the file.
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
// Row weights, `n_rows` per weight set (`main` only).
@group(0) @binding(4) var<storage, read> weights: array<f32>;

var<workgroup> scratch: array<f32, WG>;

var<private> p: array<f32, MAXP>;
// ∂pred/∂p of the current row.
var<private> dl: array<f32, MAXP>;
var<private> hg: array<f32, MAXK>;
var<private> lnh: array<f32, MAXK>;
// Offset of the current row in `rows`.
var<private> base: u32;

fn h(i: u32) -> f32 {
    return rows[base + 3u + i];
}

fn ln_h(i: u32) -> f32 {
    return rows[base + 3u + params.k + i];
}

fn is_finite(x: f32) -> bool {
    return (bitcast<u32>(x) & 0x7f800000u) != 0x7f800000u;
}

// `x^g` guarded at x = 0 as `law::guarded_pow` is (`ln_x` already clamped).
fn guarded_pow(x: f32, ln_x: f32, g: f32) -> f32 {
    if x <= 0.0 && g > 0.0 {
        return 0.0;
    }
    return exp(g * ln_x);
}

// E + A/N^α + B/D^β with parameters 0..5 (chinchilla, and the scale part of additive and simple).
fn chinchilla(ln_n: f32, ln_d: f32) -> f32 {
    return scale_term(ln_n, ln_d);
}

fn scale_term(ln_n: f32, ln_d: f32) -> f32 {
    let nn = exp(-p[2] * ln_n);
    let dd = exp(-p[4] * ln_d);
    dl[0] = 1.0;
    dl[1] = nn;
    dl[2] = -p[1] * ln_n * nn;
    dl[3] = dd;
    dl[4] = -p[3] * ln_d * dd;
    return p[0] + p[1] * nn + p[3] * dd;
}

// s = Σ_i C_i h_i^γ_i (C at c0, γ at g0), keeping h_i^γ_i and ln h_i for the gradient.
fn mixture_sum(c0: u32, g0: u32) -> f32 {
    var s = 0.0;
    for (var i = 0u; i < params.k; i++) {
        let l = ln_h(i);
        let v = guarded_pow(h(i), l, p[g0 + i]);
        hg[i] = v;
        lnh[i] = l;
        s += p[c0 + i] * v;
    }
    return s;
}

// ∂(1/s)/∂C_i and ∂(1/s)/∂γ_i.
fn mixture_grad(c0: u32, g0: u32, s: f32) {
    let inv_s = 1.0 / s;
    for (var i = 0u; i < params.k; i++) {
        let q = hg[i] * inv_s * inv_s;
        dl[c0 + i] = -q;
        dl[g0 + i] = -p[c0 + i] * q * lnh[i];
    }
}

struct PowSum {
    w: f32,
    ln_u: f32,
    dw_du: f32,
}

// w = (Σ_i C_i h_i)^g, as `law::joint::pow_sum`.
fn pow_sum(c0: u32, g: f32) -> PowSum {
    var u = 0.0;
    for (var i = 0u; i < params.k; i++) {
        u += p[c0 + i] * h(i);
    }
    let uc = max(u, 1e-12);
    let ln_u = log(uc);
    let w = guarded_pow(u, ln_u, g);
    return PowSum(w, ln_u, g * w / uc);
}

fn additive(ln_n: f32, ln_d: f32) -> f32 {
    let k = params.k;
    let v = scale_term(ln_n, ln_d);
    let s = mixture_sum(5u, 5u + k);
    mixture_grad(5u, 5u + k, s);
    return v + 1.0 / s;
}

fn joint(ln_n: f32, ln_d: f32) -> f32 {
    let k = params.k;
    let c = 3u;
    let g = 3u + k;
    let ca = 3u + 2u * k;
    let ga = 3u + 3u * k;
    let cb = 4u + 3u * k;
    let gb = 4u + 4u * k;
    let nn = exp(-p[1] * ln_n);
    let dd = exp(-p[2] * ln_d);
    let s = mixture_sum(c, g);
    let a = pow_sum(ca, p[ga]);
    let b = pow_sum(cb, p[gb]);
    dl[0] = 1.0;
    dl[1] = -a.w * ln_n * nn;
    dl[2] = -b.w * ln_d * dd;
    mixture_grad(c, g, s);
    for (var i = 0u; i < k; i++) {
        dl[ca + i] = a.dw_du * h(i) * nn;
        dl[cb + i] = b.dw_du * h(i) * dd;
    }
    dl[ga] = a.w * a.ln_u * nn;
    dl[gb] = b.w * b.ln_u * dd;
    return p[0] + 1.0 / s + a.w * nn + b.w * dd;
}

fn simple(ln_n: f32, ln_d: f32) -> f32 {
    let k = params.k;
    let v = scale_term(ln_n, ln_d);
    let m = pow_sum(5u, p[5u + k]);
    for (var i = 0u; i < k; i++) {
        dl[5u + i] = m.dw_du * h(i);
    }
    dl[5u + k] = m.w * m.ln_u;
    return v + m.w;
}

fn full(ln_n: f32, ln_d: f32) -> f32 {
    let k = params.k;
    let c = 1u;
    let g = 1u + k;
    let ca = 1u + 2u * k;
    let ga = 1u + 3u * k;
    let cb = 2u + 3u * k;
    let gb = 2u + 4u * k;
    let cal = 3u + 4u * k;
    let gal = 3u + 5u * k;
    let cbe = 4u + 5u * k;
    let gbe = 4u + 6u * k;
    let s = mixture_sum(c, g);
    let a = pow_sum(ca, p[ga]);
    let b = pow_sum(cb, p[gb]);
    let al = pow_sum(cal, p[gal]);
    let be = pow_sum(cbe, p[gbe]);
    let nn = exp(-al.w * ln_n);
    let dd = exp(-be.w * ln_d);
    dl[0] = 1.0;
    mixture_grad(c, g, s);
    let dl_dal = -a.w * ln_n * nn;
    let dl_dbe = -b.w * ln_d * dd;
    for (var i = 0u; i < k; i++) {
        let hi = h(i);
        dl[ca + i] = a.dw_du * hi * nn;
        dl[cb + i] = b.dw_du * hi * dd;
        dl[cal + i] = dl_dal * al.dw_du * hi;
        dl[cbe + i] = dl_dbe * be.dw_du * hi;
    }
    dl[ga] = a.w * a.ln_u * nn;
    dl[gb] = b.w * b.ln_u * dd;
    dl[gal] = dl_dal * al.w * al.ln_u;
    dl[gbe] = dl_dbe * be.w * be.ln_u;
    return p[0] + 1.0 / s + a.w * nn + b.w * dd;
}

fn datamix(ln_n: f32, ln_d: f32) -> f32 {
    let k = params.k;
    var z = 0.0;
    for (var i = 0u; i < k; i++) {
        z += p[2u + i] * h(i);
    }
    let ez = exp(z);
    dl[0] = 1.0;
    dl[1] = ez;
    for (var i = 0u; i < k; i++) {
        dl[2u + i] = p[1] * ez * h(i);
    }
    return p[0] + p[1] * ez;
}

fn linear(ln_n: f32, ln_d: f32) -> f32 {
    var v = p[0];
    dl[0] = 1.0;
    for (var i = 0u; i < params.k; i++) {
        dl[1u + i] = h(i);
        v += p[1u + i] * h(i);
    }
    return v;
}

// `fn predict(ln_n: f32, ln_d: f32) -> f32`, the law's prediction at the current row with its
// gradient in `dl`, is generated by the host from the law registry (src/law/registry.rs): a
// switch on `params.law` over each law's function above, `fn LAW(ln_n: f32, ln_d: f32) -> f32`
// (src/backend/gpu/shader.rs appends it).

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let entry = wid.x;
    let t = lid.x;
    let dim = params.dim;
    for (var i = 0u; i < dim; i++) {
        p[i] = theta[entry * (dim + 1u) + i];
    }
    let set_base = u32(theta[entry * (dim + 1u) + dim]) * params.n_rows;
    var acc: array<f32, MAXP>;
    var f = 0.0;
    var bad = 0.0;
    var visited = 0.0;
    for (var j = t; j < params.n_rows; j += WG) {
        visited += 1.0;
        base = j * params.stride;
        let w = weights[set_base + j];
        if w == 0.0 {
            continue;
        }
        let pred = predict(rows[base], rows[base + 1u]);
        var r: f32;
        var dr = 1.0;
        if params.residual == 0u {
            r = pred - rows[base + 2u];
        } else {
            r = log(pred) - rows[base + 2u];
            dr = 1.0 / pred;
        }
        if !is_finite(r) {
            bad += 1.0;
            continue;
        }
        // The loss and its derivative on the optimiser's scale: Huber over δ, or (`loss` 1) the
        // squared error over 2δ; times the penalty for an over-prediction.
        let a = abs(r);
        var hv: f32;
        var psi: f32;
        if a <= params.delta || params.loss == 1u {
            hv = 0.5 * r * r * params.inv_delta;
            psi = r * params.inv_delta;
        } else {
            hv = a - 0.5 * params.delta;
            psi = sign(r);
        }
        if r > 0.0 {
            hv *= params.penalty;
            psi *= params.penalty;
        }
        f += w * hv;
        let c = w * psi * dr;
        for (var i = 0u; i < dim; i++) {
            acc[i] += c * dl[i];
        }
    }

    // Tree reductions in workgroup memory, one component at a time (f, the gradient, the
    // counts of bad and of visited rows): the workgroup memory stays at 64 floats whatever the
    // dimension. The host clears the output first, so a loop cut short here leaves the count of
    // visited rows 0 or short too.
    let width = dim + 3u;
    for (var c = 0u; c < width; c++) {
        var v: f32;
        if c == 0u {
            v = f;
        } else if c <= dim {
            v = acc[c - 1u];
        } else if c == dim + 1u {
            v = bad;
        } else {
            v = visited;
        }
        scratch[t] = v;
        workgroupBarrier();
        for (var s = WG / 2u; s > 0u; s >>= 1u) {
            if t < s {
                scratch[t] += scratch[t + s];
            }
            workgroupBarrier();
        }
        if t == 0u {
            out[entry * width + c] = scratch[0];
        }
        workgroupBarrier();
    }
}

// Mixture search: every fitted target's prediction at every candidate mixture, one invocation
// per (candidate, target) pair. Rows are candidates in the layout above (target unused);
// `theta` holds the targets' natural parameters, `dim` wide; out[c·targets + t].
@compute @workgroup_size(64)
fn predict_mixtures(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let idx = gid.x + gid.y * nwg.x * WG;
    if idx >= params.n_rows * params.targets {
        return;
    }
    let candidate = idx / params.targets;
    let tgt = idx % params.targets;
    for (var i = 0u; i < params.dim; i++) {
        p[i] = theta[tgt * params.dim + i];
    }
    base = candidate * params.stride;
    out[idx] = predict(rows[base], rows[base + 1u]);
}
