//! The study file: JSON Lines, one header and then one record per (replicate, target).
//!
//! The header says everything that decides the replicates (law, data digest, settings, the
//! full-data fits they warm-start from); a record is the fit of one target on one replicate.
//! Records are appended and flushed as replicates finish, so an interrupted study keeps what it
//! finished and `--resume` continues it (a torn last line is dropped). When a
//! study completes its file is rewritten atomically with the records sorted, so that a whole
//! study and the `merge` of its shards are the same bytes.

use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::plan::Resample;
use crate::data::Dataset;
use crate::fit::FitSettings;
use crate::fit::{check_domains, check_params, check_units};
use crate::fit::{Params, Units};
use crate::law::{registry, Law, ParamSpec};
use crate::{Error, Result};

/// The version of the study file this mixlaw writes and reads.
pub const STUDY_VERSION: u32 = 1;

/// Replicates `j` with `j mod count == index`. Only a shard that exists is ever made: by
/// [`Shard::new`], which `--shard` and a study file's header (deserialised through it) both go
/// through, so `count` is never 0 and `index` always below it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "ShardFields")]
pub struct Shard {
    /// Which shard this is, counted from 0.
    pub index: usize,
    /// How many shards the study is split into.
    pub count: usize,
}

/// A shard as a study file spells it, before [`Shard::new`] checks it.
#[derive(Deserialize)]
struct ShardFields {
    index: usize,
    count: usize,
}

impl TryFrom<ShardFields> for Shard {
    type Error = String;

    fn try_from(f: ShardFields) -> std::result::Result<Shard, String> {
        Shard::new(f.index, f.count)
    }
}

impl Shard {
    /// Shard `index` of `count`; an error unless `index < count`.
    pub fn new(index: usize, count: usize) -> std::result::Result<Shard, String> {
        if index < count {
            Ok(Shard { index, count })
        } else {
            Err(format!(
                "shard {index} of {count} does not exist (shards are 0 to n-1)"
            ))
        }
    }

    /// Whether replicate `j` belongs to this shard.
    pub fn owns(&self, j: usize) -> bool {
        j % self.count == self.index
    }

    /// `i/n`, or `auto` for a Slurm array task (`SLURM_ARRAY_TASK_ID` of
    /// `SLURM_ARRAY_TASK_COUNT`, with task ids counted from `SLURM_ARRAY_TASK_MIN`, 0 if unset,
    /// in steps of `SLURM_ARRAY_TASK_STEP`, 1 if unset: `--array=0-8:4` runs tasks 0, 4 and 8,
    /// shards 0, 1 and 2 of 3).
    pub fn parse(text: &str) -> Result<Shard> {
        Shard::parse_with(text, |name| std::env::var(name).ok())
    }

    /// [`Shard::parse`] with the environment read through `env`.
    pub fn parse_with(text: &str, env: impl Fn(&str) -> Option<String>) -> Result<Shard> {
        let (index, count) = if text == "auto" {
            let var = |name: &str| {
                env(name).map(|v| {
                    v.trim().parse::<usize>().map_err(|_| {
                        Error::usage(format!("--shard auto: {name}='{v}' is not a number"))
                    })
                })
            };
            let missing = || {
                Error::usage(
                    "--shard auto needs SLURM_ARRAY_TASK_ID and SLURM_ARRAY_TASK_COUNT \
                     (run it as a Slurm array job, or give --shard i/n)",
                )
            };
            let id = var("SLURM_ARRAY_TASK_ID").ok_or_else(missing)??;
            let count = var("SLURM_ARRAY_TASK_COUNT").ok_or_else(missing)??;
            let min = var("SLURM_ARRAY_TASK_MIN").transpose()?.unwrap_or(0);
            let step = var("SLURM_ARRAY_TASK_STEP").transpose()?.unwrap_or(1);
            let offset = id.checked_sub(min).ok_or_else(|| {
                Error::usage(format!(
                    "--shard auto: SLURM_ARRAY_TASK_ID {id} is below SLURM_ARRAY_TASK_MIN {min}"
                ))
            })?;
            if step == 0 {
                return Err(Error::usage(
                    "--shard auto: SLURM_ARRAY_TASK_STEP is 0, which is no step (Slurm sets it \
                     to 1 or more)",
                ));
            }
            if offset % step != 0 {
                return Err(Error::usage(format!(
                    "--shard auto: SLURM_ARRAY_TASK_ID {id} is not SLURM_ARRAY_TASK_MIN {min} plus \
                     a multiple of SLURM_ARRAY_TASK_STEP {step}"
                )));
            }
            (offset / step, count)
        } else {
            let bad = || Error::usage(format!("--shard: '{text}' is not i/n (e.g. 0/8) or auto"));
            let (i, n) = text.split_once('/').ok_or_else(bad)?;
            (
                i.trim().parse().map_err(|_| bad())?,
                n.trim().parse().map_err(|_| bad())?,
            )
        };
        Shard::new(index, count).map_err(|e| Error::usage(format!("--shard: {e}")))
    }
}

/// What decides a study besides the data and the law.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StudySettings {
    /// Bootstrap replicates in the whole study (over all shards).
    pub replicates: usize,
    /// Starts per replicate: the full-data optimum and `starts − 1` drawn as the fit draws them.
    pub starts: usize,
    /// Seed of every replicate's resampling draws and random starts.
    pub seed: u64,
    /// What is drawn with replacement: rows or whole runs.
    pub resample: Resample,
    /// Raw N and D at which each replicate's optimal mixture is found (mixture laws only).
    pub optimum_at: Option<[f64; 2]>,
    /// How the full-data fit and every replicate's fit are made.
    pub fit: FitSettings,
}

impl StudySettings {
    /// A study of `replicates` replicates fitted by `fit` (whose starts are the full-data fit's):
    /// 10 starts per replicate, rows resampled, the seed of `fit`, each replicate's best 2
    /// minima polished, and the optimal mixture at the table's largest N and D.
    pub fn new(replicates: usize, fit: FitSettings) -> Self {
        StudySettings {
            replicates,
            starts: 10,
            seed: fit.seed,
            resample: Resample::Rows,
            optimum_at: None,
            fit: FitSettings { polish: 2, ..fit },
        }
    }

    /// The errors a study's settings have whatever the data.
    pub fn check(&self) -> Result<()> {
        if self.replicates == 0 || self.starts == 0 {
            return Err(Error::usage(
                "a study needs at least one replicate and one start per replicate",
            ));
        }
        self.fit.check()
    }
}

/// The data a study was run on: a digest of every value used, so that shards of different
/// tables (or filters) are never merged.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct DataId {
    /// The table's file (or the name given to an in-memory table); not compared when merging.
    pub source: String,
    /// Rows kept after loading.
    pub rows: usize,
    /// FNV-1a hash of N, D, the mixtures and every target's name and values, as 16 hex digits.
    pub digest: String,
}

impl DataId {
    /// The identity of `ds`.
    pub fn of(ds: &Dataset) -> Self {
        // FNV-1a over the bits of every value the fits see.
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        let mut eat = |bytes: &[u8]| {
            for &b in bytes {
                hash = (hash ^ b as u64).wrapping_mul(0x0100_0000_01b3);
            }
        };
        for v in ds.n.iter().chain(&ds.d).chain(&ds.h) {
            eat(&v.to_bits().to_le_bytes());
        }
        for t in &ds.targets {
            eat(t.name.as_bytes());
            for v in &t.y {
                eat(&v.to_bits().to_le_bytes());
            }
        }
        DataId {
            source: ds.source.display().to_string(),
            rows: ds.rows(),
            digest: format!("{hash:016x}"),
        }
    }
}

/// The full-data fit of one target.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct FullDataFit {
    /// The target column.
    pub target: String,
    /// Best parameters by name, in the law's order (natural coordinates, fit units).
    pub params: Params,
    /// The unscaled objective at `params` on the full data.
    pub objective: f64,
    /// The optimal mixture at `optimum_at` (mixture laws only).
    pub optimum: Option<Params>,
}

/// The first line of a study file.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Header {
    /// [`STUDY_VERSION`]; the key that marks a line as a study header.
    pub mixlaw_bootstrap: u32,
    /// The law's registered name.
    pub law: String,
    /// The law's formula.
    pub formula: String,
    /// A formula law's law file (TOML), from which the law is rebuilt; absent for a built-in law.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub law_file: Option<String>,
    /// The domains, in the order of the law's per-domain parameters.
    pub domains: Vec<String>,
    /// What N and D were divided by.
    pub units: Units,
    /// The data the study was run on.
    pub data: DataId,
    /// Everything else that decides the replicates.
    pub study: StudySettings,
    /// The replicates this file holds; `None`: all of them.
    pub shard: Option<Shard>,
    /// The full-data fit of every target, in the table's order: the replicates' warm starts and
    /// the centres of the intervals.
    pub full: Vec<FullDataFit>,
}

impl Header {
    /// Fields on which two headers differ, ignoring `shard` (and the data's path, which may
    /// differ between the machines of one cluster while its digest may not).
    pub fn differences(&self, other: &Header) -> Vec<String> {
        let value = |h: &Header| {
            let mut v = serde_json::to_value(h).expect("headers serialise");
            let o = v.as_object_mut().expect("an object");
            o.remove("shard");
            o["data"]
                .as_object_mut()
                .expect("an object")
                .remove("source");
            v
        };
        let mut out = Vec::new();
        differing(Some(&value(self)), Some(&value(other)), "", &mut out);
        out
    }

    /// What a header must hold to be used, returning its law: a known law with its formula,
    /// positive units, settings that pass their checks, and per target a full-data fit with
    /// exactly the law's parameters within its bounds, a finite objective and an optimum on the
    /// simplex of the study's domains (where the study finds optima).
    pub fn check(&self) -> std::result::Result<Law, String> {
        let law = registry::stored(&self.law, self.law_file.as_deref())?;
        if self.formula != law.formula() {
            return Err(format!(
                "the law {} has the formula {}, but the header's is {}",
                self.law,
                law.formula(),
                self.formula
            ));
        }
        check_units(self.units)?;
        check_domains(&self.domains)?;
        if self.units.n != self.study.fit.n_unit || self.units.d != self.study.fit.d_unit {
            return Err("its units differ from its settings' n_unit and d_unit".into());
        }
        self.study.check().map_err(|e| format!("settings: {e}"))?;
        if self.full.is_empty() {
            return Err("no full-data fits".into());
        }
        let specs = law.distinct_params(&self.domains)?;
        for (i, f) in self.full.iter().enumerate() {
            let at = |e: String| format!("full-data fit of {}: {e}", f.target);
            if self.full[..i].iter().any(|o| o.target == f.target) {
                return Err(at("appears twice".into()));
            }
            check_params(&f.params, &specs).map_err(at)?;
            if !(f.objective.is_finite() && f.objective >= 0.0) {
                return Err(at(format!(
                    "objective {} is not a finite loss",
                    f.objective
                )));
            }
            check_optimum(f.optimum.as_ref(), self).map_err(at)?;
        }
        Ok(law)
    }

    /// The index of `target` among the header's targets.
    pub fn target_index(&self, target: &str) -> Option<usize> {
        self.full.iter().position(|f| f.target == target)
    }
}

/// One target's fit on one replicate.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Record {
    /// The replicate's index, from 0.
    pub replicate: usize,
    /// The target column.
    pub target: String,
    /// The objective under the replicate's weights; absent if no start reached a finite value.
    pub objective: Option<f64>,
    /// Best parameters by name, in the law's order (natural coordinates, fit units).
    pub params: Params,
    /// The optimal mixture at the study's `optimum_at` (mixture laws only; absent if the fit
    /// failed).
    pub optimum: Option<Params>,
}

impl Record {
    /// What a record of study `header` must hold (`specs`: its law's parameters): exactly the
    /// law's parameters, within its bounds where the fit succeeded; a finite objective; an
    /// optimum on the simplex of the study's domains exactly when the study finds optima and
    /// the fit succeeded.
    pub fn check(&self, header: &Header, specs: &[ParamSpec]) -> std::result::Result<(), String> {
        match self.objective {
            Some(o) if !(o.is_finite() && o >= 0.0) => {
                return Err(format!("objective {o} is not a finite loss"))
            }
            Some(_) => check_params(&self.params, specs)?,
            None => {
                if self.optimum.is_some() {
                    return Err("a failed fit (no objective) with an optimal mixture".into());
                }
                for s in specs {
                    if self.params.get(&s.name).is_none() {
                        return Err(format!("lacks parameter {}", s.name));
                    }
                }
                return Ok(());
            }
        }
        check_optimum(self.optimum.as_ref(), header)
    }
}

/// An error unless `optimum` is present exactly when the study finds optima, and then a
/// mixture of the study's domains, in order: weights from 0 to 1 that sum to 1.
fn check_optimum(optimum: Option<&Params>, header: &Header) -> std::result::Result<(), String> {
    let h = match (optimum, header.study.optimum_at) {
        (None, None) => return Ok(()),
        (Some(h), Some(_)) => h,
        (None, Some(_)) => return Err("lacks its optimal mixture".into()),
        (Some(_), None) => return Err("has an optimal mixture the study does not find".into()),
    };
    let names: Vec<&str> = h.0.iter().map(|(n, _)| n.as_str()).collect();
    if names
        != header
            .domains
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
    {
        return Err(format!(
            "its optimal mixture is of [{}], not of the study's domains [{}]",
            names.join(", "),
            header.domains.join(", ")
        ));
    }
    let values = h.values();
    if values.iter().any(|v| !(0.0..=1.0).contains(v))
        || (values.iter().sum::<f64>() - 1.0).abs() > 1e-6
    {
        return Err(format!(
            "its optimal mixture {values:?} is not on the simplex (weights from 0 to 1 summing \
             to 1)"
        ));
    }
    Ok(())
}

/// A study file read back.
pub struct StudyFile {
    /// The first line.
    pub header: Header,
    /// The records, in file order.
    pub records: Vec<Record>,
    /// Bytes up to the end of the last complete line (a torn last line is not counted).
    pub complete_bytes: u64,
}

impl StudyFile {
    /// The records the file holds when complete: every replicate of its shard (of the whole
    /// study when it is not a shard), for every target.
    pub fn expected_records(&self) -> usize {
        let h = &self.header;
        (0..h.study.replicates)
            .filter(|&j| h.shard.is_none_or(|s| s.owns(j)))
            .count()
            * h.full.len()
    }

    /// Read and check a study file: its version, and that every record is of a known target, of a
    /// replicate of this study and shard, and not repeated. A torn last line is ignored.
    pub fn read(path: &Path) -> Result<StudyFile> {
        let text = crate::memory::read_text(path)?;
        StudyFile::parse(&text, path)
    }

    /// Check the text of a study file (a copy in memory, or a fuzzer's input), called `path` in
    /// messages, exactly as [`StudyFile::read`] checks a file.
    pub fn parse(text: &str, path: &Path) -> Result<StudyFile> {
        let bad = |line: usize, msg: String| Error::FitFile {
            path: path.to_path_buf(),
            msg: format!("line {line}: {msg}"),
        };
        // Everything after the last newline is a line whose write was interrupted.
        let complete = text.rfind('\n').map_or(0, |i| i + 1);
        let mut lines = text[..complete].lines().enumerate();
        let header: Header = match lines.next() {
            Some((_, l)) => serde_json::from_str(l)
                .map_err(|e| bad(1, format!("not a mixlaw bootstrap study header: {e}")))?,
            None => return Err(bad(1, "empty: not a mixlaw bootstrap study".into())),
        };
        if header.mixlaw_bootstrap != STUDY_VERSION {
            return Err(bad(
                1,
                format!(
                    "study file version {} (this mixlaw reads version {STUDY_VERSION})",
                    header.mixlaw_bootstrap
                ),
            ));
        }
        let law = header.check().map_err(|e| bad(1, e))?;
        let specs = law.params(&header.domains);
        let mut records = Vec::new();
        let mut seen = HashSet::new();
        for (i, l) in lines {
            if l.trim().is_empty() {
                return Err(bad(
                    i + 1,
                    "blank; a study file holds one record per line (not a file mixlaw wrote as \
                     it is)"
                        .into(),
                ));
            }
            let r: Record = serde_json::from_str(l)
                .map_err(|e| bad(i + 1, format!("not a replicate record: {e}")))?;
            r.check(&header, &specs).map_err(|e| {
                bad(
                    i + 1,
                    format!("replicate {} of {}: {e}", r.replicate, r.target),
                )
            })?;
            if header.target_index(&r.target).is_none() {
                return Err(bad(i + 1, format!("unknown target '{}'", r.target)));
            }
            if r.replicate >= header.study.replicates
                || header.shard.is_some_and(|s| !s.owns(r.replicate))
            {
                return Err(bad(
                    i + 1,
                    format!("replicate {} does not belong to this study", r.replicate),
                ));
            }
            if !seen.insert((r.replicate, r.target.clone())) {
                return Err(bad(
                    i + 1,
                    format!("replicate {} of {} appears twice", r.replicate, r.target),
                ));
            }
            records.push(r);
        }
        Ok(StudyFile {
            header,
            records,
            complete_bytes: complete as u64,
        })
    }
}

/// Records in the canonical order: by target (the header's order), then replicate.
pub fn sort(header: &Header, records: &mut [Record]) {
    records.sort_by_key(|r| (header.target_index(&r.target), r.replicate));
}

/// The whole file: the header, then `records` in canonical order.
pub fn render(header: &Header, records: &[Record]) -> String {
    let mut records = records.to_vec();
    sort(header, &mut records);
    let mut out = line(header);
    for r in &records {
        out.push_str(&line(r));
    }
    out
}

/// `value` as one line of JSON, newline included.
pub fn line<T: Serialize>(value: &T) -> String {
    let mut s = serde_json::to_string(value).expect("study lines serialise");
    s.push('\n');
    s
}

/// Appends records to a study file, flushed after every batch of them.
pub struct Appender {
    path: PathBuf,
    file: std::fs::File,
}

impl Appender {
    /// Open `path` for appending, first cutting it to `len` bytes (dropping a torn line).
    pub fn open(path: &Path, len: u64) -> Result<Appender> {
        let io = |source| Error::Io {
            path: path.to_path_buf(),
            source,
        };
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(path)
            .map_err(io)?;
        file.set_len(len).map_err(io)?;
        let file = std::fs::OpenOptions::new()
            .append(true)
            .open(path)
            .map_err(io)?;
        Ok(Appender {
            path: path.to_path_buf(),
            file,
        })
    }

    /// Append `records` and flush.
    pub fn append(&mut self, records: &[Record]) -> Result<()> {
        let text: String = records.iter().map(line).collect();
        self.file
            .write_all(text.as_bytes())
            .and_then(|_| self.file.flush())
            .map_err(|source| Error::Io {
                path: self.path.clone(),
                source,
            })
    }
}

/// The paths (`study.fit.loss`) at which `a` and `b` differ, in `out`, each with both values
/// where they are short (`study.fit.loss is "mse", not "huber"`: `a`'s, then `b`'s). A key one
/// side leaves out is its default (a fit file writes no huber loss).
fn differing(
    a: Option<&serde_json::Value>,
    b: Option<&serde_json::Value>,
    at: &str,
    out: &mut Vec<String>,
) {
    use serde_json::Value;
    if let (Some(Value::Object(x)), Some(Value::Object(y))) = (a, b) {
        for k in x.keys().chain(y.keys().filter(|k| !x.contains_key(*k))) {
            let path = if at.is_empty() {
                k.clone()
            } else {
                format!("{at}.{k}")
            };
            differing(x.get(k), y.get(k), &path, out);
        }
    } else if a != b {
        let text = |v: Option<&Value>| v.map_or("the default".to_string(), Value::to_string);
        let (u, v) = (text(a), text(b));
        out.push(if u.len() + v.len() <= 80 {
            format!("{at} is {u}, not {v}")
        } else {
            at.to_string()
        });
    }
}
