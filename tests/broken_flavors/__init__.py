"""A zoo of flavor plugins that each break one rule of the flavor contract.

Every module here is a complete plugin (hook functions marked with
``flavorkit.hookimpl``) for a toy linear model whose "framework" is numpy.
``good`` keeps every rule; each other module reuses its hooks under a
flavor name of its own and replaces the one hook that breaks exactly one
rule, named in its docstring. The conformance kit's own tests register each
one in a throwaway registry and expect the check aimed at its rule to fail.

Nothing in this package imports numpy at import time, except the module
whose broken rule is exactly that.
"""

from __future__ import annotations

from typing import Any

# module -> the check aimed at the rule it breaks
AIMED_CHECKS: dict[str, str] = {
    "drops_row": "check_row_count_and_order",
    "reorders_rows": "check_row_count_and_order",
    "ignores_params": "check_params_validated_and_defaulted",
    "dtype_after_reload": "check_save_load_round_trip",
    "pickle_by_default": "check_default_format_is_safe",
    "imports_framework": "check_import_is_light",
    "nondeterministic": "check_predict_deterministic",
    "writes_outside": "check_save_writes_only_inside_folder",
    "trusts_manifest": "check_manifest_cannot_widen_trust",
    "unpinned_framework": "check_environment_pins_framework",
    "misspelt_hook": "check_plugin_listed",
    "follows_links": "check_hostile_folder_refused",
    "downcasts_input": "check_input_untouched",
    "nan_in_long_output": "check_generated_data_predictions",
    "truncates_strings": "check_generated_data_predictions",
    "raises_on_empty": "check_empty_and_odd_batches",
    "reads_rows_by_label": "check_empty_and_odd_batches",
    "columns_by_position": "check_columns_bound_by_name",
    "shared_buffer": "check_concurrent_predictions",
    "wraps_native": "check_native_workflow",
    "shared_weight_store": "check_folder_relocatable",
    "lazy_relative_path": "check_folder_relocatable",
    "caches_in_home": "check_folder_relocatable",
    "chdir_on_load": "check_no_process_side_effects",
    "stale_pin": "check_environment_honest",
    "leaves_temp_files": "check_folder_contents",
    "aliased_output": "check_row_count_and_order",
    "writes_on_load": "check_loads_from_registry",
}


def example_frame() -> Any:
    """Six distinct rows of three double columns: the example every zoo case saves with."""
    import numpy as np
    import pandas as pd

    return pd.DataFrame(np.random.default_rng(0).normal(size=(6, 3)), columns=["a", "b", "c"])


def case(module: str, **overrides: Any) -> Any:
    """The ``FlavorCase`` of ``broken_flavors.<module>`` (fields overridable by keyword)."""
    import importlib

    from flavorkit.testing import FlavorCase

    from broken_flavors import _toy

    plugin = importlib.import_module(f"broken_flavors.{module}")
    fields: dict[str, Any] = dict(
        name=module,
        flavor=plugin.FLAVOR,
        model_factory=_toy.make_model,
        example=example_frame,
        plugin_module=plugin.__name__,
        framework_module="numpy",
        params={"scale": 3.0},
        untrusted_save_options={"serialization_format": "pickle"},
    )
    fields.update(getattr(plugin, "CASE_FIELDS", {}))  # a module's own example or predict
    fields.update(overrides)
    return FlavorCase(**fields)
