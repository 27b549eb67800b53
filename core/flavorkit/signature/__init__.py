"""The signature: what a model takes and returns, and the rules its values follow.

Data types (:class:`DataType`, :class:`Array`, :class:`Map`, :class:`Object`,
:class:`AnyType`), column and tensor specs, schemas, inference params and
:class:`ModelSignature` mirror MLflow's ``mlflow.types`` (same class names,
same JSON). :func:`infer_signature` reads a signature off example data.
:mod:`flavorkit.signature._exact` holds the exactness and null rules every
conversion to a declared type follows.

This package is a leaf: it imports nothing of flavorkit but
:mod:`flavorkit.exceptions` (and the lazy-name helper), and numpy and pandas
only inside functions.
"""

from __future__ import annotations

from flavorkit._lazy import lazy_exports
from flavorkit.signature._params import ParamSchema, ParamSpec
from flavorkit.signature._schema import ColSpec, Schema, TensorSpec, nesting_problem
from flavorkit.signature._signature import ModelSignature
from flavorkit.signature._types import (
    AnyType,
    Array,
    ColSpecType,
    DataType,
    Map,
    Object,
    Property,
    SparkMLVector,
    type_label,
)

__all__ = [
    "AnyType",
    "Array",
    "ColSpec",
    "ColSpecType",
    "DataType",
    "Map",
    "ModelSignature",
    "Object",
    "ParamSchema",
    "ParamSpec",
    "Property",
    "Schema",
    "SparkMLVector",
    "TensorSpec",
    "infer_output_schema",
    "infer_params_schema",
    "infer_schema",
    "infer_signature",
    "nesting_problem",
    "type_label",
]

# inference is for saving; loading and predicting never import it
__getattr__ = lazy_exports(
    "flavorkit.signature",
    dict.fromkeys(
        ("infer_output_schema", "infer_params_schema", "infer_schema", "infer_signature"),
        "flavorkit.signature._infer",
    ),
    globals(),
)


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
