"""The hooks and the package's functions, beyond what the conformance kit checks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import flavorkit
import numpy as np
import pytest
import sample_models
import yaml
from flavorkit.environment import installed_version, pin, read_requirements
from flavorkit.exceptions import ManifestError{% if cookiecutter.format_runs_code %}, UnsafeFormatError{% endif %}

import {{ cookiecutter.__package_name }}
from {{ cookiecutter.__package_name }} import _native, hooks


@pytest.fixture(scope="module")
def model() -> Any:
    return sample_models.array_model()


@pytest.fixture
def saved(model: Any, tmp_path: Path) -> Path:
    path = tmp_path / "model"
    {{ cookiecutter.__package_name }}.save_model(model, path, input_example=sample_models.array_rows())
    return path


def _edit_section(path: Path, **changes: Any) -> None:
    file = path / "MLmodel"
    manifest = yaml.safe_load(file.read_text(encoding="utf-8"))
    manifest["flavors"][_native.FLAVOR_NAME].update(changes)
    file.write_text(yaml.safe_dump(manifest), encoding="utf-8")


def test_flavors_hook_names_the_flavor() -> None:
    assert hooks.flavorkit_flavors() == [_native.FLAVOR_NAME]


def test_plugin_is_listed_with_status_ok() -> None:
    rows = {info.name: info for info in flavorkit.list_flavors()}
    assert rows[_native.FLAVOR_NAME].status == "ok"
    assert rows[_native.FLAVOR_NAME].distribution == "{{ cookiecutter.__distribution_name }}"


def test_persist_claims_its_models_and_declines_others(model: Any, tmp_path: Path) -> None:
    # a save without a flavor name asks every plugin in turn; each claims only its own models
    assert hooks.flavorkit_persist(model=object(), path=tmp_path, flavor=None) is None
    answer = hooks.flavorkit_persist(model=model, path=tmp_path, flavor=None)
    assert answer is not None and answer["flavor"] == _native.FLAVOR_NAME
    assert (tmp_path / _native.MODEL_FILE).is_file()


def test_persist_refuses_other_objects_for_this_flavor(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match=r"saves .* objects, got builtins\.object"):
        hooks.flavorkit_persist(model=object(), path=tmp_path, flavor=_native.FLAVOR_NAME)


def test_save_model_records_format_version_and_class(model: Any, saved: Path) -> None:
    manifest = flavorkit.Model.load(saved)
    section = dict(manifest.flavors[_native.FLAVOR_NAME])
    assert section.pop("code", None) is None  # flavorkit records code_paths there itself
    cls = type(model)
    assert section == {
        _native.VERSION_KEY: installed_version(_native.FRAMEWORK_DISTRIBUTION),
        "data": _native.MODEL_FILE,
        "model_class": f"{cls.__module__}.{cls.__qualname__}",
        _native.FORMAT_KEY: _native.MODEL_FORMAT,
    }
    pyfunc = manifest.flavors["python_function"]
    assert pyfunc["loader_module"] == "{{ cookiecutter.__package_name }}"
    assert (saved / _native.MODEL_FILE).is_file()


def test_requirements_pin_the_framework_and_what_models_need(saved: Path) -> None:
    found = read_requirements(saved)
    for distribution in (_native.FRAMEWORK_DISTRIBUTION, *_native.EXTRA_DISTRIBUTIONS):
        assert pin(distribution) in found, (distribution, found)


def test_load_model_returns_the_framework_object(model: Any, saved: Path) -> None:
    loaded = {{ cookiecutter.__package_name }}.load_model(saved{% if cookiecutter.format_runs_code %}, allow_unsafe=True{% endif %})
    assert isinstance(loaded, _native.model_class())
    rows = sample_models.array_rows()
    np.testing.assert_allclose(loaded.predict(rows), model.predict(rows), rtol=1e-6)


{% if cookiecutter.format_runs_code -%}
def test_mlflow_loader_predicts_like_the_model(
    model: Any, saved: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # MLflow passes no opt-in of its own: the environment variable gives it
    monkeypatch.setenv("FLAVORKIT_ALLOW_UNSAFE", "1")
{%- else -%}
def test_mlflow_loader_predicts_like_the_model(model: Any, saved: Path) -> None:
{%- endif %}
    # the folder's python_function section names this package as MLflow's loader_module
    pyfunc = {{ cookiecutter.__package_name }}._load_pyfunc(str(saved))
    rows = sample_models.array_rows()
    np.testing.assert_allclose(pyfunc.predict(rows), model.predict(rows), rtol=1e-6)


def test_load_refuses_a_model_file_outside_the_folder(saved: Path) -> None:
    _edit_section(saved, data="../outside.bin")
    with pytest.raises(ManifestError, match="points outside the model folder"):
        {{ cookiecutter.__package_name }}.load_model(saved, allow_unsafe=True)


def test_load_refuses_a_folder_saved_in_another_format(saved: Path) -> None:
    # e.g. a folder MLflow wrote with a pickle: it never reaches the framework's reader
    _edit_section(saved, **{_native.FORMAT_KEY: "cloudpickle"})
    with pytest.raises(ManifestError, match=r"saved in format 'cloudpickle'") as info:
        {{ cookiecutter.__package_name }}.load_model(saved, allow_unsafe=True)
    assert info.value.key == f"{_native.SECTION_KEY}.{_native.FORMAT_KEY}"


def test_load_reports_a_missing_model_file(saved: Path) -> None:
    (saved / _native.MODEL_FILE).unlink()
    with pytest.raises(ManifestError, match=r"does not exist in the model folder"):
        {{ cookiecutter.__package_name }}.load_model(saved, allow_unsafe=True)
{%- if cookiecutter.format_runs_code %}


def test_load_refuses_the_format_without_the_opt_in(saved: Path) -> None:
    with pytest.raises(UnsafeFormatError, match="allow_unsafe=True"):
        {{ cookiecutter.__package_name }}.load_model(saved, allow_unsafe=False)
    assert {{ cookiecutter.__package_name }}.load_model(saved, allow_unsafe=True) is not None
{%- endif %}
