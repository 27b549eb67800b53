"""The ``loader_module`` MLflow imports for folders flavorkit wrote.

MLflow calls ``_load_pyfunc(path[, model_config])`` and then
``predict(data, params=params)`` on the result, after enforcing the
signature itself. Plugins point their ``loader_module`` at a module whose
``_load_pyfunc`` calls ``load_pyfunc(<flavor>, path, model_config)``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flavorkit.folder._manifest import MLMODEL


class MlflowPyfunc:
    """What MLflow's ``PyFuncModel`` wraps: ``predict`` routed to the flavor's plugin."""

    def __init__(self, model: Any) -> None:
        self._model = model
        # MLflow calls the method named by python_function.predict_fn (e.g. predict_proba);
        # the flavor's own params, defaulted by MLflow from the signature, pick the method.
        name = model._pyfunc_conf.get("predict_fn") or "predict"
        if name != "predict" and name.isidentifier():
            setattr(self, name, self.predict)

    def predict(self, data: Any, params: dict[str, Any] | None = None) -> Any:
        """Predict without enforcing the signature again (MLflow already did)."""
        return self._model.predict_unchecked(data, params or {})

    def get_raw_model(self) -> Any:
        """The framework's own model object."""
        return self._model.unwrap()

    @property
    def python_model(self) -> Any:
        return self._model.unwrap()


def _model_root(path: str | Path) -> Path:
    """The folder holding MLmodel: MLflow passes ``<dir>/<data>`` when a ``data`` key exists."""
    current = Path(path).absolute()
    for candidate in (current, *current.parents):
        if (candidate / MLMODEL).is_file():
            return candidate
    raise FileNotFoundError(f"no MLmodel file in {path} or its parents")


def load_pyfunc(
    flavor: str, path: str | Path, model_config: dict[str, Any] | None = None
) -> MlflowPyfunc:
    """Load the folder containing ``path`` through flavorkit, for MLflow's pyfunc loader."""
    from flavorkit.api._load import load_folder
    from flavorkit.api._plugins import get_registry
    from flavorkit.api._pyfunc import PyFuncModel
    from flavorkit.folder._manifest import Model

    root = _model_root(path)
    manifest = Model.load(root)
    registry = get_registry()
    native = load_folder(registry, flavor, root, manifest, None, model_config)
    return MlflowPyfunc(PyFuncModel(manifest, root, flavor, native, registry))


def _load_pyfunc(path: str, model_config: dict[str, Any] | None = None) -> MlflowPyfunc:
    """MLflow's entry point for flavorkit custom models (flavor ``python_function``)."""
    return load_pyfunc("python_function", path, model_config)
