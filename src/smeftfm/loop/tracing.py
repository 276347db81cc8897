r"""OpenTelemetry / MLflow tracing of the loop: one ``aletheia.cycle`` span per cycle.

A loop run is one trace: a root span ``aletheia.loop`` (attributes: arm, extension, seed, floor, fingerprint,
n_probe) with one child span ``aletheia.cycle`` per cycle carrying the attributes

    cycle, tier, psi_dim, sigma1_pre, sigma1_post, sigma_ratio, action

(plus sigma2_pre, sigma1_val_pre/post, n_columns); a psi-extension and a tier unlock are span *events*
``psi_extend`` and ``unlock_tier`` on that cycle's span. ``sigma_ratio`` is -1 when sigma_2 = 0 (one column).

Sinks (any subset):

* MLflow Tracing, when the stage's MLflow run is active: the trace lands in the run's experiment and is linked to
  the run (``mlflow ui`` -> experiment -> Traces). The destination is pinned to the MLflow experiment so that an
  OTLP endpoint in the environment does not divert it.
* OTLP/HTTP (Arize Phoenix), when ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` (used as-is) or
  ``PHOENIX_COLLECTOR_ENDPOINT`` (``/v1/traces`` appended) is set, through a private OpenTelemetry
  ``TracerProvider`` (the global provider is left alone).
* any OpenTelemetry ``SpanExporter`` passed in (tests use the in-memory exporter).
"""

from __future__ import annotations

import logging
import math
import os
import time
from typing import Any

__all__ = ["CYCLE_SPAN", "ROOT_SPAN", "SERVICE_NAME", "LoopTracer", "NullTracer", "cycle_attributes", "otlp_endpoint"]

_log = logging.getLogger(__name__)

SERVICE_NAME = "smeftfm-aletheia"
ROOT_SPAN = "aletheia.loop"
CYCLE_SPAN = "aletheia.cycle"


def otlp_endpoint() -> str | None:
    """The OTLP/HTTP traces endpoint from the environment (None when not configured)."""
    ep = os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    if ep:
        return ep
    base = os.environ.get("PHOENIX_COLLECTOR_ENDPOINT")
    if base:
        return base.rstrip("/") + ("" if base.rstrip("/").endswith("/v1/traces") else "/v1/traces")
    return None


def cycle_attributes(rec) -> dict[str, Any]:
    """Span attributes of one :class:`~smeftfm.loop.controller.CycleRecord` (finite floats, ints, strings)."""
    ratio = rec.sigma_ratio if math.isfinite(rec.sigma_ratio) else -1.0
    return {
        "cycle": int(rec.cycle),
        "tier": str(rec.tier),
        "psi_dim": int(rec.psi_dim),
        "sigma1_pre": float(rec.sigma1_pre),
        "sigma1_post": float(rec.sigma1_post),
        "sigma_ratio": float(ratio),
        "action": str(rec.action),
        "sigma2_pre": float(rec.sigma2_pre),
        "sigma1_val_pre": float(rec.sigma1_val_pre),
        "sigma1_val_post": float(rec.sigma1_val_post),
        "n_columns": int(rec.n_columns),
    }


def _clean(attrs: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for k, v in attrs.items():
        if isinstance(v, float) and not math.isfinite(v):
            v = -1.0 if v > 0 else -2.0  # inf -> -1 (undefined ratio), nan -> -2 (not measured)
        out[k] = v
    return out


class NullTracer:
    """Records nothing."""

    def start(self, name: str = ROOT_SPAN, attributes: dict[str, Any] | None = None) -> None:
        pass

    def record_cycle(self, rec) -> None:
        pass

    def close(self, attributes: dict[str, Any] | None = None) -> None:
        pass


class LoopTracer(NullTracer):
    """Emits the loop's spans to MLflow Tracing and/or OpenTelemetry exporters (see the module docstring).

    Cycle spans get their true start/end times (the cycle's wall time ends when it is recorded).
    """

    def __init__(self, mlflow_module=None, experiment_id: str | None = None, exporters: list | None = None,
                 use_env_otlp: bool = True, run_id: str | None = None):
        self._mlflow = mlflow_module
        self._experiment_id = experiment_id
        self._run_id = run_id
        self._provider = None
        self._otel_tracer = None
        exporters = list(exporters or [])
        endpoint = otlp_endpoint() if use_env_otlp else None
        if endpoint:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            exporters.append(OTLPSpanExporter(endpoint=endpoint, timeout=5))
            _log.info("exporting loop traces over OTLP to %s", endpoint)
        if exporters:
            from opentelemetry.sdk.resources import Resource
            from opentelemetry.sdk.trace import TracerProvider
            from opentelemetry.sdk.trace.export import BatchSpanProcessor

            res = Resource.create({"service.name": SERVICE_NAME, "openinference.project.name": "smeftfm"})
            self._provider = TracerProvider(resource=res)
            for e in exporters:
                self._provider.add_span_processor(BatchSpanProcessor(e))
            self._otel_tracer = self._provider.get_tracer("smeftfm.loop")
        if self._mlflow is not None and experiment_id is not None:
            try:  # mlflow >= 3: pin the destination so that OTLP variables do not divert the MLflow copy
                from mlflow.entities.trace_location import MlflowExperimentLocation
            except ImportError:  # pragma: no cover - older mlflow writes to the active experiment anyway
                _log.warning("this mlflow has no trace destinations; loop traces follow mlflow's defaults")
            else:
                self._mlflow.tracing.set_destination(MlflowExperimentLocation(experiment_id=experiment_id),
                                                     context_local=True)
        self._ml_root = None
        self._ot_root = None
        self.trace_ids: list[str] = []

    def start(self, name: str = ROOT_SPAN, attributes: dict[str, Any] | None = None) -> None:
        attrs = _clean(dict(attributes or {}))
        if self._mlflow is not None:
            meta = {"mlflow.sourceRun": self._run_id} if self._run_id else None
            self._ml_root = self._mlflow.start_span_no_context(name, attributes=attrs, metadata=meta,
                                                                experiment_id=self._experiment_id)
        if self._otel_tracer is not None:
            self._ot_root = self._otel_tracer.start_span(name, attributes=attrs)

    def record_cycle(self, rec) -> None:
        end = time.time_ns()
        start = end - int(rec.seconds * 1e9)
        attrs = cycle_attributes(rec)
        if self._ml_root is not None:
            from mlflow.entities import SpanEvent

            span = self._mlflow.start_span_no_context(CYCLE_SPAN, parent_span=self._ml_root, attributes=attrs,
                                                      start_time_ns=start)
            for ev, ev_attrs in rec.events:
                span.add_event(SpanEvent(ev, timestamp=end, attributes=_clean(ev_attrs)))
            span.end(end_time_ns=end)
        if self._ot_root is not None:
            from opentelemetry import trace

            ctx = trace.set_span_in_context(self._ot_root)
            span = self._otel_tracer.start_span(CYCLE_SPAN, context=ctx, attributes=attrs, start_time=start)
            for ev, ev_attrs in rec.events:
                span.add_event(ev, attributes=_clean(ev_attrs), timestamp=end)
            span.end(end_time=end)

    def close(self, attributes: dict[str, Any] | None = None) -> None:
        attrs = _clean(dict(attributes or {}))
        if self._ml_root is not None:
            self._ml_root.end(attributes=attrs)
            self.trace_ids.append(self._ml_root.trace_id)
            self._ml_root = None
            flush = getattr(self._mlflow, "flush_trace_async_logging", None)
            if flush is not None:  # the trace is complete in the store before the stage's run ends
                flush()
        if self._ot_root is not None:
            self._ot_root.set_attributes(attrs)
            self._ot_root.end()
            self._ot_root = None
            self._provider.force_flush(timeout_millis=10_000)

    def shutdown(self) -> None:
        """Flush and stop the private OpenTelemetry provider."""
        if self._provider is not None:
            self._provider.shutdown()
            self._provider = None
            self._otel_tracer = None
