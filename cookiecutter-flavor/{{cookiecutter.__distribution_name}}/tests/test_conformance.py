"""flavorkit's conformance kit, run on the {{ cookiecutter.flavor_name }} flavor.

Two cases: a model fitted on an ndarray (tensor signature) and one fitted on
a DataFrame (column signature). ``-k ndarray`` runs one case, ``-k round_trip``
one check.
"""

from __future__ import annotations

from typing import Any

import sample_models
from flavorkit.testing import FlavorCase, Tags, parametrize_flavor_checks

from {{ cookiecutter.__package_name }}._native import FLAVOR_NAME, FORMAT_RUNS_CODE, FRAMEWORK_MODULE

PLUGIN = "{{ cookiecutter.__package_name }}.hooks"
# A format that runs code when read needs the opt-in, so the kit checks that a
# manifest cannot grant it; a safe format must load without it. The flavor's
# predict takes no params (declare them in the persist hook's answer, then
# turn supports_params on and give the cases params that change predictions).
TAGS = Tags(safe_default_format=not FORMAT_RUNS_CODE, supports_params=False)
UNTRUSTED: dict[str, Any] | None = {} if FORMAT_RUNS_CODE else None

CASES = [
    FlavorCase(
        "ndarray",
        FLAVOR_NAME,
        sample_models.array_model,
        sample_models.array_rows,
        PLUGIN,
        framework_module=FRAMEWORK_MODULE,
        tags=TAGS,
        # what save_model of this package passes
        save_options={"flavor": FLAVOR_NAME},
        untrusted_save_options=UNTRUSTED,
    ),
    FlavorCase(
        "dataframe",
        FLAVOR_NAME,
        sample_models.frame_model,
        sample_models.frame_rows,
        PLUGIN,
        framework_module=FRAMEWORK_MODULE,
        tags=TAGS,
        save_options={"flavor": FLAVOR_NAME},
        untrusted_save_options=UNTRUSTED,
    ),
]


@parametrize_flavor_checks(CASES)
def test_conformance(case: FlavorCase, check: Any) -> None:
    check(case)
