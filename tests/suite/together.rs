//! Inputs that belong together are checked together: a flag and its law, a path and its exit
//! code (issue 30's sweep). Each test failed before its fix.

use crate::common::*;

/// Run the binary with `args`, require exit 2 (bad input), and return its standard error.
fn refused(args: &[&str]) -> String {
    let out = mixlaw(args);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
    err
}

#[test]
fn a_bound_beside_a_law_that_is_not_a_formula_is_refused_not_ignored() {
    let laws = format!("{}/laws/additive.toml", env!("CARGO_MANIFEST_DIR"));
    for law in ["additive", "chinchilla", laws.as_str()] {
        for cmd in ["fit", "eval", "backtest", "bootstrap"] {
            let mut args = vec![cmd, "--law", law, "--bound", "alpha=0.9,1"];
            let example = example();
            args.insert(1, &example);
            if cmd == "bootstrap" {
                args.extend(["--replicates", "2"]);
            }
            if cmd == "eval" {
                args.extend(["--train", "model_size<4e8", "--test", "model_size>=4e8"]);
            }
            let err = refused(&args);
            assert!(
                err.contains("--bound") && err.contains("--formula") && err.contains("laws/"),
                "{args:?}: {err}"
            );
        }
    }
    // Beside a formula it still works.
    let fit = mixlaw_ok(&[
        "fit",
        &example(),
        "--formula",
        "E + 1/sum_i(C[i]*h[i]^g) + A/N^alpha + B/D^beta",
        "--bound",
        "alpha=0.9,1",
        "--starts",
        "4",
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_str(&fit).unwrap();
    let alpha = v["targets"][0]["params"]["alpha"].as_f64().unwrap();
    assert!((0.9..=1.0).contains(&alpha), "{alpha}");
}

#[test]
fn a_path_that_names_no_readable_file_exits_2_like_any_bad_input() {
    let dir = temp_dir("together-paths");
    let missing = dir.join("missing.csv").display().to_string();
    let a_dir = dir.display().to_string();
    for args in [
        vec!["fit", missing.as_str(), "--law", "additive"],
        vec!["fit", a_dir.as_str(), "--law", "additive"],
        vec!["predict", missing.as_str(), &example()],
        vec!["merge", missing.as_str()],
    ] {
        let err = refused(&args);
        assert!(err.contains(&a_dir), "{args:?} names the path: {err}");
    }
}

#[test]
fn a_law_file_is_an_input_that_no_output_replaces_even_with_force() {
    let dir = temp_dir("together-law-file");
    let law = dir.join("mine.toml");
    let text =
        std::fs::read_to_string(format!("{}/laws/additive.toml", env!("CARGO_MANIFEST_DIR")))
            .unwrap();
    std::fs::write(&law, &text).unwrap();
    let l = law.display().to_string();
    // Another spelling of the same file is the same input.
    let other = format!("{}/./mine.toml", dir.display());
    for args in [
        vec![
            "fit",
            &example(),
            "--law",
            &l,
            "--starts",
            "2",
            "--out",
            &other,
            "--force",
        ],
        vec![
            "bootstrap",
            &example(),
            "--law",
            &l,
            "--replicates",
            "2",
            "--out",
            &l,
            "--force",
        ],
        vec![
            "simulate", "--law", &l, "--params", "E=1", "--out", &l, "--force",
        ],
    ] {
        let err = refused(&args);
        assert!(err.contains("input"), "{args:?}: {err}");
        assert_eq!(
            std::fs::read_to_string(&law).unwrap(),
            text,
            "{args:?} replaced the law file"
        );
    }
}

#[test]
fn the_optimum_is_never_worse_than_its_own_lattice_point() {
    // A law with a kink at h = 0.1: mirror descent, started just off the lattice point, ended
    // 1.4e-7 above it.
    let dir = temp_dir("together-kink");
    let fit = dir.join("fit.json").display().to_string();
    let formula = "E + sum_i(C[i]*max(h[i], 0.1)) + A/N^alpha + B/D^beta";
    mixlaw_ok(&[
        "fit",
        &example(),
        "--formula",
        formula,
        "--starts",
        "8",
        "-o",
        &fit,
    ]);
    let json = mixlaw_ok(&[
        "optimize", "--fit", &fit, "--n", "1e9", "--d", "2e10", "--json",
    ]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    for t in v["targets"].as_array().unwrap() {
        let (loss, lattice) = (
            t["loss"].as_f64().unwrap(),
            t["lattice_loss"].as_f64().unwrap(),
        );
        assert!(
            loss <= lattice,
            "{}: {loss} above the lattice's {lattice}",
            t["target"]
        );
    }
}

#[test]
fn a_domain_named_like_a_parameter_is_refused_naming_both() {
    let dir = temp_dir("together-names");
    let text = std::fs::read_to_string(example()).unwrap();
    let alpha = dir.join("alpha.csv");
    std::fs::write(&alpha, text.replacen("weight_web", "weight_alpha", 1)).unwrap();
    let a = alpha.display().to_string();
    let formula = "E + 1/sum_i(C[i]*h[i]^0.5) + C_web + A/N^alpha + B/D^beta";
    for (args, name) in [
        (
            vec!["fit", &a, "--law", "full", "--starts", "2"],
            "gamma_alpha",
        ),
        (
            vec!["bootstrap", &a, "--law", "full", "--replicates", "2"],
            "gamma_alpha",
        ),
        (
            vec!["fit", &example(), "--formula", formula, "--starts", "2"],
            "C_web",
        ),
    ] {
        let err = refused(&args);
        assert!(
            err.contains(&format!("two parameters named '{name}'")),
            "{args:?}: {err}"
        );
    }
    let err = refused(&[
        "simulate",
        "--law",
        "full",
        "--domains",
        "alpha,web",
        "--params",
        "E=1",
    ]);
    assert!(err.contains("'gamma_alpha'"), "{err}");
}

#[test]
fn no_target_may_take_the_name_of_the_targets_mean() {
    let dir = temp_dir("together-avg");
    let text = std::fs::read_to_string(example()).unwrap();
    let table = dir.join("avg.csv");
    std::fs::write(&table, text.replacen("target_loss", "avg", 1)).unwrap();
    let t = table.display().to_string();
    let err = refused(&["fit", &t, "--target", "avg", "--starts", "2"]);
    assert!(
        err.contains("column 'avg'") && err.contains("mean"),
        "{err}"
    );
    // A fit file that calls a target so (written by hand, or by an older mixlaw) is refused.
    let fit = example_fit(&dir, &["--starts", "2"]);
    let renamed = std::fs::read_to_string(&fit)
        .unwrap()
        .replace("\"target_loss\"", "\"avg\"");
    let edited = dir.join("edited.json");
    std::fs::write(&edited, renamed).unwrap();
    let e = edited.display().to_string();
    let err = refused(&[
        "optimize", "--fit", &e, "--n", "1e9", "--d", "2e10", "--target", "avg",
    ]);
    assert!(err.contains("a target called 'avg'"), "{err}");
}

#[test]
fn a_study_beside_a_fit_must_be_one_of_that_fit() {
    let dir = temp_dir("together-study");
    let fit = example_fit(&dir, &["--starts", "4"]);
    let d = |name: &str| dir.join(name).display().to_string();
    let study = |name: &str, table: &str, law: &str| {
        let s = d(name);
        let args = [
            "bootstrap",
            table,
            "--law",
            law,
            "--replicates",
            "4",
            "--starts",
            "2",
        ];
        mixlaw_ok(&[&args[..], &["--seed", "1", "--out", &s]].concat());
        s
    };
    let ex = example();
    let report = |s: &str, out: &str| {
        let args = [
            "report",
            &fit,
            "--table",
            &ex,
            "--study",
            s,
            "--out",
            &d(out),
        ];
        mixlaw(&args)
    };
    // Another law's study (fewer parameters: the report panicked; more: it drew the wrong
    // law's histograms), and a study of another table's targets.
    let text = std::fs::read_to_string(&ex).unwrap();
    std::fs::write(d("other.csv"), text.replacen("target_loss", "web_loss", 1)).unwrap();
    for (s, why) in [
        (
            study("chinchilla.jsonl", &ex, "chinchilla"),
            "chinchilla law",
        ),
        (study("joint.jsonl", &ex, "joint"), "joint law"),
        (
            study("other.jsonl", &d("other.csv"), "additive"),
            "target web_loss",
        ),
    ] {
        let out = report(&s, "report.html");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{s}: {err}");
        assert!(
            err.contains("not a study of this fit") && err.contains(why),
            "{s}: {err}"
        );
        let plot = [
            "plot",
            "histograms",
            &fit,
            "--study",
            &s,
            "--out",
            &d("h.svg"),
        ];
        assert_eq!(mixlaw(&plot).status.code(), Some(2), "{s}");
    }
    // A study of the same runs with the weight columns in another order is the same study: its
    // parameters come out in the fit's order, named as before.
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let order = [2, 1, 0, 3, 4, 5];
    let mut swapped = vec![order.map(|i| header[i]).join(",")];
    for l in lines {
        let cells: Vec<&str> = l.split(',').collect();
        swapped.push(order.map(|i| cells[i]).join(","));
    }
    std::fs::write(d("swapped.csv"), swapped.join("\n") + "\n").unwrap();
    let s = study("swapped.jsonl", &d("swapped.csv"), "additive");
    let out = report(&s, "swapped.html");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (file, _) = mixlaw::fit::FitFile::read(fit.as_ref()).unwrap();
    let raw = mixlaw::bootstrap::StudyFile::read(s.as_ref()).unwrap();
    assert_eq!(raw.header.domains, ["books", "code", "web"]);
    let original = raw.records.clone();
    let study = mixlaw::bootstrap::Study {
        header: raw.header,
        records: raw.records,
    };
    let aligned = study.aligned_with(&file, s.as_ref()).unwrap();
    assert_eq!(aligned.header.domains, file.domains);
    let names: Vec<&str> = file.targets[0]
        .params
        .0
        .iter()
        .map(|(n, _)| n.as_str())
        .collect();
    for (a, r) in aligned.records.iter().zip(&original) {
        let got: Vec<&str> = a.params.0.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(got, names);
        for (n, v) in &a.params.0 {
            assert_eq!(Some(*v), r.params.get(n), "{n}");
        }
    }
}

#[test]
fn a_parameters_bounds_are_given_once() {
    let formula = "E + A/N^alpha + B/D^beta";
    let bounds = ["--bound", "alpha=0,1", "--bound", "alpha=0.2,0.5"];
    let err = refused(&[&["fit", &example(), "--formula", formula][..], &bounds].concat());
    assert!(err.contains("--bound alpha is given twice"), "{err}");
}

#[test]
fn a_formula_number_beyond_a_double_is_refused_where_it_is_written() {
    let err = refused(&["fit", &example(), "--formula", "E + A/N^alpha + 1e999"]);
    assert!(
        err.contains("'1e999' is beyond the range of a double"),
        "{err}"
    );
    assert!(
        err.contains("\n    E + A/N^alpha + 1e999\n                    ^"),
        "{err}"
    );
}

#[test]
fn a_backtest_rolls_over_a_scale_not_a_target_or_a_weight() {
    for (by, role) in [
        ("target_loss", "a target"),
        ("weight_web", "a domain weight"),
    ] {
        let err = refused(&["backtest", &example(), "--by", by, "--starts", "2"]);
        assert!(err.contains(&format!("--by {by} is {role}")), "{by}: {err}");
    }
}

#[test]
fn a_simulated_truth_lies_within_its_laws_bounds() {
    let dir = temp_dir("together-simulate-bounds");
    let law = dir.join("bounded.toml");
    std::fs::write(
        &law,
        "name = \"bounded\"\nformula = \"E + A/N^alpha\"\n[parameters]\n\
         E = { bounds = [0, 10], start = { uniform = [1, 3] } }\n\
         A = { bounds = [0, 100], start = { uniform = [1, 3] } }\n\
         alpha = { bounds = [0.1, 1], start = { uniform = [0.2, 0.5] } }\n",
    )
    .unwrap();
    let l = law.display().to_string();
    let sim = |params: &str| mixlaw(&["simulate", "--law", &l, "--params", params]);
    assert!(sim("E=1.5,A=4,alpha=0.3").status.success());
    let err = refused(&["simulate", "--law", &l, "--params", "E=1.5,A=4,alpha=2"]);
    assert!(
        err.contains("alpha = 2 is outside the bounded law's bounds [0.1, 1]"),
        "{err}"
    );
}

#[test]
fn a_resumed_study_names_the_setting_that_differs() {
    let dir = temp_dir("together-resume");
    let s = dir.join("study.jsonl").display().to_string();
    let boot = [
        "bootstrap",
        &example(),
        "--replicates",
        "3",
        "--starts",
        "2",
        "-o",
        &s,
    ];
    mixlaw_ok(&boot);
    let err = refused(&[&boot[..], &["--resume", "--loss", "mse"]].concat());
    assert!(
        err.contains("it differs in: study.fit.loss is the default, not \"mse\""),
        "{err}"
    );
    let mut more = boot.to_vec();
    more[3] = "4";
    let err = refused(&[&more[..], &["--resume"]].concat());
    assert!(
        err.contains("it differs in: study.replicates is 3, not 4"),
        "{err}"
    );
}
