"""Predictions written chunk by chunk as CSV, Parquet, JSON or JSON Lines."""

from __future__ import annotations

import contextlib
import json
import re
from typing import IO, TYPE_CHECKING, Any

from flavorkit.enforce._values import names_preview
from flavorkit.exceptions import PayloadError
from flavorkit.io import predictions_frame, predictions_jsonable
from flavorkit.io._chunks import first_line

if TYPE_CHECKING:
    import pandas as pd


def _length(result: Any) -> int | None:
    try:
        return len(result)
    except TypeError:
        return None


class Writer:
    """Writes chunks of predictions to one output in one format."""

    def __init__(self, fh: IO[bytes], fmt: str) -> None:
        self.fh = fh
        self.fmt = fmt
        self.count = 0
        self._parquet: Any = None

    def write(self, result: Any, keep: pd.DataFrame | None, rows: int) -> int:
        """Append the predictions for one chunk of ``rows`` input rows; returns how many."""
        if keep is not None and _length(result) != rows:
            raise PayloadError(
                f"--keep needs one prediction per input row; the model returned "
                f"{_length(result)} for {rows} rows",
                field="keep",
            )
        if self.fmt in ("json", "jsonl"):
            return self._write_json(result, keep)
        frame = predictions_frame(result)
        if self._parquet is not None and self._write_same_columns(keep, frame):
            self.count += len(frame)
            return len(frame)
        if keep is not None:
            import pandas as pd

            frame = pd.concat([keep.reset_index(drop=True), frame], axis=1)
        if self.fmt == "csv":
            frame.to_csv(self.fh, header=self.count == 0, index=False)
        else:
            self._write_parquet(frame)
        self.count += len(frame)
        return len(frame)

    def _write_json(self, result: Any, keep: pd.DataFrame | None) -> int:
        items = predictions_jsonable(result)
        items = items if isinstance(items, list) else [items]
        if keep is not None:
            kept = predictions_jsonable(keep)
            items = [
                {**k, **(p if isinstance(p, dict) else {"prediction": p})}
                for k, p in zip(kept, items, strict=True)
            ]
        sep = b"\n" if self.fmt == "jsonl" else b","
        for item in items:
            if self.fmt == "json":
                self.fh.write(b'{"predictions":[' if self.count == 0 else sep)
            self.fh.write(json.dumps(item, allow_nan=False, separators=(",", ":")).encode())
            if self.fmt == "jsonl":
                self.fh.write(sep)
            self.count += 1
        return len(items)

    def _write_parquet(self, frame: pd.DataFrame) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.Table.from_pandas(frame, preserve_index=False)
        if self._parquet is None:
            self._parquet = pq.ParquetWriter(self.fh, table.schema)
        elif table.schema != self._parquet.schema:
            try:
                table = table.cast(self._parquet.schema)
            except (pa.ArrowException, ValueError, TypeError):
                raise PayloadError(
                    "the predictions do not fit the Parquet columns the first chunk set: "
                    + _schema_change(self._parquet.schema, table.schema),
                    field="output",
                ) from None
        self._parquet.write_table(table)

    def _write_same_columns(self, keep: pd.DataFrame | None, frame: pd.DataFrame) -> bool:
        """Write the kept columns and predictions of a Parquet chunk after the first, if they fit.

        They are the table ``from_pandas`` makes of the two side by side,
        column by column as it converts them, without its metadata (the
        file's schema, from the first chunk, holds it). False, with nothing
        written, when the columns are not the first chunk's, by name and
        type: the general path converts, casts or says why it cannot.
        """
        import pyarrow as pa

        parts = [keep, frame] if keep is not None else [frame]
        columns = [(name, part[name]) for part in parts for name in part.columns]
        names = [name for name, _ in columns]
        if names != self._parquet.schema.names or len(set(names)) != len(names):
            return False
        try:
            table = pa.Table.from_arrays(
                [pa.array(col, from_pandas=True) for _, col in columns], names=names
            )
        except (pa.ArrowException, ValueError, TypeError):
            return False
        if not table.schema.equals(self._parquet.schema, check_metadata=False):
            return False
        self._parquet.write_table(table)
        return True

    def close(self) -> None:
        """Finish the output (the JSON list, the Parquet footer)."""
        if self.fmt == "json":
            self.fh.write(b'{"predictions":[]}' if self.count == 0 else b"]}")
            self.fh.write(b"\n")
        if self._parquet is not None:
            self._parquet.close()
            self._parquet = None

    def abort(self) -> None:
        """Close without finishing, before the file under it closes (the output is discarded)."""
        if self._parquet is not None:
            with contextlib.suppress(Exception):
                self._parquet.close()
            self._parquet = None


def _schema_change(before: Any, now: Any) -> str:
    """How the columns of a Parquet chunk differ from the first chunk's, by name and type."""
    if before.names != now.names:
        return f"columns {names_preview(now.names)} instead of {names_preview(before.names)}"
    changed = [
        f"column {names_preview([a.name])[1:-1]} is {b.type} here, {a.type} before"
        for a, b in zip(before, now, strict=True)
        if a.type != b.type
    ]
    return "; ".join(changed[:10]) or "the column types changed"


def write_problem(exc: Exception, fmt: str) -> str:
    """Why predictions could not be written, without their values."""
    if isinstance(exc, UnicodeEncodeError):
        return "a column name or value holds a lone surrogate, which is not Unicode"
    if isinstance(exc, OSError):
        return exc.strerror or type(exc).__name__
    message = first_line(exc)
    column = re.search(r"for column (.{1,200}?) with type", message)
    if column is not None:  # pyarrow: "Conversion failed for column x with type object"
        return f"column {names_preview([column[1]])[1:-1]} holds values of mixed types"
    return f"{type(exc).__name__} writing {fmt}"
