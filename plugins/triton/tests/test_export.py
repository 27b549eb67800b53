"""``flavorkit export triton``: the repository it writes, its options, and what it refuses."""

from __future__ import annotations

import json
import sys
from importlib.resources import files
from pathlib import Path
from typing import Any

import flavorkit
import numpy as np
import pandas as pd
import pytest
from flavorkit import ColSpec, ModelSignature, Schema
from flavorkit.exceptions import EnvironmentBuildError, SignatureError, UnsafeFormatError
from triton_models import forget_this_module

from flavorkit_triton import export, validate
from flavorkit_triton._config import read
from flavorkit_triton._environment import PythonEnvironment


def _io(config: Any) -> tuple[list[Any], list[Any]]:
    def rows(tensors: Any) -> list[Any]:
        return [(t.name, read_type(t.data_type), list(t.dims)) for t in tensors]

    return rows(config.input), rows(config.output)


def read_type(value: int) -> str:
    from flavorkit_triton._config import type_name

    return type_name(value)


def _plan(model_dir: Path, version: int = 1) -> dict[str, Any]:
    return json.loads((model_dir / str(version) / "flavorkit_backend.json").read_text())


def test_export_writes_config_backend_plan_and_the_model_folder(
    tmp_path: Path, sklearn_model: tuple[Path, Any]
) -> None:
    source = sklearn_model[0]
    written = export(source, tmp_path / "repo")
    assert written == tmp_path / "repo" / "iris"
    assert sorted(p.name for p in written.iterdir()) == ["1", "config.pbtxt"]
    version = written / "1"
    assert sorted(p.name for p in version.iterdir()) == [
        "flavorkit_backend.json",
        "model",
        "model.py",
    ]
    assert (version / "model" / "MLmodel").read_bytes() == (source / "MLmodel").read_bytes()
    shipped = files("flavorkit_triton").joinpath("_backend_model.py").read_text()
    assert (version / "model.py").read_text() == shipped
    config = read(written / "config.pbtxt")
    assert (config.name, config.backend, config.max_batch_size) == ("iris", "python", 8)
    assert _io(config) == (
        [("input-0", "TYPE_FP64", [4])],
        [("output-0", "TYPE_INT64", [1])],
    )
    assert config.HasField("dynamic_batching")
    assert [(g.kind, g.count) for g in config.instance_group] == [(2, 1)]  # KIND_CPU, 1
    plan = _plan(written)
    assert plan["environment"] == PythonEnvironment.current().to_json()
    assert (plan["model"], plan["flavor"], plan["input_kind"]) == ("model", "sklearn", "array")
    assert plan["allow_unsafe"] is False
    assert validate(tmp_path / "repo") == []


def test_export_of_columns_plans_a_dataframe_with_text(
    tmp_path: Path, frame_model: tuple[Path, Any]
) -> None:
    written = export(frame_model[0], tmp_path / "repo", name="churn")
    assert _io(read(written / "config.pbtxt"))[0] == [
        ("age", "TYPE_INT64", [1]),
        ("income", "TYPE_FP64", [1]),
        ("city", "TYPE_STRING", [1]),
    ]
    plan = _plan(written)
    assert plan["input_kind"] == "frame"
    assert [(i["key"], i["text"], i["column"]) for i in plan["inputs"]] == [
        ("age", None, True),
        ("income", None, True),
        ("city", "str", True),
    ]


@pytest.mark.parametrize(
    ("argv", "mbs", "dims", "dynamic", "count"),
    [
        ([], 8, [4], True, 1),
        (["--max-batch-size", "0"], 0, [-1, 4], False, 1),
        (
            ["--max-batch-size", "32", "--no-dynamic-batching", "--instances", "3"],
            *(32, [4], False, 3),
        ),
        (["--max-batch-size", "2", "--dynamic-batching"], 2, [4], True, 1),
    ],
)
def test_cli_batching_options_reach_the_config(
    tmp_path: Path,
    torch_model: tuple[Path, Any],
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    mbs: int,
    dims: list[int],
    dynamic: bool,
    count: int,
) -> None:
    from flavorkit.cli import main

    repo = tmp_path / "repo"
    assert main(["export", "triton", str(torch_model[0]), str(repo), "--name", "t", *argv]) == 0
    assert f"{repo / 't'}: written (python backend)" in capsys.readouterr().out
    config = read(repo / "t" / "config.pbtxt")
    assert config.max_batch_size == mbs
    assert [list(t.dims) for t in config.input] == [dims]
    assert config.HasField("dynamic_batching") is dynamic
    assert config.instance_group[0].count == count
    assert _plan(repo / "t")["input_kind"] == "array"
    assert validate(repo) == []


def test_cli_reports_a_refusal_with_exit_status_1(
    tmp_path: Path, sklearn_model: tuple[Path, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    from flavorkit.cli import main

    argv = ["export", "triton", str(sklearn_model[0]), str(tmp_path), "--max-batch-size", "0"]
    assert main([*argv, "--dynamic-batching"]) == 1
    assert "flavorkit export triton: dynamic batching needs max_batch_size > 0" in (
        capsys.readouterr().err
    )
    assert not (tmp_path / "iris").exists()


def test_cli_export_group_lists_triton(capsys: pytest.CaptureFixture[str]) -> None:
    from flavorkit.cli import main

    with pytest.raises(SystemExit):
        main(["export", "--help"])
    assert "triton" in capsys.readouterr().out


# -- the Python environment the backend runs in ---------------------------------------


def _fake_env(root: Path, *distributions: str, python: str = "3.11") -> Path:
    site = root / "lib" / f"python{python}" / "site-packages"
    site.mkdir(parents=True)
    (root / "pyvenv.cfg").write_text(f"version = {python}.0\n")
    for name in distributions:
        info = site / f"{name.replace('-', '_')}-1.0.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    return root


def test_python_env_names_a_venv_or_a_site_packages_folder(
    tmp_path: Path, sklearn_model: tuple[Path, Any]
) -> None:
    from flavorkit.environment import read_requirements

    needed = [r.split("==")[0] for r in read_requirements(sklearn_model[0])]
    env = _fake_env(tmp_path / "env", *needed, python="3.9")
    site = env / "lib" / "python3.9" / "site-packages"
    for given in (env, site):
        written = export(sklearn_model[0], tmp_path / "repo", python_env=given, overwrite=True)
        assert _plan(written)["environment"] == {"python": "3.9", "site_dirs": [str(site)]}


@pytest.mark.parametrize(
    ("layout", "message"),
    [
        ("missing", "no such folder"),
        ("plain", "expected a virtual environment or prefix"),
        ("no-version", "cannot tell its Python version"),
        ("no-flavorkit", "lacks flavorkit, flavorkit-sklearn, .*scikit-learn"),
        ("no-framework", "lacks (numpy, )?scikit-learn, which the model needs"),
    ],
)
def test_python_env_must_hold_what_the_model_needs(
    tmp_path: Path, sklearn_model: tuple[Path, Any], layout: str, message: str
) -> None:
    env = tmp_path / "env"
    if layout == "plain":
        env.mkdir()
    elif layout == "no-version":
        (env / "site-packages").mkdir(parents=True)
        env = env / "site-packages"
    elif layout == "no-flavorkit":
        _fake_env(env)
    elif layout == "no-framework":
        _fake_env(env, "flavorkit", "flavorkit-sklearn", "skops")
    with pytest.raises(EnvironmentBuildError, match=message):
        export(sklearn_model[0], tmp_path / "repo", python_env=env)
    assert not (tmp_path / "repo" / "iris").exists()


def test_default_environment_is_this_interpreters_site_packages() -> None:
    env = PythonEnvironment.current()
    assert env.python == f"{sys.version_info[0]}.{sys.version_info[1]}"
    import flavorkit as module

    # flavorkit is installed (editable) there: its distribution is found
    assert "flavorkit" in env.distributions() and module.__version__


# -- versions, names and what stays as it was ------------------------------------------


def test_versions_live_side_by_side_and_an_existing_one_needs_overwrite(
    tmp_path: Path, sklearn_model: tuple[Path, Any]
) -> None:
    repo = tmp_path / "repo"
    export(sklearn_model[0], repo)
    export(sklearn_model[0], repo, version=2)
    assert sorted(p.name for p in (repo / "iris").iterdir()) == ["1", "2", "config.pbtxt"]
    with pytest.raises(FileExistsError, match=r"iris/2 exists: pick another version"):
        export(sklearn_model[0], repo, version=2)
    marker = repo / "iris" / "2" / "stale"
    marker.write_text("x")
    export(sklearn_model[0], repo, version=2, overwrite=True)
    assert not marker.exists()
    assert sorted(p.name for p in repo.iterdir()) == ["iris"]  # no work folder left behind


def test_a_config_other_versions_share_is_not_changed_silently(
    tmp_path: Path, sklearn_model: tuple[Path, Any]
) -> None:
    repo = tmp_path / "repo"
    export(sklearn_model[0], repo)
    before = (repo / "iris" / "config.pbtxt").read_text()
    with pytest.raises(FileExistsError, match=r"differs from the one this export writes"):
        export(sklearn_model[0], repo, version=2, max_batch_size=4)
    assert (repo / "iris" / "config.pbtxt").read_text() == before
    assert not (repo / "iris" / "2").exists()
    export(sklearn_model[0], repo, version=2, max_batch_size=4, overwrite=True)
    assert read(repo / "iris" / "config.pbtxt").max_batch_size == 4


def test_registered_models_export_under_their_name_and_version(
    tmp_path: Path, registry: Path, sklearn_model: tuple[Path, Any]
) -> None:
    flavorkit.register_model(sklearn_model[0], "fraud")
    flavorkit.register_model(sklearn_model[0], "fraud")
    written = export("models:/fraud/2", tmp_path / "repo")
    assert written.name == "fraud" and (written / "2" / "model" / "MLmodel").is_file()
    assert read(written / "config.pbtxt").name == "fraud"


@pytest.mark.parametrize("name", [".hidden", "a/b", " padded", "nul\0"])
def test_names_that_cannot_be_a_model_folder_are_refused(
    tmp_path: Path, sklearn_model: tuple[Path, Any], name: str
) -> None:
    with pytest.raises(ValueError, match="cannot be a Triton model folder"):
        export(sklearn_model[0], tmp_path / "repo", name=name)


def test_models_without_a_full_signature_are_refused(tmp_path: Path) -> None:
    from sklearn.linear_model import LinearRegression

    X = np.arange(12.0).reshape(6, 2)
    model = LinearRegression().fit(X, X.sum(axis=1))
    inputs_only = ModelSignature(Schema([ColSpec("double", "a"), ColSpec("double", "b")]))
    flavorkit.save_model(model, tmp_path / "half", signature=inputs_only)
    flavorkit.save_model(model, tmp_path / "none")
    with pytest.raises(SignatureError, match="has no output signature"):
        export(tmp_path / "half", tmp_path / "repo")
    with pytest.raises(SignatureError, match="has no input signature"):
        export(tmp_path / "none", tmp_path / "repo")
    assert not (tmp_path / "repo" / "half").exists()


def test_a_column_triton_cannot_carry_is_refused_before_anything_is_written(
    tmp_path: Path,
) -> None:
    from triton_models import Echo

    frame = pd.DataFrame({"when": pd.to_datetime(["2024-01-01", "2024-02-01"]), "n": [1, 2]})
    flavorkit.save_model(Echo(), tmp_path / "dated", input_example=frame)
    with pytest.raises(SignatureError, match="input column 'when' has type datetime"):
        export(tmp_path / "dated", tmp_path / "repo", allow_unsafe=True)
    assert not (tmp_path / "repo" / "dated").exists()


def test_a_model_needing_the_unsafe_opt_in_exports_only_with_it(
    tmp_path: Path, custom_model: tuple[Path, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    forget_this_module(monkeypatch)
    with pytest.raises(UnsafeFormatError):
        export(custom_model[0], tmp_path / "repo")
    written = export(custom_model[0], tmp_path / "repo", allow_unsafe=True)
    plan = _plan(written)
    assert plan["allow_unsafe"] is True and plan["flavor"] == "python_function"
    assert [o["name"] for o in plan["outputs"]] == ["label", "score"]


def test_a_link_out_of_the_model_folder_is_not_copied(
    tmp_path: Path, sklearn_model: tuple[Path, Any]
) -> None:
    import shutil

    folder = tmp_path / "linked"
    shutil.copytree(sklearn_model[0], folder)
    (tmp_path / "secret").write_text("not the model's")
    (folder / "notes").symlink_to(tmp_path / "secret")
    with pytest.raises(ValueError, match="notes links outside the folder"):
        export(folder, tmp_path / "repo")
