"""Backtests and calibrated intervals from Python: the command line's numbers, as DataFrames."""

import mixlaw
from conftest import EXAMPLE

SPLIT = dict(train="model_size<=200e6", test="model_size==400e6")


def test_backtest_matches_the_cli_a_row_per_target_step_and_held_out_size(cli_json):
    want = cli_json("backtest", EXAMPLE, "--starts", 8, "--seed", 2, "--backend", "cpu")
    got = mixlaw.backtest(EXAMPLE, starts=8, seed=2, backend="cpu")
    assert got.attrs["report"]["targets"] == want["targets"]
    assert list(got["up_to"]) == [100e6, 100e6, 200e6]
    assert list(got["by"]) == [200e6, 400e6, 400e6]
    assert {"mre_pct", "median_distance", "spearman", "regret", "train_rows"} <= set(got.columns)
    predictions = got.attrs["predictions"]
    assert len(predictions) == 96 * 3
    assert {"target", "up_to", "row", "observed", "predicted", "distance"} <= set(predictions.columns)


def test_eval_intervals_match_the_cli_and_cover_their_rows(cli_json):
    flags = ["--train", SPLIT["train"], "--test", SPLIT["test"], "--starts", 8, "--seed", 2,
             "--backend", "cpu", "--intervals", 0.9, "--replicates", 8]
    want = cli_json("eval", EXAMPLE, *flags)
    got = mixlaw.eval(EXAMPLE, starts=8, seed=2, backend="cpu", intervals=0.9, replicates=8, **SPLIT)
    assert got.attrs["report"]["intervals"] == want["intervals"]
    rows = got.attrs["intervals"]
    assert len(rows) == 96
    assert (rows["lo"] <= rows["bootstrap_lo"]).all() and (rows["bootstrap_hi"] <= rows["hi"]).all()
    covered = ((rows["lo"] <= rows["observed"]) & (rows["observed"] <= rows["hi"])).mean()
    assert got.loc["target_loss", "coverage"] == covered
    assert {"bootstrap_coverage", "median_half_width_pct", "beyond_backtests"} <= set(got.columns)


def test_a_study_s_intervals_are_a_dataframe():
    study = mixlaw.bootstrap(EXAMPLE, replicates=6, starts=2, seed=4, backend="cpu",
                             at=[(800e6, 16e9, 0.4, 0.3, 0.3)], intervals=0.9)
    i = study.intervals
    assert len(i) == 1
    row = i.iloc[0]
    assert row["lo"] <= row["bootstrap_lo"] and row["bootstrap_hi"] <= row["hi"]
    assert row["lo"] < row["predicted"] < row["hi"]
    assert row["distance"] > 0
