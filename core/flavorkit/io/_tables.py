"""Tables in: CSV (with a header row) and Parquet, whole or in chunks, as the model's input.

One conversion for every table, :func:`table_input`: for a column
signature CSV cells are read as text and converted exactly
(:func:`flavorkit.io._convert.text_frame`: nothing is guessed, nothing is
lost) and Parquet numbers are narrowed exactly
(:func:`flavorkit.io._convert.binary_frame`); for a tensor signature the
columns become the model's ndarray (or dict of ndarrays); without a
signature pandas infers the types.

The whole readers (:func:`read_csv`, :func:`read_parquet`) serve request
bodies and check ``Limits`` before decoding what they can count first; the
chunk readers (:func:`csv_chunks`, :func:`parquet_chunks`) stream files
larger than memory and name the input's rows in their errors. Malformed
input is a ``PayloadError`` that never quotes the data.
"""

from __future__ import annotations

import codecs
import io
from collections.abc import Iterator
from typing import IO, TYPE_CHECKING, Any

from flavorkit.exceptions import FlavorkitError, PayloadError
from flavorkit.io._chunks import (
    MAX_CHUNK_BYTES,
    MAX_CHUNK_CELLS,
    MAX_COLUMNS,
    Budgeted,
    Chunk,
    Oversized,
    after,
    counts_rows,
    first_line,
    located,
    mib,
    oversized_error,
    tell,
)
from flavorkit.io._convert import (
    _field,
    _spec_for,
    _typed_numbers,
    binary_frame,
    exact,
    text_frame,
)
from flavorkit.io._payload import Limits, is_column_schema
from flavorkit.signature import DataType
from flavorkit.signature._exact import FLOAT_EXACT, INT_BOUNDS

if TYPE_CHECKING:
    import pandas as pd

    from flavorkit.signature import Schema

CSV_TEXT_OPTIONS: dict[str, Any] = {"dtype": str, "keep_default_na": False, "na_values": [""]}
# a whole Parquet input is decoded in record batches of this many rows, so one whose
# metadata understates its rows is stopped one batch past the limit
_WHOLE_BATCH_ROWS = 65_536


def table_input(frame: pd.DataFrame, schema: Schema | None, *, text: bool) -> tuple[Any, Any]:
    """(the model's data, the typed table) for a table read from CSV (``text``) or Parquet.

    Raises ``SchemaEnforcementError`` naming the column (and the row, 0-based
    in the table) for a value its column or tensor cannot hold exactly.
    """
    if is_column_schema(schema):
        assert schema is not None
        frame = text_frame(frame, schema) if text else binary_frame(frame, schema)
        return frame, frame
    if schema is None:
        return frame, frame
    return tensor_from_table(frame, schema, text=text), frame


def tensor_from_table(frame: pd.DataFrame, schema: Schema, *, text: bool) -> Any:
    """A table (CSV, Parquet) for a tensor signature: the model's ndarray or dict of ndarrays.

    An unnamed tensor takes all columns as its rows; named tensors take the
    column of their name each. Values convert exactly (``text``: decimal
    numbers may round to float32, as for JSON). Missing names are left for
    enforcement to report.
    """
    specs = list(schema.inputs)
    if not schema.has_input_names():
        spec = specs[0]
        arr = frame.to_numpy()
        if len(spec.shape) == 1 and arr.ndim == 2 and arr.shape[1] == 1:
            arr = arr[:, 0]
        return _typed_table(arr, spec.type, "[0]", text)
    out = {}
    for spec in specs:
        if spec.name in frame.columns:
            arr = frame[spec.name].to_numpy()
            if len(spec.shape) == 2 and spec.shape[1] == 1:
                arr = arr.reshape(-1, 1)
            out[spec.name] = _typed_table(arr, spec.type, str(spec.name), text)
    return out


def _typed_table(arr: Any, dtype: Any, name: str, text: bool) -> Any:
    if arr.dtype.kind in "biuf" and dtype.kind in "biuf" and arr.dtype != dtype:
        return exact(arr, dtype, name, text=text)
    return arr


# ---------------------------------------------------------------- CSV


def read_csv(source: IO[Any], schema: Schema | None, *, nrows: int | None = None) -> Chunk:
    """The whole CSV ``source`` (at most ``nrows`` data rows) as one chunk.

    Raises ``PayloadError`` for an empty input, text that is not UTF-8
    (naming its line) and malformed CSV, ``SchemaEnforcementError`` for a
    cell that does not fit its column (naming the 0-based row).
    """
    import pandas as pd

    options = CSV_TEXT_OPTIONS if is_column_schema(schema) else {}
    try:
        frame = pd.read_csv(source, nrows=nrows, **options)
    except (ValueError, UnicodeDecodeError) as exc:
        raise _csv_error(exc, source, 0) from None
    data, frame = table_input(frame, schema, text=True)
    return Chunk(data, len(frame), frame)


def csv_header(body: bytes) -> list[str]:
    """The names in the header row of the CSV ``body``, read without decoding any data row."""
    import pandas as pd

    end = body.find(b"\n")
    line = body[: end if end >= 0 else len(body)].removeprefix(codecs.BOM_UTF8).rstrip(b"\r")
    try:
        if line and b'"' not in line:
            return line.decode("utf-8").split(",")  # the common case, without pandas
        return [str(c) for c in pd.read_csv(io.BytesIO(body), nrows=0).columns]
    except (ValueError, UnicodeDecodeError) as exc:
        raise _csv_error(exc, io.BytesIO(body), 0) from None


def csv_chunks(
    source: IO[bytes],
    schema: Schema | None,
    chunk_rows: int,
    *,
    max_bytes: int | None = MAX_CHUNK_BYTES,
) -> Iterator[Chunk]:
    """CSV chunks of ``chunk_rows`` rows; errors name the input's rows (1-based, no header).

    Raises ``PayloadError`` for an empty input, text that is not UTF-8
    (naming its line) and malformed CSV, ``SchemaEnforcementError`` for a
    cell that does not fit its column (naming the row).

    Memory is bounded by the chunk: a header of more than ``MAX_COLUMNS``
    names is refused, a wide table is read in chunks of at most
    ``MAX_CHUNK_CELLS`` cells (fewer rows than ``chunk_rows``), and a chunk
    whose rows take more than ``max_bytes`` of the input (a line that never
    ends) is refused.

    A file whose signature declares numeric columns has those columns parsed
    to numbers by pandas' reader (:func:`_numeric_chunk`) instead of read as
    text and converted after: the same parser, without a text copy of every
    cell. A chunk that reader cannot vouch for (a cell that is not a plain
    finite number, an error) sends the read back to the start of the file in
    text mode, passing over the rows already yielded, so every value and
    every message is the text conversion's.
    """
    import pandas as pd

    options = CSV_TEXT_OPTIONS if is_column_schema(schema) else {}
    positions = counts_rows(schema)
    origin = tell(source)
    budget = Budgeted(source, max_bytes) if max_bytes else None
    stream: IO[bytes] = source if budget is None else budget  # type: ignore[assignment]
    numeric = _numeric_columns(stream, schema, origin)
    rows_per_read = chunk_rows
    done = 0
    reported = 0  # bytes of the input reported as read (progress)
    skip = 0  # rows yielded before the read went back to the start
    parsed: frozenset[str] = frozenset()
    try:
        while True:
            expected: list[str] = []
            if numeric:
                expected, parsed = numeric
                read_options = {
                    **options,
                    "dtype": {c: str for c in expected if c not in parsed},
                    "low_memory": False,  # one typing pass per chunk, never mixed pieces
                }
            else:
                read_options = options
            restart = False
            reader = pd.read_csv(stream, chunksize=chunk_rows, **read_options)
            with reader:
                rows_per_read = _rows_per_read(reader, chunk_rows)
                while True:
                    if budget is not None:
                        budget.reset()
                    try:
                        frame = reader.get_chunk(rows_per_read)
                    except StopIteration:
                        break
                    except (ValueError, UnicodeDecodeError):
                        if not numeric:
                            raise
                        restart = True
                        break
                    pos = tell(source)
                    rows = len(frame)
                    if rows == 0:
                        continue
                    if skip:
                        # rows yielded by the numeric read: the text read passes over them
                        taken = min(skip, rows)
                        skip -= taken
                        if taken == rows:
                            continue
                        frame = frame.iloc[taken:]
                        rows = len(frame)
                    try:
                        converted = (
                            _numeric_chunk(frame, schema, expected, parsed)
                            if numeric
                            else table_input(frame, schema, text=True)
                        )
                    except FlavorkitError as exc:
                        raise located(exc, done + 1, done + rows, positions=positions) from None
                    if converted is None:
                        restart = True
                        break
                    data, frame = converted
                    advanced = max(pos - origin - reported, 0)
                    reported += advanced
                    yield Chunk(data, rows, frame, advanced=advanced)
                    done += rows
            if not restart:
                return
            # the text read from the start gives the values and messages of this chunk
            stream.seek(origin)
            numeric = None
            skip = done
    except FlavorkitError:
        raise
    except Oversized:
        assert max_bytes is not None
        raise oversized_error(done, rows_per_read, max_bytes) from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise _csv_error(exc, source, done) from None


def _rows_per_read(reader: Any, chunk_rows: int) -> int:
    """The rows of a CSV chunk: ``chunk_rows``, fewer for a table too wide for that many.

    Raises ``PayloadError`` for a header of more than ``MAX_COLUMNS`` names.
    """
    # the names of the header pandas has read (no public spelling): a wide header is refused
    # before any row is parsed, as a frame of a million columns takes gigabytes
    names = getattr(getattr(reader, "_engine", None), "orig_names", None)
    width = len(names) if names is not None else 0
    if width > MAX_COLUMNS:
        raise PayloadError(
            f"the header has {width:,} columns, more than the {MAX_COLUMNS:,} a table may have",
            field="header",
        )
    return max(1, min(chunk_rows, MAX_CHUNK_CELLS // max(width, 1)))


def _numeric_columns(
    source: IO[bytes], schema: Schema | None, origin: int
) -> tuple[list[str], frozenset[str]] | None:
    """(the header's names, those of numeric ColSpecs) when pandas may parse them; else None.

    Only for a column signature and an input that can go back to ``origin``
    (a file, not stdin): a chunk the numeric read cannot vouch for is read
    again as text from there.
    """
    import pandas as pd

    if not is_column_schema(schema):
        return None
    assert schema is not None
    try:
        if not source.seekable():
            return None
        # at least the header's width: pandas takes minutes and gigabytes to make even an
        # empty frame of a million columns; the text read refuses such a header cheaply
        wide = source.readline().count(b",") >= MAX_COLUMNS  # a Budgeted line: bounded
        source.seek(origin)
        header = None if wide else pd.read_csv(source, nrows=0, **CSV_TEXT_OPTIONS)
    except Exception:  # the text read reports what is wrong with the input
        header = None
    try:
        source.seek(origin)
    except (AttributeError, OSError, ValueError):
        return None
    if header is None:
        return None
    names = [str(c) for c in header.columns]
    if len(set(names)) != len(names) or list(header.columns) != names:
        return None
    parsed = frozenset(
        name
        for name, spec in zip(names, _spec_for(names, schema), strict=True)
        if spec is not None
        and isinstance(spec.type, DataType)
        and (spec.type in INT_BOUNDS or spec.type in FLOAT_EXACT)
    )
    return (names, parsed) if parsed else None


def _numeric_chunk(
    frame: pd.DataFrame, schema: Schema | None, names: list[str], parsed: frozenset[str]
) -> tuple[Any, Any] | None:
    """``table_input`` of a chunk whose ``parsed`` columns pandas read as numbers, or None.

    None (read the chunk as text) unless every parsed column came out as
    int64, or as float64 holding only finite values below 2**63: those are
    cells the text conversion parses to the very same numbers with the same
    parser, and a text cell that is empty, not a number, ``inf``, or an
    integer beyond 64 bits never comes out that way. Any refusal also
    returns None, so the text conversion says it, for the first column it
    reaches.
    """
    import numpy as np
    import pandas as pd

    assert schema is not None
    if list(frame.columns) != names or not isinstance(frame.index, pd.RangeIndex):
        return None
    specs = _spec_for(names, schema)
    text = [name for name in names if name not in parsed]
    try:
        typed_text = text_frame(frame[text], schema) if text else None
        out = {}
        for name, spec in zip(names, specs, strict=True):
            if name not in parsed:
                assert typed_text is not None
                out[name] = typed_text[name]
                continue
            arr = frame[name].to_numpy()
            if arr.dtype == np.float64:
                if not np.isfinite(arr).all() or (np.abs(arr) >= 2.0**63).any():
                    return None
            elif arr.dtype != np.int64:
                return None
            out[name] = _typed_numbers(arr, None, spec.type, _field(name, spec), text=True)
    except FlavorkitError:
        return None
    typed = pd.DataFrame(out, index=frame.index)
    return typed, typed


def _csv_error(exc: Exception, source: IO[Any], done: int) -> Exception:
    """The ``PayloadError`` for what reading CSV raised (after ``done`` data rows)."""
    import pandas as pd

    if isinstance(exc, pd.errors.EmptyDataError):
        return PayloadError("the input is empty: a CSV file needs a header row", field="input")
    if isinstance(exc, UnicodeDecodeError):
        line = _bad_utf8_line(source)
        where = "the header (line 1)" if line == 1 else f"line {line}" if line else "a line"
        return PayloadError(
            f"{where} of the input{after(done) if line is None else ''} is not UTF-8 text; "
            "save the input as UTF-8",
            field="header" if line == 1 else f"line {line}" if line else "input",
        )
    if isinstance(exc, pd.errors.ParserError):
        detail = first_line(exc).removeprefix("Error tokenizing data. C error: ")
        return PayloadError(f"the input is not valid CSV{after(done)} ({detail})", field="input")
    return exc


def _bad_utf8_line(source: IO[Any]) -> int | None:
    """The line (1-based) of the first byte that is not UTF-8, read again from the start.

    None when ``source`` cannot seek (stdin), is text, or holds no such byte.
    """
    try:
        source.seek(0)
    except (AttributeError, OSError, ValueError):
        return None
    decoder = codecs.getincrementaldecoder("utf-8")()
    line = 1
    while True:
        block = source.read(1 << 20)
        if not isinstance(block, bytes):
            return None
        pending = len(decoder.getstate()[0])  # bytes of a character the last block cut
        try:
            decoder.decode(block, final=not block)
        except UnicodeDecodeError as exc:
            return line + block.count(b"\n", 0, max(exc.start - pending, 0))
        if not block:
            return None
        line += block.count(b"\n")


# ---------------------------------------------------------------- Parquet


def _pyarrow() -> tuple[Any, Any]:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise PayloadError(
            "Parquet input needs pyarrow: pip install 'flavorkit[parquet]'", field="input"
        ) from None
    return pa, pq


def _unreadable(pa: Any) -> tuple[type[BaseException], ...]:
    return (pa.ArrowException, OSError, ValueError, UnicodeDecodeError)


def open_parquet(source: Any, **options: Any) -> Any:
    """A ``pyarrow.parquet.ParquetFile`` on ``source``: a path, bytes or a file.

    Raises ``PayloadError`` for what is not Parquet, ``FileNotFoundError`` for a missing file.
    """
    pa, pq = _pyarrow()
    if isinstance(source, (bytes, bytearray, memoryview)):
        source = pa.BufferReader(source)
    try:
        return pq.ParquetFile(source, **options)
    except FileNotFoundError:
        raise
    except _unreadable(pa) as exc:
        raise PayloadError(
            f"the input is not a Parquet file this can read ({first_line(exc)})", field="input"
        ) from None


def read_parquet(source: Any, schema: Schema | None, *, limits: Limits | None = None) -> Chunk:
    """The whole Parquet ``source`` as one chunk, refused over ``limits`` before it is decoded.

    The metadata's row and cell counts are checked first; the rows decoded
    are counted too (metadata can understate them). Raises ``PayloadError``
    (``PayloadTooLargeError`` over a limit) or ``SchemaEnforcementError``.
    """
    pa, _ = _pyarrow()
    limits = limits or Limits()
    file = open_parquet(source)
    try:
        meta = file.metadata
        limits.check(meta.num_rows, meta.num_rows * meta.num_columns)
        width = len(file.schema_arrow)
        allowed, limit = limits.allowed_rows(width)
        batches = []
        rows = 0
        for batch in file.iter_batches(batch_size=_WHOLE_BATCH_ROWS):
            rows += batch.num_rows
            if allowed is not None and rows > allowed:
                raise limits.too_many_rows("the Parquet input", allowed, limit, width)
            batches.append(batch)
        frame = pa.Table.from_batches(batches, schema=file.schema_arrow).to_pandas()
    except FlavorkitError:
        raise
    except _unreadable(pa) as exc:
        raise PayloadError(
            f"the Parquet data cannot be read ({first_line(exc)})", field="input"
        ) from None
    data, frame = table_input(frame, schema, text=False)
    return Chunk(data, len(frame), frame)


def parquet_chunks(
    path: str,
    schema: Schema | None,
    chunk_rows: int,
    *,
    max_bytes: int | None = MAX_CHUNK_BYTES,
) -> Iterator[Chunk]:
    """Parquet record batches of ``chunk_rows`` rows; errors name the input's rows.

    Memory is bounded by the chunk, as for CSV: a file of more than
    ``MAX_COLUMNS`` columns is refused, a wide one is read in batches of at
    most ``MAX_CHUNK_CELLS`` cells, and one whose row groups say a batch
    decodes to more than ``max_bytes`` is refused before anything is
    decoded (a few kilobytes of zstd can hold gigabytes); a batch that does
    anyway (metadata that understates) stops the run.
    """
    pa, _ = _pyarrow()
    unreadable = _unreadable(pa)
    positions = counts_rows(schema)
    # buffered, not pre-buffered: a row group's column chunks are streamed page by page
    # instead of loaded whole (files often hold one row group for every row)
    file = open_parquet(path, buffer_size=1 << 20, pre_buffer=False)
    done = 0
    with file:
        rows_per_read = _parquet_rows_per_read(file, chunk_rows, max_bytes)
        batches = file.iter_batches(batch_size=rows_per_read)
        while True:
            try:
                batch = next(batches)
            except StopIteration:
                return
            except unreadable as exc:
                raise PayloadError(
                    f"the Parquet data{after(done)} cannot be read ({first_line(exc)})",
                    field="input",
                ) from None
            if max_bytes and batch.nbytes > max_bytes:
                raise oversized_error(done, batch.num_rows, max_bytes)
            try:
                frame = batch.to_pandas()
            except unreadable as exc:
                raise PayloadError(
                    f"the Parquet data{after(done)} cannot be read ({first_line(exc)})",
                    field="input",
                ) from None
            rows = len(frame)
            if rows == 0:
                continue
            try:
                data, frame = table_input(frame, schema, text=False)
            except FlavorkitError as exc:
                raise located(exc, done + 1, done + rows, positions=positions) from None
            yield Chunk(data, rows, frame, advanced=rows)
            done += rows


def _parquet_rows_per_read(file: Any, chunk_rows: int, max_bytes: int | None) -> int:
    """The rows of a Parquet batch: ``chunk_rows``, fewer for a wide file; refuses a large one.

    Raises ``PayloadError`` for more than ``MAX_COLUMNS`` columns, or a row
    group whose uncompressed size (its metadata's) puts more than
    ``max_bytes`` in one batch.
    """
    meta = file.metadata
    width = meta.num_columns
    if width > MAX_COLUMNS:
        raise PayloadError(
            f"the Parquet input has {width:,} columns, more than the {MAX_COLUMNS:,} "
            "a table may have",
            field="input",
        )
    rows = max(1, min(chunk_rows, MAX_CHUNK_CELLS // max(width, 1)))
    if not max_bytes:
        return rows
    done = 0
    for index in range(meta.num_row_groups):
        group = meta.row_group(index)
        count = max(group.num_rows, 0)
        taken = min(rows, count)
        if taken and group.total_byte_size / count * taken > max_bytes:
            if taken == 1:
                problem = f"one row takes more than {mib(max_bytes)}, the most one chunk may read"
            else:
                problem = (
                    f"the next {taken:,} rows take more than {mib(max_bytes)} once "
                    "decompressed, the most one chunk may read; pass a smaller --chunk-size"
                )
            raise PayloadError(
                f"the Parquet input{after(done)} (row group {index}): {problem}", field="input"
            )
        done += count
    return rows
