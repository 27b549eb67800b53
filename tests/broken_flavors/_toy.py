"""The toy model every zoo plugin saves, and the hook bodies of a plugin that keeps every rule.

``ToyLinear`` predicts ``(X @ weights + bias) * scale`` in the weights'
dtype. The ``npy`` format (default) writes the weights with
``numpy.save(allow_pickle=False)``; the ``pickle`` format pickles the whole
object and loads only with the unsafe opt-in. numpy is imported inside the
functions.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

from flavorkit.exceptions import UnsafeFormatError

WEIGHTS = "weights.npy"
PICKLE = "model.pkl"
FORMATS = ("npy", "pickle")
MAX_BYTES = 16 * 1024 * 1024  # a toy's weights are a few bytes


class ToyLinear:
    """A linear model: ``weights`` (a 1-D float array), ``bias`` and its feature ``columns``.

    A DataFrame holding every one of ``columns`` is read by column name (as
    scikit-learn reads the features it was fitted on); other input by position.
    """

    def __init__(self, weights: Any, bias: float = 0.0, columns: Any = None) -> None:
        self.weights = weights
        self.bias = float(bias)
        self.columns = list(columns) if columns is not None else None

    def predict(self, data: Any, scale: float = 1.0) -> Any:
        """One value per row, in the weights' dtype."""
        import numpy as np

        columns = getattr(self, "columns", None)
        if columns and hasattr(data, "columns") and set(columns) <= set(data.columns):
            data = data[columns]
        kind = self.weights.dtype.type
        x = np.asarray(data, dtype=self.weights.dtype)
        return ((x @ self.weights + kind(self.bias)) * kind(scale)).astype(self.weights.dtype)


def make_model(features: int = 3, dtype: str = "float32") -> ToyLinear:
    """A ToyLinear with fixed, distinct weights."""
    import numpy as np

    columns = "abcdefghijklmnopqrstuvwxyz"[:features]
    return ToyLinear(np.linspace(0.5, 2.0, features).astype(dtype), bias=0.25, columns=columns)


def is_mine(model: Any) -> bool:
    """Whether ``model`` is a toy model (the persist hook's claim)."""
    return isinstance(model, ToyLinear)


def persist(
    flavor: str, model: Any, path: Path, options: dict[str, Any], default_format: str = "npy"
) -> dict[str, Any]:
    """Write ``model`` under ``path`` in the chosen format; the persist hook's result."""
    import numpy as np
    from flavorkit import ParamSpec

    fmt = options.pop("serialization_format", default_format)
    if fmt not in FORMATS:
        raise ValueError(f"serialization_format must be one of {FORMATS}, got {fmt!r}")
    if fmt == "npy":
        np.save(path / WEIGHTS, model.weights, allow_pickle=False)
        conf = {"serialization_format": fmt, "weights": WEIGHTS, "bias": model.bias}
        if getattr(model, "columns", None):
            conf["columns"] = list(model.columns)
    else:
        with open(path / PICKLE, "wb") as fh:
            pickle.dump(model, fh)
        conf = {"serialization_format": fmt, "pickled_model": PICKLE}
    return {
        "flavor": flavor,
        "conf": conf,
        "pyfunc": {"loader_module": "flavorkit.mlflow_loader"},
        "params": [ParamSpec("scale", "double", 1.0)],
    }


def load(path: Path, conf: dict[str, Any], options: dict[str, Any]) -> ToyLinear:
    """Read the model back; a pickle only with ``options["allow_unsafe"]``.

    Every file the section names goes through ``model_file`` (a regular file
    inside the folder, links followed) and is read with a bound.
    """
    import io

    import numpy as np
    from flavorkit.folder._paths import model_file, read_bytes

    if conf["serialization_format"] == "npy":
        file = model_file(path, conf["weights"], key="weights")
        data = read_bytes(file, limit=MAX_BYTES, key="weights")
        weights = np.load(io.BytesIO(data), allow_pickle=False)
        return ToyLinear(weights, conf["bias"], conf.get("columns"))
    file = model_file(path, conf["pickled_model"], key="pickled_model")
    if not options.get("allow_unsafe"):
        raise UnsafeFormatError("pickle", file)
    with open(file, "rb") as fh:
        return pickle.load(fh)


def predict(model: ToyLinear, data: Any, params: dict[str, Any]) -> Any:
    """Predictions with the ``scale`` param applied."""
    return model.predict(data, scale=params.get("scale", 1.0))


def environment() -> list[str]:
    """numpy, pinned."""
    from flavorkit.environment import pins_for_modules

    return pins_for_modules(["numpy"])
