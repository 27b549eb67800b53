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
import traceback
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
    rows: list[dict] = []
    failed = []
    out = HERE / "results" / "latest.json"
    out.parent.mkdir(exist_ok=True)
    for name in modules:
        started = time.perf_counter()
        print(f"running {name} ...", file=sys.stderr, flush=True)
        try:
            found = importlib.import_module(name).run()
        except Exception:  # one broken benchmark must not lose the others' figures
            traceback.print_exc()
            failed.append(name)
            continue
        rows.extend(found)
        out.write_text(json.dumps(rows, indent=2))  # kept as it goes: a long run can be cut short
        print(f"  {name} took {time.perf_counter() - started:.0f} s", file=sys.stderr)
    print_table(rows)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
