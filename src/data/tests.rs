//! Tests for loading: small CSVs written to a temp dir, plus two published tables in `data/`.

use super::*;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// Write `text` to a fresh file in the temp dir; the name contains `tag` for error messages.
fn write(tag: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mixlaw-data-tests-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let path = dir.join(format!("{tag}-{n}.csv"));
    std::fs::write(&path, text).unwrap();
    path
}

/// A spec for a table without a mixture: N and D required (chinchilla).
fn scale_spec() -> DataSpec {
    DataSpec {
        needs_scale: true,
        ..Default::default()
    }
}

fn mixture_spec() -> DataSpec {
    DataSpec {
        needs_scale: true,
        needs_mixture: true,
        ..Default::default()
    }
}

const GOOD: &str = "\
weight_a,weight_b,model_size,n_tokens,a_loss,b_loss,color
0.5,0.5,1e8,1e9,3.0,3.5,red
0.25,0.75,1e8,2e9,2.9,3.2,blue
1.0,0.0,2e8,1e9,2.8,3.1,
0.0,1.0,2e8,2e9,2.7,3.0,x y z
";

/// [`load`] of the CSV file at `path`.
fn load_csv(path: &Path, spec: &DataSpec) -> Result<Dataset> {
    load(&Table::read(path)?, spec)
}

fn load_text(tag: &str, text: &str, spec: &DataSpec) -> Result<Dataset> {
    load_csv(&write(tag, text), spec)
}

/// The message of a Data error, after checking its location: file name contains `tag`, and
/// row/column are as given. Returns the full display text.
fn data_err(
    r: Result<Dataset>,
    tag: &str,
    row: Option<usize>,
    column: Option<&str>,
    needle: &str,
) -> String {
    match r {
        Err(e @ Error::Data { .. }) => {
            let Error::Data { at, msg } = &e else {
                unreachable!()
            };
            let text = e.to_string();
            assert!(
                at.file.to_string_lossy().contains(tag),
                "file {:?} should contain {tag}",
                at.file
            );
            assert!(text.contains(tag), "{text}");
            assert_eq!(at.row, row, "{text}");
            assert_eq!(at.column.as_deref(), column, "{text}");
            if let Some(r) = row {
                assert!(text.contains(&format!("row {r}")), "{text}");
            }
            if let Some(c) = column {
                assert!(text.contains(c), "{text}");
            }
            assert!(msg.contains(needle), "{msg:?} should contain {needle:?}");
            assert_eq!(
                msg.chars()
                    .next()
                    .map(|c| c.is_lowercase() || !c.is_alphabetic()),
                Some(true),
                "{msg}"
            );
            text
        }
        Err(other) => panic!("expected a data error, got {other:?}"),
        Ok(ds) => panic!("expected a data error, got a dataset of {} rows", ds.rows()),
    }
}

fn usage_err(r: Result<Dataset>, needle: &str) -> String {
    match r {
        Err(Error::Usage(m)) => {
            assert!(m.contains(needle), "{m:?} should contain {needle:?}");
            m
        }
        Err(other) => panic!("expected a usage error, got {other:?}"),
        Ok(_) => panic!("expected a usage error"),
    }
}

#[test]
fn loads_a_good_table() {
    let ds = load_text("good", GOOD, &mixture_spec()).unwrap();
    assert_eq!(ds.rows(), 4);
    assert_eq!(ds.k(), 2);
    assert_eq!(ds.domains, vec!["a", "b"]);
    assert_eq!(ds.h_row(1), &[0.25, 0.75]);
    assert_eq!(ds.h.len(), 8);
    assert_eq!(ds.n, vec![1e8, 1e8, 2e8, 2e8]);
    assert_eq!(ds.d, vec![1e9, 2e9, 1e9, 2e9]);
    let names: Vec<_> = ds.targets.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, vec!["a_loss", "b_loss"]);
    assert_eq!(ds.targets[1].y, vec![3.5, 3.2, 3.1, 3.0]);
    assert_eq!(ds.row_ids, vec![1, 2, 3, 4]);
    assert_eq!(ds.duplicates_dropped, 0);
    assert_eq!(ds.filtered_out, 0);
    assert!(ds.notices.is_empty(), "{:?}", ds.notices);
    assert!(ds.source.to_string_lossy().contains("good"));
}

#[test]
fn auto_detection_of_columns() {
    // Second-choice names: N, D; a single `loss` target; custom weight prefix.
    let text = "p_x,p_y,N,D,loss,other_col\n0.5,0.5,10,20,2.0,abc\n";
    let spec = DataSpec {
        weight_prefix: "p_".into(),
        ..mixture_spec()
    };
    let ds = load_text("auto", text, &spec).unwrap();
    assert_eq!(ds.domains, vec!["x", "y"]);
    assert_eq!((ds.n[0], ds.d[0]), (10.0, 20.0));
    assert_eq!(ds.targets.len(), 1);
    assert_eq!(ds.targets[0].name, "loss");

    // Third choices, and `_loss` columns win over `loss`.
    let text = "Model Size,tokens,loss,x_loss\n10,20,2.0,3.0\n";
    let spec = DataSpec {
        needs_scale: true,
        ..Default::default()
    };
    let ds = load_text("auto3", text, &spec).unwrap();
    assert_eq!((ds.n[0], ds.d[0]), (10.0, 20.0));
    assert_eq!(ds.targets[0].name, "x_loss");
    assert_eq!(ds.targets.len(), 1);
    assert_eq!(ds.k(), 0);

    // Earlier names in the list win.
    let text = "N,model_size,D,n_tokens,loss\n1,2,3,4,2.0\n";
    let ds = load_text("auto-order", text, &spec).unwrap();
    assert_eq!((ds.n[0], ds.d[0]), (2.0, 4.0));

    // Explicit columns override auto-detection.
    let spec2 = DataSpec {
        n_col: Some("N".into()),
        d_col: Some("D".into()),
        ..spec.clone()
    };
    let ds = load_text("explicit", text, &spec2).unwrap();
    assert_eq!((ds.n[0], ds.d[0]), (1.0, 3.0));
}

#[test]
fn scale_and_mixture_optional_when_the_law_does_not_use_them() {
    let text = "weight_a,weight_b,loss,name\n0.5,0.6,2.0,x\n0.3,oops,2.5,y\n";
    // Weights are not read at all when the law has no mixture (they would be errors here).
    let ds = load_text("nothing", text, &DataSpec::default()).unwrap();
    assert_eq!(ds.rows(), 2);
    assert_eq!(ds.k(), 0);
    assert!(ds.h.is_empty());
    assert_eq!(ds.h_row(0), &[] as &[f64]);
    assert_eq!(ds.n, vec![1.0, 1.0]);
    assert_eq!(ds.d, vec![1.0, 1.0]);
}

#[test]
fn target_names_with_and_without_suffix() {
    let spec = DataSpec {
        targets: vec!["b".into(), "a_loss".into(), "b_loss".into()],
        ..mixture_spec()
    };
    let ds = load_text("targets", GOOD, &spec).unwrap();
    let names: Vec<_> = ds.targets.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, vec!["b_loss", "a_loss"]);

    let spec = DataSpec {
        targets: vec!["c".into()],
        ..mixture_spec()
    };
    let m = data_err(
        load_text("unknown-target", GOOD, &spec),
        "unknown-target",
        None,
        Some("c"),
        "no column 'c'",
    );
    assert!(m.contains("available columns: 'weight_a'"), "{m}");
    assert!(m.contains("'b_loss'"), "{m}");
}

#[test]
fn missing_columns_list_available_ones() {
    let spec = DataSpec {
        n_col: Some("params".into()),
        ..mixture_spec()
    };
    let m = data_err(
        load_text("no-n-col", GOOD, &spec),
        "no-n-col",
        None,
        Some("params"),
        "no column 'params'",
    );
    assert!(m.contains("'model_size', 'n_tokens'"), "{m}");

    let spec = DataSpec {
        d_col: Some("N_TOKENS".into()),
        ..mixture_spec()
    };
    let m = data_err(
        load_text("no-d-col", GOOD, &spec),
        "no-d-col",
        None,
        Some("N_TOKENS"),
        "did you mean 'n_tokens'?",
    );
    assert!(m.contains("available columns"), "{m}");

    let text = "weight_a,size,n_tokens,loss\n1,1,1,1\n";
    let m = data_err(
        load_text("no-auto-n", text, &mixture_spec()),
        "no-auto-n",
        None,
        None,
        "no model-size column",
    );
    assert!(m.contains("'model_size', 'N', 'Model Size'"), "{m}");
    assert!(m.contains("available columns: 'weight_a', 'size'"), "{m}");

    let text = "weight_a,N,toks,loss\n1,1,1,1\n";
    data_err(
        load_text("no-auto-d", text, &mixture_spec()),
        "no-auto-d",
        None,
        None,
        "no token column",
    );

    let text = "mix_a,N,D,loss\n1,1,1,1\n";
    let m = data_err(
        load_text("no-weights", text, &mixture_spec()),
        "no-weights",
        None,
        None,
        "no weight columns",
    );
    assert!(m.contains("'mix_a'"), "{m}");

    let text = "weight_a,N,D,score\n1,1,1,1\n";
    data_err(
        load_text("no-targets", text, &mixture_spec()),
        "no-targets",
        None,
        None,
        "no target columns",
    );
}

#[test]
fn flops_derivation() {
    let text = "x,Model Size,Training FLOP,loss\n1,1e9,6e18,3.0\n2,2e9,2.4e19,2.5\n";
    let spec = DataSpec {
        n_col: Some("Model Size".into()),
        flops_col: Some("Training FLOP".into()),
        targets: vec!["loss".into()],
        needs_scale: true,
        ..Default::default()
    };
    let ds = load_text("flops", text, &spec).unwrap();
    assert_eq!(ds.n, vec![1e9, 2e9]);
    assert!((ds.d[0] - 1e9).abs() < 1e-3, "{}", ds.d[0]);
    assert!((ds.d[1] - 2e9).abs() < 1e-3, "{}", ds.d[1]);
    assert!(ds.notices.iter().any(|n| n.contains("Training FLOP")));

    // Both a token column and a FLOP column: usage error.
    let both = DataSpec {
        d_col: Some("x".into()),
        ..spec.clone()
    };
    usage_err(load_text("flops-both", text, &both), "not both");

    // A non-positive FLOP count gives D <= 0, reported at the FLOP column.
    let text = "Model Size,Training FLOP,loss\n1e9,6e18,3.0\n1e9,0,3.0\n";
    data_err(
        load_text("flops-zero", text, &spec),
        "flops-zero",
        Some(2),
        Some("Training FLOP"),
        "must be positive",
    );
}

#[test]
fn bad_cells() {
    let spec = mixture_spec();
    let header = "weight_a,weight_b,model_size,n_tokens,a_loss,color\n";
    let good = "0.5,0.5,1e8,1e9,3.0,red\n";
    let cases: &[(&str, &str, &str)] = &[
        (
            "0.5,0.5,abc,1e9,3.0,red",
            "model_size",
            "'abc' is not a number",
        ),
        (
            "0.5,0.5,1e8,1e9,1.2.3,red",
            "a_loss",
            "'1.2.3' is not a number",
        ),
        (
            "0.5,0.5,nan,1e9,3.0,red",
            "model_size",
            "'nan' is not a finite number",
        ),
        (
            "0.5,0.5,1e8,inf,3.0,red",
            "n_tokens",
            "'inf' is not a finite number",
        ),
        (
            "0.5,0.5,1e8,1e9,-inf,red",
            "a_loss",
            "'-inf' is not a finite number",
        ),
        (
            "NaN,0.5,1e8,1e9,3.0,red",
            "weight_a",
            "'NaN' is not a finite number",
        ),
        (
            "0.5,0.5,0,1e9,3.0,red",
            "model_size",
            "model size N must be positive, got 0",
        ),
        (
            "0.5,0.5,-1e8,1e9,3.0,red",
            "model_size",
            "must be positive, got -1e8",
        ),
        (
            "0.5,0.5,1e8,0,3.0,red",
            "n_tokens",
            "token count D must be positive, got 0",
        ),
        (
            "0.5,0.5,1e8,1e9,0,red",
            "a_loss",
            "loss must be positive, got 0",
        ),
        (
            "0.5,0.5,1e8,1e9,-2,red",
            "a_loss",
            "loss must be positive, got -2",
        ),
        (
            "-0.5,1.5,1e8,1e9,3.0,red",
            "weight_a",
            "weight must be non-negative, got -0.5",
        ),
        ("0.5,0.4,1e8,1e9,3.0,red", "weight_*", "weights sum to 0.9"),
        ("0.5,0.5,,1e9,3.0,red", "model_size", "empty cell"),
        ("0.5,0.5,1e8, ,3.0,red", "n_tokens", "empty cell"),
        ("0.5,,1e8,1e9,3.0,red", "weight_b", "empty cell"),
    ];
    for (i, (row, col, needle)) in cases.iter().enumerate() {
        let tag = format!("badcell{i}");
        let text = format!("{header}{good}{good}{row}\n{good}");
        data_err(
            load_text(&tag, &text, &spec),
            &tag,
            Some(3),
            Some(col),
            needle,
        );
    }
    // Within tolerance, the sum is fine.
    let text = format!("{header}0.5,0.5009,1e8,1e9,3.0,red\n");
    assert!(load_text("sum-ok", &text, &spec).is_ok());
    // The sum error says the sum.
    let text = format!("{header}0.6,0.6,1e8,1e9,3.0,red\n");
    let m = data_err(
        load_text("sum-bad", &text, &spec),
        "sum-bad",
        Some(1),
        Some("weight_*"),
        "weights sum to 1.2",
    );
    assert!(m.contains("not 1"), "{m}");
}

#[test]
fn unused_columns_are_ignored() {
    // `color` holds text and an empty cell; `junk` is numeric nonsense; neither is read.
    let text = "weight_a,N,D,loss,junk,color\n1,1,1,1,-5,\n1,2,1,1,nan,#fff\n";
    let ds = load_text("unused", text, &mixture_spec()).unwrap();
    assert_eq!(ds.rows(), 2);
}

#[test]
fn empty_target_cells_are_skipped_per_target() {
    let text = "\
weight_a,N,D,x_loss,y_loss
1,1,1,2.0,3.0
1,2,1,,3.1
1,3,1,2.2,
1,4,1,,
";
    let ds = load_text("missing", text, &mixture_spec()).unwrap();
    assert_eq!(ds.rows(), 4);
    let x = &ds.targets[0];
    assert_eq!(x.missing, 2);
    assert!(x.y[1].is_nan() && x.y[3].is_nan());
    assert_eq!((x.y[0], x.y[2]), (2.0, 2.2));
    assert_eq!(ds.targets[1].missing, 2);
    assert!(ds
        .notices
        .iter()
        .any(|n| n.contains("x_loss: 2 empty cells")));
}

#[test]
fn too_many_domains() {
    let k = MAX_DOMAINS + 1;
    let header: Vec<String> = (0..k).map(|i| format!("weight_d{i}")).collect();
    let row: Vec<String> = (0..k)
        .map(|i| if i == 0 { "1" } else { "0" }.to_string())
        .collect();
    let text = format!("{},N,D,loss\n{},1,1,1\n", header.join(","), row.join(","));
    data_err(
        load_text("many-domains", &text, &mixture_spec()),
        "many-domains",
        None,
        None,
        &format!("{k} weight columns"),
    );
    // Exactly MAX_DOMAINS is fine; without a mixture the count does not matter.
    assert!(load_text("many-domains-nomix", &text, &DataSpec::default()).is_ok());
}

#[test]
fn malformed_files() {
    let spec = mixture_spec();
    data_err(
        load_text("empty", "", &spec),
        "empty",
        None,
        None,
        "empty file",
    );
    data_err(
        load_text("header-only", "weight_a,N,D,loss\n", &spec),
        "header-only",
        None,
        None,
        "no data rows",
    );
    let m = data_err(
        load_text("ragged", "weight_a,N,D,loss\n1,1,1,1\n1,1,1\n", &spec),
        "ragged",
        Some(2),
        None,
        "row has 3 fields but the header has 4 columns",
    );
    assert!(m.contains("row 2"), "{m}");
    data_err(
        load_text("ragged-long", "weight_a,N,D,loss\n1,1,1,1,9\n", &spec),
        "ragged-long",
        Some(1),
        None,
        "5 fields",
    );
    data_err(
        load_text("dup-header", "weight_a,N,N,D,loss\n1,1,1,1,1\n", &spec),
        "dup-header",
        None,
        Some("N"),
        "2 times",
    );
    // A byte-order mark and spaces around cells are tolerated.
    let ds = load_text("bom", "\u{feff}weight_a , N,D,loss\n 1 ,2, 3 ,4\n", &spec).unwrap();
    assert_eq!((ds.n[0], ds.d[0], ds.targets[0].y[0]), (2.0, 3.0, 4.0));
    // A missing file is an I/O error.
    let missing = std::env::temp_dir().join("mixlaw-no-such-file-here.csv");
    assert!(matches!(load_csv(&missing, &spec), Err(Error::Io { .. })));
}

#[test]
fn duplicates() {
    // Row 2 repeats row 1 with D within 0.1% and identical losses: dropped.
    // Row 3: D differs by 1%: kept. Row 4: a loss differs: kept. Row 5: other N: kept.
    // Row 6: other mixture: kept. Rows 7-8: both empty cells in the same place: 8 dropped.
    // Row 9 repeats row 1 exactly (after row 2 was dropped): dropped.
    let text = "\
weight_a,weight_b,N,D,x_loss,y_loss
0.5,0.5,1e8,19998000000.0,3.0,2.0
0.5,0.5,1e8,20000000000.0,3.0,2.0
0.5,0.5,1e8,20200000000.0,3.0,2.0
0.5,0.5,1e8,20000000000.0,3.0,2.1
0.5,0.5,2e8,20000000000.0,3.0,2.0
0.4,0.6,1e8,20000000000.0,3.0,2.0
0.5,0.5,1e8,5e9,,2.5
0.5,0.5,1e8,5.001e9,,2.5
0.5,0.5,1e8,19998000000.0,3.0,2.0
";
    let ds = load_text("dups", text, &mixture_spec()).unwrap();
    assert_eq!(ds.row_ids, vec![1, 3, 4, 5, 6, 7]);
    assert_eq!(ds.duplicates_dropped, 3);
    assert_eq!(ds.d[0], 19998000000.0, "the first of each is kept");
    assert!(ds
        .notices
        .iter()
        .any(|n| n.starts_with("dropped 3 duplicate rows")));

    // Duplicates go before filters: a filter that removes the first copy does not resurrect
    // the second.
    let spec = DataSpec {
        filters: vec!["D > 19999000000".into()],
        ..mixture_spec()
    };
    let ds = load_text("dups-then-filter", text, &spec).unwrap();
    assert!(!ds.row_ids.contains(&2), "{:?}", ds.row_ids);
    assert_eq!(ds.duplicates_dropped, 3);

    // Without a mixture, weight text still distinguishes runs.
    let spec = DataSpec {
        needs_scale: true,
        ..Default::default()
    };
    let ds = load_text("dups-nomix", text, &spec).unwrap();
    assert_eq!(ds.row_ids, vec![1, 3, 4, 5, 6, 7]);
}

#[test]
fn duplicates_scale_linearly() {
    // 30k rows, half of them duplicates: must be quick (hashing, not pairwise).
    let mut text = String::from("weight_a,weight_b,N,D,loss\n");
    for i in 0..15_000 {
        let w = (i % 100) as f64 / 100.0;
        let loss = 2.0 + i as f64 * 1e-5;
        text.push_str(&format!("{w},{},1e8,1e9,{loss}\n", 1.0 - w));
        text.push_str(&format!("{w},{},1e8,1.0005e9,{loss}\n", 1.0 - w));
    }
    let t = std::time::Instant::now();
    let ds = load_text("dups-big", &text, &mixture_spec()).unwrap();
    assert_eq!(ds.rows(), 15_000);
    assert_eq!(ds.duplicates_dropped, 15_000);
    assert!(t.elapsed().as_secs_f64() < 5.0, "{:?}", t.elapsed());
}

#[test]
fn filters() {
    let spec = DataSpec {
        filters: vec!["model_size >= 2e8".into(), "not n_tokens > 1e9".into()],
        ..mixture_spec()
    };
    let ds = load_text("filter", GOOD, &spec).unwrap();
    assert_eq!(ds.row_ids, vec![3]);
    assert_eq!(ds.filtered_out, 3);
    assert_eq!(ds.h_row(0), &[1.0, 0.0]);
    assert!(ds
        .notices
        .iter()
        .any(|n| n.contains("--where kept 1 of 4 rows")));

    let spec = DataSpec {
        filters: vec!["(model_size==1e8 and n_tokens>=2e9) or model_size>1e8".into()],
        ..mixture_spec()
    };
    let ds = load_text("filter-or", GOOD, &spec).unwrap();
    assert_eq!(ds.row_ids, vec![2, 3, 4]);

    // Quoted names with spaces.
    let text = "Model Size,Training FLOP,loss\n1e9,6e18,3\n2e9,6e18,3\n";
    let spec = DataSpec {
        filters: vec!["\"Model Size\">=1.5e9".into()],
        flops_col: Some("Training FLOP".into()),
        needs_scale: true,
        ..Default::default()
    };
    let ds = load_text("filter-quoted", text, &spec).unwrap();
    assert_eq!(ds.row_ids, vec![2]);
}

/// `--where` compares text columns with quoted text, by the cell's text: a text column compared
/// only with text is never parsed as numbers (the empty cell of `color` included), a numeric
/// column compared with text matches its cell as written, and `--train`/`--test` masks do the
/// same.
#[test]
fn text_filters() {
    let with = |filters: &[&str]| DataSpec {
        filters: filters.iter().map(|f| f.to_string()).collect(),
        ..mixture_spec()
    };
    let rows = |tag: &str, filters: &[&str]| load_text(tag, GOOD, &with(filters)).unwrap().row_ids;
    assert_eq!(rows("text-eq", &["color == \"red\""]), vec![1]);
    assert_eq!(rows("text-ne", &["color != 'red'"]), vec![2, 3, 4]);
    assert_eq!(rows("text-empty", &["color == ''"]), vec![3]);
    assert_eq!(rows("text-spaces", &["color == 'x y z'"]), vec![4]);
    assert_eq!(
        rows("text-and-number", &["color != '' and model_size > 1e8"]),
        vec![4]
    );
    // A numeric column compared with text: the cell's text, exactly.
    assert_eq!(rows("text-numeric", &["model_size == '2e8'"]), vec![3, 4]);
    data_err(
        load_text(
            "text-numeric-other",
            GOOD,
            &with(&["model_size == '200000000'"]),
        ),
        "text-numeric-other",
        None,
        None,
        "no rows left after --where",
    );
    // The same column compared with a number too must hold numbers.
    data_err(
        load_text(
            "text-and-number-column",
            GOOD,
            &with(&["color == 'red' or color < 1"]),
        ),
        "text-and-number-column",
        Some(1),
        Some("color"),
        "'red' is not a number",
    );
    // Masks for --train/--test.
    let path = write("text-mask", GOOD);
    let table = Table::read(&path).unwrap();
    let ds = load(&table, &mixture_spec()).unwrap();
    assert_eq!(
        mask(&ds, &table, &["color == 'blue' or color == 'x y z'".into()]).unwrap(),
        vec![false, true, false, true]
    );
}

/// `group_by`: groups by the cell's text in order of first appearance (a numeric column too),
/// a row of one group never duplicates a row of another, `drop_highest` applies per group,
/// subsets keep the groups of their rows, and an empty group cell is an error at that cell.
#[test]
fn groups() {
    let text = "\
study,size,N,D,loss
b,1e9,1e8,1e9,3.0
a,2e9,1e8,1e9,3.0
b,1e9,2e8,1e9,2.9
b,1e9,1e8,1e9,3.0
a,1e9,2e8,2e9,2.5
c,1e9,3e8,2e9,2.4
";
    let spec = |col: &str| DataSpec {
        group_by: Some(col.into()),
        needs_scale: true,
        ..Default::default()
    };
    let ds = load_text("groups", text, &spec("study")).unwrap();
    let g = ds.groups.as_ref().unwrap();
    assert_eq!(g.column, "study");
    assert_eq!(g.names, ["b", "a", "c"]);
    // Row 4 repeats row 1 (same group): dropped; row 2 repeats row 1's numbers in another group.
    assert_eq!(ds.row_ids, [1, 2, 3, 5, 6]);
    assert_eq!(g.of_row, [0, 1, 0, 1, 2]);
    assert!(
        ds.notices
            .iter()
            .any(|n| n == "rows grouped by column 'study': 3 groups"),
        "{:?}",
        ds.notices
    );
    let ungrouped = load_text("groups-none", text, &scale_spec()).unwrap();
    assert_eq!(
        ungrouped.row_ids,
        [1, 3, 5, 6],
        "without groups row 2 is a duplicate"
    );
    assert!(ungrouped.groups.is_none());

    // By the text of a numeric column.
    let by_size = load_text("groups-numeric", text, &spec("size")).unwrap();
    assert_eq!(by_size.groups.as_ref().unwrap().names, ["1e9", "2e9"]);

    // drop_highest per group: the highest loss of each group goes.
    let dropped = load_text(
        "groups-drop",
        text,
        &DataSpec {
            drop_highest: 1,
            ..spec("study")
        },
    )
    .unwrap();
    let y = &dropped.targets[0].y;
    let kept: Vec<bool> = y.iter().map(|v| !v.is_nan()).collect();
    assert_eq!(kept, [false, false, true, true, false]);
    assert_eq!(dropped.targets[0].dropped_highest, 3);
    assert!(dropped
        .notices
        .iter()
        .any(|n| n.contains("dropped the 3 highest values (drop_highest 1 per group)")));

    // Per group, and after a subset.
    let parts = ds.by_group();
    let names: Vec<Option<&str>> = parts.iter().map(|(n, _)| *n).collect();
    assert_eq!(names, [Some("b"), Some("a"), Some("c")]);
    assert_eq!(parts[1].1.row_ids, [2, 5]);
    assert_eq!(parts[1].1.groups.as_ref().unwrap().names, ["a"]);
    let sub = ds.subset(&[false, true, true, false, true]);
    let g = sub.groups.as_ref().unwrap();
    assert_eq!(
        (g.names.clone(), g.of_row.clone()),
        (vec!["a".to_string(), "b".into(), "c".into()], vec![0, 1, 2])
    );
    let whole = ungrouped.by_group();
    assert!(whole.len() == 1 && whole[0].0.is_none() && matches!(whole[0].1, Cow::Borrowed(_)));

    // Errors: an empty group cell (even in a row a filter would drop), an unknown column.
    data_err(
        load_text(
            "groups-empty",
            &text.replace("c,1e9", ",1e9"),
            &DataSpec {
                filters: vec!["N < 3e8".into()],
                ..spec("study")
            },
        ),
        "groups-empty",
        Some(6),
        Some("study"),
        "empty cell; the rows are grouped by this column",
    );
    let m = data_err(
        load_text("groups-unknown", text, &spec("experiment")),
        "groups-unknown",
        None,
        Some("experiment"),
        "no column 'experiment' (the column to group by)",
    );
    assert!(m.contains("available columns: 'study'"), "{m}");
}

#[test]
fn filter_errors() {
    let spec = DataSpec {
        filters: vec!["model_size =< 3".into()],
        ..mixture_spec()
    };
    let m = usage_err(
        load_text("filter-parse", GOOD, &spec),
        "bad --where expression",
    );
    assert!(
        m.contains("expected a comparison operator\n  model_size =< 3\n             ^"),
        "{m}"
    );

    let spec = DataSpec {
        filters: vec!["size > 3".into()],
        ..mixture_spec()
    };
    let m = data_err(
        load_text("filter-unknown", GOOD, &spec),
        "filter-unknown",
        None,
        Some("size"),
        "unknown column 'size' in --where expression `size > 3`",
    );
    assert!(m.contains("available columns: 'weight_a'"), "{m}");

    // Filter columns must be numeric in every row, even rows a filter would remove.
    let text = "weight_a,N,D,loss,step\n1,1,1,1,10\n1,2,1,1,\n";
    let spec = DataSpec {
        filters: vec!["step > 5".into()],
        ..mixture_spec()
    };
    data_err(
        load_text("filter-empty-cell", text, &spec),
        "filter-empty-cell",
        Some(2),
        Some("step"),
        "empty cell",
    );
    let spec = DataSpec {
        filters: vec!["color == 1".into()],
        ..mixture_spec()
    };
    data_err(
        load_text("filter-text", GOOD, &spec),
        "filter-text",
        Some(1),
        Some("color"),
        "'red' is not a number",
    );

    let spec = DataSpec {
        filters: vec!["model_size > 1e8".into(), "n_tokens > 5e9".into()],
        ..mixture_spec()
    };
    let m = data_err(
        load_text("filter-nothing", GOOD, &spec),
        "filter-nothing",
        None,
        None,
        "no rows left after --where `model_size > 1e8` and `n_tokens > 5e9`",
    );
    assert!(m.contains("4 rows before"), "{m}");
}

#[test]
fn drop_highest_with_ties() {
    let mut y = vec![1.0, 5.0, 3.0, 5.0, f64::NAN, 4.0, 2.0];
    // K = 2: threshold sorted[-2] = 5 (a tie with the top), so both 5s go, nothing else.
    assert_eq!(drop_highest(&mut y, 2), 2);
    assert!(is_dropped(y[1]) && is_dropped(y[3]));
    assert!(y[4].is_nan() && !is_dropped(y[4]), "empty stays empty");
    assert_eq!((y[0], y[2], y[5], y[6]), (1.0, 3.0, 4.0, 2.0));

    let mut y = vec![1.0, 5.0, 3.0, 5.0, 4.0];
    // K = 3: threshold sorted[-3] = 4 -> drops 4, 5, 5.
    assert_eq!(drop_highest(&mut y, 3), 3);
    // K = 1 with a top tie: threshold 5 -> both 5s dropped ("ties drop more").
    let mut y = vec![5.0, 1.0, 5.0];
    assert_eq!(drop_highest(&mut y, 1), 2);
    // K = 0: nothing; K >= count: everything.
    let mut y = vec![1.0, 2.0];
    assert_eq!(drop_highest(&mut y, 0), 0);
    assert_eq!(drop_highest(&mut y, 5), 2);
    assert!(y.iter().all(|v| v.is_nan()));

    // Through load, per target, after filters.
    let text = "\
weight_a,N,D,x_loss,y_loss
1,1,1,1.0,9.0
1,2,1,2.0,
1,3,1,3.0,7.0
1,4,1,3.0,6.0
1,5,1,9.0,5.0
";
    let spec = DataSpec {
        drop_highest: 2,
        filters: vec!["N < 5".into()],
        ..mixture_spec()
    };
    let ds = load_text("drop-highest", text, &spec).unwrap();
    assert_eq!(ds.rows(), 4);
    let x = &ds.targets[0];
    assert_eq!(x.dropped_highest, 2, "{:?}", x.y); // the two 3.0s
    assert_eq!(x.missing, 0);
    assert_eq!((x.y[0], x.y[1]), (1.0, 2.0));
    let y = &ds.targets[1];
    assert_eq!((y.dropped_highest, y.missing), (2, 1));
    assert_eq!(y.y[3], 6.0);

    // subset keeps telling dropped values from empty cells.
    let s = ds.subset(&[false, true, true, true]);
    assert_eq!(s.targets[0].dropped_highest, 2);
    assert_eq!(s.targets[1].missing, 1);
    assert_eq!(s.targets[1].dropped_highest, 1);
}

#[test]
fn subset_and_mask() {
    let path = write("subset", GOOD);
    let spec = DataSpec {
        filters: vec!["n_tokens > 1e8".into()],
        ..mixture_spec()
    };
    let ds = load_csv(&path, &spec).unwrap();
    let keep = mask(
        &ds,
        &Table::read(&path).unwrap(),
        &["model_size >= 2e8".into()],
    )
    .unwrap();
    assert_eq!(keep, vec![false, false, true, true]);
    let test = ds.subset(&keep);
    assert_eq!(test.rows(), 2);
    assert_eq!(test.row_ids, vec![3, 4]);
    assert_eq!(test.h, vec![1.0, 0.0, 0.0, 1.0]);
    assert_eq!(test.n, vec![2e8, 2e8]);
    assert_eq!(test.d, vec![1e9, 2e9]);
    assert_eq!(test.targets[0].y, vec![2.8, 2.7]);
    assert_eq!(test.domains, ds.domains);
    let train = ds.subset(&keep.iter().map(|k| !k).collect::<Vec<_>>());
    assert_eq!(train.row_ids, vec![1, 2]);

    // mask aligns with row_ids after duplicates/filters, and ANDs expressions.
    let ds = load_csv(
        &path,
        &DataSpec {
            filters: vec!["n_tokens >= 2e9".into()],
            ..mixture_spec()
        },
    )
    .unwrap();
    assert_eq!(ds.row_ids, vec![2, 4]);
    let keep = mask(
        &ds,
        &Table::read(&path).unwrap(),
        &["model_size < 3e8".into(), "a_loss < 2.8".into()],
    )
    .unwrap();
    assert_eq!(keep, vec![false, true]);
    assert_eq!(
        mask(&ds, &Table::read(&path).unwrap(), &[]).unwrap(),
        vec![true, true]
    );

    // Errors: parse, unknown column, non-numeric column.
    match mask(&ds, &Table::read(&path).unwrap(), &["model_size <".into()]) {
        Err(Error::Usage(m)) => assert!(m.contains("bad --train/--test expression"), "{m}"),
        other => panic!("{other:?}"),
    }
    match mask(&ds, &Table::read(&path).unwrap(), &["nope < 1".into()]) {
        Err(Error::Data { at, msg }) => {
            assert_eq!(at.column.as_deref(), Some("nope"));
            assert!(msg.contains("available columns"), "{msg}");
        }
        other => panic!("{other:?}"),
    }
    match mask(&ds, &Table::read(&path).unwrap(), &["color < 1".into()]) {
        Err(Error::Data { at, msg }) => {
            assert_eq!((at.row, at.column.as_deref()), (Some(1), Some("color")));
            assert!(msg.contains("'red' is not a number"), "{msg}");
        }
        other => panic!("{other:?}"),
    }
}

/// `CARGO_MANIFEST_DIR/data/<rel>`, or None (with a message: the test skips) if absent; under
/// `MIXLAW_REQUIRE_DATASETS=1` a missing table panics instead. The unit tests' copy of the
/// integration tests' `common::dataset` (tests/suite/common/published.rs), which they cannot
/// reach.
fn published(rel: &str) -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("data").join(rel);
    if p.exists() {
        return Some(p);
    }
    let why = format!(
        "{} is missing: `bash data/fetch.sh` fetches the published tables",
        p.display()
    );
    if std::env::var("MIXLAW_REQUIRE_DATASETS").is_ok_and(|v| v == "1") {
        panic!("MIXLAW_REQUIRE_DATASETS=1 but {why}");
    }
    eprintln!("skipping: {why}");
    None
}

#[test]
fn real_slimpajama_table() {
    let Some(path) = published("apple_dmsl_slimpajama/dmsl_llm_slimpajama.csv") else {
        return;
    };
    let ds = load_csv(&path, &mixture_spec()).unwrap();
    assert_eq!(
        ds.domains,
        vec![
            "arxiv",
            "book",
            "c4",
            "github",
            "commoncrawl",
            "stackexchange",
            "wikipedia"
        ]
    );
    assert_eq!(ds.targets.len(), 8);
    assert_eq!(ds.targets[7].name, "openhermes_loss");
    // 2452 source rows; every (mixture, size) run repeats its last checkpoint once, and there
    // are 224 such runs (60/60/40/40/20/4 mixtures at the six sizes).
    let runs: std::collections::HashSet<(Vec<u64>, u64)> = (0..ds.rows())
        .map(|r| {
            (
                ds.h_row(r).iter().map(|w| w.to_bits()).collect(),
                ds.n[r].to_bits(),
            )
        })
        .collect();
    assert_eq!(runs.len(), 224);
    assert_eq!(ds.duplicates_dropped, 224);
    assert_eq!(ds.rows() + ds.duplicates_dropped, 2452);
    // The file's last row is itself a repeated checkpoint.
    assert_eq!(*ds.row_ids.last().unwrap(), 2451);
    // The 16 empty cells (github 2, stackexchange 5, wikipedia 6, openhermes 3) all survive.
    let missing: Vec<usize> = ds.targets.iter().map(|t| t.missing).collect();
    assert_eq!(missing, vec![0, 0, 0, 2, 0, 5, 6, 3]);
    for r in 0..ds.rows() {
        let s: f64 = ds.h_row(r).iter().sum();
        assert!((s - 1.0).abs() < 1e-3);
    }

    // A filter on raw columns, and a split mask.
    let spec = DataSpec {
        filters: vec!["model_size <= 1e9".into()],
        ..mixture_spec()
    };
    let small = load_csv(&path, &spec).unwrap();
    assert!(small.n.iter().all(|&n| n <= 1e9));
    assert_eq!(small.filtered_out, ds.rows() - small.rows());
    let keep = mask(
        &ds,
        &Table::read(&path).unwrap(),
        &["model_size >= 1.2e9".into()],
    )
    .unwrap();
    assert_eq!(
        keep.iter().filter(|&&k| k).count() + small.rows(),
        ds.rows()
    );
}

#[test]
fn real_epoch_table() {
    let Some(path) = published("epoch_chinchilla/svg_extracted_data.csv") else {
        return;
    };
    let spec = DataSpec {
        n_col: Some("Model Size".into()),
        flops_col: Some("Training FLOP".into()),
        targets: vec!["loss".into()],
        drop_highest: 5,
        needs_scale: true,
        keep_duplicates: true,
        ..Default::default()
    };
    // Epoch's fit keeps all 245 rows: 240 after dropping the 5 highest losses.
    let ds = load_csv(&path, &spec).unwrap();
    assert_eq!(ds.rows(), 245);
    assert_eq!(ds.duplicates_dropped, 0);
    assert_eq!(ds.row_ids, (1..=245).collect::<Vec<_>>());
    assert_eq!(ds.k(), 0);
    let t = &ds.targets[0];
    assert_eq!(t.y.iter().filter(|y| y.is_finite()).count(), 240);
    assert_eq!((t.dropped_highest, t.missing), (5, 0));
    assert!(t
        .y
        .iter()
        .filter(|y| y.is_finite())
        .all(|&y| y < 3.446995430227908));
    // D = C / (6 N) for the first row.
    let expected = 9.993852799709755e18 / (6.0 * 6795600349.289497);
    assert!((ds.d[0] - expected).abs() <= 1e-9 * expected);

    // The duplicate rule finds one digitised point listed twice (rows 64 and 89: same N and
    // loss, FLOP within 0.01%).
    let spec = DataSpec {
        keep_duplicates: false,
        ..spec
    };
    let ds = load_csv(&path, &spec).unwrap();
    assert_eq!(ds.duplicates_dropped, 1);
    assert_eq!(ds.rows(), 244);
    assert!(!ds.row_ids.contains(&89));
    assert_eq!(
        ds.targets[0].y.iter().filter(|y| y.is_finite()).count(),
        239
    );
}

/// A table built from columns in memory reads as the same CSV does: numbers as numbers, NaN as
/// an empty cell, text columns parsed only where used, and the same errors with the same
/// locations (the source is the name given).
#[test]
fn in_memory_columns_read_as_the_csv_does() {
    let spec = mixture_spec();
    let csv = load_csv(&write("memory", GOOD), &spec).unwrap();
    let columns = |a_loss: Vec<f64>| {
        vec![
            (
                "weight_a".to_string(),
                Column::from(vec![0.5, 0.25, 1.0, 0.0]),
            ),
            (
                "weight_b".to_string(),
                Column::from(&[0.5, 0.75, 0.0, 1.0][..]),
            ),
            (
                "model_size".to_string(),
                Column::from(ndarray::arr1(&[1e8, 1e8, 2e8, 2e8]).view()),
            ),
            (
                "n_tokens".to_string(),
                Column::from(vec!["1e9", "2e9", "1e9", "2e9"]),
            ),
            ("a_loss".to_string(), Column::from(a_loss)),
            ("b_loss".to_string(), Column::from(vec![3.5, 3.2, 3.1, 3.0])),
            (
                "color".to_string(),
                Column::from(vec!["red", "blue", "", "x y z"]),
            ),
        ]
    };
    let table = Table::from_columns("<frame>", columns(vec![3.0, 2.9, 2.8, 2.7])).unwrap();
    let mem = load(&table, &spec).unwrap();
    assert_eq!(
        (mem.h.clone(), mem.n.clone(), mem.d.clone()),
        (csv.h, csv.n, csv.d)
    );
    assert_eq!(mem.targets[0].y, csv.targets[0].y);
    assert_eq!(mem.domains, csv.domains);
    assert_eq!(mem.source, PathBuf::from("<frame>"));
    // NaN is an empty cell: that row is skipped for that target only.
    let gap = Table::from_columns("<frame>", columns(vec![3.0, f64::NAN, 2.8, 2.7])).unwrap();
    let ds = load(&gap, &spec).unwrap();
    assert!(ds.targets[0].y[1].is_nan() && ds.targets[0].missing == 1);
    // An infinite or non-positive loss is an error at its row and column.
    let inf = Table::from_columns("<frame>", columns(vec![3.0, 2.9, f64::INFINITY, 2.7])).unwrap();
    data_err(
        load(&inf, &spec),
        "<frame>",
        Some(3),
        Some("a_loss"),
        "'inf' is not a finite number",
    );
    // Columns of different lengths, or none, are refused.
    let mut ragged = columns(vec![3.0, 2.9, 2.8, 2.7]);
    ragged[1].1 = Column::from(vec![0.5, 0.75]);
    let e = Table::from_columns("<frame>", ragged)
        .err()
        .unwrap()
        .to_string();
    assert!(
        e.contains("column 'weight_b' has 2 values but column 'weight_a' has 4"),
        "{e}"
    );
    assert!(Table::from_columns("<frame>", Vec::new()).is_err());
}

/// Text that is not UTF-8 (a Latin-1 export) is named by its row and column, as every bad cell
/// is, or by the header's column number, with the conversion to run; the reader's 0-based
/// field index ("field 5") was all it said.
#[test]
fn invalid_utf8_names_the_row_and_column() {
    let cell = Table::parse(
        b"weight_a,weight_b,model_size,n_tokens,a_loss\n0.5,0.5,1e8,1e9,3.\xe9\n",
        Path::new("latin1.csv"),
    )
    .err()
    .unwrap();
    let Error::Data { at, msg } = &cell else {
        panic!("{cell}")
    };
    assert_eq!((at.row, at.column.as_deref()), (Some(1), Some("a_loss")));
    assert!(msg.contains("iconv -f LATIN1 -t UTF-8"), "{msg}");
    let header = Table::parse(b"weight_a,caf\xe9_loss\n1,2\n", Path::new("latin1.csv"))
        .err()
        .unwrap()
        .to_string();
    assert!(
        header.contains("latin1.csv: invalid UTF-8 text in the header line, column 2"),
        "{header}"
    );
}

/// A table separated by semicolons or tabs reads as one column named like the whole header:
/// the error listing the columns says what the file seems to be.
#[test]
fn a_file_separated_otherwise_is_named_as_such() {
    for (sep, what) in [(";", "semicolons"), ("\t", "tabs")] {
        let text = GOOD.replace(',', sep);
        let e = load_text("separated", &text, &mixture_spec())
            .err()
            .unwrap()
            .to_string();
        assert!(
            e.contains(&format!("the file seems separated by {what}")),
            "{e}"
        );
    }
}
