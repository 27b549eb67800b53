"""Batch scoring: every input and output format, chunk by chunk, typed like the server."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import flavorkit
import numpy as np
import pandas as pd
import pytest
from _serving_models import save_doubler, save_labels, save_linear, server_env
from flavorkit._batch import predict_file
from flavorkit.exceptions import PayloadError, SchemaEnforcementError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st


@pytest.fixture(scope="module")
def linear(tmp_path_factory: pytest.TempPathFactory) -> flavorkit.PyFuncModel:
    return flavorkit.load_model(save_linear(tmp_path_factory.mktemp("batch") / "linear"))


def table(n: int = 10) -> pd.DataFrame:
    return pd.DataFrame(
        {"id": [f"r{i}" for i in range(n)], "a": np.arange(n) * 0.5, "b": np.arange(n) % 4}
    )


def expected(frame: pd.DataFrame) -> list[float]:
    return (frame["a"] * 2 + frame["b"]).tolist()


def write_input(path: Path, frame: pd.DataFrame, form: str) -> Path:
    data = frame[["a", "b"]]
    if form == "csv":
        frame.to_csv(path, index=False)
    elif form == "parquet":
        frame.to_parquet(path, index=False)
    elif form == "jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in frame.to_dict("records")))
    elif form == "dataframe_split":
        path.write_text(
            json.dumps(
                {
                    "dataframe_split": {
                        "columns": list(data.columns),
                        "data": data.to_numpy().tolist(),
                    }
                }
            )
        )
    else:  # dataframe_records, instances, inputs: a list of records
        path.write_text(json.dumps({form: data.to_dict("records")}))
    return path


def read_output(path: Path, fmt: str) -> list[Any]:
    if fmt == "csv":
        return pd.read_csv(path)["prediction"].tolist()
    if fmt == "parquet":
        return pd.read_parquet(path)["prediction"].tolist()
    if fmt == "jsonl":
        return [json.loads(line) for line in path.read_text().splitlines()]
    return json.loads(path.read_text())["predictions"]


SUFFIX = {"csv": ".csv", "parquet": ".parquet", "jsonl": ".jsonl"}


@pytest.mark.parametrize(
    "form",
    ["csv", "parquet", "jsonl", "dataframe_split", "dataframe_records", "instances", "inputs"],
)
@pytest.mark.parametrize("out", ["csv", "json", "jsonl", "parquet"])
def test_predict_file_every_input_and_output_format(
    linear: Any, tmp_path: Path, form: str, out: str
) -> None:
    frame = table(10)
    source = write_input(tmp_path / f"in{SUFFIX.get(form, '.json')}", frame, form)
    target = tmp_path / f"out.{out}"
    result = predict_file(linear, str(source), str(target), chunk_rows=3)
    assert (result.rows_in, result.rows_out, result.chunks) == (10, 10, 4)
    assert read_output(target, out) == expected(frame)


@settings(
    max_examples=15, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None
)
@given(rows=st.integers(0, 40), chunk=st.integers(1, 50))
def test_predict_file_keeps_row_count_and_order(
    linear: Any, tmp_path: Path, rows: int, chunk: int
) -> None:
    frame = table(rows)
    source = write_input(tmp_path / "in.csv", frame, "csv")
    target = tmp_path / "out.jsonl"
    predict_file(linear, str(source), str(target), chunk_rows=chunk)
    assert read_output(target, "jsonl") == expected(frame)


def test_predict_file_keeps_named_input_columns(linear: Any, tmp_path: Path) -> None:
    source = write_input(tmp_path / "in.csv", table(5), "csv")
    target = tmp_path / "out.csv"
    predict_file(linear, str(source), str(target), chunk_rows=2, keep=["id"])
    out = pd.read_csv(target)
    assert out.columns.tolist() == ["id", "prediction"] and out["id"].tolist() == [
        f"r{i}" for i in range(5)
    ]


def test_predict_file_applies_params(linear: Any, tmp_path: Path) -> None:
    source = write_input(tmp_path / "in.csv", table(3), "csv")
    target = tmp_path / "out.json"
    predict_file(linear, str(source), str(target), params={"scale": 2.0})
    assert read_output(target, "json") == [2 * v for v in expected(table(3))]


def test_predict_file_names_rows_and_column_of_a_lossy_value_and_leaves_no_output(
    linear: Any, tmp_path: Path
) -> None:
    source = tmp_path / "in.csv"
    source.write_text("a,b\n1,1\n2,2\n3,3.5\n")
    target = tmp_path / "out.csv"
    with pytest.raises(SchemaEnforcementError) as info:
        predict_file(linear, str(source), str(target), chunk_rows=2)
    assert "'b'" in str(info.value)
    assert not target.exists() and list(tmp_path.iterdir()) == [source]


def test_predict_file_reports_rows_of_a_chunk_the_model_rejects(
    linear: Any, tmp_path: Path
) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text('{"a": 1, "b": 1}\n{"a": 2, "b": 2}\n{"a": 3}\n')
    with pytest.raises(SchemaEnforcementError, match=r"rows 3-3: .*missing inputs \['b'\]"):
        predict_file(linear, str(source), str(tmp_path / "out.csv"), chunk_rows=2)


def test_json_params_after_rows_work_within_one_chunk(linear: Any, tmp_path: Path) -> None:
    source = tmp_path / "in.json"  # the serving example's key order: params last
    source.write_text(json.dumps({"inputs": [{"a": 1.0, "b": 1}], "params": {"scale": 3.0}}))
    predict_file(linear, str(source), str(tmp_path / "out.json"))
    assert read_output(tmp_path / "out.json", "json") == [9.0]


def test_json_params_after_many_rows_are_refused(linear: Any, tmp_path: Path) -> None:
    source = tmp_path / "in.json"
    source.write_text(json.dumps({"inputs": [{"a": 1.0, "b": 1}] * 5, "params": {"scale": 3.0}}))
    with pytest.raises(PayloadError, match="'params' comes after the rows"):
        predict_file(linear, str(source), str(tmp_path / "out.json"), chunk_rows=2)


def test_json_split_columns_may_follow_the_rows(linear: Any, tmp_path: Path) -> None:
    source = tmp_path / "in.json"
    source.write_text(
        '{"dataframe_split": {"data": [[1.0, 1], [2.0, 2], [3.0, 3]], "columns": ["a", "b"]}}'
    )
    predict_file(linear, str(source), str(tmp_path / "out.json"), chunk_rows=2)
    assert read_output(tmp_path / "out.json", "json") == [3.0, 6.0, 9.0]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"inputs": [1, ', "not valid JSON"),
        ('{"rows": []}', "unknown top-level key 'rows'"),
        ('{"inputs": [], "instances": []}', "two format keys"),
        ("[1, 2]", "must be a JSON object"),
        ('{"params": {}}', "must hold one of the keys"),
    ],
)
def test_json_input_errors(linear: Any, tmp_path: Path, text: str, message: str) -> None:
    source = tmp_path / "in.json"
    source.write_text(text)
    with pytest.raises(PayloadError, match=None) as info:
        predict_file(linear, str(source), str(tmp_path / "out.json"))
    assert message in str(info.value)


def test_unknown_format_needs_a_flag(linear: Any, tmp_path: Path) -> None:
    source = write_input(tmp_path / "in.txt", table(2), "csv")
    with pytest.raises(PayloadError, match="--input-format"):
        predict_file(linear, str(source), str(tmp_path / "out.csv"))
    predict_file(linear, str(source), str(tmp_path / "out.csv"), input_format="csv")
    assert read_output(tmp_path / "out.csv", "csv") == expected(table(2))


def test_dataframe_predictions_become_columns(tmp_path: Path) -> None:
    model = flavorkit.load_model(save_labels(tmp_path / "labels"))
    source = tmp_path / "in.csv"
    source.write_text("name\nab\nxyz\n")
    predict_file(model, str(source), str(tmp_path / "out.csv"), chunk_rows=1)
    assert pd.read_csv(tmp_path / "out.csv").to_dict("records") == [
        {"upper": "AB", "length": 2},
        {"upper": "XYZ", "length": 3},
    ]


def test_tensor_model_from_json_instances(tmp_path: Path) -> None:
    model = flavorkit.load_model(save_doubler(tmp_path / "doubler"))
    source = tmp_path / "in.json"
    source.write_text(json.dumps({"instances": [[1, 2, 3], [4, 5, 6], [0, 0, 1.5]]}))
    predict_file(model, str(source), str(tmp_path / "out.json"), chunk_rows=2)
    assert read_output(tmp_path / "out.json", "json") == [
        [2.0, 4.0, 6.0],
        [8.0, 10.0, 12.0],
        [0.0, 0.0, 3.0],
    ]
    predict_file(model, str(source), str(tmp_path / "out.csv"), chunk_rows=2)
    out = pd.read_csv(tmp_path / "out.csv")
    assert out.columns.tolist() == ["prediction_0", "prediction_1", "prediction_2"]
    # the same rows as a CSV or Parquet table: each row one row of the tensor
    table = pd.DataFrame([[1, 2, 3], [4, 5, 6], [0, 0, 1.5]], columns=["x", "y", "z"])
    table.to_csv(tmp_path / "in.csv", index=False)
    table.astype("float32").to_parquet(tmp_path / "in.parquet")
    for name in ("in.csv", "in.parquet"):
        predict_file(model, str(tmp_path / name), str(tmp_path / "t.csv"), chunk_rows=2)
        assert pd.read_csv(tmp_path / "t.csv").to_numpy().tolist() == out.to_numpy().tolist()


def test_predict_streams_stdin_to_stdout(tmp_path: Path) -> None:
    path = save_linear(tmp_path / "linear")
    cmd = [
        sys.executable,
        "-m",
        "flavorkit.cli",
        "predict",
        str(path),
        "-i",
        "-",
        "-o",
        "-",
        "--input-format",
        "csv",
        "--output-format",
        "jsonl",
    ]
    done = subprocess.run(
        cmd, input=b"a,b\n1.5,1\n2,2\n", capture_output=True, env=server_env(), check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.decode().splitlines() == ["4.0", "6.0"]
    assert done.stderr == b""  # piped: no progress bar
