"""save_model / load_model / load_native with the built-in custom-model flavor."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import flavorkit
import numpy as np
import pandas as pd
import pytest
import yaml
from _models import AddConstant, Exploding, NoContext, WithArtifact
from flavorkit import Model, ModelSignature, Schema, TensorSpec
from flavorkit.exceptions import (
    EnvironmentMismatchWarning,
    FlavorkitError,
    ModelExistsError,
    PluginError,
    SchemaEnforcementError,
    SignatureError,
    UnsafeFormatError,
)

TESTS = Path(__file__).parent


def frame() -> pd.DataFrame:
    return pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": [0.5, np.nan, 1.5]})


def test_save_load_predict_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "model"
    flavorkit.save_model(AddConstant(2.0), path, input_example=frame())
    model = flavorkit.load_model(path)
    pd.testing.assert_frame_equal(model.predict(frame()), frame() + 2.0)
    assert model.signature.inputs.input_names() == ["a", "b"]
    assert model.signature.inputs.optional_input_names() == ["b"]
    assert isinstance(model.unwrap(), AddConstant) and model.unwrap().k == 2.0


def test_save_writes_mlflow_layout(tmp_path: Path) -> None:
    path = tmp_path / "model"
    flavorkit.save_model(AddConstant(), path, input_example=frame(), metadata={"team": "x"})
    names = sorted(p.name for p in path.iterdir())
    assert names == [
        "MLmodel",
        "conda.yaml",
        "input_example.json",
        "python_env.yaml",
        "python_model.json",
        "requirements.txt",
        "serving_input_example.json",
    ]
    manifest = yaml.safe_load((path / "MLmodel").read_text())
    pyfunc = manifest["flavors"]["python_function"]
    assert pyfunc["loader_module"] == "flavorkit.mlflow_loader"
    assert pyfunc["env"] == {"conda": "conda.yaml", "virtualenv": "python_env.yaml"}
    assert pyfunc["python_version"] == ".".join(map(str, sys.version_info[:3]))
    assert len(manifest["model_uuid"]) == 32
    assert manifest["metadata"] == {"team": "x"}
    assert isinstance(manifest["signature"]["inputs"], str)
    assert manifest["saved_input_example_info"] == {
        "artifact_path": "input_example.json",
        "serving_input_path": "serving_input_example.json",
        "type": "dataframe",
        "pandas_orient": "split",
    }
    assert manifest["model_size_bytes"] > 0


def test_input_example_is_strict_json(tmp_path: Path) -> None:
    path = tmp_path / "model"
    flavorkit.save_model(AddConstant(), path, input_example=frame())
    body = json.loads((path / "input_example.json").read_text())
    assert body == {"columns": ["a", "b"], "data": [[1.0, 0.5], [2.0, None], [3.0, 1.5]]}
    serving = json.loads((path / "serving_input_example.json").read_text())
    assert serving == {"dataframe_split": body}
    loaded = flavorkit.load_model(path).input_example
    pd.testing.assert_frame_equal(loaded, frame())


def test_input_example_ndarray_and_params(tmp_path: Path) -> None:
    path = tmp_path / "model"
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    flavorkit.save_model(AddConstant(), path, input_example=(x, {"scale": 2.0}))
    model = flavorkit.load_model(path)
    assert json.loads((path / "serving_input_example.json").read_text()) == {
        "inputs": x.tolist(),
        "params": {"scale": 2.0},
    }
    np.testing.assert_array_equal(model.input_example, x)
    assert model.input_example_params == {"scale": 2.0}
    assert model.signature.inputs.is_tensor_spec()
    np.testing.assert_array_equal(model.predict(x, params={"scale": 3.0}), (x + 1) * 3)
    # the default comes from the example's params
    np.testing.assert_array_equal(model.predict(x), (x + 1) * 2)


def test_predict_enforces_signature(tmp_path: Path) -> None:
    path = tmp_path / "model"
    flavorkit.save_model(AddConstant(), path, input_example=frame())
    model = flavorkit.load_model(path)
    with pytest.raises(SchemaEnforcementError) as info:
        model.predict(pd.DataFrame({"b": [1.0]}))
    assert info.value.field == "a"


def test_explicit_signature_and_example_must_agree(tmp_path: Path) -> None:
    signature = ModelSignature(inputs=Schema([TensorSpec(np.dtype("float32"), (-1, 3))]))
    with pytest.raises(SchemaEnforcementError, match="input_example does not match the signature"):
        flavorkit.save_model(
            AddConstant(),
            tmp_path / "m",
            signature=signature,
            input_example=np.zeros((2, 4), dtype=np.float32),
        )
    assert not (tmp_path / "m").exists()


def test_save_refuses_non_empty_path(tmp_path: Path) -> None:
    path = tmp_path / "model"
    path.mkdir()
    (path / "keep.txt").write_text("precious")
    with pytest.raises(
        ModelExistsError, match="already exists and is not empty; pass overwrite=True"
    ):
        flavorkit.save_model(AddConstant(), path)
    assert (path / "keep.txt").read_text() == "precious"


def test_save_into_empty_existing_folder(tmp_path: Path) -> None:
    path = tmp_path / "model"
    path.mkdir()
    flavorkit.save_model(AddConstant(), path)
    assert (path / "MLmodel").is_file()


def test_save_overwrite_replaces_whole_folder(tmp_path: Path) -> None:
    path = tmp_path / "model"
    flavorkit.save_model(AddConstant(1.0), path)
    (path / "stale.txt").write_text("x")
    flavorkit.save_model(AddConstant(5.0), path, overwrite=True)
    assert not (path / "stale.txt").exists()
    assert flavorkit.load_native(path).k == 5.0
    assert [p.name for p in tmp_path.iterdir()] == ["model"]


def test_failed_save_leaves_no_folder(tmp_path: Path) -> None:
    with pytest.raises(SignatureError, match="could not infer the output signature"):
        flavorkit.save_model(Exploding(), tmp_path / "model", input_example=frame())
    assert list(tmp_path.iterdir()) == []


def test_interrupted_save_leaves_no_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from flavorkit import environment

    def interrupt(*args: Any) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(environment, "write_environment", interrupt)
    with pytest.raises(KeyboardInterrupt):
        flavorkit.save_model(AddConstant(), tmp_path / "model")
    assert list(tmp_path.iterdir()) == []


def test_failed_overwrite_keeps_old_model(tmp_path: Path) -> None:
    path = tmp_path / "model"
    flavorkit.save_model(AddConstant(7.0), path)
    with pytest.raises(SignatureError):
        flavorkit.save_model(Exploding(), path, input_example=frame(), overwrite=True)
    assert flavorkit.load_native(path).k == 7.0


def test_unknown_option_is_a_type_error(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="does not understand: colour"):
        flavorkit.save_model(AddConstant(), tmp_path / "model", colour="red")
    assert not (tmp_path / "model").exists()


def test_unrecognised_model_names_type_and_flavors(tmp_path: Path) -> None:
    with pytest.raises(
        PluginError, match=r"no installed plugin recognises a model of type builtins.object"
    ):
        flavorkit.save_model(object(), tmp_path / "model")


def test_unknown_flavor_is_a_plugin_error(tmp_path: Path) -> None:
    with pytest.raises(PluginError, match="no working plugin provides flavor 'nosuch'"):
        flavorkit.save_model(AddConstant(), tmp_path / "model", flavor="nosuch")


def test_environment_files(tmp_path: Path) -> None:
    path = tmp_path / "model"
    flavorkit.save_model(AddConstant(), path, extra_pip_requirements=["requests>=2"])
    requirements = (path / "requirements.txt").read_text().splitlines()
    assert requirements[0] == f"flavorkit=={flavorkit.__version__}"
    assert requirements[-1] == "requests>=2"
    python_env = yaml.safe_load((path / "python_env.yaml").read_text())
    assert list(python_env) == ["python", "build_dependencies", "dependencies"]
    assert python_env["dependencies"] == ["-r requirements.txt"]
    conda = yaml.safe_load((path / "conda.yaml").read_text())
    assert conda["dependencies"][-1] == {"pip": requirements}


def test_pip_requirements_replace_detection(tmp_path: Path) -> None:
    path = tmp_path / "model"
    flavorkit.save_model(AddConstant(), path, pip_requirements=["numpy==1.0", "flavorkit>=0.1"])
    assert (path / "requirements.txt").read_text().splitlines() == ["flavorkit>=0.1", "numpy==1.0"]


def test_load_warns_once_about_mismatched_versions(tmp_path: Path) -> None:
    path = tmp_path / "model"
    flavorkit.save_model(AddConstant(), path, pip_requirements=["numpy==0.0.1", "nosuchdist==1.0"])
    with pytest.warns(EnvironmentMismatchWarning) as record:
        flavorkit.load_model(path)
    assert len(record) == 1
    message = str(record[0].message)
    assert f"numpy (recorded 0.0.1, installed {np.__version__})" in message
    assert "nosuchdist (recorded 1.0, installed none)" in message
    flavorkit.load_model(path, suppress_warnings=True)  # and silence on request


def test_artifacts_resolved_at_load(tmp_path: Path) -> None:
    source = tmp_path / "offset.txt"
    source.write_text("4.5")
    path = tmp_path / "model"
    flavorkit.save_model(WithArtifact(), path, artifacts={"offset": str(source)})
    source.unlink()  # the folder holds its own copy
    model = flavorkit.load_model(path)
    assert model.predict(np.array([1.0])).tolist() == [5.5]
    section = yaml.safe_load((path / "MLmodel").read_text())["flavors"]["python_function"]
    assert section["artifacts"]["offset"]["path"] == "artifacts/offset/offset.txt"


def test_predict_without_context_parameter(tmp_path: Path) -> None:
    flavorkit.save_model(NoContext(), tmp_path / "m")
    assert flavorkit.load_model(tmp_path / "m").predict(np.array([2])).tolist() == [4]


def test_file_uri_and_unknown_scheme(tmp_path: Path) -> None:
    flavorkit.save_model(AddConstant(), tmp_path / "m")
    assert flavorkit.load_native((tmp_path / "m").as_uri()).k == 1.0
    with pytest.raises(FlavorkitError, match="unsupported model URI scheme 'ftpx'"):
        flavorkit.load_model("ftpx://bucket/model")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        flavorkit.load_model(tmp_path / "missing")


def test_main_module_class_is_cloudpickled_and_needs_opt_in(tmp_path: Path) -> None:
    script = textwrap.dedent(
        """
        import sys, warnings
        import numpy as np
        import flavorkit

        class Local(flavorkit.PythonModel):
            def predict(self, context, model_input, params=None):
                return model_input + 100

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            flavorkit.save_model(Local(), sys.argv[1])
        assert "cloudpickle" in str(caught[0].message), caught
        """
    )
    path = tmp_path / "model"
    subprocess.run([sys.executable, "-c", script, str(path)], check=True)
    section = yaml.safe_load((path / "MLmodel").read_text())["flavors"]["python_function"]
    assert section["serialization_format"] == "cloudpickle"
    with pytest.raises(UnsafeFormatError) as info:
        flavorkit.load_model(path)
    assert "refusing to load 'cloudpickle'" in str(info.value)
    assert "allow_unsafe=True" in str(info.value) and "FLAVORKIT_ALLOW_UNSAFE=1" in str(info.value)
    model = flavorkit.load_model(path, allow_unsafe=True)
    assert model.predict(np.array([1])).tolist() == [101]


def test_unsafe_opt_in_by_environment_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "model"
    flavorkit.save_model(AddConstant(3.0), path, serialization_format="cloudpickle")
    with pytest.raises(UnsafeFormatError):
        flavorkit.load_native(path)
    monkeypatch.setenv("FLAVORKIT_ALLOW_UNSAFE", "1")
    assert flavorkit.load_native(path).k == 3.0
    with pytest.raises(UnsafeFormatError):  # an explicit False wins over the variable
        flavorkit.load_native(path, allow_unsafe=False)


def test_code_paths_shipped_code_needs_opt_in(tmp_path: Path) -> None:
    package = tmp_path / "src" / "shipped_models.py"
    package.parent.mkdir()
    package.write_text(
        textwrap.dedent(
            """
        import flavorkit

        class Shipped(flavorkit.PythonModel):
            def predict(self, context, model_input, params=None):
                return model_input - 1
        """
        )
    )
    path = tmp_path / "model"
    script = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {str(package.parent)!r})
        import flavorkit, shipped_models
        flavorkit.save_model(shipped_models.Shipped(), {str(path)!r}, code_paths=[{str(package)!r}])
        """
    )
    subprocess.run([sys.executable, "-c", script], check=True)
    assert (path / "code" / "shipped_models.py").is_file()
    check = textwrap.dedent(
        f"""
        import numpy as np, flavorkit
        from flavorkit.exceptions import UnsafeFormatError
        try:
            flavorkit.load_model({str(path)!r})
        except UnsafeFormatError as exc:
            assert "only importable from code shipped in the model folder" in str(exc), exc
        else:
            raise SystemExit("loaded shipped code without the opt-in")
        model = flavorkit.load_model({str(path)!r}, allow_unsafe=True)
        print(model.predict(np.array([5])).tolist())
        """
    )
    out = subprocess.run([sys.executable, "-c", check], check=True, capture_output=True, text=True)
    assert out.stdout.strip() == "[4]"


def test_saving_with_code_paths_and_an_example_leaves_sys_path_alone(tmp_path: Path) -> None:
    # the save predicts on the example from the folder it is writing (its code/ on sys.path),
    # then renames that folder: a path to it left on sys.path would point nowhere
    module = tmp_path / "src" / "kept_models.py"
    module.parent.mkdir()
    module.write_text(
        "import flavorkit\n\n"
        "class Kept(flavorkit.PythonModel):\n"
        "    def predict(self, context, model_input, params=None):\n"
        "        return model_input\n"
    )
    script = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {str(module.parent)!r})
        import flavorkit, kept_models, pandas as pd
        before = list(sys.path)
        example = pd.DataFrame({{"a": [1.0]}})
        flavorkit.save_model(kept_models.Kept(), {str(tmp_path / "model")!r},
                             code_paths=[{str(module)!r}], input_example=example)
        print([p for p in sys.path if p not in before])
        """
    )
    out = subprocess.run([sys.executable, "-c", script], check=True, capture_output=True, text=True)
    assert out.stdout.strip() == "[]"
    assert (tmp_path / "model" / "code" / "kept_models.py").is_file()


def test_fresh_process_gives_same_predictions(tmp_path: Path) -> None:
    path = tmp_path / "model"
    x = frame()
    flavorkit.save_model(AddConstant(0.25), path, input_example=x)
    expected = flavorkit.load_model(path).predict(x)
    script = textwrap.dedent(
        f"""
        import flavorkit
        model = flavorkit.load_model({str(path)!r})
        print(model.predict(model.input_example).to_json(orient="split"))
        """
    )
    env = {**os.environ, "PYTHONPATH": str(TESTS)}
    out = subprocess.run(
        [sys.executable, "-c", script], check=True, capture_output=True, text=True, env=env
    )
    got = pd.read_json(__import__("io").StringIO(out.stdout), orient="split")
    pd.testing.assert_frame_equal(got, expected)


def test_load_native_unknown_flavor_is_manifest_error(tmp_path: Path) -> None:
    flavorkit.save_model(AddConstant(), tmp_path / "m")
    with pytest.raises(Exception, match="has no flavor 'sklearn'"):
        flavorkit.load_native(tmp_path / "m", flavor="sklearn")


def test_model_without_pyfunc_flavor_cannot_load_as_pyfunc(tmp_path: Path) -> None:
    Model({"onlynative": {"x": 1}}).save(tmp_path)
    with pytest.raises(PluginError, match="has no 'python_function' flavor"):
        flavorkit.load_model(tmp_path)


def test_foreign_loader_module_needs_opt_in(tmp_path: Path) -> None:
    Model({"python_function": {"loader_module": "some_loader"}, "h2o": {}}).save(tmp_path)
    with pytest.raises(UnsafeFormatError, match="loader_module some_loader"):
        flavorkit.load_model(tmp_path)


def test_foreign_loader_module_not_installed_says_what_to_install(tmp_path: Path) -> None:
    # an MLflow folder (mlflow.pyfunc.loaders.code_model, mlflow.h2o ...) without mlflow here
    Model({"python_function": {"loader_module": "nosuchmlflow.pyfunc.loaders"}}).save(tmp_path)
    with pytest.raises(PluginError, match=r"module 'nosuchmlflow' is not installed.*pip install"):
        flavorkit.load_model(tmp_path, allow_unsafe=True)
