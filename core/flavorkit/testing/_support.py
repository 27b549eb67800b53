"""What every conformance check leans on: failures, property runs, saved models, subprocesses.

- :class:`FlavorCheckError` / :class:`SkipCheck`: how a check reports.
- :func:`run_property`: runs a hypothesis property with the kit's settings
  (the max-examples knob, no deadline, no example database).
- :func:`saved_model` / :func:`loaded_model`: one model folder per case and
  registry, saved once and shared by the checks that only read it.
- :func:`python_env` / :func:`run_python`: a fresh interpreter that sees
  this one's ``sys.path`` and, for a plugin not installed, a temporary
  entry point, so ``flavorkit`` discovers it as it would once installed.
"""

from __future__ import annotations

import atexit
import itertools
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:
    from flavorkit.testing._case import FlavorCase

MAX_EXAMPLES_ENV = "FLAVORKIT_MAX_EXAMPLES"
# plugins the core registers itself, without an entry point
BUILTIN_PLUGINS = {"flavorkit.custom._plugin": "pyfunc"}
SUBPROCESS_TIMEOUT_S = 300
# what the core writes into every folder (code/ only when the save is given code_paths)
CORE_FILES = frozenset(
    {
        "MLmodel",
        "requirements.txt",
        "python_env.yaml",
        "conda.yaml",
        "input_example.json",
        "serving_input_example.json",
    }
)


class FlavorCheckError(AssertionError):
    """A flavor broke the property a conformance check states.

    ``check`` is the check's name, ``case`` the case's name, ``property`` the
    rule (the first line of the check's docstring) and ``detail`` what was seen.
    """

    def __init__(self, check: str, case: str, property: str, detail: str) -> None:
        super().__init__(f"{check} [{case}]: {property}\n  but {detail}")
        self.check = check
        self.case = case
        self.property = property
        self.detail = detail

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.check, self.case, self.property, self.detail))


class SkipCheck(unittest.SkipTest):
    """A check does not apply to this case (pytest reports it as skipped)."""


class Verdict:
    """The reporter of one check on one case: ``fail``, ``skip`` and ``call``."""

    def __init__(self, check: Callable[..., Any], case: FlavorCase) -> None:
        self.check = check.__name__
        self.case = case
        doc = (check.__doc__ or check.__name__).strip()
        self.property = doc.splitlines()[0].rstrip(".")

    def fail(self, detail: str) -> NoReturn:
        """Raise :class:`FlavorCheckError` with ``detail`` (what was seen)."""
        raise FlavorCheckError(self.check, self.case.name, self.property, detail)

    def skip(self, reason: str) -> NoReturn:
        """Raise :class:`SkipCheck`."""
        raise SkipCheck(f"{self.check} [{self.case.name}]: {reason}")

    def call(self, what: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run ``fn``; an exception becomes a failure saying ``what`` was being done."""
        try:
            return fn(*args, **kwargs)
        except FlavorCheckError:
            raise
        except Exception as exc:
            self.fail(f"{what} raised {describe_error(exc)}")


def describe_error(exc: BaseException, limit: int = 400) -> str:
    """``Type: message``, shortened to ``limit`` characters."""
    text = f"{type(exc).__name__}: {exc}"
    return text if len(text) <= limit else text[: limit - 3] + "..."


# -- hypothesis ------------------------------------------------------------------

_default_max_examples: int | None = None


def set_default_max_examples(value: int | None) -> None:
    """Set the number of examples each property check tries when none is given.

    Called by the pytest plugin for ``--flavorkit-max-examples``. Order of
    precedence: a check's ``max_examples`` argument, then this value, then
    the ``FLAVORKIT_MAX_EXAMPLES`` environment variable, then the active
    hypothesis profile (``--hypothesis-profile flavorkit-ci``).
    """
    global _default_max_examples
    if value is not None and value < 1:
        raise ValueError(f"max_examples must be at least 1, got {value}")
    _default_max_examples = value


def resolve_max_examples(value: int | None) -> int:
    """The number of examples a property check tries (see :func:`set_default_max_examples`)."""
    if value is not None:
        return int(value)
    if _default_max_examples is not None:
        return _default_max_examples
    env = os.environ.get(MAX_EXAMPLES_ENV, "").strip()
    if env:
        try:
            return max(1, int(env))
        except ValueError:
            raise ValueError(f"{MAX_EXAMPLES_ENV} must be an integer, got {env!r}") from None
    from hypothesis import settings

    return int(settings.default.max_examples)


def run_property(strategy: Any, body: Callable[[Any], None], max_examples: int | None) -> None:
    """Run ``body`` on values drawn from ``strategy``; the first failure (shrunk) propagates.

    No deadline (a save or a framework's first call can be slow) and no
    example database (the same property runs for many cases).
    """
    from hypothesis import HealthCheck, Phase, given, settings

    @settings(
        max_examples=resolve_max_examples(max_examples),
        deadline=None,
        database=None,
        report_multiple_bugs=False,
        # the falsifying example is enough; the explain phase adds coverage lines of the kit itself
        phases=[p for p in Phase if p is not Phase.explain],
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.filter_too_much,
            HealthCheck.large_base_example,
        ],
    )
    @given(strategy)
    def property_holds(value: Any) -> None:
        body(value)

    property_holds()


# -- model folders shared by the checks ----------------------------------------

_root: Path | None = None
_counter = itertools.count()
_CACHE_SIZE = 6
# (case, registry) -> (folder, loaded model or None); strong references keep ids unique
_saved: OrderedDict[tuple[int, int], tuple[Any, Any, Path, list[Any]]] = OrderedDict()


def _workspace() -> Path:
    global _root
    if _root is None:
        _root = Path(tempfile.mkdtemp(prefix="flavorkit-checks-"))
        atexit.register(shutil.rmtree, _root, True)
    return _root


def scratch_dir(label: str) -> Path:
    """A new empty folder for one check's own files (removed when the process exits)."""
    path = _workspace() / f"{next(_counter):04d}-{_slug(label)}"
    path.mkdir()
    return path


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text)[:60] or "case"


def saved_model(case: FlavorCase) -> Path:
    """The case's model saved with its ``save_options`` (once per case and current registry).

    The folder is shared: checks that change or re-save it use their own.
    Raises what ``flavorkit.save_model`` raises.
    """
    import flavorkit
    from flavorkit.api._plugins import get_registry

    registry = get_registry()
    key = (id(case), id(registry))
    entry = _saved.get(key)
    if entry is not None:
        _saved.move_to_end(key)
        return entry[2]
    path = scratch_dir(case.name) / "model"
    flavorkit.save_model(case.model(), path, **case.save_kwargs())
    _saved[key] = (case, registry, path, [])
    while len(_saved) > _CACHE_SIZE:
        _, (_, _, old, _) = _saved.popitem(last=False)
        shutil.rmtree(old.parent, ignore_errors=True)
    return path


def loaded_model(case: FlavorCase) -> Any:
    """The shared folder loaded with ``flavorkit.load_model`` (once; the unsafe opt-in is given).

    The checks of behaviour load with the opt-in so that each tests one
    property; the format checks load without it themselves.
    """
    import flavorkit
    from flavorkit.api._plugins import get_registry

    path = saved_model(case)
    slot = _saved[(id(case), id(get_registry()))][3]
    if not slot:
        slot.append(flavorkit.load_model(path, allow_unsafe=True, suppress_warnings=True))
    return slot[0]


def forget(case: FlavorCase) -> None:
    """Drop the case's shared folders (``check_flavor`` calls it when done)."""
    for key in [k for k, v in _saved.items() if v[0] is case]:
        _, _, path, _ = _saved.pop(key)
        shutil.rmtree(path.parent, ignore_errors=True)


# -- fresh interpreters ------------------------------------------------------------


def installed_entry_point(module: str) -> Any:
    """The installed ``flavorkit`` entry point whose value is ``module``, or ``None``."""
    from importlib.metadata import entry_points

    from flavorkit.api._plugins import ENTRY_POINT_GROUP

    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.module == module:
            return ep
    return None


def plugin_name(case: FlavorCase) -> str:
    """The name the plugin is (or would be) registered under."""
    if case.plugin_name:
        return case.plugin_name
    if case.plugin_module in BUILTIN_PLUGINS:
        return BUILTIN_PLUGINS[case.plugin_module]
    ep = installed_entry_point(case.plugin_module)
    return ep.name if ep is not None else case.flavor


def _write_entry_point(case: FlavorCase, site: Path) -> None:
    """A minimal ``.dist-info`` declaring the case's plugin, as ``pip install`` would."""
    dist = f"flavorkit_case_{_slug(case.name).replace('-', '_').replace('.', '_')}"
    info = site / f"{dist}-0.0.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.0.0\n", encoding="utf-8"
    )
    (info / "entry_points.txt").write_text(
        f"[flavorkit]\n{plugin_name(case)} = {case.plugin_module}\n", encoding="utf-8"
    )


def python_env(case: FlavorCase, workdir: Path) -> dict[str, str]:
    """The environment of a fresh interpreter for ``case``'s subprocess checks.

    It sees this process's ``sys.path`` (so test-local modules import), no
    ``FLAVORKIT_ALLOW_UNSAFE``, and, when the plugin is neither built in nor
    installed, a temporary entry point for it under ``workdir``.
    """
    env = dict(os.environ)
    env.pop("FLAVORKIT_ALLOW_UNSAFE", None)
    paths = [os.getcwd() if p == "" else p for p in sys.path]
    paths = [p for p in paths if p and os.path.exists(p)]
    if (
        case.plugin_module not in BUILTIN_PLUGINS
        and installed_entry_point(case.plugin_module) is None
    ):
        site = workdir / "site"
        _write_entry_point(case, site)
        paths.insert(0, str(site))
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    env.setdefault("PYTHONIOENCODING", "utf-8")
    return env


def run_python(
    args: list[str], env: dict[str, str], timeout: float = SUBPROCESS_TIMEOUT_S
) -> subprocess.CompletedProcess[str]:
    """Run ``python <args>`` with this interpreter; never raises for a non-zero exit."""
    return subprocess.run(
        [sys.executable, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def tail(text: str, limit: int = 1500) -> str:
    """The last ``limit`` characters of a subprocess's output, for failure messages."""
    text = text.strip()
    return text if len(text) <= limit else "..." + text[-limit:]


# tracebacks and reprs name the import path users write
FlavorCheckError.__module__ = "flavorkit.testing"
SkipCheck.__module__ = "flavorkit.testing"
