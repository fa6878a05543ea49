//! A bootstrap killed with SIGKILL (no chance to clean up: the way a node dies or Slurm's
//! last resort ends a task) at 20 moments spread over its run and resumed after each ends as the
//! very file of a run never interrupted, and leaves no temporary file behind.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use mixlaw::rng::Rng;

use crate::common;

const KILLS: usize = 20;

/// Whole lines a file holds so far (0 if it does not exist yet).
fn lines(path: &Path) -> usize {
    std::fs::read(path).map_or(0, |b| b.iter().filter(|&&c| c == b'\n').count())
}

#[test]
#[ignore = "slow tier: cargo test -- --include-ignored"]
fn a_study_killed_at_twenty_random_moments_resumes_to_the_uninterrupted_file() {
    let dir = common::temp_dir("crash-kill9");
    let table = common::example();
    let out = |name: &str| dir.join(name).display().to_string();
    let args = |file: &str| -> Vec<String> {
        [
            "bootstrap",
            &table,
            "--law",
            "additive",
            "--backend",
            "cpu",
            "--replicates",
            "120",
            "--starts",
            "4",
            "--seed",
            "5",
            "--json",
            "--out",
            &out(file),
            "--resume",
        ]
        .map(String::from)
        .to_vec()
    };
    let spawn = |args: &[String]| {
        Command::new(env!("CARGO_BIN_EXE_mixlaw"))
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("mixlaw starts")
    };
    let run = |file: &str| {
        let a = args(file);
        common::mixlaw_ok(&a.iter().map(String::as_str).collect::<Vec<_>>())
    };

    // The uninterrupted run, watched: how many lines its file held when.
    let mut child = Command::new(env!("CARGO_BIN_EXE_mixlaw"))
        .args(args("whole.jsonl"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("mixlaw starts");
    let start = Instant::now();
    let mut progress = vec![(0.0, 0)];
    while child.try_wait().unwrap().is_none() {
        progress.push((
            start.elapsed().as_secs_f64(),
            lines(&dir.join("whole.jsonl")),
        ));
        std::thread::sleep(Duration::from_millis(5));
    }
    let whole_s = start.elapsed().as_secs_f64();
    let done = child.wait_with_output().unwrap();
    assert!(done.status.success(), "the uninterrupted run fails");
    let summary = String::from_utf8(done.stdout).unwrap();
    let whole = std::fs::read(dir.join("whole.jsonl")).unwrap();

    // Twenty moments of the uninterrupted run, seeded, in order. A moment before its file had a
    // header (the full-data fit, which a killed run repeats) is a delay after the start; a later
    // one is the point where the resumed file reaches the lines the uninterrupted one held then,
    // plus up to 10 ms, so that kills land inside appends and in the final rewrite too.
    let mut rng = Rng::new(16, 0);
    let mut moments: Vec<f64> = (0..KILLS).map(|_| rng.uniform() * whole_s).collect();
    moments.sort_by(f64::total_cmp);
    let (mut early, mut partial) = (0, 0);
    for t in moments {
        let held = progress.iter().rev().find(|(at, _)| *at <= t).unwrap().1;
        let jitter = Duration::from_secs_f64(rng.uniform() * 0.01);
        let mut child = spawn(&args("killed.jsonl"));
        let begun = Instant::now();
        if held == 0 {
            std::thread::sleep(Duration::from_secs_f64(t));
        } else {
            while lines(&dir.join("killed.jsonl")) < held
                && child.try_wait().unwrap().is_none()
                && begun.elapsed().as_secs_f64() < 10.0 * whole_s
            {
                std::thread::sleep(Duration::from_millis(1));
            }
            std::thread::sleep(jitter);
        }
        // SIGKILL on Unix; an error only if it already exited (then there is nothing to kill).
        let _ = child.kill();
        child.wait().unwrap();
        let now = std::fs::read(dir.join("killed.jsonl")).unwrap_or_default();
        if now.is_empty() {
            early += 1;
        } else if now != whole {
            partial += 1;
        }
    }
    assert!(
        early >= 1 && partial >= KILLS / 2,
        "{early} kills before the study file existed and {partial} with part of it, of {KILLS} \
         (an uninterrupted run took {whole_s:.2} s): the kills did not land inside the run"
    );

    let resumed = run("killed.jsonl");
    assert!(
        std::fs::read(dir.join("killed.jsonl")).unwrap() == whole,
        "the resumed study differs from the uninterrupted one"
    );
    assert_eq!(resumed, summary);
    let mut left: Vec<String> = std::fs::read_dir(&*dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(
        left,
        ["killed.jsonl", "whole.jsonl"],
        "no temporary file left"
    );
}
