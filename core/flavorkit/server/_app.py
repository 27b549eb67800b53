"""The ASGI application: MLflow's scoring protocol and the Open Inference Protocol on Starlette.

Routes: ``GET /ping``, ``/health``, ``/version``, ``/model``, ``/openapi.json``, ``/docs``,
``/metrics`` and ``POST /invocations``; the V2 protocol's ``GET /v2``,
``/v2/health/live``, ``/v2/health/ready``, ``/v2/models/{name}[/versions/{v}]``,
``.../ready`` and ``POST .../infer`` (see :mod:`flavorkit.server._v2`). The
model is loaded and self-tested in the lifespan startup, so the server
accepts no request before the model has predicted on its own input example.
Both protocols' requests go through the same parsing, enforcement and
micro-batcher.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
import sys
import time
import traceback
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Mount, Route

from flavorkit.exceptions import PayloadError, SchemaEnforcementError
from flavorkit.io import PayloadTooLargeError
from flavorkit.server._batching import MicroBatcher
from flavorkit.server._config import ServerConfig
from flavorkit.server._scorer import CSV, JSON, PARQUET, Scorer
from flavorkit.server._v2 import HEADER_LENGTH, BinaryAnswer

if TYPE_CHECKING:
    from flavorkit.io import Parsed
    from flavorkit.server._metrics import Metrics
    from flavorkit.server._v2 import V2Model

log = logging.getLogger("flavorkit.server")

MEDIA_TYPES = {
    "application/json": JSON,
    "text/csv": CSV,
    "application/vnd.apache.parquet": PARQUET,
}
# bodies larger than this are parsed off the event loop, so they do not stall other requests
_PARSE_INLINE_BYTES = 256 * 1024
# after a body this large, memory the allocators keep is handed back to the system
_RELEASE_AFTER_BYTES = 1024 * 1024
# the longest a refused request waits for the batch in flight before it is answered
_REFUSAL_TURN_S = 0.1
_JSON = "application/json"


class _HTTPError(Exception):
    def __init__(self, status: int, code: str, message: str, *, close: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        # the body was not read to its end: answer, then close the connection
        self.close = close


class _ClientGone(Exception):
    """The client closed the connection before its body arrived."""


def error_response(
    status: int,
    code: str,
    message: str,
    exc: BaseException | None = None,
    *,
    debug: bool = False,
    close: bool = False,
) -> Response:
    """A JSON error body ``{"error_code", "message"}``; ``stack_trace`` only in debug mode.

    ``close`` adds ``Connection: close``, so uvicorn closes the connection after the
    answer (for a body left unread: what follows on the connection is not a request).
    """
    body: dict[str, Any] = {"error_code": code, "message": message}
    if debug and exc is not None:
        body["stack_trace"] = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    headers = {"Connection": "close"} if close else None
    return Response(json.dumps(body), status_code=status, media_type=_JSON, headers=headers)


def media_kind(header: str | None) -> str:
    """The payload kind (json, csv, parquet) of a Content-Type header; raises a 415 error.

    Only ``charset=utf-8`` is accepted as a parameter, as in MLflow.
    """
    if not header:
        raise _HTTPError(415, "UNSUPPORTED_MEDIA_TYPE", _unsupported("no Content-Type header"))
    mime, *params = (part.strip() for part in header.split(";"))
    kind = MEDIA_TYPES.get(mime.lower())
    if kind is None:
        raise _HTTPError(
            415, "UNSUPPORTED_MEDIA_TYPE", _unsupported(f"content type {mime[:100]!r}")
        )
    for param in params:
        name, _, value = param.partition("=")
        if name.strip().lower() != "charset" or value.strip().strip('"').lower() not in (
            "utf-8",
            "utf8",
        ):
            raise _HTTPError(
                415,
                "UNSUPPORTED_MEDIA_TYPE",
                f"unsupported content type parameter {param[:100]!r}; "
                "only charset=utf-8 is accepted",
            )
    return kind


def _unsupported(what: str) -> str:
    return f"unsupported {what}; send one of {', '.join(MEDIA_TYPES)}"


async def _read_body(request: Request, limit: int, timeout_s: float) -> bytes:
    """The request body: 413 over ``limit`` bytes, 408 when it takes over ``timeout_s``.

    Raises ``_ClientGone`` when the client disconnects first.
    """
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > limit:
        raise _too_large(limit)
    try:
        if sys.version_info >= (3, 11):
            async with asyncio.timeout(timeout_s):
                return await _receive_body(request, limit)
        return await asyncio.wait_for(_receive_body(request, limit), timeout_s)
    except (asyncio.TimeoutError, TimeoutError):
        raise _HTTPError(
            408,
            "REQUEST_TIMEOUT",
            f"the body did not arrive within the server's limit of {timeout_s:g} s",
            close=True,
        ) from None


async def _receive_body(request: Request, limit: int) -> bytes:
    receive = request.receive
    chunks = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _ClientGone()
        chunk = message.get("body", b"")
        if chunk:
            size += len(chunk)
            if size > limit:
                raise _too_large(limit)
            chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _too_large(limit: int) -> _HTTPError:
    return _HTTPError(
        413,
        "PAYLOAD_TOO_LARGE",
        f"the body is larger than the server's limit of {limit} bytes",
        close=True,
    )


class _MemoryRelease:
    """Hand freed memory back to the system after big bodies, at most once a second.

    Decoding a big body (or refusing it after parsing) frees what it allocated,
    but glibc's malloc and Arrow's memory pool keep the pages for reuse, so
    the server's RSS would stay at its high-water mark. ``malloc_trim`` and
    Arrow's ``release_unused`` return them; both are cheap next to the decoding.
    """

    INTERVAL_S = 1.0

    def __init__(self) -> None:
        self._last = 0.0
        self._scheduled = False
        self._trim = _malloc_trim()

    def release_soon(self) -> None:
        """Release now, or a second after the last release (one is scheduled at a time)."""
        if self._scheduled:
            return
        self._scheduled = True
        loop = asyncio.get_running_loop()
        delay = max(0.0, self._last + self.INTERVAL_S - time.monotonic())
        loop.call_later(delay, loop.run_in_executor, None, self._release)

    def _release(self) -> None:
        try:
            arrow = sys.modules.get("pyarrow")
            if arrow is not None:
                arrow.default_memory_pool().release_unused()
            if self._trim is not None:
                self._trim(0)
        finally:
            self._last = time.monotonic()
            self._scheduled = False


def _malloc_trim() -> Any:
    """glibc's ``malloc_trim``, or None on other C libraries and systems."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        return ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return None


def v2_error_response(status: int, message: str, *, close: bool = False) -> Response:
    """The V2 protocol's error body ``{"error": message}``."""
    headers = {"Connection": "close"} if close else None
    return Response(
        json.dumps({"error": message}), status_code=status, media_type=_JSON, headers=headers
    )


def _header_length(request: Request) -> int | None:
    """Triton's ``Inference-Header-Content-Length``: the JSON part's length, binary data after."""
    value = request.headers.get(HEADER_LENGTH)
    if value is None:
        return None
    # isascii: str.isdigit also accepts "²" and other digits int() refuses
    if not (value.isascii() and value.isdigit()) or len(value) > 12:
        raise _HTTPError(
            400,
            "BAD_REQUEST",
            f"the {HEADER_LENGTH} header must be the JSON part's length in bytes, "
            f"got {value[:30]!r}",
        )
    return int(value)


class ScoringApp:
    """The state behind the routes: config, scorer, batcher, and the cached OpenAPI document."""

    def __init__(
        self, config: ServerConfig, scorer: Scorer | None = None, *, tune: bool = False
    ) -> None:
        from flavorkit.server import _metrics

        self.config = config
        self.scorer = scorer
        self.tune = tune
        self.batcher: MicroBatcher | None = None
        self.openapi: bytes | None = None
        self.v2: V2Model | None = None
        self.metrics: Metrics | None = (
            _metrics.create() if config.metrics and _metrics.available() else None
        )
        # one thread: a model is never called from two threads at once
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="flavorkit-predict")
        self.memory = _MemoryRelease()

    def load(self) -> None:
        """Load the model and run the self-test (blocking; raises on failure)."""
        from flavorkit import __version__
        from flavorkit.api import load_model
        from flavorkit.server._openapi import openapi_document
        from flavorkit.server._v2 import V2Model

        start = time.perf_counter()
        if self.scorer is None:
            model = load_model(
                self.config.model_uri,
                allow_unsafe=self.config.allow_unsafe,
                model_config=self.config.model_config or None,
            )
            self.scorer = Scorer(model)
        self.scorer.max_rows = self.config.max_request_rows
        self.scorer.max_cells = self.config.max_request_cells
        summary = self.scorer.self_test()
        model = self.scorer.model
        seconds = time.perf_counter() - start
        log.info("loaded %s (flavor %s) in %.2f s; %s", model.path, model.flavor, seconds, summary)
        cfg = self.config
        registered = cfg.registered or {}
        name = cfg.name or registered.get("name") or model.path.name
        version = str(registered["version"]) if registered.get("version") is not None else "1"
        self.v2 = V2Model.of(model, str(name), version)
        self.openapi = json.dumps(
            openapi_document(model, __version__, v2=self.v2, metrics=self.metrics is not None)
        ).encode()
        if self.metrics is not None:
            self.metrics.set_load_seconds(seconds)

    @contextlib.asynccontextmanager
    async def lifespan(self, app: Starlette) -> AsyncIterator[None]:
        """Load and self-test before serving; on shutdown finish queued work first."""
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self.executor, self.load)
        assert self.scorer is not None
        if self.tune:
            # A full collection walks every object the frameworks created at import and load
            # (hundreds of thousands: ~0.2 s for scikit-learn with skops); frozen, they are
            # never scanned again, so no request waits behind such a pause.
            gc.collect()
            gc.freeze()
        cfg = self.config
        self.batcher = MicroBatcher(
            self.scorer,
            self.executor,
            max_rows=cfg.max_batch_size,
            max_delay_s=cfg.max_batch_delay_ms / 1000,
            observe=self.metrics.batch if self.metrics is not None else None,
        )
        if self.metrics is not None:
            self.batcher.track = self.metrics.watch(self.batcher)
        self.batcher.start()
        if self.scorer.batchable and cfg.max_batch_size > 1:
            log.info(
                "micro-batching on: up to %d rows, %.1f ms wait",
                cfg.max_batch_size,
                cfg.max_batch_delay_ms,
            )
        try:
            yield
        finally:
            await self.batcher.close()
            if self.batcher.batches:
                log.info(
                    "served %d requests in %d joined batches",
                    self.batcher.batched_requests,
                    self.batcher.batches,
                )
            self.executor.shutdown(wait=True)

    # -- routes --------------------------------------------------------------
    async def ping(self, request: Request) -> Response:
        return Response("\n", media_type=_JSON)

    async def version(self, request: Request) -> Response:
        from flavorkit import __version__

        return Response(__version__, media_type="text/plain")

    async def model_info(self, request: Request) -> Response:
        """What is served: the URI asked for, the folder, the flavor, the registered version."""
        assert self.scorer is not None
        model = self.scorer.model
        cfg = self.config
        body = {
            "uri": cfg.source_uri or cfg.model_uri,
            "path": str(model.path),
            "flavor": model.flavor,
            "registered": cfg.registered,
        }
        return Response(json.dumps(body).encode(), media_type=_JSON)

    async def openapi_json(self, request: Request) -> Response:
        return Response(self.openapi, media_type=_JSON)

    async def docs(self, request: Request) -> Response:
        from flavorkit.server._openapi import swagger_html

        return HTMLResponse(swagger_html())

    async def invocations(self, request: Request) -> Response:
        return await self._scored(request, self._invocations_parser, self._error)

    def _invocations_parser(self, request: Request) -> Callable[[bytes], Parsed]:
        kind = media_kind(request.headers.get("content-type"))
        prepare = self.scorer.prepare  # type: ignore[union-attr]
        return lambda body: prepare(body, kind)

    async def _scored(
        self,
        request: Request,
        parser: Callable[[Request], Callable[[bytes], Parsed]],
        error: Callable[[Exception], Response],
    ) -> Response:
        """Read, parse, queue and answer one scoring request (either protocol).

        ``parser`` checks the request's headers and gives the function that
        parses and validates its body; ``error`` answers an exception.
        """
        cfg = self.config
        batcher = self.batcher
        assert batcher is not None
        body = b""
        queued = False
        try:
            prepare = parser(request)
            body = await _read_body(request, cfg.max_body_bytes, cfg.body_timeout_s)
            # counted from here, not while the body arrives: a client that sends slowly
            # (or never finishes) must not make every batch wait for it
            batcher.arriving += 1
            try:
                # parsed and validated here, so a bad request is answered alone and never
                # joins (and spoils) a micro-batch of good ones
                if len(body) > _PARSE_INLINE_BYTES:
                    parsed = await asyncio.get_running_loop().run_in_executor(None, prepare, body)
                else:
                    parsed = prepare(body)
            finally:
                batcher.arriving -= 1
            queued = True
            out = await asyncio.wait_for(batcher.enqueue(parsed), cfg.request_timeout_s)
        except _ClientGone:
            log.debug("client disconnected before sending the whole body")
            return Response(status_code=400)  # nobody is there to read it
        except (_HTTPError, PayloadError, SchemaEnforcementError) as exc:
            if not queued and not (isinstance(exc, _HTTPError) and exc.status == 408):
                # refused before predicting: answered in turn with the batch in flight, so
                # a client looping on bad requests gets no more of the server than others
                await batcher.wait_turn(_REFUSAL_TURN_S)
            return error(exc)
        except Exception as exc:
            return error(exc)
        finally:
            if len(body) >= _RELEASE_AFTER_BYTES:
                self.memory.release_soon()
        if type(out) is not bytes and isinstance(out, BinaryAnswer):
            # Triton's binary tensor data after the JSON part
            headers = {"Inference-Header-Content-Length": str(out.header_length)}
            return Response(out, media_type="application/octet-stream", headers=headers)
        return Response(out, media_type=_JSON)

    # -- the Open Inference Protocol (V2) --------------------------------------
    async def v2_server(self, request: Request) -> Response:
        from flavorkit import __version__

        body = {"name": "flavorkit", "version": __version__, "extensions": []}
        return Response(json.dumps(body), media_type=_JSON)

    async def v2_health(self, request: Request) -> Response:
        # the app answers only once the model has loaded and passed its self-test
        return Response(status_code=200)

    def _v2_model(self, request: Request) -> V2Model:
        """The served model when the path names it (and its version); a 404 error otherwise."""
        v2 = self.v2
        assert v2 is not None
        name = request.path_params["model_name"]
        version = request.path_params.get("version")
        if name != v2.name:
            raise _HTTPError(
                404,
                "RESOURCE_DOES_NOT_EXIST",
                f"unknown model {name[:100]!r}: this server serves the model {v2.name!r}",
            )
        if version is not None and version != v2.version:
            raise _HTTPError(
                404,
                "RESOURCE_DOES_NOT_EXIST",
                f"model {v2.name!r} has no version {version[:50]!r}: this server serves "
                f"version {v2.version!r}",
            )
        return v2

    async def v2_model_metadata(self, request: Request) -> Response:
        try:
            v2 = self._v2_model(request)
        except _HTTPError as exc:
            return self._v2_error(exc)
        return Response(json.dumps(v2.metadata()), media_type=_JSON)

    async def v2_model_ready(self, request: Request) -> Response:
        try:
            self._v2_model(request)
        except _HTTPError as exc:
            return self._v2_error(exc)
        return Response(status_code=200)

    async def v2_infer(self, request: Request) -> Response:
        return await self._scored(request, self._v2_parser, self._v2_error)

    def _v2_parser(self, request: Request) -> Callable[[bytes], Parsed]:
        v2 = self._v2_model(request)
        length = _header_length(request)
        prepare = self.scorer.prepare_v2  # type: ignore[union-attr]
        return lambda body: prepare(body, length, v2)

    def _v2_error(self, exc: Exception) -> Response:
        status, _, message, close = self._error_parts(exc)
        return v2_error_response(status, message, close=close)

    # -- metrics -------------------------------------------------------------
    async def metrics_text(self, request: Request) -> Response:
        from flavorkit.server._metrics import CONTENT_TYPE

        metrics = self.metrics
        if metrics is None:
            why = (
                "metrics are off in this server's config"
                if not self.config.metrics
                else "prometheus_client is not installed: pip install 'flavorkit[serve]'"
            )
            return error_response(501, "NOT_IMPLEMENTED", why)
        if metrics.multiprocess:  # reads every worker's files
            text = await asyncio.get_running_loop().run_in_executor(None, metrics.render)
        else:
            text = metrics.render()
        return Response(text, media_type=CONTENT_TYPE)

    def _error(self, exc: Exception) -> Response:
        status, code, message, close = self._error_parts(exc)
        if isinstance(exc, _HTTPError):
            return error_response(status, code, message, close=close)
        return error_response(status, code, message, exc, debug=self.config.debug)

    def _error_parts(self, exc: Exception) -> tuple[int, str, str, bool]:
        """(status, error code, message, close the connection) for an exception."""
        if isinstance(exc, _HTTPError):
            return exc.status, exc.code, str(exc), exc.close
        if isinstance(exc, PayloadTooLargeError):
            return 413, "PAYLOAD_TOO_LARGE", str(exc), False
        if isinstance(exc, PayloadError):
            return 400, "BAD_REQUEST", str(exc), False
        if isinstance(exc, SchemaEnforcementError):
            return 400, "INVALID_PARAMETER_VALUE", str(exc), False
        if isinstance(exc, asyncio.TimeoutError):
            message = f"no prediction within {self.config.request_timeout_s:g} s"
            return 504, "DEADLINE_EXCEEDED", message, False
        log.error("prediction failed", exc_info=exc)
        message = f"the model failed to predict ({type(exc).__name__})"
        if self.config.debug:
            message += f": {exc}"
        else:
            message += "; the server log has the details"
        return 500, "INTERNAL_ERROR", message, False


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = {404: "RESOURCE_DOES_NOT_EXIST", 405: "METHOD_NOT_ALLOWED"}.get(
        exc.status_code, "BAD_REQUEST"
    )
    path = request.url.path
    shown = path if len(path) <= 100 else path[:100] + "..."
    message = f"{request.method[:20]} {shown}: {exc.detail}"
    if path == "/v2" or path.startswith("/v2/"):
        return v2_error_response(exc.status_code, message)
    return error_response(exc.status_code, code, message)


def create_app(
    config: ServerConfig, scorer: Scorer | None = None, *, tune: bool = False
) -> Starlette:
    """The Starlette app serving ``config.model_uri`` (or an already loaded ``scorer``).

    ``tune`` is for a process that does nothing but serve (``flavorkit serve``):
    after loading, the objects alive are frozen out of the garbage collector's scans.
    """
    from starlette.staticfiles import StaticFiles

    from flavorkit.server._openapi import swagger_assets

    state = ScoringApp(config, scorer, tune=tune)
    model = "/v2/models/{model_name}"
    versioned = model + "/versions/{version}"
    # matched in order: the scoring routes first
    routes = [
        Route("/invocations", state.invocations, methods=["POST"]),
        Route(model + "/infer", state.v2_infer, methods=["POST"]),
        Route("/ping", state.ping, methods=["GET"]),
        Route("/health", state.ping, methods=["GET"]),
        Route("/version", state.version, methods=["GET"]),
        Route("/model", state.model_info, methods=["GET"]),
        Route("/openapi.json", state.openapi_json, methods=["GET"]),
        Route("/docs", state.docs, methods=["GET"]),
        Mount("/docs/assets", StaticFiles(directory=swagger_assets()), name="swagger-assets"),
        Route("/metrics", state.metrics_text, methods=["GET"]),
        Route("/v2", state.v2_server, methods=["GET"]),
        Route("/v2/health/live", state.v2_health, methods=["GET"]),
        Route("/v2/health/ready", state.v2_health, methods=["GET"]),
        Route(model, state.v2_model_metadata, methods=["GET"]),
        Route(versioned, state.v2_model_metadata, methods=["GET"]),
        Route(model + "/ready", state.v2_model_ready, methods=["GET"]),
        Route(versioned + "/ready", state.v2_model_ready, methods=["GET"]),
        Route(versioned + "/infer", state.v2_infer, methods=["POST"]),
    ]
    middleware = []
    if state.metrics is not None:
        from starlette.middleware import Middleware

        from flavorkit.server._metrics import MetricsMiddleware

        middleware.append(Middleware(MetricsMiddleware, metrics=state.metrics))
    app = Starlette(
        routes=routes,
        lifespan=state.lifespan,
        exception_handlers={HTTPException: _http_error},
        middleware=middleware,
    )
    app.state.scoring = state
    return app


# How long a thread may hold the GIL before another waiting thread gets it. The
# event loop and the predict thread share it; Python's default (5 ms) makes each
# request wait for the other thread's slice, which shows in tail latency.
SWITCH_INTERVAL_S = 0.0005


def app_from_env() -> Starlette:
    """The app factory uvicorn workers import: reads ``FLAVORKIT_SERVER_CONFIG``.

    Runs in each worker process of ``flavorkit serve``, so it also tunes the
    process for serving (the GIL hand-over interval).
    """
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    return create_app(ServerConfig.from_env(), tune=True)
