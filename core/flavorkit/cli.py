"""The ``flavorkit`` command line: flavors, info, validate, predict, serve."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from typing import Any

from flavorkit.hookspecs import subcommand_group as subcommand_group

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
    from flavorkit.api._plugins import list_flavors

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
    from flavorkit.exceptions import FlavorkitError
    from flavorkit.folder._manifest import Model
    from flavorkit.folder._paths import MAX_JSON_BYTES, load_json, model_file, read_text
    from flavorkit.folder._uri import resolve_uri

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
        # each line cleaned on its own: the table's line breaks are ours, a name's are not
        _indent("\n".join(_clean(line, 2_000) for line in signature.to_table().splitlines()[:500]))
        if signature is not None
        else "  none (inputs are not checked)"
    )
    pyfunc = manifest.flavors.get(PYFUNC) or {}
    print("environment:")
    print(f"  python: {_clean(pyfunc.get('python_version', 'not recorded'))}")
    options: list[str] = []
    try:
        requirements = environment.read_requirements(path)
        options = environment.requirement_options(path)
    except FlavorkitError as exc:
        print("  requirements: unreadable")
        requirements, problem = [], str(exc)
    else:
        print("  requirements:" + ("" if requirements else " none recorded"))
    for line in requirements[:200]:
        print(f"    {_clean(line)}")
    if len(requirements) > 200:
        print(f"    ... and {len(requirements) - 200} more")
    if options:
        # shown, since they decide where pip installs from; --env-manager virtualenv needs
        # --allow-unsafe for any but the -c constraints.txt MLflow writes
        print("  pip options:")
        for line in options[:20]:
            print(f"    {_clean(line)}")
        if len(options) > 20:
            print(f"    ... and {len(options) - 20} more")
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
    from flavorkit.folder._uri import resolve_uri

    try:
        path = resolve_uri(args.model)
    except Exception as exc:
        return _fail(str(exc))
    from flavorkit.api._validate import validate_model

    problems, notes = validate_model(path, serving_check=_serving_example_problems)
    for note in notes:
        print(f"note: {note}")
    if problems:
        print(f"{path}: {len(problems)} problem(s)", file=sys.stderr)
        for problem in problems:
            print(f"  - {problem}", file=sys.stderr)
        return 1
    print(f"{path}: ok")
    return 0


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


# -- predict ---------------------------------------------------------------------


@contextlib.contextmanager
def _sigterm_as_exit() -> Iterator[None]:
    """SIGTERM (a scheduler or ``kill`` stopping the job) raised as ``SystemExit(143)``.

    Python's default for SIGTERM ends the process at once, so a hidden
    ``.partial`` output or an engine's staging folder would be left behind;
    as an exception, the cleanup around them runs.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, frame: Any) -> None:
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _cmd_predict(args: argparse.Namespace) -> int:
    with _sigterm_as_exit():
        return _predict(args)


def _predict(args: argparse.Namespace) -> int:
    from flavorkit import batch
    from flavorkit.api import load_model
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
    if args.engine != "local":
        return _predict_on_engine(args, params, show)
    if args.master or args.scheduler:
        return _fail("--master and --scheduler need --engine spark or --engine dask")
    try:
        model = load_model(args.model, allow_unsafe=args.allow_unsafe or None)
        result = batch.predict_file(
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
    _note_ignored(result.ignored_columns)
    if show:
        print(
            f"{result.rows_in} rows -> {result.rows_out} predictions in {result.seconds:.1f} s",
            file=sys.stderr,
        )
    return 0


def _note_ignored(columns: Any) -> None:
    from flavorkit.enforce._values import names_preview

    if columns:
        print(
            f"note: input columns not in the signature were left out: {names_preview(columns)}",
            file=sys.stderr,
        )


# the modules an engine of `flavorkit predict --engine` needs, by engine (its extra's name)
_ENGINE_MODULES = {"spark": ("pyspark", "pyarrow"), "dask": ("dask", "distributed", "pyarrow")}


def _predict_on_engine(args: argparse.Namespace, params: Any, show: bool) -> int:
    """``flavorkit predict --engine spark|dask``: partitions scored in parallel, part files out."""
    from flavorkit.exceptions import FlavorkitError

    engine = args.engine
    missing = _missing_modules(*_ENGINE_MODULES[engine])
    if missing:
        return _fail(
            f"--engine {engine} needs the '{engine}' extra ({', '.join(missing)} not installed): "
            f"pip install 'flavorkit[{engine}]'"
        )
    if engine == "spark":
        if args.scheduler:
            return _fail("--scheduler is for --engine dask; Spark takes --master")
        from flavorkit.spark import predict_files

        where: dict[str, Any] = {"master": args.master}
    else:
        if args.master:
            return _fail("--master is for --engine spark; Dask takes --scheduler")
        from flavorkit.dask import predict_files

        where = {"scheduler": args.scheduler}
    try:
        result = predict_files(
            args.model,
            args.input,
            args.output,
            input_format=args.input_format,
            output_format=args.output_format,
            params=params,
            keep=args.keep or (),
            allow_unsafe=args.allow_unsafe or None,
            chunk_rows=args.chunk_size,
            **where,
        )
    except (FlavorkitError, FileNotFoundError, ValueError) as exc:
        return _fail(str(exc))
    _note_ignored(result.ignored_columns)
    if show:
        print(
            f"{result.rows_in} rows -> {result.rows_out} predictions in {result.chunks} "
            f"partitions on {engine} in {result.seconds:.1f} s",
            file=sys.stderr,
        )
    return 0


# -- serve -----------------------------------------------------------------------


def _cmd_serve(args: argparse.Namespace) -> int:
    from flavorkit.server import ServerConfig, check, serve

    missing = _missing_modules("uvicorn", "starlette")
    if missing:
        return _fail(
            f"flavorkit serve needs the 'serve' extra ({', '.join(missing)} not installed): "
            "pip install 'flavorkit[serve]'"
        )
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
        loop=args.loop,
        http=args.http,
        name=args.name,
        metrics=not args.no_metrics,
    )
    if args.check:
        passed, summary = check(config)
        print(f"{args.model}: {summary}", file=sys.stdout if passed else sys.stderr)
        return 0 if passed else 1
    try:
        return serve(config, env_manager=args.env_manager)
    except Exception as exc:  # the environment could not be built; the server never started
        return _fail(f"{type(exc).__name__}: {exc}")


def _model_name(text: str) -> str:
    from flavorkit.server._config import check_model_name

    try:
        return check_model_name(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _missing_modules(*names: str) -> list[str]:
    import importlib.util

    missing = []
    for name in names:
        try:
            found = importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            missing.append(name)
    return missing


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
    serve = sub.add_parser(
        "serve",
        help="serve a model over HTTP (MLflow's scoring protocol and the Open Inference Protocol)",
    )
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
    serve.add_argument(
        "--loop",
        choices=["auto", "uvloop", "asyncio"],
        default="auto",
        help="event loop (default auto: uvloop when installed, as the serve extra does)",
    )
    serve.add_argument(
        "--http",
        choices=["auto", "httptools", "h11"],
        default="auto",
        help="HTTP parser (default auto: httptools when installed)",
    )
    serve.add_argument(
        "--name",
        type=_model_name,
        default=None,
        help="the model's name on the Open Inference Protocol (V2) endpoints (default: the "
        "registered model's name for a models:/ URI, else the folder's name)",
    )
    serve.add_argument(
        "--no-metrics",
        action="store_true",
        help="turn off GET /metrics and the recording behind it",
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
    predict.add_argument(
        "--engine",
        choices=["local", "spark", "dask"],
        default="local",
        help="local: this process, chunk by chunk (default); spark, dask: partitions in "
        "parallel, CSV or Parquet in, a folder of part files out (the spark / dask extra)",
    )
    predict.add_argument(
        "--master", metavar="URL", help="Spark master for --engine spark (default local[*])"
    )
    predict.add_argument(
        "--scheduler",
        metavar="ADDR",
        help="for --engine dask: threads (default), processes, synchronous, or the address "
        "of a distributed scheduler (tcp://host:8786)",
    )
    predict.set_defaults(func=_cmd_predict)

    _add_serve(sub)
    from flavorkit.registry._cli import add_models_parser
    from flavorkit.stores._cli import add_cache_parser

    add_models_parser(sub)
    add_cache_parser(sub)
    _plugin_commands(sub)
    return parser


def _plugin_commands(sub: Any) -> None:
    """Commands installed plugins add (``flavorkit_cli_commands``); a broken one is skipped."""
    from flavorkit.api._plugins import get_registry

    registry = get_registry()
    for impl in registry.hook.flavorkit_cli_commands.get_hookimpls():
        try:
            impl.function(subparsers=sub)
        except Exception as exc:  # one broken plugin must not take the CLI down
            print(
                f"flavorkit: plugin {impl.plugin_name!r} could not add its commands "
                f"({type(exc).__name__}: {exc})",
                file=sys.stderr,
            )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except BrokenPipeError:
        # the reader went away (`flavorkit models list | head`): stop quietly, as other tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
