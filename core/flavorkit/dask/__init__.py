"""Score a model folder on Dask: ``flavorkit.dask.predict(df, model_uri)``.

>>> import flavorkit.dask
>>> scores = flavorkit.dask.predict(df, "models:/churn@prod")   # a lazy Dask Series
>>> df.assign(churn=scores).to_parquet("scored/")

Partitions are scored with ``map_partitions``, the output's meta taken from
the model's output schema; each worker process loads the model once. It
runs on Dask's local schedulers and on ``distributed`` clusters, whose
workers' packages are compared with the model's requirements first.
Install with ``pip install 'flavorkit[dask]'``; dask is imported only when used.

- :mod:`~flavorkit.dask._predict`: :func:`predict`;
- :mod:`~flavorkit.dask._ship`: the worker plugin that carries a folder;
- :mod:`~flavorkit.dask._files`: ``flavorkit predict --engine dask``.
"""

from __future__ import annotations

from flavorkit.batch._engines import WorkerEnvironmentError
from flavorkit.dask._files import predict_files
from flavorkit.dask._predict import predict

__all__ = ["WorkerEnvironmentError", "predict", "predict_files"]
