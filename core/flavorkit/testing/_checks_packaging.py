"""The conformance checks of packaging: saving, formats, trust, environment and the plugin itself.

Like the checks in ``_checks``, each ``check_<property>(case)`` states its
property in the first line of its docstring and raises
:class:`~flavorkit.testing.FlavorCheckError` naming it. Checks that change
or re-save a folder work in their own scratch folder.
:func:`modules_imported_by` is the probe of ``check_import_is_light``, public
so that a plugin's own tests can watch what other code imports.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import warnings
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from flavorkit.testing._case import ALWAYS_LIGHT, FlavorCase
from flavorkit.testing._support import (
    Verdict,
    describe_error,
    python_env,
    run_python,
    saved_model,
    scratch_dir,
    tail,
)

# keys a manifest might use to claim trust; none of them may change what loads
_TRUST_CLAIMS: dict[str, Any] = {
    "allow_unsafe": True,
    "unsafe": True,
    "trusted": True,
    "trust_remote_code": True,
    "trusted_types": ["builtins.eval", "builtins.exec", "os.system"],
}

# runs each step in turn; after each, lists which of the watched modules are imported
_IMPORT_SCRIPT = """\
import json, sys
watched, steps = json.loads(sys.argv[1]), json.loads(sys.argv[2])
seen = []
for step in steps:
    exec(step, {"__name__": "__main__"})
    seen.append(sorted(m for m in watched if m in sys.modules))
print(json.dumps(seen))
"""


def _save(v: Verdict, case: FlavorCase, path: Path, **overrides: Any) -> Any:
    import flavorkit

    return v.call(
        f"saving the model to {path.name}",
        flavorkit.save_model,
        case.model(),
        path,
        **case.save_kwargs(**overrides),
    )


def _tree(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*")}


@contextmanager
def _temporary_files_in(folder: Path) -> Iterator[None]:
    """Point ``tempfile`` (and child processes, through ``TMPDIR``) at ``folder``."""
    previous_dir, previous_env = tempfile.tempdir, os.environ.get("TMPDIR")
    tempfile.tempdir = str(folder)
    os.environ["TMPDIR"] = str(folder)
    try:
        yield
    finally:
        tempfile.tempdir = previous_dir
        if previous_env is None:
            os.environ.pop("TMPDIR", None)
        else:
            os.environ["TMPDIR"] = previous_env


def check_save_refuses_non_empty_path(case: FlavorCase) -> None:
    """Saving onto a non-empty path fails with ModelExistsError unless overwrite=True.

    The refused save leaves the existing folder as it was; ``overwrite=True``
    replaces it with a folder that loads.
    """
    import flavorkit
    from flavorkit.exceptions import ModelExistsError

    v = Verdict(check_save_refuses_non_empty_path, case)
    work = scratch_dir(f"{case.name}-overwrite")
    target = work / "model"
    _save(v, case, target)
    manifest = (target / "MLmodel").read_bytes()
    stray = work / "occupied"
    stray.mkdir()
    (stray / "notes.txt").write_text("keep me", encoding="utf-8")
    for path, what in ((target, "an existing model folder"), (stray, "a folder holding a file")):
        try:
            flavorkit.save_model(case.model(), path, **case.save_kwargs())
        except ModelExistsError:
            continue
        except Exception as exc:
            v.fail(f"saving onto {what} raised {describe_error(exc)}, not ModelExistsError")
        v.fail(f"saving onto {what} without overwrite=True succeeded")
    if (target / "MLmodel").read_bytes() != manifest:
        v.fail("the refused save changed the existing folder's MLmodel")
    if (stray / "notes.txt").read_text(encoding="utf-8") != "keep me":
        v.fail("the refused save changed the existing folder's files")
    _save(v, case, target, overwrite=True)
    v.call(
        "loading the overwritten folder",
        flavorkit.load_model,
        target,
        allow_unsafe=True,
        suppress_warnings=True,
    )


def check_save_writes_only_inside_folder(case: FlavorCase) -> None:
    """Saving writes files only inside the model folder.

    Watches the folders around the target (recursively) and the temporary
    folder, which is pointed into the watched tree while saving; files left
    anywhere but the model folder fail the check.
    """
    v = Verdict(check_save_writes_only_inside_folder, case)
    sandbox = scratch_dir(f"{case.name}-outside")
    (sandbox / "models").mkdir()
    (sandbox / "tmp").mkdir()
    target = sandbox / "models" / "model"
    before = _tree(sandbox)
    with _temporary_files_in(sandbox / "tmp"):
        _save(v, case, target)
    inside = "models/model"
    leaked = sorted(
        p for p in _tree(sandbox) - before if p != inside and not p.startswith(inside + "/")
    )
    if leaked:
        shown = ", ".join(leaked[:8]) + (f" (+{len(leaked) - 8} more)" if len(leaked) > 8 else "")
        v.fail(f"saving to models/model left files outside it: {shown}")


def check_default_format_is_safe(case: FlavorCase) -> None:
    """The folder saved with the case's options loads without the unsafe opt-in.

    ``load_model`` and ``load_native`` are called with ``allow_unsafe=False``;
    a format that runs code when loaded (a pickle) fails the check.
    """
    import flavorkit
    from flavorkit.exceptions import UnsafeFormatError

    v = Verdict(check_default_format_is_safe, case)
    path = v.call("saving the model", saved_model, case)
    manifest = v.call("reading the saved MLmodel", flavorkit.Model.load, path)
    section = manifest.flavors.get(case.flavor)
    fmt = section.get("serialization_format") if isinstance(section, dict) else None
    written = f" (serialization_format: {fmt})" if fmt else ""
    for loader in (flavorkit.load_model, flavorkit.load_native):
        try:
            loader(path, allow_unsafe=False, suppress_warnings=True)
        except UnsafeFormatError as exc:
            v.fail(f"{loader.__name__} without the unsafe opt-in was refused{written}: {exc}")
        except Exception as exc:
            v.fail(
                f"{loader.__name__} without the unsafe opt-in raised {describe_error(exc)}{written}"
            )


def _claim_trust(path: Path, extra: dict[str, Any]) -> None:
    """Write trust claims into every flavor section and the top level of ``MLmodel``."""
    import yaml

    file = path / "MLmodel"
    manifest = yaml.safe_load(file.read_text(encoding="utf-8"))
    claims = {**_TRUST_CLAIMS, **extra}
    for section in manifest["flavors"].values():
        for key, value in claims.items():
            # a trust list the plugin wrote itself stays; the claims come on top
            if isinstance(section.get(key), list) and isinstance(value, list):
                section[key] = [*section[key], *[x for x in value if x not in section[key]]]
            else:
                section[key] = value
    manifest.update({k: v for k, v in _TRUST_CLAIMS.items() if not isinstance(v, list)})
    file.write_text(yaml.safe_dump(manifest, default_flow_style=False), encoding="utf-8")


def check_manifest_cannot_widen_trust(case: FlavorCase) -> None:
    """A trust list written into MLmodel does not widen what loads without the opt-in.

    Saves with ``untrusted_save_options`` (a folder that needs the unsafe
    opt-in), writes trust claims (``allow_unsafe: true``, trusted-type lists,
    the case's ``manifest_trust``) into ``MLmodel``, and expects
    ``load_model`` and ``load_native`` without the opt-in to still raise
    ``UnsafeFormatError``.
    """
    import flavorkit
    from flavorkit.exceptions import UnsafeFormatError

    v = Verdict(check_manifest_cannot_widen_trust, case)
    if case.untrusted_save_options is None:
        v.skip("the case gives no untrusted_save_options")
    target = scratch_dir(f"{case.name}-trust") / "model"
    with warnings.catch_warnings():
        # a plugin may rightly warn that this format needs the opt-in; that is the point here
        warnings.simplefilter("ignore")
        _save(v, case, target, **dict(case.untrusted_save_options))
    options = dict(case.untrusted_save_options)
    for stage in ("as saved", "after MLmodel claims trust"):
        if stage != "as saved":
            _claim_trust(target, dict(case.manifest_trust))
        for loader in (flavorkit.load_model, flavorkit.load_native):
            try:
                loader(target, allow_unsafe=False, suppress_warnings=True)
            except UnsafeFormatError:
                continue
            except Exception as exc:
                v.fail(
                    f"{loader.__name__} {stage} raised {describe_error(exc)}, not UnsafeFormatError"
                )
            if stage == "as saved":
                v.fail(
                    f"the folder saved with {options} loads without the opt-in, so it cannot show "
                    "whether MLmodel widens trust; give untrusted_save_options that need the opt-in"
                )
            v.fail(
                f"{loader.__name__} loaded the folder saved with {options} without the opt-in "
                "once MLmodel claimed trust"
            )


def check_environment_pins_framework(case: FlavorCase) -> None:
    """The saved requirements pin the framework's installed version exactly.

    Each framework module's distribution must appear in ``requirements.txt``
    as ``name==version`` (the installed version, local label dropped).
    """
    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.utils import canonicalize_name

    from flavorkit.environment import distributions_for_modules, pin, read_requirements

    v = Verdict(check_environment_pins_framework, case)
    path = v.call("saving the model", saved_model, case)
    lines = read_requirements(path)
    parsed = []
    for line in lines:
        try:
            parsed.append(Requirement(line))
        except InvalidRequirement:
            continue
    for module in case.framework_modules:
        dists = distributions_for_modules([module])
        if not dists:
            v.fail(f"no installed distribution provides the framework module {module!r}")
        wanted = {canonicalize_name(d): Requirement(pin(d)) for d in dists}
        found = [r for r in parsed if canonicalize_name(r.name) in wanted]
        exact = [r for r in found if r.specifier == wanted[canonicalize_name(r.name)].specifier]
        if not exact:
            expected = " or ".join(str(r) for r in wanted.values())
            seen = ", ".join(str(r) for r in found) or "nothing for it"
            v.fail(f"requirements.txt should pin {expected}; it has {seen} (all lines: {lines})")


def check_import_is_light(case: FlavorCase) -> None:
    """Importing the plugin module does not import its framework, numpy or pandas.

    Runs ``import <plugin_module>`` in a fresh interpreter and lists which of
    the framework modules (and numpy, pandas) it brought in.
    """
    v = Verdict(check_import_is_light, case)
    avoid = (*case.framework_modules, *ALWAYS_LIGHT)
    work = scratch_dir(f"{case.name}-import")
    steps = ["import flavorkit", f"import {case.plugin_module}"]
    proc = _probe_imports(steps, avoid, python_env(case, work))
    if proc.returncode != 0:
        v.fail(f"importing {case.plugin_module} failed:\n{tail(proc.stderr)}")
    before, after = json.loads(proc.stdout.strip().splitlines()[-1])
    if before:
        v.skip(f"`import flavorkit` alone already imports {before} in this environment")
    if after:
        v.fail(
            f"importing {case.plugin_module} imported {after}; import the framework "
            "inside the hook functions instead"
        )


def _probe_imports(
    steps: list[str], watched: Iterable[str], env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    """Run ``steps`` in a fresh interpreter; its last line lists the watched modules after each."""
    names = list(dict.fromkeys(watched))
    return run_python(["-c", _IMPORT_SCRIPT, json.dumps(names), json.dumps(steps)], env)


def modules_imported_by(code: str, modules: Iterable[str]) -> list[str]:
    """Which of ``modules`` a fresh interpreter has imported after running ``code``, sorted.

    Called by a plugin's own tests to show that importing it (or listing the
    flavors, which imports every plugin's hooks module) stays light, e.g.
    ``assert modules_imported_by("import my_plugin", ["torch", "numpy"]) == []``.
    The interpreter is this one, with this process's environment. Raises
    AssertionError with the end of its stderr when ``code`` fails.
    """
    proc = _probe_imports([code], modules, dict(os.environ))
    if proc.returncode != 0:
        raise AssertionError(
            f"running {code!r} in a fresh interpreter failed:\n{tail(proc.stderr)}"
        )
    (seen,) = json.loads(proc.stdout.strip().splitlines()[-1])
    return list(seen)


def check_plugin_listed(case: FlavorCase) -> None:
    """`flavorkit flavors` lists the flavor with status ok.

    Runs the command in a fresh interpreter, where the plugin is found
    through its entry point (a temporary one when it is not installed).
    """
    v = Verdict(check_plugin_listed, case)
    work = scratch_dir(f"{case.name}-listing")
    proc = run_python(["-m", "flavorkit.cli", "flavors"], python_env(case, work))
    if proc.returncode != 0:
        v.fail(f"`flavorkit flavors` exited with status {proc.returncode}:\n{tail(proc.stderr)}")
    rows = [line.split() for line in proc.stdout.splitlines()[1:] if line.strip()]
    listed = {row[0]: row[-1] for row in rows}
    problems = f"\n{tail(proc.stderr)}" if proc.stderr.strip() else ""
    if case.flavor not in listed:
        v.fail(
            f"`flavorkit flavors` does not list {case.flavor!r}; "
            f"it lists {sorted(listed)}{problems}"
        )
    if listed[case.flavor] != "ok":
        v.fail(
            f"`flavorkit flavors` lists {case.flavor!r} with status {listed[case.flavor]}{problems}"
        )
