"""Column and tensor specs and the schemas built from them.

These classes mirror MLflow's ``mlflow.types`` (same class names, same JSON), so
a schema written by flavorkit reads in MLflow and the other way round. The JSON
written by ``to_json``/``to_dict`` is byte-for-byte MLflow's; the readers also
accept the older spellings MLflow accepts (no ``required`` key,
``sparkml_vector``).

numpy is imported inside the methods that need it, so importing this module
stays cheap.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from flavorkit.exceptions import SignatureError
from flavorkit.signature._types import (
    ColSpecType,
    DataType,
    _as_type,
    _check_name,
    _check_required,
    _type_from_dict,
    _type_to_dict,
    duplicated,
    type_label,
)

if TYPE_CHECKING:
    import numpy as np


class ColSpec:
    """One column of a column-based schema: a type, an optional name, and ``required``."""

    def __init__(
        self, type: ColSpecType | str, name: str | None = None, required: bool = True
    ) -> None:
        where = f"ColSpec {name!r}" if name is not None else "ColSpec"
        _check_name(name, where)
        _check_required(required, where)
        self._type = _as_type(type, where)
        self._name = name
        self._required = required

    @property
    def type(self) -> ColSpecType:
        """The column type."""
        return self._type

    @property
    def name(self) -> str | None:
        """The column name, or None for a column matched by position."""
        return self._name

    @property
    def required(self) -> bool:
        """Whether the column must be present in the input."""
        return self._required

    def to_dict(self) -> dict[str, Any]:
        """Return MLflow's JSON dict; ``required`` is always written."""
        d = _type_to_dict(self._type)
        if self._name is not None:
            d["name"] = self._name
        d["required"] = self._required
        return d

    @classmethod
    def from_json_dict(cls, **kwargs: Any) -> ColSpec:
        """Read one ColSpec dict; a missing ``required`` means True. Raise SignatureError."""
        name = kwargs.get("name")
        where = f"column {name!r}" if name is not None else "column"
        known = {"type", "name", "required", "items", "properties", "values"}
        unknown = sorted(set(kwargs) - known)
        if unknown:
            raise SignatureError(f"{where}: unknown key(s) {unknown} in ColSpec JSON")
        required = kwargs.get("required", True)
        # MLflow passes a missing `required` of a complex type through as None; read it as True
        return cls(_type_from_dict(kwargs, where), name, True if required is None else required)

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, ColSpec)
            and self._name == other._name
            and self._type == other._type
            and self._required == other._required
        )

    def __repr__(self) -> str:
        req = "required" if self._required else "optional"
        if self._name is None:
            return f"{self._type!r} ({req})"
        return f"{self._name!r}: {self._type!r} ({req})"


class TensorSpec:
    """One tensor of a tensor-based schema: a numpy dtype, a shape (-1 = any size) and a name."""

    def __init__(self, type: Any, shape: Iterable[int], name: str | None = None) -> None:
        import numpy as np

        where = f"TensorSpec {name!r}" if name is not None else "TensorSpec"
        _check_name(name, where)
        try:
            dtype = type if isinstance(type, np.dtype) else np.dtype(type)
        except TypeError as exc:
            raise SignatureError(f"{where}: dtype {type!r} is not a numpy dtype") from exc
        if dtype.char in ("U", "S") and not dtype.name.isalpha():
            base = "str" if dtype.char == "U" else "bytes"
            raise SignatureError(
                f"{where}: size information in flexible dtypes is not supported "
                f"(got {dtype.str}); use np.dtype({base!r})"
            )
        try:
            dims = tuple(shape)
        except TypeError as exc:
            raise SignatureError(f"{where}: shape must be a list of ints, got {shape!r}") from exc
        if any(isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d < -1 for d in dims):
            raise SignatureError(f"{where}: shape must hold ints >= -1, got {list(dims)}")
        self._dtype = dtype
        self._shape = tuple(int(d) for d in dims)
        self._name = name

    @property
    def type(self) -> np.dtype:
        """The numpy dtype."""
        return self._dtype

    @property
    def shape(self) -> tuple[int, ...]:
        """The shape; -1 marks a dimension of any size."""
        return self._shape

    @property
    def name(self) -> str | None:
        """The tensor name, or None for the single unnamed tensor."""
        return self._name

    @property
    def required(self) -> bool:
        """Always True: a tensor cannot be optional."""
        return True

    def to_dict(self) -> dict[str, Any]:
        """Return ``{["name",] "type": "tensor", "tensor-spec": {"dtype", "shape"}}``."""
        spec = {"dtype": self._dtype.name, "shape": list(self._shape)}
        if self._name is None:
            return {"type": "tensor", "tensor-spec": spec}
        return {"name": self._name, "type": "tensor", "tensor-spec": spec}

    @classmethod
    def from_json_dict(cls, **kwargs: Any) -> TensorSpec:
        """Read one TensorSpec dict. Raise SignatureError when keys are missing."""
        name = kwargs.get("name")
        where = f"tensor {name!r}" if name is not None else "tensor"
        spec = kwargs.get("tensor-spec")
        if kwargs.get("type") != "tensor" or not isinstance(spec, dict):
            raise SignatureError(f"{where}: expected keys 'type': 'tensor' and 'tensor-spec'")
        if not {"dtype", "shape"} <= set(spec):
            raise SignatureError(f"{where}: 'tensor-spec' needs keys 'dtype' and 'shape'")
        return cls(spec["dtype"], spec["shape"], name)

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, TensorSpec)
            and self._name == other._name
            and self._dtype == other._dtype
            and self._shape == other._shape
        )

    def __repr__(self) -> str:
        info = f"Tensor({self._dtype.name!r}, {self._shape!r})"
        return info if self._name is None else f"{self._name!r}: {info}"


class Schema:
    """A list of ColSpecs (a table) or of TensorSpecs (arrays); never a mix.

    Names are all present or all absent; several unnamed tensors, unnamed
    optional columns, duplicated names and empty schemas are rejected with a
    SignatureError.
    """

    def __init__(self, inputs: Iterable[ColSpec | TensorSpec]) -> None:
        items = list(inputs)
        if not items:
            raise SignatureError("Schema: inputs must not be empty")
        if not (
            all(isinstance(x, ColSpec) for x in items)
            or all(isinstance(x, TensorSpec) for x in items)
        ):
            raise SignatureError("Schema: inputs must be all ColSpec or all TensorSpec, not a mix")
        names = [x.name for x in items]
        if any(n is None for n in names) and any(n is not None for n in names):
            raise SignatureError(f"Schema: names must be all present or all absent, got {names}")
        if names[0] is not None:
            dupes = duplicated(str(n) for n in names)
            if dupes:
                raise SignatureError(f"Schema: duplicated input names {dupes}")
        elif isinstance(items[0], TensorSpec) and len(items) > 1:
            raise SignatureError("Schema: several unnamed TensorSpecs; name each tensor")
        elif any(not x.required for x in items):
            raise SignatureError("Schema: unnamed inputs cannot be optional; name them")
        self._inputs = items
        # filled by flavorkit.enforce on first use: per-schema data derived once
        self._enforce_plan: Any = None

    @property
    def inputs(self) -> list[ColSpec | TensorSpec]:
        """The specs, in order."""
        return self._inputs

    def __iter__(self) -> Iterator[ColSpec | TensorSpec]:
        return iter(self._inputs)

    def __len__(self) -> int:
        return len(self._inputs)

    def is_tensor_spec(self) -> bool:
        """Return True when this schema is made of TensorSpecs."""
        return isinstance(self._inputs[0], TensorSpec)

    def has_input_names(self) -> bool:
        """Return True when the inputs are named."""
        return self._inputs[0].name is not None

    def input_names(self) -> list[str | int]:
        """Return the names, or positions (0, 1, ...) of an unnamed schema."""
        return [i if x.name is None else x.name for i, x in enumerate(self._inputs)]

    def required_input_names(self) -> list[str | int]:
        """Return the names (or positions) of the required inputs."""
        return [i if x.name is None else x.name for i, x in enumerate(self._inputs) if x.required]

    def optional_input_names(self) -> list[str | int]:
        """Return the names of the optional inputs."""
        return [
            i if x.name is None else x.name for i, x in enumerate(self._inputs) if not x.required
        ]

    def input_types(self) -> list[Any]:
        """Return each input's type (DataType/complex type, or numpy dtype for tensors)."""
        return [x.type for x in self._inputs]

    def input_types_dict(self) -> dict[str | int, Any]:
        """Return name -> type. Raise SignatureError for an unnamed schema."""
        if not self.has_input_names():
            raise SignatureError("Schema: input_types_dict needs named inputs")
        return {x.name: x.type for x in self._inputs}  # type: ignore[misc]

    def input_dict(self) -> dict[str | int, ColSpec | TensorSpec]:
        """Return name -> spec. Raise SignatureError for an unnamed schema."""
        if not self.has_input_names():
            raise SignatureError("Schema: input_dict needs named inputs")
        return {x.name: x for x in self._inputs}  # type: ignore[misc]

    def numpy_types(self) -> list[np.dtype]:
        """Return the numpy dtypes. Raise SignatureError when a column has a complex type."""
        if self.is_tensor_spec():
            return [x.type for x in self._inputs]  # type: ignore[misc]
        if not all(isinstance(x.type, DataType) for x in self._inputs):
            raise SignatureError("Schema: numpy_types needs scalar DataType columns only")
        return [x.type.to_numpy() for x in self._inputs]  # type: ignore[union-attr]

    def pandas_types(self) -> list[Any]:
        """Return the pandas dtypes of a scalar column schema. Raise SignatureError otherwise."""
        if self.is_tensor_spec() or not all(isinstance(x.type, DataType) for x in self._inputs):
            raise SignatureError("Schema: pandas_types needs scalar DataType columns only")
        return [x.type.to_pandas() for x in self._inputs]  # type: ignore[union-attr]

    def to_dict(self) -> list[dict[str, Any]]:
        """Return the list of spec dicts that ``to_json`` encodes."""
        return [x.to_dict() for x in self._inputs]

    def to_json(self) -> str:
        """Return MLflow's JSON string for this schema."""
        return json.dumps(self.to_dict())

    @classmethod
    def from_dict(cls, items: Any) -> Schema:
        """Build a schema from decoded JSON (a list of spec dicts). Raise SignatureError."""
        if not isinstance(items, list):
            raise SignatureError(f"Schema: expected a JSON list, got {type(items).__name__}")
        specs: list[ColSpec | TensorSpec] = []
        for x in items:
            if not isinstance(x, dict):
                raise SignatureError(f"Schema: expected JSON objects, got {type(x).__name__}")
            if "type" not in x:
                raise SignatureError(f"Schema: input {x.get('name')!r} has no 'type' key")
            specs.append(
                TensorSpec.from_json_dict(**x)
                if x["type"] == "tensor"
                else ColSpec.from_json_dict(**x)
            )
        return cls(specs)

    @classmethod
    def from_json(cls, json_str: str) -> Schema:
        """Parse MLflow's JSON string. Raise SignatureError for invalid JSON or specs."""
        return cls.from_dict(_loads(json_str, "Schema"))

    def to_table(self) -> str:
        """Render a plain-text table (name, type, required or shape) for ``flavorkit info``."""
        if self.is_tensor_spec():
            rows = [
                (_label(i, x.name), x.type.name, str(list(x.shape)))  # type: ignore[union-attr]
                for i, x in enumerate(self._inputs)
            ]
            return _render(("name", "dtype", "shape"), rows)
        rows = [
            (_label(i, x.name), type_label(x.type), "yes" if x.required else "no")  # type: ignore[arg-type]
            for i, x in enumerate(self._inputs)
        ]
        return _render(("name", "type", "required"), rows)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Schema) and self._inputs == other._inputs

    def __repr__(self) -> str:
        return repr(self._inputs)


def _label(i: int, name: Any) -> str:
    return f"[{i}]" if name is None else str(name)


def _render(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(r[c]) for r in [header, *rows]) for c in range(len(header))]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip()
        for r in [header, *rows]
    ]
    return "\n".join(lines)


# nesting deeper than this in signature JSON is refused before anything walks it
_MAX_DEPTH = 100


def _loads(text: Any, where: str) -> Any:
    if not isinstance(text, str):
        raise SignatureError(f"{where}: expected a JSON string, got {type(text).__name__}")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SignatureError(f"{where}: invalid JSON ({exc.msg} at char {exc.pos})") from exc
    except RecursionError:
        raise SignatureError(f"{where}: nests deeper than {_MAX_DEPTH} levels") from None
    problem = nesting_problem(data, _MAX_DEPTH)
    if problem is not None:
        raise SignatureError(f"{where}: {problem}")
    return data


def nesting_problem(data: Any, limit: int, max_values: int | None = None) -> str | None:
    """Why parsed JSON/YAML ``data`` is too deep or too large to walk, or ``None``.

    Walked without recursion: containers nested deeper than ``limit``, or
    more than ``max_values`` values met on the way (YAML aliases repeat the
    same object, so a small file can expand to a huge tree). Shared by
    signature parsing and the model folder's readers.
    """
    stack: list[tuple[Any, int]] = [(data, 0)]
    seen = 0
    while stack:
        value, depth = stack.pop()
        seen += 1
        if max_values is not None and seen > max_values:
            return f"expands to more than {max_values:,} values (YAML aliases?)"
        if isinstance(value, dict):
            children: Any = value.values()
        elif isinstance(value, (list, tuple)):
            children = value
        else:
            continue
        if depth >= limit:
            return f"nests deeper than {limit} levels"
        stack.extend((child, depth + 1) for child in children)
    return None
