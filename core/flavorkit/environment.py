"""Environment files of a model folder, and the helpers plugins use to pin what a model needs.

Detection is in-process: module names are mapped to installed distributions
through their metadata, without importing anything and without a subprocess.
"""

from __future__ import annotations

import functools
import re
import sys
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Any

REQUIREMENTS = "requirements.txt"
PYTHON_ENV = "python_env.yaml"
CONDA_ENV = "conda.yaml"


def _public(version: str) -> str:
    """``2.13.0+cpu`` -> ``2.13.0``: local labels name builds PyPI cannot serve."""
    from packaging.version import InvalidVersion, Version

    try:
        return Version(version).public
    except InvalidVersion:
        return version.split("+", 1)[0]


def installed_version(distribution: str) -> str | None:
    """The installed version of ``distribution``, or ``None`` when it is not installed."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(distribution)
    except PackageNotFoundError:
        return None


def pin(distribution: str) -> str:
    """``name==version`` of an installed distribution, local label dropped; else the bare name."""
    found = installed_version(distribution)
    return f"{distribution}=={_public(found)}" if found else distribution


@functools.lru_cache(maxsize=1)
def _module_index() -> dict[str, list[str]]:
    from importlib.metadata import packages_distributions

    return packages_distributions()


def distributions_for_modules(modules: Iterable[str]) -> list[str]:
    """The installed distributions that provide the given (dotted or top-level) module names.

    Standard-library and unknown modules are skipped; the result is sorted and unique.
    """
    index = _module_index()
    found: set[str] = set()
    for module in modules:
        top = module.split(".", 1)[0]
        if not top or top in sys.stdlib_module_names or top == "builtins":
            continue
        found.update(index.get(top, ()))
    return sorted(found, key=str.lower)


def pins_for_modules(modules: Iterable[str]) -> list[str]:
    """Pinned requirements (``dist==version``) for the distributions providing ``modules``."""
    return [pin(dist) for dist in distributions_for_modules(modules)]


def _canonical(requirement: str) -> str | None:
    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.utils import canonicalize_name

    try:
        return canonicalize_name(Requirement(requirement).name)
    except InvalidRequirement:
        return None


def merge_requirements(*groups: Iterable[str]) -> list[str]:
    """Merge requirement lists; a later group's entry for a package replaces an earlier one.

    Order of first appearance is kept; option lines (``-c``, ``-r``, ``--index-url``) pass through.
    """
    merged: dict[str, str] = {}
    for group in groups:
        for line in group:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            merged[_canonical(line) or line] = line
    return list(merged.values())


def write_environment(path: Path, requirements: list[str]) -> None:
    """Write ``requirements.txt``, ``python_env.yaml`` and ``conda.yaml`` into ``path``."""
    import yaml

    python = ".".join(map(str, sys.version_info[:3]))
    (path / REQUIREMENTS).write_text("".join(f"{r}\n" for r in requirements), encoding="utf-8")
    python_env = {
        "python": python,
        "build_dependencies": [pin("pip"), pin("setuptools"), pin("wheel")],
        "dependencies": ["-r requirements.txt"],
    }
    (path / PYTHON_ENV).write_text(
        yaml.safe_dump(python_env, default_flow_style=False, sort_keys=False), encoding="utf-8"
    )
    pip_version = installed_version("pip")
    conda = {
        "channels": ["conda-forge"],
        "dependencies": [
            f"python={python}",
            # "<=": conda-forge may not carry the newest pip yet
            f"pip<={_public(pip_version)}" if pip_version else "pip",
            {"pip": list(requirements)},
        ],
        "name": "flavorkit-env",
    }
    (path / CONDA_ENV).write_text(yaml.safe_dump(conda, default_flow_style=False), encoding="utf-8")


def read_requirements(path: Path) -> list[str]:
    """The requirement lines of ``requirements.txt`` in the folder ``path`` (empty when absent).

    pip option lines (``-c constraints.txt``, ``--index-url ...``) are left out:
    :func:`requirement_options` gives them. The file must be a regular UTF-8
    file inside the folder, of at most ``MAX_TEXT_BYTES`` and
    ``MAX_REQUIREMENT_LINES`` lines; ``ManifestError`` otherwise.
    """
    return [ln for ln in _requirement_lines(path) if not ln.startswith("-")]


def requirement_options(path: Path) -> list[str]:
    """The pip option lines of ``requirements.txt`` in the folder ``path``, read as above."""
    return [ln for ln in _requirement_lines(path) if ln.startswith("-")]


def _requirement_lines(path: Path) -> list[str]:
    if not (path / REQUIREMENTS).exists() and not (path / REQUIREMENTS).is_symlink():
        return []
    return [line for _, line in numbered_lines(path, REQUIREMENTS)]


def numbered_lines(path: Path, name: str) -> list[tuple[int, str]]:
    """``(line number, line)`` of a pip requirements-style file ``name`` in the folder ``path``.

    Lines are stripped; blank and comment lines are left out. The file must
    be a regular UTF-8 file inside the folder, of at most ``MAX_TEXT_BYTES``
    and ``MAX_REQUIREMENT_LINES`` lines; ``ManifestError`` otherwise.
    """
    from flavorkit.exceptions import ManifestError
    from flavorkit.folder._paths import MAX_REQUIREMENT_LINES, model_file, read_text

    file = model_file(path, name, key=name)
    lines = read_text(file, key=name).splitlines()
    if len(lines) > MAX_REQUIREMENT_LINES:
        raise ManifestError(
            f"has {len(lines):,} lines; the limit is {MAX_REQUIREMENT_LINES:,}", path=file
        )
    stripped = ((i, ln.strip()) for i, ln in enumerate(lines, 1))
    return [(i, ln) for i, ln in stripped if ln and not ln.startswith("#")]


# ``name==version`` and nothing else, as flavorkit and MLflow write pins: read without
# importing packaging, which costs more than the rest of a small model's load
_PLAIN_PIN = re.compile(
    r"([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)\s*==\s*([0-9][0-9A-Za-z.!+_-]*)"
)


def _exact_pin(line: str) -> tuple[str, str] | None:
    """``(name, version)`` of a requirement line that pins one exact version; else None."""
    plain = _PLAIN_PIN.fullmatch(line)
    if plain is not None:
        return plain.group(1), plain.group(2)
    from packaging.requirements import InvalidRequirement, Requirement

    try:
        req = Requirement(line)
    except InvalidRequirement:
        return None
    specs = list(req.specifier)
    if len(specs) != 1 or specs[0].operator != "==":
        return None
    return req.name, specs[0].version


def _same_release(installed: str, recorded: str) -> bool:
    if installed == recorded or installed.split("+", 1)[0] == recorded.split("+", 1)[0]:
        return True
    return _public(installed) == _public(recorded)  # spellings packaging normalizes


def mismatches(requirements: Iterable[str]) -> list[tuple[str, str, str | None]]:
    """``(name, recorded, installed)`` for each ``name==version`` pin this environment misses.

    Each pinned distribution is looked up by name (importlib.metadata
    normalizes the spelling), not by reading every installed one's metadata.
    """
    out = []
    for line in requirements:
        if "==" not in line:
            continue  # only exact pins are compared; skip the parse for the rest
        pinned = _exact_pin(line)
        if pinned is None:
            continue
        name, recorded = pinned
        found = installed_version(name)
        if found is None or not _same_release(found, recorded):
            out.append((name, recorded, found))
    return out


def warn_mismatches(
    path: Path, conf: dict[str, Any] | None = None, requirements: list[str] | None = None
) -> None:
    """Warn once, naming each recorded package (and Python) whose installed version differs.

    ``requirements`` are the folder's lines when the caller has read them already.
    """
    from flavorkit.exceptions import EnvironmentMismatchWarning

    if requirements is None:
        requirements = read_requirements(path)
    problems = [
        f"{name} (recorded {recorded}, installed {found or 'none'})"
        for name, recorded, found in mismatches(requirements)
    ]
    recorded_py = (conf or {}).get("python_version")
    if isinstance(recorded_py, str):
        running = ".".join(map(str, sys.version_info[:2]))
        if ".".join(recorded_py.split(".")[:2]) != running:
            problems.append(f"python (recorded {recorded_py}, running {running})")
    if problems:
        warnings.warn(
            f"model {path} was saved in a different environment: " + "; ".join(problems),
            EnvironmentMismatchWarning,
            stacklevel=3,
        )
