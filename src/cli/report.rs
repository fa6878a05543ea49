//! `mixlaw report` and `mixlaw plot`: the HTML report of a fit, and single figures.

use std::path::{Path, PathBuf};

use clap::Args;

use super::optimize::{GoalArgs, MixtureArgs};
use super::ColumnArgs;
use crate::bootstrap::{Study, StudyFile, Summary};
use crate::data::{DataSpec, Table};
use crate::fit::{FitFile, Predictions};
use crate::law::Law;
use crate::mixture::Optimum;
use crate::plot::{self, Format, Inputs, Kind, Role};
use crate::{Error, Result};

/// A table a front end hands over once the spec has been checked (a file, or its columns).
pub type ReadTable<'a> = &'a dyn Fn(&DataSpec) -> Result<Table>;

/// What the figures are drawn from besides the fit: a table, a study, an optimum.
#[derive(Args, Clone, Debug)]
pub struct SourceArgs {
    /// A run table: predicted against observed, residuals, loss against N and D.
    #[arg(long, value_name = "CSV")]
    pub table: Option<PathBuf>,
    #[command(flatten)]
    pub columns: ColumnArgs,
    /// Rows the fit was made on (repeatable, ANDed) [default: the fit file's own --where]; the
    /// table's other rows are marked held out.
    #[arg(long = "train", value_name = "EXPR")]
    pub train: Vec<String>,
    /// Keep only these held-out rows (repeatable, ANDed), e.g. the eval's --test.
    #[arg(long = "test", value_name = "EXPR")]
    pub test: Vec<String>,
    /// A bootstrap study file: bands, intervals, histograms, α–β.
    #[arg(long, value_name = "STUDY.jsonl")]
    pub study: Option<PathBuf>,
    /// Confidence level of the study's intervals and bands.
    #[arg(long, default_value_t = 0.95)]
    pub level: f64,
    /// Optimise the mixture (the flags of `optimize`: --n, --d or --flops, --target, --min, ...)
    /// and draw it.
    #[command(flatten)]
    pub mixture: MixtureArgs,
    /// The goal of the optimum: a fitted target, or `avg` for their mean (repeatable)
    /// [default: avg].
    #[arg(long = "goal", value_name = "TARGET|avg")]
    pub goal: Vec<String>,
    /// Also solve at each of these model sizes (comma-separated): h*(N, D) heat maps.
    #[arg(long, value_delimiter = ',')]
    pub n_grid: Vec<f64>,
    /// Also solve at each of these token counts (comma-separated): h*(N, D) heat maps.
    #[arg(long, value_delimiter = ',')]
    pub d_grid: Vec<f64>,
}

impl SourceArgs {
    /// The files a figure reads: the fit file `fit`, and the table and study given.
    pub fn inputs<'a>(&'a self, fit: &'a std::path::Path) -> Vec<&'a std::path::Path> {
        std::iter::once(fit)
            .chain(self.table.as_deref())
            .chain(self.study.as_deref())
            .collect()
    }
}

/// What the sources hold, read.
pub struct Sources {
    table: Option<(Predictions, Vec<Role>, String)>,
    optimum: Option<Optimum>,
    study: Option<(Study, Summary)>,
}

impl Sources {
    /// Read the sources `args` name for `file`: its table given by `read` when there is one
    /// (`--table`, or a front end's columns), the study `study` (else `--study`'s file).
    pub fn read(
        file: &FitFile,
        law: &Law,
        args: &SourceArgs,
        read: Option<ReadTable>,
        study: Option<Study>,
        tell: &mut dyn FnMut(String),
    ) -> Result<Sources> {
        let from_path = |t: &PathBuf| {
            let t = t.clone();
            move |spec: &DataSpec| -> Result<Table> {
                spec.check()?;
                Table::read(&t)
            }
        };
        let by_path = args.table.as_ref().map(from_path);
        let read = read.or(by_path
            .as_ref()
            .map(|r| r as &dyn Fn(&DataSpec) -> Result<Table>));
        crate::bootstrap::check_level(args.level)?;
        let table = match read {
            Some(read) => {
                let spec = args.columns.spec(law);
                let table = read(&spec)?;
                let name = table.source().display().to_string();
                let (p, roles) =
                    plot::predictions(file, law, &table, &spec, &args.train, &args.test)?;
                for n in &p.notices {
                    tell(format!("note: {n}"));
                }
                Some((p, roles, name))
            }
            None => None,
        };
        let optimum = match &args.mixture {
            m if m.given() => {
                let goals = GoalArgs {
                    n_grid: args.n_grid.clone(),
                    d_grid: args.d_grid.clone(),
                    targets: args.goal.clone(),
                    targets_file: None,
                };
                Some(super::optimize::compute(file, law, m, &goals, tell)?)
            }
            _ => None,
        };
        let study = match (study, &args.study) {
            (Some(s), _) => Some(s),
            (None, Some(path)) => {
                let f = StudyFile::read(path)?;
                // Summarised as it stands, a shard or an unfinished study passes for the whole
                // study's intervals; `merge` refuses both, and here they are said.
                if let Some(s) = f.header.shard {
                    tell(format!(
                        "note: {} is shard {}/{} of its study: its figures show that shard's \
                         replicates only; `mixlaw merge` the shards for the whole study",
                        path.display(),
                        s.index,
                        s.count
                    ));
                }
                let want = f.expected_records();
                if f.records.len() != want {
                    tell(format!(
                        "note: {} is incomplete ({} of its {want} records): its figures show \
                         those; finish it with the same command and --resume",
                        path.display(),
                        f.records.len()
                    ));
                }
                Some(Study {
                    header: f.header,
                    records: f.records,
                })
            }
            (None, None) => None,
        };
        let study = match study {
            Some(s) => {
                let source = args.study.as_deref().unwrap_or(Path::new("the study"));
                let s = s.aligned_with(file, source)?;
                let summary = s.summarise(args.level, &[])?;
                Some((s, summary))
            }
            None => None,
        };
        Ok(Sources {
            table,
            optimum,
            study,
        })
    }

    /// The inputs of the figures.
    pub fn inputs<'a>(&'a self, file: &'a FitFile, law: &'a Law) -> Inputs<'a> {
        Inputs {
            fit: file,
            law,
            table: self
                .table
                .as_ref()
                .map(|(p, r, n)| (p, r.as_slice(), n.clone())),
            optimum: self.optimum.as_ref(),
            study: self.study.as_ref().map(|(s, sm)| (s, sm)),
        }
    }
}

/// `mixlaw report`.
#[derive(Args)]
pub struct ReportCmd {
    /// The fit file.
    #[arg(value_name = "FIT.json")]
    fit: PathBuf,
    #[command(flatten)]
    sources: SourceArgs,
    /// The report's title [default: the law and the fit file's name].
    #[arg(long)]
    title: Option<String>,
    /// Write the report here (one self-contained HTML file).
    #[arg(short, long, value_name = "REPORT.html")]
    out: PathBuf,
    /// Overwrite an existing output file.
    #[arg(long)]
    force: bool,
}

pub fn run(c: ReportCmd) -> Result<()> {
    let (file, law) = FitFile::read(&c.fit)?;
    crate::report::check_not_input(&c.out, &c.sources.inputs(&c.fit))?;
    crate::report::check_writable(&c.out, c.force)?;
    let html = html(
        &file,
        &law,
        &c.sources,
        None,
        None,
        c.title.as_deref(),
        &c.fit.display().to_string(),
        &mut |line| errln!("{line}"),
    )?;
    crate::report::write_atomic(&c.out, html.as_bytes(), c.force)
}

/// The report of `file` (called `name` in its default title) as HTML, with the table `read`
/// gives and the study `study` besides what `sources` names.
#[allow(clippy::too_many_arguments)]
pub fn html(
    file: &FitFile,
    law: &Law,
    sources: &SourceArgs,
    read: Option<ReadTable>,
    study: Option<Study>,
    title: Option<&str>,
    name: &str,
    tell: &mut dyn FnMut(String),
) -> Result<String> {
    let s = Sources::read(file, law, sources, read, study, tell)?;
    let title = title.map_or_else(
        || format!("mixlaw report: {} law, {name}", file.law),
        str::to_string,
    );
    plot::report(&s.inputs(file, law), &title)
}

/// `mixlaw plot`.
#[derive(Args)]
pub struct PlotCmd {
    /// The kind of figure.
    #[arg(value_enum)]
    kind: Kind,
    /// The fit file.
    #[arg(value_name = "FIT.json")]
    fit: PathBuf,
    #[command(flatten)]
    sources: SourceArgs,
    /// Of the figures of this kind, the one for this target.
    #[arg(long = "of", value_name = "TARGET")]
    of: Option<String>,
    /// Of the figures left, the one at this position (the error lists them).
    #[arg(long)]
    index: Option<usize>,
    /// Width and height in pixels.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "720,480",
        value_name = "W,H"
    )]
    size: Vec<u32>,
    /// Write the figure here (.svg or .png).
    #[arg(short, long, value_name = "FIG.svg|FIG.png")]
    out: PathBuf,
    /// Overwrite an existing output file.
    #[arg(long)]
    force: bool,
}

pub fn run_plot(c: PlotCmd) -> Result<()> {
    let format = Format::of(&c.out)?;
    let size = match c.size[..] {
        [w, h] if (64..=8192).contains(&w) && (64..=8192).contains(&h) => (w, h),
        _ => return Err(Error::usage("--size: W,H in pixels, each from 64 to 8192")),
    };
    let (file, law) = FitFile::read(&c.fit)?;
    crate::report::check_not_input(&c.out, &c.sources.inputs(&c.fit))?;
    crate::report::check_writable(&c.out, c.force)?;
    let bytes = figure(
        &file,
        &law,
        &c.sources,
        None,
        None,
        c.kind,
        c.of.as_deref(),
        c.index,
        format,
        size,
        &mut |line| errln!("{line}"),
    )?;
    crate::report::write_atomic(&c.out, &bytes, c.force)
}

/// One figure of `kind`, drawn: the one of target `of` and at `index` when there are several
/// (the table `read` gives and the study `study` besides what `sources` names).
#[allow(clippy::too_many_arguments)]
pub fn figure(
    file: &FitFile,
    law: &Law,
    sources: &SourceArgs,
    read: Option<ReadTable>,
    study: Option<Study>,
    kind: Kind,
    of: Option<&str>,
    index: Option<usize>,
    format: Format,
    size: (u32, u32),
    tell: &mut dyn FnMut(String),
) -> Result<Vec<u8>> {
    let s = Sources::read(file, law, sources, read, study, tell)?;
    let mut figs = s.inputs(file, law).figures(kind);
    if figs.is_empty() {
        return Err(Error::usage(format!(
            "no {} figure: it needs {}",
            plot::kind_name(kind),
            needs(kind)
        )));
    }
    if let Some(t) = of {
        figs.retain(|f| f.section == t || f.section.ends_with(&format!(": {t}")));
        if figs.is_empty() {
            return Err(Error::usage(format!(
                "no {} figure of target '{t}'",
                plot::kind_name(kind)
            )));
        }
    }
    let chosen = match (figs.len(), index) {
        (1, None) => 0,
        (n, Some(i)) if i < n => i,
        (n, _) => {
            let list: Vec<String> = figs
                .iter()
                .enumerate()
                .map(|(i, f)| format!("  {i}: {}", f.chart.title))
                .collect();
            return Err(Error::usage(format!(
                "{n} {} figures; choose one with --index (and --of TARGET):\n{}",
                plot::kind_name(kind),
                list.join("\n")
            )));
        }
    };
    figs[chosen].chart.render(format, size)
}

/// What a kind of figure needs, for the error when it is missing.
fn needs(kind: Kind) -> &'static str {
    match kind {
        Kind::Observed | Kind::Residuals | Kind::Scaling => "a table (--table)",
        Kind::Along | Kind::Simplex | Kind::Optimum => {
            "an optimum (--n and --d, or --flops) of a mixture law"
        }
        Kind::OptimumGrid => "optima on a grid (--n-grid and --d-grid)",
        Kind::Histograms | Kind::AlphaBeta => "a study (--study)",
    }
}
