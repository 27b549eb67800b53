"""The signature's data types: scalars, arrays, objects, maps and ``any``.

These classes mirror MLflow's ``mlflow.types`` (same class names, same JSON), so
a type written by flavorkit reads in MLflow and the other way round. Column and
tensor specs and schemas are in :mod:`flavorkit.signature._schema`.

numpy is imported inside the methods that need it, so importing this module
stays cheap.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import Enum
from typing import TYPE_CHECKING, Any, Union

from flavorkit.exceptions import SignatureError

if TYPE_CHECKING:
    import numpy as np


class DataType(Enum):
    """A scalar column type. The enum values (1-8) are internal, the names are the JSON."""

    boolean = 1
    integer = 2
    long = 3
    float = 4
    double = 5
    string = 6
    binary = 7
    datetime = 8

    def __repr__(self) -> str:
        return self.name

    def to_numpy(self) -> np.dtype:
        """Return the numpy dtype values of this type are held in (``string`` is ``<U0``)."""
        import numpy as np

        return np.dtype(_NUMPY_NAMES[self.name])

    def to_pandas(self) -> Any:
        """Return the pandas dtype of a column of this type (``object`` for string/binary)."""
        if self.name in ("string", "binary"):
            return object
        return self.to_numpy()

    def to_python(self) -> type:
        """Return the Python type of one value (``datetime.date`` for ``datetime``)."""
        import datetime

        return {
            "boolean": bool,
            "integer": int,
            "long": int,
            "float": float,
            "double": float,
            "string": str,
            "binary": bytes,
            "datetime": datetime.date,
        }[self.name]

    @classmethod
    def all_types(cls) -> list[DataType]:
        """Return every data type, in enum order."""
        return list(cls)


_NUMPY_NAMES = {
    "boolean": "bool",
    "integer": "int32",
    "long": "int64",
    "float": "float32",
    "double": "float64",
    "string": "str",
    "binary": "bytes",
    "datetime": "datetime64[ns]",
}

# JSON "type" names of the complex types
_ARRAY, _OBJECT, _MAP, _ANY, _SPARKML = "array", "object", "map", "any", "sparkml_vector"


def _as_type(value: Any, where: str) -> ColSpecType:
    """Turn a DataType, a complex type or a DataType name into a type; raise SignatureError."""
    if isinstance(value, (DataType, Array, Object, Map, AnyType)):
        return value
    if isinstance(value, str):
        try:
            return DataType[value]
        except KeyError:
            pass
    raise SignatureError(
        f"{where}: unsupported type {value!r}; expected a DataType, Array, Object, Map, "
        f"AnyType or one of {[t.name for t in DataType]}"
    )


def _check_name(name: Any, where: str) -> None:
    if name is None:
        return
    # int names come from DataFrames with integer column labels (MLflow writes them as-is)
    if isinstance(name, bool) or not isinstance(name, (str, int)):
        raise SignatureError(f"{where}: name must be a str or int, got {type(name).__name__}")


def _check_required(required: Any, where: str) -> None:
    if not isinstance(required, bool):
        raise SignatureError(f"{where}: 'required' must be true or false, got {required!r}")


def _type_to_dict(t: ColSpecType) -> dict[str, Any]:
    return {"type": t.name} if isinstance(t, DataType) else t.to_dict()


def _type_from_dict(d: Any, where: str) -> ColSpecType:
    """Read a type dict (``{"type": ..., "items"|"properties"|"values": ...}``)."""
    if not isinstance(d, dict) or "type" not in d:
        raise SignatureError(f"{where}: expected a JSON object with a 'type' key, got {d!r}")
    kind = d["type"]
    if kind == _ARRAY:
        return Array(_type_from_dict(d.get("items"), f"{where}.items"))
    if kind == _OBJECT:
        props = d.get("properties")
        if not isinstance(props, dict):
            raise SignatureError(f"{where}.properties: expected a JSON object, got {props!r}")
        return Object([Property._from_item(n, p, f"{where}.properties") for n, p in props.items()])
    if kind == _MAP:
        return Map(_type_from_dict(d.get("values"), f"{where}.values"))
    if kind == _ANY:
        return AnyType()
    if kind == _SPARKML:
        return SparkMLVector()
    return _as_type(kind, where)


def type_label(t: ColSpecType) -> str:
    """Return a short human-readable label of a type, e.g. ``array<long>``.

    Used by ``Schema.to_table`` and by error messages.
    """
    if isinstance(t, DataType):
        return t.name
    if isinstance(t, SparkMLVector):
        return _SPARKML
    if isinstance(t, Array):
        return f"array<{type_label(t.dtype)}>"
    if isinstance(t, Map):
        return f"map<string, {type_label(t.value_type)}>"
    if isinstance(t, Object):
        inner = ", ".join(
            f"{p.name}{'' if p.required else '?'}: {type_label(p.dtype)}" for p in t.properties
        )
        return "object{" + inner + "}"
    return _ANY


class Array:
    """A list of values of one type, e.g. ``Array(DataType.long)`` or ``Array(Object([...]))``."""

    def __init__(self, dtype: ColSpecType | str) -> None:
        self._dtype = _as_type(dtype, "Array")

    @property
    def dtype(self) -> ColSpecType:
        """The type of every element."""
        return self._dtype

    def to_dict(self) -> dict[str, Any]:
        """Return the MLflow JSON dict ``{"type": "array", "items": {...}}``."""
        return {"type": _ARRAY, "items": _type_to_dict(self._dtype)}

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and self.dtype == other.dtype  # type: ignore[attr-defined]

    def __repr__(self) -> str:
        return f"Array({self._dtype!r})"


class SparkMLVector(Array):
    """Spark ML's dense/sparse vector column (read for compatibility; an array of doubles)."""

    def __init__(self) -> None:
        super().__init__(DataType.double)

    def to_dict(self) -> dict[str, Any]:
        """Return ``{"type": "sparkml_vector"}``."""
        return {"type": _SPARKML}

    def __repr__(self) -> str:
        return "SparkML vector"


class Property:
    """One named field of an :class:`Object`."""

    def __init__(self, name: str, dtype: ColSpecType | str, required: bool = True) -> None:
        if not isinstance(name, str):
            raise SignatureError(f"Property: name must be a str, got {type(name).__name__}")
        self._name = name
        self._dtype = _as_type(dtype, f"Property {name!r}")
        _check_required(required, f"Property {name!r}")
        self._required = required

    @property
    def name(self) -> str:
        """The property name."""
        return self._name

    @property
    def dtype(self) -> ColSpecType:
        """The property type."""
        return self._dtype

    @property
    def required(self) -> bool:
        """Whether the property must be present in every object."""
        return self._required

    def to_dict(self) -> dict[str, Any]:
        """Return ``{name: {"type": ..., "required": ...}}`` as MLflow writes it."""
        d = _type_to_dict(self._dtype)
        d["required"] = self._required
        return {self._name: d}

    @classmethod
    def _from_item(cls, name: str, d: Any, where: str) -> Property:
        where = f"{where}.{name}"
        if not isinstance(d, dict):
            raise SignatureError(f"{where}: expected a JSON object, got {d!r}")
        required = d.get("required", True)
        return cls(name, _type_from_dict(d, where), True if required is None else required)

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Property)
            and self._name == other._name
            and self._dtype == other._dtype
            and self._required == other._required
        )

    def __repr__(self) -> str:
        return f"{self._name}: {self._dtype!r} ({'required' if self._required else 'optional'})"


class Object:
    """A JSON object with known properties; properties are kept sorted by name."""

    def __init__(self, properties: Iterable[Property]) -> None:
        props = list(properties)
        if not props:
            raise SignatureError("Object: properties must not be empty")
        if not all(isinstance(p, Property) for p in props):
            raise SignatureError("Object: every property must be a Property")
        dupes = duplicated(p.name for p in props)
        if dupes:
            raise SignatureError(f"Object: duplicated property names {dupes}")
        # sorted so the JSON is stable whatever order the caller used (MLflow does the same)
        self._properties = sorted(props, key=lambda p: p.name)

    @property
    def properties(self) -> list[Property]:
        """The properties, sorted by name."""
        return list(self._properties)

    def to_dict(self) -> dict[str, Any]:
        """Return ``{"type": "object", "properties": {name: {...}, ...}}``."""
        props: dict[str, Any] = {}
        for p in self._properties:
            props.update(p.to_dict())
        return {"type": _OBJECT, "properties": props}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Object) and self._properties == other._properties

    def __repr__(self) -> str:
        return "{" + ", ".join(map(repr, self._properties)) + "}"


class Map:
    """A JSON object with string keys and values of one type."""

    def __init__(self, value_type: ColSpecType | str) -> None:
        self._value_type = _as_type(value_type, "Map")

    @property
    def value_type(self) -> ColSpecType:
        """The type of every value."""
        return self._value_type

    def to_dict(self) -> dict[str, Any]:
        """Return ``{"type": "map", "values": {...}}``."""
        return {"type": _MAP, "values": _type_to_dict(self._value_type)}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Map) and self._value_type == other._value_type

    def __repr__(self) -> str:
        return f"Map(str -> {self._value_type!r})"


class AnyType:
    """Any value at all, None included; nothing is checked."""

    def to_dict(self) -> dict[str, Any]:
        """Return ``{"type": "any"}``."""
        return {"type": _ANY}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, AnyType)

    def __repr__(self) -> str:
        return "Any"


ColSpecType = Union[DataType, Array, Object, Map, AnyType]  # noqa: UP007 (a runtime alias; py3.10 needs Union here)


def duplicated(names: Iterable[Any]) -> list[Any]:
    """The names that occur more than once, sorted, found in linear time; at most 10 are kept."""
    seen: set[Any] = set()
    dupes: set[Any] = set()
    for name in names:
        if name in seen:
            dupes.add(name)
        seen.add(name)
    return sorted(dupes, key=str)[:10]
