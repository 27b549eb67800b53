"""An MLflow tracking server (``http(s)://host:port``), read over its REST API without MLflow.

Versions, aliases, logged models and runs come from ``/api/2.0/mlflow/...``;
files a server proxies (``mlflow-artifacts:/``, ``--serve-artifacts``) come
from ``/api/2.0/mlflow-artifacts/artifacts``, listed and fetched one file at
a time into the download cache. Credentials and TLS settings are read from
the environment variables MLflow's own client reads, so a shell that works
with ``mlflow`` works here. HTTP goes through ``httpx``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote, urlparse

from flavorkit.exceptions import LocationError
from flavorkit.registry._mlflow_answers import (
    Malformed,
    checked_name,
    field,
    file_size,
    integer,
    optional,
    timestamp,
)
from flavorkit.registry._mlflow_common import (
    ARTIFACTS_ROUTE,
    LoggedModel,
    MlflowBackendBase,
    MlflowVersion,
    RunInfo,
    canonical_stage,
    checked_location,
)
from flavorkit.registry._mlflow_http import credentials, origin, server_of, tls_context

if TYPE_CHECKING:
    import httpx

T = TypeVar("T")
API = "/api/2.0/mlflow"
CREDENTIAL_VARIABLES = (
    "MLFLOW_TRACKING_TOKEN (a bearer token), or MLFLOW_TRACKING_USERNAME and "
    "MLFLOW_TRACKING_PASSWORD (basic auth)"
)
# a proxied folder deeper or larger than this is refused rather than walked forever
_MAX_DEPTH = 32
_MAX_FILES = 100_000  # entries (files and folders) of one proxied folder
_CHUNK = 1 << 20
# one API answer or folder listing is read up to this many bytes, then refused
MAX_ANSWER_BYTES = 64 << 20
# pages of a logged-model search followed before the server is taken to be looping
_MAX_PAGES = 1000
# MLflow 3 writes a logged model's files once, under <root>/<experiment>/models/m-<id>/artifacts
_WRITTEN_ONCE = re.compile(r"(^|/)models/m-[0-9a-f]{32}/artifacts(/|$)")


class ApiError(Exception):
    """A non-auth error answer from the server: HTTP status, MLflow error code, message."""

    def __init__(self, status: int, code: str | None, message: str) -> None:
        super().__init__(f"HTTP {status} {code or ''}: {message}")
        self.status = status
        self.code = code
        self.message = message


class MlflowRestBackend(MlflowBackendBase):
    """Resolves ``models:/`` and ``runs:/`` against an MLflow tracking server's REST API."""

    _follows_relative_paths = False

    def __init__(self, uri: str) -> None:
        parsed = urlparse(uri)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise LocationError("an MLflow tracking server is named http(s)://host[:port]", uri=uri)
        self.uri = uri.rstrip("/")
        self._client: httpx.Client | None = None
        self._bare: httpx.Client | None = None  # for other servers: no credentials
        self._lock = threading.Lock()

    def close(self) -> None:
        """Close the connection pools (a later call opens new ones)."""
        with self._lock:
            for client in (self._client, self._bare):
                if client is not None:
                    client.close()
            self._client = self._bare = None

    # ---- HTTP -----------------------------------------------------------------------
    def _http(self, url: str | None = None) -> httpx.Client:
        """The connection pool for ``url``, made on first use with MLflow's TLS settings.

        Only the tracking server's own origin (scheme, host, port) gets the
        credentials: a server may name its artifacts on another server
        (``mlflow-artifacts://host/...``, an ``http(s)://`` proxy URL), and
        what it names is not trusted with the user's token or password.
        """
        with self._lock:
            if url is None or origin(url) == origin(self.uri):
                return self._client or self._open()
            return self._bare or self._open(bare=True)

    def _open(self, *, bare: bool = False) -> httpx.Client:
        """A new pool (called under the lock): auth, workspace, TLS and timeout as MLflow's.

        ``bare``: the pool for other servers, with TLS and timeout but no credentials.
        """
        try:
            import httpx
        except ImportError as exc:  # pragma: no cover - httpx is a dependency of the extra
            raise LocationError(
                "reading an MLflow tracking server needs httpx: pip install 'flavorkit[mlflow]'",
                uri=self.uri,
            ) from exc
        username, password, token = credentials() if not bare else (None, None, None)
        headers = {"User-Agent": "flavorkit"}
        auth = None
        # MLflow's precedence: basic auth when both halves are set, else the token
        if username and password:
            auth = httpx.BasicAuth(username, password)
        elif token:
            headers["Authorization"] = f"Bearer {token}"
        workspace = os.environ.get("MLFLOW_WORKSPACE", "").strip()
        if workspace and not bare:
            headers["X-MLFLOW-WORKSPACE"] = workspace
        timeout = float(os.environ.get("MLFLOW_HTTP_REQUEST_TIMEOUT") or 120)
        client = httpx.Client(
            headers=headers,
            auth=auth,
            verify=tls_context(self.uri),
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
        )
        # close the pool with the backend, so no socket outlives it
        weakref.finalize(self, client.close)
        if bare:
            self._bare = client
        else:
            self._client = client
        return client

    def _send(self, method: str, url: str, *, uri: str, **kwargs: Any) -> httpx.Response:
        """One request, its answer read whole up to ``MAX_ANSWER_BYTES``.

        Transport failures, 401/403 and an answer larger than that become ``LocationError``.
        """
        import httpx

        try:
            with self._http(url).stream(method, url, **kwargs) as streamed:
                refused = self._refused(streamed, uri, url)
                if refused is not None:
                    raise refused
                body = bytearray()
                for chunk in streamed.iter_bytes(_CHUNK):
                    body += chunk
                    if len(body) > MAX_ANSWER_BYTES:
                        raise LocationError(
                            f"the server at {server_of(url)} answered {urlparse(url).path!r} with "
                            f"more than {MAX_ANSWER_BYTES:,} bytes; no MLflow answer is that "
                            "large, so it was not read further",
                            uri=uri,
                        )
                content_type = streamed.headers.get("content-type", "application/json")
                return httpx.Response(
                    streamed.status_code,
                    headers={"content-type": content_type},
                    content=bytes(body),
                    request=streamed.request,
                )
        except httpx.TransportError as exc:
            hint = ""
            if "CERTIFICATE" in str(exc).upper() or "SSL" in str(exc).upper():
                hint = (
                    "; for a private certificate authority set MLFLOW_TRACKING_SERVER_CERT_PATH "
                    "(or MLFLOW_TRACKING_INSECURE_TLS=true to skip verification)"
                )
            where = self.uri if origin(url) == origin(self.uri) else server_of(url)
            raise LocationError(
                f"cannot reach the MLflow tracking server at {where}: "
                f"{type(exc).__name__}: {exc}{hint}",
                uri=uri,
            ) from exc

    def _refused(self, response: httpx.Response, uri: str, url: str) -> LocationError | None:
        """The error for a 401 or 403 answer, naming the variables that hold credentials."""
        if response.status_code in (401, 403) and origin(url) != origin(self.uri):
            return LocationError(
                f"the server at {server_of(url)}, where the tracking server {self.uri} says the "
                f"files are, answered HTTP {response.status_code}; flavorkit sends the "
                f"credentials in {CREDENTIAL_VARIABLES} to the tracking server only, never to "
                "a server its answers name",
                uri=uri,
            )
        if response.status_code == 401:
            username, password, token = credentials()
            given = "were refused" if (username and password) or token else "are not set"
            return LocationError(
                f"the MLflow tracking server at {self.uri} requires credentials (HTTP 401); "
                f"{CREDENTIAL_VARIABLES} {given}",
                uri=uri,
            )
        if response.status_code == 403:
            return LocationError(
                f"the MLflow tracking server at {self.uri} refused access (HTTP 403) for the "
                f"credentials in {CREDENTIAL_VARIABLES}; they need READ permission on what "
                "was asked",
                uri=uri,
            )
        return None

    def _api(
        self,
        method: str,
        endpoint: str,
        *,
        uri: str,
        params: dict[str, Any] | None = None,
        body: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Call ``/api/2.0/mlflow/<endpoint>``; raises ``ApiError`` for MLflow's error answers."""
        response = self._send(
            method, f"{self.uri}{API}/{endpoint}", uri=uri, params=params, json=body
        )
        try:
            payload = response.json()
        except ValueError:
            payload = None
        if response.status_code == 200 and isinstance(payload, dict):
            return payload
        if isinstance(payload, dict) and "error_code" in payload:
            code = str(payload["error_code"])[:80]
            raise ApiError(response.status_code, code, str(payload.get("message"))[:300])
        raise ApiError(response.status_code, None, response.text[:200])

    def _failure(self, exc: ApiError, uri: str) -> LocationError:
        """An unexpected answer, named with the server and what the server said."""
        if exc.code is None and exc.status == 404:
            return LocationError(
                f"{self.uri} does not answer MLflow's REST API here (HTTP 404): is it an MLflow "
                "tracking server, recent enough for what was asked (logged models need MLflow 3)?",
                uri=uri,
            )
        return LocationError(
            f"the MLflow tracking server at {self.uri} answered HTTP {exc.status}"
            f"{' ' + exc.code if exc.code else ''}: {exc.message}",
            uri=uri,
        )

    def _get(self, endpoint: str, uri: str, missing: str, **kwargs: Any) -> dict[str, Any]:
        """``GET endpoint``; ``missing`` is the refusal when the server has no such resource."""
        try:
            return self._api("GET", endpoint, uri=uri, **kwargs)
        except ApiError as exc:
            if exc.code == "RESOURCE_DOES_NOT_EXIST":
                raise LocationError(missing, uri=uri) from None
            raise self._failure(exc, uri) from exc

    # ---- registered models ----------------------------------------------------------
    def _registered_model(self, name: str, uri: str) -> dict[str, Any]:
        found = self._get(
            "registered-models/get",
            uri,
            f"no registered model named {name!r} on the MLflow server {self.uri}",
            params={"name": name},
        )
        return self._checked(
            lambda: field(found, "registered_model", dict, where="registered-models/get"), uri
        )

    def _latest(self, name: str, uri: str, stage: str | None = None) -> dict[str, Any] | None:
        params: dict[str, Any] = {"name": name}
        if stage is not None:
            params["stages"] = [stage]
        endpoint = "registered-models/get-latest-versions"
        try:
            found = self._api("GET", endpoint, uri=uri, params=params)
        except ApiError as exc:
            if exc.code == "RESOURCE_DOES_NOT_EXIST":
                self._registered_model(name, uri)
            raise self._failure(exc, uri) from exc

        def highest() -> dict[str, Any] | None:
            versions = optional(found, "model_versions", list, where=endpoint) or []
            for i, v in enumerate(versions):
                integer(v, "version", where=f"{endpoint}.model_versions[{i}]")
            return max(versions, key=lambda v: int(v["version"])) if versions else None

        return self._checked(highest, uri)

    def get_version(self, name: str, version: int) -> MlflowVersion:
        """Version ``version`` of ``name``; ``LocationError`` when unknown, deleted or not READY."""
        uri = f"models:/{name}/{version}"
        params = {"name": name, "version": str(version)}
        try:
            found = self._api("GET", "model-versions/get", uri=uri, params=params)
        except ApiError as exc:
            if exc.code != "RESOURCE_DOES_NOT_EXIST":
                raise self._failure(exc, uri) from exc
            self._registered_model(name, uri)
            latest = self._latest(name, uri)
            highest = (
                f"the highest live version is {latest['version']}" if latest else "none is live"
            )
            raise LocationError(
                f"registered model {name!r} has no live version {version} on {self.uri}: it was "
                f"deleted or never registered ({highest})",
                uri=uri,
            ) from None
        answer = self._checked(
            lambda: field(found, "model_version", dict, where="model-versions/get"), uri
        )
        return self._version(answer, uri, name=name, number=version)

    def _version(
        self, found: dict[str, Any], uri: str, *, name: str, number: int | None = None
    ) -> MlflowVersion:
        """The version the server described in ``found``: checked field by field.

        It must be a version of ``name`` (and number ``number`` when one was
        asked): a server answering with another model's version is refused,
        not followed.
        """
        where = "model_version"

        def read() -> tuple[str, int, str]:
            answered = field(found, "name", str, where=where)
            version = integer(found, "version", where=where)
            if answered != name or (number is not None and version != number):
                raise Malformed(
                    f"{where}.name and .version",
                    f"version {number if number is not None else '<n>'} of {name!r}",
                    f"version {version} of {answered!r:.80}",
                )
            return answered, version, optional(found, "status", str, where=where) or "READY"

        name, version, status = self._checked(read, uri)
        if status != "READY":
            message = found.get("status_message")
            detail = f": {str(message)[:300]}" if message else ""
            raise LocationError(
                f"version {version} of {name!r} is {status:.40} in MLflow, not READY{detail}",
                uri=uri,
            )
        params = {"name": name, "version": str(version)}
        endpoint = "model-versions/get-download-uri"
        try:
            answer = self._api("GET", endpoint, uri=uri, params=params)
        except ApiError as exc:
            raise self._failure(exc, uri) from exc
        location = checked_location(
            answer.get("artifact_uri"), what=f"download URI ({endpoint}.artifact_uri)", uri=uri
        )

        def describe() -> MlflowVersion:
            tags = optional(found, "tags", list, where=where) or []
            aliases = optional(found, "aliases", list, where=where) or []
            for i, tag in enumerate(tags):
                field(tag, "key", str, where=f"{where}.tags[{i}]")
                optional(tag, "value", str, where=f"{where}.tags[{i}]")
            for i, alias in enumerate(aliases):
                if not isinstance(alias, str):
                    raise Malformed(f"{where}.aliases[{i}]", "str", type(alias).__name__)
            return MlflowVersion(
                name=name,
                version=version,
                source=location,
                created=timestamp(found, "creation_timestamp", where=where),
                description=optional(found, "description", str, where=where),
                tags={t["key"]: t.get("value") or "" for t in tags},
                aliases=tuple(aliases),
                run_id=optional(found, "run_id", str, where=where),
                registered_source=optional(found, "source", str, where=where) or "",
                stage=optional(found, "current_stage", str, where=where) or "None",
                updated=timestamp(found, "last_updated_timestamp", where=where),
            )

        return self._checked(describe, uri)

    def _checked(self, read: Callable[[], T], uri: str) -> T:
        """``read()``, an answer missing a field or holding a wrong type refused by name."""
        try:
            return read()
        except Malformed as exc:
            raise LocationError(
                f"the MLflow tracking server at {self.uri} sent an answer MLflow never sends "
                f"({exc}); refusing it",
                uri=uri,
            ) from None

    def latest_version(self, name: str) -> MlflowVersion:
        """The highest version of ``name`` that is not deleted (MLflow's ``latest``)."""
        uri = f"models:/{name}/latest"
        found = self._latest(name, uri)
        if found is None:
            self._registered_model(name, uri)
            raise LocationError(f"registered model {name!r} has no live versions", uri=uri)
        return self._version(found, uri, name=name)

    def stage_version(self, name: str, stage: str) -> MlflowVersion:
        """The highest version of ``name`` in the legacy ``stage`` (``models:/name/Production``)."""
        uri = f"models:/{name}/{stage}"
        canonical = canonical_stage(name, stage)
        found = self._latest(name, uri, canonical)
        if found is None:
            self._registered_model(name, uri)
            raise LocationError(
                f"registered model {name!r} has no version in stage {canonical}", uri=uri
            )
        return self._version(found, uri, name=name)

    def alias_version(self, name: str, alias: str) -> MlflowVersion:
        """The version ``alias`` points at (``latest`` means the highest live version)."""
        if alias.lower() == "latest":
            return self.latest_version(name)
        uri = f"models:/{name}@{alias}"
        try:
            found = self._api(
                "GET", "registered-models/alias", uri=uri, params={"name": name, "alias": alias}
            )
        except ApiError as exc:
            # an unknown alias is INVALID_PARAMETER_VALUE, an unknown model RESOURCE_DOES_NOT_EXIST
            if exc.code not in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
                raise self._failure(exc, uri) from exc
            model = self._registered_model(name, uri)
            listed = model.get("aliases") if isinstance(model.get("aliases"), list) else []
            aliases = [str(a.get("alias"))[:80] for a in listed if isinstance(a, dict)]
            known = f"its aliases: {', '.join(sorted(aliases))}" if aliases else "it has no aliases"
            raise LocationError(
                f"registered model {name!r} has no alias {alias!r} ({known})", uri=uri
            ) from None
        answer = self._checked(
            lambda: field(found, "model_version", dict, where="registered-models/alias"), uri
        )
        return self._version(answer, uri, name=name)

    # ---- logged models and runs -----------------------------------------------------
    def _logged_model_info(self, model_id: str) -> LoggedModel:
        uri = f"models:/{model_id}"
        if not (model_id.isascii() and model_id.replace("-", "").replace("_", "").isalnum()):
            raise LocationError(f"{model_id!r:.80} is not a logged model id", uri=uri)
        endpoint = f"logged-models/{model_id}"
        found = self._get(
            endpoint, uri, f"no logged model {model_id} on the MLflow server {self.uri}"
        )

        def read() -> LoggedModel:
            info = field(field(found, "model", dict, where=endpoint), "info", dict, where="model")
            status = optional(info, "status", str, where="model.info") or "UNSPECIFIED"
            status = status.removeprefix("LOGGED_MODEL_")
            answered = field(info, "model_id", str, where="model.info")
            if answered != model_id:
                raise Malformed("model.info.model_id", repr(model_id), f"{answered!r:.80}")
            return LoggedModel(
                model_id=answered,
                location=info.get("artifact_uri"),  # checked where it is followed
                status="FAILED" if status == "UPLOAD_FAILED" else status,
                deleted=info.get("lifecycle_stage") == "deleted",
                updated=timestamp(info, "last_updated_timestamp_ms", where="model.info"),
            )

        return self._checked(read, uri)

    def _run_info(self, run_id: str, *, uri: str) -> RunInfo:
        found = self._get(
            "runs/get",
            uri,
            f"no run {run_id} on the MLflow server {self.uri}",
            params={"run_id": run_id},
        )

        def read() -> RunInfo:
            info = field(field(found, "run", dict, where="runs/get"), "info", dict, where="run")
            experiment = integer(info, "experiment_id", where="run.info", maximum=2**63 - 1)
            # the artifact location is checked where it is followed
            return RunInfo(run_id, info.get("artifact_uri") or "", str(experiment))

        return self._checked(read, uri)

    def _run_logged_model(self, run: RunInfo, name: str) -> str | None:
        uri = f"runs:/{run.run_id}/{name}"
        body: dict[str, Any] = {"experiment_ids": [run.experiment_id], "max_results": 100}
        # the filter grammar has no escape for quotes: such a name is matched here instead
        if "'" not in name and "\\" not in name:
            body["filter"] = f"name = '{name}'"
        for _ in range(_MAX_PAGES):
            try:
                page = self._api("POST", "logged-models/search", uri=uri, body=body)
            except ApiError as exc:
                if exc.status == 404 and exc.code is None:
                    return None  # an MLflow 2 server: no logged models to fall back on
                raise self._failure(exc, uri) from exc
            models = page.get("models") if isinstance(page.get("models"), list) else []
            for model in models:
                info = model.get("info") if isinstance(model, dict) else None
                if not isinstance(info, dict):
                    continue
                if info.get("name") == name and info.get("source_run_id") == run.run_id:
                    return str(info.get("model_id"))  # checked as any logged model id is
            token = page.get("next_page_token")
            if not token:
                return None
            if not isinstance(token, str) or token == body.get("page_token"):
                break
            body["page_token"] = token
        raise LocationError(
            f"the MLflow tracking server at {self.uri} kept answering logged-models/search with "
            f"another page ({_MAX_PAGES} pages, or the same page twice); refusing to read on",
            uri=uri,
        )

    # ---- proxied artifacts ----------------------------------------------------------
    def _artifact_base(self, location: str) -> tuple[str, str]:
        """``(server URL, path below the proxy's root)`` for a proxied location."""
        parsed = urlparse(location)
        if parsed.scheme == "mlflow-artifacts":
            # mlflow-artifacts://host:port/path names another server, reached like this one
            server = f"{urlparse(self.uri).scheme}://{parsed.netloc}" if parsed.netloc else self.uri
            return server, parsed.path.strip("/")
        prefix, _, path = parsed.path.partition(ARTIFACTS_ROUTE + "/")
        return f"{parsed.scheme}://{parsed.netloc}{prefix}", path.strip("/")

    def _list(self, server: str, path: str, *, uri: str) -> list[dict[str, Any]]:
        response = self._send("GET", f"{server}{ARTIFACTS_ROUTE}", uri=uri, params={"path": path})
        try:
            payload = response.json()
        except ValueError:
            payload = None
        if response.status_code != 200 or not isinstance(payload, dict):
            message = payload.get("message") if isinstance(payload, dict) else response.text
            raise LocationError(
                f"the MLflow server at {server} could not list {path!r} (HTTP "
                f"{response.status_code}: {str(message)[:200]}); is it started with "
                "--serve-artifacts?",
                uri=uri,
            )
        files = payload.get("files") or []
        if not isinstance(files, list) or not all(isinstance(f, dict) for f in files):
            raise LocationError(
                f"the MLflow server at {server} listed {path!r} as {str(files)[:80]!r}, not as "
                "a list of files (objects with path, is_dir, file_size)",
                uri=uri,
            )
        return files

    def _walk(self, server: str, root: str, *, uri: str) -> list[tuple[str, int | None]]:
        """Every file below ``root`` as ``(relative path, size)``, names checked."""
        files: list[tuple[str, int | None]] = []
        seen: set[str] = set()
        pending: list[tuple[str, int]] = [("", 0)]
        while pending:
            rel, depth = pending.pop()
            where = f"{root}/{rel}".strip("/")
            for entry in self._list(server, where, uri=uri):
                name = checked_name(entry.get("path"), where, uri=uri)
                child = f"{rel}/{name}".lstrip("/")
                if child in seen:
                    raise LocationError(
                        f"the server listed {child!r} twice under {root!r}", uri=uri
                    )
                seen.add(child)
                if entry.get("is_dir"):
                    if depth + 1 > _MAX_DEPTH:
                        raise LocationError(f"{where!r} nests folders too deep", uri=uri)
                    pending.append((child, depth + 1))
                else:
                    files.append((child, file_size(entry.get("file_size"), child, uri=uri)))
                # folders count too: a listing of empty folders is no cheaper to walk
                if len(seen) > _MAX_FILES:
                    raise LocationError(
                        f"{root!r} holds more than {_MAX_FILES:,} files and folders", uri=uri
                    )
        from flavorkit.stores._fsspec import check_names

        check_names([rel for rel, _ in files], uri)
        return sorted(files)

    def _proxied_exists(self, location: str) -> bool:
        server, path = self._artifact_base(location)
        return bool(self._list(server, path, uri=location))

    def _proxied(self, location: str, *, uri: str) -> Path:
        """The files at a proxied location, downloaded once into the cache.

        A logged model's folder (``.../models/m-<id>/artifacts``) is written
        once, so its cache entry is keyed by server and location alone: a
        version and the logged model it was registered from share one copy.
        Any other location (a run's artifacts, a version registered by
        MLflow 2) may still change, so its key also covers the file listing
        (names and sizes), fetched on every resolve.
        """
        from flavorkit import stores

        server, root = self._artifact_base(location)
        listing: list[tuple[str, int | None]] | None = None
        parts: list[object] = [self.uri, location]
        if not _WRITTEN_ONCE.search(root):
            listing = self._walk(server, root, uri=uri)
            parts.append(listing)
        digest = hashlib.sha256(json.dumps(parts).encode()).hexdigest()

        def populate(folder: Path) -> None:
            files = listing if listing is not None else self._walk(server, root, uri=uri)
            if not files:
                raise LocationError(f"no files at {location}", uri=uri)
            budget = stores.max_bytes()  # what a lying listing can make us write, at most
            for rel, size in files:
                budget -= self._download_file(
                    server, f"{root}/{rel}", folder / rel, size, uri=uri, budget=budget
                )

        sizes = [size for _, size in listing or ()]
        total = sum(s for s in sizes if s is not None) if listing and None not in sizes else None
        return stores.cached(f"mlflow-{digest}", populate, source=location, size=total)

    def _download_file(
        self, server: str, path: str, dest: Path, size: int | None, *, uri: str, budget: int
    ) -> int:
        """Stream one file to ``dest``; returns its size.

        Stops as soon as the server sends more than the listing said (or, for
        a file listed without a size, more than ``budget``, what the download
        cache may still hold), so a lying server cannot fill the disk.
        """
        dest.parent.mkdir(parents=True, exist_ok=True)
        url = f"{server}{ARTIFACTS_ROUTE}/{quote(path)}"
        import httpx

        try:
            with self._http(url).stream("GET", url) as response:
                refused = self._refused(response, uri, url)
                if refused is not None:
                    raise refused
                if response.status_code != 200:
                    raise LocationError(
                        f"the MLflow server at {server} answered HTTP {response.status_code} "
                        f"for {path!r}",
                        uri=uri,
                    )
                written = 0
                with dest.open("wb") as fh:
                    for chunk in response.iter_bytes(_CHUNK):
                        written += len(chunk)
                        if size is not None and written > size:
                            raise LocationError(
                                f"{path!r} from {server} has more than the {size:,} bytes the "
                                "listing said; stopped reading it",
                                uri=uri,
                            )
                        if written > budget:
                            raise LocationError(
                                f"{path!r} from {server} has more than the {budget:,} bytes the "
                                "download cache may still hold (FLAVORKIT_CACHE_MAX_BYTES); "
                                "stopped reading it",
                                uri=uri,
                            )
                        fh.write(chunk)
        except httpx.TransportError as exc:
            raise LocationError(
                f"downloading {path!r} from the MLflow server at {server} failed: {exc}", uri=uri
            ) from exc
        if size is not None and written != size:
            raise LocationError(
                f"{path!r} from {server} has {written} bytes, the listing said {size}", uri=uri
            )
        return written

    def _missing_local(self, location: str, *, uri: str) -> LocationError:
        return LocationError(
            f"the server records the files at {location!r}, a path on its own disk that is not "
            "on this machine; start the server with --serve-artifacts so clients download "
            "through it, or use a shared object store as its artifact root",
            uri=uri,
        )
