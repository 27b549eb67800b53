"""Batch scoring: every input and output format, chunk by chunk, typed like the server."""

from __future__ import annotations

import gc
import io
import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import flavorkit
import numpy as np
import pandas as pd
import pytest
from _serving_models import save_doubler, save_labels, save_linear, server_env
from flavorkit.batch import predict_file
from flavorkit.cli import main
from flavorkit.exceptions import PayloadError, SchemaEnforcementError
from flavorkit.io import csv_chunks
from flavorkit.signature import ColSpec, Schema
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
@given(rows=st.integers(1, 40), chunk=st.integers(1, 50))
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
    assert str(info.value).startswith("row 3: column 'b': expected long")
    assert "(row 3)" in str(info.value) and info.value.rows == (3, 3)  # type: ignore[attr-defined]
    assert not target.exists() and list(tmp_path.iterdir()) == [source]


def test_predict_file_reports_rows_of_a_chunk_the_model_rejects(
    linear: Any, tmp_path: Path
) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text('{"a": 1, "b": 1}\n{"a": 2, "b": 2}\n{"a": 3}\n')
    with pytest.raises(SchemaEnforcementError, match=r"^row 3: .*missing inputs \['b'\]"):
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
        ('{"rows": []}', "exactly one of the keys"),
        ('{"rows": []}', "got keys ['rows']"),
        ('{"inputs": [], "instances": []}', "got ['instances', 'inputs']"),
        ('{"inputs": [], "extra": 1}', "unknown top-level key(s) ['extra']"),
        ("[1, 2]", "must be a JSON object"),
        ('{"params": {}}', "must hold exactly one of the keys"),
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


# -- errors say where they are in the input -------------------------------------------

ROW_FORMS = ["csv", "parquet", "jsonl", "dataframe_split", "dataframe_records", "instances"]


def with_value(form: str, row: int, value: Any, n: int = 10) -> pd.DataFrame:
    """``table(n)`` with ``b`` at the 1-based data row ``row`` set to ``value``."""
    frame = table(n)
    frame["b"] = frame["b"].astype(object)
    frame.loc[row - 1, "b"] = value
    if form == "parquet":  # a column Parquet can type: floats, or nullable integers
        frame["b"] = frame["b"].astype("float64" if value is not None else "Int64")
    return frame


@pytest.mark.parametrize("form", ROW_FORMS)
def test_errors_name_rows_of_the_input_across_chunks_and_the_column(
    linear: Any, tmp_path: Path, form: str
) -> None:
    source = write_input(
        tmp_path / f"in{SUFFIX.get(form, '.json')}", with_value(form, 7, 2.5), form
    )
    with pytest.raises(SchemaEnforcementError) as info:
        predict_file(linear, str(source), str(tmp_path / "out.csv"), chunk_rows=4)
    message = str(info.value)
    # the third chunk holds data rows 5-8 of the file; the exact row is the 7th
    assert message.startswith("rows 5-8: column 'b': expected long"), message
    assert "(row 7)" in message and "2.5" not in message
    assert info.value.rows == (5, 8)  # type: ignore[attr-defined]


@pytest.mark.parametrize("form", ["csv", "parquet", "jsonl", "dataframe_records"])
def test_a_null_in_a_required_column_names_rows_and_column(
    linear: Any, tmp_path: Path, form: str
) -> None:
    source = write_input(
        tmp_path / f"in{SUFFIX.get(form, '.json')}", with_value(form, 4, None, n=5), form
    )
    with pytest.raises(SchemaEnforcementError) as info:
        predict_file(linear, str(source), str(tmp_path / "out.csv"), chunk_rows=2)
    assert re.match(r"rows 3-4: column 'b'.* row 4\b", str(info.value)), str(info.value)


def test_the_models_own_error_is_left_as_it_is_with_the_rows_noted(
    linear: Any, tmp_path: Path
) -> None:
    frame = table(6)
    frame.loc[4, "a"] = -1.0  # the model raises for a negative a
    source = write_input(tmp_path / "in.csv", frame, "csv")
    with pytest.raises(RuntimeError, match="negative input") as info:
        predict_file(linear, str(source), str(tmp_path / "out.csv"), chunk_rows=2)
    if sys.version_info >= (3, 11):
        assert info.value.__notes__ == ["flavorkit predict: raised while predicting input rows 5-6"]
    assert list(tmp_path.iterdir()) == [source]


def test_a_failed_parquet_run_closes_its_writer_and_leaves_no_file(
    linear: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    unraisable: list[Any] = []
    monkeypatch.setattr(sys, "unraisablehook", unraisable.append)
    source = write_input(tmp_path / "in.csv", with_value("csv", 5, 2.5, n=6), "csv")
    assert (
        main(
            [
                "predict",
                str(linear.path),
                "-i",
                str(source),
                "-o",
                str(tmp_path / "o.pq"),
                "--chunk-size",
                "2",
            ]
        )
        == 1
    )
    gc.collect()  # a ParquetWriter left open would complain from __del__ now
    assert [u.object for u in unraisable] == []
    assert list(tmp_path.iterdir()) == [source]


class Changing(flavorkit.PythonModel):
    """Integers for rows whose ``a`` is below 2, else text: Parquet cannot hold both in a column."""

    def predict(self, context: Any, model_input: Any, params: Any = None) -> Any:
        a = model_input["a"]
        return a if a.iloc[0] < 2 else a.map(lambda v: f"v{v}")


def test_parquet_output_whose_columns_change_names_the_rows(tmp_path: Path) -> None:
    path = tmp_path / "changing"
    flavorkit.save_model(Changing(), path, input_example=pd.DataFrame({"a": [1, 2]}))
    source = tmp_path / "in.csv"
    source.write_text("a\n1\n1\n2\n2\n")
    with pytest.raises(PayloadError) as info:
        predict_file(
            flavorkit.load_model(path), str(source), str(tmp_path / "o.parquet"), chunk_rows=2
        )
    assert str(info.value).startswith("rows 3-4: the predictions do not fit the Parquet columns")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["changing", "in.csv"]


# -- hostile input files: one line on stderr, exit 1, nothing echoed ------------------

SECRET = "S3CR3T-VALUE"

HOSTILE: dict[str, tuple[str, bytes, str]] = {
    # name: (input file name, its bytes, what the one error line must say)
    "deep json": (
        "in.json",
        b'{"instances": [{"a": 1, "b": 1}, ' + b"[" * 5000 + b"]" * 5000 + b"]}",
        "row 2 nests deeper than 100 levels",
    ),
    "deep jsonl": (
        "in.jsonl",
        b'{"a": 1, "b": 1}\n{"a": ' + b"[" * 5000 + b"]" * 5000 + b', "b": 1}\n',
        "line 2 (row 2) nests deeper than 100 levels",
    ),
    "NaN in json": (
        "in.json",
        b'{"dataframe_records": [{"a": 1, "b": 1}, {"a": NaN, "b": 1}]}',
        "row 2: the input is not valid JSON",
    ),
    "NaN in jsonl": (
        "in.jsonl",
        b'{"a": 1, "b": 1}\n\n{"a": NaN, "b": 1}\n',
        "line 3 (row 2): NaN is not valid JSON",
    ),
    "overflow in jsonl": (
        "in.jsonl",
        b'{"a": 1e999, "b": 1}\n',
        "line 1 (row 1): field 'a': the number is too large for a 64-bit float",
    ),
    "bad token in json": (
        "in.json",
        b'{"dataframe_records": [{"a": 1, "b": 1}, {"a": ' + SECRET.encode() + b"}]}",
        "row 2: the input is not valid JSON (lexical error: invalid char in json text)",
    ),
    "not utf-8 csv": (
        "in.csv",
        b"a,b\n1,1\n1,\xff\xfe\n",
        "line 3 of the input is not UTF-8 text",
    ),
    "not utf-8 csv header": ("in.csv", b"a,\xffb\n1,1\n", "the header (line 1) of the input"),
    "not utf-8 jsonl": (
        "in.jsonl",
        b'{"a": 1, "b": 1}\n{"a": 1, "b": "\xff"}\n',
        "line 2 (row 2) is not UTF-8 text",
    ),
    "not utf-8 json": (
        "in.json",
        b'{"instances": [{"a": 1, "b": "\xff"}]}',
        "row 1: the input is not valid JSON (lexical error: invalid bytes in UTF8 string)",
    ),
    "header-only csv": ("in.csv", b"a,b\n", "the input has no data rows"),
    "empty csv": ("in.csv", b"", "the input is empty: a CSV file needs a header row"),
    "empty jsonl": ("in.jsonl", b"\n\n", "the input has no data rows"),
    "0-row json": ("in.json", b'{"inputs": []}', "the input has no data rows"),
    "lone surrogate column in jsonl": (
        "in.jsonl",
        b'{"a": 1, "b": 1, "\\udcff": 2}\n',
        "line 1 (row 1): the field name '\\udcff' holds a lone UTF-16 surrogate escape",
    ),
    "lone surrogate column in json": (
        "in.json",
        b'{"dataframe_records": [{"a": 1, "b": 1, "\\udcff": 2}]}',
        "row 1: the input holds bytes that are not UTF-8, or a lone surrogate escape",
    ),
    "lone surrogate column in csv": (
        "in.csv",
        "a,b,\udcff\n1,1,1\n".encode("utf-8", "surrogatepass"),
        "the header (line 1) of the input is not UTF-8 text",
    ),
    "value of the wrong type": (
        "in.jsonl",
        b'{"a": 1, "b": 1}\n{"a": "' + SECRET.encode() + b'", "b": 1}\n',
        "rows 1-2: column 'a': expected double, got",
    ),
    "ragged csv": ("in.csv", b"a,b\n1,1\n1,1,1\n", "Expected 2 fields in line 3, saw 3"),
    "a long unknown key": (
        "in.json",
        b'{"' + b"k" * 10_000 + b'": 1}',
        "got keys ['" + "k" * 40 + "...']",
    ),
}


@pytest.mark.parametrize("case", HOSTILE, ids=list(HOSTILE))
@pytest.mark.parametrize("out", ["out.csv", "out.parquet"])
def test_hostile_inputs_give_one_clear_line(
    linear: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str, out: str
) -> None:
    name, content, says = HOSTILE[case]
    source = tmp_path / name
    source.write_bytes(content)
    argv = ["predict", str(linear.path), "-i", str(source), "-o", str(tmp_path / out)]
    assert main([*argv, "--chunk-size", "2"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("flavorkit: error: ") and err.count("\n") == 1, err
    assert says in err, err
    assert SECRET not in err and len(err) < 500
    assert list(tmp_path.iterdir()) == [source]


def test_column_names_in_errors_are_capped(
    linear: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = write_input(tmp_path / "in.csv", table(2), "csv")
    keep = [f"--keep={'x' * 100}{i}" for i in range(15)]
    argv = ["predict", str(linear.path), "-i", str(source), "-o", str(tmp_path / "o.csv")]
    assert main([*argv, *keep]) == 1
    err = capsys.readouterr().err
    assert err.count("'" + "x" * 40 + "...'") == 10 and err.rstrip().endswith("and 5 more")


# -- one decoding path: a file and a request body say the same ---------------------------

SAME: list[Any] = [
    [1, 2],
    {"data": []},
    {"params": {}},
    {"inputs": [], "instances": []},
    {"inputs": [], "extra": 1},
    {"extra": 1, "inputs": []},
    {"inputs": [], "params": [1]},
    {"dataframe_split": [1]},
    {"dataframe_split": {"data": [], "orient": "x"}},
    {"dataframe_split": {"columns": ["a", "a"], "data": [[1, 2]]}},
    {"dataframe_split": {"columns": [1.5], "data": [[1]]}},
    {"dataframe_split": {"columns": ["a", "b"]}},
    {"dataframe_records": {"a": 1}},
    {"inputs": {"a": [1.0, 2.0], "b": [1]}},
    {"inputs": {"a": 1.0, "b": [1, 2]}},
]


@pytest.mark.parametrize("payload", SAME, ids=[json.dumps(p)[:40] for p in SAME])
def test_a_json_file_is_refused_with_the_servers_message(
    linear: Any, tmp_path: Path, payload: Any
) -> None:
    from flavorkit.io import parse_json

    text = json.dumps(payload)
    with pytest.raises(PayloadError) as served:
        parse_json(text, linear.signature.inputs, {"scale", "hold"})
    source = tmp_path / "in.json"
    source.write_text(text)
    with pytest.raises(PayloadError) as batch:
        predict_file(linear, str(source), str(tmp_path / "out.json"))
    assert str(batch.value) == str(served.value)


def test_a_json_file_holding_a_dict_of_single_values_is_one_row(
    linear: Any, tmp_path: Path
) -> None:
    source = tmp_path / "in.json"
    source.write_text(json.dumps({"inputs": {"a": 1.5, "b": 2}, "params": {"scale": 2.0}}))
    result = predict_file(linear, str(source), str(tmp_path / "out.json"))
    assert result.rows_in == 1 and read_output(tmp_path / "out.json", "json") == [10.0]


class Chat(flavorkit.PythonModel):
    """A chat-style model: the payload (a one-row frame after enforcement) in, one answer out."""

    def predict(self, context: Any, model_input: Any, params: Any = None) -> Any:
        text = model_input["messages"].iloc[0][-1]["content"]
        return {"answer": text.upper() * int((params or {}).get("times", 1))}


def test_a_chat_style_json_file_is_predicted_whole_as_the_server_does(tmp_path: Path) -> None:
    from flavorkit import (
        Array,
        ColSpec,
        ModelSignature,
        Object,
        ParamSchema,
        ParamSpec,
        Property,
        Schema,
    )

    path = tmp_path / "chat"
    message = Object([Property("role", "string"), Property("content", "string")])
    signature = ModelSignature(
        inputs=Schema([ColSpec(Array(message), "messages")]),  # as MLflow's chat signatures
        params=ParamSchema([ParamSpec("times", "long", 1)]),
    )
    flavorkit.save_model(Chat(), path, signature=signature)
    model = flavorkit.load_model(path)
    from flavorkit.server._scorer import Scorer

    text = json.dumps({"times": 2, "messages": [{"role": "user", "content": "hi"}]})
    source = tmp_path / "in.json"
    source.write_text(text)
    result = predict_file(model, str(source), str(tmp_path / "out.json"))
    assert result.rows_in == 1
    assert read_output(tmp_path / "out.json", "json") == [{"answer": "HIHI"}]
    scorer = Scorer(model)
    assert json.loads(scorer.score(scorer.prepare(text.encode(), "json"))) == {"answer": "HIHI"}


# -- CSV numbers parsed by the reader: the same values and messages as the text read ---


class _Pipe(io.BytesIO):
    """An input that cannot go back (stdin): read as text throughout."""

    def seekable(self) -> bool:
        return False


def _csv_chunks_seen(source: io.BytesIO, schema: Schema, chunk_rows: int) -> list[Any]:
    seen: list[Any] = []
    try:
        for chunk in csv_chunks(source, schema, chunk_rows):
            seen.append(
                [
                    (name, str(col.dtype), repr(col.astype(object).tolist()))
                    for name, col in chunk.data.items()
                ]
                + [chunk.rows, list(chunk.data.index)]
            )
    except Exception as exc:
        seen.append((type(exc).__name__, str(exc), getattr(exc, "rows", None)))
    return seen


ODD_CELLS = [
    "",
    "inf",
    "-Infinity",
    "nan",
    "NaN",
    "1e400",
    "2e19",
    "9223372036854775808",
    "18446744073709551616",
    "123456789012345678901234",
    "9007199254740993",
    "16777217",
    "2147483648",
    "True",
    "false",
    "abc",
    " 4",
    "+3",
    "0x10",
    "2.5",
    "1.7976931348623157e308",
    "4.9e-324",
    "0.1000000000000000055511151231257827",
]


@pytest.mark.parametrize("column", ["a", "b", "c", "d", "e", "id"])
@pytest.mark.parametrize("cell", ODD_CELLS)
def test_csv_numbers_read_from_a_file_match_the_text_read(column: str, cell: str) -> None:
    schema = Schema(
        [
            ColSpec("double", "a"),
            ColSpec("long", "b"),
            ColSpec("float", "c", required=False),
            ColSpec("integer", "d", required=False),
            ColSpec("double", "e"),
            ColSpec("string", "id"),
        ]
    )
    lines = ["id,a,b,c,d,e,extra"]
    for i in range(9):
        cells = {
            "id": f"r{i}",
            "a": f"{i * 0.1}",
            "b": str(i),
            "c": "1.5",
            "d": str(-i),
            "e": str(i),
        }
        if i == 6:  # the fourth chunk of two rows, after three read as numbers
            cells[column] = cell
        lines.append(",".join([*cells.values(), "x"]))
    data = ("\n".join(lines) + "\n").encode()
    from_file = _csv_chunks_seen(io.BytesIO(data), schema, 2)
    assert from_file == _csv_chunks_seen(_Pipe(data), schema, 2)
    assert len(from_file) == (5 if isinstance(from_file[-1], list) else 4)


def test_csv_file_read_as_numbers_predicts_as_from_stdin(linear: Any, tmp_path: Path) -> None:
    frame = table(25)
    source = write_input(tmp_path / "in.csv", frame, "csv")
    predict_file(linear, str(source), str(tmp_path / "out.csv"), chunk_rows=4, keep=["id"])
    from_file = pd.read_csv(tmp_path / "out.csv")
    assert from_file["prediction"].tolist() == expected(frame)
    assert from_file["id"].tolist() == frame["id"].tolist()


def test_parquet_chunks_after_the_first_are_written_as_from_pandas_writes_them() -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq
    from flavorkit.batch._writer import Writer

    chunks = []
    for start in (0, 3, 6):
        index = pd.RangeIndex(start, start + 3)
        keep = pd.DataFrame(
            {
                "id": pd.array(["a", None, "c"], dtype="str"),
                "n": pd.array([1, None, 3], dtype="Int64"),
                "t": pd.to_datetime(["2024-01-01", None, "2024-01-03"]),
            },
            index=index,
        )
        chunks.append((keep, np.array([0.5, np.nan, start])))
    sink = io.BytesIO()
    writer = Writer(sink, "parquet")
    for keep, result in chunks:
        assert writer.write(result, keep, 3) == 3
    writer.close()
    written = pq.read_table(io.BytesIO(sink.getvalue()))
    tables = [
        pa.Table.from_pandas(
            pd.concat([keep.reset_index(drop=True), pd.DataFrame({"prediction": result})], axis=1),
            preserve_index=False,
        )
        for keep, result in chunks
    ]
    assert written.equals(pa.concat_tables(tables))
    assert written.schema.metadata == tables[0].schema.metadata


def test_a_terminated_run_leaves_nothing_at_or_beside_the_output(tmp_path: Path) -> None:
    # a scheduler stops jobs with SIGTERM: the hidden .partial file must go too
    path = save_linear(tmp_path / "linear")
    out = tmp_path / "out"
    out.mkdir()
    cmd = [sys.executable, "-m", "flavorkit.cli", "predict", str(path), "-i", "-"]
    cmd += ["-o", str(out / "predictions.csv"), "--input-format", "csv"]
    with subprocess.Popen(
        cmd, stdin=subprocess.PIPE, stderr=subprocess.DEVNULL, env=server_env()
    ) as proc:
        assert proc.stdin is not None
        proc.stdin.write(b"a,b\n1.5,1\n")  # and the input stays open: the run waits for more
        proc.stdin.flush()
        deadline = time.monotonic() + 60
        while not list(out.iterdir()):  # the run has opened its hidden output file
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.02)
        proc.terminate()
        assert proc.wait(timeout=60) == 128 + signal.SIGTERM
    assert list(out.iterdir()) == []
