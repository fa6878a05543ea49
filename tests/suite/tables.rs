//! The tables people have (issue 13): weight columns in any order (domains are matched by name,
//! never by position), text columns compared in `--where`, and long tables holding several
//! studies fitted one group at a time (`--group-by`).

use crate::common::*;
use mixlaw::data::{Column, DataSpec, Table};

/// `text` (a CSV) with its columns in the order `order` names them.
fn reorder(text: &str, order: &[&str]) -> String {
    let mut r = csv::Reader::from_reader(text.as_bytes());
    let header = r.headers().unwrap().clone();
    let at: Vec<usize> = order
        .iter()
        .map(|c| header.iter().position(|h| h == *c).unwrap())
        .collect();
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(order).unwrap();
    for rec in r.records() {
        let rec = rec.unwrap();
        w.write_record(at.iter().map(|&i| &rec[i])).unwrap();
    }
    String::from_utf8(w.into_inner().unwrap()).unwrap()
}

/// Run and require exit code 2; returns stderr.
fn mixlaw_err(args: &[&str]) -> String {
    let out = mixlaw(args);
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(2), "mixlaw {args:?}: {err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(out.stdout.is_empty(), "mixlaw {args:?} printed on failing");
    err
}

/// A table whose weight columns come in another order than the fit's predicts exactly what the
/// original order does (the CSV is the same byte for byte: the mixture is written in the fit's
/// order), through the command line and the library alike.
#[test]
fn predict_matches_domains_by_name() {
    let dir = temp_dir("tables-predict-order");
    let fit = example_fit(&dir, &["--starts", "10", "--backend", "cpu"]);
    let text = std::fs::read_to_string(example()).unwrap();
    let shuffled = reorder(
        &text,
        &[
            "target_loss",
            "weight_books",
            "n_tokens",
            "weight_web",
            "model_size",
            "weight_code",
        ],
    );
    let path = dir.join("shuffled.csv");
    std::fs::write(&path, &shuffled).unwrap();
    let original = mixlaw_ok(&["predict", &fit, &example()]);
    let reordered = mixlaw_ok(&["predict", &fit, path.to_str().unwrap()]);
    assert!(original.starts_with("row,N,D,weight_web,weight_code,weight_books,"));
    assert_eq!(reordered, original);

    // The library: an in-memory table with the columns in yet another order.
    let (file, law) = mixlaw::fit::FitFile::read(fit.as_ref()).unwrap();
    let csv_table = Table::read(example().as_ref()).unwrap();
    let spec = DataSpec::default();
    let from_csv = mixlaw::predict(&file, &law, &csv_table, &spec).unwrap();
    let mut r = csv::Reader::from_reader(text.as_bytes());
    let header = r.headers().unwrap().clone();
    let records: Vec<csv::StringRecord> = r.records().map(|x| x.unwrap()).collect();
    let column = |name: &str| {
        let i = header.iter().position(|h| h == name).unwrap();
        Column::from(
            records
                .iter()
                .map(|x| x[i].parse::<f64>().unwrap())
                .collect::<Vec<f64>>(),
        )
    };
    let memory = Table::from_columns(
        "<frame>",
        [
            "weight_code",
            "model_size",
            "weight_books",
            "target_loss",
            "n_tokens",
            "weight_web",
        ]
        .map(|c| (c.to_string(), column(c))),
    )
    .unwrap();
    let from_memory = mixlaw::predict(&file, &law, &memory, &spec).unwrap();
    assert_eq!(from_memory.domains, file.domains);
    assert_eq!(from_memory.h, from_csv.h);
    let bits = |p: &mixlaw::fit::Predictions| -> Vec<u64> {
        p.targets[0].predicted.iter().map(|v| v.to_bits()).collect()
    };
    assert_eq!(bits(&from_memory), bits(&from_csv));
}

/// Different sets of domains are an error naming the table and what is missing and extra.
#[test]
fn predict_names_missing_and_extra_domains() {
    let dir = temp_dir("tables-predict-domains");
    let fit = example_fit(&dir, &["--starts", "10", "--backend", "cpu"]);
    let text = std::fs::read_to_string(example()).unwrap();
    let other = text.replacen("weight_books", "weight_news", 1);
    let path = dir.join("news.csv");
    std::fs::write(&path, other).unwrap();
    let err = mixlaw_err(&["predict", &fit, path.to_str().unwrap()]);
    assert!(err.contains(path.to_str().unwrap()), "{err}");
    assert!(
        err.contains("the table has domains [web, code, news] but the fit has [web, code, books]"),
        "{err}"
    );
    assert!(err.contains("missing here: books"), "{err}");
    assert!(err.contains("not in the fit: news"), "{err}");
}

/// A bootstrap study resumed on a copy of its table with the weight columns in another order
/// is the same study, finished byte for byte as one run.
#[test]
fn bootstrap_resumes_on_a_table_with_its_columns_reordered() {
    let dir = temp_dir("tables-bootstrap-order");
    let text: String = std::fs::read_to_string(example())
        .unwrap()
        .lines()
        .take(1 + 96)
        .map(|l| format!("{l}\n"))
        .collect();
    let table = dir.join("runs.csv");
    std::fs::write(&table, &text).unwrap();
    let shuffled = dir.join("shuffled.csv");
    std::fs::write(
        &shuffled,
        reorder(
            &text,
            &[
                "weight_books",
                "model_size",
                "weight_code",
                "n_tokens",
                "target_loss",
                "weight_web",
            ],
        ),
    )
    .unwrap();
    let p = |name: &str| dir.join(name).display().to_string();
    let study = |table: &std::path::Path, out: &str, resume: bool| {
        let mut args = vec![
            "bootstrap",
            table.to_str().unwrap(),
            "--law",
            "additive",
            "--backend",
            "cpu",
            "--replicates",
            "6",
            "--starts",
            "3",
            "--seed",
            "2",
            "--json",
            "--out",
            out,
        ];
        if resume {
            args.push("--resume");
        }
        mixlaw_ok(&args)
    };
    let whole = study(&table, &p("whole.jsonl"), false);
    let full = std::fs::read(dir.join("whole.jsonl")).unwrap();
    let cut: usize = String::from_utf8_lossy(&full)
        .split_inclusive('\n')
        .take(3)
        .map(str::len)
        .sum();
    std::fs::write(dir.join("resumed.jsonl"), &full[..cut]).unwrap();
    let resumed = study(&shuffled, &p("resumed.jsonl"), true);
    assert_eq!(std::fs::read(dir.join("resumed.jsonl")).unwrap(), full);
    assert_eq!(resumed, whole);
}

/// The published long table: 947 isoFLOP points of eight studies, told apart by `experiment`.
/// It is in git (Apache-2.0), so it is never skipped for being missing.
fn isoflops() -> &'static str {
    static PATH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    PATH.get_or_init(|| {
        dataset(ISOFLOPS)
            .expect("data/open_athena_isoflops/isoflops.csv is in git")
            .display()
            .to_string()
    })
}

/// The flags that read the isoFLOP table for a chinchilla fit.
const ISO: [&str; 8] = [
    "--law",
    "chinchilla",
    "--n-col",
    "params",
    "--d-col",
    "tokens",
    "--backend",
    "cpu",
];

/// The values of `column` in `text` (a CSV), in order of first appearance.
fn first_appearance(text: &str, column: &str) -> Vec<String> {
    let mut r = csv::Reader::from_reader(text.as_bytes());
    let i = r
        .headers()
        .unwrap()
        .iter()
        .position(|h| h == column)
        .unwrap();
    let mut out: Vec<String> = Vec::new();
    for rec in r.records() {
        let v = rec.unwrap()[i].to_string();
        if !out.contains(&v) {
            out.push(v);
        }
    }
    out
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap()
}

/// `fit --group-by experiment` fits each study of the long table on its own: every group's
/// parameters are bit for bit those of a fit of its rows alone (`--where experiment == '...'`),
/// the groups come in order of first appearance, the fit file records the column and each
/// target's group, and the summary leads with the group.
#[test]
#[ignore = "slow tier: cargo test -- --include-ignored"]
fn a_grouped_fit_is_each_groups_fit_alone() {
    let text = std::fs::read_to_string(isoflops()).unwrap();
    let experiments = first_appearance(&text, "experiment");
    assert_eq!(experiments.len(), 8);
    let mut args = vec!["fit", isoflops()];
    args.extend(ISO);
    args.extend(["--group-by", "experiment", "--json"]);
    let grouped = json(&mixlaw_ok(&args));
    assert_eq!(grouped["data"]["group_by"], "experiment");
    let targets = grouped["targets"].as_array().unwrap();
    let groups: Vec<&str> = targets
        .iter()
        .map(|t| t["group"].as_str().unwrap())
        .collect();
    assert_eq!(groups, experiments);
    let rows: u64 = targets.iter().map(|t| t["rows"].as_u64().unwrap()).sum();
    assert_eq!(rows, grouped["data"]["rows"].as_u64().unwrap());
    for (t, experiment) in targets.iter().zip(&experiments) {
        let filter = format!("experiment == \"{experiment}\"");
        let mut args = vec!["fit", isoflops()];
        args.extend(ISO);
        args.extend(["--where", &filter, "--json"]);
        let alone = json(&mixlaw_ok(&args));
        let a = &alone["targets"][0];
        assert!(a.get("group").is_none() && alone["data"].get("group_by").is_none());
        assert_eq!(t["params"], a["params"], "{experiment}");
        assert_eq!(t["objective"], a["objective"], "{experiment}");
        assert_eq!(t["rows"], a["rows"], "{experiment}");
    }
    // The studies differ: a pooled fit would have hidden it.
    let alpha = |i: usize| targets[i]["params"]["alpha"].as_f64().unwrap();
    assert!(
        (alpha(0) - alpha(2)).abs() > 0.1,
        "{} {}",
        alpha(0),
        alpha(2)
    );

    let mut args = vec!["fit", isoflops()];
    args.extend(ISO);
    args.extend(["--group-by", "experiment"]);
    let summary = mixlaw_ok(&args);
    let lines: Vec<&str> = summary.lines().collect();
    let header = lines
        .iter()
        .position(|l| l.starts_with("experiment "))
        .unwrap();
    assert!(lines[header]
        .split_whitespace()
        .take(3)
        .eq(["experiment", "target", "rows"]));
    assert!(lines[header + 2].starts_with(&experiments[0]), "{summary}");
    for experiment in &experiments {
        let lines = summary
            .lines()
            .filter(|l| {
                l.split_whitespace()
                    .take(2)
                    .eq([experiment.as_str(), "loss"])
            })
            .count();
        assert_eq!(
            lines, 2,
            "a line per group and target in the fits and in the parameters: {summary}"
        );
    }
}

/// An ungrouped fit file carries neither field, as every fit file before grouping.
#[test]
fn an_ungrouped_fit_file_has_no_group_fields() {
    let out = mixlaw_ok(&[
        "fit",
        &example(),
        "--law",
        "chinchilla",
        "--backend",
        "cpu",
        "--json",
    ]);
    let file = json(&out);
    assert!(file["data"].get("group_by").is_none(), "{out}");
    assert!(file["targets"][0].get("group").is_none(), "{out}");
}

/// `predict` with a grouped fit predicts each row with its own group's laws: the rows of a
/// group get what a fit of that group alone predicts for them. A row of a group the fit does not
/// have is an error at its cell, until `--where` leaves it out.
#[test]
fn predict_uses_each_rows_group() {
    let dir = temp_dir("tables-predict-groups");
    let p = |name: &str| dir.join(name).display().to_string();
    let fit = |out: &str, extra: &[&str]| {
        let mut args = vec!["fit", isoflops()];
        args.extend(ISO);
        args.extend(extra);
        args.extend(["--out", out]);
        mixlaw_ok(&args);
    };
    fit(&p("grouped.json"), &["--group-by", "experiment"]);
    let read = ["--n-col", "params", "--d-col", "tokens"];
    let predict = |fit: &str, table: &str, extra: &[&str]| {
        let mut args = vec!["predict", fit, table];
        args.extend(read);
        args.extend(extra);
        mixlaw_ok(&args)
    };
    let all = predict(&p("grouped.json"), isoflops(), &[]);
    assert!(
        all.starts_with("row,experiment,N,D,loss,loss_pred\n"),
        "{all}"
    );
    for experiment in ["llama_3__raw_loss", "marin_202603__dclm__llama_2"] {
        let filter = format!("experiment == '{experiment}'");
        let alone = p(&format!("{experiment}.json"));
        fit(&alone, &["--where", &filter]);
        let expected = predict(&alone, isoflops(), &["--where", &filter]);
        // The grouped rows of this study, without the group column: the same text.
        let got: Vec<String> = all
            .lines()
            .skip(1)
            .filter(|l| l.split(',').nth(1) == Some(experiment))
            .map(|l| {
                let mut cells: Vec<&str> = l.split(',').collect();
                cells.remove(1);
                cells.join(",")
            })
            .collect();
        let want: Vec<&str> = expected.lines().skip(1).collect();
        assert!(want.len() > 80);
        assert_eq!(got, want, "{experiment}");
    }

    // A study the fit has not seen.
    let text = std::fs::read_to_string(isoflops()).unwrap();
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    lines[5] = lines[5].replace("ml_scalefit__massivetext__chinchilla", "new_study");
    let table = p("new.csv");
    std::fs::write(&table, lines.join("\n") + "\n").unwrap();
    let grouped = p("grouped.json");
    let mut args = vec!["predict", &grouped, &table];
    args.extend(read);
    let err = mixlaw_err(&args);
    assert!(
        err.contains(&format!("{table}, row 5 (line 6), column 'experiment'")),
        "{err}"
    );
    assert!(err.contains("group 'new_study' is not in the fit"), "{err}");
    let left_out = predict(
        &p("grouped.json"),
        &table,
        &["--where", "experiment != 'new_study'"],
    );
    assert_eq!(left_out.lines().count(), all.lines().count() - 1);

    // The fit's grouping column, or none.
    args.extend(["--group-by", "model"]);
    let err = mixlaw_err(&args);
    assert!(
        err.contains("the fit is grouped by column 'experiment', not 'model'"),
        "{err}"
    );
}

/// A row without a group is an error at its cell, for a fit and for a predict alike.
#[test]
fn an_empty_group_cell_is_an_error_at_its_cell() {
    let text = std::fs::read_to_string(isoflops()).unwrap();
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    lines[3] = lines[3].replace(",ml_scalefit__massivetext__chinchilla,", ",,");
    let file = TempFile::new(
        "tables-empty-group",
        "iso.csv",
        (lines.join("\n") + "\n").as_bytes(),
    );
    let mut args = vec!["fit", file.to_str().unwrap()];
    args.extend(ISO);
    args.extend(["--group-by", "experiment"]);
    let err = mixlaw_err(&args);
    assert!(
        err.contains("row 3 (line 4), column 'experiment': empty cell; the rows are grouped"),
        "{err}"
    );
}

/// A group too small to fit is an error that names the group, the target and the counts.
#[test]
fn a_group_too_small_to_fit_is_named() {
    let mut text = String::from("study,N,D,loss\n");
    for (study, sizes) in [("big", &[1e8, 2e8, 4e8][..]), ("small", &[1e8][..])] {
        for n in sizes {
            for d in [1e9, 2e9, 4e9] {
                let loss =
                    1.7 + 400.0 * (n / 1e6_f64).powf(-0.34) + 410.0 * (d / 1e9_f64).powf(-0.28);
                text.push_str(&format!("{study},{n},{d},{loss}\n"));
            }
        }
    }
    let file = TempFile::new("tables-small-group", "runs.csv", text.as_bytes());
    let err = mixlaw_err(&[
        "fit",
        file.to_str().unwrap(),
        "--law",
        "chinchilla",
        "--backend",
        "cpu",
        "--group-by",
        "study",
    ]);
    assert!(
        err.contains(&format!(
            "{}, column 'loss': in group study = 'small': 3 rows for target loss but the \
             chinchilla law has 5 parameters",
            file.display()
        )),
        "{err}"
    );
}

/// `eval --group-by` fits each study on its train rows and scores it on its own test rows: each
/// group's scores are those of the study evaluated alone. A study without train rows is an
/// error naming it.
#[test]
fn eval_scores_each_group() {
    let split = [
        "--train",
        "budget < 1e20",
        "--test",
        "budget >= 1e20",
        "--json",
    ];
    let mut args = vec!["eval", isoflops()];
    args.extend(ISO);
    args.extend(["--group-by", "experiment"]);
    args.extend(split);
    let grouped = json(&mixlaw_ok(&args));
    let scores = grouped["targets"].as_array().unwrap();
    assert_eq!(scores.len(), 8);
    let mut tested = 0;
    for s in scores {
        let experiment = s["group"].as_str().unwrap();
        if s["test_rows"] == 0 {
            // A study without test rows has no test score (alone, eval refuses the split).
            assert!(s["test_mre_pct"].is_null(), "{s}");
            continue;
        }
        let filter = format!("experiment == '{experiment}'");
        let mut args = vec!["eval", isoflops()];
        args.extend(ISO);
        args.extend(["--where", &filter]);
        args.extend(split);
        let alone = json(&mixlaw_ok(&args));
        let a = &alone["targets"][0];
        for key in [
            "params",
            "train_rows",
            "test_rows",
            "train_mre_pct",
            "test_mre_pct",
        ] {
            assert_eq!(s[key], a[key], "{experiment}: {key}");
        }
        tested += 1;
    }
    assert_eq!(
        tested, 7,
        "all studies but misfitting's have rows at or above 1e20 FLOP"
    );

    let mut args = vec!["eval", isoflops()];
    args.extend(ISO);
    args.extend([
        "--group-by",
        "experiment",
        "--train",
        "experiment != 'llama_3__raw_loss'",
        "--test",
        "budget > 0",
    ]);
    let err = mixlaw_err(&args);
    assert!(
        err.contains("group experiment = 'llama_3__raw_loss' has no rows in the --train split"),
        "{err}"
    );
}

/// A bootstrap study is of one table: grouped rows are refused before any fit.
#[test]
fn bootstrap_refuses_grouped_rows() {
    let mut args = vec!["bootstrap", isoflops()];
    args.extend(ISO);
    args.extend(["--group-by", "experiment", "--replicates", "2"]);
    let err = mixlaw_err(&args);
    assert!(
        err.contains("bootstrap does not take grouped rows"),
        "{err}"
    );
    assert!(
        err.contains("--where \"experiment == 'ml_scalefit__massivetext__chinchilla'\""),
        "{err}"
    );
}

/// A long table of two simulated studies of the same three domains, told apart by `study`.
fn two_studies(dir: &std::path::Path) -> String {
    let simulate = |params: &str, seed: &str| {
        mixlaw_ok(&[
            "simulate",
            "--law",
            "additive",
            "--domains",
            "web,code,books",
            "--mixtures",
            "8",
            "--min-weight",
            "0.02",
            "--sizes",
            "50e6,200e6",
            "--tokens",
            "1e9,4e9",
            "--noise",
            "0.001",
            "--seed",
            seed,
            "--params",
            params,
        ])
    };
    let a = simulate(
        "E=1.5,A=4,alpha=0.34,B=1.5,beta=0.3,C_web=2.0,C_code=0.8,C_books=1.2,gamma_web=0.5,gamma_code=0.3,gamma_books=0.4",
        "1",
    );
    let b = simulate(
        "E=1.2,A=3,alpha=0.3,B=1.2,beta=0.35,C_web=0.6,C_code=2.5,C_books=1.0,gamma_web=0.3,gamma_code=0.6,gamma_books=0.4",
        "2",
    );
    let mut text = format!("study,{}\n", a.lines().next().unwrap());
    for (name, table) in [("a", &a), ("b", &b)] {
        for line in table.lines().skip(1) {
            text.push_str(&format!("{name},{line}\n"));
        }
    }
    let path = dir.join("studies.csv");
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

/// `optimize` and `sweep` use one group's laws: `--group VALUE`, required when the fit has
/// several, gives what a fit of that group alone gives; an unknown or needless group is a usage
/// error listing the groups there are.
#[test]
fn optimize_and_sweep_address_a_group() {
    let dir = temp_dir("tables-optimize-groups");
    let table = two_studies(&dir);
    let p = |name: &str| dir.join(name).display().to_string();
    let fit = |out: &str, extra: &[&str]| {
        let mut args = vec![
            "fit",
            &table as &str,
            "--law",
            "additive",
            "--starts",
            "20",
            "--backend",
            "cpu",
            "--out",
            out,
        ];
        args.extend(extra);
        mixlaw_ok(&args);
    };
    fit(&p("grouped.json"), &["--group-by", "study"]);
    fit(&p("b.json"), &["--where", "study == 'b'"]);
    let at = ["--n", "1e9", "--d", "2e10", "--backend", "cpu"];
    // The arguments of `command` on `fit` at one scale, with `extra`.
    let run = |command: &str, fit: &str, extra: &[&str]| -> Vec<String> {
        [command, "--fit", fit]
            .iter()
            .chain(&at)
            .chain(extra)
            .map(|a| a.to_string())
            .collect()
    };
    let ok = |args: Vec<String>| mixlaw_ok(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let fails =
        |args: Vec<String>| mixlaw_err(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let grouped = json(&ok(run(
        "optimize",
        &p("grouped.json"),
        &["--group", "b", "--json"],
    )));
    let alone = json(&ok(run("optimize", &p("b.json"), &["--json"])));
    assert_eq!(grouped["group"], "b");
    assert!(alone.get("group").is_none());
    assert_eq!(grouped["targets"], alone["targets"]);
    let a = json(&ok(run(
        "optimize",
        &p("grouped.json"),
        &["--group", "a", "--json"],
    )));
    assert_ne!(
        a["targets"][0]["h"], grouped["targets"][0]["h"],
        "the studies' optima differ"
    );
    let text = ok(run("optimize", &p("grouped.json"), &["--group", "a"]));
    assert!(
        text.starts_with("additive law of group study = 'a' at N = 1e9"),
        "{text}"
    );
    assert_eq!(
        ok(run("sweep", &p("grouped.json"), &["--group", "b"])),
        ok(run("sweep", &p("b.json"), &[]))
    );

    let err = fails(run("optimize", &p("grouped.json"), &[]));
    assert!(
        err.contains(
            "the fit has 2 groups of column 'study': choose one with --group (one of: a, b)"
        ),
        "{err}"
    );
    let err = fails(run("sweep", &p("grouped.json"), &["--group", "c"]));
    assert!(
        err.contains("no group 'c' in the fit; its groups of column 'study' are: a, b"),
        "{err}"
    );
    let err = fails(run("optimize", &p("b.json"), &["--group", "b"]));
    assert!(err.contains("the fit is not grouped"), "{err}");
}

/// A fit file whose groups do not hold together is refused, naming the file.
#[test]
fn a_fit_file_with_broken_groups_is_refused() {
    let dir = temp_dir("tables-broken-groups");
    let table = two_studies(&dir);
    let fit = dir.join("fit.json").display().to_string();
    mixlaw_ok(&[
        "fit",
        &table,
        "--law",
        "additive",
        "--starts",
        "5",
        "--backend",
        "cpu",
        "--group-by",
        "study",
        "--out",
        &fit,
    ]);
    let mut file = json(&std::fs::read_to_string(&fit).unwrap());
    file["targets"][1].as_object_mut().unwrap().remove("group");
    let broken = dir.join("broken.json").display().to_string();
    std::fs::write(&broken, file.to_string()).unwrap();
    let err = mixlaw_err(&["predict", &broken, &table]);
    assert!(
        err.contains(&format!(
            "{broken}: the fit is grouped by 'study' but target target_loss has no group"
        )),
        "{err}"
    );
    file["targets"][1]["group"] = "a".into();
    std::fs::write(&broken, file.to_string()).unwrap();
    let err = mixlaw_err(&[
        "sweep", "--fit", &broken, "--n", "1e9", "--d", "1e10", "--group", "a",
    ]);
    assert!(err.contains("target target_loss appears twice"), "{err}");
}

/// Text columns never stop a table from loading, from a CSV (the isoFLOP table's `source`,
/// `dataset`, `model` and half-empty `condition` columns) or from columns in memory; in memory a
/// text column groups the rows and filters them as in a file.
#[test]
fn text_columns_never_stop_a_table_from_loading() {
    let law = mixlaw::law::registry::lookup("chinchilla").unwrap();
    let spec = DataSpec {
        n_col: Some("params".into()),
        d_col: Some("tokens".into()),
        ..DataSpec::default()
    }
    .for_law(&law);
    let csv = mixlaw::load(&Table::read(isoflops().as_ref()).unwrap(), &spec).unwrap();
    assert_eq!(csv.rows(), 946);

    let n = [1e8, 2e8, 4e8, 1e8, 2e8, 4e8, 8e8];
    let columns = |study: Vec<&str>| {
        vec![
            (
                "name".to_string(),
                Column::from(vec!["r1", "", "r 3", "x", "?", "", "-"]),
            ),
            ("study".to_string(), Column::from(study)),
            ("params".to_string(), Column::from(n.to_vec())),
            (
                "tokens".to_string(),
                Column::from(n.iter().map(|n| 20.0 * n).collect::<Vec<f64>>()),
            ),
            (
                "loss".to_string(),
                Column::from(vec![3.1, 2.9, 2.7, 3.3, 3.0, 2.8, 2.6]),
            ),
        ]
    };
    let table =
        Table::from_columns("<frame>", columns(vec!["a", "a", "a", "b", "b", "b", "b"])).unwrap();
    let ds = mixlaw::load(&table, &spec).unwrap();
    assert_eq!(ds.rows(), 7);
    let grouped = mixlaw::load(
        &table,
        &DataSpec {
            group_by: Some("study".into()),
            ..spec.clone()
        },
    )
    .unwrap();
    assert_eq!(grouped.groups.as_ref().unwrap().names, ["a", "b"]);
    let only_b = mixlaw::load(
        &table,
        &DataSpec {
            filters: vec!["study == \"b\" and name != '?'".into()],
            ..spec.clone()
        },
    )
    .unwrap();
    assert_eq!(only_b.row_ids, [4, 6, 7]);
    // An empty group cell in memory is an error at its cell too.
    let gap =
        Table::from_columns("<frame>", columns(vec!["a", "a", "", "b", "b", "b", "b"])).unwrap();
    let e = mixlaw::load(
        &gap,
        &DataSpec {
            group_by: Some("study".into()),
            ..spec
        },
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.starts_with("<frame>, row 3 (line 4), column 'study': empty cell"),
        "{e}"
    );
}

/// `--where` on text through the command line: double quotes right of the operator are text,
/// and `<` against text is an error with a caret at the operator.
#[test]
fn where_compares_text_on_the_command_line() {
    let count = |filter: &str| {
        let mut args = vec!["fit", isoflops()];
        args.extend(ISO);
        args.extend(["--where", filter, "--json"]);
        json(&mixlaw_ok(&args))["data"]["rows"].as_u64().unwrap()
    };
    assert_eq!(count("experiment == \"llama_3__raw_loss\""), 133);
    assert_eq!(
        count("source == 'llama_3' and experiment != 'llama_3__raw_loss'"),
        133
    );
    assert_eq!(count("condition == ''"), 946 - 266);
    let mut args = vec!["fit", isoflops()];
    args.extend(ISO);
    args.extend(["--where", "experiment < 'llama'"]);
    let err = mixlaw_err(&args);
    assert!(
        err.contains("'<' does not compare text\n  experiment < 'llama'\n             ^"),
        "{err}"
    );
}
