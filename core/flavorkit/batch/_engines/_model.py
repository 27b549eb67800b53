"""The model on the driver (resolved, identified, archived) and in a worker (loaded once)."""

from __future__ import annotations

import hashlib
import json
import os
import tarfile
import threading
import uuid
import warnings
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flavorkit.exceptions import (
    PayloadError,
    SchemaWarning,
)

if TYPE_CHECKING:
    from flavorkit.api import PyFuncModel
    from flavorkit.folder._manifest import Model
    from flavorkit.signature import ModelSignature

SHIP_MODES = ("auto", "path", "files")


PYFUNC = "python_function"


# models one worker process keeps loaded (several UDFs of one job, or jobs one after another)
CACHE_SIZE = int(os.environ.get("FLAVORKIT_ENGINE_CACHE_SIZE", "4") or 4)


@dataclass
class ShippedModel:
    """A model resolved on the driver: what a task needs to find and load it (small, picklable).

    ``path`` is the folder on the driver; ``identity`` a digest of its file
    listing (names, sizes, modification times) that keys the workers' caches
    and archives; ``archive`` the archive's file name when the folder travels
    with the job (``ship="files"``), None when workers read ``path``.
    """

    uri: str
    path: str
    identity: str
    flavor: str
    plugin: str | None
    requirements: tuple[str, ...]
    python_version: str | None
    allow_unsafe: bool | None = None
    model_config: dict[str, Any] | None = None
    load_options: dict[str, Any] = field(default_factory=dict)
    archive: str | None = None

    @property
    def cache_key(self) -> str:
        """What a loaded copy is cached under in a worker: the folder and how it is loaded."""
        how = json.dumps(
            [self.allow_unsafe, self.model_config, self.load_options], sort_keys=True, default=str
        )
        return f"{self.identity}:{hashlib.sha256(how.encode()).hexdigest()[:16]}"


def prepare(
    uri: str | os.PathLike[str],
    *,
    allow_unsafe: bool | None = None,
    model_config: dict[str, Any] | None = None,
    load_options: dict[str, Any] | None = None,
) -> tuple[ShippedModel, Model]:
    """Resolve ``uri`` on the driver and read its ``MLmodel``: (the shipped model, the manifest).

    Any location ``flavorkit.load_model`` accepts works (a folder,
    ``models:/``, ``runs:/``, ``s3://`` ...). Raises what resolving and reading
    raise, and ``PluginError`` when no installed plugin owns the model's flavor.
    """
    from flavorkit.api import get_registry
    from flavorkit.environment import read_requirements
    from flavorkit.folder._manifest import Model
    from flavorkit.folder._uri import resolve_uri

    path = resolve_uri(uri).resolve()
    manifest = Model.load(path)
    registry = get_registry()
    flavor = next(
        (n for n in manifest.flavors if n != PYFUNC and registry.owns(n)),
        PYFUNC if PYFUNC in manifest.flavors else next(iter(manifest.flavors), PYFUNC),
    )
    plugin = registry.owner(flavor).distribution  # PluginError with the reason when none
    pyfunc = manifest.flavors.get(PYFUNC) or {}
    version = pyfunc.get("python_version")
    shipped = ShippedModel(
        uri=str(uri),
        path=str(path),
        identity=folder_identity(path),
        flavor=flavor,
        plugin=plugin,
        requirements=tuple(read_requirements(path)),
        python_version=version if isinstance(version, str) else None,
        allow_unsafe=allow_unsafe,
        model_config=dict(model_config) if model_config else None,
        load_options=dict(load_options or {}),
    )
    return shipped, manifest


def checked_params(
    signature: ModelSignature | None, params: dict[str, Any] | None
) -> dict[str, Any] | None:
    """``params`` checked against the params schema on the driver, defaults filled in.

    Raises ``SchemaEnforcementError`` naming every invalid param; warns
    (``SchemaWarning``) and drops them when the model declares no params.
    """
    from flavorkit.enforce import enforce_params

    schema = signature.params if signature is not None else None
    if schema is None:
        if params:
            warnings.warn(
                f"the model declares no params; ignoring {sorted(params)}",
                SchemaWarning,
                stacklevel=3,
            )
        return None
    return enforce_params(params, schema)


def folder_identity(path: Path) -> str:
    """A digest of the folder's files: relative names, sizes and modification times (no reads)."""
    digest = hashlib.sha256(str(path).encode())
    for root, dirs, files in os.walk(path):
        dirs.sort()
        for name in sorted(files):
            file = Path(root, name)
            stat = file.lstat()
            rel = file.relative_to(path).as_posix()
            digest.update(f"\0{rel}\0{stat.st_size}\0{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:32]


def archive(shipped: ShippedModel, into: Path | None = None) -> Path:
    """The folder as an uncompressed tar named after its identity (made once, then reused).

    Files and folders only: a symbolic link in the folder is refused, since
    its target would not travel with it. Archives are kept in the user's own
    flavorkit cache (``ship``), never a shared temporary folder, where another
    user could plant an archive under the name this one will look for.
    """
    if into is None:
        from flavorkit.stores import cache_root

        into = cache_root() / "ship"
    into.mkdir(mode=0o700, parents=True, exist_ok=True)
    target = into / archive_name(shipped)
    if target.is_file():
        return target
    root = Path(shipped.path)
    partial = into / f".{target.name}.{uuid.uuid4().hex}"
    try:
        with tarfile.open(partial, "w") as tar:
            for dirpath, dirs, files in os.walk(root):
                dirs.sort()
                for name in sorted(dirs + files):
                    item = Path(dirpath, name)
                    if item.is_symlink():
                        raise PayloadError(
                            f"{shipped.uri}: {item.relative_to(root)} is a symbolic link, which "
                            "cannot be shipped with the job; pass ship='path' where the workers "
                            "can read the folder",
                            field="model",
                        )
                    tar.add(item, arcname=item.relative_to(root).as_posix(), recursive=False)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return target


def archive_name(shipped: ShippedModel) -> str:
    """The archive's file name: the identity keeps two versions of a model apart."""
    return f"flavorkit-model-{shipped.identity}.tar"


def unpack(archive_file: Path, into: Path) -> Path:
    """Unpack ``archive_file`` into ``into/<its stem>`` once per machine; returns the folder.

    Several worker processes may unpack at once: each writes a private folder
    and renames it into place, and the losers use the winner's.
    """
    target = into / archive_file.name.removesuffix(".tar")
    if target.is_dir():
        return target
    partial = into / f".{target.name}.{uuid.uuid4().hex}"
    with tarfile.open(archive_file) as tar:
        if hasattr(tarfile, "data_filter"):
            tar.extractall(partial, filter="data")
        else:  # Python without extraction filters: the archive was written by archive()
            tar.extractall(partial)
    try:
        os.rename(partial, target)
    except OSError:
        if not target.is_dir():
            raise
        import shutil

        shutil.rmtree(partial, ignore_errors=True)
    return target


_models: OrderedDict[str, PyFuncModel] = OrderedDict()


_models_lock = threading.Lock()


_key_locks: dict[str, threading.Lock] = {}


def load_shipped(shipped: ShippedModel, folder: str | os.PathLike[str]) -> PyFuncModel:
    """The model loaded from ``folder``, once per process: later calls get the same object.

    Threads of one process asking at once wait for one load. At most
    ``FLAVORKIT_ENGINE_CACHE_SIZE`` (4) models stay loaded, least recently used out.
    """
    from flavorkit.api import load_model

    key = shipped.cache_key
    with _models_lock:
        model = _models.get(key)
        if model is not None:
            _models.move_to_end(key)
            return model
        lock = _key_locks.setdefault(key, threading.Lock())
    with lock:
        with _models_lock:
            model = _models.get(key)
        if model is None:
            model = load_model(
                os.fspath(folder),
                allow_unsafe=shipped.allow_unsafe,
                model_config=shipped.model_config,
                suppress_warnings=True,  # the driver compared the environments already
                **shipped.load_options,
            )
            with _models_lock:
                _models[key] = model
                while len(_models) > CACHE_SIZE:
                    _models.popitem(last=False)
    return model
