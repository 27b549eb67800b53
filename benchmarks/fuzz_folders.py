"""Fuzz model folders: the adversarial suite's mutator, run on thousands of spoiled folders.

Saves one small model per flavor (scikit-learn, PyTorch export and
state_dict, the custom-model flavor, XGBoost; see
``tests/adversarial/adversarial_folders.py``), then for each trial copies one,
applies one to three hostile edits planned from a seeded ``random.Random``
(``flavorkit.testing._hostile.plan_mutations``, the planner the suite's
hypothesis test draws from) and probes ``load_model``, ``load_native``,
``flavorkit validate``, ``flavorkit info`` and ``flavorkit serve --check`` in
a pool of worker processes, under a blocking access watch and a time bound
per call. A worker that crashes or hangs is replaced; the trial counts as
crashed or over time.

Each folder lands in one class, the worst of its entry points:
``over time bound`` > ``other exception`` (a non-flavorkit exception, a
crash, a CLI error without its one-line message, a failed allocation) >
``flavorkit error`` (``load_model`` refused it cleanly) > ``loaded``. Access
violations and disagreements (``validate`` passed, a load failed) are
counted beside the classes.

    .venv/bin/python benchmarks/fuzz_folders.py            # 3,000 folders
    .venv/bin/python benchmarks/fuzz_folders.py --n 300 --workers 2 --json out.json
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import queue
import shutil
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SUITE = ROOT / "tests" / "adversarial"
sys.path.insert(0, str(SUITE))

CLASSES = ("loaded", "flavorkit error", "other exception", "over time bound")


@dataclass
class Trial:
    """One spoiled folder and what the entry points did with it."""

    index: int
    kind: str
    plan: list[str]
    outcomes: dict[str, Any] = field(default_factory=dict)
    violations: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def klass(self) -> str:
        statuses = {o.status for o in self.outcomes.values()}
        if "over_time" in statuses:
            return "over time bound"
        if statuses & {"raised", "crashed", "bad_output", "over_memory"}:
            return "other exception"
        load = self.outcomes.get("load_model")
        return "loaded" if load is not None and load.ok else "flavorkit error"

    def exception_types(self) -> list[str]:
        """``entry: type`` for each entry point that broke the contract (not over time)."""
        out = []
        for o in self.outcomes.values():
            if o.status in ("raised", "crashed", "over_memory"):
                out.append(f"{o.entry}: {o.status} {o.error_type}")
            elif o.status == "bad_output":
                out.append(f"{o.entry}: bad_output ({o.message})")
        return out


def _run_trials(args: argparse.Namespace, pristine: dict[str, Path], work: Path) -> list[Trial]:
    from adversarial_folders import HERE
    from adversarial_zoo import Sandbox
    from flavorkit.testing._hostile import (
        FolderShape,
        RandomChooser,
        contract_problems,
        plan_mutations,
    )
    from flavorkit.testing._hostile_worker import Worker, worker_env

    shapes = {kind: FolderShape.of(path) for kind, path in pristine.items()}
    kinds = sorted(pristine)
    tasks: queue.Queue[int | None] = queue.Queue()
    for i in range(args.n):
        tasks.put(i)
    results: list[Trial] = []
    lock = threading.Lock()
    started = time.monotonic()
    preload = sorted(
        {
            "flavorkit",
            "flavorkit.cli",
            "pandas",
            "sklearn",
            "skops.io",
            "torch",
            "safetensors.torch",
            "xgboost",
        }
        & set(args.preload.split(","))
    )
    restarts = []

    def worker_loop(slot: int) -> None:
        cwd = work / f"cwd-{slot}"
        cwd.mkdir()
        tmp = work / f"tmp-{slot}"
        tmp.mkdir()
        with Worker(cwd=cwd, env=worker_env([HERE]), preload=preload, tmpdir=tmp) as worker:
            while True:
                try:
                    index = tasks.get_nowait()
                except queue.Empty:
                    break
                kind = kinds[index % len(kinds)]
                plan = plan_mutations(RandomChooser(f"{args.seed}-{index}"), shapes[kind])
                root = work / f"trial-{index:05d}"
                root.mkdir()
                try:
                    box = Sandbox.create(root, pristine[kind])
                    applied = [str(m) for m in plan if m.apply(box.folder, box.secret)]
                    begin = time.monotonic()
                    report = worker.run(
                        box.folder,
                        bound_s=args.bound,
                        scratch=[box.scratch],
                        tmpdir=box.scratch,
                        block=True,
                    )
                    trial = Trial(index, kind, applied, report.outcomes, report.violations)
                    trial.seconds = time.monotonic() - begin
                    trial.problems = contract_problems(report.outcomes)
                finally:
                    shutil.rmtree(root, ignore_errors=True)
                with lock:
                    results.append(trial)
                    done = len(results)
                if args.progress and done % max(1, args.n // 20) == 0:
                    rate = done / (time.monotonic() - started)
                    print(f"  {done}/{args.n} folders ({rate:.1f}/s)", file=sys.stderr, flush=True)
            restarts.append(worker.restarts)

    threads = [threading.Thread(target=worker_loop, args=(s,)) for s in range(args.workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    args.restarts = sum(restarts)
    return sorted(results, key=lambda t: t.index)


def _report(args: argparse.Namespace, trials: list[Trial], seconds: float) -> dict[str, Any]:
    by_class = collections.Counter(t.klass for t in trials)
    by_kind: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    for t in trials:
        by_kind[t.kind][t.klass] += 1
    by_entry: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    for t in trials:
        for o in t.outcomes.values():
            by_entry[o.entry][o.status] += 1
    types: collections.Counter[str] = collections.Counter()
    samples: dict[str, Trial] = {}
    for t in trials:
        for name in t.exception_types() + [
            f"{o.entry}: over_time" for o in t.outcomes.values() if o.status == "over_time"
        ]:
            types[name] += 1
            samples.setdefault(name, t)
    violations = [t for t in trials if t.violations]
    disagreements = [
        t
        for t in trials
        if any("validate passed" in p or "load_model worked" in p for p in t.problems)
    ]

    print(
        f"\nfuzzed {len(trials)} folders in {seconds:.0f} s with {args.workers} workers "
        f"(bound {args.bound:g} s per call, seed {args.seed!r}, {args.restarts} worker restarts)"
    )
    print("\noutcome by class (the worst entry point of each folder):")
    for klass in CLASSES:
        print(f"  {klass:<17} {by_class[klass]:>6}")
    print("\nby flavor:")
    for kind in sorted(by_kind):
        row = ", ".join(f"{k} {by_kind[kind][k]}" for k in CLASSES if by_kind[kind][k])
        print(f"  {kind:<19} {row}")
    print("\nby entry point (status counts):")
    for entry in sorted(by_entry):
        row = ", ".join(f"{s} {n}" for s, n in by_entry[entry].most_common())
        print(f"  {entry:<12} {row}")
    print("\nnon-flavorkit outcomes by type, with a sample each:")
    for name, count in types.most_common():
        t = samples[name]
        entry = name.split(":", 1)[0]
        o = t.outcomes[entry]
        print(f"  {count:>5}  {name}")
        print(f"         sample #{t.index} ({t.kind}): {t.plan}")
        print(f"         {o.describe()[:400]}")
    if not types:
        print("  none")
    print(f"\naccess violations: {len(violations)} folders")
    for t in violations[:5]:
        print(f"  #{t.index} ({t.kind}) {t.plan}: {t.violations[:2]}")
    print(f"validate/load disagreements: {len(disagreements)} folders")
    for t in disagreements[:5]:
        print(
            f"  #{t.index} ({t.kind}) {t.plan}: "
            + next(p for p in t.problems if "validate passed" in p or "load_model worked" in p)
        )
    print(
        f"\nfolders tried {len(trials)}, loaded {by_class['loaded']}, "
        f"flavorkit error {by_class['flavorkit error']}, "
        f"other exception {by_class['other exception']}, "
        f"over time bound {by_class['over time bound']}"
    )
    return {
        "folders": len(trials),
        "seconds": round(seconds, 1),
        "workers": args.workers,
        "bound_s": args.bound,
        "seed": args.seed,
        "classes": {k: by_class[k] for k in CLASSES},
        "by_kind": {k: dict(v) for k, v in by_kind.items()},
        "by_entry": {k: dict(v) for k, v in by_entry.items()},
        "types": dict(types),
        "access_violations": len(violations),
        "disagreements": len(disagreements),
        "samples": {
            name: {
                "index": t.index,
                "kind": t.kind,
                "plan": t.plan,
                "outcome": t.outcomes[name.split(":", 1)[0]].describe(),
            }
            for name, t in samples.items()
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=3000, help="folders to try (default 3000)")
    parser.add_argument(
        "--workers",
        type=int,
        default=os.cpu_count() or 2,
        help="worker processes (default: one per CPU)",
    )
    parser.add_argument(
        "--bound",
        type=float,
        default=15.0,
        help="seconds one entry point may take on one folder (default 15)",
    )
    parser.add_argument(
        "--seed", default="flavorkit", help="seed of the planner (default flavorkit)"
    )
    parser.add_argument(
        "--kinds",
        default="sklearn,pytorch_export,pytorch_state_dict,custom,xgboost",
        help="flavors to fuzz, comma-separated (default: all five)",
    )
    parser.add_argument(
        "--preload",
        default="flavorkit,flavorkit.cli,pandas,sklearn,skops.io,torch,safetensors.torch,xgboost",
        help="modules each worker imports first",
    )
    parser.add_argument("--json", type=Path, help="write the figures as JSON here")
    parser.add_argument("--quiet", dest="progress", action="store_false", help="no progress lines")
    args = parser.parse_args(argv)

    from adversarial_folders import save_pristine

    work = Path(tempfile.mkdtemp(prefix="flavorkit-fuzz-"))
    try:
        print(f"saving pristine folders into {work} ...", file=sys.stderr, flush=True)
        pristine = save_pristine(work / "pristine", args.kinds.split(","))
        start = time.monotonic()
        trials = _run_trials(args, pristine, work)
        figures = _report(args, trials, time.monotonic() - start)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
