"""The Python environment Triton's Python backend runs an exported model in.

Triton starts a stub process (``triton_python_backend_stub``) with its own
embedded interpreter; it does not inherit ``PYTHONPATH`` and knows nothing
of virtual environments. The exporter therefore records, next to
``model.py``, which ``site-packages`` folders hold flavorkit, the model's
plugin and its framework; ``model.py`` adds them (``site.addsitedir``, so
``.pth`` files and editable installs work) in front of the stub's own path
before importing anything else.

An environment is the exporting interpreter's own (the default) or one
named by a path: a virtual environment or conda prefix (its
``lib/pythonX.Y/site-packages``), or a ``site-packages`` folder.
"""

from __future__ import annotations

import re
import site
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flavorkit.exceptions import EnvironmentBuildError

_PYTHON_DIR = re.compile(r"python(\d+)\.(\d+)t?$")


@dataclass(frozen=True)
class PythonEnvironment:
    """``python`` (``"3.11"``) and the ``site_dirs`` that make up an environment."""

    python: str
    site_dirs: tuple[str, ...]

    @classmethod
    def current(cls) -> PythonEnvironment:
        """The running interpreter's site-packages (and the user site, when enabled)."""
        dirs = [d for d in site.getsitepackages() if Path(d).is_dir()]
        user = site.getusersitepackages() if site.ENABLE_USER_SITE else None
        if user and Path(user).is_dir():
            dirs.append(user)
        return cls(f"{sys.version_info[0]}.{sys.version_info[1]}", tuple(dirs))

    @classmethod
    def at(cls, path: str | Path) -> PythonEnvironment:
        """The environment at ``path``: a venv or prefix, or a ``site-packages`` folder.

        Raises ``EnvironmentBuildError`` when ``path`` is neither, or when
        its Python version cannot be told from its layout.
        """
        root = Path(path).expanduser().absolute()
        if not root.is_dir():
            raise EnvironmentBuildError(f"python environment {root}: no such folder")
        found = sorted(root.glob("lib/python*/site-packages"))
        if found:
            site_dir = found[-1]
            version = _PYTHON_DIR.match(site_dir.parent.name)
        elif root.name in ("site-packages", "dist-packages"):
            site_dir = root
            version = _PYTHON_DIR.match(root.parent.name)
        else:
            raise EnvironmentBuildError(
                f"python environment {root}: expected a virtual environment or prefix "
                "(with lib/pythonX.Y/site-packages) or a site-packages folder"
            )
        if version is None:
            raise EnvironmentBuildError(
                f"python environment {root}: cannot tell its Python version from "
                f"{site_dir} (expected it under lib/pythonX.Y/)"
            )
        return cls(f"{version[1]}.{version[2]}", (str(site_dir),))

    def distributions(self) -> dict[str, str]:
        """Installed distributions: canonical name -> version."""
        from importlib.metadata import distributions

        from packaging.utils import canonicalize_name

        out: dict[str, str] = {}
        for dist in distributions(path=list(self.site_dirs)):
            name = dist.metadata["Name"]
            if name:
                out.setdefault(canonicalize_name(name), dist.version)
        return out

    def check(self, requirements: list[str]) -> None:
        """Raise ``EnvironmentBuildError`` unless every requirement's distribution is installed.

        ``requirements`` are the model's ``requirements.txt`` lines; versions
        are not compared (the loader warns about differences), names are.
        """
        from packaging.requirements import InvalidRequirement, Requirement
        from packaging.utils import canonicalize_name

        installed = self.distributions()
        missing = []
        for line in ["flavorkit", *requirements]:
            try:
                name = canonicalize_name(Requirement(line).name)
            except InvalidRequirement:
                continue  # an option line (-r, --index-url): nothing to look for
            if name not in installed:
                missing.append(name)
        if missing:
            raise EnvironmentBuildError(
                f"python environment {', '.join(self.site_dirs) or '(none)'} lacks "
                f"{', '.join(dict.fromkeys(missing))}, which the model needs; install them "
                "there or export with another --python-env"
            )

    def to_json(self) -> dict[str, Any]:
        """What ``flavorkit_backend.json`` records under ``environment``."""
        return {"python": self.python, "site_dirs": list(self.site_dirs)}
