"""Bad input raises mixlaw.InputError (a ValueError) naming the table, the row and the column, as
the command line's errors do; missing values mean what empty cells mean there; keywords that do
not exist are TypeErrors."""

import pandas as pd
import pytest

import mixlaw
from conftest import EXAMPLE


@pytest.fixture
def frame():
    return pd.read_csv(EXAMPLE, **mixlaw.EXACT_FLOATS)


def test_input_error_is_a_value_error():
    assert issubclass(mixlaw.InputError, ValueError)


def test_a_bad_cell_of_a_dataframe_names_the_row_and_the_column(frame):
    frame.loc[3, "model_size"] = -5.0
    with pytest.raises(mixlaw.InputError) as e:
        mixlaw.fit(frame, starts=2)
    msg = str(e.value)
    assert "<DataFrame>" in msg and "row 4" in msg and "column 'model_size'" in msg, msg


def test_a_bad_cell_of_a_csv_names_the_file_row_and_column(frame, tmp_path):
    frame = frame.astype({"n_tokens": object})
    frame.loc[6, "n_tokens"] = "lots"
    path = tmp_path / "bad.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(mixlaw.InputError) as e:
        mixlaw.fit(path, starts=2)
    msg = str(e.value)
    assert str(path) in msg and "row 7" in msg and "column 'n_tokens'" in msg and "'lots'" in msg, msg


def test_text_in_a_numeric_column_of_a_dataframe_is_named(frame):
    frame = frame.astype({"weight_web": object})
    frame.loc[0, "weight_web"] = "half"
    with pytest.raises(mixlaw.InputError, match=r"row 1.*column 'weight_web'|column 'weight_web'.*row 1"):
        mixlaw.fit(frame, starts=2)


def test_a_missing_target_value_skips_the_row_for_that_target(frame):
    full = mixlaw.fit(frame, starts=4, seed=1, backend="cpu")
    frame.loc[[2, 9], "target_loss"] = float("nan")
    fit = mixlaw.fit(frame, starts=4, seed=1, backend="cpu")
    assert fit.summary.loc["target_loss", "rows"] == full.summary.loc["target_loss", "rows"] - 2
    frame = frame.astype({"target_loss": object})
    frame.loc[[2, 9], "target_loss"] = None
    again = mixlaw.fit(frame, starts=4, seed=1, backend="cpu")
    assert again.file["targets"][0]["params"] == fit.file["targets"][0]["params"]


def test_a_missing_value_elsewhere_is_an_error(frame):
    frame.loc[5, "n_tokens"] = float("nan")
    with pytest.raises(mixlaw.InputError) as e:
        mixlaw.fit(frame, starts=2)
    assert "row 6" in str(e.value) and "column 'n_tokens'" in str(e.value), str(e.value)


def test_a_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        mixlaw.fit(tmp_path / "absent.csv")
    with pytest.raises(FileNotFoundError):
        mixlaw.load_fit(tmp_path / "absent.json")


def test_unknown_keywords_are_type_errors_named_as_keywords():
    with pytest.raises(TypeError, match="no_such_setting"):
        mixlaw.fit(EXAMPLE, no_such_setting=3)


def test_bad_values_name_the_keyword():
    with pytest.raises(mixlaw.InputError, match="starts"):
        mixlaw.fit(EXAMPLE, starts="many")
    with pytest.raises(mixlaw.InputError, match="loss"):
        mixlaw.fit(EXAMPLE, loss="cubic")
    with pytest.raises(mixlaw.InputError, match="unknown law|no_such_law"):
        mixlaw.fit(EXAMPLE, law="no_such_law")


def test_a_bad_where_expression_points_at_the_mistake():
    with pytest.raises(mixlaw.InputError, match=r"\^"):
        mixlaw.fit(EXAMPLE, where="model_size <= ")


def test_a_bad_data_argument_is_a_type_error():
    with pytest.raises(TypeError, match="DataFrame"):
        mixlaw.fit(42)


def test_a_fit_file_that_is_not_one_is_an_input_error(tmp_path):
    path = tmp_path / "fit.json"
    path.write_text('{"version": 1}')
    with pytest.raises(mixlaw.InputError, match="fit file"):
        mixlaw.load_fit(path)
