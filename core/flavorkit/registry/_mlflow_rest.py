"""An MLflow tracking server (``http(s)://host:port``), read over its REST API without MLflow.

Versions, aliases, logged models and runs come from ``/api/2.0/mlflow/...``;
files a server proxies (``mlflow-artifacts:/``, ``--serve-artifacts``) come
from ``/api/2.0/mlflow-artifacts/artifacts``, listed and fetched one file at
a time into the download cache. Credentials and TLS settings are read from
the environment variables MLflow's own client reads, so a shell that works
with ``mlflow`` works here. HTTP goes through ``httpx``.
"""

from __future__ import annotations

import configparser
import hashlib
import json
import os
import re
import ssl
import threading
import weakref
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlparse

from flavorkit.exceptions import LocationError
from flavorkit.registry._mlflow_common import (
    ARTIFACTS_ROUTE,
    LoggedModel,
    MlflowBackendBase,
    MlflowVersion,
    RunInfo,
    canonical_stage,
)

if TYPE_CHECKING:
    import httpx

API = "/api/2.0/mlflow"
CREDENTIAL_VARIABLES = (
    "MLFLOW_TRACKING_TOKEN (a bearer token), or MLFLOW_TRACKING_USERNAME and "
    "MLFLOW_TRACKING_PASSWORD (basic auth)"
)
# a proxied folder deeper or larger than this is refused rather than walked forever
_MAX_DEPTH = 32
_MAX_FILES = 100_000
_CHUNK = 1 << 20
# MLflow 3 writes a logged model's files once, under <root>/<experiment>/models/m-<id>/artifacts
_WRITTEN_ONCE = re.compile(r"(^|/)models/m-[0-9a-f]{32}/artifacts(/|$)")


class ApiError(Exception):
    """A non-auth error answer from the server: HTTP status, MLflow error code, message."""

    def __init__(self, status: int, code: str | None, message: str) -> None:
        super().__init__(f"HTTP {status} {code or ''}: {message}")
        self.status = status
        self.code = code
        self.message = message


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def credentials() -> tuple[str | None, str | None, str | None]:
    """``(username, password, token)`` as MLflow's client finds them.

    The environment first, then ``~/.mlflow/credentials`` (section ``[mlflow]``,
    keys ``mlflow_tracking_username`` and ``mlflow_tracking_password``).
    """
    username = os.environ.get("MLFLOW_TRACKING_USERNAME") or None
    password = os.environ.get("MLFLOW_TRACKING_PASSWORD") or None
    path = Path("~/.mlflow/credentials").expanduser()
    if (username is None or password is None) and path.is_file():
        config = configparser.ConfigParser()
        config.read(path)
        if "mlflow" in config:
            username = username or config["mlflow"].get("mlflow_tracking_username")
            password = password or config["mlflow"].get("mlflow_tracking_password")
    return username, password, os.environ.get("MLFLOW_TRACKING_TOKEN") or None


def _tls(uri: str) -> ssl.SSLContext | bool:
    """httpx's ``verify``, from MLFLOW_TRACKING_INSECURE_TLS and the *_CERT_PATH variables."""
    insecure = _truthy(os.environ.get("MLFLOW_TRACKING_INSECURE_TLS"))
    server_cert = os.environ.get("MLFLOW_TRACKING_SERVER_CERT_PATH") or None
    client_cert = os.environ.get("MLFLOW_TRACKING_CLIENT_CERT_PATH") or None
    if insecure and server_cert:
        raise LocationError(
            "MLFLOW_TRACKING_INSECURE_TLS and MLFLOW_TRACKING_SERVER_CERT_PATH are both set; "
            "set one of them (MLflow refuses the pair too)",
            uri=uri,
        )
    if insecure:
        return False
    try:
        context = ssl.create_default_context(cafile=server_cert)
        if client_cert:
            context.load_cert_chain(client_cert)
    except (OSError, ssl.SSLError) as exc:
        raise LocationError(
            f"cannot use the certificate in MLFLOW_TRACKING_SERVER_CERT_PATH or "
            f"MLFLOW_TRACKING_CLIENT_CERT_PATH: {exc}",
            uri=uri,
        ) from exc
    return context


def _checked_name(name: object, where: str, *, uri: str) -> str:
    """A file or folder name from a server's listing, refused when it could leave the folder."""
    if (
        not isinstance(name, str)
        or name in ("", ".", "..")
        or "/" in name
        or "\\" in name
        or not name.isprintable()
    ):
        raise LocationError(
            f"the server listed an unsafe file name {name!r} under {where!r}; refusing to "
            "download it",
            uri=uri,
        )
    return name


class MlflowRestBackend(MlflowBackendBase):
    """Resolves ``models:/`` and ``runs:/`` against an MLflow tracking server's REST API."""

    def __init__(self, uri: str) -> None:
        parsed = urlparse(uri)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise LocationError("an MLflow tracking server is named http(s)://host[:port]", uri=uri)
        self.uri = uri.rstrip("/")
        self._client: httpx.Client | None = None
        self._lock = threading.Lock()

    def close(self) -> None:
        """Close the connection pool (a later call opens a new one)."""
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    # ---- HTTP -----------------------------------------------------------------------
    def _http(self) -> httpx.Client:
        """The connection pool, made on first use with MLflow's credentials and TLS settings."""
        with self._lock:
            return self._client or self._open()

    def _open(self) -> httpx.Client:
        """A new pool (called under the lock): auth, workspace, TLS and timeout as MLflow's."""
        try:
            import httpx
        except ImportError as exc:  # pragma: no cover - httpx is a dependency of the extra
            raise LocationError(
                "reading an MLflow tracking server needs httpx: pip install 'flavorkit[mlflow]'",
                uri=self.uri,
            ) from exc
        username, password, token = credentials()
        headers = {"User-Agent": "flavorkit"}
        auth = None
        # MLflow's precedence: basic auth when both halves are set, else the token
        if username and password:
            auth = httpx.BasicAuth(username, password)
        elif token:
            headers["Authorization"] = f"Bearer {token}"
        workspace = os.environ.get("MLFLOW_WORKSPACE", "").strip()
        if workspace:
            headers["X-MLFLOW-WORKSPACE"] = workspace
        timeout = float(os.environ.get("MLFLOW_HTTP_REQUEST_TIMEOUT") or 120)
        client = httpx.Client(
            headers=headers,
            auth=auth,
            verify=_tls(self.uri),
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
        )
        # close the pool with the backend, so no socket outlives it
        weakref.finalize(self, client.close)
        self._client = client
        return client

    def _send(self, method: str, url: str, *, uri: str, **kwargs: Any) -> httpx.Response:
        """One request; transport failures and 401/403 become ``LocationError``."""
        import httpx

        try:
            response = self._http().request(method, url, **kwargs)
        except httpx.TransportError as exc:
            hint = ""
            if "CERTIFICATE" in str(exc).upper() or "SSL" in str(exc).upper():
                hint = (
                    "; for a private certificate authority set MLFLOW_TRACKING_SERVER_CERT_PATH "
                    "(or MLFLOW_TRACKING_INSECURE_TLS=true to skip verification)"
                )
            raise LocationError(
                f"cannot reach the MLflow tracking server at {self.uri}: "
                f"{type(exc).__name__}: {exc}{hint}",
                uri=uri,
            ) from exc
        refused = self._refused(response, uri)
        if refused is not None:
            raise refused
        return response

    def _refused(self, response: httpx.Response, uri: str) -> LocationError | None:
        """The error for a 401 or 403 answer, naming the variables that hold credentials."""
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
            raise ApiError(response.status_code, payload["error_code"], str(payload.get("message")))
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

    # ---- registered models ----------------------------------------------------------
    def _registered_model(self, name: str, uri: str) -> dict[str, Any]:
        try:
            return self._api("GET", "registered-models/get", uri=uri, params={"name": name})[
                "registered_model"
            ]
        except ApiError as exc:
            if exc.code == "RESOURCE_DOES_NOT_EXIST":
                raise LocationError(
                    f"no registered model named {name!r} on the MLflow server {self.uri}", uri=uri
                ) from None
            raise self._failure(exc, uri) from exc

    def _latest(self, name: str, uri: str, stage: str | None = None) -> dict[str, Any] | None:
        params: dict[str, Any] = {"name": name}
        if stage is not None:
            params["stages"] = [stage]
        try:
            found = self._api(
                "GET", "registered-models/get-latest-versions", uri=uri, params=params
            )
        except ApiError as exc:
            if exc.code == "RESOURCE_DOES_NOT_EXIST":
                self._registered_model(name, uri)
            raise self._failure(exc, uri) from exc
        versions = found.get("model_versions") or []
        return max(versions, key=lambda v: int(v["version"])) if versions else None

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
        return self._version(found["model_version"], uri)

    def _version(self, found: dict[str, Any], uri: str) -> MlflowVersion:
        name, number = found["name"], int(found["version"])
        status = found.get("status") or "READY"
        if status != "READY":
            detail = f": {found['status_message']}" if found.get("status_message") else ""
            raise LocationError(
                f"version {number} of {name!r} is {status} in MLflow, not READY{detail}", uri=uri
            )
        params = {"name": name, "version": str(number)}
        try:
            location = self._api("GET", "model-versions/get-download-uri", uri=uri, params=params)[
                "artifact_uri"
            ]
        except ApiError as exc:
            raise self._failure(exc, uri) from exc
        return MlflowVersion(
            name=name,
            version=number,
            source=location,
            created=int(found.get("creation_timestamp") or 0) / 1000,
            description=found.get("description") or None,
            tags={t["key"]: t.get("value", "") for t in found.get("tags") or []},
            aliases=tuple(found.get("aliases") or ()),
            run_id=found.get("run_id") or None,
            registered_source=found.get("source") or "",
            stage=found.get("current_stage") or "None",
            updated=int(found.get("last_updated_timestamp") or 0) / 1000,
        )

    def latest_version(self, name: str) -> MlflowVersion:
        """The highest version of ``name`` that is not deleted (MLflow's ``latest``)."""
        uri = f"models:/{name}/latest"
        found = self._latest(name, uri)
        if found is None:
            self._registered_model(name, uri)
            raise LocationError(f"registered model {name!r} has no live versions", uri=uri)
        return self._version(found, uri)

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
        return self._version(found, uri)

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
            aliases = [a["alias"] for a in model.get("aliases") or []]
            known = f"its aliases: {', '.join(sorted(aliases))}" if aliases else "it has no aliases"
            raise LocationError(
                f"registered model {name!r} has no alias {alias!r} ({known})", uri=uri
            ) from None
        return self._version(found["model_version"], uri)

    # ---- logged models and runs -----------------------------------------------------
    def _logged_model_info(self, model_id: str) -> LoggedModel:
        uri = f"models:/{model_id}"
        if not model_id.replace("-", "").replace("_", "").isalnum():
            raise LocationError(f"{model_id!r} is not a logged model id", uri=uri)
        try:
            found = self._api("GET", f"logged-models/{model_id}", uri=uri)["model"]["info"]
        except ApiError as exc:
            if exc.code == "RESOURCE_DOES_NOT_EXIST":
                raise LocationError(
                    f"no logged model {model_id} on the MLflow server {self.uri}", uri=uri
                ) from None
            raise self._failure(exc, uri) from exc
        status = str(found.get("status") or "UNSPECIFIED").removeprefix("LOGGED_MODEL_")
        return LoggedModel(
            model_id=found["model_id"],
            location=found["artifact_uri"],
            status="FAILED" if status == "UPLOAD_FAILED" else status,
            deleted=found.get("lifecycle_stage") == "deleted",
            updated=int(found.get("last_updated_timestamp_ms") or 0) / 1000,
        )

    def _run_info(self, run_id: str, *, uri: str) -> RunInfo:
        try:
            info = self._api("GET", "runs/get", uri=uri, params={"run_id": run_id})["run"]["info"]
        except ApiError as exc:
            if exc.code == "RESOURCE_DOES_NOT_EXIST":
                raise LocationError(
                    f"no run {run_id} on the MLflow server {self.uri}", uri=uri
                ) from None
            raise self._failure(exc, uri) from exc
        return RunInfo(run_id, info.get("artifact_uri") or "", str(info["experiment_id"]))

    def _run_logged_model(self, run: RunInfo, name: str) -> str | None:
        uri = f"runs:/{run.run_id}/{name}"
        body: dict[str, Any] = {"experiment_ids": [run.experiment_id], "max_results": 100}
        # the filter grammar has no escape for quotes: such a name is matched here instead
        if "'" not in name and "\\" not in name:
            body["filter"] = f"name = '{name}'"
        while True:
            try:
                page = self._api("POST", "logged-models/search", uri=uri, body=body)
            except ApiError as exc:
                if exc.status == 404 and exc.code is None:
                    return None  # an MLflow 2 server: no logged models to fall back on
                raise self._failure(exc, uri) from exc
            for model in page.get("models") or []:
                info = model.get("info") or {}
                if info.get("name") == name and info.get("source_run_id") == run.run_id:
                    return str(info["model_id"])
            if not page.get("next_page_token"):
                return None
            body["page_token"] = page["next_page_token"]

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
            message = payload.get("message") if isinstance(payload, dict) else response.text[:200]
            raise LocationError(
                f"the MLflow server at {server} could not list {path!r} (HTTP "
                f"{response.status_code}: {message}); is it started with --serve-artifacts?",
                uri=uri,
            )
        return list(payload.get("files") or [])

    def _walk(self, server: str, root: str, *, uri: str) -> list[tuple[str, int | None]]:
        """Every file below ``root`` as ``(relative path, size)``, names checked."""
        files: list[tuple[str, int | None]] = []
        pending: list[tuple[str, int]] = [("", 0)]
        while pending:
            rel, depth = pending.pop()
            where = f"{root}/{rel}".strip("/")
            for entry in self._list(server, where, uri=uri):
                name = _checked_name(entry.get("path"), where, uri=uri)
                child = f"{rel}/{name}".lstrip("/")
                if entry.get("is_dir"):
                    if depth + 1 > _MAX_DEPTH:
                        raise LocationError(f"{where!r} nests folders too deep", uri=uri)
                    pending.append((child, depth + 1))
                else:
                    size = entry.get("file_size")
                    files.append((child, int(size) if size is not None else None))
                if len(files) > _MAX_FILES:
                    raise LocationError(f"{root!r} holds more than {_MAX_FILES} files", uri=uri)
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
            for rel, size in files:
                self._download_file(server, f"{root}/{rel}", folder / rel, size, uri=uri)

        sizes = [size for _, size in listing or ()]
        total = sum(s for s in sizes if s is not None) if listing and None not in sizes else None
        return stores.cached(f"mlflow-{digest}", populate, source=location, size=total)

    def _download_file(
        self, server: str, path: str, dest: Path, size: int | None, *, uri: str
    ) -> None:
        dest.parent.mkdir(parents=True, exist_ok=True)
        url = f"{server}{ARTIFACTS_ROUTE}/{quote(path)}"
        import httpx

        try:
            with self._http().stream("GET", url) as response:
                refused = self._refused(response, uri)
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
                        fh.write(chunk)
                        written += len(chunk)
        except httpx.TransportError as exc:
            raise LocationError(
                f"downloading {path!r} from the MLflow server at {server} failed: {exc}", uri=uri
            ) from exc
        if size is not None and written != size:
            raise LocationError(
                f"{path!r} from {server} has {written} bytes, the listing said {size}", uri=uri
            )

    def _missing_local(self, location: str, *, uri: str) -> LocationError:
        return LocationError(
            f"the server records the files at {location!r}, a path on its own disk that is not "
            "on this machine; start the server with --serve-artifacts so clients download "
            "through it, or use a shared object store as its artifact root",
            uri=uri,
        )
