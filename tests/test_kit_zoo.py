"""The conformance kit against the zoo of broken flavors (tests/broken_flavors).

Each broken flavor must be caught by the check aimed at the rule it breaks,
with a message naming what was seen; the flavor that keeps every rule must
pass every check, so a failure is the flavor's and not the kit's.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import flavorkit.testing as kit
import numpy as np
import pytest
from broken_flavors import AIMED_CHECKS, case
from flavorkit.api._plugins import Registry
from flavorkit.testing import FlavorCheckError, check_flavor

ZOO = Path(__file__).parent / "broken_flavors"

# what each broken flavor's failure message must say
SEEN: dict[str, str] = {
    "drops_row": r"example's 6 rows returned 5 rows",
    "reorders_rows": r"does not give the example's predictions for those rows in that order",
    "ignores_params": r"with params \{'scale': 3\.0\} equal those with the defaults",
    "dtype_after_reload": r"has dtype float64, expected float32",
    "pickle_by_default": r"load_model without the unsafe opt-in was refused "
    r"\(serialization_format: pickle\)",
    "imports_framework": r"imported \['numpy'\]; import the framework inside the hook functions",
    "nondeterministic": r"two predictions on the same input differ",
    "writes_outside": r"left files outside it: models/toy-cache\.txt",
    "trusts_manifest": r"loaded the folder .* without the opt-in once MLmodel claimed trust",
    "unpinned_framework": r"should pin numpy==[0-9.]+; it has numpy ",
    "misspelt_hook": r"lists 'toy_misspelt_hook' with status error\n.*flavorkit_presist",
    "follows_links": r"after symlink_out weights\.npy, load_model read \S+/outside\.txt, "
    r"outside the model folder",
    "downcasts_input": r"the caller's input column 'a' has dtype float32, was float64",
    "nan_in_long_output": r"the output has dtype float64 with \d+ NaN; the output signature "
    r"declares long",
    "truncates_strings": r"'tag': \['.{9,}'\].*the loaded model predicts differently from the "
    r"original",
    "raises_on_empty": r"0 rows of the example form .* raised ValueError: need at least one array",
    "reads_rows_by_label": r"the example with an index shifted by 100 raised KeyError",
    "columns_by_position": r"the folder saved from the example with columns \['c', 'b', 'a'\] "
    r"predicts differently",
    "shared_buffer": r"predictions \(8 threads x 40 rounds\) differ from the single-thread answer",
    "wraps_native": r"load_native returned a broken_flavors\.wraps_native\._Loaded, not a "
    r"broken_flavors\._toy\.ToyLinear",
    "shared_weight_store": r"MLmodel holds absolute paths under "
    r"flavors\.toy_shared_weight_store\.weights_store",
    "lazy_relative_path": r"predicting after the working directory changed .* failed: "
    r"ManifestError: relocated/model/MLmodel, key 'weights'",
    "caches_in_home": r"saving, loading or predicting wrote HOME/\.cache/toy-flavor/compiled\.bin;",
    "chdir_on_load": r"saving changed the working directory",
    "stale_pin": r"requirements\.txt pins pandas==1\.3\.5 \(installed: [0-9.]+\)",
    "leaves_temp_files": r"the folder also holds \.lock, weights\.npy\.tmp, which neither",
    "writes_on_load": r"the second load of models:/conformance@checked found the registered files "
    r"changed: .*weights\.checked.*loading wrote into the model's folder",
    "aliased_output": r"the prediction on the example's 6 rows changed after later predict calls",
}


def register(registry: Registry, module: str) -> None:
    registry.register(importlib.import_module(f"broken_flavors.{module}"), name=f"zoo-{module}")


def test_zoo_every_broken_flavor_has_an_aimed_check() -> None:
    modules = {p.stem for p in ZOO.glob("*.py")} - {"__init__", "_toy", "good"}
    assert set(AIMED_CHECKS) == modules == set(SEEN)
    assert set(AIMED_CHECKS.values()) <= set(kit.CHECK_NAMES)


def test_zoo_good_flavor_passes_every_check(flavorkit_registry: Registry) -> None:
    register(flavorkit_registry, "good")
    results = check_flavor(case("good"))
    assert [(r.check, r.status, r.message) for r in results if r.status != "passed"] == []
    assert [r.check for r in results] == list(kit.CHECK_NAMES)


def test_zoo_good_flavor_with_tensor_input_passes_every_check(flavorkit_registry: Registry) -> None:
    register(flavorkit_registry, "good")
    example = np.random.default_rng(1).normal(size=(5, 3)).astype(np.float32)
    results = check_flavor(case("good", name="good-tensor", example=example))
    assert [(r.check, r.status, r.message) for r in results if r.status != "passed"] == []


@pytest.mark.parametrize("module", sorted(AIMED_CHECKS))
def test_zoo_broken_flavor_fails_its_aimed_check(flavorkit_registry: Registry, module: str) -> None:
    register(flavorkit_registry, module)
    check = getattr(kit, AIMED_CHECKS[module])
    with pytest.raises(FlavorCheckError, match=SEEN[module]) as caught:
        check(case(module))
    assert caught.value.check == AIMED_CHECKS[module]
    assert caught.value.case == module
    # the message opens with the check, the case and the property it states
    assert str(caught.value).startswith(
        f"{AIMED_CHECKS[module]} [{module}]: {caught.value.property}"
    )
