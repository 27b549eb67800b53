"""Environment detection helpers: pins without local labels, merging, mismatch detection."""

from __future__ import annotations

from importlib.metadata import version
from pathlib import Path

import pytest
from flavorkit import environment


def test_pin_installed_distribution() -> None:
    assert environment.pin("pyyaml") == f"pyyaml=={version('pyyaml')}"


def test_pin_strips_local_label(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(environment, "installed_version", lambda name: "2.13.0+cpu")
    assert environment.pin("torch") == "torch==2.13.0"


def test_pin_missing_distribution_is_bare_name() -> None:
    assert environment.pin("no-such-dist-xyz") == "no-such-dist-xyz"


def test_pins_for_modules_maps_modules_to_distributions() -> None:
    pins = environment.pins_for_modules(["yaml.loader", "os", "json", "no_such_module", "pluggy"])
    assert pins == [f"pluggy=={version('pluggy')}", f"PyYAML=={version('pyyaml')}"]


def test_merge_requirements_later_group_wins_and_keeps_order() -> None:
    merged = environment.merge_requirements(
        ["flavorkit==0.1", "numpy==1.0", "-c constraints.txt"], ["NumPy>=2", "requests"]
    )
    assert merged == ["flavorkit==0.1", "NumPy>=2", "-c constraints.txt", "requests"]


def test_mismatches_reports_only_pins_that_differ(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text(
        f"pyyaml=={version('pyyaml')}\npluggy==0.0.1\nnumpy>=1\nmissing-dist==1.0\n-r other.txt\n"
    )
    found = environment.mismatches(environment.read_requirements(tmp_path))
    assert found == [("pluggy", "0.0.1", version("pluggy")), ("missing-dist", "1.0", None)]


@pytest.mark.parametrize(
    ("line", "mismatch"),
    [
        ("pytest=={pytest}", False),
        ("PyTest == {pytest}", False),  # any spelling of the name, spaces around ==
        ("pytest=={pytest}+local.build", False),  # a local label names a build, not a release
        ("pytest[testing]=={pytest}", False),  # extras: parsed by packaging
        ("pytest==0.0.1", True),
        ("pytest[testing]==0.0.1", True),
        ("pytest==0.0.1 ; python_version >= '3'", True),
        ("pytest>=0.0.1", False),  # only exact pins are compared
        ("no-such-distribution-here==1.0", True),
        ("not a requirement == at all", False),
    ],
)
def test_mismatches_compare_exact_pins_by_distribution(line: str, mismatch: bool) -> None:
    installed = environment.installed_version("pytest")
    assert installed is not None
    found = environment.mismatches([line.format(pytest=installed)])
    assert bool(found) is mismatch, found
    if mismatch:
        name, recorded, now = found[0]
        assert recorded in line
        assert now == (None if name.startswith("no-such") else installed)
