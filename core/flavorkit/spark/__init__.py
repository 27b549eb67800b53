"""Score a model folder on Spark: ``flavorkit.spark.udf(spark, model_uri)``.

>>> import flavorkit.spark
>>> predict = flavorkit.spark.udf(spark, "models:/churn@prod")
>>> df.withColumn("churn", predict())          # the signature's columns, by name
>>> df.withColumn("churn", predict("age", "plan"))

The model is resolved once on the driver, shipped with the job (or read
where the executors can see it) and loaded once per Python worker; each
Arrow batch is converted to the signature's types exactly, as
``flavorkit predict`` converts Parquet. Before any task runs, the executors'
packages are compared with the model's requirements. Install with
``pip install 'flavorkit[spark]'``; pyspark is imported only when used.

- :mod:`~flavorkit.spark._udf`: :func:`udf` and :class:`ModelUDF`;
- :mod:`~flavorkit.spark._types`: signature types as Spark types;
- :mod:`~flavorkit.spark._errors`: executors' errors back as flavorkit errors;
- :mod:`~flavorkit.spark._files`: ``flavorkit predict --engine spark``.
"""

from __future__ import annotations

from flavorkit.batch._engines import WorkerEnvironmentError
from flavorkit.spark._errors import flavorkit_error, translate_errors
from flavorkit.spark._files import predict_files
from flavorkit.spark._udf import ModelUDF, udf

__all__ = [
    "ModelUDF",
    "WorkerEnvironmentError",
    "flavorkit_error",
    "predict_files",
    "translate_errors",
    "udf",
]
