"""``--env-manager virtualenv``: build the model's own environment and serve from it.

The environment is made from the model's ``python_env.yaml`` and
``requirements.txt`` with the standard library's ``venv`` and ``pip``, and is
cached under ``~/.cache/flavorkit/envs/<hash>`` (``FLAVORKIT_ENV_ROOT``
overrides the folder), keyed by a hash of those files, so the second start
of the same model is instant. Requirements pinned to a distribution that is
installed here from a local folder at that version (a development install
not on an index) are installed from that folder.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from flavorkit.environment import numbered_lines
from flavorkit.exceptions import EnvironmentBuildError

log = logging.getLogger("flavorkit.server")

ENV_ROOT_VAR = "FLAVORKIT_ENV_ROOT"
_DONE = ".flavorkit-env-complete"
# what the server itself needs inside the model's environment
_SERVER_DISTS = ("uvicorn", "starlette", "swagger-ui-bundle", "prometheus-client")


def env_root() -> Path:
    """The folder holding cached environments."""
    root = os.environ.get(ENV_ROOT_VAR)
    if root:
        return Path(root).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "flavorkit" / "envs"


# what python_env.yaml's ``python`` may say: a version, as MLflow writes it (3.11 or 3.11.7)
_PYTHON_VERSION = re.compile(r"[0-9]{1,2}\.[0-9]{1,3}(?:\.[0-9]{1,3})?")


def read_spec(model_path: Path) -> tuple[str | None, list[str], list[str]]:
    """``(python version, build dependencies, requirement lines)`` of a model folder.

    The files are read as the loader reads them (regular files inside the
    folder, bounded, UTF-8). Raises ``EnvironmentBuildError`` when the folder
    has no ``requirements.txt``, ``ManifestError`` when a file is malformed:
    ``python`` must be a version (``3.11`` or ``3.11.7``) and
    ``build_dependencies`` a list of strings.
    """
    from flavorkit.exceptions import ManifestError
    from flavorkit.folder._paths import load_yaml, model_file, read_text

    python, build = None, []
    if (model_path / "python_env.yaml").exists():
        spec_file = model_file(model_path, "python_env.yaml", key="python_env.yaml")
        spec = load_yaml(read_text(spec_file), path=spec_file) or {}
        if not isinstance(spec, dict):
            raise ManifestError("expected a mapping", path=spec_file)
        python = _python_version(spec.get("python"), spec_file)
        build = _build_dependencies(spec.get("build_dependencies"), spec_file)
    if not (model_path / "requirements.txt").exists():
        raise EnvironmentBuildError(
            f"{model_path} has no requirements.txt; serve it with --env-manager local"
        )
    return python, build, _lines(model_path, "requirements.txt")


def _python_version(value: object, spec_file: Path) -> str | None:
    from flavorkit.exceptions import ManifestError

    if value is None or value == "":
        return None
    text = str(value) if isinstance(value, (str, float)) else None
    if text is None or not _PYTHON_VERSION.fullmatch(text):
        raise ManifestError(
            f"expected a Python version such as '3.11' or '3.11.7', got {value!r:.80}",
            path=spec_file,
            key="python",
        )
    return text


def _build_dependencies(value: object, spec_file: Path) -> list[str]:
    from flavorkit.exceptions import ManifestError

    if value is None:
        return []
    if not isinstance(value, list):
        raise ManifestError(
            f"expected a list of requirement strings, got a {type(value).__name__}",
            path=spec_file,
            key="build_dependencies",
        )
    for i, item in enumerate(value):
        if not isinstance(item, str):
            raise ManifestError(
                f"expected a requirement string, got a {type(item).__name__}",
                path=spec_file,
                key=f"build_dependencies[{i}]",
            )
    return [item.strip() for item in value]


def _lines(model_path: Path, name: str) -> list[str]:
    """The requirement lines of ``name`` in the folder (no blanks or comments), read safely."""
    return [line for _, line in numbered_lines(model_path, name)]


def read_constraints(model_path: Path) -> list[str] | None:
    """The lines of the folder's ``constraints.txt`` (``None`` without one), read safely.

    ``requirements.txt`` may name it (``-c constraints.txt``, as MLflow
    writes it); pip reads it as a requirements file, so it is checked as
    one: a link out of the folder, a FIFO or an oversized file is refused.
    """
    if not (model_path / "constraints.txt").exists():
        return None
    return _lines(model_path, "constraints.txt")


def outside_the_index(lines: list[str], *, constraints_file: bool = True) -> list[str]:
    """The requirement lines that point pip beyond the configured index.

    Option lines (``-e``, ``--index-url``, ``-f`` ...; the recorded
    ``-c constraints.txt`` excepted, unless ``constraints_file`` is false:
    a constraints file may hold no options at all), direct references (URLs,
    VCS and local paths) and lines that are no requirement install code the
    folder chooses from where it chooses; building the environment from
    them needs the unsafe opt-in.
    """
    from packaging.requirements import InvalidRequirement, Requirement

    out = []
    for line in lines:
        if line.startswith("-"):
            if not constraints_file or line.split() != ["-c", "constraints.txt"]:
                out.append(line)
            continue
        try:
            if Requirement(line).url is None:
                continue
        except InvalidRequirement:
            pass
        out.append(line)
    return out


def _refuse_beyond_the_index(
    model_path: Path, file: str, lines: list[str], places: Callable[[], list[str]]
) -> None:
    """``UnsafeFormatError`` naming ``file`` and the ``lines`` beyond the index, if any.

    ``places`` gives each line's place in ``file`` (``line 4``), worked out
    only for a refusal.
    """
    from flavorkit.exceptions import UnsafeFormatError

    beyond = set(outside_the_index(lines, constraints_file=file == "requirements.txt"))
    if not beyond:
        return
    found = [(place, line) for place, line in zip(places(), lines, strict=True) if line in beyond]
    shown = ", ".join(f"{place}: {line[:80]!r}" for place, line in found[:5])
    raise UnsafeFormatError(
        file,
        model_path / file,
        f"building the environment would install from outside the configured index, or "
        f"read lines that are no requirement ({shown}{' ...' if len(found) > 5 else ''})",
    )


def _local_source(requirement: str) -> str | None:
    """The local folder a pinned requirement is installed from here, when it is at that version.

    Returns a pip requirement line (``-e FOLDER`` for an editable install), or None.
    """
    from importlib.metadata import PackageNotFoundError, distribution

    from packaging.requirements import InvalidRequirement, Requirement

    try:
        req = Requirement(requirement)
        dist = distribution(req.name)
    except (InvalidRequirement, PackageNotFoundError):
        return None
    if req.specifier and not req.specifier.contains(dist.version, prereleases=True):
        return None
    text = dist.read_text("direct_url.json")
    if not text:
        return None
    info = json.loads(text)
    url = str(info.get("url", ""))
    if "dir_info" not in info or not url.startswith("file://"):
        return None
    from urllib.parse import unquote, urlparse

    folder = unquote(urlparse(url).path) + (
        f"[{','.join(sorted(req.extras))}]" if req.extras else ""
    )
    # an editable install stays editable: the model's environment runs the same source
    return f"-e {folder}" if info["dir_info"].get("editable") else folder


def install_lines(requirements: list[str]) -> list[str]:
    """Requirement lines for pip: local development installs by folder, plus the server's needs."""
    from flavorkit.environment import pin

    out = []
    for line in requirements:
        if line.startswith("-"):  # pip options such as -c constraints.txt
            out.append(line)
            continue
        out.append(_local_source(line) or line)
    names = {ln.split("==")[0].strip().lower() for ln in requirements}
    out += [pin(d) for d in _SERVER_DISTS if d not in names]
    return out


def find_python(version: str | None) -> str:
    """An interpreter of the model's ``major.minor`` Python: this one, or ``pythonX.Y`` on PATH."""
    if not version:
        return sys.executable
    wanted = ".".join(version.split(".")[:2])
    if wanted == ".".join(map(str, sys.version_info[:2])):
        return sys.executable
    found = shutil.which(f"python{wanted}")
    if found is None:
        raise EnvironmentBuildError(
            f"the model needs Python {wanted} (python_env.yaml says {version}), "
            f"and no python{wanted} "
            "is on PATH; install it or serve with --env-manager local"
        )
    return found


def env_key(model_path: Path) -> str:
    """The cache key: a hash of the environment files and of what they resolve to here."""
    return _key(*read_spec(model_path), read_constraints(model_path))


def _key(
    python: str | None, build: list[str], requirements: list[str], constraints: list[str] | None
) -> str:
    digest = hashlib.sha256()
    # the constraints decide versions too: two folders differing only there differ
    tail = ["-c", *constraints] if constraints is not None else []
    for part in (python or "", *build, *install_lines(requirements), *tail):
        digest.update(part.encode())
        digest.update(b"\0")
    return digest.hexdigest()[:20]


def _run(cmd: list[str], what: str) -> None:
    log.info("%s: %s", what, " ".join(cmd[:6]) + (" ..." if len(cmd) > 6 else ""))
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        tail = "\n".join((result.stderr or result.stdout).strip().splitlines()[-15:])
        raise EnvironmentBuildError(f"{what} failed (exit {result.returncode}):\n{tail}")


def ensure_env(model_path: Path, *, allow_unsafe: bool = False) -> Path:
    """The Python executable of the model's environment, building it on first use.

    pip installs what the folder lists from the configured index; lines that
    reach beyond it (``outside_the_index``) need ``allow_unsafe``.

    Builds into a temporary folder and renames it into place, so a failed
    or interrupted build leaves nothing half-made in the cache. Raises
    ``EnvironmentBuildError``.
    """
    python, build, requirements = read_spec(model_path)
    constraints = read_constraints(model_path)
    if not allow_unsafe:

        def numbers(name: str) -> Callable[[], list[str]]:
            return lambda: [f"line {i}" for i, _ in numbered_lines(model_path, name)]

        places = [f"build_dependencies[{i}]" for i in range(len(build))]
        _refuse_beyond_the_index(model_path, "python_env.yaml", build, lambda: places)
        _refuse_beyond_the_index(
            model_path, "requirements.txt", requirements, numbers("requirements.txt")
        )
        if constraints is not None:
            _refuse_beyond_the_index(
                model_path, "constraints.txt", constraints, numbers("constraints.txt")
            )
    root = env_root()
    env = root / _key(python, build, requirements, constraints)
    exe = env / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    if (env / _DONE).is_file():
        return exe
    root.mkdir(parents=True, exist_ok=True)
    tmp = root / f".{env.name}.{os.getpid()}.partial"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        _run([find_python(python), "-m", "venv", str(tmp)], "creating the environment")
        tmp_exe = tmp / exe.relative_to(env)
        pip = [str(tmp_exe), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        if build:
            _run([*pip, *build], "installing build dependencies")
        lines = install_lines(requirements)
        req_file = tmp / "requirements.txt"
        req_file.write_text("".join(f"{ln}\n" for ln in lines), encoding="utf-8")
        if constraints is not None:  # the lines checked above, not the file again
            text = "".join(f"{ln}\n" for ln in constraints)
            (tmp / "constraints.txt").write_text(text, encoding="utf-8")
        log.info(
            "installing into %s: %s%s",
            env,
            ", ".join(lines),
            f" (constrained by {len(constraints)} lines)" if constraints else "",
        )
        _run([*pip, "-r", str(req_file)], "installing the model's requirements")
        (tmp / _DONE).write_text(
            json.dumps({"model": str(model_path), "requirements": lines}), encoding="utf-8"
        )
        try:
            os.replace(tmp, env)
        except OSError:
            if not (env / _DONE).is_file():  # not a concurrent build that won the race
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return exe
