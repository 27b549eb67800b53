"""Hostile model locations: URIs, registry databases, MLflow servers, object stores, the cache.

Each test plays one attacker who controls one thing flavorkit reads to find a
model: the ``models:/`` URI or CLI argument, an MLflow tracking database (a
``.db`` file handed over), an embedded registry's ``registry.db``, an MLflow
tracking server's answers (a loopback server answering MLflow's routes with
exactly the fault), an object store's listing (moto's S3 on loopback) or the
download cache folder. Every refusal is a ``LocationError`` naming what was
asked, the field and what came; nothing is written outside the cache and no
half-filled entry stays behind.
"""

from __future__ import annotations

import argparse
import itertools
import json
import re
import shutil
import sqlite3
import sys
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from flavorkit import stores
from flavorkit.exceptions import LocationError
from flavorkit.folder._uri import resolve_uri
from flavorkit.registry import register_model
from flavorkit.registry._resolve import forget_registries

TESTS = Path(__file__).resolve().parents[1]
for _folder in (TESTS, TESTS / "registry", TESTS / "stores"):  # the areas' own helpers
    if str(_folder) not in sys.path:
        sys.path.insert(0, str(_folder))

from mlflow_schemas import LOGGED_MODELS, SCHEMA_2_8  # noqa: E402
from registry_support import save_add_constant  # noqa: E402
from store_support import aws_env, moto_server  # noqa: E402

RUN = "a" * 32
LOGGED = "m-" + "0" * 32
_buckets = itertools.count()


@pytest.fixture(autouse=True)
def _fresh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A download cache per test, no registry or MLflow credentials from the outer shell."""
    monkeypatch.setenv("FLAVORKIT_CACHE_DIR", str(tmp_path / "cache"))
    for name in (
        "FLAVORKIT_CACHE_MAX_BYTES",
        "MLFLOW_TRACKING_URI",
        "MLFLOW_TRACKING_TOKEN",
        "MLFLOW_TRACKING_USERNAME",
        "MLFLOW_TRACKING_PASSWORD",
        "MLFLOW_WORKSPACE",
    ):
        monkeypatch.delenv(name, raising=False)
    forget_registries()
    yield
    forget_registries()


def nothing_cached(tmp_path: Path) -> None:
    """No cache entry, and nothing left in the cache's scratch area."""
    assert stores.cache_entries() == []
    scratch = tmp_path / "cache" / "downloads" / ".tmp"
    assert not scratch.exists() or [p for p in scratch.iterdir() if p.suffix != ".lock"] == []


# -- models:/ URIs and CLI arguments ------------------------------------------------------


@pytest.mark.parametrize(
    ("uri", "says"),
    [
        ("models:/churn/99999999999999999999", "larger than any version a registry numbers"),
        ("models:/churn/" + "9" * 5000, "larger than any version a registry numbers"),
        ("models:/churn/" + "0" * 40, "versions are numbered from 1"),
        ("models:/churn/1/" + "a/" * 5000, "more than the 8,192 a model URI may have"),
        ("models:/churn/1/%2e%2e/%2e%2e/x", "the version has no '%2e%2e/%2e%2e/x'"),
    ],
)
def test_adv_hostile_models_uris_are_refused_by_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, uri: str, says: str
) -> None:
    """Before: a huge version raised SQLite's OverflowError or Python's int-digit ValueError."""
    monkeypatch.setenv("FLAVORKIT_REGISTRY_URI", str(tmp_path / "registry"))
    register_model(save_add_constant(tmp_path / "m", 2.0), "churn")
    with pytest.raises(LocationError) as caught:
        resolve_uri(uri)
    assert says in str(caught.value)
    assert str(caught.value).startswith(uri[:40])


def test_adv_huge_version_numbers_from_the_api_and_cli_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Before: ``flavorkit models alias set churn prod 99999999999999999999`` was a traceback."""
    from flavorkit.registry import open_registry
    from flavorkit.registry._cli import add_models_parser

    monkeypatch.setenv("FLAVORKIT_REGISTRY_URI", str(tmp_path / "registry"))
    register_model(save_add_constant(tmp_path / "m", 2.0), "churn")
    with pytest.raises(LocationError, match=r"has no version '18446744073709551616': versions"):
        open_registry().get_version("churn", 2**64)
    parser = argparse.ArgumentParser(prog="flavorkit")
    add_models_parser(parser.add_subparsers(dest="command", required=True))
    with pytest.raises(SystemExit) as exited:
        parser.parse_args(["models", "alias", "set", "churn", "prod", "9" * 20])
    assert exited.value.code == 2
    assert "a version is a whole number from 1 to 9223372036854775807" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("registry", "says"),
    [
        (
            "file://evil.example/share/registry",
            "names host 'evil.example' (FLAVORKIT_REGISTRY_URI)",
        ),
        ("ftp://evil.example/registry", "no registry backend reads 'ftp' URIs"),
        ("s3://bucket/registry", "no registry backend reads 's3' URIs"),
        ("models:/other/1", "no registry backend reads 'models' URIs"),
        ("sqlite:///:memory:", "an in-memory database holds no registry"),
        ("http://", "an MLflow tracking server is named http(s)://host[:port]"),
    ],
)
def test_adv_odd_registry_uris_in_the_environment_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, registry: str, says: str
) -> None:
    """Before: ``file://host/path`` silently opened a registry at ``/path`` on this machine."""
    monkeypatch.setenv("FLAVORKIT_REGISTRY_URI", registry)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(LocationError, match="^" + re.escape(registry)) as caught:
        resolve_uri("models:/churn/1")
    assert says in str(caught.value)
    assert list(tmp_path.iterdir()) == []  # no registry created anywhere


# -- an MLflow tracking database the attacker wrote ----------------------------------------


@pytest.fixture
def mlflow_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """``add(version, source)`` writes a version of ``m`` into an MLflow 2.8-shaped database
    (with MLflow 3's logged models) that ``FLAVORKIT_REGISTRY_URI`` names; run ``RUN``'s
    artifacts are at ``runs:/RUN`` (itself) and logged model ``LOGGED`` at ``models:/LOGGED``."""
    path = tmp_path / "mlflow.db"
    db = sqlite3.connect(path)
    with db:
        db.executescript(SCHEMA_2_8 + LOGGED_MODELS)
        db.execute("INSERT INTO experiments VALUES (1, 'exp', 'x', 'active', 1, 1)")
        db.execute(
            "INSERT INTO runs (run_uuid, status, lifecycle_stage, artifact_uri, experiment_id) "
            "VALUES (?, 'FINISHED', 'active', ?, 1)",
            (RUN, f"runs:/{RUN}"),
        )
        db.execute(
            "INSERT INTO logged_models VALUES (?, 1, 'model', ?, 1, 1, 2, 'active', NULL, ?, NULL)",
            (LOGGED, f"models:/{LOGGED}", RUN),
        )
        db.execute("INSERT INTO registered_models VALUES ('m', 1, 1, NULL)")
    db.close()
    monkeypatch.setenv("FLAVORKIT_REGISTRY_URI", f"sqlite:///{path}")

    def add(version: int, source: str | None, alias: str | None = None) -> None:
        with sqlite3.connect(path) as db:
            db.execute(
                "INSERT INTO model_versions (name, version, creation_time, last_updated_time, "
                "current_stage, source, status) VALUES ('m', ?, 1, 1, 'None', ?, 'READY')",
                (version, source),
            )
            if alias:
                db.execute(
                    "INSERT INTO registered_model_aliases VALUES (?, ?, 'm')", (alias, version)
                )
        forget_registries()

    return add


@pytest.mark.parametrize(
    "source",
    [f"runs:/{RUN}/model", "models:/m/1", "models:/m@loop", f"models:/{LOGGED}"],
    ids=["run-artifacts-are-the-run", "version-is-itself", "alias-is-itself", "logged-is-itself"],
)
def test_adv_mlflow_db_sources_that_loop_are_refused(
    mlflow_db: Callable[..., None], tmp_path: Path, source: str
) -> None:
    """Before: a run whose artifact location was ``runs:/`` itself recursed to a RecursionError."""
    mlflow_db(1, source, alias="loop")
    with pytest.raises(LocationError, match=r"leads through more than 8 other model or run URIs"):
        resolve_uri("models:/m/1")
    nothing_cached(tmp_path)


def test_adv_mlflow_db_runs_uri_into_a_looping_run_is_refused(
    mlflow_db: Callable[..., None],
) -> None:
    with pytest.raises(LocationError, match=r"leads through more than 8 .* \(a loop\?\)") as caught:
        resolve_uri(f"runs:/{RUN}/model")
    assert caught.value.uri == f"runs:/{RUN}/model"


@pytest.mark.parametrize(
    ("source", "says"),
    [
        ("models:/m/\u00b2", "'\u00b2' is neither a version number"),  # isdigit(), not a number
        ("models:/m/" + "9" * 5000, "cannot be followed: version 9999"),
        ("models:/m/1/../../etc", "cannot be followed: the path inside the model has a segment"),
        ("runs:/../x", "cannot be followed: run id '..'"),
        ("file://evil.example/share/model", "on host 'evil.example'; flavorkit reads file://"),
        ("ftp://evil.example/model", "not ftp://"),
        ("/tmp/a\x00b", "holds control characters"),
        (None, "is empty"),
    ],
    ids=["superscript", "5000-digits", "dotdot", "bad-run", "file-host", "ftp", "nul", "null"],
)
def test_adv_mlflow_db_odd_sources_are_refused_naming_them(
    mlflow_db: Callable[..., None], tmp_path: Path, source: str | None, says: str
) -> None:
    """Before: the superscript and 5000-digit versions escaped as ValueError, a NUL as well."""
    mlflow_db(1, source)
    with pytest.raises(LocationError) as caught:
        resolve_uri("models:/m/1")
    assert says in str(caught.value)
    nothing_cached(tmp_path)


# -- an embedded registry whose registry.db was edited -------------------------------------


@pytest.fixture
def tampered(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[str, Any], None]:
    """``set(column, value)`` edits version 1 of ``churn`` in a fresh embedded registry."""
    folder = tmp_path / "registry"
    monkeypatch.setenv("FLAVORKIT_REGISTRY_URI", str(folder))
    register_model(save_add_constant(tmp_path / "m", 2.0), "churn")
    forget_registries()

    def edit(column: str, value: Any) -> None:
        with sqlite3.connect(folder / "registry.db") as db:
            db.execute(f"UPDATE versions SET {column} = ?", (value,))  # column: the test's own

    return edit


@pytest.mark.parametrize(
    ("column", "value", "says"),
    [
        ("location", "../../outside", "records this version's files at '../../outside'"),
        ("location", "OUTSIDE", "records this version's files at '/"),
        ("location", "s3://bucket/model", "records this version's files at 's3://bucket/model'"),
        ("location", "churn/x\x00", "records this version's files at 'churn/x\\x00'"),
        ("digests", "not json", "digests column of this version is not JSON"),
        ("digests", "[1, 2]", "digests column of this version is list, not an object"),
        ("digests", '{"../../etc/passwd": "' + "0" * 64 + '"}', "names the file '../../etc/pa"),
        ("digests", '{"MLmodel": 5}', "gives 'MLmodel' the digest 5, not a sha256"),
    ],
)
def test_adv_tampered_embedded_registry_rows_are_refused(
    tampered: Callable[[str, Any], None], tmp_path: Path, column: str, value: str, says: str
) -> None:
    """Before: an absolute or ``..`` location loaded a folder outside the artifact root (its
    digests edited to match), and a damaged digests column escaped as JSONDecodeError."""
    outside = shutil.copytree(tmp_path / "m", tmp_path / "outside")
    tampered("digests", json.dumps(stores.folder_digests(outside)))  # digests that match it
    tampered(column, str(outside) if value == "OUTSIDE" else value)
    with pytest.raises(LocationError) as caught:
        resolve_uri("models:/churn/1")
    assert caught.value.uri == "models:/churn/1"
    assert says in str(caught.value) and "registry.db was edited or is damaged" in str(caught.value)


def test_adv_embedded_version_folder_swapped_for_a_link_is_refused(
    tampered: Callable[[str, Any], None], tmp_path: Path
) -> None:
    """A version's folder replaced by a link to a copy elsewhere: refused, not followed."""
    folder = resolve_uri("models:/churn/1")
    outside = shutil.copytree(folder, tmp_path / "outside")
    shutil.rmtree(folder)
    folder.symlink_to(outside, target_is_directory=True)
    forget_registries()
    from flavorkit.registry._embedded_verify import forget

    forget()
    with pytest.raises(LocationError, match="is not a folder") as caught:
        resolve_uri("models:/churn/1")
    assert caught.value.uri == "models:/churn/1"


# -- an MLflow tracking server answering with faults ---------------------------------------

Route = Callable[["Handler", dict[str, str]], None]


class Handler(BaseHTTPRequestHandler):
    """Answers from ``server.routes`` (path -> function); records every request's headers."""

    server: Server

    def send(self, status: int, payload: Any = None, *, body: bytes | None = None) -> None:
        data = body if body is not None else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def stream(self, total: int) -> None:
        """``total`` bytes of a file, without a length: the client must stop reading itself."""
        self.send_response(200)
        self.end_headers()
        self.close_connection = True
        try:
            for _ in range(total // 65536):
                self.wfile.write(b"x" * 65536)
        except OSError:  # the client stopped reading, as it should
            pass

    def _answer(self) -> None:
        url = urlparse(self.path)
        self.server.seen.append((url.path, self.headers.get("Authorization")))
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            query.update(json.loads(self.rfile.read(length)))
        prefix = "/api/2.0/mlflow-artifacts/artifacts/"
        route = self.server.routes.get(prefix if url.path.startswith(prefix) else url.path)
        if route is None:
            self.send(404, {"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "no"})
        else:
            route(self, query)

    do_GET = do_POST = _answer

    def log_message(self, format: str, *args: Any) -> None:  # quiet test output
        pass


class Server(ThreadingHTTPServer):
    daemon_threads = True
    routes: dict[str, Route]
    seen: list[tuple[str, str | None]]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


def _start() -> tuple[Server, threading.Thread]:
    server = Server(("127.0.0.1", 0), Handler)
    server.routes, server.seen = {}, []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server, thread


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[Server, Server]]:
    """Two loopback servers: the tracking server, and another its answers may name."""
    started = [_start(), _start()]
    yield started[0][0], started[1][0]
    for server, thread in started:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


API = "/api/2.0/mlflow"
LIST = "/api/2.0/mlflow-artifacts/artifacts"
FILE = LIST + "/"


def version_of(**fields: Any) -> Route:
    """model-versions/get answering version ``query['version']`` of ``evil`` with ``fields``."""

    def route(handler: Handler, query: dict[str, str]) -> None:
        found = {"name": "evil", "version": query.get("version"), "status": "READY", **fields}
        handler.send(200, {"model_version": found})

    return route


def download_uri(location: Any) -> Route:
    return lambda handler, query: handler.send(200, {"artifact_uri": location})


def listing(files: list[dict[str, Any]]) -> Route:
    return lambda handler, query: handler.send(200, {"files": files})


@pytest.fixture
def tracking(
    servers: tuple[Server, Server], monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Server, Server]]:
    """The tracking server as ``FLAVORKIT_REGISTRY_URI`` with a token set; routes cleared."""
    for server in servers:
        server.routes, server.seen = {}, []
    monkeypatch.setenv("FLAVORKIT_REGISTRY_URI", servers[0].url)
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", "s3cret")
    forget_registries()
    yield servers
    forget_registries()


@pytest.mark.parametrize("form", ["mlflow-artifacts", "proxy-url"])
def test_adv_mlflow_server_naming_another_server_gets_no_credentials(
    tracking: tuple[Server, Server], tmp_path: Path, form: str
) -> None:
    """Before: the tracking server's token went to whatever host its answer named."""
    server, other = tracking
    host = other.url.removeprefix("http://")
    location = (
        f"mlflow-artifacts://{host}/stolen" if form == "mlflow-artifacts" else f"{other.url}{FILE}x"
    )
    server.routes = {f"{API}/model-versions/get": version_of()}
    server.routes[f"{API}/model-versions/get-download-uri"] = download_uri(location)
    other.routes = {LIST: lambda handler, query: handler.send(401, {"error_code": "UNAUTH"})}
    with pytest.raises(LocationError) as caught:
        resolve_uri("models:/evil/1")
    assert f"the server at {other.url}, where the tracking server {server.url}" in str(caught.value)
    assert "never to a server its answers name" in str(caught.value)
    assert other.seen and all(auth is None for _, auth in other.seen)
    assert all(auth == "Bearer s3cret" for _, auth in server.seen)  # its own server still gets it
    nothing_cached(tmp_path)


@pytest.mark.parametrize(
    ("routes", "says"),
    [
        (
            {"model-versions/get": lambda h, q: h.send(200, {})},
            "model-versions/get.model_version: expected dict, got nothing",
        ),
        (
            {"model-versions/get": version_of(version="x")},
            "model_version.version: expected a whole",
        ),
        ({"model-versions/get": version_of(name="other")}, "got version 1 of 'other'"),
        ({"model-versions/get": version_of(version="2")}, "expected version 1 of 'evil'"),
        ({"model-versions/get": version_of(tags=[1])}, "model_version.tags[0]: expected an object"),
        (
            {"model-versions/get": version_of(aliases="prod")},
            "model_version.aliases: expected list",
        ),
        ({"model-versions/get": version_of(creation_timestamp="soon")}, "creation_timestamp"),
        ({"model-versions/get-download-uri": download_uri(7)}, "is int 7, not a path or URL"),
        (
            {"model-versions/get-download-uri": download_uri("relative/dir")},
            "'relative/dir', a relative path; the tracking server's answer is never looked up",
        ),
    ],
)
def test_adv_mlflow_server_malformed_answers_are_refused_by_field(
    tracking: tuple[Server, Server],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    routes: dict[str, Route],
    says: str,
) -> None:
    """Before: KeyError, ValueError, TypeError or AttributeError escaped for most of these,
    and a relative path was looked up in this process's working directory."""
    server, _ = tracking
    (tmp_path / "relative" / "dir").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    server.routes = {
        f"{API}/model-versions/get": version_of(),
        f"{API}/model-versions/get-download-uri": download_uri("mlflow-artifacts:/v"),
    }
    server.routes.update({f"{API}/{k}": v for k, v in routes.items()})
    with pytest.raises(LocationError) as caught:
        resolve_uri("models:/evil/1")
    assert says in str(caught.value)
    assert caught.value.uri == "models:/evil/1"
    nothing_cached(tmp_path)


def _proxied(server: Server, files: list[dict[str, Any]], route: Route) -> None:
    server.routes = {
        f"{API}/model-versions/get": version_of(),
        f"{API}/model-versions/get-download-uri": download_uri("mlflow-artifacts:/v"),
        LIST: listing(files),
        FILE: route,
    }


def test_adv_mlflow_server_sending_more_than_listed_is_cut_off(
    tracking: tuple[Server, Server], tmp_path: Path
) -> None:
    """Before: all 8 MiB were written to the cache's scratch area, then refused."""
    server, _ = tracking
    files = [{"path": "MLmodel", "is_dir": False, "file_size": 3}]
    _proxied(server, files, lambda handler, query: handler.stream(8 << 20))
    with pytest.raises(LocationError, match=r"has more than the 3 bytes the listing said"):
        resolve_uri("models:/evil/1")
    nothing_cached(tmp_path)


def test_adv_mlflow_server_file_without_size_stops_at_the_cache_limit(
    tracking: tuple[Server, Server], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server, _ = tracking
    monkeypatch.setenv("FLAVORKIT_CACHE_MAX_BYTES", "100K")
    _proxied(server, [{"path": "MLmodel"}], lambda handler, query: handler.stream(8 << 20))
    with pytest.raises(LocationError, match=r"more than the 102,400 bytes the download cache"):
        resolve_uri("models:/evil/1")
    nothing_cached(tmp_path)


@pytest.mark.parametrize(
    ("files", "says"),
    [
        ([{"path": "MLmodel", "file_size": "lots"}], "'MLmodel' with file_size 'lots'"),
        ([{"path": "MLmodel", "file_size": True}], "'MLmodel' with file_size True"),
        ("MLmodel", "not as a list of files"),
        (
            [{"path": "MLmodel", "file_size": 1}, {"path": "mlmodel", "file_size": 1}],
            "names 'MLmodel' and 'mlmodel', which differ only in case",
        ),
    ],
)
def test_adv_mlflow_server_bad_listings_are_refused(
    tracking: tuple[Server, Server], tmp_path: Path, files: Any, says: str
) -> None:
    server, _ = tracking
    _proxied(server, files, lambda handler, query: handler.send(200, body=b"x"))
    with pytest.raises(LocationError, match="models:/evil/1") as caught:
        resolve_uri("models:/evil/1")
    assert says in str(caught.value)
    nothing_cached(tmp_path)


def test_adv_mlflow_server_listing_endless_folders_is_bounded(
    tracking: tuple[Server, Server], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before: folders did not count: two sub-folders per folder, 32 deep, meant 2**32 requests."""
    from flavorkit.registry import _mlflow_rest

    monkeypatch.setattr(_mlflow_rest, "_MAX_FILES", 50)
    server, _ = tracking
    folders = [{"path": "a", "is_dir": True}, {"path": "b", "is_dir": True}]
    _proxied(server, folders, lambda handler, query: handler.send(200, body=b"x"))
    with pytest.raises(LocationError, match=r"holds more than 50 files and folders"):
        resolve_uri("models:/evil/1")
    assert len(server.seen) < 60  # requests: the two lookups and about one listing per entry
    nothing_cached(tmp_path)


def test_adv_mlflow_server_oversized_answer_is_not_read_whole(
    tracking: tuple[Server, Server], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before: any answer was read whole into memory, however large."""
    from flavorkit.registry import _mlflow_rest

    monkeypatch.setattr(_mlflow_rest, "MAX_ANSWER_BYTES", 64 << 10)
    server, _ = tracking
    huge = {"model_version": {"name": "evil", "version": "1", "description": "x" * (1 << 20)}}
    server.routes = {f"{API}/model-versions/get": lambda handler, query: handler.send(200, huge)}
    with pytest.raises(LocationError, match=r"with more than 65,536 bytes; no MLflow answer"):
        resolve_uri("models:/evil/1")


def test_adv_mlflow_server_endless_search_pages_are_refused(
    tracking: tuple[Server, Server], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before: a search answering the same next_page_token forever was followed forever."""
    server, _ = tracking
    run = {"run": {"info": {"artifact_uri": "mlflow-artifacts:/run", "experiment_id": "1"}}}
    server.routes = {
        f"{API}/runs/get": lambda handler, query: handler.send(200, run),
        LIST: listing([]),
        f"{API}/logged-models/search": lambda handler, query: handler.send(
            200, {"models": [], "next_page_token": "again"}
        ),
    }
    with pytest.raises(LocationError, match=r"kept answering logged-models/search"):
        resolve_uri(f"runs:/{RUN}/model")
    assert [p for p, _ in server.seen].count(f"{API}/logged-models/search") == 2


# -- object-store listings (moto's S3 on loopback) -----------------------------------------


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    with moto_server() as (endpoint, _):
        yield endpoint


@pytest.fixture
def bucket(moto_endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A boto3 client and a fresh bucket ``models`` holding a model under ``m/``."""
    import boto3
    import s3fs

    for name, value in aws_env(moto_endpoint, tmp_path).items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(name, raising=False)
    s3fs.S3FileSystem.clear_instance_cache()
    client = boto3.client("s3", endpoint_url=moto_endpoint)
    name = f"adv-locations-{next(_buckets)}"  # moto's buckets are shared by every moto server
    client.create_bucket(Bucket=name)
    stores.upload(save_add_constant(tmp_path / "m", 2.0), f"s3://{name}/m")
    yield client, name
    s3fs.S3FileSystem.clear_instance_cache()


@pytest.mark.parametrize(
    ("keys", "says"),
    [
        (["m/mlmodel"], "names 'MLmodel' and 'mlmodel', which differ only in case"),
        (["m/Data", "m/data/x"], "names 'Data' and 'data', which differ only in case"),
        (["m/caf\u00e9", "m/cafe\u0301"], "differ only in case or Unicode form"),
    ],
)
def test_adv_store_names_one_on_case_insensitive_disks_are_refused(
    bucket: Any, tmp_path: Path, keys: list[str], says: str
) -> None:
    """Before: on macOS or Windows the second file silently overwrote the first."""
    client, name = bucket
    for key in keys:
        client.put_object(Bucket=name, Key=key, Body=b"gotcha")
    with pytest.raises(LocationError, match=f"s3://{name}/m") as caught:
        stores.fetch(f"s3://{name}/m")
    assert says in str(caught.value)
    nothing_cached(tmp_path)


# -- a plain HTTP folder that sends more than it lists ------------------------------------


class Overfilling(BaseHTTPRequestHandler):
    """A folder listing whose one file is 3 bytes by HEAD and endless by GET."""

    announce: bool  # GET says how much is coming (Content-Length), or just streams
    sent: list[int]

    page = b'<html><body><a href="MLmodel">MLmodel</a></body></html>'

    def do_HEAD(self) -> None:
        self.send_response(200)
        if self.path.endswith("/MLmodel"):
            self.send_header("Content-Length", "3")
            self.send_header("ETag", '"v1"')
        else:  # the folder's page
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(self.page)))
        self.end_headers()

    def do_GET(self) -> None:
        if not self.path.endswith("/MLmodel"):
            self.do_HEAD()
            self.wfile.write(self.page)
            return
        total = 64 << 20
        self.send_response(200)
        if self.announce:
            self.send_header("Content-Length", str(total))
        self.end_headers()
        self.close_connection = True
        sent = 0
        try:
            while sent < total:
                self.wfile.write(b"x" * 65536)
                sent += 65536
        except OSError:  # the client stopped reading, as it should
            pass
        finally:
            self.sent.append(sent)

    def log_message(self, format: str, *args: Any) -> None:  # quiet test output
        pass


def fetch_refused(handler: type[BaseHTTPRequestHandler], path: str) -> LocationError:
    """``stores.fetch`` of ``path`` on a loopback server of ``handler``, refused naming the URL.

    The server has finished every answer when this returns.
    """
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = False  # server_close() waits for each answer to end
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}{path}"
    try:
        with pytest.raises(LocationError, match=re.escape(url)) as caught:
            stores.fetch(url)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
    return caught.value


@pytest.mark.parametrize(
    ("announce", "says"), [(True, "67,108,864 bytes were announced"), (False, "more arrived")]
)
def test_adv_http_store_sending_more_than_listed_is_cut_off(
    tmp_path: Path, announce: bool, says: str
) -> None:
    """Before: all 64 MiB of each attempt were written to the cache's scratch area, then refused."""
    sent: list[int] = []
    handler = type("Handler", (Overfilling,), {"announce": announce, "sent": sent})
    refused = fetch_refused(handler, "/model/")
    assert f"'MLmodel' was listed with 3 bytes and {says}" in str(refused)
    assert sent and max(sent) < 32 << 20, sent  # cut off, not read to the end
    nothing_cached(tmp_path)


class Pages(BaseHTTPRequestHandler):
    """A folder listing drawn from ``page(path)``: each GET's HTML; every path counted."""

    asked: list[str]

    def page(self) -> Iterator[bytes]:
        raise NotImplementedError

    def do_GET(self) -> None:
        self.asked.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.end_headers()
        self.close_connection = True
        try:
            for chunk in self.page():
                self.wfile.write(chunk)
        except OSError:  # the client stopped reading
            pass

    def log_message(self, format: str, *args: Any) -> None:  # quiet test output
        pass


def _links(names: Iterator[str] | list[str]) -> bytes:
    return "".join(f'<a href="{n}">{n}</a>\n' for n in names).encode()


class EndlessPage(Pages):
    def page(self) -> Iterator[bytes]:
        link = _links(["f"]) * 4096
        for _ in range((128 << 20) // len(link)):
            yield link


class EndlessFolders(Pages):
    def page(self) -> Iterator[bytes]:  # a file and a deeper folder, on every page
        yield _links(["MLmodel", "a/"])


class EndlessFiles(Pages):
    def page(self) -> Iterator[bytes]:  # 40,000 new files and two more folders, on every page
        yield _links([f"f{i}" for i in range(40_000)] + ["x/", "y/"])


@pytest.mark.parametrize(
    ("handler", "says", "most"),
    [
        (EndlessPage, "is more than 67,108,864 bytes; no folder listing is that long", 1),
        (EndlessFolders, "nests folders more than 32 deep", 33),
        (EndlessFiles, "lists more than 100,000 files", 4),
    ],
)
def test_adv_http_store_endless_listings_are_cut_off(
    tmp_path: Path, handler: type[Pages], says: str, most: int
) -> None:
    """Before: fsspec read every page whole and followed every link before anything was counted."""
    asked: list[str] = []
    refused = fetch_refused(type("H", (handler,), {"asked": asked}), "/model")
    assert says in str(refused)
    assert 1 <= len(asked) <= most, asked[:5]
    nothing_cached(tmp_path)


# -- the download cache folder -------------------------------------------------------------


@pytest.mark.parametrize("swapped", ["entry", "files"])
def test_adv_cache_entry_swapped_for_a_link_is_not_followed(tmp_path: Path, swapped: str) -> None:
    """Before: a link in an entry's place handed the folder it points at to every caller."""

    def fill(folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "MLmodel").write_text("real")

    entry = stores.cached("model-k", fill).parent
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "files").mkdir(parents=True)
    (elsewhere / "files" / "MLmodel").write_text("planted")
    if swapped == "entry":
        shutil.rmtree(entry)
        entry.symlink_to(elsewhere, target_is_directory=True)
    else:
        shutil.rmtree(entry / "files")
        (entry / "files").symlink_to(elsewhere / "files", target_is_directory=True)
    again = stores.cached("model-k", fill)
    assert not again.is_symlink() and not again.parent.is_symlink()
    assert (again / "MLmodel").read_text() == "real"
    assert (elsewhere / "files" / "MLmodel").read_text() == "planted"  # left alone, not deleted
    assert [e.key for e in stores.cache_entries()] == ["model-k"]
