"""The hook implementations flavorkit calls for the ``sklearn`` flavor.

Registered through the ``flavorkit`` entry-point group (name ``sklearn``).
Each hook is a thin dispatcher; the work lives in one module per concern,
imported when the hook first runs: flavorkit imports every plugin's hooks to
route a model, and a process that loads a PyTorch model need not import the
scikit-learn plugin's modules (nor scikit-learn or skops, which they import
only inside functions).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flavorkit import hookimpl
from flavorkit.hookspecs import LoadOptions, Persisted

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
) -> Persisted | None:
    """Write ``model`` under ``path`` and describe it; ``None`` for a model that is not ours.

    Called by ``flavorkit.save_model``. Options (popped from ``options``):
    ``serialization_format`` (``skops`` | ``cloudpickle`` | ``pickle``, default
    ``skops``), ``predict_fn`` (default ``predict``) and, for MLflow
    compatibility, ``skops_trusted_types``. Raises ``SignatureError`` when the
    estimator lacks ``predict_fn`` and ``ValueError`` for an unknown format.
    """
    if flavor is None and not _is_estimator(model):
        return None
    import sklearn
    from flavorkit import ParamSpec

    from flavorkit_sklearn import _formats, _predict

    fmt = _formats.check_format(options.pop("serialization_format", _formats.DEFAULT_FORMAT))
    predict_fn = _predict.check_at_save(
        model, options.pop("predict_fn", _predict.DEFAULT_PREDICT_FN)
    )
    written = _formats.dump(model, path, fmt, options.pop("skops_trusted_types", None))
    return {
        "flavor": FLAVOR,
        "conf": {
            "pickled_model": written["pickled_model"],
            "sklearn_version": sklearn.__version__,
            "serialization_format": fmt,
            "skops_trusted_types": written["skops_trusted_types"],
        },
        "pyfunc": {
            "loader_module": LOADER_MODULE,
            "model_path": written["pickled_model"],
            "predict_fn": predict_fn,
        },
        "params": [ParamSpec("predict_fn", "string", predict_fn)],
    }


@hookimpl
def flavorkit_load(
    path: Path, conf: dict[str, Any], options: LoadOptions, pyfunc_conf: dict[str, Any]
) -> Any:
    """Read the estimator of the model folder ``path`` (``conf``: its ``sklearn`` section).

    Called by ``load_native`` and ``load_model``. See
    ``flavorkit_sklearn._load.load`` for the sections read, the trust rules
    and the errors.
    """
    from flavorkit_sklearn import _load

    return _load.load(path, conf, pyfunc_conf, options)


@hookimpl
def flavorkit_predict(
    model: Any, data: Any, params: dict[str, Any], pyfunc_conf: dict[str, Any]
) -> Any:
    """Call the estimator's chosen method (``params["predict_fn"]``) on ``data``.

    Called by every ``PyFuncModel.predict`` after the core enforced the
    signature and filled ``predict_fn`` from the save-time default; a folder
    MLflow wrote (no params schema) names its method in ``pyfunc_conf``.
    """
    from flavorkit_sklearn import _predict

    method = _predict.resolve(model, params, pyfunc_conf)
    prepared = _predict.prepare(model, data)
    if _predict.rows(prepared) == 0:
        return _predict.predict_no_rows(method, prepared)
    return method(prepared)


@hookimpl
def flavorkit_detect_environment(model: Any, conf: dict[str, Any]) -> list[str]:
    """Pinned requirements of a freshly saved ``sklearn`` model.

    scikit-learn and the format's library, plus the distributions of the
    classes the estimator references (steps, transformers, sub-estimators).
    """
    from flavorkit_sklearn import _environment, _formats

    return _environment.requirements(model, conf.get("serialization_format") or _formats.SKOPS)
