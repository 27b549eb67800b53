"""Where a served request's time goes, step by step, in one process (no HTTP).

The serving benchmark's model and request (a scikit-learn LogisticRegression
on 10 double columns, one row per request), 16 requests joined into one
micro-batch as the server joins them: parsing and validating each body, the
one typed frame of the batch, the model's predict (enforcement and
scikit-learn), and cutting and encoding each answer. scikit-learn's own
``predict`` on that frame and on the same ndarray are measured beside it, as
the references of what the framework itself costs. Medians of 7 rounds.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import row

REQUESTS = 16
ROUNDS = 7


def _median_seconds(fn: Callable[[], Any], calls: int = 200) -> float:
    samples = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        for _ in range(calls):
            fn()
        samples.append((time.perf_counter() - started) / calls)
    return statistics.median(samples)


def run() -> list[dict[str, Any]]:
    """Measure and return the rows."""
    import flavorkit
    from bench_serve import _body, _model
    from flavorkit.io import Parsed, Rows, encode_predictions
    from flavorkit.server._scorer import JSON, Scorer, split_predictions

    with tempfile.TemporaryDirectory(prefix="bench-serve-steps-") as tmp:
        path, estimator, one = _model(Path(tmp))
        scorer = Scorer(flavorkit.load_model(path))
        scorer.self_test()
    body = _body(one).encode()
    requests = [scorer.prepare(body, JSON) for _ in range(REQUESTS)]
    rows = [r for request in requests for r in request.rows.rows]  # type: ignore[union-attr]
    joined = Parsed(rows=Rows(requests[0].rows.columns, rows), vouched=True)  # type: ignore[union-attr]
    frame = scorer._data(joined)
    result = scorer.model.predict(frame)
    array = frame.to_numpy()
    steps = [
        ("parse and validate each body", lambda: [scorer.prepare(body, JSON) for _ in requests]),
        ("the batch's typed frame", lambda: scorer._data(joined)),
        ("model.predict (enforcement + scikit-learn)", lambda: scorer.model.predict(frame)),
        (
            "cut and encode each answer",
            lambda: [encode_predictions(p) for p in split_predictions(result, [1] * REQUESTS)],
        ),
        (
            "the whole batch (all of the above)",
            lambda: scorer.score_batch([scorer.prepare(body, JSON) for _ in requests]),
        ),
    ]
    sklearn_frame = _median_seconds(lambda: estimator.predict(frame))
    sklearn_array = _median_seconds(lambda: estimator.predict(array))
    out = []
    for name, fn in steps:
        seconds = _median_seconds(fn)
        out.append(
            row(
                f"serve steps, a batch of {REQUESTS} one-row requests",
                name,
                "us/request",
                seconds / REQUESTS * 1e6,
                note=f"{seconds * 1e6:,.0f} us per batch",
            )
        )
    out.append(
        row(
            f"serve steps, a batch of {REQUESTS} one-row requests",
            "scikit-learn predict on the batch's DataFrame",
            "us/request",
            sklearn_frame / REQUESTS * 1e6,
            raw=sklearn_array / REQUESTS * 1e6,
            note="raw = the same rows as an ndarray: what scikit-learn's DataFrame checks cost",
        )
    )
    return out
