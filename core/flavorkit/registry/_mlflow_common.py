"""What reading an MLflow database and an MLflow server have in common.

MLflow records *where* a model's files are as a location string: a local
path, a ``file://`` URI, an object-store URL, ``mlflow-artifacts:/`` (files a
tracking server proxies), or another model URI (MLflow 3 registers
``models:/m-<id>``; older clients registered ``runs:/``). ``MlflowBackendBase``
turns any of them into a local folder, and implements ``runs:/`` (with MLflow
3's fallback to the logged model a run produced) and ``models:/m-<id>`` once,
on top of a few lookups each backend answers its own way.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple, TypeVar
from urllib.parse import unquote, urlparse

from flavorkit.exceptions import LocationError
from flavorkit.registry._backend import ModelVersion, find_version, inside
from flavorkit.registry._uris import parse_models_uri, parse_runs_uri

T = TypeVar("T")
# how MLflow marks a soft-deleted version (its files are kept, its source is redacted)
DELETED_STAGE = "Deleted_Internal"
# the workspace every MLflow store uses until workspaces are switched on
DEFAULT_WORKSPACE = "default"
# a version whose source is another model URI (or a run whose artifacts are one) is
# followed at most this deep, counting every models:/ and runs:/ hop
_MAX_HOPS = 8
# a recorded location longer than this is no path or URL any store writes
_MAX_LOCATION = 8192
_STORE_SCHEMES = ("s3", "gs", "gcs", "az", "abfs", "abfss", "hf", "http", "https")
# where a tracking server proxies artifacts (mlflow server --serve-artifacts)
ARTIFACTS_ROUTE = "/api/2.0/mlflow-artifacts/artifacts"
# MLflow's legacy stages (models:/<name>/Production), matched case-insensitively as MLflow does
STAGES = {"none": "None", "staging": "Staging", "production": "Production", "archived": "Archived"}


def workspace() -> str:
    """The MLflow workspace to read: ``MLFLOW_WORKSPACE``, else MLflow's default one."""
    return os.environ.get("MLFLOW_WORKSPACE", "").strip() or DEFAULT_WORKSPACE


@dataclass(frozen=True)
class MlflowVersion(ModelVersion):
    """A registered version as MLflow records it: ``source`` is where its files are.

    ``registered_source`` is what the version was registered from (MLflow 3:
    ``models:/m-<id>``); ``updated`` is its last change (seconds since the epoch).
    """

    registered_source: str = ""
    stage: str = "None"
    updated: float = 0.0


class TooManyHops(LocationError):
    """A recorded source leads through too many other ``models:/`` or ``runs:/`` URIs."""


class LoggedModel(NamedTuple):
    """An MLflow 3 logged model: the row or JSON object ``models:/m-<id>`` names."""

    model_id: str
    location: str
    status: str  # READY, PENDING, FAILED or UNSPECIFIED
    deleted: bool
    updated: float


class RunInfo(NamedTuple):
    """What ``runs:/`` needs of a run."""

    run_id: str
    artifact_uri: str
    experiment_id: str


def canonical_stage(name: str, stage: str) -> str:
    """MLflow's spelling of ``stage``; ``LocationError`` naming the accepted forms otherwise."""
    canonical = STAGES.get(stage.lower())
    if canonical is None:
        raise LocationError(
            f"{stage!r} is neither a version number, 'latest', nor one of MLflow's stages "
            f"({', '.join(STAGES.values())}); name an alias as models:/{name}@<alias>",
            uri=f"models:/{name}/{stage}",
        )
    return canonical


def safe_subpath(path: str, *, uri: str) -> str:
    """``path`` as a relative POSIX path, refusing ``..``, absolute paths and backslashes."""
    parts = [p for p in path.split("/") if p not in ("", ".")]
    if path.startswith("/") or "\\" in path or any(p == ".." for p in parts):
        raise LocationError(
            f"path {path!r} must stay inside the model's folder (no '..', no absolute path)",
            uri=uri,
        )
    return "/".join(parts)


def join_location(location: str, sub: str) -> str:
    """``location`` (a path or URL) with ``sub`` appended, as MLflow joins artifact paths."""
    return f"{location.rstrip('/')}/{sub}" if sub else location


def without_uri(exc: LocationError) -> str:
    """The message of ``exc`` without the ``<uri>: `` it starts with, to quote inside another."""
    text = str(exc)
    prefix = f"{exc.uri}: "
    return text[len(prefix) :] if exc.uri and text.startswith(prefix) else text


def checked_location(location: object, *, what: str, uri: str) -> str:
    """``location`` (as a store recorded it) when it is a usable string, else ``LocationError``.

    A database or a server may record anything: ``None``, a number, an empty
    string, control characters (a NUL makes every path call fail), megabytes.
    """
    problem = None
    if not isinstance(location, str):
        problem = f"is {type(location).__name__} {location!r:.80}, not a path or URL"
    elif not location.strip():
        problem = "is empty"
    elif len(location) > _MAX_LOCATION:
        problem = f"has {len(location):,} characters (at most {_MAX_LOCATION:,})"
    elif not location.isprintable():
        problem = f"holds control characters ({location!r:.120})"
    if problem is not None:
        raise LocationError(f"the {what} recorded for it {problem}", uri=uri)
    assert isinstance(location, str)
    return location


def local_path(location: str) -> Path | None:
    """The local path ``location`` names (a plain path or ``file://``), else ``None``."""
    parsed = urlparse(location)
    if parsed.scheme == "file":
        if parsed.netloc not in ("", "localhost"):
            return None
        return Path(unquote(parsed.path))
    # one letter is a Windows drive, not a scheme
    if len(parsed.scheme) <= 1:
        return Path(location)
    return None


class MlflowBackendBase(ABC):
    """Resolution shared by the MLflow backends; subclasses answer the lookups.

    A subclass implements ``get_version`` and the ``_``-prefixed lookups below;
    this class follows locations to files, and implements ``download``,
    ``logged_model`` and ``run_artifact`` with them.
    """

    uri: str

    # ---- lookups a backend answers -------------------------------------------------
    @abstractmethod
    def get_version(self, name: str, version: int) -> ModelVersion:
        """Version ``version`` of ``name``; ``LocationError`` when unknown, deleted or not READY."""

    @abstractmethod
    def alias_version(self, name: str, alias: str) -> ModelVersion:
        """The version ``alias`` points at."""

    @abstractmethod
    def latest_version(self, name: str) -> ModelVersion:
        """The highest live version of ``name``."""

    @abstractmethod
    def _logged_model_info(self, model_id: str) -> LoggedModel:
        """The logged model ``model_id``; ``LocationError`` when unknown or unsupported."""

    @abstractmethod
    def _run_info(self, run_id: str, *, uri: str) -> RunInfo:
        """The run ``run_id``; ``LocationError`` naming ``uri`` when unknown."""

    @abstractmethod
    def _run_logged_model(self, run: RunInfo, name: str) -> str | None:
        """The id of the logged model ``name`` that ``run`` produced, or ``None``."""

    @abstractmethod
    def _proxied(self, location: str, *, uri: str) -> Path:
        """The files at an ``mlflow-artifacts:`` location (only a server can give them)."""

    @abstractmethod
    def _proxied_exists(self, location: str) -> bool:
        """Whether an ``mlflow-artifacts:`` location holds any file."""

    def _is_proxied(self, location: str) -> bool:
        """Whether the files at ``location`` come through a tracking server's artifact proxy.

        ``mlflow-artifacts:/...``, or the proxy's route named by URL (an
        ``http(s)://`` artifact root pointing at a server).
        """
        parsed = urlparse(location)
        if parsed.scheme == "mlflow-artifacts":
            return True
        return parsed.scheme in ("http", "https") and ARTIFACTS_ROUTE + "/" in parsed.path

    def _missing_local(self, location: str, *, uri: str) -> LocationError:
        """The error for a recorded local path that is not on this machine."""
        return LocationError(
            f"the files are recorded at {location!r}, which does not exist on this machine",
            uri=uri,
        )

    # ---- shared resolution ---------------------------------------------------------
    def _relative_base(self) -> Path | None:
        """Where a relative artifact location is looked for after the working directory."""
        return None

    # whether a relative recorded path is looked up (in the working directory, then
    # _relative_base()): a local database's are; a server cannot know our working directory
    _follows_relative_paths = True

    def _check_local(self, location: str, path: Path, *, uri: str) -> None:
        """Refuse a recorded relative path where this backend does not follow them."""
        if not self._follows_relative_paths and not path.is_absolute():
            raise LocationError(
                f"the files are recorded at {location!r}, a relative path; the tracking "
                "server's answer is never looked up in this process's working directory",
                uri=uri,
            )

    def download(self, version: ModelVersion) -> Path:
        """The folder with ``version``'s files: the store's own when local, else a cached copy."""
        uri = f"models:/{version.name}/{version.version}"
        if version.deleted:
            raise LocationError(
                f"version {version.version} of {version.name!r} was deleted", uri=uri
            )
        return self._files(checked_location(version.source, what="source", uri=uri), uri=uri)

    def logged_model(self, model_id: str) -> Path:
        """MLflow 3's ``models:/m-<id>``: the logged model's files."""
        return self._logged_model_files(model_id, "", hops=0)

    def run_artifact(self, run_id: str, path: str) -> Path:
        """``runs:/<run_id>/<path>``: the run's artifact folder, else the logged model it produced.

        MLflow 3 no longer writes a logged model under the run's artifacts;
        as MLflow does, when ``<path>`` is not among them, the first segment
        names a logged model that this run produced (in the run's experiment)
        and the rest a path inside it.
        """
        return self._run_artifact(run_id, path, hops=0)

    def _run_artifact(self, run_id: str, path: str, *, hops: int, uri: str | None = None) -> Path:
        """``run_artifact`` ``hops`` deep in recorded sources; errors name ``uri`` or the run."""
        uri = uri or f"runs:/{run_id}/{path}".rstrip("/")
        sub = safe_subpath(path, uri=uri)
        run = self._run_info(run_id, uri=uri)
        root = checked_location(
            run.artifact_uri, what=f"artifact location of run {run_id}", uri=uri
        )
        location = join_location(root, sub)
        missing: LocationError | None = None
        try:
            found = self._files_if_present(location, uri=uri, hops=hops)
        except TooManyHops:
            raise
        except LocationError as exc:  # an object store that refused or failed: try the fallback
            found, missing = None, exc
        if found is not None:
            return found
        name, _, rest = sub.partition("/")
        model_id = self._run_logged_model(run, name) if name else None
        if model_id is None:
            if missing is not None:
                raise LocationError(
                    f"run {run_id}'s artifact {sub or '(root)'!r} could not be read "
                    f"({without_uri(missing)}), "
                    f"and the run produced no logged model named {name!r}",
                    uri=uri,
                ) from missing
            raise LocationError(
                f"run {run_id} has no artifact {sub or '(root)'!r} under {run.artifact_uri}, "
                f"and produced no logged model named {name!r}",
                uri=uri,
            )
        return self._logged_model_files(model_id, rest, hops=hops)

    def _logged_model_files(self, model_id: str, sub: str, *, hops: int) -> Path:
        uri = f"models:/{model_id}"
        info = self._logged_model_info(model_id)
        if info.deleted:
            raise LocationError(f"logged model {model_id} was deleted", uri=uri)
        if info.status in ("PENDING", "FAILED"):
            raise LocationError(
                f"logged model {model_id} is {info.status}: its files were not all uploaded",
                uri=uri,
            )
        location = checked_location(info.location, what="artifact location", uri=uri)
        # the whole folder, then the path inside: one cached copy serves every sub-path
        return inside(self._files(location, uri=uri, hops=hops), sub, uri=uri)

    def _files_if_present(self, location: str, *, uri: str, hops: int) -> Path | None:
        """``_files(location)``, or ``None`` where a proxy or local folder has nothing there.

        An object store raises ``LocationError`` instead: absent and
        unreadable look the same from outside.
        """
        if self._is_proxied(location):
            if not self._proxied_exists(location):
                return None
        else:
            local = local_path(location)
            if local is not None:
                self._check_local(location, local, uri=uri)
                if self._local(local) is None:
                    return None
        return self._files(location, uri=uri, hops=hops, model=False)

    def _local(self, path: Path) -> Path | None:
        """``path`` if it exists; a relative one is tried against the working directory first."""
        candidates = [path]
        base = self._relative_base()
        if not path.is_absolute() and base is not None:
            candidates.append(base / path)
        found = next((p for p in candidates if p.exists()), None)
        return found.absolute() if found is not None else None

    def _files(self, location: str, *, uri: str, hops: int = 0, model: bool = True) -> Path:
        """The local folder holding the files at ``location``.

        ``model``: an object-store folder must hold an ``MLmodel`` (not so for
        a run's artifacts, which a ``runs:/`` path may name at any depth).
        """
        scheme = urlparse(location).scheme
        if scheme in ("models", "runs"):
            if hops >= _MAX_HOPS:
                raise TooManyHops(
                    f"the recorded source {location!r:.200} leads through more than {_MAX_HOPS} "
                    "other model or run URIs (a loop?)",
                    uri=uri,
                )
            if scheme == "models":
                return self._follow_models(location, uri=uri, hops=hops + 1)
            run = _recorded(parse_runs_uri, location, uri)
            return self._run_artifact(run.run_id, run.path, hops=hops + 1, uri=uri)
        if self._is_proxied(location):
            return self._proxied(location, uri=uri)
        local = local_path(location)
        if local is not None:
            self._check_local(location, local, uri=uri)
            found = self._local(local)
            if found is None:
                raise self._missing_local(location, uri=uri)
            return found
        return self._fetch(location, uri=uri, model=model)

    def _follow_models(self, location: str, *, uri: str, hops: int) -> Path:
        """A version registered from another ``models:/`` URI: that model's files.

        The recorded URI is parsed as any ``models:/`` URI is (so a name, a
        version number or a path inside it is held to the same rules).
        """
        parsed = _recorded(parse_models_uri, location, uri)
        if parsed.model_id is not None:
            return self._logged_model_files(parsed.model_id, parsed.subpath, hops=hops)
        target = find_version(self, parsed)
        source = checked_location(target.source, what="source", uri=uri)
        folder = self._files(source, uri=uri, hops=hops)
        return inside(folder, parsed.subpath, uri=uri)

    def _fetch(self, location: str, *, uri: str, model: bool = True) -> Path:
        """An object-store location, fetched into the download cache by ``flavorkit.stores``."""
        parsed = urlparse(location)
        scheme = parsed.scheme
        if scheme == "file":  # local_path() took every file:// URI naming no other host
            raise LocationError(
                f"the files are at {location!r}, on host {parsed.netloc!r}; flavorkit reads "
                "file:// URIs of this machine only (file:///path)",
                uri=uri,
            )
        if scheme not in _STORE_SCHEMES:
            raise LocationError(
                f"the files are at {location!r}; flavorkit reads local paths, "
                f"mlflow-artifacts:/ and {', '.join(_STORE_SCHEMES)} locations, not {scheme}://",
                uri=uri,
            )
        from flavorkit import stores

        try:
            return stores.fetch(location, require_model=model)
        except LocationError as exc:
            if exc.uri == uri:
                raise
            # the store names its URL; say which model URI led there too
            raise LocationError(str(exc), uri=uri) from exc


def _recorded(parse: Callable[[str], T], location: str, uri: str) -> T:
    """``parse(location)`` for a model or run URI a store recorded, its refusal naming ``uri``."""
    try:
        return parse(location)
    except LocationError as exc:
        raise LocationError(
            f"the recorded source {location!r:.200} cannot be followed: {without_uri(exc)}",
            uri=uri,
        ) from exc
