//! A study's lifecycle: run (or resume) a study or one shard of it, with or without a study
//! file, and merge the shards' files.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use super::record::{self, Appender, Header, Record, Shard, StudyFile, StudySettings};
use super::{fit_full, header, replicate, summarise, At, Summary};
use crate::backend::Backend;
use crate::data::Dataset;
use crate::fit::{FitFile, Params};
use crate::law::Law;
use crate::report::{
    busy, check_not_input, check_writable, is_at, write_atomic, write_atomic_locked,
};
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

    /// This study, drawn beside `fit` (figures, the report): checked to be a study of the fit's
    /// law (same formula) in the same units, over the same domains and of targets the fit has,
    /// and with every parameter vector and optimum put in the fit's order of domains, since the
    /// figures read parameters by position (a study of a table whose weight columns come in
    /// another order is the same study). `source` names the study in errors.
    pub fn aligned_with(mut self, fit: &FitFile, source: &Path) -> Result<Study> {
        let bad = |msg: String| Error::FitFile {
            path: source.to_path_buf(),
            msg: format!("{msg}: not a study of this fit"),
        };
        let h = &self.header;
        if h.law != fit.law || h.formula != fit.formula {
            return Err(bad(format!(
                "a study of the {} law ({}), the fit's is the {} law ({})",
                h.law, h.formula, fit.law, fit.formula
            )));
        }
        if h.units.n != fit.units.n || h.units.d != fit.units.d {
            return Err(bad(format!(
                "its units are N/{}, D/{}; the fit's N/{}, D/{}",
                h.units.n, h.units.d, fit.units.n, fit.units.d
            )));
        }
        let (mut a, mut b) = (h.domains.clone(), fit.domains.clone());
        a.sort();
        b.sort();
        if a != b {
            return Err(bad(format!(
                "its domains are {}, the fit's {}",
                h.domains.join(", "),
                fit.domains.join(", ")
            )));
        }
        if let Some(t) = h
            .full
            .iter()
            .find(|f| !fit.targets.iter().any(|x| x.target == f.target))
        {
            let names: Vec<&str> = fit.targets.iter().map(|x| x.target.as_str()).collect();
            return Err(bad(format!(
                "its target {} is not one the fit has ({})",
                t.target,
                names.join(", ")
            )));
        }
        if h.domains == fit.domains {
            return Ok(self);
        }
        // The fit's parameter names in its order; each study vector re-ordered by name.
        let names: Vec<String> = fit.targets[0]
            .params
            .0
            .iter()
            .map(|(n, _)| n.clone())
            .collect();
        let reorder = |p: &Params, order: &[String]| {
            Params(
                order
                    .iter()
                    .map(|n| (n.clone(), p.get(n).expect("a name the checked file has")))
                    .collect(),
            )
        };
        for f in &mut self.header.full {
            f.params = reorder(&f.params, &names);
            f.optimum = f.optimum.as_ref().map(|o| reorder(o, &fit.domains));
        }
        for r in &mut self.records {
            r.params = reorder(&r.params, &names);
            r.optimum = r.optimum.as_ref().map(|o| reorder(o, &fit.domains));
        }
        self.header.domains = fit.domains.clone();
        Ok(self)
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
/// `dest`: the study file is claimed (created empty and exclusively, or with `force` or
/// `resume` opened as it is, and locked) before the full-data fit and its header written after
/// it, records are appended as replicates finish, and the complete study is rewritten
/// atomically in canonical order. A resumed study keeps its records; the file must hold this
/// very study (same settings, data, law and shard), and its header's full-data fits are fitted
/// again and must be the same, bit for bit.
pub fn run(
    ds: &Dataset,
    law: &Law,
    study: &StudySettings,
    shard: Option<Shard>,
    backend: &dyn Backend,
    dest: &Destination,
    events: &mut (dyn FnMut(Event) + Send),
) -> Result<Study> {
    dest.check()?;
    let path = dest.path.as_deref();
    // A study file is the run's from here: claimed (a new one) or locked (one resumed or
    // replaced) before the full-data fit, so that a second run to the same file fails at once.
    // A replaced study stays as it is until this run's header replaces it: a run that fails
    // before then leaves it whole.
    let mut claim = match path {
        Some(out) if dest.resume || dest.force => Claim::lock(out)?,
        Some(out) => Claim::new(out)?,
        None => None,
    };
    // A file without a complete line holds nothing yet (its run stopped during the full-data
    // fit): resuming it starts the study.
    let existing = match (path, dest.resume) {
        (Some(out), true) if std::fs::metadata(out).is_ok_and(|m| m.len() > 0) => {
            Some(StudyFile::read(out)?)
        }
        _ => None,
    };
    // Domains are matched by name: a table whose weight columns come in another order resumes
    // the same study. Different sets of domains are left to the header check, which names them.
    let aligned = existing.as_ref().and_then(|file| {
        let order = &file.header.domains;
        (law.uses_mixture() && *order != ds.domains)
            .then(|| ds.with_domains(order, "the study").ok())
            .flatten()
    });
    let ds = aligned.as_ref().unwrap_or(ds);
    let mut header = header(ds, law, study, shard)?;
    if let (Some(file), Some(out)) = (&existing, path) {
        same_study(out, &file.header, &header)?;
    }
    fit_full(&mut header, ds, law, backend, &mut |target, done, total| {
        events(Event::FullFit {
            target,
            done,
            total,
        })
    })?;
    let (mut records, mut appender) = match (existing, path) {
        (Some(file), Some(out)) => {
            // The header's full-data fits are the replicates' warm starts and the intervals'
            // centres: they must be this data's, not an edited copy.
            same_full_fits(out, &file.header, &header)?;
            // The file's own header goes on (its data's source may name another copy).
            header = file.header;
            events(Event::Resumed {
                records: file.records.len(),
            });
            let appender = Appender::open(out, file.complete_bytes)?;
            (file.records, Some(appender))
        }
        (_, Some(out)) => {
            let first = record::line(&header);
            let held = claim.as_ref().map_or(&[][..], |c| &c.held[..]);
            let published = write_atomic_locked(out, first.as_bytes(), true, held)?;
            if let Some(c) = claim.as_mut() {
                c.published(published);
            }
            (Vec::new(), Some(Appender::open(out, first.len() as u64)?))
        }
        (_, None) => (Vec::new(), None),
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
        let held = claim.as_ref().map_or(&[][..], |c| &c.held[..]);
        write_atomic_locked(
            out,
            record::render(&header, &records).as_bytes(),
            true,
            held,
        )?;
    }
    drop(claim);
    Ok(Study { header, records })
}

/// A study file held by this run: a new one created empty and exclusively before the full-data
/// fit (and removed again if the run ends before its header is written), or an existing one
/// being resumed or replaced; either way under an exclusive lock (`flock`), so that another run
/// on it fails at once.
///
/// The lock belongs to a file, not to its path, and the header is published by a rename, which
/// puts a new file at the path: the claim therefore also holds the published file, locked since
/// it was created ([`write_atomic_locked`]), and keeps the first one locked too, so that a run
/// that opened the path just before the rename finds that one locked as well. A run that locks
/// a file only after its writer let go checks that the file is still the one at the path.
struct Claim {
    path: PathBuf,
    /// The files locked by this run (the claimed one, then the published one): the locks hold
    /// while the claim lives.
    held: Vec<std::fs::File>,
    /// Created by this run and not yet holding a header: removed when the claim is dropped.
    provisional: bool,
}

/// How often a claim tries again when the file it locked was meanwhile replaced at its path
/// (by the run that held it, publishing): a file replaced this often is being written.
const CLAIM_TRIES: usize = 8;

impl Claim {
    /// Claim a new study file at `out`; `None` where `out` is a device or a pipe (written into,
    /// never claimed).
    fn new(out: &Path) -> Result<Option<Claim>> {
        let file = match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(out)
        {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                if std::fs::metadata(out).is_ok_and(|m| !m.is_file()) {
                    return Ok(None);
                }
                return Err(Error::usage(format!(
                    "{} already exists (created meanwhile, perhaps by another run); pass --force \
                     to overwrite it",
                    out.display()
                )));
            }
            Err(source) => return Err(io(out, source)),
        };
        // Replaced between its creation and the lock: by another run, which holds it.
        match Claim::locked(out, file, true)? {
            Some(claim) => Ok(Some(claim)),
            None => Err(busy(out)),
        }
    }

    /// Lock the study file `out` that is resumed or replaced, as it is (read, never truncated:
    /// it may not even be writable, as a replaced file need not be), or create it, empty, if it
    /// does not exist; `None` where `out` is a device or a pipe.
    fn lock(out: &Path) -> Result<Option<Claim>> {
        for _ in 0..CLAIM_TRIES {
            if std::fs::metadata(out).is_ok_and(|m| !m.is_file()) {
                return Ok(None);
            }
            let (file, created) = match std::fs::File::open(out) {
                Ok(f) => (f, false),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    match std::fs::OpenOptions::new()
                        .write(true)
                        .create_new(true)
                        .open(out)
                    {
                        Ok(f) => (f, true),
                        // Created meanwhile: lock that one.
                        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                        Err(source) => return Err(io(out, source)),
                    }
                }
                Err(source) => return Err(io(out, source)),
            };
            if let Some(claim) = Claim::locked(out, file, created)? {
                return Ok(Some(claim));
            }
        }
        Err(busy(out))
    }

    /// The claim of `file`, just opened at `out`, once locked; `None` if `out` is meanwhile
    /// another file (its writer published a new one, then let go of the old one).
    fn locked(out: &Path, file: std::fs::File, created: bool) -> Result<Option<Claim>> {
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => return Err(busy(out)),
            Err(std::fs::TryLockError::Error(source)) => return Err(io(out, source)),
        }
        // Only a file still at the path is the study's (and only then is an empty one this run
        // created its own to remove).
        Ok(is_at(&file, out).then(|| Claim {
            path: out.to_path_buf(),
            held: vec![file],
            provisional: created,
        }))
    }

    /// The study's header is in the file `published` (locked, now at the path): it stays
    /// whatever happens next, and is held with the file claimed first.
    fn published(&mut self, published: Option<std::fs::File>) {
        self.provisional = false;
        self.held.extend(published);
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        // Only an empty file this run created: a failure before the header leaves nothing.
        if self.provisional && std::fs::metadata(&self.path).is_ok_and(|m| m.len() == 0) {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

fn io(path: &Path, source: std::io::Error) -> Error {
    Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Check that the header `theirs`, read from `out`, is of the study `header` describes
/// (settings, data, law and shard), full-data fits aside.
fn same_study(out: &Path, theirs: &Header, header: &Header) -> Result<()> {
    let mut theirs = theirs.clone();
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
    Ok(())
}

/// Check that the full-data fits in the header `theirs`, read from `out`, are those `header`
/// holds, fitted afresh on the same data with the same settings (bit for bit, as every run of
/// a study computes them).
fn same_full_fits(out: &Path, theirs: &Header, header: &Header) -> Result<()> {
    for (a, b) in theirs.full.iter().zip(&header.full) {
        let differs = a.target != b.target
            || a.params != b.params
            || a.objective.to_bits() != b.objective.to_bits()
            || a.optimum != b.optimum;
        if differs {
            let which = a
                .params
                .0
                .iter()
                .zip(&b.params.0)
                .find(|(x, y)| x.1.to_bits() != y.1.to_bits())
                .map(|(x, y)| format!(" ({} = {} in the file, {} fitted)", x.0, x.1, y.1))
                .unwrap_or_default();
            return Err(Error::FitFile {
                path: out.to_path_buf(),
                msg: format!(
                    "line 1: the full-data fit of {} is not the fit of this data{which}: the \
                     header was changed after it was written; start the study afresh",
                    a.target
                ),
            });
        }
    }
    if theirs.full.len() != header.full.len() {
        return Err(Error::FitFile {
            path: out.to_path_buf(),
            msg: "line 1: the header's full-data fits are not those of this data's targets".into(),
        });
    }
    Ok(())
}

/// The whole study from its shards' files: every shard present once, each complete, all of
/// one study (same header but for the shard). With `out`, the merged study file is written
/// there (the same bytes as one run of the whole study; replacing a file only with `force`).
pub fn merge(files: &[PathBuf], out: Option<&Path>, force: bool) -> Result<Study> {
    if let Some(out) = out {
        let inputs: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
        check_not_input(out, &inputs)?;
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
        let want = study.expected_records();
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

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("mixlaw-claim-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    /// A study replaced (`--force`) or resumed is locked as it is, untouched: a second claim
    /// fails at once, and a run that ends before its header leaves the old study whole.
    #[test]
    fn an_existing_study_is_locked_without_being_touched() {
        let d = dir("existing");
        let out = d.join("s.jsonl");
        std::fs::write(&out, b"old study\n").unwrap();
        let held = Claim::lock(&out)
            .unwrap()
            .expect("a regular file is claimed");
        for second in [Claim::lock(&out).map(drop), Claim::new(&out).map(drop)] {
            let e = second.unwrap_err().to_string();
            assert!(
                e.contains("being written by another run") || e.contains("already exists"),
                "{e}"
            );
        }
        drop(held);
        assert_eq!(std::fs::read(&out).unwrap(), b"old study\n");
        // Read-only: replacing it needs the directory's permission, not the file's.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o444)).unwrap();
        drop(Claim::lock(&out).unwrap());
        assert!(Claim::lock(Path::new("/dev/null")).unwrap().is_none());
        std::fs::remove_dir_all(&d).unwrap();
    }

    /// After the header is published (a new file at the path), both the published file and the
    /// one claimed first stay locked; a missing file claimed for `--force` is removed again if
    /// the run ends before its header.
    #[test]
    fn the_published_file_is_locked_and_a_provisional_one_removed() {
        let d = dir("published");
        let out = d.join("s.jsonl");
        let mut claim = Claim::lock(&out).unwrap().unwrap();
        assert!(out.exists());
        let before_rename = std::fs::File::open(&out).unwrap();
        claim.published(write_atomic_locked(&out, b"header\n", true, &claim.held).unwrap());
        assert!(matches!(
            before_rename.try_lock(),
            Err(std::fs::TryLockError::WouldBlock)
        ));
        let e = Claim::lock(&out).map(drop).unwrap_err().to_string();
        assert!(e.contains("being written by another run"), "{e}");
        drop(claim);
        assert_eq!(std::fs::read(&out).unwrap(), b"header\n");
        drop(Claim::lock(&out).unwrap());
        let fresh = d.join("fresh.jsonl");
        drop(Claim::lock(&fresh).unwrap());
        assert!(!fresh.exists(), "an empty file the run created is removed");
        std::fs::remove_dir_all(&d).unwrap();
    }
}
