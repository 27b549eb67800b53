"""The flavor template (cookiecutter-flavor/): what it renders, what it refuses, and that it works.

Rendering goes through cookiecutter itself (its API, and its command line
for the prompted and the ``--no-input`` ways). The slow test installs a
rendered project into a fresh virtual environment, with a tiny framework
written here, and runs the project's own tests there: the conformance kit.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from cookiecutter.exceptions import FailedHookException
from cookiecutter.main import cookiecutter
from flavorkit.testing import install_wheels_in_fresh_venv

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10: the same parser as its backport
    tomllib = pytest.importorskip("tomli")

REPO_ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = REPO_ROOT / "cookiecutter-flavor"

# every file a rendering with the default answers writes, relative to the project folder
EXPECTED_FILES = {
    ".github/workflows/ci.yml",
    ".gitignore",
    "LICENSE",
    "README.md",
    "pyproject.toml",
    "src/flavorkit_acme/__init__.py",
    "src/flavorkit_acme/_native.py",
    "src/flavorkit_acme/hooks.py",
    "src/flavorkit_acme/py.typed",
    "tests/conftest.py",
    "tests/sample_models.py",
    "tests/test_adversarial.py",
    "tests/test_conformance.py",
    "tests/test_hooks.py",
}

# A framework small enough to write here: a linear model with a JSON save/load pair.
TOY_FRAMEWORK = '''\
"""A tiny linear-regression framework, standing in for a real one."""

import json

import numpy as np

__version__ = "0.3.0"


class LinearModel:
    def __init__(self, coef=None, intercept=0.0):
        self.coef = list(coef or [])
        self.intercept = float(intercept)

    def fit(self, X, y):
        X = np.asarray(X, dtype=float)
        design = np.column_stack([X, np.ones(len(X))])
        solution = np.linalg.lstsq(design, np.asarray(y, dtype=float), rcond=None)[0]
        self.coef, self.intercept = solution[:-1].tolist(), float(solution[-1])
        return self

    def predict(self, X):
        return np.asarray(X, dtype=float) @ np.asarray(self.coef) + self.intercept

    def save(self, path):
        with open(path, "w", encoding="utf-8") as f:
            json.dump({"coef": self.coef, "intercept": self.intercept}, f)

    @classmethod
    def load(cls, path):
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
        return cls(data["coef"], data["intercept"])
'''

TOY_PYPROJECT = """\
[build-system]
requires = ["setuptools>=77"]
build-backend = "setuptools.build_meta"

[project]
name = "{name}"
version = "0.3.0"
dependencies = ["numpy>=1.26"]

[tool.setuptools]
py-modules = ["{name}"]
"""


def toy_answers(module: str, flavor: str, **overrides: Any) -> dict[str, Any]:
    """Template answers for the toy framework saved as ``module``."""
    answers = {
        "flavor_name": flavor,
        "framework_name": "ToyFW",
        "framework_module": module,
        "framework_distribution": module,
        "framework_min_version": "0.3",
        "model_class": f"{module}:LinearModel",
        "save_method": "save",
        "load": f"{module}:LinearModel.load",
        "model_format": "json",
        "model_file": "model.json",
        "example_model": f"{module}.LinearModel().fit(X, y)",
    }
    answers.update(overrides)
    return answers


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    """A cookiecutter user config that keeps replays and clones inside the test's folder."""
    file = tmp_path / "cookiecutter-config.yaml"
    file.write_text(
        yaml.safe_dump(
            {
                "cookiecutters_dir": str(tmp_path / "cookiecutters"),
                "replay_dir": str(tmp_path / "replay"),
            }
        ),
        encoding="utf-8",
    )
    return file


def bake(config_file: Path, out: Path, **answers: Any) -> Path:
    """Render the template without prompts into ``out``; returns the project folder."""
    return Path(
        cookiecutter(
            str(TEMPLATE),
            no_input=True,
            extra_context=answers,
            output_dir=str(out),
            config_file=str(config_file),
        )
    )


def rendered_files(project: Path) -> set[str]:
    """Every file under ``project``, as relative POSIX paths."""
    return {p.relative_to(project).as_posix() for p in project.rglob("*") if p.is_file()}


def run(
    *args: str | Path, cwd: Path | None = None, **kwargs: Any
) -> subprocess.CompletedProcess[str]:
    """Run a command with a clean environment for a child Python; never raises on failure."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PYTEST_", "FLAVORKIT_", "COV_"))
        and k not in ("PYTHONPATH", "VIRTUAL_ENV")
    }
    return subprocess.run(
        [str(a) for a in args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
        **kwargs,
    )


def ok(proc: subprocess.CompletedProcess[str]) -> str:
    """The command's stdout; fails the test with both outputs when it did not exit 0."""
    assert proc.returncode == 0, (
        f"{proc.args[:4]} exited with {proc.returncode}:\n"
        f"{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    )
    return proc.stdout


# -- what it renders ------------------------------------------------------------


def test_template_renders_the_expected_files(config_file: Path, tmp_path: Path) -> None:
    project = bake(config_file, tmp_path / "out", flavor_name="acme")
    assert project.name == "flavorkit-acme"
    assert rendered_files(project) == EXPECTED_FILES


def test_template_pyproject_declares_the_plugin_and_its_dependencies(
    config_file: Path, tmp_path: Path
) -> None:
    project = bake(
        config_file,
        tmp_path / "out",
        flavor_name="my_gbm",
        framework_module="lightgbm",
        framework_min_version="4.1",
        model_class="lightgbm:LGBMRegressor",
    )
    meta = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert meta["name"] == "flavorkit-my-gbm"
    assert meta["entry-points"]["flavorkit"] == {"my_gbm": "flavorkit_my_gbm.hooks"}
    assert meta["dependencies"] == ["flavorkit>=0.1", "lightgbm>=4.1"]
    assert "flavorkit[testing]>=0.1" in meta["optional-dependencies"]["testing"]
    assert meta["license"] == "Apache-2.0"
    assert (project / "src" / "flavorkit_my_gbm" / "hooks.py").is_file()


def test_template_rendered_code_is_lint_clean(config_file: Path, tmp_path: Path) -> None:
    # both load forms and both format kinds, so every branch of the templates renders
    projects = [
        bake(config_file, tmp_path / "a", flavor_name="acme"),
        bake(
            config_file,
            tmp_path / "b",
            **toy_answers("toyfw", "toy", format_runs_code=True, model_file="model.bin"),
        ),
    ]
    for project in projects:
        ruff = [sys.executable, "-m", "ruff"]
        ok(run(*ruff, "check", "--no-cache", ".", cwd=project))
        ok(run(*ruff, "format", "--check", "--no-cache", ".", cwd=project))


def test_template_ci_workflow_keeps_github_expressions(config_file: Path, tmp_path: Path) -> None:
    project = bake(config_file, tmp_path / "out", flavor_name="acme")
    text = (project / ".github" / "workflows" / "ci.yml").read_text(encoding="utf-8")
    workflow = yaml.safe_load(text)
    assert set(workflow["jobs"]) == {"test", "publish"}
    assert "${{ matrix.python-version }}" in text
    include = workflow["jobs"]["test"]["strategy"]["matrix"]["include"]
    assert include[0]["framework"] == "xgboost==2.0.*"  # the promised minimum, tested
    assert any("pytest" in str(step.get("run", "")) for step in workflow["jobs"]["test"]["steps"])


@pytest.mark.parametrize(
    ("license_name", "first_words"),
    [("Apache-2.0", "Apache License"), ("MIT", "MIT License"), ("BSD-3-Clause", "BSD 3-Clause")],
)
def test_template_writes_the_chosen_license(
    config_file: Path, tmp_path: Path, license_name: str, first_words: str
) -> None:
    project = bake(
        config_file, tmp_path / "out", flavor_name="acme", license=license_name, author_name="Ada"
    )
    text = (project / "LICENSE").read_text(encoding="utf-8")
    assert text.strip().startswith(first_words)
    assert "Ada" in text and "{{" not in text and "{%" not in text
    meta = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert meta["license"] == license_name


def test_template_records_the_answers_in_the_native_module(
    config_file: Path, tmp_path: Path
) -> None:
    project = bake(config_file, tmp_path / "out", **toy_answers("toyfw", "toy"))
    native = (project / "src" / "flavorkit_toy" / "_native.py").read_text(encoding="utf-8")
    assert 'FLAVOR_NAME = "toy"' in native
    assert 'VERSION_KEY = "toyfw_version"' in native
    assert "FORMAT_RUNS_CODE = False" in native
    assert "model.save(str(folder / MODEL_FILE))" in native
    assert "model = LinearModel.load(str(file))" in native


def test_template_asks_every_question_with_a_prompt() -> None:
    # the defaults render a working plugin for XGBoost's regressor (contrib/xgboost grew from them)
    defaults = json.loads((TEMPLATE / "cookiecutter.json").read_text(encoding="utf-8"))
    assert defaults["framework_module"] == "xgboost"
    assert defaults["load"] == ".load_model" and defaults["save_method"] == "save_model"
    assert set(defaults["__prompts__"]) == {k for k in defaults if not k.startswith("_")}


# -- what it refuses ------------------------------------------------------------


@pytest.mark.parametrize(
    ("answers", "message"),
    [
        ({"flavor_name": "my-flavor"}, "flavor_name: expected a lowercase Python identifier"),
        ({"flavor_name": "9lives"}, "flavor_name: expected a lowercase Python identifier"),
        ({"flavor_name": "class"}, "flavor_name: expected a lowercase Python identifier"),
        ({"flavor_name": "Acme"}, "flavor_name: expected a lowercase Python identifier"),
        ({"flavor_name": "sklearn"}, "flavor_name: 'sklearn' is taken by the scikit-learn flavor"),
        ({"flavor_name": "python_function"}, "'python_function' is taken by flavorkit's built-in"),
        ({"flavor_name": "pytorch"}, "'pytorch' is taken by the PyTorch flavor"),
        ({"flavor_name": "torch"}, "'torch' is taken by the plugin name of flavorkit-torch"),
        ({"framework_module": "xg-boost"}, "framework_module: expected the framework's top-level"),
        ({"framework_min_version": "two"}, "framework_min_version: expected a version number"),
        ({"model_class": "XGBRegressor"}, "model_class: expected module:Class"),
        ({"model_class": "sklearn:Ridge"}, "model_class: expected a class of the framework module"),
        ({"save_method": "save model"}, "save_method: expected a method name"),
        ({"load": "load_model"}, "load: expected module:function"),
        ({"model_file": "../model.ubj"}, "model_file: expected a plain file name"),
        ({"model_file": "MLmodel"}, "model_file: 'MLmodel' is a file flavorkit writes"),
        ({"example_model": "fit(X, y"}, "example_model: expected one Python expression"),
        ({"author_email": "nobody"}, "author_email: expected an e-mail address"),
    ],
)
def test_template_refuses_bad_answers_with_a_message(
    config_file: Path,
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
    answers: dict[str, str],
    message: str,
) -> None:
    out = tmp_path / "out"
    with pytest.raises(FailedHookException):
        bake(config_file, out, **{"flavor_name": "acme", **answers})
    err = capfd.readouterr().err
    assert message in err
    assert "Nothing was generated" in err
    # cookiecutter removes the half-made project when the check fails
    assert not out.exists() or not any(out.iterdir())


def test_template_reports_every_bad_answer_at_once(
    config_file: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(FailedHookException):
        bake(config_file, tmp_path, flavor_name="pyfunc", framework_min_version="x", load="?")
    problems = [ln for ln in capfd.readouterr().err.splitlines() if ln.startswith("  - ")]
    assert [p.split(":")[0] for p in problems] == [
        "  - flavor_name",
        "  - framework_min_version",
        "  - load",
    ]


def test_template_allows_mlflow_flavor_names_with_a_note(
    config_file: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    # MLflow's "lightgbm" is no flavorkit built-in: a plugin may provide it, keeping MLflow's keys
    project = bake(config_file, tmp_path / "out", flavor_name="lightgbm")
    assert project.name == "flavorkit-lightgbm"
    assert "'lightgbm' is also an MLflow flavor name" in capfd.readouterr().out


def test_template_command_line_refuses_a_built_in_flavor(config_file: Path, tmp_path: Path) -> None:
    proc = run(
        sys.executable,
        "-m",
        "cookiecutter",
        "--no-input",
        "--config-file",
        config_file,
        "-o",
        tmp_path / "out",
        TEMPLATE,
        "flavor_name=pytorch",
    )
    assert proc.returncode != 0
    assert "flavor_name: 'pytorch' is taken" in proc.stderr
    assert not (tmp_path / "out" / "flavorkit-pytorch").exists()


def test_template_command_line_prompts_for_the_answers(config_file: Path, tmp_path: Path) -> None:
    # the interactive way: a name typed at the first prompt, the defaults for the other 14
    proc = run(
        sys.executable,
        "-m",
        "cookiecutter",
        "--config-file",
        config_file,
        "-o",
        tmp_path,
        TEMPLATE,
        input="acme\n" + "\n" * 14,
    )
    ok(proc)
    assert "Created flavorkit-acme" in proc.stdout
    assert rendered_files(tmp_path / "flavorkit-acme") == EXPECTED_FILES


# -- that it works ------------------------------------------------------------------


@pytest.fixture
def toy_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The toy framework, importable under a name unique to this test."""
    name = f"toyfw_{tmp_path.name.replace('-', '_').lower()}"[:60]
    folder = tmp_path / "framework"
    folder.mkdir()
    (folder / f"{name}.py").write_text(TOY_FRAMEWORK, encoding="utf-8")
    monkeypatch.syspath_prepend(str(folder))
    yield name
    sys.modules.pop(name, None)


@pytest.fixture
def imported_packages() -> Iterator[list[str]]:
    """Top-level packages a test imports from a rendering; dropped from sys.modules after it."""
    names: list[str] = []
    yield names
    for key in [m for m in sys.modules if m.split(".", 1)[0] in names]:
        del sys.modules[key]


@pytest.mark.parametrize("runs_code", [False, True])
def test_template_hooks_save_and_load_in_process(
    config_file: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    flavorkit_registry: Any,
    toy_module: str,
    imported_packages: list[str],
    runs_code: bool,
) -> None:
    """The rendered hooks, registered by hand, save and load a toy model (both load forms)."""
    import importlib

    import flavorkit
    import numpy as np
    from flavorkit.exceptions import UnsafeFormatError

    flavor = "toy_unsafe" if runs_code else "toy_safe"
    project = bake(
        config_file, tmp_path / "out", **toy_answers(toy_module, flavor, format_runs_code=runs_code)
    )
    monkeypatch.syspath_prepend(str(project / "src"))
    imported_packages.append(f"flavorkit_{flavor}")
    package = importlib.import_module(f"flavorkit_{flavor}")
    hooks = importlib.import_module(f"flavorkit_{flavor}.hooks")
    assert flavorkit_registry.register(hooks, name=flavor) == [flavor]

    framework = importlib.import_module(toy_module)
    X = np.arange(24, dtype=float).reshape(8, 3)
    model = framework.LinearModel().fit(X, X @ [1.0, -1.0, 0.5] + 2.0)
    path = tmp_path / "model"
    flavorkit.save_model(model, path, input_example=X[:3])  # claimed without a flavor name

    section = flavorkit.Model.load(path).flavors[flavor]
    assert section["data"] == "model.json" and section["model_format"] == "json"
    assert section[f"{toy_module}_version"] == "0.3.0"
    assert section["model_class"] == f"{toy_module}.LinearModel"
    if runs_code:
        with pytest.raises(UnsafeFormatError, match="allow_unsafe=True"):
            flavorkit.load_model(path, allow_unsafe=False)
    else:
        flavorkit.load_model(path, allow_unsafe=False)  # a safe format needs no opt-in
    loaded = flavorkit.load_model(path, allow_unsafe=True)
    np.testing.assert_allclose(loaded.predict(X), model.predict(X))
    native = package.load_model(path, allow_unsafe=True)
    assert isinstance(native, framework.LinearModel)


@pytest.mark.slow
def test_template_project_installs_and_passes_its_own_tests(
    config_file: Path, tmp_path: Path
) -> None:
    """Render, install into a fresh venv, list the flavor, run the project's own tests."""
    project = bake(config_file, tmp_path / "out", **toy_answers("toyfw", "toy"))

    framework = tmp_path / "toyfw"
    framework.mkdir()
    (framework / "toyfw.py").write_text(TOY_FRAMEWORK, encoding="utf-8")
    (framework / "pyproject.toml").write_text(TOY_PYPROJECT.format(name="toyfw"), encoding="utf-8")

    # the core from this checkout, the toy framework and the rendered project, built as
    # wheels from copies (so no build files land in the working tree); the rest from the index
    venv = install_wheels_in_fresh_venv(
        [framework, project], tmp_path / "install", extras=["testing"]
    )

    listing = venv.run("flavorkit", "flavors")
    rows = {line.split()[0]: line.split() for line in listing.splitlines()[1:] if line.strip()}
    assert "toy" in rows and rows["toy"][-1] == "ok", listing
    assert "flavorkit-toy" in rows["toy"]

    tests = venv.run("python", "-m", "pytest", "-q", "-p", "no:cacheprovider", cwd=project)
    summary = tests.strip().splitlines()[-1]
    passed = re.search(r"(\d+) passed", summary)
    assert passed is not None and int(passed.group(1)) >= 30, summary
    assert "failed" not in summary and "error" not in summary, summary
