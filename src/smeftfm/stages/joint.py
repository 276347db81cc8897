"""The ``joint`` stage: 2-D (m_ll, p_T) cross sections per morphing term, for the exact cross-covariance."""

from __future__ import annotations

import time
from pathlib import Path

from ..config import Params
from ..data.joint_io import write_joint
from ..physics.joint import joint_from_params
from ..tracking import stage_run
from .physics import operators_for_templates

__all__ = ["run_joint"]


def run_joint(params: Params, out: Path, screen_json: Path | None) -> dict:
    """Integrate sigma_{i cap j} for every morphing term of the templates' operators and write it (pb)."""
    ops = operators_for_templates(params, screen_json)
    order = params.physics.order
    with stage_run("joint", {"observables": params.observables.model_dump(), "operators": list(ops)}) as run:
        t0 = time.perf_counter()
        values = joint_from_params(params, ops, order)
        write_joint(values, ops, order, out, {"quadrature": params.quadrature.model_dump(),
                                              "observables": params.observables.model_dump()})
        metrics = {"sigma_sm_pb": float(values[0].sum()), "n_terms": int(values.shape[0]),
                   "seconds": time.perf_counter() - t0}
        run.log_metrics(metrics)
    return metrics
