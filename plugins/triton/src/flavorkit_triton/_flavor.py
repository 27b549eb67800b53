"""The ``triton`` flavor: a Triton model folder kept inside a model folder.

MLflow's Triton deployment plugin reads this layout: the ``MLmodel`` section
``triton`` names, under ``data``, the Triton model folder copied beside it
(``config.pbtxt`` and its numeric version folders)::

    my_model/MLmodel             flavors: {triton: {data: iris, ...}, python_function: ...}
    my_model/iris/config.pbtxt
    my_model/iris/1/...

Saving validates the Triton folder first (the checks of ``flavorkit
validate``). Loading runs in-process what can run there: ONNX models
(onnxruntime), and Python-backend models flavorkit exported (the flavorkit
folder inside the version folder); another backend is refused by name.
"""

from __future__ import annotations

import os
import shutil
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flavorkit.exceptions import FlavorkitError, ManifestError

from flavorkit_triton._config import CONFIG_FILE, read
from flavorkit_triton._files import check_tree
from flavorkit_triton._validate import (
    PLAN_FILE,
    backend_of,
    check_model,
    model_file_name,
    versions,
)

FLAVOR = "triton"
LOADER_MODULE = "flavorkit_triton"
# A flavorkit folder inside a Triton folder may itself be a Triton folder (an export of a
# saved Triton model); deeper nesting is refused before it exhausts Python's stack.
MAX_NESTING = 4
_nesting: ContextVar[int] = ContextVar("flavorkit_triton_nesting", default=0)


class UnsupportedBackendError(FlavorkitError, NotImplementedError):
    """A Triton model whose backend flavorkit cannot run in-process (serve it with Triton).

    ``backend`` names it.
    """

    def __init__(self, backend: str, path: Any) -> None:
        super().__init__(
            f"Triton model {path} uses backend {backend!r}, which flavorkit cannot run "
            "in-process; flavorkit loads 'onnxruntime' models and 'python' models written by "
            "flavorkit export triton. Serve this one with tritonserver."
        )
        self.backend = backend
        self.path = path


@dataclass
class LoadedTriton:
    """What the load hook returns: the backend and the object that predicts."""

    backend: str
    runner: Any
    # onnxruntime: the graph's input names (the keys of a dict input) and output names
    inputs: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)


def claims(model: Any, flavor: str | None) -> bool:
    """Whether ``save_model`` got a Triton model folder (or asked for this flavor)."""
    if flavor == FLAVOR:
        return True
    if flavor is not None or not isinstance(model, (str, os.PathLike)):
        return False
    return (Path(model) / CONFIG_FILE).is_file()


def persist(model: Any, path: Path) -> dict[str, Any]:
    """Validate the Triton model folder ``model`` and copy it under ``path``."""
    if not isinstance(model, (str, os.PathLike)) or not (Path(model) / CONFIG_FILE).is_file():
        raise TypeError(
            "flavor 'triton' saves a Triton model folder: the path of a folder holding "
            f"{CONFIG_FILE} and numeric version folders; got {_describe(model)}"
        )
    source = Path(model)
    problems = check_model(source)
    if problems:
        raise ManifestError(
            "not a valid Triton model folder:\n  - " + "\n  - ".join(problems),
            path=source,
        )
    config = read(source / CONFIG_FILE)
    backend, _ = backend_of(config)
    name = source.resolve().name
    check_tree(source)
    shutil.copytree(source, path / name, symlinks=False)
    result: dict[str, Any] = {
        "flavor": FLAVOR,
        "conf": {"data": name, "backend": backend, "max_batch_size": config.max_batch_size},
        "pyfunc": {"loader_module": LOADER_MODULE},
    }
    inner = _inner_folder(path / name)
    if inner is not None:
        import flavorkit

        signature = flavorkit.Model.load(inner).signature
        if signature is not None and signature.params is not None:
            result["params"] = list(signature.params.params)
    return result


def load(path: Path, conf: dict[str, Any], allow_unsafe: bool) -> LoadedTriton:
    """Load the Triton model named by ``conf["data"]`` for in-process prediction.

    Every path is resolved inside ``path`` (``model_file``); nothing of the
    folder is imported or executed: a Python-backend folder loads only its
    flavorkit model folder, with the caller's ``allow_unsafe``. Raises
    ``ManifestError`` naming the file and field that are wrong, and
    ``UnsupportedBackendError`` for a backend flavorkit cannot run.
    """
    from flavorkit.folder import model_file

    key = f"flavors.{FLAVOR}.data"
    data = conf.get("data")
    folder = model_file(path, data, key=key, kind="dir")
    config_path = model_file(path, f"{data}/{CONFIG_FILE}", key=key)
    try:
        config = read(config_path)
    except ValueError as exc:
        message = str(exc).removeprefix(f"{CONFIG_FILE}: ")
        raise ManifestError(message, path=config_path, key=key) from None
    backend, _ = backend_of(config)
    file, why = model_file_name(config)
    if why is not None:
        raise ManifestError(why, path=config_path, key=key)
    found = versions(folder)
    if not found:
        raise ManifestError(
            f"{data!r} has no version folder (a folder named by a number from 1, such as 1/)",
            path=folder,
            key=key,
        )
    version = f"{data}/{found[-1]}"
    if backend == "onnxruntime":
        return _load_onnx(model_file(path, f"{version}/{file}", key=key), key)
    if backend == "python" and (folder / str(found[-1]) / PLAN_FILE).is_file():
        version_dir = model_file(path, version, key=key, kind="dir")
        inner = model_file(path, f"{version}/model", key=key, kind="dir")
        if version_dir not in inner.parents:
            raise ManifestError(
                f"'{version}/model' leads to {inner}; expected the flavorkit model folder "
                f"inside the version folder {version_dir}",
                path=path,
                key=key,
            )
        return LoadedTriton(backend, _load_inner(inner, allow_unsafe, path, key))
    raise UnsupportedBackendError(backend or config.platform or "(none)", folder)


def _load_inner(inner: Path, allow_unsafe: bool, path: Path, key: str) -> Any:
    """``flavorkit.load_model`` of the folder inside a Python-backend version, nesting bounded."""
    import flavorkit

    depth = _nesting.get()
    if depth >= MAX_NESTING:
        raise ManifestError(
            f"Triton model folders are nested more than {MAX_NESTING} levels deep (a flavorkit "
            f"model folder inside a Triton folder inside a flavorkit model folder...); "
            f"expected at most {MAX_NESTING}",
            path=path,
            key=key,
        )
    token = _nesting.set(depth + 1)
    try:
        return flavorkit.load_model(inner, allow_unsafe=allow_unsafe)
    finally:
        _nesting.reset(token)


def _load_onnx(onnx_path: Path, key: str) -> LoadedTriton:
    """An onnxruntime session on ``onnx_path``, once the external data files it names are checked.

    onnxruntime opens external data by path; recent releases refuse paths
    out of the model's folder, older ones (and links, FIFOs) are refused
    here, with the ``onnx`` package, before onnxruntime sees the file.
    """
    from flavorkit_triton._files import external_data_problems, read_onnx
    from flavorkit_triton._ort import onnxruntime

    try:
        import onnx  # noqa: F401  (only whether it is there)
    except ImportError:
        pass  # onnxruntime's own checks only
    else:
        problems = external_data_problems(read_onnx(onnx_path), onnx_path.parent)
        if problems:
            raise ManifestError("; ".join(problems[:3]), path=onnx_path, key=key)
    session = onnxruntime().InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    return LoadedTriton(
        "onnxruntime",
        session,
        inputs=[i.name for i in session.get_inputs()],
        outputs=[o.name for o in session.get_outputs()],
    )


def predict(model: LoadedTriton, data: Any, params: dict[str, Any]) -> Any:
    """Predict with a loaded Triton model: the inner pyfunc, or onnxruntime."""
    if model.backend == "python":
        return model.runner.predict(data, params=params or None)
    import numpy as np

    session = model.runner
    if isinstance(data, dict):
        feed = {name: np.asarray(data[name]) for name in model.inputs}
    else:
        feed = {model.inputs[0]: np.asarray(data)}
    for spec in session.get_inputs():
        feed[spec.name] = feed[spec.name].astype(_ORT_TYPES.get(spec.type, feed[spec.name].dtype))
    results = session.run(None, feed)
    if len(results) == 1:
        return results[0]
    return dict(zip(model.outputs, results, strict=True))


_ORT_TYPES = {
    "tensor(float)": "float32",
    "tensor(double)": "float64",
    "tensor(float16)": "float16",
    "tensor(int64)": "int64",
    "tensor(int32)": "int32",
    "tensor(int16)": "int16",
    "tensor(int8)": "int8",
    "tensor(uint8)": "uint8",
    "tensor(bool)": "bool",
}


def native(model: LoadedTriton) -> Any:
    """``load_native``: the onnxruntime session, or the inner flavorkit model."""
    return model.runner


def environment(path: Path, conf: dict[str, Any]) -> list[str]:
    """Pins the saved folder needs: onnxruntime, or the inner model's requirements."""
    from flavorkit.environment import pins_for_modules, read_requirements

    if conf.get("backend") == "onnxruntime":
        return pins_for_modules(["onnxruntime"])
    inner = _inner_folder(path / str(conf.get("data")))
    return read_requirements(inner) if inner is not None else []


def _inner_folder(folder: Path) -> Path | None:
    """The flavorkit folder of the newest version, for a flavorkit-exported Python model."""
    if not folder.is_dir():
        return None
    found = versions(folder)
    if not found:
        return None
    version_dir = folder / str(found[-1])
    inner = version_dir / "model"
    if (version_dir / PLAN_FILE).is_file() and (inner / "MLmodel").is_file():
        return inner
    return None


def _describe(model: Any) -> str:
    if isinstance(model, (str, os.PathLike)):
        return f"{os.fspath(model)!r} (no {CONFIG_FILE} there)"
    return f"a {type(model).__module__}.{type(model).__qualname__}"
