"""Batch scoring: ``flavorkit predict MODEL -i INPUT -o OUTPUT``, streamed in chunks.

Inputs: CSV (header row), Parquet, JSON in the serving payload forms
(``dataframe_split``, ``dataframe_records``, ``instances``, ``inputs``) and
JSON Lines (one record per line). Outputs: CSV, Parquet, JSON
(``{"predictions": [...]}``) and JSON Lines. Only one chunk is in memory at a
time, so inputs larger than memory work; JSON is streamed with ijson. Values
are typed by the signature exactly as the scoring server types them
(``flavorkit._payload``). The output is written beside its destination and
renamed into place at the end, so a failure leaves no partial file.

Input files are read as hostile: every problem is a ``PayloadError`` or
``SchemaEnforcementError`` whose one-line message says where it is (the data
rows of the input, 1-based and counted across chunks without the header, or
the line for JSON Lines, and the column) and never echoes a value; column
names are escaped, cut short and listed at most ten at a time.
"""

from __future__ import annotations

import codecs
import contextlib
import json
import os
import re
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from flavorkit import _convert, _payload
from flavorkit._payload import FORMAT_KEYS, Rows
from flavorkit.exceptions import FlavorkitError, PayloadError, SchemaEnforcementError

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
# nesting of JSON arrays and objects in an input; tensors and Array columns use fewer than 10
MAX_DEPTH = 100


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


# ---------------------------------------------------------------- saying where


# a position inside one chunk in a message about it (0-based): "row 3", "item 3"
_POSITION = re.compile(r"\b(row|item) ([0-9]+)\b")


def _span(first: int, last: int) -> str:
    return f"row {first}" if first == last else f"rows {first}-{last}"


def _one_line(text: str, limit: int = 1000) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _name(label: Any, width: int = 40) -> str:
    """A column name or key for a message: quoted and escaped, cut to ``width`` characters."""
    text = label if isinstance(label, str) else str(label)
    return repr(text[:width] + "...") if len(text) > width else repr(text)


def _names(labels: Sequence[Any], limit: int = 10) -> str:
    """Up to ``limit`` names for a message, then how many more there are."""
    shown = ", ".join(_name(label) for label in labels[:limit])
    more = len(labels) - limit
    return f"[{shown}]" + (f" and {more} more" if more > 0 else "")


def _located(
    exc: FlavorkitError, first: int, last: int, *, positions: bool = True
) -> FlavorkitError:
    """``exc`` said of the input's rows ``first``-``last`` (1-based): a copy, same type and fields.

    With ``positions``, the 0-based positions the message gives inside the
    chunk (``row 3``, ``item 3``) become rows of the input. Tensor messages
    keep theirs: their positions count elements, not rows. A
    ``SchemaEnforcementError`` whose message does not name its column gets it.
    """
    message = _one_line(str(exc))
    if positions:
        message = _POSITION.sub(lambda m: f"{m[1]} {first + int(m[2])}", message)
    column = getattr(exc, "field", None)
    if (
        isinstance(exc, SchemaEnforcementError)
        and isinstance(column, str)
        and not any(repr(name) in message for name in column.split(", "))
    ):
        message = f"column {_name(column)}: {message}"
    located = exc.__class__.__new__(exc.__class__)
    located.__dict__.update(exc.__dict__)
    located.args = (f"{_span(first, last)}: {message}",)
    located.rows = (first, last)  # type: ignore[attr-defined]
    return located


def _after(done: int) -> str:
    """Where reading stopped when the rows of the failed chunk are not known."""
    return f" after data row {done}" if done else ""


def _note(exc: BaseException, first: int, last: int) -> None:
    """Say on an exception of the model itself which rows it was predicting (Python 3.11+)."""
    add_note = getattr(exc, "add_note", None)
    if add_note is not None:
        add_note(f"flavorkit predict: raised while predicting input {_span(first, last)}")


def _first_line(exc: BaseException, limit: int = 200) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    text = exc.args[0] if exc.args else ""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    lines = str(text).strip().splitlines()
    return lines[0][:limit] if lines else type(exc).__name__


# ---------------------------------------------------------------- readers


def _column_schema(schema: Schema | None) -> bool:
    return schema is not None and not schema.is_tensor_spec()


def _positions(schema: Schema | None) -> bool:
    """Whether positions in messages count rows (they count elements for tensors)."""
    return schema is None or not schema.is_tensor_spec()


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
    """CSV chunks; with a column signature every cell is read as text and typed by it.

    Raises ``PayloadError`` for an empty file, text that is not UTF-8 (naming
    its line) and malformed CSV, ``SchemaEnforcementError`` for a cell that
    does not fit its column (naming the row).
    """
    import pandas as pd

    typed = _column_schema(schema)
    tensors = schema is not None and not typed
    options = _payload.CSV_TEXT_OPTIONS if typed else {}
    start = _tell(source)
    done = 0
    try:
        reader = pd.read_csv(source, chunksize=chunk_rows, **options)
        with reader:
            for frame in reader:
                pos = _tell(source)
                rows = len(frame)
                if rows == 0:
                    continue
                try:
                    if typed:
                        frame = _convert.text_frame(frame, schema)  # type: ignore[arg-type]
                    data = (
                        _payload.tensor_from_table(frame, schema, text=True)  # type: ignore[arg-type]
                        if tensors
                        else frame
                    )
                except FlavorkitError as exc:
                    raise _located(exc, done + 1, done + rows, positions=not tensors) from None
                yield Chunk(data, rows, frame, advanced=pos - start)
                start = pos
                done += rows
    except pd.errors.EmptyDataError:
        raise PayloadError(
            "the input is empty: a CSV file needs a header row", field="input"
        ) from None
    except UnicodeDecodeError:
        line = _bad_utf8_line(source)
        where = "the header (line 1)" if line == 1 else f"line {line}" if line else "a line"
        after = _after(done) if line is None else ""
        raise PayloadError(
            f"{where} of the input{after} is not UTF-8 text; save the file as UTF-8",
            field="header" if line == 1 else f"line {line}" if line else "input",
        ) from None
    except pd.errors.ParserError as exc:
        detail = _first_line(exc).removeprefix("Error tokenizing data. C error: ")
        raise PayloadError(
            f"the input is not valid CSV{_after(done)} ({detail})", field="input"
        ) from None


def _bad_utf8_line(source: IO[bytes]) -> int | None:
    """The line (1-based) of the first byte that is not UTF-8, read again from the start.

    None when ``source`` cannot seek (stdin) or holds no such byte.
    """
    try:
        source.seek(0)
    except (AttributeError, OSError, ValueError):
        return None
    decoder = codecs.getincrementaldecoder("utf-8")()
    line = 1
    while True:
        block = source.read(1 << 20)
        pending = len(decoder.getstate()[0])  # bytes of a character the last block cut
        try:
            decoder.decode(block, final=not block)
        except UnicodeDecodeError as exc:
            return line + block.count(b"\n", 0, max(exc.start - pending, 0))
        if not block:
            return None
        line += block.count(b"\n")


def read_parquet_chunks(path: str, schema: Schema | None, chunk_rows: int) -> Iterator[Chunk]:
    """Parquet record batches of ``chunk_rows`` rows, numeric columns narrowed exactly."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    unreadable = (pa.ArrowException, OSError, ValueError, UnicodeDecodeError)
    typed = _column_schema(schema)
    try:
        # buffered, not pre-buffered: a row group's column chunks are streamed page by page
        # instead of loaded whole (files often hold one row group for every row)
        file = pq.ParquetFile(path, buffer_size=1 << 20, pre_buffer=False)
    except FileNotFoundError:
        raise
    except unreadable as exc:
        raise PayloadError(
            f"the input is not a Parquet file this can read ({_first_line(exc)})", field="input"
        ) from None
    done = 0
    with file:
        batches = file.iter_batches(batch_size=chunk_rows)
        while True:
            try:
                batch = next(batches)
                frame = batch.to_pandas()
            except StopIteration:
                return
            except unreadable as exc:
                raise PayloadError(
                    f"the Parquet data{_after(done)} cannot be read ({_first_line(exc)})",
                    field="input",
                ) from None
            rows = len(frame)
            if rows == 0:
                continue
            data = frame
            try:
                if typed:
                    data = frame = _convert.binary_frame(frame, schema)  # type: ignore[arg-type]
                elif schema is not None:
                    data = _payload.tensor_from_table(frame, schema, text=False)
            except FlavorkitError as exc:
                raise _located(exc, done + 1, done + rows, positions=typed) from None
            yield Chunk(data, rows, frame, advanced=rows)
            done += rows


def read_jsonl_chunks(source: IO[bytes], schema: Schema | None, chunk_rows: int) -> Iterator[Chunk]:
    """JSON Lines: one record (object) per line; blank lines are skipped.

    Each line is strict JSON: no ``NaN``/``Infinity``, no number beyond a
    double, no lone surrogate escape, UTF-8, nested at most ``MAX_DEPTH``
    levels. Errors name the line and the row (they differ by the blank lines).
    """
    records: list[Any] = []
    consumed = 0
    line_no = 0
    done = 0
    positions = _positions(schema)
    for line in source:
        line_no += 1
        consumed += len(line)
        if line_no == 1 and line.startswith(codecs.BOM_UTF8):
            line = line[len(codecs.BOM_UTF8) :]
        if not line.strip():
            continue
        records.append(_jsonl_record(line, line_no, done + len(records) + 1))
        if len(records) >= chunk_rows:
            yield _located_items(records, "line", schema, consumed, done, positions)
            done += len(records)
            records, consumed = [], 0
    if records:
        yield _located_items(records, "line", schema, consumed, done, positions)


def _located_items(
    items: list[Any], key: str, schema: Schema | None, advanced: int, done: int, positions: bool
) -> Chunk:
    try:
        return _items_chunk(items, key, schema, advanced)
    except FlavorkitError as exc:
        raise _located(exc, done + 1, done + len(items), positions=positions) from None


class _Constant(ValueError):
    """``NaN``, ``Infinity`` or ``-Infinity``: Python's json reads them, JSON has no such tokens."""


def _refuse_constant(token: str) -> Any:
    raise _Constant(token)


_JSONL_DECODER = json.JSONDecoder(parse_constant=_refuse_constant)
# tokens that may hide what Python's json accepts and JSON or Unicode do not: a lone
# surrogate escape (\ud800-\udfff), a number that overflows a double to infinity
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_HUGE_NUMBER = re.compile(r"[eE][+]?0*[1-9][0-9]{2}|[0-9]{309}")


def _jsonl_record(line: bytes, line_no: int, row: int) -> Any:
    """Parse one line of JSON Lines strictly; errors name the line, the row and the field."""
    where = f"line {line_no} (row {row})"
    field = f"line {line_no}"
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PayloadError(
            f"{where} is not UTF-8 text (byte {exc.start + 1} of the line); save the file as UTF-8",
            field=field,
        ) from None
    try:
        value = _JSONL_DECODER.decode(text)
    except _Constant as exc:
        raise PayloadError(
            f"{where}: {exc.args[0]} is not JSON; write null for a missing value", field=field
        ) from None
    except RecursionError:
        raise PayloadError(f"{where} nests deeper than {MAX_DEPTH} levels", field=field) from None
    except ValueError as exc:
        detail = (
            f"{exc.msg} at column {exc.colno}"
            if isinstance(exc, json.JSONDecodeError)
            else "a number has too many digits"
        )
        raise PayloadError(f"{where} is not valid JSON ({detail})", field=field) from None
    problem = _strict_problem(value, text)
    if problem is not None:
        raise PayloadError(f"{where}: {problem}", field=field)
    return value


def _strict_problem(value: Any, text: str) -> str | None:
    """What JSON or Unicode refuse in a parsed line, with its field; cheap for ordinary lines."""
    deep = text.count("[") + text.count("{") > MAX_DEPTH
    huge = _HUGE_NUMBER.search(text) is not None
    lone = "\\u" in text and _SURROGATE_ESCAPE.search(text) is not None
    if not (deep or huge or lone):
        return None
    stack: list[tuple[Any, int, Any]] = [(value, 0, None)]  # value, depth, top-level key
    while stack:
        item, depth, top = stack.pop()
        where = f"field {_name(top)}: " if top is not None else ""
        if isinstance(item, (dict, list)):
            if depth >= MAX_DEPTH:
                return f"{where}nests deeper than {MAX_DEPTH} levels"
            pairs = item.items() if isinstance(item, dict) else ((None, v) for v in item)
            for key, child in pairs:
                if lone and isinstance(key, str) and _lone_surrogate(key):
                    return f"the field name {_name(key)} holds a lone surrogate escape"
                name = key if depth == 0 and isinstance(item, dict) else top
                stack.append((child, depth + 1, name))
        elif huge and isinstance(item, float) and item - item != 0.0:
            return f"{where}a number is too large for a 64-bit float"
        elif lone and isinstance(item, str) and _lone_surrogate(item):
            return f"{where}text holds a lone surrogate escape (\\ud800-\\udfff), not Unicode"
    return None


def _lone_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


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
    positions = _positions(schema)
    items: list[Any] = []
    done = 0  # rows yielded
    in_rows = False  # inside a list of rows: a parse error there is in row done + len(items) + 1
    start = _tell(source)

    def chunk() -> Chunk:
        try:
            return _chunk_of(key, items, columns, schema, params, _tell(source) - start)
        except FlavorkitError as exc:
            raise _located(exc, done + 1, done + len(items), positions=positions) from None

    def where() -> str:
        return f"row {done + len(items) + 1}: " if in_rows else ""

    try:
        for path, value in _stream_values(ijson.basic_parse(source, use_float=True)):
            top = path.split(".", 1)[0]
            if top in FORMAT_KEYS:
                if key is not None and top != key:
                    raise PayloadError(
                        f"the file holds two format keys, {key!r} and {top!r}; keep one", field=top
                    )
                key = top
            if value is LIST_START or value is LIST_END:
                in_rows = value is LIST_START  # a streamed list: its key is known, items follow
                continue
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
                    yield chunk()
                    done += len(items)
                    items, start, emitted = [], _tell(source), True
            elif path == "inputs":
                yield Chunk(
                    **_whole_inputs(value, schema), params=params, advanced=_tell(source) - start
                )
                emitted = True
            elif path != "dataframe_split.index":
                raise PayloadError(f"'{path}' must be a list", field=path)
    except _TooDeep as exc:
        path = exc.args[0].removesuffix(".item")
        what = where()[:-2] if in_rows else f"'{path}'"
        raise PayloadError(f"{what} nests deeper than {MAX_DEPTH} levels", field=path) from None
    except ijson.JSONError as exc:
        raise PayloadError(
            f"{where()}the input is not valid JSON{_json_detail(exc)}", field="body"
        ) from None
    except UnicodeDecodeError:
        raise PayloadError(
            f"{where()}the input holds bytes that are not UTF-8, or a lone surrogate escape "
            "(\\ud800-\\udfff) that is not Unicode",
            field="body",
        ) from None
    if key is None:
        raise PayloadError(f"the file must hold one of the keys {list(FORMAT_KEYS)}", field="body")
    if items:
        yield chunk()


def _json_detail(exc: Exception) -> str:
    """`` (the parser's reason)``, without the excerpt of the input it quotes after it."""
    detail = _first_line(exc).rstrip(".")
    return "" if '"' in detail else f" ({detail})"


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
LIST_END = object()
_STREAMED = frozenset({"dataframe_split.data", "dataframe_records", "instances", "inputs"})
_TOP_KEYS = frozenset({*FORMAT_KEYS, "params"})
_SPLIT_KEYS = frozenset({"columns", "data", "index"})


class _TooDeep(Exception):
    """A value nests deeper than ``MAX_DEPTH``; ``args[0]`` is its path."""


def _stream_values(events: Any) -> Iterator[tuple[str, Any]]:
    """``(path, value)`` per item of a streamed list (path ends in ``.item``) and per other value.

    ``events`` are ijson's ``basic_parse`` events, which carry no prefix:
    ijson builds a prefix string for every event, so a file nesting
    thousands of levels took gigabytes before any check could run. Paths are
    the keys from the top joined by dots. A streamed list is announced by
    ``(path, LIST_START)`` and closed by ``(path, LIST_END)``.

    Raises ``PayloadError`` when the top level (or ``dataframe_split``) is not
    an object or holds an unknown key, ``_TooDeep`` past ``MAX_DEPTH`` levels.
    """
    import ijson

    inside: list[str] = []  # the objects we are in: [] at the top, ["dataframe_split"]
    key: str | None = None  # the key of the value that comes next in the current object
    streaming: str | None = None  # the path of the streamed list we are in
    builder: Any = None
    depth = 0  # containers open around the next event
    base = 0  # containers open around the value the builder builds
    target = ""
    begun = False
    for event, value in events:
        opens = event in ("start_map", "start_array")
        closes = event in ("end_map", "end_array")
        if builder is not None:
            builder.event(event, value)
            depth += opens - closes
            if depth > MAX_DEPTH:
                raise _TooDeep(target)
            if depth == base:
                yield target, builder.value
                builder = None
            continue
        if streaming is not None:
            if event == "end_array":
                depth -= 1
                yield streaming, LIST_END
                streaming = None
                continue
            target = f"{streaming}.item"
        elif not begun:
            if event != "start_map":
                raise PayloadError("the file must be a JSON object", field="body")
            begun, depth = True, 1
            continue
        elif event == "map_key":
            key = value
            allowed = _SPLIT_KEYS if inside else _TOP_KEYS
            if key not in allowed:
                where = (
                    "'dataframe_split' has an unknown key" if inside else "unknown top-level key"
                )
                allowed_text = (
                    "columns, data, index" if inside else f"{list(FORMAT_KEYS)} and 'params'"
                )
                raise PayloadError(
                    f"{where} {_name(key)}; allowed: {allowed_text}",
                    field="dataframe_split" if inside else _name(key)[1:-1],
                )
            continue
        elif event == "end_map":
            depth -= 1
            if inside:
                inside.pop()
            continue
        else:
            target = ".".join([*inside, str(key)])
            if target == "dataframe_split":
                if event != "start_map":
                    raise PayloadError("'dataframe_split' must be a JSON object", field=target)
                inside.append(target)
                depth += 1
                continue
            if target in _STREAMED and event == "start_array":
                streaming = target
                depth += 1
                yield target, LIST_START
                continue
        if opens:
            builder = ijson.ObjectBuilder()
            builder.event(event, value)
            base = depth
            depth += 1
            if depth > MAX_DEPTH:
                raise _TooDeep(target)
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
            try:
                table = table.cast(self._parquet.schema)
            except (pa.ArrowException, ValueError, TypeError):
                raise PayloadError(
                    "the predictions do not fit the Parquet columns the first chunk set: "
                    + _schema_change(self._parquet.schema, table.schema),
                    field="output",
                ) from None
        self._parquet.write_table(table)

    def close(self) -> None:
        """Finish the output (the JSON list, the Parquet footer)."""
        if self.fmt == "json":
            self.fh.write(b'{"predictions":[]}' if self.count == 0 else b"]}")
            self.fh.write(b"\n")
        if self._parquet is not None:
            self._parquet.close()
            self._parquet = None

    def abort(self) -> None:
        """Close without finishing, before the file under it closes (the output is discarded)."""
        if self._parquet is not None:
            with contextlib.suppress(Exception):
                self._parquet.close()
            self._parquet = None


def _schema_change(before: Any, now: Any) -> str:
    """How the columns of a Parquet chunk differ from the first chunk's, by name and type."""
    if before.names != now.names:
        return f"columns {_names(now.names)} instead of {_names(before.names)}"
    changed = [
        f"column {_name(a.name)} is {b.type} here, {a.type} before"
        for a, b in zip(before, now, strict=True)
        if a.type != b.type
    ]
    return "; ".join(changed[:10]) or "the column types changed"


def _write_problem(exc: Exception, fmt: str) -> str:
    """Why predictions could not be written, without their values."""
    if isinstance(exc, UnicodeEncodeError):
        return "a column name or value holds a lone surrogate, which is not Unicode"
    if isinstance(exc, OSError):
        return exc.strerror or type(exc).__name__
    message = _first_line(exc)
    column = re.search(r"for column (.{1,200}?) with type", message)
    if column is not None:  # pyarrow: "Conversion failed for column x with type object"
        return f"column {_name(column[1])} holds values of mixed types"
    return f"{type(exc).__name__} writing {fmt}"


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


def _next_chunk(chunks: Iterator[Chunk], done: int) -> Chunk | None:
    """The next chunk, or None at the end; what the reader did not expect becomes a PayloadError."""
    try:
        return next(chunks)
    except StopIteration:
        return None
    except (FlavorkitError, FileNotFoundError):
        raise
    except RecursionError:
        problem = "nests too deeply to read"
    except MemoryError:
        problem = "does not fit in memory; pass a smaller --chunk-size"
    except OSError as exc:
        problem = f"cannot be read ({exc.strerror or type(exc).__name__})"
    except Exception as exc:
        # chained for callers of predict_file; the message never quotes the input
        raise PayloadError(
            f"the input{_after(done)} cannot be read ({type(exc).__name__})", field="input"
        ) from exc
    raise PayloadError(f"the input{_after(done)} {problem}", field="input") from None


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
        try:
            fh = open(path, "rb")  # noqa: SIM115 - closed below
        except FileNotFoundError:
            raise
        except OSError as exc:
            raise PayloadError(
                f"cannot read the input {path!r} ({exc.strerror})", field="input"
            ) from None
        with fh:
            yield fh


@contextlib.contextmanager
def _open_output(path: str) -> Iterator[IO[bytes]]:
    if path == "-":
        yield sys.stdout.buffer
        sys.stdout.buffer.flush()
        return
    import secrets

    target = Path(path)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.{secrets.token_hex(4)}.partial")
    try:
        fh = open(tmp, "xb")  # noqa: SIM115 - new: never follows a link or truncates a file
    except OSError as exc:
        raise PayloadError(
            f"cannot write the output {path!r} ({exc.strerror})", field="output"
        ) from None
    try:
        with fh:
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

        try:
            total = pq.ParquetFile(path).metadata.num_rows
        except Exception:  # not readable: the reader says why
            return None
        return tqdm(total=total, unit="rows", unit_scale=True, file=sys.stderr)
    try:
        total = os.path.getsize(path) if path != "-" else None
    except OSError:
        total = None
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

    Raises ``PayloadError`` for a malformed input (or one without data rows)
    and ``SchemaEnforcementError`` for data that does not fit the signature.
    An error about some rows names them in its message (``rows 10001-20000:``,
    1-based data rows of the input) and holds them as ``rows`` (first, last).
    An exception the model itself raises is left as it is, with a note naming
    the rows (Python 3.11+). Nothing is left at ``output_path`` on failure.
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
    positions = _positions(schema)
    started = time.perf_counter()
    rows_in = rows_out = chunks = 0
    ignored: set[str] = set()
    bar = _progress(progress, in_fmt, input_path)
    try:
        with _open_input(input_path, in_fmt) as source, _open_output(output_path) as sink:
            writer = _Writer(sink, out_fmt)
            try:
                reader = _chunks(source, in_fmt, schema, chunk_rows)
                while (chunk := _next_chunk(reader, rows_in)) is not None:
                    if chunk.rows == 0:
                        continue
                    first, last = rows_in + 1, rows_in + chunk.rows
                    kept = _kept(chunk, keep)
                    data = chunk.data
                    if named is not None and hasattr(data, "columns"):
                        # files often carry ids and other columns: leave them out quietly,
                        # report once
                        extra = [c for c in data.columns if str(c) not in named]
                        if extra:
                            ignored.update(str(c) for c in extra if str(c) not in keep)
                            data = data[[c for c in data.columns if str(c) in named]]
                    try:
                        result = model.predict(
                            data, params=params if params is not None else chunk.params
                        )
                    except FlavorkitError as exc:
                        raise _located(exc, first, last, positions=positions) from None
                    except Exception as exc:
                        _note(exc, first, last)
                        raise
                    try:
                        rows_out += writer.write(result, kept, chunk.rows)
                    except FlavorkitError as exc:
                        raise _located(exc, first, last, positions=False) from None
                    except Exception as exc:
                        raise PayloadError(
                            f"{_span(first, last)}: the predictions cannot be written as "
                            f"{out_fmt} ({_write_problem(exc, out_fmt)})",
                            field="output",
                        ) from exc
                    rows_in = last
                    chunks += 1
                    if bar is not None:
                        bar.update(chunk.advanced)
                if rows_in == 0:
                    raise PayloadError(
                        "the input has no data rows, so there is nothing to predict",
                        field="input",
                    )
                writer.close()
            except BaseException:
                writer.abort()  # before the file under it closes: no writer left to flush later
                raise
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
            f"--keep names column(s) the input does not have: {_names(missing)}", field="keep"
        )
    assert frame is not None
    return frame[list(keep)]
