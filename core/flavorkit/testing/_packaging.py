"""A plugin as users get it: built wheels installed into a fresh virtual environment.

:func:`install_wheels_in_fresh_venv` builds wheels of flavorkit and of the
given projects, installs them into a new virtual environment and returns a
:class:`FreshVenv` that runs commands there. A plugin's slow tests use it to
show that the installed wheel registers its flavor through its entry point
and works without the source tree next to it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from email.parser import HeaderParser
from pathlib import Path

# build outputs, caches and environments that must not travel into the copied source trees
_IGNORE = shutil.ignore_patterns(
    "build",
    "dist",
    "*.egg-info",
    "__pycache__",
    ".pytest_cache",
    ".ruff_cache",
    ".hypothesis",
    ".venv*",
    ".git",
)
# settings of this test run that would change what the fresh environment's processes do
_DROPPED_PREFIXES = ("PYTEST_", "FLAVORKIT_", "COV_")
_DROPPED = ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")
# wheels, pip and a project's own test run can each take minutes on a slow machine
COMMAND_TIMEOUT_S = 900

_LIST_FLAVORS = (
    "import json, flavorkit; "
    "print(json.dumps(sorted(f.name for f in flavorkit.list_flavors() if f.status == 'ok')))"
)


def _clean_env(venv: Path | None = None) -> dict[str, str]:
    """This process's environment without test-run settings; ``venv`` activated when given."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(_DROPPED_PREFIXES) and k not in _DROPPED
    }
    if venv is not None:
        env["VIRTUAL_ENV"] = str(venv)
        env["PATH"] = os.pathsep.join([str(_scripts(venv)), env.get("PATH", "")])
    return env


def _scripts(venv: Path) -> Path:
    return venv / ("Scripts" if os.name == "nt" else "bin")


def _run(args: Sequence[str | Path], *, venv: Path | None = None, cwd: Path | None = None) -> str:
    """Run a command (in ``venv`` when given); its stdout, or AssertionError with both outputs."""
    proc = subprocess.run(
        [str(a) for a in args],
        cwd=cwd,
        env=_clean_env(venv),
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT_S,
        check=False,
    )
    if proc.returncode != 0:
        raise AssertionError(
            f"{[str(a) for a in args[:4]]} exited with status {proc.returncode}:\n"
            f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        )
    return proc.stdout


@dataclass(frozen=True)
class FreshVenv:
    """A virtual environment made by :func:`install_wheels_in_fresh_venv`.

    ``path`` is its folder; ``wheels`` the projects' wheels, in the order the
    projects were given; ``core_wheel`` flavorkit's own, or ``None`` when
    flavorkit came from the package index.
    """

    path: Path
    wheels: tuple[Path, ...]
    core_wheel: Path | None

    @property
    def python(self) -> Path:
        """The environment's interpreter."""
        return _scripts(self.path) / ("python.exe" if os.name == "nt" else "python")

    def run(self, *args: str | Path, cwd: Path | None = None) -> str:
        """Run a command with the environment activated and return its stdout.

        The environment's scripts come first on ``PATH``, so
        ``run("python", ...)`` and ``run("flavorkit", "flavors")`` run the
        installed ones; this test run's ``PYTEST_*``, ``FLAVORKIT_*`` and
        ``PYTHONPATH`` do not reach it. Raises AssertionError with the end of
        both outputs when the command exits with a non-zero status.
        """
        return _run(args, venv=self.path, cwd=cwd)

    def flavors(self) -> list[str]:
        """The flavors ``flavorkit.list_flavors()`` lists with status ok in this environment."""
        return list(json.loads(self.run("python", "-c", _LIST_FLAVORS).strip().splitlines()[-1]))


def _flavorkit_source() -> tuple[Path, str] | None:
    """The source tree flavorkit is imported from and its package's top folder, else ``None``.

    A source tree is the nearest folder above the package whose
    ``pyproject.toml`` names the project ``flavorkit``.
    """
    import flavorkit

    package = Path(flavorkit.__file__).resolve().parent
    if {"site-packages", "dist-packages"} & set(package.parts):
        return None  # installed, even when the environment lies inside a source tree
    for root in package.parents:
        pyproject = root / "pyproject.toml"
        if pyproject.is_file():
            text = pyproject.read_text(encoding="utf-8")
            if re.search(r'(?m)^name\s*=\s*["\']flavorkit["\']\s*$', text) is None:
                return None
            return root, package.relative_to(root).parts[0]
    return None


def _copy_flavorkit(root: Path, top: str, dest: Path) -> Path:
    """The tree's root files (pyproject.toml, README, LICENSE ...) and the package's folder."""
    dest.mkdir(parents=True)
    for item in root.iterdir():
        if item.is_file():
            shutil.copy2(item, dest / item.name)
    shutil.copytree(root / top, dest / top, ignore=_IGNORE)
    return dest


def _build_wheel(source: Path, out: Path) -> Path:
    # --no-isolation: built with this interpreter's setuptools, so the build downloads nothing
    before = set(out.glob("*.whl"))
    _run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", out, source])
    (wheel,) = set(out.glob("*.whl")) - before
    return wheel


def _declared_extras(wheel: Path) -> set[str]:
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        metadata = HeaderParser().parsestr(archive.read(name).decode("utf-8"))
    return set(metadata.get_all("Provides-Extra") or [])


def _requirement(target: str | Path, declared: set[str], extras: Sequence[str]) -> str:
    wanted = [e for e in extras if e in declared]
    return f"{target}[{','.join(wanted)}]" if wanted else str(target)


def install_wheels_in_fresh_venv(
    projects: Iterable[str | Path],
    work: str | Path,
    *,
    pip_args: Sequence[str] = (),
    extras: Sequence[str] = (),
) -> FreshVenv:
    """Build wheels of flavorkit and of ``projects`` and install them into a new venv.

    Called by slow tests that check a plugin as users get it. Everything is
    made under ``work`` (``sources/``, ``wheels/``, ``venv/``; none may exist
    yet). Each project folder, and flavorkit's own source tree when flavorkit
    is imported from one, is copied without build outputs (so the working
    tree stays clean) and built with this interpreter (``python -m build
    --wheel --no-isolation``, so ``build`` must be installed). When flavorkit
    is installed from the package index instead, its installed version is
    installed from there. ``pip_args`` go to a ``pip install`` of their own
    that runs before the wheels' (a pinned framework, say, so a plugin's
    looser requirement is already met); ``extras`` are requested from every
    wheel that declares them. Dependencies come from the package index.

    Returns the :class:`FreshVenv`. Raises AssertionError naming the command
    that failed.
    """
    from importlib.metadata import metadata, version

    work = Path(work)
    sources, out, venv = work / "sources", work / "wheels", work / "venv"
    sources.mkdir(parents=True)
    out.mkdir()
    built = []
    for i, project in enumerate(projects):
        copy = sources / f"{i}-{Path(project).name}"
        shutil.copytree(project, copy, ignore=_IGNORE)
        built.append(_build_wheel(copy, out))
    tree = _flavorkit_source()
    if tree is not None:
        core_wheel: Path | None = _build_wheel(_copy_flavorkit(*tree, sources / "flavorkit"), out)
        core = _requirement(core_wheel, _declared_extras(core_wheel), extras)
    else:
        core_wheel = None
        declared = set(metadata("flavorkit").get_all("Provides-Extra") or [])
        core = _requirement("flavorkit", declared, extras) + f"=={version('flavorkit')}"

    _run([sys.executable, "-m", "venv", venv])
    fresh = FreshVenv(venv, tuple(built), core_wheel)
    pip = ("python", "-m", "pip", "install", "--quiet", "--disable-pip-version-check")
    if pip_args:
        fresh.run(*pip, *pip_args)
    fresh.run(*pip, core, *(_requirement(w, _declared_extras(w), extras) for w in built))
    return fresh
