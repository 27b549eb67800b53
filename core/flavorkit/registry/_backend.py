"""What every registry backend answers: the embedded registry, an MLflow database, an MLflow server.

A backend finds versions; it never loads a model. ``download`` gives a local
folder (the store's own folder when it is local and verified, otherwise a copy
in the download cache), and the caller loads that folder like any other.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from flavorkit.exceptions import LocationError

if TYPE_CHECKING:
    from flavorkit.registry._uris import ModelsUri


@dataclass(frozen=True)
class ModelVersion:
    """One version of a registered model, as its registry records it."""

    name: str
    version: int
    # where the files are: a local folder, an fsspec URL, or a backend-specific location
    source: str
    created: float = 0.0  # seconds since the epoch
    description: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    aliases: tuple[str, ...] = ()
    run_id: str | None = None
    # relative POSIX path -> sha256 hex, recorded at registration (None where the store keeps none)
    digests: Mapping[str, str] | None = None
    deleted: bool = False


class Backend(Protocol):
    """A registry that resolves ``models:/`` (and, for MLflow's, ``runs:/``) URIs."""

    uri: str

    def get_version(self, name: str, version: int) -> ModelVersion:
        """The version, or ``LocationError`` when the name or version is unknown or deleted."""
        ...

    def latest_version(self, name: str) -> ModelVersion:
        """The highest live version of ``name``."""
        ...

    def alias_version(self, name: str, alias: str) -> ModelVersion:
        """The version ``alias`` points at."""
        ...

    def download(self, version: ModelVersion) -> Path:
        """A local folder with the version's files, checked against its digests when recorded."""
        ...

    def logged_model(self, model_id: str) -> Path:
        """MLflow 3's ``models:/m-<id>``: a logged model's files (else ``LocationError``)."""
        ...

    def run_artifact(self, run_id: str, path: str) -> Path:
        """``runs:/<run_id>/<path>``: a job's output (``LocationError`` where unsupported)."""
        ...


def find_version(backend: Backend, parsed: ModelsUri) -> ModelVersion:
    """The ``ModelVersion`` a parsed ``models:/<name>...`` URI names in ``backend``."""
    name = parsed.name
    assert name is not None
    if parsed.version is not None:
        return backend.get_version(name, parsed.version)
    if parsed.alias is not None:
        return backend.alias_version(name, parsed.alias)
    if parsed.latest:
        return backend.latest_version(name)
    stage_version = getattr(backend, "stage_version", None)
    if stage_version is None:
        raise LocationError(
            f"{parsed.stage!r} is neither a version number nor 'latest', so MLflow would read it "
            f"as a model stage; stages are deprecated since MLflow 2.9 and registry "
            f"{backend.uri} has none. Use an alias instead: models:/{name}@<alias> "
            f"(flavorkit models alias set {name} <alias> <version>)"
        )
    return stage_version(name, parsed.stage)


def inside(folder: Path, sub: str, *, uri: str, what: str = "") -> Path:
    """``folder / sub`` (a checked relative path), refused when missing or a link leads out.

    ``what`` names the folder in the refusal ("the version"), else its path does.
    """
    if not sub:
        return folder
    path = folder / sub
    if not path.exists():
        missing = f"{what} has no {sub!r} (looked in {folder})" if what else None
        raise LocationError(missing or f"there is no {sub!r} in {folder}", uri=uri)
    if not path.resolve().is_relative_to(folder.resolve()):
        raise LocationError(f"{sub!r} leads out of {what or folder}", uri=uri)
    return path
