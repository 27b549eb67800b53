{%- set method_form = cookiecutter.load.startswith(".") -%}
{%- set keyword_form = cookiecutter.load.endswith(")") -%}
{%- set load_ref = cookiecutter.load.partition("(")[0] -%}
{%- set file_check = cookiecutter.__file_check -%}
{%- set framework = cookiecutter._frameworks.get(cookiecutter.framework_module, {}) -%}
{%- set load_keyword = cookiecutter.load.partition("(")[2].rstrip(")") -%}
{%- if file_check and framework.get("checked_keyword") -%}
{%- set load_keyword = framework.get("checked_keyword") -%}
{%- endif -%}
{%- set source = framework.get("checked_argument") if file_check else "str(file)" -%}
{%- set shown_source = "<the checked bytes>" if file_check else "file" -%}
{%- set load_module = load_ref.partition(":")[0] -%}
{%- set load_path = load_ref.partition(":")[2] -%}
{%- set extra_names = [] -%}
{%- for requirement in cookiecutter.extra_dependencies.split() -%}
{%- set name = requirement.split("[")[0].split("=")[0].split("<")[0].split(">")[0] -%}
{%- set _ = extra_names.append(name.split("!")[0].split("~")[0]) -%}
{%- endfor -%}
"""Which objects the flavor saves, and the framework's native save/load pair.

Saving calls ``model.{{ cookiecutter.save_method }}(file)``; loading calls
{% if method_form -%}
``.{{ cookiecutter.load[1:] }}(file)`` on a new instance of the class ``model_class`` records
(``{{ cookiecutter.__class_path }}`` or a subclass, checked before it is built).
{%- elif keyword_form -%}
``{{ load_ref.replace(":", ".") }}({{ load_keyword }}=file)``.
{%- else -%}
``{{ load_ref.replace(":", ".") }}(file)``.
{%- endif %} The file is
``{{ cookiecutter.model_file }}`` in the model folder, named by the ``data`` key of the
flavor's ``MLmodel`` section. A model folder is hostile input: every path it names goes
through ``flavorkit.folder.model_file`` and every class it names through
``flavorkit.folder.import_object``. Nothing here imports {{ cookiecutter.framework_name }}
at module import time: the functions do, when a model is saved or loaded.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flavorkit.hookspecs import Persisted

FLAVOR_NAME = "{{ cookiecutter.flavor_name }}"
PACKAGE = "{{ cookiecutter.__package_name }}"
FRAMEWORK_MODULE = "{{ cookiecutter.framework_module }}"
FRAMEWORK_DISTRIBUTION = "{{ cookiecutter.framework_distribution }}"
# other distributions a loaded model needs, pinned in requirements.txt beside the framework
EXTRA_DISTRIBUTIONS: tuple[str, ...] = ({{ extra_names | map("tojson") | join(", ") }}{{ "," if extra_names | length == 1 }})
MODEL_CLASS = "{{ cookiecutter.model_class.replace(":", ".") }}"
MODEL_FORMAT = "{{ cookiecutter.model_format }}"
MODEL_FILE = "{{ cookiecutter.model_file }}"
# the section's keys for the framework version and the format
{%- if cookiecutter.__mlflow_section %} (MLflow's own, so that MLflow
# reads the folders and this plugin reads MLflow's)
{%- endif %}
VERSION_KEY = "{{ cookiecutter.__version_key }}"
FORMAT_KEY = "{{ cookiecutter.__format_key }}"
# the MLmodel keys whose values the loader reads, as errors name them
SECTION_KEY = f"flavors.{FLAVOR_NAME}"
DATA_KEY = f"{SECTION_KEY}.data"
CODE_KEY = f"{SECTION_KEY}.code"
CLASS_KEY = f"{SECTION_KEY}.model_class"
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


def not_native(model: Any) -> TypeError:
    """The error for an object of another type saved under this flavor's name."""
    cls = type(model)
    got = f"{cls.__module__}.{cls.__qualname__}"
    return TypeError(f"flavor {FLAVOR_NAME!r} saves {MODEL_CLASS} objects, got {got}")


def framework_version() -> str | None:
    """The installed framework version, as recorded in ``MLmodel``."""
    from flavorkit.environment import installed_version

    framework = sys.modules.get(FRAMEWORK_MODULE)
    found = getattr(framework, "__version__", None)
    return str(found) if found else installed_version(FRAMEWORK_DISTRIBUTION)


def persist(model: Any, folder: Path) -> Persisted:
    """Write ``model`` into the (empty) model folder and describe it for ``MLmodel``.

    Called by the persist hook. Returns the hook's answer: the flavor's
    section (the framework version, the model file, the model's class and
    the format; flavorkit adds ``code`` itself) and the ``python_function``
    keys that make the folder loadable through MLflow's pyfunc too. Errors
    of the framework's save method propagate and abort the save.
    """
    model.{{ cookiecutter.save_method }}(str(folder / MODEL_FILE))
    cls = type(model)
    conf = {
        VERSION_KEY: framework_version(),
        "data": MODEL_FILE,
        "model_class": f"{cls.__module__}.{cls.__qualname__}",
        FORMAT_KEY: MODEL_FORMAT,
    }
    pyfunc = {"loader_module": PACKAGE, "data": MODEL_FILE}
    return {"flavor": FLAVOR_NAME, "conf": conf, "pyfunc": pyfunc}


def requirements() -> list[str]:
    """The exact pins a saved model needs: the framework and ``EXTRA_DISTRIBUTIONS``."""
    from flavorkit.environment import pin, pins_for_modules

    return [*pins_for_modules([FRAMEWORK_MODULE]), *map(pin, EXTRA_DISTRIBUTIONS)]
{%- if method_form %}


def saved_class(
    conf: dict[str, Any], folder: Path, *, allow_unsafe: bool, code_dir: Path | None
) -> type:
    """The class ``model_class`` names, imported and checked before anything is built.

    The name is imported through ``flavorkit.folder.import_object``, which
    refuses code inside the model folder or the current directory without
    the opt-in; a class from outside the framework (a user's subclass) is
    refused without the opt-in before its module is imported. The class must
    be the framework's model class or a subclass. Raises ``ManifestError``
    (naming the key) or ``UnsafeFormatError``.
    """
    from flavorkit.exceptions import ManifestError, UnsafeFormatError
    from flavorkit.folder import import_object

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
{%- endif %}


def check_format(conf: dict[str, Any], folder: Path) -> None:
    """Refuse a section that records another format than ``MODEL_FORMAT``.

    A folder without the key (written before it existed) is read as
    ``MODEL_FORMAT``. Another format (a folder MLflow wrote with a pickle,
    say) never reaches the framework's reader: ``ManifestError`` naming the
    key and both formats.
    """
    from flavorkit.exceptions import ManifestError

    recorded = conf.get(FORMAT_KEY, MODEL_FORMAT)
    if recorded != MODEL_FORMAT:
        shown = repr(recorded)[:120] if isinstance(recorded, str) else type(recorded).__name__
        raise ManifestError(
            f"the model is saved in format {shown}; this plugin reads {MODEL_FORMAT!r} only",
            path=folder / "MLmodel",
            key=f"{SECTION_KEY}.{FORMAT_KEY}",
        )


def _unreadable(file: Path, reader: str, exc: Exception) -> Exception:
    from flavorkit.exceptions import ManifestError

    lines = str(exc).strip().splitlines()
    reason = f"{type(exc).__name__}: {lines[0][:200]}" if lines else type(exc).__name__
    return ManifestError(
        f"{FRAMEWORK_MODULE} could not read the model with {reader} ({reason})",
        path=file,
        key=DATA_KEY,
    )


def load(folder: Path, conf: dict[str, Any], *, allow_unsafe: bool) -> Any:
    """Read the model of the folder ``folder`` (``conf``: its flavor section).

    Called by the load hook. The recorded format must be ``MODEL_FORMAT``
    (``check_format``); every path the section names goes through
    ``flavorkit.folder.model_file``{% if method_form %}, and the class
    ``model_class`` names is checked (``saved_class``) before it is built{% endif %}.
    Raises ``ManifestError`` for a bad section or a file the framework cannot
    read (naming how it was read, so a load form that does not fit the
    framework shows as such) and, when the format runs code,
    ``UnsafeFormatError`` unless ``allow_unsafe`` (before the file is read).
{% if file_check %}
    The framework's reader trusts the file: a damaged one can crash the
    process. So the file is read once, checked by ``_modelfile.check`` and
    only then are the checked bytes handed over.
{% else %}
    The framework's reader gets the file only after these checks. If it is
    not safe on damaged input (a C or C++ reader that crashes on a truncated
    file, as xgboost's does), check the file before handing it over, as the
    flavor template's ``_modelfile.py`` does for xgboost and lightgbm.
{% endif %}    """
    from flavorkit.exceptions import ManifestError, UnsafeFormatError
    from flavorkit.folder import model_file{% if file_check %}, read_bytes

    from {{ cookiecutter.__package_name }} import _modelfile{% endif %}

    if not isinstance(conf, dict):
        raise ManifestError(
            f"expected a mapping, got {type(conf).__name__}",
            path=folder / "MLmodel",
            key=SECTION_KEY,
        )
    check_format(conf, folder)
    file = model_file(folder, conf.get("data", MODEL_FILE), key=DATA_KEY{% if not file_check %}, kind="any"{% endif %})
    code = conf.get("code")
    code_dir = None if code is None else model_file(folder, code, key=CODE_KEY, kind="dir")
    if FORMAT_RUNS_CODE and not allow_unsafe:
        raise UnsafeFormatError(MODEL_FORMAT, file)
{%- if file_check %}
    # read once, and only what the file holds (read_bytes reserves its whole limit up front),
    # then checked: {{ cookiecutter.framework_name }}'s reader trusts the file and can crash the process
    try:
        size = file.stat().st_size
    except OSError:
        size = 0  # gone or replaced since it was resolved: read_bytes says which
    data = read_bytes(file, limit=min(_modelfile.MAX_MODEL_BYTES, size), key=DATA_KEY)
    _modelfile.check(data, path=file, key=DATA_KEY, allow_unsafe=allow_unsafe)
{%- endif %}
{%- if method_form %}
    cls = saved_class(conf, folder, allow_unsafe=allow_unsafe, code_dir=code_dir)
    reader = f"{cls.__module__}.{cls.__qualname__}().{{ cookiecutter.load[1:] }}({{ shown_source }})"
    try:
        model = cls()
        model.{{ cookiecutter.load[1:] }}({{ source }})  # fills the new instance in place
    except Exception as exc:
        raise _unreadable(file, reader, exc) from exc
    return model
{%- else %}
    del code_dir  # checked; this loader imports nothing from it
    from {{ load_module }} import {{ load_path.split(".")[0] }}

    reader = "{{ load_ref.replace(":", ".") }}({% if keyword_form %}{{ load_keyword }}={% endif %}{{ shown_source }})"
    try:
        model = {{ load_path }}({% if keyword_form %}{{ load_keyword }}={% endif %}{{ source }})
    except Exception as exc:
        raise _unreadable(file, reader, exc) from exc
    if not isinstance(model, model_class()):
        raise ManifestError(
            f"holds a {type(model).__qualname__}, not a {model_class().__qualname__}",
            path=file,
            key=DATA_KEY,
        )
    return model
{%- endif %}


def predict(model: Any, data: Any, params: dict[str, Any]) -> Any:
    """The predictions of ``model`` on ``data``, as the predict hook returns them.

    ``data`` arrives as the core enforced it: a DataFrame for a column
    signature, an ndarray (or dict of them) for a tensor signature.
    ``params`` holds the params the persist hook declared, defaults filled
    in; this flavor declares none yet. Refuse a value the model cannot use
    with ``flavorkit.exceptions.SchemaEnforcementError(message, field=name,
    expected=..., actual=value)``: the scoring server answers it with 400,
    any other exception with 500.
    """
    shape = getattr(data, "shape", None)
    if shape is not None and len(shape) > 0 and shape[0] == 0:
        return _predict_no_rows(model, data)
    return model.predict(data)


def _predict_no_rows(model: Any, data: Any) -> Any:
    """The answer for a batch of 0 rows, which some frameworks refuse (LightGBM does).

    Predicts on one stand-in row of the batch's columns and dtypes (zeros,
    empty strings, False) and returns 0 rows of that answer, so its kind,
    dtype and width are those of any other batch. When the model refuses
    the stand-in too, its own error for the empty batch is raised.
    """
    import numpy as np

    try:
        return model.predict(data)
    except Exception as refused:
        if hasattr(data, "dtypes") and hasattr(data, "columns"):  # a DataFrame
            import pandas as pd

            row = pd.DataFrame(
                {c: pd.Series([_blank(dtype)], dtype=dtype) for c, dtype in data.dtypes.items()}
            )
        else:
            row = np.zeros((1, *data.shape[1:]), dtype=data.dtype)
        try:
            answer = model.predict(row)
        except Exception:
            raise refused from None
    return answer.iloc[:0] if hasattr(answer, "iloc") else answer[:0]


def _blank(dtype: Any) -> Any:
    kind = getattr(dtype, "kind", "O")
    if kind in "OSU" or str(dtype) in ("string", "str"):
        return ""
    return False if kind == "b" else 0  # numbers, and the epoch for datetimes
