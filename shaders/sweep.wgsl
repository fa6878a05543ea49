// The separable lattice sweep on the device (`src/backend/gpu/sweep.rs`), in f32.
//
// Each invocation enumerates one piece of the lattice: the points whose first levels are fixed
// and whose next level lies in a range (its entry of `bounds`), depth first in rank order, carrying the partial sums of the law's
// per-domain terms (tables of every sum, domain and level in `tables`) so a point costs one
// addition per sum and target plus the law's outer function (`outer`, generated from the law).
// It keeps the best KD points of every weighting in private memory, as (value, the point's
// index in its piece's rank order); the workgroup then merges its invocations' lists in
// workgroup memory and writes KD records per weighting, which are all that is read back. The
// host turns a record into its point by unranking and re-scores it in f64.
//
// `steps` counts the points an invocation enumerated and the iterations of every loop after
// them; the workgroup's total is written last, and the host checks it: lavapipe silently ends
// every loop after one iteration once an invocation has taken 65,535 in all
// (src/backend/gpu/sweep.rs).
//
// The host prepends the sizes (K domains, M sums per target, T targets, W weightings, KD kept
// points, NC constants per target, NP weights in all) and `fn outer() -> f32`, an expression over s(q) and c(q)
// for target `cur`.

struct Params {
    r: u32,
    n_piece: u32,
    first_piece: u32,
    pad: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
// Sum q of target t, domain i, level j at ((t*M + q)*K + i)*(r + 1) + j.
@group(0) @binding(1) var<storage, read> tables: array<f32>;
// lo[K], hi[K], rest_lo[K + 1], rest_hi[K + 1] (each domain's levels, and what the domains from
// i on can take at least and at most), where each weighting's weights start in `numbers` (W + 1,
// the last where the last ends) and the NP weights' targets, then per piece of the lattice K + 2 words: how many
// levels it fixes, those levels (padded to K - 2), the levels left for the rest, and the
// range a..b of the next level (one buffer: downlevel devices bind at most four storage
// buffers).
@group(0) @binding(2) var<storage, read> bounds: array<u32>;
// T x NC constants of the outer function, then every weighting's non-zero weights (NP).
@group(0) @binding(3) var<storage, read> numbers: array<f32>;
// Per workgroup and weighting: KD kept points (value bits, piece, index in it), then how
// many points the workgroup could not score (NaN in f32); after every workgroup's blocks, each
// workgroup's count of loop iterations.
@group(0) @binding(4) var<storage, read_write> records: array<u32>;

const TM: u32 = T * M;
const WG: u32 = 64u;
const NONE: u32 = 0xffffffffu;
const WSTART: u32 = 4u * K + 2u;
const PAIRS: u32 = WSTART + W + 1u;
const PIECES: u32 = PAIRS + NP;

var<private> part: array<f32, (K + 1u) * TM>;
var<private> sv: array<f32, TM>;
var<private> pred: array<f32, T>;
var<private> best_v: array<f32, W * KD>;
var<private> best_i: array<u32, W * KD>;
var<private> nans: array<u32, W>;
var<private> cur: u32;
var<private> steps: u32;

var<workgroup> sh_v: array<f32, WG * KD>;
var<workgroup> sh_s: array<u32, WG * KD>;
var<workgroup> sh_i: array<u32, WG * KD>;
var<workgroup> sh_nan: array<u32, WG>;
var<workgroup> sh_steps: array<u32, WG>;

fn s(q: u32) -> f32 {
    return sv[cur * M + q];
}

fn c(q: u32) -> f32 {
    return numbers[cur * NC + q];
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
        for (var e = bounds[WSTART + w]; e < bounds[WSTART + w + 1u]; e++) {
            v += numbers[T * NC + e] * pred[bounds[PAIRS + e]];
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

// Every point of piece `piece`, in rank order.
fn enumerate(piece: u32) {
    let base = PIECES + piece * (K + 2u);
    let depth = bounds[base];
    let ab = vec2<u32>(bounds[base + K], bounds[base + K + 1u]);
    for (var tq = 0u; tq < TM; tq++) {
        part[tq] = 0.0;
    }
    for (var d = 0u; d < depth; d++) {
        fix(d, bounds[base + 1u + d]);
    }
    var js: array<u32, K>;
    var his: array<u32, K>;
    var lefts: array<u32, K + 1u>;
    var d = depth;
    lefts[d] = bounds[base + K - 1u];
    var index = 0u;
    var down = true;
    loop {
        if down {
            if d + 2u == K {
                // The line j_{K-2} = v, j_{K-1} = left - v.
                let left = lefts[d];
                var rg = range(K - 2u, left);
                if d == depth {
                    rg = vec2<u32>(max(rg.x, ab.x), min(rg.y, ab.y));
                }
                for (var v = rg.x; v <= rg.y; v++) {
                    for (var tq = 0u; tq < TM; tq++) {
                        sv[tq] = (part[(K - 2u) * TM + tq] + table(tq, K - 2u, v))
                            + table(tq, K - 1u, left - v);
                    }
                    offer(index);
                    index += 1u;
                    steps += 1u;
                }
                down = false;
            } else {
                var rg = range(d, lefts[d]);
                if d == depth {
                    rg = vec2<u32>(max(rg.x, ab.x), min(rg.y, ab.y));
                }
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
            if d == depth {
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
    let piece = params.first_piece + group * WG + lid;
    for (var e = 0u; e < W * KD; e++) {
        best_v[e] = bitcast<f32>(0x7f800000u);
        best_i[e] = NONE;
    }
    for (var e = 0u; e < W; e++) {
        nans[e] = 0u;
    }
    steps = 0u;
    if group * WG + lid < params.n_piece {
        enumerate(piece);
    }
    // Merge the workgroup's lists, one weighting at a time; ties keep the lower piece
    // (rank order again).
    for (var w = 0u; w < W; w++) {
        for (var e = 0u; e < KD; e++) {
            sh_v[lid * KD + e] = best_v[w * KD + e];
            sh_s[lid * KD + e] = piece;
            sh_i[lid * KD + e] = best_i[w * KD + e];
            steps += 1u;
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
                steps += 1u;
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
                steps += 1u;
            }
            for (var e = 0u; e < KD; e++) {
                steps += 1u;
                records[out + 3u * e] = bitcast<u32>(kv[e]);
                records[out + 3u * e + 1u] = ks[e];
                records[out + 3u * e + 2u] = ki[e];
            }
            records[out + KD * 3u] = nan;
        }
        workgroupBarrier();
    }
    // The workgroup's loop iterations (and one per lane summed), after every block.
    sh_steps[lid] = steps;
    workgroupBarrier();
    if lid == 0u {
        var total = 0u;
        for (var x = 0u; x < WG; x++) {
            total += sh_steps[x] + 1u;
        }
        records[nwg.x * nwg.y * W * (KD * 3u + 1u) + group] = total;
    }
}
