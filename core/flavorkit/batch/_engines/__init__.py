"""What the distributed engines (:mod:`flavorkit.spark`, :mod:`flavorkit.dask`) share.

A model is resolved once on the driver (:func:`prepare`), shipped to the
workers as a path they can read or as an archive sent with the job
(:func:`archive`, :func:`unpack`), and loaded once per worker process
(:func:`load_shipped`, a small cache keyed by the folder's identity). Before
any task runs, the workers' packages are compared with the model's
requirements (:func:`probe_function`, :func:`check_reports`). Each batch a
worker scores goes through :class:`Scorer`: the table becomes the model's
input with the conversion ``flavorkit predict`` uses for Parquet and CSV,
the predictions become the declared result (:class:`ResultSpec`), and a
flavorkit error names the partition, the rows and the column. Spark
carries a task's error to the driver as text; :func:`recover` rebuilds it.

- :mod:`~flavorkit.batch._engines._model`: the model on the driver and in a worker;
- :mod:`~flavorkit.batch._engines._workers`: the workers' packages checked;
- :mod:`~flavorkit.batch._engines._scoring`: a batch scored;
- :mod:`~flavorkit.batch._engines._results`: predictions as the declared result;
- :mod:`~flavorkit.batch._engines._errors`: errors said of partitions and read back;
- :mod:`~flavorkit.batch._engines._files`: the files of ``flavorkit predict --engine``.

Nothing here imports an engine; numpy, pandas and the model's framework are
imported inside functions.
"""

from __future__ import annotations

from flavorkit.batch._engines._errors import MARKER, mark, picklable_errors, recover
from flavorkit.batch._engines._files import (
    ENGINE_FORMATS,
    check_input,
    check_output,
    file_formats,
    input_columns,
    write_staged,
)
from flavorkit.batch._engines._model import (
    SHIP_MODES,
    ShippedModel,
    archive,
    archive_name,
    checked_params,
    folder_identity,
    load_shipped,
    prepare,
    unpack,
)
from flavorkit.batch._engines._results import (
    ResultSpec,
    empty_result,
    numpy_data_type,
    pandas_dtype,
    result_spec,
    shape_result,
)
from flavorkit.batch._engines._scoring import Scorer, batches, missing_inputs, tensor_input
from flavorkit.batch._engines._workers import (
    WorkerEnvironmentError,
    check_reports,
    environment_problems,
    probe_function,
    probe_names,
)

__all__ = [
    "ENGINE_FORMATS",
    "MARKER",
    "SHIP_MODES",
    "ResultSpec",
    "Scorer",
    "ShippedModel",
    "WorkerEnvironmentError",
    "archive",
    "archive_name",
    "batches",
    "check_input",
    "check_output",
    "check_reports",
    "checked_params",
    "empty_result",
    "environment_problems",
    "file_formats",
    "folder_identity",
    "input_columns",
    "load_shipped",
    "mark",
    "missing_inputs",
    "numpy_data_type",
    "pandas_dtype",
    "picklable_errors",
    "prepare",
    "probe_function",
    "probe_names",
    "recover",
    "result_spec",
    "shape_result",
    "tensor_input",
    "unpack",
    "write_staged",
]
