"""The conformance kit's own API: cases, tags, the three ways in, the knobs, the value helpers."""

from __future__ import annotations

import functools
import subprocess
import sys
import textwrap
from pathlib import Path

import flavorkit.testing as kit
import numpy as np
import pandas as pd
import pytest
from broken_flavors import case, drops_row
from flavorkit.api._plugins import Registry
from flavorkit.testing import (
    FlavorCase,
    FlavorCheckError,
    SkipCheck,
    Tags,
    _support,
    _values,
    check_flavor,
)
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

TESTS = Path(__file__).parent


def names(case_: FlavorCase, **kwargs: object) -> list[str]:
    return [kit._runner.check_name(c) for c in kit.iter_flavor_checks(case_, **kwargs)]


def test_kit_all_is_pinned() -> None:
    assert kit.__all__ == [
        "CHECK_NAMES",
        "CheckResult",
        "FlavorCase",
        "FlavorCheckError",
        "FreshVenv",
        "SkipCheck",
        "Tags",
        "check_columns_bound_by_name",
        "check_concatenation",
        "check_concurrent_predictions",
        "check_default_format_is_safe",
        "check_empty_and_odd_batches",
        "check_environment_honest",
        "check_environment_pins_framework",
        "check_flavor",
        "check_folder_contents",
        "check_folder_relocatable",
        "check_generated_data_predictions",
        "check_hostile_folder_refused",
        "check_import_is_light",
        "check_infer_then_enforce",
        "check_input_forms_agree",
        "check_input_untouched",
        "check_load_in_fresh_process",
        "check_loads_from_registry",
        "check_manifest_cannot_widen_trust",
        "check_mutations_rejected",
        "check_native_workflow",
        "check_no_process_side_effects",
        "check_params_validated_and_defaulted",
        "check_plugin_listed",
        "check_predict_deterministic",
        "check_row_count_and_order",
        "check_save_load_round_trip",
        "check_save_refuses_non_empty_path",
        "check_save_writes_only_inside_folder",
        "check_single_row",
        "install_wheels_in_fresh_venv",
        "iter_flavor_checks",
        "modules_imported_by",
        "parametrize_flavor_checks",
    ]
    assert {n for n in kit.__all__ if n.startswith("check_")} - {"check_flavor"} == set(
        kit.CHECK_NAMES
    )


def test_kit_every_check_states_its_property() -> None:
    for name in kit.CHECK_NAMES:
        doc = getattr(kit, name).__doc__
        assert doc and doc.strip().splitlines()[0].endswith("."), name


def test_kit_import_is_light() -> None:
    code = "import flavorkit.testing, flavorkit.testing.pytest_plugin"
    assert kit.modules_imported_by(code, ["numpy", "pandas", "hypothesis"]) == []


def test_kit_modules_imported_by_sees_imports_and_failures() -> None:
    # the probe plugins' import tests rely on must be able to fail
    watched = ["numpy", "pandas", "decimal", "numpy"]
    assert kit.modules_imported_by("pass", watched) == []
    assert kit.modules_imported_by("import numpy, decimal", watched) == ["decimal", "numpy"]
    with pytest.raises(AssertionError, match=r"(?s)'import no_such_module' .*ModuleNotFoundError"):
        kit.modules_imported_by("import no_such_module", watched)


def test_kit_public_classes_name_the_public_module() -> None:
    assert repr(FlavorCase).startswith("<class 'flavorkit.testing.FlavorCase")
    assert issubclass(FlavorCheckError, AssertionError)


def test_kit_tags_choose_the_checks() -> None:
    everything = names(case("good"))
    assert everything == list(kit.CHECK_NAMES)
    tags = Tags(
        deterministic=False,
        batchable=False,
        safe_default_format=False,
        supports_params=False,
        subprocess=False,
    )
    reduced = names(case("good", tags=tags, framework_module=None, untrusted_save_options=None))
    assert set(everything) - set(reduced) == {
        "check_concatenation",
        "check_predict_deterministic",
        "check_default_format_is_safe",
        "check_params_validated_and_defaulted",
        "check_load_in_fresh_process",
        "check_folder_relocatable",
        "check_import_is_light",
        "check_plugin_listed",
        "check_manifest_cannot_widen_trust",
        "check_environment_pins_framework",
    }


def test_kit_max_examples_is_bound_into_property_checks() -> None:
    bound = {
        kit._runner.check_name(c): c for c in kit.iter_flavor_checks(case("good"), max_examples=3)
    }
    rows = bound["check_row_count_and_order"]
    assert isinstance(rows, functools.partial) and rows.keywords == {"max_examples": 3}
    assert rows.__name__ == "check_row_count_and_order"
    assert bound["check_single_row"] is kit.check_single_row


def test_kit_max_examples_precedence(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_support, "_default_max_examples", None)
    monkeypatch.setenv(_support.MAX_EXAMPLES_ENV, "7")
    assert _support.resolve_max_examples(None) == 7
    monkeypatch.setattr(_support, "_default_max_examples", 4)
    assert _support.resolve_max_examples(None) == 4
    assert _support.resolve_max_examples(2) == 2
    monkeypatch.setattr(_support, "_default_max_examples", None)
    monkeypatch.setenv(_support.MAX_EXAMPLES_ENV, "many")
    with pytest.raises(ValueError, match="FLAVORKIT_MAX_EXAMPLES must be an integer"):
        _support.resolve_max_examples(None)
    with pytest.raises(ValueError, match="at least 1"):
        _support.set_default_max_examples(0)


def test_kit_case_rejects_bad_fields() -> None:
    with pytest.raises(ValueError, match="name must be a non-empty string"):
        case("good", name="")
    with pytest.raises(ValueError, match=r"tolerance must be a float or \(rtol, atol\)"):
        case("good", tolerance=(1e-3,))
    assert (
        case("good", tolerance=(1e-3, 1e-5)).rtol,
        case("good", tolerance=(1e-3, 1e-5)).atol,
    ) == (1e-3, 1e-5)
    assert case("good", framework_module=["numpy.linalg", "scipy"]).framework_modules == (
        "numpy",
        "scipy",
    )


def test_kit_expected_failures_reject_unknown_names() -> None:
    with pytest.raises(ValueError, match="unknown check 'check_round_trip'"):
        check_flavor(case("good"), expected_failed_checks={"check_round_trip": "typo"})
    with pytest.raises(ValueError, match="needs a reason"):
        kit.parametrize_flavor_checks(
            [case("good")], expected_failed_checks={kit.check_single_row: ""}
        )


def test_kit_parametrize_ids_and_expected_failures() -> None:
    mark = kit.parametrize_flavor_checks(
        [case("good"), case("drops_row")],
        expected_failed_checks=lambda c: (
            {kit.check_single_row: "drops a row"} if c.name == "drops_row" else {}
        ),
    )
    argnames, params = mark.args
    assert argnames == ("case", "check")
    ids = [p.id for p in params]
    assert ids[:2] == ["good-check_save_load_round_trip", "good-check_load_in_fresh_process"]
    assert len(ids) == 2 * len(kit.CHECK_NAMES) and len(set(ids)) == len(ids)
    marked = [(p.id, m.kwargs) for p in params for m in p.marks]
    assert marked == [("drops_row-check_single_row", {"reason": "drops a row", "strict": True})]
    with pytest.raises(ValueError, match="two cases are named 'good'"):
        kit.parametrize_flavor_checks([case("good"), case("good")])


def test_kit_check_flavor_reports_every_status(flavorkit_registry: Registry) -> None:
    flavorkit_registry.register(drops_row, name="zoo-drops_row")
    declared = {"check_single_row": "drops a row", "check_import_is_light": "stale declaration"}
    results = {
        r.check: r
        for r in check_flavor(
            case("drops_row", tags=Tags(subprocess=False)), expected_failed_checks=declared
        )
    }
    assert results["check_single_row"].status == "xfailed"
    assert results["check_single_row"].reason == "drops a row"
    assert "check_import_is_light" not in results  # not applicable without subprocesses
    assert results["check_row_count_and_order"].status == "failed"
    assert "returned 5 rows" in results["check_row_count_and_order"].message
    assert results["check_save_refuses_non_empty_path"].status == "passed"
    assert all(r.duration_s >= 0 for r in results.values())
    assert not results["check_row_count_and_order"].ok and results["check_single_row"].ok


def test_kit_check_flavor_raises_on_request(flavorkit_registry: Registry) -> None:
    flavorkit_registry.register(drops_row, name="zoo-drops_row")
    with pytest.raises(
        FlavorCheckError,
        match=r"(?s)checks did not pass.*check_row_count_and_order: .*returned 5 rows",
    ):
        check_flavor(
            case("drops_row", tags=Tags(subprocess=False)), on_fail="raise", max_examples=2
        )


def test_kit_skip_is_a_pytest_skip() -> None:
    with pytest.raises(SkipCheck):
        kit._support.Verdict(kit.check_single_row, case("good")).skip("nothing to slice")
    assert issubclass(SkipCheck, __import__("unittest").SkipTest)


def test_kit_runs_under_pytest_with_ids_knob_and_profile(tmp_path: Path) -> None:
    (tmp_path / "test_toy.py").write_text(
        textwrap.dedent(
            f"""
            import sys
            sys.path.insert(0, {str(TESTS)!r})
            import broken_flavors
            from broken_flavors import good
            from flavorkit.testing import _support, parametrize_flavor_checks

            @parametrize_flavor_checks(
                [broken_flavors.case("good")],
                expected_failed_checks={{"check_single_row": "declared to show strictness"}},
            )
            def test_toy(flavorkit_registry, case, check):
                flavorkit_registry.register(good, name="zoo-good")
                assert _support.resolve_max_examples(None) == 2
                check(case)
            """
        )
    )
    args = [
        sys.executable,
        "-m",
        "pytest",
        str(tmp_path),
        "-q",
        "-p",
        "no:cacheprovider",
        "--hypothesis-profile",
        "flavorkit-ci",
        "--flavorkit-max-examples",
        "2",
        "-k",
        "row_count or single_row",
    ]
    proc = subprocess.run(args, cwd=tmp_path, capture_output=True, text=True)
    assert "1 failed, 1 passed" in proc.stdout, proc.stdout[-2000:]
    assert "[XPASS(strict)] declared to show strictness" in proc.stdout


# -- the value helpers ---------------------------------------------------------------

ARRAYS = hnp.arrays(
    st.sampled_from(
        [np.dtype(t) for t in ("float32", "float64", "int64", "bool", "U3", "datetime64[ns]")]
    ),
    hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4),
)


@given(ARRAYS)
def test_kit_values_encode_decode_round_trip(arr: np.ndarray) -> None:
    flat = _values.flatten(arr)
    back = _values.decode(_values.encode(flat))
    assert _values.compare(flat, back, rtol=0, atol=0) is None


@given(
    st.lists(st.integers(0, 5), min_size=1, max_size=8),
    st.lists(st.integers(0, 5), min_size=1, max_size=8),
)
def test_kit_values_take_and_concat_agree(first: list[int], second: list[int]) -> None:
    frame = pd.DataFrame({"a": np.arange(6.0), "b": list("uvwxyz")})
    joined = _values.concat_rows(
        [_values.take_rows(frame, first), _values.take_rows(frame, second)]
    )
    pd.testing.assert_frame_equal(joined, _values.take_rows(frame, first + second))
    flat = _values.flatten(frame)
    parts = _values.concat_flats([flat.take(first), flat.take(second)])
    assert _values.compare(flat.take(first + second), parts, rtol=0, atol=0) is None


def test_kit_values_compare_names_the_difference() -> None:
    base = _values.flatten(np.array([1.0, 2.0], dtype=np.float32))
    assert _values.compare(base, _values.flatten(np.array([1.0, 2.0])), rtol=0, atol=0) == (
        "the output has dtype float64, expected float32"
    )
    assert "1 of 2 values differ (first at index (1,)" in _values.compare(
        base, _values.flatten(np.array([1.0, 2.5], dtype=np.float32)), rtol=1e-6, atol=0
    )
    assert _values.compare(base, _values.flatten([1.0, 2.0]), rtol=0, atol=0).startswith(
        "predict returned list"
    )
    assert (
        _values.compare(
            _values.flatten(np.array(["a", None], dtype=object)),
            _values.flatten(np.array(["a", None], dtype=object)),
            rtol=0,
            atol=0,
        )
        is None
    )


def test_kit_values_forms_of_a_frame() -> None:
    frame = pd.DataFrame({"a": [1.0, 2.0], "b": [3, 4]})
    forms = _values.input_forms(frame)
    assert sorted(forms) == ["dataframe", "dict_of_ndarrays", "records"]
    assert forms["records"] == [{"a": 1.0, "b": 3}, {"a": 2.0, "b": 4}]
    assert sorted(_values.input_forms(np.zeros((2, 3)))) == ["dataframe", "ndarray", "rows"]
    assert _values.n_rows({"x": np.zeros((4, 2)), "y": np.zeros(4)}) == 4
    assert _values.n_rows(3.0) is None
