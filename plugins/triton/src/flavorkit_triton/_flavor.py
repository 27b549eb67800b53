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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flavorkit.exceptions import FlavorkitError, ManifestError

from flavorkit_triton._config import CONFIG_FILE, read
from flavorkit_triton._validate import PLAN_FILE, backend_of, check_model, versions

FLAVOR = "triton"
LOADER_MODULE = "flavorkit_triton"


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
    root = source.resolve()
    for item in source.rglob("*"):
        if item.is_symlink() and not item.resolve().is_relative_to(root):
            raise ManifestError(
                f"{item.relative_to(source)} links outside the Triton model folder", path=source
            )
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
    """Load the Triton model named by ``conf["data"]`` for in-process prediction."""
    from flavorkit.folder import model_file

    key = f"flavors.{FLAVOR}.data"
    data = conf.get("data")
    folder = model_file(path, data, key=key, kind="dir")
    config = read(model_file(path, f"{data}/{CONFIG_FILE}", key=key))
    backend, file = backend_of(config)
    found = versions(folder)
    if not found:
        raise ManifestError(f"{data!r} has no numeric version folder", path=folder, key=key)
    version = f"{data}/{found[-1]}"
    if backend == "onnxruntime":
        return _load_onnx(model_file(path, f"{version}/{file}", key=key))
    if backend == "python" and (folder / str(found[-1]) / PLAN_FILE).is_file():
        import flavorkit

        inner = model_file(path, f"{version}/model", key=key, kind="dir")
        return LoadedTriton(backend, flavorkit.load_model(inner, allow_unsafe=allow_unsafe))
    raise UnsupportedBackendError(backend or config.platform or "(none)", folder)


def _load_onnx(onnx_path: Path) -> LoadedTriton:
    from flavorkit_triton._ort import onnxruntime

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
