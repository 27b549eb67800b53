"""``save_model``: a model written by its plugin, completed by the core, placed atomically."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from flavorkit.api._load import PYFUNC, load_folder
from flavorkit.api._place import check_target, move_into_place, recover, work_folder
from flavorkit.api._plugins import Registry, get_registry
from flavorkit.api._pyfunc import PyFuncModel
from flavorkit.exceptions import SignatureError
from flavorkit.folder._manifest import MLMODEL, Model
from flavorkit.hookspecs import Persisted

CODE_DIR = "code"


def save_model(
    model: Any,
    path: str | os.PathLike[str],
    *,
    flavor: str | None = None,
    signature: Any = None,
    input_example: Any = None,
    pip_requirements: Iterable[str] | None = None,
    extra_pip_requirements: Iterable[str] | None = None,
    code_paths: Iterable[str | os.PathLike[str]] | None = None,
    metadata: dict[str, Any] | None = None,
    overwrite: bool = False,
    **flavor_options: Any,
) -> Model:
    """Save ``model`` as a model folder at ``path`` and return its manifest.

    The plugin owning ``flavor`` (or the first plugin that recognises the
    model) writes the artifacts; the core adds the signature (inferred from
    ``input_example`` and a prediction on it when not given), the input
    example, the environment files and ``MLmodel``. Everything is written
    into a work folder beside ``path`` and renamed into place at the end, so
    a failure leaves no folder at ``path``, and of several saves racing to
    one ``path`` without ``overwrite`` exactly one succeeds. A save first
    cleans up after saves to ``path`` that were killed: it deletes their
    work folders and puts back a model an interrupted overwrite had moved
    aside. The folder gets the mode a plain ``mkdir`` would (0o777 less the
    umask).

    Raises ``ModelExistsError`` for a non-empty ``path`` without
    ``overwrite=True`` (also when another save got there first),
    ``PluginError`` when no plugin takes the model,
    ``SignatureError`` when a signature cannot be inferred, ``TypeError``
    for options no plugin understood.
    """
    target = Path(path).expanduser().absolute()
    if target.parent.is_dir():
        recover(target)  # before anything else: a crashed overwrite may have moved a model aside
    check_target(target, overwrite)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = work_folder(target)
    try:
        manifest = _write_model(
            tmp,
            model,
            flavor=flavor,
            signature=signature,
            input_example=input_example,
            pip_requirements=pip_requirements,
            extra_pip_requirements=extra_pip_requirements,
            code_paths=code_paths,
            metadata=metadata,
            options=dict(flavor_options),
        )
        move_into_place(tmp, target, overwrite)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    manifest._path = target / MLMODEL
    return manifest


def _write_model(
    tmp: Path,
    model: Any,
    *,
    flavor: str | None,
    signature: Any,
    input_example: Any,
    pip_requirements: Iterable[str] | None,
    extra_pip_requirements: Iterable[str] | None,
    code_paths: Iterable[str | os.PathLike[str]] | None,
    metadata: dict[str, Any] | None,
    options: dict[str, Any],
) -> Model:
    from flavorkit import environment
    from flavorkit.io import _example

    registry = get_registry()
    example, example_params = (None, None)
    if input_example is not None:
        example, example_params = _example.normalize(input_example)
    if code_paths:
        _copy_code(tmp / CODE_DIR, code_paths)
    result = registry.persist(model, tmp, flavor, options, example, signature)
    if options:
        raise TypeError(
            f"save_model() got options that flavor {result['flavor']!r} does not understand: "
            + ", ".join(sorted(options))
        )
    name: str = result["flavor"]
    flavors = _sections(result, bool(code_paths))
    manifest = Model(flavors, metadata=metadata)

    if signature is None and example is not None:
        signature = _infer_from_example(
            registry, tmp, manifest, name, example, example_params, result.get("params")
        )
    signature = _with_flavor_params(signature, result.get("params"))
    if signature is not None:
        manifest.signature = signature
    if example is not None:
        if signature is not None and signature.inputs is not None:
            _check_example(example, signature)
        manifest.saved_input_example_info = _example.write(tmp, example, example_params)

    manifest.model_size_bytes = sum(f.stat().st_size for f in tmp.rglob("*") if f.is_file())
    requirements = _requirements(
        registry,
        name,
        model,
        tmp,
        flavors.get(name) or flavors[PYFUNC],
        pip_requirements,
        extra_pip_requirements,
    )
    environment.write_environment(tmp, requirements)
    manifest.save(tmp / MLMODEL)
    return manifest


def _sections(result: Persisted, has_code: bool) -> dict[str, dict[str, Any]]:
    """The MLmodel flavor sections: the plugin's own, and python_function completed by the core.

    The core records the code folder: in the flavor's section always (``null``
    without ``code_paths``, as MLflow writes it), in ``python_function`` when
    there is one.
    """
    from flavorkit import environment

    name = result["flavor"]
    conf: dict[str, Any] = dict(result.get("conf") or {})
    pyfunc = result.get("pyfunc")
    flavors: dict[str, dict[str, Any]] = {}
    if name != PYFUNC:
        conf["code"] = CODE_DIR if has_code else None
        flavors[name] = conf
    if pyfunc is not None:
        section = dict(pyfunc) if name != PYFUNC else {**conf, **pyfunc}
        section.setdefault(
            "env", {"conda": environment.CONDA_ENV, "virtualenv": environment.PYTHON_ENV}
        )
        section["python_version"] = ".".join(map(str, sys.version_info[:3]))
        if has_code:
            section["code"] = CODE_DIR
        flavors[PYFUNC] = section
    return flavors


def _requirements(
    registry: Registry,
    flavor: str,
    model: Any,
    tmp: Path,
    conf: dict[str, Any],
    pip_requirements: Iterable[str] | None,
    extra_pip_requirements: Iterable[str] | None,
) -> list[str]:
    """flavorkit and the plugin pinned first, then the caller's list or what the plugins detect."""
    from flavorkit import environment

    base = [environment.pin("flavorkit")]
    owner = registry.owner(flavor)
    if owner.distribution and owner.distribution != "flavorkit":
        base.append(environment.pin(owner.distribution))
    if pip_requirements is not None:  # replaces detection, as in MLflow
        chosen: Iterable[str] = pip_requirements
    else:
        chosen = sorted(registry.detect_environment(flavor, model, tmp, conf), key=str.lower)
    return environment.merge_requirements(base, chosen, extra_pip_requirements or ())


def _copy_code(dest: Path, code_paths: Iterable[str | os.PathLike[str]]) -> None:
    dest.mkdir()
    for item in code_paths:
        src = Path(item)
        if src.is_dir():
            shutil.copytree(src, dest / src.name, ignore=shutil.ignore_patterns("__pycache__"))
        elif src.is_file():
            shutil.copy2(src, dest / src.name)
        else:
            raise FileNotFoundError(f"code_paths entry {str(src)!r} does not exist")


def _infer_from_example(
    registry: Registry,
    tmp: Path,
    manifest: Model,
    flavor: str,
    example: Any,
    params: Any,
    flavor_params: Any,
) -> Any:
    from flavorkit.signature import (
        ModelSignature,
        infer_output_schema,
        infer_params_schema,
        infer_schema,
    )

    try:
        inputs = infer_schema(example)
        params_schema = infer_params_schema(params) if params else None
    except Exception as exc:
        raise SignatureError(
            f"could not infer a signature from input_example: {exc}; pass signature= explicitly"
        ) from exc
    if PYFUNC not in manifest.flavors:
        return ModelSignature(inputs=inputs, params=params_schema)
    # Load the freshly written folder and predict on the example the way a user will:
    # load_model's options (python_function.config included), the flavor's params with
    # their defaults. A folder that cannot be loaded back fails here with its own error.
    if params_schema is not None:
        manifest.signature = ModelSignature(params=params_schema)
    manifest.signature = _with_flavor_params(manifest.signature, flavor_params)
    # loading puts the folder's code/ on sys.path; this folder is about to be renamed, so
    # the caller's sys.path is put back as it was
    path_before = list(sys.path)
    try:
        native = load_folder(registry, flavor, tmp, manifest, True, None)
        model = PyFuncModel(manifest, tmp, flavor, native, registry)
        try:
            output = model.predict(example, params=params)
            outputs = infer_output_schema(output, column_input=not inputs.is_tensor_spec())
        except Exception as exc:
            raise SignatureError(
                f"could not infer the output signature by predicting on input_example "
                f"({type(exc).__name__}: {exc}); pass signature= explicitly"
            ) from exc
    finally:
        sys.path[:] = path_before
    return ModelSignature(inputs=inputs, outputs=outputs, params=params_schema)


def _with_flavor_params(signature: Any, flavor_params: Any) -> Any:
    if not flavor_params:
        return signature
    from flavorkit.signature import ModelSignature, ParamSchema

    current = list(signature.params.params) if signature is not None and signature.params else []
    names = {p.name for p in current}
    merged = current + [p for p in flavor_params if p.name not in names]
    if signature is None:
        return ModelSignature(params=ParamSchema(merged))
    return ModelSignature(
        inputs=signature.inputs, outputs=signature.outputs, params=ParamSchema(merged)
    )


def _check_example(example: Any, signature: Any) -> None:
    from flavorkit.enforce import enforce_schema
    from flavorkit.exceptions import SchemaEnforcementError

    try:
        enforce_schema(example, signature.inputs)
    except SchemaEnforcementError as exc:
        raise SchemaEnforcementError(
            f"input_example does not match the signature: {exc}",
            field=exc.field,
            expected=exc.expected,
            actual=exc.actual,
        ) from None
