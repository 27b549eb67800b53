"""Checking a Triton model repository without a server (``flavorkit validate REPO``).

``config.pbtxt`` is parsed with Triton's own protobuf schema; then the rules
the schema cannot express, as Triton applies them when it loads the model:
the model's name is its folder's, every input and output has a name, a data
type and non-empty dims of -1 or positive sizes, dynamic batching needs
``max_batch_size > 0``, versions are numeric folders holding the backend's
file, and the dims agree with the model itself: for repositories flavorkit
exported, with the signature-derived plan (the batch dimension left out of
``dims`` when ``max_batch_size > 0``); for ONNX files, with the graph's
inputs and outputs (when the ``onnx`` package is installed).

Every problem is a line naming the file and what was expected.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from flavorkit_triton._config import CONFIG_FILE, read, type_name

# backend -> the file a version folder holds by default
BACKEND_FILES = {
    "python": "model.py",
    "onnxruntime": "model.onnx",
    "pytorch": "model.pt",
    "tensorflow": "model.savedmodel",
    "tensorrt": "model.plan",
    "openvino": "model.xml",
}
# platform -> (backend, default file); ensemble has no file
PLATFORMS = {
    "onnxruntime_onnx": ("onnxruntime", "model.onnx"),
    "pytorch_libtorch": ("pytorch", "model.pt"),
    "tensorflow_savedmodel": ("tensorflow", "model.savedmodel"),
    "tensorflow_graphdef": ("tensorflow", "model.graphdef"),
    "tensorrt_plan": ("tensorrt", "model.plan"),
    "ensemble": ("", ""),
}
PLAN_FILE = "flavorkit_backend.json"
MAX_PLAN_BYTES = 1 << 20


def is_repository(path: Path) -> bool:
    """Whether ``path`` is a Triton model folder or a repository of them."""
    if (path / CONFIG_FILE).is_file():
        return True
    return path.is_dir() and any((child / CONFIG_FILE).is_file() for child in _children(path))


def validate_folder(path: Path) -> list[str] | None:
    """Problems of the model folder or repository at ``path``; ``None`` when it is neither."""
    if not path.is_dir() or not is_repository(path):
        return None
    if (path / CONFIG_FILE).is_file():
        return check_model(path)
    problems = []
    for child in _children(path):
        if not (child / CONFIG_FILE).is_file():
            problems.append(f"{child.name}: no {CONFIG_FILE} (each model folder needs one)")
        else:
            problems += check_model(child)
    return problems


def _children(path: Path) -> list[Path]:
    return sorted(p for p in path.iterdir() if p.is_dir() and not p.name.startswith("."))


def backend_of(config: Any) -> tuple[str, str]:
    """``(backend, default file)`` of a config; file ``""`` when unknown or none."""
    if config.platform in PLATFORMS:
        backend, file = PLATFORMS[config.platform]
        return config.backend or backend, config.default_model_filename or file
    backend = config.backend
    return backend, config.default_model_filename or BACKEND_FILES.get(backend, "")


def versions(model_dir: Path) -> list[int]:
    """The numeric version folders of a model folder, ascending."""
    return sorted(int(p.name) for p in model_dir.iterdir() if p.is_dir() and p.name.isdigit())


def check_model(model_dir: Path) -> list[str]:
    """Problems of one model folder (``config.pbtxt`` and its version folders)."""
    label = model_dir.name
    try:
        config = read(model_dir / CONFIG_FILE)
    except (ValueError, OSError) as exc:
        return [f"{label}/{exc}" if isinstance(exc, ValueError) else f"{label}: {exc}"]
    where = f"{label}/{CONFIG_FILE}"
    problems = _config_problems(config, label, where)
    problems += _version_problems(config, model_dir)
    return problems


def _config_problems(config: Any, folder: str, where: str) -> list[str]:
    problems = []
    if config.name and config.name != folder:
        problems.append(
            f"{where}: name {config.name!r} differs from its folder {folder!r} "
            "(Triton requires them equal)"
        )
    if not config.backend and not config.platform:
        problems.append(f"{where}: names neither a backend nor a platform")
    elif config.platform in PLATFORMS and config.backend:
        expected = PLATFORMS[config.platform][0]
        if expected and config.backend != expected:
            problems.append(
                f"{where}: backend {config.backend!r} does not run platform "
                f"{config.platform!r} (expected backend {expected!r})"
            )
    if config.max_batch_size < 0:
        problems.append(f"{where}: max_batch_size is {config.max_batch_size}; expected 0 or more")
    if config.max_batch_size == 0 and config.HasField("dynamic_batching"):
        problems.append(
            f"{where}: dynamic_batching needs max_batch_size > 0 (it joins requests along "
            "the batch dimension)"
        )
    for group in config.instance_group:
        if group.count < 0:
            problems.append(f"{where}: instance_group count is {group.count}; expected 1 or more")
    for kind, tensors in (("input", config.input), ("output", config.output)):
        problems += _tensor_problems(kind, tensors, where)
    return problems


def _tensor_problems(kind: str, tensors: Any, where: str) -> list[str]:
    problems = []
    seen: set[str] = set()
    for i, tensor in enumerate(tensors):
        label = f"{kind} {tensor.name!r}" if tensor.name else f"{kind} {i}"
        if not tensor.name:
            problems.append(f"{where}: {label} has no name")
        elif tensor.name in seen:
            problems.append(f"{where}: {label} is declared twice")
        seen.add(tensor.name)
        if tensor.data_type == 0:  # TYPE_INVALID, the protobuf default
            problems.append(f"{where}: {label} has no data_type (e.g. TYPE_FP32)")
        if not tensor.dims:
            problems.append(
                f"{where}: {label} has empty dims; Triton needs at least one dimension "
                "(one value per batch row is dims: [1])"
            )
        bad = [d for d in tensor.dims if d == 0 or d < -1]
        if bad:
            problems.append(
                f"{where}: {label} has dims {list(tensor.dims)}; each dimension is -1 "
                "(any size) or positive"
            )
        if tensor.HasField("reshape") and -1 not in tensor.dims:
            shape = list(tensor.reshape.shape)
            if -1 not in shape and math.prod(shape) != math.prod(tensor.dims):
                problems.append(
                    f"{where}: {label} reshape {shape} holds {math.prod(shape)} values but "
                    f"dims {list(tensor.dims)} hold {math.prod(tensor.dims)}"
                )
    return problems


def _version_problems(config: Any, model_dir: Path) -> list[str]:
    label = model_dir.name
    problems = []
    for child in sorted(model_dir.iterdir()):
        if child.is_dir() and not child.name.isdigit() and not child.name.startswith("."):
            problems.append(
                f"{label}/{child.name}: not a version folder (Triton loads numeric folders, "
                "e.g. 1/); move other files out of the model folder"
            )
    found = versions(model_dir)
    if not found:
        problems.append(f"{label}: no version folder (a numeric folder such as 1/ with the model)")
    if config.version_policy.HasField("specific"):
        for wanted in config.version_policy.specific.versions:
            if wanted not in found:
                problems.append(
                    f"{label}/{CONFIG_FILE}: version_policy names version {wanted}, "
                    "which has no folder"
                )
    backend, file = backend_of(config)
    for number in found:
        version_dir = model_dir / str(number)
        where = f"{label}/{number}"
        if file and not (version_dir / file).exists():
            how = " (default_model_filename)" if config.default_model_filename else ""
            problems.append(
                f"{where}: no {file}; backend {backend!r} loads {file}{how} from each version"
            )
            continue
        if backend == "python" and (version_dir / PLAN_FILE).exists():
            problems += _plan_problems(config, version_dir, where)
        elif backend == "onnxruntime" and file:
            problems += _onnx_problems(config, version_dir / file, where)
    return problems


def _plan_problems(config: Any, version_dir: Path, where: str) -> list[str]:
    """A flavorkit-exported version: its plan, model folder and environment agree with config."""
    try:
        with open(version_dir / PLAN_FILE, "rb") as fh:
            plan = json.loads(fh.read(MAX_PLAN_BYTES))
        environment = plan["environment"]
        planned = {"input": plan["inputs"], "output": plan["outputs"]}
        model = str(plan["model"])
    except (ValueError, KeyError, TypeError, OSError) as exc:
        return [f"{where}/{PLAN_FILE}: unreadable ({type(exc).__name__}: {exc})"]
    problems = []
    if not (version_dir / model / "MLmodel").is_file():
        problems.append(f"{where}/{model}: no flavorkit model folder (no MLmodel)")
    missing = [d for d in environment.get("site_dirs", []) if not Path(d).is_dir()]
    if missing:
        problems.append(
            f"{where}/{PLAN_FILE}: the Python environment's site-packages "
            f"{', '.join(missing)} do not exist on this machine (export with --python-env)"
        )
    batching = config.max_batch_size > 0
    for kind, tensors in (("input", config.input), ("output", config.output)):
        declared = {t.name: t for t in tensors}
        for spec in planned[kind]:
            tensor = declared.pop(spec["name"], None)
            if tensor is None:
                problems.append(
                    f"{where}: the model's {kind} {spec['name']!r} is not in {CONFIG_FILE}"
                )
                continue
            problems += _match(kind, tensor, spec, batching, config.max_batch_size, where)
        for extra in filter(None, declared):  # a nameless tensor is reported above
            problems.append(
                f"{where}: {CONFIG_FILE} declares {kind} {extra!r}, which the model does not have"
            )
    return problems


def _match(
    kind: str, tensor: Any, spec: dict[str, Any], batching: bool, mbs: int, where: str
) -> list[str]:
    from flavorkit_triton._datatypes import NUMPY_OF

    problems = []
    name = spec["name"]
    have = type_name(tensor.data_type)
    if NUMPY_OF.get(have) != spec["dtype"]:
        problems.append(
            f"{where}: {kind} {name!r} is {have} in {CONFIG_FILE} but the model's "
            f"signature gives {_triton_of(spec['dtype'])}"
        )
    shape = list(spec["shape"])
    expected = shape[1:] if batching else shape
    if list(tensor.dims) != expected:
        rule = (
            f"with max_batch_size {mbs} the dims leave out the batch dimension"
            if batching
            else "with max_batch_size 0 the dims include the batch dimension"
        )
        problems.append(
            f"{where}: {kind} {name!r} has dims {list(tensor.dims)} but the model's "
            f"signature gives {expected} ({rule})"
        )
    return problems


def _triton_of(dtype: str) -> str:
    from flavorkit_triton._datatypes import NUMPY_OF

    return next((t for t, d in NUMPY_OF.items() if d == dtype), dtype)


def _onnx_problems(config: Any, path: Path, where: str) -> list[str]:
    """An ONNX file's graph inputs and outputs against the config (with the onnx package)."""
    try:
        import onnx
    except ImportError:
        return []
    try:
        graph = onnx.load(str(path), load_external_data=False).graph
    except Exception as exc:  # a damaged file: onnx raises several kinds
        return [f"{where}/{path.name}: not a readable ONNX model ({type(exc).__name__})"]
    problems = []
    batching = config.max_batch_size > 0
    for kind, tensors, values in (
        ("input", config.input, graph.input),
        ("output", config.output, graph.output),
    ):
        ranks = {v.name: len(v.type.tensor_type.shape.dim) for v in values}
        for tensor in tensors:
            if tensor.name not in ranks:
                problems.append(
                    f"{where}: {CONFIG_FILE} {kind} {tensor.name!r} is not a graph {kind} of "
                    f"{path.name} (it has {sorted(ranks)})"
                )
                continue
            dims = list(tensor.reshape.shape) if tensor.HasField("reshape") else list(tensor.dims)
            expected = len(dims) + (1 if batching else 0)
            if ranks[tensor.name] != expected:
                problems.append(
                    f"{where}: {kind} {tensor.name!r} has rank {ranks[tensor.name]} in "
                    f"{path.name} but {CONFIG_FILE} gives {expected} "
                    + (
                        "(with max_batch_size > 0 Triton adds the batch dimension to dims)"
                        if batching
                        else "(with max_batch_size 0 dims are the full shape)"
                    )
                )
    return problems
