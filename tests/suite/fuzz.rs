//! The fuzz targets' inputs read again through the targets' own code, on stable Rust: the named
//! seeds (`fuzz/seeds/<target>/`) and every input that once crashed a reader
//! (`fuzz/regressions/<target>/`) always, and a fuzzer's corpus (`fuzz/corpus/<target>/`, kept
//! outside the repository: `fuzz/README.md`) when one is present. A reader may reject an input,
//! never panic on it. The fuzzers themselves need nightly and libFuzzer; this replay is how CI
//! keeps what they found.
//!
//! Each regression also has a test of its own below, which says what the reader must answer.

use std::path::{Path, PathBuf};

#[path = "../../fuzz/src/lib.rs"]
mod harness;

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

/// The files of `fuzz/<kind>/<target>/` (none if the folder is absent), sorted.
fn inputs(kind: &str, target: &str) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(fuzz_dir().join(kind).join(target)) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries.map(|e| e.unwrap().path()).collect();
    files.sort();
    files
}

#[test]
fn every_fuzz_seed_regression_and_corpus_input_is_read_without_a_panic() {
    let mut panics = Vec::new();
    for (target, read) in harness::TARGETS {
        let seeds = inputs("seeds", target);
        assert!(
            seeds.len() >= 3,
            "fuzz/seeds/{target}/ holds {} seeds: every target keeps a few named ones",
            seeds.len()
        );
        let all = seeds
            .into_iter()
            .chain(inputs("regressions", target))
            .chain(inputs("corpus", target));
        for path in all {
            let bytes = std::fs::read(&path).unwrap();
            if std::panic::catch_unwind(|| read(&bytes)).is_err() {
                panics.push(path.display().to_string());
            }
        }
    }
    assert!(panics.is_empty(), "readers panicked on: {panics:#?}");
}

/// Every regression input has a test below: a crash fixed once stays named.
#[test]
fn every_regression_input_has_its_own_test() {
    let tested = ["study_file/shard-count-zero"];
    for (target, _) in harness::TARGETS {
        for path in inputs("regressions", target) {
            let name = format!("{target}/{}", path.file_name().unwrap().to_string_lossy());
            assert!(
                tested.contains(&name.as_str()),
                "fuzz/regressions/{name} has no test of its own in tests/suite/fuzz.rs"
            );
        }
    }
}

/// Found by the `study_file` fuzzer (stop 23): a study header whose shard count is 0 made
/// `Shard::owns` divide by zero. The reader refuses the header, naming the shard.
#[test]
fn regression_study_file_shard_count_zero() {
    let path = fuzz_dir().join("regressions/study_file/shard-count-zero");
    let text = std::fs::read_to_string(&path).unwrap();
    let err = mixlaw::bootstrap::StudyFile::parse(&text, &path)
        .err()
        .expect("a shard count of 0 is refused");
    assert!(err.to_string().contains("shard"), "{err}");
    harness::study_file(text.as_bytes());
}
