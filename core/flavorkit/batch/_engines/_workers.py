"""The workers' packages: a probe every engine can run, compared with the model's requirements."""

from __future__ import annotations

import sys
import warnings
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from flavorkit.batch._engines._model import ShippedModel
from flavorkit.exceptions import (
    EnvironmentMismatchWarning,
    FlavorkitError,
)

if TYPE_CHECKING:
    pass


class WorkerEnvironmentError(FlavorkitError, RuntimeError):
    """The workers cannot run the model: a package is missing or at an incompatible version.

    ``problems`` maps each package (or ``python``) to what is wrong with it.
    """

    def __init__(self, message: str, problems: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.problems = dict(problems or {})


_PROBE_SOURCE = '''
def flavorkit_probe(names):
    """Versions of ``names`` where this runs (standard library only: flavorkit may be missing)."""
    import socket
    import sys
    from importlib.metadata import PackageNotFoundError, version

    found = {}
    for name in names:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = None
    return {
        "host": socket.gethostname(),
        "python": "%d.%d.%d" % sys.version_info[:3],
        "executable": sys.executable,
        "packages": found,
    }


def flavorkit_probe_json(names):
    """A row function reporting as JSON text (for a SQL UDF: no pandas, no pyarrow needed)."""
    import json

    def report(_row):
        return json.dumps(flavorkit_probe(names))

    return report
'''


def probe_function(name: str = "flavorkit_probe") -> Any:
    """``probe(names) -> report`` (or ``flavorkit_probe_json(names) -> row -> JSON text``),
    built outside any module so that engines pickle it by value.

    The workers may lack flavorkit altogether; a function pickled by
    reference to a flavorkit module would fail to load there before it
    could say so.
    """
    namespace: dict[str, Any] = {"__name__": "__flavorkit_probe__"}
    exec(compile(_PROBE_SOURCE, "<flavorkit probe>", "exec"), namespace)
    return namespace[name]


def probe_names(shipped: ShippedModel, extra: Iterable[str] = ()) -> list[str]:
    """The distributions to ask the workers about: flavorkit, the plugin, the requirements."""
    names = ["flavorkit", *([shipped.plugin] if shipped.plugin else []), *extra]
    names += [n for n, _ in _requirements(shipped.requirements)]
    seen: dict[str, str] = {}
    for name in names:
        seen.setdefault(_canonical(name), name)
    return list(seen.values())


def check_reports(
    shipped: ShippedModel,
    reports: list[dict[str, Any]],
    *,
    where: str = "the workers",
    needed: Iterable[str] = (),
) -> None:
    """Raise ``WorkerEnvironmentError`` for packages the workers lack or have at an incompatible
    version; warn (``EnvironmentMismatchWarning``) for versions that differ only in a patch.

    Compatible: the requirement's specifier holds, an exact pin ``==X.Y.Z``
    read as ``X.Y.*``. flavorkit and Python must also match the driver's
    major and minor version (tasks run the driver's pickled code). ``needed``
    names packages the engine itself needs there (any version).
    """
    errors, differences = environment_problems(shipped, reports, needed)
    if errors:
        detail = "; ".join(f"{name}: {text}" for name, text in errors.items())
        raise WorkerEnvironmentError(
            f"{where} cannot run model {shipped.uri!r}: {detail}. Install them where the tasks "
            "run, or pass check_workers=False to skip this check",
            errors,
        )
    if differences:
        warnings.warn(
            f"{where} run versions that differ from model {shipped.uri!r}'s requirements: "
            + "; ".join(f"{name} ({text})" for name, text in differences.items()),
            EnvironmentMismatchWarning,
            stacklevel=3,
        )


def environment_problems(
    shipped: ShippedModel, reports: list[dict[str, Any]], needed: Iterable[str] = ()
) -> tuple[dict[str, str], dict[str, str]]:
    """(incompatible, merely different) per package, from the workers' probe reports."""
    from packaging.specifiers import SpecifierSet

    from flavorkit.environment import installed_version

    wanted: dict[str, tuple[str, SpecifierSet]] = {}
    for name, spec in _requirements(shipped.requirements):
        wanted[_canonical(name)] = (name, spec)
    ours = installed_version("flavorkit")
    if ours:
        key = _canonical("flavorkit")
        wanted.setdefault(key, ("flavorkit", SpecifierSet()))
    for name in [*([shipped.plugin] if shipped.plugin else []), *needed]:
        wanted.setdefault(_canonical(name), (name, SpecifierSet()))
    errors: dict[str, str] = {}
    differences: dict[str, str] = {}
    running = ".".join(map(str, sys.version_info[:2]))
    by_python = _group(reports, lambda r: ".".join(str(r.get("python", "")).split(".")[:2]))
    for version, hosts in by_python.items():
        if version != running:
            errors["python"] = f"the driver runs {running}, {_hosts(hosts)} run {version}"
    for key, (name, spec) in wanted.items():
        versions = _group(reports, lambda r, name=name: _reported(r, name))
        for found, hosts in versions.items():
            required = str(spec) or "any version"
            if found is None:
                errors[name] = f"required {required}, not installed on {_hosts(hosts)}"
            elif not _compatible(found, spec):
                errors[name] = f"required {required}, {_hosts(hosts)} have {found}"
            elif key == _canonical("flavorkit") and ours and _minor(found) != _minor(ours):
                errors[name] = f"the driver has {ours}, {_hosts(hosts)} have {found}"
            elif not _exact(found, spec):
                differences[name] = f"recorded {required}, {_hosts(hosts)} have {found}"
    return errors, differences


def _requirements(lines: Iterable[str]) -> list[tuple[str, Any]]:
    from packaging.markers import default_environment
    from packaging.requirements import InvalidRequirement, Requirement

    out = []
    for line in lines:
        try:
            req = Requirement(line)
        except InvalidRequirement:
            continue  # not a package (a URL, an option): nothing to compare
        if req.marker is not None and not req.marker.evaluate(default_environment()):
            continue
        out.append((req.name, req.specifier))
    return out


def _canonical(name: str) -> str:
    from packaging.utils import canonicalize_name

    return str(canonicalize_name(name))


def _reported(report: dict[str, Any], name: str) -> str | None:
    packages = report.get("packages") or {}
    if name in packages:
        return packages[name]
    key = _canonical(name)
    return next((v for k, v in packages.items() if _canonical(k) == key), None)


def _group(reports: list[dict[str, Any]], key: Any) -> dict[Any, list[str]]:
    out: dict[Any, list[str]] = {}
    for report in reports:
        where = f"{report.get('host', '?')} ({report.get('executable', '?')})"
        hosts = out.setdefault(key(report), [])
        if where not in hosts:
            hosts.append(where)
    return out


def _hosts(hosts: list[str]) -> str:
    shown = ", ".join(hosts[:3])
    return shown + (f" and {len(hosts) - 3} more" if len(hosts) > 3 else "")


def _minor(version: str) -> tuple[int, ...]:
    from packaging.version import InvalidVersion, Version

    try:
        return Version(version).release[:2]
    except InvalidVersion:
        return ()


def _compatible(found: str, spec: Any) -> bool:
    """``found`` meets ``spec``, each exact pin ``==X.Y.Z`` loosened to ``X.Y.*``."""
    from packaging.specifiers import InvalidSpecifier, SpecifierSet
    from packaging.version import InvalidVersion, Version

    try:
        version = Version(found)
    except InvalidVersion:
        return True  # nothing sensible to compare; loading will tell
    loose = []
    for one in spec:
        if one.operator == "==" and "*" not in one.version:
            try:
                release = Version(one.version).release
            except InvalidVersion:
                return True
            loose.append(f"=={'.'.join(map(str, release[:2]))}.*")
        else:
            loose.append(str(one))
    try:
        return SpecifierSet(",".join(loose)).contains(version.public, prereleases=True)
    except InvalidSpecifier:
        return True


def _exact(found: str, spec: Any) -> bool:
    from packaging.version import InvalidVersion, Version

    try:
        return spec.contains(Version(found).public, prereleases=True)
    except InvalidVersion:
        return True
