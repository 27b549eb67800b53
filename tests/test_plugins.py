"""Plugin discovery, validation, routing and reporting."""

from __future__ import annotations

import types
from pathlib import Path
from typing import Any

import flavorkit
import pytest
from flavorkit.api import _plugins
from flavorkit.api._plugins import Registry, use_registry
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


def _environment_plugin(name: str, flavor: str, pins: list[str]) -> types.ModuleType:
    module = make_plugin(name, flavor)

    @flavorkit.hookimpl
    def flavorkit_detect_environment() -> list[str]:
        return pins  # answers for any flavor: routing must keep it to its own

    module.flavorkit_detect_environment = flavorkit_detect_environment  # type: ignore[attr-defined]
    return module


def test_environment_detection_reaches_only_the_owner(registry: Registry, tmp_path: Path) -> None:
    registry.register(_environment_plugin("one", "alpha", ["numpy==1.0"]), name="one")
    registry.register(_environment_plugin("two", "beta", ["torch==9.9"]), name="two")
    assert registry.detect_environment("alpha", None, tmp_path, {}) == ["numpy==1.0"]
    assert registry.detect_environment("beta", None, tmp_path, {}) == ["torch==9.9"]


def test_native_hook_unwraps_what_load_returned(registry: Registry) -> None:
    module = make_plugin("wrapping", "alpha")

    @flavorkit.hookimpl
    def flavorkit_native(model: Any) -> Any:
        return ("unwrapped", model)

    module.flavorkit_native = flavorkit_native  # type: ignore[attr-defined]
    registry.register(module, name="wrapping")
    registry.register(make_plugin("plain", "beta"), name="plain")
    assert registry.native("alpha", "m") == ("unwrapped", "m")
    assert registry.native("beta", "m") == "m"  # no hook: the loaded object itself


def test_custom_models_load_natively_as_the_saved_object(tmp_path: Path) -> None:
    from _models import AddConstant

    flavorkit.save_model(AddConstant(), tmp_path / "m")
    assert type(flavorkit.load_native(tmp_path / "m")) is AddConstant
    assert type(flavorkit.load_model(tmp_path / "m").unwrap()) is AddConstant


def test_entry_points_are_registered_in_name_order(
    fake_entry_points: list[FakeEntryPoint], tmp_path: Path
) -> None:
    # both claim every model: the claim order must not depend on installation order
    claims: list[str] = []
    for name in ("zeta", "alpha"):
        module = make_plugin(name, f"{name}flavor")

        def persist(model: Any, _name: str = name) -> Any:
            claims.append(_name)
            return {"flavor": f"{_name}flavor", "conf": {}, "pyfunc": None}

        module.flavorkit_persist = flavorkit.hookimpl(persist, specname="flavorkit_persist")  # type: ignore[attr-defined]
        fake_entry_points.append(FakeEntryPoint(name, module))
    registry = Registry(defaults=False)
    result = registry.persist(object(), tmp_path, None, {}, None, None)
    # pluggy asks the plugin registered last first: "zeta", registered after "alpha"
    assert result["flavor"] == "zetaflavor" and claims == ["zeta"]


def test_the_core_records_the_code_folder_in_the_flavor_section(tmp_path: Path) -> None:
    import yaml

    module = make_plugin("plain", "alpha")

    @flavorkit.hookimpl
    def flavorkit_persist(path: Path) -> Any:
        (path / "weights.txt").write_text("1")
        return {"flavor": "alpha", "conf": {"data": "weights.txt"}, "pyfunc": None}

    module.flavorkit_persist = flavorkit_persist  # type: ignore[attr-defined]
    registry = Registry(entry_points=False)
    registry.register(module, name="plain")
    helper = tmp_path / "helper.py"
    helper.write_text("VALUE = 1\n")
    with use_registry(registry):
        flavorkit.save_model(object(), tmp_path / "bare", flavor="alpha")
        flavorkit.save_model(object(), tmp_path / "shipped", flavor="alpha", code_paths=[helper])
    bare = yaml.safe_load((tmp_path / "bare" / "MLmodel").read_text())["flavors"]["alpha"]
    shipped = yaml.safe_load((tmp_path / "shipped" / "MLmodel").read_text())["flavors"]["alpha"]
    assert bare == {"data": "weights.txt", "code": None}  # as MLflow writes it
    assert shipped["code"] == "code" and (tmp_path / "shipped" / "code" / "helper.py").is_file()


# -- hooks that are not routed by flavor ------------------------------------------------


class Exporter:
    """A plugin adding ``flavorkit export demo`` and ``flavorkit hello``."""

    @staticmethod
    @flavorkit.hookimpl
    def flavorkit_cli_commands(subparsers):
        from flavorkit.hookspecs import subcommand_group

        demo = subcommand_group(subparsers, "export", "export a model").add_parser("demo")
        demo.add_argument("target")
        demo.set_defaults(func=lambda args: print(f"exported to {args.target}") or 0)
        hello = subparsers.add_parser("hello")
        hello.set_defaults(func=lambda args: 3)


class AlsoExporter:
    @staticmethod
    @flavorkit.hookimpl
    def flavorkit_cli_commands(subparsers):
        from flavorkit.hookspecs import subcommand_group

        other = subcommand_group(subparsers, "export", "export a model").add_parser("other")
        other.set_defaults(func=lambda args: 4)


class Broken:
    @staticmethod
    @flavorkit.hookimpl
    def flavorkit_cli_commands(subparsers):
        raise RuntimeError("no commands today")


def test_plugins_add_commands_and_share_a_group(capsys: pytest.CaptureFixture[str]) -> None:
    from flavorkit.cli import main

    registry = Registry(entry_points=False)
    for plugin, name in ((Exporter, "exporter"), (AlsoExporter, "also"), (Broken, "broken")):
        registry.register(plugin, name=name)
    with use_registry(registry):
        assert main(["export", "demo", "/tmp/x"]) == 0
        assert "exported to /tmp/x" in capsys.readouterr().out
        assert main(["export", "other"]) == 4
        assert main(["hello"]) == 3
        assert main(["flavors"]) == 0  # the core's commands are all still there
    err = capsys.readouterr().err
    assert "plugin 'broken' could not add its commands (RuntimeError: no commands today)" in err


class RepoChecker:
    @staticmethod
    @flavorkit.hookimpl
    def flavorkit_validate_folder(path):
        if not (path / "config.pbtxt").exists():
            return None
        text = (path / "config.pbtxt").read_text()
        return [] if "name:" in text else ["config.pbtxt: no name"]


def test_validate_asks_plugins_about_folders_without_mlmodel(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from flavorkit.cli import main

    registry = Registry(entry_points=False)
    registry.register(RepoChecker, name="repo")
    good, bad, other = tmp_path / "good", tmp_path / "bad", tmp_path / "other"
    for folder, text in ((good, 'name: "m"'), (bad, "max_batch_size: 1"), (other, None)):
        folder.mkdir()
        if text is not None:
            (folder / "config.pbtxt").write_text(text)
    with use_registry(registry):
        assert main(["validate", str(good)]) == 0
        assert main(["validate", str(bad)]) == 1
        assert "config.pbtxt: no name" in capsys.readouterr().err
        assert main(["validate", str(other)]) == 1
        assert "MLmodel" in capsys.readouterr().err
