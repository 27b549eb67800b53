"""Dask: 1,000,000 rows scored by `flavorkit.dask.predict` and by a hand-written map_partitions.

A scikit-learn LinearRegression (10 float features) scores a Parquet input
of ``BENCH_DASK_ROWS`` rows (1,000,000) in 8 files (8 partitions). Both
variants compute the same graph but for the scoring function: read the
Parquet files, score each partition, and sum the predictions (so the
predictions are not shipped back whole):

- flavorkit: ``flavorkit.dask.predict(df, MODEL)``: meta from the output
  schema, the model loaded once per worker process, each partition
  converted exactly and enforced;
- raw: ``df[features].map_partitions(lambda p: pd.Series(est.predict(p)))``
  with the estimator loaded with skops once on the client (it travels with
  the graph).

MLflow has no Dask integration, so its column stays empty. Two schedulers:
the threaded one (one process), and a ``distributed`` LocalCluster of two
worker processes with one thread each. Timing: each variant runs once
unrecorded, then ``BENCH_DASK_REPEAT`` (7) rounds, in alternating order; medians are
reported. Memory (threaded scheduler only): each variant in its own process,
its peak resident memory (``getrusage``). Figures are printed, never asserted.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from _common import regression_parquet, row, run_python

ROWS = int(os.environ.get("BENCH_DASK_ROWS", "1000000"))
REPEAT = int(os.environ.get("BENCH_DASK_REPEAT", "7"))
FILES = 8
FEATURES = [f"f{i}" for i in range(10)]

CHILD = r"""
import json, os, resource, statistics, sys, time

import dask.dataframe as dd
import pandas as pd

mode, data, model_dir, repeat, variants = sys.argv[1:6]
variants = variants.split(",")


def flavorkit_scores(df):
    import flavorkit.dask
    return flavorkit.dask.predict(df, model_dir, client=client)


def raw_scores(df):
    import skops.io as sio
    model_file = os.path.join(model_dir, "model.skops")
    est = sio.load(model_file, trusted=sio.get_untrusted_types(file=model_file))
    features = [c for c in df.columns if c != "id"]
    return df[features].map_partitions(
        lambda part: pd.Series(est.predict(part), index=part.index, name="prediction"),
        meta=("prediction", "float64"),
    )


def run(make):
    start = time.perf_counter()
    total = make(dd.read_parquet(data)).sum()
    value = client.compute(total).result() if client is not None else total.compute()
    assert value == value  # not NaN: every row scored
    return time.perf_counter() - start


client = None
if mode == "cluster":
    from distributed import Client, LocalCluster
    cluster = LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
        dashboard_address=":0",
    )
    client = Client(cluster)
makers = {name: globals()[name + "_scores"] for name in variants}
if mode == "memory":
    import dask
    with dask.config.set(scheduler="threads"):
        run(makers[variants[0]])
        run(makers[variants[0]])
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({variants[0]: peak}))
else:
    import dask
    with dask.config.set(scheduler="threads"):
        for make in makers.values():
            run(make)  # warm: imports, the model loaded
        times = {name: [] for name in makers}
        for round_ in range(int(repeat)):
            order = list(makers.items())
            for name, make in order if round_ % 2 == 0 else order[::-1]:  # neither always first
                times[name].append(run(make))
    print(json.dumps({name: statistics.median(t) for name, t in times.items()}))
if client is not None:
    client.close()
    cluster.close()
"""


def _child(mode: str, data: Path, model: Path, variants: list[str]) -> dict[str, float]:
    return run_python(CHILD, args=[mode, str(data), str(model), str(REPEAT), ",".join(variants)])


def run() -> list[dict[str, Any]]:
    """Score the rows on both schedulers; return the rows of the table."""
    variants = ["flavorkit", "raw"]
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-dask-") as tmp:
        model, data = regression_parquet(Path(tmp), rows=ROWS, files=FILES, features=FEATURES)
        threaded = _child("threads", data, model, variants)
        cluster = _child("cluster", data, model, variants)
        peaks: dict[str, float] = {}
        for variant in variants:
            peaks.update(_child("memory", data, model, [variant]))
    for label, seconds in (
        ("threaded scheduler", threaded),
        ("LocalCluster, 2 worker processes", cluster),
    ):
        ours, raw = seconds["flavorkit"], seconds["raw"]
        rows.append(
            row(
                f"Dask map_partitions, {ROWS:,} rows x 10 features, {label}",
                "throughput",
                "rows/s",
                ROWS / ours,
                raw=ROWS / raw,
                note=f"{ours / raw:.2f}x the hand-written map_partitions' time "
                f"({ours:.2f} s vs {raw:.2f} s); MLflow has no Dask integration",
                higher_is_better=True,
            )
        )
    rows.append(
        row(
            f"Dask map_partitions, {ROWS:,} rows x 10 features, threaded scheduler",
            "peak RSS",
            "MiB",
            peaks["flavorkit"],
            raw=peaks["raw"],
            note=f"{peaks['flavorkit'] / peaks['raw']:.2f}x the hand-written map_partitions; "
            "the whole process (Parquet read, scoring, the sum)",
        )
    )
    return rows


if __name__ == "__main__":
    from _common import print_table

    print_table(run())
