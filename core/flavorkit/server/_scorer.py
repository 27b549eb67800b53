"""``Scorer``: a loaded model plus everything between a request body and a response body.

Its methods are blocking and run on the server's one predict thread, so a
model is never called from two threads at once.
"""

from __future__ import annotations

import functools
import io
import itertools
import json
import logging
from typing import TYPE_CHECKING, Any

from flavorkit.enforce import enforce_params, enforce_schema
from flavorkit.enforce._columns import missing_columns_error
from flavorkit.enforce._values import names_preview
from flavorkit.exceptions import FlavorkitError, PayloadError, SchemaEnforcementError
from flavorkit.io import (
    OVERFLOW,
    Limits,
    Parsed,
    PayloadTooLargeError,
    Rows,
    csv_header,
    encode_predictions,
    extent,
    find_overflow,
    is_column_schema,
    model_input,
    parse_json,
    read_csv,
    read_parquet,
    rows_input,
)
from flavorkit.server._v2 import V2Request
from flavorkit.signature import DataType
from flavorkit.signature._exact import FLOAT_EXACT, FLOAT_MAX, INT_BOUNDS

if TYPE_CHECKING:
    from flavorkit.api._pyfunc import PyFuncModel
    from flavorkit.server._v2 import V2Model

log = logging.getLogger("flavorkit.server")

JSON, CSV, PARQUET = "json", "csv", "parquet"


class SelfTestError(FlavorkitError, RuntimeError):
    """The model failed to predict on its own saved input example."""


class Scorer:
    """Parse, predict and encode for one loaded model.

    ``batchable`` says whether table requests may be joined into one
    predict call; it starts true for column signatures and the self-test
    turns it off when the model's output is not row-aligned.
    """

    def __init__(
        self, model: PyFuncModel, *, max_rows: int | None = None, max_cells: int | None = None
    ) -> None:
        self.model = model
        signature = model.signature
        self.schema = signature.inputs if signature is not None else None
        self.params_schema = signature.params if signature is not None else None
        params = self.params_schema
        self.param_names = frozenset(p.name for p in params) if params else frozenset()
        self.column_schema = is_column_schema(self.schema)
        self.batchable = self.column_schema
        # the most rows and cells (rows x columns) one request may decode to; None: no limit
        self.max_rows = max_rows
        self.max_cells = max_cells

    @property
    def limits(self) -> Limits:
        """The row and cell limits a request is decoded under."""
        return Limits(self.max_rows, self.max_cells)

    # -- parsing -------------------------------------------------------------
    def prepare(self, body: bytes, kind: str) -> Parsed:
        """Parse and validate one request body: what the server queues for prediction.

        Everything a client can get wrong is found here, before the request
        may join a micro-batch: malformed bodies, too many rows or cells
        (``PayloadTooLargeError``), no rows, and values that do not fit the
        signature. A table request that passes can be joined with others; one
        whose values could make a joined conversion fail is marked ``alone``.
        Raises ``PayloadError`` or ``SchemaEnforcementError`` (each naming
        the field); anything else that goes wrong while reading a body is
        reported as a ``PayloadError`` too.
        """
        try:
            request = self.parse(body, kind)
            self.validate(request)
            if kind == JSON and not request.unwrap:
                _refuse_overflow(request)
        except (PayloadError, SchemaEnforcementError, MemoryError):
            raise
        except Exception as exc:
            raise _unreadable(exc) from None
        return request

    def prepare_v2(self, body: bytes, header_length: int | None, model: V2Model) -> V2Request:
        """Parse and validate one V2 inference request body, as :meth:`prepare` does.

        ``header_length`` is the ``Inference-Header-Content-Length`` header
        (binary tensor data follows the JSON part), ``model`` the V2 view of
        the served model. A request whose inputs form a table (content type
        ``pd``) can join micro-batches like a ``dataframe_split`` body.
        """
        from flavorkit.server._v2 import parse_request

        try:
            request = parse_request(body, header_length, model, self.limits)
            self.validate(request)
            if not request.binary:  # binary floats are what was sent, infinities included
                _refuse_overflow(request)
        except (PayloadError, SchemaEnforcementError, MemoryError):
            raise
        except Exception as exc:
            raise _unreadable(exc) from None
        return request

    def parse(self, body: bytes, kind: str) -> Parsed:
        """Turn a request body of media ``kind`` (json, csv, parquet) into a request.

        Rows and cells are counted before anything is typed (for CSV and
        Parquet, before the data is decoded). Raises ``PayloadError``
        (``PayloadTooLargeError`` over a limit) or ``SchemaEnforcementError``.
        """
        if kind == JSON:
            return parse_json(body, self.schema, self.param_names, limits=self.limits)
        if kind == CSV:
            return Parsed(data=self._csv(body))
        chunk = read_parquet(body, self.schema, limits=self.limits)
        if chunk.rows == 0:
            raise PayloadError("the Parquet body has no rows; send at least one row", field="body")
        return Parsed(data=chunk.data)

    def _csv(self, body: bytes) -> Any:
        limits = self.limits
        if limits.max_cells is not None:
            end = body.find(b"\n")
            # an upper bound (a quoted name may hold a comma): refuse before pandas builds it
            if body.count(b",", 0, end if end >= 0 else len(body)) + 1 > limits.max_cells:
                raise PayloadTooLargeError(
                    f"the CSV header row has more than {limits.max_cells} columns, more than "
                    "the server's limit of cells per request",
                    field="body",
                    limit="max_request_cells",
                )
        columns = csv_header(body)
        self._check_csv_header(columns)
        allowed, limit = limits.allowed_rows(len(columns))
        chunk = read_csv(
            io.BytesIO(body), self.schema, nrows=None if allowed is None else allowed + 1
        )
        if allowed is not None and chunk.rows > allowed:
            raise limits.too_many_rows("the CSV body", allowed, limit, len(columns))
        if chunk.rows == 0:
            raise PayloadError(
                "the CSV body has no rows (only a header row); send at least one row",
                field="body",
            )
        return chunk.data

    def _check_csv_header(self, columns: list[str]) -> None:
        """Refuse a header that lacks required columns without echoing it: it may be data."""
        if not self.column_schema or not self.schema.has_input_names():  # type: ignore[union-attr]
            return
        present = set(columns)
        required = [str(s.name) for s in self.schema.inputs if s.required]  # type: ignore[union-attr]
        missing = [name for name in required if name not in present]
        if missing:
            unknown = sum(1 for c in columns if c not in self._names)
            raise SchemaEnforcementError(
                f"the CSV header row does not name the signature's required column(s) "
                f"{names_preview(missing)} ({unknown} of its {len(columns)} names are not in "
                "the signature); the first line must be a header row naming the columns",
                field=", ".join(missing),
                expected=[str(s.name) for s in self.schema.inputs],  # type: ignore[union-attr]
                actual=f"{len(columns)} columns",
            )

    @functools.cached_property
    def _quick_plan(self) -> _QuickPlan:
        return _QuickPlan(self.schema)

    @functools.cached_property
    def _names(self) -> frozenset[str]:
        assert self.schema is not None
        return frozenset(str(s.name) for s in self.schema.inputs)

    # -- validating ----------------------------------------------------------
    def validate(self, request: Parsed) -> None:
        """Check a parsed request against the signature; raise what predicting it would raise.

        Table rows pass a quick check of every value (no DataFrame is built);
        rows it cannot vouch for are typed and enforced in full, which raises
        the error naming the column and row. Other inputs are enforced as the
        model's predict would. Params are checked too.
        """
        if request.unwrap:
            return
        if request.rows is not None:
            self._validate_rows(request)
        else:
            if extent(request.data)[0] == 0:
                raise PayloadError("the request has no rows; send at least one row", field="body")
            if self.schema is not None:
                request.data = enforce_schema(request.data, self.schema)
        if request.params and self.params_schema is not None:
            request.params = enforce_params(request.params, self.params_schema)

    def _validate_rows(self, request: Parsed) -> None:
        rows = request.rows
        assert rows is not None and self.schema is not None
        if not rows.rows:
            raise PayloadError("the request has no rows; send at least one row", field="body")
        plan = self._quick_plan
        positions = plan.positions_for(rows)
        if rows.columns is not None and plan.named and positions is not None:
            # before any conversion: a request may name thousands of columns
            missing = [
                name
                for (name, _, required), at in zip(plan.specs, positions, strict=True)
                if required and at is None
            ]
            if missing:
                raise missing_columns_error(
                    missing,
                    [c for c in rows.columns if c not in self._names],
                    expected=[name for name, _, _ in plan.specs],
                    actual=f"{len(rows.columns)} columns",
                )
        verdict = _quick_check(rows, plan, positions)
        request.vouched = verdict is _OK or verdict is _ALONE
        if verdict is _ALONE:
            request.alone = True
        elif verdict is not _OK:
            # typed and enforced in full: raises the error naming the column and row
            request.frame = enforce_schema(rows_input(rows, self.schema), self.schema)
            request.alone = verdict is _ALONE_UNSURE

    # -- predicting ----------------------------------------------------------
    def _data(self, request: Parsed) -> Any:
        if request.vouched and request.frame is None and self._quick_plan.dense:
            frame = self._quick_plan.dense_frame(request.rows)  # type: ignore[arg-type]
            if frame is not None:
                return frame
        return model_input(request, self.schema)

    def predict(self, request: Parsed) -> Any:
        """The raw predictions for one request. Raises what the model or enforcement raises."""
        return self.model.predict(self._data(request), params=request.params)

    def score(self, request: Parsed) -> bytes:
        """The response body for one request."""
        return self.encode(request, self.predict(request))

    @staticmethod
    def encode(request: Parsed, result: Any) -> bytes:
        """The response body for ``request`` given its predictions: V2 JSON or MLflow's."""
        if isinstance(request, V2Request):
            from flavorkit.server._v2 import encode_response

            return encode_response(result, request)
        return encode_predictions(result, unwrap=request.unwrap)

    def score_batch(self, requests: list[Parsed]) -> list[bytes | BaseException]:
        """Response bodies (or the exception each request raised), in the order given.

        Table requests with the same columns are joined into one predict call
        and the output is cut back by row counts; when a joined call fails or
        its output is not row-aligned, each request is predicted on its own, so
        one bad request fails alone.
        """
        out: list[bytes | BaseException | None] = [None] * len(requests)
        groups: dict[Any, list[int]] = {}
        for i, req in enumerate(requests):
            if req.rows is not None and req.batchable and self.batchable and len(requests) > 1:
                groups.setdefault(_join_key(req.rows), []).append(i)
            else:
                out[i] = self._guarded(requests[i])
        for members in groups.values():
            parts = self._joined([requests[i] for i in members]) if len(members) > 1 else None
            for j, i in enumerate(members):
                out[i] = parts[j] if parts is not None else self._guarded(requests[i])
        return out  # type: ignore[return-value]

    def _guarded(self, request: Parsed) -> bytes | BaseException:
        try:
            return self.score(request)
        except Exception as exc:
            return exc

    def _joined(self, requests: list[Parsed]) -> list[bytes | BaseException] | None:
        """One predict call for several table requests; None when it cannot be split back.

        Each request's answer is encoded on its own: one that cannot be (a V2
        request asking for an output the model does not give) gets its error.
        """
        first = requests[0].rows
        assert first is not None
        rows: list[list[Any]] = []
        sizes = []
        for req in requests:
            assert req.rows is not None
            rows.extend(req.rows.rows)
            sizes.append(len(req.rows.rows))
        try:
            vouched = all(req.vouched for req in requests)
            result = self.predict(Parsed(rows=Rows(first.columns, rows), vouched=vouched))
            parts = split_predictions(result, sizes)
            if parts is None:
                return None
        except Exception:
            # someone in the batch sent bad data (or the model failed): find out who, one by one
            return None
        out: list[bytes | BaseException] = []
        for req, part in zip(requests, parts, strict=True):
            try:
                out.append(self.encode(req, part))
            except Exception as exc:
                out.append(exc)
        return out

    # -- self-test -----------------------------------------------------------
    def self_test(self) -> str:
        """Predict on the saved input example through the serving path; return a summary.

        Called at startup (before the server reports healthy) and by
        ``flavorkit serve --check``. Also turns micro-batching off when the
        model's output for two joined copies of the example is not the two
        outputs one after the other. Raises ``SelfTestError``.
        """
        model = self.model
        info = model.metadata.saved_input_example_info
        if not info:
            return "no input example saved with the model; self-test skipped"
        relative = info.get("serving_input_path", "serving_input_example.json")
        try:
            if (model.path / relative).exists() or (model.path / relative).is_symlink():
                request = self.prepare(read_serving_example(model.path, relative), JSON)
            else:
                request = Parsed(data=model.input_example, params=model.input_example_params)
            body = self.score(request)
        except Exception as exc:
            raise SelfTestError(
                "the model failed to predict on its saved input example: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        json.loads(body)  # what the server would send must be JSON
        note = self._probe_batching(request, body)
        rows = len(request.rows.rows) if request.rows is not None else None
        size = f" ({rows} row{'s' * (rows != 1)})" if rows is not None else ""
        return f"self-test passed on the saved input example{size}{note}"

    def _probe_batching(self, request: Parsed, single: bytes) -> str:
        if not self.batchable:
            return ""
        if not request.batchable:
            return ""
        joined = self._joined([request, request])
        if joined != [single, single]:
            self.batchable = False
            return "; micro-batching off: the output for joined requests is not row-aligned"
        return ""


def _refuse_overflow(request: Parsed) -> None:
    """JSON parses 1e400 as infinity: refuse one in the input or the params.

    Vouched-for rows hold none (the quick check); rows typed in full and other inputs are searched.
    """
    _refuse_infinity(request.frame if request.rows is not None else request.data)
    if request.params:
        find_overflow(request.params, "params")


def _unreadable(exc: Exception) -> PayloadError:
    """The error for a body reading failed on in a way no check foresaw."""
    if isinstance(exc, RecursionError):
        return PayloadError(
            "the body nests arrays or objects too deeply; send flat rows or tensors",
            field="body",
        )
    # one line, no traceback (a client can send these at will); debug logs show it
    log.warning(
        "refused a request body that could not be read (%s)",
        type(exc).__name__,
        exc_info=log.isEnabledFor(logging.DEBUG),
    )
    return PayloadError(f"the request could not be read ({type(exc).__name__})", field="body")


def _refuse_infinity(data: Any) -> None:
    """Raise for an infinite float in decoded JSON: only a number like ``1e400`` becomes one."""
    if data is None:
        return
    import numpy as np
    import pandas as pd

    if isinstance(data, pd.DataFrame):
        for i, dtype in enumerate(data.dtypes):
            if isinstance(dtype, np.dtype) and dtype.kind == "f":
                _refuse_inf_array(data.iloc[:, i].to_numpy(), data.columns[i], "column")
    elif isinstance(data, np.ndarray) and data.dtype.kind == "f":
        _refuse_inf_array(data, None, "tensor")
    elif isinstance(data, dict):
        for name, value in data.items():
            if isinstance(value, np.ndarray) and value.dtype.kind == "f":
                _refuse_inf_array(value, name, "tensor")


def _refuse_inf_array(arr: Any, name: Any, what: str) -> None:
    import numpy as np

    inf = np.isinf(arr)
    if inf.any():
        at = np.unravel_index(int(np.argmax(inf)), arr.shape)
        label = names_preview([name])[1:-1] if name is not None else "[0]"
        where = f"row {at[0]}" if what == "column" else f"index {list(map(int, at))}"
        raise SchemaEnforcementError(
            f"{what} {label}: {OVERFLOW} ({where})",
            field=str(name) if name is not None else "[0]",
            expected="a finite number",
            actual="a number too large for a double",
        )


# -- the quick check of table rows -------------------------------------------------

_OK, _ALONE, _UNSURE, _ALONE_UNSURE = "ok", "alone", "unsure", "alone-unsure"
_DOUBLE_INTS = FLOAT_EXACT[DataType.double]  # the integers a double holds exactly
_FLOAT_INTS = FLOAT_EXACT[DataType.float]
_FLOAT32_MAX = FLOAT_MAX[DataType.float]  # larger text overflows a float column to infinity


_DOUBLE, _FLOAT, _LONG, _INTEGER, _BOOLEAN, _STRING, _OTHER = range(7)
_KINDS = {
    DataType.double: _DOUBLE,
    DataType.float: _FLOAT,
    DataType.long: _LONG,
    DataType.integer: _INTEGER,
    DataType.boolean: _BOOLEAN,
    DataType.string: _STRING,
}


class _QuickPlan:
    """What the quick check needs from a column schema, derived once per model."""

    # column tuples seen recently -> the position of each spec's column; bounded in
    # entries and in the width of a tuple kept, since clients choose the tuples
    CACHE = 64
    CACHE_WIDTH = 256

    def __init__(self, schema: Any) -> None:
        self.named = schema.has_input_names()
        # complex types (Array, Object, Map: unhashable) are never vouched for
        self.specs = [
            (
                str(s.name),
                _KINDS.get(s.type, _OTHER) if isinstance(s.type, DataType) else _OTHER,
                bool(s.required),
            )
            for s in schema.inputs
        ]
        self.positions: dict[tuple[str, ...], list[int | None]] = {}
        # every column a double, named: vouched-for rows in the signature's order are one
        # float64 block, built in one call instead of column by column
        self.names = tuple(name for name, _, _ in self.specs)
        self.dense = self.named and bool(self.specs) and all(k == _DOUBLE for _, k, _ in self.specs)

    def dense_frame(self, rows: Rows) -> Any:
        """The typed frame of vouched-for ``rows`` as one block; None unless in signature order.

        The quick check found every value a float, an integer a double holds
        exactly, or a null in an optional column, so ``float64`` holds each one
        exactly (a null as NaN), as column-by-column typing would.
        """
        if rows.columns != self.names:
            return None
        import numpy as np
        import pandas as pd

        return pd.DataFrame(np.array(rows.rows, dtype=np.float64), columns=self.columns)

    @functools.cached_property
    def columns(self) -> Any:
        """The dense frames' labels: one Index shared by every batch (labels are immutable).

        Building it from a list each time, and converting it again in
        scikit-learn's feature-name check (pandas caches that on the Index),
        took about a fifth of an 8-row predict call.
        """
        import pandas as pd

        return pd.Index(self.names)

    def positions_for(self, rows: Rows) -> list[int | None] | None:
        columns = rows.columns
        if columns is not None and self.named:
            found = self.positions.get(columns)
            if found is None:
                where = {name: i for i, name in enumerate(columns)}
                found = [where.get(name) for name, _, _ in self.specs]
                if len(columns) <= self.CACHE_WIDTH:
                    if len(self.positions) >= self.CACHE:
                        self.positions.clear()
                    self.positions[columns] = found
            return found
        if not self.named and rows.rows and len(rows.rows[0]) >= len(self.specs):
            return list(range(len(self.specs)))
        return None


def _quick_check(rows: Rows, plan: _QuickPlan, positions: list[int | None] | None) -> str:
    """Vouch for table rows without building a DataFrame.

    ``_OK``: every value converts exactly and nothing is missing, so typing and
    enforcing the rows (alone or joined with other vouched-for rows) succeeds.
    ``_ALONE``: the same, but an integer beyond 2**53 in a ``long`` column would
    make a joined conversion refuse a column mixing it with floats. ``_UNSURE``
    (or ``_ALONE_UNSURE``): a value or a column type this check does not judge
    (binary, datetime, complex types, a possible error): type and enforce in full.
    """
    if positions is None:
        return _UNSURE
    table = rows.rows
    alone = unsure = False
    for (_, kind, required), i in zip(plan.specs, positions, strict=True):
        if i is None:
            if required:
                return _UNSURE  # enforcement names the missing columns
            continue
        values = (table[0][i],) if len(table) == 1 else [row[i] for row in table]
        one = _quick_column(values, kind, required)
        if one is _ALONE:
            alone = True
        elif one is _UNSURE:
            unsure = True
    if unsure:
        return _ALONE_UNSURE if alone else _UNSURE
    return _ALONE if alone else _OK


def _quick_column(values: Any, kind: int, required: bool) -> str:
    if kind <= _FLOAT:
        exact = _DOUBLE_INTS if kind == _DOUBLE else _FLOAT_INTS
        top = _FLOAT32_MAX if kind == _FLOAT else None
        for v in values:
            t = type(v)
            if t is float:
                if v - v != 0.0 or (top is not None and abs(v) > top):
                    return _UNSURE
            elif t is int:
                if v > exact or v < -exact:
                    return _UNSURE
            elif v is not None or required:
                return _UNSURE
        return _OK
    if kind <= _INTEGER:
        lo, hi = INT_BOUNDS[DataType.long if kind == _LONG else DataType.integer]
        floats = big = False
        for v in values:
            t = type(v)
            if t is int:
                if v < lo or v > hi:
                    return _UNSURE
                if v > _DOUBLE_INTS or v < -_DOUBLE_INTS:
                    big = True
            elif t is float:
                if not v.is_integer() or v > _DOUBLE_INTS or v < -_DOUBLE_INTS or v < lo or v > hi:
                    return _UNSURE
                floats = True
            elif v is not None or required:
                return _UNSURE
        if big:
            return _UNSURE if floats else _ALONE
        return _OK
    if kind <= _STRING:
        want = bool if kind == _BOOLEAN else str
        for v in values:
            if type(v) is not want and (v is not None or required):
                return _UNSURE
        return _OK
    return _UNSURE


def _join_key(rows: Rows) -> Any:
    """Requests join only with requests of the same columns (or the same width, unnamed)."""
    if rows.columns is not None:
        return rows.columns
    return len(rows.rows[0]) if rows.rows else 0


def split_predictions(result: Any, sizes: list[int]) -> list[Any] | None:
    """Cut one batch's predictions into per-request parts of ``sizes`` rows, or None.

    None means the output is not row-aligned with the input (its length is
    not the batch's row count), so the requests must be predicted one by one.
    """
    import numpy as np
    import pandas as pd

    total = sum(sizes)
    bounds = np.cumsum([0, *sizes]).tolist()
    if isinstance(result, (pd.DataFrame, pd.Series)):
        if len(result) != total:
            return None
        return [result.iloc[a:b] for a, b in itertools.pairwise(bounds)]
    if (isinstance(result, np.ndarray) and result.ndim >= 1) or isinstance(result, list):
        if len(result) != total:
            return None
        return [result[a:b] for a, b in itertools.pairwise(bounds)]
    if (
        isinstance(result, dict)
        and result
        and all(isinstance(v, (np.ndarray, list)) and len(v) == total for v in result.values())
    ):
        return [{k: v[a:b] for k, v in result.items()} for a, b in itertools.pairwise(bounds)]
    return None


def read_serving_example(folder: Any, relative: str) -> bytes:
    """The bytes of the saved serving example, read as the loader reads folder files."""
    from flavorkit.folder import MAX_JSON_BYTES, model_file, read_bytes

    key = "saved_input_example_info.serving_input_path"
    return read_bytes(model_file(folder, relative, key=key), limit=MAX_JSON_BYTES, key=key)
