//! The commands end to end on the bundled example: fit → fit file → predict, eval's fields,
//! laws and simulate.

use crate::common::*;
use serde_json::Value;

#[test]
fn fit_then_predict_reproduces_the_train_error() {
    let dir = temp_dir("predict");
    let fit_path = dir.join("fit.json");
    let fit_out = mixlaw_ok(&[
        "fit",
        &example(),
        "--law",
        "additive",
        "--starts",
        "10",
        "--json",
        "--out",
        fit_path.to_str().unwrap(),
    ]);
    let printed: Value = serde_json::from_str(&fit_out).unwrap();
    let written: Value =
        serde_json::from_str(&std::fs::read_to_string(&fit_path).unwrap()).unwrap();
    assert_eq!(
        printed["targets"], written["targets"],
        "--json prints the fit file"
    );
    assert_eq!(written["version"], 1);
    assert_eq!(
        written["domains"],
        serde_json::json!(["web", "code", "books"])
    );
    assert_eq!(written["units"]["n"], 1e6);
    let t = &written["targets"][0];
    assert!(t["objective"].as_f64().unwrap() > 0.0);
    assert_eq!(
        t["params"].as_object().unwrap().len(),
        11,
        "5+2k parameters by name"
    );

    let csv = mixlaw_ok(&["predict", fit_path.to_str().unwrap(), &example()]);
    let mut r = csv::Reader::from_reader(csv.as_bytes());
    let header = r.headers().unwrap().clone();
    let obs = header.iter().position(|h| h == "target_loss").unwrap();
    let pred = header.iter().position(|h| h == "target_loss_pred").unwrap();
    let rows: Vec<csv::StringRecord> = r.records().map(|x| x.unwrap()).collect();
    assert_eq!(rows.len(), 384);
    let mre = rows
        .iter()
        .map(|x| {
            let (o, p): (f64, f64) = (x[obs].parse().unwrap(), x[pred].parse().unwrap());
            (p - o).abs() / o
        })
        .sum::<f64>()
        / rows.len() as f64
        * 100.0;
    let train = t["train_mre_pct"].as_f64().unwrap();
    assert!(
        (mre - train).abs() < 1e-9 * train.max(1.0),
        "predict MRE {mre} vs fit's train MRE {train}"
    );
}

#[test]
fn eval_reports_the_documented_fields() {
    let out = mixlaw_ok(&[
        "eval",
        &example(),
        "--law",
        "additive",
        "--starts",
        "10",
        "--train",
        "model_size<=200e6",
        "--test",
        "model_size==400e6",
        "--json",
    ]);
    let v: Value = serde_json::from_str(&out).unwrap();
    let t = &v["targets"][0];
    for field in ["target", "train_mre_pct", "test_mre_pct", "objective"] {
        assert!(!t[field].is_null(), "{field} missing from {t}");
    }
    assert_eq!(t["train_rows"], 288);
    assert_eq!(t["test_rows"], 96);
    // 0.2% noise: a good fit extrapolates to 2x the largest training model within ~0.5%.
    assert!(t["test_mre_pct"].as_f64().unwrap() < 0.5, "{t}");
    assert!(v["mean_test_mre_pct"].as_f64().is_some());
}

#[test]
fn laws_lists_every_family_with_its_parameter_count() {
    let v: Value = serde_json::from_str(&mixlaw_ok(&["laws", "--json"])).unwrap();
    let names: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "chinchilla",
            "additive",
            "joint",
            "simple",
            "full",
            "datamix",
            "linear"
        ]
    );
    let counts: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["parameters"].as_str().unwrap())
        .collect();
    assert_eq!(counts, ["5", "5+2k", "5+4k", "6+k", "5+6k", "2+k", "1+k"]);
}

#[test]
fn simulate_is_reproducible_and_rejects_unknown_parameters() {
    let args = [
        "simulate",
        "--law",
        "chinchilla",
        "--params",
        "E=1.7,A=5,alpha=0.3,B=2,beta=0.3",
        "--noise",
        "0.01",
        "--seed",
        "3",
    ];
    assert_eq!(mixlaw_ok(&args), mixlaw_ok(&args));
    let bad = mixlaw(&["simulate", "--law", "chinchilla", "--params", "E=1,Q=2"]);
    assert_eq!(bad.status.code(), Some(2));
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        err.contains("no parameter 'Q'") && err.contains("alpha"),
        "{err}"
    );
}

#[test]
fn units_change_parameters_but_not_the_objective_or_predictions() {
    let Some(table) = dataset(EPOCH) else {
        return;
    };
    let fit = |n_unit: &str, d_unit: &str| -> Value {
        let out = mixlaw_ok(&[
            "fit",
            table.to_str().unwrap(),
            "--law",
            "chinchilla",
            "--n-col",
            "Model Size",
            "--flops-col",
            "Training FLOP",
            "--target",
            "loss",
            "--drop-highest",
            "5",
            "--starts",
            "300",
            "--n-unit",
            n_unit,
            "--d-unit",
            d_unit,
            "--json",
        ]);
        serde_json::from_str(&out).unwrap()
    };
    let (paper, raw) = (fit("1e6", "1e9"), fit("1", "1"));
    assert_eq!(raw["units"]["n"], 1.0);
    let (a, b) = (&paper["targets"][0], &raw["targets"][0]);
    let (fa, fb) = (
        a["objective"].as_f64().unwrap(),
        b["objective"].as_f64().unwrap(),
    );
    assert!((fa - fb).abs() <= 1e-9 * fa, "objective {fa} vs {fb}");
    let (ma, mb) = (
        a["train_mre_pct"].as_f64().unwrap(),
        b["train_mre_pct"].as_f64().unwrap(),
    );
    assert!((ma - mb).abs() <= 1e-6 * ma, "MRE {ma} vs {mb}");
    // A is in different units: A_raw = A_paper · (1e6)^α.
    let alpha = a["params"]["alpha"].as_f64().unwrap();
    let converted = a["params"]["A"].as_f64().unwrap() * 1e6f64.powf(alpha);
    assert!((converted / b["params"]["A"].as_f64().unwrap() - 1.0).abs() < 1e-4);
}

#[test]
fn bench_measures_each_backend_per_batch_size() {
    let out = mixlaw_ok(&[
        "bench",
        "--batches",
        "8,16",
        "--reps",
        "1",
        "--cpu-only",
        "--json",
    ]);
    let v: Value = serde_json::from_str(&out).unwrap();
    let m = v.as_array().unwrap();
    assert_eq!(m.len(), 2);
    assert_eq!(m[1]["batch"], 16);
    assert!(m
        .iter()
        .all(|x| x["pairs_per_second"].as_f64().unwrap() > 0.0));
}

/// `--bandwidth` states the memory-bandwidth bound (bandwidth over the bytes one pair reads: 17
/// floats of a k = 7 row and its weight, 72 bytes) and each GPU row's throughput as a fraction
/// of it; CPU rows have none. (Only in a build with the `gpu` cargo feature.)
#[cfg(feature = "gpu")]
#[test]
fn bench_puts_gpu_throughput_against_the_bandwidth_bound() {
    let Some(_gpu) = open_gpu(None) else { return };
    let out = mixlaw_ok(&[
        "bench",
        "--batches",
        "8",
        "--reps",
        "1",
        "--bandwidth",
        "100",
        "--json",
    ]);
    let v: Value = serde_json::from_str(&out).unwrap();
    let m = v.as_array().unwrap();
    assert_eq!(m.len(), 2, "a CPU and a GPU row: {out}");
    assert!(m[0]["of_bound"].is_null(), "{out}");
    let gpu = &m[1];
    let achieved = gpu["kernel_pairs_per_second"]
        .as_f64()
        .or(gpu["pairs_per_second"].as_f64())
        .unwrap();
    let of_bound = gpu["of_bound"].as_f64().unwrap();
    let want = achieved / (100e9 / 72.0);
    assert!(
        (of_bound / want - 1.0).abs() < 1e-12,
        "{of_bound} vs {want}"
    );

    let bad = mixlaw(&["bench", "--cpu-only", "--bandwidth=0"]);
    assert_eq!(bad.status.code(), Some(2));
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        err.contains("--bandwidth must be a positive number of GB/s"),
        "{err}"
    );
}

#[test]
fn optimize_and_sweep_choose_mixtures_from_a_fit_file() {
    let dir = temp_dir("optimize");
    let fit = example_fit(&dir, &["--starts", "10"]);
    let f = fit.as_str();
    let v: Value = serde_json::from_str(&mixlaw_ok(&[
        "optimize", "--fit", f, "--n", "1e9", "--d", "2e10", "--json",
    ]))
    .unwrap();
    let t = &v["targets"][0];
    assert_eq!(t["target"], "avg");
    let h = t["h"].as_object().unwrap();
    assert_eq!(h.keys().collect::<Vec<_>>(), ["web", "code", "books"]);
    let sum: f64 = h.values().map(|x| x.as_f64().unwrap()).sum();
    assert!((sum - 1.0).abs() < 1e-12);
    assert!(t["loss"].as_f64().unwrap() <= t["lattice_loss"].as_f64().unwrap());

    // A cap that binds, and token availability (h·D ≤ tokens).
    let v: Value = serde_json::from_str(&mixlaw_ok(&[
        "optimize",
        "--fit",
        f,
        "--n",
        "1e9",
        "--d",
        "2e10",
        "--max",
        "web=0.5",
        "--available",
        "code=1e9",
        "--json",
    ]))
    .unwrap();
    let h = &v["targets"][0]["h"];
    assert!(
        h["web"].as_f64().unwrap() <= 0.5 + 1e-12 && h["code"].as_f64().unwrap() <= 0.05 + 1e-12,
        "{h}"
    );
    assert!(v["targets"][0]["on_bounds"]
        .as_array()
        .unwrap()
        .contains(&Value::from("web")));

    let bad = mixlaw(&[
        "optimize", "--fit", f, "--n", "1e9", "--d", "2e10", "--min", "web=0.7", "--min",
        "code=0.5",
    ]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("infeasible"));

    // A lattice over the limit (C(200,002, 2) ≈ 2e10 points) is refused with one that fits, unless
    // asked to go on; one above 1e8 points says how many and how long.
    let at = [
        "optimize",
        "--fit",
        f,
        "--n",
        "1e9",
        "--d",
        "2e10",
        "--resolution",
    ];
    let huge = mixlaw(&[&at[..], &["200000"]].concat());
    assert_eq!(huge.status.code(), Some(2));
    let msg = String::from_utf8_lossy(&huge.stderr);
    assert!(
        msg.contains("2.000e10 points") && msg.contains("--large-lattice"),
        "{msg}"
    );
    let fits = mixlaw::mixture::LATTICE_LIMIT;
    let r = (1..200_000u128)
        .rev()
        .find(|r| (r + 2) * (r + 1) / 2 <= fits)
        .unwrap();
    assert!(msg.contains(&format!("--resolution {r} fits")), "{msg}");
    let big = mixlaw(&[&at[..], &["15000"]].concat());
    assert!(big.status.success());
    let msg = String::from_utf8_lossy(&big.stderr);
    assert!(
        msg.contains("note: sweeping 1.125e8 lattice points; about"),
        "{msg}"
    );

    let csv = mixlaw_ok(&["sweep", "--fit", f, "--n", "1e9", "--d", "2e10"]);
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 3, "header, the one target, avg:\n{csv}");
    assert!(lines[0].starts_with("target,h_web,h_code,h_books"));
}

#[test]
fn optimize_over_scales_and_compute_budgets() {
    let dir = temp_dir("optimize-scale");
    let fit = example_fit(&dir, &["--starts", "10"]);
    let f = fit.as_str();
    // The additive law's optimum is the same at every (N, D).
    let v: Value = serde_json::from_str(&mixlaw_ok(&[
        "optimize", "--fit", f, "--n", "1e9", "--d", "1e10", "--n-grid", "1e8,1e10", "--d-grid",
        "1e9,1e11", "--json",
    ]))
    .unwrap();
    let rows = v["targets"].as_array().unwrap();
    assert_eq!(rows.len(), 4);
    for r in rows {
        for d in ["web", "code", "books"] {
            let (a, b) = (
                r["h"][d].as_f64().unwrap(),
                rows[0]["h"][d].as_f64().unwrap(),
            );
            assert!((a - b).abs() < 1e-7, "{d}: {a} vs {b}");
        }
    }
    // A budget: D = C/(6N), and the chosen N beats its neighbours at the same budget.
    let c = 1e21;
    let v: Value = serde_json::from_str(&mixlaw_ok(&[
        "optimize",
        "--fit",
        f,
        "--flops",
        "1e21",
        "--resolution",
        "10",
        "--json",
    ]))
    .unwrap();
    let t = &v["targets"][0];
    let (n, d, loss) = (
        t["n"].as_f64().unwrap(),
        t["d"].as_f64().unwrap(),
        t["loss"].as_f64().unwrap(),
    );
    assert!((6.0 * n * d / c - 1.0).abs() < 1e-9);
    for m in [0.5, 2.0] {
        let (n2, d2) = (n * m, c / (6.0 * n * m));
        let v: Value = serde_json::from_str(&mixlaw_ok(&[
            "optimize",
            "--fit",
            f,
            "--n",
            &n2.to_string(),
            "--d",
            &d2.to_string(),
            "--resolution",
            "10",
            "--json",
        ]))
        .unwrap();
        assert!(
            v["targets"][0]["loss"].as_f64().unwrap() > loss,
            "N x {m} is not worse"
        );
    }
}

/// A closed pipe (`| head -1`) ends a command quietly with exit 0; a full device (`> /dev/full`)
/// is an error message and exit 1; never a panic (exit 101). Help and version text too: clap's
/// own exit ignored the write error and exited 0.
#[test]
fn closed_and_full_stdout_are_not_panics() {
    use std::io::Read;
    use std::process::{Command, Stdio};
    let example: &str = &example();
    let commands: [&[&str]; 7] = [
        &["--help"],
        &["--version"],
        &["fit", "--help"],
        &["help", "bootstrap"],
        &["laws", "--json"],
        &["fit", example, "--starts", "2", "--json"],
        &[
            "simulate",
            "--law",
            "chinchilla",
            "--params",
            "E=1.7,A=400,alpha=0.34,B=410,beta=0.28",
            "--sizes",
            "1e8,2e8,3e8,4e8,5e8,6e8,7e8,8e8",
            "--tokens",
            "1e9,2e9,3e9,4e9,5e9,6e9,7e9,8e9,9e9,1e10",
        ],
    ];
    for args in commands {
        let mut child = Command::new(env!("CARGO_BIN_EXE_mixlaw"))
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut first = [0u8; 1];
        child.stdout.take().unwrap().read_exact(&mut first).unwrap();
        // The pipe is closed after one byte.
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");

        let full = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_mixlaw"))
            .args(args)
            .stdout(full)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert!(err.contains("No space left"), "{args:?}: {err}");
    }
    // Where it can be written, help is still help (exit 0), and a flag clap refuses still exit 2.
    let out = mixlaw(&["--version"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("mixlaw "));
    assert_eq!(mixlaw(&["fit", "--no-such-flag"]).status.code(), Some(2));
}

/// A closed or full stderr (`2>&1 | head -1` once the reader has gone, `2> /dev/full`) loses
/// the messages, never the run: a fit still writes its file and exits 0, a bad flag still exits
/// 2 (`eprintln!` panicked here, exit 101).
#[test]
fn closed_and_full_stderr_are_not_panics() {
    use std::process::{Command, Stdio};
    let dir = temp_dir("closed_stderr");
    let out = dir.join("fit.json");
    let fit = [
        "fit",
        &example(),
        "--starts",
        "2",
        "--out",
        out.to_str().unwrap(),
    ];
    let bad = ["fit", &example(), "--where", "N >"];
    for (args, code) in [(&fit[..], 0), (&bad[..], 2)] {
        for closed in [true, false] {
            let stderr = match closed {
                true => {
                    let (reader, writer) = std::io::pipe().unwrap();
                    drop(reader);
                    Stdio::from(writer)
                }
                false => Stdio::from(
                    std::fs::OpenOptions::new()
                        .write(true)
                        .open("/dev/full")
                        .unwrap(),
                ),
            };
            let _ = std::fs::remove_file(&out);
            let status = Command::new(env!("CARGO_BIN_EXE_mixlaw"))
                .args(args)
                .stdout(Stdio::null())
                .stderr(stderr)
                .status()
                .unwrap();
            assert_eq!(status.code(), Some(code), "{args:?}, closed: {closed}");
            assert_eq!(out.exists(), code == 0, "{args:?}, closed: {closed}");
        }
    }
}

/// A formula law with a product over `h` has no separable form: `optimize` says that it sweeps
/// the lattice point by point, and why; a formula of sums of per-domain terms says nothing.
#[test]
fn optimize_says_when_a_formula_law_is_swept_point_by_point() {
    let dir = temp_dir("formula_route");
    for (name, formula, told) in [
        ("prod", "E + prod_i(1 + C[i] * h[i])", true),
        ("sum", "E + 1/sum_i(C[i] * h[i]^g[i]) + A/N^a", false),
    ] {
        let fit = dir.join(format!("{name}.json"));
        mixlaw_ok(&[
            "fit",
            &example(),
            "--formula",
            formula,
            "--starts",
            "3",
            "--out",
            fit.to_str().unwrap(),
        ]);
        let out = mixlaw(&[
            "optimize",
            "--fit",
            fit.to_str().unwrap(),
            "--n",
            "1e9",
            "--d",
            "2e10",
            "--resolution",
            "10",
        ]);
        assert!(out.status.success(), "{out:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.contains("swept point by point"), told, "{name}: {err}");
        if told {
            assert!(err.contains("prod_i over h"), "{err}");
        }
    }
}
