"""Hostile files for ``flavorkit predict`` and hostile environment files for a model's venv.

Batch scoring reads an input chosen by someone else: memory stays bounded
by the chunk (bytes read, columns, cells) whatever the file holds or its
metadata claims, and the output never lands on a folder, on the input, or
inside the model. The environment builder refuses what would install from
beyond the index or run something the folder names, before building anything.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import flavorkit
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from flavorkit import ColSpec, ModelSignature, Schema
from flavorkit.api import load_model
from flavorkit.batch import predict_file
from flavorkit.cli import main
from flavorkit.exceptions import PayloadError, UnsafeFormatError
from flavorkit.io import csv_chunks, json_chunks, jsonl_chunks, parquet_chunks
from flavorkit.io._chunks import MAX_COLUMNS
from flavorkit.server import _env

KIB = 1024


class Linear(flavorkit.PythonModel):
    """``a * 2 + b`` per row."""

    def predict(
        self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> Any:
        return (model_input["a"] * 2 + model_input["b"]).to_numpy()


def save_linear(path: Path) -> Path:
    signature = ModelSignature(inputs=Schema([ColSpec("double", "a"), ColSpec("long", "b")]))
    flavorkit.save_model(Linear(), path, signature=signature)
    return path


@pytest.fixture(scope="module")
def linear(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return load_model(save_linear(tmp_path_factory.mktemp("adv-batch") / "linear"))


def refused(model: Any, source: Path, out: Path, says: str, **options: Any) -> PayloadError:
    """Score ``source`` expecting a ``PayloadError`` saying ``says``; nothing is left at ``out``."""
    before = sorted(out.parent.iterdir())
    with pytest.raises(PayloadError) as caught:
        predict_file(model, str(source), str(out), **options)
    assert says in str(caught.value), str(caught.value)
    assert "\n" not in str(caught.value)
    assert sorted(out.parent.iterdir()) == before  # no output, no partial file
    return caught.value


# -- the input: memory bounded by the chunk -------------------------------------------


@pytest.mark.parametrize(
    ("name", "fmt"), [("in.csv", "csv"), ("in.jsonl", "jsonl"), ("in.json", "json")]
)
def test_a_line_that_never_ends_is_refused_past_the_chunk_bytes(
    linear: Any, tmp_path: Path, name: str, fmt: str
) -> None:
    # /dev/zero, or a 2 GB line: before the bound, read whole into memory
    source = tmp_path / name
    prefix = {"csv": b"a,b\n1,", "jsonl": b'{"a": 1, "b": "', "json": b'{"inputs": ["'}[fmt]
    source.write_bytes(prefix + b"x" * (256 * KIB))
    says = {
        "csv": "the next 10,000 rows take more than 0.0625 MiB, the most one chunk may read; "
        "pass a smaller --chunk-size",
        "jsonl": "line 1 (row 1) is longer than 0.0625 MiB, the most one chunk may read",
        "json": "the next 10,000 rows take more than 0.0625 MiB",
    }[fmt]
    error = refused(linear, source, tmp_path / "out.csv", says, max_chunk_bytes=64 * KIB)
    assert error.field == "input" if fmt != "jsonl" else error.field == "line 1"


def test_the_chunk_bytes_bound_the_readers_of_a_pipe() -> None:
    # stdin cannot seek: the bound is on what is read, not on the file's size
    class Pipe(io.BytesIO):
        def seekable(self) -> bool:
            return False

    header = b"a,b\n"
    with pytest.raises(PayloadError, match=r"one row takes more than 0\.0625 MiB"):
        list(csv_chunks(Pipe(header + b"1," + b"9" * 100_000), None, 1, max_bytes=64 * KIB))
    with pytest.raises(PayloadError, match=r"line 2 \(row 2\) is longer than 0\.0625 MiB"):
        list(jsonl_chunks(Pipe(b"[1]\n[" + b"1," * 50_000 + b"1]\n"), None, 5, max_bytes=64 * KIB))


def test_json_lines_end_a_chunk_early_at_its_bytes_and_keep_every_row(tmp_path: Path) -> None:
    lines = b"".join(json.dumps({"a": i, "b": "x" * 1000}).encode() + b"\n" for i in range(200))
    chunks = list(jsonl_chunks(io.BytesIO(lines), None, 10_000, max_bytes=16 * KIB))
    assert len(chunks) > 10 and all(c.advanced <= 16 * KIB for c in chunks)
    assert [int(v) for c in chunks for v in c.data["a"]] == list(range(200))


def test_a_csv_header_of_too_many_columns_is_refused_before_a_frame_is_made(
    linear: Any, tmp_path: Path
) -> None:
    # a 48 MB header of a million names took 9 GB and 400 s before the bound
    source = tmp_path / "in.csv"
    names = ",".join(f"c{i}" for i in range(MAX_COLUMNS + 1))
    source.write_text(f"a,b,{names}\n1,2,{','.join('1' * (MAX_COLUMNS + 1))}\n")
    error = refused(linear, source, tmp_path / "out.csv", f"the header has {MAX_COLUMNS + 3:,}")
    assert error.field == "header" and f"more than the {MAX_COLUMNS:,}" in str(error)


@pytest.mark.parametrize("form", ["jsonl", "records", "split"])
def test_json_records_naming_too_many_fields_are_refused(
    linear: Any, tmp_path: Path, form: str
) -> None:
    # records of different names: the table of their union grows as rows x names
    half = MAX_COLUMNS // 2 + 1
    records = [{f"x{i}": 1 for i in range(half)}, {f"y{i}": 1 for i in range(half)}]
    source = tmp_path / ("in.jsonl" if form == "jsonl" else "in.json")
    if form == "jsonl":
        source.write_text("".join(json.dumps(r) + "\n" for r in records))
        says = f"rows 1-2 of the input name {2 * half:,} different fields"
    elif form == "records":
        source.write_text(json.dumps({"dataframe_records": records}))
        says = f"rows 1-2 of the input name {2 * half:,} different fields"
    else:
        names = [f"c{i}" for i in range(MAX_COLUMNS + 1)]
        source.write_text(json.dumps({"dataframe_split": {"columns": names, "data": [[1]]}}))
        says = f"'dataframe_split.columns' names {MAX_COLUMNS + 1:,} columns"
    refused(linear, source, tmp_path / "out.csv", says)


def test_wide_rows_are_read_in_chunks_of_bounded_cells(monkeypatch: pytest.MonkeyPatch) -> None:
    # MAX_CHUNK_CELLS (10 million) made small: rows x columns of a chunk stay under it
    from flavorkit.io import _chunks, _tables

    monkeypatch.setattr(_chunks, "MAX_CHUNK_CELLS", 1000)
    monkeypatch.setattr(_tables, "MAX_CHUNK_CELLS", 1000)
    body = json.dumps({"inputs": [[1.0] * 40] * 30}).encode()
    assert [c.rows for c in json_chunks(io.BytesIO(body), None, 10_000)] == [25, 5]
    lines = b"".join(
        json.dumps({f"c{i}": i for i in range(40)}).encode() + b"\n" for _ in range(30)
    )
    assert [c.rows for c in jsonl_chunks(io.BytesIO(lines), None, 10_000)] == [25, 5]
    table = ",".join(f"c{i}" for i in range(100)) + "\n" + ("1," * 99 + "1\n") * 25
    assert [c.rows for c in csv_chunks(io.BytesIO(table.encode()), None, 10_000)] == [10, 10, 5]


def write_bomb(path: Path, megabytes: int) -> None:
    """A Parquet file of a few KiB whose one string cell decompresses to ``megabytes`` MiB."""
    big = "x" * (megabytes << 20)
    table = pa.table({"a": [1.0, 2.0], "b": [1.0, 2.0], "c": [big, "y"]})
    pq.write_table(table, path, compression="zstd", use_dictionary=False)


def test_a_parquet_decompression_bomb_is_refused_from_its_metadata(
    linear: Any, tmp_path: Path
) -> None:
    source = tmp_path / "in.parquet"
    write_bomb(source, 2)
    assert source.stat().st_size < 64 * KIB
    says = "(row group 0): the next 2 rows take more than 1 MiB once decompressed"
    refused(linear, source, tmp_path / "out.csv", says, max_chunk_bytes=1 << 20)


def test_a_parquet_batch_larger_than_its_metadata_says_stops_the_run(tmp_path: Path) -> None:
    # the metadata is the file's word; the decoded batch is checked too
    source = tmp_path / "in.parquet"
    write_bomb(source, 2)
    with pytest.raises(PayloadError, match="one row takes more than 1 MiB"):
        list(parquet_chunks(str(source), None, 1, max_bytes=1 << 20))


def test_a_deeply_nested_parquet_type_is_refused(linear: Any, tmp_path: Path) -> None:
    kind: Any = pa.int64()
    value: Any = 1
    for _ in range(60):
        kind, value = pa.list_(kind), [value]
    source = tmp_path / "in.parquet"
    pq.write_table(pa.table({"a": pa.array([value], type=kind), "b": [1.0]}), source)
    refused(linear, source, tmp_path / "out.csv", "Parquet schema too deeply nested")


# -- the output: never a folder, the input, or the model ----------------------------------


def test_an_output_that_is_a_folder_is_refused_before_the_run(linear: Any, tmp_path: Path) -> None:
    # before: the whole run, then a traceback (IsADirectoryError from the rename)
    source = tmp_path / "in.csv"
    source.write_text("a,b\n1,2\n")
    (tmp_path / "out.csv").mkdir()
    error = refused(linear, source, tmp_path / "out.csv", "is a folder; name a file")
    assert error.field == "output"


def test_an_output_that_is_the_input_is_refused_and_the_input_kept(
    linear: Any, tmp_path: Path
) -> None:
    # before: the input was replaced by its predictions
    source = tmp_path / "in.csv"
    source.write_text("a,b\n1,2\n")
    (tmp_path / "alias.csv").hardlink_to(source)
    for out in (source, tmp_path / "sub" / ".." / "in.csv", tmp_path / "alias.csv"):
        (tmp_path / "sub").mkdir(exist_ok=True)
        with pytest.raises(PayloadError, match="is the input file"):
            predict_file(linear, str(source), str(out))
    assert source.read_text() == "a,b\n1,2\n"


def test_an_output_inside_the_model_folder_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # before: `-o MODEL/MLmodel --output-format csv` wrote predictions over the manifest
    model = save_linear(tmp_path / "linear")
    manifest = (model / "MLmodel").read_bytes()
    source = tmp_path / "in.csv"
    source.write_text("a,b\n1,2\n")
    out = str(model / ".." / "linear" / "MLmodel")
    argv = ["predict", str(model), "-i", str(source), "-o", out, "--output-format", "csv"]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "is inside the model's folder" in err and err.count("\n") == 1, err
    assert (model / "MLmodel").read_bytes() == manifest


def test_a_link_at_the_output_is_replaced_never_followed(linear: Any, tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_text("a,b\n1,2\n")
    target = tmp_path / "target.txt"
    target.write_text("kept")
    (tmp_path / "out.csv").symlink_to(target)
    predict_file(linear, str(source), str(tmp_path / "out.csv"))
    assert target.read_text() == "kept"
    assert not (tmp_path / "out.csv").is_symlink()
    assert (tmp_path / "out.csv").read_text().splitlines() == ["prediction", "4.0"]


# -- environment files: nothing beyond the index, nothing run, refused before building ------


@pytest.mark.parametrize(
    "line",
    [
        "six; rm -rf /",
        "$(touch /tmp/flavorkit-pwned)",
        "`id`",
        "six --index-url=https://example.invalid/simple",
        "six --global-option=--evil",
        "./malware",
        "file:///tmp/evil",
        "--extra-index-url https://example.invalid/simple",
        "--pre",
        "-c constraints.txt --index-url=https://example.invalid/simple",
    ],
)
def test_hostile_requirement_lines_are_refused_before_building(
    line: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    model = save_linear(tmp_path / "linear")
    monkeypatch.setenv(_env.ENV_ROOT_VAR, str(tmp_path / "envs"))
    (model / "requirements.txt").write_text(f"six==1.16.0\n{line}\n")
    with pytest.raises(UnsafeFormatError, match=r"requirements\.txt") as caught:
        _env.ensure_env(model)
    assert repr(line[:80]) in str(caught.value)
    assert not (tmp_path / "envs").exists()
    assert not Path("/tmp/flavorkit-pwned").exists()


def test_hostile_build_dependencies_are_refused_before_building(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    model = save_linear(tmp_path / "linear")
    monkeypatch.setenv(_env.ENV_ROOT_VAR, str(tmp_path / "envs"))
    (model / "python_env.yaml").write_text(
        "python: '3.11'\nbuild_dependencies:\n  - --index-url=https://example.invalid/simple\n"
    )
    with pytest.raises(UnsafeFormatError, match="index-url"):
        _env.ensure_env(model)
    assert not (tmp_path / "envs").exists()


# -- the archive a model travels in to Spark and Dask workers ---------------------------------


def test_adv_an_archive_planted_in_the_shared_temp_folder_is_not_shipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before: archives were kept in /tmp/flavorkit-ship and an existing one was reused by
    name, so another user of the machine could plant the archive the workers would load."""
    import tarfile
    import tempfile

    from flavorkit.batch import _engines

    shared = tmp_path / "shared-tmp"
    monkeypatch.setattr(tempfile, "tempdir", str(shared))
    monkeypatch.setenv("FLAVORKIT_CACHE_DIR", str(tmp_path / "cache"))
    shipped = _engines.prepare(save_linear(tmp_path / "linear"))[0]
    planted = shared / "flavorkit-ship" / _engines.archive_name(shipped)
    planted.parent.mkdir(parents=True)
    (tmp_path / "MLmodel").write_text("flavors: {planted: {}}\n")
    with tarfile.open(planted, "w") as tar:
        tar.add(tmp_path / "MLmodel", arcname="MLmodel")
    shipped_tar = _engines.archive(shipped)
    assert shipped_tar.parent == tmp_path / "cache" / "ship"
    assert shipped_tar.parent.stat().st_mode & 0o077 == 0  # the user's own
    with tarfile.open(shipped_tar) as tar:
        names = sorted(tar.getnames())
        manifest = tar.extractfile("MLmodel")
        assert manifest is not None and b"planted" not in manifest.read()
    assert names == sorted(
        p.relative_to(tmp_path / "linear").as_posix() for p in (tmp_path / "linear").rglob("*")
    )
