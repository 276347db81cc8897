"""Shared fixtures for the loop tests: a small real probe set from the oracle (coarse quadrature for speed)."""

from __future__ import annotations

import numpy as np
import pytest

OPS = ("clq1", "clq3", "cHq1", "cHq3")


@pytest.fixture(scope="session")
def oracle():
    from smeftfm.physics.oracle import Oracle

    return Oracle(operators=OPS)


@pytest.fixture(scope="session")
def sigma_terms(oracle):
    from smeftfm.physics.oracle import QuadratureSpec

    acc = oracle.acceptance
    spec = QuadratureSpec(mass_nodes=8, mass_sub_gev=2.5, angle_nodes=12, rapidity_nodes=12, pt_nodes=4)
    return oracle.integrated_terms(acc.m_lo, acc.m_hi, cuts=True, order="quadratic", spec=spec)


@pytest.fixture(scope="session")
def llr_pair(oracle, sigma_terms):
    """(probe, validation) log-likelihood ratios on 2000 SM events each."""
    from smeftfm.loop.likelihood import LogLikelihoodRatio, probe_set

    ss = np.random.SeedSequence(3).spawn(2)
    probe = probe_set(oracle, 2000, np.random.default_rng(ss[0]))
    valid = probe_set(oracle, 2000, np.random.default_rng(ss[1]))
    return LogLikelihoodRatio(probe, sigma_terms, 4), LogLikelihoodRatio(valid, sigma_terms, 4)


@pytest.fixture(scope="session")
def fit_set(oracle, sigma_terms):
    """An independent mass-tilted fit event set (8000 events, k = 3) with its importance weights."""
    from smeftfm.data.events import tilt_weights
    from smeftfm.loop.controller import FitSet
    from smeftfm.loop.likelihood import LogLikelihoodRatio, probe_set

    ps = probe_set(oracle, 8000, np.random.default_rng(77), mass_tilt=3.0)
    return FitSet(LogLikelihoodRatio(ps, sigma_terms, 4), tilt_weights(ps.m, 3.0, oracle.acceptance.m_lo))


@pytest.fixture(scope="session")
def make_loop(oracle, llr_pair, fit_set):
    from smeftfm.loop.basis import FeatureDictionary
    from smeftfm.loop.controller import Loop, LoopSettings, Tier
    from smeftfm.physics.kinematics import KinematicMap

    def _make(base_psi=None, **kw) -> Loop:
        settings = LoopSettings(tiers=(Tier("leading", OPS[:2]), Tier("subleading", OPS[2:])),
                                n_candidates=64, **kw)
        kmap = KinematicMap.from_oracle(oracle)
        return Loop(*llr_pair, kmap, FeatureDictionary(kmap, 6, 4, 1), settings, OPS, fit=fit_set,
                    base_psi=base_psi)

    return _make
