//! The formula compiler held to the hand-written laws: every `laws/*.toml` of a built-in law gives
//! its law's parameters, starts, grid, values and gradients; and formula errors point at the fault.

use std::path::{Path, PathBuf};

use super::file;
use crate::law::{registry, Law, Point, Points};
use crate::rng::Rng;

fn law_file(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("laws")
        .join(format!("{name}.toml"))
}

/// `a` and `b` within `tol` relative (of the larger).
fn close(a: f64, b: f64, tol: f64) -> bool {
    a == b || (a - b).abs() <= tol * a.abs().max(b.abs())
}

fn pairs() -> Vec<(Law, Law)> {
    registry::builtin()
        .iter()
        .map(|b| (b.clone(), file::load(&law_file(b.name())).unwrap()))
        .collect()
}

#[test]
fn law_files_declare_the_built_in_parameters_starts_and_grids() {
    for (builtin, formula) in pairs() {
        let name = builtin.name();
        assert_eq!(formula.name(), name);
        assert_eq!(formula.parameters(), builtin.parameters(), "{name}");
        assert_eq!(formula.uses_mixture(), builtin.uses_mixture(), "{name}");
        assert_eq!(formula.uses_scale(), builtin.uses_scale(), "{name}");
        assert_eq!(formula.conventions(), builtin.conventions(), "{name}");
        for k in [1usize, 3, 7] {
            let domains: Vec<String> = (0..k).map(|i| format!("d{i}")).collect();
            assert_eq!(
                formula.params(&domains),
                builtin.params(&domains),
                "{name} k={k}"
            );
            let (mut r1, mut r2) = (Rng::new(7, k as u64), Rng::new(7, k as u64));
            for _ in 0..20 {
                let (a, b) = (
                    builtin.sample_start(k, &mut r1),
                    formula.sample_start(k, &mut r2),
                );
                assert_eq!(a.len(), b.len());
                for (x, y) in a.iter().zip(&b) {
                    assert!(close(*x, *y, 1e-14), "{name} start {x} vs {y}");
                }
            }
        }
        match (builtin.grid(1e6, 1e9), formula.grid(1e6, 1e9)) {
            (None, None) => {}
            (Some(a), Some(b)) => assert_eq!(a, b, "{name} grid"),
            (a, b) => panic!("{name}: grid {} vs {}", a.is_some(), b.is_some()),
        }
    }
}

/// Random points, some on the simplex's boundary.
fn points(k: usize, n: usize, rng: &mut Rng) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let (mut ln_n, mut ln_d, mut h) = (vec![], vec![], vec![]);
    for j in 0..n {
        let (_, mut hh, nn, dd) = crate::law::tests::fixture(k, rng);
        if j % 5 == 0 && k > 1 {
            hh[j % k] = 0.0;
            let s: f64 = hh.iter().sum();
            hh.iter_mut().for_each(|v| *v /= s);
        }
        ln_n.push(nn.ln());
        ln_d.push(dd.ln());
        h.extend(hh);
    }
    (ln_n, ln_d, h)
}

#[test]
fn law_files_give_the_built_in_values_and_gradients_to_1e_12() {
    let mut rng = Rng::new(11, 0);
    for (builtin, formula) in pairs() {
        let name = builtin.name();
        for k in [1usize, 2, 3, 7] {
            let n = 150;
            let (ln_n, ln_d, h) = points(k, n, &mut rng);
            let ln_h: Vec<f64> = h.iter().map(|&v| crate::law::ln_weight(v)).collect();
            // Domain-major copies, as the fitting rows lay them out (the law floor's own
            // `Points`, not the objective's rows: the law module stands beneath the objective).
            let cols = |v: &[f64]| -> Vec<f64> {
                (0..k)
                    .flat_map(|i| (0..n).map(move |j| v[j * k + i]))
                    .collect()
            };
            let (h_cols, ln_h_cols) = (cols(&h), cols(&ln_h));
            let rows = Points {
                ln_n: &ln_n,
                ln_d: &ln_d,
                h: &h,
                ln_h: &ln_h,
                k,
                h_cols: &h_cols,
                ln_h_cols: &ln_h_cols,
                stride: n,
            };
            for _ in 0..5 {
                let p = builtin.sample_start(k, &mut rng);
                let dim = p.len();
                let x: Points = rows;
                let (mut v1, mut g1) = (vec![0.0; n], vec![0.0; dim * n]);
                let (mut v2, mut g2) = (vec![0.0; n], vec![0.0; dim * n]);
                builtin.eval_rows(&p, &x, &mut v1, Some(&mut g1));
                formula.eval_rows(&p, &x, &mut v2, Some(&mut g2));
                let mut v3 = vec![0.0; n];
                formula.eval_rows(&p, &x, &mut v3, None);
                for j in 0..n {
                    assert!(
                        close(v1[j], v2[j], 1e-12),
                        "{name} k={k} row {j}: {} vs {}",
                        v1[j],
                        v2[j]
                    );
                    assert_eq!(
                        v2[j], v3[j],
                        "{name}: the value with and without the gradient"
                    );
                    for i in 0..dim {
                        let (a, b) = (g1[i * n + j], g2[i * n + j]);
                        assert!(
                            close(a, b, 1e-12),
                            "{name} k={k} row {j} ∂/∂p{i}: {a} vs {b}"
                        );
                    }
                    // One point at a time, and the mixture gradient.
                    let pt: Point = rows.point(j);
                    let (mut gp1, mut gp2) = (vec![0.0; dim], vec![0.0; dim]);
                    let (a, b) = (
                        builtin.eval(&p, &pt, Some(&mut gp1)),
                        formula.eval(&p, &pt, Some(&mut gp2)),
                    );
                    assert!(close(a, b, 1e-12), "{name} point {j}: {a} vs {b}");
                    for (a, b) in gp1.iter().zip(&gp2) {
                        assert!(
                            close(*a, *b, 1e-12),
                            "{name} point {j} gradient: {a} vs {b}"
                        );
                    }
                    if builtin.uses_mixture() {
                        let (mut d1, mut d2) = (vec![0.0; k], vec![0.0; k]);
                        let hp = &rows.point(j).h.to_vec();
                        let inner: Vec<f64> = hp.iter().map(|v| v.max(1e-3)).collect();
                        let q = Point::new(300.0, 20.0, &inner);
                        builtin.grad_h(&p, &q, &mut d1);
                        formula.grad_h(&p, &q, &mut d2);
                        // Relative to the gradient vector's size: a component of the full law's
                        // ∂L/∂h is a sum of five terms of both signs that can cancel to a small
                        // fraction of the vector, and both codes round those terms differently.
                        let size = d1.iter().fold(0.0f64, |m, v| m.max(v.abs()));
                        for (a, b) in d1.iter().zip(&d2) {
                            assert!(
                                (a - b).abs() <= 1e-12 * size,
                                "{name} ∂L/∂h: {a} vs {b} (|∂L/∂h| {size})"
                            );
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn formula_errors_point_at_the_fault() {
    let cases = [
        ("E + A/N^alpha + foo(B)", "unknown function 'foo'", 16..19),
        ("E + C[i]", "outside sum_i", 4..8),
        ("E + sum_i(h)", "h is per domain", 10..11),
        (
            "E + sum_i(sum_i(h[i]))",
            "inside another domain reduction",
            10..15,
        ),
        ("exp(1, 2)", "exp takes 1 argument, not 2", 0..3),
        ("E + N[i]", "outside sum_i", 4..8),
        ("E + sum_i(N[i])", "N does not vary over domains", 10..14),
        ("E + log", "'log' is a function", 4..7),
    ];
    for (text, msg, span) in cases {
        let e = super::compile(text, Vec::new(), true).unwrap_err();
        assert!(e.message.contains(msg), "{text}: {e}");
        assert_eq!(e.span, span, "{text}: {e}");
    }
    // In a law file, an undeclared name is an error and an unused one a warning.
    let decl = |n: &str| super::Decl::inline(n, false, false);
    let e = super::compile("E + X", vec![decl("E")], false).unwrap_err();
    assert!(
        e.message.contains("unknown name 'X': the parameters are E"),
        "{e}"
    );
    let c = super::compile("E", vec![decl("E"), decl("F")], false).unwrap();
    assert_eq!(c.warnings.len(), 1);
    assert!(c.warnings[0].contains("'F'"), "{:?}", c.warnings);
}

#[test]
fn inline_formulas_declare_unknown_names_by_role() {
    let (law, warnings) = file::inline("E + A/N^alpha + B/D^beta", &[]).unwrap();
    assert!(warnings.is_empty());
    let specs = law.params(&[]);
    let names: Vec<&str> = specs.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["E", "A", "alpha", "B", "beta"]);
    assert!(specs[0].amplitude && specs[1].amplitude && !specs[2].amplitude);
    assert_eq!((specs[2].lo, specs[2].hi), (-3.0, 3.0));
    assert_eq!(
        specs[1].power,
        Some(crate::law::Power {
            exponent: 2,
            of: crate::law::Axis::N
        })
    );
    assert_eq!(
        specs[3].power,
        Some(crate::law::Power {
            exponent: 4,
            of: crate::law::Axis::D
        })
    );
    let (law, _) = file::inline("E + 1/sum_i(C[i]*h[i]^g)", &[("g".into(), [0.0, 2.0])]).unwrap();
    let specs = law.params(&["a".into(), "b".into()]);
    let names: Vec<&str> = specs.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["E", "C_a", "C_b", "g"]);
    assert_eq!((specs[3].lo, specs[3].hi), (0.0, 2.0));
    // The stored text rebuilds the same law.
    let again = file::from_toml(law.source().unwrap(), Path::new("stored")).unwrap();
    assert_eq!(again.params(&["a".into()]), law.params(&["a".into()]));
    let e = file::inline("E + A/N^alpha", &[("Z".into(), [0.0, 1.0])]).unwrap_err();
    assert!(e.to_string().contains("no parameter 'Z'"), "{e}");
    let e = file::inline("E + A/N^alpha", &[("alpha".into(), [1.0, 0.0])]).unwrap_err();
    assert!(e.to_string().contains("empty"), "{e}");
}

#[test]
fn law_file_errors_name_the_problem() {
    let base = "name = \"x\"\nformula = \"E + A/N^alpha\"\n[parameters]\n";
    let e_ok = "E = { bounds = [0, 10], start = { uniform = [1, 3] }, amplitude = true }\n";
    let a_ok = "A = { bounds = [0, 10], start = { uniform = [1, 3] } }\n";
    let al_ok = "alpha = { bounds = [0, 3], start = { uniform = [0.1, 1] } }\n";
    let ok = format!("{base}{e_ok}{a_ok}{al_ok}");
    file::from_toml(&ok, Path::new("ok.toml")).unwrap();
    let cases = [
        (format!("{base}{e_ok}{a_ok}"), "unknown name 'alpha'"),
        (format!("{base}{e_ok}{a_ok}alpha = {{ bounds = [3, 0], start = {{ uniform = [0.1, 1] }} }}\n"), "bounds [3, 0] are empty"),
        (format!("{base}{e_ok}{a_ok}alpha = {{ bounds = [0, 3], start = {{ uniform = [1, 5] }} }}\n"), "outside the bounds"),
        (format!("{base}{e_ok}{a_ok}alpha = {{ bounds = [0, 3], start = {{ uniform = [1, 1] }} }}\n"), "start range [1, 1] is empty"),
        (format!("{base}{e_ok}{a_ok}{al_ok}N = {{ bounds = [0, 3], start = {{ uniform = [1, 2] }} }}\n"), "is an input"),
        (format!("{base}{e_ok}{a_ok}{al_ok}x = {{ bounds = [0, 3] }}\n"), "parameter 'x'"),
        (ok.replace("E + A/N^alpha", "E + (A/N^alpha"), "expected ')'"),
        (ok.replace("[parameters]", "colour = 1\n[parameters]"), "unknown field"),
    ];
    for (text, msg) in cases {
        let e = file::from_toml(&text, Path::new("bad.toml")).unwrap_err();
        assert!(e.to_string().contains(msg), "{msg}: {e}");
        assert!(e.to_string().starts_with("bad.toml: "), "{e}");
        assert_eq!(e.exit_code(), 2);
    }
}

#[test]
fn generated_wgsl_has_the_kernel_signature() {
    for name in ["additive", "full", "chinchilla", "additive-shared-gamma"] {
        let law = file::load(&law_file(name)).unwrap();
        let Some(crate::law::Kernel::Generated(src)) = law.kernel() else {
            panic!("{name}: a formula law has a generated kernel");
        };
        assert!(
            src.contains("fn formula_law(ln_n: f32, ln_d: f32) -> f32 {"),
            "{src}"
        );
        assert!(src.contains("dl[o0]"), "{src}");
    }
}
