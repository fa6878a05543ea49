//! A study's lifecycle: run (or resume) a study or one shard of it, with or without a study
//! file, and merge the shards' files.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use super::record::{self, Appender, Header, Record, Shard, StudyFile, StudySettings};
use super::{fit_full, header, replicate, summarise, At, Summary};
use crate::backend::Backend;
use crate::data::Dataset;
use crate::law::Law;
use crate::report::{check_writable, write_atomic};
use crate::{Error, Result};

/// A whole study, or one shard of it: the header with its full-data fits, and every record in
/// canonical order.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Study {
    /// Law, settings, data digest, shard and the full-data fits.
    pub header: Header,
    /// One per (replicate, target), sorted.
    pub records: Vec<Record>,
}

impl Study {
    /// Intervals at confidence `level`, with predicted losses at `at`.
    pub fn summarise(&self, level: f64, at: &[At]) -> Result<Summary> {
        summarise(&self.header, &self.records, level, at)
    }
}

/// Where a study is written: nowhere, or a study file (continued with `resume`, replaced only
/// with `force`).
#[derive(Clone, Debug, Default)]
pub struct Destination {
    /// The study file.
    pub path: Option<PathBuf>,
    /// Continue the study in `path`, keeping the records it already holds.
    pub resume: bool,
    /// Replace an existing file at `path` (not with `resume`).
    pub force: bool,
}

impl Destination {
    /// The errors a destination has before any work: resumed and replaced at once, or a file
    /// that exists and may not be replaced.
    pub fn check(&self) -> Result<()> {
        if self.resume && self.force {
            return Err(Error::usage(
                "a study is either resumed or replaced (--force), not both",
            ));
        }
        match (&self.path, self.resume) {
            (Some(out), false) => check_writable(out, self.force),
            _ => Ok(()),
        }
    }
}

/// What a running study reports.
#[derive(Clone, Copy, Debug)]
pub enum Event<'a> {
    /// Starts of a target's full-data fit finished, of `total`.
    FullFit {
        /// The target.
        target: &'a str,
        /// Starts finished.
        done: usize,
        /// Starts in all.
        total: usize,
    },
    /// A study file was resumed with this many records already done.
    Resumed {
        /// Records the file held.
        records: usize,
    },
    /// Replicates of a target finished, of `total`.
    Replicates {
        /// The target.
        target: &'a str,
        /// Replicates finished.
        done: usize,
        /// Replicates in the shard.
        total: usize,
    },
}

/// Run the study `study` of `law` on `ds` (or shard `shard` of it) on `backend`, writing it to
/// `dest`: the destination is checked before the full-data fit (and the file written after
/// it), records are appended as replicates finish, and the complete study is rewritten atomically in canonical order. A
/// resumed study keeps its own full-data fits and records (the file must hold this very study:
/// same settings, data, law and shard).
pub fn run(
    ds: &Dataset,
    law: &Law,
    study: &StudySettings,
    shard: Option<Shard>,
    backend: &dyn Backend,
    dest: &Destination,
    events: &mut (dyn FnMut(Event) + Send),
) -> Result<Study> {
    if dest.resume && dest.force {
        return Err(Error::usage(
            "a study is either resumed or replaced (--force), not both",
        ));
    }
    let path = dest.path.as_deref();
    if let (Some(out), false) = (path, dest.resume) {
        check_writable(out, dest.force)?;
    }
    let existing = match (path, dest.resume) {
        (Some(out), true) if out.exists() => Some((out, StudyFile::read(out)?)),
        _ => None,
    };
    // Domains are matched by name: a table whose weight columns come in another order resumes
    // the same study. Different sets of domains are left to the header check, which names them.
    let aligned = existing.as_ref().and_then(|(_, file)| {
        let order = &file.header.domains;
        (law.uses_mixture() && *order != ds.domains)
            .then(|| ds.with_domains(order, "the study").ok())
            .flatten()
    });
    let ds = aligned.as_ref().unwrap_or(ds);
    let mut header = header(ds, law, study, shard)?;
    let resumed = existing
        .map(|(out, file)| resume(out, file, &header))
        .transpose()?;
    let (mut records, mut appender) = match (resumed, path) {
        (Some((file, appender)), _) => {
            header = file.header;
            events(Event::Resumed {
                records: file.records.len(),
            });
            (file.records, Some(appender))
        }
        (None, out) => {
            fit_full(&mut header, ds, law, backend, &mut |target, done, total| {
                events(Event::FullFit {
                    target,
                    done,
                    total,
                })
            })?;
            let appender = match out {
                Some(out) => {
                    let first = record::line(&header);
                    write_atomic(out, first.as_bytes(), true)?;
                    Some(Appender::open(out, first.len() as u64)?)
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
    replicate(
        ds,
        law,
        &header,
        backend,
        &skip,
        &mut |new: Vec<Record>| {
            if let Some(a) = appender.as_mut() {
                a.append(&new)?;
            }
            records.extend(new);
            Ok(())
        },
        &mut |target, done, total| {
            events(Event::Replicates {
                target,
                done,
                total,
            })
        },
    )?;
    record::sort(&header, &mut records);
    if let Some(out) = path {
        // Complete: the canonical (sorted) file, replacing the one written as replicates finished.
        write_atomic(out, record::render(&header, &records).as_bytes(), true)?;
    }
    Ok(Study { header, records })
}

/// Check that `file`, read from `out`, holds the study `header` describes (settings, data, law
/// and shard), and open it to continue.
fn resume(out: &Path, file: StudyFile, header: &Header) -> Result<(StudyFile, Appender)> {
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
    let appender = Appender::open(out, file.complete_bytes)?;
    Ok((file, appender))
}

/// The whole study from its shards' files: every shard present once, each complete, all of
/// one study (same header but for the shard). With `out`, the merged study file is written
/// there (the same bytes as one run of the whole study; replacing a file only with `force`).
pub fn merge(files: &[PathBuf], out: Option<&Path>, force: bool) -> Result<Study> {
    if let Some(out) = out {
        check_writable(out, force)?;
    }
    let Some(first_path) = files.first() else {
        return Err(Error::usage("merge needs the study files of the shards"));
    };
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
                first_path.display(),
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
                    first_path.display()
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
    record::sort(&header, &mut records);
    if let Some(out) = out {
        write_atomic(out, record::render(&header, &records).as_bytes(), force)?;
    }
    Ok(Study { header, records })
}
