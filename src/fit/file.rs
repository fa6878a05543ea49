//! The fit file: the contract between `fit` and every command that uses a fit.
//!
//! It records the law, the domains, the units N and D were divided by, the settings, and per
//! target the named parameters. Parameters are stored by name, in the law's order, and read
//! back by name, so a fit file stays readable if a law's internals change.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{FitSettings, TargetFit};
use crate::law::{registry, Law};
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
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        FitFile::parse(&text, path)
    }

    /// Check the text of a fit file (a front end's copy in memory), called `path` in messages.
    pub fn parse(text: &str, path: &Path) -> Result<(FitFile, Law)> {
        let bad = |msg: String| Error::FitFile {
            path: path.to_path_buf(),
            msg,
        };
        let file: FitFile =
            serde_json::from_str(text).map_err(|e| bad(format!("not a mixlaw fit file: {e}")))?;
        if file.version != FIT_FILE_VERSION {
            return Err(bad(format!(
                "fit file version {} (this mixlaw reads version {FIT_FILE_VERSION})",
                file.version
            )));
        }
        let law = registry::stored(&file.law, file.law_file.as_deref()).map_err(bad)?;
        let specs = law.params(&file.domains);
        for t in &file.targets {
            for s in &specs {
                if t.params.get(&s.name).is_none() {
                    return Err(bad(format!(
                        "target {} lacks parameter {}",
                        t.target, s.name
                    )));
                }
            }
        }
        Ok((file, law))
    }

    /// The parameter vector of target `t`, in the law's order.
    pub fn param_vector(&self, law: &Law, t: usize) -> Vec<f64> {
        law.params(&self.domains)
            .iter()
            .map(|s| self.targets[t].params.get(&s.name).unwrap_or(f64::NAN))
            .collect()
    }
}
