"""``GET /metrics``: the server's counters and histograms in Prometheus's text format.

Exposed with the official client (``prometheus_client``, in the ``serve``
extra), as Triton and MLServer expose theirs:

- ``flavorkit_requests_total{endpoint, status}``: answered requests, by route
  template (``/invocations``, ``/v2/models/{name}/infer`` ...; anything else
  is ``other``) and HTTP status;
- ``flavorkit_request_duration_seconds{endpoint}``: from the request's
  headers to the end of its answer;
- ``flavorkit_batch_requests`` and ``flavorkit_batch_rows``: requests and
  rows per predict call (micro-batch sizes);
- ``flavorkit_queue_duration_seconds``: how long each request waited for its
  predict call; ``flavorkit_predict_duration_seconds``: how long the calls took;
- ``flavorkit_pending_requests``: requests queued for or in a predict call;
- ``flavorkit_model_load_seconds``: loading and self-testing the model.

Requests uvicorn refuses before the app sees them (503 past
``max_connections``) are not counted.

With one worker the counts are plain numbers the event loop updates
(about 2 µs per request), turned into prometheus_client's families when
scraped. With several workers every process records into files under
``PROMETHEUS_MULTIPROC_DIR`` (``flavorkit serve`` makes a fresh temporary
folder when the variable is not set) through prometheus_client's own
metrics, and ``/metrics`` sums them, whichever worker answers; the load
time is the largest of the workers'.
"""

from __future__ import annotations

import itertools
import logging
import os
import time
from bisect import bisect_left
from collections.abc import Callable, Iterator
from typing import Any

log = logging.getLogger("flavorkit.server")

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

_LATENCY_BUCKETS = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
)
_SIZE_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096, 16384, 65536)
_FIXED = (
    "/invocations",
    "/ping",
    "/health",
    "/version",
    "/model",
    "/openapi.json",
    "/docs",
    "/metrics",
    "/v2",
    "/v2/health/live",
    "/v2/health/ready",
)
ENDPOINTS = {path: path for path in _FIXED}


def endpoint_of(path: str) -> str:
    """The route template a request path belongs to (bounded: clients choose the paths)."""
    found = ENDPOINTS.get(path)
    if found is not None:
        return found
    if path.startswith("/v2/models/"):
        versioned = "/versions/" in path
        base = "/v2/models/{name}/versions/{version}" if versioned else "/v2/models/{name}"
        if path.endswith("/infer"):
            return base + "/infer"
        if path.endswith("/ready"):
            return base + "/ready"
        return base
    if path.startswith("/docs/"):
        return "/docs/assets"
    return "other"


def available() -> bool:
    """Whether ``prometheus_client`` can be imported."""
    import importlib.util

    return importlib.util.find_spec("prometheus_client") is not None


_DOCS = {
    "flavorkit_requests": "Requests answered, by endpoint and HTTP status",
    "flavorkit_request_duration_seconds": "Time from a request's headers to the end of its answer",
    "flavorkit_batch_requests": "Requests per predict call (micro-batch size)",
    "flavorkit_batch_rows": "Rows per predict call",
    "flavorkit_queue_duration_seconds": "Time a request waited in the queue for its predict call",
    "flavorkit_predict_duration_seconds": (
        "Time one predict call took (a micro-batch, or one request)"
    ),
    "flavorkit_pending_requests": "Requests queued for or in a predict call",
    "flavorkit_model_load_seconds": "Seconds loading and self-testing the model took",
}


def create() -> Metrics:
    """The metrics of one app: in-process, or in ``PROMETHEUS_MULTIPROC_DIR``'s files when set.

    One process (the default): plain counters and buckets the event loop
    updates (every request and batch is recorded there, so no lock is
    needed), turned into Prometheus families by a collector when scraped.
    Several workers (the variable set): prometheus_client's own metric
    objects, which write to memory-mapped files that every worker's
    ``/metrics`` sums.
    """
    return SharedMetrics() if os.environ.get(MULTIPROC_ENV) else LocalMetrics()


class _Histogram:
    """Buckets and a sum, updated from one thread; cumulative only when collected."""

    __slots__ = ("bounds", "counts", "total")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)  # the last one: above every bound (+Inf)
        self.total = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.bounds, value)] += 1
        self.total += value

    def family_sample(self) -> tuple[list[tuple[str, float]], float]:
        from prometheus_client.utils import floatToGoString

        cumulative = list(itertools.accumulate(self.counts))
        labels = [floatToGoString(b) for b in self.bounds] + ["+Inf"]
        return list(zip(labels, map(float, cumulative), strict=True)), self.total


class _BatchRecorder:
    """One predict call's figures, for both kinds of metrics (their histograms share names)."""

    batch_requests: Any
    batch_rows: Any
    queue: Any
    predict: Any

    def batch(self, requests: int, rows: int, waits: list[float], seconds: float) -> None:
        self.batch_requests.observe(requests)
        self.batch_rows.observe(rows)
        observe = self.queue.observe
        for wait in waits:
            observe(wait)
        self.predict.observe(seconds)


class LocalMetrics(_BatchRecorder):
    """One process: the event loop's own counters, exposed by a collector when scraped.

    ``request`` and ``batch`` record a request and a predict call;
    ``watch(batcher)`` makes the pending gauge read the batcher's count when
    scraped (it returns the callback a batcher must call instead, None here).
    """

    multiprocess = False

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry

        self.requests: dict[tuple[str, int], int] = {}
        self.latency: dict[str, _Histogram] = {}
        self.batch_requests = _Histogram(_SIZE_BUCKETS)
        self.batch_rows = _Histogram(_SIZE_BUCKETS)
        self.queue = _Histogram(_LATENCY_BUCKETS)
        self.predict = _Histogram(_LATENCY_BUCKETS)
        self.load_seconds = 0.0
        self.pending: Callable[[], int] = lambda: 0
        self.registry = CollectorRegistry()
        self.registry.register(self)

    def request(self, endpoint: str, status: int, seconds: float) -> None:
        key = (endpoint, status)
        self.requests[key] = self.requests.get(key, 0) + 1
        timer = self.latency.get(endpoint)
        if timer is None:
            timer = self.latency[endpoint] = _Histogram(_LATENCY_BUCKETS)
        timer.observe(seconds)

    def set_load_seconds(self, seconds: float) -> None:
        self.load_seconds = seconds

    def watch(self, batcher: Any) -> None:
        self.pending = lambda: batcher.pending

    def collect(self) -> Iterator[Any]:
        """The families, for prometheus_client's registry (its collector protocol)."""
        from prometheus_client.core import (
            CounterMetricFamily,
            GaugeMetricFamily,
            HistogramMetricFamily,
        )

        counter = CounterMetricFamily(
            "flavorkit_requests", _DOCS["flavorkit_requests"], labels=["endpoint", "status"]
        )
        for (endpoint, status), n in sorted(self.requests.items()):
            counter.add_metric([endpoint, str(status)], n)
        yield counter
        name = "flavorkit_request_duration_seconds"
        family = HistogramMetricFamily(name, _DOCS[name], labels=["endpoint"])
        for endpoint, histogram in sorted(self.latency.items()):
            family.add_metric([endpoint], *histogram.family_sample())
        yield family
        for name, histogram in (
            ("flavorkit_batch_requests", self.batch_requests),
            ("flavorkit_batch_rows", self.batch_rows),
            ("flavorkit_queue_duration_seconds", self.queue),
            ("flavorkit_predict_duration_seconds", self.predict),
        ):
            family = HistogramMetricFamily(name, _DOCS[name], labels=[])
            family.add_metric([], *histogram.family_sample())
            yield family
        for name, value in (
            ("flavorkit_pending_requests", float(self.pending())),
            ("flavorkit_model_load_seconds", self.load_seconds),
        ):
            yield GaugeMetricFamily(name, _DOCS[name], value=value)

    def render(self) -> bytes:
        from prometheus_client import generate_latest

        return generate_latest(self.registry)


class SharedMetrics(_BatchRecorder):
    """Several workers: prometheus_client's metrics, in PROMETHEUS_MULTIPROC_DIR's files.

    The same methods as :class:`LocalMetrics`; ``watch`` returns the gauge's
    setter, which the batcher calls as its count changes.
    """

    multiprocess = True

    def __init__(self) -> None:
        from prometheus_client import Counter, Gauge, Histogram

        def histogram(name: str, buckets: tuple[float, ...], labels: tuple[str, ...] = ()) -> Any:
            return Histogram(name, _DOCS[name], labels, buckets=buckets, registry=None)

        self.requests = Counter(
            "flavorkit_requests",
            _DOCS["flavorkit_requests"],
            ["endpoint", "status"],
            registry=None,
        )
        self.latency = histogram(
            "flavorkit_request_duration_seconds", _LATENCY_BUCKETS, ("endpoint",)
        )
        self.batch_requests = histogram("flavorkit_batch_requests", _SIZE_BUCKETS)
        self.batch_rows = histogram("flavorkit_batch_rows", _SIZE_BUCKETS)
        self.queue = histogram("flavorkit_queue_duration_seconds", _LATENCY_BUCKETS)
        self.predict = histogram("flavorkit_predict_duration_seconds", _LATENCY_BUCKETS)
        self.pending = Gauge(
            "flavorkit_pending_requests",
            _DOCS["flavorkit_pending_requests"],
            registry=None,
            multiprocess_mode="livesum",
        )
        self.load_seconds = Gauge(
            "flavorkit_model_load_seconds",
            _DOCS["flavorkit_model_load_seconds"],
            registry=None,
            multiprocess_mode="max",
        )
        # label children, looked up once: .labels() costs more than the observation
        self._counted: dict[tuple[str, int], Any] = {}
        self._timed: dict[str, Any] = {}

    def request(self, endpoint: str, status: int, seconds: float) -> None:
        counter = self._counted.get((endpoint, status))
        if counter is None:
            counter = self._counted[endpoint, status] = self.requests.labels(endpoint, str(status))
        counter.inc()
        timer = self._timed.get(endpoint)
        if timer is None:
            timer = self._timed[endpoint] = self.latency.labels(endpoint)
        timer.observe(seconds)

    def set_load_seconds(self, seconds: float) -> None:
        self.load_seconds.set(seconds)

    def watch(self, batcher: Any) -> Callable[[int], None]:
        return self.pending.set

    def render(self) -> bytes:
        from prometheus_client import CollectorRegistry, generate_latest
        from prometheus_client.multiprocess import MultiProcessCollector

        registry = CollectorRegistry()
        MultiProcessCollector(registry)
        return generate_latest(registry)


# what create() gives
Metrics = LocalMetrics | SharedMetrics


class MetricsMiddleware:
    """Pure ASGI middleware: counts and times every HTTP request the app answers."""

    def __init__(self, app: Any, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500  # the app raised before it answered

        async def send_status(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            self.metrics.request(endpoint_of(scope["path"]), status, time.perf_counter() - start)
