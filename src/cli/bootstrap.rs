//! `mixlaw bootstrap` and `mixlaw merge`: bootstrap uncertainty studies and their shards.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};

use super::progress::Progress;
use super::{DataArgs, FitArgs, OutArgs};
use mixlaw::bootstrap::{self, record, At, Header, Record, Resample, Shard, StudyFile, Summary};
use mixlaw::report::{self, num, Table};
use mixlaw::{Error, Result};

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum ResampleArg {
    /// Draw rows with replacement.
    Rows,
    /// Draw whole runs (every checkpoint of one mixture and N) with replacement.
    Runs,
}

/// What a summary reports.
#[derive(Args, Clone, Debug)]
pub struct SummaryArgs {
    /// Confidence level of the percentile intervals.
    #[arg(long, default_value_t = 0.95)]
    level: f64,
    /// Also give intervals of the predicted loss at N,D (and mixture h_1,...,h_k for mixture
    /// laws), e.g. --at 7e9,140e9 (repeatable).
    #[arg(long, value_name = "N,D[,h...]")]
    at: Vec<String>,
}

impl SummaryArgs {
    fn points(&self) -> Result<Vec<At>> {
        if !(self.level > 0.0 && self.level < 1.0) {
            return Err(Error::usage(format!(
                "--level must be between 0 and 1, got {}",
                self.level
            )));
        }
        self.at.iter().map(|a| At::parse(a)).collect()
    }
}

/// Refit a law on resampled tables: parameter, prediction and optimal-mixture intervals.
///
/// `--starts` counts the starts of each replicate (default 10: the full-data optimum and 9
/// drawn as a fit draws them); the full-data fit uses the law's usual starts, and `--hops`
/// basin-hops that fit only.
#[derive(Args)]
pub struct BootstrapCmd {
    #[command(flatten)]
    data: DataArgs,
    #[command(flatten)]
    fit: FitArgs,
    /// Replicates in the whole study (all shards together).
    #[arg(long, default_value_t = 1000)]
    replicates: usize,
    /// What is drawn with replacement.
    #[arg(long, value_enum, default_value = "rows")]
    resample: ResampleArg,
    /// Raw N,D at which each replicate's optimal mixture is found (mixture laws)
    /// [default: the table's largest N and D].
    #[arg(long, value_name = "N,D")]
    optimum_at: Option<String>,
    /// Run only replicates j with j mod n = i; `auto` reads SLURM_ARRAY_TASK_ID and
    /// SLURM_ARRAY_TASK_COUNT. `mixlaw merge` joins the shards' study files.
    #[arg(long, value_name = "i/n|auto")]
    shard: Option<String>,
    /// The study file (JSON Lines: a header, then one record per replicate and target, written
    /// as replicates finish).
    #[arg(long, value_name = "STUDY.jsonl")]
    out: Option<PathBuf>,
    /// Continue the study in --out, keeping the replicates it already holds.
    #[arg(long, requires = "out", conflicts_with = "force")]
    resume: bool,
    #[command(flatten)]
    summary: SummaryArgs,
    #[command(flatten)]
    output: OutArgs,
}

pub fn run_bootstrap(c: BootstrapCmd) -> Result<()> {
    let law = c.fit.law()?;
    let points = c.summary.points()?;
    let shard = c
        .shard
        .as_deref()
        .map(Shard::parse)
        .transpose()?
        .filter(|s| s.count > 1);
    let mut fit = FitArgs {
        starts: None,
        ..c.fit.clone()
    }
    .settings(law)?;
    if c.fit.polish.is_none() {
        fit.polish = 2;
    }
    let study = bootstrap::StudySettings {
        replicates: c.replicates,
        starts: c.fit.starts.unwrap_or(10),
        seed: c.fit.seed,
        resample: match c.resample {
            ResampleArg::Rows => Resample::Rows,
            ResampleArg::Runs => Resample::Runs,
        },
        optimum_at: c.optimum_at.as_deref().map(parse_pair).transpose()?,
        fit,
    };
    if let (Some(out), false) = (&c.out, c.resume) {
        report::check_writable(out, c.output.force)?;
    }
    let ds = mixlaw::data::load(&c.data.table, &c.data.spec(law))?;
    super::print_notices(&ds);
    let mut header = bootstrap::header(&ds, law, &study, shard)?;
    for a in &points {
        a.check(law, ds.k())?;
    }
    let backend = c.fit.backend()?;
    let mut bar = Progress::new("bootstrap");
    // A resumed study keeps its own full-data fits: same settings and data, same estimates.
    let resumed = match (&c.out, c.resume) {
        (Some(out), true) if out.exists() => Some(resume(out, &header)?),
        _ => None,
    };
    let (mut records, mut appender) = match (resumed, &c.out) {
        (Some((file, appender)), _) => {
            header = file.header;
            eprintln!(
                "note: resuming {}: {} records already done",
                c.out.as_ref().unwrap().display(),
                file.records.len()
            );
            (file.records, Some(appender))
        }
        (None, out) => {
            bootstrap::fit_full(&mut header, &ds, law, backend.as_ref(), &mut |t, d, n| {
                bar.update(&format!("full-data fit {t}"), d, n)
            })?;
            let appender = match out {
                Some(out) => {
                    let first = record::line(&header);
                    report::write_atomic(out, first.as_bytes(), true)?;
                    Some(record::Appender::open(out, first.len() as u64)?)
                }
                None => None,
            };
            (Vec::new(), appender)
        }
    };
    let skip: HashSet<(usize, String)> = records
        .iter()
        .map(|r| (r.replicate, r.target.clone()))
        .collect();
    let mut bar = bar.counting("replicates");
    bootstrap::replicate(
        &ds,
        law,
        &header,
        backend.as_ref(),
        &skip,
        &mut |new: Vec<Record>| {
            if let Some(a) = appender.as_mut() {
                a.append(&new)?;
            }
            records.extend(new);
            Ok(())
        },
        &mut |t, d, n| bar.update(t, d, n),
    )?;
    bar.finish();
    if let Some(out) = &c.out {
        // Complete: the canonical (sorted) file, replacing the one written as replicates finished.
        report::write_atomic(out, record::render(&header, &records).as_bytes(), true)?;
    }
    let summary = bootstrap::summarise(&header, &records, c.summary.level, &points)?;
    print(&summary, backend.describe(), c.output.json);
    Ok(())
}

/// Check that `out` holds the study `header` describes (settings, data, law and shard), and
/// open it to continue.
fn resume(out: &Path, header: &Header) -> Result<(StudyFile, record::Appender)> {
    let file = StudyFile::read(out)?;
    let mut theirs = file.header.clone();
    theirs.full.clear();
    let mut diff = theirs.differences(header);
    if theirs.shard != header.shard {
        diff.push("shard".into());
    }
    if !diff.is_empty() {
        return Err(Error::usage(format!(
            "{} holds a different study (it differs in: {}); give the same flags as the run \
             that wrote it, or another --out",
            out.display(),
            diff.join(", ")
        )));
    }
    let appender = record::Appender::open(out, file.complete_bytes)?;
    Ok((file, appender))
}

/// Join the study files of the shards of one bootstrap study.
#[derive(Args)]
pub struct MergeCmd {
    /// The shards' study files (every shard of the study, each complete).
    #[arg(required = true, value_name = "STUDY.jsonl")]
    files: Vec<PathBuf>,
    /// Write the merged study file here (the same bytes as one run of the whole study).
    #[arg(long, value_name = "STUDY.jsonl")]
    out: Option<PathBuf>,
    #[command(flatten)]
    summary: SummaryArgs,
    #[command(flatten)]
    output: OutArgs,
}

pub fn run_merge(c: MergeCmd) -> Result<()> {
    let points = c.summary.points()?;
    if let Some(out) = &c.out {
        report::check_writable(out, c.output.force)?;
    }
    let (header, records) = merge(&c.files)?;
    if let Some(out) = &c.out {
        report::write_atomic(
            out,
            record::render(&header, &records).as_bytes(),
            c.output.force,
        )?;
    }
    let summary = bootstrap::summarise(&header, &records, c.summary.level, &points)?;
    print(
        &summary,
        format!("merged from {} study files", c.files.len()),
        c.output.json,
    );
    Ok(())
}

/// The whole study from its shards' files: every shard present once, each complete, all of
/// one study (same header but for the shard).
fn merge(files: &[PathBuf]) -> Result<(Header, Vec<Record>)> {
    let studies: Vec<StudyFile> = files
        .iter()
        .map(|f| StudyFile::read(f))
        .collect::<Result<_>>()?;
    let first = &studies[0].header;
    let count = first.shard.map_or(1, |s| s.count);
    let mut seen = vec![None; count];
    let mut records = Vec::new();
    for (path, study) in files.iter().zip(&studies) {
        let h = &study.header;
        let bad = |msg: String| Error::FitFile {
            path: path.clone(),
            msg,
        };
        let diff = h.differences(first);
        if !diff.is_empty() {
            return Err(bad(format!(
                "not a shard of the same study as {} (it differs in: {})",
                files[0].display(),
                diff.join(", ")
            )));
        }
        let index = match h.shard {
            Some(s) if s.count == count => s.index,
            None if count == 1 => 0,
            _ => {
                return Err(bad(format!(
                    "a shard of {} (it is {}), while {} is one of {count}",
                    h.shard.map_or(1, |s| s.count),
                    h.shard.map_or("the whole study".into(), |s| format!(
                        "shard {}/{}",
                        s.index, s.count
                    )),
                    files[0].display()
                )))
            }
        };
        if let Some(other) = seen[index].replace(path) {
            return Err(bad(format!(
                "shard {index}/{count} is also given as {}",
                other.display()
            )));
        }
        let want = (0..h.study.replicates)
            .filter(|&j| h.shard.is_none_or(|s| s.owns(j)))
            .count()
            * h.full.len();
        if study.records.len() != want {
            return Err(bad(format!(
                "incomplete: {} of its {want} records; finish it with the same command and \
                 --resume",
                study.records.len()
            )));
        }
        records.extend(study.records.iter().cloned());
    }
    let missing: Vec<String> = (0..count)
        .filter(|&i| seen[i].is_none())
        .map(|i| format!("{i}/{count}"))
        .collect();
    if !missing.is_empty() {
        return Err(Error::usage(format!(
            "missing shards: {} (every shard's study file is needed)",
            missing.join(", ")
        )));
    }
    let mut header = first.clone();
    header.shard = None;
    Ok((header, records))
}

/// `N,D` as two positive numbers.
fn parse_pair(text: &str) -> Result<[f64; 2]> {
    let bad = || {
        Error::usage(format!(
            "--optimum-at '{text}' is not N,D (two positive numbers)"
        ))
    };
    let (n, d) = text.split_once(',').ok_or_else(bad)?;
    let (n, d): (f64, f64) = (
        n.trim().parse().map_err(|_| bad())?,
        d.trim().parse().map_err(|_| bad())?,
    );
    if n > 0.0 && d > 0.0 && n.is_finite() && d.is_finite() {
        Ok([n, d])
    } else {
        Err(bad())
    }
}

fn print(summary: &Summary, backend: String, json: bool) {
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(summary).expect("summaries serialise")
        );
    } else {
        print!("{}", render(summary, &backend));
    }
}

/// The human view: per target, the parameters, predictions and optimal mixture with intervals.
fn render(s: &Summary, backend: &str) -> String {
    let pct = format!("{:.4}", s.level * 100.0)
        .trim_end_matches('0')
        .trim_end_matches('.')
        .to_string();
    let mut out = format!(
        "{} law, {} replicates ({} resampled, {} starts each, seed {}; {backend}); \
         {pct}% percentile intervals\n",
        s.law,
        s.replicates,
        match s.resample {
            Resample::Rows => "rows",
            Resample::Runs => "runs",
        },
        s.starts,
        s.seed
    );
    let table = |first: &str, rows: &[(String, &bootstrap::Interval)]| {
        let mut t = Table::new([first, "estimate", "mean", "se", "lo", "hi"]);
        for (name, i) in rows {
            t.row([
                name.clone(),
                num(i.estimate),
                num(i.mean),
                num(i.se),
                num(i.lo),
                num(i.hi),
            ]);
        }
        t.render()
    };
    for t in &s.targets {
        out.push_str(&format!(
            "\n{}: {} replicates{}\n",
            t.target,
            t.replicates,
            if t.failed > 0 {
                format!(" ({} failed, left out)", t.failed)
            } else {
                String::new()
            }
        ));
        let rows: Vec<(String, &bootstrap::Interval)> =
            t.params.iter().map(|i| (i.name.clone(), i)).collect();
        out.push_str(&table("parameter", &rows));
        if !t.predictions.is_empty() {
            let rows: Vec<(String, &bootstrap::Interval)> = t
                .predictions
                .iter()
                .map(|p| {
                    let mut at = format!("N={} D={}", num(p.at.n), num(p.at.d));
                    if !p.at.h.is_empty() {
                        let h: Vec<String> = p.at.h.iter().map(|v| num(*v)).collect();
                        at.push_str(&format!(" h={}", h.join(",")));
                    }
                    (at, &p.loss)
                })
                .collect();
            out.push('\n');
            out.push_str(&table("predicted loss at", &rows));
        }
        if let (false, Some([n, d])) = (t.optimum.is_empty(), s.optimum_at) {
            out.push_str(&format!(
                "\noptimal mixture at N={} D={}:\n",
                num(n),
                num(d)
            ));
            let rows: Vec<(String, &bootstrap::Interval)> =
                t.optimum.iter().map(|i| (i.name.clone(), i)).collect();
            out.push_str(&table("domain", &rows));
        }
    }
    out
}
