"""The flavor conformance kit: the contract every flavor plugin keeps, as executable checks.

One line in a plugin's tests runs it::

    from flavorkit.testing import FlavorCase, parametrize_flavor_checks

    CASES = [FlavorCase("logreg", "sklearn", make_model, example, "flavorkit_sklearn.hooks",
                        framework_module="sklearn")]

    @parametrize_flavor_checks(CASES)
    def test_conformance(case, check):
        check(case)

``check_flavor(case)`` runs the same checks without pytest and returns one
:class:`CheckResult` per check; ``iter_flavor_checks(case)`` is the
generator underneath. Each ``check_<property>`` is public and states its
property in its docstring. ``flavorkit.testing.strategies`` holds the
hypothesis strategies built from signatures (conforming data, params, and
mutations enforcement must reject).

For a plugin's tests of its packaging, ``modules_imported_by(code, modules)``
says which heavy modules a fresh interpreter imports, and
``install_wheels_in_fresh_venv(projects, work)`` installs the built wheels
into a new virtual environment (a :class:`FreshVenv` to run commands in).

Install the ``testing`` extra (``pip install flavorkit[testing]``) for
pytest and hypothesis; importing this package alone imports nothing heavy.
"""

from __future__ import annotations

import importlib
from typing import Any

from flavorkit._lazy import lazy_exports

_CASE = "flavorkit.testing._case"
_CHECKS = "flavorkit.testing._checks"
_DATA = "flavorkit.testing._checks_data"
_FOLDER = "flavorkit.testing._checks_folder"
_HOSTILE = "flavorkit.testing._checks_hostile"
_PACKAGING = "flavorkit.testing._checks_packaging"
_INSTALL = "flavorkit.testing._packaging"
_RUNNER = "flavorkit.testing._runner"
_SUPPORT = "flavorkit.testing._support"

# public name -> the module that defines it
_EXPORTS: dict[str, str] = {
    "CHECK_NAMES": _RUNNER,
    "CheckResult": _RUNNER,
    "FlavorCase": _CASE,
    "FlavorCheckError": _SUPPORT,
    "FreshVenv": _INSTALL,
    "SkipCheck": _SUPPORT,
    "Tags": _CASE,
    "check_columns_bound_by_name": _DATA,
    "check_concatenation": _CHECKS,
    "check_concurrent_predictions": _DATA,
    "check_default_format_is_safe": _PACKAGING,
    "check_empty_and_odd_batches": _DATA,
    "check_environment_honest": _FOLDER,
    "check_environment_pins_framework": _PACKAGING,
    "check_flavor": _RUNNER,
    "check_folder_contents": _FOLDER,
    "check_folder_relocatable": _FOLDER,
    "check_loads_from_registry": _FOLDER,
    "check_generated_data_predictions": _DATA,
    "check_hostile_folder_refused": _HOSTILE,
    "check_import_is_light": _PACKAGING,
    "check_infer_then_enforce": _CHECKS,
    "check_input_forms_agree": _CHECKS,
    "check_input_untouched": _DATA,
    "check_load_in_fresh_process": _CHECKS,
    "check_manifest_cannot_widen_trust": _PACKAGING,
    "check_mutations_rejected": _CHECKS,
    "check_native_workflow": _FOLDER,
    "check_no_process_side_effects": _FOLDER,
    "check_params_validated_and_defaulted": _CHECKS,
    "check_plugin_listed": _PACKAGING,
    "check_predict_deterministic": _CHECKS,
    "check_row_count_and_order": _CHECKS,
    "check_save_load_round_trip": _CHECKS,
    "check_save_refuses_non_empty_path": _PACKAGING,
    "check_save_writes_only_inside_folder": _PACKAGING,
    "check_single_row": _CHECKS,
    "install_wheels_in_fresh_venv": _INSTALL,
    "iter_flavor_checks": _RUNNER,
    "modules_imported_by": _PACKAGING,
    "parametrize_flavor_checks": _RUNNER,
}

__all__ = sorted(_EXPORTS)


_resolve = lazy_exports("flavorkit.testing", _EXPORTS, globals())


def __getattr__(name: str) -> Any:
    if name == "strategies":  # the submodule imports hypothesis: only on request
        return importlib.import_module("flavorkit.testing.strategies")
    return _resolve(name)


def __dir__() -> list[str]:
    return __all__
