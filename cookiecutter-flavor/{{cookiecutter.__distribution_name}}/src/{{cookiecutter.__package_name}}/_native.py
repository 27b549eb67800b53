"""Which objects the flavor saves, and the framework's native save/load pair.

Saving calls ``model.{{ cookiecutter.save_method }}(file)``; loading calls
{% if cookiecutter.load.startswith(".") -%}
``{{ cookiecutter.__class_path }}().{{ cookiecutter.load[1:] }}(file)`` on a new instance.
{%- else -%}
``{{ cookiecutter.load.replace(":", ".") }}(file)``.
{%- endif %} The file is
``{{ cookiecutter.model_file }}`` in the model folder, named by the ``data`` key of the
flavor's ``MLmodel`` section. Nothing here imports {{ cookiecutter.framework_name }} at module
import time: the functions do, when a model is saved or loaded.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

FLAVOR_NAME = "{{ cookiecutter.flavor_name }}"
FRAMEWORK_MODULE = "{{ cookiecutter.framework_module }}"
FRAMEWORK_DISTRIBUTION = "{{ cookiecutter.framework_distribution }}"
MODEL_FORMAT = "{{ cookiecutter.model_format }}"
MODEL_FILE = "{{ cookiecutter.model_file }}"
VERSION_KEY = "{{ cookiecutter.__version_key }}"
# Whether reading MODEL_FORMAT can run code (a pickle does). Such a file is
# loaded only when the caller opted in (allow_unsafe).
FORMAT_RUNS_CODE = {{ "True" if cookiecutter.format_runs_code else "False" }}


def model_class() -> type:
    """The framework's model class (imports the framework)."""
    from {{ cookiecutter.__class_module }} import {{ cookiecutter.__class_path.split(".")[0] }}

    return {{ cookiecutter.__class_path }}  # type: ignore[no-any-return]


def is_native_model(model: Any) -> bool:
    """Whether ``model`` is an instance of the framework's model class.

    Called by the persist hook for every model saved without a flavor name.
    The framework cannot have built the object unless its module is already
    imported, so a save of another framework's model never imports this one.
    """
    if sys.modules.get("{{ cookiecutter.__class_module }}") is None:
        return False
    return isinstance(model, model_class())


def framework_version() -> str | None:
    """The installed framework version, as recorded in ``MLmodel``."""
    from flavorkit.environment import installed_version

    framework = sys.modules.get(FRAMEWORK_MODULE)
    found = getattr(framework, "__version__", None)
    return str(found) if found else installed_version(FRAMEWORK_DISTRIBUTION)


def persist(model: Any, folder: Path) -> dict[str, Any]:
    """Write ``model`` into the (empty) model folder and describe it for ``MLmodel``.

    Called by the persist hook. Returns the hook's answer: the flavor's
    section (the framework version, the model file, the model's class and
    the format) and the ``python_function`` keys that make the folder
    loadable through MLflow's pyfunc too. Errors of the framework's save
    method propagate and abort the save.
    """
    model.{{ cookiecutter.save_method }}(str(folder / MODEL_FILE))
    cls = type(model)
    conf = {
        VERSION_KEY: framework_version(),
        "data": MODEL_FILE,
        "model_class": f"{cls.__module__}.{cls.__qualname__}",
        "model_format": MODEL_FORMAT,
        # the core sets this to the code folder when save_model is given code_paths
        "code": None,
    }
    pyfunc = {"loader_module": "{{ cookiecutter.__package_name }}", "data": MODEL_FILE}
    return {"flavor": FLAVOR_NAME, "conf": conf, "pyfunc": pyfunc}


def model_file(folder: Path, conf: dict[str, Any]) -> Path:
    """The model file (or directory) the section's ``data`` key names, kept inside ``folder``.

    Raises ``flavorkit.exceptions.ManifestError`` for a name that is not a
    string, points outside the folder or names nothing there.
    """
    from flavorkit.exceptions import ManifestError

    manifest, key = folder / "MLmodel", f"flavors.{FLAVOR_NAME}.data"
    name = conf.get("data", MODEL_FILE)
    if not isinstance(name, str) or not name:
        raise ManifestError(
            f"expected a file name, got {type(name).__name__}", path=manifest, key=key
        )
    file = (folder / name).resolve()
    if not file.is_relative_to(folder.resolve()):
        raise ManifestError(
            f"path {name!r} points outside the model folder", path=manifest, key=key
        )
    # a folder counts too: some frameworks save a model as a directory
    if not file.exists():
        raise ManifestError(f"nothing named {name!r} in the model folder", path=manifest, key=key)
    return file


def load(folder: Path, conf: dict[str, Any], *, allow_unsafe: bool) -> Any:
    """Read the model of the folder ``folder`` (``conf``: its flavor section).

    Called by the load hook. Raises ``ManifestError`` for a bad ``data`` key
    and, when the format runs code, ``UnsafeFormatError`` unless
    ``allow_unsafe``. The class recorded in ``model_class`` is not imported:
    a model folder never decides which code runs.
    """
    file = model_file(folder, conf)
    if FORMAT_RUNS_CODE and not allow_unsafe:
        from flavorkit.exceptions import UnsafeFormatError

        raise UnsafeFormatError(MODEL_FORMAT, file)
{%- if cookiecutter.load.startswith(".") %}
    model = model_class()()
    # the method fills the new instance in place
    model.{{ cookiecutter.load[1:] }}(str(file))
    return model
{%- else %}
    {%- set load_module, load_path = cookiecutter.load.split(":") %}
    from {{ load_module }} import {{ load_path.split(".")[0] }}

    return {{ load_path }}(str(file))
{%- endif %}


def predict(model: Any, data: Any) -> Any:
    """The predictions of ``model`` on ``data``, as the predict hook returns them.

    ``data`` arrives as the core enforced it: a DataFrame for a column
    signature, an ndarray (or dict of them) for a tensor signature.
    """
    return model.predict(data)
