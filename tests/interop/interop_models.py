"""Models and data both environments can import (flavorkit's and MLflow's).

Everything here needs only numpy, pandas, flavorkit and, inside functions,
scikit-learn or torch, so the same definitions build the same models on
both sides.
"""

from __future__ import annotations

from typing import Any

import flavorkit
import flavorkit_torch

FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]


def iris_frame(rows: int = 60, seed: int = 0) -> Any:
    """A deterministic iris-like frame: four float columns and a three-class label."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    label = np.arange(rows) % 3
    centers = np.array([[5.0, 3.4, 1.5, 0.2], [5.9, 2.8, 4.3, 1.3], [6.6, 3.0, 5.6, 2.0]])
    x = centers[label] + rng.normal(scale=0.3, size=(rows, 4))
    return pd.DataFrame(x, columns=FEATURES), pd.Series(label, name="label")


def logistic_regression() -> Any:
    """A fitted LogisticRegression on ``iris_frame()``."""
    from sklearn.linear_model import LogisticRegression

    x, y = iris_frame()
    return LogisticRegression(max_iter=500).fit(x, y)


def scaled_pipeline() -> Any:
    """A fitted StandardScaler + LogisticRegression pipeline on ``iris_frame()``."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x, y = iris_frame()
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(x, y)


def small_forest() -> Any:
    """A fitted 5-tree RandomForestClassifier: its skops file holds a type skops does not trust."""
    from sklearn.ensemble import RandomForestClassifier

    x, y = iris_frame()
    return RandomForestClassifier(n_estimators=5, random_state=0).fit(x, y)


@flavorkit_torch.factory
def make_mlp() -> Any:
    """A small MLP (4 -> 8 -> 2) built from torch's own classes, with fixed weights.

    Named ``interop_models:make_mlp`` as the factory of ``state_dict`` folders.
    """
    import torch

    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2)).eval()


def tensor_batch(rows: int = 5, seed: int = 1) -> Any:
    """A float32 batch for ``make_mlp``."""
    import numpy as np

    return np.random.default_rng(seed).normal(size=(rows, 4)).astype("float32")


class Affine(flavorkit.PythonModel):
    """A custom flavorkit model: ``x * scale + shift``; ``params`` may set ``scale``."""

    def __init__(self, scale: float = 2.0, shift: float = 1.0) -> None:
        self.scale = scale
        self.shift = shift

    def predict(self, context: Any, model_input: Any, params: dict[str, Any] | None = None) -> Any:
        scale = (params or {}).get("scale", self.scale)
        return model_input * scale + self.shift
