"""``save_model``, ``load_model`` and ``load_native``: the public entry points."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from flavorkit._manifest import MLMODEL, Model
from flavorkit._plugins import Registry, get_registry
from flavorkit._pyfunc import PyFuncModel
from flavorkit._uri import resolve_uri
from flavorkit.exceptions import ManifestError, ModelExistsError, PluginError, SignatureError

PYFUNC = "python_function"
UNSAFE_ENV = "FLAVORKIT_ALLOW_UNSAFE"
CODE_DIR = "code"


def allow_unsafe_from(value: bool | None) -> bool:
    """The caller's unsafe opt-in: the argument when given, else ``FLAVORKIT_ALLOW_UNSAFE``."""
    if value is not None:
        return bool(value)
    return os.environ.get(UNSAFE_ENV, "").strip().lower() in ("1", "true", "yes", "on")


# -- saving ------------------------------------------------------------------


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
        _recover(target)  # before anything else: a crashed overwrite may have moved a model aside
    _check_target(target, overwrite)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = _work_folder(target)
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
        _move_into_place(tmp, target, overwrite)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    manifest._path = target / MLMODEL
    return manifest


def _check_target(target: Path, overwrite: bool) -> None:
    if target.is_file() or (target.is_dir() and any(target.iterdir())):
        if not overwrite:
            raise ModelExistsError(
                f"{target} already exists and is not empty; pass overwrite=True to replace it"
            )
        if target.is_file():
            raise ModelExistsError(
                f"{target} is a file, not a model folder; refusing to replace it"
            )


# A save works in folders beside its target, named ``.<target>.<host>-<pid>.<random>.<kind>``:
# ``partial`` (the model being written), ``old`` (the folder an overwrite moved aside) and
# ``trash`` (a leftover being deleted). The host and pid name the process that owns one, so a
# later save tells the leftovers of a killed save (its owner is dead) from a save in progress.
_MOVE_ATTEMPTS = 5


def _move_into_place(tmp: Path, target: Path, overwrite: bool) -> None:
    """Rename the written folder ``tmp`` to ``target``; replace a model there only on ``overwrite``.

    Renaming a folder onto a folder that is not empty fails (POSIX), so the
    rename itself decides a race: of several saves without ``overwrite``
    exactly one places its folder, the others raise ``ModelExistsError``.
    An overwrite moves the old folder aside first, so an error keeps one of
    the two whole; a kill between the two renames is undone by the next save
    (``_recover``).
    """
    for _ in range(_MOVE_ATTEMPTS):
        try:
            os.rename(tmp, target)  # onto a missing or empty folder only
            return
        except OSError as exc:
            if not _occupied(exc):
                raise
        _check_target(target, overwrite)  # raises unless this save may replace what is there
        if not overwrite:
            continue  # the folder there went away or is empty: try again
        old = _work_name(target, "old")
        try:
            os.rename(target, old)
        except FileNotFoundError:
            continue  # another save moved it meanwhile
        try:
            os.rename(tmp, target)
        except BaseException as exc:
            _put_back(old, target)
            if isinstance(exc, OSError) and _occupied(exc):
                continue  # another save placed a folder in between: replace that one
            raise
        _discard(old, target)
        return
    raise ModelExistsError(
        f"{target} was replaced by other saves {_MOVE_ATTEMPTS} times while this one tried to "
        "place its model; save again"
    )


def _occupied(exc: OSError) -> bool:
    """Whether a rename failed because something is at the destination."""
    import errno

    return exc.errno in (errno.EEXIST, errno.ENOTEMPTY, errno.ENOTDIR, errno.EISDIR)


def _put_back(old: Path, target: Path) -> None:
    try:
        os.rename(old, target)
    except OSError as exc:
        if _occupied(exc):
            _discard(old, target)  # a model saved meanwhile holds the place
        # otherwise it stays beside the target, and the next save puts it back


def _work_name(target: Path, kind: str) -> Path:
    import secrets

    return target.with_name(
        f".{target.name}.{_host_tag()}-{os.getpid()}.{secrets.token_hex(4)}.{kind}"
    )


def _work_folder(target: Path) -> Path:
    """Create the empty folder a save writes into, with the mode a plain ``mkdir`` gives."""
    for _ in range(100):
        tmp = _work_name(target, "partial")
        try:
            tmp.mkdir()  # 0o777 less the umask; tempfile.mkdtemp would make it 0o700
        except FileExistsError:
            continue
        return tmp
    raise FileExistsError(f"could not create a work folder beside {target}")


def _host_tag() -> str:
    import hashlib
    import socket

    name = socket.gethostname().encode("utf-8", "surrogateescape")
    return hashlib.sha256(name).hexdigest()[:8]


def _recover(target: Path) -> None:
    """Clean up after saves to ``target`` whose process died, before this save starts.

    A folder an overwrite moved aside goes back to ``target`` when nothing is
    there (the overwrite was killed between its two renames), else it is
    deleted; work folders are deleted. Folders of live processes (or of other
    hosts) are left alone.
    """
    for kind, path in _leftovers(target):
        if kind == "old":
            try:
                os.rename(path, target)  # onto a missing or empty folder only
                continue
            except FileNotFoundError:
                continue  # another save recovered it meanwhile
            except OSError as exc:
                if not _occupied(exc):
                    raise
        _discard(path, target)


def _leftovers(target: Path) -> list[tuple[str, Path]]:
    """``(kind, path)`` of the work folders beside ``target`` whose owner is dead; ``old`` first."""
    import re

    name = re.escape(target.name)
    pattern = re.compile(rf"\.{name}\.([0-9a-f]{{8}})-([0-9]+)\.[0-9a-f]{{8}}\.(partial|old|trash)")
    legacy = re.compile(rf"\.{name}\.([0-9]+)\.old")  # named by earlier versions
    host = _host_tag()
    found: list[tuple[str, Path]] = []
    try:
        entries = list(os.scandir(target.parent))
    except OSError:
        return found  # a folder we may not list: nothing to clean up that we could see
    for entry in entries:
        match = pattern.fullmatch(entry.name)
        if match is not None:
            if match[1] == host and not _alive(int(match[2])):
                found.append((match[3], Path(entry.path)))
            continue
        match = legacy.fullmatch(entry.name)
        if match is not None and not _alive(int(match[1])):
            found.append(("old", Path(entry.path)))
    return sorted(found, key=lambda item: (item[0] != "old", item[1].name))


def _alive(pid: int) -> bool:
    """Whether process ``pid`` may still be running; when unsure, yes (its folder is kept)."""
    if os.name != "posix" or pid <= 0 or pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (OSError, OverflowError):
        return True  # EPERM: it runs as another user
    return True


def _discard(path: Path, target: Path) -> None:
    """Delete a leftover; renamed to a ``trash`` name of this process first, so only we touch it."""
    trash = _work_name(target, "trash")
    try:
        os.rename(path, trash)
    except FileNotFoundError:
        return  # another save took it
    except OSError:
        trash = path
    if trash.is_dir() and not trash.is_symlink():
        shutil.rmtree(trash, ignore_errors=True)
    else:
        import contextlib

        with contextlib.suppress(OSError):
            trash.unlink()


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
    from flavorkit import _example, environment

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


def _sections(result: dict[str, Any], has_code: bool) -> dict[str, dict[str, Any]]:
    """The MLmodel flavor sections: the plugin's own, and python_function completed by the core."""
    from flavorkit import environment

    name: str = result["flavor"]
    conf: dict[str, Any] = dict(result.get("conf") or {})
    pyfunc = result.get("pyfunc")
    flavors: dict[str, dict[str, Any]] = {}
    if name != PYFUNC:
        if has_code and "code" in conf:
            conf["code"] = CODE_DIR  # MLflow records the code folder in the flavor section too
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
    from flavorkit._infer import infer_output_schema, infer_params_schema, infer_schema
    from flavorkit._schema import ModelSignature

    try:
        inputs = infer_schema(example)
        params_schema = infer_params_schema(params) if params else None
    except Exception as exc:
        raise SignatureError(
            f"could not infer a signature from input_example: {exc}; pass signature= explicitly"
        ) from exc
    if PYFUNC not in manifest.flavors:
        return ModelSignature(inputs=inputs, params=params_schema)
    # Predict on the example through the freshly written folder: the same path a user
    # takes, so a save that cannot be loaded back fails here rather than later.
    conf = manifest.flavors.get(flavor, manifest.flavors[PYFUNC])
    pyfunc_conf = manifest.flavors[PYFUNC]
    try:
        # the flavor's own params take their defaults, as they will at predict time
        params = {**{p.name: p.default for p in flavor_params or ()}, **(params or {})}
        native = registry.load(
            flavor, tmp, conf, {"allow_unsafe": True, "model_config": {}}, pyfunc_conf
        )
        output = registry.predictor(flavor)(
            flavor=flavor,
            model=native,
            data=example,
            params=dict(params or {}),
            conf=conf,
            pyfunc_conf=pyfunc_conf,
        )
        outputs = infer_output_schema(output, column_input=not inputs.is_tensor_spec())
    except Exception as exc:
        raise SignatureError(
            f"could not infer the output signature by predicting on input_example "
            f"({type(exc).__name__}: {exc}); pass signature= explicitly"
        ) from exc
    return ModelSignature(inputs=inputs, outputs=outputs, params=params_schema)


def _with_flavor_params(signature: Any, flavor_params: Any) -> Any:
    if not flavor_params:
        return signature
    from flavorkit._schema import ModelSignature, ParamSchema

    current = list(signature.params.params) if signature is not None and signature.params else []
    names = {p.name for p in current}
    merged = current + [p for p in flavor_params if p.name not in names]
    if signature is None:
        return ModelSignature(params=ParamSchema(merged))
    return ModelSignature(
        inputs=signature.inputs, outputs=signature.outputs, params=ParamSchema(merged)
    )


def _check_example(example: Any, signature: Any) -> None:
    from flavorkit._enforce import enforce_schema
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


# -- loading -----------------------------------------------------------------


def _pyfunc_flavor(manifest: Model, registry: Registry) -> str:
    if PYFUNC not in manifest.flavors:
        raise PluginError(
            f"model {manifest._path} has no {PYFUNC!r} flavor, so it cannot be loaded "
            "through pyfunc; load it with load_native(uri, flavor=...) "
            f"(flavors: {', '.join(sorted(manifest.flavors))})"
        )
    for name in manifest.flavors:
        if name != PYFUNC and registry.owns(name):
            return name
    return PYFUNC


def load_model(
    uri: str | os.PathLike[str],
    *,
    allow_unsafe: bool | None = None,
    model_config: dict[str, Any] | None = None,
    suppress_warnings: bool = False,
    **load_options: Any,
) -> PyFuncModel:
    """Load the model folder at ``uri`` behind the generic predict contract.

    ``allow_unsafe`` opts in to formats that run code when loaded (pickles,
    code shipped in the folder); ``None`` reads ``FLAVORKIT_ALLOW_UNSAFE``.
    Extra keyword arguments reach the flavor's load hook as options (e.g.
    ``trusted_types`` for scikit-learn's skops format).
    Warns once, naming every recorded package whose installed version
    differs (unless ``suppress_warnings``). Raises ``ManifestError`` for a
    bad ``MLmodel``, ``PluginError`` when no plugin owns the model's flavor,
    ``UnsafeFormatError`` for an unsafe format without the opt-in.
    """
    path, manifest = _open(uri, suppress_warnings)
    registry = get_registry()
    flavor = _pyfunc_flavor(manifest, registry)
    native = _load(registry, flavor, path, manifest, allow_unsafe, model_config, load_options)
    return PyFuncModel(manifest, path, flavor, native, registry)


def load_native(
    uri: str | os.PathLike[str],
    flavor: str | None = None,
    *,
    allow_unsafe: bool | None = None,
    model_config: dict[str, Any] | None = None,
    suppress_warnings: bool = False,
    **load_options: Any,
) -> Any:
    """Load the framework's own model object (an estimator, an ``nn.Module`` ...).

    ``flavor`` picks the section when a folder has several; by default the
    first flavor other than ``python_function`` that an installed plugin owns.
    """
    path, manifest = _open(uri, suppress_warnings)
    registry = get_registry()
    if flavor is None:
        owned = [n for n in manifest.flavors if n != PYFUNC and registry.owns(n)]
        if owned:
            flavor = owned[0]
        elif PYFUNC in manifest.flavors and len(manifest.flavors) == 1:
            flavor = PYFUNC
        else:
            others = [n for n in manifest.flavors if n != PYFUNC]
            registry.owner(others[0] if others else PYFUNC)  # raises with the reason
            flavor = PYFUNC
    elif flavor not in manifest.flavors:
        raise ManifestError(
            f"has no flavor {flavor!r} (it has: {', '.join(sorted(manifest.flavors))})",
            path=path / MLMODEL,
            key="flavors",
        )
    native = _load(registry, flavor, path, manifest, allow_unsafe, model_config, load_options)
    return getattr(native, "python_model", native) if flavor == PYFUNC else native


def _open(uri: str | os.PathLike[str], suppress_warnings: bool) -> tuple[Path, Model]:
    from flavorkit.environment import read_requirements, warn_mismatches

    path = resolve_uri(uri)
    manifest = Model.load(path)
    requirements = read_requirements(path)  # checked even when no warning is wanted
    if not suppress_warnings:
        warn_mismatches(path, manifest.flavors.get(PYFUNC), requirements)
    return path, manifest


def _load(
    registry: Registry,
    flavor: str,
    path: Path,
    manifest: Model,
    allow_unsafe: bool | None,
    model_config: dict[str, Any] | None,
    load_options: dict[str, Any] | None = None,
) -> Any:
    conf = manifest.flavors[flavor]
    pyfunc_conf = manifest.flavors.get(PYFUNC) or {}
    if model_config is not None and not isinstance(model_config, dict):
        raise TypeError(f"model_config must be a dict, got {type(model_config).__name__}")
    config = dict(pyfunc_conf.get("config") or {})
    config.update(model_config or {})
    options = {
        **(load_options or {}),
        "allow_unsafe": allow_unsafe_from(allow_unsafe),
        "model_config": config,
    }
    return registry.load(flavor, path, conf, options, pyfunc_conf)
