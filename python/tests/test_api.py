"""Every API function on the published tables, each compared with the command line on the same
inputs: the numbers must be bit-identical, and files written by one are read by the other."""

import io
import json
import math

import numpy as np
import pandas as pd
import pytest

import mixlaw
from conftest import EPOCH, EXAMPLE, PAPER_TEST, PAPER_TRAIN, SLIM, dataset


def same_targets(a, b):
    """Two fit files' per-target results, compared exactly (wall times aside)."""
    assert [t["target"] for t in a["targets"]] == [t["target"] for t in b["targets"]]
    for x, y in zip(a["targets"], b["targets"]):
        assert x["params"] == y["params"], x["target"]
        assert x["objective"] == y["objective"]
        assert x["train_mre_pct"] == y["train_mre_pct"]
        assert x["rows"] == y["rows"]
    assert a["settings"] == b["settings"]
    assert a["domains"] == b["domains"]


def test_fit_is_bit_identical_to_the_cli_from_a_path_a_dataframe_and_a_dict(cli_json):
    args = dict(starts=16, seed=3, backend="cpu")
    want = cli_json("fit", EXAMPLE, "--starts", 16, "--seed", 3, "--backend", "cpu")
    from_path = mixlaw.fit(EXAMPLE, **args)
    same_targets(from_path.file, want)
    assert from_path.file["data"] == want["data"]
    frame = pd.read_csv(EXAMPLE, **mixlaw.EXACT_FLOATS)
    same_targets(mixlaw.fit(frame, **args).file, want)
    columns = {c: frame[c].to_numpy() for c in frame.columns}
    same_targets(mixlaw.fit(columns, **args).file, want)


def test_params_and_summary_are_dataframes_a_row_per_target():
    fit = mixlaw.fit(EXAMPLE, starts=8, seed=1, backend="cpu")
    assert list(fit.params.index) == ["target_loss"]
    assert abs(fit.params.loc["target_loss", "alpha"] - 0.34) < 0.02
    for column in ["rows", "objective", "train_mre_pct", "converged", "at_bounds", "flat"]:
        assert column in fit.summary.columns
    assert fit.summary.loc["target_loss", "rows"] == len(pd.read_csv(EXAMPLE))
    assert "additive" in repr(fit) and "target_loss" in repr(fit)
    html = fit._repr_html_()
    assert "<table" in html and "alpha" in html


def test_a_fit_saved_by_python_predicts_on_the_cli_and_the_cli_s_fit_loads_in_python(cli, tmp_path):
    fit = mixlaw.fit(EXAMPLE, starts=8, seed=2, backend="cpu")
    path = tmp_path / "fit.json"
    fit.save(path)
    with pytest.raises(mixlaw.InputError, match="force=True"):
        fit.save(path)
    fit.save(path, force=True)
    cli_pred = pd.read_csv(io.StringIO(cli("predict", path, EXAMPLE).stdout),
                           **mixlaw.EXACT_FLOATS)
    py_pred = fit.predict(EXAMPLE)
    assert np.array_equal(cli_pred["target_loss_pred"].to_numpy(), py_pred["target_loss_pred"].to_numpy())
    assert list(py_pred.index) == list(range(len(py_pred)))

    cli_path = tmp_path / "cli.json"
    cli("fit", EXAMPLE, "--starts", 8, "--seed", 2, "--backend", "cpu", "--out", cli_path)
    loaded = mixlaw.load_fit(cli_path)
    same_targets(loaded.file, fit.file)
    want = json.loads(cli("optimize", "--fit", cli_path, "--n", 1e9, "--d", 2e10, "--json").stdout)
    got = loaded.optimize(n=1e9, d=2e10)
    assert got.report == want
    assert list(got.h.columns) == ["web", "code", "books"]
    assert math.isclose(got.h.sum(axis=1).iloc[0], 1.0, rel_tol=1e-12)


def test_predict_keeps_a_dataframe_s_index():
    fit = mixlaw.fit(EXAMPLE, starts=8, seed=2, backend="cpu")
    frame = pd.read_csv(EXAMPLE, **mixlaw.EXACT_FLOATS)
    frame.index = [f"run{i}" for i in range(len(frame))]
    pred = fit.predict(frame)
    assert list(pred.index) == list(frame.index)
    rel = np.abs(pred["target_loss_pred"] / frame["target_loss"] - 1)
    assert rel.max() < 0.01


@pytest.fixture(scope="module")
def slim_eval():
    return mixlaw.eval(dataset(SLIM), law="additive", train=PAPER_TRAIN, test=PAPER_TEST, starts=8, seed=1)


def test_eval_on_the_paper_split_matches_the_cli(cli_json, slim_eval):
    want = cli_json("eval", SLIM, "--law", "additive", "--train", PAPER_TRAIN, "--test", PAPER_TEST,
                    "--starts", 8, "--seed", 1)
    got = slim_eval.attrs["report"]
    assert [t["target"] for t in got["targets"]] == [t["target"] for t in want["targets"]]
    for x, y in zip(got["targets"], want["targets"]):
        assert x["train_mre_pct"] == y["train_mre_pct"]
        assert x["test_mre_pct"] == y["test_mre_pct"]
        assert x["objective"] == y["objective"]
    assert list(slim_eval.index) == [t["target"] for t in want["targets"]]
    assert slim_eval["test_mre_pct"].notna().all()
    assert slim_eval["test_rows"].gt(0).all()


def test_optimize_and_sweep_match_the_cli(cli, slim_eval, tmp_path):
    fit = slim_eval.attrs["fit"]
    path = tmp_path / "slim.json"
    fit.save(path)
    want = json.loads(cli("optimize", "--fit", path, "--n", 7e9, "--d", 140e9,
                          "--min", "c4=0.1", "--resolution", 10, "--json").stdout)
    got = fit.optimize(n=7e9, d=140e9, min={"c4": 0.1}, resolution=10)
    assert got.report == want
    assert got.h.loc["avg", "c4"] >= 0.1 - 1e-12
    assert set(got.predicted.columns) == set(fit.targets)
    csv = cli("sweep", "--fit", path, "--n", 7e9, "--d", 140e9, "--resolution", 8).stdout
    want = pd.read_csv(io.StringIO(csv), **mixlaw.EXACT_FLOATS).set_index("target")
    got = fit.sweep(n=7e9, d=140e9, resolution=8)
    pd.testing.assert_frame_equal(got, want, check_exact=True)
    assert "avg" in got.index


def test_bootstrap_matches_the_cli_and_exposes_every_replicate(cli_json, tmp_path):
    args = ["--replicates", 12, "--starts", 3, "--seed", 5, "--at", "1e9,2e10,0.5,0.2,0.3",
            "--backend", "cpu"]
    want = cli_json("bootstrap", EXAMPLE, *args)
    out = tmp_path / "study.jsonl"
    study = mixlaw.bootstrap(EXAMPLE, replicates=12, starts=3, seed=5, at=[(1e9, 2e10, 0.5, 0.2, 0.3)],
                             backend="cpu", out=out)
    assert study.summary_report == want
    assert out.exists()
    assert len(study.replicates) == 12
    assert {"replicate", "target", "objective", "alpha", "h_web"} <= set(study.replicates.columns)
    p = study.params
    assert p.loc[("target_loss", "alpha"), "lo"] <= p.loc[("target_loss", "alpha"), "hi"]
    assert len(study.predictions) == 1
    assert set(study.optimum.index.get_level_values("domain")) == {"web", "code", "books"}
    assert "12 replicates" in repr(study) and "<table" in study._repr_html_()
    # Resuming a complete study refits nothing and gives the same summary.
    again = mixlaw.bootstrap(EXAMPLE, replicates=12, starts=3, seed=5, at=[(1e9, 2e10, 0.5, 0.2, 0.3)],
                             backend="cpu", out=out, resume=True)
    assert again.summary_report == want


def test_merged_shards_equal_the_whole_study(tmp_path):
    common = dict(replicates=6, starts=2, seed=9, backend="cpu")
    whole = mixlaw.bootstrap(EXAMPLE, out=tmp_path / "whole.jsonl", **common)
    shards = [tmp_path / f"s{i}.jsonl" for i in range(2)]
    for i, path in enumerate(shards):
        mixlaw.bootstrap(EXAMPLE, shard=f"{i}/2", out=path, **common)
    merged = mixlaw.merge(shards, out=tmp_path / "merged.jsonl")
    assert merged.summary_report == whole.summary_report
    at = mixlaw.merge(shards, at=(1e9, 2e10, 0.5, 0.2, 0.3), level=0.9)
    assert len(at.predictions) == 1 and at.level == 0.9
    assert (tmp_path / "merged.jsonl").read_bytes() == (tmp_path / "whole.jsonl").read_bytes()


def test_chinchilla_on_epoch_s_table_matches_the_cli(cli_json):
    flags = dict(n_col="Model Size", flops_col="Training FLOP", drop_highest=5, keep_duplicates=True)
    got = mixlaw.fit(dataset(EPOCH), law="chinchilla", starts=200, **flags)
    want = cli_json("fit", EPOCH, "--law", "chinchilla", "--starts", 200, "--n-col", "Model Size",
                    "--flops-col", "Training FLOP", "--drop-highest", 5, "--keep-duplicates")
    same_targets(got.file, want)
    assert abs(got.params["alpha"].iloc[0] - 0.35) < 0.05


def test_laws_devices_and_simulate():
    laws = mixlaw.laws()
    assert {"additive", "joint", "chinchilla"} <= set(laws.index)
    assert laws.loc["chinchilla", "parameter_names"] == ["E", "A", "alpha", "B", "beta"]
    assert isinstance(mixlaw.devices(), pd.DataFrame)
    table = mixlaw.simulate("additive", {"E": 1.5, "A": 400, "alpha": 0.34, "B": 300, "beta": 0.28,
                                         "C_a": 2.0, "C_b": 1.0, "gamma_a": 0.5, "gamma_b": 0.4},
                            domains=["a", "b"], mixtures=5, seed=1)
    assert {"weight_a", "weight_b", "model_size", "n_tokens", "target_loss"} <= set(table.columns)
    assert len(table) == 5 * 3 * 4
    fit = mixlaw.fit(table, starts=16, seed=0, backend="cpu")
    assert abs(fit.params["alpha"].iloc[0] - 0.34) < 1e-3


def test_the_engine_runs_with_the_interpreter_released():
    """Another Python thread keeps running while a fit runs."""
    import threading
    import time

    table = dataset(SLIM)
    done = []
    worker = threading.Thread(
        target=lambda: done.append(mixlaw.fit(table, target="c4_loss", starts=300, seed=0, backend="cpu"))
    )
    started = time.monotonic()
    worker.start()
    ticks = 0
    while worker.is_alive():
        ticks += 1
        time.sleep(0.002)
    took = time.monotonic() - started
    assert done, "the fit finished"
    assert took > 0.3, f"the fit took {took:.2f}s: too short to tell"
    # Held, the lock would have let this thread tick only between the engine's callbacks.
    assert ticks > 0.3 * took / 0.002, (ticks, took)


def test_progress_true_draws_a_bar_and_notes_name_keywords(capsys):
    mixlaw.fit(EXAMPLE, starts=64, seed=0, backend="cpu", where="model_size>=1e8", progress=True)
    err = capsys.readouterr().err
    assert "fit target_loss" in err, err
    assert "'where' kept" in err and "--where" not in err, err


def test_the_gpu_backend_gives_the_cli_s_numbers(cli_json):
    """On whatever adapter wgpu finds (Mesa's lavapipe in CI, where MIXLAW_REQUIRE_GPU=1 makes a
    missing adapter a failure rather than a skip)."""
    import os

    if mixlaw.devices().empty:
        if os.environ.get("MIXLAW_REQUIRE_GPU") == "1":
            pytest.fail("MIXLAW_REQUIRE_GPU=1 but wgpu finds no adapter")
        pytest.skip("no GPU adapter")
    want = cli_json("fit", EXAMPLE, "--starts", 16, "--seed", 4, "--backend", "gpu")
    got = mixlaw.fit(EXAMPLE, starts=16, seed=4, backend="gpu")
    assert got.file["backend"] == want["backend"] and "gpu" in got.file["backend"].lower()
    same_targets(got.file, want)
