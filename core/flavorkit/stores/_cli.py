"""``flavorkit cache list|prune``: what the download cache holds, and making it smaller.

``add_cache_parser(sub)`` adds the ``cache`` command to the ``flavorkit``
parser's subcommands; each command returns its exit status and reports an
error as one line on stderr, as the other commands do.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

_DAY = 86_400.0


def add_cache_parser(sub: Any) -> None:
    """Add ``cache list`` and ``cache prune`` to ``sub`` (the parser's ``add_subparsers()``)."""
    cache = sub.add_parser("cache", help="list or prune the download cache of fetched models")
    commands = cache.add_subparsers(dest="cache_command", required=True)
    listing = commands.add_parser(
        "list", help="cached folders: key, size, last used, where they came from"
    )
    listing.set_defaults(func=_cmd_list)
    prune = commands.add_parser(
        "prune",
        help="remove cached folders: by age, all, or the least recently used over a size "
        "(default: down to FLAVORKIT_CACHE_MAX_BYTES)",
    )
    prune.add_argument(
        "--max-bytes",
        type=_size,
        metavar="SIZE",
        help="remove the least recently used until the cache holds at most SIZE "
        "(bytes, or 500M, 20G)",
    )
    prune.add_argument(
        "--older-than",
        type=_days,
        metavar="DAYS",
        help="remove folders not used for DAYS days",
    )
    prune.add_argument("--all", action="store_true", dest="remove_all", help="remove every folder")
    prune.set_defaults(func=_cmd_prune)


def _cmd_list(args: argparse.Namespace) -> int:
    from flavorkit.exceptions import LocationError
    from flavorkit.stores._cache import cache_entries, downloads_root, human_size, max_bytes

    try:
        entries = cache_entries()
        limit = max_bytes()
    except (LocationError, OSError) as exc:
        return _fail(str(exc))
    root = downloads_root()
    if not entries:
        print(f"the download cache is empty ({root})")
        return 0
    rows = [("KEY", "SIZE", "LAST USED", "SOURCE")]
    for e in reversed(entries):  # most recently used first
        rows.append((e.key, human_size(e.size), _when(e.last_used), _clean(e.source or "-")))
    print(_table(rows))
    total = sum(e.size for e in entries)
    print(
        f"{len(entries)} folder(s), {human_size(total)} of {human_size(limit)} "
        f"(FLAVORKIT_CACHE_MAX_BYTES) in {root}"
    )
    return 0


def _cmd_prune(args: argparse.Namespace) -> int:
    from flavorkit.exceptions import LocationError
    from flavorkit.stores._cache import human_size, max_bytes, prune

    try:
        limit = args.max_bytes
        if limit is None and args.older_than is None and not args.remove_all:
            limit = max_bytes()
        result = prune(max_bytes=limit, older_than=args.older_than, remove_all=args.remove_all)
    except (LocationError, OSError) as exc:
        return _fail(str(exc))
    freed = sum(e.size for e in result.removed)
    kept = sum(e.size for e in result.kept)
    print(
        f"removed {len(result.removed)} folder(s), {human_size(freed)}; "
        f"{len(result.kept)} left, {human_size(kept)}"
    )
    if result.scratch_removed:
        print(f"removed {result.scratch_removed} unfinished download(s) of processes that died")
    return 0


def _size(text: str) -> int:
    from flavorkit.stores._cache import parse_size

    try:
        return parse_size(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _days(text: str) -> float:
    try:
        days = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of days") from None
    if days < 0:
        raise argparse.ArgumentTypeError(f"must not be negative, got {text}")
    return days * _DAY


def _when(seconds: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(seconds))


def _clean(text: str, limit: int = 120) -> str:
    """A recorded URL made safe to print: no control characters, bounded."""
    text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _table(rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


def _fail(message: str) -> int:
    print(f"flavorkit: error: {message}", file=sys.stderr)
    return 1
