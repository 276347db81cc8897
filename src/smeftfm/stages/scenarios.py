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

import numpy as np

from ..atomic import write_json
from ..config import Params
from ..errors import SmeftfmError
from ..tracking import stage_run

__all__ = ["run_scenario"]


def run_scenario(params: Params, name: str, luminosity_fb: float | None, spectra: Path, universes: Path,
                 templates: Path, joint: Path, out: Path) -> dict:
    """Exact references at ``luminosity_fb`` (None: L_eff) for the default universes and signals."""
    from ..data.joint_io import read_joint
    from ..data.noise import NoiseModel
    from ..data.templates_io import read_templates
    from ..models.datasets import load_theory
    from ..models.evaluation import _sm_density, strength_scan
    from ..models.references import CountLikelihood, Precision
    from ..models.retrieval import chi2_threshold
    from ..models.signals import SignalSpace

    if luminosity_fb is not None and not luminosity_fb > 0:
        raise SmeftfmError(f"scenario {name}: luminosity must be a positive number of fb^-1 or null (L_eff)")
    c = params.corpus
    with stage_run(f"scenario_{name}", {"luminosity_fb": luminosity_fb, "corpus": c.model_dump()}) as run:
        t0 = time.perf_counter()
        t = read_templates(templates)
        jt = read_joint(joint)
        theory = load_theory(spectra, universes)
        noise = NoiseModel.from_templates(t, c.n_events, c.corr_length_gev, luminosity_fb, c.nugget, c.poisson_below)
        cov = noise.covariance(theory.y_sm, jt.sm if noise.nugget < 1 else None)
        prec = Precision(cov, params.heads.chi2_rcond)
        chi2 = prec.chi2(theory.y, theory.y_sm)
        e = {b.observable: b.edges for b in t.binnings}
        sp = params.scorecard
        space = SignalSpace(theory.y_sm, jt.sm, e["mll"], e["pt"], noise.lumi,
                            _sm_density(params, e["mll"][0], e["mll"][-1]), sp.tail_from_gev, sp.bw_mass_gev,
                            sp.bw_width_gev)
        lik = CountLikelihood(theory.y_sm, cov, noise.counts_per_unit(), noise.poisson_below,
                              params.heads.chi2_rcond, full=prec)
        scan = strength_scan(space, lik, noise, cov, sp.gof_targets, sp.n_signal, sp.seed + 7)
        mu = noise.expected_events(theory.y_sm)
        metrics = {
            "scenario": name, "luminosity_pb_inv": noise.lumi, "sm_events": float(mu[: e["mll"].size - 1].sum()),
            "sigma_rank": prec.nu, "poisson_bins": int(np.sum((mu < noise.poisson_below) & (theory.y_sm > 0))),
            "compatible": {f"{k:g}sigma": int(np.sum(chi2 <= chi2_threshold(k, prec.nu)))
                           for k in params.heads.sigma_levels},
            "n_universes": int(len(chi2)), "median_chi2": float(np.median(chi2)),
            "signals": {sig: [{k: v for k, v in info.items()} for _, _, info in pts] for sig, pts in scan.items()},
        }
        write_json(out, metrics)
        run.log_metrics({"sigma_rank": prec.nu, "seconds": time.perf_counter() - t0})
    return metrics
