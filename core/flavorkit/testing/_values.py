"""Rows in, predictions out: the data handling the conformance checks share.

Inputs are sliced, reordered, concatenated and converted between the forms
``PyFuncModel.predict`` accepts. Predictions (ndarray, DataFrame, Series,
list, dict of arrays) are flattened into named numpy arrays so that any two
can be compared, row-sliced, and written to JSON for a subprocess check.
Descriptions name kinds, dtypes and shapes, never whole payloads.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

# -- inputs ------------------------------------------------------------------


def _is_array_dict(data: Any) -> bool:
    import numpy as np

    return (
        isinstance(data, dict)
        and bool(data)
        and all(isinstance(v, np.ndarray) for v in data.values())
    )


def _is_records(data: Any) -> bool:
    return isinstance(data, list) and bool(data) and all(isinstance(r, dict) for r in data)


def n_rows(data: Any) -> int | None:
    """The number of rows of an input; ``None`` when it has no row dimension to slice."""
    import numpy as np
    import pandas as pd

    if isinstance(data, (pd.DataFrame, pd.Series)):
        return len(data)
    if isinstance(data, np.ndarray):
        return len(data) if data.ndim >= 1 else None
    if _is_array_dict(data):
        lengths = {len(v) if v.ndim >= 1 else -1 for v in data.values()}
        return lengths.pop() if len(lengths) == 1 and -1 not in lengths else None
    if isinstance(data, list):
        return len(data)
    return None


def take_rows(data: Any, idx: Sequence[int]) -> Any:
    """The rows ``idx`` of ``data`` (repeats and any order allowed), in ``data``'s own form."""
    import numpy as np
    import pandas as pd

    positions = list(idx)
    if isinstance(data, (pd.DataFrame, pd.Series)):
        return data.iloc[positions].reset_index(drop=True)
    if isinstance(data, np.ndarray):
        return data[np.asarray(positions, dtype=np.intp)]
    if _is_array_dict(data):
        where = np.asarray(positions, dtype=np.intp)
        return {k: v[where] for k, v in data.items()}
    if isinstance(data, list):
        return [data[i] for i in positions]
    raise TypeError(f"cannot take rows of {describe(data)}")


def concat_rows(parts: Sequence[Any]) -> Any:
    """The rows of every part, one after the other, in the parts' common form."""
    import numpy as np
    import pandas as pd

    first = parts[0]
    if isinstance(first, (pd.DataFrame, pd.Series)):
        return pd.concat(list(parts), ignore_index=True)
    if isinstance(first, np.ndarray):
        return np.concatenate(list(parts))
    if _is_array_dict(first):
        return {k: np.concatenate([p[k] for p in parts]) for k in first}
    if isinstance(first, list):
        return [row for part in parts for row in part]
    raise TypeError(f"cannot concatenate rows of {describe(first)}")


def input_forms(data: Any) -> dict[str, Any]:
    """The same rows in every form ``predict`` may accept, keyed by form name.

    Forms: ``dataframe``, ``ndarray``, ``dict_of_ndarrays``, ``records``
    (list of dicts) and ``rows`` (list of lists). Which of them a signature
    admits is for the core's enforcement to say; the kit tries each.
    """
    import numpy as np
    import pandas as pd

    forms: dict[str, Any] = {}
    if isinstance(data, pd.Series):
        data = data.to_frame()
    if _is_records(data):
        data = pd.DataFrame(data)
    if isinstance(data, pd.DataFrame):
        forms["dataframe"] = data
        forms["dict_of_ndarrays"] = {c: data[c].to_numpy() for c in data.columns}
        forms["records"] = data.to_dict("records")
        if isinstance(data.columns, pd.RangeIndex):
            forms["ndarray"] = data.to_numpy()
            forms["rows"] = data.to_numpy().tolist()
    elif isinstance(data, np.ndarray):
        forms["ndarray"] = data
        if data.ndim == 1:
            forms["dataframe"] = pd.DataFrame({0: data})
        elif data.ndim == 2:
            forms["dataframe"] = pd.DataFrame(data)
        else:
            forms["dataframe"] = pd.DataFrame({0: list(data)})
        forms["rows"] = data.tolist()
    elif _is_array_dict(data):
        forms["dict_of_ndarrays"] = data
        forms["dataframe"] = pd.DataFrame(
            {k: (v if v.ndim == 1 else list(v)) for k, v in data.items()}
        )
        rows = n_rows(data) or 0
        forms["records"] = [{k: v[i].tolist() for k, v in data.items()} for i in range(rows)]
    return forms


def describe(value: Any) -> str:
    """A short description of a value's kind, dtype and shape (never its contents)."""
    import numpy as np
    import pandas as pd

    if isinstance(value, pd.DataFrame):
        dtypes = ", ".join(f"{c}: {t}" for c, t in list(value.dtypes.items())[:8])
        more = ", ..." if value.shape[1] > 8 else ""
        return f"DataFrame of {len(value)} rows ({dtypes}{more})"
    if isinstance(value, pd.Series):
        return f"Series {value.name!r} of {len(value)} {value.dtype}"
    if isinstance(value, np.ndarray):
        return f"ndarray {value.dtype} shape {value.shape}"
    if isinstance(value, dict):
        inner = ", ".join(f"{k!r}: {describe(v)}" for k, v in list(value.items())[:6])
        return "{" + inner + (", ..." if len(value) > 6 else "") + "}"
    if isinstance(value, list):
        return f"list of {len(value)}" + (f" {type(value[0]).__name__}" if value else "")
    return type(value).__name__


# -- predictions -----------------------------------------------------------------


@dataclass(frozen=True)
class Flat:
    """A prediction flattened into named numpy arrays.

    ``kind`` is the type the flavor returned (``ndarray``, ``DataFrame``,
    ``Series``, ``dict``, ``list`` ...); ``columns`` keeps the names in the
    flavor's order (``""`` for the single unnamed array).
    """

    kind: str
    columns: tuple[tuple[str, Any], ...]

    def rows(self) -> int | None:
        """The common length of every array's first dimension, ``None`` when there is none."""
        lengths = {arr.shape[0] if arr.ndim >= 1 else None for _, arr in self.columns}
        if len(lengths) != 1:
            return None
        return lengths.pop()

    def take(self, idx: Sequence[int]) -> Flat:
        """The rows ``idx`` of every array."""
        import numpy as np

        where = np.asarray(list(idx), dtype=np.intp)
        return Flat(self.kind, tuple((name, arr[where]) for name, arr in self.columns))

    def describe(self) -> str:
        """Kind, names, dtypes and shapes."""
        parts = [
            f"{name or '<unnamed>'}: {arr.dtype} {arr.shape}" for name, arr in self.columns[:8]
        ]
        return f"{self.kind} [{', '.join(parts)}{', ...' if len(self.columns) > 8 else ''}]"


def _as_array(values: Any) -> Any:
    import numpy as np

    try:
        return np.asarray(values)
    except ValueError:  # ragged lists
        out = np.empty(len(values), dtype=object)
        out[:] = list(values)
        return out


def flatten(prediction: Any) -> Flat:
    """Flatten what a flavor's predict returned (see :class:`Flat`)."""
    import numpy as np
    import pandas as pd

    kind = type(prediction).__name__
    if isinstance(prediction, pd.DataFrame):
        return Flat(
            "DataFrame", tuple((str(c), prediction[c].to_numpy()) for c in prediction.columns)
        )
    if isinstance(prediction, pd.Series):
        return Flat(
            "Series",
            (("" if prediction.name is None else str(prediction.name), prediction.to_numpy()),),
        )
    if isinstance(prediction, np.ndarray):
        return Flat("ndarray", (("", prediction),))
    if isinstance(prediction, dict):
        return Flat("dict", tuple((str(k), _as_array(v)) for k, v in prediction.items()))
    if isinstance(prediction, (list, tuple)):
        return Flat(kind, (("", _as_array(prediction)),))
    return Flat(kind, (("", np.asarray(prediction)),))


def concat_flats(parts: Sequence[Flat]) -> Flat:
    """The rows of every flattened prediction, one after the other."""
    import numpy as np

    first = parts[0]
    columns = tuple(
        (name, np.concatenate([dict(p.columns)[name] for p in parts])) for name, _ in first.columns
    )
    return Flat(first.kind, columns)


def _first_difference(expected: Any, actual: Any, rtol: float, atol: float) -> str | None:
    """Compare two arrays of equal shape; describe where they first differ."""
    import numpy as np

    if expected.dtype.kind in "biufc" and actual.dtype.kind in "biufc":
        close = np.isclose(actual, expected, rtol=rtol, atol=atol, equal_nan=True)
    else:
        pairs = zip(expected.ravel(), actual.ravel(), strict=True)
        close = np.fromiter((_same(x, y) for x, y in pairs), dtype=bool, count=expected.size)
        close = close.reshape(expected.shape)
    if close.all():
        return None
    bad = np.argwhere(~close)
    where = tuple(int(i) for i in bad[0])
    count = int((~close).sum())
    return (
        f"{count} of {close.size} values differ (first at index {where}: expected "
        f"{_short(expected[where])}, got {_short(actual[where])}; rtol={rtol:g}, atol={atol:g})"
    )


def _same(x: Any, y: Any) -> bool:
    """Equal values, or missing on both sides."""
    if _is_scalar_na(x) and _is_scalar_na(y):
        return True
    return _equal(x, y)


def _is_scalar_na(x: Any) -> bool:
    import pandas as pd

    try:
        return bool(pd.isna(x))
    except (TypeError, ValueError):
        return False


def _equal(x: Any, y: Any) -> bool:
    import numpy as np

    try:
        return bool(np.array_equal(np.asarray(x), np.asarray(y)))
    except Exception:
        return x == y


def _short(value: Any) -> str:
    text = repr(
        value.item() if hasattr(value, "item") and getattr(value, "ndim", 1) == 0 else value
    )
    return text if len(text) <= 40 else text[:37] + "..."


def compare(
    expected: Flat,
    actual: Flat,
    *,
    rtol: float,
    atol: float,
    exact_dtype: bool = True,
    values: bool = True,
) -> str | None:
    """Describe the first way ``actual`` differs from ``expected``; ``None`` when they agree.

    Compared in order: the kind, the names, each array's shape, its dtype
    (when ``exact_dtype``) and its values within ``rtol``/``atol`` (when
    ``values``; NaN equals NaN).
    """
    if expected.kind != actual.kind:
        return f"predict returned {actual.describe()}, expected {expected.describe()}"
    names_e = [n for n, _ in expected.columns]
    names_a = [n for n, _ in actual.columns]
    if names_e != names_a:
        return f"the output names {names_a} differ from the expected {names_e}"
    for (name, e), (_, a) in zip(expected.columns, actual.columns, strict=True):
        label = f"output {name!r}" if name else "the output"
        if e.shape != a.shape:
            return f"{label} has shape {a.shape}, expected {e.shape}"
        if exact_dtype and e.dtype != a.dtype:
            return f"{label} has dtype {a.dtype}, expected {e.dtype}"
        if values:
            diff = _first_difference(e, a, rtol, atol)
            if diff is not None:
                return f"{label}: {diff}"
    return None


# -- moving a prediction between processes ---------------------------------


def differs(case: Any, expected: Flat, actual: Flat, *, values: bool | None = None) -> str | None:
    """``compare`` with a case's tolerances and tags (``values`` overrides ``deterministic``)."""
    return compare(
        expected,
        actual,
        rtol=case.rtol,
        atol=case.atol,
        exact_dtype=case.tags.exact_dtype,
        values=case.tags.deterministic if values is None else values,
    )


def encode(flat: Flat) -> dict[str, Any]:
    """A JSON-ready form of a flattened prediction (numpy's own format; no pickles)."""
    import numpy as np

    from flavorkit.io import to_jsonable

    columns = []
    for name, arr in flat.columns:
        if arr.dtype.hasobject:
            columns.append({"name": name, "json": to_jsonable(arr.tolist())})
        else:
            buffer = io.BytesIO()
            np.save(buffer, arr, allow_pickle=False)
            columns.append(
                {"name": name, "npy": base64.b64encode(buffer.getvalue()).decode("ascii")}
            )
    return {"kind": flat.kind, "columns": columns}


def decode(payload: dict[str, Any]) -> Flat:
    """The :class:`Flat` that :func:`encode` wrote."""
    import numpy as np

    columns = []
    for column in payload["columns"]:
        if "npy" in column:
            arr = np.load(io.BytesIO(base64.b64decode(column["npy"])), allow_pickle=False)
        else:
            arr = _as_array(column["json"])
            if arr.dtype != object:
                arr = arr.astype(object)
        columns.append((column["name"], arr))
    return Flat(payload["kind"], tuple(columns))
