"""Importing what a model folder names (class paths, factories), without running its code.

A string such as ``mypkg.models:Scorer`` read from a model folder decides
which module Python imports, and importing a module runs it. Before any
import, ``import_object`` finds where each module of the dotted path would
come from (``importlib.util.find_spec``, which reads no module code) and
refuses, without the caller's unsafe opt-in, a module that would be loaded
from inside the model folder, from code the folder ships, or from the
current directory when that is on ``sys.path`` only implicitly (``python
-c``, ``python -m``, a REPL or a notebook; not when the process runs a
script that lives there). Modules already imported run no new code and are taken as they are.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import os
import sys
from pathlib import Path
from typing import Any

from flavorkit.exceptions import ManifestError, UnsafeFormatError


def parse_spec(spec: Any, *, key: str, path: Any = None) -> tuple[str, str]:
    """Split ``"package.module:Name.attr"`` into its module and attribute path.

    Each part must be made of Python identifiers; raises ``ManifestError``
    naming ``key`` otherwise.
    """
    if not isinstance(spec, str) or spec.count(":") != 1 or len(spec) > 500:
        raise ManifestError(
            f"expected 'module:Name' (e.g. 'mypkg.models:Scorer'), got {_show(spec)}",
            path=path,
            key=key,
        )
    module, qualname = spec.split(":")
    if not _dotted(module) or not _dotted(qualname):
        raise ManifestError(
            f"expected 'module:Name' made of Python identifiers, got {_show(spec)}",
            path=path,
            key=key,
        )
    return module, qualname


def module_origin(name: str) -> Path | None:
    """Where the module ``name`` would be imported from, without importing it.

    Its parent packages must already be imported (``import_object`` imports
    them one by one after checking each). ``None`` for built-in or frozen
    modules and for names that cannot be found.
    """
    loaded = sys.modules.get(name)
    if loaded is not None:
        return _location(getattr(loaded, "__file__", None), getattr(loaded, "__path__", None))
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    origin = spec.origin if spec.origin not in (None, "built-in", "frozen") else None
    return _location(origin, spec.submodule_search_locations)


def untrusted_location(origin: Path, folder: Path | None) -> str | None:
    """Why code at ``origin`` is not trusted, or ``None`` when it is installed code.

    Untrusted: inside the model ``folder``, or directly in the current
    working directory unless the process runs a script from there.
    """
    resolved = _resolve(origin)
    if folder is not None and _within(resolved, _resolve(folder)):
        return "inside the model folder"
    cwd = _resolve(Path(os.getcwd()))
    # cwd/m.py, cwd/m/ (a namespace package) or cwd/m/__init__.py
    in_cwd = resolved.parent == cwd or (
        resolved.name == "__init__.py" and resolved.parent.parent == cwd
    )
    if in_cwd and not _running_a_script_in(cwd):
        return "in the current directory"
    return None


def _running_a_script_in(cwd: Path) -> bool:
    """Whether the process runs a script file that lives in ``cwd`` (``python train.py``).

    Its folder is then on ``sys.path`` because the user ran code from it, and
    modules beside the script are the user's own. With ``python -c``,
    ``python -m``, a REPL or a notebook, the current directory is on
    ``sys.path`` only implicitly, wherever the process was started.
    """
    main = sys.modules.get("__main__")
    file = getattr(main, "__file__", None)
    if not file or getattr(main, "__spec__", None) is not None:
        return False
    return _resolve(Path(file)).parent == cwd


def first_untrusted(module: str, folder: Path | None) -> tuple[str, Path, str] | None:
    """The first not-yet-imported package of ``module`` that would come from untrusted code.

    Returns ``(name, origin, reason)`` or ``None``. Nothing is imported: the
    walk stops at the first package not imported yet, since its submodules
    live inside it. For plugins whose deserializer imports the modules a
    file names (skops), to check them all before it runs.
    """
    parts = module.split(".")
    for depth in range(1, len(parts) + 1):
        name = ".".join(parts[:depth])
        if not all(part.isidentifier() for part in parts[:depth]):
            return None  # not importable at all; the deserializer fails on it
        if name in sys.modules:
            continue
        origin = module_origin(name)
        if origin is None:
            return None
        reason = untrusted_location(origin, folder)
        return (name, origin, reason) if reason is not None else None
    return None


def import_object(
    spec: str,
    *,
    key: str,
    folder: Path | None,
    allow_unsafe: bool,
    code_dir: Path | None = None,
    what: str = "class",
) -> Any:
    """Import the object ``spec`` (``module:Name.attr``) names, after checking where it comes from.

    ``folder`` is the model folder the name was read from and ``code_dir``
    the code it ships (put first on ``sys.path`` only with ``allow_unsafe``).
    Raises ``ManifestError`` for a malformed name, ``UnsafeFormatError`` for
    code from the folder or the current directory without the opt-in, and
    ``ImportError`` naming the module when it is not installed.
    """
    module_name, qualname = parse_spec(spec, key=key)
    if allow_unsafe and code_dir is not None and str(code_dir) not in sys.path:
        sys.path.insert(0, str(code_dir))
    parts = module_name.split(".")
    for depth in range(1, len(parts) + 1):
        name = ".".join(parts[:depth])
        if name in sys.modules:
            continue
        origin = module_origin(name)
        if origin is None:
            shipped = code_dir is not None and _ships(code_dir, parts[0])
            if shipped and not allow_unsafe:
                raise UnsafeFormatError(
                    "code",
                    code_dir,
                    f"{what} {spec} is only importable from code shipped in "
                    "the model folder, and importing it runs that code",
                )
            raise ImportError(
                f"{what} {spec}: module {name!r} is not installed; install the package "
                "that defines it"
            )
        reason = untrusted_location(origin, folder)
        if reason is not None and not allow_unsafe:
            raise UnsafeFormatError(
                "code",
                origin,
                f"{what} {spec} would be imported from {origin}, {reason}, "
                "and importing it runs that code",
            )
        importlib.import_module(name)
    try:
        return functools.reduce(getattr, qualname.split("."), sys.modules[module_name])
    except AttributeError:
        raise ImportError(f"{what} {spec}: module {module_name} has no {qualname!r}") from None


def _dotted(text: str) -> bool:
    return bool(text) and all(part.isidentifier() for part in text.split("."))


def _show(value: Any) -> str:
    text = repr(value) if isinstance(value, str) else type(value).__name__
    return text if len(text) <= 120 else text[:117] + "..."


def _location(origin: Any, search: Any) -> Path | None:
    if origin:
        return Path(origin)
    paths = list(search or [])
    return Path(paths[0]) if paths else None


def _ships(code_dir: Path, top: str) -> bool:
    return (code_dir / f"{top}.py").is_file() or (code_dir / top).is_dir()


def _resolve(path: Path) -> Path:
    try:
        return path.resolve()
    except (OSError, RuntimeError):
        return path.absolute()


def _within(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents
