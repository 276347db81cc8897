"""Exact per-event log-likelihood ratios: normalisation, SM limit, agreement with the oracle's direct rate."""

from __future__ import annotations

import numpy as np
import pytest

from smeftfm.errors import SmeftfmError
from smeftfm.loop.likelihood import LogLikelihoodRatio, ProbeSet


def test_normalisation_expectation_is_one(llr_pair):
    """E_SM[exp l_C] = 1 (p(x|C) normalised in the acceptance) within 4 MC standard errors."""
    _, valid = llr_pair
    rng = np.random.default_rng(0)
    coeffs = rng.uniform(-3, 3, size=(12, 4))
    w = np.exp(valid(coeffs))
    pull = (w.mean(0) - 1.0) / (w.std(0) / np.sqrt(w.shape[0]))
    assert np.all(np.abs(pull) < 4.0), pull


def test_sm_point_is_zero_and_matches_direct_rate(oracle, llr_pair, sigma_terms):
    probe, _ = llr_pair
    assert np.allclose(probe(np.zeros((1, 4))), 0.0, atol=1e-12)
    c = np.array([0.7, -1.3, 2.0, -0.4])
    p = probe.probe
    sl = slice(0, 50)
    direct = oracle.differential_rate_direct(p.m[sl], p.y[sl], p.cos[sl], c, order="quadratic")
    sm = oracle.differential_rate(p.m[sl], p.y[sl], p.cos[sl], order="quadratic")
    sigma_ratio = (np.concatenate([[1.0], c, c[np.triu_indices(4)[0]] * c[np.triu_indices(4)[1]]]) @ sigma_terms
                   / sigma_terms[0])
    expect = np.log(direct / sm) - np.log(sigma_ratio)
    assert np.allclose(probe(c)[sl, 0], expect, rtol=1e-9, atol=1e-12)


def test_tangents_are_lin_over_sm(llr_pair):
    probe, _ = llr_pair
    t = probe.tangents()
    eps = 1e-6
    num = probe(np.eye(4) * eps) / eps  # d l / dC at C = 0 = lin/SM - sigma_lin/sigma_SM
    assert np.allclose(num, t - probe.sigma_terms[1:5] / probe.sigma_terms[0], rtol=1e-4, atol=1e-8)


def test_bad_inputs_raise(llr_pair):
    probe, _ = llr_pair
    with pytest.raises(SmeftfmError, match="coefficients"):
        probe(np.zeros((1, 3)))
    with pytest.raises(SmeftfmError, match="quadratic"):
        LogLikelihoodRatio(probe.probe, probe.sigma_terms[:5], 4)
    with pytest.raises(SmeftfmError, match="zero SM rate"):
        ProbeSet(np.ones(2), np.zeros(2), np.zeros(2), np.zeros((2, 15)))
