"""Projector, residual operator and psi-extension on a synthetic basis with a known missing direction."""

from __future__ import annotations

import numpy as np
import pytest

from smeftfm.errors import SmeftfmError
from smeftfm.loop.basis import legendre
from smeftfm.loop.residual import (
    Spectrum,
    fit_direction,
    leading_singular_vectors,
    orthonormal_basis,
    residualise,
)


@pytest.fixture()
def synthetic():
    rng = np.random.default_rng(1)
    n = 3000
    x, z = rng.uniform(-1, 1, n), rng.uniform(-1, 1, n)
    psi = legendre(x, 3)  # the span: polynomials in x
    missing = z * (1 + 0.5 * x)  # a direction outside it
    a = rng.normal(size=(4, 6))
    b = rng.uniform(0.5, 2.0, 6)
    cols = psi @ a + missing[:, None] * b[None, :]
    dictionary = np.concatenate([legendre(x, 3), z[:, None] * legendre(x, 3)], axis=1)
    return psi, missing, cols, dictionary


def test_projector_is_orthogonal_and_idempotent(synthetic):
    psi, _, cols, _ = synthetic
    q = orthonormal_basis(psi)
    assert np.allclose(q.T @ q, np.eye(q.shape[1]), atol=1e-10)
    r = residualise(q, cols)
    assert np.allclose(residualise(q, r), r, atol=1e-10)
    assert np.allclose(psi.T @ r, 0.0, atol=1e-8)
    # a duplicated column does not change the span
    assert orthonormal_basis(np.concatenate([psi, psi[:, :1] * 3.0], axis=1)).shape[1] == psi.shape[1]


def test_single_missing_direction_is_rank_one_and_collapses(synthetic):
    psi, missing, cols, dictionary = synthetic
    r = residualise(orthonormal_basis(psi), cols)
    pre = Spectrum.of(r)
    assert pre.sigma1 > 10.0
    assert pre.ratio > 1e6  # one missing direction: R is rank one
    u1, v1 = leading_singular_vectors(r)
    assert np.allclose(r @ v1, pre.sigma1 * u1, atol=1e-8)
    # extend with the dictionary function fitted to u1 (evaluable on fresh events through its weights)
    beta = fit_direction(u1, dictionary)
    post = Spectrum.of(residualise(orthonormal_basis(np.concatenate([psi, (dictionary @ beta)[:, None]], 1)), cols))
    assert post.sigma1 < 1e-6 * pre.sigma1
    # a random direction barely moves sigma_1
    rnd = np.random.default_rng(5).normal(size=psi.shape[0])
    post_rnd = Spectrum.of(residualise(orthonormal_basis(np.concatenate([psi, rnd[:, None]], 1)), cols))
    assert post_rnd.sigma1 > 0.95 * pre.sigma1


def test_spectrum_edge_cases():
    s = Spectrum.of(np.zeros((10, 0)))
    assert s.sigma1 == 0.0 and s.n_columns == 0
    one = Spectrum.of(np.ones((10, 1)))
    assert one.sigma2 == 0.0 and one.ratio == float("inf")
    with pytest.raises(SmeftfmError, match="no columns"):
        leading_singular_vectors(np.zeros((10, 0)))
    with pytest.raises(SmeftfmError, match="more probe events"):
        orthonormal_basis(np.ones((3, 5)))
