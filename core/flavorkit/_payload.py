"""Scoring payloads: request bodies and files in, model input out; predictions back to JSON.

Shared by the scoring server and batch scoring (``flavorkit predict``). The
forms are MLflow's (FORMAT.md §8): a JSON object with exactly one of
``dataframe_split``, ``dataframe_records``, ``instances`` or ``inputs`` (plus
an optional ``params`` object), CSV with a header row, and Parquet.

Unlike MLflow's server, values are never forced into the signature's types
with ``astype``: ``flavorkit._convert`` converts a value only when it stays
exactly the same (``2.0`` fits an ``integer`` column, ``2.7`` is refused).
What is left alone there, the core's schema enforcement checks next, inside
``PyFuncModel.predict``.

Errors are ``PayloadError`` (malformed body) or ``SchemaEnforcementError``
(a value that does not fit its column); both name the field and never echo
the payload.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flavorkit import _convert
from flavorkit._enforce_values import names_preview
from flavorkit._example import to_jsonable
from flavorkit._schema import DataType, Schema
from flavorkit.exceptions import FlavorkitError, PayloadError, SchemaEnforcementError

if TYPE_CHECKING:
    import pandas as pd

FORMAT_KEYS = ("dataframe_split", "dataframe_records", "instances", "inputs")
CHAT_KEYS = ("messages", "prompt", "input")
_SPLIT_KEYS = frozenset({"columns", "data", "index"})


class PayloadTooLargeError(PayloadError):
    """A request holds more rows or cells than a limit allows (the server answers 413).

    ``limit`` names the setting that refused it (``max_request_rows``, ``max_request_cells``).
    """

    def __init__(self, message: str, *, field: str | None = None, limit: str | None = None):
        super().__init__(message, field=field)
        self.limit = limit


@dataclass
class Rows:
    """Row-major values of a table payload, kept raw so concurrent requests can be joined.

    ``columns`` is None for positional rows (matched to an unnamed signature by position).
    """

    columns: tuple[str, ...] | None
    rows: list[list[Any]]


@dataclass
class Parsed:
    """One parsed request: either ``rows`` (a table, typed later) or ready ``data``."""

    data: Any = None
    rows: Rows | None = None
    params: dict[str, Any] | None = None
    # a chat-style body: predicted as-is and answered without the "predictions" wrapper
    unwrap: bool = False
    # validated, but its values could make a joined conversion fail: predicted on its own
    alone: bool = False
    # the typed and enforced input, when validation had to build it (used when predicted alone)
    frame: Any = None

    @property
    def batchable(self) -> bool:
        """Whether this request may share one predict call with others (a table, no params)."""
        return self.rows is not None and not self.params and not self.alone


# ---------------------------------------------------------------- JSON bodies


def parse_json(
    body: bytes | str,
    schema: Schema | None,
    param_names: frozenset[str] = frozenset(),
    *,
    size_check: Callable[[int, int], None] | None = None,
) -> Parsed:
    """Parse a JSON request body into a ``Parsed`` request.

    Called by the server for ``application/json`` bodies and by batch scoring
    for JSON files that fit in memory. ``param_names`` are the params the
    signature declares (a chat-style body passes those keys as params).
    ``size_check(rows, cells)`` is called for a table before any DataFrame is
    built (the server's row and cell limits raise from it).
    Raises ``PayloadError`` for malformed JSON (including ``NaN``/``Infinity``
    tokens, numbers that overflow a double, text with a lone surrogate and
    nesting deeper than the parser's limit), a body that is not an object,
    no or several format keys, unknown keys or a malformed table.
    """
    payload = load_json(body)
    if not isinstance(payload, dict):
        raise PayloadError(
            f"the body must be a JSON object with one of the keys {list(FORMAT_KEYS)}, "
            f"got a JSON {_json_kind(payload)}; "
            "bare lists and the 1.x forms were dropped in MLflow 2.0",
            field="body",
        )
    present = [k for k in FORMAT_KEYS if k in payload]
    if not present and any(k in payload for k in CHAT_KEYS):
        params = {k: payload[k] for k in param_names if k in payload}
        data = {k: v for k, v in payload.items() if k not in params}
        return Parsed(data=data, params=params or None, unwrap=True)
    if len(present) != 1:
        found = f"got {present}" if present else f"got keys {names_preview(sorted(payload))}"
        raise PayloadError(
            f"the body must hold exactly one of the keys {list(FORMAT_KEYS)}, {found}", field="body"
        )
    unknown = sorted(k for k in payload if k not in FORMAT_KEYS and k != "params")
    if unknown:
        raise PayloadError(
            f"unknown top-level key(s) {names_preview(unknown)}; "
            f"allowed: {present[0]!r} and 'params'",
            field=unknown[0][:100],
        )
    params = payload.get("params")
    if params is not None and not isinstance(params, dict):
        raise PayloadError(
            f"'params' must be a JSON object, got a JSON {_json_kind(params)}", field="params"
        )
    key = present[0]
    return Parsed(**parse_form(key, payload[key], schema, size_check=size_check), params=params)


def parse_form(
    key: str,
    value: Any,
    schema: Schema | None,
    *,
    size_check: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """The value under format key ``key``: ``{"rows": Rows}`` (typed later) or ``{"data": ...}``.

    ``size_check(rows, cells)`` is called for a table before a DataFrame is built.
    """
    columnar = schema is None or not schema.is_tensor_spec()
    if key == "dataframe_split":
        rows = split_rows(value)
    elif key == "dataframe_records":
        rows = records_rows(value, key)
    elif columnar and schema is not None:
        rows = inputs_rows(value, key, schema)
    else:
        return {"data": tensor_input(value, key, schema)}
    if size_check is not None:
        width = len(rows.columns) if rows.columns is not None else _width(rows.rows)
        size_check(len(rows.rows), len(rows.rows) * width)
    if schema is None:
        return {"data": untyped_frame(rows)}
    if not columnar:
        import pandas as pd

        return {
            "data": pd.DataFrame(
                rows.rows, columns=list(rows.columns) if rows.columns is not None else None
            )
        }
    return {"rows": rows}


def split_rows(value: Any) -> Rows:
    """Check a ``dataframe_split`` object (``columns``, ``data``, optional ``index``)."""
    key = "dataframe_split"
    if not isinstance(value, dict):
        raise PayloadError(
            f"'{key}' must be a JSON object with 'columns' and 'data', "
            f"got a JSON {_json_kind(value)}",
            field=key,
        )
    unknown = sorted(set(value) - _SPLIT_KEYS)
    if unknown:
        raise PayloadError(
            f"'{key}' has unknown key(s) {names_preview(unknown)}; allowed: columns, data, index",
            field=key,
        )
    data = value.get("data")
    if not isinstance(data, list):
        raise PayloadError(
            f"'{key}.data' must be a list of rows, got a JSON {_json_kind(data)}",
            field=f"{key}.data",
        )
    columns = value.get("columns")
    if columns is not None:
        types = set(map(type, columns)) if isinstance(columns, list) else {None}
        if not types <= {str, int}:  # not bool: type(True) is bool
            raise PayloadError(
                f"'{key}.columns' must be a list of column names", field=f"{key}.columns"
            )
        columns = tuple(columns) if int not in types else tuple(map(str, columns))
        if len(set(columns)) != len(columns):
            seen: set[str] = set()
            twice = next(c for c in columns if c in seen or seen.add(c))  # type: ignore[func-returns-value]
            raise PayloadError(
                f"'{key}.columns' names the column {names_preview([twice])[1:-1]} twice; "
                "every column name must be unique",
                field=f"{key}.columns",
            )
    width = len(columns) if columns is not None else None
    for i, row in enumerate(data):
        if not isinstance(row, list):
            if width == 1 or (width is None and not isinstance(row, dict)):
                data = [[r] for r in data]  # a one-column table may be sent as a flat list
                break
            raise PayloadError(
                f"'{key}.data' row {i} must be a list, got a JSON {_json_kind(row)}",
                field=f"{key}.data",
            )
        if width is None:
            width = len(row)
        if len(row) != width:
            raise PayloadError(
                f"'{key}.data' row {i} has {len(row)} values, expected {width} (one per column)",
                field=f"{key}.data",
            )
    index = value.get("index")
    if index is not None and (not isinstance(index, list) or len(index) != len(data)):
        raise PayloadError(
            f"'{key}.index' must be a list with one entry per row", field=f"{key}.index"
        )
    return Rows(columns, data)


def records_rows(value: Any, key: str) -> Rows:
    """Turn a list of records (dicts) into rows; a key missing in a record is a null."""
    if not isinstance(value, list):
        raise PayloadError(
            f"'{key}' must be a list of JSON objects, got a JSON {_json_kind(value)}", field=key
        )
    names: dict[str, None] = {}
    for i, rec in enumerate(value):
        if not isinstance(rec, dict):
            raise PayloadError(
                f"'{key}' item {i} must be a JSON object, got a JSON {_json_kind(rec)}", field=key
            )
        if len(rec) != len(names) or any(k not in names for k in rec):
            names.update(dict.fromkeys(rec))
    columns = tuple(names)
    return Rows(columns, [[rec.get(c) for c in columns] for rec in value])


def inputs_rows(value: Any, key: str, schema: Schema) -> Rows:
    """``instances``/``inputs`` for a column signature: records, columns, rows or one row.

    Raises ``PayloadError`` for ragged rows, columns of different lengths or a mix of forms.
    """
    specs = schema.inputs
    complex_cols = any(not isinstance(s.type, DataType) for s in specs)
    if isinstance(value, list):
        if value and all(isinstance(v, dict) for v in value):
            return records_rows(value, key)
        if len(specs) == 1 and (complex_cols or not any(isinstance(v, list) for v in value)):
            return Rows(_names(schema, 1), [[v] for v in value])
        if all(isinstance(v, list) for v in value):
            widths = {len(v) for v in value}
            if len(widths) > 1:
                raise PayloadError(
                    f"'{key}': every row must have the same number of values", field=key
                )
            width = widths.pop() if widths else 0
            return Rows(_names(schema, width), value)
        raise PayloadError(
            f"'{key}': expected a list of objects, of rows or of values, got a mix", field=key
        )
    if isinstance(value, dict):
        columns = tuple(str(k) for k in value)
        by_name = {str(s.name): s for s in specs} if schema.has_input_names() else {}
        # a list under a column of Array type is one cell, so the dict is one row
        one_row = any(not isinstance(by_name[c].type, DataType) for c in columns if c in by_name)
        if value and not one_row and all(isinstance(v, list) for v in value.values()):
            lengths = {len(v) for v in value.values()}
            if len(lengths) > 1:
                shown = sorted(lengths)
                raise PayloadError(
                    f"'{key}': every column must have the same length, "
                    f"got lengths {shown[:10]}{' and more' if len(shown) > 10 else ''}",
                    field=key,
                )
            return Rows(columns, [list(r) for r in zip(*value.values(), strict=True)])
        if not one_row and any(isinstance(v, list) for v in value.values()):
            raise PayloadError(
                f"'{key}': give every column as a list, or every value as a scalar (one row)",
                field=key,
            )
        return Rows(columns, [list(value.values())])
    return Rows(_names(schema, 1), [[value]])


def _width(rows: list[Any]) -> int:
    return len(rows[0]) if rows and isinstance(rows[0], list) else 1


def _names(schema: Schema, width: int) -> tuple[str, ...] | None:
    """Column names for positional values: the schema's when it has names and the width fits."""
    if schema.has_input_names() and len(schema.inputs) == width:
        return tuple(str(s.name) for s in schema.inputs)
    return None


def untyped_frame(rows: Rows) -> pd.DataFrame:
    """A DataFrame for a model without a signature: pandas infers each column's type."""
    import pandas as pd

    return pd.DataFrame(rows.rows, columns=list(rows.columns) if rows.columns is not None else None)


def tensor_input(value: Any, key: str, schema: Schema | None) -> Any:
    """``instances``/``inputs`` for a tensor signature (or none): ndarrays, dicts of ndarrays.

    Values are converted to the declared dtype only when that keeps them exactly.
    """
    import numpy as np

    if schema is None:
        if isinstance(value, dict):
            return {k: _loose_array(v) for k, v in value.items()}
        return _loose_array(value) if isinstance(value, list) else value
    specs = {str(s.name): s for s in schema.inputs} if schema.has_input_names() else {}
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        keys = list(dict.fromkeys(k for v in value for k in v))
        missing = [k for k in keys if any(k not in v for v in value)]
        if missing:
            raise PayloadError(
                f"'{key}': every instance needs the same keys; "
                f"{names_preview(missing, limit=5)} missing in some",
                field=key,
            )
        value = {k: [v[k] for v in value] for k in keys}
    if isinstance(value, dict):
        out = {}
        for name, item in value.items():
            spec = specs.get(str(name))
            out[name] = _typed(item, spec.type if spec is not None else None, str(name))
        return out
    if not schema.has_input_names() and len(schema.inputs) == 1:
        return _typed(value, schema.inputs[0].type, "[0]")
    if len(specs) == 1:
        ((name, spec),) = specs.items()
        return {name: _typed(value, spec.type, name)}
    return np.asarray(value)


def _typed(value: Any, dtype: Any, name: str) -> Any:
    try:
        return _convert.typed_array(value, dtype, name)
    except ValueError as exc:
        if isinstance(exc, FlavorkitError):
            raise
        raise PayloadError(str(exc), field=name) from None


def _loose_array(value: Any) -> Any:
    import numpy as np

    try:
        arr = np.asarray(value)
    except ValueError:
        return value  # ragged: the model gets the list
    return value if arr.dtype == object else arr


# ---------------------------------------------------------------- reading JSON text


class _Constant(Exception):
    """``NaN``, ``Infinity`` or ``-Infinity`` in a body: Python accepts them, JSON does not."""


def _refuse_constant(token: str) -> Any:
    raise _Constant(token)


# one decoder for every body; it stops at the first NaN/Infinity token
_DECODER = json.JSONDecoder(parse_constant=_refuse_constant)
# text that may hold a lone surrogate (a \ud800-\udfff escape: JSON allows it, Unicode does not)
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def load_json(body: bytes | str) -> Any:
    """Parse a JSON document strictly: what ``json.loads`` accepts but JSON or Unicode does not
    is a ``PayloadError`` naming where it is (the path, such as ``dataframe_split.data[3][0]``).

    Refused: ``NaN``/``Infinity`` tokens, text or keys holding a lone UTF-16
    surrogate, bytes that are not UTF-8, integers with more digits than Python
    converts, and nesting deeper than the parser allows. The checks cost nothing
    for ordinary bodies: the tree is searched only when the text holds a
    suspicious token. A number that overflows a double (``1e400``) parses as
    infinity; :func:`find_overflow` finds it where the values are used.
    """
    if isinstance(body, (bytes, bytearray, memoryview)):
        body = bytes(body)
        try:
            text = body.decode(json.detect_encoding(body))  # strict: no surrogates pass
        except (UnicodeDecodeError, LookupError):
            raise PayloadError(
                "the body is not valid JSON (its bytes are not valid UTF-8)", field="body"
            ) from None
    else:
        text = body
    try:
        payload = _DECODER.decode(text)
    except _Constant as exc:
        raise _constant_error(text, exc.args[0]) from None
    except json.JSONDecodeError as exc:
        raise PayloadError(
            f"the body is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})",
            field="body",
        ) from None
    except RecursionError:
        raise PayloadError(
            "the body nests arrays or objects too deeply for the JSON parser; "
            "send flat rows or tensors",
            field="body",
        ) from None
    except ValueError:  # int() refuses literals longer than sys.get_int_max_str_digits()
        limit = getattr(sys, "get_int_max_str_digits", lambda: 4300)()
        raise PayloadError(
            f"the body is not valid JSON for this server: a number has more than {limit} digits",
            field="body",
        ) from None
    if text.find("\\") >= 0 and _SURROGATE_ESCAPE.search(text):
        path = _find(payload, _lone_surrogate, keys=True)
        if path is not None:
            raise _bad_value(
                payload,
                path,
                "the text holds a lone UTF-16 surrogate escape (\\ud800-\\udfff), "
                "which is not valid Unicode; send valid UTF-8 text",
            )
    return payload


def _constant_error(text: str, token: str) -> PayloadError:
    why = f"{token} is not valid JSON (it has no NaN or Infinity); send null for a missing value"
    try:
        payload = json.loads(text)  # again, keeping the constants, to say where they are
    except (ValueError, RecursionError):
        return PayloadError(f"the body: {why}", field="body")
    error = _bad_value(payload, _find(payload, _non_finite), why)
    assert isinstance(error, PayloadError)
    return error


def find_overflow(payload: Any, where: str) -> None:
    """Raise ``SchemaEnforcementError`` for a float in ``payload`` (params, say) that is not
    finite: after :func:`load_json`, only a number too large for a double (``1e400``) is one.
    """
    path = _find(payload, _non_finite)
    if path is not None:
        raise _bad_value({where: payload}, (where, *path), OVERFLOW, schema_error=True)


OVERFLOW = "the number is too large for a 64-bit float (it overflows to infinity)"


def _non_finite(value: Any) -> bool:
    return type(value) is float and value - value != 0.0


def _lone_surrogate(value: Any) -> bool:
    if type(value) is not str or value.isascii():
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _find(payload: Any, bad: Any, *, keys: bool = False) -> tuple[Any, ...] | None:
    """The path (keys and indexes) to the first value (or key) for which ``bad`` is true.

    Iterative, so a deeply nested body cannot exhaust the stack. A path ending in
    ``("key", i)`` means the ``i``-th key of the object at the path before it.
    """
    stack: list[tuple[Any, Any]] = [(payload, None)]
    while stack:
        value, link = stack.pop()
        if isinstance(value, dict):
            items = list(value.items())
            if keys:
                for i, (k, _) in enumerate(items):
                    if bad(k):
                        return (*_unlink(link), ("key", i))
            stack.extend((v, (link, k)) for k, v in reversed(items))
        elif isinstance(value, list):
            stack.extend((v, (link, i)) for i, v in reversed(list(enumerate(value))))
        elif bad(value):
            return _unlink(link)
    return None


def _unlink(link: Any) -> tuple[Any, ...]:
    out = []
    while link is not None:
        link, step = link
        out.append(step)
    return tuple(reversed(out))


def _render(path: tuple[Any, ...]) -> str:
    out = ""
    for step in path:
        if isinstance(step, tuple):
            out += f" (key {step[1]})"
        elif isinstance(step, int):
            out += f"[{step}]"
        else:
            name = step if step.isidentifier() and len(step) <= 40 else names_preview([step])[1:-1]
            out += f".{name}" if out else name
    return out or "the body"


def _bad_value(
    payload: Any, path: tuple[Any, ...] | None, why: str, *, schema_error: bool = False
) -> FlavorkitError:
    """The error for a bad value at ``path``, naming its column and row in a table."""
    path = path or ()
    where = _render(path)
    column, row = _table_cell(payload, path)
    if column is not None:
        where += f" (column {names_preview([column])[1:-1]}, row {row})"
    message = f"{where}: {why}"
    field = column if column is not None else where
    if schema_error:
        return SchemaEnforcementError(message, field=field, expected="a finite number")
    return PayloadError(message, field=field)


def _table_cell(payload: Any, path: tuple[Any, ...]) -> tuple[str | None, int | None]:
    """The column and row a path points into, for the table forms; (None, None) otherwise."""
    if any(isinstance(step, tuple) for step in path) or len(path) < 3:
        return None, None
    form, first, second = path[0], path[1], path[2]
    if form == "dataframe_split" and first == "data" and len(path) >= 4:
        columns = payload[form].get("columns")
        row, j = path[2], path[3]
        if isinstance(j, int) and isinstance(columns, list) and j < len(columns):
            return str(columns[j]), row
        return f"[{j}]", row
    if form in FORMAT_KEYS and isinstance(first, int) and isinstance(second, str):
        return second, first  # a list of records
    if form in ("inputs", "instances") and isinstance(first, str) and isinstance(second, int):
        return first, second  # a dict of columns
    return None, None


# ---------------------------------------------------------------- CSV


CSV_TEXT_OPTIONS: dict[str, Any] = {"dtype": str, "keep_default_na": False, "na_values": [""]}


def read_csv(source: Any, schema: Schema | None, **options: Any) -> Any:
    """Read CSV (with a header row) typed by ``schema``; with ``chunksize`` an iterator of chunks.

    For a column signature every cell is read as text (empty = null) and
    converted with :func:`flavorkit._convert.text_frame`, so nothing is guessed and nothing is
    lost; without one, pandas infers the types.
    """
    import pandas as pd

    if schema is None or schema.is_tensor_spec():
        return pd.read_csv(source, **options)
    reader = pd.read_csv(source, **CSV_TEXT_OPTIONS, **options)
    if options.get("chunksize"):
        return (_convert.text_frame(chunk, schema) for chunk in reader)
    return _convert.text_frame(reader, schema)


def tensor_from_table(frame: pd.DataFrame, schema: Schema, *, text: bool) -> Any:
    """A table (CSV, Parquet) for a tensor signature: the model's ndarray or dict of ndarrays.

    An unnamed tensor takes all columns as its rows; named tensors take the
    column of their name each. Values convert exactly (``text``: decimal
    numbers may round to float32, as for JSON). Missing names are left for
    enforcement to report.
    """
    specs = list(schema.inputs)
    if not schema.has_input_names():
        spec = specs[0]
        arr = frame.to_numpy()
        if len(spec.shape) == 1 and arr.ndim == 2 and arr.shape[1] == 1:
            arr = arr[:, 0]
        return _typed_table(arr, spec.type, "[0]", text)
    out = {}
    for spec in specs:
        if spec.name in frame.columns:
            arr = frame[spec.name].to_numpy()
            if len(spec.shape) == 2 and spec.shape[1] == 1:
                arr = arr.reshape(-1, 1)
            out[spec.name] = _typed_table(arr, spec.type, str(spec.name), text)
    return out


def _typed_table(arr: Any, dtype: Any, name: str, text: bool) -> Any:
    if arr.dtype.kind in "biuf" and dtype.kind in "biuf" and arr.dtype != dtype:
        return _convert.exact(arr, dtype, name, text=text)
    return arr


# ---------------------------------------------------------------- predictions


def predictions_jsonable(result: Any) -> Any:
    """Predictions as plain JSON data, as MLflow's server writes them.

    DataFrame -> list of records; Series -> records of a one-column frame;
    ndarray -> nested lists; dicts and lists recursively; NaN -> null,
    bytes -> base64, datetimes -> ISO text.
    """
    import sys

    pd = sys.modules.get("pandas")
    if pd is not None:
        if isinstance(result, pd.Series):
            result = result.to_frame(name=result.name if result.name is not None else 0)
        if isinstance(result, pd.DataFrame):
            result = result.to_dict(orient="records")
    return to_jsonable(result)


def encode_predictions(result: Any, *, unwrap: bool = False) -> bytes:
    """The response body: ``{"predictions": ...}`` (or the bare value) as UTF-8 JSON."""
    value = predictions_jsonable(result)
    return json.dumps(
        value if unwrap else {"predictions": value}, allow_nan=False, separators=(",", ":")
    ).encode()


# ---------------------------------------------------------------- messages


def _json_kind(value: Any) -> str:
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "boolean"
    if value is None:
        return "null"
    return "number"
