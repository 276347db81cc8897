import numpy as np
import pytest
import torch
from scipy.special import digamma

from smeftfm.models.dirichlet import (
    DPNConfig,
    dirichlet_kl,
    dpn_outputs,
    expected_calibration_error,
    expected_data_entropy,
    mutual_information,
    synthetic_ood,
    total_entropy,
    train_dpn,
)


def _t(a):
    return torch.as_tensor(np.asarray([a], dtype=np.float64))


def test_uniform_beta_by_hand():
    # alpha = (1, 1): mu ~ U(0,1); E[H] = 2 int_0^1 -mu ln mu dmu = 1/2; total = ln 2
    a = _t([1.0, 1.0])
    assert total_entropy(a).item() == pytest.approx(np.log(2))
    assert expected_data_entropy(a).item() == pytest.approx(0.5)
    assert mutual_information(a).item() == pytest.approx(np.log(2) - 0.5)


@pytest.mark.parametrize("c,a", [(3, 1.0), (10, 0.5), (100, 2.0)])
def test_uniform_alpha_closed_form(c, a):
    alpha = _t([a] * c)
    expected = digamma(c * a + 1) - digamma(a + 1)
    assert total_entropy(alpha).item() == pytest.approx(np.log(c))
    assert expected_data_entropy(alpha).item() == pytest.approx(expected)
    assert mutual_information(alpha).item() == pytest.approx(np.log(c) - expected)


def test_sharp_and_flat_limits():
    sharp = _t([1e6] * 5)  # very confident about the (uniform) mean: no knowledge uncertainty
    assert mutual_information(sharp).item() < 1e-5
    onehot = _t([1e5, 1e-3, 1e-3])
    assert total_entropy(onehot).item() < 1e-3
    flat = _t([1e-3] * 4)  # mass at the corners: large MI, ~ln 4
    assert mutual_information(flat).item() == pytest.approx(np.log(4), rel=1e-2)


def test_one_hot_ish_against_monte_carlo():
    alpha = np.array([20.0, 2.0, 1.0, 0.5])
    rng = np.random.default_rng(1)
    mu = rng.dirichlet(alpha, size=400_000)
    h = -(mu * np.log(np.clip(mu, 1e-300, None))).sum(1)
    p = alpha / alpha.sum()
    assert expected_data_entropy(_t(alpha)).item() == pytest.approx(h.mean(), abs=3e-3)
    assert total_entropy(_t(alpha)).item() == pytest.approx(-(p * np.log(p)).sum())
    assert mutual_information(_t(alpha)).item() == pytest.approx(-(p * np.log(p)).sum() - h.mean(), abs=3e-3)


def test_kl_zero_and_positive():
    a = _t([2.0, 3.0, 4.0])
    b = _t([1.0, 1.0, 1.0])
    assert dirichlet_kl(a, a).item() == pytest.approx(0.0, abs=1e-12)
    # Monte Carlo check of KL[Dir(a)||Dir(1)] = E_a[ln p_a(mu)] - ln Gamma(3) (flat density = Gamma(3))
    from scipy.stats import dirichlet

    rng = np.random.default_rng(0)
    mu = rng.dirichlet([2.0, 3.0, 4.0], size=200_000)
    mc = dirichlet.logpdf(mu.T, [2.0, 3.0, 4.0]).mean() - np.log(2.0)
    assert dirichlet_kl(a, b).item() == pytest.approx(mc, abs=5e-3)


def test_ece_by_hand():
    conf = np.array([0.9, 0.9, 0.9, 0.9, 0.3, 0.3])
    correct = np.array([1, 1, 1, 1, 0, 1])
    # bin 0.9: acc 1 vs 0.9 -> 0.1 x 4/6 ; bin 0.3: acc 0.5 vs 0.3 -> 0.2 x 2/6
    assert expected_calibration_error(conf, correct, 10) == pytest.approx(0.1 * 4 / 6 + 0.2 * 2 / 6)


def test_dpn_learns_clusters_and_flags_far_points():
    rng = np.random.default_rng(0)
    centers = np.array([[0.0, 0.0], [3.0, 0.0], [0.0, 3.0]])
    lab = rng.integers(0, 3, 3000)
    z = (centers[lab] + 0.3 * rng.standard_normal((3000, 2))).astype(np.float32)
    head = train_dpn(z, lab, 3, DPNConfig(epochs=30, hidden=32, batch_size=256, seed=0))
    out = dpn_outputs(head, z)
    assert np.mean(out["pred"] == lab) > 0.95
    far = dpn_outputs(head, np.array([[12.0, 12.0], [-9.0, 6.0]], np.float32))
    assert far["mi"].min() > np.quantile(out["mi"], 0.99)
    ood = synthetic_ood(z, 200, rng)
    from scipy.spatial import cKDTree

    assert cKDTree(z).query(ood)[0].min() > 0.1
