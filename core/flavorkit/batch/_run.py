"""The batch run: read the input chunk by chunk, predict each chunk, write its predictions."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any

from flavorkit.batch._files import (
    check_output,
    detect_format,
    open_input,
    open_output,
    progress_bar,
)
from flavorkit.batch._writer import Writer, write_problem
from flavorkit.enforce._values import names_preview
from flavorkit.exceptions import FlavorkitError, PayloadError
from flavorkit.io import Chunk, csv_chunks, json_chunks, jsonl_chunks, located, parquet_chunks, span
from flavorkit.io._chunks import MAX_CHUNK_BYTES, after, counts_rows

if TYPE_CHECKING:
    import pandas as pd

    from flavorkit.api._pyfunc import PyFuncModel
    from flavorkit.signature import Schema

DEFAULT_CHUNK_ROWS = 10_000


@dataclass
class BatchResult:
    """What a batch run did: rows in, rows out, chunks, wall time, input columns left out."""

    rows_in: int
    rows_out: int
    chunks: int
    seconds: float
    ignored_columns: list[str] = field(default_factory=list)


def predict_file(
    model: PyFuncModel,
    input_path: str,
    output_path: str,
    *,
    input_format: str | None = None,
    output_format: str | None = None,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    params: dict[str, Any] | None = None,
    keep: Sequence[str] = (),
    progress: bool = False,
    max_chunk_bytes: int | None = MAX_CHUNK_BYTES,
) -> BatchResult:
    """Score ``input_path`` with ``model`` chunk by chunk and write ``output_path``.

    ``"-"`` means stdin/stdout (not for Parquet). ``keep`` names input
    columns copied next to the predictions (e.g. an id); input columns the
    signature does not name are left out of the model's input (listed in
    ``BatchResult.ignored_columns``). ``params`` apply to
    every chunk (params inside a JSON payload are used when not given).

    Raises ``PayloadError`` for a malformed input (or one without data rows)
    and ``SchemaEnforcementError`` for data that does not fit the signature.
    An error about some rows names them in its message (``rows 10001-20000:``,
    1-based data rows of the input) and holds them as ``rows`` (first, last).
    An exception the model itself raises is left as it is, with a note naming
    the rows (Python 3.11+). Nothing is left at ``output_path`` on failure.

    Memory is bounded by the chunk, whatever the input claims: a chunk may
    read at most ``max_chunk_bytes`` of the input (JSON Lines chunks end
    early; CSV, JSON and Parquet refuse the chunk), at most
    ``io._chunks.MAX_CHUNK_CELLS`` cells (wide tables are read in fewer
    rows) and ``MAX_COLUMNS`` columns. The output may not be a folder, the
    input itself, or inside the model's folder (``PayloadError``, before
    anything is read).
    """
    if chunk_rows < 1:
        raise ValueError(f"chunk_rows must be at least 1, got {chunk_rows}")
    in_fmt = detect_format(input_path, input_format)
    out_fmt = detect_format(output_path, output_format)
    check_output(output_path, input_path, getattr(model, "path", None))
    signature = model.signature
    schema = signature.inputs if signature is not None else None
    param_names = (
        frozenset(p.name for p in signature.params)
        if signature is not None and signature.params
        else frozenset()
    )
    named = (
        {str(s.name) for s in schema.inputs}
        if schema is not None and schema.has_input_names()
        else None
    )
    positions = counts_rows(schema)
    started = time.perf_counter()
    rows_in = rows_out = chunks = 0
    ignored: set[str] = set()
    bar = progress_bar(progress, in_fmt, input_path)
    try:
        with open_input(input_path, in_fmt) as source, open_output(output_path) as sink:
            writer = Writer(sink, out_fmt)
            try:
                reader = _chunks(source, in_fmt, schema, chunk_rows, param_names, max_chunk_bytes)
                while (chunk := _next_chunk(reader, rows_in)) is not None:
                    if chunk.rows == 0:
                        continue
                    first, last = rows_in + 1, rows_in + chunk.rows
                    kept = _kept(chunk, keep)
                    data = chunk.data
                    if named is not None and hasattr(data, "columns"):
                        # files often carry ids and other columns: leave them out quietly,
                        # report once
                        extra = [c for c in data.columns if str(c) not in named]
                        if extra:
                            ignored.update(str(c) for c in extra if str(c) not in keep)
                            data = _columns(data, [c for c in data.columns if str(c) in named])
                    try:
                        result = model.predict(
                            data, params=params if params is not None else chunk.params
                        )
                    except FlavorkitError as exc:
                        raise located(exc, first, last, positions=positions) from None
                    except Exception as exc:
                        _note(exc, first, last)
                        raise
                    try:
                        rows_out += writer.write(result, kept, chunk.rows)
                    except FlavorkitError as exc:
                        raise located(exc, first, last, positions=False) from None
                    except Exception as exc:
                        raise PayloadError(
                            f"{span(first, last)}: the predictions cannot be written as "
                            f"{out_fmt} ({write_problem(exc, out_fmt)})",
                            field="output",
                        ) from exc
                    rows_in = last
                    chunks += 1
                    if bar is not None:
                        bar.update(chunk.advanced)
                if rows_in == 0:
                    raise PayloadError(
                        "the input has no data rows, so there is nothing to predict",
                        field="input",
                    )
                writer.close()
            except BaseException:
                writer.abort()  # before the file under it closes: no writer left to flush later
                raise
    finally:
        if bar is not None:
            bar.close()
    return BatchResult(rows_in, rows_out, chunks, time.perf_counter() - started, sorted(ignored))


def _chunks(
    source: IO[bytes] | str,
    fmt: str,
    schema: Schema | None,
    chunk_rows: int,
    param_names: frozenset[str],
    max_bytes: int | None,
) -> Iterator[Chunk]:
    if fmt == "parquet":
        assert isinstance(source, str)
        return parquet_chunks(source, schema, chunk_rows, max_bytes=max_bytes)
    assert not isinstance(source, str)
    if fmt == "json":
        return json_chunks(source, schema, chunk_rows, param_names, max_bytes=max_bytes)
    reader = csv_chunks if fmt == "csv" else jsonl_chunks
    return reader(source, schema, chunk_rows, max_bytes=max_bytes)


def _next_chunk(chunks: Iterator[Chunk], done: int) -> Chunk | None:
    """The next chunk, or None at the end; what the reader did not expect becomes a PayloadError."""
    try:
        return next(chunks)
    except StopIteration:
        return None
    except (FlavorkitError, FileNotFoundError):
        raise
    except RecursionError:
        problem = "nests too deeply to read"
    except MemoryError:
        problem = "does not fit in memory; pass a smaller --chunk-size"
    except OSError as exc:
        problem = f"cannot be read ({exc.strerror or type(exc).__name__})"
    except Exception as exc:
        # chained for callers of predict_file; the message never quotes the input
        raise PayloadError(
            f"the input{after(done)} cannot be read ({type(exc).__name__})", field="input"
        ) from exc
    raise PayloadError(f"the input{after(done)} {problem}", field="input") from None


def _note(exc: BaseException, first: int, last: int) -> None:
    """Say on an exception of the model itself which rows it was predicting (Python 3.11+)."""
    add_note = getattr(exc, "add_note", None)
    if add_note is not None:
        add_note(f"flavorkit predict: raised while predicting input {span(first, last)}")


def _kept(chunk: Chunk, keep: Sequence[str]) -> pd.DataFrame | None:
    if not keep:
        return None
    frame = chunk.frame
    missing = [c for c in keep if frame is None or c not in frame.columns]
    if missing:
        raise PayloadError(
            f"--keep names column(s) the input does not have: {names_preview(missing)}",
            field="keep",
        )
    assert frame is not None
    return _columns(frame, list(keep))


def _columns(frame: pd.DataFrame, names: list[Any]) -> pd.DataFrame:
    """``frame[names]``: taken by position where the frame's names are unique (faster)."""
    if not frame.columns.is_unique:
        return frame[names]
    return frame.take([frame.columns.get_loc(name) for name in names], axis=1)
