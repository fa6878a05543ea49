//! Helpers shared by the integration tests: locating `../shared`, running the binary, temp dirs.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// `../shared/datasets/<rel>` beside the checkout. Panics with a clear message when absent:
/// the tests that use it are the yardsticks against published data and must not silently pass.
pub fn dataset(rel: &str) -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/datasets")
        .join(rel);
    assert!(
        p.exists(),
        "{} is missing: the shared datasets must sit beside the checkout",
        p.display()
    );
    p
}

/// A peer's recorded output, `tests/fixtures/peers/<name>`.
pub fn peer_fixture(name: &str) -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/peers")
        .join(name);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Run the `mixlaw` binary.
pub fn mixlaw(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mixlaw"))
        .args(args)
        .output()
        .expect("mixlaw runs")
}

/// Run and require success; returns stdout.
pub fn mixlaw_ok(args: &[&str]) -> String {
    let out = mixlaw(args);
    assert!(
        out.status.success(),
        "mixlaw {args:?} failed ({:?}):\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

/// A fresh, empty temporary directory unique to this test.
pub fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("mixlaw-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Whether CI asked for GPU tests to fail rather than skip when there is no adapter.
pub fn require_gpu() -> bool {
    std::env::var("MIXLAW_REQUIRE_GPU").is_ok_and(|v| v == "1")
}

/// The GPU backend (at most `split` entries per dispatch), or `None` with a printed reason when
/// there is no adapter; under `MIXLAW_REQUIRE_GPU=1` a missing adapter is a failure instead.
pub fn open_gpu(split: Option<usize>) -> Option<mixlaw::backend::Gpu> {
    match mixlaw::backend::Gpu::new() {
        Ok(g) => Some(match split {
            Some(s) => g.with_split(s),
            None => g,
        }),
        Err(e) if require_gpu() => panic!("MIXLAW_REQUIRE_GPU=1 but no GPU backend: {e}"),
        Err(e) => {
            eprintln!("skipping GPU test: {e}");
            None
        }
    }
}
