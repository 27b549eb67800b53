"""pytest plugin of the flavorkit conformance kit (registered through ``pytest11``).

Registers the hypothesis profiles the kit's checks use: ``flavorkit-ci``
(few examples, no deadline) and ``flavorkit-dev``. Select one with
``--hypothesis-profile``.
"""

from __future__ import annotations


def pytest_configure(config: object) -> None:
    try:
        from hypothesis import HealthCheck, settings
    except ImportError:  # the kit's extra is not installed; nothing to configure
        return
    settings.register_profile(
        "flavorkit-ci", max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow]
    )
    settings.register_profile("flavorkit-dev", max_examples=50, deadline=None)
