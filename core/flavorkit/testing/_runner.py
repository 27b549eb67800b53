"""Three ways into the conformance kit: the generator, ``check_flavor`` and the pytest decorator.

``iter_flavor_checks(case)`` yields every check the case's tags select (the
table below says which tag turns which check on or off).
``check_flavor(case)`` runs them without pytest and returns one
:class:`CheckResult` per check. ``parametrize_flavor_checks(cases)``
turns them into pytest parameters with ids ``<case>-<check>``, so
``-k round_trip`` picks one check and ``-k sklearn-`` one case.
"""

from __future__ import annotations

import functools
import inspect
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from flavorkit.testing import (
    _checks,
    _checks_data,
    _checks_folder,
    _checks_hostile,
    _checks_packaging,
)
from flavorkit.testing._case import FlavorCase
from flavorkit.testing._support import FlavorCheckError, SkipCheck, forget

if TYPE_CHECKING:
    import pytest

Check = Callable[[FlavorCase], None]
ExpectedFailures = (
    Mapping[str | Check, str] | Callable[[FlavorCase], Mapping[str | Check, str]] | None
)


def _always(case: FlavorCase) -> bool:
    return True


# every check, in the order they run, with the tags that select it
_CHECKS: tuple[tuple[Check, Callable[[FlavorCase], bool]], ...] = (
    (_checks.check_save_load_round_trip, _always),
    (_checks.check_load_in_fresh_process, lambda c: c.tags.subprocess),
    (_checks.check_infer_then_enforce, _always),
    (_checks.check_input_forms_agree, _always),
    (_checks.check_row_count_and_order, _always),
    (_checks.check_concatenation, lambda c: c.tags.batchable),
    (_checks.check_single_row, _always),
    (_checks.check_mutations_rejected, _always),
    (_checks.check_params_validated_and_defaulted, lambda c: c.tags.supports_params is not False),
    (_checks.check_predict_deterministic, lambda c: c.tags.deterministic),
    (_checks_data.check_input_untouched, _always),
    (_checks_data.check_generated_data_predictions, _always),
    (_checks_data.check_empty_and_odd_batches, _always),
    (_checks_data.check_columns_bound_by_name, _checks_data.example_is_frame),
    (_checks_data.check_concurrent_predictions, lambda c: c.tags.thread_safe),
    (_checks_packaging.check_default_format_is_safe, lambda c: c.tags.safe_default_format),
    (
        _checks_packaging.check_manifest_cannot_widen_trust,
        lambda c: c.untrusted_save_options is not None,
    ),
    (_checks_packaging.check_environment_pins_framework, lambda c: bool(c.framework_modules)),
    (_checks_packaging.check_import_is_light, lambda c: c.tags.subprocess),
    (_checks_packaging.check_plugin_listed, lambda c: c.tags.subprocess),
    (_checks_packaging.check_save_refuses_non_empty_path, _always),
    (_checks_packaging.check_save_writes_only_inside_folder, _always),
    (_checks_folder.check_native_workflow, _always),
    (_checks_folder.check_folder_relocatable, lambda c: c.tags.subprocess),
    (_checks_folder.check_loads_from_registry, _always),
    (_checks_folder.check_no_process_side_effects, _always),
    (_checks_folder.check_environment_honest, _always),
    (_checks_folder.check_folder_contents, _always),
    (_checks_hostile.check_hostile_folder_refused, _always),
)
CHECK_NAMES: tuple[str, ...] = tuple(check.__name__ for check, _ in _CHECKS)


def check_name(check: Callable[..., Any]) -> str:
    """The name of a check, also when it is bound with ``functools.partial``."""
    name = getattr(check, "__name__", None)
    return name if isinstance(name, str) else check_name(check.func)  # type: ignore[attr-defined]


def _bind(check: Check, max_examples: int | None) -> Check:
    if max_examples is None or "max_examples" not in inspect.signature(check).parameters:
        return check
    bound = functools.partial(check, max_examples=max_examples)
    functools.update_wrapper(bound, check)
    return bound


def iter_flavor_checks(case: FlavorCase, *, max_examples: int | None = None) -> Iterator[Check]:
    """Yield each check that applies to ``case``, ready to be called as ``check(case)``.

    The generator under ``check_flavor`` and ``parametrize_flavor_checks``.
    ``max_examples`` is bound into the checks built on hypothesis; ``None``
    leaves it to ``--flavorkit-max-examples``, ``FLAVORKIT_MAX_EXAMPLES``
    or the hypothesis profile.
    """
    for check, applies in _CHECKS:
        if applies(case):
            yield _bind(check, max_examples)


def _expected_failures(case: FlavorCase, declared: ExpectedFailures) -> dict[str, str]:
    """``{check name: reason}`` for ``case``; unknown names raise ``ValueError`` (typos)."""
    if declared is None:
        return {}
    mapping = declared(case) if callable(declared) else declared
    out = {}
    for key, reason in (mapping or {}).items():
        name = key if isinstance(key, str) else check_name(key)
        if name not in CHECK_NAMES:
            raise ValueError(
                f"expected_failed_checks names unknown check {name!r}; "
                f"known: {', '.join(CHECK_NAMES)}"
            )
        if not reason or not isinstance(reason, str):
            raise ValueError(f"expected_failed_checks[{name!r}] needs a reason, got {reason!r}")
        out[name] = reason
    return out


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check on one case, as ``check_flavor`` returns it.

    ``status`` is ``passed``, ``failed``, ``skipped``, ``xfailed`` (failed
    and declared in ``expected_failed_checks``) or ``xpassed`` (declared but
    passed: the declaration is stale). ``message`` holds the failure or skip
    reason, ``reason`` the declared one.
    """

    case: str
    check: str
    status: Literal["passed", "failed", "skipped", "xfailed", "xpassed"]
    message: str = ""
    reason: str = ""
    duration_s: float = 0.0

    @property
    def ok(self) -> bool:
        """True for passed, skipped and expected failures."""
        return self.status in ("passed", "skipped", "xfailed")


def _message(exc: BaseException, limit: int = 600) -> str:
    text = str(exc) if isinstance(exc, FlavorCheckError) else f"{type(exc).__name__}: {exc}"
    # hypothesis adds the falsifying example as a note; keep it short, it may hold a whole frame
    notes = "\n".join(getattr(exc, "__notes__", None) or [])
    if len(notes) > limit:
        notes = notes[:limit] + " ..."
    return f"{text}\n{notes}" if notes else text


def check_flavor(
    case: FlavorCase,
    *,
    expected_failed_checks: ExpectedFailures = None,
    max_examples: int | None = None,
    on_fail: Literal["raise"] | None = None,
) -> list[CheckResult]:
    """Run every applicable check on ``case`` without pytest; return one result per check.

    ``expected_failed_checks`` maps check names (or functions) to the reason
    they are known to fail, or is a callable taking the case and returning
    such a mapping. With ``on_fail="raise"`` a run with any result that is
    not ``ok`` raises ``FlavorCheckError`` listing them. Raises
    ``ValueError`` for an unknown check name.
    """
    expected = _expected_failures(case, expected_failed_checks)
    results = []
    try:
        for check in iter_flavor_checks(case, max_examples=max_examples):
            name = check_name(check)
            reason = expected.get(name, "")
            start = time.perf_counter()
            try:
                check(case)
            except SkipCheck as exc:
                status, message = "skipped", str(exc)
            except Exception as exc:  # a check's own crash is a failure too, reported with its type
                status, message = ("xfailed" if reason else "failed"), _message(exc)
            else:
                status, message = ("xpassed" if reason else "passed"), ""
            elapsed = time.perf_counter() - start
            results.append(CheckResult(case.name, name, status, message, reason, elapsed))  # type: ignore[arg-type]
    finally:
        forget(case)
    bad = [r for r in results if not r.ok]
    if on_fail == "raise" and bad:
        detail = "\n".join(
            f"- {r.check}: "
            + (r.message if r.status == "failed" else f"passed, yet declared failing ({r.reason})")
            for r in bad
        )
        raise FlavorCheckError(
            "check_flavor",
            case.name,
            f"{len(bad)} of {len(results)} checks did not pass",
            "\n" + detail,
        )
    return results


def parametrize_flavor_checks(
    cases: Iterable[FlavorCase],
    *,
    expected_failed_checks: ExpectedFailures = None,
    max_examples: int | None = None,
) -> pytest.MarkDecorator:
    """A ``pytest.mark.parametrize`` over ``(case, check)``: each applicable check of each case.

    Decorate a test taking ``case`` and ``check`` that calls ``check(case)``.
    Ids are ``<case name>-<check name>``. Checks in
    ``expected_failed_checks`` (see :func:`check_flavor`) are marked
    ``xfail(strict=True)`` with their reason. Raises ``ValueError`` for two
    cases with one name or an unknown check name.
    """
    import pytest

    params = []
    seen: set[str] = set()
    for case in cases:
        if case.name in seen:
            raise ValueError(f"two cases are named {case.name!r}; case names must be unique")
        seen.add(case.name)
        expected = _expected_failures(case, expected_failed_checks)
        for check in iter_flavor_checks(case, max_examples=max_examples):
            name = check_name(check)
            marks = (
                [pytest.mark.xfail(reason=expected[name], strict=True)] if name in expected else []
            )
            params.append(pytest.param(case, check, id=f"{case.name}-{name}", marks=marks))
    return pytest.mark.parametrize(("case", "check"), params)


# tracebacks and reprs name the import path users write
CheckResult.__module__ = "flavorkit.testing"
