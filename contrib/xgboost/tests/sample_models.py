"""The XGBoost models the tests save, and a subclass as a user's own module would define it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import xgboost

COLUMNS = ["a", "b", "c", "d"]
# small and shallow: enough trees to give distinct predictions, fast to train
SIZE = {"n_estimators": 8, "max_depth": 3}


def training_data(n: int = 60, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Four float features, a float target and a two-class label derived from it."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, len(COLUMNS)))
    target = X @ np.array([1.5, -2.0, 0.5, 0.0]) + 0.1 * rng.normal(size=n)
    return X, target, (target > 0).astype(np.int64)


def rows(n: int = 6) -> np.ndarray:
    """A few distinct rows to predict on."""
    return training_data(n, seed=1)[0]


def frame_rows(n: int = 6) -> pd.DataFrame:
    """The same rows as a DataFrame with named columns."""
    return pd.DataFrame(rows(n), columns=COLUMNS)


class ShiftedRegressor(xgboost.XGBRegressor):
    """An XGBRegressor subclass from outside xgboost, as users write them."""

    def predict(self, X: Any, **kwargs: Any) -> np.ndarray:
        return super().predict(X, **kwargs) + 100.0


def regressor() -> xgboost.XGBRegressor:
    """A regressor fitted on an ndarray (tensor signature)."""
    X, target, _ = training_data()
    return xgboost.XGBRegressor(**SIZE).fit(X, target)


def classifier() -> xgboost.XGBClassifier:
    """A classifier fitted on a DataFrame (column signature, feature names kept)."""
    X, _, label = training_data()
    return xgboost.XGBClassifier(**SIZE).fit(pd.DataFrame(X, columns=COLUMNS), label)


def booster() -> xgboost.Booster:
    """A native Booster for binary classification (predicts probabilities)."""
    X, _, label = training_data()
    params = {"objective": "binary:logistic", "max_depth": SIZE["max_depth"]}
    return xgboost.train(params, xgboost.DMatrix(X, label=label), num_boost_round=8)


def shifted_regressor() -> ShiftedRegressor:
    """The subclass, fitted on an ndarray."""
    X, target, _ = training_data()
    return ShiftedRegressor(**SIZE).fit(X, target)


def predict_booster(model: Any, data: Any, params: Mapping[str, Any] | None) -> Any:
    """What the loaded Booster returns: predictions on a DMatrix, margins when asked."""
    margin = bool((params or {}).get("output_margin", False))
    return model.predict(xgboost.DMatrix(data), output_margin=margin)


def predict_classifier(model: Any, data: Any, params: Mapping[str, Any] | None) -> Any:
    """What the loaded classifier returns: the method predict_fn names."""
    return getattr(model, (params or {}).get("predict_fn", "predict"))(data)
