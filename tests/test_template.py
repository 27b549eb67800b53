"""The flavor template (cookiecutter-flavor/): what it renders, what it refuses, and that it works.

Rendering goes through cookiecutter itself (its API, and its command line
for the prompted and the ``--no-input`` ways). The slow tests install a
rendered project into a fresh virtual environment and run the project's own
tests there (the conformance kit among them): for a tiny framework written
here, and, installed exactly as the generated README says, for the default
answers (XGBoost) and for LightGBM.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from cookiecutter.exceptions import FailedHookException
from cookiecutter.generate import generate_context
from cookiecutter.main import cookiecutter
from cookiecutter.prompt import prompt_for_config
from flavorkit.exceptions import ManifestError, UnsafeFormatError
from flavorkit.testing import install_wheels_in_fresh_venv

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10: the same parser as its backport
    tomllib = pytest.importorskip("tomli")

REPO_ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = REPO_ROOT / "cookiecutter-flavor"
CHECKERS = TEMPLATE / "templates" / "checkers"

# every file a rendering with the default answers writes, relative to the project folder
EXPECTED_FILES = {
    ".github/workflows/ci.yml",
    ".gitignore",
    "LICENSE",
    "README.md",
    "pyproject.toml",
    "src/flavorkit_acme/__init__.py",
    "src/flavorkit_acme/_modelfile.py",  # the check of an xgboost model file
    "src/flavorkit_acme/_native.py",
    "src/flavorkit_acme/hooks.py",
    "src/flavorkit_acme/py.typed",
    "tests/conftest.py",
    "tests/sample_models.py",
    "tests/test_adversarial.py",
    "tests/test_conformance.py",
    "tests/test_hooks.py",
}
# the answers a LightGBM author gives: the rest follows from them
LIGHTGBM = {"flavor_name": "lightgbm", "framework_name": "LightGBM"}

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


def rendered_defaults(**answers: Any) -> dict[str, Any]:
    """The answers cookiecutter takes without prompts, given ``answers`` (later defaults follow)."""
    context = generate_context(
        context_file=str(TEMPLATE / "cookiecutter.json"), extra_context=answers
    )
    return dict(prompt_for_config(context, no_input=True))


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
    # LightGBM's scikit-learn interface needs scikit-learn, which lightgbm leaves optional
    assert meta["dependencies"] == ["flavorkit>=0.1", "lightgbm>=4.1", "scikit-learn"]
    assert "flavorkit[testing]>=0.1" in meta["optional-dependencies"]["testing"]
    assert meta["license"] == "Apache-2.0"
    assert (project / "src" / "flavorkit_my_gbm" / "hooks.py").is_file()


def test_template_default_project_declares_what_its_models_need(
    config_file: Path, tmp_path: Path
) -> None:
    # XGBRegressor is XGBoost's scikit-learn interface, which cannot be built without it
    project = bake(config_file, tmp_path / "out", flavor_name="acme")
    meta = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert meta["dependencies"] == ["flavorkit>=0.1", "xgboost>=2.0", "scikit-learn"]
    native = (project / "src" / "flavorkit_acme" / "_native.py").read_text(encoding="utf-8")
    assert 'EXTRA_DISTRIBUTIONS: tuple[str, ...] = ("scikit-learn",)' in native


def test_template_rendered_code_is_lint_clean(config_file: Path, tmp_path: Path) -> None:
    # every load form, both format kinds, both checkers and an example_model typed
    # carelessly (and too long for a line), so every branch of the templates renders
    sloppy = "toyfw.LinearModel( coef = [ 0.0 ] ,intercept= 0.0 ).fit( X,y )  "
    too_long = (
        "toyfw.LinearModel( coef=[ 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0 ], intercept = 0.0 )"
        ".fit( X,y )"
    )
    projects = [
        bake(config_file, tmp_path / "a", flavor_name="acme"),
        bake(
            config_file,
            tmp_path / "b",
            **toy_answers("toyfw", "toy", format_runs_code=True, model_file="model.bin"),
        ),
        bake(
            config_file,
            tmp_path / "c",
            **toy_answers(
                "toyfw",
                "toy_kw",
                load="toyfw:LinearModel.load(path)",
                example_model=too_long,
                extra_dependencies="scikit-learn>=1.3 scipy",
            ),
        ),
        bake(config_file, tmp_path / "d", **toy_answers("toyfw", "toy2", example_model=sloppy)),
        bake(config_file, tmp_path / "e", **LIGHTGBM),
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
    defaults = rendered_defaults()
    assert defaults["framework_module"] == "xgboost"
    assert defaults["model_class"] == "xgboost:XGBRegressor"
    assert defaults["load"] == ".load_model" and defaults["save_method"] == "save_model"
    assert defaults["extra_dependencies"] == "scikit-learn"
    raw = json.loads((TEMPLATE / "cookiecutter.json").read_text(encoding="utf-8"))
    assert set(raw["__prompts__"]) == {k for k in raw if not k.startswith("_")}


def test_template_defaults_follow_the_framework_answered() -> None:
    answers = rendered_defaults(framework_name="LightGBM")
    assert answers["framework_module"] == answers["framework_distribution"] == "lightgbm"
    assert answers["framework_min_version"] == "4.0"
    assert answers["model_class"] == "lightgbm:Booster"
    # LightGBM's Booster is built from the file: Booster(model_file=...)
    assert answers["load"] == "lightgbm:Booster(model_file)"
    assert answers["model_file"] == "model.lgb" and answers["extra_dependencies"] == ""
    assert answers["example_model"].startswith("lightgbm.train(")
    # a framework the template does not know: nothing of XGBoost is left in the defaults
    other = rendered_defaults(framework_name="Acme ML")
    assert other["framework_module"] == "acme_ml"
    assert other["model_class"] == "acme_ml:Model"
    assert other["example_model"] == "acme_ml.Model().fit(X, y)"
    leftovers = [k for k, v in other.items() if isinstance(v, str) and "xgb" in v.lower()]
    assert leftovers == []


def test_template_defaults_follow_the_model_class_answered() -> None:
    answers = rendered_defaults(model_class="xgboost:XGBClassifier")
    assert answers["example_model"] == "xgboost.XGBClassifier().fit(X, y)"
    assert answers["extra_dependencies"] == "scikit-learn"
    assert rendered_defaults(model_class="xgboost:Booster")["extra_dependencies"] == ""


@pytest.mark.parametrize(
    ("answers", "version_key", "format_key"),
    [
        ({"flavor_name": "acme"}, "xgboost_version", "model_format"),
        ({"flavor_name": "xgboost"}, "xgb_version", "model_format"),
        (LIGHTGBM, "lgb_version", "serialization_format"),
    ],
)
def test_template_writes_mlflow_keys_for_mlflow_flavor_names(
    config_file: Path,
    tmp_path: Path,
    answers: dict[str, str],
    version_key: str,
    format_key: str,
) -> None:
    # mlflow/xgboost and mlflow/lightgbm write these keys; MLflow reads its flavor's folders by them
    project = bake(config_file, tmp_path / "out", **answers)
    package = project / "src" / f"flavorkit_{answers['flavor_name']}"
    native = (package / "_native.py").read_text(encoding="utf-8")
    assert f'VERSION_KEY = "{version_key}"' in native
    assert f'FORMAT_KEY = "{format_key}"' in native
    assert '"code": None' not in native  # flavorkit records the code folder itself
    readme = (project / "README.md").read_text(encoding="utf-8")
    assert f"    {version_key}: <the installed version>" in readme
    assert "python_version: <the Python version it was saved with>" in readme
    assert not re.search(r"python_version: 3\.", readme)


def test_template_hooks_are_short_and_use_the_public_contract(
    config_file: Path, tmp_path: Path
) -> None:
    for answers in ({"flavor_name": "acme"}, LIGHTGBM, toy_answers("toyfw", "toy")):
        project = bake(config_file, tmp_path / answers["flavor_name"], **answers)
        package = project / "src" / f"flavorkit_{answers['flavor_name']}"
        hooks = (package / "hooks.py").read_text(encoding="utf-8")
        assert len(hooks.splitlines()) <= 55
        assert "from flavorkit.hookspecs import LoadOptions, Persisted" in hooks
        assert "flavor != " not in hooks  # load, predict and detection are routed
        for module in package.glob("*.py"):
            text = module.read_text(encoding="utf-8")
            private = re.findall(r"flavorkit\.(?:folder\.)?_\w+", text)
            assert private == [], (module.name, private)


def test_template_keeps_one_xgboost_checker_with_contrib() -> None:
    # contrib/xgboost was regenerated from the template; the template includes contrib's
    # model-file check (a link to it), so there is one copy to maintain
    contrib = REPO_ROOT / "contrib" / "xgboost" / "src" / "flavorkit_xgboost" / "_modelfile.py"
    assert contrib.read_bytes() == (CHECKERS / "xgboost.py").read_bytes()
    for checker in CHECKERS.glob("*.py"):  # included verbatim: no Jinja syntax inside
        assert not re.search(r"\{[{%#]|[%#]\}", checker.read_text(encoding="utf-8")), checker


# -- the LightGBM model-file check (templates/checkers/lightgbm.py) ----------------------

LIGHTGBM_TREE = {
    "num_leaves": "3",
    "num_cat": "0",
    "split_feature": "1 0",
    "split_gain": "95.4 12.5",
    "threshold": "-0.2386 1.0000000180025095e-35",
    "decision_type": "2 2",
    "left_child": "1 -1",
    "right_child": "-2 -3",
    "leaf_value": "-0.21 0.07 -0.35",
    "leaf_weight": "2 3 3",
    "leaf_count": "2 3 3",
    "internal_value": "-0.38 -0.5",
    "internal_weight": "8 5",
    "internal_count": "8 5",
    "is_linear": "0",
    "shrinkage": "1",
}


def lightgbm_model(
    tree: dict[str, str] | None = None, *, parameters: str = "[boosting: gbdt]"
) -> bytes:
    """A LightGBM text model of one tree as LightGBM writes it, ``tree`` changing its keys."""
    block = "Tree=0\n" + "".join(f"{k}={v}\n" for k, v in {**LIGHTGBM_TREE, **(tree or {})}.items())
    block += "\n\n"
    header = (
        "tree\nversion=v4\nnum_class=1\nnum_tree_per_iteration=1\nlabel_index=0\n"
        "max_feature_idx=1\nobjective=regression\nfeature_names=a b\n"
        "feature_infos=[-2.3:1.8] [-2.2:1.6]\n"
        f"tree_sizes={len(block)}\n\n"
    )
    rest = (
        "end of trees\n\nfeature_importances:\na=1\nb=1\n\nparameters:\n"
        f"{parameters}\n\nend of parameters\n\npandas_categorical:null\n"
    )
    return (header + block + rest).encode()


@pytest.fixture(scope="module")
def lightgbm_checker() -> Any:
    spec = importlib.util.spec_from_file_location("lightgbm_checker", CHECKERS / "lightgbm.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_lightgbm_check_accepts_what_lightgbm_writes(lightgbm_checker: Any) -> None:
    lightgbm_checker.check(lightgbm_model(), path=Path("m"), key="k", allow_unsafe=False)
    # a one-leaf tree has no leaf_weight
    one_leaf = {k: "" for k in LIGHTGBM_TREE if k not in ("num_cat", "is_linear", "shrinkage")}
    one_leaf.update(num_leaves="1", leaf_value="0.5", leaf_count="8")
    lightgbm_checker.check(lightgbm_model(one_leaf), path=Path("m"), key="k", allow_unsafe=False)


@pytest.mark.parametrize(
    ("tree", "parameters", "message"),
    [
        ({"left_child": "1 -4"}, None, "left_child: expected an integer from -3 to 1"),
        ({"left_child": "1 0"}, None, "node 0 is reached twice"),
        ({"split_feature": "2 0"}, None, "split_feature: expected an integer from 0 to 1"),
        ({"leaf_value": "-0.21 0.07"}, None, "leaf_value: expected 3 values, got 2"),
        ({"threshold": "-0.2386 1.0e-3$"}, None, "threshold: expected a number"),
        ({"decision_type": "2 15"}, None, "decision_type: expected an integer from 0 to 11"),
        ({"decision_type": "3 2"}, None, "a categorical split in a tree with num_cat=0"),
        ({"num_leaves": "4"}, None, "split_feature: expected 3 values, got 2"),
        (None, "[boosting; gbdt]", "is not what LightGBM writes there"),
    ],
)
def test_lightgbm_check_refuses_what_lightgbm_would_trust(
    lightgbm_checker: Any, tree: dict[str, str] | None, parameters: str | None, message: str
) -> None:
    data = lightgbm_model(tree, **({"parameters": parameters} if parameters else {}))
    with pytest.raises(ManifestError, match=re.escape(message)) as info:
        lightgbm_checker.check(data, path=Path("m"), key="k", allow_unsafe=True)
    assert info.value.key == "k"


def test_lightgbm_check_refuses_damaged_files(lightgbm_checker: Any) -> None:
    original = lightgbm_model()
    sizes = original.replace(b"tree_sizes=", b"tree_sizes=1")  # one digit more
    for data in (original[: len(original) // 2], original[:-1], sizes, original + b"\x00"):
        with pytest.raises(ManifestError, match="is not a valid LightGBM model"):
            lightgbm_checker.check(data, path=Path("m"), key="k", allow_unsafe=True)


def test_lightgbm_check_leaves_linear_trees_to_the_opt_in(lightgbm_checker: Any) -> None:
    lines = lightgbm_model({"is_linear": "1"}).decode().split("\n")
    at = lines.index("is_linear=1") + 1
    extra = ["leaf_const=0 0 0", "num_features=0 0 0", "leaf_features=   ", "leaf_coeff=   "]
    data = "\n".join(lines[:at] + extra + lines[at:])
    with pytest.raises(UnsafeFormatError, match="linear tree"):
        lightgbm_checker.check(data.encode(), path=Path("m"), key="k", allow_unsafe=False)
    lightgbm_checker.check(data.encode(), path=Path("m"), key="k", allow_unsafe=True)


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
        ({"load": "lightgbm:Booster(model-file)"}, "load: expected module:function"),
        ({"extra_dependencies": "scikit-learn >=1"}, "extra_dependencies: expected requirements"),
        ({"model_file": "../model.ubj"}, "model_file: expected a plain file name"),
        ({"model_file": "MLmodel"}, "model_file: 'MLmodel' is a file flavorkit writes"),
        ({"example_model": "fit(X, y"}, "example_model: expected one Python expression"),
        ({"example_model": "XGBRegressor().fit(X, y)"}, "example_model: expected an expression"),
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
    # MLflow's "lightgbm" is no flavorkit built-in: a plugin may provide it, with MLflow's keys
    project = bake(config_file, tmp_path / "a", flavor_name="lightgbm")
    assert project.name == "flavorkit-lightgbm"
    out = capfd.readouterr().out
    assert "'lightgbm' is also an MLflow flavor name: the section uses MLflow's keys" in out
    assert "lgb_version" in out
    # a name whose section the template does not know: it says where to look
    bake(config_file, tmp_path / "b", flavor_name="onnx")
    assert "compare the section _native.persist writes with mlflow/onnx" in capfd.readouterr().out


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
    # the interactive way: a name typed at the first prompt, the defaults for the other 15
    proc = run(
        sys.executable,
        "-m",
        "cookiecutter",
        "--config-file",
        config_file,
        "-o",
        tmp_path,
        TEMPLATE,
        input="acme\n" + "\n" * 15,
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


def render_and_register(
    config_file: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    registry: Any,
    imported_packages: list[str],
    answers: dict[str, Any],
) -> Any:
    """Render ``answers``, import the package and register its hooks; returns the package."""
    import importlib

    flavor = answers["flavor_name"]
    project = bake(config_file, tmp_path / "out", **answers)
    monkeypatch.syspath_prepend(str(project / "src"))
    imported_packages.append(f"flavorkit_{flavor}")
    package = importlib.import_module(f"flavorkit_{flavor}")
    hooks = importlib.import_module(f"flavorkit_{flavor}.hooks")
    assert registry.register(hooks, name=flavor) == [flavor]
    return package


@pytest.mark.parametrize(
    ("runs_code", "load"),
    [(False, "function"), (True, "function"), (False, "keyword")],
)
def test_template_hooks_save_and_load_in_process(
    config_file: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    flavorkit_registry: Any,
    toy_module: str,
    imported_packages: list[str],
    runs_code: bool,
    load: str,
) -> None:
    """The rendered hooks, registered by hand, save and load a toy model."""
    import importlib

    import flavorkit
    import numpy as np

    flavor = f"toy_{'unsafe' if runs_code else 'safe'}_{load}"
    answers = toy_answers(toy_module, flavor, format_runs_code=runs_code)
    if load == "keyword":  # called as LinearModel.load(path=file)
        answers["load"] = f"{toy_module}:LinearModel.load(path)"
    package = render_and_register(
        config_file, tmp_path, monkeypatch, flavorkit_registry, imported_packages, answers
    )

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


def test_template_load_refuses_another_recorded_format_before_reading(
    config_file: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    flavorkit_registry: Any,
    toy_module: str,
    imported_packages: list[str],
) -> None:
    import importlib

    import flavorkit
    import numpy as np

    package = render_and_register(
        config_file,
        tmp_path,
        monkeypatch,
        flavorkit_registry,
        imported_packages,
        toy_answers(toy_module, "toy_fmt"),
    )
    framework = importlib.import_module(toy_module)
    X = np.arange(12, dtype=float).reshape(4, 3)
    path = tmp_path / "model"
    package.save_model(framework.LinearModel().fit(X, X.sum(axis=1)), path)
    # what an MLflow folder of another format looks like: a pickle under the same section
    manifest = yaml.safe_load((path / "MLmodel").read_text(encoding="utf-8"))
    manifest["flavors"]["toy_fmt"]["model_format"] = "cloudpickle"
    (path / "model.json").write_bytes(b"\x80\x04not json")
    (path / "MLmodel").write_text(yaml.safe_dump(manifest), encoding="utf-8")
    with pytest.raises(ManifestError, match="saved in format 'cloudpickle'") as info:
        flavorkit.load_native(path, allow_unsafe=True)
    assert info.value.key == "flavors.toy_fmt.model_format"


def test_template_load_form_that_does_not_fit_names_the_reader(
    config_file: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    flavorkit_registry: Any,
    toy_module: str,
    imported_packages: list[str],
) -> None:
    """A load answer the framework does not take fails on its own, not as a signature problem."""
    import importlib

    import numpy as np

    answers = toy_answers(toy_module, "toy_misfit", load=f"{toy_module}:LinearModel.load(file)")
    package = render_and_register(
        config_file, tmp_path, monkeypatch, flavorkit_registry, imported_packages, answers
    )
    framework = importlib.import_module(toy_module)
    X = np.arange(12, dtype=float).reshape(4, 3)
    model = framework.LinearModel().fit(X, X.sum(axis=1))
    with pytest.raises(ManifestError) as info:
        # inferring the signature loads the saved folder back: that load is what fails
        package.save_model(model, tmp_path / "model", input_example=X[:2])
    message = str(info.value)
    assert "could not read the model with " + toy_module + ".LinearModel.load(file=file)" in message
    assert "unexpected keyword argument 'file'" in message
    assert "signature" not in message


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


def readme_commands(project: Path) -> list[str]:
    """The command lines of the generated README's Development section, in order."""
    readme = (project / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Development\n", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```bash\n(.*?)```", section, re.DOTALL)
    assert block is not None, section
    return [line.split("#", 1)[0].strip() for line in block.group(1).splitlines() if line.strip()]


@pytest.mark.slow
@pytest.mark.parametrize("answers", [{}, LIGHTGBM], ids=["defaults", "lightgbm"])
def test_template_project_passes_its_tests_installed_as_its_readme_says(
    config_file: Path, tmp_path: Path, answers: dict[str, str]
) -> None:
    """Render, install exactly as the generated README says in a fresh venv, run its tests.

    flavorkit itself comes from this checkout (a wheel built from it, with its
    ``testing`` extra, as the README's line for a checkout does); everything
    else comes from the package index through the README's own commands.
    """
    project = bake(config_file, tmp_path / "out", **answers)
    venv = install_wheels_in_fresh_venv([], tmp_path / "install", extras=["testing"])
    commands = readme_commands(project)
    installs = [c for c in commands if c.startswith("python -m pip install")]
    assert installs == ['python -m pip install -e ".[testing]"'], commands
    for command in installs:
        venv.run(*shlex.split(command), cwd=project)

    flavor = answers.get("flavor_name", rendered_defaults()["flavor_name"])
    assert flavor in venv.flavors()
    assert "python -m pytest" in commands
    output = venv.run(*shlex.split("python -m pytest"), cwd=project)
    summary = output.strip().splitlines()[-1]
    passed = re.search(r"(\d+) passed", summary)
    assert passed is not None and int(passed.group(1)) >= 60, summary
    assert "failed" not in summary and "error" not in summary, summary
