"""The hypothesis profiles of the conformance kit.

``flavorkit-ci``: 10 examples per property, no deadline (the full kit on one
flavor stays well under a minute). ``flavorkit-dev``: 50 examples. Select one
with ``--hypothesis-profile`` (pytest) or ``hypothesis.settings.load_profile``.
"""

from __future__ import annotations

CI_PROFILE = "flavorkit-ci"
DEV_PROFILE = "flavorkit-dev"


def register_profiles() -> bool:
    """Register both profiles; returns False when hypothesis is not installed."""
    try:
        from hypothesis import HealthCheck, settings
    except ImportError:
        return False
    settings.register_profile(
        CI_PROFILE, max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow]
    )
    settings.register_profile(DEV_PROFILE, max_examples=50, deadline=None)
    return True
