"""Save and load through flavorkit's public API, as users do."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import flavorkit
import numpy as np
import pandas as pd
import pytest
import sklearn
import yaml
from flavorkit.environment import pin
from flavorkit.exceptions import EnvironmentMismatchWarning, SignatureError, UnsafeFormatError

import flavorkit_sklearn

CUSTOM = "sample_estimators.MeanShiftClassifier"


def _mlmodel(path: Path) -> dict[str, Any]:
    return yaml.safe_load((path / "MLmodel").read_text())


def _rewrite_mlmodel(path: Path, change: Any) -> None:
    manifest = _mlmodel(path)
    change(manifest)
    (path / "MLmodel").write_text(yaml.safe_dump(manifest))


def _pipeline(frame: pd.DataFrame, y: np.ndarray) -> Any:
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    columns = ColumnTransformer(
        [
            ("num", StandardScaler(), ["age", "income"]),
            ("cat", OneHotEncoder(handle_unknown="ignore"), ["city"]),
        ]
    )
    return Pipeline([("columns", columns), ("model", LogisticRegression())]).fit(frame, y)


def test_roundtrip_classifier_with_inferred_signature(
    tmp_path: Path, classifier: Any, xy: Any
) -> None:
    X, _ = xy
    flavorkit_sklearn.save_model(classifier, tmp_path / "m", input_example=X[:5])
    model = flavorkit.load_model(tmp_path / "m")
    assert model.signature is not None and model.signature.inputs.is_tensor_spec()
    assert model.signature.outputs is not None
    np.testing.assert_array_equal(model.predict(X), classifier.predict(X))
    assert type(flavorkit.load_native(tmp_path / "m")) is type(classifier)


def test_roundtrip_regressor_on_named_columns(tmp_path: Path, xy: Any) -> None:
    from sklearn.linear_model import Ridge

    X, _ = xy
    frame = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    reg = Ridge(alpha=0.5).fit(frame, X @ np.array([1.0, -2.0, 0.5, 3.0]))
    flavorkit.save_model(reg, tmp_path / "m", input_example=frame.head(3))
    model = flavorkit.load_model(tmp_path / "m")
    assert model.signature.inputs.input_names() == ["a", "b", "c", "d"]
    np.testing.assert_allclose(model.predict(frame), reg.predict(frame))


def test_roundtrip_pipeline_with_column_transformer(tmp_path: Path, mixed_frame: Any) -> None:
    frame, y = mixed_frame
    pipe = _pipeline(frame, y)
    flavorkit_sklearn.save_model(pipe, tmp_path / "m", input_example=frame.head(4))
    model = flavorkit.load_model(tmp_path / "m")
    types = {spec.name: str(spec.type) for spec in model.signature.inputs.inputs}
    assert set(types) == {"age", "income", "city"}
    assert "string" in types["city"]
    np.testing.assert_array_equal(model.predict(frame), pipe.predict(frame))
    proba = model.predict(frame, params={"predict_fn": "predict_proba"})
    np.testing.assert_allclose(proba, pipe.predict_proba(frame))


def test_predict_proba_through_params(tmp_path: Path, classifier: Any, xy: Any) -> None:
    X, _ = xy
    flavorkit_sklearn.save_model(classifier, tmp_path / "m", input_example=X[:5])
    model = flavorkit.load_model(tmp_path / "m")
    np.testing.assert_allclose(
        model.predict(X, params={"predict_fn": "predict_proba"}), classifier.predict_proba(X)
    )
    np.testing.assert_array_equal(
        model.predict(X, params={"predict_fn": "predict"}), classifier.predict(X)
    )


def test_predict_fn_chosen_at_save_is_the_default(tmp_path: Path, classifier: Any, xy: Any) -> None:
    X, _ = xy
    flavorkit_sklearn.save_model(
        classifier, tmp_path / "m", input_example=X[:5], predict_fn="predict_proba"
    )
    manifest = _mlmodel(tmp_path / "m")
    assert manifest["flavors"]["python_function"]["predict_fn"] == "predict_proba"
    params = json.loads(manifest["signature"]["params"])
    assert params == [
        {"name": "predict_fn", "type": "string", "default": "predict_proba", "shape": None}
    ]
    model = flavorkit.load_model(tmp_path / "m")
    np.testing.assert_allclose(model.predict(X), classifier.predict_proba(X))
    np.testing.assert_array_equal(
        model.predict(X, params={"predict_fn": "predict"}), classifier.predict(X)
    )


def test_predict_fn_chosen_at_save_shapes_the_output_signature(
    tmp_path: Path, classifier: Any, xy: Any
) -> None:
    X, _ = xy
    flavorkit_sklearn.save_model(
        classifier, tmp_path / "m", input_example=X[:5], predict_fn="predict_proba"
    )
    outputs = json.loads(_mlmodel(tmp_path / "m")["signature"]["outputs"])
    # predict_proba gives one float column per class, predict one integer label
    assert outputs[0]["tensor-spec"]["shape"] == [-1, 2], outputs


def test_transform_as_predict_fn(tmp_path: Path, mixed_frame: Any) -> None:
    frame, y = mixed_frame
    columns = _pipeline(frame, y).named_steps["columns"]
    flavorkit_sklearn.save_model(
        columns, tmp_path / "m", predict_fn="transform", input_example=frame.head(3)
    )
    out = flavorkit.load_model(tmp_path / "m").predict(frame)
    np.testing.assert_allclose(out, columns.transform(frame))


def test_unknown_predict_fn_param_is_rejected(tmp_path: Path, classifier: Any, xy: Any) -> None:
    X, _ = xy
    flavorkit_sklearn.save_model(classifier, tmp_path / "m", input_example=X[:5])
    with pytest.raises(flavorkit.SchemaEnforcementError, match="predict_fn"):
        flavorkit.load_model(tmp_path / "m").predict(X, params={"predict_fn": "transform"})


def test_save_missing_predict_fn_errors_and_leaves_no_folder(tmp_path: Path, xy: Any) -> None:
    from sklearn.linear_model import LinearRegression

    X, y = xy
    reg = LinearRegression().fit(X, y)
    with pytest.raises(SignatureError, match="LinearRegression has no method 'predict_proba'"):
        flavorkit_sklearn.save_model(reg, tmp_path / "m", predict_fn="predict_proba")
    assert not (tmp_path / "m").exists()


def test_mlmodel_sections_use_mlflow_keys(tmp_path: Path, classifier: Any, xy: Any) -> None:
    flavorkit.save_model(classifier, tmp_path / "m", input_example=xy[0][:2])
    flavors = _mlmodel(tmp_path / "m")["flavors"]
    assert flavors["sklearn"] == {
        "code": None,
        "pickled_model": "model.skops",
        "serialization_format": "skops",
        "sklearn_version": sklearn.__version__,
        "skops_trusted_types": None,
    }
    pyfunc = flavors["python_function"]
    assert pyfunc["loader_module"] == "flavorkit_sklearn"
    assert (pyfunc["model_path"], pyfunc["predict_fn"]) == ("model.skops", "predict")
    assert (tmp_path / "m" / "model.skops").is_file()


def test_requirements_file_pins_what_the_model_needs(tmp_path: Path, classifier: Any) -> None:
    flavorkit_sklearn.save_model(classifier, tmp_path / "m")
    lines = (tmp_path / "m" / "requirements.txt").read_text().split()
    assert {pin("scikit-learn"), pin("skops"), pin("flavorkit-sklearn")} <= set(lines)
    assert not any(line.startswith(("xgboost", "torch", "cloudpickle")) for line in lines)


def test_mlflow_loader_entry_point_predicts(tmp_path: Path, classifier: Any, xy: Any) -> None:
    X, _ = xy
    flavorkit_sklearn.save_model(classifier, tmp_path / "m", input_example=X[:5])
    loader = __import__(_mlmodel(tmp_path / "m")["flavors"]["python_function"]["loader_module"])
    impl = loader._load_pyfunc(str(tmp_path / "m"))
    np.testing.assert_array_equal(impl.predict(X), classifier.predict(X))
    np.testing.assert_allclose(
        impl.predict(X, params={"predict_fn": "predict_proba"}), classifier.predict_proba(X)
    )


def test_mlflow_loader_offers_the_saved_predict_fn(
    tmp_path: Path, classifier: Any, xy: Any
) -> None:
    X, _ = xy
    flavorkit_sklearn.save_model(classifier, tmp_path / "m", predict_fn="predict_proba")
    impl = flavorkit_sklearn._load_pyfunc(str(tmp_path / "m"))
    np.testing.assert_allclose(impl.predict_proba(X, params=None), classifier.predict_proba(X))


# -- skops trust -------------------------------------------------------------------


def test_skops_untrusted_type_refused_with_the_list(
    tmp_path: Path, custom_classifier: Any, xy: Any
) -> None:
    flavorkit_sklearn.save_model(custom_classifier, tmp_path / "m", input_example=xy[0][:3])
    with pytest.raises(UnsafeFormatError, match=rf"{CUSTOM}.*trusted_types=\['{CUSTOM}'\]"):
        flavorkit.load_model(tmp_path / "m")
    with pytest.raises(UnsafeFormatError, match=CUSTOM):
        flavorkit_sklearn.load_model(tmp_path / "m")


def test_skops_type_trusted_by_the_caller_loads(
    tmp_path: Path, custom_classifier: Any, xy: Any
) -> None:
    from sample_estimators import MeanShiftClassifier

    X, _ = xy
    flavorkit_sklearn.save_model(custom_classifier, tmp_path / "m", input_example=X[:3])
    native = flavorkit_sklearn.load_model(tmp_path / "m", trusted_types=[CUSTOM])
    assert isinstance(native, MeanShiftClassifier)
    with flavorkit_sklearn.trust(MeanShiftClassifier):
        model = flavorkit.load_model(tmp_path / "m")
    np.testing.assert_array_equal(model.predict(X), custom_classifier.predict(X))


def test_skops_trust_list_in_tampered_mlmodel_is_ignored(
    tmp_path: Path, custom_classifier: Any, xy: Any
) -> None:
    flavorkit_sklearn.save_model(custom_classifier, tmp_path / "m", input_example=xy[0][:3])

    def widen(manifest: dict[str, Any]) -> None:
        manifest["flavors"]["sklearn"]["skops_trusted_types"] = [CUSTOM, "builtins.eval"]
        manifest["flavors"]["python_function"]["config"] = {"trusted_types": [CUSTOM]}

    _rewrite_mlmodel(tmp_path / "m", widen)
    with pytest.raises(UnsafeFormatError, match=CUSTOM):
        flavorkit.load_model(tmp_path / "m", allow_unsafe=False)
    with pytest.raises(UnsafeFormatError, match=CUSTOM):
        flavorkit.load_native(tmp_path / "m", allow_unsafe=False)


def test_skops_tree_models_need_trust_in_tree_storage(tmp_path: Path, xy: Any) -> None:
    from sklearn.ensemble import RandomForestRegressor

    X, y = xy
    forest = RandomForestRegressor(n_estimators=3, max_depth=3, random_state=0).fit(X, y)
    flavorkit_sklearn.save_model(forest, tmp_path / "m", input_example=X[:3])
    # skops distrusts tree node storage on purpose (it is indexed without bounds checks)
    with pytest.raises(UnsafeFormatError, match=r"sklearn\.tree\._tree\.Tree.*bounds"):
        flavorkit.load_model(tmp_path / "m")
    native = flavorkit_sklearn.load_model(tmp_path / "m", trusted_types="sklearn.tree._tree.Tree")
    np.testing.assert_allclose(native.predict(X), forest.predict(X))


# -- pickle formats ----------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["pickle", "cloudpickle"])
def test_pickle_formats_need_the_opt_in(
    tmp_path: Path, custom_classifier: Any, xy: Any, fmt: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    X, _ = xy
    monkeypatch.delenv("FLAVORKIT_ALLOW_UNSAFE", raising=False)
    flavorkit_sklearn.save_model(
        custom_classifier, tmp_path / "m", serialization_format=fmt, input_example=X[:3]
    )
    assert _mlmodel(tmp_path / "m")["flavors"]["sklearn"]["serialization_format"] == fmt
    with pytest.raises(UnsafeFormatError, match=rf"'{fmt}'.*allow_unsafe=True") as info:
        flavorkit.load_model(tmp_path / "m")
    assert info.value.format_name == fmt
    model = flavorkit.load_model(tmp_path / "m", allow_unsafe=True)
    np.testing.assert_array_equal(model.predict(X), custom_classifier.predict(X))
    monkeypatch.setenv("FLAVORKIT_ALLOW_UNSAFE", "1")
    assert type(flavorkit_sklearn.load_model(tmp_path / "m")) is type(custom_classifier)


# -- versions and foreign folders --------------------------------------------------


def test_other_sklearn_version_warns_with_both(tmp_path: Path, classifier: Any, xy: Any) -> None:
    flavorkit_sklearn.save_model(classifier, tmp_path / "m")
    _rewrite_mlmodel(
        tmp_path / "m", lambda m: m["flavors"]["sklearn"].update(sklearn_version="1.3.0")
    )
    with pytest.warns(
        EnvironmentMismatchWarning,
        match=rf"scikit-learn 1\.3\.0.*scikit-learn {sklearn.__version__}",
    ):
        native = flavorkit_sklearn.load_model(tmp_path / "m")
    np.testing.assert_array_equal(native.predict(xy[0]), classifier.predict(xy[0]))


def test_reads_a_folder_mlflow_3_wrote(tmp_path: Path, mixed_frame: Any) -> None:
    import skops.io

    frame, y = mixed_frame
    pipe = _pipeline(frame, y)
    folder = tmp_path / "m"
    folder.mkdir()
    skops.io.dump(pipe, folder / "model.skops")
    manifest = {
        "flavors": {
            "python_function": {
                "env": {"conda": "conda.yaml", "virtualenv": "python_env.yaml"},
                "loader_module": "mlflow.sklearn",
                "model_path": "model.skops",
                "predict_fn": "predict",
                "python_version": "3.11.7",
            },
            "sklearn": {
                "code": None,
                "pickled_model": "model.skops",
                "serialization_format": "skops",
                "sklearn_version": sklearn.__version__,
                "skops_trusted_types": None,
            },
        },
        "mlflow_version": "3.17.2",
        "model_id": None,
        "model_uuid": "2c50c322c564430bae347898c13e510b",
        "utc_time_created": "2026-11-25 22:29:16.249164",
    }
    (folder / "MLmodel").write_text(yaml.safe_dump(manifest))
    model = flavorkit.load_model(folder)
    np.testing.assert_array_equal(model.predict(frame), pipe.predict(frame))


def test_reads_predict_fn_of_a_folder_mlflow_wrote(
    tmp_path: Path, classifier: Any, xy: Any
) -> None:
    import skops.io

    X, _ = xy
    folder = tmp_path / "m"
    folder.mkdir()
    skops.io.dump(classifier, folder / "model.skops")
    pyfunc = {"loader_module": "mlflow.sklearn", "model_path": "model.skops"}
    manifest = {
        "flavors": {
            "python_function": {**pyfunc, "predict_fn": "predict_proba"},
            "sklearn": {
                "pickled_model": "model.skops",
                "serialization_format": "skops",
                "sklearn_version": sklearn.__version__,
            },
        },
    }
    (folder / "MLmodel").write_text(yaml.safe_dump(manifest))
    np.testing.assert_allclose(flavorkit.load_model(folder).predict(X), classifier.predict_proba(X))


def test_reads_a_folder_mlflow_1_wrote(tmp_path: Path, classifier: Any, xy: Any) -> None:
    import pickle

    folder = tmp_path / "m"
    folder.mkdir()
    with (folder / "model.pkl").open("wb") as fh:
        pickle.dump(classifier, fh)
    manifest = {
        "flavors": {
            "python_function": {
                "data": "model.pkl",
                "env": "conda.yaml",
                "loader_module": "mlflow.sklearn",
            },
            # MLflow before 1.x's later releases wrote no serialization_format: pickle
            "sklearn": {"pickled_model": "model.pkl", "sklearn_version": sklearn.__version__},
        },
        "utc_time_created": "2019-06-01 10:00:00.000000",
    }
    (folder / "MLmodel").write_text(yaml.safe_dump(manifest))
    with pytest.raises(UnsafeFormatError, match="'pickle'"):
        flavorkit.load_native(folder, allow_unsafe=False)
    native = flavorkit.load_native(folder, allow_unsafe=True)
    np.testing.assert_array_equal(native.predict(xy[0]), classifier.predict(xy[0]))
