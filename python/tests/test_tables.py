"""The tables people have: long tables fitted per group, text in --where and in unused columns,
and mixtures matched to a fit by domain name rather than by column position."""

import io
import json

import numpy as np
import pandas as pd
import pytest

import mixlaw
from conftest import EXAMPLE, ISOFLOPS, dataset

ISO = dict(law="chinchilla", n_col="params", d_col="tokens", backend="cpu")


@pytest.fixture(scope="module")
def grouped():
    return mixlaw.fit(dataset(ISOFLOPS), group_by="experiment", **ISO)


def test_group_by_fits_each_study_of_a_long_table_as_the_cli_does(cli_json, grouped):
    want = cli_json("fit", ISOFLOPS, "--law", "chinchilla", "--n-col", "params", "--d-col", "tokens",
                    "--backend", "cpu", "--group-by", "experiment")
    assert [t["group"] for t in grouped.file["targets"]] == [t["group"] for t in want["targets"]]
    for x, y in zip(grouped.file["targets"], want["targets"]):
        assert x["params"] == y["params"] and x["objective"] == y["objective"]
    experiments = list(dict.fromkeys(pd.read_csv(ISOFLOPS)["experiment"]))
    assert grouped.params.index.names == ["experiment", "target"]
    assert list(grouped.params.index.get_level_values("experiment")) == experiments
    assert "experiment" in grouped._repr_html_()


def test_a_group_is_the_fit_of_its_rows_alone_chosen_by_a_text_where(grouped):
    first = grouped.file["targets"][0]["group"]
    alone = mixlaw.fit(ISOFLOPS, where=f'experiment == "{first}"', **ISO)
    assert alone.file["targets"][0]["params"] == grouped.file["targets"][0]["params"]
    others = mixlaw.fit(ISOFLOPS, where=f"experiment != '{first}'", **ISO)
    assert others.summary["rows"].sum() == grouped.summary["rows"].sum() - grouped.summary["rows"].iloc[0]


def test_predict_uses_each_row_s_group_as_the_cli_does(cli, grouped, tmp_path):
    path = tmp_path / "grouped.json"
    grouped.save(path)
    frame = pd.read_csv(ISOFLOPS, **mixlaw.EXACT_FLOATS)
    got = grouped.predict(frame, n_col="params", d_col="tokens")
    want = pd.read_csv(io.StringIO(cli("predict", path, ISOFLOPS, "--n-col", "params", "--d-col", "tokens").stdout),
                       **mixlaw.EXACT_FLOATS)
    assert np.array_equal(got["loss_pred"].to_numpy(), want["loss_pred"].to_numpy())
    assert list(got.index) == list(want["row"] - 1)


def test_text_columns_that_are_not_used_never_stop_a_dataframe():
    frame = pd.read_csv(dataset(ISOFLOPS), **mixlaw.EXACT_FLOATS)
    assert not pd.api.types.is_numeric_dtype(frame["source"]) and frame["condition"].isna().any()
    where = "experiment == 'ml_scalefit__massivetext__chinchilla'"
    fit = mixlaw.fit(frame, where=where, **ISO)
    from_csv = mixlaw.fit(ISOFLOPS, where=where, **ISO)
    assert fit.file["targets"][0]["params"] == from_csv.file["targets"][0]["params"]
    assert fit.summary["rows"].iloc[0] == from_csv.summary["rows"].iloc[0] > 100


def test_domains_are_matched_by_name_not_position():
    frame = pd.read_csv(EXAMPLE, **mixlaw.EXACT_FLOATS)
    fit = mixlaw.fit(frame, starts=8, seed=0, backend="cpu")
    reordered = frame[["weight_books", "target_loss", "n_tokens", "weight_code", "model_size", "weight_web"]]
    a = fit.predict(frame)["target_loss_pred"].to_numpy()
    b = fit.predict(reordered)["target_loss_pred"].to_numpy()
    assert np.array_equal(a, b)
    with pytest.raises(mixlaw.InputError, match="books"):
        fit.predict(frame.drop(columns=["weight_books"]).assign(weight_web=frame.weight_web + frame.weight_books))


def test_optimize_and_sweep_address_a_group():
    design = dict(domains=["a", "b"], mixtures=6, seed=3)
    one = mixlaw.simulate("additive", {"E": 1.5, "A": 4, "alpha": 0.34, "B": 1.5, "beta": 0.3,
                                       "C_a": 2.0, "C_b": 0.5, "gamma_a": 0.5, "gamma_b": 0.3}, **design)
    two = mixlaw.simulate("additive", {"E": 1.5, "A": 4, "alpha": 0.34, "B": 1.5, "beta": 0.3,
                                       "C_a": 0.5, "C_b": 2.0, "gamma_a": 0.3, "gamma_b": 0.5}, **design)
    table = pd.concat([one.assign(study="one"), two.assign(study="two")], ignore_index=True)
    fit = mixlaw.fit(table, group_by="study", starts=16, seed=0, backend="cpu")
    with pytest.raises(mixlaw.InputError, match="group"):
        fit.optimize(n=1e9, d=2e10)
    h_one = fit.optimize(n=1e9, d=2e10, group="one").h.loc["avg"]
    h_two = fit.optimize(n=1e9, d=2e10, group="two").h.loc["avg"]
    assert h_one["a"] > 0.5 > h_two["a"], (h_one, h_two)
    alone = mixlaw.fit(two, starts=16, seed=0, backend="cpu").optimize(n=1e9, d=2e10).h.loc["avg"]
    assert h_two.to_dict() == alone.to_dict()
    assert fit.sweep(n=1e9, d=2e10, group="one").loc["avg", "h_a"] == h_one["a"]
