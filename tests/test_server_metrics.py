"""``GET /metrics``: Prometheus text, scraped while ``flavorkit serve`` is under load.

The counters must match exactly what the test sent, by endpoint and status,
with one worker (in-process registry) and with two (every worker's files
summed, whichever worker answers the scrape).
"""

from __future__ import annotations

import json
import os
import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from _serving_models import Server, save_linear, start_server

pytest.importorskip("prometheus_client", reason="prometheus_client (the serve extra) is missing")

from prometheus_client.parser import text_string_to_metric_families

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]

JSON = {"Content-Type": "application/json"}
GOOD_SPLIT = {"dataframe_split": {"columns": ["a", "b"], "data": [[1.0, 2]]}}
BAD_SPLIT = {"dataframe_split": {"columns": ["a", "b"], "data": [[1.0, 2.5]]}}  # b is long
FAILING = {"dataframe_split": {"columns": ["a", "b"], "data": [[-1.0, 2]]}}  # the model raises
V2_GOOD = {
    "inputs": [
        {"name": "a", "shape": [1, 1], "datatype": "FP64", "data": [1.0]},
        {"name": "b", "shape": [1, 1], "datatype": "INT64", "data": [2]},
    ]
}


def scrape(server: Server) -> Samples:
    answer = httpx.get(f"{server.url}/metrics", timeout=30)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain")
    out: Samples = {}
    for family in text_string_to_metric_families(answer.text):
        for sample in family.samples:
            out[sample.name, tuple(sorted(sample.labels.items()))] = sample.value
    return out


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def requests_by(samples: Samples) -> Counter[tuple[str, str]]:
    """``flavorkit_requests_total`` by (endpoint, status), /metrics itself left out."""
    out: Counter[tuple[str, str]] = Counter()
    for (name, labels), v in samples.items():
        found = dict(labels)
        if name == "flavorkit_requests_total" and found["endpoint"] != "/metrics":
            out[found["endpoint"], found["status"]] = int(v)
    return out


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_linear(tmp_path_factory.mktemp("metrics") / "linear")


@pytest.fixture(scope="module")
def one_worker(model: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = start_server(model, log_dir=tmp_path_factory.mktemp("logs1"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def multiproc_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("prometheus")


@pytest.fixture(scope="module")
def two_workers(
    model: Path, multiproc_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    server = start_server(
        model,
        "--workers",
        "2",
        log_dir=tmp_path_factory.mktemp("logs2"),
        env={"PROMETHEUS_MULTIPROC_DIR": str(multiproc_dir)},
    )
    yield server
    server.stop()


def _send(client: httpx.Client, kind: str) -> int:
    if kind == "split":
        return client.post("/invocations", json=GOOD_SPLIT).status_code
    if kind == "bad":
        return client.post("/invocations", json=BAD_SPLIT).status_code
    if kind == "failing":
        return client.post("/invocations", json=FAILING).status_code
    if kind == "v2":
        return client.post("/v2/models/linear/infer", json=V2_GOOD).status_code
    if kind == "v2-unknown":
        return client.post("/v2/models/nope/infer", json=V2_GOOD).status_code
    if kind == "stray":
        return client.get("/no/such/path").status_code
    raise AssertionError(kind)


PLAN = {"split": 60, "bad": 12, "failing": 6, "v2": 60, "v2-unknown": 9, "stray": 3}
EXPECTED = {
    "split": ("/invocations", "200"),
    "bad": ("/invocations", "400"),
    "failing": ("/invocations", "500"),
    "v2": ("/v2/models/{name}/infer", "200"),
    "v2-unknown": ("/v2/models/{name}/infer", "404"),
    "stray": ("other", "404"),
}
PREDICTED = PLAN["split"] + PLAN["failing"] + PLAN["v2"]  # refused requests never queue


def _load(server: Server) -> tuple[Counter[str], list[Samples]]:
    """Send PLAN from 8 threads while another thread scrapes; returns statuses and scrapes."""
    jobs = [kind for kind, n in PLAN.items() for _ in range(n)]
    jobs = jobs[::2] + jobs[1::2]  # interleave the kinds
    done = threading.Event()
    scrapes: list[Samples] = []

    def scraper() -> None:
        while not done.is_set():
            scrapes.append(scrape(server))

    def worker(chunk: list[str]) -> list[tuple[str, int]]:
        with httpx.Client(base_url=server.url, timeout=60, headers=JSON) as client:
            return [(kind, _send(client, kind)) for kind in chunk]

    watcher = threading.Thread(target=scraper)
    watcher.start()
    try:
        with ThreadPoolExecutor(8) as pool:
            results = [r for part in pool.map(worker, [jobs[i::8] for i in range(8)]) for r in part]
    finally:
        done.set()
        watcher.join()
    statuses: Counter[str] = Counter()
    for kind, status in results:
        assert str(status) == EXPECTED[kind][1], (kind, status)
        statuses[kind] += 1
    return statuses, scrapes


def _check_counts(before: Samples, after: Samples, scrapes: list[Samples]) -> None:
    sent = Counter({EXPECTED[kind]: n for kind, n in PLAN.items()})
    got = requests_by(after)
    got.subtract(requests_by(before))
    assert +got == sent
    # scrapes during the load saw each counter grow from its start to its end, never back
    assert scrapes, "no scrape finished while the load ran"
    series = [requests_by(s) for s in (before, *scrapes, after)]
    for key in sent:
        seen = [counts[key] for counts in series]
        assert seen == sorted(seen), key
    # one latency observation per request, per endpoint
    for endpoint in ("/invocations", "/v2/models/{name}/infer", "other"):
        n = sum(v for (e, _), v in sent.items() if e == endpoint)
        delta = value(after, "flavorkit_request_duration_seconds_count", endpoint=endpoint)
        delta -= value(before, "flavorkit_request_duration_seconds_count", endpoint=endpoint)
        assert delta == n, endpoint
    # every queued request went through exactly one predict call and waited in the queue once
    for name in ("flavorkit_batch_requests_sum", "flavorkit_queue_duration_seconds_count"):
        assert value(after, name) - value(before, name) == PREDICTED, name
    assert value(after, "flavorkit_batch_rows_sum") - value(before, "flavorkit_batch_rows_sum") == (
        PREDICTED
    )
    calls = value(after, "flavorkit_batch_requests_count") - value(
        before, "flavorkit_batch_requests_count"
    )
    assert 1 <= calls <= PREDICTED
    assert (
        value(after, "flavorkit_predict_duration_seconds_count")
        - value(before, "flavorkit_predict_duration_seconds_count")
        == calls
    )
    assert value(after, "flavorkit_pending_requests") == 0
    assert value(after, "flavorkit_model_load_seconds") > 0


def test_metrics_count_every_request_under_load_one_worker(one_worker: Server) -> None:
    before = scrape(one_worker)
    _, scrapes = _load(one_worker)
    _check_counts(before, scrape(one_worker), scrapes)


def test_metrics_count_every_request_under_load_two_workers(
    two_workers: Server, multiproc_dir: Path
) -> None:
    before = scrape(two_workers)
    _, scrapes = _load(two_workers)
    _check_counts(before, scrape(two_workers), scrapes)
    # both workers recorded (each set its load time at startup) into the shared folder
    pids = {f.stem.rsplit("_", 1)[-1] for f in multiproc_dir.glob("gauge_max_*.db")}
    assert len(pids) == 2
    assert any(multiproc_dir.glob("counter_*.db")) and any(multiproc_dir.glob("histogram_*.db"))


def test_metrics_show_v2_and_split_requests_joined_in_one_batch(
    one_worker: Server, tmp_path: Path
) -> None:
    hold = tmp_path / "release"
    held_body = {**GOOD_SPLIT, "params": {"hold": str(hold)}}
    before = scrape(one_worker)
    with ThreadPoolExecutor(7) as pool:
        held = pool.submit(httpx.post, f"{one_worker.url}/invocations", json=held_body, timeout=60)
        started = hold.with_suffix(".started")
        _wait(lambda: started.exists() or held.done(), "the held request to start predicting")
        assert not held.done(), held.result().text
        # the predict thread is busy: these queue up, then go as one batch
        v2 = [
            pool.submit(
                httpx.post, f"{one_worker.url}/v2/models/linear/infer", json=V2_GOOD, timeout=60
            )
            for _ in range(3)
        ]
        split = [
            pool.submit(httpx.post, f"{one_worker.url}/invocations", json=GOOD_SPLIT, timeout=60)
            for _ in range(3)
        ]
        _wait(
            lambda: value(scrape(one_worker), "flavorkit_pending_requests") == 7,
            "7 pending requests",
        )
        hold.touch()
        assert held.result().json() == {"predictions": [4.0]}
        for future in v2:
            assert future.result().json()["outputs"][0]["data"] == [4.0]
        for future in split:
            assert future.result().json() == {"predictions": [4.0]}
    after = scrape(one_worker)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("flavorkit_batch_requests_count") == 2  # the held request, then the six
    assert delta("flavorkit_batch_requests_sum") == 7
    assert delta("flavorkit_batch_requests_bucket", le="1.0") == 1
    assert delta("flavorkit_batch_requests_bucket", le="4.0") == 1
    assert delta("flavorkit_batch_requests_bucket", le="8.0") == 2
    assert delta("flavorkit_batch_rows_sum") == 7


def _wait(condition: Any, what: str, timeout: float = 30.0) -> None:
    """Poll ``condition`` until true (a bounded wait for a state, not a timing assumption)."""
    import time

    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"waited {timeout} s for {what}")
        time.sleep(0.01)


def test_metrics_text_describes_each_metric(one_worker: Server) -> None:
    text = httpx.get(f"{one_worker.url}/metrics", timeout=10).text
    for name, kind in (
        ("flavorkit_requests_total", "counter"),
        ("flavorkit_request_duration_seconds", "histogram"),
        ("flavorkit_batch_requests", "histogram"),
        ("flavorkit_batch_rows", "histogram"),
        ("flavorkit_queue_duration_seconds", "histogram"),
        ("flavorkit_predict_duration_seconds", "histogram"),
        ("flavorkit_pending_requests", "gauge"),
        ("flavorkit_model_load_seconds", "gauge"),
    ):
        base = name.removesuffix("_total")
        assert f"# TYPE {base} {kind}" in text or f"# TYPE {name} {kind}" in text, name
        assert f"# HELP {base} " in text or f"# HELP {name} " in text, name


def test_metrics_can_be_turned_off(model: Path) -> None:
    from flavorkit.server import ServerConfig, create_app
    from starlette.testclient import TestClient

    app = create_app(ServerConfig(model_uri=str(model), metrics=False))
    with TestClient(app) as client:
        answer = client.get("/metrics")
        assert answer.status_code == 501
        assert answer.json() == {
            "error_code": "NOT_IMPLEMENTED",
            "message": "metrics are off in this server's config",
        }
        assert client.post("/invocations", json=GOOD_SPLIT).json() == {"predictions": [4.0]}
        assert "/metrics" not in json.loads(client.get("/openapi.json").text)["paths"]


def test_metrics_endpoint_labels_are_route_templates() -> None:
    from flavorkit.server._metrics import endpoint_of

    assert endpoint_of("/invocations") == "/invocations"
    assert endpoint_of("/v2/models/anything/infer") == "/v2/models/{name}/infer"
    assert (
        endpoint_of("/v2/models/a/versions/9/infer") == "/v2/models/{name}/versions/{version}/infer"
    )
    assert (
        endpoint_of("/v2/models/a/versions/9/ready") == "/v2/models/{name}/versions/{version}/ready"
    )
    assert endpoint_of("/v2/models/a") == "/v2/models/{name}"
    assert endpoint_of("/docs/assets/swagger-ui.css") == "/docs/assets"
    assert endpoint_of("/" + "x" * 500) == "other"


def test_two_workers_share_a_temporary_metrics_folder_removed_at_exit(
    model: Path, tmp_path: Path
) -> None:
    temp = tmp_path / "tmp"
    temp.mkdir()
    assert "PROMETHEUS_MULTIPROC_DIR" not in os.environ  # the server makes its own folder
    server = start_server(model, "--workers", "2", log_dir=tmp_path, env={"TMPDIR": str(temp)})
    try:
        folders = list(temp.glob("flavorkit-metrics-*"))
        assert len(folders) == 1
        with httpx.Client(base_url=server.url, timeout=30, headers=JSON) as client:
            for _ in range(10):
                assert client.post("/invocations", json=GOOD_SPLIT).status_code == 200
        samples = scrape(server)
        assert requests_by(samples)["/invocations", "200"] == 10
        assert any(folders[0].glob("counter_*.db"))
    finally:
        assert server.stop() == 0
    assert not folders[0].exists()
