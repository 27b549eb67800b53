"""The ``flavorkit`` command line: flavors, info, validate, predict, serve."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

PYFUNC = "python_function"


def _fail(message: str) -> int:
    print(f"flavorkit: error: {message}", file=sys.stderr)
    return 1


def _table(rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


def _cmd_flavors(args: argparse.Namespace) -> int:
    from flavorkit._plugins import list_flavors

    rows = [("FLAVOR", "PLUGIN", "DISTRIBUTION", "VERSION", "STATUS")]
    problems = []
    for info in list_flavors():
        rows.append(
            (info.name, info.plugin, info.distribution or "-", info.version or "-", info.status)
        )
        if info.error:
            problems.append(f"{info.plugin}: {info.error}")
    print(_table(rows))
    for line in problems:
        print(line, file=sys.stderr)
    return 0


# -- info ------------------------------------------------------------------------


def _indent(text: str, by: str = "  ") -> str:
    return "\n".join(by + line for line in text.splitlines())


def _short(value: Any, limit: int = 400) -> str:
    text = json.dumps(value, separators=(", ", ": "))
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _clean(value: Any, limit: int = 200) -> str:
    """A value read from a model folder, made safe to print: no control characters, bounded."""
    text = str(value)
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _cmd_info(args: argparse.Namespace) -> int:
    from flavorkit import environment
    from flavorkit._folder import MAX_JSON_BYTES, load_json, model_file, read_text
    from flavorkit._manifest import Model
    from flavorkit._uri import resolve_uri
    from flavorkit.exceptions import FlavorkitError

    try:
        path = resolve_uri(args.model)
        manifest = Model.load(path)
        signature = manifest.signature
    except (FlavorkitError, FileNotFoundError) as exc:
        return _fail(str(exc))
    problem = ""  # the first file that could not be read: one line on stderr, exit 1
    print(f"model:    {path}")
    print(f"uuid:     {_clean(manifest.model_uuid)}")
    print(f"created:  {_clean(manifest.utc_time_created)}")
    if manifest.model_size_bytes is not None:
        print(f"size:     {manifest.model_size_bytes} bytes")
    print("flavors:")
    for name, section in manifest.flavors.items():
        keys = ", ".join(
            f"{_clean(k, 60)}={_clean(v)}"
            for k, v in section.items()
            if isinstance(v, (str, int, float, bool))
        )
        print(f"  {_clean(name, 60)}: {keys}" if keys else f"  {_clean(name, 60)}")
    print("signature:")
    print(
        _indent(_clean(signature.to_table(), 20_000))
        if signature is not None
        else "  none (inputs are not checked)"
    )
    pyfunc = manifest.flavors.get(PYFUNC) or {}
    print("environment:")
    print(f"  python: {_clean(pyfunc.get('python_version', 'not recorded'))}")
    try:
        requirements = environment.read_requirements(path)
    except FlavorkitError as exc:
        print("  requirements: unreadable")
        requirements, problem = [], str(exc)
    else:
        print("  requirements:" + ("" if requirements else " none recorded"))
    for line in requirements[:200]:
        print(f"    {_clean(line)}")
    if len(requirements) > 200:
        print(f"    ... and {len(requirements) - 200} more")
    for name, recorded, found in environment.mismatches(requirements):
        note = f"{_clean(name)} is {found or 'not installed'} here (recorded {_clean(recorded)})"
        print(f"  note: {note}")
    info = manifest.saved_input_example_info
    if not info:
        print("input example: none")
        return _fail(problem) if problem else 0
    key = "saved_input_example_info.serving_input_path"
    relative = info.get("serving_input_path", "serving_input_example.json")
    if not (path / relative).exists():
        key, relative = (
            "saved_input_example_info.artifact_path",
            info.get("artifact_path", "input_example.json"),
        )
    print(f"input example ({_clean(info.get('type', '?'), 40)}, {_clean(relative, 80)}):")
    try:
        file = model_file(path, relative, key=key)
        body = load_json(read_text(file, limit=MAX_JSON_BYTES, key=key), path=file, key=key)
        print(_indent(_clean(_short(body), 500)))
    except FlavorkitError as exc:
        # not fatal: load_model does not read the example either (validate reports it)
        print(f"  unreadable: {_clean(exc, 500)}")
    return _fail(problem) if problem else 0


# -- validate --------------------------------------------------------------------


def _cmd_validate(args: argparse.Namespace) -> int:
    from flavorkit._uri import resolve_uri

    try:
        path = resolve_uri(args.model)
    except Exception as exc:
        return _fail(str(exc))
    problems, notes = validate_model(path)
    for note in notes:
        print(f"note: {note}")
    if problems:
        print(f"{path}: {len(problems)} problem(s)", file=sys.stderr)
        for problem in problems:
            print(f"  - {problem}", file=sys.stderr)
        return 1
    print(f"{path}: ok")
    return 0


def validate_model(path: Path) -> tuple[list[str], list[str]]:
    """Check a model folder as ``load_model`` will read it: ``(problems, notes)``.

    Problems: the manifest, the files it names (regular files inside the
    folder), the signature, the environment files, the input example
    against the signature, and, when an installed plugin owns the flavor and
    its format is safe, the model itself: loaded, then predicting on its
    saved example through the scoring server's path (``serve --check``). Notes:
    what differs in this environment (missing plugins, other package
    versions, a format that needs the unsafe opt-in). A folder with no
    problems loads.
    """
    from flavorkit._folder import model_file
    from flavorkit._manifest import Model
    from flavorkit.exceptions import FlavorkitError

    try:
        manifest = Model.load(path)
    except FlavorkitError as exc:
        return [str(exc)], []
    problems: list[str] = []
    for name, section in manifest.flavors.items():
        for key, value in _named_paths(name, section):
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
        problems += _load_problems(path, manifest, notes)
    return problems, notes


def _named_paths(name: str, section: dict[str, Any]) -> list[tuple[str, str]]:
    """``(key, relative path)`` for each file a flavor section names."""
    from flavorkit._manifest import PATH_KEYS

    out = [
        (f"flavors.{name}.{key}", value)
        for key, value in section.items()
        if key in PATH_KEYS and isinstance(value, str)
    ]
    for key, value in section.items():
        if isinstance(value, list):  # MLflow's extra_files: [{path: ...}, ...]
            out += [
                (f"flavors.{name}.{key}[{i}].path", item["path"])
                for i, item in enumerate(value)
                if isinstance(item, dict) and isinstance(item.get("path"), str)
            ]
    artifacts = section.get("artifacts")
    if isinstance(artifacts, dict):
        out += [
            (f"flavors.{name}.artifacts.{art}.path", entry["path"])
            for art, entry in artifacts.items()
            if isinstance(entry, dict) and isinstance(entry.get("path"), str)
        ]
    return out


def _load_problems(path: Path, manifest: Any, notes: list[str]) -> list[str]:
    """Load the model as ``load_model`` would (no opt-in): what fails is a problem.

    A folder without a ``python_function`` flavor is loaded as ``load_native`` loads it.
    """
    import warnings

    from flavorkit._api import load_model, load_native
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
    return _serving_example_problems(model) if pyfunc else []


def _serving_example_problems(model: Any) -> list[str]:
    """Predict on the saved example through the scoring server's path, as ``serve --check`` does."""
    from flavorkit.exceptions import FlavorkitError
    from flavorkit.server._scorer import Scorer

    try:
        Scorer(model).self_test()
    except FlavorkitError as exc:
        lines = str(exc).strip().splitlines()
        return [lines[0][:500] if lines else type(exc).__name__]
    return []


def _environment_problems(path: Path, pyfunc: dict[str, Any] | None) -> list[str]:
    from packaging.requirements import InvalidRequirement, Requirement

    from flavorkit import environment
    from flavorkit._folder import load_yaml, model_file, read_text
    from flavorkit.exceptions import FlavorkitError

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
    from flavorkit import _example
    from flavorkit._folder import model_file
    from flavorkit.exceptions import FlavorkitError

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

    from flavorkit._enforce import enforce_params, enforce_schema

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
    from flavorkit._plugins import get_registry

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


# -- predict ---------------------------------------------------------------------


def _cmd_predict(args: argparse.Namespace) -> int:
    from flavorkit import _batch
    from flavorkit._api import load_model
    from flavorkit._enforce_values import names_preview
    from flavorkit.exceptions import FlavorkitError

    params = None
    if args.params:
        try:
            params = json.loads(args.params)
        except ValueError:
            return _fail("--params must be a JSON object")
        if not isinstance(params, dict):
            return _fail("--params must be a JSON object")
    show = not args.quiet and sys.stderr.isatty()
    try:
        model = load_model(args.model, allow_unsafe=args.allow_unsafe or None)
        result = _batch.predict_file(
            model,
            args.input,
            args.output,
            input_format=args.input_format,
            output_format=args.output_format,
            chunk_rows=args.chunk_size,
            params=params,
            keep=args.keep or (),
            progress=show,
        )
    except (FlavorkitError, FileNotFoundError, ValueError) as exc:
        return _fail(str(exc))
    if result.ignored_columns:
        print(
            "note: input columns not in the signature were left out: "
            + names_preview(result.ignored_columns),
            file=sys.stderr,
        )
    if show:
        print(
            f"{result.rows_in} rows -> {result.rows_out} predictions in {result.seconds:.1f} s",
            file=sys.stderr,
        )
    return 0


# -- serve -----------------------------------------------------------------------


def _cmd_serve(args: argparse.Namespace) -> int:
    from flavorkit.server import ServerConfig, check, serve

    config = ServerConfig(
        model_uri=args.model,
        host=args.host,
        port=args.port,
        workers=args.workers,
        **{name: getattr(args, name) for _, name, _, _ in _SERVE_LIMITS},
        debug=args.debug,
        allow_unsafe=args.allow_unsafe or None,
        access_log=args.access_log,
        log_level=args.log_level,
    )
    if args.check:
        passed, summary = check(config)
        print(f"{args.model}: {summary}", file=sys.stdout if passed else sys.stderr)
        return 0 if passed else 1
    try:
        return serve(config, env_manager=args.env_manager)
    except Exception as exc:  # the environment could not be built; the server never started
        return _fail(f"{type(exc).__name__}: {exc}")


def _positive(kind: type) -> Any:
    def parse(text: str) -> Any:
        value = kind(text)
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be positive, got {text}")
        return value

    return parse


# the server's tunable limits: flag, ServerConfig field, parser, help (defaults from ServerConfig)
_SERVE_LIMITS: tuple[tuple[str, str, Any, str], ...] = (
    (
        "--max-batch-size",
        "max_batch_size",
        _positive(int),
        "rows per joined predict call; 1 turns micro-batching off",
    ),
    (
        "--max-batch-delay-ms",
        "max_batch_delay_ms",
        float,
        "longest wait in ms for requests still arriving before a batch goes",
    ),
    (
        "--max-body-size",
        "max_body_bytes",
        _positive(int),
        "largest request body in bytes; larger ones get 413",
    ),
    (
        "--timeout",
        "request_timeout_s",
        _positive(float),
        "seconds a request may take before it gets 504",
    ),
    (
        "--max-request-rows",
        "max_request_rows",
        _positive(int),
        "rows one request may decode to; more get 413",
    ),
    (
        "--max-request-cells",
        "max_request_cells",
        _positive(int),
        "rows x columns one request may decode to; more get 413",
    ),
    (
        "--body-timeout",
        "body_timeout_s",
        _positive(float),
        "seconds a client may take to send its body; slower ones get 408",
    ),
    (
        "--max-connections",
        "max_connections",
        _positive(int),
        "open connections beyond which new requests get 503",
    ),
)


def _server_defaults() -> dict[str, Any]:
    """``ServerConfig``'s defaults by field name (imported only when the parser is built)."""
    from dataclasses import fields

    from flavorkit.server._config import ServerConfig

    return {f.name: f.default for f in fields(ServerConfig)}


def _add_serve(sub: Any) -> None:
    serve = sub.add_parser("serve", help="serve a model over HTTP (MLflow's scoring protocol)")
    serve.add_argument("model", help="model folder or URI")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument("-p", "--port", type=int, default=5000, help="port (default 5000)")
    serve.add_argument(
        "-w", "--workers", type=_positive(int), default=1, help="worker processes (default 1)"
    )
    defaults = _server_defaults()  # one place for each default: ServerConfig
    for flag, name, kind, text in _SERVE_LIMITS:
        serve.add_argument(
            flag,
            dest=name,
            metavar=flag.lstrip("-").upper().replace("-", "_"),
            type=kind,
            default=defaults[name],
            help=f"{text} (default %(default)s)",
        )
    serve.add_argument(
        "--env-manager",
        choices=["local", "virtualenv"],
        default="local",
        help="local: this environment; virtualenv: build one from the model's files (cached)",
    )
    serve.add_argument(
        "--check",
        action="store_true",
        help="load the model, predict on its input example, and exit (non-zero on failure)",
    )
    serve.add_argument(
        "--debug", action="store_true", help="send stack traces to clients with errors"
    )
    serve.add_argument(
        "--allow-unsafe", action="store_true", help="allow formats that run code when loaded"
    )
    serve.add_argument("--access-log", action="store_true", help="log every request")
    serve.add_argument(
        "--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"]
    )
    serve.set_defaults(func=_cmd_serve)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    from flavorkit import __version__

    parser = argparse.ArgumentParser(prog="flavorkit", description=__doc__)
    parser.add_argument("--version", action="version", version=f"flavorkit {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    flavors = sub.add_parser("flavors", help="list installed flavors and broken plugins")
    flavors.set_defaults(func=_cmd_flavors)

    info = sub.add_parser(
        "info", help="show a model's flavors, signature, environment and input example"
    )
    info.add_argument("model", help="model folder or URI")
    info.set_defaults(func=_cmd_info)

    validate = sub.add_parser(
        "validate", help="check a model folder; non-zero exit with the problems"
    )
    validate.add_argument("model", help="model folder or URI")
    validate.set_defaults(func=_cmd_validate)

    predict = sub.add_parser("predict", help="score a CSV, JSON or Parquet file in chunks")
    predict.add_argument("model", help="model folder or URI")
    predict.add_argument(
        "-i", "--input", required=True, help="input file, or - for stdin (CSV, JSON)"
    )
    predict.add_argument("-o", "--output", required=True, help="output file, or - for stdout")
    predict.add_argument(
        "--input-format",
        choices=["csv", "json", "jsonl", "parquet"],
        help="default: from the input's suffix",
    )
    predict.add_argument(
        "--output-format",
        choices=["csv", "json", "jsonl", "parquet"],
        help="default: from the output's suffix",
    )
    predict.add_argument(
        "--chunk-size",
        type=_positive(int),
        default=10_000,
        help="rows per chunk; bounds the memory used (default 10000)",
    )
    predict.add_argument(
        "--keep",
        action="append",
        metavar="COLUMN",
        help="copy an input column (e.g. an id) next to the predictions; repeatable",
    )
    predict.add_argument("--params", help="inference params as a JSON object")
    predict.add_argument(
        "--allow-unsafe", action="store_true", help="allow formats that run code when loaded"
    )
    predict.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    predict.set_defaults(func=_cmd_predict)

    _add_serve(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
