"""The ``flavorkit`` command line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def _cmd_flavors(args: argparse.Namespace) -> int:
    from flavorkit._plugins import list_flavors

    rows = [("FLAVOR", "PLUGIN", "DISTRIBUTION", "VERSION", "STATUS")]
    problems = []
    for info in list_flavors():
        rows.append((info.name, info.plugin, info.distribution or "-", info.version or "-", info.status))
        if info.error:
            problems.append(f"{info.plugin}: {info.error}")
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
    for line in problems:
        print(line, file=sys.stderr)
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    from flavorkit import __version__

    parser = argparse.ArgumentParser(prog="flavorkit", description=__doc__)
    parser.add_argument("--version", action="version", version=f"flavorkit {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    flavors = sub.add_parser("flavors", help="list installed flavors and broken plugins")
    flavors.set_defaults(func=_cmd_flavors)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
