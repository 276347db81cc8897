"""ManifoldInformer pieces: closed-form ridge head (direct solve, Sherman-Morrison, predictive variance), torch
ridge, VICReg terms, exact resampling of the event pool, the linear probe, and a short JEPA run."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from smeftfm.errors import SmeftfmError
from smeftfm.models.informer import (
    EventPool,
    InformerConfig,
    encode,
    event_lifts,
    pooled,
    probe_r2,
    train_informer,
    vicreg_terms,
)
from smeftfm.models.ridge import RidgeHead, ridge_predict


@pytest.fixture()
def kv():
    rng = np.random.default_rng(0)
    k = rng.normal(size=(40, 6))
    v = k @ rng.normal(size=(6, 3)) + 0.1 * rng.normal(size=(40, 3))
    return k, v


def test_ridge_head_equals_numpy_solve(kv):
    k, v = kv
    lam = 0.3
    head = RidgeHead.fit(k, v, lam)
    w = np.linalg.solve(k.T @ k + lam * np.eye(6), k.T @ v)
    assert np.allclose(head.weights, w, rtol=1e-10, atol=1e-12)
    q = np.random.default_rng(1).normal(size=(5, 6))
    assert np.allclose(head.predict(q), q @ w)
    a_inv = np.linalg.inv(k.T @ k + lam * np.eye(6))
    assert np.allclose(head.variance(q), np.einsum("ip,pq,iq->i", q, a_inv, q))
    assert np.all(head.variance(q) > 0)


def test_sherman_morrison_updates_equal_direct_solve(kv):
    k, v = kv
    inc = RidgeHead(6, 3, 0.3)
    for row, val in zip(k, v, strict=True):
        inc.update(row, val)
    direct = RidgeHead.fit(k, v, 0.3)
    assert np.allclose(inc.a_inv, direct.a_inv, rtol=1e-8, atol=1e-12)
    assert np.allclose(inc.weights, direct.weights, rtol=1e-8, atol=1e-12)
    # one more point after a direct fit: still the direct solve on all points
    extra_k, extra_v = np.ones(6), np.arange(3.0)
    direct.update(extra_k, extra_v)
    again = RidgeHead.fit(np.vstack([k, extra_k]), np.vstack([v, extra_v]), 0.3)
    assert np.allclose(direct.weights, again.weights, rtol=1e-8)
    # the predictive variance shrinks along the updated key
    assert again.variance(extra_k)[0] < RidgeHead.fit(k, v, 0.3).variance(extra_k)[0]
    with pytest.raises(SmeftfmError, match="ridge lambda"):
        RidgeHead(3, 1, 0.0)
    with pytest.raises(SmeftfmError, match="key of size"):
        inc.update(np.ones(5), np.ones(3))


def test_torch_ridge_matches_numpy(kv):
    k, v = kv
    q = np.random.default_rng(2).normal(size=(4, 6))
    t = ridge_predict(torch.tensor(k)[None], torch.tensor(v)[None], torch.tensor(q)[None], 0.3)[0].numpy()
    assert np.allclose(t, RidgeHead.fit(k, v, 0.3).predict(q), rtol=1e-10)


def test_vicreg_detects_collapse():
    z = torch.randn(512, 8)
    var_ok, cov_ok = vicreg_terms(z * 2)
    var_bad, cov_bad = vicreg_terms(torch.zeros(512, 8) + 0.01 * torch.randn(512, 1))
    assert var_ok < 1e-3 and var_bad > 0.9
    corr = torch.randn(512, 1).repeat(1, 8)
    assert vicreg_terms(corr)[1] > 10 * cov_ok


def test_vicreg_terms_match_the_textbook_formulas():
    """Variance hinge from torch.var and covariance from torch.cov, computed independently of the one-pass code."""
    z = torch.randn(300, 6, dtype=torch.float64) * torch.linspace(0.3, 2.0, 6, dtype=torch.float64)
    z[:, 1] += 0.5 * z[:, 0]
    var, cov = vicreg_terms(z)
    std = torch.sqrt(z.var(0) + 1e-4)
    c = torch.cov(z.T)
    off = c - torch.diag(torch.diag(c))
    assert torch.allclose(var, torch.relu(1 - std).mean(), rtol=1e-12)
    assert torch.allclose(cov, (off**2).sum() / 6, rtol=1e-12)


def _pool(n=20000, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, n)
    terms = np.stack([np.ones(n), x, np.zeros(n)], axis=1)  # one operator: SM = 1, lin = x, quad = 0
    return EventPool(x[:, None], terms, 1), x


def test_event_pool_resamples_the_working_point_distribution():
    pool, x = _pool()
    views, wts = pool.draw(np.array([[0.8], [0.0]]), 4000, torch.Generator().manual_seed(0))
    assert views.shape == (2, 2, 4000, 1) and wts.shape == (2, 2, 4000)
    assert torch.allclose(wts, torch.ones_like(wts))
    expect = np.sum(x * (1 + 0.8 * x)) / np.sum(1 + 0.8 * x)  # E_C[x] with p(x|C) ~ 1 + C x
    for view in (0, 1):
        assert abs(float(views[view, 0].mean()) - expect) < 4 * 0.6 / np.sqrt(4000)
        assert abs(float(views[view, 1].mean())) < 4 * 0.6 / np.sqrt(4000)
    assert not torch.equal(views[0, 0], views[1, 0])  # two independent draws


def test_biased_pool_with_weights_pools_to_the_working_point_mean():
    """A pool drawn from q(x) ~ (1 + x)^2 p(x), weighted by p/q, pools to the same E_C[x] as an unbiased pool."""
    rng = np.random.default_rng(1)
    x = rng.uniform(-1, 1, 400_000)
    keep = rng.random(x.size) < ((1 + x) / 2) ** 2  # thinning: q ~ (1+x)^2 on [-1, 1]
    xq = x[keep][:40_000]
    terms = np.stack([np.ones(xq.size), xq, np.zeros(xq.size)], axis=1)
    pool = EventPool(xq[:, None], terms, 1, weights=1.0 / (1 + xq) ** 2)
    views, wts = pool.draw(np.array([[0.8], [-0.5]]), 20_000, torch.Generator().manual_seed(3))
    rows = pooled(views, wts)[..., 0]  # [2 views, 2 points]
    for j, c in enumerate((0.8, -0.5)):
        expect = c / 3.0  # E_C[x] = int x (1 + C x) dx / int (1 + C x) dx on [-1, 1]
        assert np.all(np.abs(rows[:, j].numpy() - expect) < 0.03)
        assert abs(float(views[0, j].mean()) - expect) > 0.1  # the unweighted mean is biased


def test_weighted_probe_equals_the_probe_on_duplicated_events():
    rng = np.random.default_rng(6)
    f_a, f_b = rng.normal(size=(300, 3)), rng.normal(size=(200, 3))
    t_a, t_b = f_a @ [1.0, -2.0, 0.5] + rng.normal(size=300), f_b @ [1.0, -2.0, 0.5] + rng.normal(size=200)
    k_a, k_b = rng.integers(1, 4, 300), rng.integers(1, 4, 200)
    weighted = probe_r2(f_a, t_a[:, None], f_b, t_b[:, None], weights_fit=k_a, weights_test=k_b)
    dup = probe_r2(np.repeat(f_a, k_a, 0), np.repeat(t_a, k_a)[:, None], np.repeat(f_b, k_b, 0),
                   np.repeat(t_b, k_b)[:, None])
    assert np.allclose(weighted, dup, atol=1e-6)
    assert not np.allclose(weighted, probe_r2(f_a, t_a[:, None], f_b, t_b[:, None]), atol=1e-4)


def test_probe_r2_linear_target_and_noise():
    rng = np.random.default_rng(4)
    f_a, f_b = rng.normal(size=(2000, 5)), rng.normal(size=(2000, 5))
    w = rng.normal(size=(5, 2))
    r2 = probe_r2(f_a, f_a @ w, f_b, f_b @ w)
    assert np.allclose(r2, 1.0, atol=1e-9)
    noise = probe_r2(f_a, rng.normal(size=(2000, 1)), f_b, rng.normal(size=(2000, 1)))
    assert noise[0] < 0.02


def test_short_jepa_run_trains_a_non_collapsed_encoder():
    from smeftfm.physics.kinematics import KinematicMap

    rng = np.random.default_rng(0)
    n = 4000
    m = np.exp(rng.uniform(np.log(50), np.log(650), n))
    y, c = rng.uniform(-2, 2, n), rng.uniform(-0.9, 0.9, n)
    lifts = event_lifts(m, y, c, KinematicMap())
    terms = np.stack([np.ones(n), 0.3 * c, 0.05 * np.ones(n)], axis=1)
    pool = EventPool(lifts, terms, 1)
    cfg = InformerConfig(embed_dim=4, hidden=16, depth=1, events_per_set=64, working_points=8, steps=15,
                         coeff_max=2.0)
    torch.manual_seed(0)
    enc, hist = train_informer(pool, cfg, 0, lifts.mean(0), lifts.std(0) + 1e-12, log_every=5)
    assert all(np.isfinite(h["loss"]) for h in hist)
    phi = encode(enc, lifts[:500], learned_only=True)
    assert phi.shape == (500, 4) and np.all(phi.std(0) > 0.1)  # VICReg kept every learned feature alive
    assert encode(enc, lifts[:5]).shape == (5, lifts.shape[1] + 4)


def test_probe_r2_bootstrap_error_shrinks_like_one_over_root_n():
    rng = np.random.default_rng(8)

    def se(n):
        f_a, f_b = rng.normal(size=(4000, 2)), rng.normal(size=(n, 2))
        t_a, t_b = f_a @ [1.0, 1.0] + rng.normal(size=4000), f_b @ [1.0, 1.0] + rng.normal(size=n)
        r2, err = probe_r2(f_a, t_a[:, None], f_b, t_b[:, None], n_boot=200)
        assert abs(r2[0] - 2.0 / 3.0) < 5 * err[0]  # population R^2 = 2/3
        return err[0]

    assert 2.5 < se(500) / se(8000) < 6.0  # sqrt(16) = 4


@pytest.mark.slow
def test_supervised_auxiliary_objective_teaches_the_learned_features_the_tangent():
    """aux_weight > 0 adds a linear head from the learned features to the standardised per-event tangent; the
    learned-only probe R^2 of the tangent must then beat the JEPA-only encoder of the same size and steps, and the
    snapshots (step 0 = untrained) are recorded."""
    from smeftfm.physics.kinematics import KinematicMap

    rng = np.random.default_rng(1)
    n = 6000
    m = np.exp(rng.uniform(np.log(50), np.log(650), n))
    y, c = rng.uniform(-2, 2, n), rng.uniform(-0.9, 0.9, n)
    lifts = event_lifts(m, y, c, KinematicMap())
    tangent = 0.3 * c * np.log(m / 50.0) ** 2
    terms = np.stack([np.ones(n), tangent, 0.01 * np.ones(n)], axis=1)
    pool = EventPool(lifts, terms, 1)
    t = pool.tangent_targets().numpy()[:, 0]
    assert abs(t.mean()) < 1e-4 and abs(t.std() - 1) < 1e-3
    r2 = {}
    for w in (0.0, 10.0):
        cfg = InformerConfig(embed_dim=4, hidden=32, depth=1, events_per_set=64, working_points=8, steps=150,
                             coeff_max=2.0, aux_weight=w, lr=1e-2)
        snaps: dict = {}
        enc, hist = train_informer(pool, cfg, 0, lifts.mean(0), lifts.std(0) + 1e-12, log_every=50,
                                   snapshot_steps=(0, 10), snapshots=snaps)
        assert sorted(snaps) == [0, 10]
        phi = encode(enc, lifts, learned_only=True)
        r2[w] = float(probe_r2(phi[:4000], tangent[:4000, None], phi[4000:], tangent[4000:, None])[0])
    assert r2[10.0] > 0.9 and r2[10.0] > r2[0.0]  # measured 0.96 vs 0.62


def test_distinct_columns_drops_linear_combinations_and_constants():
    from smeftfm.models.informer import distinct_columns

    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(2, 500))
    cols = np.stack([a, b, 2 * a - b + 3, np.full(500, 5.0), a * b], axis=1)
    assert distinct_columns(cols) == [0, 1, 4]
    assert distinct_columns(cols, weights=rng.uniform(0.5, 2.0, 500)) == [0, 1, 4]


def test_stacked_mlp_equals_each_seeds_encoder_and_unstacks_back():
    """All seeds trained as one network: the stacked forward of model s equals encoder s's MLP, and the stacked
    weights copy back into the per-seed encoders (the saved state dicts)."""
    from smeftfm.models.informer import EventEncoder, StackedMLP

    cfg = InformerConfig(embed_dim=3, hidden=8, depth=2)
    p = 5
    encs = []
    for s in (0, 1, 2):
        torch.manual_seed(s)
        encs.append(EventEncoder(p, cfg, np.zeros(p), np.ones(p)))
    stack = StackedMLP(encs)
    x = torch.randn(3, 7, p)
    ref = torch.stack([e.mlp(x[i]) for i, e in enumerate(encs)])
    assert torch.allclose(stack(x), ref, atol=1e-6)
    with torch.no_grad():
        for w in stack.weights:
            w.mul_(2.0)
    stack.unstack_into(encs)
    assert torch.equal(encs[1].mlp[0].weight, stack.weights[0][1].T)
    assert not torch.allclose(torch.stack([e.mlp(x[i]) for i, e in enumerate(encs)]), ref, atol=1e-3)
    assert torch.allclose(torch.stack([e.mlp(x[i]) for i, e in enumerate(encs)]), stack(x), atol=1e-6)
