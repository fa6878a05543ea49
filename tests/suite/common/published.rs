//! The published tables in `../shared/datasets`, loaded as their sources and the peers use them.
//! Shared by the integration tests and the benchmarks (`#[path]`-included there, from
//! `tests/suite/common/published.rs`).

use std::path::{Path, PathBuf};

use mixlaw::data::{load, mask, DataSpec, Dataset, Table};

/// The paper's train split (model sizes 310M–1235M, each from its token threshold), written
/// with the peer's 1 % tolerance on tokens.
pub const PAPER_TRAIN: &str = "(model_size==310e6 and n_tokens>=3.96e9) or (model_size==680e6 and n_tokens>=6.93e9) or (model_size==937e6 and n_tokens>=6.93e9) or (model_size==1235e6 and n_tokens>=12.87e9)";

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

/// A reference script in `../shared/peers`.
pub fn peer_script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/peers")
        .join(name)
}

/// `python3 scipy_chinchilla.py` on Epoch's table as Epoch fits it, with `extra` flags.
pub fn scipy_chinchilla_on_epoch(extra: &[&str]) -> std::process::Command {
    let mut c = std::process::Command::new("python3");
    c.arg(peer_script("scipy_chinchilla.py"))
        .arg(dataset("epoch_chinchilla/svg_extracted_data.csv"))
        .args(["--drop-highest", "5"])
        .args(extra);
    c
}

/// Epoch's replication of Chinchilla as Epoch fits it: D = C/(6N), the 5 highest losses
/// dropped, all 240 remaining points (one digitised duplicate kept).
pub fn epoch() -> Dataset {
    let spec = DataSpec {
        n_col: Some("Model Size".into()),
        flops_col: Some("Training FLOP".into()),
        targets: vec!["loss".into()],
        drop_highest: 5,
        keep_duplicates: true,
        needs_scale: true,
        ..DataSpec::default()
    };
    let table =
        Table::read(&dataset("epoch_chinchilla/svg_extracted_data.csv")).expect("Epoch's table");
    load(&table, &spec).expect("Epoch's table")
}

/// The paper's SlimPajama runs, `target` only, on its train split.
pub fn slimpajama_train(target: &str) -> Dataset {
    let table = Table::read(&dataset("apple_dmsl_slimpajama/dmsl_llm_slimpajama.csv"))
        .expect("the SlimPajama table");
    let spec = DataSpec {
        targets: vec![target.into()],
        needs_scale: true,
        needs_mixture: true,
        ..DataSpec::default()
    };
    let all = load(&table, &spec).expect("the SlimPajama table");
    all.subset(&mask(&all, &table, &[PAPER_TRAIN.to_string()]).expect("the split"))
}

/// Epoch's table as kyo-takano's chinchilla package fits it in its example notebook: the rows
/// with C > 1e18 and N < D (D = C/(6N)), all of them (234; no highest losses dropped, the
/// digitised duplicates kept).
pub fn epoch_kyo_takano() -> Dataset {
    let spec = DataSpec {
        n_col: Some("Model Size".into()),
        flops_col: Some("Training FLOP".into()),
        targets: vec!["loss".into()],
        filters: vec!["\"Training FLOP\">1e18".into()],
        keep_duplicates: true,
        needs_scale: true,
        ..DataSpec::default()
    };
    let table =
        Table::read(&dataset("epoch_chinchilla/svg_extracted_data.csv")).expect("Epoch's table");
    let all = load(&table, &spec).expect("Epoch's table");
    let keep: Vec<bool> = all.n.iter().zip(&all.d).map(|(n, d)| n < d).collect();
    all.subset(&keep)
}
