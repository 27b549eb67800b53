"""Factories for the ``state_dict`` format: ``module:Name`` strings that rebuild a module.

A factory is named in ``MLmodel``, so a tampered folder can name anything
importable. It is accepted only when it is, before anything is called:

- a class that subclasses ``torch.nn.Module`` (built with no arguments), or
- a function its author marked with :func:`factory` (``@flavorkit_torch.factory``).

It is imported with ``flavorkit.folder.import_object``: from installed code
only, unless the caller opted in to code from inside the model folder (the
``code`` folder it ships) or the current directory. Standard-library names
are refused outright, since model code never lives there.
"""

from __future__ import annotations

import sys
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from flavorkit.exceptions import ManifestError, PluginError, UnsafeFormatError

KEY = "flavors.pytorch.factory"
_MARK = "__flavorkit_torch_factory__"
F = TypeVar("F", bound=Callable[..., Any])


def factory(function: F) -> F:
    """Mark ``function`` as a ``state_dict`` factory: it builds the module, given no arguments.

    Use it as a decorator on a module-level function of an importable module::

        @flavorkit_torch.factory
        def build() -> Net:
            return Net(width=64)

        flavorkit_torch.save_model(net, "m", factory="mypkg.nets:build")

    Only marked functions (and ``torch.nn.Module`` subclasses) are called
    when a model is loaded, so a tampered ``MLmodel`` cannot make the loader
    call some other function. Returns ``function`` unchanged. Raises
    ``TypeError`` for anything but a plain Python function.
    """
    if not isinstance(function, types.FunctionType):
        raise TypeError(
            "flavorkit_torch.factory marks plain functions; torch.nn.Module subclasses "
            f"need no mark, got {type(function).__module__}.{type(function).__qualname__}"
        )
    function.__dict__[_MARK] = True
    return function


def is_factory(target: Any) -> bool:
    """Whether ``target`` may be called as a factory: a Module subclass or a marked function."""
    return _kind(target) is not None


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
            "pass factory= naming a function marked with @flavorkit_torch.factory"
        ) from None
    return spec


def spec_of(value: Any) -> str:
    """The ``module:Name`` string of a ``factory=`` option: a string, a class or a function."""
    if isinstance(value, str):
        parse(value)
        return value
    module = getattr(value, "__module__", None)
    qualname = getattr(value, "__qualname__", None)
    if not (isinstance(module, str) and isinstance(qualname, str)):
        raise ValueError(
            f"factory: expected 'module:callable', a class or a function, got {_show(value)}"
        )
    if module == "__main__" or "<locals>" in qualname:
        raise ValueError(
            f"factory: {module}:{qualname} cannot be imported when the model is loaded "
            "elsewhere; define it at the top level of an importable module"
        )
    return f"{module}:{qualname}"


def parse(spec: Any) -> tuple[str, str]:
    """Split ``"package.module:Name.attr"``; raise ``ValueError`` naming what is wrong."""
    if not isinstance(spec, str) or spec.count(":") != 1 or len(spec) > 500:
        raise ValueError(
            f"factory: expected 'module:callable' (e.g. 'mypkg.nets:build'), got {_show(spec)}"
        )
    module, qualname = spec.split(":")
    if not _dotted(module) or not _dotted(qualname):
        raise ValueError(f"factory: expected 'module:callable', got {_show(spec)}")
    return module, qualname


def resolve(
    spec: Any,
    *,
    folder: Path | None,
    code_dir: Path | None,
    allow_unsafe: bool,
    manifest: Path | None = None,
) -> Callable[[], Any]:
    """Import the factory ``spec`` names and check it may be called; nothing is called.

    ``folder`` is the model folder being loaded (``None`` while saving),
    ``code_dir`` the code it ships and ``manifest`` its ``MLmodel`` (named in
    errors). Code from inside ``folder`` or the current directory is imported
    only with ``allow_unsafe``. Raises, when loading, ``ManifestError`` for a
    malformed, standard-library or not-allowed factory, ``UnsafeFormatError``
    without the opt-in and ``PluginError`` when the module is not installed;
    when saving (``folder`` is ``None``), ``ValueError`` and ``ImportError``.
    """
    from flavorkit.folder import import_object

    loading = folder is not None
    try:
        module_name, _qualname = parse(spec)
    except ValueError as exc:
        if loading:
            raise ManifestError(str(exc), path=manifest, key=KEY) from None
        raise
    top = module_name.split(".", 1)[0]
    if top in sys.stdlib_module_names or top == "builtins":
        message = f"factory: {spec!r} names the standard library, not model code"
        if loading:
            raise ManifestError(message, path=manifest, key=KEY)
        raise ValueError(message)
    try:
        target = import_object(
            spec,
            key=KEY,
            folder=folder,
            allow_unsafe=allow_unsafe or not loading,
            code_dir=code_dir,
            what="factory",
        )
    except UnsafeFormatError as exc:
        raise UnsafeFormatError(
            "state_dict factory code",
            exc.path,
            detail=f"the factory {spec!r} is code from {exc.path}, inside the model folder "
            "or the current directory, and importing it runs that code",
        ) from None
    except ImportError as exc:
        message = f"{exc}, or save the model with code_paths=[...] so the folder ships it"
        if loading:
            raise PluginError(message) from None
        raise ImportError(message) from None
    if _kind(target) is None:
        message = (
            f"factory {spec!r} is {_describe(target)}; a factory must be a torch.nn.Module "
            "subclass or a function marked with @flavorkit_torch.factory, so it is not called"
        )
        if loading:
            raise ManifestError(message, path=manifest, key=KEY)
        raise ValueError(message)
    return target  # type: ignore[no-any-return]


def build(spec: str, factory: Callable[[], Any], *, manifest: Path | None = None) -> Any:
    """Call ``factory`` and check it returned a ``torch.nn.Module``.

    ``manifest`` (when loading) makes a wrong return a ``ManifestError``
    naming the key; otherwise it is a ``TypeError``.
    """
    import torch

    module = factory()
    if not isinstance(module, torch.nn.Module):
        message = (
            f"factory {spec!r} returned {type(module).__module__}.{type(module).__qualname__}, "
            "not a torch.nn.Module"
        )
        if manifest is not None:
            raise ManifestError(message, path=manifest, key=KEY)
        raise TypeError(message)
    return module


def _kind(target: Any) -> str | None:
    """``"class"`` or ``"function"`` when ``target`` may be called as a factory, else ``None``.

    Checked on the object's real type (``type(target)``), never on attributes
    it could fake: a class must be a real class deriving from
    ``torch.nn.Module``, a function a real function carrying the mark.
    """
    import torch

    if issubclass(type(target), type):
        return "class" if issubclass(target, torch.nn.Module) else None
    if type(target) is types.FunctionType and target.__dict__.get(_MARK) is True:
        return "function"
    return None


def _describe(target: Any) -> str:
    if issubclass(type(target), type):
        return f"the class {target.__module__}.{target.__qualname__}, not a torch.nn.Module"
    if type(target) is types.FunctionType:
        return "a function not marked with @flavorkit_torch.factory"
    return f"a {type(target).__module__}.{type(target).__qualname__}"


def _dotted(text: str) -> bool:
    return bool(text) and all(part.isidentifier() for part in text.split("."))


def _show(value: Any) -> str:
    text = repr(value) if isinstance(value, str) else type(value).__name__
    return text if len(text) <= 120 else text[:117] + "..."
