"""Signature inference from example data (FORMAT.md §4), never silently falling back."""

from __future__ import annotations

import datetime
import sys
import warnings

import numpy as np
import pandas as pd
import pytest
from flavorkit import (
    AnyType,
    Array,
    ColSpec,
    DataType,
    ModelSignature,
    Object,
    ParamSchema,
    Property,
    Schema,
    TensorSpec,
    infer_signature,
)
from flavorkit.enforce import enforce_schema
from flavorkit.exceptions import SchemaEnforcementError, SignatureError
from flavorkit.signature import infer_output_schema, infer_params_schema, infer_schema
from flavorkit.testing.strategies import data_for_schema, schemas
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

PROPERTY_SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


# ---------------------------------------------------------------- DataFrames and Series


def test_infer_dataframe_maps_numpy_dtypes() -> None:
    df = pd.DataFrame(
        {
            "b": [True],
            "i8": np.array([1], dtype="int8"),
            "u16": np.array([1], dtype="uint16"),
            "i32": np.array([1], dtype="int32"),
            "u32": np.array([1], dtype="uint32"),
            "i64": [1],
            "f16": np.array([1], dtype="float16"),
            "f32": np.array([1], dtype="float32"),
            "f64": [1.0],
            "s": ["x"],
            "raw": [b"x"],
            "d": pd.to_datetime(["2020-01-01"]),
        }
    )
    types = [spec.type.name for spec in infer_schema(df).inputs]
    assert types == [
        "boolean",
        "integer",
        "integer",
        "integer",
        "long",
        "long",
        "float",
        "float",
        "double",
        "string",
        "binary",
        "datetime",
    ]


def test_infer_dataframe_marks_columns_with_missing_values_optional() -> None:
    df = pd.DataFrame(
        {
            "f": [1.0, np.nan],
            "s": ["a", None],
            "d": pd.to_datetime(["2020-01-01", None]),
            "full": [1, 2],
        }
    )
    schema = infer_schema(df)
    assert [s.required for s in schema.inputs] == [False, False, False, True]


def test_infer_nullable_extension_dtypes_become_optional_columns() -> None:
    df = pd.DataFrame(
        {
            "i": pd.array([1, None], dtype="Int64"),
            "i32": pd.array([1, None], dtype="Int32"),
            "b": pd.array([True, None], dtype="boolean"),
            "f": pd.array([1.5, None], dtype="Float64"),
            "full": pd.array([1, 2], dtype="Int64"),
        }
    )
    assert infer_schema(df) == Schema(
        [
            ColSpec("long", "i", required=False),
            ColSpec("integer", "i32", required=False),
            ColSpec("boolean", "b", required=False),
            ColSpec("double", "f", required=False),
            ColSpec("long", "full"),
        ]
    )


def test_infer_object_columns_by_value() -> None:
    df = pd.DataFrame(
        {
            "ids": [[1, 2], [3]],
            "obj": [{"a": 1, "b": "x"}, {"a": 2}],
            "mixed_num": pd.Series([1, 2.5], dtype=object),
        }
    )
    schema = infer_schema(df)
    assert schema.inputs[0] == ColSpec(Array("long"), "ids")
    assert schema.inputs[1] == ColSpec(
        Object([Property("a", "long"), Property("b", "string", required=False)]), "obj"
    )
    assert schema.inputs[2].type is DataType.double


def test_infer_categorical_of_strings_is_string() -> None:
    df = pd.DataFrame({"c": pd.Categorical(["a", "b", "a"])})
    assert infer_schema(df).inputs[0] == ColSpec("string", "c")


def test_infer_series_gives_one_colspec_named_after_it() -> None:
    assert infer_schema(pd.Series([1.0], name="x")) == Schema([ColSpec("double", "x")])
    assert infer_schema(pd.Series([1, 2])) == Schema([ColSpec("long")])


def test_infer_dataframe_with_range_index_columns_uses_int_names() -> None:
    schema = infer_schema(pd.DataFrame([[1, 2.0]]))
    assert schema.input_names() == [0, 1]
    assert schema.to_json().startswith('[{"type": "long", "name": 0, "required": true}')


# ---------------------------------------------------------------- errors instead of fallbacks


def test_infer_uint64_raises_naming_column_and_dtype() -> None:
    df = pd.DataFrame({"count": np.array([1], dtype="uint64")})
    with pytest.raises(SignatureError, match=r"column 'count': dtype uint64 .*astype\('int64'\)"):
        infer_schema(df)


def test_infer_mixed_types_raise_naming_column() -> None:
    df = pd.DataFrame({"m": pd.Series([1, "a"], dtype=object)})
    with pytest.raises(SignatureError, match=r"column 'm' \(dtype object\) mixes .*long.*string"):
        infer_schema(df)


def test_infer_timezone_aware_datetime_raises_with_fix() -> None:
    df = pd.DataFrame({"t": pd.to_datetime(["2020-01-01"]).tz_localize("UTC")})
    with pytest.raises(SignatureError, match=r"column 't'.*tz_convert\(None\)"):
        infer_schema(df)


def test_infer_categorical_of_ints_raises() -> None:
    df = pd.DataFrame({"c": pd.Categorical([1, 2])})
    with pytest.raises(SignatureError, match=r"column 'c': a categorical column"):
        infer_schema(df)


def test_infer_timedelta_raises_with_fix() -> None:
    df = pd.DataFrame({"dt": pd.to_timedelta([1], unit="s")})
    with pytest.raises(SignatureError, match="total_seconds"):
        infer_schema(df)


def test_infer_signature_names_the_failing_part() -> None:
    bad = pd.DataFrame({"u": np.array([1], dtype="uint64")})
    with pytest.raises(SignatureError, match=r"^model_output: column 'u'"):
        infer_signature(pd.DataFrame({"x": [1.0]}), bad)


def test_infer_int_columns_emit_no_warning() -> None:
    # MLflow warns about missing values whenever it infers an integer column
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        infer_signature(pd.DataFrame({"a": [1, 2]}), np.array([0, 1]))
    assert caught == []


def test_infer_list_cells_holding_none_make_the_column_optional() -> None:
    schema = infer_schema(pd.DataFrame({"ids": [[1, None], [2]]}))
    assert schema.inputs[0] == ColSpec(Array("long"), "ids", required=False)


def test_infer_int_and_float_values_merge_to_double() -> None:
    schema = infer_schema({"x": [1, 2.5]})
    assert schema.inputs[0] == ColSpec(Array("double"), "x")


# ---------------------------------------------------------------- arrays, dicts, lists, scalars


def test_infer_ndarray_sets_first_dim_variable() -> None:
    schema = infer_schema(np.zeros((4, 3, 2), dtype="float32"))
    assert schema == Schema([TensorSpec(np.dtype("float32"), (-1, 3, 2))])


def test_infer_ndarray_strips_string_size() -> None:
    assert infer_schema(np.array(["ab", "c"])).inputs[0].type == np.dtype(str)
    assert infer_schema(np.array([b"ab"])).inputs[0].type == np.dtype(bytes)


def test_infer_zero_dim_array_raises() -> None:
    with pytest.raises(SignatureError, match="0-D"):
        infer_schema(np.array(1.0))


def test_infer_dict_of_ndarrays_gives_named_tensors() -> None:
    schema = infer_schema({"a": np.zeros((2, 3)), "b": np.zeros(2, dtype="int64")})
    assert schema == Schema(
        [
            TensorSpec(np.dtype("float64"), (-1, 3), "a"),
            TensorSpec(np.dtype("int64"), (-1,), "b"),
        ]
    )


def test_infer_json_like_dict_gives_one_colspec_per_key() -> None:
    schema = infer_schema({"n": 1, "f": 1.5, "s": "x", "l": ["a"], "o": {"k": 1}, "z": None})
    assert schema == Schema(
        [
            ColSpec("long", "n"),
            ColSpec("double", "f"),
            ColSpec("string", "s"),
            ColSpec(Array("string"), "l"),
            ColSpec(Object([Property("k", "long")]), "o"),
            ColSpec(AnyType(), "z", required=False),
        ]
    )


def test_infer_records_mark_keys_missing_somewhere_optional() -> None:
    schema = infer_schema([{"a": 1, "b": "x"}, {"a": 2, "b": None}, {"a": 3}])
    assert schema == Schema([ColSpec("long", "a"), ColSpec("string", "b", required=False)])


def test_infer_scalars_and_lists_give_one_unnamed_column() -> None:
    assert infer_schema([1.0, 2.0]) == Schema([ColSpec("double")])
    assert infer_schema("text") == Schema([ColSpec("string")])
    assert infer_schema([]) == Schema([ColSpec("string")])
    assert infer_schema(datetime.date(2020, 1, 1)) == Schema([ColSpec("datetime")])


def test_infer_unsupported_value_raises() -> None:
    with pytest.raises(SignatureError, match="values of type complex"):
        infer_schema([1j])
    with pytest.raises(SignatureError, match="None"):
        infer_schema(None)


def test_infer_torch_tensor_when_torch_is_imported() -> None:
    torch = pytest.importorskip("torch")
    assert "torch" in sys.modules
    schema = infer_schema(torch.zeros(2, 3))
    assert schema == Schema([TensorSpec(np.dtype("float32"), (-1, 3))])
    named = infer_schema({"x": torch.zeros(2, dtype=torch.int64)})
    assert named == Schema([TensorSpec(np.dtype("int64"), (-1,), "x")])


# ---------------------------------------------------------------- outputs and signature


def test_infer_output_1d_array_is_a_colspec_for_column_inputs() -> None:
    schema = infer_output_schema(np.array([1, 0]), column_input=True)
    assert schema.to_json() == '[{"type": "long", "required": true}]'
    tensor = infer_output_schema(np.array([1, 0]), column_input=False)
    assert tensor == Schema([TensorSpec(np.dtype("int64"), (-1,))])


def test_infer_signature_direct_call_gives_tensor_output() -> None:
    signature = infer_signature(pd.DataFrame({"a": [1]}), np.array([1, 0]))
    assert signature.outputs == Schema([TensorSpec(np.dtype("int64"), (-1,))])
    assert signature.params is None


def test_infer_signature_needs_something() -> None:
    with pytest.raises(SignatureError, match="at least one"):
        infer_signature()


def test_infer_signature_with_params() -> None:
    signature = infer_signature({"q": "x"}, params={"k": 3})
    assert isinstance(signature, ModelSignature)
    assert isinstance(signature.params, ParamSchema)
    assert signature.params.params[0].dtype is DataType.long


def test_infer_params_schema_rejects_unusable_values() -> None:
    with pytest.raises(SignatureError, match=r"param 'b'.*binary"):
        infer_params_schema({"b": b"x"})
    with pytest.raises(SignatureError, match=r"param 'l'.*1-D"):
        infer_params_schema({"l": [[1, 2]]})
    with pytest.raises(SignatureError, match="param 'n'"):
        infer_params_schema({"n": None})


def test_infer_params_schema_refuses_empty_lists() -> None:
    # MLflow infers a `datetime` list with default [] from an empty list
    with pytest.raises(SignatureError, match=r"param 'e'.*non-empty") as info:
        infer_params_schema({"e": []})
    assert "datetime" not in str(info.value)
    with pytest.raises(SignatureError, match=r"param 'e'"):
        infer_signature(params={"e": np.array([], dtype="int64")})


# ---------------------------------------------------------------- infer, then enforce


@PROPERTY_SETTINGS
@given(st.data())
def test_infer_then_enforce_succeeds_for_generated_frames_and_arrays(data: st.DataObject) -> None:
    schema = data.draw(schemas(allow_any=False))
    example = data.draw(data_for_schema(schema))
    if isinstance(example, pd.DataFrame) and example.shape[1] == 0:
        return  # every (optional) column was left out: nothing to infer from
    signature = infer_signature(example)
    out = enforce_schema(example, signature.inputs)
    assert len(out) == len(example)


json_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(2**53), 2**53),
        st.floats(allow_nan=False),
        st.text(max_size=5),
    ),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.text(min_size=1, max_size=3), children, min_size=1, max_size=3)
    ),
    max_leaves=5,
)


@PROPERTY_SETTINGS
@given(st.dictionaries(st.text(min_size=1, max_size=5), json_values, min_size=1, max_size=4))
def test_infer_then_enforce_succeeds_for_json_like_dicts(example: dict) -> None:
    try:
        signature = infer_signature(example)
    except SignatureError as exc:
        # a value mixing types (e.g. [True, "a"]) is refused loudly, never typed as Any
        assert "mixes values" in str(exc)
        return
    try:
        out = enforce_schema(example, signature.inputs)
    except SchemaEnforcementError as exc:
        # a missing item in a list of booleans, strings or bytes has no value of that type:
        # refused, where converting would make it False or text
        assert "a missing item in array<" in str(exc)
        return
    assert len(out) >= 1
