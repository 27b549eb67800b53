"""``--env-manager virtualenv``: the model's own environment, built once and cached."""

from __future__ import annotations

import signal
import sys
from pathlib import Path

import httpx
import pytest
from _serving_models import save_linear, start_server
from flavorkit.exceptions import EnvironmentBuildError, ManifestError, UnsafeFormatError
from flavorkit.server import _env


@pytest.fixture
def model(tmp_path: Path) -> Path:
    return save_linear(tmp_path / "linear")


def test_env_key_is_stable_and_follows_the_requirements(model: Path) -> None:
    first = _env.env_key(model)
    assert _env.env_key(model) == first
    (model / "requirements.txt").write_text("flavorkit==0.1.0\nsix==1.16.0\n")
    assert _env.env_key(model) != first


def test_env_root_follows_the_environment_variable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(_env.ENV_ROOT_VAR, str(tmp_path / "envs"))
    assert _env.env_root() == tmp_path / "envs"
    monkeypatch.delenv(_env.ENV_ROOT_VAR)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert _env.env_root() == tmp_path / "cache" / "flavorkit" / "envs"


def test_install_lines_use_local_development_installs_and_add_the_server() -> None:
    lines = _env.install_lines(["flavorkit==0.1.0", "-c constraints.txt"])
    # flavorkit is installed here (editable) from its source folder, a version no index has
    assert lines[0].startswith("-e ")
    assert (Path(lines[0].removeprefix("-e ")) / "pyproject.toml").is_file()
    assert lines[1] == "-c constraints.txt"
    assert any(line.startswith("uvicorn") for line in lines) and any(
        line.startswith("starlette") for line in lines
    )


def test_install_lines_keep_pins_of_other_versions() -> None:
    assert _env.install_lines(["flavorkit==0.0.1"])[0] == "flavorkit==0.0.1"


def test_find_python_refuses_a_missing_interpreter() -> None:
    assert _env.find_python(".".join(map(str, sys.version_info[:3]))) == sys.executable
    with pytest.raises(EnvironmentBuildError, match=r"Python 3\.99"):
        _env.find_python("3.99.1")


def test_read_spec_needs_requirements(model: Path) -> None:
    python, _, requirements = _env.read_spec(model)
    assert python == ".".join(map(str, sys.version_info[:3])) and requirements[0].startswith(
        "flavorkit=="
    )
    (model / "requirements.txt").unlink()
    with pytest.raises(EnvironmentBuildError, match=r"no requirements\.txt"):
        _env.read_spec(model)


@pytest.mark.parametrize(
    "line",
    [
        "--index-url https://example.invalid/simple",
        "-e git+https://example.invalid/evil.git#egg=evil",
        "evil @ https://example.invalid/evil-1.0.tar.gz",
        "-r /etc/other-requirements.txt",
    ],
)
def test_env_from_outside_the_index_needs_the_opt_in(
    model: Path, line: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(_env.ENV_ROOT_VAR, str(tmp_path / "envs"))
    (model / "requirements.txt").write_text(f"flavorkit==0.1.0\n{line}\n")
    with pytest.raises(UnsafeFormatError, match="outside the configured index"):
        _env.ensure_env(model)
    assert not (tmp_path / "envs").exists()  # refused before anything was built
    assert _env.outside_the_index(["six==1.16.0", "-c constraints.txt"]) == []


def test_refusals_name_the_file_and_the_line(
    model: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(_env.ENV_ROOT_VAR, str(tmp_path / "envs"))
    (model / "requirements.txt").write_text("# pinned\nflavorkit==0.1.0\n\nsix; rm -rf /\n")
    with pytest.raises(UnsafeFormatError, match=r"requirements\.txt.*line 4: 'six; rm -rf /'"):
        _env.ensure_env(model)
    (model / "requirements.txt").write_text("flavorkit==0.1.0\n")
    (model / "python_env.yaml").write_text(
        "python: '3.11'\nbuild_dependencies: [pip, '--index-url=https://example.invalid']\n"
    )
    with pytest.raises(UnsafeFormatError, match=r"python_env\.yaml.*build_dependencies\[1\]"):
        _env.ensure_env(model)
    assert not (tmp_path / "envs").exists()


@pytest.mark.parametrize(
    "constraints",
    [
        "--index-url https://example.invalid/simple\n",
        "six @ https://example.invalid/six-1.0.tar.gz\n",
        "-c constraints.txt\n",  # a constraints file names no other file, itself included
    ],
)
def test_constraints_are_checked_as_requirements(
    model: Path, constraints: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # requirements.txt may name constraints.txt; pip reads it as a requirements file
    monkeypatch.setenv(_env.ENV_ROOT_VAR, str(tmp_path / "envs"))
    (model / "requirements.txt").write_text("flavorkit==0.1.0\n-c constraints.txt\n")
    (model / "constraints.txt").write_text(f"six==1.16.0\n{constraints}")
    with pytest.raises(UnsafeFormatError, match=r"constraints\.txt.*line 2: "):
        _env.ensure_env(model)
    assert not (tmp_path / "envs").exists()


def test_constraints_are_read_inside_the_folder_and_key_the_environment(model: Path) -> None:
    (model / "requirements.txt").write_text("flavorkit==0.1.0\n-c constraints.txt\n")
    without = _env.env_key(model)
    (model / "constraints.txt").write_text("six==1.16.0\n")
    pinned = _env.env_key(model)
    (model / "constraints.txt").write_text("six==1.15.0\n")
    # a cached environment is never shared by folders whose constraints differ
    assert len({without, pinned, _env.env_key(model)}) == 3
    (model / "constraints.txt").unlink()
    (model / "constraints.txt").symlink_to("/etc/passwd")
    with pytest.raises(ManifestError, match="leads outside the model folder"):
        _env.env_key(model)


@pytest.mark.parametrize(
    ("spec", "key"),
    [
        ("python: 3/evil", "python"),
        ("python: '3.11; rm'", "python"),
        ("python: {major: 3}", "python"),
        ("build_dependencies: pip", "build_dependencies"),
        ("build_dependencies: [pip, 3]", r"build_dependencies\[1\]"),
    ],
)
def test_python_env_fields_are_checked_before_use(model: Path, spec: str, key: str) -> None:
    # "3/evil" would make find_python look for ./python3/evil; a string would be split
    # into one build dependency per character
    (model / "python_env.yaml").write_text(spec + "\n")
    with pytest.raises(ManifestError, match=rf"python_env\.yaml, key '{key}'"):
        _env.read_spec(model)


def test_read_spec_reads_like_the_loader(model: Path) -> None:
    (model / "requirements.txt").unlink()
    (model / "requirements.txt").symlink_to("/etc/passwd")
    with pytest.raises(ManifestError, match="leads outside the model folder"):
        _env.read_spec(model)


@pytest.mark.slow
def test_serve_builds_the_model_environment_once_and_serves_from_it(
    model: Path, tmp_path: Path
) -> None:
    env = {_env.ENV_ROOT_VAR: str(tmp_path / "envs")}
    # building installs the model's requirements with pip: minutes on a cold cache
    server = start_server(
        model, "--env-manager", "virtualenv", log_dir=tmp_path, env=env, timeout=900
    )
    try:
        response = httpx.post(f"{server.url}/invocations", json={"inputs": {"a": [1.0], "b": [2]}})
        assert response.json() == {"predictions": [4.0]}
    finally:
        assert server.stop() in (0, -signal.SIGTERM)
    built = [p for p in (tmp_path / "envs").iterdir() if not p.name.startswith(".")]
    assert len(built) == 1 and (built[0] / _env._DONE).is_file()
    assert f"serving from the model's environment {built[0]}" in server.log()
    # the second start finds the cached environment
    again = start_server(model, "--env-manager", "virtualenv", log_dir=tmp_path, env=env)
    again.stop()
    assert f"serving from the model's environment {built[0]}" in again.log()
    assert "creating the environment" not in again.log()
