"""Train a model, save it, load it back through pyfunc, predict, and print its MLmodel.

Run with ``make demo``.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import flavorkit
import pandas as pd
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression


def main() -> None:
    iris = load_iris(as_frame=True)
    X: pd.DataFrame = iris.data
    y = iris.target
    estimator = LogisticRegression(max_iter=500).fit(X, y)

    folder = Path(tempfile.mkdtemp(prefix="flavorkit-demo-")) / "iris"
    flavorkit.save_model(estimator, folder, input_example=X.head(3))
    print(f"saved to {folder}\n")
    print((folder / "MLmodel").read_text())
    print("requirements.txt:\n" + (folder / "requirements.txt").read_text())

    model = flavorkit.load_model(folder)
    print(f"loaded {model!r}")
    print("predict:", model.predict(X.head(5)).tolist())
    print(
        "predict_proba:",
        model.predict(X.head(2), params={"predict_fn": "predict_proba"}).round(3).tolist(),
    )

    try:
        model.predict(X.drop(columns=["petal width (cm)"]).head(1))
    except flavorkit.SchemaEnforcementError as exc:
        print(f"rejected bad input: {exc}")


if __name__ == "__main__":
    main()
