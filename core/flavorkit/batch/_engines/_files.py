"""The files of ``flavorkit predict --engine``: formats, columns, the output put in place."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flavorkit.batch._engines._scoring import missing_inputs
from flavorkit.exceptions import PayloadError

if TYPE_CHECKING:
    from flavorkit.signature import Schema

ENGINE_FORMATS = ("csv", "parquet")


def file_formats(
    input_path: str, input_format: str | None, output_path: str, output_format: str | None
) -> tuple[str, str]:
    """The input's and the output's formats (given, or from the suffix): CSV or Parquet only."""
    from flavorkit.batch._files import detect_format

    formats = []
    for path, given, side in (
        (input_path, input_format, "input"),
        (output_path, output_format, "output"),
    ):
        flag = f"--{side}-format"
        if path == "-":
            raise PayloadError(
                f"a distributed engine reads and writes files and folders, not std{side[:-3]}; "
                f"pass a path as the {side}",
                field=side,
            )
        fmt = detect_format(path, given)
        if fmt not in ENGINE_FORMATS:
            raise PayloadError(
                f"{flag} {fmt}: a distributed engine reads and writes csv or parquet",
                field="format",
            )
        formats.append(fmt)
    return formats[0], formats[1]


def check_input(input_path: str) -> None:
    """``FileNotFoundError`` for a local input that does not exist (globs and URLs pass)."""
    if "://" in input_path or any(c in input_path for c in "*?["):
        return
    if input_path == "-":
        raise PayloadError(
            "a distributed engine reads files, not stdin; pass a file or folder", field="input"
        )
    if not Path(input_path).exists():
        raise FileNotFoundError(f"input {input_path!r} does not exist")


def input_columns(
    columns: list[str], schema: Schema | None, keep: Iterable[str]
) -> tuple[list[str], list[str]]:
    """(the columns the model gets, those left out) of an input with ``columns``.

    A named signature takes its columns by name (``SchemaEnforcementError``
    for a missing one, before any task); an unnamed one takes them all.
    ``PayloadError`` for a ``keep`` column the input lacks.
    """
    from flavorkit.enforce._values import names_preview

    keep = list(keep)
    absent = [c for c in keep if c not in columns]
    if absent:
        raise PayloadError(
            f"--keep names column(s) the input does not have: {names_preview(absent)}",
            field="keep",
        )
    if schema is None or not schema.has_input_names():
        return list(columns), []
    problem = missing_inputs(schema, columns)
    if problem is not None:
        raise problem
    names = {str(n) for n in schema.input_names()}
    used = [c for c in columns if c in names]
    return used, [c for c in columns if c not in names and c not in keep]


def staging_path(output_path: str) -> str:
    """Where an engine writes before the output is renamed into place (beside it, local paths)."""
    if "://" in output_path:
        return output_path  # an object store: written where it goes
    target = Path(output_path).absolute()
    target.parent.mkdir(parents=True, exist_ok=True)
    return str(target.parent / f".{target.name}.flavorkit-{uuid.uuid4().hex[:12]}")


def place_output(staging: str, output_path: str) -> None:
    """Move the finished ``staging`` folder to ``output_path``, replacing what was there."""
    import shutil

    if staging == output_path:
        return
    target = Path(output_path).absolute()
    old = None
    if target.exists() or target.is_symlink():
        old = target.parent / f".{target.name}.old-{uuid.uuid4().hex[:12]}"
        os.rename(target, old)
    os.rename(staging, target)
    if old is not None:
        if old.is_dir() and not old.is_symlink():
            shutil.rmtree(old, ignore_errors=True)
        else:
            old.unlink(missing_ok=True)


def discard(staging: str, output_path: str) -> None:
    """Remove what a failed run left in ``staging`` (never ``output_path`` itself)."""
    import shutil

    if staging != output_path:
        shutil.rmtree(staging, ignore_errors=True)


def check_output(spec: Any, keep: Iterable[str], fmt: str) -> None:
    """Refuse ``--keep`` columns named like a prediction, and nested predictions in CSV.

    ``spec`` is the ``ResultSpec``; raises ``PayloadError`` naming the field.
    """
    from flavorkit.signature import DataType

    clash = sorted({name for name, _ in spec.fields} & set(keep))
    if clash:
        raise PayloadError(
            f"--keep names column(s) the predictions are also called: {', '.join(clash)}",
            field="keep",
        )
    nested = [name for name, t in spec.fields if not isinstance(t, DataType)]
    if fmt == "csv" and nested:
        raise PayloadError(
            f"CSV cannot hold the prediction(s) {', '.join(map(repr, nested))} (arrays, maps "
            "or objects); write Parquet (--output-format parquet)",
            field="output",
        )


def write_staged(output_path: str, write: Callable[[str], int]) -> int:
    """``write(folder)`` into a staging folder, put in place at ``output_path`` when it is done.

    ``write`` returns the rows it wrote; none is a ``PayloadError``. On any
    failure (and on an interrupt) the staging folder is removed and
    ``output_path`` is left as it was. Returns the rows.
    """
    staging = staging_path(output_path)
    try:
        rows = write(staging)
        if rows == 0:
            raise PayloadError(
                "the input has no data rows, so there is nothing to predict", field="input"
            )
        place_output(staging, output_path)
    except BaseException:
        discard(staging, output_path)
        raise
    return rows
