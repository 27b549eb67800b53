"""Request payloads: the JSON forms, CSV text and Parquet typed by the signature, never lossily."""

from __future__ import annotations

import io
import json
from typing import Any

import flavorkit
import numpy as np
import pandas as pd
import pytest
from flavorkit import ColSpec, Schema, TensorSpec
from flavorkit.exceptions import PayloadError, SchemaEnforcementError
from flavorkit.io import encode_predictions, parse_json, read_csv
from flavorkit.io._convert import typed_frame
from flavorkit.server._scorer import split_predictions
from hypothesis import given, settings
from hypothesis import strategies as st

SCHEMA = Schema(
    [ColSpec("double", "a"), ColSpec("long", "b"), ColSpec("string", "c", required=False)]
)


def frame_of(body: Any, schema: Schema = SCHEMA) -> pd.DataFrame:
    parsed = parse_json(json.dumps(body), schema)
    assert parsed.rows is not None
    return typed_frame(parsed.rows, schema)


EXPECTED = pd.DataFrame({"a": [1.5, 2.0], "b": [1, 2], "c": ["x", "y"]})


@pytest.mark.parametrize(
    "body",
    [
        {"dataframe_split": {"columns": ["a", "b", "c"], "data": [[1.5, 1, "x"], [2, 2, "y"]]}},
        {
            "dataframe_split": {
                "columns": ["a", "b", "c"],
                "data": [[1.5, 1, "x"], [2, 2, "y"]],
                "index": [7, 8],
            }
        },
        {"dataframe_records": [{"a": 1.5, "b": 1, "c": "x"}, {"a": 2, "b": 2, "c": "y"}]},
        {"instances": [{"a": 1.5, "b": 1, "c": "x"}, {"a": 2, "b": 2, "c": "y"}]},
        {"inputs": [{"a": 1.5, "b": 1, "c": "x"}, {"a": 2, "b": 2, "c": "y"}]},
        {"inputs": {"a": [1.5, 2], "b": [1, 2], "c": ["x", "y"]}},
        {"inputs": [[1.5, 1, "x"], [2, 2, "y"]]},
    ],
    ids=[
        "split",
        "split-index",
        "records",
        "instances",
        "inputs-records",
        "inputs-columns",
        "inputs-rows",
    ],
)
def test_parse_json_every_form_gives_the_same_typed_frame(body: Any) -> None:
    frame = frame_of(body)
    assert frame[["a", "b"]].dtypes.tolist() == [np.dtype("float64"), np.dtype("int64")]
    assert (
        frame["a"].tolist() == [1.5, 2.0]
        and frame["b"].tolist() == [1, 2]
        and frame["c"].tolist() == ["x", "y"]
    )


def test_parse_json_single_row_dict_of_scalars() -> None:
    frame = frame_of({"inputs": {"a": 1.0, "b": 3}})
    assert frame.to_dict("records") == [{"a": 1.0, "b": 3}]


def test_parse_json_params_are_kept() -> None:
    parsed = parse_json(b'{"inputs": {"a": 1.0, "b": 3}, "params": {"k": 2}}', SCHEMA)
    assert parsed.params == {"k": 2}
    assert not parsed.batchable  # requests with params predict on their own


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"inputs": ', "not valid JSON"),
        (b"[1, 2]", "bare lists"),
        (b'{"inputs": [], "instances": []}', "exactly one"),
        (b'{"data": []}', "exactly one"),
        (b'{"inputs": [], "extra": 1}', "unknown top-level key(s) ['extra']"),
        (b'{"inputs": [], "params": [1]}', "'params' must be a JSON object"),
        (b'{"dataframe_split": {"columns": ["a"], "data": [[1, 2]]}}', "row 0 has 2 values"),
        (b'{"dataframe_split": {"data": [], "orient": "x"}}', "unknown key(s) ['orient']"),
        (b'{"dataframe_records": {"a": 1}}', "must be a list of JSON objects"),
        (b'{"inputs": {"a": [1, 2], "b": [1]}}', "same length"),
    ],
)
def test_parse_json_rejects_malformed_bodies(body: bytes, message: str) -> None:
    with pytest.raises(PayloadError, match=None) as info:
        parse_json(body, SCHEMA)
    assert message in str(info.value)


def test_parse_json_chat_style_body_is_passed_whole() -> None:
    parsed = parse_json(
        b'{"messages": [{"role": "user"}], "temperature": 0.5}', None, frozenset({"temperature"})
    )
    assert parsed.unwrap and parsed.data == {"messages": [{"role": "user"}]}
    assert parsed.params == {"temperature": 0.5}


@pytest.mark.parametrize(
    ("spec", "values", "expected"),
    [
        ("integer", [1, 2.0, None], pd.array([1, 2, None], dtype="Int32")),
        ("long", [2**62], np.array([2**62], dtype=np.int64)),
        ("float", [0.1, 3], np.array([0.1, 3], dtype=np.float32)),
        ("double", [1, 2.5], np.array([1.0, 2.5])),
        ("boolean", [True, False], np.array([True, False])),
        ("binary", ["AAE=\n"], [b"\x00\x01"]),
        ("datetime", ["2024-01-02T03:04:05"], [pd.Timestamp("2024-01-02T03:04:05")]),
    ],
)
def test_typed_frame_converts_exactly(spec: str, values: list[Any], expected: Any) -> None:
    # only an optional column may hold a null (a required one is refused, see below)
    schema = Schema([ColSpec(spec, "x", required=None not in values)])
    frame = frame_of({"inputs": {"x": values}}, schema)
    got = frame["x"]
    if isinstance(expected, np.ndarray):
        assert got.dtype == expected.dtype and np.array_equal(got.to_numpy(), expected)
    else:
        assert (
            list(got.array) == list(expected)
            if not hasattr(expected, "dtype")
            else got.array.equals(expected)
        )


@pytest.mark.parametrize(
    ("spec", "values", "actual"),
    [
        ("integer", [1, 2.7], "a number that is not whole (row 1)"),
        ("integer", [2**31], "outside the range of integer (row 0)"),
        ("long", [3, 2**64], "beyond 64 bits"),
        ("double", [1, 2**53 + 1], "too large for double to hold exactly (row 1)"),
        ("float", [1e39], "too large for float"),
        ("boolean", [1], "integers"),
        ("long", [True], "booleans"),
        ("double", ["1.5"], "strings"),
        ("string", [5], "integers"),
        ("binary", ["%%%"], "not valid base64"),
        ("datetime", ["yesterday"], "does not parse"),
    ],
)
def test_typed_frame_rejects_lossy_or_wrong_values_naming_the_column(
    spec: str, values: list[Any], actual: str
) -> None:
    schema = Schema([ColSpec(spec, "col_x")])
    with pytest.raises(SchemaEnforcementError) as info:
        frame_of({"inputs": {"col_x": values}}, schema)
    message = str(info.value)
    assert "'col_x'" in message and actual in message
    assert info.value.field == "col_x"


@pytest.mark.parametrize("spec", ["integer", "long", "float", "double", "boolean", "string"])
def test_typed_frame_refuses_null_in_a_required_column(spec: str) -> None:
    value = {"boolean": True, "string": "s"}.get(spec, 1)
    with pytest.raises(SchemaEnforcementError) as info:
        frame_of({"inputs": {"col_x": [value, None]}}, Schema([ColSpec(spec, "col_x")]))
    assert "'col_x' is required" in str(info.value) and "row 1" in str(info.value)
    assert info.value.field == "col_x"


def test_read_csv_refuses_an_empty_cell_in_a_required_column() -> None:
    with pytest.raises(SchemaEnforcementError, match="'a' is required, but row 1"):
        read_csv(io.StringIO("a,b\n1.5,1\n,2\n"), SCHEMA)


@settings(max_examples=50)
@given(st.lists(st.integers(-(2**31), 2**31 - 1), min_size=1, max_size=20))
def test_integers_that_fit_survive_exactly(values: list[int]) -> None:
    schema = Schema([ColSpec("integer", "x")])
    frame = frame_of({"inputs": {"x": values}}, schema)
    assert frame["x"].dtype == np.int32 and frame["x"].tolist() == values


@settings(max_examples=50)
@given(st.floats(allow_nan=False, allow_infinity=False).filter(lambda f: not f.is_integer()))
def test_non_whole_floats_never_become_integers(value: float) -> None:
    with pytest.raises(SchemaEnforcementError):
        frame_of({"inputs": {"x": [value]}}, Schema([ColSpec("long", "x")]))


def test_read_csv_types_text_by_the_signature() -> None:
    text = "a,b,c\n1.5,1,NA\n2,,\n"
    optional_b = Schema(
        [
            ColSpec("double", "a"),
            ColSpec("long", "b", required=False),
            ColSpec("string", "c", required=False),
        ]
    )
    frame = read_csv(io.StringIO(text), optional_b).frame
    assert frame["a"].tolist() == [1.5, 2.0]
    assert frame["b"].dtype == "Int64" and frame["b"].isna().tolist() == [False, True]
    # "NA" is text in a string column, only an empty cell is missing
    assert frame["c"].iloc[0] == "NA" and pd.isna(frame["c"].iloc[1])


def test_read_csv_refuses_a_lossy_cell() -> None:
    with pytest.raises(SchemaEnforcementError, match="'b'"):
        read_csv(io.StringIO("a,b\n1,2.7\n"), SCHEMA)


def test_tensor_inputs_are_converted_exactly() -> None:
    schema = Schema([TensorSpec(np.dtype("float32"), (-1, 2))])
    parsed = parse_json(b'{"inputs": [[1, 2.5], [3, 4]]}', schema)
    assert parsed.data.dtype == np.float32 and parsed.data.tolist() == [[1.0, 2.5], [3.0, 4.0]]
    int_schema = Schema([TensorSpec(np.dtype("int32"), (-1,))])
    with pytest.raises(SchemaEnforcementError, match="int32"):
        parse_json(b'{"instances": [1, 2.5]}', int_schema)


def test_split_predictions_cuts_by_rows_or_refuses() -> None:
    assert [p.tolist() for p in split_predictions(np.arange(5), [2, 3])] == [[0, 1], [2, 3, 4]]
    frame = pd.DataFrame({"y": range(3)})
    assert [len(p) for p in split_predictions(frame, [1, 2])] == [1, 2]
    assert split_predictions([1.0], [1, 1]) is None


def test_encode_predictions_forms() -> None:
    assert json.loads(encode_predictions(np.array([1.5, np.nan]))) == {"predictions": [1.5, None]}
    frame = pd.DataFrame({"y": [1], "t": [pd.Timestamp("2024-01-01")]})
    assert json.loads(encode_predictions(frame)) == {
        "predictions": [{"y": 1, "t": "2024-01-01T00:00:00"}]
    }
    assert json.loads(encode_predictions(pd.Series([3], name="s"))) == {"predictions": [{"s": 3}]}
    assert json.loads(encode_predictions({"answer": "x"}, unwrap=True)) == {"answer": "x"}


# -- a dict under inputs: one row or columns, as MLflow reads it -------------------------

PROMPT = Schema([ColSpec("string", "prompt"), ColSpec("string", "stop", required=False)])


@pytest.mark.parametrize("key", ["inputs", "instances"])
def test_parse_json_dict_mixing_lists_and_single_values_is_refused_naming_the_column(
    key: str,
) -> None:
    # MLflow's server repeats "hi" on two rows, its Python API makes one row holding the list
    body = json.dumps({key: {"prompt": "hi", "stop": ["a", "b"]}})
    with pytest.raises(PayloadError) as info:
        parse_json(body, PROMPT)
    message = str(info.value)
    assert "['stop'] hold a list" in message and "['prompt'] a single value" in message
    assert info.value.field == "stop"


class Echo(flavorkit.PythonModel):
    def predict(self, context: Any, model_input: Any, params: Any = None) -> Any:
        return model_input["prompt"].to_numpy()


def test_predict_refuses_the_same_dict_naming_the_column(tmp_path: Any) -> None:
    path = tmp_path / "echo"
    flavorkit.save_model(Echo(), path, signature=flavorkit.ModelSignature(inputs=PROMPT))
    with pytest.raises(SchemaEnforcementError, match="'stop'"):
        flavorkit.load_model(path).predict({"prompt": "hi", "stop": ["a", "b"]})


def test_parse_json_dict_is_one_row_when_the_signature_has_an_array_column() -> None:
    from flavorkit import Array

    schema = Schema([ColSpec("long", "a"), ColSpec(Array("string"), "tags", required=False)])
    frame = frame_of({"inputs": {"a": 1, "tags": ["x", "y"]}}, schema)
    assert frame.to_dict("records") == [{"a": 1, "tags": ["x", "y"]}]
    # as in MLflow, even when the Array column is not sent: a list is then one cell of "a"
    with pytest.raises(SchemaEnforcementError, match="'a'"):
        frame_of({"inputs": {"a": [1, 2]}}, schema)


@pytest.mark.parametrize(
    "body",
    [
        {"inputs": {"a": 1.5, "b": 2}},
        {"instances": {"a": 1.5, "b": 2}},
        {"inputs": {"a": 1.5, "b": 2}, "params": {"scale": 1.0}},
    ],
    ids=["inputs", "instances", "with-params"],
)
def test_server_dict_of_single_values_predicts_one_row(tmp_path: Any, body: Any) -> None:
    from _serving_models import save_linear
    from flavorkit.server._scorer import Scorer

    scorer = Scorer(flavorkit.load_model(save_linear(tmp_path / "linear")))
    request = scorer.prepare(json.dumps(body).encode(), "json")
    assert scorer._data(request).to_dict("records") == [{"a": 1.5, "b": 2}]
    assert json.loads(scorer.score(request)) == {"predictions": [5.0]}
