"""The ASGI application: MLflow's scoring protocol on Starlette.

Routes: ``GET /ping``, ``/health``, ``/version``, ``/model``, ``/openapi.json``, ``/docs``
and ``POST /invocations``. The model is loaded and self-tested in the
lifespan startup, so the server accepts no request before the model has
predicted on its own input example.
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
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

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


class ScoringApp:
    """The state behind the routes: config, scorer, batcher, and the cached OpenAPI document."""

    def __init__(
        self, config: ServerConfig, scorer: Scorer | None = None, *, tune: bool = False
    ) -> None:
        self.config = config
        self.scorer = scorer
        self.tune = tune
        self.batcher: MicroBatcher | None = None
        self.openapi: bytes | None = None
        # one thread: a model is never called from two threads at once
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="flavorkit-predict")
        self.memory = _MemoryRelease()

    def load(self) -> None:
        """Load the model and run the self-test (blocking; raises on failure)."""
        from flavorkit import __version__
        from flavorkit.api import load_model
        from flavorkit.server._openapi import openapi_document

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
        log.info(
            "loaded %s (flavor %s) in %.2f s; %s",
            model.path,
            model.flavor,
            time.perf_counter() - start,
            summary,
        )
        self.openapi = json.dumps(openapi_document(model, __version__)).encode()

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
        )
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
        cfg = self.config
        batcher, scorer = self.batcher, self.scorer
        assert batcher is not None and scorer is not None
        body = b""
        queued = False
        try:
            kind = media_kind(request.headers.get("content-type"))
            body = await _read_body(request, cfg.max_body_bytes, cfg.body_timeout_s)
            # counted from here, not while the body arrives: a client that sends slowly
            # (or never finishes) must not make every batch wait for it
            batcher.arriving += 1
            try:
                # parsed and validated here, so a bad request is answered alone and never
                # joins (and spoils) a micro-batch of good ones
                if len(body) > _PARSE_INLINE_BYTES:
                    parsed = await asyncio.get_running_loop().run_in_executor(
                        None, scorer.prepare, body, kind
                    )
                else:
                    parsed = scorer.prepare(body, kind)
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
            return self._error(exc)
        except Exception as exc:
            return self._error(exc)
        finally:
            if len(body) >= _RELEASE_AFTER_BYTES:
                self.memory.release_soon()
        return Response(out, media_type=_JSON)

    def _error(self, exc: Exception) -> Response:
        debug = self.config.debug
        if isinstance(exc, _HTTPError):
            return error_response(exc.status, exc.code, str(exc), close=exc.close)
        if isinstance(exc, PayloadTooLargeError):
            return error_response(413, "PAYLOAD_TOO_LARGE", str(exc), exc, debug=debug)
        if isinstance(exc, PayloadError):
            return error_response(400, "BAD_REQUEST", str(exc), exc, debug=debug)
        if isinstance(exc, SchemaEnforcementError):
            return error_response(400, "INVALID_PARAMETER_VALUE", str(exc), exc, debug=debug)
        if isinstance(exc, asyncio.TimeoutError):
            return error_response(
                504,
                "DEADLINE_EXCEEDED",
                f"no prediction within {self.config.request_timeout_s:g} s",
                exc,
                debug=debug,
            )
        log.error("prediction failed", exc_info=exc)
        message = f"the model failed to predict ({type(exc).__name__})"
        if debug:
            message += f": {exc}"
        else:
            message += "; the server log has the details"
        return error_response(500, "INTERNAL_ERROR", message, exc, debug=debug)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = {404: "RESOURCE_DOES_NOT_EXIST", 405: "METHOD_NOT_ALLOWED"}.get(
        exc.status_code, "BAD_REQUEST"
    )
    path = request.url.path
    path = path if len(path) <= 100 else path[:100] + "..."
    return error_response(exc.status_code, code, f"{request.method[:20]} {path}: {exc.detail}")


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
    routes = [
        Route("/ping", state.ping, methods=["GET"]),
        Route("/health", state.ping, methods=["GET"]),
        Route("/version", state.version, methods=["GET"]),
        Route("/model", state.model_info, methods=["GET"]),
        Route("/invocations", state.invocations, methods=["POST"]),
        Route("/openapi.json", state.openapi_json, methods=["GET"]),
        Route("/docs", state.docs, methods=["GET"]),
        Mount("/docs/assets", StaticFiles(directory=swagger_assets()), name="swagger-assets"),
    ]
    app = Starlette(
        routes=routes, lifespan=state.lifespan, exception_handlers={HTTPException: _http_error}
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
