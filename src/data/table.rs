//! The raw table: a header plus rows of cells, read from a CSV file or built from columns in
//! memory (a front end's DataFrame or arrays).
//!
//! Cells stay as they came until a column is known to be used, because real tables mix numeric
//! columns with text ones (Epoch's `color`, a run's `model` name) that must never cause an error.
//! A CSV's cells are trimmed text; an in-memory column is numbers (NaN for an empty cell, as
//! pandas marks one) or text. Every error built here names the source, the 1-based data row and
//! the column, so that a message alone is enough to find the bad cell.

use std::borrow::Cow;
use std::path::{Path, PathBuf};

use crate::error::{Error, Location, Result};

/// How many column names an error message lists before summarising the rest.
const LIST_MAX: usize = 60;
/// The longest line a table may have: far beyond any real table's (a few hundred bytes), and
/// a bound on what one unending line (`/dev/zero`, a binary file) can make mixlaw hold.
pub const MAX_LINE_BYTES: usize = 1 << 24;
/// How many characters of a cell an error message quotes.
const CELL_SHOWN: usize = 60;

/// The memory a row read from a CSV holds, about, for `bytes` bytes in `cells` cells: the
/// record's box (88 bytes), its buffers of bytes and of cell ends (each up to twice what it
/// holds, at least 4 entries), the allocator's headers, and its place in the table's vector of
/// rows (up to twice a pointer). Measured: 2 million rows `1,2,3` peak at 206 bytes a row (216
/// here), many times their 6 bytes of text.
fn row_bytes(bytes: usize, cells: usize) -> u128 {
    2 * bytes.max(4) as u128 + 16 * cells.max(4) as u128 + 144
}

/// A table of runs, one row per run checkpoint, as read: a header and rows of cells.
pub struct Table {
    /// The file it was read from, or the name given to an in-memory table.
    source: PathBuf,
    header: Vec<String>,
    cells: Cells,
}

/// The cells of a table, row by row from a CSV file or column by column from memory.
enum Cells {
    /// Data rows; every one has exactly `header.len()` fields.
    Rows(Vec<csv::StringRecord>),
    /// One column per header entry, all of the same length.
    Columns(Vec<Column>),
}

/// One column of an in-memory table.
#[derive(Clone, Debug, PartialEq)]
pub enum Column {
    /// Numbers; NaN marks an empty cell.
    Numbers(Vec<f64>),
    /// Text, parsed as a CSV cell would be when the column is used as a number.
    Text(Vec<String>),
}

impl Column {
    fn len(&self) -> usize {
        match self {
            Column::Numbers(v) => v.len(),
            Column::Text(v) => v.len(),
        }
    }
}

impl From<Vec<f64>> for Column {
    fn from(v: Vec<f64>) -> Self {
        Column::Numbers(v)
    }
}

impl From<&[f64]> for Column {
    fn from(v: &[f64]) -> Self {
        Column::Numbers(v.to_vec())
    }
}

impl From<ndarray::ArrayView1<'_, f64>> for Column {
    /// A numeric column from an ndarray view (contiguous or strided, as numpy hands them over).
    fn from(v: ndarray::ArrayView1<'_, f64>) -> Self {
        Column::Numbers(v.iter().copied().collect())
    }
}

impl From<Vec<String>> for Column {
    fn from(v: Vec<String>) -> Self {
        Column::Text(v)
    }
}

impl From<Vec<&str>> for Column {
    fn from(v: Vec<&str>) -> Self {
        Column::Text(v.into_iter().map(str::to_string).collect())
    }
}

impl Table {
    /// A table from named columns held in memory, called `source` in messages and fit files
    /// (e.g. `"<DataFrame>"`). An error if there are no columns, no rows, or columns of
    /// different lengths.
    pub fn from_columns(
        source: impl Into<PathBuf>,
        columns: impl IntoIterator<Item = (String, Column)>,
    ) -> Result<Table> {
        let source = source.into();
        let (header, columns): (Vec<String>, Vec<Column>) = columns.into_iter().unzip();
        let err = |msg: String| Error::Data {
            at: Location {
                file: source.clone(),
                row: None,
                column: None,
            },
            msg,
        };
        let Some(rows) = columns.first().map(Column::len) else {
            return Err(err("no columns".into()));
        };
        for (name, c) in header.iter().zip(&columns) {
            if c.len() != rows {
                return Err(err(format!(
                    "column '{name}' has {} values but column '{}' has {rows}",
                    c.len(),
                    header[0]
                )));
            }
        }
        if rows == 0 {
            return Err(err("no data rows".into()));
        }
        Ok(Table {
            source,
            header,
            cells: Cells::Columns(columns),
        })
    }

    /// Read a whole CSV file. Rejects an empty file, a header without rows and ragged rows, and
    /// a table that would take more than half the available memory (the rest is for the data set
    /// and the fit): a regular file larger than that before a byte is read, any other (a pipe, a
    /// device) at the row where its rows would outgrow it.
    pub fn read(path: &Path) -> Result<Table> {
        let io = |source| Error::Io {
            path: path.to_path_buf(),
            source,
        };
        let file = std::fs::File::open(path).map_err(io)?;
        let limit = table_limit();
        let meta = file.metadata().map_err(io)?;
        // Its cells' bytes are all held once read.
        if meta.is_file() && u128::from(meta.len()) > limit {
            return Err(too_large(path, None, u128::from(meta.len()), limit));
        }
        Table::from_reader(std::io::BufReader::new(file), path, limit)
    }

    /// A CSV table held in memory (a front end's copy, or a fuzzer's input), called `path` in
    /// messages; checked exactly as [`Table::read`] checks a file.
    pub fn parse(bytes: &[u8], path: &Path) -> Result<Table> {
        Table::from_reader(bytes, path, table_limit())
    }

    /// The table from `input`, whose rows may take at most `limit` bytes of memory.
    fn from_reader(mut input: impl std::io::BufRead, path: &Path, limit: u128) -> Result<Table> {
        if let Some(what) = sniff(&mut input).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })? {
            return Err(Error::Data {
                at: Location {
                    file: path.to_path_buf(),
                    row: None,
                    column: None,
                },
                msg: what,
            });
        }
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .trim(csv::Trim::All)
            .from_reader(LineLimit {
                inner: input,
                line: 1,
                run: 0,
            });
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
            Some(Err(e)) => return Err(csv_error(path, None, &[], e)),
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
        // What the rows read so far hold: many short lines cost far more than their bytes.
        let mut held: u128 = 0;
        for rec in records {
            let r = rows.len() + 1;
            let rec = rec.map_err(|e| csv_error(path, Some(r), &header, e))?;
            held += row_bytes(rec.as_slice().len(), rec.len());
            if held > limit {
                return Err(too_large(path, Some(r), held, limit));
            }
            if rec.len() != header.len() {
                return Err(err(
                    Some(r),
                    format!(
                        "row has {} fields but the header has {} columns{}",
                        rec.len(),
                        header.len(),
                        open_quote(&rec)
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
            source: path.to_path_buf(),
            header,
            cells: Cells::Rows(rows),
        })
    }

    /// The file it was read from, or the name given to an in-memory table.
    pub fn source(&self) -> &Path {
        &self.source
    }

    /// The column names.
    pub fn header(&self) -> &[String] {
        &self.header
    }

    /// How many data rows.
    pub fn len(&self) -> usize {
        match &self.cells {
            Cells::Rows(r) => r.len(),
            Cells::Columns(c) => c[0].len(),
        }
    }

    /// Whether there are no data rows (never, for a table that was built).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Index of the column called exactly `name`, if any.
    pub(crate) fn find(&self, name: &str) -> Option<usize> {
        self.header.iter().position(|h| h == name)
    }

    /// Index of column `name`, which `what` (e.g. "--n-col") asked for: an error listing the
    /// available columns if it is absent, or if the header holds the name twice.
    pub(crate) fn require(&self, name: &str, what: &str) -> Result<usize> {
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
    pub(crate) fn check_unique(&self, i: usize) -> Result<()> {
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
    pub(crate) fn available(&self) -> String {
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
        // One column whose name holds the others: a file separated by semicolons (a spreadsheet
        // in a decimal-comma locale) or tabs, which was listed as that one name without a word.
        if let [only] = &self.header[..] {
            if let Some(what) = [(';', "semicolons"), ('\t', "tabs")]
                .into_iter()
                .find_map(|(c, what)| only.contains(c).then_some(what))
            {
                s.push_str(&format!(
                    " (a single column: the file seems separated by {what}; mixlaw reads \
                     comma-separated values, with decimal points)"
                ));
            }
        }
        s
    }

    /// The text of data row `r` (0-based index), column `c`: a CSV cell's trimmed text, or an
    /// in-memory number as Rust prints it (empty for NaN).
    pub(crate) fn cell(&self, r: usize, c: usize) -> Cow<'_, str> {
        match &self.cells {
            Cells::Rows(rows) => Cow::Borrowed(&rows[r][c]),
            Cells::Columns(cols) => match &cols[c] {
                Column::Numbers(v) if v[r].is_nan() => Cow::Borrowed(""),
                Column::Numbers(v) => Cow::Owned(v[r].to_string()),
                Column::Text(v) => Cow::Borrowed(v[r].trim()),
            },
        }
    }

    /// The number in row `r` (0-based), column `c`: `None` for an empty cell, an error for text
    /// that is not a number or is NaN/infinite.
    pub(crate) fn number(&self, r: usize, c: usize) -> Result<Option<f64>> {
        if let Cells::Columns(cols) = &self.cells {
            if let Column::Numbers(v) = &cols[c] {
                return match v[r] {
                    x if x.is_nan() => Ok(None),
                    x if x.is_finite() => Ok(Some(x)),
                    x => Err(self.cell_error(r, c, format!("'{x}' is not a finite number"))),
                };
            }
        }
        let text = self.cell(r, c);
        if text.is_empty() {
            return Ok(None);
        }
        match text.parse::<f64>() {
            Ok(v) if v.is_finite() => Ok(Some(v)),
            Ok(_) => {
                Err(self.cell_error(r, c, format!("'{}' is not a finite number", shown(&text))))
            }
            Err(_) if text.contains('\n') => Err(self.cell_error(
                r,
                c,
                format!(
                    "'{}' is not a number: this quoted cell runs over {} lines; is its closing \
                     quote missing?",
                    shown(&text),
                    text.lines().count()
                ),
            )),
            Err(_) => Err(self.cell_error(r, c, format!("'{}' is not a number", shown(&text)))),
        }
    }

    /// Like [`Table::number`] but an empty cell is an error too.
    pub(crate) fn required_number(&self, r: usize, c: usize) -> Result<f64> {
        self.number(r, c)?
            .ok_or_else(|| self.cell_error(r, c, "empty cell; a number is required here".into()))
    }

    /// An error at row `r` (0-based index; reported 1-based) and column `c`.
    pub(crate) fn cell_error(&self, r: usize, c: usize, msg: String) -> Error {
        self.error(Some(r + 1), Some(&self.header[c]), msg)
    }

    /// An error at an optional 1-based row and an optional column name.
    pub(crate) fn error(&self, row: Option<usize>, column: Option<&str>, msg: String) -> Error {
        Error::Data {
            at: Location {
                file: self.source.clone(),
                row,
                column: column.map(str::to_string),
            },
            msg,
        }
    }
}

/// A CSV reader error as our error type (an I/O failure stays an I/O error). `header`: the
/// column names, which name a bad cell's column as every other cell error does (the reader
/// counts fields from 0; empty while the header line itself is read, which gets its number).
fn csv_error(path: &Path, row: Option<usize>, header: &[String], e: csv::Error) -> Error {
    let mut column = None;
    let msg = match e.into_kind() {
        csv::ErrorKind::Io(source) => {
            if let Some(long) = source.get_ref().and_then(|e| e.downcast_ref::<LongLine>()) {
                return Error::Data {
                    at: Location {
                        file: path.to_path_buf(),
                        row: None,
                        column: None,
                    },
                    msg: long.to_string(),
                };
            }
            return Error::Io {
                path: path.to_path_buf(),
                source,
            };
        }
        csv::ErrorKind::Utf8 { err, .. } => {
            let hint = "mixlaw reads UTF-8 CSV; convert the file (e.g. iconv -f LATIN1 -t UTF-8)";
            match header.get(err.field()) {
                Some(name) => {
                    column = Some(name.clone());
                    format!("invalid UTF-8 text: {hint}")
                }
                None => format!(
                    "invalid UTF-8 text in the header line, column {}: {hint}",
                    err.field() + 1
                ),
            }
        }
        other => format!("unreadable CSV: {other:?}"),
    };
    Error::Data {
        at: Location {
            file: path.to_path_buf(),
            row,
            column,
        },
        msg,
    }
}

/// A cell as an error message quotes it: its first [`CELL_SHOWN`] characters (and no more than
/// its first line), and how long it is when it is longer (a cell of 50 MB, an unterminated quote's swallowed lines).
pub(crate) fn shown(text: &str) -> Cow<'_, str> {
    let cut = text
        .char_indices()
        .nth(CELL_SHOWN)
        .map(|(i, _)| i)
        .into_iter()
        .chain(text.find('\n'))
        .min();
    match cut {
        None => Cow::Borrowed(text),
        Some(end) => Cow::Owned(format!("{}… ({} bytes in all)", &text[..end], text.len())),
    }
}

/// For a record with a cell that runs over several lines (a quoted cell), where its quote was
/// opened: a quote left open swallows the lines after it into one cell.
fn open_quote(rec: &csv::StringRecord) -> String {
    match (rec.iter().any(|f| f.contains('\n')), rec.position()) {
        (true, Some(p)) => format!(
            "; a quoted cell of this row, opened on line {}, runs over several lines: is its \
             closing quote missing?",
            p.line()
        ),
        _ => String::new(),
    }
}

/// What the first bytes of a file say it is when it is not a text table: compressed, UTF-16 or
/// binary. `None` for anything that may be text (the CSV reader judges the rest).
fn sniff(input: &mut impl std::io::BufRead) -> std::io::Result<Option<String>> {
    let head = input.fill_buf()?;
    let starts = |magic: &[u8]| head.starts_with(magic);
    let what = if starts(&[0x1f, 0x8b]) {
        "gzip-compressed data, not a CSV table: decompress it first (gunzip)"
    } else if starts(&[0x28, 0xb5, 0x2f, 0xfd]) {
        "zstd-compressed data, not a CSV table: decompress it first (unzstd)"
    } else if starts(b"BZh") && head.get(3).is_some_and(u8::is_ascii_digit) {
        "bzip2-compressed data, not a CSV table: decompress it first (bunzip2)"
    } else if starts(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
        "xz-compressed data, not a CSV table: decompress it first (unxz)"
    } else if starts(b"PK\x03\x04") {
        "a zip archive (or a spreadsheet), not a CSV table: export the sheet as CSV"
    } else if starts(&[0xff, 0xfe]) || starts(&[0xfe, 0xff]) {
        "UTF-16 text: mixlaw reads UTF-8 CSV; convert it (iconv -f UTF-16 -t UTF-8)"
    } else if head.iter().take(4096).any(|&b| b == 0) {
        "binary data (NUL bytes), not a CSV table"
    } else {
        return Ok(None);
    };
    Ok(Some(what.to_string()))
}

/// The most memory a table's rows may take: half of what is available, the rest being for the
/// data set built from them and the fit.
fn table_limit() -> u128 {
    crate::memory::limit() / 2
}

/// The error for a table that would need `bytes` of memory (by row `row`, or a whole file),
/// more than the `limit` available.
fn too_large(path: &Path, row: Option<usize>, bytes: u128, limit: u128) -> Error {
    use crate::memory::size;
    let needs = match row {
        Some(_) => format!("its rows so far need about {} of memory", size(bytes)),
        None => format!(
            "the file is {} long, and holding its cells needs as much memory",
            size(bytes)
        ),
    };
    Error::Data {
        at: Location {
            file: path.to_path_buf(),
            row,
            column: None,
        },
        msg: format!(
            "too large to read: {needs}, more than half the {} available (mixlaw holds a \
             table whole; a table of runs has thousands of rows, not millions): check that this \
             is the table you meant, or cut it down to the runs to fit",
            size(2 * limit)
        ),
    }
}

/// A line longer than [`MAX_LINE_BYTES`]: an error the CSV reader carries out as I/O.
#[derive(Debug)]
struct LongLine(usize);

impl std::fmt::Display for LongLine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "line {} is longer than {} MiB: not a table of runs (is a quote left open?)",
            self.0,
            MAX_LINE_BYTES >> 20
        )
    }
}

impl std::error::Error for LongLine {}

/// A reader that fails on a line longer than [`MAX_LINE_BYTES`], so that a table's reader holds
/// at most one such line whatever the file (an unending one, a binary one).
struct LineLimit<R> {
    inner: R,
    /// The 1-based line being read.
    line: usize,
    /// Bytes of that line read so far.
    run: usize,
}

impl<R: std::io::Read> std::io::Read for LineLimit<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        for &b in &buf[..n] {
            if b == b'\n' {
                self.line += 1;
                self.run = 0;
            } else {
                self.run += 1;
                if self.run > MAX_LINE_BYTES {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        LongLine(self.line),
                    ));
                }
            }
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An endless table of short lines: its rows cost many times their bytes.
    struct Endless {
        at: usize,
    }

    impl std::io::Read for Endless {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            for b in buf.iter_mut() {
                *b = if self.at < 4 { b"a,b\n" } else { b"1,2\n" }[self.at % 4];
                self.at += 1;
            }
            Ok(buf.len())
        }
    }

    /// A stream of very many short lines fails at the row where its rows outgrow the memory,
    /// counted with their overhead (a megabyte's worth of rows from 4 bytes a line, not 4 MB).
    #[test]
    fn rows_beyond_the_memory_are_refused_as_they_are_read() {
        let limit = 1 << 20;
        let input = std::io::BufReader::new(Endless { at: 0 });
        let e = Table::from_reader(input, Path::new("endless.csv"), limit)
            .err()
            .expect("an endless table is refused")
            .to_string();
        assert!(
            e.contains("endless.csv")
                && e.contains("too large to read")
                && e.contains("more than half the 2.1 MB available")
                && e.contains("cut it down"),
            "{e}"
        );
        let row: usize = e
            .split("row ")
            .nth(1)
            .and_then(|t| t.split(|c: char| !c.is_ascii_digit()).next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no row in {e}"));
        assert_eq!(row as u128, (1 << 20) / row_bytes(3, 2) + 1, "{e}");
    }
}
