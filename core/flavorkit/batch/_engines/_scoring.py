"""A batch scored in a worker: the model's input, predict, the declared result."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from flavorkit.batch._engines._errors import mark, where
from flavorkit.batch._engines._results import ResultSpec, empty_result, shape_result
from flavorkit.exceptions import (
    FlavorkitError,
    SchemaEnforcementError,
)
from flavorkit.io._chunks import counts_rows, located, span

if TYPE_CHECKING:
    import pandas as pd

    from flavorkit.api import PyFuncModel
    from flavorkit.signature import Schema


class Scorer:
    """Scores the batches of one worker: input conversion, predict, the declared result.

    Built in the task from the loaded model. ``text``: the table holds text
    to convert (CSV read as strings); otherwise typed values are narrowed
    exactly, as ``flavorkit predict`` does with Parquet.
    """

    def __init__(
        self,
        model: PyFuncModel,
        spec: ResultSpec,
        params: dict[str, Any] | None,
        *,
        text: bool = False,
        facts: bool = True,
    ) -> None:
        self.model = model
        self.facts = facts
        self.spec = spec
        self.params = params
        self.text = text
        signature = model.signature
        self.schema: Schema | None = signature.inputs if signature is not None else None
        self.named = (
            [str(s.name) for s in self.schema.inputs]
            if self.schema is not None and self.schema.has_input_names()
            else None
        )
        self.positions = counts_rows(self.schema)
        self._named_set = frozenset(self.named or ())
        self._plans: dict[tuple[Any, Any], Any] = {}  # columns and dtypes -> _float_columns

    def __call__(
        self, frame: pd.DataFrame, first: int, partition: int | None
    ) -> pd.Series | pd.DataFrame:
        """Predictions for ``frame``, rows ``first``.. of ``partition`` (1-based, for messages).

        A flavorkit error comes out as the same error naming the partition,
        the rows and the column (see :func:`mark`); another exception of the
        model gets a note naming them.
        """
        rows = len(frame)
        if rows == 0:
            return empty_result(self.spec)
        last = first + rows - 1
        try:
            data = self.model_input(frame)
            pred = self.model.predict(data, params=self.params)
            return shape_result(pred, self.spec, rows)
        except FlavorkitError as exc:
            located_exc = located(exc, first, last, positions=self.positions)
            raise mark(located_exc, partition, facts=self.facts) from None
        except Exception as exc:
            note = getattr(exc, "add_note", None)
            if note is not None:
                note(f"flavorkit: raised while predicting {where(partition)}{span(first, last)}")
            raise

    def model_input(self, frame: pd.DataFrame) -> Any:
        """The table as the model's input: its columns by name (or position), typed exactly."""
        from flavorkit.io._tables import table_input

        if self.named is not None:
            keep = [c for c in frame.columns.tolist() if str(c) in self._named_set]
            if len(keep) != len(frame.columns):
                frame = frame[keep]  # extra columns are left out quietly, as flavorkit predict does
        elif self.schema is not None and not self.schema.is_tensor_spec():
            frame = frame.set_axis(range(frame.shape[1]), axis=1)
        if self.schema is not None and self.schema.is_tensor_spec():
            return tensor_input(frame, self.schema, text=self.text)
        frame = frame.reset_index(drop=True)
        if not self.text and self.named is not None and self._typed_already(frame):
            return frame  # nothing to narrow, nothing missing: enforcement takes it as it is
        data, _ = table_input(frame, self.schema, text=self.text)
        return data

    def _typed_already(self, frame: pd.DataFrame) -> bool:
        """Every column of ``frame`` has its scalar type's exact dtype and no required value
        is missing (the common case of typed input: a batch skips the rebuilding).
        Otherwise the conversion runs and says what is wrong."""
        import numpy as np

        key = (tuple(frame.columns.tolist()), tuple(frame.dtypes.tolist()))
        floats = self._plans.get(key)
        if floats is None:
            floats = self._plans[key] = self._float_columns(*key)
        if floats is False:
            return False
        # a sum is NaN when a value is (or when +inf meets -inf: then the full check runs)
        with np.errstate(invalid="ignore", over="ignore"):
            return not any(np.isnan(np.add.reduce(frame[c].to_numpy())) for c in floats)

    def _float_columns(self, labels: tuple[Any, ...], dtypes: tuple[Any, ...]) -> Any:
        """The required float columns to look for NaN in; False when a column needs converting."""
        from flavorkit.signature import DataType

        assert self.schema is not None
        specs = self.schema.input_dict()
        floats = []
        for label, dtype in zip(labels, dtypes, strict=True):
            spec = specs.get(str(label))
            t = getattr(spec, "type", None)
            if not isinstance(t, DataType) or t in (DataType.string, DataType.binary):
                return False
            if dtype != t.to_numpy():
                return False
            if dtype.kind == "f" and spec.required:  # type: ignore[union-attr]
                floats.append(label)
        return floats


def tensor_input(frame: pd.DataFrame, schema: Schema, *, text: bool) -> Any:
    """A table for a tensor signature: array columns stacked into the tensor's shape, scalar
    columns taken as they are by ``flavorkit predict``."""
    import numpy as np

    from flavorkit.io._convert import exact
    from flavorkit.io._tables import tensor_from_table

    def stacked(values: Any, spec: Any, name: str) -> Any:
        arr = np.stack([np.asarray(v) for v in values]) if len(values) else np.empty((0,))
        shape = tuple(spec.shape[1:])
        if shape and all(d > 0 for d in shape) and arr.shape[1:] != shape:
            arr = arr.reshape((len(values), *shape))
        if arr.dtype != spec.type and arr.dtype.kind in "biuf" and spec.type.kind in "biuf":
            arr = exact(arr, spec.type, name, text=False)
        return arr

    specs = list(schema.inputs)
    columns = list(frame.columns)
    if not schema.has_input_names():
        if len(columns) == 1 and _holds_arrays(frame.iloc[:, 0]):
            return stacked(frame.iloc[:, 0].to_numpy(), specs[0], "[0]")
        return tensor_from_table(frame, schema, text=text)
    if not any(_holds_arrays(frame[c]) for c in columns):
        return tensor_from_table(frame, schema, text=text)
    out = {}
    for spec in specs:
        if spec.name in frame.columns:
            col = frame[spec.name]
            out[spec.name] = (
                stacked(col.to_numpy(), spec, str(spec.name))
                if _holds_arrays(col)
                else tensor_from_table(frame[[spec.name]], schema, text=text)[spec.name]
            )
    return out


def _holds_arrays(col: Any) -> bool:
    import numpy as np

    if col.dtype != object or not len(col):
        return False
    first = col.iloc[0]
    return isinstance(first, (np.ndarray, list, tuple))


def batches(frame: pd.DataFrame, size: int | None) -> Iterator[tuple[int, pd.DataFrame]]:
    """``(first row, 1-based; slice)`` of ``frame`` in slices of ``size`` rows (all when None)."""
    if not size or len(frame) <= size:
        yield 1, frame
        return
    for start in range(0, len(frame), size):
        yield start + 1, frame.iloc[start : start + size]


def missing_inputs(schema: Schema | None, given: list[str]) -> SchemaEnforcementError | None:
    """The error for required input columns absent from ``given``, said on the driver; or None."""
    from flavorkit.enforce._columns import missing_columns_error

    if schema is None or not schema.has_input_names():
        return None
    names = {str(n) for n in schema.required_input_names()}
    missing = [n for n in map(str, schema.input_names()) if n in names and n not in given]
    if not missing:
        return None
    known = {str(n) for n in schema.input_names()}
    extra = [c for c in given if c not in known]
    return missing_columns_error(missing, extra, expected=sorted(known), actual=list(given))
