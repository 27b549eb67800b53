"""Reading an ``sklearn`` model folder back (the ``flavorkit_load`` hook's work).

The section is read as hostile input: every value is checked for its type
before use, and every file it names (the estimator file, the code folder)
is resolved with ``flavorkit.folder.model_file``. Folders written by MLflow
are read too, including the 1.x layout and pickles written before MLflow
had a ``serialization_format`` key.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flavorkit.exceptions import ManifestError
from flavorkit.folder import model_file

from flavorkit_sklearn import _formats
from flavorkit_sklearn._trust import trusted_by_caller

if TYPE_CHECKING:
    from flavorkit.hookspecs import LoadOptions

SECTION = "flavors.sklearn"
PYFUNC_SECTION = "flavors.python_function"


def load(path: Path, conf: Any, pyfunc_conf: Any, options: LoadOptions) -> Any:
    """Read the estimator of the model folder ``path``.

    ``conf`` is the folder's ``sklearn`` section and ``pyfunc_conf`` its
    ``python_function`` section, which names the file in folders old MLflow
    versions wrote; ``MLmodel`` itself is not read again. ``path`` may also
    be the estimator file itself (MLflow 1.x hands its loader the file).
    A missing ``serialization_format`` means pickle. skops types are trusted
    only from skops's defaults and the caller (``options["trusted_types"]``,
    :func:`flavorkit_sklearn.trust`), never from ``conf``. Raises
    ``UnsafeFormatError`` for pickle formats without
    ``options["allow_unsafe"]`` (before the file is read) and for untrusted
    skops types, ``ManifestError`` for a bad section or an unreadable
    estimator file. Warns when the saving scikit-learn version differs from
    the running one.
    """
    path = Path(path)
    folder = path if path.is_dir() else path.parent
    manifest = folder / "MLmodel"  # named in errors only
    conf = _mapping(conf, manifest, SECTION)
    pyfunc_conf = _mapping(pyfunc_conf, manifest, PYFUNC_SECTION)
    fmt = _serialization_format(conf, manifest)
    file, key = _estimator_file(folder, conf, pyfunc_conf, fmt)
    if conf.get("code") is not None:  # the code folder save_model(code_paths=...) copied
        model_file(folder, conf["code"], key=f"{SECTION}.code", kind="dir")
    _warn_on_version_change(_saved_version(conf, manifest))
    return _formats.load(
        file,
        fmt,
        trusted=trusted_by_caller(options.get("trusted_types")),
        allow_unsafe=bool(options.get("allow_unsafe")),
        key=key,
        folder=folder,
    )


def _mapping(value: Any, manifest: Path, key: str) -> dict[str, Any]:
    """A section of ``MLmodel`` (absent: empty), which must be a mapping."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ManifestError(
            f"expected a mapping, got {type(value).__name__}", path=manifest, key=key
        )
    return value


def _serialization_format(conf: dict[str, Any], manifest: Path) -> str:
    """The section's ``serialization_format``; absent means pickle (MLflow before skops)."""
    fmt = conf.get("serialization_format")
    if fmt is None:
        return _formats.PICKLE
    if not isinstance(fmt, str) or fmt not in _formats.FORMATS:
        shown = repr(fmt) if isinstance(fmt, str) else type(fmt).__name__
        raise ManifestError(
            f"expected one of {', '.join(_formats.FORMATS)}, got {shown[:100]}",
            path=manifest,
            key=f"{SECTION}.serialization_format",
        )
    return fmt


def _estimator_file(
    folder: Path, conf: dict[str, Any], pyfunc_conf: dict[str, Any], fmt: str
) -> tuple[Path, str]:
    """The estimator file of a model folder and the ``MLmodel`` key that names it.

    ``pickled_model`` names it; folders written by old MLflow versions may
    only name it in ``python_function`` (``model_path``, or ``data`` in the
    1.x layout), and the format's default name is the last resort.
    """
    for section, name, sub in (
        (conf, SECTION, "pickled_model"),
        (pyfunc_conf, PYFUNC_SECTION, "model_path"),
        (pyfunc_conf, PYFUNC_SECTION, "data"),
    ):
        if section.get(sub) is not None:
            key = f"{name}.{sub}"
            return model_file(folder, section[sub], key=key), key
    key = f"{SECTION}.pickled_model"
    return model_file(folder, _formats.FILE_NAMES[fmt], key=key), key


def _saved_version(conf: dict[str, Any], manifest: Path) -> str | None:
    saved = conf.get("sklearn_version")
    if saved is None or saved == "":
        return None
    # a hand-written MLmodel may leave a version such as 1.3 unquoted
    if isinstance(saved, bool) or not isinstance(saved, (str, int, float)):
        raise ManifestError(
            f"expected a version string, got {type(saved).__name__}",
            path=manifest,
            key=f"{SECTION}.sklearn_version",
        )
    return str(saved)[:100]


def _warn_on_version_change(saved: str | None) -> None:
    import sklearn
    from flavorkit.exceptions import EnvironmentMismatchWarning

    if saved and saved != sklearn.__version__:
        warnings.warn(
            f"this model was saved with scikit-learn {saved} and is loaded with scikit-learn "
            f"{sklearn.__version__}; estimators may behave differently or fail across versions",
            EnvironmentMismatchWarning,
            stacklevel=4,  # the caller of the load hook
        )
