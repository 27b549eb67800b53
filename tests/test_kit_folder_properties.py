"""The kit's checks of the folder and the process (``flavorkit.testing._checks_folder``).

Each check is shown failing on the broken flavor aimed at it, with the
message a plugin author reads, and passing on the flavor that keeps every
rule; the declarations a case can make (``native_type``, ``extra_files``)
are shown to turn a failure into a pass. Also here: the message fixes in
older checks (an overwritten output buffer, a plugin's ``ManifestError``).
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import types
import warnings
from pathlib import Path
from typing import Any

import flavorkit
import flavorkit.testing as kit
import numpy as np
import pytest
from broken_flavors import _toy, case, good
from flavorkit.api._plugins import Registry
from flavorkit.exceptions import ManifestError
from flavorkit.testing import FlavorCheckError, _checks_folder, check_flavor

FOLDER_CHECKS = [
    "check_native_workflow",
    "check_folder_relocatable",
    "check_no_process_side_effects",
    "check_environment_honest",
    "check_folder_contents",
]


def register(registry: Registry, module: str) -> None:
    registry.register(importlib.import_module(f"broken_flavors.{module}"), name=f"zoo-{module}")


def fails(check: str, case_: Any, pattern: str, **kwargs: Any) -> FlavorCheckError:
    with pytest.raises(FlavorCheckError, match=pattern) as caught:
        getattr(kit, check)(case_, **kwargs)
    assert caught.value.check == check
    assert str(caught.value).startswith(f"{check} [{case_.name}]: {caught.value.property}")
    return caught.value


def plugin_with_predict(flavor: str, predict: Any) -> types.ModuleType:
    """The good toy's hooks under ``flavor``, with ``predict(model, data, params)`` swapped in."""
    hooks = good.hooks(flavor)

    @flavorkit.hookimpl
    def flavorkit_predict(flavor: str, model: Any, data: Any, params: dict[str, Any]) -> Any:
        return predict(model, data, params) if flavor == hooks_flavor else None

    hooks_flavor = flavor
    plugin = types.ModuleType(f"plugin_{flavor}")
    plugin.flavorkit_flavors = hooks.flavors  # type: ignore[attr-defined]
    plugin.flavorkit_persist = hooks.persist  # type: ignore[attr-defined]
    plugin.flavorkit_load = hooks.load  # type: ignore[attr-defined]
    plugin.flavorkit_predict = flavorkit_predict  # type: ignore[attr-defined]
    plugin.flavorkit_detect_environment = hooks.detect_environment  # type: ignore[attr-defined]
    return plugin


# -- the flavor that keeps every rule ----------------------------------------------------


def test_folder_checks_are_selected_by_default_and_pass_on_good(
    flavorkit_registry: Registry,
) -> None:
    register(flavorkit_registry, "good")
    results = {r.check: r for r in check_flavor(case("good"))}
    assert [(n, results[n].status, results[n].message) for n in FOLDER_CHECKS] == [
        (n, "passed", "") for n in FOLDER_CHECKS
    ]


def test_fresh_process_is_shared_by_the_two_checks_that_need_one(
    flavorkit_registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    register(flavorkit_registry, "good")
    started: list[Any] = []
    real_run = subprocess.run

    def counting_run(*args: Any, **kwargs: Any) -> Any:
        started.append(args)
        return real_run(*args, **kwargs)

    monkeypatch.setattr(_checks_folder.subprocess, "run", counting_run)
    the_case = case("good")
    kit.check_load_in_fresh_process(the_case)
    kit.check_folder_relocatable(the_case)
    assert len(started) == 1


# -- check_native_workflow ---------------------------------------------------------------


def test_native_workflow_catches_a_private_wrapper(flavorkit_registry: Registry) -> None:
    register(flavorkit_registry, "wraps_native")
    fails(
        "check_native_workflow",
        case("wraps_native"),
        r"load_native returned a broken_flavors\.wraps_native\._Loaded, not a "
        r"broken_flavors\._toy\.ToyLinear .*return the framework's own object from the load hook",
    )


def test_native_workflow_honours_a_declared_native_type(flavorkit_registry: Registry) -> None:
    register(flavorkit_registry, "good")
    fails("check_native_workflow", case("good", native_type=int), r"not a builtins\.int")
    kit.check_native_workflow(case("good", name="good-declared", native_type=_toy.ToyLinear))


def test_native_workflow_compares_the_native_predict(flavorkit_registry: Registry) -> None:
    register(flavorkit_registry, "good")

    def off_by_one(model: Any, data: Any, params: Any) -> Any:
        return model.predict(data) + 1

    fails(
        "check_native_workflow",
        case("good", predict_original=off_by_one),
        r"the ToyLinear load_native returned predicts differently from load_model",
    )


# -- check_folder_relocatable -------------------------------------------------------------


@pytest.mark.parametrize(
    ("module", "seen"),
    [
        (
            "shared_weight_store",
            r"MLmodel holds absolute paths under flavors\.toy_shared_weight_store\.weights_store "
            r"\('/.*/home/\.cache/toy-weights/[0-9a-f]+\.npy'\)",
        ),
        (
            "lazy_relative_path",
            r"(?s)with the original deleted, predicting after the working directory changed "
            r"\(a load that keeps the relative path .*\) failed: ManifestError",
        ),
        ("caches_in_home", r"wrote HOME/\.cache/toy-flavor/compiled\.bin; keep the model's files"),
    ],
)
def test_folder_relocatable_catches(flavorkit_registry: Registry, module: str, seen: str) -> None:
    register(flavorkit_registry, module)
    fails("check_folder_relocatable", case(module), seen)


def test_folder_relocatable_watches_a_cache_moved_by_xdg(
    flavorkit_registry: Registry, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # a machine that sets XDG_CACHE_HOME must not let cache writes escape the watch
    elsewhere = tmp_path / "xdg-cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(elsewhere))
    register(flavorkit_registry, "caches_in_home")
    fails("check_folder_relocatable", case("caches_in_home"), r"wrote HOME/\.cache/toy-flavor/")


def test_folder_relocatable_leaves_home_and_cwd_alone(
    flavorkit_registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", "/nonexistent/config")
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    register(flavorkit_registry, "shared_weight_store")
    names = ("HOME", "USERPROFILE", "XDG_CACHE_HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME")
    before = ({k: os.environ.get(k) for k in names}, os.getcwd())
    with pytest.raises(FlavorCheckError):
        kit.check_folder_relocatable(case("shared_weight_store"))
    assert ({k: os.environ.get(k) for k in names}, os.getcwd()) == before


def test_folder_relocatable_spots_absolute_values() -> None:
    absolute = [
        "/srv/models/w.npy",
        "C:\\models\\w.npy",
        "c:/models/w.npy",
        "\\\\share\\w.npy",
        "~/w.npy",
        "file:///srv/w.npy",
    ]
    relative = ["data", "data/model.pt2", "xgboost.sklearn.XGBRegressor", "[1, 2]", ""]
    assert [_checks_folder._is_absolute(t) for t in absolute] == [True] * len(absolute)
    assert [_checks_folder._is_absolute(t) for t in relative] == [False] * len(relative)
    nested = {"flavors": {"f": {"shards": ["a.bin", {"path": "/x"}]}}, "artifact_path": "/r"}
    assert list(_checks_folder._strings(nested, "")) == [
        ("flavors.f.shards[0]", "a.bin"),
        ("flavors.f.shards[1].path", "/x"),
        ("artifact_path", "/r"),
    ]


# -- check_no_process_side_effects ---------------------------------------------------------


def test_no_process_side_effects_catches_a_chdir(flavorkit_registry: Registry) -> None:
    register(flavorkit_registry, "chdir_on_load")
    cwd = os.getcwd()
    fails(
        "check_no_process_side_effects",
        case("chdir_on_load"),
        r"saving changed the working directory \(.* -> .*\); restore what you change",
    )
    assert os.getcwd() == cwd


def _sets_env(model: Any, data: Any, params: Any) -> Any:
    os.environ["TOY_THREADS"] = "1"
    return _toy.predict(model, data, params)


def _extends_path(model: Any, data: Any, params: Any) -> Any:
    sys.path.append("/opt/toy/vendored")
    return _toy.predict(model, data, params)


def _silences_warnings(model: Any, data: Any, params: Any) -> Any:
    warnings.simplefilter("ignore", DeprecationWarning)
    return _toy.predict(model, data, params)


@pytest.mark.parametrize(
    ("predict", "seen"),
    [
        (_sets_env, r"(saving|predicting) changed os\.environ \(variables TOY_THREADS\)"),
        (_extends_path, r"(saving|predicting) changed sys\.path \(added /opt/toy/vendored\)"),
        (
            _silences_warnings,
            r"(saving|predicting) changed the warning filters \(\d+ -> \d+ filters; at position 0 "
            r"now 'ignore' for DeprecationWarning\)",
        ),
    ],
)
def test_no_process_side_effects_catches_and_restores(
    flavorkit_registry: Registry, predict: Any, seen: str
) -> None:
    flavor = f"toy_{predict.__name__.strip('_')}"
    flavorkit_registry.register(plugin_with_predict(flavor, predict), name=flavor)
    before = (dict(os.environ), list(sys.path), list(warnings.filters))
    fails("check_no_process_side_effects", case("good", name=flavor, flavor=flavor), seen)
    assert (dict(os.environ), list(sys.path), list(warnings.filters)) == before


# -- check_environment_honest ----------------------------------------------------------------


def test_environment_honest_catches_a_stale_pin(flavorkit_registry: Registry) -> None:
    register(flavorkit_registry, "stale_pin")
    fails(
        "check_environment_honest",
        case("stale_pin"),
        r"requirements\.txt pins pandas==1\.3\.5 \(installed: [0-9.]+\); .*pins_for_modules",
    )


def test_environment_honest_reads_every_pin(flavorkit_registry: Registry) -> None:
    register(flavorkit_registry, "good")
    local = f"numpy=={np.__version__}+cpu"  # local labels are ignored on both sides
    skipped = 'pandas==0.1; python_version < "3"'  # markers that do not hold here
    extra = {"extra_pip_requirements": [local, skipped, "pytest>=1"]}
    kit.check_environment_honest(case("good", name="good-extras", save_options=extra))
    missing = {"extra_pip_requirements": ["flavorkit-no-such-dist==1.0"]}
    fails(
        "check_environment_honest",
        case("good", name="good-missing", save_options=missing),
        r"pins flavorkit-no-such-dist==1\.0 \(not installed\)",
    )


# -- check_folder_contents --------------------------------------------------------------------


def test_folder_contents_catches_leftovers(flavorkit_registry: Registry) -> None:
    register(flavorkit_registry, "leaves_temp_files")
    fails(
        "check_folder_contents",
        case("leaves_temp_files"),
        r"the folder also holds \.lock, weights\.npy\.tmp, which neither the core writes nor "
        r"the flavor's MLmodel section names \(it names weights\.npy\); remove temporary",
    )
    declared = case("leaves_temp_files", name="declared", extra_files=["*.tmp", ".lock"])
    kit.check_folder_contents(declared)


def test_folder_contents_accepts_named_folders_and_code(
    flavorkit_registry: Registry, tmp_path: Path
) -> None:
    register(flavorkit_registry, "good")
    helper = tmp_path / "helper.py"
    helper.write_text("X = 1\n", encoding="utf-8")
    kit.check_folder_contents(case("good", save_options={"code_paths": [str(helper)]}))


# -- message fixes in the older checks ----------------------------------------------------------


def test_an_overwritten_output_buffer_is_named_as_such(flavorkit_registry: Registry) -> None:
    register(flavorkit_registry, "aliased_output")
    aliasing = r"changed after later predict calls .*the same buffer each time"
    fails(
        "check_row_count_and_order",
        case("aliased_output"),
        r"example's 6 rows " + aliasing,
        max_examples=30,
    )
    fails("check_single_row", case("aliased_output", name="aliased-one"), aliasing)
    # not "the flavor does not pass params to the model"
    fails(
        "check_params_validated_and_defaulted",
        case("aliased_output", name="aliased-params"),
        r"the prediction on the example without params " + aliasing,
    )


def test_default_format_check_wraps_a_manifest_error(
    flavorkit_registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    register(flavorkit_registry, "good")
    the_case = case("good")
    kit._support.saved_model(the_case)

    def refuse(path: Any) -> Any:
        raise ManifestError("flavor section is not a mapping", path=path, key="flavors")

    monkeypatch.setattr(flavorkit.Model, "load", staticmethod(refuse))
    fails(
        "check_default_format_is_safe",
        the_case,
        r"reading the saved MLmodel raised ManifestError: .*flavor section is not a mapping",
    )
