"""Model folders in S3 (moto's server on loopback): loaded, cached once, refetched when changed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import flavorkit
import numpy as np
import pytest
from _models import AddConstant
from flavorkit import stores
from flavorkit.exceptions import LocationError
from store_support import Moto, StallingProxy, aws_env, closed_endpoint

ROOT = Path(__file__).resolve().parents[2]


def saved(tmp_path: Path, k: float = 2.5, name: str = "model") -> Path:
    path = tmp_path / name
    flavorkit.save_model(AddConstant(k), path)
    return path


def uploaded(tmp_path: Path, bucket: str, prefix: str = "m", k: float = 2.5) -> str:
    url = f"s3://{bucket}/{prefix}"
    stores.upload(saved(tmp_path, k, name=f"{prefix}-{k}"), url)
    return url


def test_load_model_from_s3_predicts_like_the_local_folder(tmp_path: Path, bucket: str) -> None:
    local = saved(tmp_path)
    url = f"s3://{bucket}/deep/prefix/model"
    stores.upload(local, url)
    data = np.array([1.0, 2.0, -3.0])
    expected = flavorkit.load_model(local).predict(data)
    remote = flavorkit.load_model(url)
    assert remote.predict(data).tolist() == expected.tolist() == [3.5, 4.5, -0.5]
    fetched = stores.fetch(url)
    assert stores.cache_root() in fetched.parents
    assert stores.folder_digests(fetched) == stores.folder_digests(local)


def test_second_fetch_downloads_nothing(tmp_path: Path, bucket: str, moto: Moto) -> None:
    url = uploaded(tmp_path, bucket)
    start = len(moto.log.requests)
    first = stores.fetch(url)
    downloaded = moto.log.object_reads(start)
    assert any(p.endswith("/MLmodel") for p in downloaded)
    again = len(moto.log.requests)
    second = stores.fetch(url)
    assert second == first
    assert moto.log.object_reads(again) == []  # listed only
    assert len(moto.log.requests) > again
    assert [e.key for e in stores.cache_entries()] == [first.parent.name]
    assert stores.cache_entries()[0].source == url
    flavorkit.load_model(url)
    methods = {method for method, _, _ in moto.log.requests[start:]}
    assert methods <= {"GET", "HEAD"}  # the store is only ever read


def test_store_written_by_another_process(tmp_path: Path, bucket: str, moto: Moto) -> None:
    local = saved(tmp_path)
    script = textwrap.dedent(
        """
        import sys
        from pathlib import Path
        import boto3
        local, bucket = Path(sys.argv[1]), sys.argv[2]
        client = boto3.client("s3")
        for file in sorted(p for p in local.rglob("*") if p.is_file()):
            key = "written-elsewhere/" + file.relative_to(local).as_posix()
            client.put_object(Bucket=bucket, Key=key, Body=file.read_bytes())
        """
    )
    env = {**os.environ, **aws_env(moto.endpoint, tmp_path)}
    subprocess.run(
        [sys.executable, "-c", script, str(local), bucket], env=env, check=True, timeout=60
    )
    model = flavorkit.load_model(f"s3://{bucket}/written-elsewhere")
    assert model.predict(np.array([0.5])).tolist() == [3.0]


def test_changed_remote_folder_gets_a_new_entry(tmp_path: Path, bucket: str, s3: object) -> None:
    url = uploaded(tmp_path, bucket, k=1.0)
    first = stores.fetch(url)
    before = stores.folder_digests(first)
    stores.upload(saved(tmp_path, k=10.0, name="changed"), url, overwrite=True)
    second = stores.fetch(url)
    assert second != first
    assert flavorkit.load_model(url).predict(np.array([0.0])).tolist() == [10.0]
    assert stores.folder_digests(first) == before  # the old entry is untouched
    assert len(stores.cache_entries()) == 2


def test_an_added_file_is_a_change(tmp_path: Path, bucket: str, s3: object) -> None:
    url = uploaded(tmp_path, bucket)
    first = stores.fetch(url)
    s3.put_object(Bucket=bucket, Key="m/notes/empty.txt", Body=b"")  # type: ignore[attr-defined]
    second = stores.fetch(url)
    assert second != first
    assert (second / "notes" / "empty.txt").read_bytes() == b""
    assert not (first / "notes").exists()


KILLED_FETCH = """
import sys
from flavorkit import stores
stores.fetch(sys.argv[1])
print("finished")
"""


def test_killed_download_leaves_nothing_usable(
    tmp_path: Path,
    bucket: str,
    s3: object,
    stalling_proxy: StallingProxy,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url = uploaded(tmp_path, bucket, prefix="big")
    weights = os.urandom(4 * 1024 * 1024)
    s3.put_object(Bucket=bucket, Key="big/weights.bin", Body=weights)  # type: ignore[attr-defined]
    env = {
        **os.environ,
        **aws_env(stalling_proxy.endpoint, tmp_path),
        "FLAVORKIT_CACHE_DIR": os.environ["FLAVORKIT_CACHE_DIR"],
    }
    proc = subprocess.Popen(
        [sys.executable, "-c", KILLED_FETCH, url],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        held = stalling_proxy.stalled.wait(60)
        assert held, proc.communicate(timeout=5) if proc.poll() is not None else "no download"
        os.kill(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL and b"finished" not in out
    downloads = stores.cache_root() / "downloads"
    assert stores.cache_entries() == []
    assert [p.name for p in downloads.iterdir() if not p.name.startswith(".")] == []
    leftovers = [p for p in (downloads / ".tmp").iterdir() if p.is_dir()]
    assert len(leftovers) == 1  # the half-done download, where nothing looks for it

    stalling_proxy.release()
    monkeypatch.setenv("AWS_ENDPOINT_URL", stalling_proxy.endpoint)  # the same store and key
    fetched = stores.fetch(url)
    assert (fetched / "weights.bin").read_bytes() == weights
    assert flavorkit.load_model(fetched).predict(np.array([1.0])).tolist() == [3.5]
    assert [p for p in (downloads / ".tmp").iterdir() if p.is_dir()] == []  # swept


@pytest.mark.parametrize(
    ("key", "why"),
    [
        ("m/../outside.txt", "'..' part"),
        ("m//etc/passwd", "empty"),
        ("m/a\\..\\b.txt", "backslash"),
        ("m/./MLmodel.copy", "'.' part"),
    ],
)
def test_hostile_keys_are_refused(
    tmp_path: Path, bucket: str, s3: object, key: str, why: str
) -> None:
    url = uploaded(tmp_path, bucket)
    s3.put_object(Bucket=bucket, Key=key, Body=b"gotcha")  # type: ignore[attr-defined]
    with pytest.raises(LocationError, match="refusing the remote file") as caught:
        stores.fetch(url)
    assert why in str(caught.value) and repr(key.split("/", 1)[1]) in str(caught.value)
    assert stores.cache_entries() == []
    written = [p for p in tmp_path.rglob("*") if p.name in ("outside.txt", "passwd", "b.txt")]
    assert written == []


def test_a_name_that_is_both_file_and_folder_is_refused(
    tmp_path: Path, bucket: str, s3: object
) -> None:
    url = uploaded(tmp_path, bucket)
    s3.put_object(Bucket=bucket, Key="m/data", Body=b"a file")  # type: ignore[attr-defined]
    s3.put_object(Bucket=bucket, Key="m/data/inner", Body=b"and a folder")  # type: ignore[attr-defined]
    with pytest.raises(LocationError, match="'data' is listed both as a file and as a folder"):
        stores.fetch(url)


# -- errors -------------------------------------------------------------------------------


def test_unknown_bucket() -> None:
    with pytest.raises(LocationError, match="bucket 'no-such-bucket' does not exist") as caught:
        flavorkit.load_model("s3://no-such-bucket/model")
    assert caught.value.uri == "s3://no-such-bucket/model"


def test_missing_prefix(tmp_path: Path, bucket: str) -> None:
    uploaded(tmp_path, bucket)
    with pytest.raises(LocationError, match=f"no files under 'nope' in bucket '{bucket}'"):
        stores.fetch(f"s3://{bucket}/nope")


def test_prefix_without_mlmodel_points_at_the_model_below(tmp_path: Path, bucket: str) -> None:
    uploaded(tmp_path, bucket, prefix="outer/inner")
    with pytest.raises(LocationError, match="holds no MLmodel file") as caught:
        stores.fetch(f"s3://{bucket}/outer")
    assert f"a model folder is at s3://{bucket}/outer/inner" in str(caught.value)


def test_url_naming_one_file(tmp_path: Path, bucket: str) -> None:
    url = uploaded(tmp_path, bucket)
    with pytest.raises(LocationError, match="names a single file, not a model folder"):
        stores.fetch(url + "/MLmodel")


def test_bad_credentials(tmp_path: Path, bucket: str, moto: Moto) -> None:
    import urllib.request

    url = uploaded(tmp_path, bucket)

    def enforce(count: str) -> None:
        request = urllib.request.Request(
            moto.endpoint + "/moto-api/reset-auth",
            data=count.encode(),
            method="POST",
            headers={"Content-Type": "text/plain"},
        )
        urllib.request.urlopen(request, timeout=10).read()

    enforce("0")  # from now on moto checks access keys, and "testing" is none of its own
    try:
        with pytest.raises(LocationError, match="access was refused") as caught:
            stores.fetch(url)
    finally:
        enforce("inf")
    assert "Access Key Id you provided does not exist" in str(caught.value)
    assert "AWS_ACCESS_KEY_ID" in str(caught.value)
    assert caught.value.__cause__ is not None  # the library's error, chained


def test_missing_credentials(tmp_path: Path, bucket: str, monkeypatch: pytest.MonkeyPatch) -> None:
    url = uploaded(tmp_path, bucket)
    import s3fs

    s3fs.S3FileSystem.clear_instance_cache()
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    with pytest.raises(LocationError, match="no credentials were found to read it") as caught:
        stores.fetch(url)
    assert url in str(caught.value) and "AWS_ACCESS_KEY_ID" in str(caught.value)


def test_unreachable_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    endpoint = closed_endpoint()
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    with pytest.raises(LocationError, match=f"cannot reach the store at {endpoint}"):
        stores.fetch("s3://any-bucket/model")


def test_endpoint_from_mlflow_variable(
    tmp_path: Path, bucket: str, moto: Moto, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = uploaded(tmp_path, bucket)
    monkeypatch.delenv("AWS_ENDPOINT_URL")
    monkeypatch.setenv("MLFLOW_S3_ENDPOINT_URL", moto.endpoint)
    assert (stores.fetch(url) / "MLmodel").is_file()


def test_folder_larger_than_the_cache_is_refused(
    tmp_path: Path, bucket: str, monkeypatch: pytest.MonkeyPatch, moto: Moto
) -> None:
    url = uploaded(tmp_path, bucket)
    monkeypatch.setenv("FLAVORKIT_CACHE_MAX_BYTES", "100")
    start = len(moto.log.requests)
    with pytest.raises(LocationError, match="more than the download cache may hold"):
        stores.fetch(url)
    assert moto.log.object_reads(start) == []  # refused from the listing, before downloading
    assert stores.cache_entries() == []


def test_remote_upload_is_written_once(tmp_path: Path, bucket: str) -> None:
    url = uploaded(tmp_path, bucket)
    with pytest.raises(LocationError, match="already holds"):
        stores.upload(saved(tmp_path, name="again"), url)


def test_cli_info_reads_an_s3_model(
    tmp_path: Path, bucket: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from flavorkit.cli import main

    url = uploaded(tmp_path, bucket)
    assert main(["info", url]) == 0
    assert "python_function" in capsys.readouterr().out
    assert main(["info", f"s3://{bucket}/absent"]) == 1
    assert f"no files under 'absent' in bucket '{bucket}'" in capsys.readouterr().err
