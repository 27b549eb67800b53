"""Inference params: ParamSpec (one param) and ParamSchema (the list a model accepts).

These mirror MLflow's ``mlflow.types`` (same class names, same JSON). A
default is validated by the same rules as a value passed to predict
(:func:`flavorkit.signature._values.validate_param`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

from flavorkit.exceptions import SignatureError
from flavorkit.signature._schema import _loads, _render
from flavorkit.signature._types import (
    DataType,
    Object,
    _type_from_dict,
    _type_to_dict,
    duplicated,
    type_label,
)
from flavorkit.signature._values import validate_param

__all__ = ["ParamSchema", "ParamSpec"]


class ParamSpec:
    """An inference parameter: name, type, default and shape (None = scalar, (-1,) = list).

    The default is validated (and converted to Python builtins) when the spec
    is built; an invalid one raises SignatureError naming the param.
    """

    def __init__(
        self,
        name: str,
        dtype: DataType | Object | str,
        default: Any,
        shape: tuple[int, ...] | list[int] | None = None,
    ) -> None:
        self._name = str(name)
        where = f"param {self._name!r}"
        if isinstance(dtype, str) and dtype in DataType.__members__:
            dtype = DataType[dtype]
        if not isinstance(dtype, (DataType, Object)):
            raise SignatureError(
                f"{where}: unsupported type {dtype!r}; expected one of "
                f"{[t.name for t in DataType if t is not DataType.binary]} or an Object"
            )
        if dtype is DataType.binary:
            raise SignatureError(f"{where}: type 'binary' is not supported for params")
        if shape is not None and tuple(shape) != (-1,):
            raise SignatureError(
                f"{where}: shape must be None (scalar) or (-1,) (1-D list), got {shape!r}"
            )
        self._dtype: DataType | Object = dtype
        self._shape = None if shape is None else (-1,)
        try:
            self._default = validate_param(default, dtype, self._shape)
        except ValueError as exc:
            raise SignatureError(f"{where}: invalid default: {exc}") from None

    @property
    def name(self) -> str:
        """The param name."""
        return self._name

    @property
    def dtype(self) -> DataType | Object:
        """The param type."""
        return self._dtype

    @property
    def default(self) -> Any:
        """The default value, as Python builtins (or a datetime)."""
        return self._default

    @property
    def shape(self) -> tuple[int, ...] | None:
        """None for a scalar, ``(-1,)`` for a 1-D list."""
        return self._shape

    def to_dict(self) -> dict[str, Any]:
        """Return ``{"name", "default", "shape", "type"[, "properties"]}`` as MLflow writes it."""
        default = self._default
        if self._dtype is DataType.datetime and default is not None:
            default = [v.isoformat() for v in default] if self._shape else default.isoformat()
        d: dict[str, Any] = {
            "name": self._name,
            "default": default,
            "shape": None if self._shape is None else list(self._shape),
        }
        d.update(_type_to_dict(self._dtype))
        return d

    @classmethod
    def from_json_dict(cls, **kwargs: Any) -> ParamSpec:
        """Read one param dict; ``dtype`` is accepted in place of ``type``. Raise SignatureError."""
        name = kwargs.get("name")
        kind = kwargs.get("type", kwargs.get("dtype"))
        if name is None or kind is None or "default" not in kwargs:
            raise SignatureError(
                f"param {name!r}: expected keys 'name', 'type' (or 'dtype') and 'default', "
                f"got {sorted(kwargs)}"
            )
        dtype = _type_from_dict({**kwargs, "type": kind}, f"param {name!r}")
        return cls(str(name), dtype, kwargs["default"], kwargs.get("shape"))  # type: ignore[arg-type]

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, ParamSpec)
            and self._name == other._name
            and self._dtype == other._dtype
            and self._shape == other._shape
            and self._default == other._default
        )

    def __repr__(self) -> str:
        shape = f" (shape: {self._shape})" if self._shape is not None else ""
        return f"{self._name!r}: {self._dtype!r} (default: {self._default}){shape}"


class ParamSchema:
    """The list of params a model's predict accepts. Duplicated names raise SignatureError."""

    def __init__(self, params: Iterable[ParamSpec]) -> None:
        items = list(params)
        if not all(isinstance(p, ParamSpec) for p in items):
            raise SignatureError("ParamSchema: every item must be a ParamSpec")
        dupes = duplicated(p.name for p in items)
        if dupes:
            raise SignatureError(f"ParamSchema: duplicated params {dupes}")
        self._params = items

    @property
    def params(self) -> list[ParamSpec]:
        """The param specs, in order."""
        return self._params

    def __iter__(self) -> Iterator[ParamSpec]:
        return iter(self._params)

    def __len__(self) -> int:
        return len(self._params)

    def to_dict(self) -> list[dict[str, Any]]:
        """Return the list of param dicts that ``to_json`` encodes."""
        return [p.to_dict() for p in self._params]

    def to_json(self) -> str:
        """Return MLflow's JSON string for the params."""
        return json.dumps(self.to_dict())

    @classmethod
    def from_dict(cls, items: Any) -> ParamSchema:
        """Build from decoded JSON (a list of param dicts). Raise SignatureError."""
        if not isinstance(items, list) or not all(isinstance(x, dict) for x in items):
            raise SignatureError("ParamSchema: expected a JSON list of objects")
        return cls([ParamSpec.from_json_dict(**x) for x in items])

    @classmethod
    def from_json(cls, json_str: str) -> ParamSchema:
        """Parse MLflow's JSON string. Raise SignatureError."""
        return cls.from_dict(_loads(json_str, "ParamSchema"))

    def to_table(self) -> str:
        """Render a plain-text table (name, type, default, shape)."""
        rows = [
            (
                p.name,
                type_label(p.dtype),
                repr(p.to_dict()["default"]),
                "scalar" if p.shape is None else str(list(p.shape)),
            )
            for p in self._params
        ]
        return _render(("name", "type", "default", "shape"), rows)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ParamSchema) and self._params == other._params

    def __repr__(self) -> str:
        return repr(self._params)
