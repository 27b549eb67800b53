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
from pathlib import Path
from typing import Any

from flavorkit.exceptions import ManifestError

from flavorkit_triton._config import CONFIG_FILE, read, type_name
from flavorkit_triton._files import (
    MAX_INT64,
    MAX_VERSION,
    external_data_problems,
    file_name_problem,
    plain,
    read_onnx,
    short,
    version_number,
)

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
# dims shown in a problem line; a hostile config can hold hundreds of thousands
MAX_DIMS_SHOWN = 16


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
    """The versions of a model folder, as Triton reads them (``version_number``), ascending."""
    found = (version_number(p.name) for p in model_dir.iterdir() if p.is_dir())
    return sorted(v for v in found if v is not None)


def model_file_name(config: Any) -> tuple[str, str | None]:
    """``(file, problem)``: the file each version holds, and why it is unusable (or ``None``).

    The file is ``default_model_filename`` when the config names one, which
    must then be a plain name inside the version folder.
    """
    _, file = backend_of(config)
    if not config.default_model_filename:
        return file, None
    why = file_name_problem(config.default_model_filename)
    return file, None if why is None else f"default_model_filename: {why}"


def check_model(model_dir: Path) -> list[str]:
    """Problems of one model folder (``config.pbtxt`` and its version folders)."""
    label = plain(model_dir.name)
    try:
        config = read(model_dir / CONFIG_FILE)
    except (ValueError, OSError) as exc:
        return [f"{label}/{exc}" if isinstance(exc, ValueError) else f"{label}: {exc}"]
    where = f"{label}/{CONFIG_FILE}"
    problems = _config_problems(config, model_dir.name, where)
    problems += _version_problems(config, model_dir, label)
    return problems


def _config_problems(config: Any, folder: str, where: str) -> list[str]:
    problems = []
    if config.name and config.name != folder:
        problems.append(
            f"{where}: name {short(config.name)} differs from its folder {folder!r} "
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
    _, why = model_file_name(config)
    if why is not None:
        problems.append(f"{where}: {why}")
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
        label = f"{kind} {short(tensor.name)}" if tensor.name else f"{kind} {i}"
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
        if any(d == 0 or d < -1 for d in tensor.dims):
            problems.append(
                f"{where}: {label} has dims {show_dims(tensor.dims)}; each dimension is -1 "
                "(any size) or positive"
            )
            continue
        count = _values(tensor.dims)
        if count is None:
            problems.append(
                f"{where}: {label} has dims {show_dims(tensor.dims)}, which hold more than "
                f"{MAX_INT64} values (Triton counts a tensor's values in 64 bits)"
            )
            continue
        if tensor.HasField("reshape") and -1 not in tensor.dims:
            shape = tensor.reshape.shape
            if -1 not in shape and _values(shape) != count:
                held = _values(shape)
                problems.append(
                    f"{where}: {label} reshape {show_dims(shape)} holds "
                    f"{'more than ' + str(MAX_INT64) if held is None else held} values but "
                    f"dims {show_dims(tensor.dims)} hold {count}"
                )
    return problems


def _values(dims: Any) -> int | None:
    """How many values ``dims`` hold (``-1`` counted as 1); ``None`` beyond 2**63-1.

    Linear in the number of dims: the product stops growing at the bound
    (``math.prod`` of 100,000 large dims takes minutes).
    """
    count = 1
    for d in dims:
        count *= max(d, 1)
        if count > MAX_INT64:
            return None
    return count


def show_dims(dims: Any) -> str:
    """``dims`` for a problem line: all of them, or the first few and how many there are."""
    if len(dims) <= MAX_DIMS_SHOWN:
        return str(list(dims))
    head = ", ".join(str(d) for d in dims[: MAX_DIMS_SHOWN // 2])
    return f"[{head}, ... ({len(dims)} dims)]"


def _version_problems(config: Any, model_dir: Path, label: str) -> list[str]:
    problems = []
    for child in sorted(model_dir.iterdir()):
        name = child.name
        if child.is_dir() and version_number(name) is None and not name.startswith("."):
            hint = (
                f"; a version is a number from 1 to {MAX_VERSION} in ASCII digits, without "
                "a leading 0"
                if name.strip().isdigit() or name.strip().lstrip("+-").isdigit()
                else "; move other files out of the model folder"
            )
            problems.append(
                f"{label}/{plain(name)}: not a version folder (Triton loads numeric folders, "
                f"e.g. 1/){hint}"
            )
    found = versions(model_dir)
    if not found:
        problems.append(f"{label}: no version folder (a numeric folder such as 1/ with the model)")
    if config.version_policy.HasField("specific"):
        have = set(found)
        for wanted in dict.fromkeys(config.version_policy.specific.versions):
            if wanted not in have:
                problems.append(
                    f"{label}/{CONFIG_FILE}: version_policy names version {wanted}, "
                    "which has no folder"
                )
    backend, _ = backend_of(config)
    file, why = model_file_name(config)
    if why is not None:
        return problems  # reported with the config; no version file can be checked
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


def read_plan(version_dir: Path) -> dict[str, Any]:
    """The plan ``flavorkit_backend.json`` of a version folder, its shape checked.

    Read bounded, from a regular file only. Raises ``ValueError`` saying
    what is wrong: the file, its JSON, or the field (with what was expected
    and what came).
    """
    from flavorkit.folder import read_bytes

    path = version_dir / PLAN_FILE
    try:
        data = read_bytes(path, limit=MAX_PLAN_BYTES)
    except ManifestError as exc:
        raise ValueError(str(exc).removeprefix(f"{path}: ")) from None
    try:
        plan = json.loads(data)
    except ValueError as exc:
        raise ValueError(f"unreadable ({type(exc).__name__}: {exc})") from None
    except RecursionError:
        raise ValueError("unreadable (nested deeper than a JSON reader follows)") from None
    _check_plan(plan)
    return plan


def _check_plan(plan: Any) -> None:
    def wrong(field: str, expected: str, value: Any) -> ValueError:
        got = f"{type(value).__name__} {short(value)}"
        return ValueError(f"{field}: expected {expected}, got {got}")

    if not isinstance(plan, dict):
        raise wrong("the plan", "a JSON object", plan)
    why = file_name_problem(plan.get("model"))
    if why is not None:
        raise ValueError(f"'model': {why}")
    environment = plan.get("environment")
    if not isinstance(environment, dict):
        raise wrong("'environment'", "an object", environment)
    site_dirs = environment.get("site_dirs")
    if not isinstance(site_dirs, list) or not all(isinstance(d, str) for d in site_dirs):
        raise wrong("'environment.site_dirs'", "a list of folder paths", site_dirs)
    for kind in ("inputs", "outputs"):
        specs = plan.get(kind)
        if not isinstance(specs, list):
            raise wrong(f"'{kind}'", "a list of tensors", specs)
        for i, spec in enumerate(specs):
            if not isinstance(spec, dict):
                raise wrong(f"'{kind}[{i}]'", "an object", spec)
            for key in ("name", "dtype"):
                if not isinstance(spec.get(key), str):
                    raise wrong(f"'{kind}[{i}].{key}'", "a string", spec.get(key))
            shape = spec.get("shape")
            if not isinstance(shape, list) or not all(
                type(d) is int and -1 <= d <= MAX_INT64 for d in shape
            ):
                raise wrong(f"'{kind}[{i}].shape'", "a list of sizes (-1 for any)", shape)


def _plan_problems(config: Any, version_dir: Path, where: str) -> list[str]:
    """A flavorkit-exported version: its plan, model folder and environment agree with config."""
    try:
        plan = read_plan(version_dir)
    except ValueError as exc:
        return [f"{where}/{PLAN_FILE}: {exc}"]
    environment = plan["environment"]
    planned = {"input": plan["inputs"], "output": plan["outputs"]}
    model = plan["model"]
    problems = []
    if not (version_dir / model / "MLmodel").is_file():
        problems.append(f"{where}/{model}: no flavorkit model folder (no MLmodel)")
    missing = [plain(d) for d in environment["site_dirs"] if not Path(d).is_dir()]
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
                    f"{where}: the model's {kind} {short(spec['name'])} is not in {CONFIG_FILE}"
                )
                continue
            problems += _match(kind, tensor, spec, batching, config.max_batch_size, where)
        for extra in filter(None, declared):  # a nameless tensor is reported above
            problems.append(
                f"{where}: {CONFIG_FILE} declares {kind} {short(extra)}, which the model does "
                "not have"
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
            f"{where}: {kind} {short(name)} is {have} in {CONFIG_FILE} but the model's "
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
            f"{where}: {kind} {short(name)} has dims {show_dims(tensor.dims)} but the model's "
            f"signature gives {show_dims(expected)} ({rule})"
        )
    return problems


def _triton_of(dtype: str) -> str:
    from flavorkit_triton._datatypes import NUMPY_OF

    return next((t for t, d in NUMPY_OF.items() if d == dtype), short(dtype))


def _onnx_problems(config: Any, path: Path, where: str) -> list[str]:
    """An ONNX file's graph inputs and outputs against the config (with the onnx package)."""
    try:
        import onnx  # noqa: F401  (only whether it is there)
    except ImportError:
        return []
    try:
        model = read_onnx(path)
    except ManifestError as exc:
        return [f"{where}/{path.name}: {str(exc).removeprefix(f'{path}: ')}"]
    graph = model.graph
    problems = [
        f"{where}/{path.name}: {problem}" for problem in external_data_problems(model, path.parent)
    ]
    batching = config.max_batch_size > 0
    for kind, tensors, values in (
        ("input", config.input, graph.input),
        ("output", config.output, graph.output),
    ):
        ranks = {v.name: len(v.type.tensor_type.shape.dim) for v in values}
        for tensor in tensors:
            if tensor.name not in ranks:
                problems.append(
                    f"{where}: {CONFIG_FILE} {kind} {short(tensor.name)} is not a graph {kind} "
                    f"of {path.name} (it has {short(sorted(ranks), 200)})"
                )
                continue
            dims = list(tensor.reshape.shape) if tensor.HasField("reshape") else list(tensor.dims)
            expected = len(dims) + (1 if batching else 0)
            if ranks[tensor.name] != expected:
                problems.append(
                    f"{where}: {kind} {short(tensor.name)} has rank {ranks[tensor.name]} in "
                    f"{path.name} but {CONFIG_FILE} gives {expected} "
                    + (
                        "(with max_batch_size > 0 Triton adds the batch dimension to dims)"
                        if batching
                        else "(with max_batch_size 0 dims are the full shape)"
                    )
                )
    return problems
