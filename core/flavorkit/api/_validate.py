"""Checking a model folder the way loading will read it (``flavorkit validate``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from flavorkit.api._load import PYFUNC


def validate_model(
    path: Path, *, serving_check: Callable[[Any], list[str]] | None = None
) -> tuple[list[str], list[str]]:
    """Check a model folder as ``load_model`` will read it: ``(problems, notes)``.

    Problems: the manifest, the files it names (regular files inside the
    folder), the signature, the environment files, the input example
    against the signature, and, when an installed plugin owns the flavor and
    its format is safe, the model itself: loaded, then given to
    ``serving_check`` (the CLI predicts on its saved example through the
    scoring server's path, as ``serve --check`` does). Notes:
    what differs in this environment (missing plugins, other package
    versions, a format that needs the unsafe opt-in). A folder with no
    problems loads.
    """
    from flavorkit.exceptions import FlavorkitError
    from flavorkit.folder._manifest import MLMODEL, Model, named_paths
    from flavorkit.folder._paths import model_file

    if path.is_dir() and not (path / MLMODEL).exists() and not (path / MLMODEL).is_symlink():
        from flavorkit.api._plugins import get_registry

        # another kind of folder a plugin checks (a Triton model repository)
        found = get_registry().hook.flavorkit_validate_folder(path=path)
        if found is not None:
            return list(found), []
    try:
        manifest = Model.load(path)
    except FlavorkitError as exc:
        return [str(exc)], []
    problems: list[str] = []
    for name, section in manifest.flavors.items():
        for key, value in named_paths(name, section):
            try:
                model_file(path, value, key=key, kind="any")
            except FlavorkitError as exc:
                problems.append(str(exc))
    try:
        signature = manifest.signature
    except FlavorkitError as exc:
        problems.append(str(exc))
        signature = None
    problems += _environment_problems(path, manifest.flavors.get(PYFUNC))
    problems += _example_problems(path, manifest, signature)
    notes = _notes(path, manifest) if not problems else []
    if not problems:
        problems += _load_problems(path, manifest, notes, serving_check)
    return problems, notes


def _load_problems(
    path: Path,
    manifest: Any,
    notes: list[str],
    serving_check: Callable[[Any], list[str]] | None,
) -> list[str]:
    """Load the model as ``load_model`` would (no opt-in): what fails is a problem.

    A folder without a ``python_function`` flavor is loaded as ``load_native`` loads it.
    """
    import warnings

    from flavorkit.api._load import load_model, load_native
    from flavorkit.exceptions import FlavorkitError, PluginError, UnsafeFormatError

    pyfunc = PYFUNC in manifest.flavors
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            load = load_model if pyfunc else load_native
            model = load(path, allow_unsafe=False, suppress_warnings=True)
    except UnsafeFormatError as exc:
        notes.append(f"not loaded: {exc}")
        return []
    except PluginError as exc:
        notes.append(f"not loaded: {exc}")
        return []
    except FlavorkitError as exc:
        return [f"the model does not load: {exc}"]
    return serving_check(model) if pyfunc and serving_check is not None else []


def _environment_problems(path: Path, pyfunc: dict[str, Any] | None) -> list[str]:
    from packaging.requirements import InvalidRequirement, Requirement

    from flavorkit import environment
    from flavorkit.exceptions import FlavorkitError
    from flavorkit.folder._paths import load_yaml, model_file, read_text

    if pyfunc is None:
        return []
    problems = []
    env = pyfunc.get("env")
    files = list(env.items()) if isinstance(env, dict) else [("", env)] if env else []
    for sub, name in files:
        key = f"flavors.{PYFUNC}.env" + (f".{sub}" if sub else "")
        try:
            file = model_file(path, name, key=key)
            load_yaml(read_text(file, key=key), path=file, key=key)
        except FlavorkitError as exc:
            problems.append(f"environment: {exc}")
    if not (path / environment.REQUIREMENTS).exists():
        problems.append("environment: requirements.txt is missing")
        return problems
    try:
        environment.read_requirements(path)  # the checks load_model makes
        file = model_file(path, environment.REQUIREMENTS, key=environment.REQUIREMENTS)
        lines = read_text(file).splitlines()
    except FlavorkitError as exc:
        return [*problems, f"environment: {exc}"]
    for n, line in enumerate(lines, 1):
        line = line.strip()
        if not line or line.startswith(("#", "-")):
            continue
        try:
            Requirement(line)
        except InvalidRequirement:
            problems.append(f"environment: requirements.txt line {n} is not a valid requirement")
            if len(problems) > 20:
                break
    return problems


def _example_problems(path: Path, manifest: Any, signature: Any) -> list[str]:
    from flavorkit.exceptions import FlavorkitError
    from flavorkit.folder._paths import model_file
    from flavorkit.io import _example

    info = manifest.saved_input_example_info
    if not info:
        return []
    problems = []
    for key in ("artifact_path", "serving_input_path"):
        if key in info:
            try:
                model_file(path, info[key], key=f"saved_input_example_info.{key}")
            except FlavorkitError as exc:
                problems.append(str(exc))
    if problems or signature is None or signature.inputs is None:
        return problems
    import warnings

    from flavorkit.enforce import enforce_params, enforce_schema

    try:
        data, params = _example.read(path, info, signature.inputs)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            enforce_schema(data, signature.inputs)
            if params is not None:
                enforce_params(params, signature.params)
    except (FlavorkitError, ValueError, TypeError) as exc:
        problems.append(f"input example does not match the signature: {exc}")
    return problems


def _notes(path: Path, manifest: Any) -> list[str]:
    from flavorkit import environment
    from flavorkit.api._plugins import get_registry

    registry = get_registry()
    notes = [
        f"no installed plugin owns flavor {name!r}; install its plugin to load it here"
        for name in manifest.flavors
        if name != PYFUNC and not registry.owns(name)
    ]
    notes += [
        f"{name} is {found or 'not installed'} here (the model recorded {recorded})"
        for name, recorded, found in environment.mismatches(environment.read_requirements(path))
    ]
    return notes
