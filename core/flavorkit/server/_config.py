"""``ServerConfig``: every knob of the scoring server, passed to worker processes as JSON."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from typing import Any

CONFIG_ENV = "FLAVORKIT_SERVER_CONFIG"


@dataclass
class ServerConfig:
    """Settings of one ``flavorkit serve`` run.

    ``max_batch_size`` is in rows: concurrent table requests are joined
    until they hold that many (1 turns micro-batching off).
    ``max_batch_delay_ms`` is the longest a batch waits for requests that
    are still arriving; with none arriving it goes at once.

    Against clients that send too much or too slowly: ``max_body_bytes``
    bounds a body as sent, ``max_request_rows`` and ``max_request_cells``
    (rows x columns) what it decodes to, checked before decoding where the
    format allows (Parquet metadata, CSV while reading; JSON right after
    parsing); over a limit is a 413. ``body_timeout_s`` is the longest a
    client may take to send its body once the headers are in (408, and the
    connection is closed). ``max_connections`` is uvicorn's
    ``limit_concurrency``: past that many open connections or requests in
    flight, new requests are answered 503 (None: no limit).

    ``loop`` and ``http`` are uvicorn's: ``auto`` takes uvloop and httptools
    when they are installed (the ``serve`` extra brings them), else asyncio
    and h11.

    ``name`` is the model's name on the Open Inference Protocol (V2)
    endpoints: by default the registered model's name when served from a
    ``models:/`` URI, else the model folder's name. Its version there is the
    registered version, else ``"1"``. ``metrics`` turns ``GET /metrics`` (and
    the recording behind it) on or off.
    """

    model_uri: str
    host: str = "127.0.0.1"
    port: int = 5000
    workers: int = 1
    max_batch_size: int = 64
    max_batch_delay_ms: float = 2.0
    max_body_bytes: int = 64 * 1024 * 1024
    max_request_rows: int | None = 1_000_000
    max_request_cells: int | None = 10_000_000
    body_timeout_s: float = 30.0
    max_connections: int | None = 1000
    request_timeout_s: float = 60.0
    debug: bool = False
    allow_unsafe: bool | None = None
    model_config: dict[str, Any] = field(default_factory=dict)
    access_log: bool = False
    log_level: str = "info"
    loop: str = "auto"
    http: str = "auto"
    # set when model_uri was a registry, job or object-store URI: it is resolved once, before
    # the workers start, so they all serve the same files; what was asked and what was found
    source_uri: str | None = None
    registered: dict[str, Any] | None = None
    name: str | None = None
    metrics: bool = True

    def __post_init__(self) -> None:
        if self.name is not None:
            check_model_name(self.name)

    def to_env(self) -> str:
        """JSON for ``FLAVORKIT_SERVER_CONFIG``, read back by each worker."""
        return json.dumps(asdict(self))

    @classmethod
    def from_env(cls) -> ServerConfig:
        """Read the config a parent process put in ``FLAVORKIT_SERVER_CONFIG``.

        Raises ``RuntimeError`` when the variable is missing (the worker was
        not started by ``flavorkit serve``).
        """
        text = os.environ.get(CONFIG_ENV)
        if not text:
            raise RuntimeError(
                f"{CONFIG_ENV} is not set; start the server with `flavorkit serve MODEL`"
            )
        return cls(**json.loads(text))


def check_model_name(name: str) -> str:
    """``name`` when it can be a V2 model name (one URL path segment); raises ``ValueError``."""
    if not name or len(name) > 200 or "/" in name or not name.isprintable() or name.strip() != name:
        raise ValueError(
            f"the model name {name[:200]!r} cannot be a V2 model name: give 1 to 200 printable "
            "characters without '/' and without surrounding spaces"
        )
    return name
