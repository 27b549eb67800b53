"""Adaptive micro-batching: concurrent requests share one vectorised predict call.

Every request becomes a job on one queue; one consumer task takes the jobs in
arrival order and runs them on a single predict thread. While a batch
predicts, new requests queue up, so under load each call picks up everything
that arrived meanwhile (no fixed wait). A short wait (``max_delay_s``) is
spent only while other requests are still being received, so a lone request
never waits. Results go back to each caller's own future.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any, Protocol

from flavorkit.io import Parsed

log = logging.getLogger("flavorkit.server")


class BatchScorer(Protocol):
    """What the batcher needs from a scorer: ``score_batch`` and the ``batchable`` switch."""

    batchable: bool

    def score_batch(self, requests: list[Parsed]) -> list[bytes | BaseException]: ...


@dataclass
class _Job:
    request: Parsed
    future: asyncio.Future[bytes]
    rows: int = field(default=1)
    # the loop's clock when the job was queued
    queued: float = 0.0


# called after each predict call with (requests, rows, seconds each request waited in the
# queue, seconds the call took); on the event loop, so it must be quick
BatchObserver = Callable[[int, int, list[float], float], None]


class MicroBatcher:
    """Queue requests and predict them in batches of up to ``max_rows`` rows.

    Start it with :meth:`start` inside a running event loop, stop it with
    :meth:`close` (pending jobs are finished first).
    """

    def __init__(
        self,
        scorer: BatchScorer,
        executor: Executor,
        *,
        max_rows: int = 64,
        max_delay_s: float = 0.002,
        observe: BatchObserver | None = None,
        track: Callable[[int], None] | None = None,
    ) -> None:
        self.scorer = scorer
        self.observe = observe
        # told the number of pending jobs when it changes (a metric in another process's view)
        self.track = track
        self.executor = executor
        self.max_rows = max(1, int(max_rows))
        self.max_delay_s = max(0.0, float(max_delay_s))
        # requests whose bodies are still being received: worth a short wait
        self.arriving = 0
        self.batches = 0
        self.batched_requests = 0
        self._queue: asyncio.Queue[_Job | None] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        # refused requests waiting for their turn: (batches answered by then, future)
        self._turns: list[tuple[int, asyncio.Future[None]]] = []
        self._answered = 0
        self._predicting = False
        # jobs queued or in a batch, not yet answered
        self._pending = 0

    def start(self) -> None:
        """Start the consumer task on the running loop."""
        self._task = asyncio.get_running_loop().create_task(self._run(), name="flavorkit-batcher")

    async def close(self) -> None:
        """Finish the queued jobs, then stop the consumer."""
        if self._task is None:
            return
        self._queue.put_nowait(None)
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None

    def enqueue(self, request: Parsed) -> asyncio.Future[bytes]:
        """Queue ``request``; the future gets its response body or the exception scoring raised.

        Cancelling the future (a caller's timeout) drops the job if it has not run yet.
        """
        if self._task is None or self._task.done():
            raise RuntimeError("the batcher is not running")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[bytes] = loop.create_future()
        rows = len(request.rows.rows) if request.rows is not None else 1
        self._queue.put_nowait(_Job(request, future, rows, loop.time()))
        self._pending += 1
        if self.track is not None:
            self.track(self._pending)
        return future

    @property
    def pending(self) -> int:
        """Jobs queued or in a predict call, not yet answered."""
        return self._pending

    async def wait_turn(self, limit_s: float) -> None:
        """Wait as long as a request arriving now would wait for its batch (at most ``limit_s``).

        The server answers a refused request only then, so a client sending bad
        requests in a tight loop gets a turn as often as one sending good
        requests, not one per parse. Returns at once when the batcher is idle,
        and as soon as it falls idle.
        """
        if not self._pending:
            return
        # the batch a request arriving now would join is the next one to start
        turn = asyncio.get_running_loop().create_future()
        self._turns.append((self._answered + (2 if self._predicting else 1), turn))
        try:
            await asyncio.wait((turn,), timeout=limit_s)
        finally:
            if not turn.done():
                turn.cancel()

    def _release_turns(self, idle: bool) -> None:
        waiting = []
        for due, turn in self._turns:
            if turn.done():
                continue
            if idle or self._answered >= due:
                turn.set_result(None)
            else:
                waiting.append((due, turn))
        self._turns = waiting

    async def submit(self, request: Parsed) -> bytes:
        """Queue ``request`` and wait for its response body; raises what scoring it raised."""
        return await self.enqueue(request)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        held: deque[_Job | None] = deque()
        while True:
            job = held.popleft() if held else await self._queue.get()
            if job is None:
                return
            if job.future.done():  # its caller gave up (timeout) before it ran
                self._pending -= 1
                continue
            batch = [job]
            if job.request.batchable and self.scorer.batchable and self.max_rows > 1:
                stop = await self._fill(batch)
                if stop is not False:
                    held.append(stop)
            requests = [j.request for j in batch]
            self._predicting = True
            started = loop.time()
            try:
                results = await loop.run_in_executor(
                    self.executor, self.scorer.score_batch, requests
                )
            except BaseException as exc:  # the executor itself failed: every caller hears of it
                results = [exc] * len(batch)
            finally:
                self._predicting = False
                self._answered += 1
                self._pending -= len(batch)
                if self._turns:
                    self._release_turns(idle=not self._pending)
            if self.track is not None:
                self.track(self._pending)
            if self.observe is not None:
                try:
                    self.observe(
                        len(batch),
                        sum(j.rows for j in batch),
                        [started - j.queued for j in batch],
                        loop.time() - started,
                    )
                except Exception:  # metrics must never stop the batcher
                    log.exception("recording the batch metrics failed")
            if len(batch) > 1:
                self.batches += 1
                self.batched_requests += len(batch)
            for j, result in zip(batch, results, strict=True):
                if j.future.done():
                    continue
                if isinstance(result, BaseException):
                    j.future.set_exception(result)
                else:
                    j.future.set_result(result)

    async def _fill(self, batch: list[_Job]) -> Any:
        """Add queued batchable jobs to ``batch``.

        Returns the job (or the ``None`` stop signal) that ended the batch, or False.
        """
        loop = asyncio.get_running_loop()
        rows = batch[0].rows
        deadline: float | None = None
        while rows < self.max_rows:
            try:
                job = self._queue.get_nowait()
            except asyncio.QueueEmpty:
                if self.arriving <= 0 or self.max_delay_s <= 0:
                    return False
                deadline = deadline if deadline is not None else loop.time() + self.max_delay_s
                remaining = deadline - loop.time()
                if remaining <= 0:
                    return False
                try:
                    job = await asyncio.wait_for(self._queue.get(), remaining)
                except asyncio.TimeoutError:
                    return False
            if job is None or not job.request.batchable or rows + job.rows > self.max_rows:
                return job
            if job.future.done():  # its caller gave up
                self._pending -= 1
            else:
                batch.append(job)
                rows += job.rows
        return False
