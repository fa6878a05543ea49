// The separable lattice sweep on the device (`src/backend/gpu/sweep.rs`), in f32.
//
// Each invocation enumerates one sub-simplex: the points whose first DEPTH levels are fixed
// (its entry of `subs`), depth first in rank order, carrying the partial sums of the law's
// per-domain terms (tables of every sum, domain and level in `tables`) so a point costs one
// addition per sum and target plus the law's outer function (`outer`, generated from the law).
// It keeps the best KD points of every weighting in private memory, as (value, the point's
// index in its sub-simplex's rank order); the workgroup then merges its invocations' lists in
// workgroup memory and writes KD records per weighting, which are all that is read back. The
// host turns a record into its point by unranking and re-scores it in f64.
//
// The host prepends the sizes (K domains, M sums per target, T targets, W weightings, KD kept
// points, NC constants per target, DEPTH fixed levels per sub-simplex) and `fn outer() -> f32`,
// an expression over s(q) and c(q) for target `cur`.

struct Params {
    r: u32,
    n_sub: u32,
    first_sub: u32,
    pad: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
// Sum q of target t, domain i, level j at ((t*M + q)*K + i)*(r + 1) + j.
@group(0) @binding(1) var<storage, read> tables: array<f32>;
// lo[K], hi[K], rest_lo[K + 1], rest_hi[K + 1] (each domain's levels, and what the domains from
// i on can take at least and at most), then per sub-simplex its DEPTH fixed levels and the
// levels left for the rest (one buffer: downlevel devices bind at most four storage buffers).
@group(0) @binding(2) var<storage, read> bounds: array<u32>;
// W x T weights (weighting-major), then T x NC constants of the outer function.
@group(0) @binding(3) var<storage, read> numbers: array<f32>;
// Per workgroup and weighting: KD kept points (value bits, sub-simplex, index in it), then how
// many points the workgroup could not score (NaN in f32), with the top bit set.
@group(0) @binding(4) var<storage, read_write> records: array<u32>;

const TM: u32 = T * M;
const WG: u32 = 64u;
const NONE: u32 = 0xffffffffu;
const SUBS: u32 = 4u * K + 2u;

var<private> part: array<f32, (K + 1u) * TM>;
var<private> sv: array<f32, TM>;
var<private> pred: array<f32, T>;
var<private> best_v: array<f32, W * KD>;
var<private> best_i: array<u32, W * KD>;
var<private> nans: array<u32, W>;
var<private> cur: u32;

var<workgroup> sh_v: array<f32, WG * KD>;
var<workgroup> sh_s: array<u32, WG * KD>;
var<workgroup> sh_i: array<u32, WG * KD>;
var<workgroup> sh_nan: array<u32, WG>;

fn s(q: u32) -> f32 {
    return sv[cur * M + q];
}

fn c(q: u32) -> f32 {
    return numbers[W * T + cur * NC + q];
}

// `x^g`, 0 where x <= 0 < g (`law::guarded_pow`).
fn gpow(x: f32, g: f32) -> f32 {
    if x <= 0.0 && g > 0.0 {
        return 0.0;
    }
    return exp(g * log(max(x, 1e-12)));
}

fn table(tq: u32, i: u32, j: u32) -> f32 {
    return tables[(tq * K + i) * (params.r + 1u) + j];
}

// The levels domain i may take with `left` to share among it and the domains after it
// (empty where x > y).
fn range(i: u32, left: u32) -> vec2<u32> {
    let rest_lo = bounds[2u * K + i + 1u];
    let rest_hi = bounds[3u * K + 1u + i + 1u];
    if left < rest_lo {
        return vec2<u32>(1u, 0u);
    }
    var lo = bounds[i];
    if left > rest_hi {
        lo = max(lo, left - rest_hi);
    }
    let hi = min(bounds[K + i], left - rest_lo);
    return vec2<u32>(lo, hi);
}

// Fix level j of domain d: the partial sums before domain d + 1.
fn fix(d: u32, j: u32) {
    for (var tq = 0u; tq < TM; tq++) {
        part[(d + 1u) * TM + tq] = part[d * TM + tq] + table(tq, d, j);
    }
}

// Score the point whose sums are in `sv` and offer it to every weighting's list.
fn offer(index: u32) {
    for (var t = 0u; t < T; t++) {
        cur = t;
        pred[t] = outer();
    }
    for (var w = 0u; w < W; w++) {
        var v = 0.0;
        for (var t = 0u; t < T; t++) {
            let wt = numbers[w * T + t];
            if wt != 0.0 {
                v += wt * pred[t];
            }
        }
        // NaN (v != v) never enters but is counted (the host then ranks this weighting on the
        // CPU: f64 might have scored the point); a later point enters only if strictly better,
        // so ties keep the earlier point (rank order), as the CPU sweep does.
        if v != v {
            nans[w] += 1u;
        } else if v < best_v[w * KD + KD - 1u] {
            var at = KD - 1u;
            while at > 0u && v < best_v[w * KD + at - 1u] {
                best_v[w * KD + at] = best_v[w * KD + at - 1u];
                best_i[w * KD + at] = best_i[w * KD + at - 1u];
                at -= 1u;
            }
            best_v[w * KD + at] = v;
            best_i[w * KD + at] = index;
        }
    }
}

// Every point of sub-simplex `sub`, in rank order.
fn enumerate(sub: u32) {
    let base = SUBS + sub * (DEPTH + 1u);
    for (var tq = 0u; tq < TM; tq++) {
        part[tq] = 0.0;
    }
    for (var d = 0u; d < DEPTH; d++) {
        fix(d, bounds[base + d]);
    }
    var js: array<u32, K>;
    var his: array<u32, K>;
    var lefts: array<u32, K + 1u>;
    var d = DEPTH;
    lefts[d] = bounds[base + DEPTH];
    var index = 0u;
    var down = true;
    loop {
        if down {
            if d + 2u == K {
                // The line j_{K-2} = v, j_{K-1} = left - v.
                let left = lefts[d];
                let rg = range(K - 2u, left);
                for (var v = rg.x; v <= rg.y; v++) {
                    for (var tq = 0u; tq < TM; tq++) {
                        sv[tq] = (part[(K - 2u) * TM + tq] + table(tq, K - 2u, v))
                            + table(tq, K - 1u, left - v);
                    }
                    offer(index);
                    index += 1u;
                }
                down = false;
            } else {
                let rg = range(d, lefts[d]);
                if rg.x <= rg.y {
                    js[d] = rg.x;
                    his[d] = rg.y;
                    fix(d, rg.x);
                    lefts[d + 1u] = lefts[d] - rg.x;
                    d += 1u;
                } else {
                    down = false;
                }
            }
        } else {
            if d == DEPTH {
                break;
            }
            d -= 1u;
            if js[d] < his[d] {
                js[d] += 1u;
                fix(d, js[d]);
                lefts[d + 1u] = lefts[d] - js[d];
                d += 1u;
                down = true;
            }
        }
    }
}

@compute @workgroup_size(64)
fn sweep(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let group = wid.y * nwg.x + wid.x;
    let sub = params.first_sub + group * WG + lid;
    for (var e = 0u; e < W * KD; e++) {
        best_v[e] = bitcast<f32>(0x7f800000u);
        best_i[e] = NONE;
    }
    for (var e = 0u; e < W; e++) {
        nans[e] = 0u;
    }
    if group * WG + lid < params.n_sub {
        enumerate(sub);
    }
    // Merge the workgroup's lists, one weighting at a time; ties keep the lower sub-simplex
    // (rank order again).
    for (var w = 0u; w < W; w++) {
        for (var e = 0u; e < KD; e++) {
            sh_v[lid * KD + e] = best_v[w * KD + e];
            sh_s[lid * KD + e] = sub;
            sh_i[lid * KD + e] = best_i[w * KD + e];
        }
        sh_nan[lid] = nans[w];
        workgroupBarrier();
        if lid == 0u {
            var kv: array<f32, KD>;
            var ks: array<u32, KD>;
            var ki: array<u32, KD>;
            for (var e = 0u; e < KD; e++) {
                kv[e] = bitcast<f32>(0x7f800000u);
                ks[e] = NONE;
                ki[e] = NONE;
            }
            for (var x = 0u; x < WG * KD; x++) {
                let v = sh_v[x];
                if sh_i[x] != NONE && v < kv[KD - 1u] {
                    var at = KD - 1u;
                    while at > 0u && v < kv[at - 1u] {
                        kv[at] = kv[at - 1u];
                        ks[at] = ks[at - 1u];
                        ki[at] = ki[at - 1u];
                        at -= 1u;
                    }
                    kv[at] = v;
                    ks[at] = sh_s[x];
                    ki[at] = sh_i[x];
                }
            }
            let out = (group * W + w) * (KD * 3u + 1u);
            var nan = 0u;
            for (var x = 0u; x < WG; x++) {
                nan = max(nan, sh_nan[x]);
            }
            for (var e = 0u; e < KD; e++) {
                records[out + 3u * e] = bitcast<u32>(kv[e]);
                records[out + 3u * e + 1u] = ks[e];
                records[out + 3u * e + 2u] = ki[e];
            }
            // The top bit marks the block written (the host trusts no block without it).
            records[out + KD * 3u] = min(nan, 0x7fffffffu) | 0x80000000u;
        }
        workgroupBarrier();
    }
}
