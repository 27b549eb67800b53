"""Shared data and fitted estimators for the sklearn flavor's tests."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest


@pytest.fixture(scope="session")
def xy() -> tuple[np.ndarray, np.ndarray]:
    """A small two-class numeric problem (ndarray features, int labels)."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 4))
    y = (X[:, 0] + X[:, 1] > 0).astype(np.int64)
    return X, y


@pytest.fixture(scope="session")
def mixed_frame() -> tuple[pd.DataFrame, np.ndarray]:
    """Numeric and string columns with a label that depends on both."""
    rng = np.random.default_rng(1)
    n = 80
    frame = pd.DataFrame(
        {
            "age": rng.integers(18, 90, size=n).astype(np.int64),
            "income": rng.normal(50_000, 10_000, size=n),
            "city": rng.choice(["paris", "lima", "oslo"], size=n),
        }
    )
    y = ((frame["income"] > 50_000) | (frame["city"] == "oslo")).to_numpy().astype(np.int64)
    return frame, y


@pytest.fixture
def classifier(xy: tuple[np.ndarray, np.ndarray]) -> Any:
    """A fitted LogisticRegression."""
    from sklearn.linear_model import LogisticRegression

    X, y = xy
    return LogisticRegression().fit(X, y)


@pytest.fixture
def custom_classifier(xy: tuple[np.ndarray, np.ndarray]) -> Any:
    """A fitted estimator whose class skops does not trust by default."""
    from sample_estimators import MeanShiftClassifier

    X, y = xy
    return MeanShiftClassifier(margin=0.1).fit(X, y)
