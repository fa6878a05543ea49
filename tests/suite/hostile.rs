//! Hostile input, racing writers and tampered files (issue 16): every case ends in a clear
//! error (exit 2, the file and line or flag named) or in the right result, never a panic, an
//! abort or a file lost.

use std::path::Path;
use std::process::Output;

use crate::common::{example, example_fit, mixlaw, mixlaw_ok, temp_dir};

/// Require exit code 2, nothing on stdout and every needle in stderr.
fn fails(out: &Output, needles: &[&str]) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        out.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    for n in needles {
        assert!(err.contains(n), "missing {n:?} in:\n{err}");
    }
    assert!(!err.contains("panicked"), "{err}");
}

/// A quick additive fit of the example, written to `dir/fit.json`.
fn fit_file(dir: &Path) -> String {
    example_fit(dir, &["--starts", "4", "--backend", "cpu"])
}

#[test]
fn absurd_sizes_are_refused_before_any_work() {
    let dir = temp_dir("hostile-sizes");
    let fit = fit_file(&dir);
    let e = example();
    for (args, needle) in [
        (
            vec![
                "fit",
                &e,
                "--law",
                "additive",
                "--starts",
                "18446744073709551615",
            ],
            "--starts 18446744073709551615 needs about",
        ),
        (
            vec!["fit", &e, "--law", "additive", "--starts", "1000000000000"],
            "use fewer starts",
        ),
        (
            vec![
                "bootstrap",
                &e,
                "--law",
                "additive",
                "--replicates",
                "1000000000000",
            ],
            "use fewer replicates",
        ),
        (
            vec!["optimize", "--fit", &fit, "--n", "inf", "--d", "1e9"],
            "--n must be a positive finite number",
        ),
        (
            vec!["optimize", "--fit", &fit, "--n", "1e9", "--d", "1e400"],
            "--d must be a positive finite number",
        ),
        (
            vec!["optimize", "--fit", &fit, "--flops", "inf"],
            "--flops must be a positive finite number",
        ),
        (
            vec![
                "optimize",
                "--fit",
                &fit,
                "--n",
                "1e9",
                "--d",
                "1e10",
                "--top",
                "18446744073709551615",
            ],
            "--top at most 100000",
        ),
        (
            vec![
                "optimize",
                "--fit",
                &fit,
                "--n",
                "1e9",
                "--d",
                "1e10",
                "--resolution",
                "18446744073709551615",
            ],
            "--resolution may be at most 1000000",
        ),
        (
            vec![
                "optimize", "--fit", &fit, "--n", "1e9", "--d", "1e10", "--min", "web=-0.1",
            ],
            "a weight limit is a number from 0 to 1",
        ),
        (
            vec![
                "optimize", "--fit", &fit, "--n", "1e9", "--d", "1e10", "--max", "web=NaN",
            ],
            "a weight limit is a number from 0 to 1",
        ),
        (
            vec![
                "optimize",
                "--fit",
                &fit,
                "--n",
                "1e9",
                "--d",
                "1e10",
                "--available",
                "web=1e6",
                "--available",
                "code=1e6",
                "--available",
                "books=1e6",
            ],
            "tokens",
        ),
        (
            vec![
                "optimize",
                "--fit",
                &fit,
                "--n",
                "1e9",
                "--d",
                "1e10",
                "--available",
                "web=1e6",
                "--min",
                "web=0.5",
            ],
            "--available gives it 1000000 tokens",
        ),
    ] {
        fails(&mixlaw(&args), &[needle]);
    }
    let sim = |mixtures: &str| {
        mixlaw(&[
            "simulate",
            "--law",
            "additive",
            "--domains",
            "a,b",
            "--mixtures",
            mixtures,
            "--params",
            "E=1.5,A=4,alpha=0.34,B=1.5,beta=0.3,C_a=2.0,C_b=0.8,gamma_a=0.5,gamma_b=0.3",
        ])
    };
    fails(
        &sim("100000000000000"),
        &["rows needs about", "simulate fewer mixtures"],
    );
    fails(&sim("0"), &["--mixtures must be at least 1"]);
}

#[test]
fn tables_that_are_not_text_or_never_end_are_named() {
    let dir = temp_dir("hostile-tables");
    let fit = |path: &Path| mixlaw(&["fit", path.to_str().unwrap(), "--law", "chinchilla"]);
    let write = |name: &str, bytes: &[u8]| {
        let p = dir.join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    };
    fails(
        &fit(&write("t.csv.gz", &[0x1f, 0x8b, 8, 0, 1, 2, 3])),
        &["t.csv.gz", "gzip-compressed", "gunzip"],
    );
    fails(
        &fit(&write("t.csv.zst", &[0x28, 0xb5, 0x2f, 0xfd, 1, 2])),
        &["zstd-compressed"],
    );
    let utf16: Vec<u8> = [0xff, 0xfe]
        .into_iter()
        .chain("loss\n".bytes().flat_map(|b| [b, 0]))
        .collect();
    fails(&fit(&write("t16.csv", &utf16)), &["UTF-16", "iconv"]);
    fails(&fit(Path::new("/dev/zero")), &["/dev/zero", "binary data"]);
    // One line of 17 MiB: refused at the bound, naming the line, without holding the rest.
    let mut long = b"model_size,n_tokens,loss\n".to_vec();
    long.extend(std::iter::repeat_n(b'7', (1 << 24) + 1));
    fails(
        &fit(&write("long.csv", &long)),
        &["long.csv", "line 2 is longer than 16 MiB"],
    );
    // A table larger than the memory (a sparse file of 8 TiB, which takes no disk): refused
    // before a byte is read, at once. (Many short lines from a pipe are refused where their rows
    // outgrow the memory: `data/table.rs`.)
    let huge = write("huge.csv", b"model_size,n_tokens,loss\n");
    std::fs::File::options()
        .write(true)
        .open(&huge)
        .unwrap()
        .set_len(1 << 43)
        .unwrap();
    let clock = std::time::Instant::now();
    fails(
        &fit(&huge),
        &[
            "huge.csv",
            "too large to read: the file is 8.8 TB long",
            "available",
            "cut it down",
        ],
    );
    assert!(clock.elapsed().as_secs() < 5, "took {:?}", clock.elapsed());
    // A cell of 1 MB is quoted by its first characters only; an open quote is pointed at.
    let cell = "x".repeat(1 << 20);
    let big = write(
        "big.csv",
        format!("model_size,n_tokens,loss\n1e8,1e9,{cell}\n").as_bytes(),
    );
    let out = fit(&big);
    fails(
        &out,
        &[
            "row 1 (line 2)",
            "column 'loss'",
            "bytes in all",
            "is not a number",
        ],
    );
    assert!(
        out.stderr.len() < 1000,
        "{} bytes of error",
        out.stderr.len()
    );
    let quote = write(
        "quote.csv",
        b"model_size,n_tokens,loss\n1e8,1e9,\"3.2\n1e8,2e9,3.1\n2e8,1e9,3.0\n",
    );
    fails(
        &fit(&quote),
        &[
            "row 1 (line 2)",
            "runs over 3 lines",
            "closing quote missing",
        ],
    );
    // One column in two roles.
    fails(
        &mixlaw(&[
            "fit",
            &example(),
            "--law",
            "additive",
            "--n-col",
            "model_size",
            "--d-col",
            "model_size",
        ]),
        &[
            "column 'model_size'",
            "model size N and as the token count D",
        ],
    );
    fails(
        &mixlaw(&[
            "fit",
            &example(),
            "--law",
            "additive",
            "--target",
            "weight_web",
        ]),
        &["column 'weight_web'", "a domain weight and as a target"],
    );
    // A loss too small for a relative error: refused on input, naming the cell.
    let text = std::fs::read_to_string(example()).unwrap();
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    let cells: Vec<&str> = lines[3].split(',').collect();
    lines[3] = format!("{},1e-320", cells[..cells.len() - 1].join(","));
    let tiny = write("tiny.csv", (lines.join("\n") + "\n").as_bytes());
    fails(
        &mixlaw(&[
            "fit",
            tiny.to_str().unwrap(),
            "--law",
            "additive",
            "--starts",
            "2",
        ]),
        &[
            "row 3 (line 4)",
            "column 'target_loss'",
            "loss 1e-320 is below the smallest normal number",
        ],
    );
}

#[test]
fn fit_files_are_checked_against_their_law() {
    let dir = temp_dir("hostile-fitfile");
    let fit = fit_file(&dir);
    let good: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&fit).unwrap()).unwrap();
    let tampered = |name: &str, edit: &dyn Fn(&mut serde_json::Value)| {
        let mut v = good.clone();
        edit(&mut v);
        let p = dir.join(name);
        std::fs::write(&p, serde_json::to_string(&v).unwrap()).unwrap();
        p.display().to_string()
    };
    let optimize = |path: &str| mixlaw(&["optimize", "--fit", path, "--n", "1e9", "--d", "1e10"]);
    let predict = |path: &str| mixlaw(&["predict", path, &example()]);
    let f = tampered("unit.json", &|v| v["units"]["n"] = serde_json::json!(-1.0));
    fails(&predict(&f), &["unit.json", "units must be positive"]);
    let f = tampered("zero.json", &|v| {
        v["settings"]["d_unit"] = serde_json::json!(0.0)
    });
    fails(
        &predict(&f),
        &["zero.json", "--d-unit must be a positive number"],
    );
    let f = tampered("empty.json", &|v| v["targets"] = serde_json::json!([]));
    fails(&optimize(&f), &["empty.json", "no fitted targets"]);
    let f = tampered("extra.json", &|v| {
        v["targets"][0]["params"]["zeta"] = serde_json::json!(1.0)
    });
    fails(
        &optimize(&f),
        &["extra.json", "has a parameter zeta, which the law does not"],
    );
    let f = tampered("huge.json", &|v| {
        v["targets"][0]["params"]["A"] = serde_json::json!(1e308)
    });
    fails(
        &optimize(&f),
        &[
            "huge.json",
            "parameter A = 1e308 is outside the law's bounds",
        ],
    );
    let f = tampered("renamed.json", &|v| v["law"] = serde_json::json!("linear"));
    fails(&optimize(&f), &["renamed.json", "formula"]);
}

#[test]
fn outputs_never_replace_inputs_and_directories_are_checked_first() {
    let dir = temp_dir("hostile-outputs");
    let fit = fit_file(&dir);
    let table = dir.join("t.csv");
    std::fs::copy(example(), &table).unwrap();
    let t = table.to_str().unwrap();
    let before = std::fs::read(&table).unwrap();
    fails(
        &mixlaw(&[
            "fit", t, "--law", "additive", "--starts", "2", "--out", t, "--force",
        ]),
        &["is the input"],
    );
    // Another spelling of the same file is the same file.
    let other = format!("{}/./t.csv", dir.display());
    fails(
        &mixlaw(&["predict", &fit, t, "--out", &other, "--force"]),
        &["is the input"],
    );
    fails(
        &mixlaw(&["predict", &fit, t, "--out", &fit, "--force"]),
        &["is the input"],
    );
    assert_eq!(std::fs::read(&table).unwrap(), before);
    let missing = dir.join("no/such/dir/fit.json").display().to_string();
    let out = mixlaw(&[
        "fit", t, "--law", "additive", "--starts", "2", "--out", &missing,
    ]);
    fails(&out, &["does not exist"]);
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("note: backend"),
        "refused before the backend opened"
    );
}

/// A study's records and header are held to the law and the data: a record missing a
/// parameter, or with one out of bounds, a header whose full-data fit was edited and one with a
/// shard that cannot exist are refused by --resume and merge, naming the file and line. A shard with no replicates
/// succeeds and merges. Two runs to one study file: the second fails at once.
#[test]
fn tampered_studies_are_refused_and_empty_shards_merge() {
    let dir = temp_dir("hostile-study");
    let p = |name: &str| dir.join(name).display().to_string();
    let e = example();
    let study = |extra: &[&str]| {
        let mut args = vec![
            "bootstrap",
            &e,
            "--law",
            "additive",
            "--backend",
            "cpu",
            "--replicates",
            "3",
            "--starts",
            "2",
        ];
        args.extend_from_slice(extra);
        mixlaw(&args)
    };
    let out = study(&["--out", &p("whole.jsonl")]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(dir.join("whole.jsonl")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let write = |name: &str, header: &serde_json::Value, records: &[serde_json::Value]| {
        let mut s = serde_json::to_string(header).unwrap() + "\n";
        for r in records {
            s += &(serde_json::to_string(r).unwrap() + "\n");
        }
        std::fs::write(dir.join(name), s).unwrap();
        p(name)
    };
    let header: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
    let record: serde_json::Value = serde_json::from_str(lines[1]).unwrap();

    let mut edited = header.clone();
    edited["full"][0]["params"]["E"] = serde_json::json!(1.2);
    let f = write("header.jsonl", &edited, std::slice::from_ref(&record));
    fails(
        &study(&["--out", &f, "--resume"]),
        &[
            "header.jsonl: line 1",
            "full-data fit of target_loss",
            "E = 1.2",
        ],
    );

    let mut r = record.clone();
    r["params"].as_object_mut().unwrap().remove("alpha");
    let f = write("missing.jsonl", &header, &[r]);
    fails(
        &study(&["--out", &f, "--resume"]),
        &["missing.jsonl: line 2", "lacks parameter alpha"],
    );
    fails(
        &mixlaw(&["merge", &f]),
        &["missing.jsonl: line 2", "lacks parameter alpha"],
    );

    let mut r = record.clone();
    r["params"]["B"] = serde_json::json!(1e308);
    let f = write("huge.jsonl", &header, &[r]);
    fails(
        &mixlaw(&["merge", &f]),
        &[
            "huge.jsonl: line 2",
            "B = 1e308 is outside the law's bounds",
        ],
    );

    let mut r = record.clone();
    r["optimum"]["web"] = serde_json::json!(7.0);
    let f = write("optimum.jsonl", &header, &[r]);
    fails(
        &mixlaw(&["merge", &f]),
        &["optimum.jsonl: line 2", "not on the simplex"],
    );

    // A shard that cannot exist (found by the study_file fuzzer: a remainder by 0 panicked).
    for (name, index, count) in [("count0.jsonl", 1, 0), ("index.jsonl", 4, 4)] {
        let mut edited = header.clone();
        edited["shard"] = serde_json::json!({"index": index, "count": count});
        let f = write(name, &edited, std::slice::from_ref(&record));
        let shard = format!("shard {index} of {count} does not exist");
        fails(
            &mixlaw(&["merge", &f]),
            &[&format!("{name}: line 1"), &shard],
        );
    }

    // More shards than replicates: shard 3 of 4 holds none; it succeeds, and merges.
    for i in 0..4 {
        let out = study(&[
            "--shard",
            &format!("{i}/4"),
            "--out",
            &p(&format!("s{i}.jsonl")),
        ]);
        assert!(
            out.status.success(),
            "shard {i}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert_eq!(
        std::fs::read_to_string(dir.join("s3.jsonl"))
            .unwrap()
            .lines()
            .count(),
        1
    );
    mixlaw_ok(&[
        "merge",
        &p("s0.jsonl"),
        &p("s1.jsonl"),
        &p("s2.jsonl"),
        &p("s3.jsonl"),
        "--out",
        &p("merged.jsonl"),
    ]);
    assert_eq!(
        std::fs::read_to_string(dir.join("merged.jsonl")).unwrap(),
        text
    );
    fails(
        &mixlaw(&[
            "merge",
            &p("merged.jsonl"),
            "--out",
            &p("merged.jsonl"),
            "--force",
        ]),
        &["is the input"],
    );

    // A second run to a study file being written fails at once, before its own full-data fit.
    let target = p("race.jsonl");
    let mut first = std::process::Command::new(env!("CARGO_BIN_EXE_mixlaw"))
        .args([
            "bootstrap",
            &e,
            "--law",
            "additive",
            "--backend",
            "cpu",
            "--replicates",
            "100000",
            "--starts",
            "4",
            "--out",
            &target,
        ])
        .stderr(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    while !dir.join("race.jsonl").exists() {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let clock = std::time::Instant::now();
    let second = study(&["--out", &target]);
    let resumed = study(&["--out", &target, "--resume"]);
    let took = clock.elapsed();
    // Still running (a long study): stop it as Ctrl-C would.
    assert!(
        first.try_wait().unwrap().is_none(),
        "the first run ended early"
    );
    std::process::Command::new("kill")
        .args(["-INT", &first.id().to_string()])
        .status()
        .unwrap();
    assert_eq!(first.wait().unwrap().code(), Some(1));
    fails(&second, &["race.jsonl", "already exists"]);
    fails(&resumed, &["race.jsonl", "being written by another run"]);
    assert!(took.as_secs_f64() < 5.0, "refused in {took:?}");
}

/// Two `--force` runs on one study file: the second (and a `--resume`) fails at once while the
/// first writes it, also after the first has published its header (a rename, which puts a new
/// file at the path: the lock must be on that one), and the first completes its study. `fit` and
/// `merge` with `--out` and `--force` aimed at the study are refused as well (they renamed over
/// it before).
#[test]
fn forced_runs_on_one_study_are_locked_against_each_other() {
    let dir = temp_dir("hostile-force-race");
    let e = example();
    let target = dir.join("s.jsonl").display().to_string();
    let args = |seed: &'static str, replicates: &'static str| {
        [
            "bootstrap",
            &e,
            "--law",
            "additive",
            "--backend",
            "cpu",
            "--replicates",
            replicates,
            "--starts",
            "4",
            "--seed",
            seed,
            "--out",
            &target,
        ]
        .map(String::from)
    };
    let run = |args: &[String], extra: &[&str]| {
        let mut all: Vec<&str> = args.iter().map(String::as_str).collect();
        all.extend_from_slice(extra);
        mixlaw(&all)
    };
    // An old study, which the first run replaces.
    let old = run(&args("1", "3"), &[]);
    assert!(
        old.status.success(),
        "{}",
        String::from_utf8_lossy(&old.stderr)
    );
    // A complete study of its own, for `merge --out` to aim at the running one.
    let other = dir.join("other.jsonl").display().to_string();
    std::fs::copy(&target, &other).unwrap();
    let first_args = args("2", "600");
    let mut first = std::process::Command::new(env!("CARGO_BIN_EXE_mixlaw"))
        .args(&first_args)
        .arg("--force")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait (up to a minute on a loaded machine) for its header and a first record.
    let seed = |text: &str| {
        let header: serde_json::Value =
            serde_json::from_str(text.lines().next().unwrap_or("null")).unwrap_or_default();
        header["study"]["seed"].as_u64()
    };
    let clock = std::time::Instant::now();
    loop {
        let text = std::fs::read_to_string(&target).unwrap_or_default();
        if seed(&text) == Some(2) && text.lines().count() > 1 {
            break;
        }
        assert!(clock.elapsed().as_secs() < 60, "no record after a minute");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let clock = std::time::Instant::now();
    let forced = run(&args("3", "5"), &["--force"]);
    let resumed = run(&first_args, &["--resume"]);
    // Other commands that would replace the file respect its lock too.
    let fitted = mixlaw(&[
        "fit", &e, "--law", "additive", "--starts", "2", "--out", &target, "--force",
    ]);
    let merged_over = mixlaw(&["merge", &other, "--out", &target, "--force"]);
    let took = clock.elapsed();
    assert!(
        std::fs::read_to_string(&target).is_ok_and(|t| seed(&t) == Some(2)),
        "the study was replaced under the first run"
    );
    let still_running = first.try_wait().unwrap().is_none();
    let done = first.wait_with_output().unwrap();
    assert!(
        done.status.success(),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );
    assert!(
        still_running,
        "the first run ended before the others were refused"
    );
    fails(&forced, &["s.jsonl", "being written by another run"]);
    fails(&resumed, &["s.jsonl", "being written by another run"]);
    fails(&fitted, &["s.jsonl", "being written by another run"]);
    fails(&merged_over, &["s.jsonl", "being written by another run"]);
    assert!(took.as_secs_f64() < 5.0, "refused in {took:?}");
    // The first run's study is whole: merge takes it as the complete study, byte for byte.
    let text = std::fs::read_to_string(&target).unwrap();
    assert_eq!(text.lines().count(), 601);
    let merged = dir.join("merged.jsonl").display().to_string();
    mixlaw_ok(&["merge", &target, "--out", &merged]);
    assert_eq!(std::fs::read_to_string(&merged).unwrap(), text);
}

/// One loss of 1e40 among the example's 384 rows: Huber's pull of a row is bounded, so the fit
/// must come out as the clean one, and say which row dominates its objective. Before, the row's
/// constant swamped every other row in f64, every start stopped where it began, and the fit
/// said E = 3.14 "converged 4/4". The tolerance, a thousandth of E, is 35 times below the
/// clean fit's own distance from the simulated truth (1.465 against 1.5), so a fit within it
/// is as good as the clean one; the stand-in objective differs from the observed one by a
/// constant near the optimum, so only where the optimiser stops can move E at all.
#[test]
fn one_absurd_loss_does_not_wreck_a_huber_fit() {
    let dir = temp_dir("hostile-far");
    let text = std::fs::read_to_string(example()).unwrap();
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    let mut cells: Vec<String> = lines[10].split(',').map(String::from).collect();
    *cells.last_mut().unwrap() = "1e40".into();
    lines[10] = cells.join(",");
    let far = dir.join("far.csv");
    std::fs::write(&far, lines.join("\n") + "\n").unwrap();
    let fit = |table: &str, loss: &str| {
        let out = mixlaw(&[
            "fit",
            table,
            "--law",
            "additive",
            "--starts",
            "16",
            "--backend",
            "cpu",
            "--loss",
            loss,
            "--json",
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        (
            v["targets"][0].clone(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    for loss in ["huber", "mae"] {
        let (clean, _) = fit(&example(), loss);
        let (wrecked, notes) = fit(far.to_str().unwrap(), loss);
        let e = |t: &serde_json::Value| t["params"]["E"].as_f64().unwrap();
        assert!(
            (e(&wrecked) - e(&clean)).abs() <= 1e-3 * e(&clean),
            "{loss}: E = {} with the absurd row, {} without",
            e(&wrecked),
            e(&clean)
        );
        // The objective reported is the observed one, which the row dominates, and said so.
        assert!(wrecked["objective"].as_f64().unwrap() > 1e30, "{wrecked}");
        assert!(
            notes.contains("row 10 (line 11) holds 1e40") && notes.contains("dominates"),
            "{notes}"
        );
    }
}

/// Flags and settings that cannot mean anything are refused; what is allowed but surprising is
/// said: rows in both splits, a constant target, a domain that never appears, more threads than
/// cores, a GPU backend name wgpu does not know.
#[test]
fn weak_spots_are_errors_or_notes() {
    let dir = temp_dir("hostile-weak");
    let e = example();
    let fit = |extra: &[&str]| {
        let mut args = vec![
            "fit",
            &e,
            "--law",
            "additive",
            "--starts",
            "2",
            "--backend",
            "cpu",
        ];
        args.extend_from_slice(extra);
        mixlaw(&args)
    };
    fails(
        &fit(&["--ftol", "NaN"]),
        &["--ftol must be a non-negative number"],
    );
    fails(
        &fit(&["--gtol=-1"]),
        &["--gtol must be a non-negative number"],
    );
    let out = mixlaw(&[
        "eval",
        &e,
        "--law",
        "additive",
        "--starts",
        "2",
        "--backend",
        "cpu",
        "--train",
        "model_size < 4e8",
        "--test",
        "model_size > 1e8",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("rows are in both the --train and the --test split"),
        "{err}"
    );

    // A target that never changes, and a domain whose weight is 0 in every row.
    let text = std::fs::read_to_string(&e).unwrap();
    let mut lines = text.lines();
    let mut csv = format!("{}\n", lines.next().unwrap());
    for l in lines {
        let c: Vec<&str> = l.split(',').collect();
        // weight_web, weight_code, weight_books, model_size, n_tokens, target_loss
        let (code, books): (f64, f64) = (c[1].parse().unwrap(), c[2].parse().unwrap());
        let s = code + books;
        csv += &format!("0,{},{},{},{},3.5\n", code / s, books / s, c[3], c[4]);
    }
    let odd = dir.join("odd.csv");
    std::fs::write(&odd, csv).unwrap();
    let out = mixlaw(&[
        "fit",
        odd.to_str().unwrap(),
        "--law",
        "additive",
        "--starts",
        "2",
        "--backend",
        "cpu",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("every row holds the same loss 3.5"), "{err}");
    assert!(err.contains("domain web weighs 0 in every row"), "{err}");

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mixlaw"))
        .args([
            "fit",
            &e,
            "--law",
            "additive",
            "--starts",
            "2",
            "--backend",
            "cpu",
        ])
        .env("RAYON_NUM_THREADS", "100000")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("RAYON_NUM_THREADS=100000 is more than the"),
        "{err}"
    );
    assert!(!err.contains("rayon, 100000 threads"), "{err}");

    if cfg!(feature = "gpu") {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_mixlaw"))
            .args([
                "fit",
                &e,
                "--law",
                "additive",
                "--starts",
                "2",
                "--backend",
                "gpu",
            ])
            .env("WGPU_BACKEND", "vulkna")
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(
            err.contains("WGPU_BACKEND='vulkna' names no backend wgpu knows"),
            "{err}"
        );
    }
}

/// Ctrl-C during a study: the run stops, leaves no temporary file, and its study file holds
/// whole records that --resume completes.
#[test]
fn an_interrupted_study_leaves_no_temporary_file_and_resumes() {
    let dir = temp_dir("hostile-sigint");
    let e = example();
    let out = dir.join("s.jsonl");
    let args = [
        "bootstrap",
        &e,
        "--law",
        "additive",
        "--backend",
        "cpu",
        "--replicates",
        "400",
        "--starts",
        "4",
        "--out",
        out.to_str().unwrap(),
    ];
    let run = std::process::Command::new(env!("CARGO_BIN_EXE_mixlaw"))
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait for a few records, then interrupt.
    while std::fs::read_to_string(&out).map_or(0, |t| t.lines().count()) < 3 {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let kill = std::process::Command::new("kill")
        .args(["-INT", &run.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let done = run.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&done.stderr);
    assert_eq!(done.status.code(), Some(1), "{err}");
    assert!(err.contains("interrupted"), "{err}");
    let names: Vec<String> = std::fs::read_dir(&*dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["s.jsonl"], "only the study file is left");
    let mut resume = args.to_vec();
    resume.push("--resume");
    let out = mixlaw(&resume);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(dir.join("s.jsonl")).unwrap();
    assert_eq!(text.lines().count(), 401);
}

/// A law with no parameters (a formula of inputs only) is refused up front: every fit handed
/// the optimiser zero-length points, and the CPU backend panicked chunking them.
#[test]
fn a_law_without_parameters_is_refused() {
    let dir = temp_dir("hostile-no-params");
    let e = example();
    for formula in ["N^0.5", "1", "sum_i(h[i])"] {
        fails(
            &mixlaw(&["fit", &e, "--formula", formula, "--backend", "cpu"]),
            &["--formula", "no parameters"],
        );
    }
    let file = dir.join("inputs-only.toml");
    std::fs::write(
        &file,
        "name = \"inputs-only\"\nformula = \"1/N\"\n\n[parameters]\n",
    )
    .unwrap();
    fails(
        &mixlaw(&["fit", &e, "--law", &file.display().to_string()]),
        &["inputs-only.toml", "no parameters"],
    );
}

/// An inline formula may name its parameters in any script (`A/N^α`): its law file, which a fit
/// file stores and reads back, quotes every key (TOML's bare keys are ASCII only).
#[test]
fn inline_formulas_with_greek_names_fit_and_read_back() {
    let dir = temp_dir("hostile-greek");
    let out = dir.join("greek.json").display().to_string();
    mixlaw_ok(&[
        "fit",
        &example(),
        "--formula",
        "E + A/N^α + B/D^β",
        "--starts",
        "4",
        "--backend",
        "cpu",
        "--out",
        &out,
    ]);
    let fit: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert!(fit["targets"][0]["params"]["α"].is_number(), "{fit}");
    let predicted = mixlaw_ok(&["predict", &out, &example()]);
    assert_eq!(predicted.lines().count(), 385);
}

/// `--out /dev/stdout` with standard output a pipe writes into the pipe: the link resolves to
/// `pipe:[…]`, no path, and was refused as "a symbolic link to nothing".
#[cfg(target_os = "linux")]
#[test]
fn out_dev_stdout_writes_into_a_pipe() {
    let out = mixlaw(&[
        "simulate",
        "--law",
        "chinchilla",
        "--params",
        "E=1.7,A=400,alpha=0.34,B=410,beta=0.28",
        "--out",
        "/dev/stdout",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let csv = String::from_utf8(out.stdout).unwrap();
    assert!(
        csv.starts_with("model_size,n_tokens,target_loss\n"),
        "{csv}"
    );
    assert_eq!(csv.lines().count(), 13);
}

/// `simulate` checks every number of its design: a NaN `--min-weight` wrote NaN weights, an
/// infinite size `inf` sizes, a zero unit the law's value at infinity, and `alpha=inf` a table,
/// all with exit 0; a NaN parameter was called missing.
#[test]
fn simulate_refuses_meaningless_numbers() {
    let chinchilla = "E=1.7,A=400,alpha=0.34,B=410,beta=0.28";
    let additive = "E=1.7,A=400,alpha=0.34,B=410,beta=0.28,C_a=1,C_b=1,gamma_a=0.5,gamma_b=0.5";
    for (params, extra, needle) in [
        (additive, &["--min-weight", "NaN"][..], "--min-weight"),
        (additive, &["--min-weight=-0.1"], "--min-weight"),
        (chinchilla, &["--sizes", "1e8,inf"], "--sizes"),
        (chinchilla, &["--tokens", "1e400"], "--tokens"),
        (chinchilla, &["--tokens=-2e9"], "--tokens"),
        (chinchilla, &["--n-unit", "0"], "--n-unit"),
        (chinchilla, &["--d-unit", "inf"], "--d-unit"),
        (
            "E=1.7,A=400,alpha=inf,B=410,beta=0.28",
            &[],
            "alpha = 'inf' is not a finite number",
        ),
        (
            "E=NaN,A=400,alpha=0.34,B=410,beta=0.28",
            &[],
            "E = 'NaN' is not a finite number",
        ),
    ] {
        let law = if params == additive {
            "additive"
        } else {
            "chinchilla"
        };
        let mut args = vec![
            "simulate",
            "--law",
            law,
            "--params",
            params,
            "--domains",
            "a,b",
        ];
        args.extend_from_slice(extra);
        fails(&mixlaw(&args), &[needle]);
    }
}

/// `bench` checks its sizes before any work: a batch of 1e12 aborted allocating, 2^64 reps
/// panicked (capacity overflow), and a batch of 0 reported NaN.
#[test]
fn bench_refuses_absurd_batches_and_reps() {
    for (batches, reps, needle) in [
        ("1000000000000", "1", "--batches 1000000000000 needs about"),
        (
            "8",
            "18446744073709551615",
            "--reps 18446744073709551615 needs about",
        ),
        ("8,0", "1", "at least one parameter vector"),
    ] {
        fails(
            &mixlaw(&["bench", "--batches", batches, "--reps", reps, "--cpu-only"]),
            &[needle],
        );
    }
}

/// `report --study` on a shard or an unfinished study says so: summarised as it stands, either
/// passed for the whole study's intervals (`merge` refuses both).
#[test]
fn report_says_when_its_study_is_a_shard_or_incomplete() {
    let dir = temp_dir("hostile-report-partial");
    let fit = fit_file(&dir);
    let e = example();
    let study = |name: &str, shard: &str| {
        let p = dir.join(name).display().to_string();
        let mut args = vec![
            "bootstrap",
            &e,
            "--replicates",
            "4",
            "--starts",
            "2",
            "--backend",
            "cpu",
            "--out",
            &p,
        ];
        if !shard.is_empty() {
            args.extend(["--shard", shard]);
        }
        mixlaw_ok(&args);
        p
    };
    let report = |study: &str| {
        let html = dir.join("r.html").display().to_string();
        let out = mixlaw(&["report", &fit, "--study", study, "--out", &html, "--force"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stderr).unwrap()
    };
    let whole = study("whole.jsonl", "");
    let err = report(&whole);
    assert!(
        !err.contains("shard") && !err.contains("incomplete"),
        "{err}"
    );
    let shard = study("shard.jsonl", "1/2");
    assert!(report(&shard).contains("is shard 1/2 of its study"));
    let text = std::fs::read_to_string(&whole).unwrap();
    let cut = text.trim_end().rfind('\n').unwrap() + 1;
    std::fs::write(&whole, &text[..cut]).unwrap();
    assert!(report(&whole).contains("is incomplete (3 of its 4 records)"));
}

/// An optimum whose loss is not finite is an error, not a result: a subnormal `--n` (where
/// `A/N^α` overflows) or a weighting of 1e308 gave a mixture with loss `inf`, a certificate and
/// exit 0.
#[test]
fn an_optimum_of_infinite_loss_is_refused() {
    let dir = temp_dir("hostile-inf-optimum");
    let fit = fit_file(&dir);
    let weights = dir.join("weights.csv");
    std::fs::write(&weights, "name,target_loss\nhuge,1e308\n").unwrap();
    let weights = weights.display().to_string();
    for args in [
        vec!["optimize", "--fit", &fit, "--n", "1e-320", "--d", "1e10"],
        vec!["optimize", "--fit", &fit, "--flops", "1e-320"],
        vec![
            "optimize",
            "--fit",
            &fit,
            "--n",
            "1e9",
            "--d",
            "1e10",
            "--n-grid",
            "1e9,1e-320",
        ],
        vec![
            "optimize",
            "--fit",
            &fit,
            "--n",
            "1e9",
            "--d",
            "1e10",
            "--targets",
            &weights,
        ],
        vec!["sweep", "--fit", &fit, "--n", "1e-320", "--d", "1e10"],
    ] {
        fails(
            &mixlaw(&args),
            &["predicted loss is inf even at the optimum"],
        );
    }
}

/// A law file's start grid is sized before it is built: four grids of 1,000 values (10^12
/// points) aborted allocating them.
#[test]
fn a_start_grid_beyond_memory_is_refused() {
    let dir = temp_dir("hostile-grid");
    let values = vec!["1"; 1000].join(", ");
    let mut text = "name = \"grid\"\nformula = \"E + A/N^alpha + B\"\n\n[fit]\n\
                    init = \"grid\"\n\n[parameters]\n"
        .to_string();
    for p in ["E", "A", "alpha", "B"] {
        text.push_str(&format!(
            "{p} = {{ bounds = [0, 10], start = {{ uniform = [1, 3] }}, grid = [{values}] }}\n"
        ));
    }
    let law = dir.join("grid.toml");
    std::fs::write(&law, text).unwrap();
    fails(
        &mixlaw(&["fit", &example(), "--law", &law.display().to_string()]),
        &[
            "grid.toml",
            "the start grid of 1000000000000 points needs about",
        ],
    );
}

/// A law file's start range wider than a double holds is refused: drawn as lo + u·(hi − lo),
/// its starts were infinite or NaN, and the fit failed as a fit file "that would not read back".
#[test]
fn a_start_range_beyond_f64_is_refused() {
    let dir = temp_dir("hostile-wide-start");
    let law = dir.join("wide.toml");
    std::fs::write(
        &law,
        "name = \"wide\"\nformula = \"E + A/N^alpha\"\n\n[parameters]\n\
         E = { bounds = [-1e308, 1e308], start = { uniform = [-1e308, 1e308] } }\n\
         A = { bounds = [0, 1e4], start = { uniform = [1, 3] } }\n\
         alpha = { bounds = [0, 3], start = { uniform = [0.1, 1] } }\n",
    )
    .unwrap();
    fails(
        &mixlaw(&["fit", &example(), "--law", &law.display().to_string()]),
        &[
            "wide.toml",
            "start range [-1e308, 1e308] is wider than a double holds",
        ],
    );
}

/// A study's `--optimum-at` where the law overflows (a subnormal N) is refused: every replicate's
/// optimal mixture was the same meaningless point, reported with no spread and exit 0.
#[test]
fn a_study_optimum_where_the_law_overflows_is_refused() {
    fails(
        &mixlaw(&[
            "bootstrap",
            &example(),
            "--replicates",
            "2",
            "--starts",
            "2",
            "--backend",
            "cpu",
            "--optimum-at",
            "1e-320,1e10",
        ]),
        &["--optimum-at", "predicts a loss of inf there"],
    );
}

/// A fit, study or law file that is binary or never ends (`/dev/zero`) is refused at once: read
/// whole, it grew until the kernel killed the process.
#[cfg(unix)]
#[test]
fn fit_study_and_law_files_are_read_bounded() {
    let e = example();
    for args in [
        &["predict", "/dev/zero", &e][..],
        &[
            "optimize",
            "--fit",
            "/dev/zero",
            "--n",
            "1e9",
            "--d",
            "1e10",
        ],
        &["merge", "/dev/zero"],
        &["fit", &e, "--law", "/dev/zero"],
    ] {
        fails(&mixlaw(args), &["/dev/zero: binary data (NUL bytes)"]);
    }
}

/// A fit file or study header naming a domain twice says so: the law's parameters were then
/// named twice too, and the error blamed another parameter (`has a parameter C_code, which the
/// law does not (its parameters are …, C_web, C_web, …)`).
#[test]
fn a_domain_named_twice_is_named() {
    let dir = temp_dir("hostile-twice");
    let fit = fit_file(&dir);
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&fit).unwrap()).unwrap();
    v["domains"] = serde_json::json!(["web", "web", "books"]);
    let twice = dir.join("twice.json");
    std::fs::write(&twice, v.to_string()).unwrap();
    fails(
        &mixlaw(&["predict", &twice.display().to_string(), &example()]),
        &["twice.json", "domain 'web' is named twice"],
    );
    let study = dir.join("study.jsonl").display().to_string();
    mixlaw_ok(&[
        "bootstrap",
        &example(),
        "--replicates",
        "2",
        "--starts",
        "2",
        "--backend",
        "cpu",
        "--out",
        &study,
    ]);
    let text = std::fs::read_to_string(&study).unwrap();
    let (header, records) = text.split_once('\n').unwrap();
    let mut h: serde_json::Value = serde_json::from_str(header).unwrap();
    h["domains"] = serde_json::json!(["web", "web", "books"]);
    let twice = dir.join("twice.jsonl");
    std::fs::write(&twice, format!("{h}\n{records}")).unwrap();
    fails(
        &mixlaw(&["merge", &twice.display().to_string()]),
        &["twice.jsonl", "line 1", "domain 'web' is named twice"],
    );
}

/// Relatives the second sweep left: two weightings of one name (a `--targets` row's or a
/// `--target` given twice) are refused, not reported as two rows of one name; a fit file saved
/// with a byte-order mark reads; a blank line in a study file is named as one; a subnormal unit
/// (which overflowed every scaled N) is refused; a Slurm step of 0 is called what it is.
#[test]
fn names_twice_marks_blank_lines_and_subnormal_units() {
    let dir = temp_dir("hostile-relatives");
    let e = example();
    let p = |name: &str| dir.join(name).display().to_string();
    let fit = p("fit.json");
    mixlaw_ok(&[
        "fit", &e, "--law", "additive", "--starts", "2", "--out", &fit,
    ]);
    let optimize = |extra: &[&str]| {
        let mut args = vec!["optimize", "--fit", &fit, "--n", "1e9", "--d", "1e10"];
        args.extend_from_slice(extra);
        mixlaw(&args)
    };
    let targets = p("targets.csv");
    std::fs::write(&targets, "name,target_loss\nw1,1\nw1,2\n").unwrap();
    fails(
        &optimize(&["--targets", &targets]),
        &[
            "targets.csv",
            "row 2",
            "name",
            "the name 'w1' is also row 1's",
        ],
    );
    fails(
        &optimize(&["--target", "target", "--target", "target_loss"]),
        &["--target target_loss names target_loss, as an earlier --target does"],
    );

    let text = std::fs::read_to_string(&fit).unwrap();
    let marked = p("marked.json");
    std::fs::write(&marked, format!("\u{feff}{text}")).unwrap();
    assert_eq!(
        mixlaw_ok(&["predict", &marked, &e]),
        mixlaw_ok(&["predict", &fit, &e])
    );

    let study = p("study.jsonl");
    mixlaw_ok(&[
        "bootstrap",
        &e,
        "--law",
        "additive",
        "--backend",
        "cpu",
        "--replicates",
        "2",
        "--starts",
        "2",
        "--out",
        &study,
    ]);
    let lines: Vec<String> = std::fs::read_to_string(&study)
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    let blank = p("blank.jsonl");
    std::fs::write(
        &blank,
        format!("{}\n\n{}\n", lines[0], lines[1..].join("\n")),
    )
    .unwrap();
    fails(
        &mixlaw(&["merge", &blank]),
        &["blank.jsonl: line 2: blank; a study file holds one record per line"],
    );

    for flag in ["--n-unit", "--delta"] {
        fails(
            &mixlaw(&[
                "fit", &e, "--law", "additive", "--starts", "2", flag, "1e-320",
            ]),
            &[&format!(
                "{flag} must be a positive number from 2.2250738585072014e-308 up, got 1e-320"
            )],
        );
    }

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mixlaw"))
        .args(["bootstrap", &e, "--shard", "auto", "--out", &p("s.jsonl")])
        .env("SLURM_ARRAY_TASK_ID", "0")
        .env("SLURM_ARRAY_TASK_COUNT", "2")
        .env("SLURM_ARRAY_TASK_STEP", "0")
        .output()
        .unwrap();
    fails(&out, &["SLURM_ARRAY_TASK_STEP is 0, which is no step"]);
}
