"""``Scorer``: a loaded model plus everything between a request body and a response body.

Its methods are blocking and run on the server's one predict thread, so a
model is never called from two threads at once.
"""

from __future__ import annotations

import io
import itertools
import json
import logging
from typing import TYPE_CHECKING, Any

from flavorkit import _convert, _payload
from flavorkit._payload import Parsed, Rows
from flavorkit.exceptions import PayloadError

if TYPE_CHECKING:
    from flavorkit._pyfunc import PyFuncModel

log = logging.getLogger("flavorkit.server")

JSON, CSV, PARQUET = "json", "csv", "parquet"


class SelfTestError(RuntimeError):
    """The model failed to predict on its own saved input example."""


class Scorer:
    """Parse, predict and encode for one loaded model.

    ``batchable`` says whether table requests may be joined into one
    predict call; it starts true for column signatures and the self-test
    turns it off when the model's output is not row-aligned.
    """

    def __init__(self, model: PyFuncModel) -> None:
        self.model = model
        signature = model.signature
        self.schema = signature.inputs if signature is not None else None
        params = signature.params if signature is not None else None
        self.param_names = frozenset(p.name for p in params) if params else frozenset()
        self.column_schema = self.schema is not None and not self.schema.is_tensor_spec()
        self.batchable = self.column_schema

    # -- parsing -------------------------------------------------------------
    def parse(self, body: bytes, kind: str) -> Parsed:
        """Turn a request body of media ``kind`` (json, csv, parquet) into a request.

        Raises ``PayloadError`` or ``SchemaEnforcementError``.
        """
        if kind == JSON:
            return _payload.parse_json(body, self.schema, self.param_names)
        if kind == CSV:
            return Parsed(data=self._csv(body))
        return Parsed(data=self._parquet(body))

    def _csv(self, body: bytes) -> Any:
        import pandas as pd

        try:
            frame = _payload.read_csv(io.BytesIO(body), self.schema)
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
            raise PayloadError(
                f"the body is not valid CSV with a header row ({type(exc).__name__})", field="body"
            ) from None
        if self.schema is not None and not self.column_schema:
            return _payload.tensor_from_table(frame, self.schema, text=True)
        return frame

    def _parquet(self, body: bytes) -> Any:
        try:
            import pyarrow as pa
            import pyarrow.parquet as pq
        except ImportError:
            raise PayloadError(
                "Parquet bodies need pyarrow: pip install 'flavorkit[parquet]'", field="body"
            ) from None
        try:
            frame = pq.read_table(pa.BufferReader(body)).to_pandas()
        except (pa.ArrowException, OSError) as exc:
            raise PayloadError(
                f"the body is not a valid Parquet file ({type(exc).__name__})", field="body"
            ) from None
        if self.schema is None:
            return frame
        if self.column_schema:
            return _convert.binary_frame(frame, self.schema)
        return _payload.tensor_from_table(frame, self.schema, text=False)

    # -- predicting ----------------------------------------------------------
    def _data(self, request: Parsed) -> Any:
        if request.rows is not None:
            assert self.schema is not None
            return _convert.typed_frame(request.rows, self.schema)
        return request.data

    def predict(self, request: Parsed) -> Any:
        """The raw predictions for one request. Raises what the model or enforcement raises."""
        return self.model.predict(self._data(request), params=request.params)

    def score(self, request: Parsed) -> bytes:
        """The response body for one request."""
        return _payload.encode_predictions(self.predict(request), unwrap=request.unwrap)

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

    def _joined(self, requests: list[Parsed]) -> list[bytes] | None:
        """One predict call for several table requests; None when it cannot be split back."""
        first = requests[0].rows
        assert first is not None
        rows: list[list[Any]] = []
        sizes = []
        for req in requests:
            assert req.rows is not None
            rows.extend(req.rows.rows)
            sizes.append(len(req.rows.rows))
        try:
            result = self.predict(Parsed(rows=Rows(first.columns, rows)))
            parts = split_predictions(result, sizes)
            if parts is None:
                return None
            return [_payload.encode_predictions(p) for p in parts]
        except Exception:
            # someone in the batch sent bad data (or the model failed): find out who, one by one
            return None

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
        serving = model.path / info.get("serving_input_path", "serving_input_example.json")
        try:
            if serving.is_file():
                request = self.parse(serving.read_bytes(), JSON)
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
