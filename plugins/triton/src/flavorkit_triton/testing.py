"""A real ``tritonserver`` for tests and benchmarks, taken from the ``nvidia-pytriton`` wheel.

The wheel bundles Triton's server binary with its Python backend and runs on
CPU-only Linux machines. Only the server is used: the wheel is downloaded
without its dependencies (its Python requirements would pin numpy < 2 in the
caller's environment) and unpacked into a cache folder, and the Python
backend's stub for the wanted Python version is placed into
``backends/python/`` as Triton expects. Nothing is installed into the
running environment.

- :func:`server_home` fetches and unpacks once (a lock guards concurrent
  callers; the unpacked folder is renamed into place complete);
- :func:`runnable` says why the binary cannot run here, if it cannot;
- :class:`TritonServer` runs it on loopback ports until stopped.

Cache: ``FLAVORKIT_TRITONSERVER_DIR``, else ``<flavorkit cache>/tritonserver``
(``FLAVORKIT_CACHE_DIR``, else ``$XDG_CACHE_HOME/flavorkit``, else
``~/.cache/flavorkit``: the folder flavorkit's download cache uses).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import TracebackType

PYTRITON = "nvidia-pytriton"
PYTRITON_VERSION = "0.7.0"
SERVER_DIR = "pytriton/tritonserver"  # inside the wheel; libraries in nvidia_pytriton.libs/
LIBS_DIR = "nvidia_pytriton.libs"
STUB = "triton_python_backend_stub"


def cache_dir() -> Path:
    """Where the unpacked servers live (see the module's docstring)."""
    explicit = os.environ.get("FLAVORKIT_TRITONSERVER_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("FLAVORKIT_CACHE_DIR")
    if base:
        return Path(base) / "tritonserver"
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "flavorkit" / "tritonserver"


def server_home(python: str | None = None, *, version: str = PYTRITON_VERSION) -> Path:
    """The folder holding ``bin/tritonserver`` and ``backends/``, fetched on first use.

    ``python`` (``"3.11"``, default: the running interpreter's) chooses the
    Python backend stub placed into ``backends/python/``. Raises
    ``RuntimeError`` with pip's output when the wheel cannot be downloaded,
    and ``LookupError`` when the wheel has no stub for ``python``.
    """
    python = python or f"{sys.version_info[0]}.{sys.version_info[1]}"
    root = cache_dir() / f"pytriton-{version}-py{python}"
    home = root / SERVER_DIR
    if (home / "backends" / "python" / STUB).is_file():
        return home
    root.parent.mkdir(parents=True, exist_ok=True)
    with _locked(root.parent / f".{root.name}.lock"):
        if not (home / "backends" / "python" / STUB).is_file():
            _fetch(root, version, python)
    return home


def _fetch(root: Path, version: str, python: str) -> None:
    with tempfile.TemporaryDirectory(prefix=f".{root.name}-", dir=root.parent) as tmp:
        work = Path(tmp)
        done = subprocess.run(
            [
                *(sys.executable, "-m", "pip", "download", "--no-deps", "--quiet"),
                *("--dest", str(work), f"{PYTRITON}=={version}"),
            ],
            capture_output=True,
            text=True,
        )
        wheels = sorted(work.glob("*.whl"))
        if done.returncode or not wheels:
            raise RuntimeError(
                f"pip could not download {PYTRITON}=={version}:\n{done.stderr[-2000:]}"
            )
        unpacked = work / "unpacked"
        with zipfile.ZipFile(wheels[0]) as wheel:
            members = [
                m
                for m in wheel.namelist()
                if m.startswith((f"{SERVER_DIR}/", f"{LIBS_DIR}/")) and ".." not in m.split("/")
            ]
            wheel.extractall(unpacked, members)
        home = unpacked / SERVER_DIR
        stub = home / "python_backend_stubs" / python / STUB
        if not stub.is_file():
            have = sorted(p.name for p in (home / "python_backend_stubs").iterdir())
            raise LookupError(
                f"{PYTRITON} {version} has no Python backend stub for Python {python} "
                f"(it has {', '.join(have)})"
            )
        shutil.copy2(stub, home / "backends" / "python" / STUB)
        for path in [home / "bin" / "tritonserver", home / "backends" / "python" / STUB]:
            path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        if root.exists():
            shutil.rmtree(root)  # an incomplete earlier attempt
        unpacked.rename(root)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    import fcntl

    with open(path, "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def runnable(home: Path) -> str | None:
    """Why the server or its Python stub cannot run on this machine; ``None`` when they can."""
    for command in (
        [str(home / "bin" / "tritonserver"), "--help"],
        [str(home / "backends" / "python" / STUB)],
    ):
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=60)
        except OSError as exc:
            return f"{command[0]} cannot start: {exc}"
        if "error while loading shared libraries" in done.stderr:
            return f"{Path(command[0]).name} cannot start: {done.stderr.strip()[:300]}"
    return None


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class TritonServer:
    """``tritonserver`` serving ``repository`` on 127.0.0.1 (HTTP, gRPC and metrics ports).

    Started by :meth:`start` (or ``with``); :attr:`url` is the HTTP
    endpoint; output goes to ``log``. ``args`` are extra command-line
    options.
    """

    def __init__(
        self,
        repository: Path,
        *,
        home: Path | None = None,
        log: Path | None = None,
        args: Sequence[str] = (),
    ) -> None:
        self.repository = Path(repository)
        self.home = home or server_home()
        self.log = log or self.repository.parent / "tritonserver.log"
        self.args = list(args)
        self.http_port = self.grpc_port = self.metrics_port = 0
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def start(self, timeout: float = 180.0) -> TritonServer:
        """Start the server and wait until every model is ready; raises with the log's end."""
        self.http_port, self.grpc_port, self.metrics_port = free_port(), free_port(), free_port()
        command = [
            str(self.home / "bin" / "tritonserver"),
            f"--model-repository={self.repository}",
            f"--backend-directory={self.home / 'backends'}",
            "--http-address=127.0.0.1",
            f"--http-port={self.http_port}",
            "--grpc-address=127.0.0.1",
            f"--grpc-port={self.grpc_port}",
            "--metrics-address=127.0.0.1",
            f"--metrics-port={self.metrics_port}",
            "--exit-timeout-secs=5",
            *self.args,
        ]
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(
                command, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        try:
            self._wait_ready(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self, timeout: float) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"tritonserver exited with {self.proc.returncode}:\n{self.log_tail()}"
                )
            try:
                with urllib.request.urlopen(f"{self.url}/v2/health/ready", timeout=2) as answer:
                    if answer.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.2)  # polling for start-up, not a timing assumption
        raise TimeoutError(f"tritonserver not ready after {timeout:g} s:\n{self.log_tail()}")

    def log_tail(self, chars: int = 4000) -> str:
        """The end of the server's output."""
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def stop(self) -> int | None:
        """Stop the server (SIGTERM, then SIGKILL after 30 s); returns its exit status."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def __enter__(self) -> TritonServer:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
