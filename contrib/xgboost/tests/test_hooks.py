"""The hooks: which models the plugin claims, what MLmodel records, the requirements."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import flavorkit
import pytest
import sample_models
import xgboost
from flavorkit.environment import pin, read_requirements

import flavorkit_xgboost
from flavorkit_xgboost import hooks


@pytest.fixture(scope="module")
def classifier() -> xgboost.XGBClassifier:
    return sample_models.classifier()


def _names(requirements: list[str]) -> set[str]:
    return {line.split("==", 1)[0].lower() for line in requirements}


def test_flavors_hook_names_the_flavor() -> None:
    assert hooks.flavorkit_flavors() == ["xgboost"]


def test_plugin_is_listed_with_status_ok() -> None:
    rows = {info.name: info for info in flavorkit.list_flavors()}
    assert rows["xgboost"].status == "ok"
    assert rows["xgboost"].distribution == "flavorkit-xgboost"


def test_persist_declines_other_models(tmp_path: Path) -> None:
    # a save without a flavor name asks every plugin in turn; each claims only its own models
    assert hooks.flavorkit_persist(model=object(), path=tmp_path, flavor=None, options={}) is None
    assert not any(tmp_path.iterdir())


def test_persist_refuses_other_objects_for_this_flavor(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match=r"saves xgboost\.Booster .*got builtins\.dict"):
        hooks.flavorkit_persist(model={}, path=tmp_path, flavor="xgboost", options={})


def test_persist_claims_xgboost_models_before_the_sklearn_flavor(
    flavorkit_registry: Any, classifier: Any, tmp_path: Path
) -> None:
    sklearn_hooks = pytest.importorskip("flavorkit_sklearn.hooks")
    # registered last, the sklearn plugin would be asked first were it not for tryfirst
    flavorkit_registry.register(hooks, name="xgboost")
    flavorkit_registry.register(sklearn_hooks, name="sklearn")
    flavorkit.save_model(classifier, tmp_path / "model", input_example=sample_models.frame_rows())
    assert set(flavorkit.Model.load(tmp_path / "model").flavors) == {"python_function", "xgboost"}


def test_save_model_writes_mlflow_keys(classifier: Any, tmp_path: Path) -> None:
    path = tmp_path / "model"
    flavorkit_xgboost.save_model(classifier, path, input_example=sample_models.frame_rows())
    manifest = flavorkit.Model.load(path)
    section = dict(manifest.flavors["xgboost"])
    assert section.pop("code", None) is None  # flavorkit records code_paths there itself
    assert section == {
        "data": "model.ubj",
        "model_class": "xgboost.sklearn.XGBClassifier",
        "model_format": "ubj",
        "xgb_version": xgboost.__version__,
    }
    pyfunc = manifest.flavors["python_function"]
    assert pyfunc["loader_module"] == "flavorkit_xgboost"
    assert pyfunc["data"] == "model.ubj"
    assert pyfunc["predict_fn"] == "predict"
    assert sorted(p.name for p in path.iterdir() if p.suffix == ".ubj") == ["model.ubj"]


def test_save_model_declares_params_per_kind_of_model(tmp_path: Path) -> None:
    models = {
        "classifier": (sample_models.classifier(), sample_models.frame_rows(), ["predict_fn"]),
        "booster": (sample_models.booster(), sample_models.rows(), ["output_margin"]),
        "regressor": (sample_models.regressor(), sample_models.rows(), []),
    }
    for name, (model, rows, expected) in models.items():
        flavorkit_xgboost.save_model(model, tmp_path / name, input_example=rows)
        signature = flavorkit.load_model(tmp_path / name).signature
        params = signature.params if signature is not None else None
        assert [spec.name for spec in params or []] == expected, name


def test_requirements_pin_xgboost_and_sklearn_for_the_sklearn_interface(
    classifier: Any, tmp_path: Path
) -> None:
    flavorkit_xgboost.save_model(classifier, tmp_path / "model")
    found = read_requirements(tmp_path / "model")
    assert pin("xgboost") in found and pin("scikit-learn") in found
    # xgboost's own dependencies (numpy, scipy, nccl) are left to pip
    assert not _names(found) & {"nvidia-nccl-cu12", "scipy"}


def test_requirements_of_a_booster_leave_sklearn_out(tmp_path: Path) -> None:
    flavorkit_xgboost.save_model(sample_models.booster(), tmp_path / "model")
    found = _names(read_requirements(tmp_path / "model"))
    assert "xgboost" in found and "scikit-learn" not in found


def test_detect_environment_hook_answers_from_the_model(classifier: Any) -> None:
    # routed to this plugin for its own flavor only, so it takes no flavor name
    assert hooks.flavorkit_detect_environment(model=classifier) == [
        pin("scikit-learn"),
        pin("xgboost"),
    ]
    assert hooks.flavorkit_detect_environment(model=sample_models.booster()) == [pin("xgboost")]
