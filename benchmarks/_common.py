"""Shared plumbing of the benchmarks: the MLflow environment, subprocess runs, timing, tables.

Benchmarks print figures side by side (flavorkit, MLflow, the raw framework)
measured in one run; they never assert them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import timeit
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
MLFLOW_PYTHON = ROOT / ".venvs" / "mlflow" / "bin" / "python"


def mlflow_available() -> bool:
    """Whether ``make mlflow-env`` has built MLflow's environment."""
    return MLFLOW_PYTHON.is_file()


def run_python(
    code: str,
    *,
    python: str | Path = sys.executable,
    env: dict[str, str] | None = None,
    args: Sequence[str] = (),
) -> Any:
    """Run ``code`` (with ``args`` as ``sys.argv[1:]``) in a fresh interpreter.

    It must print one JSON document last; that document is returned.
    """
    out = subprocess.run(
        [str(python), "-c", textwrap.dedent(code), *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        cwd=ROOT,
    )
    if out.returncode:
        raise RuntimeError(f"benchmark child {python} {list(args)} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def per_call(fn: Callable[[], Any], *, budget: float = 0.5, repeat: int = 5) -> float:
    """Seconds per call of ``fn``: the best of ``repeat`` rounds sized to ``budget`` seconds."""
    number, elapsed = 1, 0.0
    while elapsed < budget / repeat and number < 10**6:
        elapsed = timeit.timeit(fn, number=number)
        number *= 2
    return min(timeit.repeat(fn, number=number, repeat=repeat)) / number


PER_CALL_SOURCE = textwrap.dedent(
    """
    def per_call(fn, budget=0.5, repeat=5):
        import timeit
        number, elapsed = 1, 0.0
        while elapsed < budget / repeat and number < 10**6:
            elapsed = timeit.timeit(fn, number=number)
            number *= 2
        return min(timeit.repeat(fn, number=number, repeat=repeat)) / number
    """
)


def row(
    benchmark: str,
    metric: str,
    unit: str,
    flavorkit: float | None,
    mlflow: float | None = None,
    raw: float | None = None,
    note: str = "",
    *,
    higher_is_better: bool = False,
) -> dict[str, Any]:
    """One line of the results table.

    ``ratio`` is how many times better flavorkit does than MLflow: MLflow /
    flavorkit for costs (time, memory), flavorkit / MLflow for rates.
    """
    ratio = None
    if mlflow and flavorkit:
        ratio = flavorkit / mlflow if higher_is_better else mlflow / flavorkit
    return {
        "benchmark": benchmark,
        "metric": metric,
        "unit": unit,
        "flavorkit": flavorkit,
        "mlflow": mlflow,
        "raw": raw,
        "ratio": ratio,
        "note": note,
    }


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.3g}" if abs(value) < 1000 else f"{value:,.0f}"
    return str(value)


def print_table(rows: list[dict[str, Any]]) -> None:
    """Print rows as one aligned table."""
    header = [
        "benchmark",
        "metric",
        "unit",
        "flavorkit",
        "mlflow",
        "raw",
        "flavorkit advantage",
        "note",
    ]
    cells = [header] + [
        [
            r["benchmark"],
            r["metric"],
            r["unit"],
            _fmt(r["flavorkit"]),
            _fmt(r["mlflow"]),
            _fmt(r["raw"]),
            f"{r['ratio']:.1f}x" if r["ratio"] else "-",
            r.get("note", ""),
        ]
        for r in rows
    ]
    widths = [max(len(str(c[i])) for c in cells) for i in range(len(header))]
    for i, line in enumerate(cells):
        print("  ".join(str(c).ljust(w) for c, w in zip(line, widths, strict=True)).rstrip())
        if i == 0:
            print("  ".join("-" * w for w in widths))


def regression_parquet(
    folder: Path, *, rows: int, files: int, features: list[str]
) -> tuple[Path, Path]:
    """A saved LinearRegression on ``features`` and ``rows`` rows for it in ``files`` Parquet files.

    Returns (the model folder, the folder of Parquet files); each file has an
    ``id`` column first. The engine benchmarks (Spark, Dask) score these.
    """
    import flavorkit
    import numpy as np
    import pandas as pd
    from sklearn.linear_model import LinearRegression

    rng = np.random.default_rng(0)
    train = pd.DataFrame(rng.normal(size=(1000, len(features))), columns=features)
    model = folder / "model"
    flavorkit.save_model(
        LinearRegression().fit(train, train.sum(axis=1)), model, input_example=train.head(3)
    )
    data = folder / "data"
    data.mkdir()
    per_file = -(-rows // files)
    for i in range(files):
        n = min(per_file, rows - i * per_file)
        frame = pd.DataFrame(rng.normal(size=(n, len(features))), columns=features)
        frame.insert(0, "id", np.arange(i * per_file, i * per_file + n))
        frame.to_parquet(data / f"part-{i:02d}.parquet", index=False)
    return model, data
