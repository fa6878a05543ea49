//! One error type for the library.
//!
//! Every way a user's input can be wrong is a variant that names *where* (file, row, column) so
//! the message alone is enough to fix the input. The binary maps input and usage errors to
//! exit code 2 and anything else to 1.

use std::path::PathBuf;

/// Where in an input file a problem sits. Rows are 1-based data rows as a spreadsheet shows them
/// (the header is line 1, so data row `r` is on line `r + 1`).
#[derive(Debug, Clone, PartialEq)]
pub struct Location {
    /// The file, or the name given to an in-memory table.
    pub file: PathBuf,
    /// 1-based data row, when the problem is in one row.
    pub row: Option<usize>,
    /// Column name, when the problem is in one column.
    pub column: Option<String>,
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(r) = self.row {
            write!(f, ", row {r} (line {})", r + 1)?;
        }
        if let Some(c) = &self.column {
            write!(f, ", column '{c}'")?;
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
/// Everything that can go wrong in mixlaw.
pub enum Error {
    /// Bad input data: the message says what is wrong, the location says where.
    #[error("{at}: {msg}")]
    Data {
        /// Where the problem is.
        at: Location,
        /// What is wrong.
        msg: String,
    },
    /// A bad command-line value (filter expression, flag combination, parameter list).
    #[error("{0}")]
    Usage(String),
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file being read or written.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The GPU backend cannot run: no adapter, no device, a shader that does not compile, or a
    /// problem beyond the device's limits.
    #[error("gpu: {0}")]
    Gpu(String),
    /// The run was stopped on request ([`crate::interrupt`]), e.g. by Ctrl-C in Python.
    #[error("interrupted")]
    Interrupted,
    /// A fit file that cannot be used.
    #[error("{path}: {msg}")]
    FitFile {
        /// The fit file (or bootstrap study file).
        path: PathBuf,
        /// Why it cannot be used.
        msg: String,
    },
}

impl Error {
    /// Exit code for the binary: 2 for anything the user can fix in their input or flags (a
    /// path that names no file, or one they may not read, as grep and ripgrep count it), 1 for
    /// what went wrong while running (a full disk, a device, an interrupt).
    pub fn exit_code(&self) -> i32 {
        use std::io::ErrorKind::{IsADirectory, NotFound, PermissionDenied};
        match self {
            Error::Data { .. } | Error::Usage(_) | Error::FitFile { .. } => 2,
            Error::Io { source, .. }
                if matches!(source.kind(), NotFound | PermissionDenied | IsADirectory) =>
            {
                2
            }
            Error::Io { .. } | Error::Gpu(_) | Error::Interrupted => 1,
        }
    }

    /// An [`Error::Usage`] with message `msg`.
    pub fn usage(msg: impl Into<String>) -> Self {
        Error::Usage(msg.into())
    }
}

/// The result of everything in mixlaw that can fail.
pub type Result<T> = std::result::Result<T, Error>;

/// A number for messages: plain when short, scientific when large or tiny (`-6e18`, not
/// `-6000000000000000000`; `1e-320`, not three hundred zeros).
pub fn number(v: f64) -> String {
    let a = v.abs();
    if a != 0.0 && !(1e-3..1e6).contains(&a) {
        format!("{v:e}")
    } else {
        format!("{v}")
    }
}
