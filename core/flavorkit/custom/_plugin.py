"""The built-in custom-model flavor (``python_function`` with a user ``PythonModel``).

It is a default plugin and uses exactly the hooks third-party plugins use.
Formats:

- ``reference`` (default): ``python_model.json`` records the class as
  ``module:QualName`` plus the instance's JSON state. Loading imports the
  class from the environment; nothing is unpickled. A class that is only
  importable from ``code_paths`` shipped inside the folder needs the unsafe
  opt-in.
- ``cloudpickle``: ``python_model.pkl``, as MLflow writes it. Chosen when the
  class lives in ``__main__`` or its state is not JSON; loading needs the
  unsafe opt-in. MLflow's own custom-model folders are read the same way.
"""

from __future__ import annotations

import importlib
import inspect
import json
import shutil
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flavorkit.custom._model import PythonModel, PythonModelContext
from flavorkit.exceptions import ManifestError, PluginError, UnsafeFormatError
from flavorkit.folder._imports import import_object
from flavorkit.folder._paths import MAX_JSON_BYTES, load_json, model_file, read_text
from flavorkit.hookspecs import LoadOptions, Persisted, hookimpl

FLAVOR = "python_function"
LOADER = "flavorkit.mlflow_loader"
REFERENCE_FILE = "python_model.json"
PICKLE_FILE = "python_model.pkl"
ARTIFACTS_DIR = "artifacts"


@dataclass
class LoadedPythonModel:
    """A custom model after ``load_context``: what the predict hook receives."""

    python_model: Any
    context: PythonModelContext
    takes_context: bool
    takes_params: bool


@hookimpl
def flavorkit_flavors() -> list[str]:
    return [FLAVOR]


def _is_custom(model: Any) -> bool:
    if isinstance(model, PythonModel):
        return True
    mlflow_pyfunc = sys.modules.get("mlflow.pyfunc")
    return bool(mlflow_pyfunc and isinstance(model, getattr(mlflow_pyfunc, "PythonModel", ())))


@hookimpl(trylast=True)
def flavorkit_persist(
    model: Any, path: Path, flavor: str | None, options: dict[str, Any]
) -> Persisted | None:
    if not _is_custom(model):
        if flavor == FLAVOR:
            raise TypeError(
                f"flavor {FLAVOR!r} saves flavorkit.PythonModel subclasses, "
                f"got {type(model).__name__}"
            )
        return None
    artifacts = _copy_artifacts(path, options.pop("artifacts", None) or {})
    fmt = options.pop("serialization_format", None)
    section: dict[str, Any] = {"loader_module": LOADER}
    if fmt in (None, "reference"):
        problem = _reference_problem(model)
        if problem is None:
            cls = type(model)
            record = {"class": f"{cls.__module__}:{cls.__qualname__}", "state": dict(vars(model))}
            (path / REFERENCE_FILE).write_text(json.dumps(record), encoding="utf-8")
            section.update(python_model=REFERENCE_FILE, serialization_format="reference")
        elif fmt == "reference":
            raise ValueError(f"serialization_format='reference' is impossible: {problem}")
        else:
            warnings.warn(
                f"saving the PythonModel with cloudpickle because {problem}; "
                "loading it will need allow_unsafe=True",
                UserWarning,
                stacklevel=4,
            )
            fmt = "cloudpickle"
    if fmt == "cloudpickle":
        import cloudpickle

        with open(path / PICKLE_FILE, "wb") as fh:
            cloudpickle.dump(model, fh)
        section.update(
            python_model=PICKLE_FILE,
            serialization_format="cloudpickle",
            cloudpickle_version=cloudpickle.__version__,
        )
    elif fmt not in (None, "reference"):
        raise ValueError(f"serialization_format must be 'reference' or 'cloudpickle', got {fmt!r}")
    if artifacts:
        section["artifacts"] = artifacts
    return {"flavor": FLAVOR, "conf": {}, "pyfunc": section}


def _reference_problem(model: Any) -> str | None:
    cls = type(model)
    if cls.__module__ == "__main__":
        return (
            f"class {cls.__qualname__} is defined in __main__ and cannot be imported at load time"
        )
    if "<locals>" in cls.__qualname__:
        return f"class {cls.__qualname__} is defined inside a function"
    try:
        json.dumps(vars(model))
    except (TypeError, ValueError):
        return f"the state of {cls.__qualname__} is not JSON data"
    return None


def _copy_artifacts(path: Path, artifacts: dict[str, Any]) -> dict[str, dict[str, str]]:
    out = {}
    for name, source in artifacts.items():
        src = Path(str(source).removeprefix("file://"))
        if not src.exists():
            raise FileNotFoundError(f"artifact {name!r}: {str(src)!r} does not exist")
        dest = path / ARTIFACTS_DIR / name / src.name
        dest.parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            shutil.copytree(src, dest)
        else:
            shutil.copy2(src, dest)
        out[name] = {"path": dest.relative_to(path).as_posix(), "uri": str(source)}
    return out


@hookimpl
def flavorkit_load(path: Path, conf: dict[str, Any], options: LoadOptions) -> LoadedPythonModel:
    allow_unsafe = bool(options.get("allow_unsafe"))
    file = conf.get("python_model")
    if file is None:
        return _load_foreign(path, conf, allow_unsafe, options.get("model_config") or {})
    if conf.get("serialization_format") == "reference" or str(file).endswith(".json"):
        model = _load_reference(path, conf, allow_unsafe)
    else:
        if not allow_unsafe:
            raise UnsafeFormatError(
                "cloudpickle", path / file, "unpickling a PythonModel runs code"
            )
        import cloudpickle

        pickled = model_file(path, file, key="flavors.python_function.python_model")
        _put_code_on_path(path, conf)
        with open(pickled, "rb") as fh:
            try:
                model = cloudpickle.load(fh)
            except ModuleNotFoundError as exc:
                missing = (exc.name or "").split(".")[0] or str(exc)
                raise PluginError(
                    f"the pickled PythonModel in {pickled.name} refers to module {missing!r}, "
                    f"which is not installed; install it (pip install {missing}) to load it"
                ) from None
    artifacts = {
        name: str(
            model_file(
                path, entry["path"], key=f"flavors.python_function.artifacts.{name}", kind="any"
            )
        )
        for name, entry in (conf.get("artifacts") or {}).items()
    }
    context = PythonModelContext(artifacts, dict(options.get("model_config") or {}))
    model.load_context(context)
    return _bind(model, context)


def _bind(model: Any, context: PythonModelContext) -> LoadedPythonModel:
    """Work out once how ``predict`` wants to be called (with or without context, params)."""
    parameters = inspect.signature(model.predict).parameters
    positional = [
        p
        for p in parameters.values()
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.name != "params"
    ]
    return LoadedPythonModel(
        model, context, takes_context=len(positional) >= 2, takes_params="params" in parameters
    )


def _put_code_on_path(path: Path, conf: dict[str, Any]) -> None:
    """Put the folder's ``code`` directory first on ``sys.path`` (for the rest of the process).

    It stays there: classes unpickled or imported from it may import lazily later.
    """
    code = str(path / conf["code"]) if conf.get("code") else None
    if code and code not in sys.path:
        sys.path.insert(0, code)


def _load_reference(path: Path, conf: dict[str, Any], allow_unsafe: bool) -> Any:
    """Rebuild a model saved by reference: check the class, then restore its JSON state.

    The class must be a ``PythonModel`` subclass (flavorkit's or MLflow's)
    importable from installed code; it is checked before any object exists,
    and the state only fills plain attribute names (or goes to the class's
    own ``__setstate__``).
    """
    key = "flavors.python_function.python_model"
    file = model_file(path, conf["python_model"], key=key)
    record = load_json(read_text(file, limit=MAX_JSON_BYTES, key=key), path=file, key=key)
    if not isinstance(record, dict) or not isinstance(record.get("class"), str):
        raise ManifestError("expected a JSON object with a 'class' string", path=file, key="class")
    state = record.get("state")
    if state is None:
        state = {}
    if not isinstance(state, dict):
        raise ManifestError(
            f"expected a JSON object, got {type(state).__name__}", path=file, key="state"
        )
    bad = [k for k in state if not k.isidentifier() or k.startswith("__")]
    if bad:
        raise ManifestError(
            f"state names must be plain attribute names, got {_names(bad)}", path=file, key="state"
        )
    spec = record["class"]
    code_dir = None
    if conf.get("code"):
        code_dir = model_file(path, conf["code"], key="flavors.python_function.code", kind="dir")
    try:
        cls = import_object(
            spec,
            key="class",
            folder=path,
            allow_unsafe=allow_unsafe,
            code_dir=code_dir,
            what="the model's class",
        )
    except ImportError as exc:
        # import_object's message already says what to install, when installing would help
        raise PluginError(str(exc)) from None
    if not (isinstance(cls, type) and _is_python_model_class(cls)):
        raise ManifestError(
            f"{spec} is not a PythonModel subclass, so it is not loaded",
            path=file,
            key="class",
        )
    model = cls.__new__(cls)
    setstate = getattr(cls, "__setstate__", None)
    if setstate is not None and setstate is not getattr(object, "__setstate__", None):
        model.__setstate__(state)
    else:
        model.__dict__.update(state)
    return model


def _is_python_model_class(cls: type) -> bool:
    """A subclass of ``flavorkit.PythonModel`` or MLflow's, told without importing MLflow."""
    return any(
        base is PythonModel
        or (base.__name__ == "PythonModel" and base.__module__ == "mlflow.pyfunc.model")
        for base in cls.__mro__
    )


def _names(names: list[Any]) -> str:
    shown = ", ".join(repr(n[:40]) for n in names[:5])
    return shown + (f" and {len(names) - 5} more" if len(names) > 5 else "")


def _load_foreign(
    path: Path, conf: dict[str, Any], allow_unsafe: bool, config: dict[str, Any]
) -> Any:
    loader = conf["loader_module"]
    if not allow_unsafe:
        raise UnsafeFormatError(
            f"loader_module {loader}",
            path,
            "no installed flavorkit plugin owns this model, and its own loader may unpickle "
            "or run code from the folder",
        )
    _put_code_on_path(path, conf)
    try:
        module = importlib.import_module(loader)
    except ModuleNotFoundError as exc:
        missing = (exc.name or str(loader)).split(".")[0]
        raise PluginError(
            f"this model is loaded by loader_module {loader!r}, and module {missing!r} is not "
            f"installed; install it (pip install {missing}) or the flavorkit plugin for the "
            "model's flavor"
        ) from None
    data = path
    if conf.get("data"):
        data = model_file(path, conf["data"], key=f"flavors.{FLAVOR}.data", kind="any")
    impl = module._load_pyfunc(str(data), config) if config else module._load_pyfunc(str(data))
    return _bind(impl, PythonModelContext())


@hookimpl
def flavorkit_predict(model: LoadedPythonModel, data: Any, params: dict[str, Any]) -> Any:
    args = (model.context, data) if model.takes_context else (data,)
    if model.takes_params:
        return model.python_model.predict(*args, params=params)
    return model.python_model.predict(*args)


@hookimpl
def flavorkit_native(model: LoadedPythonModel) -> Any:
    return model.python_model


@hookimpl
def flavorkit_detect_environment(model: Any, conf: dict[str, Any]) -> list[str]:
    from flavorkit.environment import pin, pins_for_modules

    modules = {cls.__module__ for cls in type(model).__mro__} - {
        "builtins",
        "flavorkit.custom._plugin",
    }
    reqs = [p for p in pins_for_modules(modules) if not p.startswith("flavorkit==")]
    if conf.get("serialization_format") == "cloudpickle":
        reqs.append(pin("cloudpickle"))
    return reqs
