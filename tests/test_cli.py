"""The ``flavorkit`` command line: flavors, info, validate, predict, serve options."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pandas as pd
import pytest
from _serving_models import save_linear, server_env
from flavorkit.cli import build_parser, main


@pytest.fixture
def model(tmp_path: Path) -> Path:
    return save_linear(tmp_path / "linear")


def test_cli_flavors_lists_the_builtin_flavor(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["flavors"]) == 0
    assert "python_function" in capsys.readouterr().out


def test_cli_info_shows_flavors_signature_environment_and_example(
    model: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["info", str(model)]) == 0
    out = capsys.readouterr().out
    assert "python_function: loader_module=flavorkit.mlflow_loader" in out
    # the signature as a table: name, type, required
    assert "name  type    required" in out and "b     long    yes" in out
    assert "scale  double  1.0" in out
    lines = out.splitlines()  # one table row per line, indented under "signature:"
    assert "    b     long    yes" in lines and "  params:" in lines and "\\n" not in out
    assert "requirements:" in out and "flavorkit==" in out
    assert '{"dataframe_split": {"columns": ["a", "b"]' in out


def test_cli_info_shows_the_pip_options_of_the_requirements(
    model: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # they decide where an environment built from the folder installs from
    text = (model / "requirements.txt").read_text()
    (model / "requirements.txt").write_text(text + "--index-url https://example.invalid/simple\n")
    assert main(["info", str(model)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[out.index("  pip options:") + 1] == "    --index-url https://example.invalid/simple"


def test_cli_info_on_a_folder_that_is_not_a_model(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["info", str(tmp_path)]) == 1
    assert "no MLmodel file" in capsys.readouterr().err


def test_cli_validate_accepts_a_good_model(model: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(model)]) == 0
    assert capsys.readouterr().out.strip().endswith(": ok")


def test_cli_validate_lists_every_problem(model: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (model / "python_model.json").unlink()
    (model / "requirements.txt").write_text("flavorkit==0.1.0\nnot a requirement !!\n")
    (model / "python_env.yaml").write_text("python: [unclosed\n")
    (model / "input_example.json").write_text(
        json.dumps({"columns": ["a", "b"], "data": [[1.0, "x"]]})
    )
    assert main(["validate", str(model)]) == 1
    err = capsys.readouterr().err
    assert "4 problem(s)" in err
    assert "key 'flavors.python_function.python_model'" in err
    assert "'python_model.json' does not exist" in err
    assert "requirements.txt line 2 is not a valid requirement" in err
    assert "python_env.yaml, key 'flavors.python_function.env.virtualenv': is not valid YAML" in err
    assert "input example does not match the signature" in err and "'b'" in err


def test_cli_validate_reports_a_broken_manifest(
    model: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (model / "MLmodel").write_text("flavors: [1, 2]\n")
    assert main(["validate", str(model)]) == 1
    assert "key 'flavors'" in capsys.readouterr().err


def test_cli_validate_reports_a_malformed_signature(
    model: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (model / "MLmodel").read_text().replace('"type": "long"', '"type": "huge"')
    (model / "MLmodel").write_text(text)
    assert main(["validate", str(model)]) == 1
    assert "signature" in capsys.readouterr().err


def test_cli_predict_csv_to_csv(
    model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "in.csv"
    source.write_text("id,a,b\nx,1.5,1\ny,2,2\n")
    target = tmp_path / "out.csv"
    assert (
        main(
            [
                "predict",
                str(model),
                "-i",
                str(source),
                "-o",
                str(target),
                "--keep",
                "id",
                "--chunk-size",
                "1",
            ]
        )
        == 0
    )
    assert pd.read_csv(target).to_dict("records") == [
        {"id": "x", "prediction": 4.0},
        {"id": "y", "prediction": 6.0},
    ]
    assert capsys.readouterr().out == ""


def test_cli_predict_notes_input_columns_left_out(
    model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "in.csv"
    source.write_text("id,extra,a,b\nx,1,1.5,1\n")
    assert (
        main(
            [
                "predict",
                str(model),
                "-i",
                str(source),
                "-o",
                str(tmp_path / "o.csv"),
                "--keep",
                "id",
            ]
        )
        == 0
    )
    # a kept column is not "left out"; the other one is, and the note says so once
    assert capsys.readouterr().err.count("left out: ['extra']") == 1


def test_cli_predict_with_params(model: Path, tmp_path: Path) -> None:
    source = tmp_path / "in.json"
    source.write_text(json.dumps({"dataframe_records": [{"a": 1.0, "b": 1}]}))
    assert (
        main(
            [
                "predict",
                str(model),
                "-i",
                str(source),
                "-o",
                str(tmp_path / "o.json"),
                "--params",
                '{"scale": 2}',
            ]
        )
        == 0
    )
    assert json.loads((tmp_path / "o.json").read_text()) == {"predictions": [6.0]}


@pytest.mark.parametrize("params", ["[1]", "{bad"])
def test_cli_predict_rejects_params_that_are_not_an_object(
    model: Path, tmp_path: Path, params: str
) -> None:
    assert main(["predict", str(model), "-i", "x.csv", "-o", "y.csv", "--params", params]) == 1


def test_cli_predict_reports_bad_data_and_exits_non_zero(
    model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "in.csv"
    source.write_text("a,b\n1,2.7\n")
    assert main(["predict", str(model), "-i", str(source), "-o", str(tmp_path / "out.csv")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("flavorkit: error:") and "'b'" in err and "Traceback" not in err
    assert not (tmp_path / "out.csv").exists()


def predict_with_stderr_on(model: Path, tmp_path: Path, terminal: bool) -> str:
    """Run ``flavorkit predict``, stderr on a terminal (pty) or a pipe; returns stderr."""
    source = tmp_path / "in.csv"
    source.write_text("a,b\n" + "1.5,1\n" * 50)
    cmd = [
        sys.executable,
        "-m",
        "flavorkit.cli",
        "predict",
        str(model),
        "-i",
        str(source),
        "-o",
        str(tmp_path / "o.csv"),
        "--chunk-size",
        "10",
    ]
    if not terminal:
        done = subprocess.run(cmd, capture_output=True, env=server_env(), check=True)
        return done.stderr.decode()
    controller, replica = pty.openpty()
    fcntl.ioctl(
        replica, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0)
    )  # a 100-column terminal
    try:
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=replica, env=server_env())
        os.close(replica)
        chunks = []
        while True:
            try:
                data = os.read(controller, 4096)
            except OSError:  # the terminal closed: the process is done
                break
            if not data:
                break
            chunks.append(data)
        assert proc.wait(timeout=60) == 0
    finally:
        os.close(controller)
    return b"".join(chunks).decode(errors="replace")


def test_cli_predict_shows_progress_on_a_terminal_only(model: Path, tmp_path: Path) -> None:
    assert "100%" in predict_with_stderr_on(model, tmp_path, terminal=True)
    assert predict_with_stderr_on(model, tmp_path, terminal=False) == ""


def test_cli_serve_options_reach_the_config() -> None:
    args = build_parser().parse_args(
        [
            "serve",
            "m",
            "--workers",
            "3",
            "--max-batch-size",
            "8",
            "--max-batch-delay-ms",
            "1.5",
            "--max-body-size",
            "1000",
            "--body-timeout",
            "2.5",
            "--max-request-rows",
            "7",
            "--env-manager",
            "virtualenv",
            "--debug",
        ]
    )
    # the Namespace carries ServerConfig's field names, so _cmd_serve passes them on as they are
    assert (args.workers, args.max_batch_size, args.max_batch_delay_ms, args.max_body_bytes) == (
        3,
        8,
        1.5,
        1000,
    )
    assert (args.body_timeout_s, args.max_request_rows, args.max_connections) == (2.5, 7, 1000)
    assert args.env_manager == "virtualenv" and args.debug


@pytest.mark.parametrize(
    "option", [["--workers", "0"], ["--max-batch-size", "-1"], ["--env-manager", "conda"]]
)
def test_cli_serve_rejects_bad_options(
    option: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        build_parser().parse_args(["serve", "m", *option])
    assert info.value.code == 2


# a process in which uvicorn cannot be imported, as without the serve extra
_WITHOUT_UVICORN = """
import sys

class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "uvicorn":
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, Block())
from flavorkit.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_cli_serve_without_the_serve_extra_says_what_to_install(model: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", _WITHOUT_UVICORN, "serve", str(model)],
        capture_output=True,
        text=True,
        env=server_env(),
        check=False,
        timeout=120,
    )
    assert done.returncode == 1
    assert "pip install 'flavorkit[serve]'" in done.stderr and "uvicorn" in done.stderr


def test_cli_console_script_and_module_entry_points(model: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "flavorkit.server", "--check", str(model)],
        capture_output=True,
        text=True,
        env=server_env(),
        check=False,
    )
    assert done.returncode == 0 and "self-test passed" in done.stdout
