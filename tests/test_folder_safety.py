"""A model folder is hostile input: what the core reads from it is checked before it is used.

Each test is one attack on a folder the custom flavor saved, then edited as
an attacker would: code that runs on a default load, files that lead out of
the folder or never end, sizes and nesting that stall a loader. Each must end
in a flavorkit error naming the file or key, with nothing run or touched.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import flavorkit
import pandas as pd
import pytest
import yaml
from _models import AddConstant
from flavorkit.cli import main
from flavorkit.exceptions import (
    FlavorkitError,
    ManifestError,
    ModelLoadError,
    PluginError,
    UnsafeFormatError,
)

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def model(tmp_path: Path) -> Path:
    path = tmp_path / "model"
    flavorkit.save_model(AddConstant(1.0), path, input_example=pd.DataFrame({"a": [1.0, 2.0]}))
    return path


def _reference(path: Path, cls: str, state: Any) -> None:
    (path / "python_model.json").write_text(json.dumps({"class": cls, "state": state}))


def _edit_manifest(path: Path, edit: Any) -> None:
    data = yaml.safe_load((path / "MLmodel").read_text())
    edit(data)
    (path / "MLmodel").write_text(yaml.safe_dump(data))


# -- class paths: a gadget class is refused before any object exists -----------------


def test_custom_class_gadget_datasource_deletes_nothing(model: Path, tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "keep.txt").write_text("data")
    _reference(
        model, "numpy.lib._datasource:DataSource", {"_istmpdest": True, "_destpath": str(victim)}
    )
    with pytest.raises(ManifestError, match="is not a PythonModel subclass"):
        flavorkit.load_model(model)
    import gc

    gc.collect()
    assert (victim / "keep.txt").read_text() == "data"


def test_custom_class_gadget_file_closer_unlinks_nothing(model: Path, tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("data")
    _reference(
        model,
        "tempfile:_TemporaryFileCloser",
        {"name": str(victim), "delete": True, "file": None, "close_called": False},
    )
    with pytest.raises(ManifestError, match="tempfile:_TemporaryFileCloser is not a PythonModel"):
        flavorkit.load_native(model)
    import gc

    gc.collect()
    assert victim.read_text() == "data"


def test_custom_class_state_cannot_set_dunder_attributes(model: Path) -> None:
    _reference(model, "_models:AddConstant", {"k": 1.0, "__class__": "x"})
    with pytest.raises(ManifestError, match="plain attribute names"):
        flavorkit.load_model(model)


@pytest.mark.parametrize(
    ("spec", "state", "message"),
    [
        (42, {}, "a 'class' string"),
        ("os:system", {}, "is not a PythonModel subclass"),
        ("no colon", {}, "expected 'module:Name'"),
        ("a:b:c", {}, "expected 'module:Name'"),
        ("_models:AddConstant", [1, 2], "expected a JSON object, got list"),
        ("__import__('os'):x", {}, "made of Python identifiers"),
    ],
)
def test_custom_class_record_malformed_is_a_manifest_error(
    model: Path, spec: Any, state: Any, message: str
) -> None:
    _reference(model, spec, state)
    with pytest.raises(ManifestError, match=message):
        flavorkit.load_model(model)


def test_custom_class_missing_module_says_what_to_install(model: Path) -> None:
    _reference(model, "not_installed_pkg.models:M", {})
    with pytest.raises(PluginError, match="'not_installed_pkg' is not installed") as caught:
        flavorkit.load_model(model)
    assert str(caught.value).count("install the package") == 1  # said once, not twice


def test_custom_class_from_the_folder_itself_is_not_imported(tmp_path: Path) -> None:
    """``python -c`` puts the current directory on sys.path: the folder ``m`` becomes a package."""
    work = tmp_path / "work"
    work.mkdir()
    model = work / "m"
    flavorkit.save_model(AddConstant(1.0), model, input_example=pd.DataFrame({"a": [1.0]}))
    (model / "helper.py").write_text(
        "import pathlib\npathlib.Path('PWNED').write_text('x')\n"
        "import flavorkit\nclass M(flavorkit.PythonModel):\n    pass\n"
    )
    _reference(model, "m.helper:M", {})
    script = textwrap.dedent(
        """
        import flavorkit
        from flavorkit.exceptions import UnsafeFormatError
        try:
            flavorkit.load_model("m")
        except UnsafeFormatError as exc:
            print("refused:", exc)
        """
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent)}
    env.pop("FLAVORKIT_ALLOW_UNSAFE", None)
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=work, env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert "refused:" in out.stdout and "inside the model folder" in out.stdout
    assert not (work / "PWNED").exists()


def test_custom_class_from_the_current_directory_needs_the_opt_in(tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    model = tmp_path / "model"
    flavorkit.save_model(AddConstant(1.0), model, input_example=pd.DataFrame({"a": [1.0]}))
    (work / "planted.py").write_text(
        "import pathlib\npathlib.Path('PWNED').write_text('x')\n"
        "import flavorkit\nclass M(flavorkit.PythonModel):\n    pass\n"
    )
    _reference(model, "planted:M", {})
    script = f"import flavorkit\nflavorkit.load_model({str(model)!r})\n"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent)}
    env.pop("FLAVORKIT_ALLOW_UNSAFE", None)
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=work, env=env, capture_output=True, text=True
    )
    assert "UnsafeFormatError" in out.stderr and "in the current directory" in out.stderr
    assert not (work / "PWNED").exists()
    env["FLAVORKIT_ALLOW_UNSAFE"] = "1"
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=work, env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert (work / "PWNED").exists()


def test_custom_class_beside_a_script_run_from_there_loads(tmp_path: Path) -> None:
    """``python serve.py`` in a project folder: the modules beside the script are the user's."""
    work = tmp_path / "work"
    work.mkdir()
    model = tmp_path / "model"
    flavorkit.save_model(AddConstant(1.0), model, input_example=pd.DataFrame({"a": [1.0]}))
    (work / "mine.py").write_text("import flavorkit\nclass M(flavorkit.PythonModel):\n    pass\n")
    (work / "serve.py").write_text(
        f"import flavorkit\nprint(type(flavorkit.load_native({str(model)!r})).__name__)\n"
    )
    _reference(model, "mine:M", {})
    env = {**os.environ}
    env.pop("FLAVORKIT_ALLOW_UNSAFE", None)
    out = subprocess.run(
        [sys.executable, "serve.py"], cwd=work, env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "M"


# -- files the folder names: regular files inside it, read with bounds ---------------


def test_requirements_symlink_out_of_the_folder_is_never_read(
    model: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (model / "requirements.txt").unlink()
    (model / "requirements.txt").symlink_to("/etc/passwd")
    with pytest.raises(ManifestError, match="leads outside the model folder"):
        flavorkit.load_model(model)
    assert main(["info", str(model)]) == 1
    assert main(["validate", str(model)]) == 1
    out = capsys.readouterr()
    assert "root:" not in out.out + out.err
    assert "leads outside the model folder" in out.err + out.out


@pytest.mark.parametrize("name", ["MLmodel", "requirements.txt", "python_model.json"])
def test_fifo_in_place_of_a_file_does_not_hang(model: Path, name: str) -> None:
    (model / name).unlink()
    os.mkfifo(model / name)
    with pytest.raises(ManifestError, match="a FIFO"):
        flavorkit.load_model(model)
    assert main(["validate", str(model)]) == 1


def test_symlink_to_dev_zero_is_refused(model: Path) -> None:
    (model / "MLmodel").unlink()
    (model / "MLmodel").symlink_to("/dev/zero")
    with pytest.raises(ManifestError, match="outside the model folder"):
        flavorkit.load_model(model)


def test_symlink_loop_is_a_manifest_error(model: Path) -> None:
    (model / "python_model.json").unlink()
    (model / "python_model.json").symlink_to(model / "python_model.json")
    with pytest.raises(ManifestError, match="cannot be resolved"):
        flavorkit.load_model(model)
    assert main(["validate", str(model)]) == 1


def test_long_path_value_is_refused_by_length(model: Path) -> None:
    _edit_manifest(
        model, lambda d: d["flavors"]["python_function"].__setitem__("python_model", "a" * 5000)
    )
    with pytest.raises(ManifestError, match="at most 1024 characters, got 5000"):
        flavorkit.load_model(model)


@pytest.mark.parametrize("name", ["MLmodel", "requirements.txt", "python_model.json"])
def test_non_utf8_bytes_are_a_manifest_error(model: Path, name: str) -> None:
    file = model / name
    file.write_bytes(file.read_bytes() + b"\n# \xff\xfe\n")
    with pytest.raises(ManifestError, match="is not UTF-8 text"):
        flavorkit.load_model(model)


def test_deeply_nested_yaml_is_a_manifest_error(model: Path) -> None:
    text = (model / "MLmodel").read_text()
    (model / "MLmodel").write_text(text + "metadata: " + "[" * 5000 + "]" * 5000 + "\n")
    with pytest.raises(ManifestError):
        flavorkit.load_model(model)
    (model / "MLmodel").write_text(text + "metadata: {a: " + "[" * 500 + "]" * 500 + "}\n")
    with pytest.raises(ManifestError, match="nests deeper than 100 levels"):
        flavorkit.load_model(model)


def test_deeply_nested_signature_json_is_a_manifest_error(model: Path) -> None:
    nested = "[" * 100_000 + "]" * 100_000
    _edit_manifest(model, lambda d: d["signature"].__setitem__("inputs", nested))
    with pytest.raises(ManifestError, match="nests deeper"):
        flavorkit.load_model(model)


def test_config_of_a_wrong_type_is_a_manifest_error(model: Path) -> None:
    _edit_manifest(model, lambda d: d["flavors"]["python_function"].__setitem__("config", [1]))
    with pytest.raises(ManifestError, match=r"python_function\.config'.*expected a mapping"):
        flavorkit.load_model(model)


def test_huge_requirements_file_is_refused_with_its_size(model: Path) -> None:
    (model / "requirements.txt").write_text("numpy==1.0\n" * 100_000)
    with pytest.raises(ManifestError, match="the limit is"):
        flavorkit.load_model(model)


def test_huge_manifest_is_refused_with_its_size(model: Path) -> None:
    with (model / "MLmodel").open("a") as fh:
        fh.write("metadata: {pad: '" + "x" * (20 * 1024 * 1024) + "'}\n")
    with pytest.raises(ManifestError, match="the limit is 16,777,216"):
        flavorkit.load_model(model)


def test_many_signature_columns_load(model: Path) -> None:
    """The duplicate-name check is linear: 50,000 columns load well within the timeout."""
    columns = [{"type": "double", "name": f"c{i}", "required": True} for i in range(50_000)]
    _edit_manifest(model, lambda d: d["signature"].__setitem__("inputs", json.dumps(columns)))
    assert len(flavorkit.load_model(model).signature.inputs.inputs) == 50_000
    columns.append(columns[0])
    _edit_manifest(model, lambda d: d["signature"].__setitem__("inputs", json.dumps(columns)))
    with pytest.raises(ManifestError, match=r"duplicated input names \['c0'\]"):
        flavorkit.load_model(model)


def test_info_does_not_print_control_characters(
    model: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _edit_manifest(model, lambda d: d.__setitem__("model_uuid", "\x1b]0;owned\x07\x1b[2J"))
    assert main(["info", str(model)]) == 0
    assert "\x1b" not in capsys.readouterr().out


# -- one answer from validate, info and load -----------------------------------------


def test_validate_fails_where_load_fails(model: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _reference(model, "tempfile:_TemporaryFileCloser", {})
    assert main(["validate", str(model)]) == 1
    assert "the model does not load" in capsys.readouterr().err
    with pytest.raises(FlavorkitError):
        flavorkit.load_model(model)


def test_validate_notes_a_format_that_needs_the_opt_in(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FLAVORKIT_ALLOW_UNSAFE", raising=False)
    path = tmp_path / "pickled"
    flavorkit.save_model(AddConstant(1.0), path, serialization_format="cloudpickle")
    assert main(["validate", str(path)]) == 0
    assert "note: not loaded" in capsys.readouterr().out
    with pytest.raises(UnsafeFormatError):
        flavorkit.load_model(path)


def test_plugin_raw_errors_become_model_load_errors(model: Path) -> None:
    """``WithArtifact.load_context`` raises KeyError when the folder has no artifact."""
    _reference(model, "_models:WithArtifact", {})
    with pytest.raises(ModelLoadError, match=r"'python_function' could not load.*KeyError") as info:
        flavorkit.load_model(model)
    assert isinstance(info.value.__cause__, KeyError)


def test_model_load_error_names_flavor_and_keeps_the_cause() -> None:
    cause = OSError("bad magic number\nsecond line")
    error = ModelLoadError("pytorch", "/m", cause)
    assert (
        str(error) == "flavor 'pytorch' could not load the model at /m: OSError: bad magic number"
    )
    assert isinstance(error, FlavorkitError) and isinstance(error, ValueError)


def test_validate_loads_a_folder_without_pyfunc_as_load_native_does(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Found by the fuzzer: with no python_function section, validate loaded nothing."""
    from sklearn.linear_model import LinearRegression

    path = tmp_path / "native"
    frame = pd.DataFrame({"a": [1.0, 2.0, 3.0]})
    flavorkit.save_model(LinearRegression().fit(frame, [1.0, 2.0, 3.0]), path, input_example=frame)
    _edit_manifest(path, lambda d: d["flavors"].pop("python_function"))
    assert main(["validate", str(path)]) == 0
    _edit_manifest(path, lambda d: d["flavors"]["sklearn"].__setitem__("serialization_format", 0))
    assert main(["validate", str(path)]) == 1
    assert "the model does not load" in capsys.readouterr().err
    with pytest.raises(ManifestError):
        flavorkit.load_native(path)
