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
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
MLFLOW_PYTHON = ROOT / ".venvs" / "mlflow" / "bin" / "python"


def mlflow_available() -> bool:
    """Whether ``make mlflow-env`` has built MLflow's environment."""
    return MLFLOW_PYTHON.is_file()


def run_python(
    code: str, *, python: str | Path = sys.executable, env: dict[str, str] | None = None
) -> Any:
    """Run ``code`` in a fresh interpreter; it must print one JSON document last. Returns it."""
    out = subprocess.run(
        [str(python), "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        cwd=ROOT,
    )
    if out.returncode:
        raise RuntimeError(f"benchmark child {python} failed:\n{out.stderr[-3000:]}")
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
