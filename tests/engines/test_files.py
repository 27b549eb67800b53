"""``flavorkit predict --engine spark|dask``: files in, a folder of part files out.

Each engine's output is compared with ``flavorkit predict``'s single-machine
run (``flavorkit.batch.predict_file``) on the same file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import flavorkit
import numpy as np
import pandas as pd
import pytest
from engine_support import PYSPARK_PANDAS_WARNING, Models
from flavorkit.batch import predict_file
from flavorkit.exceptions import PayloadError, SchemaEnforcementError


@pytest.fixture(scope="module")
def scored_csv(models: Models, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The models' frame as a CSV with an id and an unused column, and the single-machine run."""
    folder = tmp_path_factory.mktemp("files")
    frame = models.frame.round(6).assign(id=[f"row-{i}" for i in range(len(models.frame))])
    frame["note"] = "unused"
    source = folder / "in.csv"
    frame.to_csv(source, index=False)
    reference = folder / "reference.parquet"
    predict_file(flavorkit.load_model(models.regressor), str(source), str(reference), keep=["id"])
    return source, reference


def _read(folder: Path) -> pd.DataFrame:
    parts = sorted(folder.glob("part*"))
    assert parts, f"no part files in {folder}"
    if parts[0].suffix == ".csv" or ".csv" in parts[0].name:
        return pd.concat([pd.read_csv(p) for p in parts], ignore_index=True)
    return pd.read_parquet(folder)


def _same(out: pd.DataFrame, reference: Path) -> None:
    want = pd.read_parquet(reference).set_index("id")["prediction"]
    got = out.set_index("id")["prediction"]
    assert sorted(got.index) == sorted(want.index)
    np.testing.assert_allclose(got.loc[want.index].to_numpy(), want.to_numpy())


def _bad_csv(tmp_path: Path) -> Path:
    bad = tmp_path / "bad.csv"
    pd.DataFrame({"n": ["1", "2", "3.5", "4"]}).to_csv(bad, index=False)
    return bad


# ---------------------------------------------------------------- Spark


@pytest.mark.spark
@pytest.mark.filterwarnings(PYSPARK_PANDAS_WARNING)
def test_spark_files_csv_to_parquet_matches_single_machine(
    spark: Any, models: Models, scored_csv: tuple[Path, Path], tmp_path: Path
) -> None:
    import flavorkit.spark

    source, reference = scored_csv
    target = tmp_path / "out.parquet"
    target.mkdir()
    (target / "stale").write_text("replaced")  # an earlier run's output is replaced
    result = flavorkit.spark.predict_files(
        models.regressor, str(source), str(target), keep=["id"], spark=spark
    )
    assert (result.rows_in, result.rows_out) == (300, 300)
    assert result.ignored_columns == ["note"]
    assert not (target / "stale").exists()
    _same(_read(target), reference)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.parquet"]  # nothing beside it


@pytest.mark.spark
@pytest.mark.filterwarnings(PYSPARK_PANDAS_WARNING)
def test_spark_files_struct_to_csv_and_errors(spark: Any, models: Models, tmp_path: Path) -> None:
    import flavorkit.spark

    source = tmp_path / "ab.parquet"
    models.frame[["a", "b"]].assign(id=range(300)).to_parquet(source)
    target = tmp_path / "out.csv"
    flavorkit.spark.predict_files(
        models.two_outputs, str(source), str(target), keep=["id"], allow_unsafe=True, spark=spark
    )
    out = _read(target).sort_values("id")
    assert list(out.columns) == ["id", "score", "label"]
    np.testing.assert_allclose(out["score"], models.frame["a"] + 2 * models.frame["b"])
    with pytest.raises(SchemaEnforcementError) as caught:
        flavorkit.spark.predict_files(
            models.whole, str(_bad_csv(tmp_path)), str(tmp_path / "bad-out.parquet"),
            allow_unsafe=True, spark=spark,
        )  # fmt: skip
    assert caught.value.field == "n" and caught.value.partition == 0
    assert "row 3" in str(caught.value) and "not whole" in str(caught.value)
    assert not (tmp_path / "bad-out.parquet").exists()
    assert not any(p.name.startswith(".bad-out") for p in tmp_path.iterdir())


# ---------------------------------------------------------------- Dask


@pytest.mark.dask
def test_dask_files_csv_to_parquet_matches_single_machine(
    models: Models, scored_csv: tuple[Path, Path], tmp_path: Path
) -> None:
    pytest.importorskip("dask.dataframe", reason="dask is not installed")
    import flavorkit.dask

    source, reference = scored_csv
    target = tmp_path / "out.parquet"
    result = flavorkit.dask.predict_files(
        models.regressor, str(source), str(target), keep=["id"], blocksize=4096
    )
    assert (result.rows_in, result.rows_out) == (300, 300)
    assert result.chunks > 1 and result.ignored_columns == ["note"]
    _same(_read(target), reference)


@pytest.mark.dask
def test_dask_files_errors(models: Models, tmp_path: Path) -> None:
    pytest.importorskip("dask.dataframe", reason="dask is not installed")
    import flavorkit.dask

    with pytest.raises(SchemaEnforcementError) as caught:
        flavorkit.dask.predict_files(
            models.whole, str(_bad_csv(tmp_path)), str(tmp_path / "o.csv"), allow_unsafe=True
        )
    assert caught.value.field == "n" and caught.value.partition == 0
    assert str(caught.value).startswith("partition 0, rows 1-4: column 'n'")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.csv"]
    with pytest.raises(PayloadError, match="reads and writes csv or parquet"):
        flavorkit.dask.predict_files(models.whole, str(tmp_path / "bad.csv"), "out.json")
    with pytest.raises(PayloadError, match="--keep names column"):
        flavorkit.dask.predict_files(
            models.whole, str(tmp_path / "bad.csv"), str(tmp_path / "o.csv"), keep=["id"]
        )
    with pytest.raises(FileNotFoundError):
        flavorkit.dask.predict_files(models.whole, str(tmp_path / "nope.csv"), "o.parquet")


# ---------------------------------------------------------------- the command line


@pytest.mark.dask
def test_cli_predict_engine_dask(
    models: Models, scored_csv: tuple[Path, Path], tmp_path: Path, capsys: Any
) -> None:
    pytest.importorskip("dask.dataframe", reason="dask is not installed")
    from flavorkit.cli import main

    source, reference = scored_csv
    target = tmp_path / "out"
    argv = ["predict", str(models.regressor), "-i", str(source), "-o", str(target)]
    code = main([*argv, "--output-format", "parquet", "--keep", "id", "--engine", "dask"])
    assert code == 0, capsys.readouterr().err
    assert "left out: ['note']" in capsys.readouterr().err
    _same(_read(target), reference)
    assert main([*argv, "--output-format", "parquet", "--master", "local[2]"]) != 0
    assert "--master and --scheduler need --engine" in capsys.readouterr().err


@pytest.mark.spark
@pytest.mark.filterwarnings(PYSPARK_PANDAS_WARNING)
def test_cli_predict_engine_spark(
    spark: Any, models: Models, scored_csv: tuple[Path, Path], tmp_path: Path, capsys: Any
) -> None:
    from flavorkit.cli import main

    source, reference = scored_csv
    target = tmp_path / "out.parquet"
    argv = ["predict", str(models.regressor), "-i", str(source), "-o", str(target), "--keep", "id"]
    assert main([*argv, "--engine", "spark", "--chunk-size", "50"]) == 0, capsys.readouterr().err
    _same(_read(target), reference)
    assert main([*argv, "--engine", "spark", "--scheduler", "tcp://x:1"]) != 0
    assert "--scheduler is for --engine dask" in capsys.readouterr().err
