"""Schema enforcement (FORMAT.md §5) and each deliberate difference from MLflow."""

from __future__ import annotations

import datetime
import decimal
from typing import Any

import numpy as np
import pandas as pd
import pytest
from flavorkit import AnyType, Array, ColSpec, Map, Object, Property, Schema, TensorSpec
from flavorkit.enforce import enforce_schema
from flavorkit.exceptions import SchemaEnforcementError, SchemaWarning
from flavorkit.testing.strategies import data_for_schema, mutations, schemas
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

PROPERTY_SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


def _rejects(data: Any, schema: Schema, match: str) -> SchemaEnforcementError:
    with pytest.raises(SchemaEnforcementError, match=match) as info:
        enforce_schema(data, schema)
    return info.value


def _one(type_: Any, name: Any = "x", required: bool = True) -> Schema:
    return Schema([ColSpec(type_, name, required)])


# ---------------------------------------------------------------- fast path and coercion


def test_enforce_returns_the_same_frame_when_nothing_changes() -> None:
    schema = Schema([ColSpec("double", f"c{i}") for i in range(10)])
    df = pd.DataFrame({f"c{i}": [float(i)] for i in range(10)})
    assert enforce_schema(df, schema) is df


def test_enforce_passes_pandas_string_columns_untouched() -> None:
    df = pd.DataFrame({"s": ["a", "b"], "n": [1, 2]})
    assert enforce_schema(df, Schema([ColSpec("string", "s"), ColSpec("long", "n")])) is df


def test_enforce_without_schema_returns_input() -> None:
    data = object()
    assert enforce_schema(data, None) is data


def test_enforce_turns_series_and_scalar_into_frames() -> None:
    schema = Schema([ColSpec("double")])
    out = enforce_schema(pd.Series([1.5, 2.5]), schema)
    assert isinstance(out, pd.DataFrame)
    assert out.shape == (2, 1)
    assert enforce_schema(2.5, schema).shape == (1, 1)


def test_enforce_dict_of_scalars_is_one_row() -> None:
    out = enforce_schema(
        {"a": 1.5, "b": "x"}, Schema([ColSpec("double", "a"), ColSpec("string", "b")])
    )
    assert out.to_dict("records") == [{"a": 1.5, "b": "x"}]


def test_enforce_dict_of_lists_is_columns() -> None:
    out = enforce_schema({"a": [1.5, 2.5]}, _one("double", "a"))
    assert out["a"].tolist() == [1.5, 2.5]


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"prompt": "hi", "stop": ["a", "b"]}, "stop"),
        ({"prompt": ["a", "b"], "stop": ["c", "d"]}, "prompt"),
        ({"prompt": "hi", "stop": []}, "stop"),
    ],
)
def test_enforce_dict_with_a_list_for_a_scalar_column_is_refused(data: dict, field: str) -> None:
    # MLflow makes one row holding the list (the model gets one list, not two rows); flavorkit
    # used to make one row per item: neither result, a refusal naming the column
    schema = Schema([ColSpec("string", "prompt"), ColSpec("string", "stop")])
    err = _rejects(data, schema, rf"column '{field}': the dict holds a list for a scalar string")
    assert (err.field, err.expected, err.actual) == (field, "string", "list")
    assert "pd.DataFrame(data)" in str(err)
    assert "array<string>" in str(err)


def test_enforce_dict_with_a_list_for_an_undeclared_key_is_one_row() -> None:
    # as in MLflow: scalars and lists of strings make one row; the extra key is dropped
    with pytest.warns(SchemaWarning, match="stop"):
        out = enforce_schema({"prompt": "hi", "stop": ["a", "b"]}, _one("string", "prompt"))
    assert out.to_dict("records") == [{"prompt": "hi"}]


def test_enforce_dict_of_lists_of_strings_is_one_row_for_array_columns() -> None:
    schema = Schema([ColSpec("string", "prompt"), ColSpec(Array("string"), "stop")])
    out = enforce_schema({"prompt": "hi", "stop": ["a", "b"]}, schema)
    assert out.to_dict("records") == [{"prompt": "hi", "stop": ["a", "b"]}]


def test_enforce_dict_of_0d_arrays_is_one_row() -> None:
    # pandas refuses a dict of 0-d arrays ("If using all scalar values, you must pass an
    # index"); MLflow builds one row from 0-d string arrays, and so does flavorkit for any
    schema = Schema([ColSpec("string", "p"), ColSpec("double", "x"), ColSpec("long", "n")])
    data = {"p": np.array("hi"), "x": np.array(1.5), "n": np.array(3)}
    out = enforce_schema(data, schema)
    assert out.to_dict("records") == [{"p": "hi", "x": 1.5, "n": 3}]
    assert out["x"].dtype == np.dtype("float64")
    assert out["n"].dtype == np.dtype("int64")
    with pytest.warns(SchemaWarning, match="x"):
        mixed = enforce_schema({"p": np.array("hi"), "x": 2.5}, _one("string", "p"))
    assert mixed.to_dict("records") == [{"p": "hi"}]


def test_enforce_dict_of_other_scalars_is_one_row() -> None:
    when = datetime.datetime(2024, 1, 2, 3, 4)
    out = enforce_schema({"t": when}, _one("datetime", "t"))
    assert out["t"].tolist() == [pd.Timestamp(when)]


def test_enforce_dict_is_one_row_for_array_columns() -> None:
    out = enforce_schema({"ids": [1, 2, 3]}, _one(Array("long"), "ids"))
    assert out["ids"].tolist() == [[1, 2, 3]]


def test_enforce_dict_is_one_row_for_map_columns() -> None:
    # MLflow makes one row only for Array/Object; a Map value became an index there
    out = enforce_schema({"m": {"k": 1.5}}, _one(Map("double"), "m"))
    assert out["m"].tolist() == [{"k": 1.5}]


def test_enforce_list_of_records_is_rows() -> None:
    out = enforce_schema([{"a": 1}, {"a": 2}], _one("long", "a"))
    assert out["a"].tolist() == [1, 2]


def test_enforce_list_is_cells_for_a_single_array_column() -> None:
    out = enforce_schema([[1, 2], [3]], Schema([ColSpec(Array("long"))]))
    assert out.iloc[:, 0].tolist() == [[1, 2], [3]]


def test_enforce_2d_array_for_unnamed_columns() -> None:
    out = enforce_schema(np.zeros((2, 2)), Schema([ColSpec("double"), ColSpec("double")]))
    assert out.shape == (2, 2)


def test_enforce_rejects_unsupported_input_type() -> None:
    err = _rejects({1, 2}, _one("long"), "takes a DataFrame, Series, dict, list")
    assert err.actual == "set"


def test_enforce_rejects_3d_array_for_columns() -> None:
    _rejects(np.zeros((2, 2, 2)), Schema([ColSpec("double")]), "1-D or 2-D")


# ---------------------------------------------------------------- column matching


def test_enforce_missing_required_column_names_it_and_extras() -> None:
    schema = Schema([ColSpec("double", "a"), ColSpec("double", "b")])
    err = _rejects(pd.DataFrame({"a": [1.0], "z": [1.0]}), schema, r"missing inputs \['b'\]")
    assert "extra" not in err.field
    assert err.field == "b"
    assert err.expected == ["a", "b"]
    assert err.actual == ["a", "z"]
    assert "['z']" in str(err)


def test_enforce_drops_extra_columns_with_warning_and_reorders() -> None:
    schema = Schema([ColSpec("double", "a"), ColSpec("long", "b")])
    df = pd.DataFrame({"extra": ["x"], "b": [1], "a": [1.0]})
    with pytest.warns(UserWarning, match=r"dropping input column\(s\).*\['extra'\]"):
        out = enforce_schema(df, schema)
    assert list(out.columns) == ["a", "b"]
    assert "extra" in df.columns  # the caller's frame is left alone


def test_enforce_skips_missing_optional_column() -> None:
    schema = Schema([ColSpec("double", "a"), ColSpec("double", "b", required=False)])
    out = enforce_schema(pd.DataFrame({"a": [1.0]}), schema)
    assert list(out.columns) == ["a"]


def test_enforce_checks_present_optional_column() -> None:
    schema = Schema([ColSpec("double", "a"), ColSpec("long", "b", required=False)])
    err = _rejects(pd.DataFrame({"a": [1.0], "b": ["x"]}), schema, "column 'b'")
    assert err.field == "b"


def test_enforce_rejects_duplicated_input_columns() -> None:
    df = pd.DataFrame([[1.0, 2.0]], columns=["a", "a"])
    _rejects(df, _one("double", "a"), "two columns named 'a'")


def test_enforce_matches_a_column_named_0_by_name() -> None:
    # MLflow resolves names with `name or index`, so 0 was taken by position (#26069)
    schema = Schema([ColSpec("string", "s"), ColSpec("double", 0)])
    df = pd.DataFrame({0: [1.5], "s": ["x"]})
    out = enforce_schema(df, schema)
    assert list(out.columns) == ["s", 0]
    assert out[0].tolist() == [1.5]


def test_enforce_matches_string_labels_to_int_names() -> None:
    out = enforce_schema(pd.DataFrame({"0": [1.5]}), _one("double", 0))
    assert out.iloc[0, 0] == 1.5


def test_enforce_unnamed_schema_checks_column_count() -> None:
    schema = Schema([ColSpec("double"), ColSpec("double")])
    err = _rejects(
        pd.DataFrame({"a": [1.0]}), schema, "declares 2 unnamed columns, the input has 1"
    )
    assert err.field == "[1]"


def test_enforce_unnamed_schema_warns_about_extra_trailing_columns() -> None:
    # MLflow drops them silently
    schema = Schema([ColSpec("double")])
    with pytest.warns(UserWarning, match="1 more column"):
        out = enforce_schema(pd.DataFrame({"a": [1.0], "b": ["x"]}), schema)
    assert list(out.columns) == ["a"]


# ---------------------------------------------------------------- scalar rules shared with MLflow


@pytest.mark.parametrize(
    ("values", "declared", "result_dtype"),
    [
        (np.array([1], dtype="int8"), "integer", "int32"),
        (np.array([1], dtype="uint16"), "integer", "int32"),
        (np.array([1], dtype="int32"), "long", "int64"),
        (np.array([1], dtype="uint32"), "long", "int64"),
        (np.array([1.5], dtype="float16"), "float", "float32"),
        (np.array([1.5], dtype="float32"), "double", "float64"),
        (np.array([1], dtype="int32"), "double", "float64"),
        (np.array([0, 1], dtype="int64"), "float", "float32"),
    ],
)
def test_enforce_widens_safely(values: np.ndarray, declared: str, result_dtype: str) -> None:
    out = enforce_schema(pd.DataFrame({"x": values}), _one(declared))
    assert out["x"].dtype == np.dtype(result_dtype)
    assert out["x"].tolist() == values.tolist()


@pytest.mark.parametrize(
    ("column", "declared", "actual"),
    [
        (pd.Series([1, 2]), "string", "int64"),
        (pd.Series([True]), "long", "bool"),
        (pd.Series([1]), "boolean", "int64"),
        (pd.Series(["1.5"]), "double", "str"),
        (pd.Series([1.5]), "binary", "float64"),
    ],
)
def test_enforce_rejects_kind_changes(column: pd.Series, declared: str, actual: str) -> None:
    err = _rejects(pd.DataFrame({"x": column}), _one(declared), f"column 'x': expected {declared}")
    assert (err.field, err.expected, err.actual) == ("x", declared, actual)
    assert "cast with df['x'].astype(" in str(err)


def test_enforce_float_with_missing_values_for_long_hints_at_nulls() -> None:
    err = _rejects(pd.DataFrame({"x": [1.0, np.nan]}), _one("long"), "missing values")
    assert err.actual == "float64"
    assert "declare the column 'double'" in str(err)
    assert "astype('Int64')" in str(err)


def test_enforce_passes_object_strings_bytes_and_bools() -> None:
    df = pd.DataFrame(
        {
            "s": pd.Series(["a", None], dtype=object),
            "b": [b"x", b"y"],
            "f": pd.Series([True, None], dtype=object),
        }
    )
    schema = Schema(
        [ColSpec("string", "s", False), ColSpec("binary", "b"), ColSpec("boolean", "f", False)]
    )
    out = enforce_schema(df, schema)
    assert out is df


def test_enforce_casts_object_bools_to_bool_unless_one_is_missing() -> None:
    df = pd.DataFrame({"f": pd.Series([True, np.bool_(False)], dtype=object)})
    out = enforce_schema(df, _one("boolean", "f"))
    assert out["f"].dtype == np.dtype("bool")
    assert out["f"].tolist() == [True, False]
    # numpy bool has no missing value, so a column holding None stays object
    optional = pd.DataFrame({"f": pd.Series([True, None], dtype=object)})
    assert enforce_schema(optional, _one("boolean", "f", required=False)) is optional


def test_enforce_converts_object_dates_and_decimals() -> None:
    df = pd.DataFrame(
        {
            "d": pd.Series([datetime.date(2020, 1, 2)], dtype=object),
            "m": pd.Series([decimal.Decimal("1.5")], dtype=object),
        }
    )
    out = enforce_schema(df, Schema([ColSpec("datetime", "d"), ColSpec("double", "m")]))
    assert out["d"].dtype == np.dtype("datetime64[ns]")
    assert out["m"].tolist() == [1.5]


def test_enforce_rejects_string_dtype_for_datetime() -> None:
    err = _rejects(pd.DataFrame({"d": ["2020-01-01"]}), _one("datetime", "d"), "pd.to_datetime")
    assert err.field == "d"


def test_enforce_rejects_timezone_aware_datetime() -> None:
    df = pd.DataFrame({"d": pd.to_datetime(["2020-01-01"]).tz_localize("UTC")})
    _rejects(df, _one("datetime", "d"), r"time-zone aware.*tz_convert\(None\)")


# ---------------------------------------------------------------- deliberate differences: accepted


def test_enforce_accepts_int64_as_double_when_exact() -> None:
    out = enforce_schema(pd.DataFrame({"x": [1, 2**53]}), _one("double"))
    assert out["x"].dtype == np.dtype("float64")
    assert out["x"].tolist() == [1.0, float(2**53)]
    err = _rejects(pd.DataFrame({"x": [2**53 + 1]}), _one("double"), "cannot hold exactly")
    assert (err.expected, err.actual) == ("double", "int64")


def test_enforce_accepts_int64_as_integer_when_values_fit() -> None:
    out = enforce_schema(pd.DataFrame({"x": [1, -(2**31)]}), _one("integer"))
    assert out["x"].dtype == np.dtype("int32")
    _rejects(pd.DataFrame({"x": [2**31]}), _one("integer"), "cannot hold exactly")


def test_enforce_accepts_float64_as_float_when_round_trip_is_exact() -> None:
    out = enforce_schema(pd.DataFrame({"x": [0.5, 1.25, np.nan]}), _one("float"))
    assert out["x"].dtype == np.dtype("float32")
    err = _rejects(pd.DataFrame({"x": [0.1]}), _one("float"), "float32 cannot hold exactly")
    assert "if losing precision is acceptable" in str(err)


def test_enforce_accepts_integral_floats_for_integer_columns() -> None:
    out = enforce_schema(pd.DataFrame({"x": [2.0, -3.0]}), _one("long"))
    assert out["x"].dtype == np.dtype("int64")
    assert out["x"].tolist() == [2, -3]
    err = _rejects(pd.DataFrame({"x": [2.7]}), _one("integer"), "not whole numbers")
    assert (err.field, err.expected, err.actual) == ("x", "integer", "float64")


@pytest.mark.parametrize(
    ("values", "declared"),
    [
        (np.array([7], dtype="int32"), "float"),
        (np.array([7], dtype="int16"), "float"),
        (np.array([7], dtype="uint32"), "integer"),
        (np.array([7], dtype="uint64"), "long"),
    ],
)
def test_enforce_accepts_other_exact_numeric_conversions(values: np.ndarray, declared: str) -> None:
    out = enforce_schema(pd.DataFrame({"x": values}), _one(declared))
    assert out["x"].tolist() == [7]


def test_enforce_keeps_datetime_units() -> None:
    # MLflow converts to [ns], which overflows past 2262
    df = pd.DataFrame({"d": np.array(["2500-01-01"], dtype="datetime64[us]")})
    out = enforce_schema(df, _one("datetime", "d"))
    assert out["d"].dtype == np.dtype("datetime64[us]")


def test_enforce_accepts_nullable_extension_columns() -> None:
    df = pd.DataFrame(
        {
            "i": pd.array([1, None], dtype="Int64"),
            "i32": pd.array([1, None], dtype="Int32"),
            "b": pd.array([True, None], dtype="boolean"),
            "f": pd.array([1, None], dtype="Int64"),
            "full": pd.array([1, 2], dtype="Int64"),
        }
    )
    schema = Schema(
        [
            ColSpec("long", "i", False),
            ColSpec("long", "i32", False),
            ColSpec("boolean", "b", False),
            ColSpec("double", "f", False),
            ColSpec("long", "full"),
        ]
    )
    out = enforce_schema(df, schema)
    assert str(out["i"].dtype) == "Int64"
    assert str(out["i32"].dtype) == "Int64"
    assert str(out["b"].dtype) == "boolean"
    assert out["f"].dtype == np.dtype("float64")
    assert np.isnan(out["f"].iloc[1])
    assert out["full"].dtype == np.dtype("int64")


def test_enforce_object_ints_with_none_become_nullable_integers() -> None:
    out = enforce_schema(pd.DataFrame({"x": pd.Series([1, None], dtype=object)}), _one("long"))
    assert str(out["x"].dtype) == "Int64"
    assert out["x"].iloc[0] == 1


def test_enforce_accepts_categorical_strings_for_string() -> None:
    df = pd.DataFrame({"c": pd.Categorical(["a", "b"])})
    assert enforce_schema(df, _one("string", "c")) is df


def test_enforce_checks_complex_item_values_by_value() -> None:
    # MLflow checks each item through a pandas Series, so int64 items fail `integer`/`double`
    schema = Schema(
        [
            ColSpec(Array("integer"), "i"),
            ColSpec(Array("double"), "d"),
            ColSpec(Array("float"), "f"),
        ]
    )
    data = pd.DataFrame({"i": [[1, 2]], "d": [[1.0, 2.5]], "f": [[1.5]]})
    assert enforce_schema(data, schema) is data
    out = enforce_schema(pd.DataFrame({"i": [[1, 2]], "d": [[1, 2.5]], "f": [[1.5]]}), schema)
    assert out["d"].iloc[0] == [1.0, 2.5]
    assert type(out["d"].iloc[0][0]) is float
    _rejects(pd.DataFrame({"i": [[2**40]], "d": [[1.0]], "f": [[1.5]]}), schema, r"row 0\[0\]")
    _rejects(pd.DataFrame({"i": [[1]], "d": [[1.0]], "f": [[0.1]]}), schema, "expected float")


def test_enforce_parses_object_iso_strings_for_datetime() -> None:
    # MLflow on pandas 3 refuses str values for datetime; pandas 2 parsed them, as flavorkit does
    values = ["2024-01-31", "2024-02-01T12:30:00", None, ""]
    df = pd.DataFrame({"d": pd.Series(values, dtype=object)})
    out = enforce_schema(df, _one("datetime", "d", required=False))
    assert out["d"].dtype == np.dtype("datetime64[ns]")
    assert out["d"].iloc[1] == pd.Timestamp("2024-02-01T12:30:00")
    assert out["d"].isna().tolist() == [False, False, True, True]
    _rejects(pd.DataFrame({"d": pd.Series(["soon"], dtype=object)}), _one("datetime", "d"), "date")


@pytest.mark.parametrize("text", ["now", "today", "NaT", "NaN", "tomorrow"])
def test_enforce_refuses_date_words_pandas_would_read_as_the_clock(text: str) -> None:
    # pandas reads "now" and "today" as the current time: a request must not pick the clock
    df = pd.DataFrame({"d": pd.Series(["2024-01-31", text], dtype=object)})
    err = _rejects(df, _one("datetime", "d", required=False), r"not an ISO 8601 date \(row 1\)")
    assert err.field == "d" and text not in str(err)


# ---------------------------------------------------------------- deliberate differences: rejected


def test_enforce_rejects_non_strings_in_object_string_column() -> None:
    df = pd.DataFrame({"s": pd.Series(["a", 3], dtype=object)})
    err = _rejects(df, _one("string", "s"), r"object column holding int \(row 1\)")
    assert err.field == "s"
    assert "astype('str')" in str(err)


@pytest.mark.parametrize(
    ("declared", "values"),
    [("binary", ["x"]), ("boolean", [1]), ("datetime", [1.5])],
)
def test_enforce_rejects_wrong_values_in_object_columns(declared: str, values: list) -> None:
    df = pd.DataFrame({"x": pd.Series(values, dtype=object)})
    err = _rejects(df, _one(declared), "object column holding")
    assert err.expected == declared


@pytest.mark.parametrize("values", [[True, None], [True, 1], [b"", 1.5], [False]])
def test_enforce_rejects_bools_and_bytes_in_object_number_columns(values: list) -> None:
    # MLflow turns bools into 1.0/0.0 and empty bytes into NaN for `double`
    df = pd.DataFrame({"x": pd.Series(values, dtype=object)})
    err = _rejects(df, _one("double", required=False), "got (bool|object column holding)")
    assert err.field == "x"
    assert err.expected == "double"


def test_enforce_keeps_rows_when_no_declared_column_arrives() -> None:
    # MLflow returns a frame with no rows (and no columns) here
    df = pd.DataFrame({"other": [1.0, 2.0, 3.0]}, index=[5, 6, 7])
    with pytest.warns(SchemaWarning, match=r"\['other'\]"):
        out = enforce_schema(df, _one("double", "x", required=False))
    assert out.shape == (3, 0)
    assert out.index.equals(df.index)


# ---------------------------------------------------------------- complex types


def test_enforce_array_rejects_non_lists_and_wrong_items() -> None:
    schema = _one(Array("string"), "a")
    err = _rejects(pd.DataFrame({"a": ["x"]}), schema, "row 0: expected array<string>, got str")
    assert (err.field, err.expected, err.actual) == ("a", "array<string>", "str")
    _rejects(pd.DataFrame({"a": [[1, 2]]}), schema, r"row 0\[0\]: expected string, got int")


def test_enforce_none_cells_need_optional_columns() -> None:
    df = pd.DataFrame({"a": [[1], None]})
    _rejects(df, _one(Array("long"), "a"), "row 1: expected array<long>, got NoneType")
    assert enforce_schema(df, _one(Array("long"), "a", required=False)) is df


def test_enforce_object_checks_properties() -> None:
    obj = Object([Property("k", "string"), Property("n", "long", required=False)])
    schema = _one(obj, "o")
    ok = pd.DataFrame({"o": [{"k": "x"}, {"k": "y", "n": 3}]})
    assert enforce_schema(ok, schema) is ok
    err = _rejects(pd.DataFrame({"o": [{"n": 3}]}), schema, r"missing required properties \['k'\]")
    assert err.field == "o"
    _rejects(pd.DataFrame({"o": [{"k": "x", "z": 1}]}), schema, r"not in the signature \['z'\]")
    _rejects(pd.DataFrame({"o": [{"k": 1}]}), schema, r"row 0\['k'\]: expected string")


def test_enforce_map_needs_string_keys() -> None:
    schema = _one(Map("double"), "m")
    _rejects(pd.DataFrame({"m": [{1: 1.5}]}), schema, "expected map<string, double>, got dict")
    _rejects(pd.DataFrame({"m": [{"k": "v"}]}), schema, r"\['k'\]: expected double")


def test_enforce_any_accepts_everything() -> None:
    df = pd.DataFrame({"x": pd.Series([1, "a", None, [1]], dtype=object)})
    assert enforce_schema(df, _one(AnyType(), "x", required=False)) is df


def test_enforce_returns_complex_values_of_the_declared_type_as_given() -> None:
    cell = [1.0, 2.5]
    out = enforce_schema({"a": cell}, _one(Array("double"), "a"))
    assert out["a"].iloc[0] is cell


@pytest.mark.parametrize(
    ("declared", "cell", "expected", "item_type"),
    [
        (Array("double"), [np.int32(1), np.int32(2)], [1.0, 2.0], float),
        (Array("double"), [1, np.float32(0.5)], [1.0, 0.5], float),
        (Array("long"), [np.int32(1), np.uint8(2)], [1, 2], int),
        (Array("float"), [np.float64(1.5), 2], [1.5, 2.0], float),
        (Array("boolean"), [np.bool_(True)], [True], np.bool_),
        (Array(Array("double")), [[np.int16(1)], [2]], [[1.0], [2.0]], list),
        (Map("double"), {"k": np.int32(1)}, {"k": 1.0}, float),
        (Map("long"), {"k": np.int8(1)}, {"k": 1}, int),
        (Map(Array("double")), {"k": [np.int32(1)]}, {"k": [1.0]}, list),
        (Object([Property("k", "double")]), {"k": np.int32(1)}, {"k": 1.0}, float),
    ],
)
def test_enforce_converts_complex_items_to_the_declared_type(
    declared: Any, cell: Any, expected: Any, item_type: type
) -> None:
    # MLflow converts each item to the declared type; flavorkit used to pass np.int32 items on
    original = repr(cell)
    out = enforce_schema(pd.DataFrame({"a": [cell]}), _one(declared, "a")).iloc[0, 0]
    assert out == expected
    first = out[0] if isinstance(out, list) else next(iter(out.values()))
    assert type(first) is item_type
    assert repr(cell) == original  # the caller's cell is not mutated


@pytest.mark.parametrize(
    ("cell", "dtype"),
    [
        (np.array([1, 2], dtype=np.int32), "float64"),
        (np.array([1.5], dtype=np.float32), "float64"),
        (np.array([1, 2.5], dtype=object), "float64"),
    ],
)
def test_enforce_converts_array_cells_to_the_declared_dtype(cell: Any, dtype: str) -> None:
    out = enforce_schema(pd.DataFrame({"a": [cell]}), _one(Array("double"), "a")).iloc[0, 0]
    assert isinstance(out, np.ndarray)
    assert out.dtype == np.dtype(dtype)
    assert out.tolist() == [float(v) for v in cell]


def test_enforce_converts_datetime_items_as_mlflow_does() -> None:
    # a datetime64 value of a map becomes a Timestamp, an array cell datetime64[ns]
    when = np.datetime64("2024-01-02T03:04")
    out = enforce_schema(pd.DataFrame({"m": [{"k": when}]}), _one(Map("datetime"), "m"))
    assert out["m"].iloc[0] == {"k": pd.Timestamp(when)}
    assert type(out["m"].iloc[0]["k"]) is pd.Timestamp
    cells = [np.array([when], dtype="datetime64[s]"), np.array([when.item()], dtype=object)]
    out = enforce_schema(pd.DataFrame({"a": cells}), _one(Array("datetime"), "a"))
    for cell in out["a"]:
        assert cell.dtype == np.dtype("datetime64[ns]")
        assert cell[0] == when


@pytest.mark.parametrize(
    ("declared", "cell", "match"),
    [
        # MLflow passes these on as integer nanoseconds
        (Array("datetime"), [np.datetime64("2024-01-02")], "must come as a datetime64 array"),
        (Array("datetime"), [datetime.datetime(2024, 1, 2)], "must come as a datetime64 array"),
        # datetime64[ns] cannot hold the year 3000 (MLflow fails with OutOfBoundsDatetime)
        (
            Array("datetime"),
            np.array(["3000-01-01"], dtype="datetime64[s]"),
            "do not all convert exactly",
        ),
        (Array("double"), [2**53 + 1], r"row 0\[0\]: expected double, got int"),
        (Array("integer"), np.array([2**40]), "do not all convert exactly"),
        (Array("long"), np.array([1.0]), "got an array of float64"),
        (Map("float"), {"k": 0.1}, r"\['k'\]: expected float, got float"),
    ],
)
def test_enforce_refuses_complex_items_that_do_not_convert(
    declared: Any, cell: Any, match: str
) -> None:
    err = _rejects(pd.DataFrame({"a": [cell]}), _one(declared, "a"), match)
    assert err.field == "a"


@pytest.mark.parametrize(
    ("item_type", "sample"), [("string", "x"), ("boolean", True), ("binary", b"x")]
)
def test_enforce_refuses_missing_items_of_arrays_without_a_missing_value(
    item_type: str, sample: Any
) -> None:
    # MLflow turns a None item into False, or the text/bytes of "None" cut to the item length
    schema = _one(Array(item_type), "a", required=False)
    err = _rejects(pd.DataFrame({"a": [[sample, None]]}), schema, r"row 0\[1\]: a missing item")
    assert (err.field, err.actual) == ("a", "None")
    df = pd.DataFrame({"a": [[sample], None]})
    assert enforce_schema(df, schema) is df  # a missing cell is fine


def test_enforce_missing_items_of_number_arrays() -> None:
    # as MLflow: a missing float item is NaN; integers keep None (MLflow refuses them)
    out = enforce_schema(
        pd.DataFrame({"d": [[1.0, None]], "i": [[1, None]]}),
        Schema([ColSpec(Array("double"), "d", False), ColSpec(Array("long"), "i", False)]),
    )
    assert out["d"].iloc[0][0] == 1.0
    assert np.isnan(out["d"].iloc[0][1])
    assert out["i"].iloc[0] == [1, None]


# ---------------------------------------------------------------- tensors


def test_enforce_tensor_passes_matching_array_untouched() -> None:
    x = np.zeros((5, 3), dtype="float32")
    assert enforce_schema(x, Schema([TensorSpec("float32", (-1, 3))])) is x


@pytest.mark.parametrize(
    ("array", "match", "expected", "actual"),
    [
        (np.zeros(3, "float32"), r"wrong rank, reshape with x\.reshape\(-1, 3\)", (-1, 3), (3,)),
        (np.zeros((2, 4), "float32"), "dimension 1 must be 3", (-1, 3), (2, 4)),
        (
            np.zeros((2, 3)),
            r"expected dtype float32, got float64; cast with x\.astype",
            "float32",
            "float64",
        ),
    ],
)
def test_enforce_tensor_errors(array: np.ndarray, match: str, expected: Any, actual: Any) -> None:
    err = _rejects(array, Schema([TensorSpec("float32", (-1, 3))]), match)
    assert (err.field, err.expected, err.actual) == ("[0]", expected, actual)


def test_enforce_tensor_rejects_lists() -> None:
    err = _rejects([[1.0, 2.0, 3.0]], Schema([TensorSpec("float32", (-1, 3))]), "np.asarray")
    assert err.actual == "list"


def test_enforce_named_tensors_check_names_and_values() -> None:
    schema = Schema([TensorSpec("int64", (-1,), "a"), TensorSpec("float64", (-1, 2), "b")])
    good = {"b": np.zeros((1, 2)), "a": np.zeros(1, "int64")}
    out = enforce_schema(good, schema)
    assert list(out) == ["a", "b"]
    assert out["a"] is good["a"]
    err = _rejects({"a": np.zeros(1, "int64")}, schema, r"missing inputs \['b'\]")
    assert err.field == "b"
    err = _rejects({"a": [1], "b": np.zeros((1, 2))}, schema, "tensor 'a': expected an ndarray")
    assert err.actual == "list"
    with pytest.warns(UserWarning, match=r"\['c'\]"):
        enforce_schema({**good, "c": np.zeros(1)}, schema)


@pytest.mark.parametrize(
    ("data", "schema"),
    [
        (pd.DataFrame({"a": [1.0], "extra": [2.0]}), Schema([ColSpec("double", "a")])),
        (pd.DataFrame({"a": [1.0], "b": [2.0]}), Schema([ColSpec("double")])),
        (
            {"a": np.zeros(1), "extra": np.zeros(1)},
            Schema([TensorSpec("float64", (-1,), "a")]),
        ),
        (
            pd.DataFrame({"a": [1.0], "extra": [2.0]}),
            Schema([TensorSpec("float64", (-1,), "a")]),
        ),
    ],
    ids=["named-column", "unnamed-trailing-column", "tensor", "tensor-from-frame-column"],
)
def test_enforce_drop_warnings_are_schema_warnings(data: Any, schema: Schema) -> None:
    with pytest.warns(SchemaWarning, match="extra|1 more column") as record:
        enforce_schema(data, schema)
    assert [type(w.message) for w in record] == [SchemaWarning]
    assert issubclass(SchemaWarning, UserWarning)  # existing UserWarning filters still apply


def test_enforce_single_named_tensor_accepts_bare_array() -> None:
    x = np.zeros(2, "int64")
    assert enforce_schema(x, Schema([TensorSpec("int64", (-1,), "a")]))["a"] is x


def test_enforce_frame_to_tensor() -> None:
    scalar = Schema([TensorSpec("int64", (-1,))])
    assert enforce_schema(pd.DataFrame({"x": [1, 2]}), scalar).tolist() == [1, 2]
    listy = Schema([TensorSpec("float32", (-1, 2))])
    out = enforce_schema(pd.DataFrame({"x": [[1.0, 2.0], [3.0, 4.0]]}), listy)
    assert out.dtype == np.dtype("float32")
    assert out.shape == (2, 2)
    wide = enforce_schema(
        pd.DataFrame({"a": [1.5], "b": [2.5]}), Schema([TensorSpec("float64", (-1, 2))])
    )
    assert wide.shape == (1, 2)
    _rejects(
        pd.DataFrame({"a": [1.5], "b": [2.5]}),
        Schema([TensorSpec("float64", (-1, 3))]),
        "needs shape",
    )
    _rejects(pd.DataFrame({"x": [1, 2]}), Schema([TensorSpec("int64", (-1, 2))]), "needs shape")


def test_enforce_frame_to_tensor_refuses_lossy_casts() -> None:
    # MLflow casts DataFrame columns with astype, so 2.7 became 2
    schema = Schema([TensorSpec("int64", (-1,))])
    err = _rejects(pd.DataFrame({"x": [2.7]}), schema, "int64 cannot hold exactly")
    assert (err.field, err.expected, err.actual) == ("[0]", "int64", "float64")
    assert enforce_schema(pd.DataFrame({"x": [2.0]}), schema).tolist() == [2]


def test_enforce_object_tensor_and_ragged_arrays_pass() -> None:
    anything = np.array([1, "a"], dtype=object)
    assert enforce_schema(anything, Schema([TensorSpec("object", (-1,))])) is anything
    ragged = np.empty(2, dtype=object)
    ragged[0], ragged[1] = np.zeros(2), np.zeros(3)
    assert enforce_schema(ragged, Schema([TensorSpec("float64", (-1, -1))])) is ragged


# ---------------------------------------------------------------- no payload in errors


def test_enforce_errors_never_echo_the_payload() -> None:
    secret = "4111-1111-1111-1111"
    df = pd.DataFrame({"card": pd.Series([secret, 5], dtype=object), "n": [secret, secret]})
    schema = Schema([ColSpec("string", "card"), ColSpec("long", "n")])
    err = _rejects(df, schema, "column 'card'")
    assert secret not in str(err)
    err = _rejects(pd.DataFrame({"n": [secret]}), _one("long", "n"), "column 'n'")
    assert secret not in str(err)


# ---------------------------------------------------------------- properties


def _plain(values: pd.Series) -> list[Any]:
    return [None if (not isinstance(v, list | dict) and pd.isna(v)) else v for v in values]


@PROPERTY_SETTINGS
@given(st.data())
def test_enforce_conforming_data_passes_with_dtypes_kept_or_widened(data: st.DataObject) -> None:
    schema = data.draw(schemas())
    example = data.draw(data_for_schema(schema))
    out = enforce_schema(example, schema)
    if schema.is_tensor_spec():
        if isinstance(example, dict):
            assert all(out[k] is example[k] for k in out)
        else:
            assert out is example
        return
    assert out.index.equals(example.index)
    for label in out.columns:
        before, after = example[label], out[label]
        if before.dtype == after.dtype:
            assert after.equals(before)
        else:
            # a widening (e.g. nullable Int64 without NA -> int64): every value kept
            assert _plain(after) == _plain(before)


@PROPERTY_SETTINGS
@given(st.data())
def test_enforce_mutated_input_is_rejected_naming_the_field(data: st.DataObject) -> None:
    schema = data.draw(schemas())
    example = data.draw(data_for_schema(schema))
    mutation = data.draw(mutations(schema, example))
    with pytest.raises(SchemaEnforcementError) as info:
        enforce_schema(mutation.data, schema)
    assert mutation.field in info.value.field.split(", "), mutation.description


def test_enforce_uint64_beyond_long_is_refused_not_wrapped() -> None:
    frame = pd.DataFrame({"a": np.array([2**63], dtype=np.uint64)})
    with pytest.raises(SchemaEnforcementError) as info:
        enforce_schema(frame, Schema([ColSpec("long", "a")]))
    assert info.value.field == "a"


def test_enforce_rebuilt_frame_keeps_object_strings() -> None:
    frame = pd.DataFrame({"b": [1.0], "a": pd.Series(["x"], dtype=object)})
    out = enforce_schema(frame, Schema([ColSpec("string", "a"), ColSpec("double", "b")]))
    assert list(out.columns) == ["a", "b"]
    assert out["a"].dtype == object


def test_enforce_refuses_empty_objects_missing_required_properties() -> None:
    schema = Schema(
        [ColSpec(Object([Property("a", "long")]), "c1", required=False), ColSpec("long", "n")]
    )
    frame = pd.DataFrame({"c1": [{"a": 1}, {}], "n": [1, 2]})
    with pytest.raises(
        SchemaEnforcementError, match=r"column 'c1', row 1: missing required"
    ) as info:
        enforce_schema(frame, schema)
    assert info.value.field == "c1"
    ok = pd.DataFrame({"c1": [{"a": 1}, None], "n": [1, 2]})
    assert enforce_schema(ok, schema)["c1"].tolist() == [{"a": 1}, None]


def test_enforce_any_columns_take_dicts_and_lists_as_pandas_builds_them() -> None:
    # as MLflow: only Array, Map and Object columns make a dict one row (or a list cells);
    # an `any` column spreads a list over rows, so the model gets the same rows as there
    named = Schema([ColSpec(AnyType(), "a"), ColSpec("string", "b")])
    out = enforce_schema({"a": [1, 2], "b": "x"}, named)
    assert len(out) == 2 and list(out["a"]) == [1, 2] and list(out["b"]) == ["x", "x"]
    unnamed = Schema([ColSpec(AnyType())])
    with pytest.warns(SchemaWarning):  # the second column of [[1, 2], [3, 4]] is dropped
        out = enforce_schema([[1, 2], [3, 4]], unnamed)
    assert out.iloc[:, 0].tolist() == [1, 3]
