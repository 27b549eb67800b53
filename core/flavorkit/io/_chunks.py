"""Chunks of an input read piece by piece, and errors said of the input's rows.

A reader of a file larger than memory yields :class:`Chunk` objects; an
error about one chunk is re-raised by :func:`located` as the same error
naming the data rows of the input (1-based, counted across chunks without
the header), so the message says where in the file the problem is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any

from flavorkit.enforce._values import names_preview
from flavorkit.exceptions import FlavorkitError, SchemaEnforcementError

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
