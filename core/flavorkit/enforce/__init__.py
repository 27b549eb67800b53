"""Schema enforcement: check and coerce predict input and params against a signature.

``PyFuncModel.predict`` calls :func:`enforce_schema` and :func:`enforce_params`
on every call, for every flavor. The rules are MLflow 3.17's (FORMAT.md §5),
except where flavorkit accepts a conversion that provably loses nothing or
rejects one that loses or mangles data; docs/signatures.md lists each one.

Errors are :class:`~flavorkit.exceptions.SchemaEnforcementError` naming the
column, tensor or param, the expected and the actual type or shape, and a
fix. They never echo input values.

:mod:`~flavorkit.enforce._schema` is the entry point and
:mod:`~flavorkit.enforce._plan` the per-schema plan; the rules live in
:mod:`~flavorkit.enforce._columns` (ColSpec schemas),
:mod:`~flavorkit.enforce._complex` (the cells of Array, Map and Object columns),
:mod:`~flavorkit.enforce._tensors` (TensorSpec schemas),
:mod:`~flavorkit.enforce._params` (params) and :mod:`~flavorkit.enforce._values`
(what they share). Exactness and null rules come from
:mod:`flavorkit.signature._exact`. Everything dropped is reported with a
:class:`~flavorkit.exceptions.SchemaWarning`.

This package imports nothing of flavorkit but :mod:`flavorkit.signature` and
:mod:`flavorkit.exceptions`.

numpy and pandas are imported inside the functions, so importing this package
is cheap.
"""

from __future__ import annotations

from flavorkit.enforce._params import enforce_params
from flavorkit.enforce._schema import enforce_schema

__all__ = ["enforce_params", "enforce_schema"]
