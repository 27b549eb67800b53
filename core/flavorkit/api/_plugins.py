"""Plugin discovery, registration and routing.

A ``Registry`` wraps one pluggy ``PluginManager``. Entry points of the
``flavorkit`` group are read on first need, never at ``import flavorkit``; a
plugin that fails to import or validate is recorded with its error and the
others go on working. Calls for one flavor reach only the plugin that owns it.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pluggy

from flavorkit import hookspecs
from flavorkit.exceptions import FlavorkitError, ModelLoadError, PluginError
from flavorkit.hookspecs import Persisted

ENTRY_POINT_GROUP = "flavorkit"
DISABLE_ENV = "FLAVORKIT_DISABLE_PLUGINS"


@dataclass(frozen=True)
class FlavorInfo:
    """One row of ``flavorkit flavors``: a flavor, or a plugin that failed to provide any.

    ``status`` is ``"ok"``, ``"error"`` (see ``error``), ``"disabled"`` or
    ``"conflict"`` (another plugin already owns the flavor).
    """

    name: str
    plugin: str
    distribution: str | None
    version: str | None
    status: str
    error: str | None = None


@dataclass
class _Plugin:
    name: str
    module: Any
    distribution: str | None
    version: str | None


class Registry:
    """The installed flavor plugins and the routing of hook calls to them."""

    def __init__(self, *, entry_points: bool = True, defaults: bool = True) -> None:
        self.pm = pluggy.PluginManager("flavorkit")
        self.pm.add_hookspecs(hookspecs)
        self._use_entry_points = entry_points
        self._use_defaults = defaults
        self._loaded = False
        self._plugins: dict[str, _Plugin] = {}
        self._owners: dict[str, _Plugin] = {}
        self._problems: list[FlavorInfo] = []
        self._callers: dict[tuple[str, str], Any] = {}

    # -- registration ------------------------------------------------------
    def _ensure_loaded(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        if self._use_defaults:
            from flavorkit.custom import _plugin as custom_plugin

            self.register(
                custom_plugin, name="pyfunc", distribution="flavorkit", version=_own_version()
            )
        if self._use_entry_points:
            self._load_entry_points()

    def _load_entry_points(self) -> None:
        from importlib.metadata import entry_points

        disabled = {n.strip() for n in os.environ.get(DISABLE_ENV, "").split(",") if n.strip()}
        seen: set[str] = set()
        # sorted by name, so the order plugins are asked to claim a model does not depend on
        # the order distributions happen to be installed in
        for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda ep: ep.name):
            if ep.name in seen:
                continue
            seen.add(ep.name)
            dist = getattr(ep, "dist", None)
            dist_name = dist.metadata["Name"] if dist is not None else None
            version = dist.version if dist is not None else None
            if ep.name in disabled:
                self._problems.append(
                    FlavorInfo(
                        ep.name, ep.name, dist_name, version, "disabled", f"listed in {DISABLE_ENV}"
                    )
                )
                continue
            try:
                module = ep.load()
            except Exception as exc:  # a broken plugin must not take the others down
                self._problems.append(
                    FlavorInfo(ep.name, ep.name, dist_name, version, "error", _describe(exc))
                )
                continue
            self.register(module, name=ep.name, distribution=dist_name, version=version)

    def register(
        self,
        module: Any,
        *,
        name: str,
        distribution: str | None = None,
        version: str | None = None,
    ) -> list[str]:
        """Register a plugin (a module or object of hook functions) and return the flavors it owns.

        A plugin that fails pluggy's validation, or whose ``flavorkit_flavors``
        raises, is not registered; it is listed by ``flavors()`` with its error.
        """
        self._ensure_loaded()  # registering by hand first must not skip discovery later
        plugin = _Plugin(name, module, distribution, version)
        try:
            self.pm.register(module, name=name)
        except Exception as exc:
            self._problems.append(
                FlavorInfo(name, name, distribution, version, "error", _describe(exc))
            )
            return []
        try:
            self.pm.check_pending()
            names = _flavor_names(self.pm, module)
        except Exception as exc:
            self.pm.unregister(module)
            self._problems.append(
                FlavorInfo(name, name, distribution, version, "error", _describe(exc))
            )
            return []
        self._plugins[name] = plugin
        owned = []
        for flavor in names:
            if flavor in self._owners:
                other = self._owners[flavor].name
                self._problems.append(
                    FlavorInfo(
                        flavor,
                        name,
                        distribution,
                        version,
                        "conflict",
                        f"flavor {flavor!r} is already provided by plugin {other!r}",
                    )
                )
                continue
            self._owners[flavor] = plugin
            owned.append(flavor)
        self._callers.clear()
        return owned

    def unregister(self, name: str) -> None:
        """Remove the plugin registered as ``name`` and every flavor it owned."""
        plugin = self._plugins.pop(name, None)
        if plugin is None:
            raise PluginError(f"no plugin named {name!r} is registered")
        self.pm.unregister(plugin.module)
        self._owners = {f: p for f, p in self._owners.items() if p is not plugin}
        self._callers.clear()

    # -- lookup ------------------------------------------------------------
    def flavors(self) -> list[FlavorInfo]:
        """Every flavor with its plugin, plus every plugin that failed or was disabled."""
        self._ensure_loaded()
        rows = [
            FlavorInfo(flavor, p.name, p.distribution, p.version, "ok")
            for flavor, p in self._owners.items()
        ]
        return sorted(rows, key=lambda r: r.name) + list(self._problems)

    def owns(self, flavor: str) -> bool:
        """Whether an installed, working plugin owns ``flavor``."""
        self._ensure_loaded()
        return flavor in self._owners

    def owner(self, flavor: str) -> _Plugin:
        """The plugin that owns ``flavor``; ``PluginError`` (with the reason) when none does."""
        self._ensure_loaded()
        try:
            return self._owners[flavor]
        except KeyError:
            pass
        reasons = [
            f"plugin {p.plugin!r} is {p.status}: {p.error}"
            for p in self._problems
            if p.name == flavor or p.plugin == flavor
        ]
        known = ", ".join(sorted(self._owners)) or "none"
        hint = (
            "; ".join(reasons)
            if reasons
            else f"install the plugin that provides it (installed flavors: {known})"
        )
        raise PluginError(f"no working plugin provides flavor {flavor!r}: {hint}")

    def _caller(self, hook: str, flavor: str) -> Any:
        key = (hook, flavor)
        caller = self._callers.get(key)
        if caller is None:
            owner = self.owner(flavor).module
            others = [p.module for p in self._plugins.values() if p.module is not owner]
            caller = self.pm.subset_hook_caller(hook, remove_plugins=others)
            self._callers[key] = caller
        return caller

    # -- the four operations -----------------------------------------------
    def persist(
        self,
        model: Any,
        path: Path,
        flavor: str | None,
        options: dict[str, Any],
        input_example: Any,
        signature: Any,
    ) -> Persisted:
        """Ask the owner of ``flavor`` (or every plugin) to write ``model`` under ``path``."""
        self._ensure_loaded()
        kwargs = dict(
            model=model,
            path=path,
            flavor=flavor,
            options=options,
            input_example=input_example,
            signature=signature,
        )
        if flavor is not None:
            result = self._caller("flavorkit_persist", flavor)(**kwargs)
            if result is None:
                raise PluginError(
                    f"plugin {self.owner(flavor).name!r} declined to save a "
                    f"{_type_name(model)} as flavor {flavor!r}"
                )
        else:
            result = self.pm.hook.flavorkit_persist(**kwargs)
            if result is None:
                known = ", ".join(sorted(self._owners)) or "none"
                raise PluginError(
                    f"no installed plugin recognises a model of type {_type_name(model)} "
                    f"(installed flavors: {known}); install the flavor's plugin or pass flavor="
                )
        if not isinstance(result, dict) or not isinstance(result.get("flavor"), str):
            raise PluginError(
                f"flavorkit_persist returned {type(result).__name__}; "
                "expected a dict with a 'flavor' name"
            )
        self.owner(result["flavor"])
        return result

    def load(
        self,
        flavor: str,
        path: Path,
        conf: dict[str, Any],
        options: dict[str, Any],
        pyfunc_conf: dict[str, Any] | None = None,
    ) -> Any:
        """Load the native object of ``flavor`` through its owner.

        A flavorkit error from the plugin passes through; any other exception
        (a framework's deserializer refusing a damaged file) becomes a
        ``ModelLoadError`` naming the flavor and the folder.
        """
        caller = self._caller("flavorkit_load", flavor)
        try:
            result = caller(
                flavor=flavor, path=path, conf=conf, options=options, pyfunc_conf=pyfunc_conf or {}
            )
        except (FlavorkitError, MemoryError):
            raise
        except Exception as exc:
            raise ModelLoadError(flavor, path, exc) from exc
        if result is None:
            raise PluginError(
                f"plugin {self.owner(flavor).name!r} returned nothing for flavor {flavor!r}"
            )
        return result

    def predictor(self, flavor: str) -> Any:
        """The routed ``flavorkit_predict`` caller for ``flavor`` (looked up once, called often)."""
        return self._caller("flavorkit_predict", flavor)

    @property
    def hook(self) -> Any:
        """The plugin manager's hook relay, with every installed plugin loaded.

        For the hooks that are not routed by flavor (``flavorkit_cli_commands``,
        ``flavorkit_validate_folder``).
        """
        self._ensure_loaded()
        return self.pm.hook

    def native(self, flavor: str, model: Any) -> Any:
        """The framework object behind what the load hook returned (``flavorkit_native``)."""
        result = self._caller("flavorkit_native", flavor)(flavor=flavor, model=model)
        return model if result is None else result

    def detect_environment(
        self, flavor: str, model: Any, path: Path, conf: dict[str, Any]
    ) -> list[str]:
        """The requirements the plugin owning ``flavor`` reports for this model."""
        answers = self._caller("flavorkit_detect_environment", flavor)(
            flavor=flavor, model=model, path=path, conf=conf
        )
        out: list[str] = []
        for answer in answers:
            if answer:
                out.extend(answer)
        return out


def _flavor_names(pm: pluggy.PluginManager, module: Any) -> list[str]:
    names: list[str] = []
    for impl in pm.hook.flavorkit_flavors.get_hookimpls():
        if impl.plugin is module:
            result = impl.function()
            if not isinstance(result, (list, tuple)) or not all(isinstance(n, str) for n in result):
                raise TypeError(f"flavorkit_flavors must return a list of names, got {result!r}")
            names.extend(result)
    return names


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def _type_name(obj: Any) -> str:
    cls = type(obj)
    return f"{cls.__module__}.{cls.__qualname__}"


def _own_version() -> str:
    from flavorkit import __version__

    return __version__


_registry: Registry | None = None


def get_registry() -> Registry:
    """The process-wide registry, created (not yet loaded) on first call."""
    global _registry
    if _registry is None:
        _registry = Registry()
    return _registry


@contextlib.contextmanager
def use_registry(registry: Registry) -> Iterator[Registry]:
    """Make ``registry`` the process-wide one inside the ``with`` block (for tests)."""
    global _registry
    previous = _registry
    _registry = registry
    try:
        yield registry
    finally:
        _registry = previous


def list_flavors() -> list[FlavorInfo]:
    """Every installed flavor (name, plugin, distribution, version, status), plus broken plugins."""
    return get_registry().flavors()
