"""Signature types <-> Spark SQL types, for the UDF's result.

The output schema gives the result type (a scalar, an array, a struct for
several outputs); a ``result_type`` given by the caller gives the result
the predictions are shaped into. pyspark is imported inside the functions.
"""

from __future__ import annotations

from typing import Any

from flavorkit.batch._engines import ResultSpec
from flavorkit.exceptions import SignatureError

_SCALARS = {
    "boolean": "BooleanType",
    "integer": "IntegerType",
    "long": "LongType",
    "float": "FloatType",
    "double": "DoubleType",
    "string": "StringType",
    "binary": "BinaryType",
    "datetime": "TimestampType",
}


def spark_type(t: Any, where: str = "the result") -> Any:
    """The Spark type holding values of the signature type ``t``; ``SignatureError`` for ``any``."""
    from pyspark.sql import types as T

    from flavorkit.signature import Array, DataType, Map, Object

    if isinstance(t, DataType):
        return getattr(T, _SCALARS[t.name])()
    if isinstance(t, Array):
        return T.ArrayType(spark_type(t.dtype, where))
    if isinstance(t, Object):
        return T.StructType(
            [T.StructField(p.name, spark_type(p.dtype, where), True) for p in t.properties]
        )
    if isinstance(t, Map):
        return T.MapType(T.StringType(), spark_type(t.value_type, where))
    raise SignatureError(
        f"{where} is of type {t!r}, which has no Spark type; pass result_type "
        "(e.g. result_type='string')"
    )


def result_type_for(spec: ResultSpec | None) -> Any:
    """The UDF's return type: the one output's type, a struct of several; ``double`` without one."""
    from pyspark.sql import types as T

    if spec is None:
        return T.DoubleType()  # MLflow's default when the model declares no output schema
    if not spec.struct:
        return spark_type(spec.fields[0][1])
    return T.StructType(
        [T.StructField(name, spark_type(t, f"output {name!r}"), True) for name, t in spec.fields]
    )


def spec_from_spark(spark: Any, given: Any) -> tuple[Any, ResultSpec]:
    """(the Spark type, the result spec) of a caller's ``result_type``: a type or a DDL string."""
    from pyspark.sql import types as T

    if isinstance(given, str):
        given = _parse(spark, given)
    if not isinstance(given, T.DataType):
        raise TypeError(
            f"result_type must be a pyspark DataType or a type string, got {type(given).__name__}"
        )
    if isinstance(given, T.StructType):
        fields = tuple((f.name, signature_type(f.dataType, f.name)) for f in given.fields)
        return given, ResultSpec(fields, struct=True)
    return given, ResultSpec((("prediction", signature_type(given, "result_type")),), struct=False)


def _parse(spark: Any, text: str) -> Any:
    from pyspark.sql.types import _parse_datatype_string

    del spark  # the active session parses it
    return _parse_datatype_string(text)


def signature_type(dt: Any, where: str) -> Any:
    """The signature type of a Spark type (the inverse of :func:`spark_type`)."""
    from pyspark.sql import types as T

    from flavorkit.signature import Array, DataType, Map, Object, Property

    for name, cls in _SCALARS.items():
        if type(dt) is getattr(T, cls):
            return DataType[name]
    if isinstance(dt, T.ArrayType):
        return Array(signature_type(dt.elementType, where))
    if isinstance(dt, T.MapType) and isinstance(dt.keyType, T.StringType):
        return Map(signature_type(dt.valueType, where))
    if isinstance(dt, T.StructType) and dt.fields:
        return Object(
            [Property(f.name, signature_type(f.dataType, f"{where}.{f.name}")) for f in dt.fields]
        )
    supported = ", ".join(["boolean", "int", "bigint", "float", "double", "string", "binary"])
    raise SignatureError(
        f"{where}: Spark type {dt.simpleString()} is not supported as a result; use {supported}, "
        "timestamp, array<...>, map<string, ...> or a struct of them"
    )
