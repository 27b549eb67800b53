"""Micro-batching: joined predict calls, per-request results and errors, in-process."""

from __future__ import annotations

import asyncio
import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import flavorkit
import pytest
from _serving_models import LINEAR_SIGNATURE, save_linear, save_total
from flavorkit.exceptions import SchemaEnforcementError
from flavorkit.io import Parsed, Rows, parse_json
from flavorkit.server._batching import MicroBatcher
from flavorkit.server._scorer import Scorer


class Recorder:
    """A scorer that answers each request with its first value and records every call."""

    batchable = True

    def __init__(self) -> None:
        self.calls: list[int] = []

    def score_batch(self, requests: list[Parsed]) -> list[bytes | BaseException]:
        self.calls.append(len(requests))
        return [json.dumps(r.rows.rows[0][0] if r.rows else r.data).encode() for r in requests]


def row(value: int) -> Parsed:
    return Parsed(rows=Rows(("x",), [[value]]))


def run_jobs(batcher: MicroBatcher, requests: list[Parsed]) -> list[bytes]:
    async def go() -> list[bytes]:
        batcher.start()
        futures = [batcher.enqueue(r) for r in requests]
        try:
            return list(await asyncio.gather(*futures))
        finally:
            await batcher.close()

    return asyncio.run(go())


@pytest.fixture
def executor():
    with ThreadPoolExecutor(max_workers=1) as pool:
        yield pool


def test_batcher_joins_queued_requests_into_one_call(executor: ThreadPoolExecutor) -> None:
    scorer = Recorder()
    results = run_jobs(MicroBatcher(scorer, executor, max_rows=64), [row(i) for i in range(10)])
    assert scorer.calls == [10]
    assert [json.loads(r) for r in results] == list(range(10))


def test_batcher_caps_batches_at_max_rows(executor: ThreadPoolExecutor) -> None:
    scorer = Recorder()
    results = run_jobs(MicroBatcher(scorer, executor, max_rows=4), [row(i) for i in range(10)])
    assert scorer.calls == [4, 4, 2]
    assert [json.loads(r) for r in results] == list(range(10))


def test_batcher_predicts_requests_with_params_alone(executor: ThreadPoolExecutor) -> None:
    scorer = Recorder()
    with_params = Parsed(rows=Rows(("x",), [[99]]), params={"k": 1})
    results = run_jobs(MicroBatcher(scorer, executor), [row(1), row(2), with_params, row(3)])
    assert scorer.calls == [2, 1, 1]
    assert [json.loads(r) for r in results] == [1, 2, 99, 3]


def test_batcher_off_when_max_rows_is_one(executor: ThreadPoolExecutor) -> None:
    scorer = Recorder()
    run_jobs(MicroBatcher(scorer, executor, max_rows=1), [row(i) for i in range(3)])
    assert scorer.calls == [1, 1, 1]


def test_batcher_waits_for_requests_still_arriving(executor: ThreadPoolExecutor) -> None:
    scorer = Recorder()
    batcher = MicroBatcher(scorer, executor, max_rows=64, max_delay_s=30.0)

    async def go() -> list[bytes]:
        batcher.start()
        batcher.arriving = 1  # a second request is being received
        first = batcher.enqueue(row(1))
        for _ in range(5):
            await asyncio.sleep(0)  # let the consumer take the first job and start waiting
        second = batcher.enqueue(row(2))
        batcher.arriving = 0
        try:
            return list(await asyncio.gather(first, second))
        finally:
            await batcher.close()

    assert [json.loads(r) for r in asyncio.run(go())] == [1, 2]
    assert scorer.calls == [2]


def test_batcher_skips_jobs_whose_caller_gave_up(executor: ThreadPoolExecutor) -> None:
    scorer = Recorder()
    batcher = MicroBatcher(scorer, executor)

    async def go() -> bytes:
        batcher.start()
        dropped = batcher.enqueue(row(1))
        dropped.cancel()
        try:
            return await batcher.enqueue(row(2))
        finally:
            await batcher.close()

    assert json.loads(asyncio.run(go())) == 2
    assert scorer.calls == [1]


@pytest.fixture(scope="module")
def linear(tmp_path_factory: pytest.TempPathFactory) -> Scorer:
    path = save_linear(tmp_path_factory.mktemp("batching") / "linear")
    return Scorer(flavorkit.load_model(path))


def request(a: float, b: object) -> Parsed:
    """A one-row request parsed as the server parses it."""
    body = json.dumps({"dataframe_split": {"columns": ["a", "b"], "data": [[a, b]]}})
    return parse_json(body, LINEAR_SIGNATURE.inputs)


def test_score_batch_gives_each_request_its_own_rows(linear: Scorer) -> None:
    results = linear.score_batch([request(1.0, 1), request(2.0, 5), request(0.5, 0)])
    assert [json.loads(r) for r in results] == [
        {"predictions": [3.0]},
        {"predictions": [9.0]},
        {"predictions": [1.0]},
    ]


def test_score_batch_fails_only_the_request_with_bad_data(linear: Scorer) -> None:
    results = linear.score_batch([request(1.0, 1), request(2.0, 2.7), request(0.5, 0)])
    assert json.loads(results[0]) == {"predictions": [3.0]}
    assert isinstance(results[1], SchemaEnforcementError) and "'b'" in str(results[1])
    assert json.loads(results[2]) == {"predictions": [1.0]}


def test_score_batch_fails_only_the_request_the_model_rejects(linear: Scorer) -> None:
    results = linear.score_batch([request(-1.0, 1), request(2.0, 2)])
    assert isinstance(results[0], RuntimeError)
    assert json.loads(results[1]) == {"predictions": [6.0]}


def test_self_test_turns_batching_off_for_output_not_row_aligned(tmp_path: Path) -> None:
    scorer = Scorer(flavorkit.load_model(save_total(tmp_path / "total")))
    summary = scorer.self_test()
    assert not scorer.batchable and "micro-batching off" in summary
    one = parse_json(b'{"inputs": {"a": [1.0, 2.0]}}', scorer.schema)
    two = parse_json(b'{"inputs": {"a": [5.0]}}', scorer.schema)
    assert [json.loads(r) for r in scorer.score_batch([one, two])] == [
        {"predictions": [3.0]},
        {"predictions": [5.0]},
    ]


def test_self_test_passes_and_keeps_batching_for_row_aligned_models(linear: Scorer) -> None:
    assert "self-test passed" in linear.self_test() and linear.batchable


class Gated(Recorder):
    """A recorder whose predict calls wait for a thread event (to keep a batch in flight)."""

    def __init__(self) -> None:
        super().__init__()
        import threading

        self.gate = threading.Event()

    def score_batch(self, requests: list[Parsed]) -> list[bytes | BaseException]:
        self.gate.wait(30)
        return super().score_batch(requests)


def test_batcher_refused_requests_wait_their_turn_only_while_busy(
    executor: ThreadPoolExecutor,
) -> None:
    scorer = Gated()
    batcher = MicroBatcher(scorer, executor)

    async def go() -> list[str]:
        loop = asyncio.get_running_loop()
        batcher.start()
        events: list[str] = []
        await batcher.wait_turn(30)  # idle: no wait at all
        events.append("idle turn")
        first = batcher.enqueue(row(1))
        for _ in range(5):
            await asyncio.sleep(0)  # let the consumer start predicting the first job
        turn = asyncio.ensure_future(batcher.wait_turn(30))
        second = batcher.enqueue(row(2))
        for _ in range(5):
            await asyncio.sleep(0)
        assert not turn.done()  # a batch is in flight: the refusal waits its turn
        loop.call_soon(scorer.gate.set)
        await asyncio.wait_for(turn, 30)
        events.append("busy turn")
        assert [json.loads(r) for r in await asyncio.gather(first, second)] == [1, 2]
        await batcher.close()
        return events

    assert asyncio.run(go()) == ["idle turn", "busy turn"]


# -------------------------------------------------------------- the one-block frame


class Echo(flavorkit.PythonModel):
    """Returns its input frame: what the model was given is what comes back."""

    def predict(self, context, model_input, params=None):
        return model_input


def _echo_scorer(tmp_path: Path, required: bool) -> Scorer:
    from flavorkit import ColSpec, ModelSignature, Schema

    specs = [ColSpec("double", name, required=required) for name in ("a", "b", "c")]
    signature = ModelSignature(inputs=Schema(specs))
    flavorkit.save_model(Echo(), tmp_path / "echo", signature=signature)
    return Scorer(flavorkit.load_model(tmp_path / "echo"))


@pytest.mark.parametrize(
    ("data", "required"),
    [
        ([[1.5, 2, -0.0], [2**53, -(2**53), 1e308]], True),
        ([[None, 1, 2.5]], False),
        ([[0.1, 0.2, 0.3]] * 5, True),
    ],
)
def test_vouched_double_rows_make_the_same_frame_as_typing_each_column(
    tmp_path: Path, data: list, required: bool
) -> None:
    from flavorkit.io import model_input

    scorer = _echo_scorer(tmp_path, required)
    body = json.dumps({"dataframe_split": {"columns": ["a", "b", "c"], "data": data}}).encode()
    request = scorer.prepare(body, "json")
    assert request.vouched
    fast = scorer._data(request)
    typed = model_input(request, scorer.schema)
    pd = pytest.importorskip("pandas")
    pd.testing.assert_frame_equal(fast, typed)
    assert json.loads(scorer.score(request)) == json.loads(
        flavorkit.io.encode_predictions(scorer.model.predict(typed))
    )


def test_rows_the_quick_check_cannot_vouch_for_are_typed_column_by_column(tmp_path: Path) -> None:
    scorer = _echo_scorer(tmp_path, True)
    body = json.dumps(
        {"dataframe_split": {"columns": ["a", "b", "c"], "data": [[2**53 + 1, 1.0, 1.0]]}}
    ).encode()
    with pytest.raises(SchemaEnforcementError, match="'a'"):
        scorer.prepare(body, "json")
    body = json.dumps({"dataframe_split": {"columns": ["c", "b", "a"], "data": [[1, 2, 3]]}})
    request = scorer.prepare(body.encode(), "json")
    assert list(scorer._data(request).columns) == ["c", "b", "a"]
