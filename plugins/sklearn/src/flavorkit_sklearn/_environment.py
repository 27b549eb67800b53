"""Which installed distributions a saved estimator needs, found by walking the object.

MLflow finds requirements by loading the model in a subprocess and recording
every import, which is slow and pins whatever happened to be imported. Here
the estimator itself is inspected: the classes of every step, transformer,
sub-estimator, fitted attribute and callable it holds name their modules,
and ``flavorkit.environment.pins_for_modules`` maps those modules to pinned
distributions from installed metadata, without importing anything.
"""

from __future__ import annotations

import contextlib
import functools
import types
from collections.abc import Iterator
from typing import Any

from flavorkit_sklearn._formats import CLOUDPICKLE, SKOPS

# the walk is bounded so a pathological object graph cannot stall a save;
# real pipelines and ensembles stay far below these numbers
_MAX_DEPTH = 64
_MAX_NODES = 200_000

_SCALARS = (str, bytes, bytearray, int, float, complex, bool, type(None), range, slice)
_FUNCTIONS = (
    types.FunctionType,
    types.BuiltinFunctionType,
    types.MethodType,
    types.BuiltinMethodType,
)


def _class_modules(cls: type) -> Iterator[str]:
    # the bases count: a user class deriving from an xgboost estimator needs xgboost
    for klass in getattr(cls, "__mro__", (cls,)):
        module = getattr(klass, "__module__", None)
        if isinstance(module, str):
            yield module


def _children(obj: Any) -> list[Any]:
    """The objects ``obj`` refers to that the walk should visit next."""
    if isinstance(obj, dict):
        return [*obj.keys(), *obj.values()]
    if isinstance(obj, (list, tuple, set, frozenset)):
        return list(obj)
    if isinstance(obj, functools.partial):
        return [obj.func, *obj.args, *obj.keywords.values()]
    if isinstance(obj, types.MethodType):
        return [obj.__func__, obj.__self__]
    if callable(getattr(obj, "get_params", None)) and not isinstance(obj, type):
        # an estimator: its constructor params (Pipeline steps, ColumnTransformer
        # transformers, meta-estimators' estimator=) and its fitted attributes
        # (estimators_, best_estimator_, a custom estimator's inner model)
        children: list[Any] = []
        # a broken get_params must not abort the save
        with contextlib.suppress(Exception):
            children.extend(obj.get_params(deep=False).values())
        children.extend(getattr(obj, "__dict__", {}).values())
        return children
    return []


def referenced_modules(model: Any) -> set[str]:
    """The dotted module names of every class and function reachable from ``model``.

    Called when the environment of a saved model is detected. Containers,
    ``functools.partial``, bound methods and estimators (anything with
    ``get_params``) are walked into; other objects contribute their class.
    """
    modules: set[str] = set()
    seen: set[int] = set()
    stack: list[tuple[Any, int]] = [(model, 0)]
    while stack and len(seen) < _MAX_NODES:
        obj, depth = stack.pop()
        if id(obj) in seen or isinstance(obj, (*_SCALARS, types.ModuleType)):
            continue
        seen.add(id(obj))
        if isinstance(obj, type):
            modules.update(_class_modules(obj))
            continue
        modules.update(_class_modules(type(obj)))
        if isinstance(obj, _FUNCTIONS) or type(obj).__name__ == "ufunc":
            module = getattr(obj, "__module__", None)
            if isinstance(module, str):
                modules.add(module)
        if depth < _MAX_DEPTH:
            stack.extend((child, depth + 1) for child in _children(obj))
    modules.discard("builtins")
    return modules


def requirements(model: Any, serialization_format: str) -> list[str]:
    """Pinned requirements for ``model`` saved in ``serialization_format``.

    scikit-learn and the format's library (skops or cloudpickle; plain pickle
    needs none) always appear, then the distributions of the classes the
    model references. Modules of no installed distribution (the standard
    library, a script's own classes) add nothing.
    """
    from flavorkit.environment import pins_for_modules

    modules = {"sklearn", *referenced_modules(model)}
    if serialization_format in (SKOPS, CLOUDPICKLE):
        modules.add(serialization_format)
    return pins_for_modules(sorted(modules))
