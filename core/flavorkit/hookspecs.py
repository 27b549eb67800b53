"""The hook contract between flavorkit and its flavor plugins.

A plugin is a module of plain functions marked with ``flavorkit.hookimpl``,
registered under the ``flavorkit`` entry-point group. It may implement any
subset of the hooks below, and each implementation may accept any subset of
a hook's arguments (pluggy passes them by name).

Routing: ``flavorkit_load`` and ``flavorkit_predict`` reach only the plugin
that owns ``flavor`` (the one whose ``flavorkit_flavors`` lists it).
``flavorkit_persist`` reaches the owner of ``flavor`` when the caller named
one, otherwise every plugin in turn until one claims the model.
``flavorkit_detect_environment`` reaches every plugin and collects all answers.

Hook bodies import their framework; the module that holds them must not.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pluggy

hookspec = pluggy.HookspecMarker("flavorkit")
hookimpl = pluggy.HookimplMarker("flavorkit")


@hookspec
def flavorkit_flavors() -> list[str]:  # type: ignore[empty-body]
    """Name the flavors (``MLmodel`` sections) this plugin owns.

    Called once when the plugin is registered. Two plugins claiming the same
    flavor is reported as a conflict; the first registered keeps it.
    """


@hookspec(firstresult=True)
def flavorkit_persist(  # type: ignore[empty-body]
    model: Any,
    path: Path,
    flavor: str | None,
    options: dict[str, Any],
    input_example: Any,
    signature: Any,
) -> dict[str, Any] | None:
    """Write ``model``'s artifacts under the (empty, temporary) folder ``path``.

    Called by ``save_model``. ``flavor`` is the flavor the caller asked for, or
    ``None`` when the plugins should recognise the model themselves; return
    ``None`` for a model that is not yours. ``options`` holds the caller's
    extra keyword arguments (a plugin pops the ones it understands; leftovers
    are reported as unknown). ``input_example`` and ``signature`` are the
    caller's, possibly ``None``.

    Return a dict::

        {
            "flavor": "sklearn",              # the MLmodel section name
            "conf": {...},                    # that section's keys
            "pyfunc": {"loader_module": ..., ...} | None,
                                              # extra python_function keys,
                                              # None when the model cannot predict
            "params": [ParamSpec, ...],       # optional: params the flavor's
                                              # predict understands
        }

    Raise to abort the save; the temporary folder is removed.
    """


@hookspec(firstresult=True)
def flavorkit_load(  # type: ignore[empty-body]
    flavor: str,
    path: Path,
    conf: dict[str, Any],
    options: dict[str, Any],
    pyfunc_conf: dict[str, Any],
) -> Any:
    """Load the native model object of ``flavor`` from the model folder ``path``.

    ``conf`` is the flavor's ``MLmodel`` section and ``pyfunc_conf`` the
    ``python_function`` section (empty when absent). ``options`` holds the
    loader's options: ``allow_unsafe`` (bool: the caller opted in to formats
    that run code), ``model_config`` (dict), plus any extra keyword arguments
    the caller gave ``load_model``/``load_native``. Refuse unsafe formats
    without the opt-in by raising ``flavorkit.exceptions.UnsafeFormatError``.
    """


@hookspec(firstresult=True)
def flavorkit_predict(  # type: ignore[empty-body]
    flavor: str,
    model: Any,
    data: Any,
    params: dict[str, Any],
    conf: dict[str, Any],
    pyfunc_conf: dict[str, Any],
) -> Any:
    """Predict with a model returned by ``flavorkit_load``.

    Called by every ``PyFuncModel.predict`` after the core enforced the input
    schema and the params schema: ``data`` is a DataFrame for column
    signatures, an ndarray or dict of ndarrays for tensor signatures, and the
    caller's object when there is no signature. ``params`` is a dict (never
    ``None``). ``conf`` and ``pyfunc_conf`` are as for ``flavorkit_load``.
    Return an ndarray, DataFrame, Series, list or dict of arrays.
    """


@hookspec
def flavorkit_detect_environment(  # type: ignore[empty-body]
    flavor: str, model: Any, path: Path, conf: dict[str, Any]
) -> list[str] | None:
    """Return the pip requirements (exact pins) the saved model needs.

    Called by ``save_model`` after ``flavorkit_persist``, on every plugin; a
    plugin answers for the flavors and model objects it understands and
    returns ``None`` otherwise. ``flavorkit.environment.pins_for_modules``
    maps module names to pinned distributions without importing them.
    """
