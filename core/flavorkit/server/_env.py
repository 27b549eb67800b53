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
import shutil
import subprocess
import sys
from pathlib import Path

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


def read_spec(model_path: Path) -> tuple[str | None, list[str], list[str]]:
    """``(python version, build dependencies, requirement lines)`` of a model folder.

    The files are read as the loader reads them (regular files inside the
    folder, bounded, UTF-8). Raises ``EnvironmentBuildError`` when the folder
    has no ``requirements.txt``, ``ManifestError`` when a file is malformed.
    """
    from flavorkit.exceptions import ManifestError
    from flavorkit.folder._paths import MAX_REQUIREMENT_LINES, load_yaml, model_file, read_text

    python, build = None, []
    if (model_path / "python_env.yaml").exists():
        spec_file = model_file(model_path, "python_env.yaml", key="python_env.yaml")
        spec = load_yaml(read_text(spec_file), path=spec_file) or {}
        if not isinstance(spec, dict):
            raise ManifestError("expected a mapping", path=spec_file)
        python = str(spec["python"]) if spec.get("python") else None
        build = [str(x) for x in spec.get("build_dependencies") or []]
    if not (model_path / "requirements.txt").exists():
        raise EnvironmentBuildError(
            f"{model_path} has no requirements.txt; serve it with --env-manager local"
        )
    req_file = model_file(model_path, "requirements.txt", key="requirements.txt")
    lines = [ln.strip() for ln in read_text(req_file).splitlines()]
    if len(lines) > MAX_REQUIREMENT_LINES:
        raise ManifestError(f"has more than {MAX_REQUIREMENT_LINES:,} lines", path=req_file)
    return python, build, [ln for ln in lines if ln and not ln.startswith("#")]


def outside_the_index(lines: list[str]) -> list[str]:
    """The requirement lines that point pip beyond the configured index.

    Option lines (``-e``, ``--index-url``, ``-f`` ...; the recorded
    ``-c constraints.txt`` excepted) and direct references (URLs, VCS and
    local paths) install code the folder chooses from where it chooses;
    building the environment from them needs the unsafe opt-in.
    """
    from packaging.requirements import InvalidRequirement, Requirement

    out = []
    for line in lines:
        if line.startswith("-"):
            if line.split() != ["-c", "constraints.txt"]:
                out.append(line)
            continue
        try:
            if Requirement(line).url is None:
                continue
        except InvalidRequirement:
            pass
        out.append(line)
    return out


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
    python, build, requirements = read_spec(model_path)
    digest = hashlib.sha256()
    for part in (python or "", *build, *install_lines(requirements)):
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
    beyond = outside_the_index([*build, *requirements])
    if beyond and not allow_unsafe:
        from flavorkit.exceptions import UnsafeFormatError

        shown = ", ".join(repr(ln[:80]) for ln in beyond[:5])
        raise UnsafeFormatError(
            "requirements.txt",
            model_path / "requirements.txt",
            f"building the environment would install from outside the configured index "
            f"({shown}{' ...' if len(beyond) > 5 else ''})",
        )
    root = env_root()
    env = root / env_key(model_path)
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
        constraints = model_path / "constraints.txt"
        if constraints.is_file():
            shutil.copy2(constraints, tmp / "constraints.txt")
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
