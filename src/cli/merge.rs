//! `mixlaw merge`: join the study files of a sharded bootstrap into one study.

use std::path::PathBuf;

use clap::Args;

use super::bootstrap::{print, Outcome, SummaryArgs};
use super::OutArgs;
use crate::Result;

/// Join the study files of the shards of one bootstrap study.
#[derive(Args)]
pub struct MergeCmd {
    /// The shards' study files (every shard of the study, each complete).
    #[arg(required = true, value_name = "STUDY.jsonl")]
    files: Vec<PathBuf>,
    /// Write the merged study file here (the same bytes as one run of the whole study).
    #[arg(short, long, value_name = "STUDY.jsonl")]
    out: Option<PathBuf>,
    #[command(flatten)]
    summary: SummaryArgs,
    #[command(flatten)]
    output: OutArgs,
}

pub fn run(c: MergeCmd) -> Result<()> {
    let points = c.summary.points()?;
    let study = crate::merge(&c.files, c.out.as_deref(), c.output.force)?;
    let summary = study.summarise(c.summary.level, &points)?;
    print(
        &Outcome {
            summary,
            intervals: Vec::new(),
        },
        format!("merged from {} study files", c.files.len()),
        c.output.json,
    );
    Ok(())
}
