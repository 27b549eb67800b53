"""Fixtures of the adversarial suite: pristine folders of every flavor, and its hypothesis profile.

The pristine folders are saved once per session (``adversarial_folders``);
each test copies the one it spoils. The profile ``flavorkit-adversarial``
bounds the mutator's examples per flavor so that the whole suite stays
within a few minutes on two cores; ``FLAVORKIT_ADVERSARIAL_EXAMPLES=N``
runs more (the fuzzing benchmark runs thousands, in separate processes),
``FLAVORKIT_ADVERSARIAL_SHRINK=1`` shrinks a failing plan.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from adversarial_folders import KINDS, PROFILE, Workers, save_pristine
from hypothesis import HealthCheck, Phase, settings

EXAMPLES_ENV = "FLAVORKIT_ADVERSARIAL_EXAMPLES"
SHRINK_ENV = "FLAVORKIT_ADVERSARIAL_SHRINK"

settings.register_profile(
    PROFILE,
    max_examples=int(os.environ.get(EXAMPLES_ENV, "12")),
    deadline=None,  # the per-call time bound is the suite's own (flavorkit.testing._hostile)
    database=None,  # examples are folders built from a fresh save; nothing to replay
    derandomize=True,  # the same folders every run, so a red test is a change, not chance
    # a plan of one to three edits reads well unshrunk; shrinking re-probes a folder per step
    phases=[
        Phase.explicit,
        Phase.generate,
        *([Phase.shrink] if os.environ.get(SHRINK_ENV) else []),
    ],
    report_multiple_bugs=False,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@pytest.fixture(scope="session")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """``{kind: folder}``: one small model of each flavor, as saved (never edit these)."""
    return save_pristine(tmp_path_factory.mktemp("pristine"), KINDS)


@pytest.fixture(scope="session")
def workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workers]:
    """Warm worker processes that probe folders; their current directory is an empty folder."""
    pool = Workers(tmp_path_factory.mktemp("worker-cwd"), tmp_path_factory.mktemp("worker-tmp"))
    yield pool
    pool.close()
