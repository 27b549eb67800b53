"""Which objects the flavor saves, and the framework's native save/load pair.

Saving calls ``model.{{ cookiecutter.save_method }}(file)``; loading calls
{% if cookiecutter.load.startswith(".") -%}
``.{{ cookiecutter.load[1:] }}(file)`` on a new instance of the class ``model_class`` records
(``{{ cookiecutter.__class_path }}`` or a subclass, checked before it is built).
{%- else -%}
``{{ cookiecutter.load.replace(":", ".") }}(file)``.
{%- endif %} The file is
``{{ cookiecutter.model_file }}`` in the model folder, named by the ``data`` key of the
flavor's ``MLmodel`` section. A model folder is hostile input: every path it names goes
through ``flavorkit._folder.model_file`` and every class it names through
``flavorkit._imports.import_object``. Nothing here imports {{ cookiecutter.framework_name }}
at module import time: the functions do, when a model is saved or loaded.
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
# the MLmodel keys whose values the loader reads (the flavor's section)
DATA_KEY = f"flavors.{FLAVOR_NAME}.data"
CODE_KEY = f"flavors.{FLAVOR_NAME}.code"
CLASS_KEY = f"flavors.{FLAVOR_NAME}.model_class"
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
    """The model file (or directory) the section's ``data`` key names.

    Resolved by ``flavorkit._folder.model_file``: a relative path, inside the
    folder once symlinks are followed, and a regular file or a folder (some
    frameworks save a model as a directory), never a FIFO or a device. Raises
    ``flavorkit.exceptions.ManifestError`` naming the key otherwise.
    """
    from flavorkit._folder import model_file as resolve

    return resolve(folder, conf.get("data", MODEL_FILE), key=DATA_KEY, kind="any")


def code_folder(folder: Path, conf: dict[str, Any]) -> Path | None:
    """The code folder ``save_model(code_paths=...)`` copied (the ``code`` key), if any."""
    from flavorkit._folder import model_file as resolve

    code = conf.get("code")
    return None if code is None else resolve(folder, code, key=CODE_KEY, kind="dir")


def saved_class(
    conf: dict[str, Any], folder: Path, *, allow_unsafe: bool, code_dir: Path | None
) -> type:
    """The class ``model_class`` names, imported and checked before anything is built.

    The name is imported through ``flavorkit._imports.import_object``, which
    refuses code inside the model folder or the current directory without
    the opt-in; a class from outside the framework (a user's subclass) is
    refused without the opt-in before its module is imported. The class must
    be the framework's model class or a subclass. Raises ``ManifestError``
    (naming the key) or ``UnsafeFormatError``.
    """
    from flavorkit._imports import import_object
    from flavorkit.exceptions import ManifestError, UnsafeFormatError

    manifest = folder / "MLmodel"
    name = conf.get("model_class")
    if name is None:
        return model_class()
    module, _, attribute = name.rpartition(".") if isinstance(name, str) else ("", "", "")
    if not module or not all(part.isidentifier() for part in name.split(".")):
        shown = repr(name)[:120] if isinstance(name, str) else type(name).__name__
        raise ManifestError(
            f"expected a dotted class name (module.Class), got {shown}",
            path=manifest,
            key=CLASS_KEY,
        )
    in_framework = module == FRAMEWORK_MODULE or module.startswith(FRAMEWORK_MODULE + ".")
    if not in_framework and not allow_unsafe:
        raise UnsafeFormatError(
            name,
            manifest,
            detail=f"model_class comes from module {module!r}, not {FRAMEWORK_MODULE}, "
            "and importing it runs that module's code",
        )
    try:
        cls = import_object(
            f"{module}:{attribute}",
            key=CLASS_KEY,
            folder=folder,
            allow_unsafe=allow_unsafe,
            code_dir=code_dir,
        )
    except ImportError as exc:
        raise ManifestError(
            f"cannot import {name!r} ({exc})", path=manifest, key=CLASS_KEY
        ) from exc
    base = model_class()
    if not (isinstance(cls, type) and issubclass(cls, base)):
        raise ManifestError(
            f"expected {base.__module__}.{base.__qualname__} or a subclass, got {name!r}",
            path=manifest,
            key=CLASS_KEY,
        )
    return cls


def _unreadable(file: Path, exc: Exception) -> Exception:
    from flavorkit.exceptions import ManifestError

    lines = str(exc).strip().splitlines()
    reason = f"{type(exc).__name__}: {lines[0][:200]}" if lines else type(exc).__name__
    return ManifestError(
        f"{FRAMEWORK_MODULE} could not read the model ({reason})",
        path=file,
        key=DATA_KEY,
    )


def load(folder: Path, conf: dict[str, Any], *, allow_unsafe: bool) -> Any:
    """Read the model of the folder ``folder`` (``conf``: its flavor section).

    Called by the load hook. Every path the section names goes through
    ``flavorkit._folder.model_file``{% if cookiecutter.load.startswith(".") %}, and the class
    ``model_class`` names is checked (``saved_class``) before it is built{% endif %}.
    Raises ``ManifestError`` for a bad section or a file the framework cannot
    read and, when the format runs code, ``UnsafeFormatError`` unless
    ``allow_unsafe`` (before the file is read).

    The framework's reader gets the file only after these checks. If it is
    not safe on damaged input (a C or C++ reader that crashes on a truncated
    file, as xgboost's does), check the file before handing it over, as
    ``contrib/xgboost`` in the flavorkit repository does.
    """
    from flavorkit.exceptions import ManifestError

    if not isinstance(conf, dict):
        raise ManifestError(
            f"expected a mapping, got {type(conf).__name__}",
            path=folder / "MLmodel",
            key=f"flavors.{FLAVOR_NAME}",
        )
    file = model_file(folder, conf)
    if FORMAT_RUNS_CODE and not allow_unsafe:
        from flavorkit.exceptions import UnsafeFormatError

        raise UnsafeFormatError(MODEL_FORMAT, file)
{%- if cookiecutter.load.startswith(".") %}
    cls = saved_class(conf, folder, allow_unsafe=allow_unsafe, code_dir=code_folder(folder, conf))
    model = cls()
    try:
        # the method fills the new instance in place
        model.{{ cookiecutter.load[1:] }}(str(file))
    except Exception as exc:
        raise _unreadable(file, exc) from exc
    return model
{%- else %}
    {%- set load_module, load_path = cookiecutter.load.split(":") %}
    code_folder(folder, conf)  # checked; this loader imports nothing from it
    from {{ load_module }} import {{ load_path.split(".")[0] }}

    try:
        model = {{ load_path }}(str(file))
    except Exception as exc:
        raise _unreadable(file, exc) from exc
    if not isinstance(model, model_class()):
        raise ManifestError(
            f"holds a {type(model).__qualname__}, not a {model_class().__qualname__}",
            path=file,
            key=DATA_KEY,
        )
    return model
{%- endif %}


def predict(model: Any, data: Any) -> Any:
    """The predictions of ``model`` on ``data``, as the predict hook returns them.

    ``data`` arrives as the core enforced it: a DataFrame for a column
    signature, an ndarray (or dict of them) for a tensor signature.
    """
    return model.predict(data)
