"""The model file: xgboost's own formats, written and read with ``save_model``/``load_model``.

Saving calls ``model.save_model(file)`` with the file's extension choosing
the format: ``ubj`` (Universal Binary JSON, the default) or ``json``. Both
describe the trees as data, so reading them never runs code. Loading
rebuilds the class ``model_class`` names (see ``_classes``) and calls its
``load_model``; files MLflow wrote (``model.xgb``, ``model.json``,
``model.ubj``) load too.
Nothing here imports xgboost at module import time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flavorkit_xgboost import _classes, _predict

FLAVOR_NAME = "xgboost"
FRAMEWORK_MODULE = "xgboost"
FRAMEWORK_DISTRIBUTION = "xgboost"
LOADER_MODULE = "flavorkit_xgboost"
# format name -> the file it is written to (the extension tells xgboost the format)
FORMATS = {"ubj": "model.ubj", "json": "model.json"}
DEFAULT_FORMAT = "ubj"
VERSION_KEY = "xgb_version"  # MLflow's key


def check_format(model_format: Any) -> str:
    """Return ``model_format`` when it is one of :data:`FORMATS`; raise ``ValueError`` otherwise."""
    if model_format not in FORMATS:
        raise ValueError(
            f"model_format: expected one of {', '.join(FORMATS)}, got {model_format!r}"
        )
    return str(model_format)


def persist(model: Any, folder: Path, options: dict[str, Any]) -> dict[str, Any]:
    """Write ``model`` into the (empty) model folder and describe it for ``MLmodel``.

    Called by the persist hook. Pops the options ``model_format`` (``ubj``
    or ``json``) and ``predict_fn`` (``predict`` or, for classifiers,
    ``predict_proba``). Returns the hook's answer: MLflow's ``xgboost``
    section, the ``python_function`` keys and the params the model's
    predictions take. Raises ``ValueError`` for an unknown format,
    ``SignatureError`` for a method the model lacks; xgboost's own errors
    propagate.
    """
    import xgboost

    fmt = check_format(options.pop("model_format", DEFAULT_FORMAT))
    predict_fn = _predict.check_at_save(model, options.pop("predict_fn", None))
    name = FORMATS[fmt]
    model.save_model(str(folder / name))
    conf = {
        VERSION_KEY: xgboost.__version__,
        "data": name,
        "model_class": _classes.class_name(model),
        "model_format": fmt,
        # the core sets this to the code folder when save_model is given code_paths
        "code": None,
    }
    pyfunc: dict[str, Any] = {"loader_module": LOADER_MODULE, "data": name}
    if predict_fn is not None:
        pyfunc["predict_fn"] = predict_fn
    return {
        "flavor": FLAVOR_NAME,
        "conf": conf,
        "pyfunc": pyfunc,
        "params": _predict.param_specs(model, predict_fn),
    }


def model_file(folder: Path, conf: dict[str, Any]) -> Path:
    """The model file the section's ``data`` key names, kept inside ``folder``.

    Raises ``flavorkit.exceptions.ManifestError`` for a name that is not a
    string, points outside the folder or names no file.
    """
    from flavorkit.exceptions import ManifestError

    manifest, key = folder / "MLmodel", f"flavors.{FLAVOR_NAME}.data"
    name = conf.get("data", FORMATS[DEFAULT_FORMAT])
    if not isinstance(name, str) or not name:
        raise ManifestError(
            f"expected a file name, got {type(name).__name__}", path=manifest, key=key
        )
    file = (folder / name).resolve()
    if not file.is_relative_to(folder.resolve()):
        raise ManifestError(
            f"path {name!r} points outside the model folder", path=manifest, key=key
        )
    if not file.is_file():
        raise ManifestError(f"no file {name!r} in the model folder", path=manifest, key=key)
    return file


def load(path: Path, conf: dict[str, Any], *, allow_unsafe: bool) -> Any:
    """Read the model of the folder ``path`` (``conf``: its ``xgboost`` section).

    Called by the load hook. ``path`` may also be the model file itself (the
    layout MLflow 1.x handed its loader). Raises ``ManifestError`` for a bad
    ``data`` or ``model_class`` key and ``UnsafeFormatError`` for a
    ``model_class`` outside xgboost without ``allow_unsafe``.
    """
    folder = path if path.is_dir() else path.parent
    file = model_file(folder, conf)
    cls = _classes.resolve(conf.get("model_class"), folder / "MLmodel", allow_unsafe=allow_unsafe)
    model = cls()
    # load_model fills the new instance in place. xgboost picks the format from
    # a file's extension and warns when it knows none (MLflow's model.xgb); a
    # buffer has its format recognised from the content instead.
    if file.suffix in (".json", ".ubj"):
        model.load_model(str(file))
    else:
        model.load_model(bytearray(file.read_bytes()))
    return model
