//! `mixlaw optimize` and `mixlaw sweep`: optimal mixtures from a fit file.

use std::path::PathBuf;

use clap::Args;

use mixlaw::mixture::{optimize, Bounds, Laws, Objective, Search, Solution};
use mixlaw::report::{self, num, FitFile, Table};
use mixlaw::{Error, Result};

/// What both commands share: the fit, the scale, constraints and the search.
#[derive(Args)]
pub struct MixtureArgs {
    /// The fit file (`mixlaw fit --out`).
    #[arg(long, value_name = "FIT.json")]
    fit: PathBuf,
    /// Model size N in parameters.
    #[arg(long, required_unless_present = "flops")]
    n: Option<f64>,
    /// Training tokens D.
    #[arg(long, required_unless_present = "flops")]
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
    /// Where the lattice sweep's predictions run; the refinement is always f64 on the CPU.
    #[arg(long, value_enum, default_value = "auto")]
    backend: super::BackendArg,
}

#[derive(Args)]
pub struct OptimizeCmd {
    #[command(flatten)]
    m: MixtureArgs,
    /// Also solve at each of these model sizes (comma-separated): a table h*(N, D).
    #[arg(long, value_delimiter = ',')]
    n_grid: Vec<f64>,
    /// Also solve at each of these token counts (comma-separated): a table h*(N, D).
    #[arg(long, value_delimiter = ',')]
    d_grid: Vec<f64>,
    /// A fitted target to minimise, or `avg` for their uniform mean (repeatable) [default: avg].
    #[arg(long = "target")]
    targets: Vec<String>,
    /// A CSV of weightings of the fitted targets, one objective per row (column per target,
    /// optional `name` column).
    #[arg(long = "targets", value_name = "FILE.csv")]
    targets_file: Option<PathBuf>,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub struct SweepCmd {
    #[command(flatten)]
    m: MixtureArgs,
    /// Write the CSV here instead of standard output.
    #[arg(long, value_name = "CSV")]
    out: Option<PathBuf>,
    /// Overwrite an existing output file.
    #[arg(long)]
    force: bool,
}

fn domain_values(items: &[String], domains: &[String], flag: &str) -> Result<Vec<(usize, f64)>> {
    items
        .iter()
        .map(|item| {
            let (d, v) = item
                .split_once('=')
                .ok_or_else(|| Error::usage(format!("--{flag} {item}: expected DOMAIN=value")))?;
            let i = domains.iter().position(|x| x == d.trim()).ok_or_else(|| {
                Error::usage(format!(
                    "--{flag}: unknown domain '{}'; the domains are {}",
                    d.trim(),
                    domains.join(", ")
                ))
            })?;
            let v: f64 = v.trim().parse().map_err(|_| {
                Error::usage(format!("--{flag} {item}: '{}' is not a number", v.trim()))
            })?;
            Ok((i, v))
        })
        .collect()
}

/// The fit, the laws at the given scale (or, with `--flops`, at a placeholder scale that
/// [`at_flops`] replaces), the constraints and the search settings.
type Setup = (
    FitFile,
    Laws,
    Bounds,
    Search,
    Box<dyn mixlaw::backend::Backend>,
);

fn setup(m: &MixtureArgs) -> Result<Setup> {
    let (file, law) = FitFile::read(&m.fit)?;
    let (n, d) = match (m.n, m.d, m.flops) {
        (Some(n), Some(d), None) if n > 0.0 && d > 0.0 => (n, d),
        (None, None, Some(c)) if c > 0.0 => (1e9, c / 6e9),
        _ => {
            return Err(Error::usage(
                "give a positive --n and --d, or a positive --flops",
            ))
        }
    };
    let laws = Laws::new(&file, law, n, d)?;
    let k = file.domains.len();
    let mut bounds = Bounds::free(k);
    for (i, v) in domain_values(&m.min, &file.domains, "min")? {
        bounds.lo[i] = bounds.lo[i].max(v);
    }
    for (i, v) in domain_values(&m.max, &file.domains, "max")? {
        bounds.hi[i] = bounds.hi[i].min(v);
    }
    if !m.available.is_empty() && m.flops.is_some() {
        return Err(Error::usage(
            "--available needs a fixed D (--d), not --flops",
        ));
    }
    for (i, tokens) in domain_values(&m.available, &file.domains, "available")? {
        bounds.hi[i] = bounds.hi[i].min(tokens / d);
    }
    if m.resolution == 0 || m.top == 0 {
        return Err(Error::usage("--resolution and --top must be at least 1"));
    }
    let search = Search {
        resolution: m.resolution,
        top: m.top,
        max_iter: 100_000,
    };
    let backend = super::open_backend(m.backend)?;
    Ok((file, laws, bounds, search, backend))
}

fn one_hot(file: &FitFile, t: usize) -> Objective {
    let mut weights = vec![0.0; file.targets.len()];
    weights[t] = 1.0;
    Objective {
        name: file.targets[t].target.clone(),
        weights,
    }
}

fn avg(file: &FitFile) -> Objective {
    let n = file.targets.len() as f64;
    Objective {
        name: "avg".into(),
        weights: vec![1.0 / n; file.targets.len()],
    }
}

fn objectives(c: &OptimizeCmd, file: &FitFile) -> Result<Vec<Objective>> {
    let mut out = Vec::new();
    for t in &c.targets {
        if t == "avg" {
            out.push(avg(file));
            continue;
        }
        let i = file
            .targets
            .iter()
            .position(|x| x.target == *t || x.target == format!("{t}_loss"))
            .ok_or_else(|| {
                let names: Vec<&str> = file.targets.iter().map(|x| x.target.as_str()).collect();
                Error::usage(format!(
                    "no fitted target '{t}'; the fit has {} (or avg)",
                    names.join(", ")
                ))
            })?;
        out.push(one_hot(file, i));
    }
    if let Some(path) = &c.targets_file {
        out.extend(weightings(path, file)?);
    }
    if out.is_empty() {
        out.push(avg(file));
    }
    Ok(out)
}

/// Objectives from a CSV: a column per fitted target (missing columns weigh 0).
fn weightings(path: &PathBuf, file: &FitFile) -> Result<Vec<Objective>> {
    let bad = |row: Option<usize>, column: Option<String>, msg: String| Error::Data {
        at: mixlaw::error::Location {
            file: path.clone(),
            row,
            column,
        },
        msg,
    };
    let mut r = csv::Reader::from_path(path).map_err(|e| bad(None, None, e.to_string()))?;
    let header = r
        .headers()
        .map_err(|e| bad(None, None, e.to_string()))?
        .clone();
    for h in header.iter().filter(|h| *h != "name") {
        if !file.targets.iter().any(|t| t.target == h) {
            return Err(bad(
                None,
                Some(h.into()),
                format!(
                    "not a fitted target; the fit has {}",
                    file.targets
                        .iter()
                        .map(|t| t.target.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
    }
    let mut out = Vec::new();
    for (row, rec) in r.records().enumerate() {
        let rec = rec.map_err(|e| bad(Some(row + 1), None, e.to_string()))?;
        let mut weights = vec![0.0; file.targets.len()];
        let mut name = format!("row{}", row + 1);
        for (h, cell) in header.iter().zip(rec.iter()) {
            if h == "name" {
                name = cell.to_string();
                continue;
            }
            let v: f64 = cell
                .trim()
                .parse()
                .ok()
                .filter(|v: &f64| v.is_finite() && *v >= 0.0)
                .ok_or_else(|| {
                    bad(
                        Some(row + 1),
                        Some(h.into()),
                        format!("'{cell}' is not a non-negative number"),
                    )
                })?;
            weights[file
                .targets
                .iter()
                .position(|t| t.target == h)
                .expect("checked")] = v;
        }
        if weights.iter().all(|&w| w == 0.0) {
            return Err(bad(Some(row + 1), None, "every weight is 0".into()));
        }
        out.push(Objective { name, weights });
    }
    Ok(out)
}

#[derive(serde::Serialize)]
struct Report<'a> {
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

/// Raw (N, D) at which to solve: the given point, or the grid `--n-grid × --d-grid` (either
/// defaulting to the given value).
fn scales(c: &OptimizeCmd) -> Result<Vec<(f64, f64)>> {
    let ns: Vec<f64> = if c.n_grid.is_empty() {
        c.m.n.into_iter().collect()
    } else {
        c.n_grid.clone()
    };
    let ds: Vec<f64> = if c.d_grid.is_empty() {
        c.m.d.into_iter().collect()
    } else {
        c.d_grid.clone()
    };
    if ns.is_empty() || ds.is_empty() || ns.iter().chain(&ds).any(|v| v.is_nan() || *v <= 0.0) {
        return Err(Error::usage(
            "--n-grid and --d-grid need positive values (and --n, --d where a grid is not given)",
        ));
    }
    Ok(ns
        .iter()
        .flat_map(|&n| ds.iter().map(move |&d| (n, d)))
        .collect())
}

/// With a compute budget `c`: for one objective the N (D = C/6N) and h minimising it — a scan
/// of ln N over [1e6, 1e13] followed by golden-section refinement around the best point.
fn at_flops(
    laws: &mut Laws,
    file: &FitFile,
    o: &Objective,
    bounds: &Bounds,
    search: &Search,
    backend: &dyn mixlaw::backend::Backend,
    c: f64,
) -> Result<(f64, Solution)> {
    let mut solve = |ln_n: f64| -> Result<Solution> {
        let n = ln_n.exp();
        laws.n = n / file.units.n;
        laws.d = c / (6.0 * n) / file.units.d;
        Ok(optimize(laws, std::slice::from_ref(o), bounds, search, backend)?.remove(0))
    };
    let (lo, hi) = (1e6f64.ln(), 1e13f64.ln());
    let steps = 28;
    let grid: Vec<f64> = (0..=steps)
        .map(|i| lo + (hi - lo) * i as f64 / steps as f64)
        .collect();
    let mut best = (0, f64::INFINITY);
    for (i, &x) in grid.iter().enumerate() {
        let v = solve(x)?.loss;
        if v < best.1 {
            best = (i, v);
        }
    }
    let (mut a, mut b) = (
        grid[best.0.saturating_sub(1)],
        grid[(best.0 + 1).min(steps)],
    );
    let phi = (5f64.sqrt() - 1.0) / 2.0;
    while b - a > 1e-6 {
        let (x1, x2) = (b - phi * (b - a), a + phi * (b - a));
        if solve(x1)?.loss < solve(x2)?.loss {
            b = x2;
        } else {
            a = x1;
        }
    }
    let x = 0.5 * (a + b);
    Ok((x.exp(), solve(x)?))
}

pub fn run_optimize(c: OptimizeCmd) -> Result<()> {
    let (file, mut laws, bounds, search, backend) = setup(&c.m)?;
    let objs = objectives(&c, &file)?;
    if let Some(flops) = c.m.flops {
        let mut rows = Vec::new();
        for o in &objs {
            let (n, sol) = at_flops(
                &mut laws,
                &file,
                o,
                &bounds,
                &search,
                backend.as_ref(),
                flops,
            )?;
            rows.push((n, flops / (6.0 * n), sol));
        }
        return print_scaled(&c, &file, &search, rows);
    }
    let points = scales(&c)?;
    if points.len() > 1 {
        let mut rows = Vec::new();
        for &(n, d) in &points {
            laws.n = n / file.units.n;
            laws.d = d / file.units.d;
            for sol in optimize(&laws, &objs, &bounds, &search, backend.as_ref())? {
                rows.push((n, d, sol));
            }
        }
        return print_scaled(&c, &file, &search, rows);
    }
    let (n, d) = points[0];
    let sols = optimize(&laws, &objs, &bounds, &search, backend.as_ref())?;
    if c.json {
        let rep = Report {
            n,
            d,
            resolution: search.resolution,
            targets: sols.iter().map(|s| to_json(&file, s)).collect(),
        };
        println!(
            "{}",
            serde_json::to_string_pretty(&rep).expect("serialisable")
        );
        return Ok(());
    }
    let mut header = vec!["target".to_string()];
    header.extend(file.domains.iter().cloned());
    header.extend(["loss".into(), "lattice loss".into(), "on bounds".into()]);
    let mut t = Table::new(header);
    for s in &sols {
        let mut row = vec![s.target.clone()];
        row.extend(s.h.iter().map(|v| format!("{v:.6}")));
        row.push(num(s.loss));
        row.push(num(s.lattice_loss));
        row.push(
            s.on_bounds
                .iter()
                .map(|&i| file.domains[i].as_str())
                .collect::<Vec<_>>()
                .join(" "),
        );
        t.row(row);
    }
    println!(
        "{} law at N = {:e}, D = {:e}; lattice r = {}, refined by mirror descent\n",
        file.law, n, d, search.resolution
    );
    print!("{}", t.render());
    Ok(())
}

/// Solutions at several scales: a table (or JSON list) with N and D per row.
fn print_scaled(
    c: &OptimizeCmd,
    file: &FitFile,
    search: &Search,
    rows: Vec<(f64, f64, Solution)>,
) -> Result<()> {
    if c.json {
        let list: Vec<serde_json::Value> = rows
            .iter()
            .map(|(n, d, s)| {
                let mut v = serde_json::to_value(to_json(file, s)).expect("serialisable");
                v["n"] = serde_json::json!(n);
                v["d"] = serde_json::json!(d);
                v
            })
            .collect();
        let rep = serde_json::json!({ "resolution": search.resolution, "flops": c.m.flops, "targets": list });
        println!(
            "{}",
            serde_json::to_string_pretty(&rep).expect("serialisable")
        );
        return Ok(());
    }
    let mut header = vec!["target".to_string(), "N".into(), "D".into()];
    header.extend(file.domains.iter().cloned());
    header.push("loss".into());
    let mut t = Table::new(header);
    for (n, d, s) in &rows {
        let mut row = vec![s.target.clone(), format!("{n:.4e}"), format!("{d:.4e}")];
        row.extend(s.h.iter().map(|v| format!("{v:.6}")));
        row.push(num(s.loss));
        t.row(row);
    }
    print!("{}", t.render());
    Ok(())
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
        on_bounds: s
            .on_bounds
            .iter()
            .map(|&i| file.domains[i].as_str())
            .collect(),
    }
}

/// Every one-hot target and `avg`, as one CSV: target, h per domain, loss, lattice loss.
pub fn run_sweep(c: SweepCmd) -> Result<()> {
    if c.m.flops.is_some() {
        return Err(Error::usage(
            "sweep solves at a fixed --n and --d; use optimize --flops for a budget",
        ));
    }
    let (file, laws, bounds, search, backend) = setup(&c.m)?;
    if let Some(out) = &c.out {
        report::check_writable(out, c.force)?;
    }
    let mut objs: Vec<Objective> = (0..file.targets.len()).map(|t| one_hot(&file, t)).collect();
    objs.push(avg(&file));
    let sols = optimize(&laws, &objs, &bounds, &search, backend.as_ref())?;
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header = vec!["target".to_string()];
    header.extend(file.domains.iter().map(|d| format!("h_{d}")));
    header.extend(file.targets.iter().map(|t| format!("pred_{}", t.target)));
    header.extend(["loss".into(), "lattice_loss".into(), "on_bounds".into()]);
    w.write_record(&header).expect("in-memory CSV");
    for s in &sols {
        let mut rec = vec![s.target.clone()];
        rec.extend(s.h.iter().map(|v| v.to_string()));
        rec.extend(s.predicted.iter().map(|v| v.to_string()));
        rec.push(s.loss.to_string());
        rec.push(s.lattice_loss.to_string());
        rec.push(
            s.on_bounds
                .iter()
                .map(|&i| file.domains[i].as_str())
                .collect::<Vec<_>>()
                .join(" "),
        );
        w.write_record(&rec).expect("in-memory CSV");
    }
    let bytes = w.into_inner().expect("in-memory CSV");
    mixlaw::report::emit(c.out.as_deref(), &bytes, c.force)
}
