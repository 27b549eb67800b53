"""Input and output: bytes, files and rows into the model's input; predictions into output.

Every front end decodes with these functions, so the scoring server, batch
scoring (``flavorkit predict``) and the front ends that come next accept
the same payloads and give the same messages:

- :mod:`~flavorkit.io._json`: strict JSON text, the top level of a payload,
  values back to JSON data;
- :mod:`~flavorkit.io._payload`: a payload's forms (``dataframe_split``,
  ``dataframe_records``, ``instances``, ``inputs``, chat-style) as model
  input, and the size limits a request is held to;
- :mod:`~flavorkit.io._convert`: the exact conversion of JSON values, CSV
  text and Parquet numbers to the signature's types;
- :mod:`~flavorkit.io._tables`: CSV and Parquet, whole or in chunks;
- :mod:`~flavorkit.io._stream`: JSON payloads and JSON Lines streamed in chunks;
- :mod:`~flavorkit.io._chunks`: the chunk a streaming reader yields, and
  errors said of the input's rows;
- :mod:`~flavorkit.io._output`: predictions as JSON or as a table;
- :mod:`~flavorkit.io._example`: the input example files of a model folder.

This package imports nothing of flavorkit but :mod:`flavorkit.signature`,
:mod:`flavorkit.enforce`, :mod:`flavorkit.folder` and
:mod:`flavorkit.exceptions`; numpy, pandas, pyarrow and ijson only inside
functions.
"""

from __future__ import annotations

from flavorkit.io._chunks import Chunk, located, span
from flavorkit.io._convert import Rows
from flavorkit.io._json import OVERFLOW, find_overflow, to_jsonable
from flavorkit.io._output import encode_predictions, predictions_frame, predictions_jsonable
from flavorkit.io._payload import (
    Limits,
    Parsed,
    PayloadTooLargeError,
    extent,
    is_column_schema,
    model_input,
    parse_json,
    rows_input,
)
from flavorkit.io._stream import json_chunks, jsonl_chunks
from flavorkit.io._tables import csv_chunks, csv_header, parquet_chunks, read_csv, read_parquet

__all__ = [
    "OVERFLOW",
    "Chunk",
    "Limits",
    "Parsed",
    "PayloadTooLargeError",
    "Rows",
    "csv_chunks",
    "csv_header",
    "encode_predictions",
    "extent",
    "find_overflow",
    "is_column_schema",
    "json_chunks",
    "jsonl_chunks",
    "located",
    "model_input",
    "parquet_chunks",
    "parse_json",
    "predictions_frame",
    "predictions_jsonable",
    "read_csv",
    "read_parquet",
    "rows_input",
    "span",
    "to_jsonable",
]
