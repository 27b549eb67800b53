"""Hypothesis strategies for signature cases: a schema plus input that may or may not match it.

Declared types and input dtypes are drawn independently, so most cases
probe a conversion rule (accepted by both tools, rejected by both, or one of
the deliberate differences) rather than the happy path.
"""

from __future__ import annotations

import datetime
import decimal
import json
from typing import Any

import numpy as np
import pandas as pd
from hypothesis import strategies as st

SCALAR_TYPES = ["boolean", "integer", "long", "float", "double", "string", "binary", "datetime"]
NUMPY_KINDS = [
    "bool",
    "int8",
    "int16",
    "int32",
    "int64",
    "uint8",
    "uint16",
    "uint32",
    "uint64",
    "float16",
    "float32",
    "float64",
]
OTHER_KINDS = [
    "str",
    "string",
    "object_str",
    "object_bytes",
    "object_int",
    "object_float",
    "object_bool",
    "object_mixed",
    "object_date",
    "object_none",
    "object_decimal",
    "datetime64[ns]",
    "datetime64[s]",
    "datetime64[ms]",
    "datetime_tz",
    "Int64",
    "Int32",
    "boolean_na",
    "Float64",
    "category",
    "str_dates",
]
COMPLEX_KINDS = [
    "cells_int_lists",
    "cells_float_lists",
    "cells_str_lists",
    "cells_dicts",
    "cells_maps",
]
TENSOR_DTYPES = ["float32", "float64", "int32", "int64", "uint8", "bool", "object"]

small_text = st.text(alphabet="abcxyz01 ", max_size=4)


def _ints(kind: str) -> st.SearchStrategy[int]:
    info = np.iinfo(kind)
    return st.one_of(
        st.sampled_from([0, 1]),
        st.integers(max(info.min, -50), min(info.max, 50)),
        st.integers(int(info.min), int(info.max)),
    )


def _floats(width: int) -> st.SearchStrategy[float]:
    return st.one_of(
        st.integers(-50, 50).map(float),
        st.sampled_from([0.0, 1.0]),
        st.floats(-6e4, 6e4, width=width),
        st.floats(width=width, allow_nan=True, allow_infinity=True),
    )


@st.composite
def numpy_column(draw: st.DrawFn, kind: str, rows: int) -> pd.Series:
    if kind == "bool":
        return pd.Series(draw(st.lists(st.booleans(), min_size=rows, max_size=rows)), dtype="bool")
    if kind.startswith(("int", "uint")):
        # one mode per column, so "all 0/1" and "fits a narrower type" columns actually occur
        mode = draw(st.sampled_from(["binary", "small", "any"]))
        info = np.iinfo(kind)
        values = {
            "binary": st.sampled_from([0, 1]),
            "small": st.integers(max(info.min, -50), min(info.max, 50)),
            "any": _ints(kind),
        }[mode]
        return pd.Series(np.array(draw(st.lists(values, min_size=rows, max_size=rows)), dtype=kind))
    width = {"float16": 16, "float32": 32, "float64": 64}[kind]
    mode = draw(st.sampled_from(["whole", "binary", "any", "whole_with_nan"]))
    values: st.SearchStrategy[float] = {
        "whole": st.integers(-50, 50).map(float),
        "binary": st.sampled_from([0.0, 1.0]),
        "any": _floats(width),
        "whole_with_nan": st.one_of(st.integers(-50, 50).map(float), st.just(float("nan"))),
    }[mode]
    return pd.Series(np.array(draw(st.lists(values, min_size=rows, max_size=rows)), dtype=kind))


def _maybe_none(draw: st.DrawFn, values: list[Any]) -> list[Any]:
    if values and draw(st.booleans()):
        values[draw(st.integers(0, len(values) - 1))] = None
    return values


@st.composite
def other_column(draw: st.DrawFn, kind: str, rows: int) -> pd.Series:
    texts = draw(st.lists(small_text, min_size=rows, max_size=rows))
    dates = draw(
        st.lists(
            st.datetimes(datetime.datetime(1900, 1, 1), datetime.datetime(2500, 1, 1)),
            min_size=rows,
            max_size=rows,
        )
    )
    if kind in ("str", "string"):
        return pd.Series(_maybe_none(draw, texts), dtype=kind)
    if kind == "object_str":
        return pd.Series(_maybe_none(draw, texts), dtype=object)
    if kind == "object_bytes":
        return pd.Series(_maybe_none(draw, [t.encode() for t in texts]), dtype=object)
    if kind == "object_int":
        return pd.Series(
            _maybe_none(draw, draw(st.lists(_ints("int64"), min_size=rows, max_size=rows))),
            dtype=object,
        )
    if kind == "object_float":
        return pd.Series(draw(st.lists(_floats(64), min_size=rows, max_size=rows)), dtype=object)
    if kind == "object_bool":
        return pd.Series(
            _maybe_none(draw, draw(st.lists(st.booleans(), min_size=rows, max_size=rows))),
            dtype=object,
        )
    if kind == "object_mixed":
        values = draw(
            st.lists(
                st.one_of(st.integers(-5, 5), small_text, st.booleans()),
                min_size=rows,
                max_size=rows,
            )
        )
        return pd.Series(values, dtype=object)
    if kind == "object_date":
        return pd.Series(_maybe_none(draw, [d.date() for d in dates]), dtype=object)
    if kind == "object_none":
        return pd.Series([None] * rows, dtype=object)
    if kind == "object_decimal":
        values = draw(st.lists(st.integers(-999, 999), min_size=rows, max_size=rows))
        return pd.Series([decimal.Decimal(v) / 10 for v in values], dtype=object)
    if kind.startswith("datetime64"):
        if kind == "datetime64[ns]":
            dates = [d.replace(year=min(max(d.year, 1700), 2200)) for d in dates]
        return pd.Series(np.array(dates, dtype=kind))
    if kind == "datetime_tz":
        clipped = [d.replace(year=min(max(d.year, 1700), 2200)) for d in dates]
        return pd.Series(pd.to_datetime(clipped).tz_localize("UTC"))
    if kind in ("Int64", "Int32"):
        values = draw(
            st.lists(st.one_of(st.integers(-50, 50), st.none()), min_size=rows, max_size=rows)
        )
        return pd.Series(values, dtype=kind)
    if kind == "boolean_na":
        values = draw(st.lists(st.one_of(st.booleans(), st.none()), min_size=rows, max_size=rows))
        return pd.Series(values, dtype="boolean")
    if kind == "Float64":
        values = draw(
            st.lists(
                st.one_of(st.integers(-50, 50).map(float), st.floats(-10, 10), st.none()),
                min_size=rows,
                max_size=rows,
            )
        )
        return pd.Series(values, dtype="Float64")
    if kind == "category":
        return pd.Series(texts, dtype="category")
    if kind == "str_dates":
        return pd.Series([d.isoformat() for d in dates], dtype="str")
    raise ValueError(kind)


@st.composite
def complex_column(draw: st.DrawFn, kind: str, rows: int) -> pd.Series:
    item = {
        "cells_int_lists": st.lists(st.integers(-5, 5), max_size=3),
        "cells_float_lists": st.lists(st.floats(-5, 5), max_size=3),
        "cells_str_lists": st.lists(small_text, max_size=3),
        "cells_dicts": st.fixed_dictionaries(
            {"a": st.integers(-5, 5)}, optional={"b": small_text, "c": st.booleans()}
        ),
        "cells_maps": st.dictionaries(small_text, st.floats(-5, 5), max_size=2),
    }[kind]
    cells = draw(
        st.lists(
            st.one_of(item, st.none()) if draw(st.booleans()) else item,
            min_size=rows,
            max_size=rows,
        )
    )
    return pd.Series(cells, dtype=object)


def column(kind: str, rows: int) -> st.SearchStrategy[pd.Series]:
    if kind in NUMPY_KINDS:
        return numpy_column(kind, rows)
    if kind in COMPLEX_KINDS:
        return complex_column(kind, rows)
    return other_column(kind, rows)


@st.composite
def colspec_type(draw: st.DrawFn) -> dict[str, Any]:
    """A ColSpec type as JSON: mostly scalars, sometimes array/object/map/any."""
    if draw(st.integers(0, 9)) < 8:
        return {"type": draw(st.sampled_from(SCALAR_TYPES))}
    return draw(
        st.sampled_from(
            [
                {"type": "array", "items": {"type": "long"}},
                {"type": "array", "items": {"type": "double"}},
                {"type": "array", "items": {"type": "string"}},
                {
                    "type": "object",
                    "properties": {
                        "a": {"type": "long", "required": True},
                        "b": {"type": "string", "required": False},
                    },
                },
                {"type": "map", "values": {"type": "double"}},
                {"type": "any"},
            ]
        )
    )


# for each declared type, the input kinds whose conversion rules are worth probing most
NEAR_KINDS = {
    "boolean": ["bool", "object_bool", "boolean_na", "int64", "object_none", "object_bytes"],
    "integer": [*NUMPY_KINDS[1:], "Int64", "Int32", "object_int", "object_none"],
    "long": [*NUMPY_KINDS[1:], "Int64", "Int32", "object_int", "object_none"],
    "float": [*NUMPY_KINDS[1:], "Float64", "Int64", "object_float", "object_int", "object_decimal"],
    "double": [
        *NUMPY_KINDS[1:],
        "Float64",
        "Int64",
        "object_float",
        "object_int",
        "object_decimal",
    ],
    "string": [
        "str",
        "string",
        "object_str",
        "category",
        "object_mixed",
        "object_int",
        "object_bytes",
    ],
    "binary": ["object_bytes", "object_str", "str", "object_mixed"],
    "datetime": [
        "datetime64[ns]",
        "datetime64[s]",
        "datetime64[ms]",
        "object_date",
        "str_dates",
        "datetime_tz",
        "object_str",
    ],
}


def _kind_for(draw: st.DrawFn, spec_type: dict[str, Any]) -> str:
    t = spec_type["type"]
    if t in ("array", "object", "map", "any") and draw(st.integers(0, 3)) > 0:
        return draw(st.sampled_from(COMPLEX_KINDS))
    if t in NEAR_KINDS and draw(st.integers(0, 3)) > 0:
        return draw(st.sampled_from(NEAR_KINDS[t]))
    return draw(st.sampled_from(NUMPY_KINDS + OTHER_KINDS))


@st.composite
def column_case(draw: st.DrawFn) -> dict[str, Any]:
    """A column-based schema (1-3 ColSpecs) and a DataFrame, dict or records input."""
    named = draw(st.integers(0, 9)) < 8
    width = draw(st.integers(1, 3))
    rows = draw(st.integers(1, 4))
    specs, frame = [], {}
    for i in range(width):
        t = draw(colspec_type())
        required = True if not named else draw(st.integers(0, 3)) > 0
        spec = {**t, "required": required}
        if named:
            spec["name"] = f"c{i}"
        specs.append(spec)
        kind = _kind_for(draw, t)
        frame[f"c{i}" if named else i] = draw(column(kind, rows)).rename(None)
    labels = list(frame)
    if named and draw(st.integers(0, 6)) == 0:
        del frame[draw(st.sampled_from(labels))]
    if draw(st.integers(0, 6)) == 0:
        frame["zz" if named else len(labels)] = draw(
            column(draw(st.sampled_from(NUMPY_KINDS)), rows)
        )
    if named:
        order = draw(st.permutations(list(frame)))
        frame = {k: frame[k] for k in order}
    data: Any = pd.DataFrame(frame)
    if not named:
        data = data.set_axis(range(data.shape[1]), axis=1)
    container = draw(st.integers(0, 9)) if named else 0
    if container == 8:
        data = data.to_dict(orient="records")
    elif container == 9 and rows == 1:
        data = {k: v.iloc[0] for k, v in frame.items()}
    return {"kind": "columns", "schema": json.dumps(specs), "data": data}


@st.composite
def tensor_case(draw: st.DrawFn) -> dict[str, Any]:
    """A tensor-based schema (1-2 TensorSpecs) and an ndarray, dict or DataFrame input."""
    count = draw(st.integers(1, 2))
    named = count > 1 or draw(st.booleans())
    specs, arrays = [], {}
    for i in range(count):
        rank = draw(st.integers(1, 3))
        shape = [-1 if draw(st.integers(0, 4)) else draw(st.integers(1, 3))]
        shape += [
            draw(st.integers(1, 3)) if draw(st.integers(0, 4)) else -1 for _ in range(rank - 1)
        ]
        dtype = draw(st.sampled_from(TENSOR_DTYPES))
        spec: dict[str, Any] = {"type": "tensor", "tensor-spec": {"dtype": dtype, "shape": shape}}
        name = f"t{i}"
        if named:
            spec["name"] = name
        specs.append(spec)
        actual_shape = [draw(st.integers(1, 3)) if d == -1 else d for d in shape]
        if draw(st.integers(0, 3)) == 0:
            if draw(st.booleans()) and len(actual_shape) > 1:
                actual_shape = actual_shape[:-1]
            else:
                actual_shape[-1] += 1
        actual = draw(st.sampled_from(TENSOR_DTYPES)) if draw(st.integers(0, 2)) == 0 else dtype
        size = int(np.prod(actual_shape))
        raw = draw(st.lists(st.integers(0, 3), min_size=size, max_size=size))
        arrays[name] = np.array(raw).astype(actual).reshape(actual_shape)
    data: Any
    if named:
        data = dict(arrays)
        if draw(st.integers(0, 6)) == 0:
            del data[draw(st.sampled_from(list(data)))]
        if draw(st.integers(0, 6)) == 0 and data:
            key = draw(st.sampled_from(list(data)))
            data[key] = data[key].tolist()
    else:
        data = arrays["t0"]
        if draw(st.integers(0, 5)) == 0 and data.ndim == 2:
            data = pd.DataFrame(data)
        elif draw(st.integers(0, 9)) == 0:
            data = data.tolist()
    return {"kind": "tensors", "schema": json.dumps(specs), "data": data}


PARAM_TYPES = ["boolean", "integer", "long", "float", "double", "string", "datetime"]
_DEFAULTS = {
    "boolean": True,
    "integer": 3,
    "long": 5,
    "float": 0.5,
    "double": 1.25,
    "string": "s",
    "datetime": "2024-01-02T03:04:05",
}


def param_value() -> st.SearchStrategy[Any]:
    """Values a caller might pass as one param, of every plausible Python or numpy type."""
    scalar = st.one_of(
        st.booleans(),
        st.integers(-5, 5),
        st.integers(-(2**40), 2**40),
        st.just(2**31),
        st.floats(-5, 5),
        st.just(3.0),
        small_text,
        st.sampled_from(["2024-05-06", "2024-05-06T07:08:09", "not a date"]),
        st.none(),
        st.builds(np.int32, st.integers(-5, 5)),
        st.builds(np.int64, st.integers(-5, 5)),
        st.builds(np.float32, st.floats(-5, 5, width=32)),
        st.builds(np.float64, st.floats(-5, 5)),
        st.builds(np.bool_, st.booleans()),
        st.just(datetime.datetime(2024, 1, 2, 3, 4, 5)),
        st.just(datetime.date(2024, 1, 2)),
    )
    return st.one_of(
        scalar, st.lists(scalar, max_size=3), st.lists(st.integers(-5, 5), max_size=3).map(np.array)
    )


@st.composite
def params_case(draw: st.DrawFn) -> dict[str, Any]:
    """A params schema (1-3 ParamSpecs) and a params dict (or None)."""
    specs = []
    for i in range(draw(st.integers(1, 3))):
        t = draw(st.sampled_from(PARAM_TYPES))
        listed = draw(st.integers(0, 3)) == 0
        default = _DEFAULTS[t]
        specs.append(
            {
                "name": f"p{i}",
                "type": t,
                "default": [default] if listed else default,
                "shape": [-1] if listed else None,
            }
        )
    params: dict[str, Any] | None = None
    if draw(st.integers(0, 9)):
        params = {}
        for spec in specs:
            if draw(st.integers(0, 3)):
                params[spec["name"]] = draw(param_value())
        if draw(st.integers(0, 6)) == 0:
            params["unknown"] = 1
    return {"kind": "params", "schema": json.dumps(specs), "params": params}
