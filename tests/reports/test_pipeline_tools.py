"""Acceptance of issue 6 on the tiny pipeline (``tiny_pipeline`` runs the real ``dvc repro`` once per session):
the rendered report opens in headless Chromium with every image, and ``smeftfm ui`` (the MLflow server on the run
store) exposes, through its REST API, the stage runs of the pipeline, the registered encoder and the loop traces
with ``psi_extend`` events."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest
import yaml

from smeftfm.stages.report import FIGURES

from .conftest import check_page, open_in_chromium

pytestmark = pytest.mark.slow
PIPELINE_ID = "tiny-e2e"  # set by the tiny_pipeline fixture


def test_tiny_pipeline_report_opens_in_chromium(tiny_pipeline, chromium, tmp_path):
    out = tiny_pipeline / "reports"
    dom, shot = open_in_chromium(chromium, out / "index.html", tmp_path)
    srcs = check_page(dom, out, shot)
    assert sorted(srcs) == sorted(f"{f}.png" for f in FIGURES)
    headline = json.loads((tiny_pipeline / "reports/metrics/headline.json").read_text())
    assert headline["n_universes"] > 0 and "encoder_knn_accuracy" in headline
    assert (out / "summary.md").read_text(encoding="utf-8").startswith("# smeftfm report")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Rest:
    """Minimal JSON client of the MLflow REST API."""

    def __init__(self, base: str):
        self.base = base

    def __call__(self, path: str, body: dict | None = None, **query) -> dict:
        url = self.base + path + ("?" + urllib.parse.urlencode(query, doseq=True) if query else "")
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(url, data=data, method="POST" if body is not None else "GET",
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=60) as r:
            return json.loads(r.read() or b"{}")


@pytest.fixture()
def mlflow_server(tiny_pipeline, tmp_path):
    """``smeftfm ui`` (MLflow server on 127.0.0.1, free port) on the tiny pipeline's store; stopped afterwards."""
    port = _free_port()
    env = dict(os.environ)
    env.pop("MLFLOW_TRACKING_URI", None)
    log = open(tmp_path / "server.log", "w")  # closed in the finally block
    proc = subprocess.Popen([sys.executable, "-m", "smeftfm.cli", "ui", "--port", str(port), "--workers", "1"],
                            cwd=tiny_pipeline, env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 240
        while True:
            try:
                with urllib.request.urlopen(base + "/health", timeout=5) as r:
                    if r.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError("MLflow server did not start:\n" + (tmp_path / "server.log").read_text()[-3000:])
            time.sleep(1)
        yield Rest(base)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)  # the server and its worker, started by this fixture
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        log.close()


def test_mlflow_server_lists_stage_runs_registered_encoder_and_loop_traces(tiny_pipeline, mlflow_server):
    rest = mlflow_server
    exp = rest("/api/2.0/mlflow/experiments/get-by-name", experiment_name="smeftfm")["experiment"]
    eid = exp["experiment_id"]
    runs = rest("/api/2.0/mlflow/runs/search", {"experiment_ids": [eid], "max_results": 1000,
                                                 "filter": f"tags.pipeline_id = '{PIPELINE_ID}'"})["runs"]
    tags = [{t["key"]: t["value"] for t in r["data"].get("tags", [])} for r in runs]
    stages = {t["stage"] for t in tags}
    expected = set(yaml.safe_load((tiny_pipeline / "dvc.yaml").read_text())["stages"])
    assert expected <= stages, f"stages without an MLflow run: {sorted(expected - stages)}"
    assert all(r["info"]["status"] == "FINISHED" for r in runs)
    by_stage = {t["stage"]: r for t, r in zip(tags, runs, strict=True)}
    assert by_stage["train"]["data"].get("metrics"), "the train run logged no metrics"
    assert by_stage["train"]["data"].get("params"), "the train run logged no params"

    model = rest("/api/2.0/mlflow/registered-models/get", name="smeftfm-encoder")["registered_model"]
    versions = rest("/api/2.0/mlflow/model-versions/search", filter="name='smeftfm-encoder'")["model_versions"]
    assert model["name"] == "smeftfm-encoder" and versions
    train_ids = {r["info"]["run_id"] for t, r in zip(tags, runs, strict=True) if t["stage"] == "train"}
    assert {v["run_id"] for v in versions} & train_ids, "no encoder version comes from this pipeline's train run"

    loop_ids = {r["info"]["run_id"] for t, r in zip(tags, runs, strict=True) if t["stage"] == "loop"}
    found = rest("/api/3.0/mlflow/traces/search", {"locations": [
        {"type": "MLFLOW_EXPERIMENT", "mlflow_experiment": {"experiment_id": eid}}], "max_results": 500})
    ids = [t["trace_id"] for t in found.get("traces", [])
           if t.get("trace_metadata", {}).get("mlflow.sourceRun") in loop_ids]
    assert ids, "no trace is linked to the loop run"
    traces = rest("/api/3.0/mlflow/traces/batchGet", trace_ids=ids)["traces"]
    cycles = [s for t in traces for s in t["spans"] if s["name"] == "aletheia.cycle"]
    assert cycles, "the loop traces have no aletheia.cycle span"
    attrs = {a["key"] for a in cycles[0]["attributes"]}
    assert {"cycle", "tier", "psi_dim", "sigma1_pre", "sigma1_post", "sigma_ratio", "action"} <= attrs
    events = [e["name"] for s in cycles for e in s.get("events", [])]
    assert "psi_extend" in events, (
        f"no psi_extend span event in the loop traces (events: {sorted(set(events))}); the tiny loop must extend "
        "at least once: its sigma_1 (~0.02-0.08 with 300 probe events) has to exceed loop.floor in "
        "tests/fixtures/params_tiny.yaml")
