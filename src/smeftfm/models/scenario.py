"""Exact references at one luminosity scenario (oracle only, no training): the ``scenarios@<name>`` stages' content.

Per scenario: the rank of Sigma_SM, the universes the exact chi^2 calls SM-compatible at each ``heads.sigma_levels``,
and per anomaly signal the strength (events, or GeV for the Z shift) at which the chi^2 goodness-of-fit test reaches
each target AUROC, with the Neyman-Pearson AUROC there. Luminosities in pb^-1, spectra in pb/GeV.
"""

from __future__ import annotations

import numpy as np

from ..config import Params
from ..data.noise import NoiseModel
from .datasets import Theory
from .evaluation import _sm_density, strength_scan
from .references import CountLikelihood, Precision
from .retrieval import chi2_threshold
from .signals import SignalSpace

__all__ = ["scenario_references"]


def scenario_references(params: Params, name: str, luminosity_fb: float | None, templates, joint,
                        theory: Theory) -> tuple[dict, int]:
    """The scenario's metrics (``reports/metrics/scenarios/<name>.json``) and the rank of Sigma_SM."""
    c, sp = params.corpus, params.scorecard
    noise = NoiseModel.from_templates(templates, c.n_events, c.corr_length_gev, luminosity_fb, c.nugget,
                                      c.poisson_below)
    cov = noise.covariance(theory.y_sm, joint.sm if noise.nugget < 1 else None)
    prec = Precision(cov, params.heads.chi2_rcond)
    chi2 = prec.chi2(theory.y, theory.y_sm)
    e = {b.observable: b.edges for b in templates.binnings}
    space = SignalSpace(theory.y_sm, joint.sm, e["mll"], e["pt"], noise.lumi,
                        _sm_density(params, e["mll"][0], e["mll"][-1]), sp.tail_from_gev, sp.bw_mass_gev,
                        sp.bw_width_gev)
    lik = CountLikelihood(theory.y_sm, cov, noise.counts_per_unit(), noise.poisson_below, params.heads.chi2_rcond,
                          full=prec)
    scan = strength_scan(space, lik, noise, cov, sp.gof_targets, sp.n_signal, sp.seed + 7)
    mu = noise.expected_events(theory.y_sm)
    metrics = {
        "scenario": name, "luminosity_pb_inv": noise.lumi, "sm_events": float(mu[: e["mll"].size - 1].sum()),
        "sigma_rank": prec.nu, "poisson_bins": int(np.sum((mu < noise.poisson_below) & (theory.y_sm > 0))),
        "compatible": {f"{k:g}sigma": int(np.sum(chi2 <= chi2_threshold(k, prec.nu)))
                       for k in params.heads.sigma_levels},
        "n_universes": int(len(chi2)), "median_chi2": float(np.median(chi2)),
        "signals": {sig: [dict(info) for _, _, info in pts] for sig, pts in scan.items()},
    }
    return metrics, prec.nu
