"""``flavorkit export triton MODEL REPO``: the command the plugin adds to the CLI."""

from __future__ import annotations

import argparse
import sys
from typing import Any

DESCRIPTION = """\
Write MODEL (a folder or any model URI: models:/name/3, runs:/..., s3://...) into the
Triton model repository REPO as REPO/NAME/config.pbtxt and REPO/NAME/VERSION/. By default
the version folder holds a Python-backend model.py that serves the copied flavorkit folder
with flavorkit; --onnx writes model.onnx for the onnxruntime backend instead (PyTorch
models with a tensor signature). Check the result with: flavorkit validate REPO
"""


def add_commands(subparsers: Any) -> None:
    """Add ``export triton`` under the shared ``export`` group."""
    from flavorkit.hookspecs import subcommand_group

    group = subcommand_group(subparsers, "export", "write a model in another serving format")
    parser = group.add_parser(
        "triton",
        help="a Triton model repository (Python backend, or ONNX)",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("model", help="model folder or URI")
    parser.add_argument("repo", help="Triton model repository (created when missing)")
    parser.add_argument("--name", help="model name in the repository (default: the model's)")
    parser.add_argument("--version", type=int, help="version folder (default: 1)")
    parser.add_argument(
        "--max-batch-size", type=int, default=8, help="0 turns Triton's batching off (default 8)"
    )
    parser.add_argument("--instances", type=int, default=1, help="CPU instances (default 1)")
    parser.add_argument(
        "--dynamic-batching",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="let Triton join requests (default: on when --max-batch-size > 0)",
    )
    parser.add_argument(
        "--onnx", action="store_true", help="write model.onnx (PyTorch, tensor signature)"
    )
    parser.add_argument(
        "--python-env",
        metavar="PATH",
        help="the environment the Python backend imports flavorkit from: a venv, a prefix "
        "or a site-packages folder (default: this interpreter's)",
    )
    parser.add_argument(
        "--allow-unsafe",
        action="store_true",
        default=None,
        help="opt in to formats that run code when loaded (recorded for the backend)",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace an existing version")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run ``export triton``; prints the model folder written, or the error (exit 1)."""
    from flavorkit.exceptions import FlavorkitError

    from flavorkit_triton._export import export

    try:
        written = export(
            args.model,
            args.repo,
            name=args.name,
            version=args.version,
            max_batch_size=args.max_batch_size,
            instances=args.instances,
            dynamic_batching=args.dynamic_batching,
            onnx=args.onnx,
            python_env=args.python_env,
            allow_unsafe=args.allow_unsafe,
            overwrite=args.overwrite,
        )
    except (FlavorkitError, ValueError, OSError, TypeError) as exc:
        print(f"flavorkit export triton: {exc}", file=sys.stderr)
        return 1
    backend = "onnxruntime" if args.onnx else "python"
    print(f"{written}: written ({backend} backend); check it with: flavorkit validate {args.repo}")
    return 0
