//! The separable lattice sweep against brute force: random fits of every built-in mixture law,
//! k = 2…8 at several resolutions, free and boxed.

use mixlaw::backend::Cpu;
use mixlaw::law::{registry, Point};
use mixlaw::mixture::{
    lattice, lattice_best, lattice_best_batched, Bounds, Laws, Search, Weighting,
};
use mixlaw::rng::Rng;

type Best = Vec<Vec<(f64, Vec<f64>)>>;

/// Every feasible point evaluated with the law itself; the `top` best of each weighting by that
/// value (a stable sort: ties keep rank order), then re-scored and sorted as the search does.
fn brute(laws: &Laws, ws: &[Weighting], b: &Bounds, r: usize, top: usize) -> Best {
    let k = laws.domains.len();
    let mut all: Best = vec![Vec::new(); ws.len()];
    let mut j = vec![0; k];
    lattice::unrank(0, r, &mut j);
    loop {
        let h: Vec<f64> = j.iter().map(|&v| v as f64 / r as f64).collect();
        let inside = h
            .iter()
            .zip(b.lo.iter().zip(&b.hi))
            .all(|(v, (l, u))| *v >= l - 1e-12 && *v <= u + 1e-12);
        if inside {
            let x = Point::new(laws.n, laws.d, &h);
            let l: Vec<f64> = laws
                .params
                .iter()
                .map(|p| laws.law.eval(p, &x, None))
                .collect();
            for (o, list) in ws.iter().zip(&mut all) {
                let mut v = 0.0;
                for (w, l) in o.weights.iter().zip(&l).filter(|(w, _)| **w != 0.0) {
                    v += w * l;
                }
                list.push((v, h.clone()));
            }
        }
        if !lattice::next(&mut j) {
            break;
        }
    }
    for (o, list) in ws.iter().zip(&mut all) {
        list.sort_by(|a, b| a.0.total_cmp(&b.0));
        list.truncate(top);
        for (v, h) in list.iter_mut() {
            *v = laws.value(o, h, None);
        }
        list.sort_by(|a, b| a.0.total_cmp(&b.0));
    }
    all
}

fn weightings(targets: usize, rng: &mut Rng) -> Vec<Weighting> {
    let mut ws: Vec<Weighting> = (0..targets)
        .map(|t| {
            let mut weights = vec![0.0; targets];
            weights[t] = 1.0;
            Weighting {
                name: format!("t{t}"),
                weights,
            }
        })
        .collect();
    ws.push(Weighting {
        name: "avg".into(),
        weights: vec![1.0 / targets as f64; targets],
    });
    let mut weights: Vec<f64> = (0..targets).map(|_| rng.range(0.0, 2.0)).collect();
    weights[0] = 0.0;
    ws.push(Weighting {
        name: "mix".into(),
        weights,
    });
    ws
}

/// The same best points, in the same order, with the same re-scored values, as evaluating every
/// point with the law (bounds on lattice points, between them, and a domain pinned to one
/// level); and the same as the point-by-point sweep on the CPU.
#[test]
fn the_sweep_finds_the_brute_force_best_of_every_law() {
    let mut rng = Rng::new(15, 0);
    let mut checked = 0;
    for law in registry::builtin().iter().filter(|l| l.uses_mixture()) {
        for k in 2..=8 {
            for r in [1, 3, 7, 12]
                .into_iter()
                .filter(|&r| lattice::count(k, r) < 60_000)
            {
                let targets = 3;
                let laws = Laws {
                    law: law.clone(),
                    domains: (0..k).map(|i| format!("d{i}")).collect(),
                    params: (0..targets)
                        .map(|_| law.sample_start(k, &mut rng))
                        .collect(),
                    n: rng.range(10.0, 1e4),
                    d: rng.range(1.0, 1e3),
                };
                let ws = weightings(targets, &mut rng);
                let mut boxed = Bounds::free(k);
                boxed.lo[0] = 1.0 / r as f64;
                boxed.hi[k - 1] = 0.55;
                if k > 3 {
                    boxed.lo[2] = 0.3;
                    boxed.hi[2] = 0.3 + 0.5 / r as f64;
                }
                for b in [Bounds::free(k), boxed] {
                    if b.check(&laws.domains).is_err() {
                        continue;
                    }
                    let s = Search {
                        resolution: r,
                        top: 5,
                        max_iter: 0,
                    };
                    let got = lattice_best(&laws, &ws, &b, &s, &Cpu);
                    let want = brute(&laws, &ws, &b, r, 5);
                    assert_eq!(got, want, "{} k={k} r={r} {b:?}", law.name());
                    let old = lattice_best_batched(&laws, &ws, &b, &s, &Cpu);
                    assert_eq!(got, old, "{} k={k} r={r}", law.name());
                    if want.iter().all(|l| !l.is_empty()) {
                        checked += 1;
                    } else {
                        assert!(b.lo[0] > 0.0, "only a box may empty the lattice");
                    }
                }
            }
        }
    }
    assert!(checked > 100, "{checked}");
}
