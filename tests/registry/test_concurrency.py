"""Many processes registering versions of one name at once: all succeed, numbers 1..N, no locks.

Each worker is a separate interpreter that imports everything, reports
``ready`` and waits on its stdin; the test releases them all together, so the
registrations really overlap. Meanwhile this process keeps resolving the
latest version: every version it can see must be complete (its files match
its digests), which is what "no half-registered version" means to a reader.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from flavorkit import registry
from flavorkit.exceptions import LocationError

WORKERS = 8
EACH = 10

WORKER = """
import json, sys
from flavorkit.registry import register_model
source, registry_uri, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
print("ready", flush=True)
sys.stdin.readline()
versions = [register_model(source, "shared", registry_uri=registry_uri).version
            for _ in range(count)]
print(json.dumps(versions), flush=True)
"""


def test_concurrent_registrations_get_distinct_versions_without_lock_errors(
    registry_dir: Path, plus_two: Path
) -> None:
    # no database yet: the workers race on creating and migrating it, too
    assert not registry_dir.exists()
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(plus_two), str(registry_dir), str(EACH)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(WORKERS)
    ]
    for worker in workers:
        assert worker.stdout is not None and worker.stdout.readline().strip() == "ready"
    for worker in workers:
        assert worker.stdin is not None
        worker.stdin.write("go\n")
        worker.stdin.flush()

    backend = registry.open_registry(registry_dir)
    seen: set[int] = set()
    while any(w.poll() is None for w in workers):
        try:
            latest = backend.latest_version("shared")
        except LocationError:  # no version yet
            continue
        assert backend.download(latest).is_dir()  # complete: its digests verify
        seen.add(latest.version)

    results = [w.communicate(timeout=120) for w in workers]
    for worker, (_, err) in zip(workers, results, strict=True):
        assert worker.returncode == 0, err
        assert "locked" not in err and "busy" not in err
    got = sorted(v for out, _ in results for v in json.loads(out.strip().splitlines()[-1]))
    assert got == list(range(1, WORKERS * EACH + 1))
    listed = registry.list_versions("shared", registry_uri=registry_dir)
    assert [v.version for v in listed] == got
    # every version's folder is its own, complete copy
    assert len({v.source for v in listed}) == WORKERS * EACH
    backend.download(backend.get_version("shared", WORKERS * EACH))
    assert seen <= set(got)


CRASH = """
import os, signal, sys
from flavorkit.registry import _embedded_sql, register_model
def killed(*args, **kwargs):  # the files are copied; the process dies before the row is written
    os.kill(os.getpid(), signal.SIGKILL)
_embedded_sql.insert_version = killed
register_model(sys.argv[1], "crashy", registry_uri=sys.argv[2])
"""


def test_a_registration_killed_before_its_row_leaves_nothing_visible(
    registry_dir: Path, plus_two: Path
) -> None:
    done = subprocess.run(
        [sys.executable, "-c", CRASH, str(plus_two), str(registry_dir)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == -9, done.stderr
    copied = [p for p in (registry_dir / "artifacts").rglob("MLmodel")]
    assert len(copied) == 1  # the copy was made, and nothing points at it
    assert registry.search_models(registry_uri=registry_dir) == []
    assert registry.register_model(plus_two, "crashy", registry_uri=registry_dir).version == 1
    assert [v.version for v in registry.list_versions("crashy", registry_uri=registry_dir)] == [1]
