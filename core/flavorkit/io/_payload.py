"""Scoring payloads: a JSON payload's forms turned into the model's input.

Shared by the scoring server and batch scoring (``flavorkit predict``), so
both accept the same forms and give the same messages. The forms are
MLflow's (FORMAT.md §8): ``dataframe_split``, ``dataframe_records``,
``instances`` or ``inputs`` (plus an optional ``params`` object), or a
chat-style object passed whole; :mod:`flavorkit.io._json` checks the top level.

Unlike MLflow's server, values are never forced into the signature's types
with ``astype``: :mod:`flavorkit.io._convert` converts a value only when it
stays exactly the same (``2.0`` fits an ``integer`` column, ``2.7`` is
refused). What is left alone there, the core's schema enforcement checks
next, inside ``PyFuncModel.predict``.

Errors are ``PayloadError`` (malformed payload) or ``SchemaEnforcementError``
(a value that does not fit its column); both name the field and never echo
the payload.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flavorkit.enforce._values import names_preview
from flavorkit.exceptions import FlavorkitError, PayloadError
from flavorkit.io._convert import Rows, typed_array, typed_frame
from flavorkit.io._json import (
    chat_params,
    check_params,
    json_kind,
    load_json,
    not_an_object_error,
    payload_form,
)
from flavorkit.signature import Array, DataType, Object, Schema

if TYPE_CHECKING:
    import pandas as pd

_SPLIT_KEYS = frozenset({"columns", "data", "index"})


def is_column_schema(schema: Schema | None) -> bool:
    """Whether ``schema`` declares columns (ColSpecs) rather than tensors; False for None."""
    return schema is not None and not schema.is_tensor_spec()


# ---------------------------------------------------------------- size limits


class PayloadTooLargeError(PayloadError):
    """A request holds more rows or cells than a limit allows (the server answers 413).

    ``limit`` names the setting that refused it (``max_request_rows``, ``max_request_cells``).
    """

    def __init__(self, message: str, *, field: str | None = None, limit: str | None = None):
        super().__init__(message, field=field)
        self.limit = limit


@dataclass(frozen=True)
class Limits:
    """The most rows and cells (rows x columns) one request may decode to; None: no limit.

    The readers check them before building anything they can count first
    (JSON rows, CSV header and rows, Parquet metadata).
    """

    max_rows: int | None = None
    max_cells: int | None = None

    def check(self, rows: int, cells: int) -> None:
        """Raise ``PayloadTooLargeError`` when ``rows`` or ``cells`` is over its limit."""
        if self.max_rows is not None and rows > self.max_rows:
            raise PayloadTooLargeError(
                f"the request has {rows} rows, more than the server's limit of "
                f"{self.max_rows} rows per request; send fewer rows per request",
                field="body",
                limit="max_request_rows",
            )
        if self.max_cells is not None and cells > self.max_cells:
            raise PayloadTooLargeError(
                f"the request has {cells} cells (rows x columns), more than the server's "
                f"limit of {self.max_cells} cells per request; send fewer rows per request",
                field="body",
                limit="max_request_cells",
            )

    def allowed_rows(self, width: int) -> tuple[int | None, str]:
        """The most rows a table of ``width`` columns may have, and the limit that sets it."""
        by_rows = self.max_rows
        by_cells = self.max_cells // max(width, 1) if self.max_cells is not None else None
        if by_cells is not None and (by_rows is None or by_cells < by_rows):
            return by_cells, "max_request_cells"
        return by_rows, "max_request_rows"

    def too_many_rows(
        self, what: str, allowed: int, limit: str, width: int
    ) -> PayloadTooLargeError:
        """The error for ``what`` (``the CSV body``) holding more than ``allowed`` rows."""
        if limit == "max_request_rows":
            message = (
                f"{what} has more than {allowed} rows, the server's limit of rows per "
                "request; send fewer rows per request"
            )
        else:
            message = (
                f"{what} has more than {self.max_cells} cells ({width} columns x more than "
                f"{allowed} rows), the server's limit of cells per request; "
                "send fewer rows per request"
            )
        return PayloadTooLargeError(message, field="body", limit=limit)


# ---------------------------------------------------------------- parsed payloads


@dataclass
class Parsed:
    """One parsed payload: either ``rows`` (a table, typed later) or ready ``data``."""

    data: Any = None
    rows: Rows | None = None
    params: dict[str, Any] | None = None
    # a chat-style body: predicted as-is and answered without the "predictions" wrapper
    unwrap: bool = False
    # validated, but its values could make a joined conversion fail: predicted on its own
    alone: bool = False
    # table rows whose every value the server's quick check found exact for its column
    vouched: bool = False
    # the typed and enforced input, when validation had to build it (used when predicted alone)
    frame: Any = None

    @property
    def batchable(self) -> bool:
        """Whether this request may share one predict call with others (a table, no params)."""
        return self.rows is not None and not self.params and not self.alone


def model_input(parsed: Parsed, schema: Schema | None) -> Any:
    """What the model is given for ``parsed``: its typed frame, its rows typed, or its data."""
    if parsed.frame is not None:
        return parsed.frame
    if parsed.rows is not None:
        return rows_input(parsed.rows, schema)
    return parsed.data


def rows_input(rows: Rows, schema: Schema | None, *, nulls: bool = False) -> pd.DataFrame:
    """The DataFrame of table ``rows``: typed exactly by a column signature.

    Without a signature pandas infers each column's type; for a tensor
    signature the frame is left for enforcement to turn into tensors.
    Raises ``SchemaEnforcementError`` for a value its column cannot hold and,
    unless ``nulls``, for a null in a required column.
    """
    if is_column_schema(schema):
        assert schema is not None
        return typed_frame(rows, schema, nulls=nulls)
    import pandas as pd

    return pd.DataFrame(rows.rows, columns=list(rows.columns) if rows.columns is not None else None)


def parse_json(
    body: bytes | str,
    schema: Schema | None,
    param_names: Collection[str] = frozenset(),
    *,
    limits: Limits | None = None,
) -> Parsed:
    """Parse a JSON payload (a request body, a small file) into a ``Parsed`` payload.

    ``param_names`` are the params the signature declares (a chat-style
    payload passes those keys as params). ``limits`` are checked for a table
    before any DataFrame is built, and for tensors once built.
    Raises ``PayloadError`` for malformed JSON (including ``NaN``/``Infinity``
    tokens, text with a lone surrogate and nesting deeper than the parser's
    limit), a payload that is not an object, no or several format keys,
    unknown keys or a malformed table.
    """
    return parse_payload(load_json(body), schema, param_names, limits=limits)


def parse_payload(
    payload: Any,
    schema: Schema | None,
    param_names: Collection[str] = frozenset(),
    *,
    limits: Limits | None = None,
) -> Parsed:
    """A parsed JSON payload (a dict) as a ``Parsed`` payload; see :func:`parse_json`."""
    if not isinstance(payload, dict):
        raise not_an_object_error(json_kind(payload))
    key = payload_form(payload)
    if key is None:
        params = chat_params(payload, param_names)
        data = {k: v for k, v in payload.items() if k not in params}
        return Parsed(data=data, params=params or None, unwrap=True)
    params = check_params(payload.get("params"))
    parsed = parse_form(key, payload[key], schema, limits=limits)
    parsed.params = params
    return parsed


def parse_form(
    key: str, value: Any, schema: Schema | None, *, limits: Limits | None = None
) -> Parsed:
    """The value under format key ``key`` (or a chunk of its rows) as a ``Parsed`` payload.

    Tables for a column signature stay ``rows`` (typed later, so requests can
    be joined); other forms become ``data``. ``limits`` are checked for a
    table before a DataFrame is built and for tensors once built.
    """
    if key == "dataframe_split":
        rows = split_rows(value)
    elif key == "dataframe_records":
        rows = records_rows(value, key)
    elif is_column_schema(schema):
        assert schema is not None
        rows = inputs_rows(value, key, schema)
    else:
        data = tensor_input(value, key, schema)
        if limits is not None:
            limits.check(*extent(data))
        return Parsed(data=data)
    if limits is not None:
        width = len(rows.columns) if rows.columns is not None else _width(rows.rows)
        limits.check(len(rows.rows), len(rows.rows) * width)
    if is_column_schema(schema):
        return Parsed(rows=rows)
    return Parsed(data=rows_input(rows, schema))


def split_rows(value: Any, key: str = "dataframe_split") -> Rows:
    """Check a ``dataframe_split`` object (``columns``, ``data``, optional ``index``)."""
    if not isinstance(value, dict):
        raise split_not_an_object_error(json_kind(value), key)
    unknown = sorted(set(value) - _SPLIT_KEYS)
    if unknown:
        raise split_unknown_keys_error(unknown, key)
    data = value.get("data")
    if not isinstance(data, list):
        raise PayloadError(
            f"'{key}.data' must be a list of rows, got a JSON {json_kind(data)}",
            field=f"{key}.data",
        )
    columns = split_columns(value.get("columns"), key)
    width = len(columns) if columns is not None else None
    for i, row in enumerate(data):
        if not isinstance(row, list):
            if width == 1 or (width is None and not isinstance(row, dict)):
                data = [[r] for r in data]  # a one-column table may be sent as a flat list
                break
            raise PayloadError(
                f"'{key}.data' row {i} must be a list, got a JSON {json_kind(row)}",
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


def split_columns(columns: Any, key: str = "dataframe_split") -> tuple[str, ...] | None:
    """The ``columns`` of a ``dataframe_split`` object: unique names (numbers become text)."""
    if columns is None:
        return None
    types = set(map(type, columns)) if isinstance(columns, list) else {None}
    if not types <= {str, int}:  # not bool: type(True) is bool
        raise PayloadError(
            f"'{key}.columns' must be a list of column names", field=f"{key}.columns"
        )
    names = tuple(columns) if int not in types else tuple(map(str, columns))
    if len(set(names)) != len(names):
        seen: set[str] = set()
        twice = next(c for c in names if c in seen or seen.add(c))  # type: ignore[func-returns-value]
        raise PayloadError(
            f"'{key}.columns' names the column {names_preview([twice])[1:-1]} twice; "
            "every column name must be unique",
            field=f"{key}.columns",
        )
    return names


def split_not_an_object_error(kind: str, key: str = "dataframe_split") -> PayloadError:
    """A ``dataframe_split`` value that is a JSON ``kind``, not an object."""
    return PayloadError(
        f"'{key}' must be a JSON object with 'columns' and 'data', got a JSON {kind}", field=key
    )


def split_unknown_keys_error(unknown: list[str], key: str = "dataframe_split") -> PayloadError:
    """Keys of a ``dataframe_split`` object other than ``columns``, ``data`` and ``index``."""
    return PayloadError(
        f"'{key}' has unknown key(s) {names_preview(unknown)}; allowed: columns, data, index",
        field=key,
    )


def records_rows(value: Any, key: str) -> Rows:
    """Turn a list of records (dicts) into rows; a key missing in a record is a null."""
    if not isinstance(value, list):
        raise PayloadError(
            f"'{key}' must be a list of JSON objects, got a JSON {json_kind(value)}", field=key
        )
    names: dict[str, None] = {}
    for i, rec in enumerate(value):
        if not isinstance(rec, dict):
            raise PayloadError(
                f"'{key}' item {i} must be a JSON object, got a JSON {json_kind(rec)}", field=key
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
        return _dict_rows(value, key, schema)
    return Rows(_names(schema, 1), [[value]])


def _dict_rows(value: dict[str, Any], key: str, schema: Schema) -> Rows:
    """A dict of columns (lists, one value per row) or of single values (one row).

    As MLflow's enforcement, the dict is one row whenever the signature has an
    ``Array`` or ``Object`` column (and here also when a column it names has
    another complex type): a list is then one cell. A dict that mixes lists and
    single values is refused: MLflow's server repeats the single values on
    every row where its Python API makes one row holding the lists.
    """
    columns = tuple(str(k) for k in value)
    by_name = {str(s.name): s for s in schema.inputs} if schema.has_input_names() else {}
    one_row = any(isinstance(s.type, (Array, Object)) for s in schema.inputs) or any(
        not isinstance(by_name[c].type, DataType) for c in columns if c in by_name
    )
    if one_row:
        return Rows(columns, [list(value.values())])
    listed = [c for c, v in zip(columns, value.values(), strict=True) if isinstance(v, list)]
    if not listed:
        return Rows(columns, [list(value.values())])
    if len(listed) < len(columns):
        single = [c for c in columns if c not in listed]
        raise PayloadError(
            f"'{key}': the column(s) {names_preview(listed)} hold a list and "
            f"{names_preview(single)} a single value, which reads both as one row holding "
            "the list and as one row per item; give every column a list (one value per row) "
            "or every column a single value (one row)",
            field=listed[0][:100],
        )
    lengths = {len(v) for v in value.values()}
    if len(lengths) > 1:
        shown = sorted(lengths)
        raise PayloadError(
            f"'{key}': every column must have the same length, "
            f"got lengths {shown[:10]}{' and more' if len(shown) > 10 else ''}",
            field=key,
        )
    return Rows(columns, [list(r) for r in zip(*value.values(), strict=True)])


def _width(rows: list[Any]) -> int:
    return len(rows[0]) if rows and isinstance(rows[0], list) else 1


def _names(schema: Schema, width: int) -> tuple[str, ...] | None:
    """Column names for positional values: the schema's when it has names and the width fits."""
    if schema.has_input_names() and len(schema.inputs) == width:
        return tuple(str(s.name) for s in schema.inputs)
    return None


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
        return typed_array(value, dtype, name)
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


def extent(data: Any) -> tuple[int, int]:
    """(rows, cells) of a decoded input: a DataFrame, an ndarray, a dict of them, a list."""
    import numpy as np
    import pandas as pd

    if isinstance(data, pd.DataFrame):
        return len(data), data.size
    if isinstance(data, np.ndarray):
        return (data.shape[0] if data.ndim else 1), data.size
    if isinstance(data, dict):
        extents = [extent(v) for v in data.values()]
        if not extents:
            return 0, 0
        return min(e[0] for e in extents), sum(e[1] for e in extents)
    if isinstance(data, list):
        return len(data), len(data)
    return 1, 1
