"""The folder mutator: hypothesis draws hostile edits of every flavor's folder, the contract holds.

Each example copies a pristine folder, applies one to three edits drawn by
``flavorkit.testing.strategies.folder_mutations`` (files truncated,
bit-flipped, given non-UTF-8 bytes, replaced by a link out, a self-loop, a
FIFO or a folder, deleted; ``MLmodel`` and JSON values retyped, nested,
bloated, deleted or swapped) and probes ``load_model``, ``load_native``,
``flavorkit validate``, ``flavorkit info`` and ``flavorkit serve --check`` in
a warm worker process under a blocking access watch (an audit hook: files
opened, created, renamed or removed, processes started). Each must succeed
or be refused with a flavorkit error within the bound, without crashing the
worker; ``validate`` passing means the model loads; nothing is read outside
the folder (the interpreter's code, /proc, /dev/null and the scratch folder
excepted) or written outside the scratch folder; nothing beside the folder
changes.

The examples per flavor come from the ``flavorkit-adversarial`` profile
(``FLAVORKIT_ADVERSARIAL_EXAMPLES``); ``benchmarks/fuzz_folders.py`` runs the
same planner on thousands of folders.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest
from adversarial_folders import KINDS, PROFILE
from adversarial_zoo import PASSWD_MARK, SECRET, Sandbox
from flavorkit.testing._hostile import FolderShape, changes, contract_problems, snapshot
from flavorkit.testing.strategies import folder_mutations
from hypothesis import given, note, settings
from hypothesis import strategies as st
from known_failures import marks_for

BOUND_S = 15.0
pytestmark = pytest.mark.timeout(900)


def _params() -> list[object]:
    return [pytest.param(kind, id=kind, marks=marks_for("mutator", kind)) for kind in KINDS]


@pytest.mark.parametrize("kind", _params())
def test_mutator_hostile_folders_refused_cleanly(
    kind: str, pristine: dict[str, Path], tmp_path: Path, workers: object
) -> None:
    shape = FolderShape.of(pristine[kind])
    worker = workers[kind]  # type: ignore[index]

    @settings(settings.get_profile(PROFILE))
    @given(data=st.data())
    def folder_kept_the_contract(data: st.DataObject) -> None:
        plan = data.draw(folder_mutations(shape), label="mutations")
        root = Path(tempfile.mkdtemp(dir=tmp_path))
        try:
            box = Sandbox.create(root, pristine[kind])
            applied = [str(m) for m in plan if m.apply(box.folder, box.secret)]
            note(f"applied: {applied}")
            before = snapshot(box.outside)
            report = worker.run(
                box.folder, bound_s=BOUND_S, scratch=[box.scratch], tmpdir=box.scratch, block=True
            )
            problems = contract_problems(report.outcomes)
            problems += [f"access: {v}" for v in report.violations]
            problems += changes(before, snapshot(box.outside))
            problems += [
                f"{o.entry} printed a file outside the folder"
                for o in report.outcomes.values()
                if SECRET in o.stdout + o.message or PASSWD_MARK in o.stdout + o.message
            ]
            shown = "\n  ".join(o.describe() for o in report.outcomes.values())
            assert not problems, (
                f"{kind} folder after {applied}:\n- " + "\n- ".join(problems) + f"\n  {shown}"
            )
        finally:
            shutil.rmtree(root, ignore_errors=True)

    folder_kept_the_contract()


def test_mutator_plans_apply_to_every_flavor(pristine: dict[str, Path], tmp_path: Path) -> None:
    """Every file of every pristine folder is a target, and MLmodel keys are too."""
    for kind in KINDS:
        shape = FolderShape.of(pristine[kind])
        assert ("MLmodel" in dict(shape.files)) and ("requirements.txt" in dict(shape.files))
        assert ("flavors",) in shape.values["MLmodel"]
        assert any(len(key) >= 3 for key in shape.values["MLmodel"]), kind
