"""Plugin discovery, validation, routing and reporting."""

from __future__ import annotations

import types
from pathlib import Path
from typing import Any

import flavorkit
import pytest
from flavorkit import _plugins
from flavorkit._plugins import Registry, use_registry
from flavorkit.cli import main as cli_main
from flavorkit.exceptions import PluginError


def make_plugin(name: str, flavor: str, calls: list[str] | None = None) -> types.ModuleType:
    """A throwaway plugin module owning ``flavor`` that records the hooks it receives."""
    module = types.ModuleType(name)
    seen = calls if calls is not None else []

    @flavorkit.hookimpl
    def flavorkit_flavors() -> list[str]:
        return [flavor]

    @flavorkit.hookimpl
    def flavorkit_load(flavor: str, path: Path) -> Any:
        seen.append(f"{name}.load:{flavor}")
        return f"{name}-model"

    @flavorkit.hookimpl
    def flavorkit_predict(flavor: str, model: Any, data: Any) -> Any:
        seen.append(f"{name}.predict:{flavor}")
        return [model, data]

    module.flavorkit_flavors = flavorkit_flavors  # type: ignore[attr-defined]
    module.flavorkit_load = flavorkit_load  # type: ignore[attr-defined]
    module.flavorkit_predict = flavorkit_predict  # type: ignore[attr-defined]
    return module


@pytest.fixture
def registry() -> Registry:
    return Registry(entry_points=False, defaults=False)


def test_registry_routes_calls_only_to_owner(registry: Registry, tmp_path: Path) -> None:
    calls: list[str] = []
    registry.register(make_plugin("one", "alpha", calls), name="one")
    registry.register(make_plugin("two", "beta", calls), name="two")
    assert registry.load("beta", tmp_path, {}, {}) == "two-model"
    assert registry.predictor("alpha")(
        flavor="alpha", model="m", data=1, params={}, conf={}, pyfunc_conf={}
    ) == ["m", 1]
    assert calls == ["two.load:beta", "one.predict:alpha"]


def test_registry_unknown_flavor_lists_installed(registry: Registry) -> None:
    registry.register(make_plugin("one", "alpha"), name="one")
    with pytest.raises(
        PluginError, match=r"no working plugin provides flavor 'gamma'.*installed flavors: alpha"
    ):
        registry.owner("gamma")


def test_registry_misspelt_hook_is_reported_not_registered(registry: Registry) -> None:
    module = make_plugin("typo", "alpha")

    @flavorkit.hookimpl
    def flavorkit_presist(model: Any) -> None:  # misspelt on purpose
        return None

    module.flavorkit_presist = flavorkit_presist  # type: ignore[attr-defined]
    assert registry.register(module, name="typo") == []
    (row,) = [r for r in registry.flavors() if r.plugin == "typo"]
    assert row.status == "error"
    assert "flavorkit_presist" in row.error
    with pytest.raises(PluginError, match="no working plugin provides flavor 'alpha'"):
        registry.owner("alpha")


def test_registry_wrong_hook_argument_is_reported(registry: Registry) -> None:
    module = types.ModuleType("badargs")

    @flavorkit.hookimpl
    def flavorkit_load(flavor: str, not_an_argument: int) -> None:
        return None

    module.flavorkit_load = flavorkit_load  # type: ignore[attr-defined]
    registry.register(module, name="badargs")
    (row,) = registry.flavors()
    assert row.status == "error" and "not_an_argument" in row.error


def test_registry_conflicting_flavor_keeps_first(registry: Registry, tmp_path: Path) -> None:
    registry.register(make_plugin("one", "alpha"), name="one")
    registry.register(make_plugin("two", "alpha"), name="two")
    rows = {(r.plugin, r.status) for r in registry.flavors()}
    assert rows == {("one", "ok"), ("two", "conflict")}
    assert registry.load("alpha", tmp_path, {}, {}) == "one-model"


def test_registry_unregister_removes_flavor(registry: Registry) -> None:
    registry.register(make_plugin("one", "alpha"), name="one")
    registry.unregister("one")
    assert not registry.owns("alpha")
    with pytest.raises(PluginError, match="no plugin named 'one'"):
        registry.unregister("one")


class FakeDist:
    def __init__(self, name: str) -> None:
        self.metadata = {"Name": name}
        self.version = "9.9"


class FakeEntryPoint:
    def __init__(self, name: str, target: Any) -> None:
        self.name = name
        self.dist = FakeDist(f"flavorkit-{name}")
        self._target = target

    def load(self) -> Any:
        if isinstance(self._target, BaseException):
            raise self._target
        return self._target


@pytest.fixture
def fake_entry_points(monkeypatch: pytest.MonkeyPatch) -> list[FakeEntryPoint]:
    eps: list[FakeEntryPoint] = []
    monkeypatch.setattr(
        "importlib.metadata.entry_points",
        lambda group=None: list(eps) if group == "flavorkit" else [],
    )
    return eps


def test_discovery_broken_plugin_reported_and_others_work(
    fake_entry_points: list[FakeEntryPoint], tmp_path: Path
) -> None:
    fake_entry_points.append(FakeEntryPoint("broken", ImportError("No module named 'frameworkx'")))
    fake_entry_points.append(FakeEntryPoint("good", make_plugin("good", "goodflavor")))
    registry = Registry()
    rows = {r.plugin: r for r in registry.flavors()}
    assert rows["broken"].status == "error"
    assert "ImportError: No module named 'frameworkx'" in rows["broken"].error
    assert rows["broken"].distribution == "flavorkit-broken"
    assert rows["good"].status == "ok" and rows["good"].version == "9.9"
    assert rows["pyfunc"].name == "python_function"
    assert registry.load("goodflavor", tmp_path, {}, {}) == "good-model"
    with pytest.raises(PluginError, match="plugin 'broken' is error: ImportError"):
        registry.owner("broken")


def test_discovery_is_lazy(fake_entry_points: list[FakeEntryPoint]) -> None:
    loaded: list[str] = []

    class Recording(FakeEntryPoint):
        def load(self) -> Any:
            loaded.append(self.name)
            return super().load()

    fake_entry_points.append(Recording("lazy", make_plugin("lazy", "lazyflavor")))
    registry = Registry()
    assert loaded == []
    registry.owns("lazyflavor")
    assert loaded == ["lazy"]


def test_discovery_disable_env(
    fake_entry_points: list[FakeEntryPoint], monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_entry_points.append(FakeEntryPoint("off", make_plugin("off", "offflavor")))
    monkeypatch.setenv("FLAVORKIT_DISABLE_PLUGINS", "other, off")
    registry = Registry()
    assert not registry.owns("offflavor")
    (row,) = [r for r in registry.flavors() if r.plugin == "off"]
    assert row.status == "disabled" and "FLAVORKIT_DISABLE_PLUGINS" in row.error
    with pytest.raises(PluginError, match="plugin 'off' is disabled"):
        registry.owner("off")


def test_cli_flavors_lists_rows_and_errors(
    fake_entry_points: list[FakeEntryPoint], capsys: pytest.CaptureFixture[str]
) -> None:
    fake_entry_points.append(FakeEntryPoint("broken", ImportError("nope")))
    with use_registry(Registry()):
        assert cli_main(["flavors"]) == 0
    out, err = capsys.readouterr()
    assert "python_function" in out and "ok" in out
    assert "broken" in out and "error" in out
    assert "broken: ImportError: nope" in err


def test_list_flavors_uses_process_registry(registry: Registry) -> None:
    registry.register(make_plugin("one", "alpha"), name="one")
    with use_registry(registry):
        assert [r.name for r in flavorkit.list_flavors()] == ["alpha"]
    assert _plugins._registry is not registry


def test_registry_persist_without_claimant_is_clear(registry: Registry, tmp_path: Path) -> None:
    registry.register(make_plugin("one", "alpha"), name="one")
    with pytest.raises(
        PluginError, match=r"no installed plugin recognises a model of type builtins.int.*alpha"
    ):
        registry.persist(3, tmp_path, None, {}, None, None)
