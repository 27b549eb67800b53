"""Factories for the ``state_dict`` format: ``module:callable`` names that rebuild a module.

A factory is imported from the environment (code someone installed, hence
trusted) or, with the caller's unsafe opt-in, from the ``code`` folder
shipped inside the model folder. It never comes from the standard library:
a factory is model code, and refusing stdlib names keeps a tampered
``MLmodel`` from naming something like ``os:system``.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flavorkit.exceptions import UnsafeFormatError


def default_for(model: Any) -> str:
    """The factory naming ``model``'s class, when that class can be imported and built bare.

    Raises ``ValueError`` for classes defined in ``__main__`` or inside a
    function (not importable elsewhere) and for classes whose constructor
    needs arguments, saying to pass ``factory=`` instead.
    """
    cls = type(model)
    spec = f"{cls.__module__}:{cls.__qualname__}"
    if cls.__module__ == "__main__" or "<locals>" in cls.__qualname__:
        raise ValueError(
            f"state_dict: {spec} cannot be imported when the model is loaded elsewhere; "
            "move the class into an importable module, pass factory='module:callable', "
            "or save with serialization_format='export'"
        )
    try:
        cls()
    except TypeError as exc:
        raise ValueError(
            f"state_dict: {spec}() cannot be built without arguments ({exc}); "
            "pass factory='module:callable' naming a function that builds the module"
        ) from None
    return spec


def parse(spec: Any) -> tuple[str, str]:
    """Split ``"package.module:Name.attr"``; raise ``ValueError`` naming what is wrong."""
    if not isinstance(spec, str) or spec.count(":") != 1:
        raise ValueError(
            f"factory: expected 'module:callable' (e.g. 'mypkg.nets:build'), got {spec!r}"
        )
    module, qualname = (part.strip() for part in spec.split(":"))
    if not module or not qualname or "<" in qualname:
        raise ValueError(f"factory: expected 'module:callable', got {spec!r}")
    return module, qualname


def resolve(
    spec: str, *, folder: Path | None, code_dir: Path | None, allow_unsafe: bool
) -> Callable[[], Any]:
    """Import the callable ``spec`` names.

    ``folder`` is the model folder being loaded (``None`` while saving) and
    ``code_dir`` its shipped code. Code found inside ``folder`` (or only in
    ``code_dir``) is imported only with ``allow_unsafe``; ``code_dir`` is then
    put first on ``sys.path``, as MLflow does. Raises ``UnsafeFormatError``
    without the opt-in, ``ValueError`` for standard-library or malformed
    names, ``ImportError``/``AttributeError`` when it cannot be found.
    """
    module_name, qualname = parse(spec)
    top = module_name.split(".", 1)[0]
    if top in sys.stdlib_module_names or top == "builtins":
        raise ValueError(f"factory: {spec!r} names the standard library, not model code")
    origin = _origin(top)
    shipped = code_dir is not None and _ships(code_dir, top)
    inside = origin is not None and folder is not None and _within(origin, folder)
    if inside or (origin is None and shipped):
        if not allow_unsafe:
            raise UnsafeFormatError(
                "state_dict factory code",
                code_dir or folder,
                detail=f"the factory {spec!r} is code shipped inside the model folder, "
                "and importing it runs that code",
            )
        if origin is None and code_dir is not None and str(code_dir) not in sys.path:
            sys.path.insert(0, str(code_dir))
    if origin is None and not shipped:
        raise ImportError(
            f"factory {spec!r}: module {module_name!r} is not installed; install it, "
            "or save the model with code_paths=[...] so the folder ships it"
        )
    module = importlib.import_module(module_name)
    try:
        target = functools.reduce(getattr, qualname.split("."), module)
    except AttributeError:
        raise AttributeError(
            f"factory {spec!r}: {module_name} has no attribute {qualname!r}"
        ) from None
    if not callable(target):
        raise TypeError(f"factory {spec!r} is a {type(target).__name__}, not a callable")
    return target


def build(spec: str, factory: Callable[[], Any]) -> Any:
    """Call ``factory`` and check it returned a ``torch.nn.Module``."""
    import torch

    module = factory()
    if not isinstance(module, torch.nn.Module):
        raise TypeError(
            f"factory {spec!r} returned {type(module).__module__}.{type(module).__qualname__}, "
            "not a torch.nn.Module"
        )
    return module


def _origin(top: str) -> Path | None:
    """Where the top-level module ``top`` lives, found without running it."""
    loaded = sys.modules.get(top)
    if loaded is not None:
        location = getattr(loaded, "__file__", None)
        if location:
            return Path(location)
        paths = list(getattr(loaded, "__path__", []) or [])
        return Path(paths[0]) if paths else None
    try:
        spec = importlib.util.find_spec(top)
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    if spec.origin and spec.origin not in ("built-in", "frozen"):
        return Path(spec.origin)
    locations = list(spec.submodule_search_locations or [])
    return Path(locations[0]) if locations else None


def _ships(code_dir: Path, top: str) -> bool:
    return (code_dir / f"{top}.py").is_file() or (code_dir / top).is_dir()


def _within(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
    except ValueError:
        return False
    return True
