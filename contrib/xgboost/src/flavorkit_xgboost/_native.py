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
from typing import TYPE_CHECKING, Any

from flavorkit.exceptions import ManifestError

from flavorkit_xgboost import _classes, _predict

if TYPE_CHECKING:
    from flavorkit.hookspecs import Persisted

FLAVOR_NAME = "xgboost"
FRAMEWORK_MODULE = "xgboost"
FRAMEWORK_DISTRIBUTION = "xgboost"
LOADER_MODULE = "flavorkit_xgboost"
# format name -> the file it is written to (the extension tells xgboost the format)
FORMATS = {"ubj": "model.ubj", "json": "model.json"}
DEFAULT_FORMAT = "ubj"
VERSION_KEY = "xgb_version"  # MLflow's key
DATA_KEY = f"flavors.{FLAVOR_NAME}.data"
CODE_KEY = f"flavors.{FLAVOR_NAME}.code"


def check_format(model_format: Any) -> str:
    """Return ``model_format`` when it is one of :data:`FORMATS`; raise ``ValueError`` otherwise."""
    if model_format not in FORMATS:
        raise ValueError(
            f"model_format: expected one of {', '.join(FORMATS)}, got {model_format!r}"
        )
    return str(model_format)


def persist(model: Any, folder: Path, options: dict[str, Any]) -> Persisted:
    """Write ``model`` into the (empty) model folder and describe it for ``MLmodel``.

    Called by the persist hook. Pops the options ``model_format`` (``ubj``
    or ``json``) and ``predict_fn`` (``predict`` or, for classifiers,
    ``predict_proba``). Returns the hook's answer: MLflow's ``xgboost``
    section, the ``python_function`` keys and the params the model's
    predictions take (flavorkit adds ``code`` to the section itself).
    Raises ``ValueError`` for an unknown format, ``SignatureError`` for a
    method the model lacks; xgboost's own errors propagate.
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


def requirements(model: Any) -> list[str]:
    """The exact pins a freshly saved ``model`` needs.

    xgboost; scikit-learn for the scikit-learn interface (xgboost leaves it
    optional, but XGBModel cannot be built without it); and the distribution
    of a subclass's own module, when one is installed.
    """
    from flavorkit.environment import pins_for_modules

    modules = [FRAMEWORK_MODULE, type(model).__module__.split(".", 1)[0]]
    if not _classes.is_booster(model):
        modules.append("sklearn")
    return pins_for_modules(dict.fromkeys(modules))


def _text_or_none(conf: dict[str, Any], name: str, manifest: Path) -> None:
    value = conf.get(name)
    if value is not None and (isinstance(value, bool) or not isinstance(value, (str, int, float))):
        raise ManifestError(
            f"expected a string, got {type(value).__name__}",
            path=manifest,
            key=f"flavors.{FLAVOR_NAME}.{name}",
        )


def load(path: Path, conf: dict[str, Any], *, allow_unsafe: bool) -> Any:
    """Read the model of the folder ``path`` (``conf``: its ``xgboost`` section).

    Called by the load hook. ``path`` may also be the model file itself (the
    layout MLflow 1.x handed its loader). Every path the section names is
    resolved by ``flavorkit.folder.model_file`` (inside the folder, links
    followed, a regular file or a folder); ``model_class`` is imported and
    checked (``_classes.resolve``) before anything is built; the file is read
    once and checked (``_modelfile.check``) before xgboost parses it, since
    xgboost's reader crashes on damaged files. Raises ``ManifestError`` for a
    bad section or model file and ``UnsafeFormatError`` for a
    ``model_class`` outside xgboost, or a model flavorkit cannot check, without
    ``allow_unsafe``.
    """
    from flavorkit.folder import model_file, read_bytes

    from flavorkit_xgboost import _modelfile  # the checker, only when a model is loaded

    folder = path if path.is_dir() else path.parent
    manifest = folder / "MLmodel"
    if not isinstance(conf, dict):
        raise ManifestError(
            f"expected a mapping, got {type(conf).__name__}",
            path=manifest,
            key=f"flavors.{FLAVOR_NAME}",
        )
    for name in ("model_format", VERSION_KEY):  # informative only, but never of a wrong type
        _text_or_none(conf, name, manifest)
    file = model_file(folder, conf.get("data", FORMATS[DEFAULT_FORMAT]), key=DATA_KEY)
    code = conf.get("code")
    code_dir = None if code is None else model_file(folder, code, key=CODE_KEY, kind="dir")
    cls = _classes.resolve(
        conf.get("model_class"), folder, allow_unsafe=allow_unsafe, code_dir=code_dir
    )
    # read once, and only what the file holds: read_bytes reserves its whole limit up front
    try:
        size = file.stat().st_size
    except OSError:
        size = 0  # gone or replaced since it was checked: read_bytes says which
    data = read_bytes(file, limit=min(_modelfile.MAX_MODEL_BYTES, size), key=DATA_KEY)
    _modelfile.check(data, path=file, key=DATA_KEY, allow_unsafe=allow_unsafe)
    model = cls()
    # load_model fills the new instance in place; from a buffer xgboost tells JSON from
    # UBJSON by the content (MLflow's model.xgb has no telling extension), and it reads
    # exactly the bytes that were checked
    try:
        model.load_model(bytearray(data))
    except Exception as exc:
        lines = str(exc).strip().splitlines()
        reason = f"{type(exc).__name__}: {lines[0][:200]}" if lines else type(exc).__name__
        raise ManifestError(
            f"xgboost could not read the model ({reason})", path=file, key=DATA_KEY
        ) from exc
    return model
