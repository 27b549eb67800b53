"""Check the answers before a single file is written.

cookiecutter runs this script after the questions and before rendering; a
non-zero exit stops it and removes the half-made project. Every problem is
reported at once, each naming the answer, what was expected and what came.
The script uses only the standard library: it runs in whatever environment
cookiecutter itself was installed in.
"""

from __future__ import annotations

import ast
import json
import keyword
import re
import sys

# The answers, as JSON string literals (which are also valid Python literals).
ANSWERS: dict[str, object] = {
    "flavor_name": {{ cookiecutter.flavor_name | tojson }},
    "framework_name": {{ cookiecutter.framework_name | tojson }},
    "framework_module": {{ cookiecutter.framework_module | tojson }},
    "framework_distribution": {{ cookiecutter.framework_distribution | tojson }},
    "framework_min_version": {{ cookiecutter.framework_min_version | tojson }},
    "model_class": {{ cookiecutter.model_class | tojson }},
    "extra_dependencies": {{ cookiecutter.extra_dependencies | tojson }},
    "save_method": {{ cookiecutter.save_method | tojson }},
    "load": {{ cookiecutter.load | tojson }},
    "model_format": {{ cookiecutter.model_format | tojson }},
    "model_file": {{ cookiecutter.model_file | tojson }},
    "format_runs_code": json.loads({{ cookiecutter.format_runs_code | tojson | tojson }}),
    "example_model": {{ cookiecutter.example_model | tojson }},
    "author_email": {{ cookiecutter.author_email | tojson }},
}
# MLflow's keys for the flavor's section, when the template knows them (cookiecutter.json)
MLFLOW_KEYS: dict[str, str] | None = (
    {
        "version": {{ cookiecutter.__version_key | tojson }},
        "format": {{ cookiecutter.__format_key | tojson }},
    }
    if {{ cookiecutter.__mlflow_section | tojson }}
    else None
)
# keys MLflow's own loader reads that the template does not write
MLFLOW_MISSING = {"catboost": "model_type (the class name, which mlflow.catboost rebuilds)"}

# The flavor and plugin names flavorkit itself ships. A second plugin claiming
# one of them conflicts with the built-in one (the first registered keeps it).
BUILTIN_NAMES = {
    "python_function": "flavorkit's built-in flavor for custom models (flavorkit.PythonModel)",
    "pyfunc": "the plugin name of flavorkit's built-in python_function flavor",
    "sklearn": "the scikit-learn flavor, shipped with flavorkit as flavorkit-sklearn",
    "pytorch": "the PyTorch flavor, shipped with flavorkit as flavorkit-torch",
    "torch": "the plugin name of flavorkit-torch (the pytorch flavor)",
}

# MLflow's own flavor names that flavorkit does not ship. They are allowed on
# purpose: a plugin that provides one of them (flavorkit-xgboost provides
# "xgboost") makes folders MLflow can read, as long as it keeps MLflow's keys.
MLFLOW_ONLY_NAMES = frozenset(
    {
        "catboost",
        "diviner",
        "dspy",
        "fastai",
        "h2o",
        "johnsnowlabs",
        "keras",
        "langchain",
        "lightgbm",
        "llama_index",
        "mleap",
        "onnx",
        "openai",
        "paddle",
        "pmdarima",
        "promptflow",
        "prophet",
        "sentence_transformers",
        "spacy",
        "spark",
        "statsmodels",
        "tensorflow",
        "transformers",
        "xgboost",
    }
)

# Files flavorkit writes into every model folder; the model file must not clash.
FOLDER_FILES = frozenset(
    {"MLmodel", "requirements.txt", "python_env.yaml", "conda.yaml", "input_example.json"}
)

FLAVOR_NAME = re.compile(r"[a-z][a-z0-9_]*")
DOTTED = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")
# PEP 508 distribution names
DISTRIBUTION = re.compile(r"[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?")
# public PEP 440 versions, as a minimum bound is written (1, 2.0, 1.4.2, 2.0rc1, 3.1.post1)
VERSION = re.compile(r"\d+(\.\d+)*((a|b|rc)\d+)?(\.post\d+)?(\.dev\d+)?")
FORMAT = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+-]*")
# the load form module:Class(keyword): the callable, then the keyword the file is passed as
KEYWORD_FORM = re.compile(r"([^()]+)\(([A-Za-z_][A-Za-z0-9_]*)\)")
# a requirement as pyproject.toml lists it: a name, extras, version bounds (no spaces)
REQUIREMENT = re.compile(
    r"[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?(\[[A-Za-z0-9._,-]+\])?"
    r"((==|!=|<=|>=|~=|<|>)[A-Za-z0-9.*+!]+)?(,(==|!=|<=|>=|~=|<|>)[A-Za-z0-9.*+!]+)*"
)


def _identifier(text: str) -> bool:
    return text.isidentifier() and not keyword.iskeyword(text)


def _dotted(text: str) -> bool:
    return bool(DOTTED.fullmatch(text)) and not any(keyword.iskeyword(p) for p in text.split("."))


def _object_reference(text: str) -> bool:
    """``module:attribute.path``, the entry-point way of naming a Python object."""
    module, sep, attribute = text.partition(":")
    return bool(sep) and _dotted(module) and _dotted(attribute)


def check_flavor_name(name: str) -> list[str]:
    """Problems with the flavor name (it also names the package and the distribution)."""
    if not FLAVOR_NAME.fullmatch(name) or keyword.iskeyword(name):
        return [
            f"flavor_name: expected a lowercase Python identifier that starts with a letter "
            f"(letters, digits, underscores), such as 'lightgbm' or 'my_framework'; got {name!r}"
        ]
    if name in BUILTIN_NAMES:
        return [
            f"flavor_name: {name!r} is taken by {BUILTIN_NAMES[name]}; two plugins claiming "
            f"one flavor conflict, so choose another name (not one of "
            f"{', '.join(sorted(BUILTIN_NAMES))})"
        ]
    return []


def check_framework(answers: dict[str, object]) -> list[str]:
    """Problems with the framework's module, distribution and minimum version."""
    problems = []
    module = str(answers["framework_module"])
    if not _identifier(module):
        problems.append(
            "framework_module: expected the framework's top-level import name, a Python "
            f"identifier such as 'xgboost'; got {module!r}"
        )
    dist = str(answers["framework_distribution"])
    if not DISTRIBUTION.fullmatch(dist):
        problems.append(
            "framework_distribution: expected a distribution name as pip installs it "
            f"(letters, digits, '.', '_', '-'), such as 'scikit-learn'; got {dist!r}"
        )
    version = str(answers["framework_min_version"])
    if not VERSION.fullmatch(version):
        problems.append(
            "framework_min_version: expected a version number such as '2.0' or '1.4.2'; "
            f"got {version!r}"
        )
    return problems


def check_save_load(answers: dict[str, object]) -> list[str]:
    """Problems with the model class, the native save/load pair and the model file."""
    problems = []
    module = str(answers["framework_module"])
    model_class = str(answers["model_class"])
    class_module = model_class.partition(":")[0]
    if not _object_reference(model_class):
        problems.append(
            "model_class: expected module:Class, such as 'xgboost:XGBRegressor' or "
            f"'{module}.models:Model'; got {model_class!r}"
        )
    elif class_module != module and not class_module.startswith(module + "."):
        problems.append(
            f"model_class: expected a class of the framework module {module!r} "
            f"(module {module!r} or one of its submodules); got {model_class!r}"
        )
    save = str(answers["save_method"])
    if not _identifier(save):
        problems.append(
            "save_method: expected a method name, called as model.<method>(file), such as "
            f"'save_model'; got {save!r}"
        )
    load = str(answers["load"])
    method_form = load.startswith(".") and _identifier(load[1:])
    keyword = KEYWORD_FORM.fullmatch(load)
    keyword_form = keyword is not None and _object_reference(keyword.group(1))
    if not (method_form or keyword_form or _object_reference(load)):
        problems.append(
            "load: expected module:function (called with the file, returning the model), such "
            "as 'keras.models:load_model' or 'mylib:Model.load'; module:Class(keyword) (called "
            "as Class(keyword=file)), such as 'lightgbm:Booster(model_file)'; or .method "
            f"(called on a new model_class() instance), such as '.load_model'; got {load!r}"
        )
    fmt = str(answers["model_format"])
    if not FORMAT.fullmatch(fmt):
        problems.append(
            f"model_format: expected a short format name such as 'ubj' or 'json'; got {fmt!r}"
        )
    problems.extend(check_model_file(str(answers["model_file"])))
    return problems


def check_extra_dependencies(text: str) -> list[str]:
    """Problems with the other distributions a loaded model needs (space-separated)."""
    bad = ", ".join(repr(item) for item in text.split() if not REQUIREMENT.fullmatch(item))
    if bad:
        return [
            "extra_dependencies: expected requirements as pip installs them, separated by "
            f"spaces, such as 'scikit-learn' or 'scikit-learn>=1.3'; got {bad}"
        ]
    return []


def check_model_file(name: str) -> list[str]:
    """Problems with the model file name: a plain name, not one flavorkit writes itself."""
    if not name or "/" in name or "\\" in name or name in (".", "..") or name.startswith("."):
        return [
            "model_file: expected a plain file name inside the model folder, such as "
            f"'model.ubj' (no folders, not hidden); got {name!r}"
        ]
    if name in FOLDER_FILES:
        return [
            f"model_file: {name!r} is a file flavorkit writes into every model folder; "
            "choose another name, such as 'model.bin'"
        ]
    return []


def check_example_model(expression: str, module: str) -> list[str]:
    """Problems with the expression the generated tests use to build a model.

    The tests import the framework module and nothing else of it, so the
    expression reaches the framework through that name.
    """
    try:
        tree = ast.parse(expression.strip(), "example_model", "eval")
    except SyntaxError as exc:
        return [
            "example_model: expected one Python expression using X and y, such as "
            f"'mylib.Model().fit(X, y)'; got {expression!r} ({exc.msg})"
        ]
    names = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
    if module not in names:
        return [
            f"example_model: expected an expression that reaches the framework through its "
            f"module name, such as '{module}.Model().fit(X, y)' (the tests import "
            f"{module} only); got {expression!r}"
        ]
    return []


def check(answers: dict[str, object]) -> tuple[list[str], list[str]]:
    """``(problems, notes)``: problems stop the rendering, notes are printed."""
    name = str(answers["flavor_name"])
    problems = [
        *check_flavor_name(name),
        *check_framework(answers),
        *check_save_load(answers),
        *check_extra_dependencies(str(answers["extra_dependencies"])),
        *check_example_model(str(answers["example_model"]), str(answers["framework_module"])),
    ]
    if not isinstance(answers["format_runs_code"], bool):
        problems.append(
            f"format_runs_code: expected yes or no; got {answers['format_runs_code']!r}"
        )
    email = str(answers["author_email"])
    if "@" not in email or any(c.isspace() for c in email):
        problems.append(f"author_email: expected an e-mail address; got {email!r}")
    return problems, mlflow_notes(name)


def mlflow_notes(name: str) -> list[str]:
    """What to know when the flavor name is also one of MLflow's."""
    if name not in MLFLOW_ONLY_NAMES:
        return []
    if MLFLOW_KEYS is None:
        return [
            f"note: {name!r} is also an MLflow flavor name, and the template does not know "
            f"the keys of MLflow's {name!r} section: compare the section _native.persist "
            f"writes with mlflow/{name}/__init__.py and write MLflow's keys, so that MLflow "
            "and flavorkit read each other's folders."
        ]
    notes = [
        f"note: {name!r} is also an MLflow flavor name: the section uses MLflow's keys "
        f"({MLFLOW_KEYS['version']}, data, model_class, {MLFLOW_KEYS['format']}), and loading "
        f"refuses a folder whose {MLFLOW_KEYS['format']} is not the model_format answered."
    ]
    if name in MLFLOW_MISSING:
        notes.append(
            f"note: MLflow's own loader also reads {MLFLOW_MISSING[name]}; add it in "
            "_native.persist before promising that MLflow reads the folders."
        )
    return notes


def main() -> int:
    problems, notes = check(ANSWERS)
    for note in notes:
        print(note)
    if problems:
        print("The answers cannot make a flavor plugin:", file=sys.stderr)
        for problem in problems:
            print(f"  - {problem}", file=sys.stderr)
        print("Nothing was generated; run cookiecutter again with these fixed.", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
