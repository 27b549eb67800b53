"""``flavorkit.dask.predict``: a Dask DataFrame scored partition by partition.

On the client: the URI is resolved once, the params checked, the workers'
packages compared with the model's requirements (``client.run``), the
folder shipped when the workers cannot read it (a worker plugin carrying
the archive) and the output's meta taken from the output schema. In the
workers: each process loads the model once and scores its partitions.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flavorkit.batch._engines import (
    SHIP_MODES,
    ResultSpec,
    Scorer,
    ShippedModel,
    batches,
    check_reports,
    checked_params,
    empty_result,
    input_columns,
    load_shipped,
    mark,
    numpy_data_type,
    picklable_errors,
    prepare,
    probe_function,
    probe_names,
    result_spec,
)
from flavorkit.exceptions import FlavorkitError, PayloadError

if TYPE_CHECKING:
    import pandas as pd

    from flavorkit.signature import Schema

# (scheduler address, names) -> the workers' reports: one probe per model and cluster
_probed: dict[tuple[str, tuple[str, ...]], list[dict[str, Any]]] = {}
_LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1", "[::1]")


def predict(
    df: Any,
    model_uri: str | os.PathLike[str],
    *,
    columns: Sequence[str] | None = None,
    params: dict[str, Any] | None = None,
    meta: Any = None,
    client: Any = None,
    allow_unsafe: bool | None = None,
    model_config: dict[str, Any] | None = None,
    ship: str = "auto",
    check_workers: bool = True,
    batch_rows: int | None = None,
    **load_options: Any,
) -> Any:
    """The predictions of the model at ``model_uri`` for the Dask DataFrame ``df``, lazily.

    Returns a Dask Series named ``prediction`` (one output) or a DataFrame
    (several outputs, one column each), indexed as ``df``; its meta comes
    from the output schema (``float64`` without one) unless ``meta`` (a
    pandas Series or DataFrame) is given. ``columns`` picks the input
    columns (default: the signature's names; all columns for an unnamed
    signature, bound by position). ``batch_rows`` splits partitions into
    slices of that many rows for the model (default: a partition at once).

    ``client``: the ``distributed`` client whose workers run it (default:
    the current client, if any; else the local scheduler). ``ship``:
    ``"path"``, workers read the folder where the client resolved it;
    ``"files"``, a worker plugin carries it to each worker; ``"auto"``,
    ``"path"`` when every worker is on this machine.

    Raises before computing: ``SchemaEnforcementError`` for a missing input
    column or invalid params, ``WorkerEnvironmentError`` when the workers
    lack a required package or have an incompatible version. Partition
    errors name the partition, rows (within it) and column.
    """
    shipped, spec, params, schema = predict_parts(
        model_uri,
        params=params,
        meta=meta,
        client=client,
        allow_unsafe=allow_unsafe,
        model_config=model_config,
        ship=ship,
        check_workers=check_workers,
        load_options=load_options,
    )
    if columns is None:
        columns, _ = input_columns(list(df.columns), schema, ())
    else:
        columns = list(columns)
        absent = [c for c in columns if c not in df.columns]
        if absent:
            raise PayloadError(f"columns {absent} are not in the DataFrame", field="columns")
        input_columns(columns, schema, ())  # a missing input, said before computing
    return _map(df, shipped, spec, params, columns=list(columns), batch_rows=batch_rows)


def predict_parts(
    model_uri: str | os.PathLike[str],
    *,
    params: dict[str, Any] | None = None,
    meta: Any = None,
    client: Any = None,
    allow_unsafe: bool | None = None,
    model_config: dict[str, Any] | None = None,
    ship: str = "auto",
    check_workers: bool = True,
    load_options: dict[str, Any] | None = None,
) -> tuple[ShippedModel, ResultSpec, dict[str, Any] | None, Schema | None]:
    """What the client does before mapping: resolve, check params and workers, ship.

    Returns (the shipped model, the result, the checked params, the input schema).
    """
    if ship not in SHIP_MODES:
        raise ValueError(f"ship must be one of {', '.join(SHIP_MODES)}, got {ship!r}")
    shipped, manifest = prepare(
        model_uri, allow_unsafe=allow_unsafe, model_config=model_config, load_options=load_options
    )
    signature = manifest.signature
    params = checked_params(signature, params)
    schema = signature.inputs if signature is not None else None
    spec = _spec(signature, meta)
    client = client if client is not None else _current_client()
    if client is not None:
        if check_workers:
            check_dask_workers(client, shipped)
        if ship == "files" or (ship == "auto" and not _all_local(client)):
            ship_to_workers(client, shipped)
            shipped = _shipped_as_files(shipped)
    return shipped, spec, params, schema


def _shipped_as_files(shipped: ShippedModel) -> ShippedModel:
    from dataclasses import replace

    from flavorkit.batch._engines import archive_name

    return replace(shipped, archive=archive_name(shipped))


def _map(
    df: Any,
    shipped: ShippedModel,
    spec: ResultSpec,
    params: dict[str, Any] | None,
    *,
    columns: list[str],
    batch_rows: int | None,
    keep: Sequence[str] = (),
    text: bool = False,
) -> Any:
    """``df`` mapped partition by partition to its predictions (and the ``keep`` columns)."""
    meta = empty_result(spec)  # --keep is checked by flavorkit.batch._engines.check_output
    if keep:
        import pandas as pd

        kept = df._meta[list(keep)]
        meta = pd.concat([kept, meta if spec.struct else meta.to_frame()], axis=1).reset_index(
            drop=True
        )
    selected = df[list(dict.fromkeys([*keep, *columns]))]
    return selected.map_partitions(
        score_partition,
        shipped,
        spec,
        params,
        columns,
        list(keep),
        text,
        batch_rows,
        meta=meta,
        align_dataframes=False,
    )


def score_partition(
    frame: pd.DataFrame,
    shipped: ShippedModel,
    spec: ResultSpec,
    params: dict[str, Any] | None,
    columns: list[str],
    keep: list[str],
    text: bool,
    batch_rows: int | None,
    partition_info: dict[str, Any] | None = None,
) -> Any:
    """One partition's predictions, indexed as the partition (a task on a worker)."""
    import pandas as pd

    partition = partition_info.get("number") if partition_info else None
    picklable_errors()  # the error, if any, goes to the client pickled
    try:
        model = load_shipped(shipped, _folder(shipped))
    except FlavorkitError as exc:
        raise mark(exc, partition, facts=False) from None
    # Dask sends the exception itself: no text line of facts for the driver to read back
    scorer = Scorer(model, spec, params, text=text, facts=False)
    inputs = frame[columns]
    parts = [scorer(chunk, first, partition) for first, chunk in batches(inputs, batch_rows)]
    out = parts[0] if len(parts) == 1 else pd.concat(parts, ignore_index=True)
    out.index = frame.index
    if keep:
        out = pd.concat([frame[keep], out if spec.struct else out.to_frame()], axis=1)
    return out


def _folder(shipped: ShippedModel) -> Path:
    if shipped.archive is None:
        return Path(shipped.path)
    from flavorkit.dask._ship import folders

    found = folders.get(shipped.identity)
    if found is None:
        raise FlavorkitError(
            f"model {shipped.uri!r} was not shipped to this worker (its plugin did not run here); "
            "register it again or pass ship='path' where the workers can read the folder"
        )
    return Path(found)


def _spec(signature: Any, meta: Any) -> ResultSpec:
    from flavorkit.signature import DataType

    if meta is not None:
        return spec_from_meta(meta)
    spec = result_spec(signature)
    return spec or ResultSpec((("prediction", DataType.double),), struct=False)


def spec_from_meta(meta: Any) -> ResultSpec:
    """The result a caller's ``meta`` describes: a Series (one value) or a DataFrame (several)."""
    import numpy as np
    import pandas as pd

    if isinstance(meta, pd.DataFrame):
        fields = tuple((str(c), _dtype_type(meta[c].dtype)) for c in meta.columns)
        return ResultSpec(fields, struct=True)
    if isinstance(meta, pd.Series):
        name = str(meta.name) if meta.name is not None else "prediction"
        return ResultSpec(((name, _dtype_type(meta.dtype)),), struct=False)
    if isinstance(meta, (str, np.dtype, type)):
        return ResultSpec((("prediction", _dtype_type(np.dtype(meta))),), struct=False)
    raise TypeError(f"meta must be a pandas Series, DataFrame or dtype, got {type(meta).__name__}")


def _dtype_type(dtype: Any) -> Any:
    import numpy as np

    from flavorkit.signature import AnyType, DataType

    if dtype == np.dtype(object):
        return AnyType()
    try:
        t = numpy_data_type(np.dtype(dtype))
    except TypeError:  # a pandas extension dtype (str, Int64 ...)
        return DataType.string if "str" in str(dtype).lower() else AnyType()
    return t


# ---------------------------------------------------------------- the workers


def _current_client() -> Any:
    try:
        from distributed import default_client
    except ImportError:
        return None
    try:
        return default_client()
    except ValueError:  # no client: the local scheduler runs the graph
        return None


def _all_local(client: Any) -> bool:
    from urllib.parse import urlparse

    workers = client.scheduler_info().get("workers", {})
    for address in workers:
        parsed = urlparse(address)
        if parsed.scheme != "inproc" and parsed.hostname not in _LOCAL_HOSTS:
            return False
    return True


def check_dask_workers(client: Any, shipped: ShippedModel) -> None:
    """Ask every worker for its packages (``client.run``) and compare them with the model's."""
    from flavorkit.batch._engines import WorkerEnvironmentError

    names = probe_names(shipped, extra=("pandas", "numpy", "dask", "distributed"))
    key = (str(client.scheduler.address), tuple(names))
    reports = _probed.get(key)
    if reports is None:
        try:
            reports = list(client.run(probe_function(), names).values())
        except Exception as exc:
            raise WorkerEnvironmentError(
                f"the Dask workers could not run a task to report their packages: "
                f"{type(exc).__name__}: {exc}",
                {"python": "could not run a task"},
            ) from exc
        if reports:
            _probed[key] = reports
    check_reports(shipped, reports, where="the Dask workers")


def ship_to_workers(client: Any, shipped: ShippedModel) -> None:
    """Send the folder, as an archive in a worker plugin, to every worker (and later ones)."""
    from flavorkit.batch._engines import archive
    from flavorkit.dask._ship import model_plugin

    data = archive(shipped).read_bytes()
    client.register_plugin(model_plugin(shipped.identity, data), name=_plugin_name(shipped))


def _plugin_name(shipped: ShippedModel) -> str:
    return f"flavorkit-model-{shipped.identity}"
