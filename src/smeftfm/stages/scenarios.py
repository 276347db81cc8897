"""The ``scenarios@<name>`` stages: the exact references at one luminosity scenario (no training, oracle only).

One DVC ``foreach`` entry per scenario (the paper's L_eff, 140 fb^-1, 3000 fb^-1) writes
``reports/metrics/scenarios/<name>.json``: the rank of Sigma_SM, the universes the exact chi^2 calls SM-compatible
at 1/3/6 sigma, and per anomaly signal the strength (events, or GeV for the Z shift) at which the chi^2
goodness-of-fit test reaches each target AUROC, with the Neyman-Pearson AUROC there. The files compare the
scenarios side by side; the scorecard (encoders) runs at the scenario of ``corpus.luminosity_fb``.
"""

from __future__ import annotations

import time
from pathlib import Path

from ..atomic import write_json
from ..config import Params
from ..errors import SmeftfmError
from ..tracking import stage_run

__all__ = ["run_scenario"]


def run_scenario(params: Params, name: str, luminosity_fb: float | None, spectra: Path, universes: Path,
                 templates: Path, joint: Path, out: Path) -> dict:
    """Exact references at ``luminosity_fb`` (None: L_eff) for the default universes and signals."""
    from ..data.joint_io import read_joint
    from ..data.templates_io import read_templates
    from ..models.datasets import load_theory
    from ..models.scenario import scenario_references

    if luminosity_fb is not None and not luminosity_fb > 0:
        raise SmeftfmError(f"scenario {name}: luminosity must be a positive number of fb^-1 or null (L_eff)")
    with stage_run(f"scenario_{name}", {"luminosity_fb": luminosity_fb, "corpus": params.corpus.model_dump()}) as run:
        t0 = time.perf_counter()
        theory = load_theory(spectra, universes)
        metrics, rank = scenario_references(params, name, luminosity_fb, read_templates(templates), read_joint(joint),
                                            theory)
        write_json(out, metrics)
        run.log_metrics({"sigma_rank": rank, "seconds": time.perf_counter() - t0})
    return metrics
