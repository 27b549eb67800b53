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
from flavorkit.exceptions import ManifestError

from flavorkit_sklearn import _environment, _formats, _predict
from flavorkit_sklearn._trust import trusted_by_caller

FLAVOR = "sklearn"
LOADER_MODULE = "flavorkit_sklearn"


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


def _estimator_file(folder: Path, conf: dict[str, Any], fmt: str) -> Path:
    """The estimator file of a model folder, kept inside the folder.

    ``pickled_model`` names it; folders written by old MLflow versions may
    only name it in ``python_function`` (``model_path``, or ``data`` in the
    1.x layout), and the format's default name is the last resort.
    """
    name = conf.get("pickled_model")
    key = "flavors.sklearn.pickled_model"
    if not name:
        name, key = _pyfunc_file(folder)
    if not name:
        name = _formats.FILE_NAMES[fmt]
    if not isinstance(name, str):
        raise ManifestError(
            f"expected a file name, got {type(name).__name__}", path=folder / "MLmodel", key=key
        )
    file = (folder / name).resolve()
    if not file.is_relative_to(folder.resolve()):
        raise ManifestError(
            f"path {name!r} points outside the model folder",
            path=folder / "MLmodel",
            key=key,
        )
    return file


def _pyfunc_file(folder: Path) -> tuple[Any, str]:
    import yaml

    try:
        manifest = yaml.safe_load((folder / "MLmodel").read_text(encoding="utf-8")) or {}
        section = manifest["flavors"]["python_function"] or {}
    except (OSError, KeyError, TypeError, yaml.YAMLError):
        return None, "flavors.sklearn.pickled_model"
    if section.get("model_path"):
        return section["model_path"], "flavors.python_function.model_path"
    return section.get("data"), "flavors.python_function.data"


def _warn_on_version_change(saved: Any) -> None:
    import sklearn
    from flavorkit.exceptions import EnvironmentMismatchWarning

    if saved and str(saved) != sklearn.__version__:
        warnings.warn(
            f"this model was saved with scikit-learn {saved} and is loaded with scikit-learn "
            f"{sklearn.__version__}; estimators may behave differently or fail across versions",
            EnvironmentMismatchWarning,
            stacklevel=3,
        )


@hookimpl
def flavorkit_load(flavor: str, path: Path, conf: dict[str, Any], options: dict[str, Any]) -> Any:
    """Read the estimator of the model folder ``path`` (``conf``: its ``sklearn`` section).

    Called by ``load_native`` and ``load_model``. A missing
    ``serialization_format`` means pickle (MLflow before skops). skops types
    are trusted only from skops's defaults and the caller (``trusted_types``
    option, :func:`flavorkit_sklearn.trust`), never from ``conf``. Raises
    ``UnsafeFormatError`` for pickle formats without ``allow_unsafe`` and for
    untrusted skops types, ``ManifestError`` for a bad section. Warns when
    the saving scikit-learn version differs from the running one.
    """
    if flavor != FLAVOR:
        return None
    path = Path(path)
    folder = path if path.is_dir() else path.parent  # 1.x layout hands over the file
    fmt = conf.get("serialization_format") or _formats.PICKLE
    if fmt not in _formats.FORMATS:
        raise ManifestError(
            f"expected one of {', '.join(_formats.FORMATS)}, got {fmt!r}",
            path=folder / "MLmodel",
            key="flavors.sklearn.serialization_format",
        )
    file = _estimator_file(folder, conf, fmt)
    _warn_on_version_change(conf.get("sklearn_version"))
    return _formats.load(
        file,
        fmt,
        trusted=trusted_by_caller(options.get("trusted_types")),
        allow_unsafe=bool(options.get("allow_unsafe")),
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
    return method(_predict.prepare(model, data))


@hookimpl
def flavorkit_detect_environment(flavor: str, model: Any, conf: dict[str, Any]) -> list[str] | None:
    """Pinned requirements of a freshly saved ``sklearn`` model; ``None`` for other flavors.

    scikit-learn and the format's library, plus the distributions of the
    classes the estimator references (steps, transformers, sub-estimators).
    """
    if flavor != FLAVOR:
        return None
    return _environment.requirements(model, conf.get("serialization_format") or _formats.SKOPS)
