//! The published tables in `data/` (`bash data/fetch.sh` fetches those not in git), loaded as
//! their sources and the peers use them, and the peers in `benches/peers/`. Shared by the
//! integration tests and the benchmarks (`#[path]`-included there, from
//! `tests/suite/common/published.rs`).
//!
//! A missing table makes the test that needs it skip, saying so (`let Some(p) = dataset(..) else
//! { return };`); under `MIXLAW_REQUIRE_DATASETS=1` (for CI) it is a failure instead, so that the
//! yardsticks against published data cannot silently pass.

use std::path::{Path, PathBuf};

use mixlaw::data::{load, mask, DataSpec, Dataset, Table};

/// The paper's train split (model sizes 310M–1235M, each from its token threshold), written
/// with the peer's 1 % tolerance on tokens.
pub const PAPER_TRAIN: &str = "(model_size==310e6 and n_tokens>=3.96e9) or (model_size==680e6 and n_tokens>=6.93e9) or (model_size==937e6 and n_tokens>=6.93e9) or (model_size==1235e6 and n_tokens>=12.87e9)";

/// Epoch's table, relative to `data/`.
pub const EPOCH: &str = "epoch_chinchilla/svg_extracted_data.csv";
/// The SlimPajama runs of Shukor et al., relative to `data/`.
pub const SLIMPAJAMA: &str = "apple_dmsl_slimpajama/dmsl_llm_slimpajama.csv";
/// Open-Athena's isoFLOP collections, relative to `data/`.
pub const ISOFLOPS: &str = "open_athena_isoflops/isoflops.csv";

/// The repository's `data/` folder, where the published tables are.
pub fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data")
}

/// Whether a missing published table must fail rather than skip (`MIXLAW_REQUIRE_DATASETS=1`).
pub fn require_datasets() -> bool {
    std::env::var("MIXLAW_REQUIRE_DATASETS").is_ok_and(|v| v == "1")
}

/// `data/<rel>`, or `None` with a printed reason when the table is missing (the caller skips);
/// under `MIXLAW_REQUIRE_DATASETS=1` a missing table panics instead.
pub fn dataset(rel: &str) -> Option<PathBuf> {
    let p = data_dir().join(rel);
    if p.exists() {
        return Some(p);
    }
    let why = format!(
        "{} is missing: `bash data/fetch.sh` fetches the published tables",
        p.display()
    );
    if require_datasets() {
        panic!("MIXLAW_REQUIRE_DATASETS=1 but {why}");
    }
    eprintln!("skipping: {why}");
    None
}

/// A reference script in `benches/peers/`.
pub fn peer_script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("benches/peers")
        .join(name)
}

/// `python3 scipy_chinchilla.py` on Epoch's table as Epoch fits it, with `extra` flags (`None`
/// when the table is missing, as [`dataset`]).
pub fn scipy_chinchilla_on_epoch(extra: &[&str]) -> Option<std::process::Command> {
    let mut c = std::process::Command::new("python3");
    c.arg(peer_script("scipy_chinchilla.py"))
        .arg(dataset(EPOCH)?)
        .args(["--drop-highest", "5"])
        .args(extra);
    Some(c)
}

/// The command line's flags that read Epoch's table as Epoch fits it (as [`epoch`] loads it).
pub const EPOCH_AS_EPOCH: [&str; 7] = [
    "--n-col",
    "Model Size",
    "--flops-col",
    "Training FLOP",
    "--drop-highest",
    "5",
    "--keep-duplicates",
];

/// Epoch's replication of Chinchilla as Epoch fits it: D = C/(6N), the 5 highest losses
/// dropped, all 240 remaining points (one digitised duplicate kept); `None` when the table is
/// missing, as [`dataset`].
pub fn epoch() -> Option<Dataset> {
    let spec = DataSpec {
        n_col: Some("Model Size".into()),
        flops_col: Some("Training FLOP".into()),
        targets: vec!["loss".into()],
        drop_highest: 5,
        keep_duplicates: true,
        needs_scale: true,
        ..DataSpec::default()
    };
    let table = Table::read(&dataset(EPOCH)?).expect("Epoch's table");
    Some(load(&table, &spec).expect("Epoch's table"))
}

/// The paper's SlimPajama runs, `target` only, on its train split; `None` when the table is
/// missing, as [`dataset`].
pub fn slimpajama_train(target: &str) -> Option<Dataset> {
    let table = Table::read(&dataset(SLIMPAJAMA)?).expect("the SlimPajama table");
    let spec = DataSpec {
        targets: vec![target.into()],
        needs_scale: true,
        needs_mixture: true,
        ..DataSpec::default()
    };
    let all = load(&table, &spec).expect("the SlimPajama table");
    Some(all.subset(&mask(&all, &table, &[PAPER_TRAIN.to_string()]).expect("the split")))
}

/// Epoch's table as kyo-takano's chinchilla package fits it in its example notebook: the rows
/// with C > 1e18 and N < D (D = C/(6N)), all of them (234; no highest losses dropped, the
/// digitised duplicates kept); `None` when the table is missing, as [`dataset`].
pub fn epoch_kyo_takano() -> Option<Dataset> {
    let spec = DataSpec {
        n_col: Some("Model Size".into()),
        flops_col: Some("Training FLOP".into()),
        targets: vec!["loss".into()],
        filters: vec!["\"Training FLOP\">1e18".into()],
        keep_duplicates: true,
        needs_scale: true,
        ..DataSpec::default()
    };
    let table = Table::read(&dataset(EPOCH)?).expect("Epoch's table");
    let all = load(&table, &spec).expect("Epoch's table");
    let keep: Vec<bool> = all.n.iter().zip(&all.d).map(|(n, d)| n < d).collect();
    Some(all.subset(&keep))
}
