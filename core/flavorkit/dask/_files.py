"""``flavorkit predict --engine dask``: files scored by Dask, read and written in parallel.

CSV is read as text and converted exactly, as ``flavorkit predict`` does;
Parquet numbers are narrowed exactly. The output is a folder of part
files, written beside its destination and renamed into place at the end.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from typing import Any

from flavorkit.batch import BatchResult
from flavorkit.batch._engines import (
    check_input,
    check_output,
    file_formats,
    input_columns,
    write_staged,
)
from flavorkit.dask._predict import _map, predict_parts

# schedulers of dask itself; anything else is a distributed scheduler's address
LOCAL_SCHEDULERS = ("threads", "processes", "synchronous")


def predict_files(
    model_uri: str | os.PathLike[str],
    input_path: str,
    output_path: str,
    *,
    input_format: str | None = None,
    output_format: str | None = None,
    params: dict[str, Any] | None = None,
    keep: Sequence[str] = (),
    scheduler: str | None = None,
    client: Any = None,
    allow_unsafe: bool | None = None,
    ship: str = "auto",
    check_workers: bool = True,
    blocksize: str | int = "64MB",
    chunk_rows: int | None = None,
) -> BatchResult:
    """Score ``input_path`` (a CSV or Parquet file, folder or glob) into the folder ``output_path``.

    ``scheduler``: ``threads`` (default), ``processes``, ``synchronous``, or
    the address of a ``distributed`` scheduler (a client is opened to it and
    closed at the end); ``client``: a client to use instead. ``keep`` names
    input columns copied next to the predictions; ``blocksize`` sizes the
    partitions of a CSV input; ``chunk_rows`` the rows the model gets at
    once (default: a partition). Returns rows in and out, the partitions
    (``chunks``) and the wall time.

    Raises ``PayloadError`` for an unsupported format or a missing ``keep``
    column, ``SchemaEnforcementError`` for missing inputs (before any task)
    or values that do not fit (naming partition, rows and column), and what
    :func:`flavorkit.dask.predict` raises.
    """
    import dask.dataframe as dd

    in_fmt, out_fmt = file_formats(input_path, input_format, output_path, output_format)
    check_input(input_path)
    started = time.perf_counter()
    own = None
    if client is None and scheduler and scheduler not in LOCAL_SCHEDULERS:
        from distributed import Client

        client = own = Client(scheduler)
    try:
        if in_fmt == "csv":
            frame = dd.read_csv(
                input_path, dtype=str, keep_default_na=False, na_values=[""], blocksize=blocksize
            )
        else:
            frame = dd.read_parquet(input_path)
        shipped, spec, params, schema = predict_parts(
            model_uri,
            params=params,
            client=client,
            allow_unsafe=allow_unsafe,
            ship=ship,
            check_workers=check_workers,
        )
        columns, ignored = input_columns(list(frame.columns), schema, keep)
        check_output(spec, keep, out_fmt)
        out = _map(
            frame, shipped, spec, params, columns=columns, batch_rows=chunk_rows, keep=keep,
            text=in_fmt == "csv",
        )  # fmt: skip

        def write(staging: str) -> int:
            os.makedirs(staging, exist_ok=True)
            # each task writes its partition's part file and returns its rows: one pass
            counts = out.map_partitions(_write_part, staging, out_fmt, meta=(None, "int64"))
            if client is not None:
                return int(client.compute(counts).result().sum())
            return int(counts.compute(scheduler=scheduler or "threads").sum())

        rows = write_staged(output_path, write)
    finally:
        if own is not None:
            own.close()
    return BatchResult(rows, rows, frame.npartitions, time.perf_counter() - started, ignored)


def _write_part(
    frame: Any, folder: str, fmt: str, partition_info: dict[str, Any] | None = None
) -> Any:
    """Write one partition as ``part-NNNNN.<fmt>`` in ``folder``; returns its row count."""
    import pandas as pd

    number = partition_info.get("number", 0) if partition_info else 0
    path = os.path.join(folder, f"part-{number:05d}.{fmt}")
    if fmt == "csv":
        frame.to_csv(path, index=False)
    else:
        frame.to_parquet(path, index=False)
    return pd.Series([len(frame)], dtype="int64")
