"""Hypothesis strategies built from signatures, for property tests of flavors.

The conformance kit and flavor plugins use these to test the predict
contract against many signatures at once:

- :func:`schemas` draws random :class:`~flavorkit.Schema` objects (column or
  tensor based, named or not, optional columns, Array/Object/Map/Any types);
- :func:`data_for_schema` draws input that conforms to a schema (a DataFrame
  for a column schema, an ndarray or a dict of ndarrays for a tensor schema);
- :func:`param_schemas` and :func:`params_for_schema` do the same for params;
- :func:`mutations` turns conforming input into input that enforcement must
  reject (missing required column, lossy dtype, wrong rank, wrong fixed
  dimension, wrong tensor dtype, missing tensor, wrongly typed param), each a
  :class:`Mutation` that names the field the error must name;
- :func:`folder_mutations` draws hostile edits of a saved model folder
  (files truncated, bit-flipped, replaced by links, FIFOs or folders;
  ``MLmodel`` and JSON values retyped, nested, bloated, deleted, swapped),
  for loaders that must refuse them cleanly.

Example::

    from hypothesis import given, strategies as st
    from flavorkit.testing.strategies import data_for_schema, schemas

    @given(st.data())
    def test_predict_accepts_conforming_input(data):
        schema = data.draw(schemas(kind="column"))
        frame = data.draw(data_for_schema(schema))
        ...

This is the only flavorkit module that imports hypothesis (the ``testing``
extra).
"""

from __future__ import annotations

import datetime
from typing import Any

import numpy as np
import pandas as pd
from hypothesis import reject
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from flavorkit.signature import (
    AnyType,
    Array,
    ColSpec,
    DataType,
    Map,
    Object,
    ParamSchema,
    ParamSpec,
    Property,
    Schema,
    SparkMLVector,
    TensorSpec,
)
from flavorkit.testing._hostile import FolderMutation, FolderShape, plan_mutations

__all__ = [
    "MUTATION_KINDS",
    "Mutation",
    "col_types",
    "data_for_schema",
    "data_types",
    "folder_mutations",
    "mutations",
    "param_schemas",
    "params_for_schema",
    "schemas",
    "tensor_dtypes",
]

# tensor dtypes drawn by `schemas`; object is left out because an object vector accepts anything
TENSOR_DTYPES = (
    "bool",
    "int8",
    "int16",
    "int32",
    "int64",
    "uint8",
    "float16",
    "float32",
    "float64",
    "str",
    "bytes",
    "datetime64[ns]",
)
MUTATION_KINDS = (
    "missing column",
    "lossy dtype",
    "wrong cell",
    "wrong rank",
    "wrong dim",
    "wrong tensor dtype",
    "missing tensor",
    "wrong param type",
)
_NAMES = st.text(min_size=1, max_size=8)
# column labels: mostly strings, sometimes integers (DataFrames with a RangeIndex header)
_LABELS = st.one_of(_NAMES, _NAMES, st.integers(0, 50))
_DATETIMES = st.datetimes(datetime.datetime(1800, 1, 1), datetime.datetime(2200, 1, 1))
# the dates datetime64[ns] holds: the items of an array<datetime> cell come as such an array
_NS_DATETIMES = st.datetimes(datetime.datetime(1678, 1, 1), datetime.datetime(2261, 12, 31))


class Mutation(tuple):  # type: ignore[type-arg]
    """A ``(description, mutated_data)`` pair that enforcement must reject.

    ``field`` is the column, tensor or param the error must name (``"[i]"``
    for unnamed inputs), as in ``SchemaEnforcementError.field``; ``kind`` is
    one of :data:`MUTATION_KINDS`.
    """

    field: str
    kind: str

    def __new__(cls, description: str, data: Any, field: str, kind: str) -> Mutation:
        self = super().__new__(cls, (description, data))
        self.field = field
        self.kind = kind
        return self

    @property
    def description(self) -> str:
        """What was broken, e.g. ``"missing required column 'b'"``."""
        return self[0]  # type: ignore[no-any-return]

    @property
    def data(self) -> Any:
        """The broken input."""
        return self[1]


def data_types(*, exclude: tuple[DataType, ...] = ()) -> st.SearchStrategy[DataType]:
    """Draw scalar DataTypes (all eight unless excluded)."""
    return st.sampled_from([t for t in DataType if t not in exclude])


def col_types(
    *, max_leaves: int = 4, json_only: bool = False, allow_any: bool = True
) -> st.SearchStrategy[Any]:
    """Draw column types: DataTypes, AnyType and nested Array/Object/Map/SparkMLVector.

    ``json_only`` keeps to types whose values are plain JSON (for Object params);
    ``allow_any=False`` leaves out AnyType (whose values may mix types).
    """
    if json_only:
        leaves: st.SearchStrategy[Any] = data_types(exclude=(DataType.binary, DataType.datetime))
    else:
        extra = [st.just(AnyType())] if allow_any else []
        leaves = st.one_of(data_types(), st.just(SparkMLVector()), *extra)

    def extend(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
        props = st.lists(
            st.tuples(_NAMES, children, st.booleans()),
            min_size=1,
            max_size=3,
            unique_by=lambda p: p[0],
        )
        return st.one_of(
            children.map(Array),
            children.map(Map),
            props.map(lambda ps: Object([Property(n, t, r) for n, t, r in ps])),
        )

    return st.recursive(leaves, extend, max_leaves=max_leaves)


def tensor_dtypes() -> st.SearchStrategy[np.dtype]:
    """Draw the numpy dtypes TensorSpecs are generated with."""
    return st.sampled_from([np.dtype(d) for d in TENSOR_DTYPES])


def schemas(
    *,
    kind: str | None = None,
    max_inputs: int = 4,
    allow_optional: bool = True,
    allow_complex: bool = True,
    allow_any: bool = True,
) -> st.SearchStrategy[Schema]:
    """Draw Schemas; ``kind`` is ``"column"``, ``"tensor"`` or None for both.

    Column schemas are named (strings or ints) or unnamed; named ones may
    have optional columns. Tensor schemas have 1-3 dims, mostly a -1 batch
    dim and a mix of -1 and fixed inner dims.
    """
    column = _column_schemas(max_inputs, allow_optional, allow_complex, allow_any)
    tensor = _tensor_schemas(max_inputs)
    if kind == "column":
        return column
    if kind == "tensor":
        return tensor
    return st.one_of(column, tensor)


@st.composite
def _column_schemas(
    draw: Any, max_inputs: int, allow_optional: bool, allow_complex: bool, allow_any: bool
) -> Schema:
    n = draw(st.integers(1, max_inputs))
    # scalar columns as often as complex ones: they carry most of the dtype rules
    types = (
        st.one_of(data_types(), col_types(allow_any=allow_any)) if allow_complex else data_types()
    )
    if draw(st.booleans()):
        names = draw(st.lists(_LABELS, min_size=n, max_size=n, unique_by=str))
        optional = st.booleans() if allow_optional else st.just(True)
        return Schema([ColSpec(draw(types), name, draw(optional)) for name in names])
    return Schema([ColSpec(draw(types)) for _ in range(n)])


@st.composite
def _tensor_schemas(draw: Any, max_inputs: int) -> Schema:
    n = draw(st.integers(1, max_inputs))
    names = draw(st.lists(_NAMES, min_size=n, max_size=n, unique=True))
    if n == 1 and draw(st.booleans()):
        names = [None]
    specs = []
    for name in names:
        rank = draw(st.integers(1, 3))
        first = draw(st.sampled_from([-1, -1, -1, 1, 2]))
        rest = draw(st.lists(st.sampled_from([-1, 1, 2, 3]), min_size=rank - 1, max_size=rank - 1))
        specs.append(TensorSpec(draw(tensor_dtypes()), (first, *rest), name))
    return Schema(specs)


def data_for_schema(
    schema: Schema, *, min_rows: int = 1, max_rows: int = 5, nulls: bool = True
) -> st.SearchStrategy[Any]:
    """Draw input that conforms to ``schema``.

    Column schemas give a DataFrame with the declared dtypes (named columns
    in a random order, optional columns sometimes left out, and with
    ``nulls`` missing values in optional columns: NaN, None, NaT or pandas
    NA in nullable Int/boolean columns). Tensor schemas give an ndarray
    (unnamed) or a dict of name -> ndarray, each -1 dim of size 1-3.
    """
    if schema.is_tensor_spec():
        return _tensor_data(schema)
    return _frame_data(schema, min_rows, max_rows, nulls)


@st.composite
def _tensor_data(draw: Any, schema: Schema) -> Any:
    arrays = {}
    for spec in schema.inputs:
        shape = tuple(draw(st.integers(1, 3)) if d == -1 else d for d in spec.shape)
        dtype = {"U": np.dtype("U6"), "S": np.dtype("S6")}.get(spec.type.kind, spec.type)
        arrays[spec.name] = draw(hnp.arrays(dtype, shape))
    return arrays if schema.has_input_names() else arrays[None]


@st.composite
def _frame_data(draw: Any, schema: Schema, min_rows: int, max_rows: int, nulls: bool) -> Any:
    n = draw(st.integers(min_rows, max_rows))
    columns = {}
    for i, spec in enumerate(schema.inputs):
        if not spec.required and draw(st.integers(0, 3)) == 0:
            continue  # an optional column may be left out
        label = spec.name if spec.name is not None else i
        columns[label] = draw(_column(spec.type, n, nulls and not spec.required))
    order = draw(st.permutations(list(columns))) if schema.has_input_names() else list(columns)
    return pd.DataFrame({k: columns[k] for k in order}, index=pd.RangeIndex(n))


_NULLABLE = {DataType.boolean: "boolean", DataType.integer: "Int32", DataType.long: "Int64"}


@st.composite
def _column(draw: Any, t: Any, n: int, nullable: bool) -> Any:
    values = draw(st.lists(_value(t), min_size=n, max_size=n))
    missing = draw(st.lists(st.booleans(), min_size=n, max_size=n)) if nullable else [False] * n
    if isinstance(t, DataType) and t in _NULLABLE and any(missing):
        return pd.array(
            [None if m else v for v, m in zip(values, missing, strict=True)], _NULLABLE[t]
        )
    if isinstance(t, DataType) and t not in (DataType.string, DataType.binary):
        if t is DataType.datetime:
            unit = draw(st.sampled_from(["ns", "us"]))
            arr = np.array(values, dtype=f"datetime64[{unit}]")
            arr[np.array(missing, dtype=bool)] = np.datetime64("NaT")
            return arr
        arr = np.array(values, dtype=t.to_numpy())
        if t in (DataType.float, DataType.double):
            arr[np.array(missing, dtype=bool)] = np.nan
        return arr
    cells = np.empty(n, dtype=object)
    for i, (v, m) in enumerate(zip(values, missing, strict=True)):
        cells[i] = None if m else v
    if t is DataType.string and draw(st.booleans()):
        return pd.array(cells, dtype="str")  # pandas' string dtype as well as object
    return cells


def _value(t: Any, *, nan: bool = True) -> st.SearchStrategy[Any]:
    """Draw one Python value of type ``t`` (a cell of a complex column, or a param)."""
    if isinstance(t, DataType):
        return {
            DataType.boolean: st.booleans(),
            DataType.integer: st.integers(-(2**31), 2**31 - 1),
            DataType.long: st.integers(-(2**63), 2**63 - 1),
            DataType.float: st.floats(width=32, allow_nan=nan),
            DataType.double: st.floats(allow_nan=nan),
            DataType.string: st.text(max_size=6),
            DataType.binary: st.binary(max_size=6),
            DataType.datetime: _DATETIMES,
        }[t]
    if isinstance(t, AnyType):
        return st.one_of(st.none(), st.integers(-5, 5), st.text(max_size=3))
    if isinstance(t, Array):
        if t.dtype is DataType.datetime:
            # a list of datetimes is refused (converting it would give integers)
            return st.lists(_NS_DATETIMES, max_size=3).map(
                lambda v: np.array(v, dtype="datetime64[ns]")
            )
        return st.lists(_value(t.dtype, nan=nan), max_size=3)
    if isinstance(t, Map):
        return st.dictionaries(st.text(max_size=4), _value(t.value_type, nan=nan), max_size=3)
    required = {p.name: _value(p.dtype, nan=nan) for p in t.properties if p.required}
    optional = {p.name: _value(p.dtype, nan=nan) for p in t.properties if not p.required}
    return st.fixed_dictionaries(required, optional=optional)


@st.composite
def param_schemas(draw: Any, *, max_params: int = 4) -> ParamSchema:
    """Draw ParamSchemas: scalar and (-1,) list params of every allowed type, and objects."""
    names = draw(st.lists(_NAMES, max_size=max_params, unique=True))
    objects = col_types(json_only=True).filter(lambda t: isinstance(t, Object))
    specs = []
    for name in names:
        dtype = draw(st.one_of(data_types(exclude=(DataType.binary,)), objects))
        shape = draw(st.sampled_from([None, (-1,)]))
        value = _param_value(dtype)
        default = draw(st.lists(value, max_size=3) if shape else value)
        specs.append(ParamSpec(name, dtype, default, shape))
    return ParamSchema(specs)


def _param_value(dtype: Any) -> st.SearchStrategy[Any]:
    if dtype is DataType.datetime:
        return st.one_of(_DATETIMES, st.dates(datetime.date(1800, 1, 1)))
    if dtype in (DataType.float, DataType.double):
        return st.floats(allow_nan=False)
    return _value(dtype, nan=False)


@st.composite
def params_for_schema(draw: Any, param_schema: ParamSchema) -> dict[str, Any]:
    """Draw a params dict that conforms to ``param_schema`` (some params left to defaults)."""
    params = {}
    for spec in param_schema:
        if draw(st.booleans()):
            value = _param_value(spec.dtype)
            params[spec.name] = draw(st.lists(value, max_size=3) if spec.shape else value)
    return params


@st.composite
def mutations(draw: Any, schema: Schema | ParamSchema, data: Any) -> Mutation:
    """Draw one way to break ``data`` (which conforms to ``schema``) that must be rejected.

    For column schemas: a missing required column, or a column holding a
    lossy or wrong dtype (fractions for an integer, 0.1 for a float32,
    2**53 + 1 for a double, ints for a string...), or a wrongly typed complex
    cell. For tensor schemas: wrong rank, wrong fixed dimension, wrong dtype,
    missing named tensor. For a ParamSchema (``data`` a params dict): a value
    of a type the param does not accept. Rejects the draw when nothing
    applies (e.g. a schema of optional columns only).
    """
    if isinstance(schema, ParamSchema):
        options = _param_mutations(schema, data)
    elif schema.is_tensor_spec():
        options = _tensor_mutations(schema, data)
    else:
        options = _column_mutations(schema, data)
    if not options:
        reject()
    # pick the kind first, so every kind is tried about as often whatever the column count
    kind = draw(st.sampled_from(sorted({m.kind for m in options})))
    return draw(st.sampled_from([m for m in options if m.kind == kind]))


# a value enforcement must refuse for each scalar type (lossy or of the wrong kind)
_LOSSY = {
    DataType.integer: ("float64 with fractions", lambda n: np.full(n, 0.5)),
    DataType.long: ("float64 with fractions", lambda n: np.full(n, 2.5)),
    DataType.float: ("float64 not exact in float32", lambda n: np.full(n, 0.1)),
    DataType.double: ("int64 beyond 2**53", lambda n: np.full(n, 2**53 + 1, dtype=np.int64)),
    DataType.boolean: ("int64", lambda n: np.full(n, 2, dtype=np.int64)),
    DataType.string: ("object holding ints", lambda n: np.array([1] * n, dtype=object)),
    DataType.binary: ("object holding ints", lambda n: np.array([1] * n, dtype=object)),
    DataType.datetime: ("float64", lambda n: np.full(n, 1.5)),
}


def _column_mutations(schema: Schema, df: pd.DataFrame) -> list[Mutation]:
    options = []
    n = len(df)
    named = schema.has_input_names()
    if not named and df.shape[1] == len(schema):
        last = len(schema) - 1
        options.append(
            Mutation("missing the last column", df.iloc[:, :last], f"[{last}]", "missing column")
        )
    # named columns are matched by str(name), unnamed ones by position (as enforcement does)
    by_key = {str(c): c for c in df.columns}
    for i, spec in enumerate(schema.inputs):
        field = str(spec.name) if named else f"[{i}]"
        if (field not in by_key) if named else (i >= df.shape[1]):
            continue
        label = by_key[field] if named else df.columns[i]
        if named and spec.required:
            options.append(
                Mutation(
                    f"missing required column {field!r}",
                    df.drop(columns=[label]),
                    field,
                    "missing column",
                )
            )
        if n == 0:
            continue
        if isinstance(spec.type, DataType):
            what, make = _LOSSY[spec.type]
            new, kind = make(n), "lossy dtype"
        elif isinstance(spec.type, AnyType):
            continue
        else:
            what, kind = "a wrongly typed cell", "wrong cell"
            new = df[label].to_numpy(dtype=object).copy()
            new[0] = ["x"] if isinstance(spec.type, (Object, Map)) else "x"
        mutated = df.copy()
        mutated[label] = new
        options.append(
            Mutation(f"column {field!r} ({_label(spec.type)}) <- {what}", mutated, field, kind)
        )
    return options


def _label(t: Any) -> str:
    return t.name if isinstance(t, DataType) else type(t).__name__


def _other_dtype(dtype: np.dtype) -> np.dtype:
    swap = {"float64": "float32", "float32": "float64", "float16": "float32", "bool": "int8"}
    return np.dtype(swap.get(dtype.name, "float64" if dtype.kind in "iu" else "int64"))


def _tensor_mutations(schema: Schema, data: Any) -> list[Mutation]:
    named = schema.has_input_names()
    arrays = data if named else {None: data}
    options = []
    for spec in schema.inputs:
        field = str(spec.name) if named else "[0]"
        arr = arrays[spec.name]

        def put(new: Any, name: Any = spec.name) -> Any:
            return {**arrays, name: new} if named else new

        options.append(
            Mutation(
                f"tensor {field!r} of the wrong rank", put(arr[..., None]), field, "wrong rank"
            )
        )
        for k, d in enumerate(spec.shape):
            if d != -1:
                shape = list(arr.shape)
                shape[k] = d + 1
                bad = np.zeros(shape, dtype=arr.dtype)
                options.append(
                    Mutation(f"tensor {field!r} with dim {k} != {d}", put(bad), field, "wrong dim")
                )
        other = _other_dtype(spec.type)
        options.append(
            Mutation(
                f"tensor {field!r} of dtype {other.name}",
                put(np.zeros(arr.shape, dtype=other)),
                field,
                "wrong tensor dtype",
            )
        )
        if named:
            rest = {k: v for k, v in arrays.items() if k != spec.name}
            options.append(Mutation(f"missing tensor {field!r}", rest, field, "missing tensor"))
    return options


def _param_mutations(schema: ParamSchema, params: dict[str, Any]) -> list[Mutation]:
    wrong = {
        DataType.boolean: "yes",
        DataType.integer: 2.5,
        DataType.long: 2.5,
        DataType.float: "x",
        DataType.double: "x",
        DataType.string: 5,
        DataType.datetime: True,
    }
    options = []
    for spec in schema:
        if spec.shape is not None:
            bad: Any = [[1, 2], [3, 4]]
        else:
            bad = wrong[spec.dtype] if isinstance(spec.dtype, DataType) else "x"
        options.append(
            Mutation(
                f"param {spec.name!r} given a {type(bad).__name__}",
                {**params, spec.name: bad},
                spec.name,
                "wrong param type",
            )
        )
    return options


class _DrawChooser:
    """The :class:`~flavorkit.testing._hostile.Chooser` of a hypothesis draw (so plans shrink)."""

    def __init__(self, draw: Any) -> None:
        self._draw = draw

    def integer(self, low: int, high: int) -> int:
        return int(self._draw(st.integers(low, high)))


@st.composite
def folder_mutations(
    draw: Any, shape: FolderShape, *, max_mutations: int = 3
) -> tuple[FolderMutation, ...]:
    """Draw one to ``max_mutations`` hostile edits of a model folder of ``shape``.

    ``shape`` is ``FolderShape.of(folder)`` of a folder a flavor saved;
    apply each edit to a copy with ``mutation.apply(copy, outside_file)``.
    The same planner drives ``benchmarks/fuzz_folders.py`` from a seeded
    ``random.Random``.
    """
    return plan_mutations(_DrawChooser(draw), shape, max_mutations=max_mutations)
