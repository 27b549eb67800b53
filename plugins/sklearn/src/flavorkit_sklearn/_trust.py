"""The caller's trust decisions for skops files.

A skops file loads without running code as long as every type in it is
trusted. Which types are trusted is decided by the process loading the
model: skops's own defaults plus the names the caller gives, either as the
``trusted_types`` argument of :func:`flavorkit_sklearn.load_model`, the
``trusted_types`` load option, or the :func:`trust` context manager (which
also covers ``flavorkit.load_model``, the CLI and the server). The
``skops_trusted_types`` list stored in a model's ``MLmodel`` is never read
for this: the folder cannot vouch for itself.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from contextvars import ContextVar

TypeNames = str | type | Iterable[str | type]

# a ContextVar, not a module global: concurrent loads in threads or tasks each
# see only the trust their own caller granted
_TRUSTED: ContextVar[frozenset[str]] = ContextVar("flavorkit_sklearn_trusted", default=frozenset())


def type_name(item: str | type) -> str:
    """The fully qualified name skops uses for a type (``module.QualName``).

    Raises ``TypeError`` for anything that is neither a string nor a class.
    """
    if isinstance(item, str):
        return item.strip()
    if isinstance(item, type):
        return f"{item.__module__}.{item.__qualname__}"
    raise TypeError(f"a trusted type must be a class or its dotted name, got {type(item).__name__}")


def normalize(types: TypeNames | None) -> list[str]:
    """Sorted, unique dotted names for ``types`` (one name, one class, or an iterable of them)."""
    if types is None:
        return []
    items: Iterable[str | type] = [types] if isinstance(types, (str, type)) else types
    return sorted({name for name in map(type_name, items) if name})


@contextlib.contextmanager
def trust(types: TypeNames) -> Iterator[list[str]]:
    """Trust ``types`` for every skops load inside the ``with`` block.

    Nested blocks add to the outer ones. Yields the names trusted inside the
    block. Example::

        with flavorkit_sklearn.trust(["my_package.MyEstimator"]):
            model = flavorkit.load_model("path/to/model")
    """
    names = _TRUSTED.get() | frozenset(normalize(types))
    token = _TRUSTED.set(names)
    try:
        yield sorted(names)
    finally:
        _TRUSTED.reset(token)


def trusted_by_caller(extra: TypeNames | None = None) -> list[str]:
    """The names the current caller trusts: the active :func:`trust` blocks plus ``extra``."""
    return sorted(_TRUSTED.get() | frozenset(normalize(extra)))
