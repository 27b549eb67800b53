"""flavorkit.dask on Dask's threaded scheduler and on real ``distributed`` LocalClusters."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import flavorkit
import numpy as np
import pandas as pd
import pytest
from engine_support import Models, copy_with_requirement
from flavorkit.exceptions import PayloadError, SchemaEnforcementError

pytestmark = pytest.mark.dask

dd = pytest.importorskip("dask.dataframe", reason="dask is not installed (flavorkit[dask])")
distributed = pytest.importorskip("distributed", reason="distributed is not installed")
import flavorkit.dask  # noqa: E402


@pytest.fixture(scope="module")
def threads_cluster() -> Iterator[Any]:
    """A LocalCluster of two workers in this process (threads): quick to start."""
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0"
        ) as cluster,
        distributed.Client(cluster, set_as_default=False) as client,
    ):
        yield client


@pytest.fixture(scope="module")
def process_cluster() -> Iterator[Any]:
    """A LocalCluster of two worker processes: the model must reach and load in each."""
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=":0",
        ) as cluster,
        distributed.Client(cluster, set_as_default=False) as client,
    ):
        yield client


def _expected(path: Path, data: Any, **kwargs: Any) -> np.ndarray:
    return np.asarray(flavorkit.load_model(path, **kwargs).predict(data))


def test_dask_threaded_scheduler_meta_and_index(models: Models) -> None:
    frame = models.frame.set_axis(np.arange(1000, 1300), axis=0).assign(extra="id")
    ddf = dd.from_pandas(frame, npartitions=3)
    scores = flavorkit.dask.predict(ddf, models.regressor)
    assert scores._meta.dtype == np.float64 and scores.name == "prediction"
    assert scores.npartitions == 3
    out = ddf.assign(p=scores).compute(scheduler="threads")
    assert list(out.index) == list(frame.index)  # aligned with the input's index
    np.testing.assert_allclose(out["p"], _expected(models.regressor, models.frame))


def test_dask_several_outputs_and_params(models: Models) -> None:
    ddf = dd.from_pandas(models.frame, npartitions=2)
    out = flavorkit.dask.predict(ddf, models.two_outputs, allow_unsafe=True, params={"scale": 3})
    assert list(out.columns) == ["score", "label"]
    assert out._meta["score"].dtype == np.float64
    got = out.compute(scheduler="sync")
    np.testing.assert_allclose(got["score"], 3 * (models.frame["a"] + 2 * models.frame["b"]))
    assert set(got["label"]) == {"high", "low"}
    with pytest.raises(SchemaEnforcementError, match="scale"):
        flavorkit.dask.predict(ddf, models.two_outputs, allow_unsafe=True, params={"scale": "x"})


def test_dask_torch_tensor_signature(models: Models) -> None:
    rows = np.random.default_rng(6).normal(size=(120, 4)).astype("float32")
    ddf = dd.from_pandas(pd.DataFrame(rows, columns=["f0", "f1", "f2", "f3"]), npartitions=3)
    out = flavorkit.dask.predict(ddf, models.torch, batch_rows=25).compute(scheduler="threads")
    got = np.stack(out.to_numpy())
    assert got.dtype == np.float32 and got.shape == (120, 2)
    np.testing.assert_allclose(got, _expected(models.torch, rows), rtol=0, atol=1e-6)


def test_dask_missing_column_fails_before_computing(models: Models) -> None:
    ddf = dd.from_pandas(models.frame[["a", "b"]], npartitions=2)
    with pytest.raises(SchemaEnforcementError, match=r"missing inputs \['c'\]") as caught:
        flavorkit.dask.predict(ddf, models.regressor)
    assert caught.value.field == "c"
    with pytest.raises(PayloadError, match="not in the DataFrame"):
        flavorkit.dask.predict(ddf, models.regressor, columns=["a", "b", "z"])


def test_dask_lossy_value_names_partition_rows_and_column(
    models: Models, threads_cluster: Any
) -> None:
    values = np.arange(90, dtype="float64")
    values[50] = 50.5
    ddf = dd.from_pandas(pd.DataFrame({"n": values}), npartitions=3)  # 30 rows each
    for run in (
        lambda s: s.compute(scheduler="threads"),
        lambda s: threads_cluster.compute(s).result(),
    ):
        scores = flavorkit.dask.predict(
            ddf, models.whole, allow_unsafe=True, client=threads_cluster, batch_rows=10
        )
        with pytest.raises(SchemaEnforcementError) as caught:
            run(scores)
        error = caught.value
        assert error.field == "n" and error.partition == 1 and error.rows == (21, 30)
        assert str(error).startswith("partition 1, rows 21-30: ")
        assert "row 21" in str(error) and "not whole" in str(error)  # 21st row of partition 1


def test_dask_distributed_threads_ships_files(models: Models, threads_cluster: Any) -> None:
    ddf = dd.from_pandas(models.frame, npartitions=4)
    scores = flavorkit.dask.predict(ddf, models.regressor, client=threads_cluster, ship="files")
    got = threads_cluster.compute(scores).result()
    np.testing.assert_allclose(got, _expected(models.regressor, models.frame))
    folders = threads_cluster.run(
        lambda dask_worker: sorted(p.name for p in Path(dask_worker.local_directory).iterdir())
    )
    for names in folders.values():
        assert any(n.startswith("flavorkit-model-") and not n.endswith(".tar") for n in names)


def test_dask_worker_processes_load_the_model_once_each(
    models: Models, process_cluster: Any, tmp_path: Path
) -> None:
    log = tmp_path / "calls.log"
    frame = pd.DataFrame({"x": np.arange(400, dtype="float64")})
    ddf = dd.from_pandas(frame, npartitions=8)
    scores = flavorkit.dask.predict(
        ddf,
        models.counts,  # its class is importable only from the folder's code/
        client=process_cluster,
        allow_unsafe=True,
        model_config={"log": str(log)},
        ship="files",
    )
    got = process_cluster.compute(scores).result()
    np.testing.assert_array_equal(got.sort_index(), frame["x"] * 2)
    lines = [line.split() for line in log.read_text().splitlines()]
    loads = Counter(fields[1] for fields in lines if fields[0] == "load")
    calls = [fields[1] for fields in lines if fields[0] == "predict"]
    assert len(calls) == 8
    assert set(loads.values()) == {1}
    assert set(loads) == set(calls)
    workers = set(process_cluster.run(os.getpid).values())
    assert {int(pid) for pid in loads} <= workers


def test_dask_incompatible_requirement_is_reported_by_package(
    models: Models, process_cluster: Any, tmp_path: Path
) -> None:
    folder = copy_with_requirement(models, tmp_path, "numpy<1")
    ddf = dd.from_pandas(models.frame, npartitions=2)
    with pytest.raises(flavorkit.dask.WorkerEnvironmentError) as caught:
        flavorkit.dask.predict(ddf, folder, client=process_cluster)
    assert set(caught.value.problems) == {"numpy"}
    assert "required <1" in caught.value.problems["numpy"]


def test_dask_registry_and_s3_models(models: Models, registered: str, s3_model: str) -> None:
    ddf = dd.from_pandas(models.frame, npartitions=2)
    expected = _expected(models.regressor, models.frame)
    for uri in (registered, s3_model):
        got = flavorkit.dask.predict(ddf, uri).compute(scheduler="threads")
        np.testing.assert_allclose(got, expected)
