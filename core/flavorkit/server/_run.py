"""Starting the server: uvicorn with N workers, the self-test check, the env manager."""

from __future__ import annotations

import contextlib
import copy
import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path

from flavorkit.server._config import CONFIG_ENV, ServerConfig

ENV_MANAGERS = ("local", "virtualenv")
APP_FACTORY = "flavorkit.server._app:app_from_env"


def log_config(level: str) -> dict[str, object]:
    """uvicorn's logging setup plus the ``flavorkit`` logger on the same handler."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["loggers"]["flavorkit"] = {
        "handlers": ["default"],
        "level": level.upper(),
        "propagate": False,
    }
    return config


def check(config: ServerConfig) -> tuple[bool, str]:
    """Load the model and predict on its saved input example, as the server does at startup.

    Returns ``(passed, summary)``; never raises for a model problem. Used by
    ``flavorkit serve --check`` and before starting several workers.
    """
    from flavorkit.api import load_model
    from flavorkit.server._scorer import Scorer

    try:
        model = load_model(
            config.model_uri,
            allow_unsafe=config.allow_unsafe,
            model_config=config.model_config or None,
        )
        return True, Scorer(model).self_test()
    except Exception as exc:
        lines = str(exc).strip().splitlines()
        text = lines[0] if lines else ""
        text = text if len(text) <= 500 else text[:497] + "..."
        return False, f"{type(exc).__name__}: {text}"


def uvicorn_options(config: ServerConfig) -> dict[str, object]:
    """The keyword arguments ``uvicorn.run`` gets for ``config`` (besides the app)."""
    return {
        "host": config.host,
        "port": config.port,
        "workers": config.workers,
        "loop": config.loop,
        "http": config.http,
        "log_config": log_config(config.log_level),
        "log_level": config.log_level,
        "access_log": config.access_log,
        "lifespan": "on",
        # past this many open connections (or requests in flight) new requests get 503
        "limit_concurrency": config.max_connections,
        # in-flight requests get the request timeout to finish after SIGTERM
        "timeout_graceful_shutdown": max(1, int(config.request_timeout_s) + 5),
    }


def serve(config: ServerConfig, *, env_manager: str = "local") -> int:
    """Serve ``config.model_uri`` until SIGTERM/SIGINT; returns the exit status.

    ``env_manager="virtualenv"`` builds (or reuses) the model's environment
    and replaces this process with a server running inside it. SIGTERM stops
    accepting connections and lets in-flight requests finish. A model that
    fails to load or to predict on its input example stops the start with a
    non-zero status.
    """
    if env_manager not in ENV_MANAGERS:
        raise ValueError(f"env_manager must be one of {ENV_MANAGERS}, got {env_manager!r}")
    logging.basicConfig(level=config.log_level.upper(), format="%(levelname)s:     %(message)s")
    pin_location(config)
    if env_manager == "virtualenv":
        return _serve_in_env(config)
    if config.workers > 1:
        # one check up front: workers that fail their startup would be restarted forever
        passed, summary = check(config)
        if not passed:
            print(f"flavorkit serve: {summary}", file=sys.stderr)
            return 1
    import uvicorn

    os.environ[CONFIG_ENV] = config.to_env()
    with _metrics_folder(config):
        uvicorn.run(APP_FACTORY, factory=True, **uvicorn_options(config))
    return 0


@contextlib.contextmanager
def _metrics_folder(config: ServerConfig) -> Iterator[None]:
    """With several workers, a fresh ``PROMETHEUS_MULTIPROC_DIR`` for their metric files.

    Each worker records into its own files there and ``/metrics`` sums them.
    A folder set by the caller is used as it is (and left in place).
    """
    from flavorkit.server._metrics import MULTIPROC_ENV

    if config.workers <= 1 or not config.metrics or os.environ.get(MULTIPROC_ENV):
        yield
        return
    import shutil
    import tempfile

    folder = tempfile.mkdtemp(prefix="flavorkit-metrics-")
    os.environ[MULTIPROC_ENV] = folder
    try:
        yield
    finally:
        os.environ.pop(MULTIPROC_ENV, None)
        shutil.rmtree(folder, ignore_errors=True)


def pin_location(config: ServerConfig) -> None:
    """Resolve a registry, job or object-store URI once, before any worker loads it.

    ``models:/name@alias`` becomes the folder of the version the alias names
    now, so every worker serves that version even if the alias moves while
    they start; ``config.registered`` records it for ``GET /model``.
    """
    from urllib.parse import urlparse

    uri = config.model_uri
    scheme = urlparse(uri).scheme
    if len(scheme) <= 1 or scheme == "file":
        return  # a local folder: nothing to pin
    from flavorkit.folder._uri import resolve_uri

    if uri.lower().startswith("models:"):
        from flavorkit.registry import resolve_models_version

        path, version = resolve_models_version(uri)
        if version is not None:
            config.registered = {
                "name": version.name,
                "version": version.version,
                "aliases": list(version.aliases),
                "run_id": version.run_id,
            }
    else:
        path = resolve_uri(uri)
    config.source_uri = uri
    config.model_uri = str(Path(path).absolute())
    logging.getLogger("flavorkit.server").info("resolved %s to %s", uri, config.model_uri)


def _serve_in_env(config: ServerConfig) -> int:
    from flavorkit.folder._uri import resolve_uri
    from flavorkit.server._env import ensure_env

    path = resolve_uri(config.model_uri)
    from flavorkit.api._load import allow_unsafe_from

    python = ensure_env(Path(path).absolute(), allow_unsafe=allow_unsafe_from(config.allow_unsafe))
    config.model_uri = str(Path(path).absolute())
    env = dict(os.environ)
    env[CONFIG_ENV] = config.to_env()
    logging.getLogger("flavorkit.server").info(
        "serving from the model's environment %s", Path(python).parent.parent
    )
    args = [str(python), "-m", "flavorkit.server"]
    if os.name == "posix":
        os.execve(
            str(python), args, env
        )  # the server takes this process over: signals reach it directly
    import subprocess

    return subprocess.call(args, env=env)
