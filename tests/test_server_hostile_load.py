"""The scoring server under concurrent load with hostile clients mixed in (loopback only).

Valid single-row requests keep 16 connections busy; a clean round measures
their throughput alone, a mixed round measures it again while hostile
clients send every kind of bad body (malformed, too deep, NaN, nulls, no
rows, lone surrogates, headerless CSV, thousands of columns, bodies that
decode to too many rows) and others hold half-sent bodies open. Rounds are
paired and the medians compared, so a noisy machine slows both sides alike.
The server's resident memory (``VmRSS`` of its process) is read before and
after a burst of big hostile bodies.

Asserted: valid traffic gets no error, its median throughput in the mixed
rounds is within 20% of the clean rounds, every hostile request is answered
4xx, and RSS returns near its baseline. The figures are printed and saved
to ``benchmarks/results/server_hostile_load.json``.
"""

from __future__ import annotations

import asyncio
import io
import json
import statistics
import subprocess
import sys
import time
from collections import Counter, deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _serving_models import free_port, save_linear, server_env
from flavorkit.server import ServerConfig

pytestmark = [pytest.mark.robustness, pytest.mark.timeout(300)]

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "server_hostile_load.json"

VALID_CONNECTIONS = 16
HALF_SENT_CONNECTIONS = 32
# hostile requests are paced by valid answers, so their share of the work is the same on
# any machine: one small bad request per CHEAP_EVERY valid answers, one big one per BIG_EVERY
CHEAP_EVERY = 25
BIG_EVERY = 2000
ROUNDS = 7
ROUND_S = 1.0
BODY_TIMEOUT_S = 1.5
MAX_ROWS = 20_000
# what the server may keep after the big bodies: allocator slack, not the bodies' size
RSS_SLACK_MB = 48.0


def http_request(body: bytes, content_type: str = "application/json") -> bytes:
    return (
        b"POST /invocations HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        + f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n\r\n".encode()
        + body
    )


def split(rows: list[list[object]], columns: tuple[str, ...] = ("a", "b")) -> bytes:
    return json.dumps({"dataframe_split": {"columns": list(columns), "data": rows}}).encode()


def parquet(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, compression="zstd")
    return buffer.getvalue()


def columns(n: int) -> bytes:
    names = tuple(f"c{i}" for i in range(n))
    return http_request(split([[0] * n], names))


def small_bodies() -> dict[str, bytes]:
    """Cheap hostile requests of every kind, each answered 4xx in about a millisecond."""
    return {
        "malformed": http_request(b'{"inputs": [1, '),
        "deep": http_request(b'{"inputs": ' + b"[" * 50_000 + b"]" * 50_000 + b"}"),
        "nan": http_request(b'{"dataframe_split": {"columns": ["a", "b"], "data": [[NaN, 1]]}}'),
        "infinity": http_request(
            b'{"dataframe_split": {"columns": ["a", "b"], "data": [[-Infinity, 1]]}}'
        ),
        "overflow": http_request(
            b'{"dataframe_split": {"columns": ["a", "b"], "data": [[1e400, 1]]}}'
        ),
        "null-required": http_request(split([[1.0, None]])),
        "lossy": http_request(split([[1.0, 2.7]])),
        "wrong-type": http_request(split([["x", 1]])),
        "zero-rows": http_request(split([])),
        "header-only-csv": http_request(b"a,b\n", "text/csv"),
        "headerless-csv": http_request(b"1.5,1\n2.5,3\n", "text/csv"),
        "surrogate-name": http_request(
            b'{"dataframe_split": {"columns": ["\\ud800", "b"], "data": [[1.0, 1]]}}'
        ),
        "some-columns": columns(2_000),
        "parquet-bomb": http_request(
            parquet(pd.DataFrame({"a": np.zeros(5_000_000), "b": np.zeros(5_000_000, "int64")})),
            "application/vnd.apache.parquet",
        ),
    }


def big_bodies(scale: int) -> dict[str, bytes]:
    """Hostile requests that cost the server real work; ``scale`` 1 for the load rounds,
    larger (near the 8 MiB body limit) for the memory check."""
    return {
        "many-columns": columns(100_000),
        "too-many-rows-json": http_request(split([[1.5, 1]] * (MAX_ROWS + 5_000) * scale)),
        "too-many-rows-csv": http_request(
            b"a,b\n" + b"1.5,1\n" * (MAX_ROWS + 5_000) * scale, "text/csv"
        ),
    }


@dataclass
class Tally:
    """What one phase of load saw."""

    ok: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    hostile: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0


class Pacer:
    """Lets one hostile request go per ``every`` valid answers (no clock involved)."""

    def __init__(self, every: int) -> None:
        self.every = every
        self.count = 0
        self.credit = 0
        self.closed = False
        self.waiting: deque[asyncio.Future[None]] = deque()

    def tick(self) -> None:
        self.count += 1
        if self.count % self.every == 0:
            while self.waiting:
                waiter = self.waiting.popleft()
                if not waiter.done():
                    waiter.set_result(None)
                    return
            self.credit += 1

    async def turn(self) -> bool:
        """Wait for a turn; False once the phase is over."""
        if self.credit:
            self.credit -= 1
            return not self.closed
        if self.closed:
            return False
        waiter = asyncio.get_running_loop().create_future()
        self.waiting.append(waiter)
        await waiter
        return not self.closed

    def close(self) -> None:
        self.closed = True
        for waiter in self.waiting:
            if not waiter.done():
                waiter.set_result(None)


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> tuple[int, bytes, bool]:
    """Send one request on a kept-alive connection; (status, body, server closes)."""
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    closes = False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"connection" and value.strip().lower() == b"close":
            closes = True
    return status, await reader.readexactly(length), closes


async def _valid_client(
    port: int, deadline: float, tally: Tally, worker: int, pacers: list[Pacer]
) -> None:
    loop = asyncio.get_running_loop()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    i = 0
    try:
        while loop.time() < deadline:
            a = float(worker * 100_000 + i)
            status, body, _ = await _exchange(reader, writer, http_request(split([[a, 1]])))
            if status == 200 and json.loads(body) == {"predictions": [2 * a + 1]}:
                tally.ok += 1
            else:
                tally.errors[f"{status}: {body[:200]!r}"] += 1
            for pacer in pacers:
                pacer.tick()
            i += 1
    finally:
        writer.close()


async def _hostile_client(pacer: Pacer, port: int, tally: Tally, bodies: dict[str, bytes]) -> None:
    names = list(bodies)
    i = 0
    connection = None
    try:
        while await pacer.turn():
            if connection is None:
                connection = await asyncio.open_connection("127.0.0.1", port)
            name = names[i % len(names)]
            status, _, closes = await _exchange(*connection, bodies[name])
            tally.hostile[f"{name} {status}"] += 1
            if closes:
                connection[1].close()
                connection = None
            i += 1
    finally:
        if connection is not None:
            connection[1].close()


async def _half_sent_client(port: int, tally: Tally) -> None:
    """Headers and a few bytes of a 10 KB body, then nothing: the server must answer 408."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(http_request(b"x" * 10_000)[:-9_990])
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), BODY_TIMEOUT_S * 20)
        tally.hostile[f"half-sent {int(head[9:12])}"] += 1
    finally:
        writer.close()


async def _phase(
    port: int, seconds: float, small: dict[str, bytes] | None, big: dict[str, bytes] | None
) -> Tally:
    """Valid load for ``seconds``; with hostile bodies, paced hostile clients alongside."""
    loop = asyncio.get_running_loop()
    tally = Tally()
    pacers = [Pacer(CHEAP_EVERY), Pacer(BIG_EVERY)] if small is not None else []
    hostile = []
    if small is not None and big is not None:
        hostile += [_hostile_client(pacers[0], port, tally, small)]
        hostile += [_hostile_client(pacers[1], port, tally, big)]
        hostile += [_half_sent_client(port, tally) for _ in range(HALF_SENT_CONNECTIONS)]
    others = asyncio.gather(*hostile)
    start = loop.time()
    deadline = start + seconds
    await asyncio.gather(
        *(_valid_client(port, deadline, tally, w, pacers) for w in range(VALID_CONNECTIONS))
    )
    tally.seconds = loop.time() - start
    for pacer in pacers:
        pacer.close()
    await others
    return tally


async def _burst(port: int, bodies: dict[str, bytes], repeat: int) -> Counter[str]:
    """Each body ``repeat`` times, two connections at once."""
    seen: Counter[str] = Counter()

    async def one(name: str) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            status, _, _ = await _exchange(reader, writer, bodies[name])
            seen[f"{name} {status}"] += 1
        finally:
            writer.close()

    names = [name for name in bodies for _ in range(repeat)]
    for k in range(0, len(names), 2):
        await asyncio.gather(*(one(n) for n in names[k : k + 2]))
    return seen


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[subprocess.Popen[bytes], int, Path]]:
    import httpx

    root = tmp_path_factory.mktemp("hostile-load")
    model = save_linear(root / "linear")
    port = free_port()
    config = ServerConfig(
        model_uri=str(model),
        port=port,
        max_body_bytes=8 * 1024 * 1024,
        max_request_rows=MAX_ROWS,
        max_request_cells=100_000,
        body_timeout_s=BODY_TIMEOUT_S,
    )
    log_path = root / "server.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "flavorkit.server"],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=server_env({"FLAVORKIT_SERVER_CONFIG": config.to_env()}),
        )
    deadline = time.monotonic() + 60
    try:
        while True:
            assert proc.poll() is None, log_path.read_text()
            try:
                if httpx.get(f"http://127.0.0.1:{port}/ping", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.05)  # bounded poll for startup
        yield proc, port, log_path
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_server_valid_traffic_survives_hostile_clients(
    served: tuple[subprocess.Popen[bytes], int, Path],
) -> None:
    proc, port, log_path = served
    small, big, huge = small_bodies(), big_bodies(1), big_bodies(12)
    huge["parquet-bomb"] = small["parquet-bomb"]
    huge["deep"] = small["deep"]
    assert all(len(body) < 8 * 1024 * 1024 for body in huge.values())
    asyncio.run(_phase(port, 0.5, None, None))  # warm up: imports, first batches,
    asyncio.run(_burst(port, {**small, **huge}, 1))  # every hostile path once
    rss_before = _settled_rss(proc.pid, None)

    clean: list[Tally] = []
    mixed: list[Tally] = []
    for i in range(ROUNDS):
        # paired rounds, next to each other in time and in alternating order, so a
        # machine busy with other work slows both halves of a pair alike
        for hostile_round in (False, True) if i % 2 == 0 else (True, False):
            if hostile_round:
                mixed.append(asyncio.run(_phase(port, ROUND_S, small, big)))
            else:
                clean.append(asyncio.run(_phase(port, ROUND_S, None, None)))
    burst = asyncio.run(_burst(port, huge, 4))
    rss_after = _settled_rss(proc.pid, rss_before + RSS_SLACK_MB)

    clean_rate = statistics.median(t.rate for t in clean)
    mixed_rate = statistics.median(t.rate for t in mixed)
    ratio = statistics.median(m.rate / c.rate for c, m in zip(clean, mixed, strict=True))
    hostile = sum((t.hostile for t in mixed), Counter()) + burst
    figures = {
        "valid_req_per_s_clean": round(clean_rate, 1),
        "valid_req_per_s_mixed": round(mixed_rate, 1),
        "median_pair_ratio_mixed_over_clean": round(ratio, 3),
        "rounds_clean": [round(t.rate, 1) for t in clean],
        "rounds_mixed": [round(t.rate, 1) for t in mixed],
        "valid_requests": sum(t.ok for t in clean + mixed),
        "valid_errors": sum(sum(t.errors.values()) for t in clean + mixed),
        "hostile_requests_in_mixed_rounds": sum(sum(t.hostile.values()) for t in mixed),
        "hostile_answers": dict(sorted(hostile.items())),
        "rss_mb_before": round(rss_before, 1),
        "rss_mb_after": round(rss_after, 1),
        "big_bodies_bytes": {name: len(body) for name, body in huge.items()},
        "load": {
            "valid_connections": VALID_CONNECTIONS,
            "half_sent_connections": HALF_SENT_CONNECTIONS,
            "small_hostile_per_valid": 1 / CHEAP_EVERY,
            "big_hostile_per_valid": 1 / BIG_EVERY,
            "round_s": ROUND_S,
            "rounds": ROUNDS,
        },
        "python": sys.version.split()[0],
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(figures, indent=2) + "\n")
    print(
        f"\nvalid req/s clean {clean_rate:.0f} vs mixed {mixed_rate:.0f} (median of paired "
        f"ratios {ratio:.0%}); RSS {rss_before:.0f} -> {rss_after:.0f} MB; "
        f"{figures['hostile_requests_in_mixed_rounds']} hostile requests in the mixed rounds; "
        f"figures in {RESULTS}"
    )

    errors = sum((t.errors for t in clean + mixed), Counter())
    assert not errors, errors
    bad_answers = {k: n for k, n in hostile.items() if not 400 <= int(k.rsplit(" ", 1)[1]) < 500}
    assert not bad_answers, bad_answers
    kinds = {k.rsplit(" ", 1)[0] for k in hostile}
    assert kinds >= set(small) | set(big) | {"half-sent"}, kinds
    assert hostile["half-sent 408"] == HALF_SENT_CONNECTIONS * ROUNDS, hostile
    assert ratio >= 0.8, figures
    assert rss_after <= rss_before + RSS_SLACK_MB, figures
    log = log_path.read_text(errors="replace")
    assert "ERROR" not in log and "Traceback" not in log, log[-3000:]


def _settled_rss(pid: int, target: float | None) -> float:
    """The server's RSS once it has handed freed memory back (it does so within a second
    of a big body): polled until it is at ``target`` or stops falling, at most 10 s."""
    deadline = time.monotonic() + 10
    last = rss_mb(pid)
    while time.monotonic() < deadline:
        time.sleep(0.25)  # bounded poll of /proc, not a timing assumption
        now = rss_mb(pid)
        if (target is not None and now <= target) or (target is None and now >= last):
            return now
        last = now
    return last
