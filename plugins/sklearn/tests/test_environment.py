"""Requirements detected by walking the estimator."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from flavorkit.environment import pin

from flavorkit_sklearn import _environment
from flavorkit_sklearn.hooks import flavorkit_detect_environment


def _names(requirements: list[str]) -> set[str]:
    return {line.split("==", 1)[0].lower() for line in requirements}


def test_requirements_pin_sklearn_and_skops(classifier: Any) -> None:
    found = _environment.requirements(classifier, "skops")
    assert pin("scikit-learn") in found
    assert pin("skops") in found
    assert all("==" in line for line in found)


def test_requirements_leave_out_what_is_not_referenced(classifier: Any) -> None:
    found = _names(_environment.requirements(classifier, "skops"))
    # installed in this environment, but a LogisticRegression does not use them
    assert not found & {"xgboost", "torch", "pandas", "cloudpickle", "flavorkit"}


@pytest.mark.parametrize(("fmt", "library"), [("cloudpickle", "cloudpickle"), ("pickle", None)])
def test_requirements_follow_the_format(classifier: Any, fmt: str, library: str | None) -> None:
    found = _names(_environment.requirements(classifier, fmt))
    assert "skops" not in found
    assert ("cloudpickle" in found) is (library == "cloudpickle")


def test_requirements_find_xgboost_inside_a_pipeline(xy: Any) -> None:
    xgboost = pytest.importorskip("xgboost")
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    pipe = make_pipeline(StandardScaler(), xgboost.XGBClassifier(n_estimators=2, max_depth=2))
    found = _environment.requirements(pipe, "skops")
    assert pin("xgboost") in found
    assert pin("scikit-learn") in found


def test_referenced_modules_walk_column_transformer_and_meta_estimators() -> None:
    from sample_estimators import Doubler, MeanShiftClassifier
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import BaggingClassifier
    from sklearn.preprocessing import FunctionTransformer

    model = ColumnTransformer(
        [
            ("log", FunctionTransformer(np.log1p), ["a"]),
            ("custom", Doubler(), ["b"]),
            ("bag", BaggingClassifier(estimator=MeanShiftClassifier()), ["c"]),
        ]
    )
    modules = _environment.referenced_modules(model)
    assert "sample_estimators" in modules  # a step and a meta-estimator's param
    assert "numpy" in modules  # the function given to FunctionTransformer
    assert any(m.startswith("sklearn.") for m in modules)
    assert "builtins" not in modules


def test_referenced_modules_follow_fitted_attributes(xy: Any) -> None:
    from sample_estimators import MeanShiftClassifier
    from sklearn.ensemble import VotingClassifier
    from sklearn.linear_model import LogisticRegression

    voting = VotingClassifier([("lr", LogisticRegression()), ("ms", MeanShiftClassifier())]).fit(
        *xy
    )
    # estimators_ holds fitted clones; the constructor params are walked as well
    assert "sample_estimators" in _environment.referenced_modules(voting.estimators_)


def test_requirements_skip_modules_of_no_distribution(custom_classifier: Any) -> None:
    found = _names(_environment.requirements(custom_classifier, "skops"))
    assert "sample_estimators" not in found
    assert "scikit-learn" in found


def test_detect_environment_hook_pins_the_saved_format(classifier: Any) -> None:
    found = flavorkit_detect_environment(model=classifier, conf={"serialization_format": "pickle"})
    assert found is not None and pin("scikit-learn") in found and "skops" not in _names(found)
