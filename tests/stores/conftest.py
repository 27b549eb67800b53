"""Fixtures of the object-store tests: a real S3 (moto's server on loopback), a cache per test.

The moto server runs for the whole session on 127.0.0.1 and a free port;
every request it serves is recorded (``RequestLog``), so a test can tell
whether an object was downloaded. Each test gets fake AWS credentials, the
server as ``AWS_ENDPOINT_URL`` (as s3fs and boto read it), no shared AWS
config, a fresh bucket and its own download cache in ``FLAVORKIT_CACHE_DIR``.
``StallingProxy`` forwards to the server and can hold a download halfway,
for killing a process in the middle of one.
"""

from __future__ import annotations

import itertools
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from store_support import Moto, RequestLog, StallingProxy, aws_env, moto_server

TESTS = Path(__file__).resolve().parent.parent
if str(TESTS) not in sys.path:  # the models the core tests save (tests/_models.py)
    sys.path.insert(0, str(TESTS))

_bucket_numbers = itertools.count()


@pytest.fixture(scope="session")
def moto() -> Iterator[Moto]:
    """moto's S3 server on loopback for the session, with its requests recorded."""
    with moto_server() as (endpoint, server):
        wsgi = server._server  # werkzeug's server: every handler calls its .app
        log = RequestLog(wsgi.app)
        wsgi.app = log
        yield Moto(endpoint, log)


@pytest.fixture(autouse=True)
def _store_env(moto: Moto, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Per test: fake AWS credentials, the moto endpoint, an empty download cache."""
    for name in (
        "AWS_PROFILE",
        "AWS_SESSION_TOKEN",
        "AWS_ENDPOINT_URL_S3",
        "MLFLOW_S3_ENDPOINT_URL",
        "FLAVORKIT_CACHE_MAX_BYTES",
    ):
        monkeypatch.delenv(name, raising=False)
    for name, value in aws_env(moto.endpoint, tmp_path).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("FLAVORKIT_CACHE_DIR", str(tmp_path / "cache"))
    yield
    _forget_filesystems()


def _forget_filesystems() -> None:
    """Drop fsspec's cached s3fs clients: a test that changed credentials must not leak them."""
    s3fs = sys.modules.get("s3fs")  # None while a test pretends it is not installed
    if s3fs is not None:
        s3fs.S3FileSystem.clear_instance_cache()


@pytest.fixture
def bucket(moto: Moto) -> str:
    """A new, empty bucket on the moto server."""
    import boto3

    name = f"models-{next(_bucket_numbers)}"
    boto3.client("s3", endpoint_url=moto.endpoint).create_bucket(Bucket=name)
    return name


@pytest.fixture
def s3(moto: Moto) -> Any:
    """A boto3 S3 client on the moto server, for arranging buckets behind flavorkit's back."""
    import boto3

    return boto3.client("s3", endpoint_url=moto.endpoint)


@pytest.fixture
def stalling_proxy(moto: Moto) -> Iterator[StallingProxy]:
    host, port = moto.endpoint.removeprefix("http://").split(":")
    proxy = StallingProxy((host, int(port)), after=256 * 1024)
    yield proxy
    proxy.close()
