"""The deliberate differences between flavorkit's and MLflow's signature handling, as checks.

Each difference is a rule that recognises one disagreement between the two
verdicts on a single column (or params dict, or inference input) and checks,
independently of either tool, that the disagreement is the documented one:
e.g. that a cast flavorkit accepted and MLflow refused really loses nothing.
docs/signatures.md §4 describes them (``rows`` names the rows a rule stands
for); docs/mlflow.md lists every rule with the test that asserts it.

A verdict is ``{"ok": True, "result": ...}`` or ``{"ok": False, ...}`` (see
``interop_cases``).
"""

from __future__ import annotations

import datetime
import json
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

Verdict = dict[str, Any]
NUMERIC = {"integer": "int32", "long": "int64", "float": "float32", "double": "float64"}
NULLABLE = {"integer": "Int32", "long": "Int64", "boolean": "boolean"}


@dataclass(frozen=True)
class ColumnRule:
    """A deliberate difference in how one column is enforced (``rows``: docs/signatures.md §4)."""

    name: str
    rows: str
    summary: str
    applies: Callable[[dict[str, Any], pd.Series, Verdict, Verdict], bool]


def _dtype_of(v: Verdict) -> str | None:
    """The single result column's dtype of an accepted one-column verdict."""
    if not v["ok"]:
        return None
    cols = v["result"].get("DataFrame") or []
    return cols[0][1] if len(cols) == 1 else None


def _non_null(s: pd.Series) -> list[Any]:
    return [
        v
        for v in s.tolist()
        if not (v is None or v is pd.NA or v is pd.NaT or (isinstance(v, float) and v != v))
    ]


def _converts_exactly(values: list[Any], target: str) -> bool:
    """Whether every value converts to numpy ``target`` unchanged (compared as Python numbers)."""
    for v in values:
        if isinstance(v, (bool, np.bool_)):
            return False
        try:
            with np.errstate(all="ignore"):
                out = np.array([v]).astype(target)[0]
        except (OverflowError, ValueError, TypeError):
            return False
        exact = float(v) == float(out) and (
            not isinstance(v, (int, np.integer)) or int(v) == int(out)
        )
        if not exact and not (isinstance(v, float) and np.isinf(v) and np.isinf(out)):
            return False
    return True


def _lossless_numeric(spec: dict[str, Any], s: pd.Series, ours: Verdict, theirs: Verdict) -> bool:
    target = NUMERIC.get(spec["type"])
    if target is None or theirs["ok"] or _dtype_of(ours) != target:
        return False
    kind = s.dtype.kind if isinstance(s.dtype, np.dtype) else None
    if kind == "O":
        values = _non_null(s)
        if len(values) != len(s) or not all(isinstance(v, (int, float, np.number)) for v in values):
            return False
    elif kind not in ("i", "u", "f"):
        return False
    else:
        values = s.tolist()
    if target.startswith("int") and any(isinstance(v, float) and v != v for v in values):
        return False
    return _converts_exactly([v for v in values if not (isinstance(v, float) and v != v)], target)


def _nullable_columns(spec: dict[str, Any], s: pd.Series, ours: Verdict, theirs: Verdict) -> bool:
    t = spec["type"]
    if t not in NUMERIC and t != "boolean":
        return False
    values = _non_null(s)
    has_missing = len(values) < len(s)
    extension = isinstance(s.dtype, pd.api.extensions.ExtensionDtype)
    if not (has_missing or extension) or not ours["ok"]:
        return False
    if theirs["ok"] and _dtype_of(theirs) == _dtype_of(ours):
        return False
    if t == "boolean":
        typed = all(isinstance(v, (bool, np.bool_)) for v in values)
    else:
        typed = all(
            isinstance(v, (int, float, np.number)) and not isinstance(v, (bool, np.bool_))
            for v in values
        )
        typed = typed and _converts_exactly(values, NUMERIC[t])
    expected = NULLABLE.get(t) if has_missing and t in NULLABLE else NUMERIC.get(t, "bool")
    return typed and _dtype_of(ours) in (expected, "object")


def _object_values_checked(
    spec: dict[str, Any], s: pd.Series, ours: Verdict, theirs: Verdict
) -> bool:
    t = spec["type"]
    allowed = {"string": (str,), "binary": (bytes, bytearray), "boolean": (bool, np.bool_)}.get(t)
    if ours["ok"] or not theirs["ok"]:
        return False
    values = _non_null(s)
    if allowed is not None:
        # a pandas string column is refused for binary by its dtype, even when all null
        text_column = t == "binary" and isinstance(s.dtype, pd.StringDtype)
        return text_column or any(not isinstance(v, allowed) for v in values)
    # a number column: MLflow turns bools (and even empty bytes) in an object column into
    # numbers, flavorkit refuses anything that is not a number
    return (
        t in NUMERIC
        and s.dtype == object
        and any(
            isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, float, np.number))
            for v in values
        )
    )


def _datetime_unit_kept(spec: dict[str, Any], s: pd.Series, ours: Verdict, theirs: Verdict) -> bool:
    if spec["type"] != "datetime" or not isinstance(s.dtype, np.dtype) or s.dtype.kind != "M":
        return False
    if s.dtype == np.dtype("datetime64[ns]") or _dtype_of(ours) != str(s.dtype):
        return False
    if theirs["ok"]:
        return _dtype_of(theirs) == "datetime64[ns]"
    # MLflow converts to nanoseconds, which overflows outside 1677-2262
    return "Out of bounds" in theirs["message"] and any(
        not (1677 < v.year < 2262) for v in _non_null(s.astype(object))
    )


def _datetime_strings_parsed(
    spec: dict[str, Any], s: pd.Series, ours: Verdict, theirs: Verdict
) -> bool:
    if spec["type"] != "datetime" or s.dtype != object or not ours["ok"] or theirs["ok"]:
        return False
    values = _non_null(s)
    strings = [v for v in values if isinstance(v, str)]
    if not strings or _dtype_of(ours) != "datetime64[ns]":
        return False
    others_are_dates = all(isinstance(v, (str, datetime.date, np.datetime64)) for v in values)
    # an empty string reads as a missing date (NaT), as pandas reads it
    parsed = pd.to_datetime(pd.Series([v for v in strings if v], dtype=object), errors="coerce")
    return others_are_dates and bool(parsed.notna().all())


def _category_strings(spec: dict[str, Any], s: pd.Series, ours: Verdict, theirs: Verdict) -> bool:
    if spec["type"] != "string" or not isinstance(s.dtype, pd.CategoricalDtype):
        return False
    return ours["ok"] and not theirs["ok"] and all(isinstance(c, str) for c in s.dtype.categories)


def _any_column_unchanged(
    spec: dict[str, Any], s: pd.Series, ours: Verdict, theirs: Verdict
) -> bool:
    if spec["type"] != "any" or not (ours["ok"] and theirs["ok"]):
        return False
    # MLflow rebuilds the column from its Python values, so numpy dtypes are inferred again
    rebuilt = str(pd.Series(s.tolist(), dtype=None).dtype)
    return _dtype_of(ours) == str(s.dtype) and _dtype_of(theirs) == rebuilt


def _items(t: dict[str, Any], cell: Any) -> list[tuple[str, Any]]:
    """(declared scalar type, value) for every scalar inside one complex cell."""
    if cell is None:
        return []
    if t["type"] == "array":
        return [p for item in cell for p in _items(t["items"], item)]
    if t["type"] == "map":
        return [p for item in cell.values() for p in _items(t["values"], item)]
    if t["type"] == "object":
        props = t["properties"]
        return [p for k, v in cell.items() if k in props for p in _items(props[k], v)]
    return [(t["type"], cell)]


def _complex_items_by_value(
    spec: dict[str, Any], s: pd.Series, ours: Verdict, theirs: Verdict
) -> bool:
    if spec["type"] not in ("array", "map", "object") or not ours["ok"] or theirs["ok"]:
        return False
    items = [p for cell in s.tolist() for p in _items(spec, cell)]
    numeric = [(t, v) for t, v in items if t in NUMERIC]
    return bool(numeric) and all(_converts_exactly([v], NUMERIC[t]) for t, v in numeric)


def _empty_objects_refused(
    spec: dict[str, Any], s: pd.Series, ours: Verdict, theirs: Verdict
) -> bool:
    # MLflow lets an empty dict through an optional object column even when the object has
    # required properties; flavorkit checks every present cell
    if spec["type"] != "object" or ours["ok"] or not theirs["ok"]:
        return False
    required = [k for k, p in (spec.get("properties") or {}).items() if p.get("required", True)]
    return bool(required) and any(isinstance(v, dict) and not v for v in s.tolist())


COLUMN_RULES = [
    ColumnRule(
        "lossless-numeric-casts",
        "1-5",
        "flavorkit accepts a numeric column of another width or kind when every value converts "
        "exactly (int64 -> integer/double, float64 -> float/long ...); MLflow refuses by dtype",
        _lossless_numeric,
    ),
    ColumnRule(
        "nullable-columns",
        "7, 8",
        "nullable (Int64, boolean, Float64) and None-holding columns are accepted for numeric and "
        "boolean types, keeping the missing values; MLflow refuses or fails on the missing values",
        _nullable_columns,
    ),
    ColumnRule(
        "object-values-checked",
        "17, 18, 35",
        "object and pandas string columns are checked value by value: strings for string, bytes "
        "for binary, bools for boolean, numbers (not bools) for numeric types; MLflow passes the "
        "first three through unchecked and, for double, turns bools and empty bytes into numbers",
        _object_values_checked,
    ),
    ColumnRule(
        "datetime-units-kept",
        "6",
        "datetime64 columns keep their unit (s, ms, us); MLflow converts to ns and overflows "
        "outside the years 1677-2262",
        _datetime_unit_kept,
    ),
    ColumnRule(
        "datetime-strings-parsed",
        "34",
        "object columns of date strings are parsed for datetime, as MLflow did before pandas 3",
        _datetime_strings_parsed,
    ),
    ColumnRule(
        "categories-as-string",
        "9",
        "a categorical column of strings is accepted for string; MLflow refuses it",
        _category_strings,
    ),
    ColumnRule(
        "any-columns-unchanged",
        "24",
        "an ``any`` column passes untouched; MLflow rebuilds it from Python values "
        "(int16 -> int64)",
        _any_column_unchanged,
    ),
    ColumnRule(
        "empty-objects-refused",
        "39",
        "an empty dict in an object column whose object has required properties is refused; "
        "MLflow lets it through an optional column",
        _empty_objects_refused,
    ),
    ColumnRule(
        "complex-items-by-value",
        "10",
        "items of array/map/object cells are checked value by value, so ints pass double and "
        "integer items when exact; MLflow checks them through a Series and refuses",
        _complex_items_by_value,
    ),
]


def explain_column(
    spec: dict[str, Any], s: pd.Series, ours: Verdict, theirs: Verdict
) -> str | None:
    """The name of the deliberate difference that explains a one-column disagreement, or None."""
    for rule in COLUMN_RULES:
        if rule.applies(spec, s, ours, theirs):
            return rule.name
    return None


def explain_no_declared_column(
    schema: list[dict[str, Any]], frame: pd.DataFrame, ours: Verdict, theirs: Verdict
) -> str | None:
    """``no-declared-column`` (row 37): no declared column came; flavorkit keeps the rows, MLflow
    returns none."""
    names = {spec.get("name") for spec in schema}
    if (
        None in names
        or names & {str(c) for c in frame.columns}
        or not (ours["ok"] and theirs["ok"])
    ):
        return None
    if ours["result"] == {"DataFrame": [], "rows": len(frame)} and theirs["result"] == {
        "DataFrame": [],
        "rows": 0,
    }:
        return "no-declared-column"
    return None


def _param_items(spec: dict[str, Any], value: Any) -> list[Any]:
    if spec["shape"] and isinstance(value, (list, np.ndarray)):
        return list(value)
    return [value]


def _numpy_integer_params(spec: dict[str, Any], value: Any, ours: Verdict, theirs: Verdict) -> bool:
    if spec["type"] != "integer" or not ours["ok"] or theirs["ok"]:
        return False
    items = _param_items(spec, value)
    numpy_ints = [v for v in items if isinstance(v, np.integer)]
    fits = all(isinstance(v, (int, np.integer)) and -(2**31) <= int(v) < 2**31 for v in items)
    return fits and any(not isinstance(v, np.int32) for v in numpy_ints)


def _is_nat_string(v: Any) -> bool:
    """Whether ``v`` is a string numpy reads as NaT ("", "NaT" in any case)."""
    return isinstance(v, str) and v.lower() in ("", "nat")


def _naive_date(v: Any) -> bool:
    """Whether ``v`` is a time-zone naive date, or a string/datetime64 parsing to one."""
    if isinstance(v, datetime.date):
        return getattr(v, "tzinfo", None) is None and v == v
    if not isinstance(v, (str, np.datetime64)):
        return False
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # numpy warns about (and shifts) time-zone offsets
            return isinstance(np.datetime64(v).item(), datetime.date)
    except (ValueError, TypeError, Warning):
        return False


def _empty_datetime_params(
    spec: dict[str, Any], value: Any, ours: Verdict, theirs: Verdict
) -> bool:
    if spec["type"] != "datetime" or ours["ok"] or not theirs["ok"]:
        return False
    if "empty or 'NaT' string" not in ours["message"]:
        return False
    items = _param_items(spec, value)
    if not any(_is_nat_string(v) for v in items) or not all(
        v is None or _is_nat_string(v) or _naive_date(v) for v in items
    ):
        return False
    # MLflow passes each of those strings on as None
    got = theirs["result"].get(spec["name"])
    got_items = got[1] if spec["shape"] and got and got[0] == "list" else [got]
    return len(got_items) == len(items) and all(
        g == ["NoneType", "None"]
        for v, g in zip(items, got_items, strict=True)
        if _is_nat_string(v)
    )


def _param_ints_must_fit(spec: dict[str, Any], value: Any, ours: Verdict, theirs: Verdict) -> bool:
    if ours["ok"] or not theirs["ok"]:
        return False
    limit = {"integer": 2**31, "float": 2**53, "double": 2**53}.get(spec["type"])
    ints = [
        v
        for v in _param_items(spec, value)
        if isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))
    ]
    if limit is None or not ints:
        return False
    if spec["type"] == "integer":
        return any(not -limit <= int(v) < limit for v in ints)
    return any(abs(int(v)) > limit for v in ints)


PARAM_RULES: list[tuple[str, str, Callable[[dict[str, Any], Any, Verdict, Verdict], bool]]] = [
    ("numpy-integer-params", "33", _numpy_integer_params),
    ("param-ints-must-fit", "20", _param_ints_must_fit),
    ("empty-datetime-params-refused", "36", _empty_datetime_params),
]


def explain_param(spec: dict[str, Any], value: Any, ours: Verdict, theirs: Verdict) -> str | None:
    """The deliberate difference behind a one-param disagreement, or None."""
    for name, _rows, applies in PARAM_RULES:
        if applies(spec, value, ours, theirs):
            return name
    return None


def _any_in(signature_json: str | None) -> bool:
    return bool(signature_json) and '"type": "any"' in json.dumps(json.loads(signature_json))


INFER_DIFFERENCES: dict[str, tuple[str, Callable[[Verdict], bool]]] = {
    # case id -> (difference, what MLflow must have produced instead of flavorkit's SignatureError);
    # docs/signatures.md §4 rows 26 (the first four) and 38 (empty list params)
    "model_input:uint64": (
        "inference-never-falls-back",
        lambda t: t["ok"] and _any_in(t["result"]["inputs"]),
    ),
    "model_input:mixed": (
        "inference-never-falls-back",
        lambda t: t["ok"] and _any_in(t["result"]["inputs"]),
    ),
    "model_input:decimal": (
        "inference-never-falls-back",
        lambda t: t["ok"] and _any_in(t["result"]["inputs"]),
    ),
    "model_input:datetime_tz": (
        "tz-aware-datetimes-refused",
        lambda t: t["ok"] and json.loads(t["result"]["inputs"])[0]["type"] == "datetime",
    ),
    "params:empty_list": (
        "empty-list-params-refused",
        lambda t: t["ok"] and json.loads(t["result"]["params"])[0]["default"] == [],
    ),
}


def infer_inputs() -> dict[str, Any]:
    """``infer_signature`` inputs: one column per pandas dtype, arrays, dicts, lists, scalars."""
    import decimal

    def col(s: pd.Series) -> pd.DataFrame:
        return pd.DataFrame({"c": s})

    return {
        **{
            k: col(pd.Series([1, 2], dtype=k))
            for k in ("int64", "int32", "int8", "uint8", "uint32", "uint64", "float16")
        },
        "float32": col(pd.Series([1.5, 2], dtype="float32")),
        "float64": col(pd.Series([1.5, 2], dtype="float64")),
        "float64_nan": col(pd.Series([1.5, np.nan])),
        "bool": col(pd.Series([True, False])),
        "str": col(pd.Series(["a", "b"])),
        "str_none": col(pd.Series(["a", None])),
        "object_str": col(pd.Series(["a", "b"], dtype=object)),
        "string": col(pd.Series(["a", None], dtype="string")),
        "bytes": col(pd.Series([b"a", b"b"], dtype=object)),
        "datetime_ns": col(pd.Series(pd.to_datetime(["2024-01-01", "2024-01-02"]))),
        "datetime_s": col(pd.Series(np.array(["2024-01-01", "2024-01-02"], dtype="datetime64[s]"))),
        "datetime_nat": col(pd.Series(pd.to_datetime(["2024-01-01", None]))),
        "datetime_tz": col(pd.Series(pd.to_datetime(["2024-01-01"]).tz_localize("UTC"))),
        "Int64": col(pd.Series([1, 2], dtype="Int64")),
        "Int64_na": col(pd.Series([1, None], dtype="Int64")),
        "Int32_na": col(pd.Series([1, None], dtype="Int32")),
        "boolean_na": col(pd.Series([True, None], dtype="boolean")),
        "Float64_na": col(pd.Series([1.5, None], dtype="Float64")),
        "category": col(pd.Series(["a", "b"], dtype="category")),
        "list_int": col(pd.Series([[1, 2], [3]], dtype=object)),
        "list_str": col(pd.Series([["a"], ["b", "c"]], dtype=object)),
        "dict": col(pd.Series([{"k": 1, "s": "x"}, {"k": 2}], dtype=object)),
        "mixed": col(pd.Series([1, "a"], dtype=object)),
        "none_only": col(pd.Series([None, None], dtype=object)),
        "date_objects": col(pd.Series([datetime.date(2024, 1, 1)], dtype=object)),
        "decimal": col(pd.Series([decimal.Decimal("1.5")], dtype=object)),
        "multi": pd.DataFrame({"a": [1, 2], "b": [0.5, None], "c": ["x", "y"]}),
        "unnamed_frame": pd.DataFrame([[1.0, 2.0]]),
        "series": pd.Series([1.0, 2.0], name="s"),
        "nd_f32": np.zeros((3, 4), dtype="float32"),
        "nd_i64_1d": np.array([1, 2, 3]),
        "nd_str": np.array(["a", "bc"]),
        "nd_bytes": np.array([b"a", b"bc"]),
        "nd_bool_3d": np.zeros((2, 2, 2), dtype=bool),
        "nd_object": np.array(["a", 1], dtype=object),
        "dict_arrays": {"a": np.zeros((3, 2), dtype="float32"), "b": np.array([1, 2, 3])},
        "dict_json": {"a": 1, "b": 2.5, "c": "x", "d": [1, 2], "e": {"k": "v"}, "f": True},
        "dict_json_none": {"a": 1, "f": None},
        "records": [{"a": 1, "b": "x"}, {"a": 2}],
        "records_none": [{"a": 1, "b": None}, {"a": 2, "b": "y"}],
        "list_floats": [1.0, 2.0],
        "list_strs": ["a", "b"],
        "scalar_str": "hello",
        "scalar_int": 3,
        "empty_list": [],
        "list_of_lists": [[1, 2], [3, 4]],
    }


def infer_outputs() -> dict[str, Any]:
    """``infer_signature`` model outputs."""
    return {
        "nd_i64_1d": np.array([1, 0]),
        "nd_f32_2d": np.zeros((2, 3), dtype="float32"),
        "frame": pd.DataFrame({"p": [0.1, 0.9]}),
        "series": pd.Series([1, 2], name="y"),
        "list": [1, 2],
    }


def infer_params() -> dict[str, Any]:
    """``infer_signature`` params."""
    return {
        "scalars": {"a": 1, "b": 2.5, "c": "x", "d": True},
        "lists": {"e": [1, 2], "s": ["x", "y"], "f": [0.5]},
        "datetime": {"t": datetime.datetime(2024, 1, 2, 3, 4, 5)},
        "date": {"t": datetime.date(2024, 1, 2)},
        "object": {"g": {"k": 1, "s": "x"}},
        "numpy": {"h": np.int32(3), "i": np.float32(0.5), "j": np.bool_(True), "k": np.int64(3)},
        "ndarray": {"n": np.array([1, 2])},
        "none": {"z": None},
        "nested": {"l": [[1, 2]]},
        "empty_list": {"e": []},
        "bytes": {"b": b"x"},
    }
