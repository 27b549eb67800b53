"""Batch scoring: ``flavorkit predict MODEL -i INPUT -o OUTPUT``, streamed in chunks.

Inputs: CSV (header row), Parquet, JSON in the serving payload forms
(``dataframe_split``, ``dataframe_records``, ``instances``, ``inputs``, or a
chat-style object) and JSON Lines (one record per line). Outputs: CSV,
Parquet, JSON (``{"predictions": [...]}``) and JSON Lines. Only one chunk is
in memory at a time, so inputs larger than memory work; JSON is streamed
with ijson. Inputs are decoded by :mod:`flavorkit.io`, the functions the
scoring server uses, so a file is typed exactly as a request body with the
same content. The output is written beside its destination and renamed
into place at the end, so a failure leaves no partial file.

Input files are read as hostile: every problem is a ``PayloadError`` or
``SchemaEnforcementError`` whose one-line message says where it is (the data
rows of the input, 1-based and counted across chunks without the header, or
the line for JSON Lines, and the column) and never echoes a value; column
names are escaped, cut short and listed at most ten at a time.

- :mod:`~flavorkit.batch._run`: :func:`predict_file`, the chunk loop;
- :mod:`~flavorkit.batch._files`: formats, opening the input and the output;
- :mod:`~flavorkit.batch._writer`: predictions written chunk by chunk.
"""

from __future__ import annotations

from flavorkit.batch._files import FORMATS, detect_format
from flavorkit.batch._run import DEFAULT_CHUNK_ROWS, BatchResult, predict_file

__all__ = ["DEFAULT_CHUNK_ROWS", "FORMATS", "BatchResult", "detect_format", "predict_file"]
