"""Exactness and null rules: the one answer to "does this value fit that type unchanged?".

Every part of flavorkit that converts a value to a declared type asks here:
schema and params enforcement, and the readers of JSON, CSV and Parquet
payloads. A conversion passes only when no value changes: ``2.0`` fits an
``integer``, ``2.7`` does not, nor does ``2**31``; an integer joins a
``double`` only up to 2**53 in magnitude, a ``float`` only up to 2**24.

Nulls: ``None``, pandas ``NA`` and ``NaT`` are missing everywhere; a float
NaN is missing too in a column's cells (pandas' marker for a missing object),
but inside a list it is a float like any other (:func:`is_none` there).

numpy and pandas are imported inside the functions (pandas only when already
imported), so importing this module is cheap.
"""

from __future__ import annotations

import datetime
import sys
from typing import TYPE_CHECKING, Any

from flavorkit.signature._types import DataType

if TYPE_CHECKING:
    import numpy as np

__all__ = [
    "FLOAT_EXACT",
    "FLOAT_MAX",
    "INT_BOUNDS",
    "exact_cast",
    "int_fits",
    "is_none",
    "is_null",
    "lossy_mask",
    "not_whole",
    "outside_int",
    "too_large_for_float",
    "value_fits",
    "widens",
]

# the smallest and largest value of each integer type, both included
INT_BOUNDS: dict[DataType, tuple[int, int]] = {
    DataType.integer: (-(2**31), 2**31 - 1),
    DataType.long: (-(2**63), 2**63 - 1),
}
# the largest integer magnitude a float type holds exactly (2**mantissa bits); every
# integer from -limit to limit converts and comes back unchanged
FLOAT_EXACT: dict[DataType, int] = {DataType.float: 2**24, DataType.double: 2**53}
# the largest finite value of each float type; a larger number becomes infinity
FLOAT_MAX: dict[DataType, float] = {
    DataType.float: 3.4028234663852886e38,
    DataType.double: sys.float_info.max,
}
_MANTISSA_EXACT = {2: 2**11, 4: FLOAT_EXACT[DataType.float], 8: FLOAT_EXACT[DataType.double]}


# ---------------------------------------------------------------- nulls


def is_none(v: Any) -> bool:
    """None, pandas NA or NaT: a missing value anywhere (NaN inside a list is a float)."""
    if v is None:
        return True
    pd = sys.modules.get("pandas")  # an NA or NaT exists only once pandas is imported
    return pd is not None and (v is pd.NA or v is pd.NaT)


def is_null(v: Any) -> bool:
    """A missing cell of a column: :func:`is_none`, or a float NaN (pandas' missing object)."""
    return (isinstance(v, float) and v != v) or is_none(v)


# ---------------------------------------------------------------- single values


def int_fits(n: int, t: DataType) -> bool:
    """Whether the integer ``n`` converts to the numeric type ``t`` and back unchanged."""
    if t in INT_BOUNDS:
        lo, hi = INT_BOUNDS[t]
        return lo <= n <= hi
    return abs(n) <= FLOAT_EXACT[t]


def value_fits(v: Any, t: DataType) -> bool:
    """Whether one Python/numpy value is of type ``t`` or converts to it exactly."""
    import numpy as np

    if t is DataType.string:
        return isinstance(v, str)
    if t is DataType.binary:
        return isinstance(v, (bytes, bytearray))
    if t is DataType.boolean:
        return isinstance(v, (bool, np.bool_))
    if t is DataType.datetime:
        return isinstance(v, (datetime.date, np.datetime64))
    if isinstance(v, (bool, np.bool_)):
        return False
    if isinstance(v, (int, np.integer)):
        return int_fits(int(v), t)
    if isinstance(v, (float, np.floating)) and t in FLOAT_EXACT:
        if t is DataType.double or isinstance(v, (np.float32, np.float16)) or v != v:
            return True
        with np.errstate(all="ignore"):
            return float(np.float32(v)) == float(v)
    return False


# ---------------------------------------------------------------- arrays


def widens(src: np.dtype, target: np.dtype) -> bool:
    """Whether every value of ``src`` fits ``target`` exactly (numpy calls int64->float64 safe)."""
    if src.kind == target.kind:
        return src.itemsize <= target.itemsize
    if src.kind == "u" and target.kind == "i":
        return src.itemsize < target.itemsize
    if src.kind in "iu" and target.kind == "f":
        return 2 ** (src.itemsize * 8) <= _MANTISSA_EXACT.get(target.itemsize, 0)
    return False


def not_whole(arr: np.ndarray) -> np.ndarray:
    """Mask of the floats of ``arr`` that have a fraction (NaN and infinities are not flagged)."""
    import numpy as np

    with np.errstate(invalid="ignore"):
        return ~np.isnan(arr) & (arr != np.floor(arr))


def outside_int(arr: np.ndarray, t: DataType) -> np.ndarray:
    """Mask of the numbers of ``arr`` outside the range of the integer type ``t``."""
    import numpy as np

    lo, hi = INT_BOUNDS[t]
    with np.errstate(invalid="ignore"):
        # hi + 1 (a power of two) is exact as a float, where hi itself may round up to it:
        # float64 2**63 is not > 2**63 - 1, yet it overflows int64
        return (arr < lo) | (arr >= hi + 1)


def too_large_for_float(arr: np.ndarray, t: DataType) -> np.ndarray:
    """Mask of the integers of ``arr`` that the float type ``t`` cannot hold exactly."""
    import numpy as np

    return np.abs(arr) > FLOAT_EXACT[t]


def lossy_mask(arr: np.ndarray, target: np.dtype, *, round_floats: bool = False) -> np.ndarray:
    """Mask of the numbers of ``arr`` that change when converted to the numeric ``target``.

    ``round_floats`` is for decimal text read at the declared precision
    (float64 -> float32): only overflow to infinity counts as a change there.
    NaN stays NaN and is never flagged. Both dtypes must be numeric (kinds
    ``iuf``); booleans are not numbers here (callers refuse them first).
    """
    import numpy as np

    src = arr.dtype
    if widens(src, target):
        return np.zeros(arr.shape, dtype=bool)
    if src.kind in "iu" and target.kind in "iu":
        # integer casts wrap around (uint64 2**63 -> int64 -2**63), and so does the way
        # back: compare with the range itself
        info = np.iinfo(target)
        return (arr < info.min) | (arr > info.max)
    with np.errstate(all="ignore"):
        out = arr.astype(target)
        if round_floats and src.kind == "f" and target.kind == "f":
            return np.isfinite(out) != np.isfinite(arr)
        back = out.astype(src)
        same = back == arr
        if src.kind == "f":
            same |= np.isnan(arr) & np.isnan(back)
        if src.kind == "f" and target.kind in "iu":
            # NaN and infinities have no integer; their cast is undefined, never equal
            same &= np.isfinite(arr)
        return ~same


def exact_cast(values: np.ndarray, target: np.dtype) -> np.ndarray | None:
    """Return ``values`` as ``target`` when every value converts exactly, else None."""
    import numpy as np

    src = values.dtype
    if src == target:
        return values
    if src.kind in "biuf" and target.kind in "biuf":
        if (src.kind == "b") != (target.kind == "b"):
            return None
        if src.kind == "b" or not lossy_mask(values, target).any():
            return values.astype(target)
        return None
    if target.kind in "US" and src.kind == target.kind:
        return values
    if target.kind == "O":
        return values.astype(object)
    if src.kind == "O" and target.kind in "US":
        kind = str if target.kind == "U" else bytes
        return values.astype(target) if all(isinstance(v, kind) for v in values) else None
    if src.kind == "M" and target.kind == "M":
        with np.errstate(all="ignore"):
            out = values.astype(target)
        return out if np.array_equal(out.astype(src), values, equal_nan=True) else None
    return None
