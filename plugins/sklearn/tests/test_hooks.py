"""The hook functions called directly, without the core's save/load machinery."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import sklearn
import yaml
from flavorkit.exceptions import (
    EnvironmentMismatchWarning,
    ManifestError,
    SchemaEnforcementError,
    SignatureError,
    UnsafeFormatError,
)

from flavorkit_sklearn import _formats, hooks, trust

CUSTOM = "sample_estimators.MeanShiftClassifier"
OPTS = {"allow_unsafe": False, "model_config": {}}


def _conf(fmt: str, keys: dict[str, Any]) -> dict[str, Any]:
    return {
        "pickled_model": keys["pickled_model"],
        "sklearn_version": sklearn.__version__,
        "serialization_format": fmt,
        "skops_trusted_types": keys["skops_trusted_types"],
    }


def test_flavors_hook_names_sklearn() -> None:
    assert hooks.flavorkit_flavors() == ["sklearn"]


def test_persist_declines_foreign_models(tmp_path: Path) -> None:
    assert hooks.flavorkit_persist(model=object(), path=tmp_path, flavor=None, options={}) is None
    assert list(tmp_path.iterdir()) == []


def test_is_estimator_recognises_user_classes_not_classes_themselves(
    custom_classifier: Any,
) -> None:
    assert hooks._is_estimator(custom_classifier)
    assert not hooks._is_estimator(type(custom_classifier))
    assert not hooks._is_estimator(pd.DataFrame({"a": [1]}))


def test_persist_missing_predict_fn_fails_before_writing(tmp_path: Path, classifier: Any) -> None:
    from sklearn.linear_model import LinearRegression

    reg = LinearRegression().fit([[0.0], [1.0]], [0.0, 1.0])
    with pytest.raises(
        SignatureError,
        match=r"predict_fn: LinearRegression has no method 'predict_proba'; it offers predict",
    ):
        hooks.flavorkit_persist(
            model=reg, path=tmp_path, flavor=None, options={"predict_fn": "predict_proba"}
        )
    with pytest.raises(SignatureError, match=r"predict_fn: expected one of .*got 'score'"):
        hooks.flavorkit_persist(
            model=classifier, path=tmp_path, flavor="sklearn", options={"predict_fn": "score"}
        )
    assert list(tmp_path.iterdir()) == []


def test_load_ignores_trust_list_stored_in_the_folder(
    tmp_path: Path, custom_classifier: Any
) -> None:
    keys = _formats.dump(custom_classifier, tmp_path, "skops", None)
    conf = _conf("skops", keys)
    assert conf["skops_trusted_types"] == [CUSTOM]
    with pytest.raises(UnsafeFormatError, match=CUSTOM):
        hooks.flavorkit_load(path=tmp_path, conf=conf, options=OPTS, pyfunc_conf={})


def test_load_trusted_types_option_and_trust_block(tmp_path: Path, custom_classifier: Any) -> None:
    keys = _formats.dump(custom_classifier, tmp_path, "skops", None)
    conf = _conf("skops", keys)
    by_option = hooks.flavorkit_load(
        path=tmp_path,
        conf=conf,
        options={**OPTS, "trusted_types": [CUSTOM]},
        pyfunc_conf={},
    )
    with trust([type(custom_classifier)]):
        by_block = hooks.flavorkit_load(path=tmp_path, conf=conf, options=OPTS, pyfunc_conf={})
    assert by_option.threshold_ == by_block.threshold_ == custom_classifier.threshold_


def test_load_warns_about_another_sklearn_version(tmp_path: Path, classifier: Any) -> None:
    keys = _formats.dump(classifier, tmp_path, "skops", None)
    conf = {**_conf("skops", keys), "sklearn_version": "0.24.2"}
    with pytest.warns(
        EnvironmentMismatchWarning,
        match=rf"scikit-learn 0\.24\.2 .* scikit-learn {sklearn.__version__}",
    ):
        loaded = hooks.flavorkit_load(path=tmp_path, conf=conf, options=OPTS, pyfunc_conf={})
    assert type(loaded) is type(classifier)


def test_load_mlflow_1x_layout_reads_pickle(tmp_path: Path, classifier: Any, xy: Any) -> None:
    # MLflow 1.x: no serialization_format (means pickle) and the file named by python_function.data
    _formats.dump(classifier, tmp_path, "pickle", None)
    manifest = {
        "flavors": {
            "python_function": {
                "data": "model.pkl",
                "env": "conda.yaml",
                "loader_module": "mlflow.sklearn",
            },
            "sklearn": {"sklearn_version": sklearn.__version__},
        }
    }
    (tmp_path / "MLmodel").write_text(yaml.safe_dump(manifest))
    conf = manifest["flavors"]["sklearn"]
    pyfunc_conf = manifest["flavors"]["python_function"]
    with pytest.raises(UnsafeFormatError, match="'pickle'"):
        hooks.flavorkit_load(path=tmp_path, conf=conf, options=OPTS, pyfunc_conf=pyfunc_conf)
    loaded = hooks.flavorkit_load(
        path=tmp_path / "model.pkl",
        conf=conf,
        options={**OPTS, "allow_unsafe": True},
        pyfunc_conf=pyfunc_conf,
    )
    np.testing.assert_array_equal(loaded.predict(xy[0]), classifier.predict(xy[0]))


def test_load_rejects_a_file_outside_the_folder(tmp_path: Path, classifier: Any) -> None:
    inner = tmp_path / "model"
    inner.mkdir()
    _formats.dump(classifier, tmp_path, "skops", None)
    conf = {"pickled_model": "../model.skops", "serialization_format": "skops"}
    with pytest.raises(ManifestError, match=r"flavors\.sklearn\.pickled_model.*outside"):
        hooks.flavorkit_load(path=inner, conf=conf, options=OPTS, pyfunc_conf={})


def test_load_unknown_format_names_the_key(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match=r"serialization_format.*got 'joblib'"):
        hooks.flavorkit_load(
            path=tmp_path,
            conf={"serialization_format": "joblib"},
            options=OPTS,
            pyfunc_conf={},
        )


def test_predict_uses_params_then_default(classifier: Any, xy: Any) -> None:
    X = xy[0]
    by_default = hooks.flavorkit_predict(model=classifier, data=X, params={}, pyfunc_conf={})
    proba = hooks.flavorkit_predict(
        model=classifier,
        data=X,
        params={"predict_fn": "predict_proba"},
        pyfunc_conf={},
    )
    np.testing.assert_array_equal(by_default, classifier.predict(X))
    np.testing.assert_allclose(proba, classifier.predict_proba(X))


def test_predict_unknown_method_names_the_param(classifier: Any, xy: Any) -> None:
    with pytest.raises(
        SchemaEnforcementError, match=r"param 'predict_fn'.*got 'transform'"
    ) as info:
        hooks.flavorkit_predict(
            model=classifier,
            data=xy[0],
            params={"predict_fn": "transform"},
            pyfunc_conf={},
        )
    assert info.value.field == "predict_fn"
    assert "predict_proba" in info.value.expected


def test_predict_frame_on_array_fitted_model_passes_values(classifier: Any, xy: Any) -> None:
    frame = pd.DataFrame(xy[0], columns=["a", "b", "c", "d"])
    # warnings are errors here: sklearn would warn about unexpected feature names
    out = hooks.flavorkit_predict(model=classifier, data=frame, params={}, pyfunc_conf={})
    np.testing.assert_array_equal(out, classifier.predict(xy[0]))


def test_persist_writes_file_and_describes_it(tmp_path: Path, classifier: Any) -> None:
    options: dict[str, Any] = {"predict_fn": "predict_proba", "other": 1}
    result = hooks.flavorkit_persist(model=classifier, path=tmp_path, flavor=None, options=options)
    assert result is not None
    assert options == {"other": 1}  # the plugin's own options are consumed, others left
    assert result["flavor"] == "sklearn"
    assert result["conf"] == _conf(
        "skops", {"pickled_model": "model.skops", "skops_trusted_types": None}
    )
    assert result["pyfunc"] == {
        "loader_module": "flavorkit_sklearn",
        "model_path": "model.skops",
        "predict_fn": "predict_proba",
    }
    (param,) = result["params"]
    assert (param.name, param.default) == ("predict_fn", "predict_proba")
    assert (tmp_path / "model.skops").is_file()
