"""The loop's trace: aletheia.cycle spans with the required attributes and psi_extend / unlock_tier events,
through an in-memory OpenTelemetry exporter, a local OTLP/HTTP receiver and MLflow Tracing (tmp sqlite store)."""

from __future__ import annotations

import http.server
import threading

import pytest

from smeftfm.loop.tracing import CYCLE_SPAN, ROOT_SPAN, LoopTracer, otlp_endpoint

REQUIRED = {"cycle", "tier", "psi_dim", "sigma1_pre", "sigma1_post", "sigma_ratio", "action"}


@pytest.fixture(scope="module")
def traced_result(make_loop):
    return make_loop(coeff_max=3.0, max_cycles=20)


def _run(loop, tracer):
    tracer.start(ROOT_SPAN, {"arm": "residual_energy"})
    res = loop.run("residual_energy", extension="exact", tracer=tracer)
    tracer.close({"completed": res.completed})
    return res


def test_in_memory_otel_spans_carry_attributes_and_events(traced_result):
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exp = InMemorySpanExporter()
    tracer = LoopTracer(exporters=[exp], use_env_otlp=False)
    res = _run(traced_result, tracer)
    tracer.shutdown()
    spans = exp.get_finished_spans()
    cycles = sorted((s for s in spans if s.name == CYCLE_SPAN), key=lambda s: s.attributes["cycle"])
    root = [s for s in spans if s.name == ROOT_SPAN]
    assert len(root) == 1 and len(cycles) == len(res.records)
    assert all(REQUIRED <= set(s.attributes) for s in cycles)
    assert all(s.parent.span_id == root[0].context.span_id for s in cycles)
    for s, r in zip(cycles, res.records, strict=True):
        assert s.attributes["action"] == r.action and s.attributes["psi_dim"] == r.psi_dim
        assert [e.name for e in s.events] == [e[0] for e in r.events]
    names = {e.name for s in cycles for e in s.events}
    assert "psi_extend" in names and "unlock_tier" in names
    ext = next(s for s in cycles if s.attributes["action"] == "psi_extend")
    ev = next(e for e in ext.events if e.name == "psi_extend")
    assert ev.attributes["sigma1_post"] < ev.attributes["sigma1_pre"]


class _Receiver(http.server.BaseHTTPRequestHandler):
    bodies: list[bytes] = []

    def do_POST(self):  # noqa: N802 (http.server API)
        n = int(self.headers.get("Content-Length", 0))
        _Receiver.bodies.append((self.path, self.rfile.read(n)))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.end_headers()

    def log_message(self, *args):
        pass


def test_otlp_http_export_to_local_receiver(traced_result, monkeypatch):
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    server = http.server.HTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        monkeypatch.delenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", raising=False)
        monkeypatch.setenv("PHOENIX_COLLECTOR_ENDPOINT", f"http://127.0.0.1:{server.server_port}")
        assert otlp_endpoint() == f"http://127.0.0.1:{server.server_port}/v1/traces"
        tracer = LoopTracer()
        res = _run(traced_result, tracer)
        tracer.shutdown()
    finally:
        server.shutdown()
    assert _Receiver.bodies and all(p == "/v1/traces" for p, _ in _Receiver.bodies)
    spans = []
    for _, body in _Receiver.bodies:
        req = ExportTraceServiceRequest()
        req.ParseFromString(body)
        spans += [s for rs in req.resource_spans for ss in rs.scope_spans for s in ss.spans]
    cycles = [s for s in spans if s.name == CYCLE_SPAN]
    assert len(cycles) == len(res.records)
    assert {e.name for s in cycles for e in s.events} >= {"psi_extend", "unlock_tier"}


def test_mlflow_tracing_records_cycles_under_the_run(traced_result, tmp_path, monkeypatch):
    mlflow = pytest.importorskip("mlflow")
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", raising=False)
    monkeypatch.delenv("PHOENIX_COLLECTOR_ENDPOINT", raising=False)
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    exp_id = mlflow.create_experiment("loop-test", artifact_location=(tmp_path / "art").as_uri())
    with mlflow.start_run(experiment_id=exp_id) as run:
        tracer = LoopTracer(mlflow, exp_id, use_env_otlp=False, run_id=run.info.run_id)
        res = _run(traced_result, tracer)
        trace_id = tracer.trace_ids[-1]
    trace = mlflow.get_trace(trace_id, flush=True)
    assert trace is not None
    assert trace.info.trace_metadata.get("mlflow.sourceRun") == run.info.run_id
    cycles = [s for s in trace.data.spans if s.name == CYCLE_SPAN]
    assert len(cycles) == len(res.records)
    assert all(REQUIRED <= set(s.attributes) for s in cycles)
    assert {e.name for s in cycles for e in s.events} >= {"psi_extend", "unlock_tier"}
    found = mlflow.search_traces(run_id=run.info.run_id, locations=[exp_id], return_type="list")
    assert any(t.info.trace_id == trace_id for t in found)
