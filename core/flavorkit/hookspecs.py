"""The hook contract between flavorkit and its flavor plugins.

A plugin is a module of plain functions marked with ``flavorkit.hookimpl``,
registered under the ``flavorkit`` entry-point group. It may implement any
subset of the hooks below, and each implementation may accept any subset of
a hook's arguments (pluggy passes them by name).

Routing: ``flavorkit_load``, ``flavorkit_predict``, ``flavorkit_native`` and
``flavorkit_detect_environment`` reach only the plugin that owns ``flavor``
(the one whose ``flavorkit_flavors`` lists it), so a hook never has to check
that the flavor is its own. ``flavorkit_persist`` reaches the owner of
``flavor`` when the caller named one; otherwise plugins are asked in turn
until one claims the model (returns a ``Persisted``), in this order:
implementations marked ``@hookimpl(tryfirst=True)`` first (a plugin for one
framework whose models a general plugin would also claim, e.g. XGBoost's
scikit-learn-compatible classes), then the plugin registered last first
(pluggy's order; installed plugins are registered in the sorted order of
their entry-point names), and the built-in ``python_function`` plugin
(``trylast``) last. A plugin that recognises only its own model types never
depends on that order.

Hook bodies import their framework; the module that holds them must not.
Files named in ``MLmodel`` are resolved with ``flavorkit.folder.model_file``
(and class paths with ``flavorkit.folder.import_object``), never joined by
hand.

Errors a hook raises: ``flavorkit.exceptions.ManifestError`` for a folder
that is damaged or hostile, ``UnsafeFormatError`` for a format that needs the
caller's opt-in, ``SchemaEnforcementError`` (naming the field) for input or a
param value the model refuses: the server answers it with 400, as it does
for the core's own enforcement. Anything else is a bug of the model or the
plugin and is answered with 500.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict

import pluggy

if TYPE_CHECKING:
    from flavorkit.signature import ModelSignature, ParamSpec

hookspec = pluggy.HookspecMarker("flavorkit")
hookimpl = pluggy.HookimplMarker("flavorkit")


class _Claimed(TypedDict):
    flavor: str


class Persisted(_Claimed, total=False):
    """What ``flavorkit_persist`` returns once it has written a model.

    ``flavor`` (required) names the ``MLmodel`` section; ``conf`` holds that
    section's keys (the core adds ``code`` when the caller shipped
    ``code_paths``); ``pyfunc`` holds the extra ``python_function`` keys
    (at least ``loader_module``), or ``None`` when the model cannot be
    loaded behind the predict contract; ``params`` lists the params the
    flavor's predict understands, merged into the signature.
    """

    conf: dict[str, Any]
    pyfunc: dict[str, Any] | None
    params: list[ParamSpec]


class LoadOptions(TypedDict):
    """The ``options`` a load hook gets.

    ``allow_unsafe`` is the caller's opt-in to formats that run code when
    loaded; ``model_config`` the ``python_function.config`` of the folder
    updated with the caller's ``model_config``. Any other key is an extra
    keyword argument the caller gave ``load_model``/``load_native`` (e.g.
    ``trusted_types`` for scikit-learn's skops format); a plugin reads the
    ones it knows.
    """

    allow_unsafe: bool
    model_config: dict[str, Any]


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
    signature: ModelSignature | None,
) -> Persisted | None:
    """Write ``model``'s artifacts under the (empty, temporary) folder ``path``.

    Called by ``save_model``. ``flavor`` is the flavor the caller asked for, or
    ``None`` when the plugins should recognise the model themselves; return
    ``None`` for a model that is not yours. ``options`` holds the caller's
    extra keyword arguments (a plugin pops the ones it understands; leftovers
    are reported as unknown). ``input_example`` and ``signature`` are the
    caller's, possibly ``None``.

    Return a ``Persisted`` dict, for example::

        {
            "flavor": "sklearn",
            "conf": {"pickled_model": "model.skops", "serialization_format": "skops"},
            "pyfunc": {"loader_module": "flavorkit_sklearn", "model_path": "model.skops"},
        }

    Raise to abort the save; the temporary folder is removed.
    """


@hookspec(firstresult=True)
def flavorkit_load(  # type: ignore[empty-body]
    flavor: str,
    path: Path,
    conf: dict[str, Any],
    options: LoadOptions,
    pyfunc_conf: dict[str, Any],
) -> Any:
    """Load the model of ``flavor`` from the model folder ``path``.

    ``conf`` is the flavor's ``MLmodel`` section and ``pyfunc_conf`` the
    ``python_function`` section (empty when absent); read both as given,
    never ``MLmodel`` again. Refuse unsafe formats without
    ``options["allow_unsafe"]`` by raising
    ``flavorkit.exceptions.UnsafeFormatError``. The object returned is what
    ``flavorkit_predict`` gets; ``load_native`` hands it to the caller after
    ``flavorkit_native``.
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


@hookspec(firstresult=True)
def flavorkit_native(flavor: str, model: Any) -> Any:  # type: ignore[empty-body]
    """Return the framework object ``load_native`` gives for what ``flavorkit_load`` returned.

    Optional: a plugin whose load hook returns the framework's object itself
    does not implement it. One whose load hook returns a wrapper (a model
    bound to its context) returns the object the user saved.
    """


@hookspec
def flavorkit_detect_environment(  # type: ignore[empty-body]
    flavor: str, model: Any, path: Path, conf: dict[str, Any]
) -> list[str] | None:
    """Return the pip requirements (exact pins) the saved model needs.

    Called by ``save_model`` after ``flavorkit_persist``, on the plugin that
    owns ``flavor`` only. ``flavorkit.environment.pins_for_modules`` maps
    module names to pinned distributions without importing them. The core
    adds flavorkit and the plugin's own distribution itself.
    """


@hookspec
def flavorkit_cli_commands(subparsers: Any) -> None:
    """Add subcommands to the ``flavorkit`` command line (optional).

    ``subparsers`` is the ``argparse`` subparsers object of ``flavorkit``;
    each added parser sets ``func`` (``parser.set_defaults(func=...)``), a
    function of the parsed arguments returning the exit status. A plugin
    adds a command family under one name: ``subcommand_group(subparsers,
    "export", help)`` gives the shared ``export`` group's subparsers, so
    ``flavorkit export triton ...`` and another plugin's ``export`` targets
    sit side by side.
    Called every time the parser is built, so keep it cheap: import the
    framework inside ``func``.
    """


@hookspec(firstresult=True)
def flavorkit_validate_folder(path: Path) -> list[str] | None:  # type: ignore[empty-body]
    """Check a folder that is not a model folder (it has no ``MLmodel``) (optional).

    Return ``None`` when the folder is not of a kind this plugin knows
    (``flavorkit validate`` then reports the missing ``MLmodel``), else the
    list of problems found (empty: valid). A Triton model repository is the
    example: ``flavorkit validate`` checks it without a server.
    """


def subcommand_group(subparsers: Any, name: str, help: str) -> Any:
    """The subparsers of command ``name`` (``flavorkit export ...``), made on first use.

    For ``flavorkit_cli_commands`` hooks: several plugins can add their
    subcommands under one group (``export triton``, ``export onnx``).
    """
    group = subparsers.choices.get(name)
    if group is None:
        group = subparsers.add_parser(name, help=help)
        group.set_defaults(func=lambda args, group=group: (group.print_help(), 2)[1])
        group.flavorkit_subparsers = group.add_subparsers(dest=f"{name}_command", metavar="TARGET")
    return group.flavorkit_subparsers
