"""Probing hostile folders in a separate process, so that crashes, hangs and side effects are seen.

A folder that segfaults a deserializer, blocks on a FIFO or fills memory
from ``/dev/zero`` must not take the test run with it. :class:`Worker`
starts a Python process (``python -c``, so the current directory is on
``sys.path`` as in a notebook, which some attacks need) that probes the
entry points of one folder after another and reports each
:class:`~flavorkit.testing._hostile.Outcome` over a pipe; the parent
enforces a hard time bound per entry point, and a worker that dies or hangs
is reported as ``crashed`` or ``over_time`` for the entry point it was in,
then replaced for the rest.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flavorkit.testing._hostile import ENTRY_POINTS, AccessWatch, Outcome, probe

_BOOT = "from flavorkit.testing._hostile_worker import worker_main; worker_main()"
CONFIG_ENV = "FLAVORKIT_PROBE_WORKER"
# the address space of a worker: the frameworks and a small model fit in well under half of it
# (a corrupt XGBoost file, unbounded, takes 17 GB before it segfaults)
MEMORY_BOUND_MB = 4096
# seconds a worker gets, beyond the soft bound, before it is killed
GRACE_S = 10.0


@dataclass
class FolderReport:
    """The outcomes of every probed entry point on one folder, and what the watch saw."""

    folder: str
    outcomes: dict[str, Outcome] = field(default_factory=dict)
    violations: list[str] = field(default_factory=list)


def worker_main() -> None:
    """The worker's loop: one JSON task per stdin line, JSON events on the saved stdout."""
    # the configuration comes through the environment: sys.argv stays ["-c"], as for a user's
    # `python -c` (a factory such as pytest:main reads it)
    config = json.loads(os.environ.pop(CONFIG_ENV, "{}"))
    # if a spoiled folder makes a loader fill memory, the kernel's OOM killer takes this process
    # first, not a neighbour (raising one's own score needs no privilege)
    try:
        with open("/proc/self/oom_score_adj", "w", encoding="ascii") as fh:
            fh.write("1000")
    except OSError:
        pass
    memory_mb = config.get("memory_mb")
    if memory_mb:
        import resource

        limit = int(memory_mb) * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    # the protocol keeps the real stdout; what C code prints goes to /dev/null
    channel = os.fdopen(os.dup(1), "w", buffering=1, encoding="utf-8")
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    for name in config.get("preload", ()):
        try:
            __import__(name)
        except Exception as exc:
            channel.write(json.dumps({"warning": f"preloading {name}: {exc!r}"}) + "\n")
    channel.write(json.dumps({"ready": True}) + "\n")
    for line in sys.stdin:
        task = json.loads(line)
        _run_task(task, channel)


def _run_task(task: dict[str, Any], channel: Any) -> None:
    import tempfile

    folder, ident = task["folder"], task["id"]
    if task.get("tmpdir"):  # libraries' temporary files go to the task's scratch folder
        tempfile.tempdir = os.environ["TMPDIR"] = task["tmpdir"]
    hung = False
    for entry in task["entries"]:
        if hung:  # the next entry point would most likely hang the same way: do not wait again
            skipped = Outcome(entry, "skipped", message="an earlier entry point ran over its bound")
            event = {"id": ident, "entry": entry, "outcome": skipped.to_json(), "violations": []}
            channel.write(json.dumps(event) + "\n")
            continue
        channel.write(json.dumps({"id": ident, "start": entry}) + "\n")
        violations: list[str] = []
        if task.get("watch", True):
            with AccessWatch(
                folder, scratch=task.get("scratch", ()), block=task.get("block", False)
            ) as watch:
                outcome = probe(
                    folder,
                    entry,
                    bound_s=task["bound_s"],
                    allow_unsafe=task.get("allow_unsafe", False),
                )
            violations = watch.violations
        else:
            outcome = probe(
                folder, entry, bound_s=task["bound_s"], allow_unsafe=task.get("allow_unsafe", False)
            )
        event = {
            "id": ident,
            "entry": entry,
            "outcome": outcome.to_json(),
            "violations": violations,
        }
        channel.write(json.dumps(event) + "\n")
        hung = task.get("fail_fast", False) and outcome.status == "over_time"
        if outcome.status == "over_memory":
            # a framework that ran out of memory may keep what it took (xgboost does): the next
            # load here would fail for that, so a fresh worker takes over
            channel.write(json.dumps({"id": ident, "recycle": True}) + "\n")
            channel.flush()
            os._exit(0)
    channel.write(json.dumps({"id": ident, "done": True}) + "\n")


class Worker:
    """A worker process: ``run(folder, entries)`` probes a folder, returns a :class:`FolderReport`.

    ``cwd`` is the worker's current directory (on its ``sys.path``), ``env``
    its environment, ``preload`` modules it imports before its first task
    (so their import time is not charged to the first probe), ``memory_mb``
    its address-space limit (:data:`MEMORY_BOUND_MB`: a load that asks for
    more fails with ``MemoryError`` or ``std::bad_alloc``, which
    :func:`~flavorkit.testing._hostile.probe` reports as ``over_memory``,
    instead of taking the machine's memory), ``tmpdir`` its temporary folder
    from the start (writes there are allowed). The worker also makes itself
    the OOM killer's first choice.
    """

    def __init__(
        self,
        *,
        cwd: str | os.PathLike[str] | None = None,
        env: dict[str, str] | None = None,
        preload: Sequence[str] = ("flavorkit",),
        memory_mb: int | None = MEMORY_BOUND_MB,
        tmpdir: str | os.PathLike[str] | None = None,
        startup_timeout_s: float = 120.0,
        grace_s: float = GRACE_S,
    ) -> None:
        self.cwd = cwd
        self.tmpdir = os.fspath(tmpdir) if tmpdir is not None else None
        self.env = env
        self.preload = list(preload)
        self.memory_mb = memory_mb
        self.startup_timeout_s = startup_timeout_s
        self.grace_s = grace_s
        self._proc: subprocess.Popen[bytes] | None = None
        self._buffer = b""
        self._eof = False
        self._tasks = 0
        self.restarts = 0  # after a crash or a hang
        self.recycled = 0  # after an allocation failed (the process may keep what it took)

    # -- the process ------------------------------------------------------------------
    def _start(self) -> None:
        env = dict(os.environ if self.env is None else self.env)
        env[CONFIG_ENV] = json.dumps({"preload": self.preload, "memory_mb": self.memory_mb})
        if self.tmpdir is not None:  # what libraries cache at import goes there too
            env["TMPDIR"] = self.tmpdir
        self._proc = subprocess.Popen(
            [sys.executable, "-c", _BOOT],
            cwd=self.cwd,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        self._buffer = b""
        self._eof = False
        deadline = time.monotonic() + self.startup_timeout_s
        while True:
            event = self._read(deadline)
            if event is None:
                code = self._kill()
                raise RuntimeError(f"the probe worker did not start (exit status {code})")
            if event.get("ready"):
                return

    def _kill(self) -> int | None:
        proc, self._proc = self._proc, None
        if proc is None:
            return None
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except OSError:
                proc.kill()
        proc.wait()
        for stream in (proc.stdin, proc.stdout):
            if stream is not None:
                stream.close()
        return proc.returncode

    def close(self) -> None:
        """Stop the worker."""
        self._kill()

    def __enter__(self) -> Worker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _read(self, deadline: float) -> dict[str, Any] | None:
        """The next event, or ``None`` at the deadline or when the worker is gone."""
        assert self._proc is not None and self._proc.stdout is not None
        fd = self._proc.stdout.fileno()
        while b"\n" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                return None
            chunk = os.read(fd, 65536)
            if not chunk:
                self._eof = True
                return None
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return json.loads(line)

    # -- probing ------------------------------------------------------------------------
    def run(
        self,
        folder: str | os.PathLike[str],
        entries: Iterable[str] = ENTRY_POINTS,
        *,
        bound_s: float = 30.0,
        scratch: Iterable[str | os.PathLike[str]] = (),
        tmpdir: str | os.PathLike[str] | None = None,
        watch: bool = True,
        block: bool = False,
        allow_unsafe: bool = False,
        fail_fast: bool = True,
    ) -> FolderReport:
        """Probe ``entries`` on ``folder``; a crash or hang ends that entry and the worker restarts.

        ``scratch`` are the folders the watch lets the calls write to;
        ``tmpdir`` (one of them) becomes the worker's temporary folder.
        ``block`` makes the watch block what it reports (by default it only
        records, so that side effects really happen and can be seen).
        With ``fail_fast``, the entry points after one that ran over its
        bound (or hung the worker) are ``skipped``; after a crash the worker
        restarts and the rest run.
        """
        scratch = [os.fspath(s) for s in scratch]
        scratch += [os.fspath(p) for p in (tmpdir, self.tmpdir) if p is not None]
        report = FolderReport(os.fspath(folder))
        pending = list(entries)
        while pending:
            if self._proc is None:
                self._start()
            assert self._proc is not None and self._proc.stdin is not None
            self._tasks += 1
            ident = f"{os.getpid()}-{self._tasks}"
            task = {
                "id": ident,
                "folder": report.folder,
                "entries": pending,
                "bound_s": bound_s,
                "scratch": scratch,
                "tmpdir": os.fspath(tmpdir) if tmpdir is not None else None,
                "watch": watch,
                "block": block,
                "allow_unsafe": allow_unsafe,
                "fail_fast": fail_fast,
            }
            try:
                self._proc.stdin.write((json.dumps(task) + "\n").encode())
                self._proc.stdin.flush()
            except BrokenPipeError:
                self._kill()
                self.restarts += 1
                continue
            current: str | None = None
            started = 0.0
            while True:
                deadline = (started + bound_s + self.grace_s) if current else time.monotonic() + 60
                event = self._read(deadline)
                if event is None:
                    timed_out = not self._eof
                    if self._eof and self._proc is not None:
                        # the pipe closed as the process died: collect its status
                        with contextlib.suppress(subprocess.TimeoutExpired):
                            self._proc.wait(timeout=10)
                    code = self._kill()
                    self.restarts += 1
                    entry = current or pending[0]
                    if timed_out:
                        outcome = Outcome(
                            entry,
                            "over_time",
                            message=f"killed: no answer within {bound_s + self.grace_s:g} s",
                            seconds=time.monotonic() - started,
                        )
                    else:
                        outcome = Outcome(
                            entry,
                            "crashed",
                            _signal_name(code),
                            f"the process died (exit status {code})",
                            seconds=time.monotonic() - started,
                        )
                    report.outcomes[entry] = outcome
                    pending.remove(entry)
                    if fail_fast and timed_out:
                        for rest in pending:
                            report.outcomes[rest] = Outcome(
                                rest, "skipped", message=f"{entry} {outcome.status} first"
                            )
                        pending.clear()
                    break
                if event.get("id") != ident:
                    continue  # a line of an earlier task (there are none unless it was cut short)
                if "start" in event:
                    current, started = event["start"], time.monotonic()
                elif "entry" in event:
                    report.outcomes[event["entry"]] = Outcome(**event["outcome"])
                    report.violations += [f"{event['entry']}: {v}" for v in event["violations"]]
                    pending.remove(event["entry"])
                    current = None
                elif event.get("recycle"):
                    self._kill()
                    self.recycled += 1
                    break
                elif event.get("done"):
                    break
        return report


def _signal_name(code: int | None) -> str:
    if code is not None and code < 0:
        try:
            return signal.Signals(-code).name
        except ValueError:
            return f"signal {-code}"
    return f"exit {code}"


def worker_env(extra_paths: Iterable[str | os.PathLike[str]] = ()) -> dict[str, str]:
    """This process's environment for a worker: its ``sys.path`` (and ``extra_paths``) first on
    ``PYTHONPATH``, no ``FLAVORKIT_ALLOW_UNSAFE``."""
    env = clean_env(os.environ)
    paths = [os.fspath(p) for p in extra_paths]
    paths += [
        p for p in sys.path if p and os.path.isdir(p) and Path(p).resolve() != Path.cwd().resolve()
    ]
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    env.setdefault("PYTHONIOENCODING", "utf-8")
    return env


def clean_env(env: Mapping[str, str]) -> dict[str, str]:
    """``env`` for a worker: no ``FLAVORKIT_ALLOW_UNSAFE``, no cache folders derived from ours.

    torch records the cache folder it derived from the temporary folder in
    the environment; a worker with a temporary folder of its own derives its own.
    """
    out = dict(env)
    for name in ("FLAVORKIT_ALLOW_UNSAFE", "TORCHINDUCTOR_CACHE_DIR", "TRITON_CACHE_DIR"):
        out.pop(name, None)
    return out
