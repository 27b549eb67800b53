"""Chunks of an input read piece by piece, and errors said of the input's rows.

A reader of a file larger than memory yields :class:`Chunk` objects; an
error about one chunk is re-raised by :func:`located` as the same error
naming the data rows of the input (1-based, counted across chunks without
the header), so the message says where in the file the problem is.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any

from flavorkit.enforce._values import names_preview
from flavorkit.exceptions import FlavorkitError, PayloadError, SchemaEnforcementError

if TYPE_CHECKING:
    import pandas as pd

    from flavorkit.signature import Schema


@dataclass
class Chunk:
    """One chunk of input: the model's data, the input rows it came from, and progress made.

    ``frame`` is the table the data came from (for columns kept beside the
    predictions), None for tensors; ``advanced`` is how far the source moved
    (bytes, or rows for Parquet), for a progress bar.
    """

    data: Any
    rows: int
    frame: pd.DataFrame | None = None
    params: dict[str, Any] | None = None
    advanced: int = 0


# The most one chunk of a streamed input may take: bytes of the input read for it, columns
# of a table, and cells (rows x columns). They bound a batch run's memory by the chunk,
# whatever the input claims or holds: a line that never ends (/dev/zero), a header of a
# million names, a Parquet cell that decompresses to gigabytes.
MAX_CHUNK_BYTES = 256 * 1024 * 1024
MAX_COLUMNS = 100_000
MAX_CHUNK_CELLS = 10_000_000


# a position inside one chunk in a message about it (0-based): "row 3", "item 3"
_POSITION = re.compile(r"\b(row|item) ([0-9]+)\b")


def span(first: int, last: int) -> str:
    """``row 3`` or ``rows 3-7``."""
    return f"row {first}" if first == last else f"rows {first}-{last}"


def one_line(text: str, limit: int = 1000) -> str:
    """``text`` on one line, cut to ``limit`` characters."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def located(
    exc: FlavorkitError, first: int, last: int, *, positions: bool = True
) -> FlavorkitError:
    """``exc`` said of the input's rows ``first``-``last`` (1-based): a copy, same type and fields.

    With ``positions``, the 0-based positions the message gives inside the
    chunk (``row 3``, ``item 3``) become rows of the input. Tensor messages
    keep theirs: their positions count elements, not rows. A
    ``SchemaEnforcementError`` whose message does not name its column gets it.
    """
    message = one_line(str(exc))
    if positions:
        message = _POSITION.sub(lambda m: f"{m[1]} {first + int(m[2])}", message)
    column = getattr(exc, "field", None)
    if (
        isinstance(exc, SchemaEnforcementError)
        and isinstance(column, str)
        and not any(repr(name) in message for name in column.split(", "))
    ):
        message = f"column {names_preview([column])[1:-1]}: {message}"
    out = exc.__class__.__new__(exc.__class__)
    out.__dict__.update(exc.__dict__)
    out.args = (f"{span(first, last)}: {message}",)
    out.rows = (first, last)  # type: ignore[attr-defined]
    return out


def counts_rows(schema: Schema | None) -> bool:
    """Whether positions in messages about ``schema``'s input count rows (tensors: elements)."""
    return schema is None or not schema.is_tensor_spec()


def after(done: int) -> str:
    """Where reading stopped when the rows of the failed chunk are not known."""
    return f" after data row {done}" if done else ""


def first_line(exc: BaseException, limit: int = 200) -> str:
    """The first line of an exception's message (an OSError's reason), for a message of ours."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    text = exc.args[0] if exc.args else ""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    lines = str(text).strip().splitlines()
    return lines[0][:limit] if lines else type(exc).__name__


def tell(source: IO[bytes]) -> int:
    """The position in ``source``, 0 where it cannot tell (a pipe)."""
    try:
        return source.tell()
    except (OSError, ValueError):
        return 0


def mib(size: int) -> str:
    """``256 MiB``: a byte limit as a message gives it."""
    return f"{size / (1 << 20):g} MiB"


class Oversized(Exception):
    """More than the limit of one chunk's bytes was read; the reader says where."""


class Budgeted(io.RawIOBase):
    """A binary input that raises ``Oversized`` past ``limit`` bytes read since ``reset``.

    Readers (pandas' CSV parser, ijson) read from it in blocks, so the check
    costs one call per block. Seeking resets the count: the readers seek only
    to read again what they have counted already.
    """

    def __init__(self, source: IO[bytes], limit: int) -> None:
        super().__init__()
        self.source = source
        self.limit = limit
        self.count = 0

    def reset(self) -> None:
        """Start counting the bytes of the next chunk."""
        self.count = 0

    def _took(self, size: int) -> None:
        self.count += size
        if self.count > self.limit:
            raise Oversized(self.count)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return self.source.seekable()

    def tell(self) -> int:
        return self.source.tell()

    def seek(self, offset: int, whence: int = 0) -> int:
        self.count = 0
        return self.source.seek(offset, whence)

    def readinto(self, buffer: Any) -> int:
        size = self.source.readinto(buffer)  # type: ignore[attr-defined]
        self._took(size or 0)
        return size

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            size = self.limit - self.count + 1  # never more than the limit, even when asked
        data = self.source.read(size)
        self._took(len(data))
        return data

    def readline(self, size: int | None = -1) -> bytes:
        left = self.limit - self.count + 1
        line = self.source.readline(left if size is None or size < 0 else min(size, left))
        self._took(len(line))
        return line


def oversized_error(done: int, rows: int, limit: int) -> PayloadError:
    """The error for the next chunk of ``rows`` rows, after ``done``, read past ``limit`` bytes."""
    if rows == 1:
        return PayloadError(
            f"the input{after(done)}: one row takes more than {mib(limit)}, "
            "the most one chunk may read",
            field="input",
        )
    return PayloadError(
        f"the input{after(done)}: the next {rows:,} rows take more than {mib(limit)}, "
        "the most one chunk may read; pass a smaller --chunk-size",
        field="input",
    )


class TableBound:
    """The columns and cells of the rows of one streamed chunk so far (JSON records, lists).

    Records become a table whose columns are every name they hold: a few
    records of a million different names each would make a frame of
    billions of cells.
    """

    def __init__(self) -> None:
        self.names: set[Any] = set()
        self.rows = 0

    def add(self, item: Any, done: int) -> bool:
        """Count one row (``done`` rows came before the chunk); True when the chunk is full.

        Raises ``PayloadError`` when the chunk's records name more than ``MAX_COLUMNS`` fields.
        """
        self.rows += 1
        if isinstance(item, dict):
            self.names.update(item)
            width = len(self.names)
            if width > MAX_COLUMNS:
                verb = "names" if self.rows == 1 else "name"
                raise PayloadError(
                    f"{span(done + 1, done + self.rows)} of the input {verb} {width:,} different "
                    f"fields, more than the {MAX_COLUMNS:,} columns a table may have",
                    field="input",
                )
        else:
            width = len(item) if isinstance(item, list) else 1
        return self.rows * max(width, 1) >= MAX_CHUNK_CELLS
