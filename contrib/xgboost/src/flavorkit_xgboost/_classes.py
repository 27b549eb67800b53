"""Which objects the flavor saves, and which class a folder's ``model_class`` rebuilds.

Two families: the native ``xgboost.Booster`` and the scikit-learn interface
(``xgboost.XGBModel`` and its subclasses XGBClassifier, XGBRegressor,
XGBRanker, XGBRFClassifier, XGBRFRegressor). ``model_class`` (MLflow's key)
names the class to rebuild before the model file is read into it.

xgboost's own classes are rebuilt freely. A class from any other module (a
user's subclass) is imported only with the caller's opt-in: importing a
module runs its code, and a model folder must not decide which code runs.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from flavorkit.exceptions import ManifestError, UnsafeFormatError

# MLflow before 1.22 wrote no model_class; its loader then rebuilds a Booster
DEFAULT_CLASS = "xgboost.core.Booster"
# the modules where xgboost defines the model classes this flavor rebuilds; its
# other modules (dask, spark, ...) need extra libraries and another loader
OWN_MODULES = ("xgboost", "xgboost.core", "xgboost.sklearn")
KEY = "flavors.xgboost.model_class"


def is_xgboost_model(model: Any) -> bool:
    """Whether ``model`` is a Booster or a scikit-learn-interface model (or a subclass).

    Called by the persist hook for every model saved without a flavor name.
    xgboost cannot have built the object unless it is already imported, so
    a save of another framework's model never imports xgboost.
    """
    xgboost = sys.modules.get("xgboost")
    if xgboost is None:
        return False
    return isinstance(model, (xgboost.Booster, xgboost.XGBModel))


def not_native(model: Any) -> TypeError:
    """The error for an object of another type saved under this flavor's name."""
    cls = type(model)
    return TypeError(
        "flavor 'xgboost' saves xgboost.Booster and xgboost.XGBModel objects, "
        f"got {cls.__module__}.{cls.__qualname__}"
    )


def is_booster(model: Any) -> bool:
    """Whether ``model`` is a native Booster (rather than a scikit-learn-interface model)."""
    import xgboost

    return isinstance(model, xgboost.Booster)


def class_name(model: Any) -> str:
    """``module.QualName`` of the model's class, as ``model_class`` records it."""
    cls = type(model)
    return f"{cls.__module__}.{cls.__qualname__}"


def resolve(name: Any, folder: Path, *, allow_unsafe: bool, code_dir: Path | None = None) -> type:
    """The class a folder's ``model_class`` names (``None``: a Booster), checked, not yet built.

    The name is imported through ``flavorkit.folder.import_object``, which
    refuses code found inside the model ``folder`` or the current directory
    without the opt-in, and the result must be ``xgboost.Booster``,
    ``xgboost.XGBModel`` or a subclass before anything is built from it.
    ``code_dir`` is the code the folder ships (importable only with
    ``allow_unsafe``). Raises ``ManifestError`` for a value that is not a
    dotted class name, an xgboost class this flavor does not rebuild, a class
    that cannot be imported or anything that is no Booster or XGBModel class;
    ``UnsafeFormatError`` for a class outside xgboost without ``allow_unsafe``
    (refused before its module is imported).
    """
    manifest = folder / "MLmodel"
    if name is None:
        name = DEFAULT_CLASS
    module_name, _, attribute = name.rpartition(".") if isinstance(name, str) else ("", "", "")
    if not module_name or not all(part.isidentifier() for part in name.split(".")):
        shown = repr(name)[:120] if isinstance(name, str) else type(name).__name__
        raise ManifestError(
            f"expected a dotted class name such as 'xgboost.sklearn.XGBClassifier', got {shown}",
            path=manifest,
            key=KEY,
        )
    if module_name not in OWN_MODULES:
        if module_name.split(".", 1)[0] == "xgboost":
            raise ManifestError(
                f"expected a Booster or scikit-learn-interface class from "
                f"{', '.join(OWN_MODULES)}, got {name!r}",
                path=manifest,
                key=KEY,
            )
        if not allow_unsafe:
            raise UnsafeFormatError(
                name,
                manifest,
                detail=f"model_class comes from module {module_name!r}, not xgboost, "
                "and importing it runs that module's code",
            )
    return _import(name, f"{module_name}:{attribute}", folder, allow_unsafe, code_dir)


def _import(name: str, spec: str, folder: Path, allow_unsafe: bool, code_dir: Path | None) -> type:
    import xgboost
    from flavorkit.folder import import_object

    manifest = folder / "MLmodel"
    try:
        cls = import_object(
            spec, key=KEY, folder=folder, allow_unsafe=allow_unsafe, code_dir=code_dir
        )
    except ImportError as exc:
        raise ManifestError(f"cannot import {name!r} ({exc})", path=manifest, key=KEY) from exc
    # checked before anything is built: only xgboost's model classes and their subclasses
    if not (isinstance(cls, type) and issubclass(cls, (xgboost.Booster, xgboost.XGBModel))):
        raise ManifestError(
            f"expected a subclass of xgboost.Booster or xgboost.XGBModel, got {name!r}",
            path=manifest,
            key=KEY,
        )
    return cls
