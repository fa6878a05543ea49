//! Reading run tables: one row per training-run checkpoint (a CSV file's, or columns held in
//! memory: [`Table`]), turned into a [`Dataset`] that the fitting code can trust without
//! re-checking.
//!
//! Why this module is strict and front-loaded:
//!
//! * **Fail once, precisely, before any fitting.** A fit runs for minutes; a bad cell found
//!   then is expensive and vague. So every cell of every *used* column is parsed and checked up
//!   front, and every error names file, 1-based data row and column. Columns the law does not
//!   use are never read, since real tables carry text columns (Epoch's `color`).
//! * **Columns are found, not configured, where the common tables agree** (`model_size`/`N`,
//!   `n_tokens`/`D`, `weight_*`, `*_loss`), with flags to override. Epoch's table has no token
//!   column, so `D = C / (6 N)` can be derived from a FLOP column.
//! * **Published tables repeat rows.** The mixture-law paper's table lists each run's last
//!   checkpoint twice (token counts `19998000000.0` and `20000000000.0`, identical losses);
//!   fitting both double-weights those points, so duplicates are dropped before filters, with a
//!   notice that says how many.
//! * **An empty loss cell is data, not an error**: some runs lack an evaluation on one domain.
//!   That row is skipped for that target only (`y = NaN`), so one gap does not cost a run.
//! * **Long tables hold several studies** (an experiment column, one isoFLOP set per value).
//!   With [`DataSpec::group_by`] every row carries its group, the cell's text (a numeric column
//!   groups too), in order of first appearance, and the fit treats each group as a table of its
//!   own: duplicates are only looked for within a group and `drop_highest` applies per group, so
//!   a grouped fit is the fit of each group's rows alone. A row without a group is an error at
//!   its cell, like any empty cell a fit needs: a row silently left out would change a study.
//!
//! Order of operations: check the spec → resolve columns → parse and validate every used cell →
//! drop duplicates → apply `--where` filters → fail if nothing is left → per-target (and
//! per-group) `drop_highest` (Epoch's outlier rule) → build the [`Dataset`].
//!
//! `N` and `D` stay raw here (parameters and tokens); unit conversion belongs to the fit.

pub mod expr;
mod table;

pub use table::{Column, Table};

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::PathBuf;

use crate::error::{number, Error, Result};
use expr::Expr;

/// The name of the fitted targets' mean as a goal of a mixture search, which no target may
/// take.
pub const AVG: &str = "avg";

/// The most weight columns a table may have (laws keep per-domain scratch on the stack).
pub const MAX_DOMAINS: usize = crate::law::MAX_DOMAINS;

/// Column names tried, in order, when no `n_col` is given.
pub const N_NAMES: [&str; 3] = ["model_size", "N", "Model Size"];
/// Column names tried, in order, when neither `d_col` nor `flops_col` is given.
pub const D_NAMES: [&str; 3] = ["n_tokens", "D", "tokens"];
/// The weight-column prefix used when [`DataSpec::weight_prefix`] is empty.
pub const DEFAULT_WEIGHT_PREFIX: &str = "weight_";

/// Two rows are duplicates only if their token counts agree within this relative tolerance.
const DUP_REL_TOL: f64 = 1e-3;
/// The weights of a row must sum to 1 within this.
const WEIGHT_SUM_TOL: f64 = 1e-3;

/// A NaN with a private payload that marks a value removed by `drop_highest`, so that
/// [`Dataset::subset`] can still tell dropped values from empty cells. Every other NaN in
/// [`Target::y`] counts as an empty cell.
const DROPPED_BITS: u64 = 0x7ff8_0000_00d0_0d0d;

fn dropped_nan() -> f64 {
    f64::from_bits(DROPPED_BITS)
}

fn is_dropped(y: f64) -> bool {
    y.to_bits() == DROPPED_BITS
}

/// How to read a table: which columns mean what.
#[derive(Clone, Debug, Default)]
pub struct DataSpec {
    /// Model-size column; `None`: the first present of [`N_NAMES`].
    pub n_col: Option<String>,
    /// Token column; `None`: the first present of [`D_NAMES`].
    pub d_col: Option<String>,
    /// If set, `D = C / (6 N)` from this training-FLOP column; conflicts with `d_col`.
    pub flops_col: Option<String>,
    /// Every column starting with this is a domain weight, named by the rest ("" = `weight_`).
    pub weight_prefix: String,
    /// Target columns; empty: every `*_loss` column, else a column `loss`. A name may omit the
    /// `_loss` suffix when `<name>_loss` exists.
    pub targets: Vec<String>,
    /// `--where` expressions, ANDed.
    pub filters: Vec<String>,
    /// Per target, drop the `K` highest values: keep `y < sorted(y)[-K]` (ties drop more).
    pub drop_highest: usize,
    /// The law uses `N` and `D`: their columns are required. Otherwise they are read if present
    /// and filled with 1.0 if absent.
    pub needs_scale: bool,
    /// The law uses the mixture `h`: at least one weight column is required. Otherwise weight
    /// columns are not read (`k = 0`).
    pub needs_mixture: bool,
    /// Keep duplicate rows, to replicate analyses that kept them: Epoch's Chinchilla table holds
    /// one digitised point twice (data rows 64 and 89: same N and loss, FLOP within 0.01%),
    /// which the duplicate rule drops but Epoch's 245-point fit keeps.
    pub keep_duplicates: bool,
    /// Named targets absent from the table are left out instead of being an error (`predict`
    /// on a table of new runs has no loss columns).
    pub targets_optional: bool,
    /// Group the rows by the text of this column (a long table holding several studies): the
    /// law is fitted once per group. Every row needs a value.
    pub group_by: Option<String>,
}

impl DataSpec {
    /// The errors a spec has whatever the table: a token column and a FLOP column both given,
    /// or a `--where` expression that does not parse. Returns the parsed expressions. Front ends
    /// call it before reading the table, so that a bad flag is reported first.
    pub fn check(&self) -> Result<Vec<Expr>> {
        if self.d_col.is_some() && self.flops_col.is_some() {
            return Err(Error::usage(
                "give either a token column or a FLOP column (D = C / (6 N)), not both",
            ));
        }
        self.filters.iter().map(|f| expr::parse(f)).collect()
    }

    /// This spec with the columns `law` reads required ([`DataSpec::needs_scale`],
    /// [`DataSpec::needs_mixture`]).
    pub fn for_law(self, law: &crate::law::Law) -> Self {
        DataSpec {
            needs_scale: law.uses_scale(),
            needs_mixture: law.uses_mixture(),
            ..self
        }
    }
}

/// One fitted quantity (a loss column).
#[derive(Clone, Debug)]
pub struct Target {
    /// Column name, e.g. `c4_loss`.
    pub name: String,
    /// One value per kept row; NaN where the cell was empty or dropped by `drop_highest`.
    pub y: Vec<f64>,
    /// Empty cells among the kept rows.
    pub missing: usize,
    /// Values among the kept rows removed by `drop_highest`.
    pub dropped_highest: usize,
}

/// The rows of a long table grouped by the cells of one column ([`DataSpec::group_by`]).
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Groups {
    /// The grouping column.
    pub column: String,
    /// The distinct values (the cells' text), in order of first appearance among the kept rows.
    pub names: Vec<String>,
    /// Per kept row, the index of its group in `names`.
    pub of_row: Vec<usize>,
}

impl Groups {
    /// Group the rows whose values are `values`, in order of first appearance.
    fn new(column: String, values: &[&str]) -> Groups {
        let mut names: Vec<String> = Vec::new();
        let mut index: HashMap<&str, usize> = HashMap::new();
        let of_row = values
            .iter()
            .map(|&v| {
                *index.entry(v).or_insert_with(|| {
                    names.push(v.to_string());
                    names.len() - 1
                })
            })
            .collect();
        Groups {
            column,
            names,
            of_row,
        }
    }

    /// The group of each row, by name.
    fn values(&self) -> Vec<&str> {
        self.of_row
            .iter()
            .map(|&g| self.names[g].as_str())
            .collect()
    }

    /// The rows of each group, in order.
    fn members(&self) -> Vec<Vec<usize>> {
        let mut rows = vec![Vec::new(); self.names.len()];
        for (r, &g) in self.of_row.iter().enumerate() {
            rows[g].push(r);
        }
        rows
    }
}

/// A validated table of runs: per kept row the mixture `h`, raw `N` and `D`, and the targets.
#[derive(Clone, Debug)]
pub struct Dataset {
    /// The table's file, or the name given to an in-memory table.
    pub source: PathBuf,
    /// `k` domain names, from the weight columns (empty unless the spec needs a mixture).
    pub domains: Vec<String>,
    /// `rows * k` weights, row-major.
    pub h: Vec<f64>,
    /// Raw N (parameters), one per kept row.
    pub n: Vec<f64>,
    /// Raw D (tokens), one per kept row.
    pub d: Vec<f64>,
    /// The fitted quantities, one per target column.
    pub targets: Vec<Target>,
    /// 1-based source data row of each kept row.
    pub row_ids: Vec<usize>,
    /// Rows dropped as repeats of earlier rows.
    pub duplicates_dropped: usize,
    /// Rows the `--where` filters removed.
    pub filtered_out: usize,
    /// Human sentences about what loading did (duplicates, filters, gaps, dropped outliers).
    pub notices: Vec<String>,
    /// Each kept row's group, when the rows are grouped ([`DataSpec::group_by`]).
    pub groups: Option<Groups>,
}

impl Dataset {
    /// Rows kept.
    pub fn rows(&self) -> usize {
        self.n.len()
    }

    /// The number of domains `k` (0 when the mixture was not read).
    pub fn k(&self) -> usize {
        self.domains.len()
    }

    /// The mixture of kept row `r`.
    pub fn h_row(&self, r: usize) -> &[f64] {
        let k = self.k();
        &self.h[r * k..(r + 1) * k]
    }

    /// Keep only rows where `keep[r]` is true (used for train/test splits). Target counts are
    /// recomputed for the kept rows, and groups for them (a group left without rows is gone);
    /// `duplicates_dropped`, `filtered_out` and `notices` describe the load and are carried over
    /// unchanged.
    ///
    /// Panics if `keep.len() != self.rows()`.
    pub fn subset(&self, keep: &[bool]) -> Dataset {
        assert_eq!(
            keep.len(),
            self.rows(),
            "subset mask has {} entries for {} rows",
            keep.len(),
            self.rows()
        );
        let k = self.k();
        let pick = |v: &[f64]| -> Vec<f64> {
            v.iter()
                .zip(keep)
                .filter(|(_, &x)| x)
                .map(|(&v, _)| v)
                .collect()
        };
        let mut h = Vec::with_capacity(k * keep.iter().filter(|&&x| x).count());
        for (r, _) in keep.iter().enumerate().filter(|(_, &x)| x) {
            h.extend_from_slice(self.h_row(r));
        }
        let targets = self
            .targets
            .iter()
            .map(|t| {
                let y = pick(&t.y);
                let dropped_highest = y.iter().filter(|v| is_dropped(**v)).count();
                let missing = y.iter().filter(|v| v.is_nan()).count() - dropped_highest;
                Target {
                    name: t.name.clone(),
                    y,
                    missing,
                    dropped_highest,
                }
            })
            .collect();
        Dataset {
            source: self.source.clone(),
            domains: self.domains.clone(),
            h,
            n: pick(&self.n),
            d: pick(&self.d),
            targets,
            row_ids: self
                .row_ids
                .iter()
                .zip(keep)
                .filter(|(_, &x)| x)
                .map(|(&r, _)| r)
                .collect(),
            duplicates_dropped: self.duplicates_dropped,
            filtered_out: self.filtered_out,
            notices: self.notices.clone(),
            groups: self.groups.as_ref().map(|g| {
                let values: Vec<&str> = g
                    .values()
                    .into_iter()
                    .zip(keep)
                    .filter(|(_, &x)| x)
                    .map(|(v, _)| v)
                    .collect();
                Groups::new(g.column.clone(), &values)
            }),
        }
    }

    /// The dataset of each group, in order, with its name; the whole dataset (borrowed) under
    /// `None` when the rows are not grouped. What every command that fits does per group.
    pub fn by_group(&self) -> Vec<(Option<&str>, Cow<'_, Dataset>)> {
        let Some(groups) = &self.groups else {
            return vec![(None, Cow::Borrowed(self))];
        };
        (0..groups.names.len())
            .map(|g| {
                let keep: Vec<bool> = groups.of_row.iter().map(|&x| x == g).collect();
                (
                    Some(groups.names[g].as_str()),
                    Cow::Owned(self.subset(&keep)),
                )
            })
            .collect()
    }

    /// This dataset with its domains in the order `order` names them: the mixture's columns
    /// permuted by name. A table's weight columns may come in any order, while a fit's (or a
    /// study's) per-domain parameters follow the order of the table it was fitted on, so every
    /// use of a fitted law on a table matches domains by name, never by position. An error,
    /// naming the missing and extra domains, when the two sets differ; `other` names the holder
    /// of `order` in it (`the fit`).
    pub fn with_domains(&self, order: &[String], other: &str) -> Result<Dataset> {
        let position: Vec<Option<usize>> = order
            .iter()
            .map(|d| self.domains.iter().position(|x| x == d))
            .collect();
        let missing: Vec<&str> = order
            .iter()
            .zip(&position)
            .filter(|(_, p)| p.is_none())
            .map(|(d, _)| d.as_str())
            .collect();
        let extra: Vec<&str> = self
            .domains
            .iter()
            .filter(|d| !order.contains(d))
            .map(String::as_str)
            .collect();
        if !missing.is_empty() || !extra.is_empty() || order.len() != self.k() {
            let mut msg = format!(
                "the table has domains [{}] but {other} has [{}]",
                self.domains.join(", "),
                order.join(", ")
            );
            if !missing.is_empty() {
                msg.push_str(&format!("; missing here: {}", missing.join(", ")));
            }
            if !extra.is_empty() {
                msg.push_str(&format!("; not in {other}: {}", extra.join(", ")));
            }
            return Err(Error::Data {
                at: crate::error::Location {
                    file: self.source.clone(),
                    row: None,
                    column: None,
                },
                msg,
            });
        }
        let position: Vec<usize> = position.into_iter().flatten().collect();
        let mut h = Vec::with_capacity(self.h.len());
        for r in 0..self.rows() {
            let row = self.h_row(r);
            h.extend(position.iter().map(|&i| row[i]));
        }
        Ok(Dataset {
            domains: order.to_vec(),
            h,
            ..self.clone()
        })
    }
}

/// Where the token count comes from.
enum DSource {
    Column(usize),
    /// `D = C / (6 N)` from a FLOP column.
    Flops(usize),
    /// Absent (allowed only when the law does not use scale): D = 1.
    None,
}

/// The used columns of a table, resolved to indices.
struct Resolved {
    n: Option<usize>,
    d: DSource,
    /// Weight columns and their domain names (empty unless a mixture is needed).
    weights: Vec<(usize, String)>,
    /// Weight columns that are present but not needed: only their text joins the duplicate key.
    unused_weights: Vec<usize>,
    targets: Vec<usize>,
    /// Distinct columns the filters mention; filters are resolved to positions in this list.
    filter_cols: Vec<usize>,
    filters: Vec<Expr<usize>>,
    /// Per filter column, whether a filter compares it with a number (its cells must then be
    /// numbers; a column compared only with text is never parsed).
    filter_numeric: Vec<bool>,
    /// The grouping column.
    group: Option<usize>,
}

/// Every used cell of every row, parsed and validated.
struct Parsed {
    n: Vec<f64>,
    d: Vec<f64>,
    /// `rows * k`, row-major.
    h: Vec<f64>,
    /// Per target, per row; NaN for an empty cell.
    y: Vec<Vec<f64>>,
    /// Per filter column, per row (NaN for a column only compared with text).
    filter_vals: Vec<Vec<f64>>,
    /// Per row, its group's value (empty unless the rows are grouped).
    group: Vec<String>,
}

/// Validate and filter a table of runs (see the module docs for the order of steps).
pub fn load(table: &Table, spec: &DataSpec) -> Result<Dataset> {
    let exprs = spec.check()?;

    let cols = resolve(table, spec, &exprs)?;
    let parsed = parse_rows(table, spec, &cols)?;

    // Duplicates, on the whole table.
    let all: Vec<usize> = (0..table.len()).collect();
    let after_dups = if !spec.keep_duplicates {
        dedup(table, &cols, &parsed, &all)
    } else {
        all.clone()
    };
    let duplicates_dropped = all.len() - after_dups.len();

    // Filters.
    let kept: Vec<usize> = after_dups
        .iter()
        .copied()
        .filter(|&r| {
            cols.filters.iter().all(|e| {
                e.eval(&|i| parsed.filter_vals[i][r], &|i, s| {
                    table.cell(r, cols.filter_cols[i]) == s
                })
            })
        })
        .collect();
    let filtered_out = after_dups.len() - kept.len();
    if kept.is_empty() {
        let list = spec
            .filters
            .iter()
            .map(|f| format!("`{f}`"))
            .collect::<Vec<_>>()
            .join(" and ");
        return Err(table.error(
            None,
            None,
            format!(
                "no rows left after --where {list} ({} rows before filtering)",
                after_dups.len()
            ),
        ));
    }

    let k = cols.weights.len();
    let mut notices = Vec::new();
    if duplicates_dropped > 0 {
        notices.push(format!(
            "dropped {duplicates_dropped} duplicate rows (same mixture and N, D within 0.1%, \
             identical losses); kept the first of each"
        ));
    }
    if let DSource::Flops(c) = cols.d {
        notices.push(format!(
            "derived D = C / (6 N) from column '{}'",
            table.header()[c]
        ));
    }
    if !spec.filters.is_empty() {
        notices.push(format!(
            "--where kept {} of {} rows ({filtered_out} filtered out)",
            kept.len(),
            after_dups.len()
        ));
    }
    let groups = cols.group.map(|c| {
        let values: Vec<&str> = kept.iter().map(|&r| parsed.group[r].as_str()).collect();
        Groups::new(table.header()[c].clone(), &values)
    });
    let members = groups.as_ref().map(Groups::members);
    if let Some(g) = &groups {
        let n = g.names.len();
        notices.push(format!(
            "rows grouped by column '{}': {n} group{}",
            g.column,
            if n == 1 { "" } else { "s" }
        ));
    }

    let mut targets = Vec::with_capacity(cols.targets.len());
    for (t, &c) in cols.targets.iter().enumerate() {
        let mut y: Vec<f64> = kept.iter().map(|&r| parsed.y[t][r]).collect();
        let missing = y.iter().filter(|v| v.is_nan()).count();
        let name = table.header()[c].clone();
        if missing > 0 {
            notices.push(format!(
                "{name}: {missing} empty cells; those rows are skipped for this target"
            ));
        }
        let dropped_highest = match &members {
            None => drop_highest(&mut y, spec.drop_highest),
            // Per group, as in a table of the group's rows alone.
            Some(members) => members
                .iter()
                .map(|rows| {
                    let mut part: Vec<f64> = rows.iter().map(|&r| y[r]).collect();
                    let dropped = drop_highest(&mut part, spec.drop_highest);
                    for (&r, v) in rows.iter().zip(part) {
                        y[r] = v;
                    }
                    dropped
                })
                .sum(),
        };
        if spec.drop_highest > 0 {
            let each = if members.is_some() { " per group" } else { "" };
            notices.push(format!(
                "{name}: dropped the {dropped_highest} highest values (drop_highest {}{each})",
                spec.drop_highest
            ));
        }
        notices.extend(far_outliers(&name, &y, &kept));
        let present: Vec<f64> = y.iter().copied().filter(|v| v.is_finite()).collect();
        if present.len() > 1 && present.iter().all(|v| *v == present[0]) {
            notices.push(format!(
                "{name}: every row holds the same loss {}; a law fitted to it says nothing of \
                 N, D or the mixture",
                present[0]
            ));
        }
        targets.push(Target {
            name,
            y,
            missing,
            dropped_highest,
        });
    }
    for (j, (_, domain)) in cols.weights.iter().enumerate() {
        if kept.iter().all(|&r| parsed.h[r * k + j] == 0.0) {
            notices.push(format!(
                "domain {domain} weighs 0 in every row: its parameters cannot be identified \
                 from this table (the fit reports whatever its starts left them at)"
            ));
        }
    }

    let mut h = Vec::with_capacity(kept.len() * k);
    for &r in &kept {
        h.extend_from_slice(&parsed.h[r * k..(r + 1) * k]);
    }
    Ok(Dataset {
        source: table.source().to_path_buf(),
        domains: cols.weights.iter().map(|(_, d)| d.clone()).collect(),
        h,
        n: kept.iter().map(|&r| parsed.n[r]).collect(),
        d: kept.iter().map(|&r| parsed.d[r]).collect(),
        targets,
        row_ids: kept.iter().map(|&r| r + 1).collect(),
        duplicates_dropped,
        filtered_out,
        notices,
        groups,
    })
}

/// A loss more than this many times its target's median is a far outlier: no real run's loss
/// is, and one such row dominates any mean or sum of per-row losses.
pub const FAR_OUTLIER: f64 = 1e3;

/// The rows of target `name` (values `y`, table rows `kept`) that are far outliers, as a
/// notice: what they do to a fit.
fn far_outliers(name: &str, y: &[f64], kept: &[usize]) -> Option<String> {
    let middle = median(y)?;
    let limit = FAR_OUTLIER * middle;
    let far: Vec<String> = y
        .iter()
        .zip(kept)
        .filter(|(v, _)| **v > limit)
        .map(|(v, r)| format!("row {} (line {}) holds {v:e}", r + 1, r + 2))
        .collect();
    if far.is_empty() {
        return None;
    }
    Some(format!(
        "{name}: {}, more than {FAR_OUTLIER} times the median loss {middle}: such a row dominates the \
         reported objective; a Huber or absolute-error fit of the raw loss bounds its pull (its \
         parameters are fitted with the loss at twice the largest of the others, which moves \
         them not at all), a squared error or a log residual does not",
        far.join(", ")
    ))
}

/// The median of the finite values of `y`, if there are any.
pub fn median(y: &[f64]) -> Option<f64> {
    let mut v: Vec<f64> = y.iter().copied().filter(|v| v.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    Some(v[v.len() / 2])
}

/// Evaluate `--where`-style expressions (ANDed) on the rows of `table` (the table `ds` was
/// loaded from) without building a Dataset: returns a keep-mask aligned with `ds.row_ids`.
/// Used for `--train EXPR`/`--test EXPR` splits, which refer to raw columns of the same table.
/// The columns the expressions compare with numbers must be numeric in every row of the table.
pub fn mask(ds: &Dataset, table: &Table, exprs: &[String]) -> Result<Vec<bool>> {
    let parsed = exprs
        .iter()
        .map(|e| expr::parse_for(e, "--train/--test"))
        .collect::<Result<Vec<_>>>()?;
    if exprs.is_empty() {
        return Ok(vec![true; ds.rows()]);
    }
    let (cols, resolved) = resolve_filters(table, &parsed, exprs, "--train/--test")?;
    let numeric: Vec<bool> = (0..cols.len())
        .map(|i| resolved.iter().any(|e| e.compares_number(i)))
        .collect();
    let mut vals = vec![Vec::with_capacity(table.len()); cols.len()];
    for r in 0..table.len() {
        for (i, &c) in cols.iter().enumerate() {
            vals[i].push(if numeric[i] {
                table.required_number(r, c)?
            } else {
                f64::NAN
            });
        }
    }
    ds.row_ids
        .iter()
        .map(|&id| {
            let r = table_row(table, id)?;
            Ok(resolved
                .iter()
                .all(|e| e.eval(&|i| vals[i][r], &|i, s| table.cell(r, cols[i]) == s)))
        })
        .collect()
}

/// The numbers in column `name` of `table` (the table `ds` was loaded from) at the rows of
/// `ds`: what a backtest rolls over (`--by`). `what` names the flag in messages; an empty or
/// non-numeric cell in a kept row is an error at its row and column.
pub fn column_values(ds: &Dataset, table: &Table, name: &str, what: &str) -> Result<Vec<f64>> {
    let c = table.require(name, what)?;
    ds.row_ids
        .iter()
        .map(|&id| table.required_number(table_row(table, id)?, c))
        .collect()
}

/// The 0-based row of `table` that a dataset's 1-based `id` names: an error if the file has
/// fewer rows than the dataset was loaded from.
fn table_row(table: &Table, id: usize) -> Result<usize> {
    if id == 0 || id > table.len() {
        return Err(table.error(
            Some(id),
            None,
            format!(
                "the dataset has row {id} but the file has {} data rows; was it changed after \
                 loading?",
                table.len()
            ),
        ));
    }
    Ok(id - 1)
}

/// Bind filter expressions to a table: the distinct columns they mention and the expressions
/// rewritten to positions in that list. `what` names the flag in messages.
fn resolve_filters(
    table: &Table,
    exprs: &[Expr],
    texts: &[String],
    what: &str,
) -> Result<(Vec<usize>, Vec<Expr<usize>>)> {
    let mut cols: Vec<usize> = Vec::new();
    for (e, text) in exprs.iter().zip(texts) {
        for name in e.columns() {
            let Some(c) = table.find(name) else {
                return Err(table.error(
                    None,
                    Some(name),
                    format!(
                        "unknown column '{name}' in {what} expression `{text}`; \
                         available columns: {}",
                        table.available()
                    ),
                ));
            };
            table.check_unique(c)?;
            if !cols.contains(&c) {
                cols.push(c);
            }
        }
    }
    let lookup = |name: &str| {
        let c = table.find(name)?;
        cols.iter().position(|&x| x == c)
    };
    let resolved = exprs
        .iter()
        .map(|e| e.resolve(&lookup).expect("columns checked above"))
        .collect();
    Ok((cols, resolved))
}

/// Find every used column, or fail naming what is missing.
fn resolve(table: &Table, spec: &DataSpec, exprs: &[Expr]) -> Result<Resolved> {
    let auto = |names: &[&str]| names.iter().find_map(|n| table.find(n));
    let quoted = |names: &[&str]| {
        names
            .iter()
            .map(|n| format!("'{n}'"))
            .collect::<Vec<_>>()
            .join(", ")
    };

    let n = match &spec.n_col {
        Some(name) => Some(table.require(name, "the model-size column")?),
        None => auto(&N_NAMES),
    };
    if spec.needs_scale && n.is_none() {
        return Err(table.error(
            None,
            None,
            format!(
                "no model-size column: looked for {} (name the model-size column explicitly); \
                 available columns: {}",
                quoted(&N_NAMES),
                table.available()
            ),
        ));
    }
    if let Some(c) = n {
        table.check_unique(c)?;
    }

    let d = if let Some(name) = &spec.flops_col {
        let c = table.require(name, "the training-FLOP column")?;
        if n.is_none() {
            return Err(table.error(
                None,
                Some(name),
                "deriving D = C / (6 N) from a FLOP column needs a model-size column".into(),
            ));
        }
        DSource::Flops(c)
    } else if let Some(name) = &spec.d_col {
        DSource::Column(table.require(name, "the token column")?)
    } else {
        match auto(&D_NAMES) {
            Some(c) => {
                table.check_unique(c)?;
                DSource::Column(c)
            }
            None if spec.needs_scale => {
                return Err(table.error(
                    None,
                    None,
                    format!(
                        "no token column: looked for {} (name the token column explicitly, \
                         or derive D from a training-FLOP column); available columns: {}",
                        quoted(&D_NAMES),
                        table.available()
                    ),
                ))
            }
            None => DSource::None,
        }
    };

    let prefix = if spec.weight_prefix.is_empty() {
        DEFAULT_WEIGHT_PREFIX
    } else {
        spec.weight_prefix.as_str()
    };
    let weight_cols: Vec<usize> = (0..table.header().len())
        .filter(|&i| table.header()[i].starts_with(prefix))
        .collect();
    let (weights, unused_weights) = if spec.needs_mixture {
        if weight_cols.is_empty() {
            return Err(table.error(
                None,
                None,
                format!(
                    "no weight columns: the law needs a mixture, given as columns named \
                     '{prefix}<domain>'; available columns: {}",
                    table.available()
                ),
            ));
        }
        if weight_cols.len() > MAX_DOMAINS {
            return Err(table.error(
                None,
                None,
                format!(
                    "{} weight columns ('{prefix}*'), more than the {MAX_DOMAINS} domains supported",
                    weight_cols.len()
                ),
            ));
        }
        let mut w = Vec::with_capacity(weight_cols.len());
        for &c in &weight_cols {
            table.check_unique(c)?;
            let domain = table.header()[c][prefix.len()..].to_string();
            if domain.is_empty() {
                return Err(table.error(
                    None,
                    Some(&table.header()[c]),
                    format!("weight column without a domain name after the prefix '{prefix}'"),
                ));
            }
            w.push((c, domain));
        }
        (w, Vec::new())
    } else {
        (Vec::new(), weight_cols)
    };

    let mut targets: Vec<usize> = Vec::new();
    if spec.targets.is_empty() {
        targets = (0..table.header().len())
            .filter(|&i| table.header()[i].ends_with("_loss"))
            .collect();
        if targets.is_empty() {
            if let Some(c) = table.find("loss") {
                targets.push(c);
            }
        }
        if targets.is_empty() {
            return Err(table.error(
                None,
                None,
                format!(
                    "no target columns: found no column ending in '_loss' and none named \
                     'loss' (name targets explicitly); available columns: {}",
                    table.available()
                ),
            ));
        }
    } else {
        for name in &spec.targets {
            let c = match table
                .find(name)
                .or_else(|| table.find(&format!("{name}_loss")))
            {
                Some(c) => c,
                None if spec.targets_optional => continue,
                None => table.require(name, "a target")?,
            };
            if !targets.contains(&c) {
                targets.push(c);
            }
        }
    }
    for &c in &targets {
        table.check_unique(c)?;
        // `avg` names the targets' mean wherever a goal is chosen (optimize, sweep, report).
        if table.header()[c] == AVG {
            return Err(table.error(
                None,
                Some(AVG),
                "a target may not be called 'avg': optimize, sweep and report call the mean of \
                 the targets so; rename the column (e.g. avg_loss)"
                    .into(),
            ));
        }
    }

    let (filter_cols, filters) = resolve_filters(table, exprs, &spec.filters, "--where")?;
    let filter_numeric = (0..filter_cols.len())
        .map(|i| filters.iter().any(|e| e.compares_number(i)))
        .collect();
    let group = match &spec.group_by {
        Some(name) => Some(table.require(name, "the column to group by")?),
        None => None,
    };
    // One column in two roles (`--n-col X --d-col X`, a weight column as a target) would fit a
    // law to a column against itself: never what was meant.
    let mut roles: Vec<(usize, &str)> = Vec::new();
    roles.extend(n.map(|c| (c, "the model size N")));
    match d {
        DSource::Column(c) => roles.push((c, "the token count D")),
        DSource::Flops(c) => roles.push((c, "the training FLOP")),
        DSource::None => {}
    }
    roles.extend(weights.iter().map(|(c, _)| (*c, "a domain weight")));
    roles.extend(targets.iter().map(|&c| (c, "a target")));
    roles.extend(group.map(|c| (c, "the group")));
    for (i, (c, role)) in roles.iter().enumerate() {
        if let Some((_, first)) = roles[..i].iter().find(|(o, _)| o == c) {
            return Err(table.error(
                None,
                Some(&table.header()[*c]),
                format!(
                    "the column is used as {first} and as {role}: give each role its own column"
                ),
            ));
        }
    }
    Ok(Resolved {
        n,
        d,
        weights,
        unused_weights,
        targets,
        filter_cols,
        filters,
        filter_numeric,
        group,
    })
}

/// Parse and validate every used cell, row by row, so the first error reported is the first
/// in the file.
fn parse_rows(table: &Table, spec: &DataSpec, cols: &Resolved) -> Result<Parsed> {
    let rows = table.len();
    let k = cols.weights.len();
    let mut p = Parsed {
        n: Vec::with_capacity(rows),
        d: Vec::with_capacity(rows),
        h: Vec::with_capacity(rows * k),
        y: vec![Vec::with_capacity(rows); cols.targets.len()],
        filter_vals: vec![Vec::with_capacity(rows); cols.filter_cols.len()],
        group: Vec::with_capacity(if cols.group.is_some() { rows } else { 0 }),
    };
    let prefix_glob = format!(
        "{}*",
        if spec.weight_prefix.is_empty() {
            DEFAULT_WEIGHT_PREFIX
        } else {
            &spec.weight_prefix
        }
    );
    for r in 0..rows {
        let n = match cols.n {
            Some(c) => {
                let n = table.required_number(r, c)?;
                if n <= 0.0 {
                    return Err(table.cell_error(
                        r,
                        c,
                        format!("model size N must be positive, got {}", number(n)),
                    ));
                }
                n
            }
            None => 1.0,
        };
        let d = match cols.d {
            DSource::Column(c) => {
                let d = table.required_number(r, c)?;
                if d <= 0.0 {
                    return Err(table.cell_error(
                        r,
                        c,
                        format!("token count D must be positive, got {}", number(d)),
                    ));
                }
                d
            }
            DSource::Flops(c) => {
                let flops = table.required_number(r, c)?;
                let d = flops / (6.0 * n);
                if d <= 0.0 || !d.is_finite() {
                    return Err(table.cell_error(
                        r,
                        c,
                        format!(
                            "token count D = C / (6 N) must be positive and finite, got {} \
                             (C = {}, N = {})",
                            number(d),
                            number(flops),
                            number(n)
                        ),
                    ));
                }
                d
            }
            DSource::None => 1.0,
        };
        p.n.push(n);
        p.d.push(d);

        let mut sum = 0.0;
        for &(c, _) in &cols.weights {
            let w = table.required_number(r, c)?;
            if w < 0.0 {
                return Err(table.cell_error(
                    r,
                    c,
                    format!("weight must be non-negative, got {w}"),
                ));
            }
            sum += w;
            // `+ 0.0` turns -0.0 into 0.0, so equal weights have equal bits for the duplicate key.
            p.h.push(w + 0.0);
        }
        if k > 0 && (sum - 1.0).abs() > WEIGHT_SUM_TOL {
            return Err(table.error(
                Some(r + 1),
                Some(&prefix_glob),
                format!("weights sum to {sum}, not 1 (tolerance {WEIGHT_SUM_TOL})"),
            ));
        }

        for (t, &c) in cols.targets.iter().enumerate() {
            let y = match table.number(r, c)? {
                None => f64::NAN,
                Some(y) if y <= 0.0 => {
                    return Err(table.cell_error(
                        r,
                        c,
                        format!("loss must be positive, got {}", number(y)),
                    ))
                }
                // Below the smallest normal number a relative error overflows: a fit file could
                // not record its MRE.
                Some(y) if !y.is_normal() => {
                    return Err(table.cell_error(
                        r,
                        c,
                        format!(
                            "loss {} is below the smallest normal number ({:e}): not a loss",
                            number(y),
                            f64::MIN_POSITIVE
                        ),
                    ))
                }
                Some(y) => y,
            };
            p.y[t].push(y);
        }
        for (i, &c) in cols.filter_cols.iter().enumerate() {
            p.filter_vals[i].push(if cols.filter_numeric[i] {
                table.required_number(r, c)?
            } else {
                f64::NAN
            });
        }
        if let Some(c) = cols.group {
            let value = table.cell(r, c);
            if value.is_empty() {
                return Err(table.cell_error(
                    r,
                    c,
                    "empty cell; the rows are grouped by this column, so every row needs a group"
                        .into(),
                ));
            }
            p.group.push(value.into_owned());
        }
    }
    Ok(p)
}

/// The rows of `rows` (0-based, in order) that are not duplicates of an earlier kept row.
///
/// A duplicate has identical weights, identical N, identical target values (two empty cells
/// count as identical) and D within relative [`DUP_REL_TOL`]. Rows are bucketed by a hash key
/// of everything but D; within a bucket (in practice one or two rows) D is compared directly,
/// so the pass is linear in the number of rows.
fn dedup(table: &Table, cols: &Resolved, p: &Parsed, rows: &[usize]) -> Vec<usize> {
    let k = cols.weights.len();
    let bits = |v: f64| -> u64 {
        if v.is_nan() {
            f64::NAN.to_bits()
        } else {
            v.to_bits()
        }
    };
    // Key: weights, N and target values as bits, and the text of unused weight columns and of
    // the group (rows of two groups are never duplicates).
    type Key<'a> = (Vec<u64>, Vec<Cow<'a, str>>);
    let mut buckets: HashMap<Key, Vec<f64>> = HashMap::new();
    let mut kept = Vec::with_capacity(rows.len());
    for &r in rows {
        let mut nums = Vec::with_capacity(k + 1 + p.y.len());
        nums.extend(p.h[r * k..(r + 1) * k].iter().map(|&w| bits(w)));
        nums.push(bits(p.n[r]));
        nums.extend(p.y.iter().map(|y| bits(y[r])));
        let mut text: Vec<Cow<str>> = cols
            .unused_weights
            .iter()
            .map(|&c| table.cell(r, c))
            .collect();
        if let Some(g) = p.group.get(r) {
            text.push(Cow::Borrowed(g));
        }
        let d = p.d[r];
        let seen = buckets.entry((nums, text)).or_default();
        let dup = seen
            .iter()
            .any(|&d0| (d - d0).abs() <= DUP_REL_TOL * d.abs().max(d0.abs()));
        if !dup {
            seen.push(d);
            kept.push(r);
        }
    }
    kept
}

/// Epoch's outlier rule on one target: keep `y < sorted(y)[-K]` over the non-empty values, so
/// ties at the threshold are all dropped. Dropped values become [`dropped_nan`]. If `K` is at
/// least the number of values, all are dropped. Returns how many were dropped.
fn drop_highest(y: &mut [f64], k: usize) -> usize {
    if k == 0 {
        return 0;
    }
    let mut sorted: Vec<f64> = y.iter().copied().filter(|v| !v.is_nan()).collect();
    sorted.sort_by(|a, b| a.total_cmp(b));
    let threshold = if k >= sorted.len() {
        f64::NEG_INFINITY
    } else {
        sorted[sorted.len() - k]
    };
    let mut dropped = 0;
    for v in y.iter_mut() {
        if !v.is_nan() && *v >= threshold {
            *v = dropped_nan();
            dropped += 1;
        }
    }
    dropped
}

#[cfg(test)]
mod tests;
