//! The Slurm script of the guide (`examples/slurm-bootstrap.sh`, quoted in
//! docs/guide/bootstrap.md) on a real cluster: submitted as a job
//! array to the one-node cluster `.ci/slurm-up.sh` starts, with one task requeued while it
//! runs, its shards merged into the file and summary of one uninterrupted run, byte for byte.
//!
//! Without `sbatch` (or a cluster that answers) the test says so and passes; CI sets
//! `MIXLAW_REQUIRE_SLURM=1`, which makes that a failure.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::common;

/// The script the guide quotes and this test submits.
const SCRIPT: &str = "examples/slurm-bootstrap.sh";
/// Replicates of the submitted study (12 per task): enough that a task is caught mid-run.
const REPLICATES: usize = 36;
/// Array tasks, so shards.
const TASKS: usize = 3;
/// The whole array, requeue included, must be done by then.
const PATIENCE: Duration = Duration::from_secs(240);

fn require_slurm() -> bool {
    std::env::var("MIXLAW_REQUIRE_SLURM").is_ok_and(|v| v == "1")
}

/// A Slurm command's output; `None` if the command is missing.
fn slurm(cmd: &str, args: &[&str]) -> Option<Output> {
    Command::new(cmd).args(args).output().ok()
}

/// A Slurm command that must succeed; its standard output.
fn slurm_ok(cmd: &str, args: &[&str]) -> String {
    let out = slurm(cmd, args).unwrap_or_else(|| panic!("{cmd} is missing"));
    assert!(
        out.status.success(),
        "{cmd} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The states of the array's tasks still known to the queue, by task id.
fn queue(job: &str) -> Vec<(usize, String)> {
    slurm_ok("squeue", &["-h", "-r", "-j", job, "-o", "%K %T"])
        .lines()
        .filter_map(|l| {
            let (task, state) = l.split_once(' ')?;
            Some((task.parse().ok()?, state.to_string()))
        })
        .collect()
}

/// Lines a study file holds so far (0 if it does not exist yet).
fn lines(path: &Path) -> usize {
    std::fs::read(path).map_or(0, |b| b.iter().filter(|&&c| c == b'\n').count())
}

#[test]
fn the_guide_quotes_the_slurm_script_the_test_submits() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let script = std::fs::read_to_string(root.join(SCRIPT)).unwrap();
    let guide = std::fs::read_to_string(root.join("docs/guide/bootstrap.md")).unwrap();
    assert!(
        guide.contains(&format!("```sh no-run\n{script}```")),
        "docs/guide/bootstrap.md's Slurm example must be {SCRIPT}, verbatim"
    );
}

#[test]
#[ignore = "slow tier: cargo test -- --include-ignored"]
fn a_job_array_with_a_requeued_task_merges_to_the_uninterrupted_study() {
    match slurm("sinfo", &["-h", "-o", "%t"]) {
        Some(out) if out.status.success() && !out.stdout.is_empty() => {}
        other => {
            let why = match other {
                None => "sbatch/sinfo not installed".to_string(),
                Some(out) => format!(
                    "no Slurm cluster answers: {}",
                    String::from_utf8_lossy(&out.stderr).trim()
                ),
            };
            assert!(!require_slurm(), "MIXLAW_REQUIRE_SLURM=1 but {why}");
            eprintln!("skipping the Slurm test: {why} (.ci/slurm-up.sh starts one)");
            return;
        }
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = common::temp_dir("slurm-array");
    std::fs::copy(common::example(), dir.join("runs.csv")).unwrap();
    let bin = Path::new(env!("CARGO_BIN_EXE_mixlaw")).parent().unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );

    // The tasks see this environment (sbatch exports it): the test's mixlaw first on PATH.
    let submitted = Command::new("sbatch")
        .args([
            "--parsable",
            &format!("--array=0-{}", TASKS - 1),
            "--cpus-per-task=1",
            "--time=00:10:00",
            &format!("--chdir={}", dir.display()),
            &format!("--output={}/slurm-%a.out", dir.display()),
        ])
        .arg(root.join(SCRIPT))
        .env("PATH", &path)
        .env("REPLICATES", REPLICATES.to_string())
        .output()
        .expect("sbatch runs");
    assert!(
        submitted.status.success(),
        "sbatch: {}",
        String::from_utf8_lossy(&submitted.stderr)
    );
    let job = String::from_utf8(submitted.stdout).unwrap();
    let job = job.trim().split(';').next().unwrap().to_string();
    // Cancelled if the test fails half-way, so that no task outlives it.
    struct Cancel(String);
    impl Drop for Cancel {
        fn drop(&mut self) {
            let _ = Command::new("scancel").arg(&self.0).output();
        }
    }
    let _cancel = Cancel(job.clone());

    // The same study, uninterrupted and unsharded, while the array runs.
    let whole = Command::new(env!("CARGO_BIN_EXE_mixlaw"))
        .current_dir(&*dir)
        .args([
            "bootstrap",
            "runs.csv",
            "--law",
            "joint",
            "--replicates",
            &REPLICATES.to_string(),
            "--starts",
            "10",
            "--seed",
            "7",
            "--resample",
            "runs",
            "--json",
            "--out",
            "whole.jsonl",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("mixlaw starts");

    // Task 0 is requeued once it is running and has written its header and some records, but
    // not all of them.
    let start = Instant::now();
    let study0 = dir.join("study.0.jsonl");
    let complete = 1 + REPLICATES / TASKS;
    loop {
        let running = queue(&job).contains(&(0, "RUNNING".to_string()));
        let n = lines(&study0);
        if running && n >= 2 && n < complete {
            break;
        }
        assert!(
            n < complete,
            "task 0 finished before it could be requeued; raise REPLICATES"
        );
        assert!(
            start.elapsed() < PATIENCE,
            "task 0 never ran: {:?}",
            queue(&job)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let task0 = format!("{job}_0");
    slurm_ok("scontrol", &["requeue", &task0]);
    let kept = lines(&study0);
    // A requeued job waits (BeginTime) before it may start again; let it start at once.
    loop {
        let q = queue(&job);
        match q.iter().find(|(t, _)| *t == 0).map(|(_, s)| s.as_str()) {
            Some("PENDING") => {
                slurm_ok(
                    "scontrol",
                    &["update", &format!("JobId={task0}"), "StartTime=now"],
                );
                break;
            }
            Some(_) => {}
            None => panic!("task 0 left the queue after its requeue"),
        }
        assert!(
            start.elapsed() < PATIENCE,
            "task 0 was never requeued: {q:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    while !queue(&job).is_empty() {
        assert!(
            start.elapsed() < PATIENCE,
            "the array did not finish: {:?}",
            queue(&job)
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    // Every task completed, task 0 after one restart that resumed its file.
    let show = slurm_ok("scontrol", &["show", "job", &job]);
    assert_eq!(
        show.matches("JobState=COMPLETED").count(),
        TASKS,
        "every task completes:\n{show}"
    );
    assert_eq!(show.matches("ExitCode=0:0").count(), TASKS, "{show}");
    let show0 = slurm_ok("scontrol", &["show", "job", &task0]);
    assert!(show0.contains("Restarts=1"), "{show0}");
    let log0 = std::fs::read_to_string(dir.join("slurm-0.out")).unwrap();
    assert!(log0.contains("DUE TO JOB REQUEUE"), "{log0}");
    // It resumed from at least the records it had when it was requeued (it ran on until
    // Slurm's signal), and from fewer than all of them.
    let resumed: usize = log0
        .split("note: resuming study.0.jsonl: ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next()?.parse().ok())
        .unwrap_or_else(|| panic!("the requeued task does not resume its file:\n{log0}"));
    assert!(
        resumed >= kept - 1 && resumed < REPLICATES / TASKS,
        "resumed with {resumed} records after a requeue at {} records",
        kept - 1
    );

    let whole = whole.wait_with_output().unwrap();
    assert!(whole.status.success());
    let shards: Vec<String> = (0..TASKS).map(|i| format!("study.{i}.jsonl")).collect();
    let mut args = vec!["merge"];
    args.extend(shards.iter().map(String::as_str));
    args.extend(["--out", "merged.jsonl", "--json"]);
    let merged = Command::new(env!("CARGO_BIN_EXE_mixlaw"))
        .current_dir(&*dir)
        .args(&args)
        .output()
        .unwrap();
    assert!(
        merged.status.success(),
        "{}",
        String::from_utf8_lossy(&merged.stderr)
    );
    let read = |name: &str| std::fs::read_to_string(dir.join(name)).unwrap();
    let (merged_text, whole_text) = (read("merged.jsonl"), read("whole.jsonl"));
    if merged_text != whole_text {
        // Say where: the first line that differs, and each task's log.
        let (m, w): (Vec<&str>, Vec<&str>) =
            (merged_text.lines().collect(), whole_text.lines().collect());
        let at = (0..m.len().max(w.len()))
            .find(|&i| m.get(i) != w.get(i))
            .unwrap();
        let logs: Vec<String> = std::fs::read_dir(&*dir)
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| {
                e.path()
                    .extension()
                    .is_some_and(|x| x == "out" || x == "log")
            })
            .map(|e| {
                format!(
                    "--- {}\n{}",
                    e.path().display(),
                    std::fs::read_to_string(e.path()).unwrap_or_default()
                )
            })
            .collect();
        panic!(
            "the merged study differs from the uninterrupted one at line {} of {} / {}:\n\
             merged: {:?}\nwhole:  {:?}\n{}",
            at + 1,
            m.len(),
            w.len(),
            m.get(at),
            w.get(at),
            logs.join("\n")
        );
    }
    assert_eq!(
        String::from_utf8(merged.stdout).unwrap(),
        String::from_utf8(whole.stdout).unwrap()
    );
}
