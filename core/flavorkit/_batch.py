"""Batch scoring: ``flavorkit predict MODEL -i INPUT -o OUTPUT``, streamed in chunks.

Inputs: CSV (header row), Parquet, JSON in the serving payload forms
(``dataframe_split``, ``dataframe_records``, ``instances``, ``inputs``) and
JSON Lines (one record per line). Outputs: CSV, Parquet, JSON
(``{"predictions": [...]}``) and JSON Lines. Only one chunk is in memory at a
time, so inputs larger than memory work; JSON is streamed with ijson. Values
are typed by the signature exactly as the scoring server types them
(``flavorkit._payload``). The output is written beside its destination and
renamed into place at the end, so a failure leaves no partial file.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from flavorkit import _convert, _payload
from flavorkit._payload import FORMAT_KEYS, Rows
from flavorkit.exceptions import PayloadError, SchemaEnforcementError

if TYPE_CHECKING:
    import pandas as pd

    from flavorkit._pyfunc import PyFuncModel
    from flavorkit._schema import Schema

FORMATS = ("csv", "json", "jsonl", "parquet")
_SUFFIXES = {
    ".csv": "csv",
    ".json": "json",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".parquet": "parquet",
    ".pq": "parquet",
}
DEFAULT_CHUNK_ROWS = 10_000


@dataclass
class Chunk:
    """One chunk of input: the model's data, the input rows it came from, and progress made."""

    data: Any
    rows: int
    frame: pd.DataFrame | None = None
    params: dict[str, Any] | None = None
    advanced: int = 0


@dataclass
class BatchResult:
    """What a batch run did: rows in, rows out, chunks, wall time, input columns left out."""

    rows_in: int
    rows_out: int
    chunks: int
    seconds: float
    ignored_columns: list[str] = field(default_factory=list)


def detect_format(path: str, given: str | None) -> str:
    """The format named by ``given``, else by ``path``'s suffix; raises ``PayloadError``."""
    if given:
        if given not in FORMATS:
            raise PayloadError(
                f"unknown format {given!r}; use one of {', '.join(FORMATS)}", field="format"
            )
        return given
    fmt = _SUFFIXES.get(Path(path).suffix.lower())
    if fmt is None:
        raise PayloadError(
            f"cannot tell the format of {path!r} from its suffix; "
            "pass --input-format/--output-format "
            f"({', '.join(FORMATS)})",
            field="format",
        )
    return fmt


# ---------------------------------------------------------------- readers


def _column_schema(schema: Schema | None) -> bool:
    return schema is not None and not schema.is_tensor_spec()


def _rows_data(rows: Rows, schema: Schema | None) -> tuple[Any, pd.DataFrame | None]:
    if schema is None:
        frame = _payload.untyped_frame(rows)
        return frame, frame
    if _column_schema(schema):
        frame = _convert.typed_frame(rows, schema)
        return frame, frame
    import pandas as pd

    frame = pd.DataFrame(
        rows.rows, columns=list(rows.columns) if rows.columns is not None else None
    )
    return frame, frame


def read_csv_chunks(source: IO[bytes], schema: Schema | None, chunk_rows: int) -> Iterator[Chunk]:
    """CSV chunks; every cell read as text and typed by the signature."""
    start = _tell(source)
    tensors = schema is not None and schema.is_tensor_spec()
    for frame in _payload.read_csv(source, schema, chunksize=chunk_rows):
        pos = _tell(source)
        data = _payload.tensor_from_table(frame, schema, text=True) if tensors else frame  # type: ignore[arg-type]
        yield Chunk(data, len(frame), frame, advanced=pos - start)
        start = pos


def read_parquet_chunks(path: str, schema: Schema | None, chunk_rows: int) -> Iterator[Chunk]:
    """Parquet record batches of ``chunk_rows`` rows, numeric columns narrowed exactly."""
    import pyarrow.parquet as pq

    # buffered, not pre-buffered: a row group's column chunks are streamed page by page
    # instead of loaded whole (files often hold one row group for every row)
    with pq.ParquetFile(path, buffer_size=1 << 20, pre_buffer=False) as file:
        for batch in file.iter_batches(batch_size=chunk_rows):
            frame = batch.to_pandas()
            data = frame
            if _column_schema(schema):
                data = frame = _convert.binary_frame(frame, schema)  # type: ignore[arg-type]
            elif schema is not None:
                data = _payload.tensor_from_table(frame, schema, text=False)
            yield Chunk(data, len(frame), frame, advanced=len(frame))


def read_jsonl_chunks(source: IO[bytes], schema: Schema | None, chunk_rows: int) -> Iterator[Chunk]:
    """JSON Lines: one record (object) per line; blank lines are skipped."""
    records: list[Any] = []
    consumed = 0
    line_no = 0
    for line in source:
        line_no += 1
        consumed += len(line)
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except ValueError:
            raise PayloadError(
                f"line {line_no} is not valid JSON", field=f"line {line_no}"
            ) from None
        if len(records) >= chunk_rows:
            yield _items_chunk(records, "line", schema, consumed)
            records, consumed = [], 0
    if records:
        yield _items_chunk(records, "line", schema, consumed)


def _items_chunk(
    items: list[Any], key: str, schema: Schema | None, advanced: int, params: Any = None
) -> Chunk:
    if _column_schema(schema) or schema is None:
        if items and all(isinstance(x, dict) for x in items):
            rows = _payload.records_rows(items, key)
        elif schema is not None:
            rows = _payload.inputs_rows(items, key, schema)
        else:
            rows = Rows(None, [x if isinstance(x, list) else [x] for x in items])
        data, frame = _rows_data(rows, schema)
        return Chunk(data, len(items), frame, params, advanced)
    return Chunk(_payload.tensor_input(items, key, schema), len(items), None, params, advanced)


def read_json_chunks(source: IO[bytes], schema: Schema | None, chunk_rows: int) -> Iterator[Chunk]:
    """A serving payload streamed with ijson: the rows (or instances) of its list, chunk by chunk.

    ``params`` must come before the rows when the rows fill more than one
    chunk (the serving example's order, params last, works for files of one
    chunk). Rows of a ``dataframe_split`` wait for its ``columns``. A dict
    of columns under ``inputs`` is read whole.
    """
    import ijson

    key: str | None = None
    columns: tuple[str, ...] | None = None
    params: Any = None
    emitted = False
    # rows need their column names first, unless the signature matches by position
    need_columns = schema is None or schema.has_input_names()
    items: list[Any] = []
    start = _tell(source)
    try:
        for path, value in _stream_values(ijson.parse(source, use_float=True)):
            top = path.split(".", 1)[0]
            if top not in FORMAT_KEYS and top != "params":
                raise PayloadError(
                    f"unknown top-level key {top!r}; allowed: {list(FORMAT_KEYS)} and 'params'",
                    field=top,
                )
            if top in FORMAT_KEYS:
                if key is not None and top != key:
                    raise PayloadError(
                        f"the file holds two format keys, {key!r} and {top!r}; keep one", field=top
                    )
                key = top
            if value is LIST_START:
                continue  # a streamed list begins: its key is now known, its items follow
            if path == "params":
                if emitted:
                    raise PayloadError(
                        "'params' comes after the rows; move it first or pass --params",
                        field="params",
                    )
                if not isinstance(value, dict):
                    raise PayloadError("'params' must be a JSON object", field="params")
                params = value
            elif path == "dataframe_split.columns":
                if not isinstance(value, list):
                    raise PayloadError("'dataframe_split.columns' must be a list", field=path)
                columns = tuple(str(c) for c in value)
            elif path.endswith(".item"):
                items.append(value)
                waiting = key == "dataframe_split" and columns is None and need_columns
                if len(items) >= chunk_rows and not waiting:
                    yield _chunk_of(key, items, columns, schema, params, _tell(source) - start)
                    items, start, emitted = [], _tell(source), True
            elif path == "inputs":
                yield Chunk(
                    **_whole_inputs(value, schema), params=params, advanced=_tell(source) - start
                )
                emitted = True
            elif path != "dataframe_split.index":
                raise PayloadError(f"'{path}' must be a list", field=path)
    except ijson.JSONError as exc:
        raise PayloadError(
            f"the input is not valid JSON ({str(exc)[:200]})", field="body"
        ) from None
    if key is None:
        raise PayloadError(f"the file must hold one of the keys {list(FORMAT_KEYS)}", field="body")
    if items:
        yield _chunk_of(key, items, columns, schema, params, _tell(source) - start)


def _whole_inputs(value: Any, schema: Schema | None) -> dict[str, Any]:
    form = _payload.parse_form("inputs", value, schema)
    if "rows" in form:
        data, frame = _rows_data(form["rows"], schema)
        return {"data": data, "rows": len(data), "frame": frame}
    data = form["data"]
    rows = len(data) if hasattr(data, "__len__") and not isinstance(data, dict) else 1
    return {"data": data, "rows": rows, "frame": data if hasattr(data, "columns") else None}


def _chunk_of(
    key: str | None,
    items: list[Any],
    columns: Any,
    schema: Schema | None,
    params: Any,
    advanced: int,
) -> Chunk:
    if key == "dataframe_split":
        rows = _payload.split_rows(
            {"columns": list(columns) if columns is not None else None, "data": items}
        )
        data, frame = _rows_data(rows, schema)
        return Chunk(data, len(items), frame, params, advanced)
    return _items_chunk(items, key or "inputs", schema, advanced, params)


# lists whose items are streamed one by one; anything else is read as a whole value
LIST_START = object()
_STREAMED = frozenset({"dataframe_split.data", "dataframe_records", "instances", "inputs"})


def _stream_values(events: Any) -> Iterator[tuple[str, Any]]:
    """``(path, value)`` per item of a streamed list (path ends in ``.item``) and per other value.

    The start of a streamed list is announced as ``(path, LIST_START)``.

    Raises ``PayloadError`` when the top level (or ``dataframe_split``) is not an object.
    """
    import ijson

    lists: set[str] = set()
    builder = None
    depth = 0
    target = ""
    for prefix, event, value in events:
        if builder is not None:
            builder.event(event, value)
            depth += event in ("start_map", "start_array")
            depth -= event in ("end_map", "end_array")
            if depth == 0:
                yield target, builder.value
                builder = None
            continue
        if prefix in ("", "dataframe_split"):
            if event not in ("start_map", "map_key", "end_map"):
                where = "the file" if prefix == "" else "'dataframe_split'"
                raise PayloadError(f"{where} must be a JSON object", field=prefix or "body")
            continue
        if prefix in _STREAMED and event in ("start_array", "end_array"):
            if event == "start_array":
                lists.add(prefix)
                yield prefix, LIST_START
            continue
        if prefix.endswith(".item") and prefix[:-5] not in lists:
            continue  # cannot happen for well-formed events; defensive
        target = prefix
        if event in ("start_map", "start_array"):
            builder = ijson.ObjectBuilder()
            builder.event(event, value)
            depth = 1
        else:
            yield target, value


def _tell(source: IO[bytes]) -> int:
    try:
        return source.tell()
    except (OSError, ValueError):
        return 0


# ---------------------------------------------------------------- writers


def predictions_frame(result: Any) -> pd.DataFrame:
    """Predictions as a table for CSV/Parquet: one column ``prediction`` or one per output."""
    import numpy as np
    import pandas as pd

    if isinstance(result, pd.DataFrame):
        return result.reset_index(drop=True)
    if isinstance(result, pd.Series):
        return result.reset_index(drop=True).to_frame(
            name=result.name if result.name is not None else "prediction"
        )
    if isinstance(result, dict):
        return pd.DataFrame(
            {str(k): list(np.asarray(v)) if np.ndim(v) > 1 else v for k, v in result.items()}
        )
    arr = np.asarray(result)
    if arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.ndim == 1:
        return pd.DataFrame({"prediction": arr})
    if arr.ndim == 2:
        return pd.DataFrame(arr, columns=[f"prediction_{i}" for i in range(arr.shape[1])])
    return pd.DataFrame({"prediction": list(arr)})


def _length(result: Any) -> int | None:
    try:
        return len(result)
    except TypeError:
        return None


class _Writer:
    """Writes chunks of predictions to one output in one format."""

    def __init__(self, fh: IO[bytes], fmt: str) -> None:
        self.fh = fh
        self.fmt = fmt
        self.count = 0
        self._parquet: Any = None

    def write(self, result: Any, keep: pd.DataFrame | None, rows: int) -> int:
        """Append the predictions for one chunk of ``rows`` input rows; returns how many."""
        if keep is not None and _length(result) != rows:
            raise PayloadError(
                f"--keep needs one prediction per input row; the model returned "
                f"{_length(result)} for {rows} rows",
                field="keep",
            )
        if self.fmt in ("json", "jsonl"):
            items = _payload.predictions_jsonable(result)
            items = items if isinstance(items, list) else [items]
            if keep is not None:
                kept = _payload.predictions_jsonable(keep)
                items = [
                    {**k, **(p if isinstance(p, dict) else {"prediction": p})}
                    for k, p in zip(kept, items, strict=True)
                ]
            sep = b"\n" if self.fmt == "jsonl" else b","
            for item in items:
                if self.fmt == "json":
                    self.fh.write(b'{"predictions":[' if self.count == 0 else sep)
                self.fh.write(json.dumps(item, allow_nan=False, separators=(",", ":")).encode())
                if self.fmt == "jsonl":
                    self.fh.write(sep)
                self.count += 1
            return len(items)
        frame = predictions_frame(result)
        if keep is not None:
            import pandas as pd

            frame = pd.concat([keep.reset_index(drop=True), frame], axis=1)
        if self.fmt == "csv":
            frame.to_csv(self.fh, header=self.count == 0, index=False)
        else:
            self._write_parquet(frame)
        self.count += len(frame)
        return len(frame)

    def _write_parquet(self, frame: pd.DataFrame) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.Table.from_pandas(frame, preserve_index=False)
        if self._parquet is None:
            self._parquet = pq.ParquetWriter(self.fh, table.schema)
        elif table.schema != self._parquet.schema:
            table = table.cast(self._parquet.schema)
        self._parquet.write_table(table)

    def close(self) -> None:
        if self.fmt == "json":
            self.fh.write(b'{"predictions":[]}' if self.count == 0 else b"]}")
            self.fh.write(b"\n")
        if self._parquet is not None:
            self._parquet.close()


# ---------------------------------------------------------------- the run


def _chunks(
    source: IO[bytes] | str, fmt: str, schema: Schema | None, chunk_rows: int
) -> Iterator[Chunk]:
    if fmt == "parquet":
        assert isinstance(source, str)
        return read_parquet_chunks(source, schema, chunk_rows)
    assert not isinstance(source, str)
    reader = {"csv": read_csv_chunks, "json": read_json_chunks, "jsonl": read_jsonl_chunks}[fmt]
    return reader(source, schema, chunk_rows)


@contextlib.contextmanager
def _open_input(path: str, fmt: str) -> Iterator[IO[bytes] | str]:
    if fmt == "parquet":
        if path == "-":
            raise PayloadError(
                "Parquet input cannot be read from stdin; pass a file", field="input"
            )
        yield path
    elif path == "-":
        yield sys.stdin.buffer
    else:
        with open(path, "rb") as fh:
            yield fh


@contextlib.contextmanager
def _open_output(path: str) -> Iterator[IO[bytes]]:
    if path == "-":
        yield sys.stdout.buffer
        sys.stdout.buffer.flush()
        return
    target = Path(path)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.partial")
    try:
        with open(tmp, "wb") as fh:
            yield fh
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def _progress(enabled: bool, fmt: str, path: str) -> Any:
    if not enabled:
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    if fmt == "parquet":
        import pyarrow.parquet as pq

        return tqdm(
            total=pq.ParquetFile(path).metadata.num_rows,
            unit="rows",
            unit_scale=True,
            file=sys.stderr,
        )
    total = os.path.getsize(path) if path != "-" else None
    return tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, file=sys.stderr)


def predict_file(
    model: PyFuncModel,
    input_path: str,
    output_path: str,
    *,
    input_format: str | None = None,
    output_format: str | None = None,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    params: dict[str, Any] | None = None,
    keep: Sequence[str] = (),
    progress: bool = False,
) -> BatchResult:
    """Score ``input_path`` with ``model`` chunk by chunk and write ``output_path``.

    ``"-"`` means stdin/stdout (not for Parquet). ``keep`` names input
    columns copied next to the predictions (e.g. an id); input columns the
    signature does not name are left out of the model's input (listed in
    ``BatchResult.ignored_columns``). ``params`` apply to
    every chunk (params inside a JSON payload are used when not given).
    Raises ``PayloadError`` for a malformed input and ``SchemaEnforcementError``
    (naming the rows of the chunk) for data that does not fit the signature.
    """
    if chunk_rows < 1:
        raise ValueError(f"chunk_rows must be at least 1, got {chunk_rows}")
    in_fmt = detect_format(input_path, input_format)
    out_fmt = detect_format(output_path, output_format)
    schema = model.signature.inputs if model.signature is not None else None
    named = (
        {str(s.name) for s in schema.inputs}
        if schema is not None and schema.has_input_names()
        else None
    )
    started = time.perf_counter()
    rows_in = rows_out = chunks = 0
    ignored: set[str] = set()
    bar = _progress(progress, in_fmt, input_path)
    try:
        with _open_input(input_path, in_fmt) as source, _open_output(output_path) as sink:
            writer = _Writer(sink, out_fmt)
            for chunk in _chunks(source, in_fmt, schema, chunk_rows):
                kept = _kept(chunk, keep)
                data = chunk.data
                if named is not None and hasattr(data, "columns"):
                    # files often carry ids and other columns: leave them out quietly, report once
                    extra = [c for c in data.columns if str(c) not in named]
                    if extra:
                        ignored.update(str(c) for c in extra if str(c) not in keep)
                        data = data[[c for c in data.columns if str(c) in named]]
                try:
                    result = model.predict(
                        data, params=params if params is not None else chunk.params
                    )
                except SchemaEnforcementError as exc:
                    raise SchemaEnforcementError(
                        f"rows {rows_in + 1}-{rows_in + chunk.rows}: {exc}",
                        field=exc.field,
                        expected=exc.expected,
                        actual=exc.actual,
                    ) from None
                rows_out += writer.write(result, kept, chunk.rows)
                rows_in += chunk.rows
                chunks += 1
                if bar is not None:
                    bar.update(chunk.advanced)
            writer.close()
    finally:
        if bar is not None:
            bar.close()
    return BatchResult(rows_in, rows_out, chunks, time.perf_counter() - started, sorted(ignored))


def _kept(chunk: Chunk, keep: Sequence[str]) -> pd.DataFrame | None:
    if not keep:
        return None
    frame = chunk.frame
    missing = [c for c in keep if frame is None or c not in frame.columns]
    if missing:
        raise PayloadError(
            f"--keep names column(s) the input does not have: {missing}", field="keep"
        )
    assert frame is not None
    return frame[list(keep)]
