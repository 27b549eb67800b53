"""The real-time scoring server: MLflow's scoring protocol on uvicorn + Starlette.

``flavorkit serve MODEL`` (or :func:`serve`) loads a model folder, predicts
on its saved input example, and then answers ``POST /invocations`` with
``{"predictions": ...}``, the Open Inference Protocol (V2: ``/v2/...``, as
Triton and MLServer speak it), ``/metrics`` (Prometheus), plus ``/ping``,
``/health``, ``/version``, ``/model``, ``/openapi.json`` and ``/docs``.
Concurrent table requests of either protocol are joined into vectorised
predict calls (micro-batching). Needs the ``serve`` extra:
``pip install 'flavorkit[serve]'``.
"""

from __future__ import annotations

from flavorkit.server._config import ServerConfig
from flavorkit.server._run import check, serve

__all__ = ["ServerConfig", "check", "create_app", "serve"]


def __getattr__(name: str) -> object:
    # create_app imports Starlette; keep `import flavorkit.server` light for the CLI
    if name == "create_app":
        from flavorkit.server._app import create_app

        return create_app
    raise AttributeError(f"module 'flavorkit.server' has no attribute {name!r}")
