"""Acquisition arms: the residual-energy score equals the brute-force sigma_1^2; pools respect locked tiers."""

from __future__ import annotations

import numpy as np
import pytest

from smeftfm.errors import SmeftfmError
from smeftfm.loop.acquisition import candidate_pool, choose, residual_energy_scores
from smeftfm.models.ridge import RidgeHead


def test_residual_energy_matches_bruteforce_svd():
    rng = np.random.default_rng(2)
    r_hist, r_cand = rng.normal(size=(200, 3)), rng.normal(size=(200, 7))
    fast = residual_energy_scores(r_hist, r_cand)
    brute = [np.linalg.svd(np.c_[r_hist, r_cand[:, j]], compute_uv=False)[0] ** 2 for j in range(7)]
    assert np.allclose(fast, brute, rtol=1e-10)
    assert np.allclose(residual_energy_scores(r_hist[:, :0], r_cand), (r_cand**2).sum(0))
    j, s = choose("residual_energy", rng, r_hist=r_hist, r_cand=r_cand)
    assert j == int(np.argmax(brute)) and np.isclose(s, max(brute))


def test_candidate_pool_box_and_locks():
    c = candidate_pool(np.random.default_rng(0), np.array([True, True, False, False]), np.array([1.0, 2, 3, 4]), 500)
    assert c.shape == (500, 4)
    assert np.all(c[:, 2:] == 0) and np.all(np.abs(c[:, 0]) <= 1) and np.abs(c[:, 1]).max() > 1.5
    with pytest.raises(SmeftfmError, match="no unlocked"):
        candidate_pool(np.random.default_rng(0), np.zeros(2, bool), np.ones(2), 3)


def test_epig_prefers_unexplored_directions():
    head = RidgeHead.fit(np.array([[1.0, 0.0]] * 20), np.zeros((20, 1)), 1e-3)  # direction e1 pinned
    cand = np.array([[1.0, 0.0], [0.0, 1.0]])
    targets = np.array([[0.0, 1.0], [0.7, 0.7]])
    e = head.epig(cand, targets)
    assert e[1] > e[0] > 0
    j, _ = choose("epig", np.random.default_rng(0), r_hist=np.zeros((3, 0)), r_cand=np.zeros((3, 2)), head=head,
                  keys_cand=cand)
    assert j == 1
    with pytest.raises(SmeftfmError, match="unknown acquisition arm"):
        choose("greedy", np.random.default_rng(0), r_hist=np.zeros((3, 0)), r_cand=np.zeros((3, 2)))
