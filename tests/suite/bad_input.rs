//! Bad input gets a clear error naming file, row and column, and exit code 2.
//!
//! Every test writes a small table into its own temporary directory, runs the `mixlaw` binary
//! on it and checks the whole contract at once: the exit code (2 for anything the user can fix,
//! 1 for I/O), nothing on stdout, and a message on stderr that names the file, the 1-based data
//! row (the header is line 1) and the column where they apply, plus the words that say what is
//! wrong. A failing test prints every missing piece together with the full stderr, so a vague
//! message is easy to see and fix.

use std::path::Path;
use std::process::Output;

use crate::common::{mixlaw, temp_dir, TempFile};

/// Flags for a fast Chinchilla fit on a plain `model_size,n_tokens,loss` table.
const CHINCHILLA: [&str; 6] = ["--law", "chinchilla", "--init", "random", "--starts", "2"];
/// Flags for a fast additive fit on a table with mixture weights.
const ADDITIVE: [&str; 4] = ["--law", "additive", "--starts", "2"];

/// Header of the plain tables.
const PLAIN_HEADER: &str = "model_size,n_tokens,loss";
/// Header of the mixture tables (3 domains: the additive law then has 5 + 2 * 3 = 11 params).
const MIX_HEADER: &str = "model_size,n_tokens,weight_web,weight_code,weight_books,target_loss";

/// Write `csv` to `<temp>/<name>.csv` in a fresh directory for test `name` (removed when the
/// returned file is dropped).
fn table(name: &str, csv: &str) -> TempFile {
    TempFile::new(name, &format!("{name}.csv"), csv.as_bytes())
}

/// A plain table of 9 distinct runs (3 sizes x 3 token counts) following a Chinchilla law, so
/// that a fit on it succeeds. Rows are `model_size,n_tokens,loss`, without the header.
fn good_plain_rows() -> Vec<String> {
    let mut rows = Vec::new();
    for n in [50e6, 100e6, 200e6] {
        for d in [1e9, 2e9, 4e9] {
            let loss = 1.7 + 400.0 * (n / 1e6_f64).powf(-0.34) + 410.0 * (d / 1e9_f64).powf(-0.28);
            rows.push(format!("{n},{d},{loss}"));
        }
    }
    rows
}

/// `header` and `rows` as CSV text.
fn csv(header: &str, rows: &[String]) -> String {
    let mut s = format!("{header}\n");
    for r in rows {
        s.push_str(r);
        s.push('\n');
    }
    s
}

/// Three valid plain rows, then `bad` as data row 4 (line 5).
fn plain_with_row4(bad: &str) -> String {
    format!(
        "{PLAIN_HEADER}\n\
         50000000,1000000000,4.1\n\
         100000000,2000000000,3.6\n\
         200000000,4000000000,3.2\n\
         {bad}\n\
         400000000,8000000000,2.9\n"
    )
}

/// Two valid mixture rows, then `bad` as data row 3 (line 4).
fn mix_with_row3(bad: &str) -> String {
    format!(
        "{MIX_HEADER}\n\
         50000000,1000000000,0.5,0.3,0.2,4.1\n\
         100000000,2000000000,0.2,0.5,0.3,3.6\n\
         {bad}\n\
         400000000,8000000000,0.3,0.3,0.4,2.9\n"
    )
}

/// How a located error names data row `r`: `row r (line r+1)`, since the header is line 1.
fn row(r: usize) -> String {
    format!("row {r} (line {})", r + 1)
}

/// `column 'name'`, as a located error names a column.
fn column(name: &str) -> String {
    format!("column '{name}'")
}

/// Run `mixlaw <cmd> <path> <law...> <extra...>`.
fn run(cmd: &str, path: &Path, law: &[&str], extra: &[&str]) -> Output {
    let p = path.to_str().expect("utf-8 temp path");
    let mut args = vec![cmd, p];
    args.extend_from_slice(law);
    args.extend_from_slice(extra);
    mixlaw(&args)
}

/// Require exit code `code`, empty stdout, and every one of `needles` in stderr. Reports all
/// missing needles at once, with the whole stderr.
fn assert_fails(out: &Output, code: i32, needles: &[&str]) {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let missing: Vec<&&str> = needles.iter().filter(|n| !stderr.contains(**n)).collect();
    assert!(
        out.status.code() == Some(code) && stdout.is_empty() && missing.is_empty(),
        "expected exit code {code}, empty stdout and stderr containing all of {needles:?}\n\
         got exit code {:?}\n\
         missing from stderr: {missing:?}\n\
         stdout: {stdout:?}\n\
         stderr:\n{stderr}",
        out.status.code(),
    );
    // Informational `note:` lines (what was read, which backend runs) may come first; the
    // first line that is not a note is the error.
    let first = stderr
        .lines()
        .find(|l| !l.starts_with("note: "))
        .unwrap_or("");
    assert!(
        first.starts_with("error: "),
        "the first line after any notes should start with 'error: ':\n{stderr}"
    );
}

/// Require success; returns (stdout, stderr).
fn assert_ok(out: &Output) -> (String, String) {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success(),
        "expected success, got exit code {:?}\nstderr:\n{stderr}",
        out.status.code()
    );
    (stdout, stderr)
}

/// The path as the messages print it.
fn shown(p: &Path) -> String {
    p.display().to_string()
}

// 1
#[test]
fn missing_flagged_column_lists_available_columns() {
    let p = table("missing-col", &csv(PLAIN_HEADER, &good_plain_rows()));
    let out = run("fit", &p, &CHINCHILLA, &["--n-col", "nope"]);
    assert_fails(
        &out,
        2,
        &[
            &shown(&p),
            &column("nope"),
            "no column 'nope'",
            "available columns",
            "'model_size'",
            "'n_tokens'",
            "'loss'",
        ],
    );
}

// 2
#[test]
fn unknown_target_lists_available_columns() {
    let p = table("unknown-target", &csv(PLAIN_HEADER, &good_plain_rows()));
    let out = run("fit", &p, &CHINCHILLA, &["--target", "nope"]);
    assert_fails(
        &out,
        2,
        &[
            &shown(&p),
            &column("nope"),
            "no column 'nope'",
            "target",
            "available columns",
            "'model_size'",
            "'n_tokens'",
            "'loss'",
        ],
    );
}

// 3
#[test]
fn non_numeric_cell_is_quoted() {
    let p = table("non-numeric", &plain_with_row4("300000000,6000000000,abc"));
    let out = run("fit", &p, &CHINCHILLA, &[]);
    assert_fails(
        &out,
        2,
        &[
            &shown(&p),
            &row(4),
            &column("loss"),
            "'abc'",
            "not a number",
        ],
    );
}

// 4
#[test]
fn nan_cell_is_rejected() {
    let p = table("nan-cell", &plain_with_row4("300000000,nan,3.0"));
    let out = run("fit", &p, &CHINCHILLA, &[]);
    assert_fails(
        &out,
        2,
        &[
            &shown(&p),
            &row(4),
            &column("n_tokens"),
            "'nan'",
            "not a finite number",
        ],
    );
}

// 5
#[test]
fn inf_cell_is_rejected() {
    let p = table("inf-cell", &plain_with_row4("inf,6000000000,3.0"));
    let out = run("fit", &p, &CHINCHILLA, &[]);
    assert_fails(
        &out,
        2,
        &[
            &shown(&p),
            &row(4),
            &column("model_size"),
            "'inf'",
            "not a finite number",
        ],
    );
}

// 6
#[test]
fn non_positive_model_size_is_rejected() {
    for (i, (cell, shown_value)) in [("0", "got 0"), ("-5e8", "got -5e8")].iter().enumerate() {
        let p = table(
            &format!("n-nonpositive-{i}"),
            &plain_with_row4(&format!("{cell},6000000000,3.0")),
        );
        let out = run("fit", &p, &CHINCHILLA, &[]);
        assert_fails(
            &out,
            2,
            &[
                &shown(&p),
                &row(4),
                &column("model_size"),
                "model size N must be positive",
                shown_value,
            ],
        );
    }
}

// 7
#[test]
fn non_positive_token_count_is_rejected() {
    for (i, (cell, shown_value)) in [("0", "got 0"), ("-6e9", "got -6e9")].iter().enumerate() {
        let p = table(
            &format!("d-nonpositive-{i}"),
            &plain_with_row4(&format!("300000000,{cell},3.0")),
        );
        let out = run("fit", &p, &CHINCHILLA, &[]);
        assert_fails(
            &out,
            2,
            &[
                &shown(&p),
                &row(4),
                &column("n_tokens"),
                "token count D must be positive",
                shown_value,
            ],
        );
    }
}

// 8
#[test]
fn non_positive_loss_is_rejected() {
    for (i, (cell, shown_value)) in [("0", "got 0"), ("-1.5", "got -1.5")].iter().enumerate() {
        let p = table(
            &format!("loss-nonpositive-{i}"),
            &plain_with_row4(&format!("300000000,6000000000,{cell}")),
        );
        let out = run("fit", &p, &CHINCHILLA, &[]);
        assert_fails(
            &out,
            2,
            &[
                &shown(&p),
                &row(4),
                &column("loss"),
                "loss must be positive",
                shown_value,
            ],
        );
    }
}

// 9
#[test]
fn negative_weight_is_rejected() {
    let p = table(
        "negative-weight",
        &mix_with_row3("200000000,4000000000,0.6,-0.1,0.5,3.2"),
    );
    let out = run("fit", &p, &ADDITIVE, &[]);
    assert_fails(
        &out,
        2,
        &[
            &shown(&p),
            &row(3),
            &column("weight_code"),
            "weight must be non-negative",
            "got -0.1",
        ],
    );
}

// 10
#[test]
fn weights_not_summing_to_one_show_the_sum() {
    // 0.5 + 0.25 + 0.125 = 0.875 exactly in binary floating point.
    let p = table(
        "weight-sum",
        &mix_with_row3("200000000,4000000000,0.5,0.25,0.125,3.2"),
    );
    let out = run("fit", &p, &ADDITIVE, &[]);
    assert_fails(
        &out,
        2,
        &[
            &shown(&p),
            &row(3),
            &column("weight_*"),
            "weights sum to 0.875",
            "not 1",
        ],
    );
}

// 11
#[test]
fn empty_table_after_filters() {
    let p = table("filtered-empty", &csv(PLAIN_HEADER, &good_plain_rows()));
    let out = run("fit", &p, &CHINCHILLA, &["--where", "model_size>1e12"]);
    assert_fails(
        &out,
        2,
        &[
            &shown(&p),
            "no rows left",
            "--where",
            "model_size>1e12",
            "9 rows before filtering",
        ],
    );
}

// 12
#[test]
fn fewer_rows_than_parameters_names_target_and_counts() {
    let rows: Vec<String> = [
        "50000000,1000000000,0.5,0.3,0.2,4.1",
        "50000000,2000000000,0.2,0.5,0.3,3.9",
        "100000000,1000000000,0.3,0.2,0.5,3.7",
        "100000000,2000000000,0.6,0.2,0.2,3.5",
        "200000000,1000000000,0.2,0.6,0.2,3.3",
        "200000000,2000000000,0.2,0.2,0.6,3.1",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let p = table("too-few-rows", &csv(MIX_HEADER, &rows));
    let out = run("fit", &p, &ADDITIVE, &[]);
    assert_fails(
        &out,
        2,
        &[
            &shown(&p),
            &column("target_loss"),
            "6 rows for target target_loss",
            "additive law has 11 parameters",
        ],
    );
}

// 13
#[test]
fn bad_where_expression_points_a_caret_at_the_mistake() {
    let p = table("bad-where", &csv(PLAIN_HEADER, &good_plain_rows()));
    let expr = "model_size = 1e9";
    let out = run("fit", &p, &CHINCHILLA, &["--where", expr]);
    assert_fails(
        &out,
        2,
        &[
            "bad --where expression",
            "expected a comparison operator",
            "write '==' for equality",
        ],
    );
    // The expression is reprinted on a line of its own, the caret on the next line sits under
    // the offending '='.
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    let i = lines
        .iter()
        .position(|l| l.trim_end().ends_with(expr))
        .unwrap_or_else(|| panic!("the expression is not reprinted:\n{stderr}"));
    let expr_col = lines[i].find(expr).unwrap() + expr.find('=').unwrap();
    let caret_line = lines
        .get(i + 1)
        .unwrap_or_else(|| panic!("no caret line:\n{stderr}"));
    assert_eq!(
        caret_line.trim_end(),
        format!("{}^", " ".repeat(expr_col)),
        "the caret should sit under '=' (column {expr_col}):\n{stderr}"
    );
}

// 14
#[test]
fn unknown_column_in_where() {
    let p = table("where-unknown-col", &csv(PLAIN_HEADER, &good_plain_rows()));
    let out = run("fit", &p, &CHINCHILLA, &["--where", "nope>1"]);
    assert_fails(
        &out,
        2,
        &[
            &shown(&p),
            &column("nope"),
            "unknown column 'nope'",
            "--where",
            "nope>1",
            "available columns",
            "'model_size'",
        ],
    );
}

// 15
#[test]
fn ragged_row_is_rejected() {
    let p = table(
        "ragged",
        &format!(
            "{PLAIN_HEADER}\n\
             50000000,1000000000,4.1\n\
             100000000,2000000000\n\
             200000000,4000000000,3.2\n"
        ),
    );
    let out = run("fit", &p, &CHINCHILLA, &[]);
    assert_fails(
        &out,
        2,
        &[&shown(&p), &row(2), "2 fields", "header has 3 columns"],
    );
}

// 16
#[test]
fn header_only_file_is_rejected() {
    let p = table("header-only", &format!("{PLAIN_HEADER}\n"));
    let out = run("fit", &p, &CHINCHILLA, &[]);
    assert_fails(&out, 2, &[&shown(&p), "no data rows", "only a header"]);
}

// 17
#[test]
fn empty_file_is_rejected() {
    let p = table("empty-file", "");
    let out = run("fit", &p, &CHINCHILLA, &[]);
    assert_fails(&out, 2, &[&shown(&p), "empty file", "header"]);
}

// 18
#[test]
fn missing_file_is_bad_input() {
    let p = temp_dir("missing-file").join("no-such-table.csv");
    let out = run("fit", &p, &CHINCHILLA, &[]);
    assert_fails(&out, 2, &[&shown(&p), "No such file"]);
}

// 19
#[test]
fn empty_target_cell_is_skipped_not_an_error() {
    let mut rows = good_plain_rows();
    // Blank the loss of data row 5.
    let cells: Vec<&str> = rows[4].split(',').collect();
    rows[4] = format!("{},{},", cells[0], cells[1]);
    let p = table("empty-target-cell", &csv(PLAIN_HEADER, &rows));
    let (stdout, stderr) = assert_ok(&run("fit", &p, &CHINCHILLA, &["--json"]));
    assert!(
        stderr.contains("loss: 1 empty cells"),
        "expected a notice about the empty cell:\n{stderr}"
    );
    let json: serde_json::Value = serde_json::from_str(&stdout).expect("--json prints JSON");
    assert_eq!(json["data"]["rows"], 9, "{stdout}");
    let t = &json["targets"][0];
    assert_eq!(t["target"], "loss", "{stdout}");
    assert_eq!(t["rows_skipped"], 1, "{stdout}");
    assert_eq!(t["rows"], 8, "{stdout}");
}

// 20
#[test]
fn duplicate_rows_are_dropped_with_a_notice() {
    let mut rows = good_plain_rows();
    rows.push(rows[1].clone());
    let p = table("duplicates", &csv(PLAIN_HEADER, &rows));
    let (stdout, stderr) = assert_ok(&run("fit", &p, &CHINCHILLA, &["--json"]));
    assert!(
        stderr.contains("note: dropped 1 duplicate rows"),
        "expected the duplicate notice:\n{stderr}"
    );
    let json: serde_json::Value = serde_json::from_str(&stdout).expect("--json prints JSON");
    assert_eq!(json["data"]["duplicates_dropped"], 1, "{stdout}");
    assert_eq!(json["data"]["rows"], 9, "{stdout}");
    assert_eq!(json["targets"][0]["rows"], 9, "{stdout}");
}

// 21
#[test]
fn out_onto_existing_file_needs_force() {
    let p = table("out-exists", &csv(PLAIN_HEADER, &good_plain_rows()));
    let dir = p.parent().unwrap().to_path_buf();
    let fit = dir.join("fit.json");
    std::fs::write(&fit, "keep me").unwrap();
    let fit_s = fit.to_str().unwrap();

    let out = run("fit", &p, &CHINCHILLA, &["--out", fit_s]);
    assert_fails(&out, 2, &[&shown(&fit), "already exists", "--force"]);
    assert_eq!(std::fs::read_to_string(&fit).unwrap(), "keep me");

    assert_ok(&run("fit", &p, &CHINCHILLA, &["--out", fit_s, "--force"]));
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&fit).unwrap()).expect("a JSON fit file");
    assert_eq!(json["law"], "chinchilla");
    assert_eq!(json["targets"][0]["target"], "loss");
    // The atomic write leaves no temporary file behind.
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["fit.json", "out-exists.csv"]);
}

// 22
#[test]
fn unknown_law_lists_the_laws() {
    let p = table("unknown-law", &csv(PLAIN_HEADER, &good_plain_rows()));
    let out = run("fit", &p, &["--law", "nope"], &[]);
    assert_fails(
        &out,
        2,
        &[
            "unknown law 'nope'",
            "chinchilla",
            "additive",
            "joint",
            "simple",
            "full",
            "datamix",
            "linear",
        ],
    );
}

// 23
#[test]
fn eval_train_expression_selecting_no_rows() {
    let p = table("eval-empty-train", &csv(PLAIN_HEADER, &good_plain_rows()));
    let out = run(
        "eval",
        &p,
        &CHINCHILLA,
        &["--train", "model_size<0", "--test", "model_size>0"],
    );
    assert_fails(&out, 2, &[&shown(&p), "no rows", "--train", "model_size<0"]);
}

// 24
#[test]
fn predict_with_a_file_that_is_not_a_fit_file() {
    let p = table("predict-not-fit", &csv(PLAIN_HEADER, &good_plain_rows()));
    let not_fit = p.parent().unwrap().join("not-a-fit.json");
    std::fs::write(&not_fit, "{\"hello\": 1}\n").unwrap();
    let out = mixlaw(&["predict", not_fit.to_str().unwrap(), p.to_str().unwrap()]);
    assert_fails(&out, 2, &[&shown(&not_fit), "not a mixlaw fit file"]);
}

// 25
#[test]
fn overestimate_penalty_must_be_a_positive_number() {
    let p = table("bad-penalty", &csv(PLAIN_HEADER, &good_plain_rows()));
    for (cmd, w) in [("fit", "0"), ("fit", "-1"), ("fit", "nan"), ("eval", "inf")] {
        let mut extra = vec!["--loss", "mae", "--overestimate-penalty", w];
        if cmd == "eval" {
            extra.extend(["--train", "model_size>0", "--test", "model_size>0"]);
        }
        let out = run(cmd, &p, &CHINCHILLA, &extra);
        assert_fails(
            &out,
            2,
            &["--overestimate-penalty must be a positive number"],
        );
    }
    let out = mixlaw(&[
        "bootstrap",
        p.to_str().unwrap(),
        "--law",
        "chinchilla",
        "--overestimate-penalty",
        "0",
    ]);
    assert_fails(
        &out,
        2,
        &["--overestimate-penalty must be a positive number"],
    );
}

// 26
#[test]
fn unknown_loss_lists_the_losses() {
    let p = table("bad-loss", &csv(PLAIN_HEADER, &good_plain_rows()));
    let out = run("fit", &p, &CHINCHILLA, &["--loss", "l1"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("'l1'") && err.contains("huber") && err.contains("mse") && err.contains("mae"),
        "{err}"
    );
}
