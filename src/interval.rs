//! Calibrated prediction intervals: a bootstrap's sampling spread widened by the extrapolation
//! error the table's own backtests show.
//!
//! # Why it is shaped this way
//!
//! A bootstrap interval says how much a law's prediction moves when the *same* rows are
//! resampled. It says nothing of the error of carrying the law to a larger scale, which on the
//! published tables is many times larger (the SlimPajama fits miss the 3B runs by 0.2–11 % with
//! bootstrap half-widths of 0.2–1.5 %). The backtests ([`crate::backtest`]) measure that error
//! inside the table, as a function of how far out a prediction is, and the interval of a new
//! prediction is built from three parts, all in log space (relative error):
//!
//! * **noise**: the `level` quantile of the fit's absolute log residuals on its own rows (one
//!   run's loss scatters about the law even where the law is right);
//! * **sampling**: the bootstrap's percentile interval of the prediction, below and above it
//!   (its asymmetry kept);
//! * **minima**: the spread of the prediction across the fit's near-equivalent minima (every
//!   start within 1e-4 relative of the best objective, [`crate::fit::TargetFit::near_minima`]):
//!   the lowest and highest of their predictions, below and above it. Where the data cannot
//!   tell such minima apart (a flat direction such as `E` against the `C_i`), they can still
//!   disagree far from the data;
//! * **extrapolation**: `q · d`, where `d` is the prediction's distance from the training rows
//!   (decades of `N` and `D`, [`crate::backtest::distance`]) and `q` is the split-conformal
//!   quantile of the backtests' standardised errors `|ln(observed / predicted)| / d`: the
//!   `⌈(n + 1) · level⌉`-th smallest of the target's `n` backtest scores.
//!
//! The parts are added in quadrature on each side: `lo = L̂ · exp(−√(noise² + sampling below² +
//! minima below² + (q d)²))`, and `hi` likewise with the parts above.
//!
//! **Assumptions**, said plainly: the error of extrapolating grows in proportion to the distance
//! (linearly in decades, as the backtests of the published tables show), at the rate the
//! table's backtests show, and the backtests' errors stand for the error at the new scale
//! (conformal calibration assumes the scores exchangeable; the rows of one backtest step share
//! one fit, so this is a calibration, not a guarantee). A prediction farther out than every
//! backtest prediction of its target (`beyond_backtests`) rests on the linear error model
//! carried past the distances it was measured at. With fewer backtest scores than the level
//! needs (`⌈(n + 1) · level⌉ > n`) the interval is unbounded (`hi` infinite, `lo` 0).

use serde::Serialize;

use crate::backend::Backend;
use crate::backtest::{self, TargetBacktest};
use crate::bootstrap::{self, At, FullDataFit, Record, Resample, Study, StudySettings};
use crate::data::{Dataset, Table};
use crate::fit::{self, FitFile, FitSettings, Params};
use crate::law::{Law, Point};
use crate::Result;

/// One target's calibration from its backtests.
#[derive(Clone, Debug, Serialize)]
pub struct Calibration {
    /// The confidence level.
    pub level: f64,
    /// The conformal quantile `q` of the standardised backtest errors (per decade); infinite
    /// when there are too few.
    pub per_decade: f64,
    /// Backtest predictions it was calibrated on (those at a positive distance).
    pub scores: usize,
    /// The largest distance among them (decades).
    pub max_distance: f64,
    /// The `level` quantile of the fit's absolute log residuals on its own rows.
    pub noise: f64,
}

impl Calibration {
    /// The calibration of `backtest` at `level`, with `residuals` the fit's log residuals
    /// `ln(observed / predicted)` on its training rows.
    pub fn new(backtest: &TargetBacktest, residuals: &[f64], level: f64) -> Calibration {
        let (scores, max_distance): (Vec<f64>, f64) = {
            let at: Vec<_> = backtest
                .predictions()
                .filter(|p| p.distance > 0.0)
                .collect();
            (
                at.iter()
                    .map(|p| p.log_error().abs() / p.distance)
                    .collect(),
                at.iter().map(|p| p.distance).fold(0.0, f64::max),
            )
        };
        let noise: Vec<f64> = residuals.iter().map(|r| r.abs()).collect();
        Calibration {
            level,
            per_decade: conformal(&scores, level),
            scores: scores.len(),
            max_distance,
            noise: conformal(&noise, level),
        }
    }

    /// The interval of a prediction `predicted` at `distance` whose bootstrap percentile
    /// interval is `sampling` (`None`: no bootstrap) and whose lowest and highest values over
    /// the fit's near-equivalent minima are `minima`.
    pub fn interval(
        &self,
        predicted: f64,
        distance: f64,
        sampling: Option<(f64, f64)>,
        minima: Option<(f64, f64)>,
    ) -> PredictionInterval {
        let sides = |range: Option<(f64, f64)>| {
            range.map_or((0.0, 0.0), |(lo, hi)| {
                (
                    (predicted / lo).ln().max(0.0),
                    (hi / predicted).ln().max(0.0),
                )
            })
        };
        let ((s_below, s_above), (m_below, m_above)) = (sides(sampling), sides(minima));
        let far = if distance > 0.0 {
            self.per_decade * distance
        } else {
            0.0
        };
        let half =
            |s: f64, m: f64| (self.noise.powi(2) + s.powi(2) + m.powi(2) + far.powi(2)).sqrt();
        PredictionInterval {
            predicted,
            lo: predicted * (-half(s_below, m_below)).exp(),
            hi: predicted * half(s_above, m_above).exp(),
            distance,
            beyond_backtests: distance > self.max_distance,
            sampling,
            minima,
        }
    }
}

/// An interval around one prediction.
#[derive(Clone, Debug, Serialize)]
pub struct PredictionInterval {
    /// The fit's prediction.
    pub predicted: f64,
    /// Lower bound.
    pub lo: f64,
    /// Upper bound.
    pub hi: f64,
    /// Distance from the training rows (decades of `N` and `D`).
    pub distance: f64,
    /// Farther out than every backtest prediction of the target: the interval rests on the
    /// error model carried past the distances it was measured at.
    pub beyond_backtests: bool,
    /// The bootstrap's percentile interval alone, when there was a bootstrap.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sampling: Option<(f64, f64)>,
    /// The lowest and highest prediction over the fit's near-equivalent minima.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub minima: Option<(f64, f64)>,
}

impl PredictionInterval {
    /// Whether the interval holds `x`.
    pub fn covers(&self, x: f64) -> bool {
        self.lo <= x && x <= self.hi
    }

    /// Half the interval's width relative to the prediction (%).
    pub fn half_width_pct(&self) -> f64 {
        50.0 * (self.hi - self.lo) / self.predicted
    }
}

/// How intervals are made for `eval`.
#[derive(Clone, Debug)]
pub struct Settings {
    /// The confidence level.
    pub level: f64,
    /// The backtests' scale column and steps.
    pub backtest: backtest::Settings,
    /// Bootstrap replicates of the training rows (0: no sampling part).
    pub replicates: usize,
    /// Starts per replicate.
    pub starts: usize,
    /// What the bootstrap resamples.
    pub resample: Resample,
}

/// One test row's interval.
#[derive(Clone, Debug, Serialize)]
pub struct RowInterval {
    /// The target column.
    pub target: String,
    /// Its group, in a table grouped by a column.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// The row's 1-based data row in its file.
    pub row: usize,
    /// Raw `N`.
    pub n: f64,
    /// Raw `D`.
    pub d: f64,
    /// The observed loss.
    pub observed: f64,
    /// The interval (with the prediction).
    #[serde(flatten)]
    pub interval: PredictionInterval,
}

/// How the intervals of one target did on its test rows.
#[derive(Clone, Debug, Serialize)]
pub struct TargetCoverage {
    /// The target column.
    pub target: String,
    /// Its group, in a table grouped by a column.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// Test rows.
    pub rows: usize,
    /// The fraction of them whose observed loss the interval holds.
    pub coverage: f64,
    /// The same for the bootstrap's percentile interval alone (absent without a bootstrap).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bootstrap_coverage: Option<f64>,
    /// The median half-width relative to the prediction (%).
    pub median_half_width_pct: f64,
    /// The median absolute relative error of the predictions (%).
    pub median_abs_error_pct: f64,
    /// Test rows farther out than every backtest prediction.
    pub beyond_backtests: usize,
    /// The calibration the intervals came from.
    pub calibration: Calibration,
}

/// Intervals for every test row of an evaluation, and how well they covered.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// The confidence level.
    pub level: f64,
    /// The scale column the backtests rolled over.
    pub by: String,
    /// Bootstrap replicates.
    pub replicates: usize,
    /// Per target (per group and target).
    pub targets: Vec<TargetCoverage>,
    /// Over every test row of every target.
    pub coverage: f64,
    /// The bootstrap's percentile intervals alone, over every test row.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bootstrap_coverage: Option<f64>,
    /// The median half-width over every test row (%).
    pub median_half_width_pct: f64,
    /// The median absolute relative error over every test row (%).
    pub median_abs_error_pct: f64,
    /// What the backtests skipped, in sentences.
    pub notes: Vec<String>,
    /// Every test row's interval.
    pub rows: Vec<RowInterval>,
}

/// Intervals for the test rows of an evaluation: `file` is the fit of `law` on `train` (both
/// loaded from `table`); the backtests and the bootstrap run on `train` alone, so nothing of the
/// test rows reaches the intervals but their `N`, `D` and mixture.
#[allow(clippy::too_many_arguments)]
pub fn for_rows(
    table: &Table,
    train: &Dataset,
    test: &Dataset,
    file: &FitFile,
    law: &Law,
    fit_settings: &FitSettings,
    settings: &Settings,
    backend: &dyn Backend,
    progress: &mut (dyn FnMut(&str, usize, usize) + Send),
) -> Result<Report> {
    bootstrap::check_level(settings.level)?;
    let back = backtest::run(
        table,
        train,
        law,
        fit_settings,
        &settings.backtest,
        backend,
        progress,
    )?;
    let records = sampling(train, file, law, fit_settings, settings, backend, progress)?;
    let (nu, du) = (file.units.n, file.units.d);
    let predict = |p: &[f64], ds: &Dataset, r: usize| {
        law.eval(
            p,
            &Point::new(ds.n[r] / nu, ds.d[r] / du, ds.h_row(r)),
            None,
        )
    };
    let train_parts = train.by_group();
    let test_parts = test.by_group();
    let mut rows = Vec::new();
    let mut targets = Vec::new();
    for (f, fitted) in file.targets.iter().enumerate() {
        let group = fitted.group.as_deref();
        let part = |parts: &[(Option<&str>, std::borrow::Cow<'_, Dataset>)]| {
            parts
                .iter()
                .find(|(g, _)| *g == group)
                .map(|(_, ds)| ds.clone().into_owned())
        };
        let (Some(tr), Some(te)) = (part(&train_parts), part(&test_parts)) else {
            continue;
        };
        let t = tr
            .targets
            .iter()
            .position(|x| x.name == fitted.target)
            .expect("the fit's targets are the table's");
        let p = file.param_vector(law, f);
        let fitted_rows: Vec<usize> = (0..tr.rows())
            .filter(|&r| tr.targets[t].y[r].is_finite())
            .collect();
        let residuals: Vec<f64> = fitted_rows
            .iter()
            .map(|&r| (tr.targets[t].y[r] / predict(&p, &tr, r)).ln())
            .collect();
        let bt = back
            .target(&fitted.target, group)
            .expect("every fitted target was backtested");
        let calibration = Calibration::new(bt, &residuals, settings.level);
        let points: Vec<[f64; 2]> = fitted_rows
            .iter()
            .map(|&r| backtest::scale_of(tr.n[r], tr.d[r]))
            .collect();
        let replicas: Vec<Vec<f64>> = records
            .iter()
            .filter(|(g, r)| g.as_deref() == group && r.target == fitted.target)
            .filter(|(_, r)| r.objective.is_some())
            .map(|(_, r)| values(law, &tr.domains, &r.params))
            .collect();
        let mine: Vec<RowInterval> = (0..te.rows())
            .filter(|&r| te.targets[t].y[r].is_finite())
            .map(|r| {
                let predicted = predict(&p, &te, r);
                let sampled = (!replicas.is_empty()).then(|| {
                    let mut v: Vec<f64> = replicas.iter().map(|q| predict(q, &te, r)).collect();
                    v.sort_by(f64::total_cmp);
                    (
                        bootstrap::quantile(&v, (1.0 - settings.level) / 2.0),
                        bootstrap::quantile(&v, (1.0 + settings.level) / 2.0),
                    )
                });
                RowInterval {
                    target: fitted.target.clone(),
                    group: fitted.group.clone(),
                    row: te.row_ids[r],
                    n: te.n[r],
                    d: te.d[r],
                    observed: te.targets[t].y[r],
                    interval: calibration.interval(
                        predicted,
                        backtest::distance(&points, te.n[r], te.d[r]),
                        sampled,
                        spread(&fitted.near_minima, |q| predict(q, &te, r)),
                    ),
                }
            })
            .collect();
        if mine.is_empty() {
            continue;
        }
        targets.push(TargetCoverage {
            target: fitted.target.clone(),
            group: fitted.group.clone(),
            rows: mine.len(),
            calibration,
            ..coverage(&mine)
        });
        rows.extend(mine);
    }
    let all = coverage(&rows);
    Ok(Report {
        level: settings.level,
        by: back.by,
        replicates: settings.replicates,
        targets,
        coverage: all.coverage,
        bootstrap_coverage: all.bootstrap_coverage,
        median_half_width_pct: all.median_half_width_pct,
        median_abs_error_pct: all.median_abs_error_pct,
        notes: back.notes,
        rows,
    })
}

/// The coverage figures of `rows` (target, group, row count and calibration left to the caller).
fn coverage(rows: &[RowInterval]) -> TargetCoverage {
    let n = rows.len() as f64;
    let frac = |f: &dyn Fn(&RowInterval) -> bool| rows.iter().filter(|r| f(r)).count() as f64 / n;
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        bootstrap::quantile(&v, 0.5)
    };
    let sampled = rows.iter().all(|r| r.interval.sampling.is_some());
    TargetCoverage {
        target: String::new(),
        group: None,
        rows: rows.len(),
        coverage: frac(&|r| r.interval.covers(r.observed)),
        bootstrap_coverage: (sampled && !rows.is_empty()).then(|| {
            frac(&|r| {
                let (lo, hi) = r.interval.sampling.expect("every row was sampled");
                lo <= r.observed && r.observed <= hi
            })
        }),
        median_half_width_pct: median(rows.iter().map(|r| r.interval.half_width_pct()).collect()),
        median_abs_error_pct: median(
            rows.iter()
                .map(|r| 100.0 * ((r.interval.predicted - r.observed) / r.observed).abs())
                .collect(),
        ),
        beyond_backtests: rows.iter().filter(|r| r.interval.beyond_backtests).count(),
        calibration: Calibration {
            level: f64::NAN,
            per_decade: f64::NAN,
            scores: 0,
            max_distance: f64::NAN,
            noise: f64::NAN,
        },
    }
}

/// A study's prediction at one `--at` point, with its calibrated interval.
#[derive(Clone, Debug, Serialize)]
pub struct AtInterval {
    /// The target column.
    pub target: String,
    /// The point.
    pub at: At,
    /// The interval (with the full-data prediction).
    #[serde(flatten)]
    pub interval: PredictionInterval,
    /// The calibration it came from.
    pub calibration: Calibration,
}

/// Calibrated intervals at `level` for the predictions of `study` (run on the rows of `ds`,
/// loaded from `table`) at the points `at`: the study's replicates give the sampling part, and
/// backtests of the study's law on `ds` with the study's fit settings the extrapolation part.
#[allow(clippy::too_many_arguments)]
pub fn at_points(
    table: &Table,
    ds: &Dataset,
    law: &Law,
    study: &Study,
    at: &[At],
    level: f64,
    backtest_settings: &backtest::Settings,
    backend: &dyn Backend,
    progress: &mut (dyn FnMut(&str, usize, usize) + Send),
) -> Result<Vec<AtInterval>> {
    bootstrap::check_level(level)?;
    if at.is_empty() {
        return Ok(Vec::new());
    }
    let header = &study.header;
    let ds = &ds.with_domains(&header.domains, "the study")?;
    let fit_settings = &header.study.fit;
    let back = backtest::run(
        table,
        ds,
        law,
        fit_settings,
        backtest_settings,
        backend,
        progress,
    )?;
    let sampled = study.summarise(level, at)?;
    let (nu, du) = (header.units.n, header.units.d);
    let mut out = Vec::new();
    for (t, full) in header.full.iter().enumerate() {
        let p = values(law, &header.domains, &full.params);
        let y = &ds.targets[t].y;
        let fitted: Vec<usize> = (0..ds.rows()).filter(|&r| y[r].is_finite()).collect();
        let residuals: Vec<f64> = fitted
            .iter()
            .map(|&r| {
                let point = Point::new(ds.n[r] / nu, ds.d[r] / du, ds.h_row(r));
                (y[r] / law.eval(&p, &point, None)).ln()
            })
            .collect();
        let points: Vec<[f64; 2]> = fitted
            .iter()
            .map(|&r| backtest::scale_of(ds.n[r], ds.d[r]))
            .collect();
        let bt = back
            .target(&full.target, None)
            .expect("every target of the study was backtested");
        let calibration = Calibration::new(bt, &residuals, level);
        // The header keeps the best minimum only: the full-data fit, made again as it was made
        // (the same settings, seed and backend), gives its near-equivalent minima.
        let again = fit::fit_target(ds, t, law, fit_settings, backend, &mut |d, n| {
            progress(&format!("near minima {}", full.target), d, n)
        })?;
        let summary = &sampled.targets[t];
        for prediction in &summary.predictions {
            let a = &prediction.at;
            let point = Point::new(a.n / nu, a.d / du, &a.h);
            out.push(AtInterval {
                target: full.target.clone(),
                at: a.clone(),
                interval: calibration.interval(
                    prediction.loss.estimate,
                    backtest::distance(&points, a.n, a.d),
                    Some((prediction.loss.lo, prediction.loss.hi)),
                    spread(&again.near_minima, |q| law.eval(q, &point, None)),
                ),
                calibration: calibration.clone(),
            });
        }
    }
    Ok(out)
}

/// The lowest and highest of `predict` over near-equivalent `minima` (`None` without any).
fn spread(minima: &[Vec<f64>], predict: impl Fn(&[f64]) -> f64) -> Option<(f64, f64)> {
    minima
        .iter()
        .map(|m| predict(m))
        .filter(|v| v.is_finite())
        .fold(None, |acc, v| match acc {
            None => Some((v, v)),
            Some((lo, hi)) => Some((f64::min(lo, v), f64::max(hi, v))),
        })
}

/// A replicate's parameters as a vector in the law's order over `domains`.
fn values(law: &Law, domains: &[String], p: &Params) -> Vec<f64> {
    law.params(domains)
        .iter()
        .map(|s| p.get(&s.name).unwrap_or(f64::NAN))
        .collect()
}

/// The bootstrap of the training rows, group by group: each record with its group. Replicates
/// warm-start from `file`'s fits, as a study's do from its full-data fits.
fn sampling(
    train: &Dataset,
    file: &FitFile,
    law: &Law,
    fit_settings: &FitSettings,
    settings: &Settings,
    backend: &dyn Backend,
    progress: &mut (dyn FnMut(&str, usize, usize) + Send),
) -> Result<Vec<(Option<String>, Record)>> {
    let mut out = Vec::new();
    if settings.replicates == 0 {
        return Ok(out);
    }
    let study = StudySettings {
        starts: settings.starts,
        resample: settings.resample,
        ..StudySettings::new(settings.replicates, fit_settings.clone())
    };
    for (group, part) in train.by_group() {
        let mut part = part.into_owned();
        part.groups = None;
        let mut header = bootstrap::header(&part, law, &study, None)?;
        header.study.optimum_at = None;
        header.full = file
            .targets
            .iter()
            .filter(|f| f.group.as_deref() == group)
            .map(|f| FullDataFit {
                target: f.target.clone(),
                objective: f.objective,
                params: f.params.clone(),
                optimum: None,
            })
            .collect();
        let mut got = Vec::new();
        bootstrap::replicate(
            &part,
            law,
            &header,
            backend,
            &Default::default(),
            &mut |records| {
                got.extend(records);
                Ok(())
            },
            &mut |t, d, n| progress(&format!("bootstrap: {t}"), d, n),
        )?;
        out.extend(got.into_iter().map(|r| (group.map(str::to_string), r)));
    }
    Ok(out)
}

/// The split-conformal quantile of `scores` at `level`: the `⌈(n + 1) · level⌉`-th smallest,
/// infinite when that exceeds `n`.
pub fn conformal(scores: &[f64], level: f64) -> f64 {
    let mut s: Vec<f64> = scores.iter().copied().filter(|x| x.is_finite()).collect();
    s.sort_by(f64::total_cmp);
    let k = ((s.len() + 1) as f64 * level).ceil() as usize;
    if k == 0 {
        return 0.0;
    }
    s.get(k - 1).copied().unwrap_or(f64::INFINITY)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_conformal_quantile_is_the_ceiling_rank_and_infinite_when_too_few() {
        let s: Vec<f64> = (1..=19).map(f64::from).collect();
        // ⌈20 · 0.9⌉ = 18.
        assert_eq!(conformal(&s, 0.9), 18.0);
        assert_eq!(conformal(&s[..8], 0.9), f64::INFINITY);
        assert_eq!(conformal(&s[..9], 0.9), 9.0);
    }

    #[test]
    fn an_interval_adds_its_parts_in_quadrature_on_each_side() {
        let c = Calibration {
            level: 0.9,
            per_decade: 0.04,
            scores: 100,
            max_distance: 0.5,
            noise: 0.003,
        };
        let i = c.interval(2.0, 0.25, Some((1.99, 2.02)), Some((1.995, 2.0)));
        let below = (0.003f64.powi(2)
            + (2.0f64 / 1.99).ln().powi(2)
            + (2.0f64 / 1.995).ln().powi(2)
            + 0.01f64.powi(2))
        .sqrt();
        let above = (0.003f64.powi(2) + (2.02f64 / 2.0).ln().powi(2) + 0.01f64.powi(2)).sqrt();
        assert!((i.lo - 2.0 * (-below).exp()).abs() < 1e-15);
        assert!((i.hi - 2.0 * above.exp()).abs() < 1e-15);
        assert!(!i.beyond_backtests);
        assert!(c.interval(2.0, 0.6, None, None).beyond_backtests);
        // At distance 0 only the noise and the sampling spread remain.
        let at_home = c.interval(2.0, 0.0, None, None);
        assert!((at_home.hi / 2.0 - 0.003f64.exp()).abs() < 1e-15);
    }
}
