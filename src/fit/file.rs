//! The fit file: the contract between `fit` and every command that uses a fit.
//!
//! It records the law, the domains, the units N and D were divided by, the settings, and per
//! target the named parameters. Parameters are stored by name, in the law's order, and read
//! back by name, so a fit file stays readable if a law's internals change.
//!
//! A fit of a long table grouped by a column records the column (`data.group_by`, beside the
//! filters that chose the rows) and, per fitted target, its group: the targets of every group in
//! turn, each group fitting the same targets. Both fields are left out of an ungrouped fit, so
//! its file reads as files always have; the commands that use one group's laws (optimize, sweep)
//! take it with [`FitFile::select_group`].

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{FitSettings, TargetFit};
use crate::law::{registry, Law, ParamSpec};
use crate::{Error, Result};

/// The version of the fit file this mixlaw writes and reads.
pub const FIT_FILE_VERSION: u32 = 1;

/// Named parameter values in a fixed order; a JSON object on disk.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Params(pub Vec<(String, f64)>);

impl Params {
    /// The value of parameter `name`.
    pub fn get(&self, name: &str) -> Option<f64> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, v)| *v)
    }
    /// The values in order.
    pub fn values(&self) -> Vec<f64> {
        self.0.iter().map(|(_, v)| *v).collect()
    }
}

impl Serialize for Params {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

impl<'de> Deserialize<'de> for Params {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let m = serde_json::Map::<String, serde_json::Value>::deserialize(d)?;
        m.into_iter()
            .map(|(k, v)| match v.as_f64() {
                Some(x) => Ok((k, x)),
                None => Err(serde::de::Error::custom(format!(
                    "parameter {k} is not a number"
                ))),
            })
            .collect::<std::result::Result<Vec<_>, _>>()
            .map(Params)
    }
}

/// Units N and D were divided by before the law saw them.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq)]
pub struct Units {
    /// N is divided by this (1e6: N in millions).
    pub n: f64,
    /// D is divided by this (1e9: D in billions).
    pub d: f64,
}

/// What was read, for the record.
#[derive(Clone, Debug, Serialize, Deserialize, Default)]
pub struct DataSummary {
    /// The table's file (or the name given to an in-memory table).
    pub source: String,
    /// Rows kept.
    pub rows: usize,
    /// Rows dropped as repeats of earlier rows.
    pub duplicates_dropped: usize,
    /// Rows the filters removed.
    pub filtered_out: usize,
    /// The filter expressions (`--where`, or `--train` for `eval`).
    pub filters: Vec<String>,
    /// The column the rows were grouped by (each target is fitted per group); absent when they
    /// were not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_by: Option<String>,
    /// What loading did, in sentences.
    pub notices: Vec<String>,
}

/// A fit file.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FitFile {
    /// [`FIT_FILE_VERSION`].
    pub version: u32,
    /// The mixlaw version that wrote it.
    pub mixlaw: String,
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
    /// The backend that explored.
    pub backend: String,
    /// Everything that decided the fit besides the data.
    pub settings: FitSettings,
    /// What was read.
    pub data: DataSummary,
    /// One fit per target.
    pub targets: Vec<TargetFit>,
    /// Seconds the whole fit took.
    pub wall_s: f64,
}

impl FitFile {
    /// Read and check a fit file.
    pub fn read(path: &Path) -> Result<(FitFile, Law)> {
        let text = crate::memory::read_text(path)?;
        FitFile::parse(&text, path)
    }

    /// Check the text of a fit file (a front end's copy in memory), called `path` in messages.
    pub fn parse(text: &str, path: &Path) -> Result<(FitFile, Law)> {
        let bad = |msg: String| Error::FitFile {
            path: path.to_path_buf(),
            msg,
        };
        // A byte-order mark (an editor's, on saving) is no part of the JSON, which may ignore it.
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let file: FitFile =
            serde_json::from_str(text).map_err(|e| bad(format!("not a mixlaw fit file: {e}")))?;
        if file.version != FIT_FILE_VERSION {
            return Err(bad(format!(
                "fit file version {} (this mixlaw reads version {FIT_FILE_VERSION})",
                file.version
            )));
        }
        file.check_groups().map_err(bad)?;
        let law = registry::stored(&file.law, file.law_file.as_deref()).map_err(bad)?;
        if file.formula != law.formula() {
            return Err(bad(format!(
                "the law {} has the formula {}, but the file's is {}: the file is not a fit of it",
                file.law,
                law.formula(),
                file.formula
            )));
        }
        check_units(file.units).map_err(bad)?;
        check_domains(&file.domains).map_err(bad)?;
        file.settings
            .check()
            .map_err(|e| bad(format!("settings: {e}")))?;
        if file.targets.is_empty() {
            return Err(bad("no fitted targets".into()));
        }
        let specs = law.distinct_params(&file.domains).map_err(bad)?;
        for t in &file.targets {
            if t.target == crate::data::AVG {
                return Err(bad(format!(
                    "a target called '{}': the name of the targets' mean",
                    crate::data::AVG
                )));
            }
            check_params(&t.params, &specs)
                .map_err(|e| bad(format!("target {}: {e}", t.target)))?;
        }
        Ok((file, law))
    }

    /// The file as it is written: pretty JSON, checked to read back (a value JSON cannot hold,
    /// such as an infinite error, is an error here rather than a file no command can read).
    pub fn render(&self, path: &Path) -> Result<String> {
        let text = serde_json::to_string_pretty(self).expect("fit files serialise");
        FitFile::parse(&text, path).map_err(|e| Error::FitFile {
            path: path.to_path_buf(),
            msg: format!("not written, as it would not read back ({e})"),
        })?;
        Ok(text)
    }

    /// A grouped fit's groups, in order; empty for a fit without groups.
    pub fn groups(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for g in self.targets.iter().filter_map(|t| t.group.as_deref()) {
            if !out.contains(&g) {
                out.push(g);
            }
        }
        out
    }

    /// The index of the fit of target `target` in group `group` (`None`: the fit is not
    /// grouped).
    pub fn target_index(&self, group: Option<&str>, target: &str) -> Option<usize> {
        self.targets
            .iter()
            .position(|t| t.target == target && t.group.as_deref() == group)
    }

    /// The targets fitted in `group` (`None`: those without a group, every target of an
    /// ungrouped fit), as a fit file of their own.
    pub fn of_group(&self, group: Option<&str>) -> FitFile {
        FitFile {
            targets: self
                .targets
                .iter()
                .filter(|t| t.group.as_deref() == group)
                .cloned()
                .collect(),
            ..self.clone()
        }
    }

    /// The fit of one group: `group` names it, and may be left out when the fit has a single
    /// group (or none). A usage error for a group the fit does not have (listing those it has),
    /// for several groups and no choice, and for a group asked of a fit without groups.
    pub fn select_group(&self, group: Option<&str>) -> Result<FitFile> {
        let groups = self.groups();
        let list = || groups.join(", ");
        let chosen = match (&self.data.group_by, group) {
            (None, None) => return Ok(self.clone()),
            (None, Some(g)) => {
                return Err(Error::usage(format!(
                    "group '{g}' was asked for, but the fit is not grouped (it was fitted \
                     without --group-by)"
                )))
            }
            (Some(_), Some(g)) if groups.contains(&g) => g,
            (Some(column), Some(g)) => {
                return Err(Error::usage(format!(
                    "no group '{g}' in the fit; its groups of column '{column}' are: {}",
                    list()
                )))
            }
            (Some(_), None) if groups.len() == 1 => groups[0],
            (Some(column), None) => {
                return Err(Error::usage(format!(
                    "the fit has {} groups of column '{column}': choose one with --group \
                     (one of: {})",
                    groups.len(),
                    list()
                )))
            }
        };
        Ok(self.of_group(Some(chosen)))
    }

    /// A grouped fit's consistency: every target has a group exactly when the fit is grouped,
    /// each group fits the same targets in the same order, and no target is fitted twice.
    fn check_groups(&self) -> std::result::Result<(), String> {
        for t in &self.targets {
            match (&self.data.group_by, &t.group) {
                (None, Some(g)) => {
                    return Err(format!(
                        "target {} has group '{g}' but the fit is not grouped (no data.group_by)",
                        t.target
                    ))
                }
                (Some(c), None) => {
                    return Err(format!(
                        "the fit is grouped by '{c}' but target {} has no group",
                        t.target
                    ))
                }
                _ => {}
            }
        }
        let names = |g: Option<&str>| -> Vec<&str> {
            self.targets
                .iter()
                .filter(|t| t.group.as_deref() == g)
                .map(|t| t.target.as_str())
                .collect()
        };
        let groups = self.groups();
        let first = names(groups.first().copied());
        for (i, a) in first.iter().enumerate() {
            if first[..i].contains(a) {
                return Err(format!("target {a} appears twice"));
            }
        }
        for g in groups.iter().skip(1) {
            let these = names(Some(g));
            if these != first {
                return Err(format!(
                    "group '{g}' fits [{}] but group '{}' fits [{}]: every group must fit \
                     the same targets",
                    these.join(", "),
                    groups[0],
                    first.join(", ")
                ));
            }
        }
        Ok(())
    }

    /// The parameter vector of target `t`, in the law's order.
    pub fn param_vector(&self, law: &Law, t: usize) -> Vec<f64> {
        law.params(&self.domains)
            .iter()
            .map(|s| self.targets[t].params.get(&s.name).unwrap_or(f64::NAN))
            .collect()
    }
}

/// An error unless units `u` are positive finite numbers (N and D are divided by them).
pub fn check_units(u: Units) -> std::result::Result<(), String> {
    if [u.n, u.d].iter().all(|v| *v > 0.0 && v.is_normal()) {
        Ok(())
    } else {
        Err(format!(
            "units must be positive numbers from {:e} up, got n = {} and d = {}",
            f64::MIN_POSITIVE,
            crate::error::number(u.n),
            crate::error::number(u.d)
        ))
    }
}

/// An error if a domain is named twice: a table cannot hold two weight columns of one name, and
/// the law's parameters would be named twice too (`C_web, C_web`), which the check of a file's
/// parameters then reported as some other parameter the law does not have.
pub fn check_domains(domains: &[String]) -> std::result::Result<(), String> {
    match domains
        .iter()
        .enumerate()
        .find(|(i, d)| domains[..*i].contains(d))
    {
        Some((_, d)) => Err(format!("domain '{d}' is named twice")),
        None => Ok(()),
    }
}

/// An error unless `params` are exactly the parameters `specs` name, in their order, each a
/// finite number within its bounds (a hair's relative slack for the optimiser's projection).
pub fn check_params(params: &Params, specs: &[ParamSpec]) -> std::result::Result<(), String> {
    for s in specs {
        let Some(v) = params.get(&s.name) else {
            return Err(format!("lacks parameter {}", s.name));
        };
        let slack = |b: f64| 1e-9 * b.abs().max(1.0);
        if !v.is_finite() || v < s.lo - slack(s.lo) || v > s.hi + slack(s.hi) {
            let shown = if v.abs() >= 1e6 || (v != 0.0 && v.abs() < 1e-4) {
                format!("{v:e}")
            } else {
                format!("{v}")
            };
            return Err(format!(
                "parameter {} = {shown} is outside the law's bounds [{}, {}]",
                s.name, s.lo, s.hi
            ));
        }
    }
    if let Some((extra, _)) = params
        .0
        .iter()
        .find(|(n, _)| !specs.iter().any(|s| s.name == *n))
    {
        return Err(format!(
            "has a parameter {extra}, which the law does not (its parameters are {})",
            specs
                .iter()
                .map(|s| s.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if params.0.len() != specs.len() {
        return Err("repeats a parameter".into());
    }
    Ok(())
}
