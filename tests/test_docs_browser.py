"""The ``/docs`` page in a real browser: Swagger UI's Try-it-out on ``/invocations`` and V2 infer.

Drives the system's Chromium (``/usr/bin/chromium``, Debian's ``chromium``
package) with Playwright against a ``flavorkit serve`` subprocess, and
checks the answers the page shows and that the page asks nothing of any
host but the server on 127.0.0.1.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import flavorkit
import pytest
from _serving_models import Server, linear_example, save_linear, start_server

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists():
    pytest.skip(
        f"{CHROMIUM} is missing: the browser test needs Debian's chromium package "
        "(apt-get install -y chromium)",
        allow_module_level=True,
    )
pytest.importorskip("playwright.sync_api", reason="playwright (pip) is not installed")

ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_linear(tmp_path_factory.mktemp("docs") / "linear")


@pytest.fixture(scope="module")
def server(model: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_server(model, log_dir=tmp_path_factory.mktemp("docs-logs"))
    yield srv
    srv.stop()


class Page:
    """A fresh Chromium profile on ``/docs``; every request the page makes is recorded."""

    def __init__(self, page: Any, requests: list[str]) -> None:
        self.page = page
        self.requests = requests

    def operation(self, op_id: str) -> Any:
        """Open an operation, press Try it out; returns its block."""
        block = self.page.locator(f"#{op_id}")
        block.locator(".opblock-summary").click()
        block.locator(".try-out__btn").click()
        return block

    @staticmethod
    def execute(block: Any) -> tuple[int, Any]:
        """Press Execute; the status and JSON body the page shows for the live response."""
        block.locator("button.execute").click()
        row = block.locator(".live-responses-table tbody tr.response")
        row.wait_for()
        status = int(row.locator(".response-col_status").inner_text().strip())
        body = row.locator(".response-col_description pre.microlight").first.inner_text()
        return status, json.loads(body)


@pytest.fixture
def docs(server: Server, tmp_path: Path) -> Iterator[Page]:
    from playwright.sync_api import sync_playwright

    requests: list[str] = []
    elsewhere: list[str] = []
    port = urlsplit(server.url).port

    def local(url: str) -> bool:
        parts = urlsplit(url)
        return parts.scheme in ("data", "blob") or (
            parts.hostname == "127.0.0.1" and parts.port == port
        )

    def guard(route: Any) -> None:  # nothing leaves the machine, even if the page tries
        if local(route.request.url):
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort()

    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(tmp_path / "profile"),  # a fresh user-data-dir
            executable_path=str(CHROMIUM),
            args=ARGS,
            headless=True,
        )
        try:
            context.route("**/*", guard)
            page = context.new_page()
            page.on("request", lambda request: requests.append(request.url))
            page.goto(f"{server.url}/docs")
            page.wait_for_selector("#operations-default-invocations")
            yield Page(page, requests)
        finally:
            context.close()
    assert requests, "the page made no request at all"
    off = [url for url in requests if not local(url)]
    assert not off and not elsewhere, f"requests off 127.0.0.1: {off or elsewhere}"


def test_docs_page_lists_both_protocols(docs: Page) -> None:
    ids = set(docs.page.locator(".opblock").evaluate_all("nodes => nodes.map(n => n.id)"))
    assert {
        "operations-default-invocations",
        "operations-default-ping",
        "operations-default-metrics",
        "operations-V2-v2_server",
        "operations-V2-v2_model",
        "operations-V2-v2_model_ready",
        "operations-V2-v2_infer",
        "operations-V2-v2_infer_version",
    } <= ids
    assert any(url.endswith("/openapi.json") for url in docs.requests)
    assert any("/docs/assets/swagger-ui-bundle.js" in url for url in docs.requests)


def test_try_it_out_on_invocations_shows_the_predictions(docs: Page, model: Path) -> None:
    expected = flavorkit.load_model(model).predict(linear_example()).tolist()
    block = docs.operation("operations-default-invocations")
    # the request body is the model's saved serving example
    sent = json.loads(block.locator("textarea.body-param__text").input_value())
    assert sent == json.loads((model / "serving_input_example.json").read_text())
    status, body = docs.execute(block)
    assert status == 200 and body == {"predictions": expected}
    assert any(url.endswith("/invocations") for url in docs.requests)


def test_try_it_out_on_v2_infer_shows_the_outputs(docs: Page, model: Path) -> None:
    expected = flavorkit.load_model(model).predict(linear_example()).tolist()
    block = docs.operation("operations-V2-v2_infer")
    # the path parameter offers the served model's name
    assert block.locator("tr[data-param-name='model_name'] select").input_value() == "linear"
    status, body = docs.execute(block)
    assert status == 200
    assert body == {
        "model_name": "linear",
        "model_version": "1",
        "outputs": [{"name": "output-0", "datatype": "FP64", "shape": [2, 1], "data": expected}],
    }
    assert any(url.endswith("/v2/models/linear/infer") for url in docs.requests)


def test_try_it_out_on_v2_infer_shows_an_error_for_an_edited_body(docs: Page) -> None:
    block = docs.operation("operations-V2-v2_infer")
    bad = {"inputs": [{"name": "a", "shape": [1, 1], "datatype": "FP64", "data": [1.0]}]}
    block.locator("textarea.body-param__text").fill(json.dumps(bad))
    status, body = docs.execute(block)
    assert status == 400
    assert list(body) == ["error"] and "'b'" in body["error"]
