"""Writing and reading the estimator file in one of the three serialization formats.

``skops`` (the default) stores the object as a description that is rebuilt
without running code, from types that the loading process trusts.
``cloudpickle`` and ``pickle`` run arbitrary code on load, so reading them
needs the caller's opt-in. The file names and the ``serialization_format``
values are MLflow's, so folders move between the two tools.
"""

from __future__ import annotations

import logging
import os
import pickle
from collections.abc import Iterable
from pathlib import Path
from typing import Any, BinaryIO

from flavorkit.exceptions import FlavorkitError, ManifestError, PluginError, UnsafeFormatError
from flavorkit.folder import first_untrusted, open_regular

from flavorkit_sklearn import _archive, _skops
from flavorkit_sklearn._archive import show
from flavorkit_sklearn._trust import TypeNames, normalize

SKOPS = "skops"
CLOUDPICKLE = "cloudpickle"
PICKLE = "pickle"
FORMATS = (SKOPS, CLOUDPICKLE, PICKLE)
DEFAULT_FORMAT = SKOPS
UNSAFE_FORMATS = frozenset({CLOUDPICKLE, PICKLE})
FILE_NAMES = {SKOPS: "model.skops", CLOUDPICKLE: "model.pkl", PICKLE: "model.pkl"}
KEY = "flavors.sklearn.pickled_model"  # the MLmodel key naming the estimator file

_log = logging.getLogger(__name__)


def check_format(name: Any) -> str:
    """Return ``name`` when it is a known serialization format; ``ValueError`` otherwise.

    Called by ``save_model`` before anything is written.
    """
    if name not in FORMATS:
        raise ValueError(
            f"serialization_format: expected one of {', '.join(FORMATS)}, got {name!r}"
        )
    return str(name)


def dump(
    model: Any, folder: Path, fmt: str, skops_trusted_types: TypeNames | None
) -> dict[str, Any]:
    """Write ``model`` into ``folder`` in format ``fmt``; return the format's ``MLmodel`` keys.

    The keys are ``pickled_model`` (the file name) and ``skops_trusted_types``
    (for skops: the non-default types the file holds, so a reader knows what
    it would have to trust; ``None`` otherwise). Raises ``ValueError`` when
    skops cannot read back what it wrote, or when the caller's
    ``skops_trusted_types`` does not cover the file's types.
    """
    file = folder / FILE_NAMES[fmt]
    if fmt == SKOPS:
        return {
            "pickled_model": file.name,
            "skops_trusted_types": _dump_skops(model, file, skops_trusted_types),
        }
    if skops_trusted_types is not None:
        raise ValueError(
            f"skops_trusted_types: only meaningful with serialization_format='skops', got {fmt!r}"
        )
    if fmt == CLOUDPICKLE:
        try:
            import cloudpickle
        except ModuleNotFoundError as exc:
            raise PluginError(
                "serialization_format='cloudpickle' needs the cloudpickle package: "
                "pip install 'flavorkit-sklearn[cloudpickle]'"
            ) from exc
        with file.open("wb") as fh:
            cloudpickle.dump(model, fh, protocol=pickle.DEFAULT_PROTOCOL)
    else:
        with file.open("wb") as fh:
            pickle.dump(model, fh, protocol=pickle.DEFAULT_PROTOCOL)
    _log.warning(
        "saved %s with %s: loading it runs code from the file and needs the loader's opt-in "
        "(allow_unsafe=True); the default 'skops' format does not",
        file.name,
        fmt,
    )
    return {"pickled_model": file.name, "skops_trusted_types": None}


def _dump_skops(model: Any, file: Path, declared: TypeNames | None) -> list[str] | None:
    skops_io = _skops.skops_io()
    with _skops.quick():
        skops_io.dump(model, file)
    needed = _skops.untrusted_types(skops_io, file)
    if declared is not None:
        missing = sorted(set(needed) - set(normalize(declared)))
        if missing:
            raise ValueError(
                f"skops_trusted_types: the saved file also needs {', '.join(missing)}; "
                "add them, or leave skops_trusted_types out to record what the file needs"
            )
    # read back at once, as MLflow does: skops can write objects it cannot rebuild
    try:
        with _skops.quick():
            skops_io.load(file, trusted=needed or None)
    except Exception as exc:
        raise ValueError(
            f"skops could not read back the estimator it wrote ({type(exc).__name__}: {exc}); "
            "save with serialization_format='cloudpickle' if skops cannot describe this model"
        ) from exc
    return needed or None


def load(
    file: Path,
    fmt: str,
    *,
    trusted: list[str],
    allow_unsafe: bool,
    key: str = KEY,
    folder: Path | None = None,
) -> Any:
    """Read the estimator in ``file``, written in format ``fmt``.

    ``trusted`` is what the caller trusts beyond skops's defaults;
    ``allow_unsafe`` is the caller's opt-in to formats that run code, which
    also trusts every type in a skops file. ``key`` is the ``MLmodel`` key
    that named the file and ``folder`` the model folder (the file's folder
    by default). A pickle without the opt-in is refused before the file is
    opened. Raises ``UnsafeFormatError`` for that, for a skops file holding
    untrusted types and for one whose classes would be imported from the
    model folder or the current directory; ``ManifestError`` (naming the file
    and ``key``) when the file is missing, not a regular file, cannot be
    read back (truncated, corrupted, not the format), or is a skops file
    built to exhaust the loader (``flavorkit_sklearn._archive``: refused
    with or without the opt-in).
    """
    if fmt in UNSAFE_FORMATS and not allow_unsafe:
        raise UnsafeFormatError(
            fmt,
            file,
            detail=f"the {fmt} format runs arbitrary code from the file while loading",
        )
    if not os.path.lexists(file):
        raise ManifestError(
            f"the estimator file {file.name!r} named there does not exist",
            path=file.parent / "MLmodel",
            key=key,
        )
    # opened once, refusing a FIFO or device put in place of the checked file, so every
    # later read (skops reads the archive three times) sees the file that was checked
    with open_regular(file, key=key) as fh:
        if fmt == SKOPS:
            return _load_skops(fh, file, key, trusted, allow_unsafe, folder or file.parent)
        try:
            # cloudpickle.load is pickle.load; cloudpickle itself is imported by
            # the stream when it references cloudpickle helpers
            return pickle.load(fh)  # the caller opted in (allow_unsafe)
        except FlavorkitError:
            raise
        except Exception as exc:
            raise _unreadable(file, key, fmt, exc) from exc


def _unreadable(file: Path, key: str, fmt: str, exc: BaseException) -> ManifestError:
    lines = str(exc).strip().splitlines()
    reason = f"{type(exc).__name__}: {lines[0][:200]}" if lines else type(exc).__name__
    return ManifestError(
        f"is not a readable {fmt} file ({reason}); it is truncated, corrupted or not "
        f"written by {'skops' if fmt == SKOPS else 'pickle'}",
        path=file,
        key=key,
    )


def _load_skops(
    fh: BinaryIO, file: Path, key: str, trusted: list[str], allow_unsafe: bool, folder: Path
) -> Any:
    skops_io = _skops.skops_io()
    try:
        # skops reads the zip archive (schema.json and the arrays) from the open file
        audit = _skops.audit(skops_io, fh)
    except FlavorkitError:
        raise
    except _archive.SkopsFileError as exc:
        # built to exhaust the loader: refused with or without the opt-in
        raise ManifestError(f"is refused: {exc}", path=file, key=key) from None
    except Exception as exc:
        raise _unreadable(file, key, SKOPS, exc) from exc
    found = audit.untrusted
    untrusted = [name for name in found if name not in trusted]
    if untrusted and not allow_unsafe:
        raise UnsafeFormatError(SKOPS, file, detail=_untrusted_detail(untrusted))
    if not allow_unsafe:
        _check_module_origins(audit.modules, file, folder)
    try:
        fh.seek(0)
        with _skops.quick():
            return skops_io.load(fh, trusted=found or None)
    except FlavorkitError:
        raise
    except Exception as exc:
        raise _unreadable(file, key, SKOPS, exc) from exc


def _check_module_origins(modules: Iterable[str], file: Path, folder: Path) -> None:
    """Refuse a trusted type whose module would be imported from the folder or the cwd.

    skops imports the module of every type it rebuilds. A trusted name (one
    of skops's defaults, or one the caller gave) is a promise about installed
    code, so a module of that name that is not imported yet and would be
    found inside the model folder or the current directory is refused
    (``UnsafeFormatError``), without importing it.
    """
    for module in sorted(modules):
        found = first_untrusted(module, folder)
        if found is not None:
            name, origin, reason = found
            raise UnsafeFormatError(
                SKOPS,
                file,
                detail=f"it needs module {show(name)}, which would be imported from {origin}, "
                f"{reason}, and importing it runs that code",
            )


def _untrusted_detail(untrusted: list[str]) -> str:
    """The refusal text: the types, why skops distrusts the ones it explains, how to trust.

    The names come from the file: they are shown escaped and cut, at most
    :data:`_MAX_NAMED` of them, and only names that can be a type (dotted
    ASCII identifiers) are offered for ``trusted_types``.
    """
    from skops.io import exceptions

    # skops explains the types it distrusts on purpose (tree node storage is
    # read without bounds checks); older skops releases have no explanations
    reasons = getattr(exceptions, "UNTRUSTED_TYPE_REASONS", {})
    named = untrusted[:_MAX_NAMED]
    more = f" and {len(untrusted) - len(named):,} more" if len(untrusted) > len(named) else ""
    explained = "".join(f" ({reasons[name]})" for name in named if name in reasons)
    valid = [name for name in untrusted if _is_type_name(name)]
    invalid = [name for name in named if not _is_type_name(name)]
    text = (
        f"it holds types that are not trusted: {', '.join(map(show, named))}{more}.{explained} "
        "Building untrusted types may run their code."
    )
    if invalid:
        text += (
            f" {', '.join(map(show, invalid))} cannot name an importable type (expected dotted "
            "ASCII identifiers), so trusted_types cannot load this file."
        )
    elif len(valid) <= _MAX_NAMED:
        text += (
            f" If you trust them, pass trusted_types=[{', '.join(map(repr, valid))}] to "
            "flavorkit_sklearn.load_model, or load inside `with flavorkit_sklearn.trust([...]):`"
        )
    else:
        text += (
            " If you trust them, pass the names skops.io.get_untrusted_types(file=...) lists as "
            "trusted_types to flavorkit_sklearn.load_model, or load inside "
            "`with flavorkit_sklearn.trust([...]):`"
        )
    return text


_MAX_NAMED = 20


def _is_type_name(name: str) -> bool:
    """Whether ``name`` can name a type: two or more dotted ASCII identifiers, not too long."""
    parts = name.split(".")
    return (
        len(name) <= 500
        and len(parts) >= 2
        and name.isascii()
        and all(part.isidentifier() for part in parts)
    )
