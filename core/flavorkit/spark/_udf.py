"""``flavorkit.spark.udf``: a model folder as an iterator pandas UDF.

On the driver: the URI is resolved once, the params are checked against the
signature, the folder is shipped (``ship``), the executors' packages are
compared with the model's requirements by a one-task-per-core job, and the
result type is read from the output schema. In the executors: each Python
worker loads the model once (a cache keyed by the folder's identity) and
scores every Arrow batch of its tasks with it.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flavorkit.batch._engines import (
    SHIP_MODES,
    ResultSpec,
    Scorer,
    ShippedModel,
    archive,
    check_reports,
    checked_params,
    load_shipped,
    missing_inputs,
    prepare,
    probe_function,
    probe_names,
    result_spec,
    unpack,
)
from flavorkit.spark._types import result_type_for, spec_from_spark

if TYPE_CHECKING:
    from flavorkit.signature import ModelSignature

# (application, worker Python, names) -> the executors' reports: one probe per model and session
_probed: dict[tuple[str, str, tuple[str, ...]], list[dict[str, Any]]] = {}


def udf(
    spark: Any,
    model_uri: str | os.PathLike[str],
    *,
    result_type: Any = None,
    params: dict[str, Any] | None = None,
    allow_unsafe: bool | None = None,
    model_config: dict[str, Any] | None = None,
    ship: str = "auto",
    check_workers: bool = True,
    **load_options: Any,
) -> ModelUDF:
    """A Spark UDF that scores rows with the model at ``model_uri``.

    ``udf(*columns)`` gives the prediction column: columns (names or
    ``Column`` objects) are bound to the signature's inputs by name, or by
    position for an unnamed signature; ``udf()`` takes the signature's
    columns by name; ``udf(struct(...))`` passes one struct whose fields are
    the inputs. The result type comes from the output schema (the one
    output's type, a struct of several, ``double`` without one) unless
    ``result_type`` (a pyspark type or a type string) is given.

    ``ship`` says how executors find the folder: ``"path"``, they read the
    driver's path (local mode, a shared file system); ``"files"``, it goes
    with the job as an archive (``SparkContext.addFile``); ``"auto"``,
    ``"path"`` on a ``local`` master, ``"files"`` otherwise.

    Raises before any task runs: ``SchemaEnforcementError`` for invalid
    params, ``WorkerEnvironmentError`` when the executors lack flavorkit, the
    flavor's plugin or a required package, or have an incompatible version
    (``check_workers=False`` skips that job), and what resolving the URI
    raises. Errors of the tasks name the partition, rows and column; see
    :func:`flavorkit.spark.translate_errors`.
    """
    if ship not in SHIP_MODES:
        raise ValueError(f"ship must be one of {', '.join(SHIP_MODES)}, got {ship!r}")
    sc = _context(spark)
    shipped, manifest = prepare(
        model_uri,
        allow_unsafe=allow_unsafe,
        model_config=model_config,
        load_options=load_options,
    )
    signature = manifest.signature
    params = checked_params(signature, params)
    if result_type is None:
        spec = result_spec(signature)
        rtype = result_type_for(spec)
        if spec is None:
            spec = ResultSpec((("prediction", _double()),), struct=False)
    else:
        rtype, spec = spec_from_spark(spark, result_type)
    if check_workers:
        check_executors(spark, shipped)
    mode = ship if ship != "auto" else ("path" if sc.master.startswith("local") else "files")
    if mode == "files":
        tar = archive(shipped)
        sc.addFile(str(tar))
        shipped = replace(shipped, archive=tar.name)
    return ModelUDF(shipped, signature, spec, rtype, params)


def _double() -> Any:
    from flavorkit.signature import DataType

    return DataType.double


def _context(spark: Any) -> Any:
    try:
        return spark.sparkContext
    except Exception as exc:  # Spark Connect sessions have no SparkContext
        raise NotImplementedError(
            "flavorkit.spark needs a classic SparkSession (with a SparkContext); "
            f"this session has none ({type(exc).__name__})"
        ) from None


def check_executors(spark: Any, shipped: ShippedModel) -> None:
    """Run one small task per core that reports the executors' packages, and compare them.

    The tasks are a plain Python UDF (pickled rows, no Arrow), so they run
    where pandas or pyarrow are missing, in the Python workers the model's
    UDF will use afterwards (an RDD job would start a pool of its own).
    """
    import json

    from pyspark.sql import functions as F

    from flavorkit.batch._engines import WorkerEnvironmentError

    sc = spark.sparkContext
    needed = ("pandas", "numpy", "pyarrow")  # what pandas UDFs need in the executors
    names = probe_names(shipped, extra=needed)
    key = (str(sc.applicationId), str(sc.pythonExec), tuple(names))
    reports = _probed.get(key)
    if reports is None:
        tasks = max(int(sc.defaultParallelism), 1)
        probe = F.udf(probe_function("flavorkit_probe_json")(names), "string", useArrow=False)
        try:
            rows = spark.range(0, tasks, 1, tasks).select(probe("id").alias("r")).collect()
        except Exception as exc:
            text = str(exc).strip().splitlines()
            raise WorkerEnvironmentError(
                f"the executors could not run a task to report their packages (worker Python "
                f"{sc.pythonExec!r}): {type(exc).__name__}: {text[-1][:300] if text else ''}",
                {"python": "could not run a task"},
            ) from exc
        reports = [json.loads(row.r) for row in rows]
        _probed[key] = reports
    check_reports(shipped, reports, where="the executors", needed=needed)


class ModelUDF:
    """The UDF :func:`udf` returns: call it with columns to get the prediction column.

    ``input_names`` are the signature's column names (None for an unnamed
    signature); ``result_type`` the Spark type of the column it makes;
    ``model`` what was resolved on the driver (URI, folder, identity).
    """

    def __init__(
        self,
        shipped: ShippedModel,
        signature: ModelSignature | None,
        spec: ResultSpec,
        result_type: Any,
        params: dict[str, Any] | None,
        *,
        text: bool = False,
        counter: Any = None,
    ) -> None:
        self.model = shipped
        self.signature = signature
        self.spec = spec
        self.result_type = result_type
        self.params = params
        self._text = text
        self._counter = counter
        schema = signature.inputs if signature is not None else None
        self.schema = schema
        self.input_names = (
            [str(n) for n in schema.input_names()]
            if schema is not None and schema.has_input_names()
            else None
        )

    def __call__(self, *cols: Any) -> Any:
        """The prediction column for ``cols`` (names or Columns; none: the signature's names).

        Raises ``SchemaEnforcementError`` on the driver when the names of the
        given columns are known and a required input is not among them.
        """
        from pyspark.sql import functions as F

        if not cols:
            if self.input_names is None:
                raise TypeError(
                    "the model's signature names no columns: pass them, udf(col1, col2, ...)"
                )
            cols = tuple(self.input_names)
        if len(cols) == 1 and not isinstance(cols[0], str):
            # one Column: a struct of the inputs arrives as a DataFrame, anything else as a Series
            name = column_name(cols[0])
            if name is None and self.input_names is not None and len(self.input_names) == 1:
                name = self.input_names[0]
            return self._pandas_udf(name)(cols[0])
        names = [column_name(c) for c in cols]
        if all(n is not None for n in names):
            problem = missing_inputs(self.schema, [str(n) for n in names])
            if problem is not None:
                raise problem
        struct = F.struct(*[F.col(c) if isinstance(c, str) else c for c in cols])
        return self._pandas_udf(None)(struct)

    def _pandas_udf(self, name: str | None) -> Any:
        import pandas as pd
        from pyspark.sql.functions import pandas_udf

        score = functools.partial(
            _score_batches, self.model, self.spec, self.params, self._text, name, self._counter
        )

        def flavorkit_predict(batches: Any) -> Any:
            return score(batches)

        out = pd.DataFrame if self.spec.struct else pd.Series
        # the hints are what pandas_udf reads to choose the iterator form
        flavorkit_predict.__annotations__ = {
            "batches": Iterator[pd.DataFrame],
            "return": Iterator[out],
        }
        return pandas_udf(flavorkit_predict, returnType=self.result_type)  # type: ignore[call-overload]

    def _with(self, *, text: bool | None = None, counter: Any = None) -> ModelUDF:
        """A copy reading text columns (CSV) or counting rows into an accumulator."""
        return ModelUDF(
            self.model,
            self.signature,
            self.spec,
            self.result_type,
            self.params,
            text=self._text if text is None else text,
            counter=counter if counter is not None else self._counter,
        )

    def __repr__(self) -> str:
        return f"ModelUDF({self.model.uri!r}, result_type={self.result_type.simpleString()!r})"


_COLUMN = re.compile(r"Column<'(.*)'>", re.DOTALL)
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|`[^`]+`")


def column_name(col: Any) -> str | None:
    """The name a column argument refers to (a string, or a plain column reference); else None."""
    if isinstance(col, str):
        return col
    match = _COLUMN.fullmatch(str(col))
    if match is None:
        return None
    text = match.group(1)
    if " AS " in text:  # an alias names the result: ``expr AS name``
        text = text.rsplit(" AS ", 1)[1]
    if _NAME.fullmatch(text) is None:
        return None
    return text.strip("`")


# ---------------------------------------------------------------- in the executors


def _score_batches(
    shipped: ShippedModel,
    spec: ResultSpec,
    params: dict[str, Any] | None,
    text: bool,
    name: str | None,
    counter: Any,
    batches: Iterator[Any],
) -> Iterator[Any]:
    """The UDF's body in a Python worker: the cached model scores each Arrow batch."""
    import pandas as pd
    from pyspark import TaskContext

    scorer = Scorer(load_shipped(shipped, _folder(shipped)), spec, params, text=text)
    context = TaskContext.get()
    partition = context.partitionId() if context is not None else None
    first = 1
    for batch in batches:
        if isinstance(batch, tuple):  # several plain columns (not produced by ModelUDF itself)
            batch = pd.concat(batch, axis=1)
        frame = batch if isinstance(batch, pd.DataFrame) else batch.to_frame(name or 0)
        yield scorer(frame, first, partition)
        first += len(frame)
        if counter is not None:
            counter.add(len(frame))


def _folder(shipped: ShippedModel) -> Path:
    """Where this executor reads the model: the shipped archive unpacked, or the driver's path."""
    if shipped.archive is None:
        return Path(shipped.path)
    from pyspark import SparkFiles

    return unpack(Path(SparkFiles.get(shipped.archive)), Path(SparkFiles.getRootDirectory()))
