"""Figures and the report from Python: the engine's own drawings (the same bytes as the CLI's),
shown inline in a notebook and saved as SVG or PNG."""

import pytest

import mixlaw
from conftest import EXAMPLE


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    d = tmp_path_factory.mktemp("plots")
    fit = mixlaw.fit(EXAMPLE, starts=8, seed=0, backend="cpu", where="model_size<=2e8")
    fit.save(d / "fit.json")
    study = mixlaw.bootstrap(EXAMPLE, replicates=20, starts=3, seed=0, backend="cpu",
                             where="model_size<=2e8", optimum_at="1e9,2e10", out=d / "study.jsonl")
    return d, fit, study


def test_a_figure_shows_inline_and_saves_as_svg_and_png(made):
    d, fit, _ = made
    fig = fit.plot("observed", data=EXAMPLE)
    assert fig._repr_svg_().startswith("<svg") and "held-out" in fig.svg
    fig.save(d / "obs.svg")
    fig.save(d / "obs.png")
    assert (d / "obs.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(mixlaw.InputError, match="force=True"):
        fig.save(d / "obs.png")
    with pytest.raises(mixlaw.InputError, match="svg or .png"):
        fig.save(d / "obs.jpg")
    assert "predicted against observed" in repr(fig)


def test_figures_need_what_they_draw(made):
    _, fit, _ = made
    with pytest.raises(mixlaw.InputError, match="needs a table"):
        fit.plot("observed")
    with pytest.raises(mixlaw.InputError, match="index"):
        fit.plot("residuals", data=EXAMPLE)
    assert "weight of code" in fit.plot("residuals", data=EXAMPLE, index=3).svg
    with pytest.raises(mixlaw.InputError, match="no figure kind"):
        fit.plot("pie", data=EXAMPLE)


def test_mixture_and_study_plots(made):
    _, fit, study = made
    best = fit.optimize(n=1e9, d=2e10, target="target_loss")
    bars = best.plot(study=study)
    assert "Optimal mixtures" in bars.svg
    assert "<svg" in best.plot("simplex").svg
    assert "alpha" in study.plot("histograms", index=2).svg
    assert "β" in study.plot("alpha-beta").svg
    with pytest.raises(mixlaw.InputError, match="index"):
        study.plot("histograms")


def test_the_report_is_the_cli_s_byte_for_byte(made, cli):
    d, fit, study = made
    fit.report(d / "py.html", data=EXAMPLE, study=study, n=1e9, d=2e10, title="t")
    cli("report", d / "fit.json", "--table", EXAMPLE, "--study", d / "study.jsonl", "--n", 1e9,
        "--d", 2e10, "--title", "t", "--out", d / "cli.html")
    py = (d / "py.html").read_text()
    assert py.count("<figure ") > 20
    assert py == (d / "cli.html").read_text()
