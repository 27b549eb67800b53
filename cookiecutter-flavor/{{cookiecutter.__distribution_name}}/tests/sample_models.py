"""The {{ cookiecutter.framework_name }} models the tests save.

Edit :func:`fit` (and the data, if your framework needs other data) to build
the models your users save: the conformance kit learns everything else from
the model folders flavorkit writes for them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

COLUMNS = ["a", "b", "c", "d"]


def training_data(n: int = 40, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A small regression problem: four float features and a float target."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, len(COLUMNS)))
    y = X @ np.array([1.5, -2.0, 0.5, 0.0]) + 0.1 * rng.normal(size=n)
    return X, y


def fit(X: Any, y: np.ndarray) -> Any:
    """A model fitted on features ``X`` (an ndarray or a DataFrame) and target ``y``."""
    import {{ cookiecutter.framework_module }}

    # the template's example_model answer, as it was typed
    # fmt: off
{%- set line = "    return " ~ cookiecutter.example_model.strip() %}
{{ line }}{% if line | length > 100 %}  # noqa: E501{% endif %}
    # fmt: on


def array_model() -> Any:
    """A model fitted on an ndarray (its folder gets a tensor signature)."""
    return fit(*training_data())


def frame_model() -> Any:
    """A model fitted on a DataFrame (its folder gets a column signature)."""
    X, y = training_data()
    return fit(pd.DataFrame(X, columns=COLUMNS), y)


def array_rows(n: int = 6) -> np.ndarray:
    """A few distinct rows to predict on, as an ndarray."""
    return training_data(n, seed=1)[0]


def frame_rows(n: int = 6) -> pd.DataFrame:
    """The same rows as a DataFrame."""
    return pd.DataFrame(array_rows(n), columns=COLUMNS)
