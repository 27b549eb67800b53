"""flavorkit's conformance kit, run on the xgboost flavor.

Four cases: a regressor on an ndarray (tensor signature), a classifier on a
DataFrame (column signature, the predict_fn param), a native Booster (the
output_margin param) and a user's subclass saved as JSON (whose class the
loader imports only with the opt-in, so the kit checks that a manifest
cannot grant it). ``-k booster`` runs one case, ``-k round_trip`` one check.
"""

from __future__ import annotations

from typing import Any

import sample_models
from flavorkit.testing import FlavorCase, Tags, parametrize_flavor_checks

PLUGIN = "flavorkit_xgboost.hooks"
# what flavorkit_xgboost.save_model passes
SAVE = {"flavor": "xgboost"}
# the scikit-learn interface cannot be built without scikit-learn, so it is pinned too
FRAMEWORK = ("xgboost", "sklearn")

CASES = [
    FlavorCase(
        "regressor-ndarray",
        "xgboost",
        sample_models.regressor,
        sample_models.rows,
        PLUGIN,
        framework_module=FRAMEWORK,
        tags=Tags(supports_params=False),
        save_options=SAVE,
        tolerance=1e-5,
    ),
    FlavorCase(
        "classifier-frame",
        "xgboost",
        sample_models.classifier,
        sample_models.frame_rows,
        PLUGIN,
        framework_module=FRAMEWORK,
        tags=Tags(supports_params=True),
        save_options=SAVE,
        params={"predict_fn": "predict_proba"},
        predict_original=sample_models.predict_classifier,
        tolerance=1e-5,
    ),
    FlavorCase(
        "booster-ndarray",
        "xgboost",
        sample_models.booster,
        sample_models.rows,
        PLUGIN,
        framework_module="xgboost",
        tags=Tags(supports_params=True),
        save_options=SAVE,
        params={"output_margin": True},
        predict_original=sample_models.predict_booster,
        tolerance=1e-5,
    ),
    FlavorCase(
        "subclass-json",
        "xgboost",
        sample_models.shifted_regressor,
        sample_models.rows,
        PLUGIN,
        framework_module=FRAMEWORK,
        # the class lives in the tests' own module: loading imports it, so only with the opt-in
        tags=Tags(safe_default_format=False, supports_params=False),
        save_options={**SAVE, "model_format": "json"},
        untrusted_save_options={},
        tolerance=1e-5,
    ),
]


@parametrize_flavor_checks(CASES)
def test_conformance(case: FlavorCase, check: Any) -> None:
    check(case)
