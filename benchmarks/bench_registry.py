"""The registry: loading a registered version, and searching many versions.

- Loading: ``flavorkit.load_model("models:/quickstart/1")`` and
  ``"models:/quickstart@prod"`` next to ``load_model`` of the same local
  folder, in one process (the version's digests were checked by an earlier
  load in it), and as the first load of a new process (digests checked, the
  database opened). The goal is within 5 ms of the local folder.
- Searching: 10,000 versions (100 models x 100 versions) registered in the
  embedded registry and, with the same names, in MLflow's SQL store
  (``MlflowClient`` on ``sqlite:///``); searching the versions of the models
  whose name matches a pattern (1,100 versions), and listing all 10,000.
  MLflow pages through ``search_model_versions`` (at most 10,000 per page).
"""

from __future__ import annotations

import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import MLFLOW_PYTHON, mlflow_available, row, run_python

MODELS, VERSIONS = 100, 100
LOADS = 30
PATTERN = "model-1%"  # model-1, model-10..model-19: 11 models, 1,100 versions

SAVE = """
import json, flavorkit, numpy as np
from sklearn.linear_model import LogisticRegression
X = np.arange(40.0).reshape(20, 2)
flavorkit.save_model(LogisticRegression().fit(X, np.arange(20) % 2), FOLDER, input_example=X[:2])
print(json.dumps({}))
"""

FIRST_LOAD = """
import json, time
started = time.perf_counter()
import flavorkit
flavorkit.load_model(URI)
print(json.dumps({"seconds": time.perf_counter() - started}))
"""

MLFLOW_SEARCH = """
import json, time, logging
logging.disable(logging.WARNING)
from mlflow import MlflowClient
client = MlflowClient(tracking_uri=DB, registry_uri=DB)
for i in range(MODELS):
    client.create_registered_model(f"model-{i}")
    for _ in range(VERSIONS):
        client.create_model_version(f"model-{i}", source=FOLDER)

def everything(filter_string):
    out, token = [], None
    while True:
        page = client.search_model_versions(filter_string, max_results=10000, page_token=token)
        out.extend(page)
        token = page.token
        if not token:
            return out

def best(fn, repeat=5):
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        found = fn()
        times.append(time.perf_counter() - started)
    return min(times), len(found)

pattern, n_pattern = best(lambda: everything("name LIKE 'NAME_PATTERN'"))
listing, n_all = best(lambda: everything(""))
print(json.dumps({"pattern": pattern, "n_pattern": n_pattern, "all": listing, "n_all": n_all}))
"""


def _load_times(uris: list[str]) -> dict[str, float]:
    """Median seconds of ``load_model`` per URI, interleaved in this process."""
    import flavorkit

    for uri in uris:  # first loads: imports, the digest check
        flavorkit.load_model(uri)
    samples: dict[str, list[float]] = {uri: [] for uri in uris}
    for _ in range(LOADS):
        for uri in uris:
            started = time.perf_counter()
            flavorkit.load_model(uri)
            samples[uri].append(time.perf_counter() - started)
    return {uri: statistics.median(times) for uri, times in samples.items()}


def _first_loads(uris: list[str], env: dict[str, str], runs: int = 9) -> dict[str, float]:
    samples: dict[str, list[float]] = {uri: [] for uri in uris}
    for _ in range(runs):
        for uri in uris:
            code = FIRST_LOAD.replace("URI", repr(uri))
            samples[uri].append(run_python(code, env=env)["seconds"])
    return {uri: statistics.median(times) for uri, times in samples.items()}


def _search(registry: Any, repeat: int = 5) -> dict[str, float]:
    def best(fn: Any) -> tuple[float, int]:
        times, found = [], []
        for _ in range(repeat):
            started = time.perf_counter()
            found = fn()
            times.append(time.perf_counter() - started)
        return min(times), len(found)

    pattern, n_pattern = best(lambda: registry.search_versions(PATTERN))
    listing, n_all = best(lambda: registry.search_versions())
    return {"pattern": pattern, "n_pattern": n_pattern, "all": listing, "n_all": n_all}


def run() -> list[dict[str, Any]]:
    """Measure and return the rows."""
    root = Path(tempfile.mkdtemp(prefix="flavorkit-bench-registry-"))
    saved = {k: os.environ.get(k) for k in ("FLAVORKIT_REGISTRY_URI", "FLAVORKIT_CACHE_DIR")}
    env = {"FLAVORKIT_REGISTRY_URI": str(root / "registry"), "FLAVORKIT_CACHE_DIR": str(root)}
    os.environ.update(env)
    try:
        import flavorkit.registry as registry
        from flavorkit.registry._resolve import forget_registries, open_registry

        folder = root / "quickstart"
        run_python(SAVE.replace("FOLDER", repr(str(folder))))
        registry.register_model(folder, "quickstart")
        registry.set_alias("quickstart", "prod", 1)
        uris = [str(folder), "models:/quickstart/1", "models:/quickstart@prod"]
        warm = _load_times(uris)
        first = _first_loads(uris, env)

        started = time.perf_counter()
        for i in range(MODELS):
            for _ in range(VERSIONS):
                registry.register_model(folder, f"model-{i}")
        populate = time.perf_counter() - started
        ours = _search(open_registry())
        forget_registries()
        theirs = None
        if mlflow_available():
            code = (
                MLFLOW_SEARCH.replace("DB", repr(f"sqlite:///{root / 'mlflow.db'}"))
                .replace("FOLDER", repr(str(folder)))
                .replace("MODELS", str(MODELS))
                .replace("VERSIONS", str(VERSIONS))
                .replace("NAME_PATTERN", PATTERN)
            )
            theirs = run_python(code, python=MLFLOW_PYTHON)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        shutil.rmtree(root, ignore_errors=True)

    local, by_number, by_alias = (warm[u] for u in uris)
    rows = [
        row(
            "registry",
            "load models:/quickstart/1 (warm)",
            "ms",
            by_number * 1e3,
            raw=local * 1e3,
            note=f"{(by_number - local) * 1e3:+.2f} ms vs the local folder (goal: within 5 ms)",
        ),
        row(
            "registry",
            "load models:/quickstart@prod (warm)",
            "ms",
            by_alias * 1e3,
            raw=local * 1e3,
            note=f"{(by_alias - local) * 1e3:+.2f} ms vs the local folder",
        ),
    ]
    f_local, f_number, _ = (first[u] for u in uris)
    rows.append(
        row(
            "registry",
            "new process: import + load models:/quickstart/1",
            "ms",
            f_number * 1e3,
            raw=f_local * 1e3,
            note=f"{(f_number - f_local) * 1e3:+.1f} ms vs the local folder (digests checked)",
        )
    )
    for key, what in (("pattern", f"search versions of '{PATTERN}'"), ("all", "list all")):
        rows.append(
            row(
                "registry",
                f"{what} ({ours[f'n_{key}']:,} of {MODELS * VERSIONS + 1:,} versions)",
                "ms",
                ours[key] * 1e3,
                theirs[key] * 1e3 if theirs else None,
                note=(f"MLflow found {theirs[f'n_{key}']:,}" if theirs else "MLflow not measured")
                + f"; registering {MODELS * VERSIONS:,} versions took {populate:.0f} s",
            )
        )
    return rows
