"""Loading a scikit-learn model keeps PyTorch out of the process, with skops's trust unchanged.

``import skops.io`` walks every scikit-learn package to list the estimators
it trusts; the walk would import PyTorch through scikit-learn's vendored
array-API wrapper. The plugin imports skops with that wrapper hidden from
the importing thread (``flavorkit_sklearn._skops``). These checks run in
fresh interpreters, since a test process has imported skops long before.
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
