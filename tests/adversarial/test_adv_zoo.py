"""The zoo of hostile folders: every attack class on every flavor it applies to.

Each folder is probed in a worker process (``flavorkit.testing._hostile_worker``):
a deserializer fed a damaged file may crash (xgboost segfaults on some),
hang on a FIFO or fill memory from ``/dev/zero``, and a gadget may really
run. Each entry point (``load_model``, ``load_native``, ``flavorkit
validate``, ``flavorkit info``, ``flavorkit serve --check``) must succeed or
fail with a flavorkit error (exit status 1 and a one-line error for the CLI)
within the attack's time bound, without crashing; ``validate`` passing must
mean the model loads; nothing may be read outside the folder or written
anywhere but the scratch folder; nothing around the folder changes (no
``PWNED``, gadget victims still there); no secret is printed.

Content attacks run under a blocking access watch; the others under a
recording one, so that a hang, a read of ``/dev/zero`` or a gadget's side
effect really happens and is seen.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from adversarial_folders import HERE, PRELOAD, Workers
from adversarial_zoo import (
    ATTACKS,
    CONTENT_ATTACKS,
    EXEC_ATTACKS,
    PASSWD_MARK,
    PWNED,
    SECRET,
    Attack,
    Sandbox,
    grid,
)
from flavorkit.testing._hostile import Outcome, changes, contract_problems, snapshot
from flavorkit.testing._hostile_worker import FolderReport, Worker, worker_env
from known_failures import marks_for

pytestmark = pytest.mark.timeout(600)


def _params(attacks: list[Attack]) -> list[object]:
    return [
        pytest.param(attack, kind, id=f"{attack.name}-{kind}", marks=marks_for(attack.name, kind))
        for attack, kind in grid(attacks)
    ]


def leaks(outcomes: dict[str, Outcome]) -> list[str]:
    """Entry points that printed the secret file or /etc/passwd."""
    return [
        f"{name} printed the contents of a file outside the folder"
        for name, o in outcomes.items()
        if any(mark in o.stdout + o.stderr + o.message for mark in (SECRET, PASSWD_MARK))
    ]


def _watched(box: Sandbox) -> dict[str, tuple[int, int, int]]:
    scratch = str(box.scratch)
    return {p: v for p, v in snapshot(box.root).items() if not p.startswith(scratch)}


def problems_of(
    attack: Attack, kind: str, box: Sandbox, report: FolderReport, before: dict
) -> list[str]:
    problems = contract_problems(report.outcomes)
    problems += [f"access: {v}" for v in report.violations]
    problems += leaks(report.outcomes)
    problems += changes(before, _watched(box))
    if (box.root / PWNED).exists():
        problems.append(f"{PWNED} was created: code from the folder ran")
    return problems


def fail_message(attack: Attack, kind: str, report: FolderReport, problems: list[str]) -> str:
    shown = "\n  ".join(o.describe() for o in report.outcomes.values())
    return f"{attack.name} ({attack.doc}) on {kind}:\n- " + "\n- ".join(problems) + f"\n  {shown}"


@pytest.mark.parametrize(("attack", "kind"), _params(ATTACKS))
def test_zoo_hostile_folder_refused_cleanly(
    attack: Attack, kind: str, pristine: dict[str, Path], tmp_path: Path, workers: Workers
) -> None:
    box = Sandbox.create(tmp_path, pristine[kind], attack.folder_name)
    attack.build(box, kind)
    before = _watched(box)
    if attack in EXEC_ATTACKS:  # a fresh process whose current directory is the sandbox
        with Worker(cwd=box.root, env=worker_env([HERE]), preload=PRELOAD[kind]) as worker:
            report = worker.run(
                box.folder, bound_s=attack.bound_s, scratch=[box.scratch], tmpdir=box.scratch
            )
    else:
        report = workers[kind].run(
            box.folder,
            bound_s=attack.bound_s,
            scratch=[box.scratch],
            tmpdir=box.scratch,
            block=attack.blocking,
        )
    problems = problems_of(attack, kind, box, report, before)
    assert not problems, fail_message(attack, kind, report, problems)


def test_zoo_covers_every_flavor() -> None:
    kinds = {kind for _, kind in grid(CONTENT_ATTACKS)}
    assert kinds == {"sklearn", "pytorch_export", "pytorch_state_dict", "custom", "xgboost"}
    assert len({a.name for a in ATTACKS}) == len(ATTACKS)


def test_zoo_known_failures_name_real_attacks() -> None:
    from adversarial_folders import KINDS
    from known_failures import KNOWN

    real = {(a.name, kind) for a, kind in grid(ATTACKS)} | {("mutator", k) for k in KINDS}
    assert set(KNOWN) <= real, sorted(set(KNOWN) - real)
