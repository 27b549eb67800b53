"""Estimator classes defined outside scikit-learn, as a user's own module would define them.

skops does not trust these by default, so they exercise the trust rules.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin


class MeanShiftClassifier(ClassifierMixin, BaseEstimator):
    """Predicts class 1 when the row mean exceeds the training mean."""

    def __init__(self, margin: float = 0.0) -> None:
        self.margin = margin

    def fit(self, X: Any, y: Any) -> MeanShiftClassifier:
        X = np.asarray(X, dtype=float)
        self.threshold_ = float(X.mean()) + self.margin
        self.classes_ = np.unique(y)
        self.n_features_in_ = X.shape[1]
        return self

    def predict(self, X: Any) -> np.ndarray:
        X = np.asarray(X, dtype=float)
        return np.where(X.mean(axis=1) > self.threshold_, self.classes_[-1], self.classes_[0])


class Doubler(TransformerMixin, BaseEstimator):
    """Multiplies every value by two (a transformer with no predict)."""

    def fit(self, X: Any, y: Any = None) -> Doubler:
        self.n_features_in_ = np.asarray(X).shape[1]
        return self

    def transform(self, X: Any) -> np.ndarray:
        return np.asarray(X, dtype=float) * 2.0
