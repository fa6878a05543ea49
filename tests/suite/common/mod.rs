//! Helpers shared by the integration tests (`crate::common` in every module of the suite): the
//! published tables, running the binary, temp dirs, the GPU backend.
#![allow(dead_code)]

mod published;

#[allow(unused_imports)]
pub use published::*;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The bundled example table, `data/example.csv` (an absolute path).
pub fn example() -> String {
    format!("{}/data/example.csv", env!("CARGO_MANIFEST_DIR"))
}

/// A fit of the additive law to the bundled example (three domains: web, code, books) with the
/// flags `extra` (e.g. `--starts`, `--backend`), written to `dir/fit.json`; that file's path.
pub fn example_fit(dir: &Path, extra: &[&str]) -> String {
    let fit = dir.join("fit.json").display().to_string();
    let example = example();
    let mut args = vec!["fit", &example, "--law", "additive"];
    args.extend_from_slice(extra);
    args.extend(["--out", &fit]);
    mixlaw_ok(&args);
    fit
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

/// A temporary directory, removed with everything in it when dropped.
pub struct TempDir(PathBuf);

impl std::ops::Deref for TempDir {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A fresh, empty temporary directory unique to this test (and process): every module of the
/// suite runs in one process, so `name` must be unique across the whole suite.
pub fn temp_dir(name: &str) -> TempDir {
    let d = std::env::temp_dir().join(format!("mixlaw-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    TempDir(d)
}

/// A file in a temporary directory of its own, removed when dropped.
pub struct TempFile {
    path: PathBuf,
    _dir: TempDir,
}

impl TempFile {
    /// Write `bytes` to `<fresh temp dir for test name>/<file>`.
    pub fn new(name: &str, file: &str, bytes: &[u8]) -> TempFile {
        let dir = temp_dir(name);
        let path = dir.join(file);
        std::fs::write(&path, bytes).unwrap();
        TempFile { path, _dir: dir }
    }
}

impl std::ops::Deref for TempFile {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.path
    }
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
