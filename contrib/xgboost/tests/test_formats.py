"""The model file and the class it is read into: formats, model_class, MLflow's folders."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import flavorkit
import numpy as np
import pytest
import sample_models
import xgboost
import yaml
from flavorkit.exceptions import ManifestError, SignatureError, UnsafeFormatError

import flavorkit_xgboost


@pytest.fixture(scope="module")
def regressor() -> xgboost.XGBRegressor:
    return sample_models.regressor()


@pytest.fixture
def saved(regressor: Any, tmp_path: Path) -> Path:
    path = tmp_path / "model"
    flavorkit_xgboost.save_model(regressor, path, input_example=sample_models.rows())
    return path


def _edit_section(path: Path, **changes: Any) -> None:
    file = path / "MLmodel"
    manifest = yaml.safe_load(file.read_text(encoding="utf-8"))
    manifest["flavors"]["xgboost"].update(changes)
    file.write_text(yaml.safe_dump(manifest), encoding="utf-8")


@pytest.mark.parametrize("model_format", ["ubj", "json"])
def test_formats_round_trip_the_class_and_predictions(
    regressor: Any, tmp_path: Path, model_format: str
) -> None:
    path = tmp_path / "model"
    flavorkit_xgboost.save_model(regressor, path, model_format=model_format)
    assert (path / f"model.{model_format}").is_file()
    loaded = flavorkit_xgboost.load_model(path, allow_unsafe=False)
    assert type(loaded) is xgboost.XGBRegressor
    rows = sample_models.rows()
    np.testing.assert_array_equal(loaded.predict(rows), regressor.predict(rows))


def test_save_refuses_an_unknown_format(regressor: Any, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"model_format: expected one of ubj, json, got 'xgb'"):
        flavorkit_xgboost.save_model(regressor, tmp_path / "model", model_format="xgb")
    assert not (tmp_path / "model").exists()


def test_save_refuses_a_method_the_model_lacks(regressor: Any, tmp_path: Path) -> None:
    with pytest.raises(SignatureError, match=r"expected one of predict for XGBRegressor"):
        flavorkit_xgboost.save_model(regressor, tmp_path / "r", predict_fn="predict_proba")
    with pytest.raises(SignatureError, match="a Booster has one predict method"):
        flavorkit_xgboost.save_model(sample_models.booster(), tmp_path / "b", predict_fn="predict")


def test_load_native_returns_a_booster_as_a_booster(tmp_path: Path) -> None:
    booster = sample_models.booster()
    flavorkit_xgboost.save_model(booster, tmp_path / "model")
    loaded = flavorkit.load_native(tmp_path / "model")
    assert type(loaded) is xgboost.Booster
    matrix = xgboost.DMatrix(sample_models.rows())
    np.testing.assert_array_equal(loaded.predict(matrix), booster.predict(matrix))


def test_load_reads_a_folder_in_mlflow_layout(tmp_path: Path) -> None:
    # what mlflow.xgboost.save_model writes: model.xgb, its loader_module, no params
    classifier = sample_models.classifier()
    path = tmp_path / "mlflow-model"
    path.mkdir()
    classifier.save_model(str(path / "model.ubj"))
    (path / "model.ubj").rename(path / "model.xgb")  # xgboost reads the content, not the name
    manifest = {
        "flavors": {
            "python_function": {
                "loader_module": "mlflow.xgboost",
                "data": "model.xgb",
                "env": {"conda": "conda.yaml", "virtualenv": "python_env.yaml"},
                "python_version": "3.11.7",
            },
            "xgboost": {
                "code": None,
                "data": "model.xgb",
                "model_class": "xgboost.sklearn.XGBClassifier",
                "model_format": "xgb",
                "xgb_version": xgboost.__version__,
            },
        },
        "mlflow_version": "3.17.2",
        "model_uuid": "0123456789abcdef0123456789abcdef",
        "utc_time_created": "2026-01-01 00:00:00.000000",
    }
    (path / "MLmodel").write_text(yaml.safe_dump(manifest), encoding="utf-8")
    frame = sample_models.frame_rows()
    assert type(flavorkit.load_native(path)) is xgboost.XGBClassifier
    pyfunc = flavorkit.load_model(path)
    np.testing.assert_array_equal(pyfunc.predict(frame), classifier.predict(frame))
    # with no params schema, a predict_fn in python_function chooses the method
    manifest["flavors"]["python_function"]["predict_fn"] = "predict_proba"
    (path / "MLmodel").write_text(yaml.safe_dump(manifest), encoding="utf-8")
    proba = flavorkit.load_model(path).predict(frame)
    np.testing.assert_allclose(proba, classifier.predict_proba(frame))


def test_load_without_model_class_rebuilds_a_booster(saved: Path) -> None:
    # MLflow before 1.22 recorded no model_class; its loader rebuilt a Booster
    manifest = yaml.safe_load((saved / "MLmodel").read_text(encoding="utf-8"))
    del manifest["flavors"]["xgboost"]["model_class"]
    (saved / "MLmodel").write_text(yaml.safe_dump(manifest), encoding="utf-8")
    assert type(flavorkit_xgboost.load_model(saved)) is xgboost.Booster


@pytest.mark.parametrize(
    ("model_class", "message"),
    [
        ("xgboost.spark.SparkXGBRegressor", "expected a Booster or scikit-learn-interface class"),
        ("xgboost.core.DMatrix", "expected a subclass of xgboost.Booster or xgboost.XGBModel"),
        ("xgboost.sklearn.NoSuchModel", "cannot import 'xgboost.sklearn.NoSuchModel'"),
        ("XGBRegressor", "expected a dotted class name"),
        (["xgboost.Booster"], "expected a dotted class name"),
    ],
)
def test_load_refuses_a_model_class_it_does_not_rebuild(
    saved: Path, model_class: Any, message: str
) -> None:
    _edit_section(saved, model_class=model_class)
    with pytest.raises(ManifestError, match=message) as info:
        flavorkit_xgboost.load_model(saved, allow_unsafe=True)
    assert info.value.key == "flavors.xgboost.model_class"


def test_load_imports_a_class_from_outside_xgboost_only_with_the_opt_in(tmp_path: Path) -> None:
    model = sample_models.shifted_regressor()
    path = tmp_path / "model"
    flavorkit_xgboost.save_model(model, path)
    assert flavorkit.Model.load(path).flavors["xgboost"]["model_class"] == (
        "sample_models.ShiftedRegressor"
    )
    with pytest.raises(UnsafeFormatError, match="not xgboost, and importing it runs"):
        flavorkit_xgboost.load_model(path, allow_unsafe=False)
    loaded = flavorkit_xgboost.load_model(path, allow_unsafe=True)
    assert type(loaded) is sample_models.ShiftedRegressor


def test_load_never_calls_a_foreign_object_named_by_model_class(saved: Path) -> None:
    _edit_section(saved, model_class="shutil.rmtree")
    with pytest.raises(UnsafeFormatError):
        flavorkit_xgboost.load_model(saved, allow_unsafe=False)
    # with the opt-in the module is imported, but a function is no model class
    with pytest.raises(ManifestError, match=r"expected a subclass of xgboost\.Booster"):
        flavorkit_xgboost.load_model(saved, allow_unsafe=True)
    assert shutil.rmtree is not None and saved.is_dir()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("../outside.ubj", "points outside the model folder"),
        ("gone.ubj", "'gone.ubj' does not exist in the model folder"),
    ],
)
def test_load_checks_the_data_key(saved: Path, data: str, message: str) -> None:
    _edit_section(saved, data=data)
    with pytest.raises(ManifestError, match=message):
        flavorkit_xgboost.load_model(saved)


def test_mlflow_loader_predicts_like_the_model(regressor: Any, saved: Path) -> None:
    # MLflow hands its loader the data file; the loader finds the folder above it
    pyfunc = flavorkit_xgboost._load_pyfunc(str(saved / "model.ubj"))
    rows = sample_models.rows()
    np.testing.assert_array_equal(pyfunc.predict(rows), regressor.predict(rows))


def test_load_refuses_a_file_in_another_format_before_xgboost_reads_it(
    regressor: Any, saved: Path
) -> None:
    # the format is told by the content, which is checked first: a pickle never reaches xgboost
    import pickle

    (saved / "model.pkl").write_bytes(pickle.dumps(regressor))
    _edit_section(saved, data="model.pkl", model_format="pickle")
    with pytest.raises(ManifestError, match="expected a JSON or UBJSON object") as info:
        flavorkit_xgboost.load_model(saved, allow_unsafe=True)
    assert info.value.key == "flavors.xgboost.data"
