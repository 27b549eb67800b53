"""``flavorkit export triton``: a model folder as a Triton model repository.

Layout written (``max_batch_size``, instances and dynamic batching from
:class:`Batching`)::

    REPO/NAME/config.pbtxt              from the signature
    REPO/NAME/VERSION/model.py          the Python backend (``_backend_model.py``)
    REPO/NAME/VERSION/flavorkit_backend.json   environment + tensor plan
    REPO/NAME/VERSION/model/            the flavorkit model folder, copied

or, with ``onnx=True`` (PyTorch models with a tensor signature)::

    REPO/NAME/config.pbtxt              backend "onnxruntime"
    REPO/NAME/VERSION/model.onnx        checked against the pyfunc's predictions

The version folder is written beside its final place and renamed into it,
then ``config.pbtxt`` is replaced; a failed export leaves the repository as
it was.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from flavorkit.exceptions import SignatureError

from flavorkit_triton._config import CONFIG_FILE, Batching, build, to_text
from flavorkit_triton._datatypes import WireTensor, wire_tensors
from flavorkit_triton._environment import PythonEnvironment
from flavorkit_triton._files import MAX_VERSION

PLAN_FILE = "flavorkit_backend.json"
BACKEND_FILE = "model.py"
MODEL_DIR = "model"
ONNX_FILE = "model.onnx"
PLAN_FORMAT = 1
HEADER = "written by flavorkit export triton; check it with: flavorkit validate REPO"


def export(
    model_uri: str | os.PathLike[str],
    repo: str | os.PathLike[str],
    *,
    name: str | None = None,
    version: int | None = None,
    max_batch_size: int = 8,
    instances: int = 1,
    dynamic_batching: bool | None = None,
    onnx: bool = False,
    python_env: str | os.PathLike[str] | None = None,
    allow_unsafe: bool | None = None,
    overwrite: bool = False,
) -> Path:
    """Write the model at ``model_uri`` into the Triton model repository ``repo``.

    ``model_uri`` is anything ``flavorkit.load_model`` reads (a folder,
    ``models:/name/3``, ``runs:/...``, ``s3://...``). ``name`` defaults to
    the registered model's name or the folder's; ``version`` to the
    registered version or 1. ``dynamic_batching`` defaults to on when
    ``max_batch_size > 0``. ``python_env`` is the environment Triton's
    Python backend imports flavorkit and the framework from (a venv, a
    prefix or a ``site-packages`` folder; default: this interpreter's);
    ``allow_unsafe`` is the opt-in a pickled model needs, recorded for the
    backend. ``onnx`` writes ``model.onnx`` for the onnxruntime backend
    instead (PyTorch models with a tensor signature).

    Returns ``repo/name``. Raises ``SignatureError`` for a model without a
    signature or with a type Triton cannot carry, ``FileExistsError`` for
    an existing version (without ``overwrite``) or a config that would
    change under other versions, ``EnvironmentBuildError`` when
    ``python_env`` lacks what the model needs, ``ValueError`` for bad
    options or an ONNX export that does not predict what the model does.
    """
    import flavorkit

    model = flavorkit.load_model(model_uri, allow_unsafe=allow_unsafe)
    name = name or _default_name(str(model_uri), model.path)
    _check_name(name)
    version = version if version is not None else _default_version(str(model_uri))
    if not 1 <= version <= MAX_VERSION:
        raise ValueError(f"version must be from 1 to {MAX_VERSION} (Triton's int64), got {version}")
    batching = Batching(
        max_batch_size,
        instances,
        max_batch_size > 0 if dynamic_batching is None else dynamic_batching,
    )
    inputs, outputs = _tensors(model)
    repo_path = Path(repo)
    repo_path.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".flavorkit-export-", dir=repo_path) as tmp:
        staged = Path(tmp) / str(version)
        staged.mkdir()
        if onnx:
            from flavorkit_triton._onnx import write_onnx

            write_onnx(model, inputs, outputs, staged / ONNX_FILE, allow_unsafe=allow_unsafe)
            config = build(name, inputs, outputs, batching, backend="onnxruntime", reshape=True)
        else:
            environment = (
                PythonEnvironment.at(python_env) if python_env else PythonEnvironment.current()
            )
            _write_python_backend(model, inputs, outputs, environment, staged, allow_unsafe)
            config = build(name, inputs, outputs, batching, backend="python")
        _place(repo_path / name, staged, to_text(config, HEADER), overwrite)
    return repo_path / name


def _tensors(model: Any) -> tuple[list[WireTensor], list[WireTensor]]:
    signature = model.signature
    if signature is None or signature.inputs is None:
        raise SignatureError(
            f"model {model.path} has no input signature; Triton needs every input's name, "
            "type and shape: save it with an input example or a signature"
        )
    if signature.outputs is None:
        raise SignatureError(
            f"model {model.path} has no output signature; Triton needs every output's name, "
            "type and shape: save it with an input example (flavorkit infers the outputs) "
            "or a signature with outputs"
        )
    inputs = wire_tensors(signature.inputs, "input-", "input")
    outputs = wire_tensors(signature.outputs, "output-", "output")
    for kind, tensors in (("input", inputs), ("output", outputs)):
        names = [t.name for t in tensors]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise SignatureError(f"{kind} names must be unique in Triton; repeated: {twice}")
    return inputs, outputs


def _write_python_backend(
    model: Any,
    inputs: list[WireTensor],
    outputs: list[WireTensor],
    environment: PythonEnvironment,
    staged: Path,
    allow_unsafe: bool | None,
) -> None:
    from importlib.resources import files

    from flavorkit.environment import read_requirements

    environment.check(read_requirements(model.path))
    _copy_folder(model.path, staged / MODEL_DIR)
    source = files("flavorkit_triton").joinpath("_backend_model.py").read_text(encoding="utf-8")
    (staged / BACKEND_FILE).write_text(source, encoding="utf-8")
    schema = model.signature.inputs
    if not schema.is_tensor_spec():
        kind = "frame"
    else:
        kind = "dict" if schema.has_input_names() else "array"
    plan = {
        "format": PLAN_FORMAT,
        "model": MODEL_DIR,
        "flavor": model.flavor,
        "allow_unsafe": bool(allow_unsafe),
        "environment": environment.to_json(),
        "input_kind": kind,
        "inputs": [t.plan() for t in inputs],
        "outputs": [t.plan() for t in outputs],
    }
    (staged / PLAN_FILE).write_text(json.dumps(plan, indent=2) + "\n", encoding="utf-8")


def _copy_folder(source: Path, target: Path) -> None:
    """Copy the model folder; refuse links out of it or to folders, FIFOs and devices."""
    from flavorkit_triton._files import check_tree

    check_tree(source)
    shutil.copytree(source, target, symlinks=False)


def _place(model_dir: Path, staged: Path, config_text: str, overwrite: bool) -> None:
    """Move the staged version folder into ``model_dir`` and write its ``config.pbtxt``."""
    target = model_dir / staged.name
    config_path = model_dir / CONFIG_FILE
    others = (
        sorted(p.name for p in model_dir.iterdir() if p.is_dir() and p.name != staged.name)
        if model_dir.is_dir()
        else []
    )
    if (target.exists() or target.is_symlink()) and not overwrite:
        raise FileExistsError(
            f"{target} exists: pick another version or pass overwrite=True (--overwrite)"
        )
    if (
        others
        and config_path.exists()
        and config_path.read_text(encoding="utf-8") != config_text
        and not overwrite
    ):
        raise FileExistsError(
            f"{config_path} differs from the one this export writes and also serves "
            f"version(s) {', '.join(others)}: export under another name, or pass "
            "overwrite=True (--overwrite) to replace it"
        )
    model_dir.mkdir(parents=True, exist_ok=True)
    (staged.parent / CONFIG_FILE).write_text(config_text, encoding="utf-8")
    aside = staged.parent / "replaced"
    if target.exists() or target.is_symlink():
        target.rename(aside)  # removed with the temporary folder
    staged.rename(target)
    os.replace(staged.parent / CONFIG_FILE, config_path)


def _default_name(uri: str, path: Path) -> str:
    if uri.startswith("models:/"):
        return uri[len("models:/") :].split("/", 1)[0].split("@", 1)[0]
    return path.name


def _default_version(uri: str) -> int:
    if uri.startswith("models:/"):
        parts = uri[len("models:/") :].strip("/").split("/")
        if len(parts) == 2 and parts[1].isdigit():
            return int(parts[1])
    return 1


def _check_name(name: str) -> None:
    if not name or name.startswith(".") or any(c in name for c in "/\\\0") or name != name.strip():
        raise ValueError(
            f"model name {name!r} cannot be a Triton model folder: use letters, digits, "
            "'-', '_' and '.' (not first)"
        )
