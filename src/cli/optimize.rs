//! `mixlaw optimize`: optimal mixtures from a fit file.

use std::path::PathBuf;

use clap::Args;

use crate::data::Table;
use crate::fit::FitFile;
use crate::law::Law;
use crate::mixture::{
    Certificate, Constraints, OptimizeSettings, Optimum, Scale, Solution, Weighting,
};
use crate::report::{num, TextTable};
use crate::{Error, Result};

/// The fit file of `optimize` and `sweep`.
#[derive(Args)]
pub struct FitFileArg {
    /// The fit file (`mixlaw fit --out`).
    #[arg(long, value_name = "FIT.json")]
    fit: PathBuf,
}

impl FitFileArg {
    /// The fit file and its law.
    pub fn read(&self) -> Result<(FitFile, Law)> {
        FitFile::read(&self.fit)
    }

    /// The fit file's path.
    pub fn path(&self) -> &std::path::Path {
        &self.fit
    }
}

/// What `optimize` and `sweep` share: the group, the scale, constraints and the search.
#[derive(Args, Clone, Debug)]
pub struct MixtureArgs {
    /// The group whose laws to use, of a fit grouped by a column (`fit --group-by`); required
    /// when the fit has several groups.
    #[arg(long, value_name = "VALUE")]
    group: Option<String>,
    /// Model size N in parameters (with --d, unless --flops).
    #[arg(long)]
    n: Option<f64>,
    /// Training tokens D (with --n, unless --flops).
    #[arg(long)]
    d: Option<f64>,
    /// A compute budget C in FLOP: choose N (with D = C/(6N)) and h together.
    #[arg(long, conflicts_with_all = ["n", "d"])]
    flops: Option<f64>,
    /// Lowest weight of a domain, DOMAIN=x (repeatable).
    #[arg(long = "min", value_name = "DOMAIN=x")]
    min: Vec<String>,
    /// Highest weight of a domain, DOMAIN=x (repeatable).
    #[arg(long = "max", value_name = "DOMAIN=x")]
    max: Vec<String>,
    /// Tokens available for a domain, DOMAIN=tokens: h·D may not exceed it (repeatable).
    #[arg(long = "available", value_name = "DOMAIN=tokens")]
    available: Vec<String>,
    /// Lattice resolution r: the sweep visits every h with h_i = j_i / r.
    #[arg(long, default_value_t = 20)]
    resolution: usize,
    /// Best lattice points refined by mirror descent, per target.
    #[arg(long, default_value_t = 4)]
    top: usize,
    /// Sweep a lattice of more than 1e10 points (all sweeps together) rather than refuse it.
    #[arg(long)]
    large_lattice: bool,
    /// Where the lattice sweep's predictions run; the refinement is always f64 on the CPU.
    #[arg(long, value_enum, default_value = "auto")]
    backend: super::BackendArg,
}

impl MixtureArgs {
    /// The settings these flags give (weightings left empty), solving at `scale`.
    pub fn settings(&self, scale: Scale) -> Result<OptimizeSettings> {
        Ok(OptimizeSettings {
            scale,
            group: self.group.clone(),
            weightings: Vec::new(),
            constraints: Constraints {
                min: pairs(&self.min, "min")?,
                max: pairs(&self.max, "max")?,
                available: pairs(&self.available, "available")?,
            },
            resolution: self.resolution,
            top: self.top,
            large_lattice: self.large_lattice,
        })
    }

    /// Whether a scale was given (`--n`, `--d` or `--flops`): a report optimises only then.
    pub fn given(&self) -> bool {
        self.n.is_some() || self.d.is_some() || self.flops.is_some()
    }

    /// The scale `--n` and `--d`, or `--flops`, give.
    pub fn scale(&self) -> Result<Scale> {
        match (self.n, self.d, self.flops) {
            (_, _, Some(c)) => Ok(Scale::Flops(c)),
            (Some(n), Some(d), None) => Ok(Scale::At { n, d }),
            _ => Err(Error::usage(
                "give the scale to optimise at: --n and --d, or --flops",
            )),
        }
    }

    /// Open the backend of the lattice sweep, telling its notes to `tell`.
    pub fn backend(
        &self,
        law: &Law,
        tell: &mut dyn FnMut(String),
    ) -> Result<Box<dyn crate::backend::Backend>> {
        super::open_backend_told(self.backend, Some(law), tell)
    }
}

/// `DOMAIN=value` flags as pairs.
fn pairs(items: &[String], flag: &str) -> Result<Vec<(String, f64)>> {
    items
        .iter()
        .map(|item| {
            let (d, v) = item
                .split_once('=')
                .ok_or_else(|| Error::usage(format!("--{flag} {item}: expected DOMAIN=value")))?;
            let v: f64 = v.trim().parse().map_err(|_| {
                Error::usage(format!("--{flag} {item}: '{}' is not a number", v.trim()))
            })?;
            Ok((d.trim().to_string(), v))
        })
        .collect()
}

#[derive(Args)]
pub struct OptimizeCmd {
    #[command(flatten)]
    file: FitFileArg,
    #[command(flatten)]
    m: MixtureArgs,
    #[command(flatten)]
    goals: GoalArgs,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

/// What `optimize` minimises, and at which scales.
#[derive(Args, Clone, Debug)]
pub struct GoalArgs {
    /// Also solve at each of these model sizes (comma-separated): a table h*(N, D).
    #[arg(long, value_delimiter = ',')]
    pub n_grid: Vec<f64>,
    /// Also solve at each of these token counts (comma-separated): a table h*(N, D).
    #[arg(long, value_delimiter = ',')]
    pub d_grid: Vec<f64>,
    /// A fitted target to minimise, or `avg` for their uniform mean (repeatable) [default: avg].
    #[arg(long = "target")]
    pub targets: Vec<String>,
    /// A CSV of weightings of the fitted targets, one per row (column per target, optional
    /// `name` column).
    #[arg(long = "targets", value_name = "FILE.csv")]
    pub targets_file: Option<PathBuf>,
}

#[derive(serde::Serialize)]
struct Report<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    group: Option<&'a str>,
    n: f64,
    d: f64,
    resolution: usize,
    targets: Vec<SolutionJson<'a>>,
}

#[derive(serde::Serialize)]
struct SolutionJson<'a> {
    target: &'a str,
    h: serde_json::Map<String, serde_json::Value>,
    loss: f64,
    predicted: serde_json::Map<String, serde_json::Value>,
    lattice_h: serde_json::Map<String, serde_json::Value>,
    lattice_loss: f64,
    lattice_gap: f64,
    on_bounds: Vec<&'a str>,
    certificate: &'a Certificate,
}

fn named(
    names: impl Iterator<Item = String>,
    v: &[f64],
) -> serde_json::Map<String, serde_json::Value> {
    names
        .zip(v)
        .map(|(n, x)| (n, serde_json::json!(x)))
        .collect()
}

pub fn run(c: OptimizeCmd) -> Result<()> {
    let (file, law) = c.file.read()?;
    let optimum = compute(&file, &law, &c.m, &c.goals, &mut |line| errln!("{line}"))?;
    if c.json {
        super::print_json(&report(&file, &optimum));
        return Ok(());
    }
    let file = &file.of_group(optimum.group.as_deref());
    if optimum.flops.is_some() || optimum.scales.len() > 1 {
        if let Some(group) = group_words(file, &optimum) {
            outln!("{} law{group}\n", file.law);
        }
        print_scaled(file, &optimum);
        return Ok(());
    }
    let (n, d) = optimum.scales[0];
    let solutions: Vec<&Solution> = optimum.solutions.iter().map(|p| &p.solution).collect();
    let mut header = vec!["target".to_string()];
    header.extend(file.domains.iter().cloned());
    header.extend(["loss".into(), "lattice loss".into(), "on bounds".into()]);
    let mut t = TextTable::new(header);
    for s in &solutions {
        let mut row = vec![s.target.clone()];
        row.extend(s.h.iter().map(|v| format!("{v:.6}")));
        row.push(num(s.loss));
        row.push(num(s.lattice_loss));
        row.push(bound_names(s, &file.domains).join(" "));
        t.row(row);
    }
    outln!(
        "{} law{} at N = {:e}, D = {:e}; lattice r = {}, refined by mirror descent\n",
        file.law,
        group_words(file, &optimum).unwrap_or_default(),
        n,
        d,
        optimum.resolution
    );
    out!("{}", t.render());
    outln!();
    for s in &solutions {
        outln!("{}", certificate_line(s));
    }
    Ok(())
}

/// The optimum of `file`'s law that the flags ask for (the backend's notes told to `tell`).
pub fn compute(
    file: &FitFile,
    law: &Law,
    m: &MixtureArgs,
    goals: &GoalArgs,
    tell: &mut dyn FnMut(String),
) -> Result<Optimum> {
    let scale = match m.scale()? {
        Scale::At { n, d } if !goals.n_grid.is_empty() || !goals.d_grid.is_empty() => Scale::Grid {
            n,
            d,
            n_grid: goals.n_grid.clone(),
            d_grid: goals.d_grid.clone(),
        },
        scale => scale,
    };
    let mut settings = m.settings(scale)?;
    settings.check(file, law)?;
    let backend = m.backend(law, tell)?;
    // Weightings are of the group's targets.
    let file = &file.select_group(settings.group.as_deref())?;
    settings.weightings = Weighting::named(&goals.targets, file)?;
    if let Some(path) = &goals.targets_file {
        settings
            .weightings
            .extend(Weighting::read(&Table::read(path)?, file)?);
    }
    if let Some(line) = settings.lattice_notice(file, law)? {
        tell(line);
    }
    crate::optimize(file, law, &settings, backend.as_ref())
}

/// The optimum as `--json` prints it: at one scale `{n, d, resolution, targets}`; at several
/// (grids, or a FLOP budget) `{resolution, flops, targets}` with `n` and `d` in each target;
/// with a `group` first for a grouped fit.
pub fn report(file: &FitFile, optimum: &Optimum) -> serde_json::Value {
    let file = &file.of_group(optimum.group.as_deref());
    if optimum.flops.is_some() || optimum.scales.len() > 1 {
        let list: Vec<serde_json::Value> = optimum
            .solutions
            .iter()
            .map(|p| {
                let mut v = serde_json::to_value(to_json(file, &p.solution)).expect("serialisable");
                v["n"] = serde_json::json!(p.n);
                v["d"] = serde_json::json!(p.d);
                v
            })
            .collect();
        let mut report = serde_json::Map::new();
        if let Some(g) = &optimum.group {
            report.insert("group".into(), serde_json::json!(g));
        }
        report.insert("resolution".into(), serde_json::json!(optimum.resolution));
        report.insert("flops".into(), serde_json::json!(optimum.flops));
        report.insert("targets".into(), serde_json::json!(list));
        return serde_json::Value::Object(report);
    }
    let (n, d) = optimum.scales[0];
    serde_json::to_value(Report {
        group: optimum.group.as_deref(),
        n,
        d,
        resolution: optimum.resolution,
        targets: optimum
            .solutions
            .iter()
            .map(|p| to_json(file, &p.solution))
            .collect(),
    })
    .expect("serialisable")
}

/// Solutions at several scales: a table with N and D per row.
fn print_scaled(file: &FitFile, optimum: &Optimum) {
    let mut header = vec!["target".to_string(), "N".into(), "D".into()];
    header.extend(file.domains.iter().cloned());
    header.push("loss".into());
    let mut t = TextTable::new(header);
    for p in &optimum.solutions {
        let s = &p.solution;
        let mut row = vec![
            s.target.clone(),
            format!("{:.4e}", p.n),
            format!("{:.4e}", p.d),
        ];
        row.extend(s.h.iter().map(|v| format!("{v:.6}")));
        row.push(num(s.loss));
        t.row(row);
    }
    out!("{}", t.render());
}

/// ` of group COLUMN = 'VALUE'`, for a grouped fit's headings.
fn group_words(file: &FitFile, optimum: &Optimum) -> Option<String> {
    let column = file.data.group_by.as_ref()?;
    let group = optimum.group.as_ref()?;
    Some(format!(" of group {column} = '{group}'"))
}

/// The domains on a bound.
pub fn bound_names<'a>(s: &Solution, domains: &'a [String]) -> Vec<&'a str> {
    s.on_bounds.iter().map(|&i| domains[i].as_str()).collect()
}

fn to_json<'a>(file: &'a FitFile, s: &'a Solution) -> SolutionJson<'a> {
    SolutionJson {
        target: &s.target,
        h: named(file.domains.iter().cloned(), &s.h),
        loss: s.loss,
        predicted: named(file.targets.iter().map(|t| t.target.clone()), &s.predicted),
        lattice_h: named(file.domains.iter().cloned(), &s.lattice_h),
        lattice_loss: s.lattice_loss,
        lattice_gap: s.lattice_loss - s.loss,
        on_bounds: bound_names(s, &file.domains),
        certificate: &s.certificate,
    }
}

/// The certificate as a line below the table.
fn certificate_line(s: &Solution) -> String {
    match (&s.certificate.gap, &s.certificate.why) {
        (Some(gap), _) => format!(
            "{}: convex; the loss is within {gap:.1e} of the minimum (duality gap)",
            s.target
        ),
        (None, why) => format!(
            "{}: not certified ({}); the lattice guards against local minima",
            s.target,
            why.as_deref().unwrap_or("not convex")
        ),
    }
}
