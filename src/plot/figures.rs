//! The figures of the field, each built as a [`Chart`] from a fit and what goes with it: the
//! table's predictions, an optimum, a bootstrap study.
//!
//! The kinds follow the paper's own plots (predicted against observed with the y = x line, loss
//! against a mixture weight, optimal weights as bars) and the checks a careful reader makes
//! (residuals against every input, extrapolation in N and D with bootstrap bands, the
//! replicates' distributions).

use super::chart::{number, range, Axis, Cells, Chart, Layer, Mark};
use super::style::BLACK_INDEX;
use crate::bootstrap::{Study, Summary};
use crate::fit::{FitFile, Predictions};
use crate::law::{Law, Point};
use crate::mixture::{Laws, Optimum, Solution};

/// Whether a table's row was among those the fit was made on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// A row the fit used.
    Fit,
    /// A row the fit did not see (held out).
    Held,
}

/// One target's predictions: rows with an observation, with role, N, D, h, observed, predicted.
struct Rows<'a> {
    p: &'a Predictions,
    t: usize,
    idx: Vec<usize>,
    roles: &'a [Role],
}

impl<'a> Rows<'a> {
    /// The rows of `fit`'s target `t` (of its group, in a grouped fit) that have an observation;
    /// `None` when the predictions lack the target.
    fn new(fit: &FitFile, p: &'a Predictions, roles: &'a [Role], t: usize) -> Option<Rows<'a>> {
        let ti = p
            .targets
            .iter()
            .position(|x| x.target == fit.targets[t].target)?;
        let group = fit.targets[t].group.as_deref();
        let idx = (0..p.rows.len())
            .filter(|&r| p.targets[ti].observed[r].is_some())
            .filter(|&r| group_of(fit, p, r) == group)
            .collect();
        Some(Rows {
            p,
            t: ti,
            idx,
            roles,
        })
    }

    fn observed(&self, r: usize) -> f64 {
        self.p.targets[self.t].observed[r].expect("rows with observations")
    }

    fn predicted(&self, r: usize) -> f64 {
        self.p.targets[self.t].predicted[r]
    }

    /// The rows of `role`, as `f(row)` points.
    fn points(&self, role: Role, f: impl Fn(usize) -> (f64, f64)) -> Vec<(f64, f64)> {
        self.idx
            .iter()
            .filter(|&&r| self.roles[r] == role)
            .map(|&r| f(r))
            .collect()
    }

    /// Mean relative error (%) of the rows of `role`, if there are any.
    fn mre(&self, role: Role) -> Option<f64> {
        let e: Vec<f64> = self
            .idx
            .iter()
            .filter(|&&r| self.roles[r] == role)
            .map(|&r| (self.predicted(r) / self.observed(r) - 1.0).abs())
            .collect();
        (!e.is_empty()).then(|| 100.0 * e.iter().sum::<f64>() / e.len() as f64)
    }
}

/// The name of a target with its group (`experiment = x: loss`) in a grouped fit.
pub fn target_name(fit: &FitFile, t: usize) -> String {
    let tf = &fit.targets[t];
    match (&fit.data.group_by, &tf.group) {
        (Some(col), Some(g)) => format!("{col} = {g}: {}", tf.target),
        _ => tf.target.clone(),
    }
}

/// Predicted against observed loss of target `t`, the fit's rows and the held-out rows marked,
/// the y = x line, the MRE of each in the caption.
pub fn observed(
    fit: &FitFile,
    p: &Predictions,
    roles: &[Role],
    t: usize,
    data: &str,
) -> Option<Chart> {
    let rows = Rows::new(fit, p, roles, t)?;
    let name = target_name(fit, t);
    let mut c = Chart::new(
        format!(
            "{name}: predicted against observed loss ({} law, {data})",
            fit.law
        ),
        Axis::linear(format!("observed {} (nats)", fit.targets[t].target)),
        Axis::linear("predicted loss (nats)"),
    );
    let all: Vec<f64> = rows
        .idx
        .iter()
        .flat_map(|&r| [rows.observed(r), rows.predicted(r)])
        .collect();
    let (lo, hi) = range(all);
    c.layers.push(Layer::new(
        "y = x",
        BLACK_INDEX,
        Mark::Dashed,
        vec![(lo, lo), (hi, hi)],
    ));
    let fit_pts = rows.points(Role::Fit, |r| (rows.observed(r), rows.predicted(r)));
    let held = rows.points(Role::Held, |r| (rows.observed(r), rows.predicted(r)));
    c.layers.push(Layer::new(
        format!("fit rows ({})", fit_pts.len()),
        0,
        Mark::Points,
        fit_pts,
    ));
    if !held.is_empty() {
        c.layers.push(Layer::new(
            format!("held-out rows ({})", held.len()),
            5,
            Mark::Points,
            held,
        ));
    }
    let mre = |role| {
        rows.mre(role)
            .map_or("-".to_string(), |m| format!("{m:.3} %"))
    };
    c.caption = format!(
        "Mean relative error: {} on the rows fitted, {} on the held-out rows.",
        mre(Role::Fit),
        mre(Role::Held)
    );
    Some(c)
}

/// The group of prediction row `r` (None for an ungrouped fit).
fn group_of<'a>(fit: &FitFile, p: &'a Predictions, r: usize) -> Option<&'a str> {
    fit.data.group_by.as_ref()?;
    p.groups.as_ref().map(|g| g.names[g.of_row[r]].as_str())
}

/// What residuals are plotted against: its name, its axis and its value per row.
type Input<'a> = (String, Axis, Box<dyn Fn(usize) -> f64 + 'a>);

/// Relative residuals (%) of target `t` against N, D and each domain's weight.
pub fn residuals(fit: &FitFile, p: &Predictions, roles: &[Role], t: usize) -> Vec<Chart> {
    let Some(rows) = Rows::new(fit, p, roles, t) else {
        return Vec::new();
    };
    let name = target_name(fit, t);
    let k = p.domains.len();
    let res = |r: usize| 100.0 * (rows.predicted(r) / rows.observed(r) - 1.0);
    let mut inputs: Vec<Input> = vec![
        (
            "model size".into(),
            Axis::auto(
                "model size N (parameters)",
                rows.idx.iter().map(|&r| p.n[r]),
            ),
            Box::new(|r| p.n[r]),
        ),
        (
            "tokens".into(),
            Axis::auto("training tokens D", rows.idx.iter().map(|&r| p.d[r])),
            Box::new(|r| p.d[r]),
        ),
    ];
    for (i, d) in p.domains.iter().enumerate() {
        inputs.push((
            format!("weight of {d}"),
            Axis::linear(format!("weight of {d} (h_{d})")),
            Box::new(move |r| p.h[r * k + i]),
        ));
    }
    inputs
        .into_iter()
        .map(|(what, axis, x)| {
            let mut c = Chart::new(
                format!("{name}: residuals against {what}"),
                axis,
                Axis::linear("predicted / observed − 1 (%)"),
            );
            let xs: Vec<f64> = rows.idx.iter().map(|&r| x(r)).collect();
            let (lo, hi) = range(xs);
            c.layers.push(Layer::new(
                "",
                BLACK_INDEX,
                Mark::Dashed,
                vec![(lo, 0.0), (hi, 0.0)],
            ));
            c.layers.push(Layer::new(
                "fit rows",
                0,
                Mark::Points,
                rows.points(Role::Fit, |r| (x(r), res(r))),
            ));
            let held = rows.points(Role::Held, |r| (x(r), res(r)));
            if !held.is_empty() {
                c.layers
                    .push(Layer::new("held-out rows", 5, Mark::Points, held));
            }
            c.caption = "Relative residual of every row with an observation.".into();
            c
        })
        .collect()
}

/// `n` values from `lo` to `hi` evenly in log space.
fn geometric(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    (0..n)
        .map(|i| (lo.ln() + (hi.ln() - lo.ln()) * i as f64 / (n - 1) as f64).exp())
        .collect()
}

/// The percentile band of `f(params)` over a study's replicates of target `target`.
fn band(
    study: &Study,
    target: &str,
    level: f64,
    f: impl Fn(&[f64]) -> Vec<f64>,
) -> Option<(Vec<f64>, Vec<f64>)> {
    let reps: Vec<Vec<f64>> = study
        .records
        .iter()
        .filter(|r| r.target == target && r.objective.is_some())
        .map(|r| f(&r.params.values()))
        .collect();
    let m = reps.first()?.len();
    let q = (1.0 - level) / 2.0;
    let mut lo = Vec::with_capacity(m);
    let mut hi = Vec::with_capacity(m);
    for j in 0..m {
        let mut v: Vec<f64> = reps
            .iter()
            .map(|r| r[j])
            .filter(|x| x.is_finite())
            .collect();
        v.sort_by(f64::total_cmp);
        if v.is_empty() {
            return None;
        }
        lo.push(crate::bootstrap::quantile(&v, q));
        hi.push(crate::bootstrap::quantile(&v, 1.0 - q));
    }
    Some((lo, hi))
}

/// Loss of target `t` against model size and against tokens for the table's most-run mixture:
/// the runs as points (one colour per model size), the law's extrapolation as lines, and the
/// study's percentile band when there is one.
pub fn scaling(
    fit: &FitFile,
    law: &Law,
    p: &Predictions,
    roles: &[Role],
    t: usize,
    study: Option<(&Study, f64)>,
) -> Vec<Chart> {
    let Some(Rows {
        t: ti, idx: rows, ..
    }) = Rows::new(fit, p, roles, t)
    else {
        return Vec::new();
    };
    let k = p.domains.len();
    if rows.is_empty() {
        return Vec::new();
    }
    // The mixture with the most runs (for a law without a mixture, every row).
    let key = |r: usize| -> Vec<u64> {
        p.h[r * k..(r + 1) * k]
            .iter()
            .map(|v| v.to_bits())
            .collect()
    };
    let mut counts: Vec<(Vec<u64>, usize)> = Vec::new();
    for &r in &rows {
        match counts.iter_mut().find(|(h, _)| *h == key(r)) {
            Some(c) => c.1 += 1,
            None => counts.push((key(r), 1)),
        }
    }
    let best = counts.iter().max_by_key(|c| c.1).expect("rows").0.clone();
    let mine: Vec<usize> = rows.iter().copied().filter(|&r| key(r) == best).collect();
    let h: Vec<f64> = best.iter().map(|&b| f64::from_bits(b)).collect();
    let params = fit.param_vector(law, t);
    let units = fit.units;
    let eval =
        |ps: &[f64], n: f64, d: f64| law.eval(ps, &Point::new(n / units.n, d / units.d, &h), None);
    let mix = if k == 0 {
        String::new()
    } else {
        format!(
            " at h = ({})",
            p.domains
                .iter()
                .zip(&h)
                .map(|(d, v)| format!("{d} {v:.2}"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    let name = target_name(fit, t);
    let observed = |r: usize| p.targets[ti].observed[r].expect("observed");
    let (n_lo, n_hi) = range(mine.iter().map(|&r| p.n[r]));
    let (d_lo, d_hi) = range(mine.iter().map(|&r| p.d[r]));
    let mut sizes: Vec<f64> = mine.iter().map(|&r| p.n[r]).collect();
    sizes.sort_by(f64::total_cmp);
    sizes.dedup();
    let label = study.map_or(String::new(), |(_, l)| {
        format!(", {:.0} % bootstrap band", l * 100.0)
    });

    // Against tokens: a line per model size, extended to 4x the largest D.
    let mut by_d = Chart::new(
        format!("{name}: loss against tokens{mix}"),
        Axis::log("training tokens D"),
        Axis::auto("loss (nats)", mine.iter().map(|&r| observed(r))),
    );
    let ds = geometric(d_lo, 4.0 * d_hi, 40);
    for (i, &n) in sizes.iter().enumerate().take(7) {
        let line: Vec<(f64, f64)> = ds.iter().map(|&d| (d, eval(&params, n, d))).collect();
        if let Some((s, level)) = study {
            if let Some((lo, hi)) = band(s, &fit.targets[t].target, level, |ps| {
                ds.iter().map(|&d| eval(ps, n, d)).collect()
            }) {
                by_d.layers
                    .push(Layer::new("", i, Mark::Band { lo, hi }, line.clone()));
            }
        }
        by_d.layers.push(Layer::new(
            format!("N = {}", number(n)),
            i,
            Mark::Line,
            line,
        ));
        let pts = mine
            .iter()
            .filter(|&&r| p.n[r] == n)
            .map(|&r| (p.d[r], observed(r)))
            .collect();
        by_d.layers.push(Layer::new("", i, Mark::Points, pts));
    }
    by_d.caption = format!(
        "Points: the runs of this mixture; lines: the fitted law, extrapolated to 4x the largest D{label}."
    );

    // Against model size: the law at the largest D of the runs, to 10x the largest N; the runs
    // trained to that D as points.
    let mut by_n = Chart::new(
        format!(
            "{name}: loss against model size at D = {}{mix}",
            number(d_hi)
        ),
        Axis::log("model size N (parameters)"),
        Axis::auto("loss (nats)", mine.iter().map(|&r| observed(r))),
    );
    let ns = geometric(n_lo, 10.0 * n_hi, 40);
    let line: Vec<(f64, f64)> = ns.iter().map(|&n| (n, eval(&params, n, d_hi))).collect();
    if let Some((s, level)) = study {
        if let Some((lo, hi)) = band(s, &fit.targets[t].target, level, |ps| {
            ns.iter().map(|&n| eval(ps, n, d_hi)).collect()
        }) {
            by_n.layers
                .push(Layer::new("", 0, Mark::Band { lo, hi }, line.clone()));
        }
    }
    by_n.layers
        .push(Layer::new("fitted law", 0, Mark::Line, line));
    let pts: Vec<(f64, f64)> = mine
        .iter()
        .filter(|&&r| p.d[r] == d_hi)
        .map(|&r| (p.n[r], observed(r)))
        .collect();
    by_n.layers
        .push(Layer::new("runs at this D", 1, Mark::Points, pts));
    by_n.caption = format!("The fitted law extrapolated to 10x the largest model{label}.");
    vec![by_d, by_n]
}

/// A goal's loss as a function of the mixture.
type Goal<'a> = Box<dyn Fn(&[f64]) -> f64 + 'a>;

/// The objective a solution minimised, at `h`: its target's loss, or the targets' mean for
/// `avg`; `None` for a weighting this fit file cannot name.
fn objective<'a>(fit: &'a FitFile, laws: &'a Laws, s: &Solution) -> Option<Goal<'a>> {
    if s.target == crate::data::AVG {
        return Some(Box::new(move |h| {
            let v = laws.predict(h);
            v.iter().sum::<f64>() / v.len() as f64
        }));
    }
    let t = fit.targets.iter().position(|x| x.target == s.target)?;
    Some(Box::new(move |h| laws.predict(h)[t]))
}

/// `h` with domain `i` at weight `w` and the others rescaled in proportion.
fn along(h: &[f64], i: usize, w: f64) -> Vec<f64> {
    let rest = 1.0 - h[i];
    h.iter()
        .enumerate()
        .map(|(j, &v)| {
            if j == i {
                w
            } else if rest > 0.0 {
                v / rest * (1.0 - w)
            } else {
                (1.0 - w) / (h.len() - 1) as f64
            }
        })
        .collect()
}

/// Loss along each domain's weight (the others rescaled in proportion) through the optimum of
/// `s` at `n`, `d`, with h* marked.
pub fn along_weights(fit: &FitFile, law: &Law, s: &Solution, n: f64, d: f64) -> Option<Chart> {
    let laws = Laws::new(fit, law, n, d).ok()?;
    let f = objective(fit, &laws, s)?;
    let mut c = Chart::new(
        format!(
            "{}: loss along each domain's weight through h* (N = {}, D = {})",
            s.target,
            number(n),
            number(d)
        ),
        Axis::linear("weight of the domain (the others rescaled in proportion)"),
        Axis::linear("predicted loss (nats)"),
    );
    let ws: Vec<f64> = (0..=100).map(|i| 0.005 + 0.99 * i as f64 / 100.0).collect();
    for (i, dom) in fit.domains.iter().enumerate() {
        let line = ws.iter().map(|&w| (w, f(&along(&s.h, i, w)))).collect();
        c.layers.push(Layer::new(dom.clone(), i, Mark::Line, line));
    }
    let stars = fit
        .domains
        .iter()
        .enumerate()
        .map(|(i, _)| (s.h[i], s.loss))
        .collect();
    c.layers
        .push(Layer::new("h*", BLACK_INDEX, Mark::Star, stars));
    c.caption = format!(
        "h* (stars) minimises {}; its loss is {}.",
        s.target,
        number(s.loss)
    );
    Some(c)
}

/// For three domains, a ternary map of the predicted loss with the lattice best and h* marked;
/// for more, slices through h* over pairs of its three largest weights (the others held in
/// proportion).
pub fn simplex(fit: &FitFile, law: &Law, s: &Solution, n: f64, d: f64) -> Vec<Chart> {
    let Ok(laws) = Laws::new(fit, law, n, d) else {
        return Vec::new();
    };
    let Some(f) = objective(fit, &laws, s) else {
        return Vec::new();
    };
    let k = fit.domains.len();
    let scale = format!("N = {}, D = {}", number(n), number(d));
    if k == 3 {
        // Barycentric (a, b, c) at (b + c/2, c·√3/2); a triangular grid of r² cells.
        let r = 48;
        let xy = |h: [f64; 3]| (h[1] + h[2] / 2.0, h[2] * 3f64.sqrt() / 2.0);
        let mut cells = Cells {
            label: format!("predicted {} (nats)", s.target),
            polygons: Vec::new(),
            values: Vec::new(),
        };
        let at = |i: usize, j: usize| {
            let (b, c) = (i as f64 / r as f64, j as f64 / r as f64);
            [1.0 - b - c, b, c]
        };
        for i in 0..r {
            for j in 0..r - i {
                let tri = [at(i, j), at(i + 1, j), at(i, j + 1)];
                let centre = [0, 1, 2].map(|q| tri.iter().map(|t| t[q]).sum::<f64>() / 3.0);
                cells.polygons.push(tri.iter().map(|&t| xy(t)).collect());
                cells.values.push(f(&centre));
                if i + j + 1 < r {
                    let tri = [at(i + 1, j), at(i + 1, j + 1), at(i, j + 1)];
                    let centre = [0, 1, 2].map(|q| tri.iter().map(|t| t[q]).sum::<f64>() / 3.0);
                    cells.polygons.push(tri.iter().map(|&t| xy(t)).collect());
                    cells.values.push(f(&centre));
                }
            }
        }
        let mut c = Chart::new(
            format!(
                "{}: predicted loss over the mixtures of {} ({scale})",
                s.target,
                fit.domains.join(", ")
            ),
            Axis::linear(""),
            Axis::linear(""),
        );
        c.bare = true;
        c.cells = Some(cells);
        let corners = [
            [1.0, 0.0, 0.0],
            [0.0, 1.0, 0.0],
            [0.0, 0.0, 1.0],
            [1.0, 0.0, 0.0],
        ];
        c.layers.push(Layer::new(
            "",
            BLACK_INDEX,
            Mark::Line,
            corners.iter().map(|&h| xy(h)).collect(),
        ));
        let lat = [s.lattice_h[0], s.lattice_h[1], s.lattice_h[2]];
        let opt = [s.h[0], s.h[1], s.h[2]];
        c.layers
            .push(Layer::new("lattice best", 1, Mark::Star, vec![xy(lat)]));
        c.layers
            .push(Layer::new("h*", 7, Mark::Star, vec![xy(opt)]));
        c.caption = format!(
            "Corners: {} (bottom left), {} (bottom right), {} (top). h* = ({}).",
            fit.domains[0],
            fit.domains[1],
            fit.domains[2],
            s.h.iter()
                .map(|v| format!("{v:.3}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        return vec![c];
    }
    if k < 3 {
        return Vec::new();
    }
    let mut order: Vec<usize> = (0..k).collect();
    order.sort_by(|&a, &b| s.h[b].total_cmp(&s.h[a]));
    let top = &order[..3];
    let mut out = Vec::new();
    for (a, b) in [(top[0], top[1]), (top[0], top[2]), (top[1], top[2])] {
        let rest: f64 = 1.0 - s.h[a] - s.h[b];
        let r = 40;
        let mut cells = Cells {
            label: format!("predicted {} (nats)", s.target),
            polygons: Vec::new(),
            values: Vec::new(),
        };
        let step = 1.0 / r as f64;
        for i in 0..r {
            for j in 0..r - i {
                let (x, y) = (i as f64 * step, j as f64 * step);
                let (cx, cy) = (x + step / 3.0, y + step / 3.0);
                let h: Vec<f64> = (0..k)
                    .map(|q| {
                        if q == a {
                            cx
                        } else if q == b {
                            cy
                        } else if rest > 0.0 {
                            s.h[q] / rest * (1.0 - cx - cy)
                        } else {
                            (1.0 - cx - cy) / (k - 2) as f64
                        }
                    })
                    .collect();
                cells.polygons.push(vec![
                    (x, y),
                    (x + step, y),
                    (x + step, y + step),
                    (x, y + step),
                ]);
                cells.values.push(f(&h));
            }
        }
        let (da, db) = (&fit.domains[a], &fit.domains[b]);
        let mut c = Chart::new(
            format!(
                "{}: predicted loss over h_{da} and h_{db} through h* ({scale})",
                s.target
            ),
            Axis::linear(format!("weight of {da}")),
            Axis::linear(format!("weight of {db}")),
        );
        c.cells = Some(cells);
        c.layers.push(Layer::new(
            "lattice best",
            1,
            Mark::Star,
            vec![(s.lattice_h[a], s.lattice_h[b])],
        ));
        c.layers
            .push(Layer::new("h*", 7, Mark::Star, vec![(s.h[a], s.h[b])]));
        c.caption = "The other domains keep their proportions in h*.".into();
        out.push(c);
    }
    out
}

/// The optimal weights of every solution at one scale as grouped bars, with the study's
/// intervals (of the targets it holds) as error bars.
pub fn optimal_bars(fit: &FitFile, optimum: &Optimum, summary: Option<&Summary>) -> Option<Chart> {
    let placed: Vec<_> = optimum.solutions.iter().collect();
    let first = placed.first()?;
    let (n, d) = (first.n, first.d);
    let here: Vec<&Solution> = placed
        .iter()
        .filter(|p| p.n == n && p.d == d)
        .map(|p| &p.solution)
        .collect();
    let k = fit.domains.len();
    let width = 0.8 / here.len() as f64;
    let mut c = Chart::new(
        format!(
            "Optimal mixtures h* at N = {}, D = {}",
            number(n),
            number(d)
        ),
        Axis::linear("domain"),
        Axis::linear("weight in the optimal mixture"),
    );
    c.categories = fit.domains.clone();
    let mut intervals = false;
    for (j, s) in here.iter().enumerate() {
        let x0 = -0.4 + width * (j as f64 + 0.5);
        let pts: Vec<(f64, f64)> = (0..k).map(|i| (i as f64 + x0, s.h[i])).collect();
        c.layers.push(Layer::new(
            s.target.clone(),
            j,
            Mark::Bars { width: width * 0.9 },
            pts.clone(),
        ));
        if let Some(ts) = summary.and_then(|sm| sm.targets.iter().find(|t| t.target == s.target)) {
            if ts.optimum.len() == k {
                let lo = ts.optimum.iter().map(|i| i.lo).collect();
                let hi = ts.optimum.iter().map(|i| i.hi).collect();
                c.layers
                    .push(Layer::new("", j, Mark::Intervals { lo, hi }, pts));
                intervals = true;
            }
        }
    }
    c.caption = match summary.filter(|_| intervals) {
        Some(s) => format!(
            "Bars: h* per goal. Error bars: {:.0} % bootstrap intervals of the study's optima (at its N, D).",
            s.level * 100.0
        ),
        None => "Bars: h* per goal (a target, or avg: the targets' mean).".into(),
    };
    Some(c)
}

/// For optima on an N × D grid, one heat map per domain of its optimal weight (of the first
/// goal).
pub fn optimal_grid(fit: &FitFile, optimum: &Optimum) -> Vec<Chart> {
    let Some(goal) = optimum.solutions.first().map(|p| p.solution.target.clone()) else {
        return Vec::new();
    };
    let cells: Vec<_> = optimum
        .solutions
        .iter()
        .filter(|p| p.solution.target == goal)
        .collect();
    let mut ns: Vec<f64> = cells.iter().map(|p| p.n).collect();
    let mut ds: Vec<f64> = cells.iter().map(|p| p.d).collect();
    for v in [&mut ns, &mut ds] {
        v.sort_by(f64::total_cmp);
        v.dedup();
    }
    if ns.len() < 2 || ds.len() < 2 {
        return Vec::new();
    }
    let edges = |v: &[f64], i: usize| {
        let lo = if i == 0 {
            v[0] / (v[1] / v[0]).sqrt()
        } else {
            (v[i - 1] * v[i]).sqrt()
        };
        let hi = if i + 1 == v.len() {
            v[i] * (v[i] / v[i - 1]).sqrt()
        } else {
            (v[i] * v[i + 1]).sqrt()
        };
        (lo, hi)
    };
    fit.domains
        .iter()
        .enumerate()
        .map(|(q, dom)| {
            let mut c = Chart::new(
                format!("Optimal weight of {dom} for {goal} over model size and tokens"),
                Axis::log("model size N (parameters)"),
                Axis::log("training tokens D"),
            );
            let mut map = Cells {
                label: format!("h*_{dom}"),
                polygons: Vec::new(),
                values: Vec::new(),
            };
            for p in &cells {
                let i = ns.iter().position(|&v| v == p.n).expect("a grid value");
                let j = ds.iter().position(|&v| v == p.d).expect("a grid value");
                let ((x0, x1), (y0, y1)) = (edges(&ns, i), edges(&ds, j));
                map.polygons
                    .push(vec![(x0, y0), (x1, y0), (x1, y1), (x0, y1)]);
                map.values.push(p.solution.h[q]);
            }
            c.cells = Some(map);
            c.caption =
                "Each cell: the optimum at that N and D (optimize --n-grid/--d-grid).".into();
            c
        })
        .collect()
}

/// A histogram of each parameter of target `target` over the study's replicates, with the
/// full-data estimate and the interval marked.
pub fn histograms(study: &Study, summary: &Summary, target: &str) -> Vec<Chart> {
    let Some(ts) = summary.targets.iter().find(|t| t.target == target) else {
        return Vec::new();
    };
    ts.params
        .iter()
        .enumerate()
        .map(|(j, interval)| {
            let values: Vec<f64> = study
                .records
                .iter()
                .filter(|r| r.target == target && r.objective.is_some())
                .filter_map(|r| r.params.0.get(j).map(|p| p.1))
                .filter(|v| v.is_finite())
                .collect();
            let (lo, hi) = range(values.iter().copied());
            let bins = 30usize;
            let w = if hi > lo {
                (hi - lo) / bins as f64
            } else {
                1.0
            };
            let mut counts = vec![0usize; bins];
            for v in &values {
                counts[(((v - lo) / w) as usize).min(bins - 1)] += 1;
            }
            let mut c = Chart::new(
                format!(
                    "{target}: bootstrap distribution of {} ({} replicates)",
                    interval.name,
                    values.len()
                ),
                Axis::linear(format!("{} (fit units)", interval.name)),
                Axis::linear("replicates"),
            );
            let pts = counts
                .iter()
                .enumerate()
                .map(|(i, &n)| (lo + w * (i as f64 + 0.5), n as f64))
                .collect();
            c.layers.push(Layer::new(
                "replicates",
                4,
                Mark::Bars { width: w * 0.95 },
                pts,
            ));
            let top = *counts.iter().max().unwrap_or(&1) as f64;
            c.layers.push(Layer::new(
                "full-data estimate",
                BLACK_INDEX,
                Mark::Line,
                vec![(interval.estimate, 0.0), (interval.estimate, top)],
            ));
            for (edge, name) in [
                (
                    interval.lo,
                    format!("{:.0} % interval", summary.level * 100.0),
                ),
                (interval.hi, String::new()),
            ] {
                c.layers.push(Layer::new(
                    name,
                    5,
                    Mark::Dashed,
                    vec![(edge, 0.0), (edge, top)],
                ));
            }
            c.caption = format!(
                "Estimate {}; interval [{}, {}].",
                number(interval.estimate),
                number(interval.lo),
                number(interval.hi)
            );
            c
        })
        .collect()
}

/// The replicates' α against β (the model-size and token exponents) for target `target`.
pub fn alpha_beta(study: &Study, target: &str) -> Option<Chart> {
    let pts: Vec<(f64, f64)> = study
        .records
        .iter()
        .filter(|r| r.target == target && r.objective.is_some())
        .filter_map(|r| Some((r.params.get("alpha")?, r.params.get("beta")?)))
        .collect();
    if pts.is_empty() {
        return None;
    }
    let mut c = Chart::new(
        format!(
            "{target}: α against β over {} bootstrap replicates",
            pts.len()
        ),
        Axis::linear("α (model-size exponent)"),
        Axis::linear("β (token exponent)"),
    );
    c.layers
        .push(Layer::new("replicates", 0, Mark::Points, pts));
    if let Some(full) = study.header.full.iter().find(|f| f.target == target) {
        if let (Some(a), Some(b)) = (full.params.get("alpha"), full.params.get("beta")) {
            c.layers.push(Layer::new(
                "full-data estimate",
                5,
                Mark::Star,
                vec![(a, b)],
            ));
        }
    }
    c.caption = "A tilted cloud means the two exponents trade off against each other.".into();
    Some(c)
}
