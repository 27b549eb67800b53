"""The worker plugin that carries a model folder to Dask workers (``ship="files"``).

The plugin holds the folder as an archive; ``setup`` runs on every worker,
now and as workers join, unpacks it into the worker's local directory and
records where, for the tasks of that process. distributed is imported only
when a plugin is made, so the class is built then.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

# identity -> the folder a plugin unpacked in this process, for the tasks of the process
folders: dict[str, str] = {}


def model_plugin(identity: str, data: bytes) -> Any:
    """A ``distributed.WorkerPlugin`` that unpacks the archive ``data`` of model ``identity``."""
    return _plugin_class()(identity, data)


@functools.cache
def _plugin_class() -> type:
    from distributed import WorkerPlugin

    class FlavorkitModelPlugin(WorkerPlugin):  # type: ignore[misc]
        """Unpacks one model folder on each worker; the tasks find it by the folder's identity."""

        def __init__(self, identity: str, data: bytes) -> None:
            self.identity = identity
            self.data = data

        def setup(self, worker: Any) -> None:
            receive(self.identity, self.data, Path(worker.local_directory))

    return FlavorkitModelPlugin


def receive(identity: str, data: bytes, into: Path) -> Path:
    """Write the archive ``data`` under ``into``, unpack it once, and record the folder."""
    from flavorkit.batch._engines import unpack

    name = f"flavorkit-model-{identity}.tar"
    into.mkdir(parents=True, exist_ok=True)
    archive = into / name
    if not archive.is_file() or archive.stat().st_size != len(data):
        partial = into / f".{name}.partial"
        partial.write_bytes(data)
        partial.replace(archive)
    folder = unpack(archive, into)
    folders[identity] = str(folder)
    return folder
