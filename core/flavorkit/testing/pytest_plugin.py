"""pytest plugin of the flavorkit conformance kit (registered through ``pytest11``).

- Registers the hypothesis profiles ``flavorkit-ci`` (10 examples per
  property, no deadline) and ``flavorkit-dev`` (50); select one with
  ``--hypothesis-profile``.
- ``--flavorkit-max-examples N`` sets how many examples each property
  check of the kit tries (it overrides the ``FLAVORKIT_MAX_EXAMPLES``
  environment variable, which overrides the hypothesis profile).
- The ``flavorkit_registry`` fixture: a fresh plugin registry without
  installed entry points, current for the test, to register throwaway
  flavor plugins in.

Importing this module imports neither hypothesis nor flavorkit's heavy parts.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from flavorkit.api._plugins import Registry


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("flavorkit", "flavorkit conformance kit")
    group.addoption(
        "--flavorkit-max-examples",
        type=int,
        default=None,
        metavar="N",
        help="examples each property check of the flavorkit kit tries "
        "(default: the hypothesis profile's)",
    )


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    # first, so that hypothesis's own plugin finds the profiles for --hypothesis-profile
    from flavorkit.testing._profiles import register_profiles
    from flavorkit.testing._support import set_default_max_examples

    register_profiles()
    value = config.getoption("--flavorkit-max-examples", default=None)
    if value is not None:
        set_default_max_examples(value)


@pytest.fixture
def flavorkit_registry() -> Iterator[Registry]:
    """A fresh registry (built-in flavors only, no entry points), current for the test.

    Register throwaway plugins with ``flavorkit_registry.register(module, name=...)``.
    """
    from flavorkit.api._plugins import Registry, use_registry

    with use_registry(Registry(entry_points=False)) as registry:
        yield registry
