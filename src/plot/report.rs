//! The HTML report: every figure the inputs allow, a summary section and a section per target,
//! in one file with nothing to fetch.

use rayon::prelude::*;

use super::figures::{self as f, Role};
use super::{Figure, Format, Kind};
use crate::bootstrap::{Study, Summary};
use crate::fit::{FitFile, Predictions};
use crate::law::Law;
use crate::mixture::Optimum;
use crate::Result;

/// What a report (or a single figure) is drawn from: a fit, and optionally a table's
/// predictions with each row's role, an optimum, and a bootstrap study with its summary.
pub struct Inputs<'a> {
    /// The fit.
    pub fit: &'a FitFile,
    /// Its law.
    pub law: &'a Law,
    /// A table's predictions, each row's role, and the table's name.
    pub table: Option<(&'a Predictions, &'a [Role], String)>,
    /// An optimum (`optimize`).
    pub optimum: Option<&'a Optimum>,
    /// A study and its summary.
    pub study: Option<(&'a Study, &'a Summary)>,
}

impl Inputs<'_> {
    /// Every figure of `kind` these inputs allow (none when what it needs is missing).
    pub fn figures(&self, kind: Kind) -> Vec<Figure> {
        let fit = self.fit;
        let targets = 0..fit.targets.len();
        let fig = |section: String, chart| Figure {
            section,
            kind,
            chart,
        };
        let name = |t: usize| f::target_name(fit, t);
        let level = self.study.map(|(s, sm)| (s, sm.level));
        let solutions = || self.optimum.into_iter().flat_map(|o| o.solutions.iter());
        match (kind, &self.table) {
            (Kind::Observed, Some((p, roles, data))) => targets
                .filter_map(|t| f::observed(fit, p, roles, t, data).map(|c| fig(name(t), c)))
                .collect(),
            (Kind::Residuals, Some((p, roles, _))) => targets
                .flat_map(|t| {
                    f::residuals(fit, p, roles, t)
                        .into_iter()
                        .map(move |c| (t, c))
                })
                .map(|(t, c)| fig(name(t), c))
                .collect(),
            (Kind::Scaling, Some((p, roles, _))) => targets
                .flat_map(|t| {
                    f::scaling(fit, self.law, p, roles, t, level)
                        .into_iter()
                        .map(move |c| (t, c))
                })
                .map(|(t, c)| fig(name(t), c))
                .collect(),
            (Kind::Along, _) => solutions()
                .take(1)
                .filter_map(|p| f::along_weights(fit, self.law, &p.solution, p.n, p.d))
                .map(|c| fig("summary".into(), c))
                .collect(),
            (Kind::Simplex, _) => solutions()
                .take(1)
                .flat_map(|p| f::simplex(fit, self.law, &p.solution, p.n, p.d))
                .map(|c| fig("summary".into(), c))
                .collect(),
            (Kind::Optimum, _) => self
                .optimum
                .and_then(|o| f::optimal_bars(fit, o, self.study.map(|s| s.1)))
                .map(|c| fig("summary".into(), c))
                .into_iter()
                .collect(),
            (Kind::OptimumGrid, _) => self
                .optimum
                .map(|o| f::optimal_grid(fit, o))
                .unwrap_or_default()
                .into_iter()
                .map(|c| fig("summary".into(), c))
                .collect(),
            (Kind::Histograms, _) => match self.study {
                Some((s, sm)) => targets
                    .flat_map(|t| {
                        let target = &fit.targets[t].target;
                        f::histograms(s, sm, target)
                            .into_iter()
                            .map(move |c| (t, c))
                    })
                    .map(|(t, c)| fig(name(t), c))
                    .collect(),
                None => Vec::new(),
            },
            (Kind::AlphaBeta, _) => match self.study {
                Some((s, _)) => targets
                    .filter_map(|t| {
                        f::alpha_beta(s, &fit.targets[t].target).map(|c| fig(name(t), c))
                    })
                    .collect(),
                None => Vec::new(),
            },
            _ => Vec::new(),
        }
    }
}

/// The order figures appear in, section by section.
const ORDER: [Kind; 9] = [
    Kind::Optimum,
    Kind::Along,
    Kind::Simplex,
    Kind::OptimumGrid,
    Kind::Observed,
    Kind::Scaling,
    Kind::Residuals,
    Kind::Histograms,
    Kind::AlphaBeta,
];

/// The report of `inputs` as one self-contained HTML page titled `title`: a summary (the fit's
/// targets, and the mixture figures), then a section per target.
pub fn report(inputs: &Inputs, title: &str) -> Result<String> {
    let figures: Vec<Figure> = ORDER.iter().flat_map(|&k| inputs.figures(k)).collect();
    let rendered: Vec<String> = figures
        .par_iter()
        .map(|fig| {
            let size = match fig.kind {
                Kind::Residuals | Kind::Histograms => (520, 340),
                Kind::Simplex | Kind::OptimumGrid => (660, 520),
                _ => (680, 440),
            };
            fig.chart
                .render(Format::Svg, size)
                .map(|b| String::from_utf8(b).expect("SVG is text"))
        })
        .collect::<Result<_>>()?;
    let fit = inputs.fit;
    let mut sections: Vec<String> = vec!["summary".into()];
    for t in 0..fit.targets.len() {
        let n = f::target_name(fit, t);
        if !sections.contains(&n) {
            sections.push(n);
        }
    }
    let mut html = String::with_capacity(rendered.iter().map(String::len).sum::<usize>() + 8192);
    html.push_str(&format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{}</title><style>{STYLE}</style></head><body>\n<h1>{}</h1>\n",
        escape(title),
        escape(title)
    ));
    html.push_str(&format!(
        "<p class=\"meta\">{} law: <code>{}</code> — {} rows of {} — fitted by mixlaw {} on {}</p>\n",
        escape(&fit.law),
        escape(&fit.formula),
        fit.data.rows,
        escape(&fit.data.source),
        escape(&fit.mixlaw),
        escape(&fit.backend)
    ));
    html.push_str("<nav><ul>");
    for (i, s) in sections.iter().enumerate() {
        html.push_str(&format!(
            "<li><a href=\"#section-{i}\">{}</a></li>",
            escape(s)
        ));
    }
    html.push_str("</ul></nav>\n");
    let mut number = 0;
    for (i, s) in sections.iter().enumerate() {
        html.push_str(&format!(
            "<section id=\"section-{i}\"><h2>{}</h2>\n",
            escape(s)
        ));
        if i == 0 {
            html.push_str(&summary_table(fit));
        }
        for (fig, svg) in figures
            .iter()
            .zip(&rendered)
            .filter(|(fig, _)| &fig.section == s)
        {
            number += 1;
            html.push_str(&format!(
                "<figure id=\"figure-{number}\" class=\"{}\">{}<figcaption><b>Figure {number}.</b> {} {}</figcaption></figure>\n",
                kebab(fig.kind),
                svg.trim_start_matches(|c| c != '<').split_once("?>").map_or(svg.as_str(), |(_, rest)| rest),
                escape(&fig.chart.title),
                escape(&fig.chart.caption)
            ));
        }
        html.push_str("</section>\n");
    }
    html.push_str("</body></html>\n");
    Ok(html)
}

/// The fit's targets as a table: objective, rows, train MRE, convergence.
fn summary_table(fit: &FitFile) -> String {
    let mut out = String::from(
        "<table><thead><tr><th>target</th><th>rows</th><th>objective</th><th>train MRE %</th>\
         <th>converged</th><th>at bounds</th></tr></thead><tbody>",
    );
    for (t, tf) in fit.targets.iter().enumerate() {
        out.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{:.6e}</td><td>{:.4}</td><td>{}/{}</td><td>{}</td></tr>",
            escape(&f::target_name(fit, t)),
            tf.rows,
            tf.objective,
            tf.train_mre_pct,
            tf.converged,
            tf.starts,
            escape(&tf.at_bounds.join(" "))
        ));
    }
    out.push_str("</tbody></table>\n");
    out
}

/// A kind's name as `mixlaw plot` takes it.
pub fn kebab(kind: Kind) -> String {
    serde_json::to_value(kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

const STYLE: &str = "body{font-family:'DejaVu Sans',Verdana,sans-serif;max-width:1500px;margin:24px auto;\
padding:0 16px;color:#222;background:#fff}h1{font-size:1.5em}h2{border-bottom:1px solid #ccc;\
padding-bottom:4px;margin-top:2em}.meta{color:#555}nav ul{list-style:none;padding:0;display:flex;\
flex-wrap:wrap;gap:6px 18px}figure{display:inline-block;vertical-align:top;margin:8px 12px 16px 0;\
max-width:100%}figure svg{max-width:100%;height:auto;border:1px solid #eee}figcaption{font-size:.85em;\
max-width:680px;color:#333}table{border-collapse:collapse;margin:8px 0 16px}td,th{border:1px solid #ddd;\
padding:3px 8px;text-align:right}td:first-child,th:first-child{text-align:left}";
