"""The files of a batch run: their formats, the input opened, the output written into place."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from flavorkit.exceptions import PayloadError

FORMATS = ("csv", "json", "jsonl", "parquet")
_SUFFIXES = {
    ".csv": "csv",
    ".json": "json",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".parquet": "parquet",
    ".pq": "parquet",
}


def detect_format(path: str, given: str | None) -> str:
    """The format named by ``given``, else by ``path``'s suffix; raises ``PayloadError``."""
    if given:
        if given not in FORMATS:
            raise PayloadError(
                f"unknown format {given!r}; use one of {', '.join(FORMATS)}", field="format"
            )
        return given
    fmt = _SUFFIXES.get(Path(path).suffix.lower())
    if fmt is None:
        raise PayloadError(
            f"cannot tell the format of {path!r} from its suffix; "
            "pass --input-format/--output-format "
            f"({', '.join(FORMATS)})",
            field="format",
        )
    return fmt


@contextlib.contextmanager
def open_input(path: str, fmt: str) -> Iterator[IO[bytes] | str]:
    """The input to read: a binary file (stdin for ``-``), or the path itself for Parquet."""
    if fmt == "parquet":
        if path == "-":
            raise PayloadError(
                "Parquet input cannot be read from stdin; pass a file", field="input"
            )
        yield path
    elif path == "-":
        yield sys.stdin.buffer
    else:
        try:
            fh = open(path, "rb")  # noqa: SIM115 - closed below
        except FileNotFoundError:
            raise
        except OSError as exc:
            raise PayloadError(
                f"cannot read the input {path!r} ({exc.strerror})", field="input"
            ) from None
        with fh:
            yield fh


def check_output(output: str, input_path: str, model_path: Path | None) -> None:
    """Refuse, before anything is read, an output the run would break or that would break things.

    The output must not be a folder (the rename at the end would fail after
    the whole run), the input itself (replaced by its predictions), or a
    file inside the model's folder (predictions written over ``MLmodel`` or
    the weights). A link at the output is replaced, never followed. Raises
    ``PayloadError`` with ``field="output"``.
    """
    if output == "-":
        return
    target = Path(output)
    if target.is_dir() and not target.is_symlink():
        raise PayloadError(
            f"the output {output!r} is a folder; name a file to write the predictions to",
            field="output",
        )
    if input_path != "-" and _same_file(input_path, output):
        raise PayloadError(
            f"the output {output!r} is the input file; writing the predictions there "
            "would replace the data they come from: name another file",
            field="output",
        )
    if model_path is not None:
        folder = Path(model_path).resolve()
        where = target.parent.resolve() / target.name
        if where == folder or folder in where.parents:
            raise PayloadError(
                f"the output {output!r} is inside the model's folder {str(folder)!r}; "
                "write the predictions outside it",
                field="output",
            )


def _same_file(first: str, second: str) -> bool:
    try:
        return os.path.samefile(first, second)
    except (OSError, ValueError):  # one does not exist (yet), or cannot be checked
        return False


@contextlib.contextmanager
def open_output(path: str) -> Iterator[IO[bytes]]:
    """A new file beside ``path``, renamed onto it when the block ends without an error."""
    if path == "-":
        yield sys.stdout.buffer
        sys.stdout.buffer.flush()
        return
    import secrets

    target = Path(path)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.{secrets.token_hex(4)}.partial")
    try:
        fh = open(tmp, "xb")  # noqa: SIM115 - new: never follows a link or truncates a file
    except OSError as exc:
        raise PayloadError(
            f"cannot write the output {path!r} ({exc.strerror})", field="output"
        ) from None
    try:
        with fh:
            yield fh
        try:
            os.replace(tmp, target)
        except OSError as exc:  # a folder made there meanwhile, a read-only place
            raise PayloadError(
                f"cannot write the output {path!r} ({exc.strerror})", field="output"
            ) from None
    finally:
        tmp.unlink(missing_ok=True)


def progress_bar(enabled: bool, fmt: str, path: str) -> Any:
    """A tqdm bar on stderr counting rows (Parquet) or bytes read, or None."""
    if not enabled:
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    if fmt == "parquet":
        import pyarrow.parquet as pq

        try:
            total = pq.ParquetFile(path).metadata.num_rows
        except Exception:  # not readable: the reader says why
            return None
        return tqdm(total=total, unit="rows", unit_scale=True, file=sys.stderr)
    try:
        total = os.path.getsize(path) if path != "-" else None
    except OSError:
        total = None
    return tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, file=sys.stderr)
