"""Run by MLflow's interpreter: fill an MLflow tracking store with registered models.

Usage: ``python mlflow_populate_registry.py OUTDIR`` with ``MLFLOW_TRACKING_URI``
naming the store (a ``sqlite:///`` database, or ``http://`` for a tracking
server). Everything MLflow does here is what a user of MLflow 3 does:

- ``iris-sk``: version 1 (a LogisticRegression logged with
  ``registered_model_name``, alias ``champion``), version 2 (another fit,
  stage ``Production``), version 3 (registered from ``runs:/<run>/model``,
  alias ``doomed``, then deleted, so ``latest`` is 2);
- ``iris-torch``: version 1, a torch MLP logged with ``registered_model_name``;
- a run that also keeps a saved model among its own artifacts (``exported``),
  the pre-MLflow-3 way, for ``runs:/<run>/exported``.

Writes ``OUTDIR/expected.pkl``: the ids MLflow assigned (runs, logged models),
the input data and MLflow's own predictions for every URI the tests load,
computed with ``mlflow.pyfunc.load_model(uri).predict``.
"""

from __future__ import annotations

import pickle
import sys
import tempfile
import warnings
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
# the model definitions the interop tests share between both environments
sys.path.insert(0, str(HERE.parent / "interop"))

import mlflow  # noqa: E402  (after the path above)
import mlflow.pytorch  # noqa: E402
import mlflow.sklearn  # noqa: E402
import sklearn  # noqa: E402
import torch  # noqa: E402
from interop_models import iris_frame, logistic_regression, make_mlp, tensor_batch  # noqa: E402
from mlflow import MlflowClient  # noqa: E402


def _second_fit() -> Any:
    """A LogisticRegression that predicts differently from ``logistic_regression()``."""
    from sklearn.linear_model import LogisticRegression

    x, y = iris_frame(seed=3)
    return LogisticRegression(C=0.05, max_iter=500).fit(x, y)


def main(outdir: str) -> int:
    out = Path(outdir)
    frame = iris_frame()[0].head(12)
    batch = tensor_batch(9)
    # pinned requirements: MLflow's own inference would spawn a process per model
    sk_reqs = [f"scikit-learn=={sklearn.__version__}"]
    torch_reqs = [f"torch=={torch.__version__.split('+')[0]}"]
    client = MlflowClient()
    mlflow.set_experiment("flavorkit-registry")

    with mlflow.start_run() as run:
        sk1 = mlflow.sklearn.log_model(
            logistic_regression(),
            name="model",
            registered_model_name="iris-sk",
            input_example=frame.head(3),
            pip_requirements=sk_reqs,
        )
        with tempfile.TemporaryDirectory() as tmp:
            saved = Path(tmp) / "exported"
            mlflow.sklearn.save_model(logistic_regression(), saved, pip_requirements=sk_reqs)
            mlflow.log_artifacts(str(saved), artifact_path="exported")
    with mlflow.start_run():
        sk2 = mlflow.sklearn.log_model(
            _second_fit(),
            name="model",
            registered_model_name="iris-sk",
            input_example=frame.head(3),
            pip_requirements=sk_reqs,
        )
    with mlflow.start_run() as torch_run:
        mlp = mlflow.pytorch.log_model(
            make_mlp(),
            name="mlp",
            registered_model_name="iris-torch",
            input_example=tensor_batch(3),
            pip_requirements=torch_reqs,
        )
    doomed = mlflow.register_model(f"runs:/{run.info.run_id}/model", "iris-sk")
    client.set_registered_model_alias("iris-sk", "champion", "1")
    client.set_registered_model_alias("iris-sk", "doomed", doomed.version)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # stages are deprecated, and still in every old registry
        client.transition_model_version_stage("iris-sk", "2", "Production")
    client.delete_model_version("iris-sk", doomed.version)

    run_id, torch_run_id = run.info.run_id, torch_run.info.run_id
    # label -> (URI, input); the labels are the tests' parameter ids
    cases = {
        "version": ("models:/iris-sk/1", frame),
        "other-version": ("models:/iris-sk/2", frame),
        "alias": ("models:/iris-sk@champion", frame),
        "latest": ("models:/iris-sk/latest", frame),
        "stage": ("models:/iris-sk/Production", frame),
        "torch-version": ("models:/iris-torch/1", batch),
        "logged-model": (f"models:/{sk1.model_id}", frame),
        "torch-logged-model": (f"models:/{mlp.model_id}", batch),
        "run-logged-model": (f"runs:/{run_id}/model", frame),
        "run-artifacts": (f"runs:/{run_id}/exported", frame),
        "torch-run-logged-model": (f"runs:/{torch_run_id}/mlp", batch),
    }
    expected = {
        "run_id": run_id,
        "torch_run_id": torch_run_id,
        "sk_model_ids": [sk1.model_id, sk2.model_id],
        "torch_model_id": mlp.model_id,
        "deleted_version": int(doomed.version),
        "versions": {
            f"{v.name}/{v.version}": {"source": v.source, "run_id": v.run_id}
            for name in ("iris-sk", "iris-torch")
            for v in client.search_model_versions(f"name = '{name}'")
        },
        "cases": {
            label: {
                "uri": uri,
                "input": data,
                "prediction": mlflow.pyfunc.load_model(uri).predict(data),
            }
            for label, (uri, data) in cases.items()
        },
    }
    (out / "expected.pkl").write_bytes(pickle.dumps(expected, protocol=pickle.HIGHEST_PROTOCOL))
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
