//! The tables people have (issue 13): weight columns in any order (domains are matched by name,
//! never by position), text columns compared in `--where`, and long tables holding several
//! studies fitted one group at a time (`--group-by`).

use crate::common::*;
use mixlaw::data::{Column, DataSpec, Table};

fn example() -> String {
    format!("{}/data/example.csv", env!("CARGO_MANIFEST_DIR"))
}

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
    err
}

/// A fit of the additive law to the bundled example (three domains: web, code, books), written
/// to `dir/fit.json`.
fn example_fit(dir: &std::path::Path) -> String {
    let fit = dir.join("fit.json").display().to_string();
    mixlaw_ok(&[
        "fit",
        &example(),
        "--law",
        "additive",
        "--starts",
        "10",
        "--backend",
        "cpu",
        "--out",
        &fit,
    ]);
    fit
}

/// A table whose weight columns come in another order than the fit's predicts exactly what the
/// original order does (the CSV is the same byte for byte: the mixture is written in the fit's
/// order), through the command line and the library alike.
#[test]
fn predict_matches_domains_by_name() {
    let dir = temp_dir("tables-predict-order");
    let fit = example_fit(&dir);
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
    let fit = example_fit(&dir);
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
