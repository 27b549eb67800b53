"""The signature type system: MLflow's JSON, validation and the helper methods."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import flavorkit
import numpy as np
import pandas as pd
import pytest
from flavorkit import (
    AnyType,
    Array,
    ColSpec,
    DataType,
    Map,
    ModelSignature,
    Object,
    ParamSchema,
    ParamSpec,
    Property,
    Schema,
    TensorSpec,
)
from flavorkit.exceptions import SignatureError
from flavorkit.signature import SparkMLVector
from flavorkit.signature._exact import (
    INT_BOUNDS,
    exact_cast,
    int_fits,
    is_none,
    is_null,
    lossy_mask,
    not_whole,
    outside_int,
    too_large_for_float,
    value_fits,
)
from flavorkit.testing.strategies import schemas
from hypothesis import HealthCheck, given, settings

PROPERTY_SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


# ---------------------------------------------------------------- DataType


@pytest.mark.parametrize(
    ("dtype", "numpy_name", "python_type"),
    [
        (DataType.boolean, "bool", bool),
        (DataType.integer, "int32", int),
        (DataType.long, "int64", int),
        (DataType.float, "float32", float),
        (DataType.double, "float64", float),
        (DataType.string, "str", str),
        (DataType.binary, "bytes", bytes),
        (DataType.datetime, "datetime64[ns]", __import__("datetime").date),
    ],
)
def test_datatype_maps_to_numpy_pandas_python(
    dtype: DataType, numpy_name: str, python_type: type
) -> None:
    assert dtype.to_numpy() == np.dtype(numpy_name)
    assert dtype.to_python() is python_type
    expected_pandas = (
        object if dtype in (DataType.string, DataType.binary) else np.dtype(numpy_name)
    )
    assert dtype.to_pandas() == expected_pandas


def test_datatype_repr_is_the_json_name() -> None:
    assert repr(DataType.double) == "double"
    assert [t.name for t in DataType.all_types()][:3] == ["boolean", "integer", "long"]


# ---------------------------------------------------------------- JSON, exactly MLflow's


def test_colspec_json_writes_required_always() -> None:
    schema = Schema([ColSpec("integer", "a"), ColSpec(DataType.double, "b", required=False)])
    assert schema.to_json() == (
        '[{"type": "integer", "name": "a", "required": true}, '
        '{"type": "double", "name": "b", "required": false}]'
    )


def test_colspec_json_leaves_out_name_when_unnamed() -> None:
    assert Schema([ColSpec("long")]).to_json() == '[{"type": "long", "required": true}]'


def test_complex_colspec_json_matches_mlflow_shapes() -> None:
    specs = [
        ColSpec(Array("long"), "ids"),
        ColSpec(Object([Property("k", "string")]), "d"),
        ColSpec(Map("double"), "m"),
        ColSpec(AnyType(), "x", required=False),
        ColSpec(SparkMLVector(), "features"),
    ]
    assert [s.to_dict() for s in specs] == [
        {"type": "array", "items": {"type": "long"}, "name": "ids", "required": True},
        {
            "type": "object",
            "properties": {"k": {"type": "string", "required": True}},
            "name": "d",
            "required": True,
        },
        {"type": "map", "values": {"type": "double"}, "name": "m", "required": True},
        {"type": "any", "name": "x", "required": False},
        {"type": "sparkml_vector", "name": "features", "required": True},
    ]


def test_object_properties_are_sorted_by_name() -> None:
    obj = Object([Property("z", "long"), Property("a", "string", required=False)])
    assert [p.name for p in obj.properties] == ["a", "z"]
    assert list(obj.to_dict()["properties"]) == ["a", "z"]


def test_tensorspec_json_uses_hyphenated_key_and_dtype_name() -> None:
    unnamed = TensorSpec(np.dtype("float32"), (-1, 3))
    named = TensorSpec(np.dtype("float64"), [-1, 3], "a")
    assert json.dumps(unnamed.to_dict()) == (
        '{"type": "tensor", "tensor-spec": {"dtype": "float32", "shape": [-1, 3]}}'
    )
    assert json.dumps(named.to_dict()) == (
        '{"name": "a", "type": "tensor", "tensor-spec": {"dtype": "float64", "shape": [-1, 3]}}'
    )
    assert TensorSpec(np.dtype(str), (-1,)).to_dict()["tensor-spec"]["dtype"] == "str"


def test_schema_from_json_reads_missing_required_as_true() -> None:
    schema = Schema.from_json('[{"type": "double", "name": "x"}]')
    assert schema.inputs[0].required is True


def test_schema_from_json_reads_missing_required_of_complex_type_as_true() -> None:
    # MLflow passes None through (which then acts as optional); flavorkit reads True
    schema = Schema.from_json('[{"type": "array", "items": {"type": "long"}, "name": "a"}]')
    assert schema.inputs[0].required is True


def test_schema_from_json_reads_sparkml_vector() -> None:
    schema = Schema.from_json('[{"type": "sparkml_vector", "name": "f", "required": true}]')
    assert schema.inputs[0].type == SparkMLVector()
    assert schema.to_json() == '[{"type": "sparkml_vector", "name": "f", "required": true}]'


def test_schema_from_json_rejects_the_optional_key() -> None:
    with pytest.raises(SignatureError, match="optional"):
        Schema.from_json('[{"type": "double", "name": "x", "optional": true}]')


def test_schema_from_json_rejects_unknown_type_naming_the_column() -> None:
    with pytest.raises(SignatureError, match=r"column 'x'.*'decimal'"):
        Schema.from_json('[{"type": "decimal", "name": "x", "required": true}]')


def test_schema_from_json_rejects_invalid_json() -> None:
    with pytest.raises(SignatureError, match="invalid JSON"):
        Schema.from_json("[{")


def test_schema_from_json_rejects_tensor_without_shape() -> None:
    with pytest.raises(SignatureError, match="'dtype' and 'shape'"):
        Schema.from_json('[{"type": "tensor", "tensor-spec": {"dtype": "float32"}}]')


@PROPERTY_SETTINGS
@given(schemas())
def test_schema_json_round_trip_is_exact(schema: Schema) -> None:
    text = schema.to_json()
    again = Schema.from_json(text)
    assert again == schema
    assert again.to_json() == text


# ---------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        ([], "must not be empty"),
        ([ColSpec("long", "a"), TensorSpec(np.dtype("int64"), (-1,), "b")], "not a mix"),
        ([ColSpec("long", "a"), ColSpec("long")], "all present or all absent"),
        (
            [TensorSpec(np.dtype("int64"), (-1,)), TensorSpec(np.dtype("int64"), (-1,))],
            "several unnamed TensorSpecs",
        ),
        ([ColSpec("long", required=False)], "cannot be optional"),
        ([ColSpec("long", "a"), ColSpec("double", "a")], r"duplicated input names \['a'\]"),
    ],
)
def test_schema_rejects_invalid_inputs(inputs: list, message: str) -> None:
    with pytest.raises(SignatureError, match=message):
        Schema(inputs)


def test_colspec_rejects_unknown_type_name() -> None:
    with pytest.raises(SignatureError, match=r"ColSpec 'a': unsupported type 'float64'"):
        ColSpec("float64", "a")


def test_colspec_rejects_non_bool_required() -> None:
    with pytest.raises(SignatureError, match="'required' must be true or false"):
        ColSpec("long", "a", required="yes")  # type: ignore[arg-type]


def test_tensorspec_rejects_sized_flexible_dtype() -> None:
    with pytest.raises(SignatureError, match=r"np.dtype\('str'\)"):
        TensorSpec(np.dtype("U5"), (-1,))


def test_tensorspec_rejects_bad_shape() -> None:
    with pytest.raises(SignatureError, match="ints >= -1"):
        TensorSpec(np.dtype("float32"), (-1, -2))


def test_tensorspec_accepts_dtype_names() -> None:
    assert TensorSpec("float32", (-1, 2)).type == np.dtype("float32")
    assert TensorSpec(np.float64, (-1,)).type == np.dtype("float64")


def test_object_rejects_empty_and_duplicated_properties() -> None:
    with pytest.raises(SignatureError, match="must not be empty"):
        Object([])
    with pytest.raises(SignatureError, match=r"duplicated property names \['a'\]"):
        Object([Property("a", "long"), Property("a", "string")])


# ---------------------------------------------------------------- helpers


def test_schema_input_name_helpers() -> None:
    schema = Schema([ColSpec("long", "a"), ColSpec("string", "b", required=False)])
    assert schema.has_input_names()
    assert not schema.is_tensor_spec()
    assert schema.input_names() == ["a", "b"]
    assert schema.required_input_names() == ["a"]
    assert schema.optional_input_names() == ["b"]
    assert schema.input_types() == [DataType.long, DataType.string]
    assert schema.numpy_types() == [np.dtype("int64"), np.dtype("str")]
    assert len(schema) == 2
    assert [s.name for s in schema] == ["a", "b"]
    assert repr(schema) == "['a': long (required), 'b': string (optional)]"


def test_schema_unnamed_input_names_are_positions() -> None:
    schema = Schema([ColSpec("long"), ColSpec("double")])
    assert not schema.has_input_names()
    assert schema.input_names() == [0, 1]


def test_schema_numpy_types_of_tensors_and_complex_columns() -> None:
    assert Schema([TensorSpec("int8", (-1,), "t")]).numpy_types() == [np.dtype("int8")]
    with pytest.raises(SignatureError, match="scalar DataType"):
        Schema([ColSpec(Array("long"), "a")]).numpy_types()


def test_schema_to_table_renders_columns() -> None:
    schema = Schema(
        [
            ColSpec("double", "x"),
            ColSpec(Array("long"), "ids", required=False),
            ColSpec(Object([Property("k", "string"), Property("n", "long", False)]), "o"),
        ]
    )
    assert schema.to_table().splitlines() == [
        "name  type                         required",
        "x     double                       yes",
        "ids   array<long>                  no",
        "o     object{k: string, n?: long}  yes",
    ]


def test_schema_to_table_renders_tensors() -> None:
    table = Schema([TensorSpec("float32", (-1, 28, 28))]).to_table()
    assert table.splitlines() == ["name  dtype    shape", "[0]   float32  [-1, 28, 28]"]


# ---------------------------------------------------------------- ModelSignature


def test_signature_to_dict_matches_mlflow_example() -> None:
    signature = ModelSignature(
        Schema([ColSpec("integer", "a"), ColSpec("double", "b")]), Schema([ColSpec("long")])
    )
    assert signature.to_dict() == {
        "inputs": '[{"type": "integer", "name": "a", "required": true}, '
        '{"type": "double", "name": "b", "required": true}]',
        "outputs": '[{"type": "long", "required": true}]',
        "params": None,
    }


def test_signature_from_dict_round_trips_with_params() -> None:
    signature = ModelSignature(
        inputs=Schema([TensorSpec("float32", (-1, 3))]),
        params=ParamSchema([ParamSpec("temp", "double", 0.5)]),
    )
    again = ModelSignature.from_dict(signature.to_dict())
    assert again == signature
    assert again.outputs is None


def test_signature_writes_null_for_empty_params() -> None:
    signature = ModelSignature(Schema([ColSpec("long")]), params=ParamSchema([]))
    assert signature.to_dict()["params"] is None


def test_signature_needs_at_least_one_part() -> None:
    with pytest.raises(SignatureError, match="at least one"):
        ModelSignature()


def test_signature_from_dict_names_the_broken_part() -> None:
    with pytest.raises(SignatureError, match=r"signature\.outputs: .*invalid JSON"):
        ModelSignature.from_dict({"inputs": '[{"type": "long"}]', "outputs": "[oops"})


def test_signature_to_table_lists_each_part() -> None:
    table = ModelSignature(
        Schema([ColSpec("double", "x")]), params=ParamSchema([ParamSpec("k", "long", 3)])
    ).to_table()
    assert table.splitlines()[0] == "inputs:"
    assert "params:" in table
    assert "k     long  3        scalar" in table


# ---------------------------------------------------------------- exactness and nulls


@pytest.mark.parametrize(
    ("t", "inside", "outside"),
    [
        (DataType.integer, [-(2**31), 2**31 - 1], [-(2**31) - 1, 2**31]),
        (DataType.long, [-(2**63), 2**63 - 1], [-(2**63) - 1, 2**63]),
        (DataType.float, [-(2**24), 2**24], [2**24 + 1, -(2**24) - 1]),
        (DataType.double, [-(2**53), 2**53], [2**53 + 1, -(2**53) - 1]),
    ],
)
def test_exact_int_bounds_are_one_rule_for_values_and_arrays(
    t: DataType, inside: list[int], outside: list[int]
) -> None:
    for n in inside:
        assert int_fits(n, t)
        assert value_fits(n, t)
    for n in outside:
        assert not int_fits(n, t)
        assert not value_fits(n, t)
    if t in INT_BOUNDS:
        assert outside_int(np.array(inside), t).tolist() == [False, False]
        lo, hi = float(inside[0]), float(inside[1] + 1)  # the float edges, both exact
        edges = np.array([lo, np.nextafter(hi, 0), np.nextafter(lo, -np.inf), hi])
        assert outside_int(edges, t).tolist() == [False, False, True, True]
    else:
        big = np.array(inside + outside[:1], dtype=np.int64)
        assert too_large_for_float(big, t).tolist() == [False, False, True]
        assert lossy_mask(big, t.to_numpy()).tolist() == [False, False, True]


def test_exact_lossy_mask_compares_integers_by_range_not_by_wrap_around() -> None:
    # uint64 2**63 wraps to int64 -2**63 and back to 2**63: a round trip alone misses it
    values = np.array([1, 2**63], dtype=np.uint64)
    assert lossy_mask(values, np.dtype("int64")).tolist() == [False, True]
    assert exact_cast(values, np.dtype("int64")) is None
    assert exact_cast(values[:1], np.dtype("int64")).dtype == np.dtype("int64")


def test_exact_lossy_mask_of_floats() -> None:
    values = np.array([1.0, 2.5, np.nan, np.inf, 1e40])
    assert lossy_mask(values, np.dtype("int64")).tolist() == [False, True, True, True, True]
    assert lossy_mask(values, np.dtype("float32")).tolist() == [False, False, False, False, True]
    # decimal text read at float32 precision: only overflow counts
    tenth = np.array([0.1, 1e40])
    assert lossy_mask(tenth, np.dtype("float32")).tolist() == [True, True]
    assert lossy_mask(tenth, np.dtype("float32"), round_floats=True).tolist() == [False, True]
    assert not_whole(values).tolist() == [False, True, False, False, False]


def test_exact_nulls() -> None:
    for v in (None, pd.NA, pd.NaT):
        assert is_none(v)
        assert is_null(v)
    assert is_null(float("nan"))
    assert not is_none(float("nan"))  # NaN inside a list is a float like any other
    for v in (0, "", 0.0, [], np.datetime64("2024-01-01")):
        assert not is_null(v)


# ---------------------------------------------------------------- import weight


def test_schema_modules_import_without_numpy_pandas_or_hypothesis() -> None:
    modules = [
        f"flavorkit.{pkg}.{path.stem}"
        for pkg in ("signature", "enforce")
        for path in sorted((_CORE / pkg).glob("*.py"))
        if path.stem != "__init__"
    ]
    code = (
        f"import sys, flavorkit.testing, {', '.join(modules)}\n"
        "heavy = [m for m in ('numpy', 'pandas', 'hypothesis') if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


# ---------------------------------------------------------------- module layout

_CORE = Path(flavorkit.__file__).parent


def _flavorkit_imports(path: Path) -> set[str]:
    """The flavorkit modules ``path`` imports anywhere, function-level imports included."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("flavorkit"))
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module == "flavorkit":
                found.update(f"flavorkit.{a.name}" for a in node.names)
            elif node.module.startswith("flavorkit."):
                found.add(node.module)
    return found


@pytest.mark.parametrize(
    ("package", "allowed"),
    [
        # _lazy: the inference functions are exported lazily (loading never needs them)
        ("signature", ("flavorkit.exceptions", "flavorkit._lazy", "flavorkit.signature")),
        ("enforce", ("flavorkit.exceptions", "flavorkit.signature", "flavorkit.enforce")),
    ],
)
def test_schema_layer_imports_only_the_layers_below(package: str, allowed: tuple[str, ...]) -> None:
    paths = sorted((_CORE / package).glob("*.py"))
    assert paths
    for path in paths:
        outside = {
            m
            for m in _flavorkit_imports(path)
            if not any(m == a or m.startswith(a + ".") for a in allowed)
        }
        assert not outside, f"{package}/{path.name} imports {sorted(outside)}"


def test_schema_enforce_rules_do_not_import_their_entry_point() -> None:
    for name in ("_columns", "_tensors", "_params", "_values", "_plan"):
        imports = _flavorkit_imports(_CORE / "enforce" / f"{name}.py")
        assert not imports & {"flavorkit.enforce", "flavorkit.enforce._schema"}, name


@pytest.mark.parametrize(
    "first",
    ["flavorkit.signature._params", "flavorkit.signature._signature", "flavorkit.enforce._columns"],
)
def test_schema_signature_modules_import_in_either_order(first: str) -> None:
    code = (
        f"import {first}\n"
        "from flavorkit.signature import ModelSignature, ParamSchema, ParamSpec\n"
        "from flavorkit.enforce import enforce_params, enforce_schema\n"
        "print(ModelSignature(params=ParamSchema([ParamSpec('k', 'long', 1)])).to_dict())\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert '\'params\': \'[{"name": "k"' in out.stdout
