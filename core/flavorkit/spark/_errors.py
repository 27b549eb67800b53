"""Errors of the executors, back on the driver as the flavorkit errors they were.

A task's exception reaches the driver as text inside pyspark's
``PythonException`` (or a Py4J error): the last lines of the worker's
traceback, where flavorkit's message already names the partition, the rows
and the column. :func:`flavorkit_error` rebuilds the flavorkit error from
that text, with its class and fields; :func:`translate_errors` does it
around a block of Spark actions.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from flavorkit.batch._engines import recover
from flavorkit.exceptions import FlavorkitError


def flavorkit_error(exc: BaseException) -> FlavorkitError | None:
    """The flavorkit error a Spark exception carries from an executor, or None.

    Returns an instance of the original class (``SchemaEnforcementError``,
    ``PayloadError`` ...) with its message, ``field``, ``expected``,
    ``actual``, ``rows`` (first, last; 1-based within the partition) and
    ``partition``.
    """
    if isinstance(exc, FlavorkitError):
        return exc
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        found = recover(_text(current))
        if found is not None:
            return found
        current = current.__cause__ or current.__context__
    return None


def _text(exc: BaseException) -> str:
    parts = [str(exc)]
    java = getattr(exc, "java_exception", None)  # Py4JJavaError: the JVM's message chain
    while java is not None and len(parts) < 20:
        try:
            parts.append(str(java.getMessage()))
            java = java.getCause()
        except Exception:
            break
    return "\n".join(parts)


@contextlib.contextmanager
def translate_errors() -> Iterator[None]:
    """Re-raise a flavorkit error carried by a Spark exception inside the block as itself.

    ``with flavorkit.spark.translate_errors(): df.write.parquet(...)``: a
    lossy value in an executor comes out as ``SchemaEnforcementError`` with
    ``field``, ``rows`` and ``partition``, chained to Spark's exception.
    Other exceptions pass through unchanged.
    """
    try:
        yield
    except FlavorkitError:
        raise
    except Exception as exc:
        found = flavorkit_error(exc)
        if found is None:
            raise
        raise found from exc
