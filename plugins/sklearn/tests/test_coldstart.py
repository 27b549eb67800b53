"""Loading a scikit-learn model skips skops's walk of scikit-learn, with skops's trust unchanged.

``import skops.io`` walks every scikit-learn package to list the estimators
it trusts; the walk imports every public module, and PyTorch through
scikit-learn's vendored array-API wrapper. The plugin imports skops without
the walk and decides the names a file holds one by one, by the walk's own
rule, running the walk (with that wrapper hidden from the walking thread)
only when the rule says no (``flavorkit_sklearn._skops``). These checks run
in fresh interpreters, since a test process has imported skops long before.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import Any

import pytest

from flavorkit_sklearn import _skops

needs_torch = pytest.mark.skipif(
    importlib.util.find_spec("torch") is None, reason="PyTorch is not installed"
)

# every list of trusted names skops computes when skops.io is imported
TRUSTED_LISTS = """
import json
from skops.io import _trusted_types
lists = {name: sorted(value) for name, value in vars(_trusted_types).items()
         if name.isupper() and name.endswith("_NAMES")}
"""


def _fresh(code: str) -> Any:
    """Run ``code`` in a new interpreter; it prints one JSON document last. Returns it."""
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, check=False
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A LogisticRegression saved in the default (skops) format."""
    import flavorkit
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    X = np.arange(40, dtype=float).reshape(20, 2)
    estimator = LogisticRegression().fit(X, np.arange(20) % 2)
    path = tmp_path_factory.mktemp("coldstart") / "model"
    flavorkit.save_model(estimator, path, input_example=X[:2])
    return path


@needs_torch
def test_loading_and_predicting_imports_no_torch(saved: Path) -> None:
    # nothing in the load walks scikit-learn, so nothing imports the wrapper either
    found = _fresh(
        f"""
        import json, sys
        import flavorkit, numpy as np
        model = flavorkit.load_model({str(saved)!r})
        model.predict(np.zeros((2, 2)))
        hidden = sys.modules.get("skops.io") is not None and "torch" not in sys.modules
        finders = [type(f).__name__ for f in sys.meta_path]
        # nothing stays blocked: the wrapper (and PyTorch) import as usual afterwards
        import sklearn.externals.array_api_compat.torch
        print(json.dumps({{"hidden": hidden, "finders": finders, "torch": "torch" in sys.modules}}))
        """
    )
    assert found["hidden"], "loading an sklearn model imported PyTorch"
    assert "_HideDuringImport" not in found["finders"]
    assert found["torch"]


def test_trusted_types_equal_what_skops_computes() -> None:
    plain = _fresh(TRUSTED_LISTS + "print(json.dumps(lists))")
    ours = _fresh(
        "from flavorkit_sklearn._skops import skops_io\nskops_io()\n"
        + TRUSTED_LISTS
        + "print(json.dumps(lists))"
    )
    assert ours == plain
    assert (
        "sklearn.linear_model._logistic.LogisticRegression" in ours["SKLEARN_ESTIMATOR_TYPE_NAMES"]
    )


@needs_torch
def test_trusted_types_equal_with_torch_imported_first() -> None:
    # with PyTorch already there nothing is hidden, and the lists are the same again
    plain = _fresh(TRUSTED_LISTS + "print(json.dumps(lists))")
    ours = _fresh(
        "import torch\nfrom flavorkit_sklearn._skops import skops_io\nskops_io()\n"
        + TRUSTED_LISTS
        + "print(json.dumps(lists))"
    )
    assert ours == plain


def test_the_same_types_are_refused(tmp_path: Path, custom_classifier: Any) -> None:
    import skops.io

    file = tmp_path / "model.skops"
    skops.io.dump(custom_classifier, file)
    question = f"print(json.dumps(sorted(skops_io().get_untrusted_types(file={str(file)!r}))))"
    plain = _fresh(f"import json, skops.io\nskops_io = lambda: skops.io\n{question}")
    ours = _fresh(f"import json\nfrom flavorkit_sklearn._skops import skops_io\n{question}")
    assert ours == plain == ["sample_estimators.MeanShiftClassifier"]


NOT_ESTIMATORS = [
    "sklearn.base.BaseEstimator",  # the walk leaves out the base class itself
    "sklearn.linear_model._base.LinearModel",  # abstract
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",  # no estimator
    "sklearn.utils._testing.MinimalClassifier",  # an estimator no walked module exposes
    "sklearn.utils.estimator_checks._NotAnArray",  # an ignored module
    "sklearn.experimental.enable_halving_search_cv.HalvingGridSearchCV",  # an ignored module
    "sklearn.linear_model._logistic.NoSuchEstimator",
    "sklearn.linear_model._logistic.LogisticRegression.fit",
    "sklearn..LogisticRegression",
    "sklearn.linear_model.__init__.LogisticRegression",
    "os.system",
]


def test_the_rule_for_one_name_agrees_with_the_walk() -> None:
    walked = _fresh(
        "import json\nfrom flavorkit_sklearn import _skops\nprint(json.dumps(_skops.walk()))"
    )
    assert "sklearn.pipeline.Pipeline" in walked and len(walked) > 100
    names = walked + NOT_ESTIMATORS
    # decided one by one in a process that never walks
    decided = _fresh(
        f"""
        import json, sys
        from flavorkit_sklearn import _skops
        _skops.skops_io()
        answers = [_skops.is_walked_estimator(name) for name in {names!r}]
        print(json.dumps({{"answers": answers, "walked": _skops._names().complete,
                          "testing": "sklearn.utils._testing" in sys.modules}}))
        """
    )
    assert dict(zip(names, decided["answers"], strict=True)) == {n: n in walked for n in names}
    assert not decided["walked"] and not decided["testing"]


def test_loading_common_models_does_not_walk(tmp_path: Path) -> None:
    import flavorkit
    import numpy as np
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X = np.arange(40, dtype=float).reshape(20, 2)
    y = np.arange(20) % 2
    flavorkit.save_model(LogisticRegression().fit(X, y), tmp_path / "lr", input_example=X[:2])
    pipeline = make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y)
    flavorkit.save_model(pipeline, tmp_path / "pipe", input_example=X[:2])
    found = _fresh(
        f"""
        import json, sys
        import flavorkit, numpy as np
        out = [flavorkit.load_model(p).predict(np.zeros((2, 2))).tolist()
               for p in ({str(tmp_path / "lr")!r}, {str(tmp_path / "pipe")!r})]
        from flavorkit_sklearn import _skops
        names = _skops._names()
        print(json.dumps({{"out": out, "walked": names.complete,
                          "settled": sorted(list.__iter__(names)),
                          "testing": "sklearn.utils._testing" in sys.modules}}))
        """
    )
    zeros = np.zeros((2, 2))
    assert found["out"] == [
        LogisticRegression().fit(X, y).predict(zeros).tolist(),
        pipeline.predict(zeros).tolist(),
    ]
    assert not found["walked"] and not found["testing"]
    assert found["settled"] == [
        "sklearn.linear_model._logistic.LogisticRegression",
        "sklearn.pipeline.Pipeline",
        "sklearn.preprocessing._data.StandardScaler",
    ]


def test_a_name_the_rule_refuses_runs_the_walk_and_gets_its_answer(tmp_path: Path) -> None:
    import skops.io
    from sklearn.ensemble import HistGradientBoostingClassifier

    X = [[float(i), float(i % 3)] for i in range(30)]
    file = tmp_path / "hgb.skops"
    skops.io.dump(
        HistGradientBoostingClassifier(max_iter=3).fit(X, [i % 2 for i in range(30)]), file
    )
    question = f"""
        import json
        from flavorkit_sklearn import _skops
        skops = _skops.skops_io()
        found = _skops.untrusted_types(skops, {str(file)!r})
        print(json.dumps({{"found": found, "walked": _skops._names().complete}}))
    """
    plain = _fresh(
        "import json, skops.io\n"
        f"print(json.dumps(skops.io.get_untrusted_types(file={str(file)!r})))"
    )
    ours = _fresh(question)
    assert ours["found"] == sorted(plain)
    assert "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor" in plain
    assert ours["walked"]


def test_skops_used_directly_sees_the_walked_list(tmp_path: Path) -> None:
    # other code in the process calling skops itself gets skops's answer, not a partial list
    import numpy as np
    import skops.io
    from sklearn.linear_model import LogisticRegression

    file = tmp_path / "lr.skops"
    X = np.arange(20, dtype=float).reshape(10, 2)
    skops.io.dump(LogisticRegression().fit(X, np.arange(10) % 2), file)
    found = _fresh(
        f"""
        import json
        from flavorkit_sklearn._skops import skops_io
        skops = skops_io()
        print(json.dumps(skops.get_untrusted_types(file={str(file)!r})))
        """
    )
    assert found == []


def test_the_finder_hides_the_wrapper_from_its_own_thread_only() -> None:
    finder = _skops._HideDuringImport()
    with pytest.raises(ModuleNotFoundError):
        finder.find_spec(_skops.HIDDEN)
    with pytest.raises(ModuleNotFoundError):
        finder.find_spec(_skops.HIDDEN + ".linalg")
    assert finder.find_spec("torch") is None
    assert finder.find_spec("sklearn.externals.array_api_compat.torchvision") is None
    seen: list[Any] = []
    other = threading.Thread(target=lambda: seen.append(finder.find_spec(_skops.HIDDEN)))
    other.start()
    other.join()
    assert seen == [None]


def test_skops_io_leaves_the_import_system_as_it_was() -> None:
    before = list(sys.meta_path)
    assert _skops.skops_io() is sys.modules["skops.io"]
    assert sys.meta_path == before


def test_concurrent_first_imports_agree() -> None:
    found = _fresh(
        """
        import json, sys, threading
        from flavorkit_sklearn._skops import skops_io
        results = []
        threads = [threading.Thread(target=lambda: results.append(skops_io())) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        print(json.dumps({"same": len({id(m) for m in results}) == 1, "n": len(results),
                          "finders": [type(f).__name__ for f in sys.meta_path]}))
        """
    )
    assert found["same"] and found["n"] == 4
    assert "_HideDuringImport" not in found["finders"]
