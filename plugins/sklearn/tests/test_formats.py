"""The serialization formats, exercised directly on a folder."""

from __future__ import annotations

import logging
import pickle
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from flavorkit.exceptions import ManifestError, UnsafeFormatError
from hypothesis import given, settings
from hypothesis import strategies as st

from flavorkit_sklearn import _formats, trust

CUSTOM = "sample_estimators.MeanShiftClassifier"


def test_check_format_unknown_rejected() -> None:
    with pytest.raises(
        ValueError,
        match=r"serialization_format: expected one of skops, cloudpickle, pickle, got 'joblib'",
    ):
        _formats.check_format("joblib")


def test_dump_skops_default_types_records_nothing(tmp_path: Path, classifier: Any, xy: Any) -> None:
    keys = _formats.dump(classifier, tmp_path, "skops", None)
    assert keys == {"pickled_model": "model.skops", "skops_trusted_types": None}
    loaded = _formats.load(tmp_path / "model.skops", "skops", trusted=[], allow_unsafe=False)
    np.testing.assert_array_equal(loaded.predict(xy[0]), classifier.predict(xy[0]))


def test_dump_skops_custom_type_records_it(tmp_path: Path, custom_classifier: Any) -> None:
    keys = _formats.dump(custom_classifier, tmp_path, "skops", None)
    assert keys["skops_trusted_types"] == [CUSTOM]


def test_dump_skops_declared_types_must_cover_file(tmp_path: Path, custom_classifier: Any) -> None:
    with pytest.raises(
        ValueError,
        match=rf"skops_trusted_types: the saved file also needs {CUSTOM}",
    ):
        _formats.dump(custom_classifier, tmp_path, "skops", ["something.Else"])


def test_load_skops_untrusted_type_refused_with_names(
    tmp_path: Path, custom_classifier: Any
) -> None:
    _formats.dump(custom_classifier, tmp_path, "skops", None)
    with pytest.raises(UnsafeFormatError) as info:
        _formats.load(tmp_path / "model.skops", "skops", trusted=[], allow_unsafe=False)
    message = str(info.value)
    assert info.value.format_name == "skops"
    assert CUSTOM in message
    assert f"trusted_types=['{CUSTOM}']" in message
    assert "flavorkit_sklearn.trust" in message


def test_load_skops_trusted_by_caller_accepted(
    tmp_path: Path, custom_classifier: Any, xy: Any
) -> None:
    _formats.dump(custom_classifier, tmp_path, "skops", None)
    loaded = _formats.load(tmp_path / "model.skops", "skops", trusted=[CUSTOM], allow_unsafe=False)
    assert type(loaded) is type(custom_classifier)
    np.testing.assert_array_equal(loaded.predict(xy[0]), custom_classifier.predict(xy[0]))


def test_load_skops_allow_unsafe_trusts_file_types(tmp_path: Path, custom_classifier: Any) -> None:
    _formats.dump(custom_classifier, tmp_path, "skops", None)
    loaded = _formats.load(tmp_path / "model.skops", "skops", trusted=[], allow_unsafe=True)
    assert loaded.threshold_ == custom_classifier.threshold_


@pytest.mark.parametrize("fmt", ["pickle", "cloudpickle"])
def test_load_pickles_refused_without_opt_in(tmp_path: Path, classifier: Any, fmt: str) -> None:
    _formats.dump(classifier, tmp_path, fmt, None)
    with pytest.raises(
        UnsafeFormatError, match=rf"refusing to load '{fmt}' data.*allow_unsafe=True"
    ) as info:
        _formats.load(tmp_path / "model.pkl", fmt, trusted=[], allow_unsafe=False)
    assert info.value.format_name == fmt


@pytest.mark.parametrize("fmt", ["pickle", "cloudpickle"])
def test_load_pickles_with_opt_in(
    tmp_path: Path, custom_classifier: Any, xy: Any, fmt: str
) -> None:
    keys = _formats.dump(custom_classifier, tmp_path, fmt, None)
    assert keys == {"pickled_model": "model.pkl", "skops_trusted_types": None}
    loaded = _formats.load(tmp_path / "model.pkl", fmt, trusted=[], allow_unsafe=True)
    np.testing.assert_array_equal(loaded.predict(xy[0]), custom_classifier.predict(xy[0]))


def test_dump_pickle_logs_the_risk(
    tmp_path: Path, classifier: Any, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="flavorkit_sklearn._formats"):
        _formats.dump(classifier, tmp_path, "pickle", None)
    assert "allow_unsafe=True" in caplog.text


def test_dump_pickle_rejects_skops_trusted_types(tmp_path: Path, classifier: Any) -> None:
    with pytest.raises(ValueError, match="skops_trusted_types: only meaningful"):
        _formats.dump(classifier, tmp_path, "pickle", ["x.Y"])


def test_dump_plain_pickle_is_readable_by_pickle(tmp_path: Path, classifier: Any) -> None:
    _formats.dump(classifier, tmp_path, "pickle", None)
    with (tmp_path / "model.pkl").open("rb") as fh:
        assert type(pickle.load(fh)) is type(classifier)


def test_load_missing_file_names_the_key(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match=r"flavors\.sklearn\.pickled_model.*does not exist"):
        _formats.load(tmp_path / "model.skops", "skops", trusted=[], allow_unsafe=False)


def test_trust_context_nests_and_resets() -> None:
    from sample_estimators import Doubler

    from flavorkit_sklearn._trust import trusted_by_caller

    with trust("a.B") as outer:
        assert outer == ["a.B"]
        with trust([Doubler]) as inner:
            assert inner == ["a.B", "sample_estimators.Doubler"]
        assert trusted_by_caller() == ["a.B"]
    assert trusted_by_caller() == []


def test_trust_rejects_non_types() -> None:
    with (
        pytest.raises(
            TypeError, match="a trusted type must be a class or its dotted name, got int"
        ),
        trust([3]),
    ):  # type: ignore[list-item]
        pass


def _zoo() -> list[Any]:
    from sample_estimators import MeanShiftClassifier
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return [
        LogisticRegression(),
        Ridge(alpha=0.3),
        make_pipeline(StandardScaler(), LogisticRegression(C=0.5)),
        MeanShiftClassifier(margin=-0.2),
    ]


@settings(max_examples=12, deadline=None)
@given(
    index=st.integers(min_value=0, max_value=3),
    fmt=st.sampled_from(_formats.FORMATS),
    seed=st.integers(min_value=0, max_value=2**16),
)
def test_dump_then_load_predicts_the_same(index: int, fmt: str, seed: int) -> None:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(24, 3))
    y = np.tile([0, 1], 12)
    model = _zoo()[index].fit(X, y)
    with tempfile.TemporaryDirectory() as folder:
        keys = _formats.dump(model, Path(folder), fmt, None)
        loaded = _formats.load(
            Path(folder) / keys["pickled_model"], fmt, trusted=[CUSTOM], allow_unsafe=fmt != "skops"
        )
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
