//! Every input the fuzzers kept (`fuzz/corpus/<target>/`) and every input that once crashed a
//! reader (`fuzz/regressions/<target>/`) is read again through the fuzz targets' own code, on
//! stable Rust: a reader may reject an input, never panic on it. The fuzzers themselves need
//! nightly and libFuzzer (README, "Fuzzing"); this replay is how CI keeps what they found.

use std::path::Path;

#[path = "../../fuzz/src/lib.rs"]
mod harness;

#[test]
fn every_fuzz_corpus_and_regression_input_is_read_without_a_panic() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut panics = Vec::new();
    for (target, read) in harness::TARGETS {
        let mut replayed = 0;
        for kind in ["corpus", "regressions"] {
            let Ok(entries) = std::fs::read_dir(root.join(kind).join(target)) else {
                continue;
            };
            for entry in entries {
                let path = entry.unwrap().path();
                let bytes = std::fs::read(&path).unwrap();
                if std::panic::catch_unwind(|| read(&bytes)).is_err() {
                    panics.push(path.display().to_string());
                }
                replayed += 1;
            }
        }
        assert!(replayed > 0, "fuzz/corpus/{target}/ holds no input");
    }
    assert!(panics.is_empty(), "readers panicked on: {panics:#?}");
}
