"""The README's S3 remote recipe end to end against a local S3-compatible server (moto): push, delete, pull."""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

moto_server = pytest.importorskip("moto.server")
boto3 = pytest.importorskip("boto3")
pytest.importorskip("dvc_s3")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def s3_endpoint(monkeypatch):
    port = _free_port()
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    for k, v in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                 "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(k, v)
    url = f"http://127.0.0.1:{port}"
    boto3.client("s3", endpoint_url=url).create_bucket(Bucket="smeftfm-test")
    yield url
    server.stop()


def _run(cwd: Path, *args: str) -> str:
    env = dict(os.environ, DVC_NO_ANALYTICS="1", GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@example.invalid",
               GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@example.invalid")
    cmd = [sys.executable, "-m", "dvc", *args] if args[0] != "git" else list(args)
    p = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, f"{' '.join(cmd)} failed:\n{p.stdout}\n{p.stderr}"
    return p.stdout


def _digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*.parquet"))}


def test_s3_remote_push_delete_pull_is_byte_identical(tmp_path, s3_endpoint):
    repo = tmp_path / "repo"
    repo.mkdir()
    _run(repo, "git", "init", "-q")
    _run(repo, "init", "-q")
    data = repo / "data" / "corpus"
    data.mkdir(parents=True)
    rng = __import__("numpy").random.default_rng(0)
    for k in range(3):
        (data / f"part-{k:05d}.parquet").write_bytes(rng.bytes(50_000 + k))
    (repo / "data" / "spectra.parquet").write_bytes(rng.bytes(12_345))
    before = _digest(repo / "data")
    assert len(before) == 4
    _run(repo, "add", "data/corpus", "data/spectra.parquet")
    # the README's recipe (section "Scaling out" / remote storage), with the local server as endpoint
    _run(repo, "remote", "add", "-d", "shared", "s3://smeftfm-test/smeftfm")
    _run(repo, "remote", "modify", "shared", "endpointurl", s3_endpoint)
    _run(repo, "push")
    listed = boto3.client("s3", endpoint_url=s3_endpoint).list_objects_v2(Bucket="smeftfm-test")
    assert listed["KeyCount"] >= 5  # 4 files + the directory manifest
    shutil.rmtree(repo / ".dvc" / "cache")
    shutil.rmtree(data)
    (repo / "data" / "spectra.parquet").unlink()
    _run(repo, "pull")
    assert _digest(repo / "data") == before
