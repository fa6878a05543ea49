//! What mixlaw writes: the fit file (JSON), human tables, and atomic file output.
//!
//! The fit file is the contract between `fit` and the commands that use a fit (`predict`,
//! `optimize`, ...): it records the law, the domains, the units N and D were divided by, the
//! settings, and per target the named parameters. Parameters are stored by name, in the law's
//! order, and read back by name, so a fit file stays readable if a law's internals change.

mod atomic;
mod table;

pub use atomic::{check_writable, emit, write_atomic};
pub use table::Table;

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::fit::{FitSettings, TargetFit};
use crate::law::Law;
use crate::{Error, Result};

pub const FIT_FILE_VERSION: u32 = 1;

/// Named parameter values in a fixed order; a JSON object on disk.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Params(pub Vec<(String, f64)>);

impl Params {
    pub fn get(&self, name: &str) -> Option<f64> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, v)| *v)
    }
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
    pub n: f64,
    pub d: f64,
}

/// What was read, for the record.
#[derive(Clone, Debug, Serialize, Deserialize, Default)]
pub struct DataSummary {
    pub source: String,
    pub rows: usize,
    pub duplicates_dropped: usize,
    pub filtered_out: usize,
    pub filters: Vec<String>,
    pub notices: Vec<String>,
}

/// A fit file.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FitFile {
    pub version: u32,
    pub mixlaw: String,
    pub law: String,
    pub formula: String,
    pub domains: Vec<String>,
    pub units: Units,
    pub backend: String,
    pub settings: FitSettings,
    pub data: DataSummary,
    pub targets: Vec<TargetFit>,
    pub wall_s: f64,
}

impl FitFile {
    /// Read and check a fit file.
    pub fn read(path: &Path) -> Result<(FitFile, &'static dyn Law)> {
        let bad = |msg: String| Error::FitFile {
            path: path.to_path_buf(),
            msg,
        };
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let file: FitFile =
            serde_json::from_str(&text).map_err(|e| bad(format!("not a mixlaw fit file: {e}")))?;
        if file.version != FIT_FILE_VERSION {
            return Err(bad(format!(
                "fit file version {} (this mixlaw reads version {FIT_FILE_VERSION})",
                file.version
            )));
        }
        let law = crate::law::by_name(&file.law)
            .ok_or_else(|| bad(format!("unknown law '{}'", file.law)))?;
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
    pub fn param_vector(&self, law: &dyn Law, t: usize) -> Vec<f64> {
        law.params(&self.domains)
            .iter()
            .map(|s| self.targets[t].params.get(&s.name).unwrap_or(f64::NAN))
            .collect()
    }
}

/// `x` with 6 significant digits, or `-` for NaN / missing.
pub fn num(x: f64) -> String {
    if x.is_nan() {
        "-".into()
    } else if x != 0.0 && (x.abs() >= 1e5 || x.abs() < 1e-3) {
        format!("{x:.4e}")
    } else {
        format!("{x:.6}")
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_string()
    }
}
