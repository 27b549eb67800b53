"""The conformance checks of the folder and the process: what a save leaves, what a load touches.

Like the checks in ``_checks``, each ``check_<property>(case)`` states its
property in the first line of its docstring and raises
:class:`~flavorkit.testing.FlavorCheckError` naming it, what broke it and
what to change. The checks that re-save the model work in their own
scratch folder; ``check_folder_relocatable`` is the only one that starts a
fresh interpreter (one per case).
"""

from __future__ import annotations

import fnmatch
import json
import os
import shutil
import subprocess
import sys
import warnings
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flavorkit.testing._case import FlavorCase, _default_predict
from flavorkit.testing._support import (
    CORE_FILES,
    SUBPROCESS_TIMEOUT_S,
    Verdict,
    describe_error,
    loaded_model,
    python_env,
    saved_model,
    scratch_dir,
    tail,
)
from flavorkit.testing._values import decode, differs, flatten

CODE_DIR = "code"

# one fresh interpreter per case: loads the shared folder by its absolute path and predicts
# (check_load_in_fresh_process), then loads the moved copy through a relative path, changes
# directory and predicts (check_folder_relocatable); each part reports how far it got
_FRESH_SCRIPT = """\
import json, os, sys, traceback
sys.path[:] = [p for p in sys.path if p not in ("", ".")]
original, relative, later, out = sys.argv[1:5]
report = {}


def run(key, path, move_to):
    part = report[key] = {"stage": "load"}
    try:
        model = flavorkit.load_model(path, allow_unsafe=True, suppress_warnings=True)
        example, params = model.input_example, model.input_example_params
        part["stage"] = "predict"
        if move_to:
            os.chdir(move_to)
        part["prediction"] = encode(flatten(model.predict(example, params)))
        part["stage"] = "done"
    except Exception as exc:
        traceback.print_exc()
        part["error"] = f"{type(exc).__name__}: {exc}"[:400]


try:
    import flavorkit
    from flavorkit.testing._values import encode, flatten
except BaseException as exc:
    traceback.print_exc()
    report["error"] = f"{type(exc).__name__}: {exc}"[:400]
else:
    run("original", original, "")
    if relative:
        run("relocated", relative, later)
with open(out, "w", encoding="utf-8") as fh:
    json.dump(report, fh)
"""
_RELATIVE = "relocated/model"


def _qualname(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _shown(items: list[str], limit: int = 8) -> str:
    more = f" (+{len(items) - limit} more)" if len(items) > limit else ""
    return ", ".join(items[:limit]) + more


def _manifest(v: Verdict, path: Path) -> dict[str, Any]:
    import yaml

    text = v.call("reading the saved MLmodel", (path / "MLmodel").read_text, encoding="utf-8")
    data = v.call("parsing the saved MLmodel", yaml.safe_load, text)
    if not isinstance(data, dict):
        v.fail(f"the saved MLmodel holds {type(data).__name__}, not a mapping")
    return data


def _strings(value: Any, where: str) -> Iterator[tuple[str, str]]:
    """Every string in ``value`` (mappings and lists walked), with its key path."""
    if isinstance(value, str):
        yield where, value
    elif isinstance(value, dict):
        for key, inner in value.items():
            yield from _strings(inner, f"{where}.{key}" if where else str(key))
    elif isinstance(value, (list, tuple)):
        for i, inner in enumerate(value):
            yield from _strings(inner, f"{where}[{i}]")


def _is_absolute(text: str) -> bool:
    import re

    return bool(
        text.startswith(("/", "\\\\", "~/", "~\\", "file:/")) or re.match(r"^[A-Za-z]:[\\/]", text)
    )


# -- check_native_workflow ---------------------------------------------------------


def check_native_workflow(case: FlavorCase) -> None:
    """load_native returns the saved model's own type, and its predict matches the pyfunc model.

    ``flavorkit.load_native`` (with the unsafe opt-in, like the other checks
    of behaviour) must return an instance of ``type(model_factory())``, or
    of the case's ``native_type`` where the framework gives back another
    type by design; the case's ``predict_original`` on that object must
    predict what ``load_model(...).predict`` does on the example.
    """
    import flavorkit

    v = Verdict(check_native_workflow, case)
    path = v.call("saving the model", saved_model, case)
    native = v.call(
        "loading the folder with load_native",
        flavorkit.load_native,
        path,
        allow_unsafe=True,
        suppress_warnings=True,
    )
    wanted = case.native_type or type(case.model())
    if not isinstance(native, wanted):
        v.fail(
            f"load_native returned a {_qualname(type(native))}, not a {_qualname(wanted)} "
            "(the type of the model that was saved); return the framework's own object "
            "from the load hook and do any wrapping in the predict hook"
        )
    model = v.call("loading the saved folder", loaded_model, case)
    params = case.example_params()
    through_pyfunc = flatten(
        v.call("predicting with load_model", model.predict, case.example_data(), params)
    )
    predict = case.predict_original or _default_predict
    own = flatten(
        v.call(
            f"predicting with the {type(native).__name__} load_native returned",
            predict,
            native,
            case.example_data(),
            params,
        )
    )
    diff = differs(case, through_pyfunc, own)
    if diff:
        v.fail(
            f"the {type(native).__name__} load_native returned predicts differently from "
            f"load_model on the example ({diff}); load_native and load_model must read the "
            "same object from the folder"
        )


def _example_predictions(v: Verdict, model: Any, what: str) -> Any:
    """``model``'s predictions on its saved input example, flattened; ``what`` names the step."""
    return flatten(v.call(what, model.predict, model.input_example, model.input_example_params))


# -- check_folder_relocatable -------------------------------------------------------


@dataclass
class _Watched:
    """Folders whose files are listed before and after, to see what was written there."""

    roots: dict[str, Path]
    before: dict[str, tuple[int, int]]

    @classmethod
    def start(cls, roots: dict[str, Path]) -> _Watched:
        for root in roots.values():
            root.mkdir(parents=True, exist_ok=True)
        watched = cls(roots, {})
        watched.before = watched._listing()
        return watched

    def _listing(self) -> dict[str, tuple[int, int]]:
        seen = {}
        for label, root in self.roots.items():
            for dirpath, dirnames, filenames in os.walk(root):
                for name in dirnames + filenames:
                    full = Path(dirpath, name)
                    try:
                        st = full.lstat()
                    except OSError:
                        continue
                    rel = full.relative_to(root).as_posix()
                    seen[f"{label}/{rel}"] = (st.st_size, 0 if full.is_dir() else st.st_mtime_ns)
        return seen

    def written(self, allowed: Callable[[str], bool]) -> list[str]:
        """Entries created or changed since :meth:`start`, less those ``allowed`` accepts."""
        after = self._listing()
        new = [k for k, stat in after.items() if self.before.get(k) != stat and not allowed(k)]
        # a folder made on the way to a file is shown by the file
        return sorted(k for k in new if not any(o.startswith(k + "/") for o in new))


# XDG variables override HOME for caches and settings; left as they are, a library
# writing to XDG_CACHE_HOME would escape the watch on machines that set it
_XDG_UNDER_HOME = {
    "XDG_CACHE_HOME": ".cache",
    "XDG_CONFIG_HOME": ".config",
    "XDG_DATA_HOME": ".local/share",
    "XDG_STATE_HOME": ".local/state",
}


def _home_env(home: Path) -> dict[str, str]:
    """``HOME``, ``USERPROFILE`` and the XDG base directories, all under ``home``."""
    env = {"HOME": str(home), "USERPROFILE": str(home)}
    env.update({key: str(home / sub) for key, sub in _XDG_UNDER_HOME.items()})
    return env


@contextmanager
def _home_and_cwd(home: Path, cwd: Path) -> Iterator[None]:
    """``HOME`` (with the XDG directories) pointed at ``home``, the working directory at ``cwd``."""
    pointed = _home_env(home)
    saved_env = {k: os.environ.get(k) for k in pointed}
    saved_cwd = os.getcwd()
    os.environ.update(pointed)
    os.chdir(cwd)
    try:
        yield
    finally:
        os.chdir(saved_cwd)
        for key, value in saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@dataclass
class FreshRun:
    """What the shared fresh interpreter of one case reported (see :func:`fresh_process_run`).

    ``original`` and ``relocated`` are the parts' reports (``stage``,
    ``prediction`` or ``error``); ``relocated`` is ``None`` when moving the
    folder failed before the interpreter started (``moving_error`` says why).
    ``folder`` is the shared folder the run loaded.
    """

    original: dict[str, Any] | None
    relocated: dict[str, Any] | None
    moving_error: str | None
    absolute: list[str]
    writes: list[str]
    returncode: int
    stderr: str
    folder: Path


_CACHE_SIZE = 6
# (case, registry) -> (case, registry, run); strong references keep the ids unique
_fresh: OrderedDict[tuple[int, int], tuple[Any, Any, FreshRun]] = OrderedDict()


def _move(case: FlavorCase, work: Path) -> tuple[str | None, list[str]]:
    """Save under a watched HOME and working directory, copy the folder, delete the original."""
    import flavorkit

    origin = work / "origin" / "model"
    origin.parent.mkdir()
    try:
        # built outside the watch: the factory's and the example's files are not the flavor's
        model, kwargs = case.model(), case.save_kwargs()
        if kwargs.get("code_paths"):  # given relative to the caller's working directory
            kwargs["code_paths"] = [os.path.abspath(p) for p in kwargs["code_paths"]]
        with _home_and_cwd(work / "home", work / "cwd"):
            flavorkit.save_model(model, origin, **kwargs)
    except Exception as exc:
        return f"saving the model raised {describe_error(exc)}", []
    import yaml

    try:
        manifest = yaml.safe_load((origin / "MLmodel").read_text(encoding="utf-8"))
    except Exception as exc:
        return f"reading the saved MLmodel raised {describe_error(exc)}", []
    absolute = [
        f"{key} ({value!r})"
        for key, value in _strings(manifest, "")
        if key != "artifact_path" and _is_absolute(value)
    ]
    shutil.copytree(origin, work / "cwd" / _RELATIVE, symlinks=True)
    shutil.rmtree(origin.parent)
    return None, absolute


def fresh_process_run(case: FlavorCase) -> FreshRun:
    """Run the case's shared fresh interpreter once per case and registry; return its report.

    Saves a second folder with ``HOME`` and the working directory pointed
    at watched folders, copies it under the watched working directory and
    deletes the original; then one interpreter (``HOME`` still watched)
    loads and predicts the shared folder and the moved copy. Raises what
    ``saved_model`` raises.
    """
    from flavorkit.api._plugins import get_registry

    original = saved_model(case)
    key = (id(case), id(get_registry()))
    entry = _fresh.get(key)
    if entry is not None and entry[2].folder == original:
        _fresh.move_to_end(key)
        return entry[2]
    work = scratch_dir(f"{case.name}-fresh")
    (work / "cwd" / _RELATIVE).parent.mkdir(parents=True)
    watched = _Watched.start(
        {
            "HOME": work / "home",
            "the working directory": work / "cwd",
            "the later working directory": work / "later",
        }
    )
    moving_error, absolute = _move(case, work)
    out = work / "report.json"
    env = python_env(case, work)
    env.update(_home_env(work / "home"))
    relative = "" if moving_error else _RELATIVE
    args = [sys.executable, "-c", _FRESH_SCRIPT, str(original), relative, str(work / "later")]
    proc = subprocess.run(
        [*args, str(out)],
        env=env,
        cwd=work / "cwd",
        capture_output=True,
        text=True,
        timeout=SUBPROCESS_TIMEOUT_S,
        check=False,
    )
    report = json.loads(out.read_text(encoding="utf-8")) if out.is_file() else {}
    inside = f"the working directory/{_RELATIVE}"
    writes = watched.written(
        lambda k: k == inside.rsplit("/", 1)[0] or k == inside or k.startswith(inside + "/")
    )
    run = FreshRun(
        report.get("original"),
        report.get("relocated"),
        moving_error,
        absolute,
        writes,
        proc.returncode,
        proc.stderr or report.get("error", ""),
        original,
    )
    _fresh[key] = (case, get_registry(), run)
    while len(_fresh) > _CACHE_SIZE:
        _fresh.popitem(last=False)
    return run


def check_folder_relocatable(case: FlavorCase) -> None:
    """A saved folder works after it is moved: no absolute paths, nothing kept outside it.

    Saves the model (``HOME`` and the working directory pointed at watched
    folders), looks for absolute paths under every key of ``MLmodel``
    (MLflow's top-level ``artifact_path`` excepted), copies the folder
    elsewhere and deletes the original. A fresh interpreter, with ``HOME``
    watched too, loads the copy through a relative path from another working
    directory, changes directory, and predicts on the folder's input
    example: the prediction must equal this process's, and neither save,
    load nor predict may write into the working directories or ``HOME``.
    The interpreter is the one ``check_load_in_fresh_process`` uses.
    """
    v = Verdict(check_folder_relocatable, case)
    model = v.call("loading the saved folder", loaded_model, case)
    if model.metadata.saved_input_example_info is None:
        v.fail("the saved folder has no input example to predict on after moving it")
    expected = _example_predictions(v, model, "predicting on the folder's input example")
    run = v.call("running the fresh process", fresh_process_run, case)
    if run.moving_error:
        v.fail(f"with HOME and the working directory watched, {run.moving_error}")
    if run.absolute:
        v.fail(
            f"MLmodel holds absolute paths under {_shown(run.absolute, 4)}; a moved or copied "
            "folder cannot use them: write what the model needs inside the folder and "
            "record it relative to the folder"
        )
    part = run.relocated or {}
    if part.get("stage") != "done":
        error = part.get("error") or f"the process exited with status {run.returncode}"
        where = {
            "load": f"loading the moved folder through the relative path {_RELATIVE}",
            "predict": "predicting after the working directory changed (a load that keeps "
            "the relative path it was given and reads it later breaks here: resolve the "
            "path, or read the files while loading)",
        }.get(part.get("stage", ""), "the fresh process")
        v.fail(f"with the original deleted, {where} failed: {error}\n{tail(run.stderr)}")
    if run.writes:
        v.fail(
            f"saving, loading or predicting wrote {_shown(run.writes)}; keep the model's files "
            "inside its folder, and caches in memory or the temporary directory"
        )
    actual = decode(part["prediction"])
    diff = differs(case, expected, actual)
    if diff:
        v.fail(f"the moved folder, loaded in a fresh process, predicts differently: {diff}")


# -- check_loads_from_registry ---------------------------------------------------------


def check_loads_from_registry(case: FlavorCase) -> None:
    """A saved folder registers, and loads by ``models:/`` URI as often as asked, unchanged.

    Saves the model and registers the folder, before anything loads it, in a
    new embedded registry (the files are copied into its store and the sha256
    of each is recorded), then loads
    ``models:/<name>@<alias>`` twice and predicts on the folder's input
    example each time: the predictions must equal the original folder's.
    Each load checks the version's files against their digests, so a
    load that writes into its own folder (a compiled cache, a lock file)
    is caught by the second one: registered versions, read-only mounts and
    shared stores cannot take such writes. A save that leaves links or
    special files in the folder cannot be registered at all.
    """
    import flavorkit
    from flavorkit.exceptions import DigestMismatchError
    from flavorkit.registry import register_model, set_alias
    from flavorkit.registry._resolve import forget_registries

    v = Verdict(check_loads_from_registry, case)
    model = v.call("loading the saved folder", loaded_model, case)
    if model.metadata.saved_input_example_info is None:
        v.fail("the saved folder has no input example to predict on after registering it")
    expected = _example_predictions(v, model, "predicting on the folder's input example")
    store = scratch_dir(f"{case.name}-registry")
    fresh = store / "model"  # saved anew: never loaded before it is registered
    v.call("saving the model", flavorkit.save_model, case.model(), fresh, **case.save_kwargs())
    name = "conformance"
    uri = f"models:/{name}@checked"
    previous = {key: os.environ.get(key) for key in (_REGISTRY_ENV, _CACHE_ENV)}
    os.environ[_REGISTRY_ENV] = str(store / "registry")
    os.environ[_CACHE_ENV] = str(store / "cache")
    try:
        version = v.call("registering the saved folder", register_model, fresh, name)
        set_alias(name, "checked", version.version)
        for attempt in ("first", "second"):
            try:
                again = flavorkit.load_model(uri, allow_unsafe=True, suppress_warnings=True)
            except DigestMismatchError as exc:
                v.fail(
                    f"the {attempt} load of {uri} found the registered files changed: {exc}; "
                    "loading wrote into the model's folder: keep caches in memory or the "
                    "temporary directory"
                )
            except Exception as exc:
                v.fail(f"the {attempt} load of {uri} failed: {describe_error(exc)}")
            actual = _example_predictions(v, again, f"predicting after the {attempt} load of {uri}")
            diff = differs(case, expected, actual)
            if diff:
                v.fail(f"the registered version ({attempt} load) predicts differently: {diff}")
    finally:
        forget_registries()
        for key, value in previous.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        shutil.rmtree(store, ignore_errors=True)


_REGISTRY_ENV = "FLAVORKIT_REGISTRY_URI"
_CACHE_ENV = "FLAVORKIT_CACHE_DIR"


# -- check_no_process_side_effects ----------------------------------------------------


@dataclass(frozen=True)
class _ProcessState:
    cwd: str
    path: tuple[str, ...]
    environ: dict[str, str]
    filters: tuple[Any, ...]

    @classmethod
    def now(cls) -> _ProcessState:
        return cls(os.getcwd(), tuple(sys.path), dict(os.environ), tuple(warnings.filters))

    def changes_to(self, after: _ProcessState) -> list[str]:
        seen = []
        if after.cwd != self.cwd:
            seen.append(f"the working directory ({self.cwd} -> {after.cwd})")
        if after.path != self.path:
            added = list((Counter(after.path) - Counter(self.path)).elements())
            removed = list((Counter(self.path) - Counter(after.path)).elements())
            what = ", ".join(
                part
                for part in (
                    f"added {_shown(added, 3)}" if added else "",
                    f"removed {_shown(removed, 3)}" if removed else "",
                )
                if part
            )
            seen.append(f"sys.path ({what or 'reordered'})")
        if after.environ != self.environ:
            keys = sorted(
                k
                for k in set(self.environ) | set(after.environ)
                if self.environ.get(k) != after.environ.get(k)
            )
            seen.append(f"os.environ (variables {_shown(keys, 5)})")
        if after.filters != self.filters:
            at = next(
                (
                    i
                    for i, (a, b) in enumerate(zip(self.filters, after.filters, strict=False))
                    if a != b
                ),
                min(len(self.filters), len(after.filters)),
            )
            first = ""
            if at < len(after.filters):
                action, _, category, *_ = after.filters[at]
                first = f"; at position {at} now {action!r} for {category.__name__}"
            seen.append(
                f"the warning filters ({len(self.filters)} -> {len(after.filters)} filters{first})"
            )
        return seen

    def restore(self) -> None:
        os.chdir(self.cwd)
        sys.path[:] = list(self.path)
        for key in [k for k in os.environ if k not in self.environ]:
            del os.environ[key]
        for key, value in self.environ.items():
            if os.environ.get(key) != value:
                os.environ[key] = value
        warnings.filters[:] = list(self.filters)
        warnings._filters_mutated()  # type: ignore[attr-defined]


def check_no_process_side_effects(case: FlavorCase) -> None:
    """Saving, loading and predicting leave the process as they found it.

    Compares the working directory, ``sys.path``, ``os.environ`` and the
    warning filters before and after each of a save, a load and a predict
    (after one warm-up round whose changes are undone, so that what the
    framework does once, when it is first imported, is not counted but what
    it does on every call is); the state is restored after a failure, and
    the working directory always, so that later tests run unharmed.
    """
    v = Verdict(check_no_process_side_effects, case)
    initial = _ProcessState.now()
    try:
        _no_side_effects(v, case)
    except BaseException:
        initial.restore()  # later tests start from where this one did
        raise
    finally:
        os.chdir(initial.cwd)  # a warm-up load may have moved it too


def _no_side_effects(v: Verdict, case: FlavorCase) -> None:
    import flavorkit

    before_warm_up = _ProcessState.now()
    warm = v.call("loading the saved folder", loaded_model, case)
    v.call("predicting on the example", warm.predict, case.example_data(), case.example_params())
    case.model()
    # undone, so that a change made again on every call shows; imports do not run twice
    before_warm_up.restore()
    target = scratch_dir(f"{case.name}-side-effects") / "model"
    kwargs = case.save_kwargs()
    loaded: list[Any] = []
    steps: list[tuple[str, Callable[[], Any]]] = [
        ("saving", lambda: flavorkit.save_model(case.model(), target, **kwargs)),
        (
            "loading",
            lambda: loaded.append(
                flavorkit.load_model(target, allow_unsafe=True, suppress_warnings=True)
            ),
        ),
        ("predicting", lambda: loaded[0].predict(case.example_data(), case.example_params())),
    ]
    for what, step in steps:
        before = _ProcessState.now()
        try:
            v.call(what, step)
        finally:
            changed = before.changes_to(_ProcessState.now())
            before.restore()
        if changed:
            v.fail(
                f"{what} changed {'; '.join(changed)}; restore what you change (try/finally "
                "or a context manager), and pass paths and settings explicitly instead of "
                "changing the working directory, sys.path, the environment or warning filters"
            )


# -- check_environment_honest ---------------------------------------------------------


def _public(version: str) -> str:
    return version.split("+", 1)[0]


def check_environment_honest(case: FlavorCase) -> None:
    """Every exact pin in requirements.txt is satisfied by what is installed.

    Each ``name==version`` (or ``===``) line whose markers hold here must
    name an installed distribution whose version it admits (local version
    labels such as ``+cpu`` ignored), whatever the package: a stale
    hard-coded pin gives an environment the model was never saved in.
    """
    from importlib.metadata import PackageNotFoundError, version

    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    from flavorkit.environment import read_requirements

    v = Verdict(check_environment_honest, case)
    path = v.call("saving the model", saved_model, case)
    lines = v.call("reading requirements.txt", read_requirements, path)
    wrong = []
    for line in lines:
        try:
            req = Requirement(line)
        except InvalidRequirement:
            continue
        if req.marker is not None and not req.marker.evaluate():
            continue
        pins = [s for s in req.specifier if s.operator in ("==", "===")]
        if not pins:
            continue
        try:
            installed = version(req.name)
        except PackageNotFoundError:
            wrong.append(f"{line} (not installed)")
            continue
        for spec in pins:
            wanted = _public(spec.version)
            if spec.operator == "===":
                ok = _public(installed) == wanted
            else:
                try:
                    ok = SpecifierSet(f"=={wanted}").contains(_public(installed), prereleases=True)
                except InvalidSpecifier:
                    ok = False
            if not ok:
                wrong.append(f"{line} (installed: {installed})")
                break
    if wrong:
        v.fail(
            f"requirements.txt pins {_shown(wrong, 4)}; an environment built from it is not "
            "the one the model was saved in: pin installed versions "
            "(flavorkit.environment.pins_for_modules) instead of hard-coded ones"
        )


# -- check_folder_contents -------------------------------------------------------------


def _named_by_sections(path: Path, manifest: dict[str, Any]) -> set[str]:
    """The folder entries that a string value of a flavor section names (relative paths)."""
    root = path.resolve()
    named = set()
    for _key, value in _strings(manifest.get("flavors") or {}, ""):
        if not value or len(value) > 1000 or _is_absolute(value) or "\n" in value:
            continue
        candidate = path / value
        try:
            if not os.path.lexists(candidate):
                continue
            rel = candidate.resolve().relative_to(root).as_posix()
        except (OSError, ValueError):
            continue
        if rel != ".":
            named.add(rel)
    return named


def check_folder_contents(case: FlavorCase) -> None:
    """The saved folder holds only the core's files and files the flavor's MLmodel section names.

    The core writes ``MLmodel``, the environment files, the input examples
    and ``code/`` (with ``code_paths``). Any other entry must be named by a
    string value of a flavor section (a file, or a folder whose whole
    contents are then the flavor's) or match a glob of the case's
    ``extra_files``: temporary files, lock files and leftovers fail.
    """
    v = Verdict(check_folder_contents, case)
    path = v.call("saving the model", saved_model, case)
    manifest = _manifest(v, path)
    allowed = set(CORE_FILES) | _named_by_sections(path, manifest)
    if case.save_kwargs().get("code_paths"):
        allowed.add(CODE_DIR)
    patterns = list(case.extra_files)

    def kept(rel: str) -> bool:
        parts = rel.split("/")
        prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        if any(p in allowed for p in prefixes):
            return True
        if any(fnmatch.fnmatchcase(p, g) for p in prefixes for g in patterns):
            return True
        # a folder on the way to something named is fine
        return any(a.startswith(rel + "/") for a in allowed)

    entries = sorted(p.relative_to(path).as_posix() for p in path.rglob("*"))
    stray = [e for e in entries if not kept(e)]
    # a stray folder stands for its contents
    stray = [e for e in stray if not any(e.startswith(s + "/") for s in stray)]
    if stray:
        named = _shown(sorted(allowed - set(CORE_FILES))) or "nothing"
        v.fail(
            f"the folder also holds {_shown(stray)}, which neither the core writes nor the "
            f"flavor's MLmodel section names (it names {named}); remove "
            "temporary and lock files before the persist hook returns, name the files the "
            "model needs in the section, or list them in the case's extra_files"
        )
