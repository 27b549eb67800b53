"""Run every benchmark and print one table (``make bench``).

Each ``bench_*.py`` module exposes ``run() -> list[dict]``; pass module names
(``python benchmarks/run.py bench_core``) to run a subset. The results are
also written to ``benchmarks/results/latest.json``.
"""

from __future__ import annotations

import importlib
import json
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _common import mlflow_available, print_table  # noqa: E402


def main(names: list[str]) -> int:
    modules = names or sorted(p.stem for p in HERE.glob("bench_*.py"))
    if not mlflow_available():
        print(
            "MLflow's environment is missing (make mlflow-env); MLflow columns stay empty.",
            file=sys.stderr,
        )
    rows = []
    for name in modules:
        started = time.perf_counter()
        print(f"running {name} ...", file=sys.stderr, flush=True)
        rows.extend(importlib.import_module(name).run())
        print(f"  {name} took {time.perf_counter() - started:.0f} s", file=sys.stderr)
    print_table(rows)
    out = HERE / "results" / "latest.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
