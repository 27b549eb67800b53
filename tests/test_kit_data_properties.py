"""The kit's data properties: untouched input, generated data, odd batches, names, threads.

The zoo (test_kit_zoo.py) holds one broken flavor per realistic bug and
asserts the aimed check catches it; here: the control passes each check in
each input form, failures name the shrunk input and the fix, the second
realistic bug of each property is caught too, and the tags deselect.
"""

from __future__ import annotations

import importlib
import re
import types
from collections.abc import Callable
from typing import Any

import flavorkit
import flavorkit.testing as kit
import numpy as np
import pandas as pd
import pytest
from broken_flavors import _toy, case, good
from flavorkit.api._plugins import Registry
from flavorkit.testing import FlavorCheckError, Tags, check_flavor
from flavorkit.testing._checks_data import _first_change, _output_problem
from flavorkit.testing._values import flatten

DATA_CHECKS = (
    "check_input_untouched",
    "check_generated_data_predictions",
    "check_empty_and_odd_batches",
    "check_columns_bound_by_name",
    "check_concurrent_predictions",
)


def register(registry: Registry, module: str) -> None:
    registry.register(importlib.import_module(f"broken_flavors.{module}"), name=f"zoo-{module}")


def inline_flavor(registry: Registry, name: str, predict: Callable[..., Any]) -> Any:
    """Register the good toy's hooks under ``name`` with ``predict(model, data, params)``."""
    hooks = good.hooks(name)

    @flavorkit.hookimpl
    def flavorkit_predict(flavor: str, model: Any, data: Any, params: dict[str, Any]) -> Any:
        return predict(model, data, params) if flavor == name else None

    plugin = types.ModuleType(f"inline_{name}")
    plugin.flavorkit_flavors = hooks.flavors  # type: ignore[attr-defined]
    plugin.flavorkit_persist = hooks.persist  # type: ignore[attr-defined]
    plugin.flavorkit_load = hooks.load  # type: ignore[attr-defined]
    plugin.flavorkit_predict = flavorkit_predict  # type: ignore[attr-defined]
    plugin.flavorkit_detect_environment = hooks.detect_environment  # type: ignore[attr-defined]
    registry.register(plugin, name=f"inline-{name}")
    return case("good", name=name, flavor=name)


def tensor_example() -> np.ndarray:
    return np.random.default_rng(1).normal(size=(5, 3)).astype(np.float32)


def test_data_checks_are_public_and_selected_by_default() -> None:
    assert set(DATA_CHECKS) <= set(kit.CHECK_NAMES) <= set(kit.__all__)
    selected = [kit._runner.check_name(c) for c in kit.iter_flavor_checks(case("good"))]
    assert set(DATA_CHECKS) <= set(selected)


def test_thread_safe_tag_deselects_the_concurrency_check() -> None:
    unsafe = case("good", tags=Tags(thread_safe=False))
    selected = [kit._runner.check_name(c) for c in kit.iter_flavor_checks(unsafe)]
    assert "check_concurrent_predictions" not in selected
    assert "check_input_untouched" in selected


def test_columns_check_is_selected_for_frame_examples_only() -> None:
    selected = [
        kit._runner.check_name(c)
        for c in kit.iter_flavor_checks(case("good", example=tensor_example))
    ]
    assert "check_columns_bound_by_name" not in selected


def test_generated_data_check_takes_max_examples() -> None:
    bound = {
        kit._runner.check_name(c): c for c in kit.iter_flavor_checks(case("good"), max_examples=2)
    }
    assert bound["check_generated_data_predictions"].keywords == {"max_examples": 2}


@pytest.mark.parametrize("example", [None, tensor_example], ids=["frame", "tensor"])
def test_good_flavor_passes_the_data_checks(flavorkit_registry: Registry, example: Any) -> None:
    register(flavorkit_registry, "good")
    overrides = {} if example is None else {"name": "good-tensor", "example": example}
    results = {r.check: r for r in check_flavor(case("good", **overrides))}
    for name in DATA_CHECKS:
        if name in results:
            assert results[name].status == "passed", (name, results[name].message)


# -- failures name the input and the fix ------------------------------------------------


def test_generated_data_failure_names_the_shrunk_input_and_the_fix(
    flavorkit_registry: Registry,
) -> None:
    register(flavorkit_registry, "nan_in_long_output")
    with pytest.raises(FlavorCheckError) as caught:
        kit.check_generated_data_predictions(case("nan_in_long_output"))
    message = str(caught.value)
    # the (shrunk) input, or the one row of it that shows the bug, with its values
    assert re.search(r"on generated (input |row \d+ alone \()DataFrame of 1 rows", message)
    assert "{'a': [" in message
    assert "missing values turn an integer column into floats" in message


def test_input_untouched_catches_an_added_column(flavorkit_registry: Registry) -> None:
    def adds_column(model: Any, data: Any, params: dict[str, Any]) -> Any:
        out = _toy.predict(model, data, params)
        if isinstance(data, pd.DataFrame):
            data["prediction"] = out  # "keeps the prediction next to its row"
        return out

    adds = inline_flavor(flavorkit_registry, "toy_adds_column", adds_column)
    with pytest.raises(FlavorCheckError, match=r"\(added \['prediction'\]\).*copy it before"):
        kit.check_input_untouched(adds)


def test_input_untouched_catches_the_original_changing_it(flavorkit_registry: Registry) -> None:
    def predict(model: Any, data: Any, params: Any) -> Any:
        data["a"] = data["a"] * 2  # normalizes in place
        return model.predict(data)

    register(flavorkit_registry, "good")
    with pytest.raises(FlavorCheckError, match=r"after the original model predicted"):
        kit.check_input_untouched(case("good", name="scales", predict_original=predict))


def test_odd_batches_catch_a_sorted_index(flavorkit_registry: Registry) -> None:
    def sorts_by_index(model: Any, data: Any, params: dict[str, Any]) -> Any:
        if isinstance(data, pd.DataFrame):
            data = data.sort_index()  # "canonical row order"
        return _toy.predict(model, data, params)

    sorts = inline_flavor(flavorkit_registry, "toy_sorts_by_index", sorts_by_index)
    with pytest.raises(FlavorCheckError, match=r"an index reversed .*read rows by position"):
        kit.check_empty_and_odd_batches(sorts)


def test_columns_check_skips_a_model_that_reads_by_position(flavorkit_registry: Registry) -> None:
    register(flavorkit_registry, "good")

    def positional() -> Any:
        model = _toy.make_model()
        model.columns = None
        return model

    with pytest.raises(kit.SkipCheck, match="reads columns by position"):
        kit.check_columns_bound_by_name(case("good", name="positional", model_factory=positional))


# -- helpers -------------------------------------------------------------------------


def test_first_change_describes_dtype_index_values_and_columns() -> None:
    frame = pd.DataFrame({"a": [1.0, 2.0], "b": ["x", "y"]})
    assert _first_change(frame, frame.copy()) is None
    assert "dtype float32" in _first_change(frame, frame.astype({"a": "float32"}))
    assert "index changed" in _first_change(frame, frame.set_axis([5, 6]))
    changed = frame.copy()
    changed.loc[1, "b"] = "z"
    assert "column 'b': values changed" in _first_change(frame, changed)
    assert "(dropped ['b'])" in _first_change(frame, frame[["a"]])
    arr = np.array([1.0, np.nan])
    assert _first_change(arr, arr.copy()) is None
    assert "values changed" in _first_change({"x": arr}, {"x": np.array([1.0, 0.0])})


def test_output_problem_holds_long_columns_to_integers() -> None:
    from flavorkit import ColSpec, Schema

    long_out = Schema([ColSpec("long")])
    assert _output_problem(flatten(np.array([1, 2], dtype=np.int64)), long_out) is None
    problem = _output_problem(flatten(np.array([1.0, np.nan])), long_out)
    assert problem == "the output has dtype float64 with 1 NaN; the output signature declares long"
    assert _output_problem(flatten(np.array([1.0])), None) is None
