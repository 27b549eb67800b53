"""Attacks that still break the contract, each with the component at fault (a strict xfail).

Filled from the last run of the suite. A fix makes its test xpass, and the
strict mark then fails it until its entry here is removed: delete the line
in the same change as the fix.
"""

from __future__ import annotations

from typing import Any

import pytest

# (attack, kind) -> why it still fails; the mutator's entries are ("mutator", kind)
KNOWN: dict[tuple[str, str], str] = {}


def reason_for(attack: str, kind: str) -> str | None:
    return KNOWN.get((attack, kind)) or KNOWN.get((attack, "*"))


def marks_for(attack: str, kind: str) -> list[Any]:
    reason = reason_for(attack, kind)
    return [pytest.mark.xfail(reason=reason, strict=True)] if reason else []
