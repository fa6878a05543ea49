//! Formula laws end to end: every `laws/*.toml` of a built-in law reaches the hand-written law's
//! best objective on the published tables from the same starts, a fit file of a formula law is
//! all `predict` needs, and formula errors reach the user with a caret under the fault.

use std::path::{Path, PathBuf};

use mixlaw::backend::Cpu;
use mixlaw::data::Dataset;
use mixlaw::fit::FitSettings;
use mixlaw::law::{formula, registry, Law};

use crate::common::{self, example, mixlaw, mixlaw_ok, temp_dir};

fn law_file(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("laws")
        .join(format!("{name}.toml"))
}

fn best(ds: &Dataset, law: &Law, s: &FitSettings) -> f64 {
    let fit = mixlaw::fit::fit(ds, law, s, &Cpu, &[], &mut |_, _, _| {}).unwrap();
    fit.targets[0].objective
}

/// The hand-written law and its law file, fitted on the CPU with the same settings (the law's
/// conventions; starts drawn from the same seed, which gives both the same starts), reach the
/// same best objective to 1e-9 relative: Hoffmann's grid on Epoch's points for chinchilla, 12
/// random starts on the paper's c4 train split for the mixture laws (no nesting: a formula law
/// nests no other law, so neither fit starts from a nested one).
///
/// The joint and full laws are held at the built-in fit's optimum instead (objective to 1e-12):
/// in their long, flat valleys two trajectories from one start part ways at the first rounding
/// difference, so that even the built-in law lands in other basins under other seeds (measured
/// on c4 with 12 starts: joint 6.7439e-6 built-in against 6.9308e-6 from the file, full 6.9108e-6
/// against 6.8024e-6, the file's the better one there; with 40 starts still 6.7439e-6 against
/// 6.9011e-6). The best objective of such a fit is a property of the starts' luck, not of the law.
#[test]
#[ignore = "slow tier: cargo test -- --include-ignored"]
fn law_files_reach_the_built_in_best_objectives_on_published_tables() {
    let Some(c4) = common::slimpajama_train("c4_loss") else {
        return;
    };
    let Some(epoch) = common::epoch() else {
        return;
    };
    let mut failed = Vec::new();
    for builtin in registry::builtin() {
        let name = builtin.name();
        let file = formula::file::load(&law_file(name)).unwrap();
        let mut s = FitSettings::defaults_for(builtin);
        s.nest = false;
        if builtin.uses_mixture() {
            s.starts = 12;
        }
        let ds = if builtin.uses_mixture() { &c4 } else { &epoch };
        if name == "joint" || name == "full" {
            let fit = mixlaw::fit::fit(ds, builtin, &s, &Cpu, &[], &mut |_, _, _| {}).unwrap();
            let p = fit.param_vector(builtin, 0);
            let objective = |law: &Law| mixlaw::fit::objective_at(ds, 0, law, &s, &p).unwrap();
            let (a, b) = (objective(builtin), objective(&file));
            assert_eq!(
                a, fit.targets[0].objective,
                "{name}: the fit's reported objective"
            );
            if (a - b).abs() > 1e-12 * a.abs() {
                failed.push(format!("{name} at the built-in optimum: {a:e} vs {b:e}"));
            }
            continue;
        }
        let (a, b) = (best(ds, builtin, &s), best(ds, &file, &s));
        eprintln!("{name}: built-in {a:e}, law file {b:e}");
        if (a - b).abs() > 1e-9 * a.abs() {
            failed.push(format!("{name}: built-in {a:e} vs law file {b:e}"));
        }
    }
    assert!(failed.is_empty(), "{failed:?}");
}

/// A fit of a law file stores the file's text: `predict` rebuilds the law from the fit file
/// alone (the law file deleted), and predicts what the built-in law's fit predicts.
#[test]
fn a_formula_fit_file_is_all_predict_needs() {
    let tmp = temp_dir("formula-fit-file");
    let law = tmp.join("mine.toml");
    std::fs::copy(law_file("additive"), &law).unwrap();
    let fit = tmp.join("fit.json");
    let table: &str = &example();
    mixlaw_ok(&[
        "fit",
        table,
        "--law",
        law.to_str().unwrap(),
        "--backend",
        "cpu",
        "-o",
        fit.to_str().unwrap(),
    ]);
    let stored: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&fit).unwrap()).unwrap();
    assert_eq!(
        stored["law_file"].as_str().unwrap(),
        std::fs::read_to_string(&law).unwrap()
    );
    std::fs::remove_file(&law).unwrap();
    let from_file = mixlaw_ok(&["predict", fit.to_str().unwrap(), table]);
    let builtin_fit = tmp.join("builtin.json");
    mixlaw_ok(&[
        "fit",
        table,
        "--law",
        "additive",
        "--backend",
        "cpu",
        "-o",
        builtin_fit.to_str().unwrap(),
    ]);
    let from_builtin = mixlaw_ok(&["predict", builtin_fit.to_str().unwrap(), table]);
    let numbers = |t: &str| -> Vec<f64> {
        t.lines()
            .skip(1)
            .flat_map(|l| {
                l.split(',')
                    .filter_map(|v| v.parse::<f64>().ok())
                    .collect::<Vec<_>>()
            })
            .collect()
    };
    let (a, b) = (numbers(&from_file), numbers(&from_builtin));
    assert!(!a.is_empty() && a.len() == b.len());
    for (x, y) in a.iter().zip(&b) {
        assert!((x - y).abs() <= 1e-6 * y.abs().max(1e-12), "{x} vs {y}");
    }
}

/// An inline formula fits from the command line; a bad one is refused with the text and a caret
/// under the fault (exit 2), as are bad bounds and unknown law files.
#[test]
fn inline_formulas_and_their_errors_on_the_command_line() {
    let table: &str = &example();
    let out = mixlaw_ok(&[
        "fit",
        table,
        "--formula",
        "E + 1/sum_i(C[i]*h[i]^g) + A/N^alpha + B/D^beta",
        "--bound",
        "g=-1,1",
        "--backend",
        "cpu",
        "--starts",
        "20",
    ]);
    assert!(out.contains("alpha") && out.contains("C_web"), "{out}");
    let cases: [(&[&str], &str); 6] = [
        (&["--formula", "E + sqrt(-A) + 0*N"], "law 'formula' is not finite at any of its 100 starts on target target_loss"),
        (&["--formula", "E + A/N^alpha + (B/D^beta"], "expected ')', found the end of the formula\n    E + A/N^alpha + (B/D^beta\n                             ^"),
        (&["--formula", "E + A/N^alpha + foo(B)"], "unknown function 'foo'"),
        (&["--formula", "E + A/N^alpha", "--bound", "alpha=2,1"], "--bound 'alpha=2,1'"),
        (&["--formula", "E + A/N^alpha", "--bound", "Z=0,1"], "no parameter 'Z'"),
        (&["--law", "nowhere.toml"], "nowhere.toml"),
    ];
    for (args, want) in cases {
        let mut all = vec!["fit", table];
        all.extend_from_slice(args);
        let o = mixlaw(&all);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: {err}");
    }
    // A per-domain family needs a table with domains, even where the formula never reads h.
    let Some(epoch) = common::dataset(common::EPOCH) else {
        return;
    };
    let o = mixlaw(&[
        "fit",
        epoch.to_str().unwrap(),
        "--n-col",
        "Model Size",
        "--flops-col",
        "Training FLOP",
        "--target",
        "loss",
        "--formula",
        "E + sum_i(C[i]) + A/N^alpha",
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("svg_extracted_data.csv: no weight columns"),
        "{err}"
    );
    // A declared parameter the formula does not use is a warning, not an error.
    let tmp = temp_dir("formula-warning");
    let file = tmp.join("unused.toml");
    let text = std::fs::read_to_string(law_file("additive"))
        .unwrap()
        .replace(
            "[parameters]",
            "[parameters]\nunused = { bounds = [0, 1], start = { uniform = [0, 1] } }",
        );
    std::fs::write(&file, text).unwrap();
    let o = mixlaw(&[
        "fit",
        table,
        "--law",
        file.to_str().unwrap(),
        "--backend",
        "cpu",
        "--starts",
        "4",
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(
        err.contains("warning: parameter 'unused' is declared but the formula does not use it"),
        "{err}"
    );
}
