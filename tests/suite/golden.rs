//! Golden outputs: every command's output on the published tables, byte for byte.
//!
//! Recorded from the build before the crate's restructuring (commit e7caa87) so that a change
//! of structure can show it changed no behaviour. Each case runs the binary from `data/` (so
//! that the paths the outputs record, e.g. `epoch_chinchilla/...`, are the same on every machine;
//! a case whose table is missing skips, see `common::dataset`),
//! writes into a temporary directory, and compares the normalised output with
//! `tests/fixtures/golden/<case>`. Normalising removes only what legitimately differs between
//! runs and machines: wall times, the crate's version, the backend's description (it names the
//! thread count; each of these a placeholder) and the temporary directory's path. JSON is parsed and printed again, which
//! keeps every number's exact f64 value.
//!
//! `MIXLAW_BLESS=1 cargo test --test suite golden::` rewrites the fixtures: only for a
//! deliberate change of output, said so in the commit.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::*;
use serde_json::Value;

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/golden")
}

/// Run the binary in `data/` with `$TMP` in `args` replaced by `tmp`; its stdout.
fn run(tmp: &Path, args: &[&str]) -> String {
    let args: Vec<String> = args
        .iter()
        .map(|a| a.replace("$TMP", tmp.to_str().unwrap()))
        .collect();
    let out = Command::new(env!("CARGO_BIN_EXE_mixlaw"))
        .current_dir(data_dir())
        .args(&args)
        .output()
        .expect("mixlaw runs");
    assert!(
        out.status.success(),
        "mixlaw {args:?} failed ({:?}):\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Put placeholders in the keys that differ between runs and machines, at any depth: a golden
/// fit file stays a fit file that mixlaw reads (the benches and the lattice tests sweep one).
fn scrub(v: &mut Value) {
    match v {
        Value::Object(m) => {
            for (key, placeholder) in [
                ("wall_s", Value::from(0.0)),
                ("mixlaw", "golden".into()),
                ("backend", "golden".into()),
            ] {
                if let Some(v) = m.get_mut(key) {
                    *v = placeholder;
                }
            }
            m.values_mut().for_each(scrub);
        }
        Value::Array(a) => a.iter_mut().for_each(scrub),
        _ => {}
    }
}

fn json(text: &str) -> String {
    let mut v: Value = serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}:\n{text}"));
    scrub(&mut v);
    serde_json::to_string_pretty(&v).unwrap() + "\n"
}

fn json_lines(text: &str) -> String {
    text.lines()
        .map(|l| json(l).replace('\n', ""))
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

/// A table's text with the backend's description (it names the thread count) and wall times
/// (`1.23s`) replaced by placeholders.
fn table(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find("cpu (rayon,") {
        out.push_str(&rest[..i]);
        out.push_str("<backend>");
        let end = rest[i..]
            .find("f64)")
            .expect("a backend description ends in f64)");
        rest = &rest[i + end + 4..];
    }
    out.push_str(rest);
    let chars: Vec<char> = out.chars().collect();
    let mut scrubbed = String::new();
    let mut i = 0;
    while i < chars.len() {
        let start = i;
        while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
            i += 1;
        }
        let number = i > start && chars[start..i].contains(&'.');
        let boundary = start == 0 || !chars[start - 1].is_alphanumeric();
        if number && boundary && chars.get(i) == Some(&'s') && chars.get(i + 1) == Some(&')') {
            scrubbed.push_str("<t>");
        } else {
            scrubbed.extend(&chars[start..i]);
        }
        if i < chars.len() {
            scrubbed.push(chars[i]);
            i += 1;
        }
    }
    scrubbed
}

/// A long CSV as its header, every 50th row, and a digest (FNV-1a) of the whole.
fn sampled(text: &str) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        hash = (hash ^ b as u64).wrapping_mul(0x0100_0000_01b3);
    }
    let lines: Vec<&str> = text.lines().collect();
    let mut out: String = lines.iter().step_by(50).map(|l| format!("{l}\n")).collect();
    out.push_str(&format!("{} lines, FNV-1a {hash:016x}\n", lines.len()));
    out
}

/// Compare `got` with the fixture `name`, or write it under `MIXLAW_BLESS=1`.
fn check(name: &str, got: &str, tmp: &Path) {
    let got = got.replace(tmp.to_str().unwrap(), "$TMP");
    let path = fixture_dir().join(name);
    if std::env::var("MIXLAW_BLESS").is_ok_and(|v| v == "1") {
        std::fs::create_dir_all(fixture_dir()).unwrap();
        std::fs::write(&path, &got).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (record it with MIXLAW_BLESS=1)", path.display()));
    if got != want {
        let line = got
            .lines()
            .zip(want.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(got.lines().count().min(want.lines().count()));
        panic!(
            "{name} differs from its golden output at line {}:\n  now:    {:?}\n  golden: {:?}",
            line + 1,
            got.lines().nth(line),
            want.lines().nth(line)
        );
    }
}

const SLIM: &str = SLIMPAJAMA;
const TEST: &str = "model_size==2718e6 and n_tokens>=19.8e9";

#[test]
fn chinchilla_fit_and_bootstrap_on_epochs_table() {
    if dataset(EPOCH).is_none() {
        return;
    }
    let tmp = temp_dir("golden-epoch");
    let fit = [
        &["fit", EPOCH, "--law", "chinchilla"][..],
        &EPOCH_AS_EPOCH,
        &["--json"],
    ]
    .concat();
    check("fit_chinchilla_epoch.json", &json(&run(&tmp, &fit)), &tmp);
    let boot = [
        &["bootstrap", EPOCH, "--law", "chinchilla"][..],
        &EPOCH_AS_EPOCH,
        &[
            "--replicates",
            "24",
            "--starts",
            "4",
            "--seed",
            "3",
            "--at",
            "70e9,1.4e12",
            "--json",
            "--out",
            "$TMP/study.jsonl",
        ],
    ]
    .concat();
    check(
        "bootstrap_chinchilla_epoch.json",
        &json(&run(&tmp, &boot)),
        &tmp,
    );
    let study = std::fs::read_to_string(tmp.join("study.jsonl")).unwrap();
    check(
        "bootstrap_chinchilla_epoch.jsonl",
        &json_lines(&study),
        &tmp,
    );
}

#[test]
#[ignore = "slow tier: cargo test -- --include-ignored"]
fn mixture_fits_eval_optimize_sweep_and_predict_on_the_paper_split() {
    if dataset(SLIM).is_none() {
        return;
    }
    let tmp = temp_dir("golden-slim");
    let fit = [
        "fit",
        SLIM,
        "--law",
        "additive",
        "--where",
        PAPER_TRAIN,
        "--starts",
        "12",
        "--seed",
        "2",
        "--out",
        "$TMP/fit.json",
    ];
    check(
        "fit_additive_slimpajama.txt",
        &table(&run(&tmp, &fit)),
        &tmp,
    );
    let file = std::fs::read_to_string(tmp.join("fit.json")).unwrap();
    check("fit_additive_slimpajama.json", &json(&file), &tmp);
    let joint = [
        "fit",
        SLIM,
        "--law",
        "joint",
        "--where",
        PAPER_TRAIN,
        "--target",
        "c4_loss",
        "--target",
        "github_loss",
        "--starts",
        "6",
        "--hops",
        "2",
        "--hop-chains",
        "2",
        "--json",
    ];
    check("fit_joint_slimpajama.json", &json(&run(&tmp, &joint)), &tmp);
    let eval = [
        "eval",
        SLIM,
        "--law",
        "additive",
        "--train",
        PAPER_TRAIN,
        "--test",
        TEST,
        "--starts",
        "8",
        "--seed",
        "1",
    ];
    check(
        "eval_additive_slimpajama.txt",
        &table(&run(&tmp, &eval)),
        &tmp,
    );
    let eval_json = [&eval[..], &["--json"]].concat();
    check(
        "eval_additive_slimpajama.json",
        &json(&run(&tmp, &eval_json)),
        &tmp,
    );
    let optimize = [
        "optimize",
        "--fit",
        "$TMP/fit.json",
        "--n",
        "7e9",
        "--d",
        "1.5e11",
        "--target",
        "avg",
        "--target",
        "c4",
        "--min",
        "github=0.1",
        "--resolution",
        "12",
        "--json",
    ];
    check(
        "optimize_slimpajama.json",
        &json(&run(&tmp, &optimize)),
        &tmp,
    );
    let flops = [
        "optimize",
        "--fit",
        "$TMP/fit.json",
        "--flops",
        "1e21",
        "--resolution",
        "8",
        "--json",
    ];
    check(
        "optimize_flops_slimpajama.json",
        &json(&run(&tmp, &flops)),
        &tmp,
    );
    std::fs::write(
        tmp.join("weights.csv"),
        "name,c4_loss,github_loss\ncode-heavy,0.3,0.7\n",
    )
    .unwrap();
    let weighted = [
        "optimize",
        "--fit",
        "$TMP/fit.json",
        "--n",
        "1e9",
        "--d",
        "2e10",
        "--targets",
        "$TMP/weights.csv",
        "--available",
        "github=1e9",
        "--resolution",
        "10",
    ];
    check(
        "optimize_weighted_slimpajama.txt",
        &table(&run(&tmp, &weighted)),
        &tmp,
    );
    let sweep = [
        "sweep",
        "--fit",
        "$TMP/fit.json",
        "--n",
        "3e9",
        "--d",
        "6e10",
        "--resolution",
        "10",
    ];
    check("sweep_slimpajama.csv", &run(&tmp, &sweep), &tmp);
    let predict = ["predict", "$TMP/fit.json", SLIM, "--out", "$TMP/pred.csv"];
    run(&tmp, &predict);
    let pred = std::fs::read_to_string(tmp.join("pred.csv")).unwrap();
    check("predict_slimpajama.csv", &sampled(&pred), &tmp);
    let boot = [
        "bootstrap",
        SLIM,
        "--law",
        "additive",
        "--where",
        PAPER_TRAIN,
        "--target",
        "c4_loss",
        "--replicates",
        "3",
        "--starts",
        "3",
        "--resample",
        "runs",
        "--seed",
        "5",
        "--out",
        "$TMP/study.jsonl",
    ];
    check(
        "bootstrap_additive_slimpajama.txt",
        &table(&run(&tmp, &boot)),
        &tmp,
    );
    let study = std::fs::read_to_string(tmp.join("study.jsonl")).unwrap();
    check(
        "bootstrap_additive_slimpajama.jsonl",
        &json_lines(&study),
        &tmp,
    );
}

#[test]
fn laws_and_simulate() {
    let tmp = temp_dir("golden-laws");
    check("laws.json", &json(&run(&tmp, &["laws", "--json"])), &tmp);
    check("laws.txt", &run(&tmp, &["laws"]), &tmp);
    let sim = [
        "simulate", "--law", "joint", "--domains", "a,b", "--params",
        "E=1.5,alpha=0.3,beta=0.3,C_a=2,C_b=1,gamma_a=0.5,gamma_b=0.3,CA_a=3,CA_b=5,gammaA=1,CB_a=1,CB_b=2,gammaB=0.8", "--mixtures", "4", "--sizes",
        "1e8,4e8", "--tokens", "2e9", "--noise", "0.01", "--seed", "7", "--out",
        "$TMP/sim.csv",
    ];
    run(&tmp, &sim);
    let csv = std::fs::read_to_string(tmp.join("sim.csv")).unwrap();
    check("simulate_joint.csv", &csv, &tmp);
}
