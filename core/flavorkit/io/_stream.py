"""JSON inputs larger than memory: a payload streamed with ijson, and JSON Lines.

A JSON file holds a payload as the server takes it (FORMAT.md §8); its rows
are read chunk by chunk and each chunk is decoded by the server's own
functions (:func:`flavorkit.io._payload.parse_form`), so a file and a
request body accept the same forms and give the same messages. A
chat-style payload is small and read whole. JSON Lines hold one instance
(a record, most often) per line.

Errors name the input's rows (1-based) and, for JSON Lines, the line.
"""

from __future__ import annotations

import codecs
from collections.abc import Collection, Iterator
from typing import IO, TYPE_CHECKING, Any

from flavorkit.exceptions import FlavorkitError, PayloadError
from flavorkit.io._chunks import (
    MAX_CHUNK_BYTES,
    MAX_COLUMNS,
    Budgeted,
    Chunk,
    Oversized,
    TableBound,
    counts_rows,
    first_line,
    located,
    mib,
    oversized_error,
    tell,
)
from flavorkit.io._convert import Rows
from flavorkit.io._json import (
    FORMAT_KEYS,
    MAX_DEPTH,
    check_params,
    format_keys_error,
    load_line,
    not_an_object_error,
    payload_form,
    unknown_keys_error,
)
from flavorkit.io._payload import (
    Parsed,
    model_input,
    parse_form,
    parse_payload,
    records_rows,
    rows_input,
    split_columns,
    split_not_an_object_error,
    split_unknown_keys_error,
)

if TYPE_CHECKING:
    from flavorkit.signature import Schema


# ---------------------------------------------------------------- JSON Lines


def jsonl_chunks(
    source: IO[bytes],
    schema: Schema | None,
    chunk_rows: int,
    *,
    max_bytes: int | None = MAX_CHUNK_BYTES,
) -> Iterator[Chunk]:
    """JSON Lines: one instance (most often a record) per line; blank lines are skipped.

    Each line is strict JSON (:func:`flavorkit.io._json.load_line`). Errors
    name the line and the row (they differ by the blank lines). A chunk ends
    early when its lines reach ``max_bytes``; a line longer than that is
    refused before it is read whole (a file that never ends a line).
    """
    records: list[Any] = []
    bound = TableBound()
    consumed = 0
    line_no = 0
    done = 0
    positions = counts_rows(schema)
    longest = max_bytes + 1 if max_bytes else -1
    while line := source.readline(longest):
        line_no += 1
        if max_bytes and len(line) > max_bytes:
            raise PayloadError(
                f"line {line_no} (row {done + len(records) + 1}) is longer than "
                f"{mib(max_bytes)}, the most one chunk may read",
                field=f"line {line_no}",
            )
        if max_bytes and records and consumed + len(line) > max_bytes:
            # the lines so far fill a chunk's bytes: they go now, this one starts the next
            yield _lines_chunk(records, schema, consumed, done, positions)
            done += len(records)
            records, consumed, bound = [], 0, TableBound()
        consumed += len(line)
        if line_no == 1 and line.startswith(codecs.BOM_UTF8):
            line = line[len(codecs.BOM_UTF8) :]
        if not line.strip():
            continue
        records.append(load_line(line, line_no, done + len(records) + 1))
        if bound.add(records[-1], done) or len(records) >= chunk_rows:
            yield _lines_chunk(records, schema, consumed, done, positions)
            done += len(records)
            records, consumed, bound = [], 0, TableBound()
    if records:
        yield _lines_chunk(records, schema, consumed, done, positions)


def _lines_chunk(
    items: list[Any], schema: Schema | None, advanced: int, done: int, positions: bool
) -> Chunk:
    """Lines as ``instances`` items are read; without a signature, records (or rows) as a table."""
    try:
        if schema is None:
            rows = (
                records_rows(items, "line")
                if items and all(isinstance(x, dict) for x in items)
                else Rows(None, [x if isinstance(x, list) else [x] for x in items])
            )
            data = rows_input(rows, None)
        else:
            data = model_input(parse_form("line", items, schema), schema)
    except FlavorkitError as exc:
        raise located(exc, done + 1, done + len(items), positions=positions) from None
    return Chunk(data, len(items), data if hasattr(data, "columns") else None, advanced=advanced)


# ---------------------------------------------------------------- a JSON payload, streamed


def json_chunks(
    source: IO[bytes],
    schema: Schema | None,
    chunk_rows: int,
    param_names: Collection[str] = frozenset(),
    *,
    max_bytes: int | None = MAX_CHUNK_BYTES,
) -> Iterator[Chunk]:
    """A payload streamed with ijson: the rows (or instances) of its list, chunk by chunk.

    ``params`` must come before the rows when the rows fill more than one
    chunk (the serving example's order, params last, works for files of one
    chunk). Rows of a ``dataframe_split`` wait for its ``columns``. A dict
    of columns under ``inputs`` and a chat-style payload are read whole;
    ``param_names`` are the params the signature declares (a chat-style
    payload passes those keys as params, as the server does). A chunk whose
    rows (or a value read whole) take more than ``max_bytes`` of the input
    is refused.
    """
    import ijson

    reader = _PayloadReader(schema, chunk_rows, param_names)
    reader.start = tell(source)
    budget = Budgeted(source, max_bytes) if max_bytes else None
    stream: IO[bytes] = source if budget is None else budget  # type: ignore[assignment]
    try:
        for path, value in _stream_values(ijson.basic_parse(stream, use_float=True)):
            chunk = reader.take(path, value, source)
            if chunk is not None:
                if budget is not None:
                    budget.reset()
                yield chunk
    except Oversized:
        assert max_bytes is not None
        raise oversized_error(reader.done, chunk_rows, max_bytes) from None
    except _TooDeep as exc:
        path = exc.args[0].removesuffix(".item")
        what = reader.where()[:-2] if reader.in_rows else f"'{path}'"
        raise PayloadError(f"{what} nests deeper than {MAX_DEPTH} levels", field=path) from None
    except ijson.JSONError as exc:
        raise PayloadError(
            f"{reader.where()}the input is not valid JSON{_json_detail(exc)}", field="body"
        ) from None
    except UnicodeDecodeError:
        raise PayloadError(
            f"{reader.where()}the input holds bytes that are not UTF-8, or a lone surrogate "
            "escape (\\ud800-\\udfff) that is not Unicode",
            field="body",
        ) from None
    last = reader.finish(source)
    if last is not None:
        yield last


class _PayloadReader:
    """The state of one streamed payload: which form, its params, the rows not yet yielded."""

    def __init__(
        self, schema: Schema | None, chunk_rows: int, param_names: Collection[str]
    ) -> None:
        self.schema = schema
        self.chunk_rows = chunk_rows
        self.param_names = param_names
        self.positions = counts_rows(schema)
        self.key: str | None = None  # the format key
        self.keys: list[str] = []  # every top-level key, in order
        self.others: dict[str, Any] = {}  # values of the other top-level keys (chat-style)
        self.columns: Any = None  # dataframe_split.columns as given
        self.split_data = False  # dataframe_split.data was seen
        self.params: Any = None
        self.whole: tuple[Any, int] | None = None  # the format key's value read whole
        self.emitted = False
        # rows need their column names first, unless the signature matches by position
        self.need_columns = schema is None or schema.has_input_names()
        self.items: list[Any] = []
        self.bound = TableBound()
        self.done = 0  # rows yielded
        self.in_rows = False  # in a list of rows: a parse error there is in row done+items+1
        self.start = 0

    def where(self) -> str:
        return f"row {self.done + len(self.items) + 1}: " if self.in_rows else ""

    def take(self, path: str, value: Any, source: IO[bytes]) -> Chunk | None:
        """Take one value of the stream; return a chunk when one is full."""
        top = path.split(".", 1)[0]
        if top not in self.keys:
            self._new_key(top)
        if value is SPLIT_START:
            return None
        if value is LIST_START or value is LIST_END:
            self.in_rows = value is LIST_START  # a streamed list: its key is known, items follow
            if self.in_rows and path == "dataframe_split.data":
                self.split_data = True
            return None
        if top not in FORMAT_KEYS:
            if top == "params":
                if self.emitted:
                    raise PayloadError(
                        "'params' comes after the rows; move it first or pass --params",
                        field="params",
                    )
                self.params = value
            else:
                self.others[top] = value
            return None
        if path == "dataframe_split.columns":
            split_columns(value)  # the server's checks, before any row is read
            if isinstance(value, list) and len(value) > MAX_COLUMNS:
                raise PayloadError(
                    f"'dataframe_split.columns' names {len(value):,} columns, more than the "
                    f"{MAX_COLUMNS:,} a table may have",
                    field="dataframe_split.columns",
                )
            self.columns = value
        elif path == "dataframe_split.data":
            self.split_data = True
            self._parse({"columns": self.columns, "data": value})  # not a list: refused
        elif path.endswith(".item"):
            self.items.append(value)
            full = self.bound.add(value, self.done) or len(self.items) >= self.chunk_rows
            waiting = self.key == "dataframe_split" and self.columns is None and self.need_columns
            if full and not waiting:
                return self._chunk(source)
        elif path == self.key:
            self._whole(value)
        return None  # dataframe_split.index

    def _new_key(self, top: str) -> None:
        self.keys.append(top)
        if top in FORMAT_KEYS:
            if self.key is not None:
                raise format_keys_error([k for k in FORMAT_KEYS if k in self.keys], self.keys)
            self.key = top
            unknown = [k for k in self.keys if k not in FORMAT_KEYS and k != "params"]
            if unknown:
                raise unknown_keys_error(unknown, top)
        elif top != "params" and self.key is not None:
            raise unknown_keys_error([top], self.key)

    def _parse(self, value: Any) -> Parsed:
        assert self.key is not None
        if not self.emitted:
            check_params(self.params)
        return parse_form(self.key, value, self.schema)

    def _chunk(self, source: IO[bytes]) -> Chunk:
        value = (
            {"columns": self.columns, "data": self.items}
            if self.key == "dataframe_split"
            else self.items
        )
        try:
            data = model_input(self._parse(value), self.schema)
        except FlavorkitError as exc:
            raise located(
                exc, self.done + 1, self.done + len(self.items), positions=self.positions
            ) from None
        rows = len(self.items)
        chunk = self._emit(data, rows, source, self.params)
        self.done += rows
        self.items, self.bound = [], TableBound()
        return chunk

    def _whole(self, value: Any) -> None:
        """The whole value of the format key (a dict of columns, one value), kept for the end.

        Params may still follow it, as they do in a saved serving example.
        """
        data = model_input(self._parse(value), self.schema)
        rows = len(data) if hasattr(data, "__len__") and not isinstance(data, dict) else 1
        self.whole = (data, rows)

    def _emit(self, data: Any, rows: int, source: IO[bytes], params: Any) -> Chunk:
        position = tell(source)
        frame = data if hasattr(data, "columns") else None
        chunk = Chunk(data, rows, frame, params, position - self.start)
        self.start, self.emitted = position, True
        return chunk

    def finish(self, source: IO[bytes]) -> Chunk | None:
        """The last chunk, a chat-style payload, or None; raises for a payload of no form."""
        if self.key is None:
            payload = {k: self.params if k == "params" else self.others[k] for k in self.keys}
            if payload_form(self.keys) is None:  # raises for no format key
                parsed = parse_payload(payload, self.schema, self.param_names)
                return self._emit(parsed.data, 1, source, parsed.params)
        if not self.emitted:
            check_params(self.params)
        if self.whole is not None:
            return self._emit(*self.whole, source, self.params)
        if self.key == "dataframe_split" and not self.split_data:
            self._parse({"columns": self.columns})  # no data: refused as the server does
        return self._chunk(source) if self.items else None


def _json_detail(exc: Exception) -> str:
    """`` (the parser's reason)``, without the excerpt of the input it quotes after it."""
    detail = first_line(exc).rstrip(".")
    return "" if '"' in detail else f" ({detail})"


# lists whose items are streamed one by one; anything else is read as a whole value
LIST_START = object()
LIST_END = object()
SPLIT_START = object()  # dataframe_split's object opens (it may hold nothing)
_STREAMED = frozenset({"dataframe_split.data", "dataframe_records", "instances", "inputs"})
_SPLIT_KEYS = frozenset({"columns", "data", "index"})
_KINDS = {
    "start_array": "array",
    "string": "string",
    "number": "number",
    "integer": "number",
    "double": "number",
    "boolean": "boolean",
    "null": "null",
}


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
    an object or ``dataframe_split`` holds an unknown key, ``_TooDeep`` past
    ``MAX_DEPTH`` levels.
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
                raise not_an_object_error(_KINDS.get(event, "value"))
            begun, depth = True, 1
            continue
        elif event == "map_key":
            key = value
            if inside and key not in _SPLIT_KEYS:
                raise split_unknown_keys_error([key])
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
                    raise split_not_an_object_error(_KINDS.get(event, "value"))
                inside.append(target)
                depth += 1
                yield target, SPLIT_START
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
