"""The hook implementations flavorkit calls for the ``sklearn`` flavor.

Registered through the ``flavorkit`` entry-point group (name ``sklearn``).
Importing this module imports neither scikit-learn nor skops: every hook
imports what it needs when it runs.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

from flavorkit import hookimpl
from flavorkit._folder import model_file
from flavorkit.exceptions import ManifestError

from flavorkit_sklearn import _environment, _formats, _predict
from flavorkit_sklearn._trust import trusted_by_caller

FLAVOR = "sklearn"
LOADER_MODULE = "flavorkit_sklearn"
SECTION = f"flavors.{FLAVOR}"
PYFUNC_SECTION = "flavors.python_function"


def _is_estimator(model: Any) -> bool:
    """Whether ``model`` is a scikit-learn estimator, decided without importing scikit-learn.

    Any class whose bases include one from ``sklearn`` counts: the library's
    own estimators, Pipelines, and user or third-party classes deriving from
    ``BaseEstimator``.
    """
    if isinstance(model, type) or not callable(getattr(model, "get_params", None)):
        return False
    return any(
        str(getattr(klass, "__module__", "")).split(".", 1)[0] == "sklearn"
        for klass in type(model).__mro__
    )


@hookimpl
def flavorkit_flavors() -> list[str]:
    """The one flavor this plugin owns."""
    return [FLAVOR]


@hookimpl
def flavorkit_persist(
    model: Any, path: Path, flavor: str | None, options: dict[str, Any]
) -> dict[str, Any] | None:
    """Write ``model`` under ``path`` and describe it; ``None`` for a model that is not ours.

    Called by ``flavorkit.save_model``. Options (popped from ``options``):
    ``serialization_format`` (``skops`` | ``cloudpickle`` | ``pickle``, default
    ``skops``), ``predict_fn`` (default ``predict``) and, for MLflow
    compatibility, ``skops_trusted_types``. Raises ``SignatureError`` when the
    estimator lacks ``predict_fn`` and ``ValueError`` for an unknown format.
    """
    if flavor is None and not _is_estimator(model):
        return None
    if flavor not in (None, FLAVOR):
        return None
    import sklearn
    from flavorkit import ParamSpec

    fmt = _formats.check_format(options.pop("serialization_format", _formats.DEFAULT_FORMAT))
    predict_fn = _predict.check_at_save(
        model, options.pop("predict_fn", _predict.DEFAULT_PREDICT_FN)
    )
    written = _formats.dump(model, path, fmt, options.pop("skops_trusted_types", None))
    conf = {
        "pickled_model": written["pickled_model"],
        "sklearn_version": sklearn.__version__,
        "serialization_format": fmt,
        # the core sets this to the code folder when save_model is given code_paths
        "code": None,
        "skops_trusted_types": written["skops_trusted_types"],
    }
    pyfunc = {
        "loader_module": LOADER_MODULE,
        "model_path": written["pickled_model"],
        "predict_fn": predict_fn,
    }
    return {
        "flavor": FLAVOR,
        "conf": conf,
        "pyfunc": pyfunc,
        "params": [ParamSpec("predict_fn", "string", predict_fn)],
    }


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
    1.x layout), and the format's default name is the last resort. Each is
    resolved by ``flavorkit._folder.model_file``: a relative path, inside the
    folder once links are followed, and a regular file.
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
            stacklevel=3,
        )


@hookimpl
def flavorkit_load(
    flavor: str,
    path: Path,
    conf: dict[str, Any],
    options: dict[str, Any],
    pyfunc_conf: dict[str, Any],
) -> Any:
    """Read the estimator of the model folder ``path`` (``conf``: its ``sklearn`` section).

    Called by ``load_native`` and ``load_model``; ``pyfunc_conf`` is the
    folder's ``python_function`` section, which names the file in folders
    old MLflow versions wrote. A missing ``serialization_format`` means
    pickle (MLflow before skops). skops types are trusted only from skops's
    defaults and the caller (``trusted_types`` option,
    :func:`flavorkit_sklearn.trust`), never from ``conf``. Raises
    ``UnsafeFormatError`` for pickle formats without ``allow_unsafe`` (before
    the file is read) and for untrusted skops types, ``ManifestError`` for a
    bad section or an unreadable estimator file. Warns when the saving
    scikit-learn version differs from the running one.
    """
    if flavor != FLAVOR:
        return None
    path = Path(path)
    folder = path if path.is_dir() else path.parent  # 1.x layout hands over the file
    manifest = folder / "MLmodel"
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


@hookimpl
def flavorkit_predict(
    flavor: str, model: Any, data: Any, params: dict[str, Any], pyfunc_conf: dict[str, Any]
) -> Any:
    """Call the estimator's chosen method (``params["predict_fn"]``) on ``data``.

    Called by every ``PyFuncModel.predict`` after the core enforced the
    signature and filled ``predict_fn`` from the save-time default; a folder
    MLflow wrote (no params schema) names its method in ``pyfunc_conf``.
    """
    if flavor != FLAVOR:
        return None
    method = _predict.resolve(model, params or {}, pyfunc_conf or {})
    prepared = _predict.prepare(model, data)
    if _predict.rows(prepared) == 0:
        return _predict.predict_no_rows(method, prepared)
    return method(prepared)


@hookimpl
def flavorkit_detect_environment(flavor: str, model: Any, conf: dict[str, Any]) -> list[str] | None:
    """Pinned requirements of a freshly saved ``sklearn`` model; ``None`` for other flavors.

    scikit-learn and the format's library, plus the distributions of the
    classes the estimator references (steps, transformers, sub-estimators).
    """
    if flavor != FLAVOR:
        return None
    return _environment.requirements(model, conf.get("serialization_format") or _formats.SKOPS)
