"""``flavorkit models``: register, list, show and curate models in the embedded registry.

``add_models_parser(sub)`` adds the command to the ``flavorkit`` parser; each
subcommand calls one function of the registry and prints a table, or JSON
with ``--json``. ``--registry`` names the registry (default:
``FLAVORKIT_REGISTRY_URI``, else the per-user one); ``show`` also reads an
MLflow registry, the commands that change a registry refuse one.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from collections.abc import Callable
from typing import Any


def _fail(message: str) -> int:
    print(f"flavorkit: error: {message}", file=sys.stderr)
    return 1


def _table(rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


def _when(seconds: float | None) -> str:
    if not seconds:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(seconds))


def _clean(value: Any, limit: int = 200) -> str:
    """A value from the registry made safe to print on one line: bounded, no control characters."""
    text = str(value)
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _json(value: Any) -> None:
    def plain(obj: Any) -> Any:
        if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
            return {k: plain(v) for k, v in dataclasses.asdict(obj).items()}
        if isinstance(obj, dict):
            return {k: plain(v) for k, v in obj.items()}
        if isinstance(obj, list | tuple):
            return [plain(v) for v in obj]
        return obj

    print(json.dumps(plain(value), indent=2, sort_keys=True, default=str))


def _key_value(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key, value


def _tag_filter(text: str) -> tuple[str, str | None]:
    key, sep, value = text.partition("=")
    if not key:
        raise argparse.ArgumentTypeError(f"expected KEY or KEY=VALUE, got {text!r}")
    return key, value if sep else None


def _version_number(text: str) -> int:
    from flavorkit.registry._uris import MAX_VERSION

    digits = text.lstrip("0")
    if (
        not (text.isascii() and text.isdigit())
        or not digits
        or len(digits) > len(str(MAX_VERSION))
        or int(digits) > MAX_VERSION
    ):
        raise argparse.ArgumentTypeError(
            f"a version is a whole number from 1 to {MAX_VERSION}, got {text[:40]!r}"
        )
    return int(digits)


def _run(action: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """``action`` with flavorkit's own errors turned into one line on stderr and exit status 1."""

    def run(args: argparse.Namespace) -> int:
        from flavorkit.exceptions import FlavorkitError

        try:
            return action(args)
        except (FlavorkitError, ValueError, FileNotFoundError) as exc:
            return _fail(str(exc))

    return run


def _registry(args: argparse.Namespace) -> Any:
    from flavorkit.registry._resolve import embedded_registry

    options = {"artifact_root": args.artifact_root} if getattr(args, "artifact_root", None) else {}
    return embedded_registry(args.registry, **options)


# -- the commands ------------------------------------------------------------------------------


def _register(args: argparse.Namespace) -> int:
    version = _registry(args).register_model(
        args.source, args.name, tags=dict(args.tag or ()), description=args.description
    )
    if args.json:
        _json(version)
    else:
        print(
            f"registered {_clean(version.name)} version {version.version} "
            f"({version.file_count} files, {version.size_bytes} bytes): "
            f"models:/{_clean(version.name)}/{version.version}"
        )
    return 0


def _list(args: argparse.Namespace) -> int:
    models = _registry(args).search_models(
        args.pattern, tags=dict(args.tag or ()), include_deleted=args.deleted
    )
    if args.json:
        _json(models)
        return 0
    rows = [("NAME", "LATEST", "VERSIONS", "ALIASES", "UPDATED")]
    for m in models:
        aliases = ", ".join(f"{a}->{v}" for a, v in sorted(m.aliases.items()))
        rows.append(
            (
                _clean(m.name, 80) + (" (deleted)" if m.deleted else ""),
                str(m.latest_version or "-"),
                str(m.version_count),
                _clean(aliases or "-", 80),
                _when(m.updated),
            )
        )
    print(_table(rows))
    return 0


def _versions(args: argparse.Namespace) -> int:
    found = _registry(args).list_versions(
        args.name, tags=dict(args.tag or ()), include_deleted=args.deleted
    )
    if args.json:
        _json(found)
        return 0
    rows = [("VERSION", "CREATED", "BY", "ALIASES", "FILES", "BYTES", "STATUS")]
    for v in found:
        status = f"deleted {_when(v.deleted_at)}" if v.deleted else "live"
        rows.append(
            (
                str(v.version),
                _when(v.created),
                _clean(v.created_by or "-", 40),
                _clean(", ".join(v.aliases) or "-", 60),
                str(v.file_count),
                str(v.size_bytes),
                status,
            )
        )
    print(_table(rows))
    return 0


def _show(args: argparse.Namespace) -> int:
    if args.model.startswith("models:"):
        return _show_version(args)
    model = _registry(args).get_model(args.model)
    if args.json:
        _json(model)
        return 0
    print(f"name:         {_clean(model.name)}")
    print(f"description:  {_clean(model.description or '-', 2000)}")
    print(f"created:      {_when(model.created)}")
    print(f"updated:      {_when(model.updated)}")
    print(f"versions:     {model.version_count} live, latest {model.latest_version or '-'}")
    print("aliases:" + ("" if model.aliases else "      none"))
    for alias, version in sorted(model.aliases.items()):
        print(f"  {_clean(alias)} -> {version}")
    print("tags:" + ("" if model.tags else "         none"))
    for key, value in sorted(model.tags.items()):
        print(f"  {_clean(key, 80)} = {_clean(value)}")
    return 0


def _show_version(args: argparse.Namespace) -> int:
    from flavorkit.exceptions import LocationError
    from flavorkit.registry._resolve import find_version, open_registry
    from flavorkit.registry._uris import parse_models_uri

    parsed = parse_models_uri(args.model)
    if parsed.model_id is not None:
        raise LocationError(
            "show takes a registered model version, not a logged model", uri=args.model
        )
    backend = open_registry(args.registry)
    version = find_version(backend, parsed)
    if args.json:
        _json(version)
        return 0
    lines = [
        ("name", _clean(version.name)),
        ("version", str(version.version)),
        ("created", _when(version.created)),
        ("files at", _clean(version.source, 1000)),
    ]
    for label, attr in (("registered from", "registered_from"), ("registered by", "created_by")):
        if getattr(version, attr, None):
            lines.append((label, _clean(getattr(version, attr), 1000)))
    if getattr(version, "file_count", None) is not None:
        files = f"{version.file_count} ({version.size_bytes} bytes), sha256 recorded"
        lines.append(("files", files))
    lines += [
        ("description", _clean(version.description or "-", 2000)),
        ("aliases", _clean(", ".join(version.aliases) or "-")),
        ("tags", "" if version.tags else "none"),
    ]
    width = max(len(label) for label, _ in lines) + 2
    for label, value in lines:
        print(f"{label + ':':<{width}}{value}".rstrip())
    for key, value in sorted(version.tags.items()):
        print(f"  {_clean(key, 80)} = {_clean(value)}")
    return 0


def _alias_set(args: argparse.Namespace) -> int:
    change = _registry(args).set_alias(args.name, args.alias, args.version)
    if args.json:
        _json(change)
    elif change is None:
        print(f"{_clean(args.alias)} already points at version {args.version}")
    else:
        moved = f"from version {change.from_version} " if change.from_version else ""
        print(f"{_clean(args.name)}@{_clean(args.alias)}: {moved}to version {change.to_version}")
    return 0


def _alias_delete(args: argparse.Namespace) -> int:
    change = _registry(args).delete_alias(args.name, args.alias)
    if args.json:
        _json(change)
    else:
        print(
            f"deleted {_clean(args.name)}@{_clean(args.alias)} (was version {change.from_version})"
        )
    return 0


def _alias_history(args: argparse.Namespace) -> int:
    changes = _registry(args).alias_history(args.name, args.alias)
    if args.json:
        _json(changes)
        return 0
    rows = [("WHEN", "ALIAS", "FROM", "TO", "WHO", "NOTE")]
    for c in changes:
        rows.append(
            (
                _when(c.at),
                _clean(c.alias, 60),
                str(c.from_version or "-"),
                str(c.to_version or "-"),
                _clean(c.who, 40),
                _clean(c.reason or ""),
            )
        )
    print(_table(rows))
    return 0


def _tag_set(args: argparse.Namespace) -> int:
    _registry(args).set_tag(args.name, args.key, args.value, version=args.version)
    return 0


def _tag_delete(args: argparse.Namespace) -> int:
    _registry(args).delete_tag(args.name, args.key, version=args.version)
    return 0


def _describe(args: argparse.Namespace) -> int:
    _registry(args).set_description(args.name, args.text or None, version=args.version)
    return 0


def _delete(args: argparse.Namespace) -> int:
    registry = _registry(args)
    if args.version is not None:
        registry.delete_version(args.name, args.version)
        print(f"deleted version {args.version} of {_clean(args.name)} (its number is not reused)")
    else:
        registry.delete_model(args.name)
        print(f"deleted model {_clean(args.name)} and its versions")
    return 0


# -- the parser ----------------------------------------------------------------------------------


def add_models_parser(sub: Any) -> argparse.ArgumentParser:
    """Add ``flavorkit models ...`` to the subparsers ``sub`` of the ``flavorkit`` parser."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--registry",
        metavar="URI",
        help="registry folder, sqlite:///mlflow.db or http(s)://server "
        "(default: FLAVORKIT_REGISTRY_URI, else the per-user registry)",
    )
    common.add_argument("--json", action="store_true", help="print JSON instead of text")
    version_option = argparse.ArgumentParser(add_help=False)
    version_option.add_argument(
        "--version", type=_version_number, help="a version of the model instead of the model"
    )

    models = sub.add_parser("models", help="register, list and curate models in the registry")
    commands = models.add_subparsers(dest="models_command", required=True)

    def command(name: str, action: Callable[..., int], text: str, *parents: Any) -> Any:
        parser = commands.add_parser(name, help=text, description=text, parents=[common, *parents])
        parser.set_defaults(func=_run(action))
        return parser

    register = command("register", _register, "copy a model folder (or URI) in as a new version")
    register.add_argument("source", help="model folder or URI (s3://, runs:/, models:/ ...)")
    register.add_argument("name", help="registered model name")
    register.add_argument(
        "--tag", type=_key_value, action="append", metavar="KEY=VALUE", help="version tag"
    )
    register.add_argument("--description", help="what this version is")
    register.add_argument(
        "--artifact-root",
        metavar="URL",
        help="where a new registry keeps its files (a folder or fsspec URL; "
        "default <registry>/artifacts)",
    )

    listing = command("list", _list, "list registered models")
    listing.add_argument("pattern", nargs="?", help="SQL LIKE pattern on names (%% and _)")
    listing.add_argument(
        "--tag",
        type=_tag_filter,
        action="append",
        metavar="KEY[=VALUE]",
        help="only models with this tag (and value); repeatable",
    )
    listing.add_argument("--deleted", action="store_true", help="include deleted models")

    show = command("show", _show, "show a model, or the version a models:/ URI names")
    show.add_argument("model", help="registered model name, or a models:/ URI")

    versions = command("versions", _versions, "list the versions of a model")
    versions.add_argument("name")
    versions.add_argument(
        "--tag",
        type=_tag_filter,
        action="append",
        metavar="KEY[=VALUE]",
        help="only versions with this tag (and value); repeatable",
    )
    versions.add_argument("--deleted", action="store_true", help="include deleted versions")

    alias = commands.add_parser("alias", help="set, delete or show the history of aliases")
    alias_commands = alias.add_subparsers(dest="alias_command", required=True)
    alias_set = alias_commands.add_parser(
        "set", help="point an alias at a version (created or moved)", parents=[common]
    )
    alias_set.add_argument("name")
    alias_set.add_argument("alias")
    alias_set.add_argument("version", type=_version_number)
    alias_set.set_defaults(func=_run(_alias_set))
    alias_delete = alias_commands.add_parser("delete", help="remove an alias", parents=[common])
    alias_delete.add_argument("name")
    alias_delete.add_argument("alias")
    alias_delete.set_defaults(func=_run(_alias_delete))
    history = alias_commands.add_parser(
        "history",
        help="who moved which alias from which version to which, when",
        parents=[common],
    )
    history.add_argument("name")
    history.add_argument("alias", nargs="?", help="one alias (default: all)")
    history.set_defaults(func=_run(_alias_history))

    tag = commands.add_parser("tag", help="set or delete a tag on a model or a version")
    tag_commands = tag.add_subparsers(dest="tag_command", required=True)
    tag_set = tag_commands.add_parser("set", help="set a tag", parents=[common, version_option])
    tag_set.add_argument("name")
    tag_set.add_argument("key")
    tag_set.add_argument("value")
    tag_set.set_defaults(func=_run(_tag_set))
    tag_delete = tag_commands.add_parser(
        "delete", help="delete a tag", parents=[common, version_option]
    )
    tag_delete.add_argument("name")
    tag_delete.add_argument("key")
    tag_delete.set_defaults(func=_run(_tag_delete))

    describe = command(
        "describe", _describe, "set the description of a model or a version", version_option
    )
    describe.add_argument("name")
    describe.add_argument("text", help="the description ('' clears it)")

    delete = command(
        "delete",
        _delete,
        "soft-delete a model or one version (files kept, numbers never reused)",
        version_option,
    )
    delete.add_argument("name")
    return models
