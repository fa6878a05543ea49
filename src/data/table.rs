//! The raw table: a CSV file as header plus rows of trimmed text cells.
//!
//! Cells stay text until a column is known to be used, because real tables mix numeric columns
//! with text ones (Epoch's `color`, a run's `model` name) that must never cause an error. Every
//! error built here names the file, the 1-based data row and the column, so that a message alone
//! is enough to find the bad cell in a spreadsheet.

use std::path::{Path, PathBuf};

use crate::error::{Error, Location, Result};

/// How many column names an error message lists before summarising the rest.
const LIST_MAX: usize = 60;

pub(crate) struct Table {
    pub path: PathBuf,
    pub header: Vec<String>,
    /// Data rows; every one has exactly `header.len()` fields.
    pub rows: Vec<csv::StringRecord>,
}

impl Table {
    /// Read a whole CSV file. Rejects an empty file, a header without rows and ragged rows.
    pub fn read(path: &Path) -> Result<Table> {
        let file = std::fs::File::open(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .trim(csv::Trim::All)
            .from_reader(std::io::BufReader::new(file));
        let mut records = reader.records();
        let err = |row: Option<usize>, msg: String| Error::Data {
            at: Location {
                file: path.to_path_buf(),
                row,
                column: None,
            },
            msg,
        };
        let header = match records.next() {
            None => return Err(err(None, "empty file: expected a header line".into())),
            Some(Err(e)) => return Err(csv_error(path, None, e)),
            Some(Ok(h)) => h,
        };
        let header: Vec<String> = header
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let s = if i == 0 {
                    s.trim_start_matches('\u{feff}')
                } else {
                    s
                };
                s.trim().to_string()
            })
            .collect();
        if header.iter().all(|h| h.is_empty()) {
            return Err(err(None, "empty header line: expected column names".into()));
        }
        let mut rows = Vec::new();
        for rec in records {
            let r = rows.len() + 1;
            let rec = rec.map_err(|e| csv_error(path, Some(r), e))?;
            if rec.len() != header.len() {
                return Err(err(
                    Some(r),
                    format!(
                        "row has {} fields but the header has {} columns",
                        rec.len(),
                        header.len()
                    ),
                ));
            }
            rows.push(rec);
        }
        if rows.is_empty() {
            return Err(err(
                None,
                "no data rows: the file has only a header line".into(),
            ));
        }
        Ok(Table {
            path: path.to_path_buf(),
            header,
            rows,
        })
    }

    /// Index of the column called exactly `name`, if any.
    pub fn find(&self, name: &str) -> Option<usize> {
        self.header.iter().position(|h| h == name)
    }

    /// Index of column `name`, which `what` (e.g. "--n-col") asked for: an error listing the
    /// available columns if it is absent, or if the header holds the name twice.
    pub fn require(&self, name: &str, what: &str) -> Result<usize> {
        match self.find(name) {
            Some(i) => {
                self.check_unique(i)?;
                Ok(i)
            }
            None => {
                let mut msg = format!("no column '{name}' ({what})");
                if let Some(h) = self.header.iter().find(|h| h.eq_ignore_ascii_case(name)) {
                    msg.push_str(&format!("; did you mean '{h}'?"));
                }
                msg.push_str(&format!("; available columns: {}", self.available()));
                Err(self.error(None, Some(name), msg))
            }
        }
    }

    /// Error if the name of column `i` appears more than once in the header.
    pub fn check_unique(&self, i: usize) -> Result<()> {
        let name = &self.header[i];
        let count = self.header.iter().filter(|h| *h == name).count();
        if count > 1 {
            return Err(self.error(
                None,
                Some(name),
                format!("the header names this column {count} times; used columns must be unique"),
            ));
        }
        Ok(())
    }

    /// The header as a quoted, comma-separated list (shortened for very wide tables).
    pub fn available(&self) -> String {
        let mut s = self
            .header
            .iter()
            .take(LIST_MAX)
            .map(|h| format!("'{h}'"))
            .collect::<Vec<_>>()
            .join(", ");
        if self.header.len() > LIST_MAX {
            s.push_str(&format!(", ... ({} more)", self.header.len() - LIST_MAX));
        }
        s
    }

    /// The trimmed text of data row `r` (0-based index), column `c`.
    pub fn cell(&self, r: usize, c: usize) -> &str {
        &self.rows[r][c]
    }

    /// The number in row `r` (0-based), column `c`: `None` for an empty cell, an error for text
    /// that is not a number or is NaN/infinite.
    pub fn number(&self, r: usize, c: usize) -> Result<Option<f64>> {
        let text = self.cell(r, c);
        if text.is_empty() {
            return Ok(None);
        }
        match text.parse::<f64>() {
            Ok(v) if v.is_finite() => Ok(Some(v)),
            Ok(_) => Err(self.cell_error(r, c, format!("'{text}' is not a finite number"))),
            Err(_) => Err(self.cell_error(r, c, format!("'{text}' is not a number"))),
        }
    }

    /// Like [`Table::number`] but an empty cell is an error too.
    pub fn required_number(&self, r: usize, c: usize) -> Result<f64> {
        self.number(r, c)?
            .ok_or_else(|| self.cell_error(r, c, "empty cell; a number is required here".into()))
    }

    /// An error at row `r` (0-based index; reported 1-based) and column `c`.
    pub fn cell_error(&self, r: usize, c: usize, msg: String) -> Error {
        self.error(Some(r + 1), Some(&self.header[c]), msg)
    }

    /// An error at an optional 1-based row and an optional column name.
    pub fn error(&self, row: Option<usize>, column: Option<&str>, msg: String) -> Error {
        Error::Data {
            at: Location {
                file: self.path.clone(),
                row,
                column: column.map(str::to_string),
            },
            msg,
        }
    }
}

/// A CSV reader error as our error type (an I/O failure stays an I/O error).
fn csv_error(path: &Path, row: Option<usize>, e: csv::Error) -> Error {
    let msg = match e.into_kind() {
        csv::ErrorKind::Io(source) => {
            return Error::Io {
                path: path.to_path_buf(),
                source,
            }
        }
        csv::ErrorKind::Utf8 { err, .. } => format!("invalid UTF-8 text ({err})"),
        other => format!("unreadable CSV: {other:?}"),
    };
    Error::Data {
        at: Location {
            file: path.to_path_buf(),
            row,
            column: None,
        },
        msg,
    }
}
