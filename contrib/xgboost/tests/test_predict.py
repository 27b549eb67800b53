"""Predicting through flavorkit: the params each kind of model takes, and their defaults."""

from __future__ import annotations

from pathlib import Path

import flavorkit
import numpy as np
import pytest
import sample_models
import xgboost
from flavorkit.exceptions import SchemaEnforcementError

import flavorkit_xgboost


def test_classifier_predict_fn_saved_becomes_the_default(tmp_path: Path) -> None:
    classifier = sample_models.classifier()
    frame = sample_models.frame_rows()
    flavorkit_xgboost.save_model(
        classifier, tmp_path / "model", input_example=frame, predict_fn="predict_proba"
    )
    pyfunc = flavorkit.load_model(tmp_path / "model")
    np.testing.assert_allclose(pyfunc.predict(frame), classifier.predict_proba(frame))
    labels = pyfunc.predict(frame, params={"predict_fn": "predict"})
    np.testing.assert_array_equal(labels, classifier.predict(frame))


def test_classifier_refuses_a_method_it_does_not_offer(tmp_path: Path) -> None:
    frame = sample_models.frame_rows()
    flavorkit_xgboost.save_model(
        sample_models.classifier(), tmp_path / "model", input_example=frame
    )
    pyfunc = flavorkit.load_model(tmp_path / "model")
    with pytest.raises(SchemaEnforcementError, match="param 'predict_fn'") as info:
        pyfunc.predict(frame, params={"predict_fn": "apply"})
    assert info.value.field == "predict_fn"
    assert info.value.expected == ["predict", "predict_proba"]


def test_booster_output_margin_returns_untransformed_scores(tmp_path: Path) -> None:
    booster = sample_models.booster()
    rows = sample_models.rows()
    flavorkit_xgboost.save_model(booster, tmp_path / "model", input_example=rows)
    pyfunc = flavorkit.load_model(tmp_path / "model")
    probabilities = pyfunc.predict(rows)
    margins = pyfunc.predict(rows, params={"output_margin": True})
    assert ((probabilities > 0) & (probabilities < 1)).all()
    # binary:logistic: the probability is the sigmoid of the margin
    np.testing.assert_allclose(1 / (1 + np.exp(-margins)), probabilities, rtol=1e-5)


def test_booster_with_feature_names_predicts_a_dataframe(tmp_path: Path) -> None:
    X, _, label = sample_models.training_data()
    frame = sample_models.frame_rows()
    train = xgboost.DMatrix(X, label=label, feature_names=sample_models.COLUMNS)
    booster = xgboost.train({"objective": "binary:logistic"}, train, num_boost_round=4)
    flavorkit_xgboost.save_model(booster, tmp_path / "model", input_example=frame)
    out = flavorkit.load_model(tmp_path / "model").predict(frame)
    np.testing.assert_allclose(out, booster.predict(xgboost.DMatrix(frame)))
