"""The conformance check of hostile folders: a damaged or tampered folder is refused cleanly.

A model folder may come from anyone (docs/security.md). The check saves the
case's model, spoils copies of the folder with a fixed set of edits
(:func:`flavorkit.testing._hostile.fixed_mutations`, limited to the files
the flavor wrote itself plus two edits of ``MLmodel``) and loads each
without the unsafe opt-in, watching what the load does.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from flavorkit.testing._case import FlavorCase
from flavorkit.testing._hostile import (
    AccessWatch,
    FolderMutation,
    Outcome,
    copy_folder,
    fixed_mutations,
    probe,
)
from flavorkit.testing._support import CORE_FILES, Verdict, python_env, saved_model, scratch_dir

# seconds one load of one spoiled folder may take (a real model loads in well under one)
HOSTILE_BOUND_S = 30.0
_ENTRIES = ("load_model", "load_native")
# shown in place of the outside file's contents, were a load to echo them
_SENTINEL = "flavorkit-hostile-check-outside-file"
_SHOWN = 6


def hostile_mutations(folder: Path) -> list[FolderMutation]:
    """The edits the check applies to ``folder``: the flavor's own files, plus MLmodel's two."""
    return [
        m
        for m in fixed_mutations(folder)
        if m.target.split("/", 1)[0] not in CORE_FILES or m.kind in ("non_utf8", "nest")
    ]


def check_hostile_folder_refused(case: FlavorCase) -> None:
    """Spoiled copies of a saved folder load or raise a flavorkit error, reading nothing outside.

    Each file the flavor wrote is truncated (to half, to nothing),
    bit-flipped (first, middle, last byte) and replaced by a symlink to a
    file outside the folder, a symlink to itself, a FIFO and a folder;
    ``MLmodel`` gets non-UTF-8 bytes and a 5,000-deep nested value. Each
    spoiled copy is loaded with ``load_model`` and ``load_native`` without
    the unsafe opt-in, under an audit hook: every load must return or raise a
    ``FlavorkitError`` within ``HOSTILE_BOUND_S`` seconds, and must not open
    a file outside the folder (the interpreter's own files, /proc and
    /dev/null excepted), open a FIFO or device without ``O_NONBLOCK``, write
    outside a scratch folder or start a process. With the ``subprocess``
    tag the loads run in a separate process, so that a deserializer that
    crashes on a damaged file fails the check, not the test run.
    """
    v = Verdict(check_hostile_folder_refused, case)
    pristine = v.call("saving the model", saved_model, case)
    work = scratch_dir(f"{case.name}-hostile")
    outside = work / "outside.txt"
    outside.write_text(_SENTINEL + "\n", encoding="utf-8")
    tmp = work / "tmp"
    tmp.mkdir()
    mutations = hostile_mutations(pristine)
    failures: list[str] = []
    runner = _Runner(case, work, tmp)
    try:
        for index, mutation in enumerate(mutations):
            folder = copy_folder(pristine, work / f"{index:02d}" / "model")
            if not mutation.apply(folder, outside):
                continue
            outcomes, violations = runner.probe(folder)
            for outcome in outcomes.values():
                if not outcome.kept_contract:
                    failures.append(f"after {mutation}, {outcome.describe()}")
                elif _SENTINEL in outcome.message:
                    failures.append(f"after {mutation}, {outcome.entry} showed the outside file")
            failures += [f"after {mutation}, {entry} {what}" for entry, what in violations]
    finally:
        runner.close()
    if failures:
        shown = "\n    ".join(failures[:_SHOWN])
        more = f"\n    (+{len(failures) - _SHOWN} more)" if len(failures) > _SHOWN else ""
        v.fail(
            f"{len(failures)} of {len(mutations) * len(_ENTRIES)} loads of spoiled copies "
            f"broke it:\n    {shown}{more}"
        )


class _Runner:
    """Loads spoiled folders: in a worker process (``subprocess`` tag) or in this one."""

    def __init__(self, case: FlavorCase, work: Path, tmp: Path) -> None:
        self.tmp = tmp
        self.worker = None
        if case.tags.subprocess:
            from flavorkit.testing._hostile_worker import Worker, clean_env

            preload = ["flavorkit", "flavorkit.cli", case.plugin_module, *case.framework_modules]
            self.worker = Worker(
                cwd=work, env=clean_env(python_env(case, work)), preload=preload, tmpdir=tmp
            )

    def probe(self, folder: Path) -> tuple[dict[str, Outcome], list[tuple[str, str]]]:
        if self.worker is not None:
            report = self.worker.run(
                folder, _ENTRIES, bound_s=HOSTILE_BOUND_S, scratch=[self.tmp], block=True
            )
            violations = [tuple(v.split(": ", 1)) for v in report.violations]
            return report.outcomes, violations  # type: ignore[return-value]
        outcomes, violations = {}, []
        previous = tempfile.tempdir
        tempfile.tempdir = os.fspath(self.tmp)
        try:
            for entry in _ENTRIES:
                with AccessWatch(folder, scratch=[self.tmp]) as watch:
                    outcomes[entry] = probe(folder, entry, bound_s=HOSTILE_BOUND_S)
                violations += [(entry, what) for what in watch.violations]
        finally:
            tempfile.tempdir = previous
        return outcomes, violations

    def close(self) -> None:
        if self.worker is not None:
            self.worker.close()
