"""A plain HTTP folder listing as a model location; the extra named when a package is missing."""

from __future__ import annotations

import functools
import sys
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import flavorkit
import numpy as np
import pytest
from _models import AddConstant
from flavorkit import stores
from flavorkit.exceptions import LocationError
from store_support import closed_endpoint


class QuietHandler(SimpleHTTPRequestHandler):
    """Python's directory listing server, logging each file it sends instead of printing."""

    sent: list[str]

    def log_message(self, format: str, *args: object) -> None:
        return None

    def send_head(self):
        self.sent.append(self.path)
        return super().send_head()


class NoVersionHandler(QuietHandler):
    """A server that says nothing about a file's version: no Last-Modified, no ETag."""

    def send_header(self, keyword: str, value: str) -> None:
        if keyword.lower() != "last-modified":
            super().send_header(keyword, value)


def serve(root: Path, handler: type[QuietHandler]) -> Iterator[tuple[str, list[str]]]:
    sent: list[str] = []
    bound = type("Handler", (handler,), {"sent": sent})
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(bound, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", sent
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def site(tmp_path: Path) -> Iterator[tuple[str, list[str]]]:
    flavorkit.save_model(AddConstant(4.0), tmp_path / "site" / "model")
    yield from serve(tmp_path / "site", QuietHandler)


def test_http_folder_listing_loads_and_is_cached(site: tuple[str, list[str]]) -> None:
    base, sent = site
    model = flavorkit.load_model(f"{base}/model")
    assert model.predict(np.array([1.0])).tolist() == [5.0]
    downloads = [p for p in sent if not p.endswith("/")]
    assert "/model/MLmodel" in downloads
    sent.clear()
    again = stores.fetch(f"{base}/model/")
    assert [p for p in sent if p.endswith("MLmodel")] == ["/model/MLmodel"]  # asked its version
    assert [e.path for e in stores.cache_entries()] == [again]


def test_http_without_versions_is_keyed_by_content(tmp_path: Path) -> None:
    flavorkit.save_model(AddConstant(4.0), tmp_path / "site" / "model")
    for base, _sent in serve(tmp_path / "site", NoVersionHandler):
        first = stores.fetch(f"{base}/model")
        second = stores.fetch(f"{base}/model")
    assert first == second and first.parent.name.startswith("http-")
    assert len(stores.cache_entries()) == 1


def test_http_missing_page(site: tuple[str, list[str]]) -> None:
    base, _ = site
    with pytest.raises(LocationError, match="not found"):
        stores.fetch(f"{base}/absent")


def test_hub_unreachable_is_one_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("huggingface_hub")  # the 'hf' extra
    endpoint = closed_endpoint()
    monkeypatch.setenv("HF_ENDPOINT", endpoint)
    with pytest.raises(LocationError, match=f"cannot reach the store at {endpoint}") as caught:
        flavorkit.load_model("hf://org/repo@v1.0/model")
    assert caught.value.uri == "hf://org/repo@v1.0/model"


@pytest.mark.parametrize(
    ("url", "module", "extra"),
    [
        ("s3://bucket/model", "s3fs", "s3"),
        ("gs://bucket/model", "gcsfs", "gcs"),
        ("gcs://bucket/model", "gcsfs", "gcs"),
        ("az://container/model", "adlfs", "azure"),
        ("abfs://container/model", "adlfs", "azure"),
        ("abfss://container@account.dfs.core.windows.net/model", "adlfs", "azure"),
        ("hf://org/repo/model", "huggingface_hub", "hf"),
        ("https://example.invalid/model", "aiohttp", "http"),
        ("s3://bucket/model", "fsspec", "s3"),
    ],
)
def test_a_missing_package_names_the_extra(
    url: str, module: str, extra: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # as if it were not installed
    with pytest.raises(LocationError, match=rf"needs {module}, which is not installed") as caught:
        flavorkit.load_model(url)
    assert f"pip install 'flavorkit[{extra}]'" in str(caught.value)
    assert str(caught.value).startswith(url)


def test_an_unknown_scheme_is_not_a_store() -> None:
    with pytest.raises(LocationError, match="ftp:// is not an object store flavorkit reads"):
        stores.fetch("ftp://host/model")
