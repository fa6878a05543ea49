//! Figures and the HTML report: the data behind each figure checked where it is made (points
//! drawn = the table's rows, h* drawn = the optimiser's, intervals drawn = the study's), the
//! report self-contained and whole, `plot` writing SVG and PNG, and, where Chromium is installed
//! (CI installs it; MIXLAW_REQUIRE_BROWSER=1 makes its absence a failure), the report opened
//! headless: no console errors, every figure present with a size, a screenshot that is not blank.

use std::path::{Path, PathBuf};
use std::process::Command;

use mixlaw::bootstrap::{Study, StudyFile};
use mixlaw::cli::report::{SourceArgs, Sources};
use mixlaw::data::{DataSpec, Table};
use mixlaw::fit::FitFile;
use mixlaw::plot::{self, Kind, Mark};

use crate::common::{dataset, example, mixlaw, mixlaw_ok, temp_dir, PAPER_TRAIN, SLIMPAJAMA};

/// A fit of the example, a 40-replicate study with optima, in `dir`.
fn example_fit_and_study(dir: &Path) -> (String, String) {
    let example = example();
    let fit = dir.join("fit.json").display().to_string();
    let study = dir.join("study.jsonl").display().to_string();
    mixlaw_ok(&[
        "fit",
        &example,
        "--starts",
        "16",
        "--backend",
        "cpu",
        "--where",
        "model_size<=2e8",
        "--out",
        &fit,
    ]);
    mixlaw_ok(&[
        "bootstrap",
        &example,
        "--replicates",
        "40",
        "--starts",
        "3",
        "--backend",
        "cpu",
        "--where",
        "model_size<=2e8",
        "--optimum-at",
        "1e9,2e10",
        "--out",
        &study,
    ]);
    (fit, study)
}

/// The report of the example's fit and study at N = 1e9, D = 2e10: `dir/report.html`.
fn example_report(dir: &Path) -> PathBuf {
    let (fit, study) = example_fit_and_study(dir);
    let out = dir.join("report.html");
    let o = out.display().to_string();
    let flags = [
        "--table",
        &example(),
        "--study",
        &study,
        "--n",
        "1e9",
        "--d",
        "2e10",
    ];
    mixlaw_ok(&[&["report", &fit][..], &flags, &["--out", &o]].concat());
    out
}

/// The sources of the figures parsed from flags, as `report` parses them.
fn sources(args: &[&str]) -> SourceArgs {
    use clap::Parser;
    #[derive(Parser)]
    struct P {
        #[command(flatten)]
        s: SourceArgs,
    }
    P::parse_from(std::iter::once("report").chain(args.iter().copied())).s
}

#[test]
fn figures_draw_the_rows_the_optimum_and_the_intervals_they_stand_for() {
    let dir = temp_dir("plots-data");
    let (fit_path, study_path) = example_fit_and_study(&dir);
    let (file, law) = FitFile::read(fit_path.as_ref()).unwrap();
    let args = sources(&[
        "--table",
        &example(),
        "--study",
        &study_path,
        "--n",
        "1e9",
        "--d",
        "2e10",
        "--goal",
        "target_loss",
    ]);
    let s = Sources::read(&file, &law, &args, None, None, &mut |_| {}).unwrap();
    let inputs = s.inputs(&file, &law);

    // Predicted against observed: one point per row with a loss, the fit's rows (N ≤ 2e8) apart
    // from the held-out ones, each at (observed, the law's prediction).
    let table = Table::read(example().as_ref()).unwrap();
    let spec = DataSpec::default().for_law(&law);
    let p = mixlaw::predict(&file, &law, &table, &spec).unwrap();
    let obs = inputs.figures(Kind::Observed);
    assert_eq!(obs.len(), 1);
    let layer = |name: &str| {
        obs[0]
            .chart
            .layers
            .iter()
            .find(|l| l.name.starts_with(name))
            .unwrap()
            .points
            .clone()
    };
    let (fitted, held) = (layer("fit rows"), layer("held-out rows"));
    assert_eq!(fitted.len() + held.len(), p.rows.len());
    assert_eq!(fitted.len(), p.n.iter().filter(|&&n| n <= 2e8).count());
    let mut drawn: Vec<(f64, f64)> = fitted.iter().chain(&held).copied().collect();
    let mut rows: Vec<(f64, f64)> = (0..p.rows.len())
        .map(|r| (p.targets[0].observed[r].unwrap(), p.targets[0].predicted[r]))
        .collect();
    drawn.sort_by(|a, b| a.partial_cmp(b).unwrap());
    rows.sort_by(|a, b| a.partial_cmp(b).unwrap());
    assert_eq!(drawn, rows);
    assert!(
        obs[0].chart.caption.contains("held-out"),
        "{}",
        obs[0].chart.caption
    );

    // Residuals against N, D and each of the three weights.
    assert_eq!(inputs.figures(Kind::Residuals).len(), 2 + 3);

    // h* drawn = the optimiser's h*, bar for bar; the error bars = the study's intervals.
    let json = mixlaw_ok(&[
        "optimize",
        "--fit",
        &fit_path,
        "--n",
        "1e9",
        "--d",
        "2e10",
        "--target",
        "target_loss",
        "--json",
    ]);
    let want: serde_json::Value = serde_json::from_str(&json).unwrap();
    let bars = inputs.figures(Kind::Optimum);
    assert_eq!(bars.len(), 1);
    let chart = &bars[0].chart;
    assert_eq!(chart.categories, ["web", "code", "books"]);
    let drawn: Vec<f64> = chart.layers[0].points.iter().map(|p| p.1).collect();
    let h: Vec<f64> = ["web", "code", "books"]
        .iter()
        .map(|d| want["targets"][0]["h"][d].as_f64().unwrap())
        .collect();
    assert_eq!(drawn, h);
    let f = StudyFile::read(study_path.as_ref()).unwrap();
    let summary = Study {
        header: f.header,
        records: f.records,
    }
    .summarise(0.95, &[])
    .unwrap();
    let Mark::Intervals { lo, hi } = &chart.layers[1].mark else {
        panic!("error bars: {:?}", chart.layers[1].mark)
    };
    let study_lo: Vec<f64> = summary.targets[0].optimum.iter().map(|i| i.lo).collect();
    let study_hi: Vec<f64> = summary.targets[0].optimum.iter().map(|i| i.hi).collect();
    assert_eq!((lo, hi), (&study_lo, &study_hi));

    // A ternary map for three domains, with h* where the optimiser put it.
    let simplex = inputs.figures(Kind::Simplex);
    assert_eq!(simplex.len(), 1);
    let star = simplex[0]
        .chart
        .layers
        .iter()
        .find(|l| l.name == "h*")
        .unwrap()
        .points[0];
    let (x, y) = (h[1] + h[2] / 2.0, h[2] * 3f64.sqrt() / 2.0);
    assert!((star.0 - x).abs() < 1e-12 && (star.1 - y).abs() < 1e-12);

    // Histograms: every replicate counted once, per parameter; α–β: one point per replicate.
    let hist = inputs.figures(Kind::Histograms);
    assert_eq!(hist.len(), summary.targets[0].params.len());
    for h in &hist {
        let total: f64 = h.chart.layers[0].points.iter().map(|p| p.1).sum();
        assert_eq!(
            total, summary.targets[0].replicates as f64,
            "{}",
            h.chart.title
        );
    }
    let ab = inputs.figures(Kind::AlphaBeta);
    assert_eq!(
        ab[0].chart.layers[0].points.len(),
        summary.targets[0].replicates
    );
}

#[test]
fn the_report_is_one_self_contained_page_with_every_figure() {
    let dir = temp_dir("plots-report");
    let out = example_report(&dir);
    let html = std::fs::read_to_string(&out).unwrap();
    let figures = html.matches("<figure ").count();
    // optimum, along, simplex, observed, 2 scaling, 5 residuals, 11 histograms, α–β.
    assert_eq!(figures, 1 + 1 + 1 + 1 + 2 + 5 + 11 + 1, "{figures}");
    assert_eq!(html.matches("<svg").count(), figures);
    for banned in ["<script", "<link", "<img", "url(", "src=", "@import"] {
        assert!(!html.contains(banned), "the report holds {banned}");
    }
    // Nothing written over a report unasked.
    let fit = dir.join("fit.json").display().to_string();
    let again = mixlaw(&["report", &fit, "--out", &out.display().to_string()]);
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("--force"));
}

#[test]
fn plot_writes_svg_and_png_and_says_what_a_figure_needs() {
    let dir = temp_dir("plots-plot");
    let (fit, _) = example_fit_and_study(&dir);
    let svg = dir.join("obs.svg").display().to_string();
    let png = dir.join("obs.png").display().to_string();
    mixlaw_ok(&[
        "plot",
        "observed",
        &fit,
        "--table",
        &example(),
        "--out",
        &svg,
    ]);
    mixlaw_ok(&[
        "plot",
        "observed",
        &fit,
        "--table",
        &example(),
        "--out",
        &png,
        "--size",
        "640,400",
    ]);
    assert!(std::fs::read_to_string(&svg).unwrap().contains("<svg"));
    let bytes = std::fs::read(&png).unwrap();
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
    let decoder = png::Decoder::new(std::io::Cursor::new(&bytes));
    let info = decoder.read_info().unwrap().info().clone();
    assert_eq!((info.width, info.height), (640, 400));

    let fail = |args: &[&str], needle: &str| {
        let o = mixlaw(args);
        let err = String::from_utf8_lossy(&o.stderr).to_string();
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
    };
    let jpg = dir.join("x.jpg").display().to_string();
    fail(
        &[
            "plot",
            "observed",
            &fit,
            "--table",
            &example(),
            "--out",
            &jpg,
        ],
        ".svg or .png",
    );
    let x = dir.join("x.svg").display().to_string();
    fail(&["plot", "observed", &fit, "--out", &x], "needs a table");
    fail(&["plot", "histograms", &fit, "--out", &x], "needs a study");
    fail(
        &[
            "plot",
            "residuals",
            &fit,
            "--table",
            &example(),
            "--out",
            &x,
        ],
        "--index",
    );
    fail(
        &[
            "plot",
            "observed",
            &fit,
            "--table",
            &example(),
            "--out",
            &svg,
        ],
        "--force",
    );
}

/// The SlimPajama paper split: a report per target of the eight, held-out 3B rows marked.
#[test]
fn a_report_of_the_paper_s_fit_marks_the_held_out_rows() {
    let dir = temp_dir("plots-slim");
    let Some(slim) = dataset(SLIMPAJAMA) else {
        return;
    };
    let slim = slim.display().to_string();
    let fit = dir.join("fit.json").display().to_string();
    mixlaw_ok(&[
        "fit",
        &slim,
        "--where",
        PAPER_TRAIN,
        "--starts",
        "4",
        "--backend",
        "cpu",
        "--out",
        &fit,
    ]);
    let (file, law) = FitFile::read(fit.as_ref()).unwrap();
    let args = sources(&[
        "--table",
        &slim,
        "--test",
        "model_size==2718e6 and n_tokens>=19.8e9",
    ]);
    let s = Sources::read(&file, &law, &args, None, None, &mut |_| {}).unwrap();
    let obs = s.inputs(&file, &law).figures(Kind::Observed);
    assert_eq!(obs.len(), 8);
    for f in &obs {
        let held = f
            .chart
            .layers
            .iter()
            .find(|l| l.name.starts_with("held-out"))
            .unwrap();
        assert!(
            held.points.len() >= 30,
            "{}: {}",
            f.chart.title,
            held.points.len()
        );
    }
    let html = plot::report(&s.inputs(&file, &law), "paper").unwrap();
    assert_eq!(html.matches("<section").count(), 1 + 8);
}

/// Chromium, headless, on the example's report: the page loads with no console errors, every
/// figure has a size, and its screenshot is not blank.
#[test]
#[ignore = "slow tier: cargo test -- --include-ignored"]
fn the_report_opens_in_a_browser() {
    let Some(browser) = ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|b| {
            Command::new(b)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        })
    else {
        assert!(
            std::env::var("MIXLAW_REQUIRE_BROWSER").as_deref() != Ok("1"),
            "MIXLAW_REQUIRE_BROWSER=1 but no chromium is installed"
        );
        eprintln!("skipped: no chromium (apt-get install chromium)");
        return;
    };
    let dir = temp_dir("plots-browser");
    let report = example_report(&dir);
    let figures = std::fs::read_to_string(&report)
        .unwrap()
        .matches("<figure ")
        .count();
    // A wrapper page measures the report's figures once it has loaded, and writes the sizes
    // into its own DOM, which --dump-dom prints (the report itself holds no script).
    let probe = dir.join("probe.html");
    std::fs::write(
        &probe,
        r#"<html><body><iframe id="r" src="report.html" style="width:1400px;height:900px"></iframe>
<pre id="out">pending</pre><script>
document.getElementById('r').onload = () => {
  const d = document.getElementById('r').contentDocument;
  const sizes = [...d.querySelectorAll('figure svg')].map(s => { const b = s.getBoundingClientRect(); return [b.width, b.height]; });
  document.getElementById('out').textContent = JSON.stringify(sizes);
};
</script></body></html>"#,
    )
    .unwrap();
    let common = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--allow-file-access-from-files",
        "--enable-logging=stderr",
        "--v=0",
    ];
    let dump = Command::new(browser)
        .args(common)
        .args(["--virtual-time-budget=5000", "--dump-dom"])
        .arg(format!("file://{}", probe.display()))
        .output()
        .unwrap();
    let dom = String::from_utf8_lossy(&dump.stdout);
    let json = dom
        .split("<pre id=\"out\">")
        .nth(1)
        .and_then(|s| s.split("</pre>").next())
        .unwrap();
    let sizes: Vec<[f64; 2]> = serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}: {json}"));
    assert_eq!(sizes.len(), figures);
    assert!(
        sizes.iter().all(|s| s[0] > 100.0 && s[1] > 100.0),
        "{sizes:?}"
    );

    let shot = dir.join("shot.png");
    let run = Command::new(browser)
        .args(common)
        .arg(format!("--screenshot={}", shot.display()))
        .arg("--window-size=1400,2000")
        .arg(format!("file://{}", report.display()))
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&run.stderr);
    let console: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("CONSOLE") || l.contains("Uncaught"))
        .collect();
    assert!(console.is_empty(), "console messages: {console:?}");
    let decoder = png::Decoder::new(std::io::Cursor::new(std::fs::read(&shot).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let frame = reader.next_frame(&mut buf).unwrap();
    let px = &buf[..frame.buffer_size()];
    let distinct: std::collections::HashSet<&[u8]> =
        px.chunks(frame.line_size / frame.width as usize).collect();
    assert!(
        distinct.len() > 50,
        "the screenshot is blank ({} colours)",
        distinct.len()
    );
}

/// h*(N, D) on a grid: a heat map per domain whose cells are the optimiser's weights there; the
/// extrapolations carry the study's band around the fitted line.
#[test]
fn grids_of_optima_and_bootstrap_bands_are_drawn_from_their_sources() {
    let dir = temp_dir("plots-grid");
    let (fit_path, study_path) = example_fit_and_study(&dir);
    let (file, law) = FitFile::read(fit_path.as_ref()).unwrap();
    let args = sources(&[
        "--table",
        &example(),
        "--study",
        &study_path,
        "--n",
        "1e9",
        "--d",
        "2e10",
        "--n-grid",
        "1e9,4e9",
        "--d-grid",
        "2e10,8e10",
    ]);
    let s = Sources::read(&file, &law, &args, None, None, &mut |_| {}).unwrap();
    let inputs = s.inputs(&file, &law);
    let maps = inputs.figures(Kind::OptimumGrid);
    assert_eq!(maps.len(), 3);
    let json = mixlaw_ok(&[
        "optimize",
        "--fit",
        &fit_path,
        "--n",
        "1e9",
        "--d",
        "2e10",
        "--n-grid",
        "1e9,4e9",
        "--d-grid",
        "2e10,8e10",
        "--json",
    ]);
    let want: serde_json::Value = serde_json::from_str(&json).unwrap();
    let web: Vec<f64> = want["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["h"]["web"].as_f64().unwrap())
        .collect();
    let cells = maps[0].chart.cells.as_ref().unwrap();
    assert_eq!(cells.values, web);

    let scaling = inputs.figures(Kind::Scaling);
    assert_eq!(scaling.len(), 2);
    for f in &scaling {
        let bands: Vec<_> = f
            .chart
            .layers
            .iter()
            .filter(|l| matches!(l.mark, Mark::Band { .. }))
            .collect();
        assert!(!bands.is_empty(), "{}", f.chart.title);
        for b in bands {
            let Mark::Band { lo, hi } = &b.mark else {
                unreachable!()
            };
            assert!(lo.iter().zip(hi).all(|(a, b)| a <= b));
            // The fitted line lies inside its band (the full-data fit among the replicates').
            let inside = b
                .points
                .iter()
                .zip(lo.iter().zip(hi))
                .filter(|(p, (a, z))| **a <= p.1 && p.1 <= **z)
                .count();
            assert!(
                inside * 10 >= b.points.len() * 8,
                "{}: {inside}/{}",
                f.chart.title,
                b.points.len()
            );
        }
    }
}
