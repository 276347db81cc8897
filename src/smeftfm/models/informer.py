r"""ManifoldInformer: a permutation-invariant per-event encoder pooled into a closed-form ridge head (JEPA).

* Per-event input lifts ``L(x)`` of x = (m_ll [GeV], y_ll, cos theta_CS) (:func:`event_lifts`): the coordinates
  u (log mass), c, v (|y|), the Z Breit-Wigner shapes, the helicity ratio ``2c/(1+c^2)`` and all their pairwise
  products; standardised on the SM pool.
* Encoder ``phi(x) = [L(x), MLP(L(x))]`` in R^(n_lifts + embed_dim): the input lifts pass through (a skip path) and
  the MLP adds learned features. Reported probe R^2 values separate the two parts.
* Deep-Sets mean pooling of ``phi`` over the events of one working point gives its context row.
* Ridge head over working points (:func:`~smeftfm.models.ridge.ridge_predict`): keys = context rows of view 1
  (online encoder), values = context rows of view 2 (EMA target encoder); the held-out working points' rows are
  predicted in one solve. Both views are independent event draws at the same working point.
* The prediction runs on the learned block of phi (the skip-path lifts are fixed and carry no gradient).
  Loss = |prediction - EMA target|^2 on centred rows, each dimension divided by its variance across the step's
  working points, + VICReg variance (hinge at unit std) and covariance (off-diagonal^2) terms on the per-event
  MLP features, against collapse; the target encoder follows the online one by EMA.

* Optional **supervised auxiliary objective** (``aux_weight`` > 0; reported as such, not self-supervised): a linear
  head from the learned per-event features to the standardised per-event tangents ``lin:k/SM`` of the view's events,
  squared error added to the JEPA loss. ``aux_weight`` = 0 is the JEPA-only informer.

Events at a working point C are drawn by multinomial resampling of a large SM event pool with the exact weights
``p(x|C)/p(x|SM)`` from the quadratic morphing terms (no oracle call during training). The pool may be drawn from
a mass-biased density ``p_SM(x) b(m)`` (``mass_tilt``, more high-mass events); each event then carries the
importance weight ``1/b(m)`` and the Deep-Sets pooling is the weighted mean, which estimates the same E_C[phi].
"""

from __future__ import annotations

import copy
import math
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn

from ..errors import SmeftfmError
from ..physics.kinematics import KinematicMap
from ..physics.morphing import monomials
from .mlp import mlp
from .ridge import ridge_predict

__all__ = ["EventEncoder", "EventPool", "InformerConfig", "StackedMLP", "distinct_columns", "encode", "event_lifts",
           "pooled", "probe_r2", "train_informer", "train_informers", "vicreg_terms"]


def event_lifts(m: np.ndarray, y: np.ndarray, cos_cs: np.ndarray, kmap: KinematicMap) -> np.ndarray:
    """Physics-aware per-event lifts (unstandardised), shape ``[n, 11 + 66]``: base features and pairwise products."""
    m, y, c = (np.asarray(a, dtype=np.float64) for a in (m, y, cos_cs))
    u, v = kmap.u(m), kmap.v(y)
    re_bw, abs_bw = kmap.breit_wigner(m)
    base = np.stack([u, u * u, u**3, u**4, c, c * c, v, v * v, re_bw, abs_bw, 2 * c / (1 + c * c)], axis=1)
    i, j = np.triu_indices(base.shape[1])
    return np.concatenate([base, base[:, i] * base[:, j]], axis=1)


@dataclass(frozen=True)
class InformerConfig:
    """Architecture and training of the ManifoldInformer."""

    embed_dim: int = 128
    hidden: int = 512
    depth: int = 2
    events_per_set: int = 256
    working_points: int = 32
    steps: int = 600
    lr: float = 1e-3
    lr_schedule: str = "constant"
    ridge: float = 1e-2
    ema: float = 0.99
    var_weight: float = 1.0
    cov_weight: float = 0.04
    coeff_max: float = 10.0
    aux_weight: float = 0.0
    precision: str = "float32"

    def __post_init__(self) -> None:
        if self.precision not in ("float32", "bfloat16"):
            raise SmeftfmError(f"informer precision must be 'float32' or 'bfloat16', got {self.precision!r}")
        if self.lr_schedule not in ("constant", "cosine"):
            raise SmeftfmError(f"informer lr_schedule must be 'constant' or 'cosine', got {self.lr_schedule!r}")

    def to_dict(self) -> dict:
        return asdict(self)


class EventEncoder(nn.Module):
    """``phi(x) = [L_std(x), MLP(L_std(x))]`` with the standardisation stored as buffers."""

    def __init__(self, n_lifts: int, cfg: InformerConfig, mean: np.ndarray, std: np.ndarray):
        super().__init__()
        self.mlp = mlp(n_lifts, cfg.hidden, cfg.depth, cfg.embed_dim, activation=nn.SiLU)
        self.register_buffer("mean", torch.as_tensor(mean, dtype=torch.float32))
        self.register_buffer("std", torch.as_tensor(std, dtype=torch.float32))

    def standardise(self, lifts: torch.Tensor) -> torch.Tensor:
        return (lifts - self.mean) / self.std

    def learned(self, lifts: torch.Tensor) -> torch.Tensor:
        """The MLP part of phi (lifts unstandardised in, features out)."""
        return self.mlp(self.standardise(lifts))

    def forward(self, lifts: torch.Tensor) -> torch.Tensor:
        z = self.standardise(lifts)
        return torch.cat([z, self.mlp(z)], dim=-1)


def _stacked_vicreg(z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`vicreg_terms` per model: ``z [S, n, d]`` -> variance and covariance terms ``[S]`` each."""
    zc = z - z.mean(1, keepdim=True)
    cov = zc.transpose(1, 2) @ zc / (z.shape[1] - 1)  # [S, d, d]; its diagonal is the variance (one pass)
    diag = torch.diagonal(cov, dim1=1, dim2=2)
    var = torch.relu(1.0 - torch.sqrt(diag + 1e-4)).mean(1)
    off = cov - torch.diag_embed(diag)
    return var, (off**2).sum((1, 2)) / z.shape[2]


def vicreg_terms(z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """VICReg variance (mean hinge of unit std) and covariance (mean squared off-diagonal) terms of ``z [n, d]``."""
    v, c = _stacked_vicreg(z[None])
    return v[0], c[0]


class EventPool:
    """An SM event pool with exact resampling weights to any working point (quadratic morphing).

    ``weights``: per-event importance weights with respect to the SM density (1 for a plain SM sample,
    ``(m/m_lo)^-k`` for a pool drawn with ``mass_tilt`` = k); normalised to mean 1.
    """

    def __init__(self, lifts: np.ndarray, terms: np.ndarray, n_operators: int, weights: np.ndarray | None = None):
        if terms.shape[0] != lifts.shape[0] or not np.all(terms[:, 0] > 0):
            raise SmeftfmError("event pool: lifts and terms disagree or an event has zero SM rate")
        w = np.ones(lifts.shape[0]) if weights is None else np.asarray(weights, dtype=np.float64)
        if w.shape != (lifts.shape[0],) or not np.all(np.isfinite(w) & (w > 0)):
            raise SmeftfmError("event pool: weights must be one finite positive number per event")
        self.lifts = torch.as_tensor(lifts, dtype=torch.float32)
        self.ratio_terms = torch.as_tensor(terms / terms[:, :1], dtype=torch.float64)  # T(x)/SM(x)
        self._ratio_terms_t = self.ratio_terms.T.contiguous()  # [n_terms, N]: the draw's weights come out row-major
        self.weights = torch.as_tensor(w / w.mean(), dtype=torch.float32)
        self.n_operators = n_operators

    @property
    def device(self) -> torch.device:
        return self.lifts.device

    def to(self, device) -> EventPool:
        """Move the pool to ``device`` (in place); returns the pool."""
        self.lifts, self.ratio_terms = self.lifts.to(device), self.ratio_terms.to(device)
        self._ratio_terms_t = self._ratio_terms_t.to(device)
        self.weights = self.weights.to(device)
        return self

    def draw(self, coeffs: np.ndarray, n: int, gen: torch.Generator,
             return_index: bool = False) -> tuple[torch.Tensor, ...]:
        """Two independent views at working points ``coeffs [M, K]``: lifts ``[2, M, n, p]``, weights ``[2, M, n]``
        (and, with ``return_index``, the pool indices ``[2, M, n]``).

        Pool with :func:`pooled` (the weighted mean estimates E_C[.] whatever the pool's mass bias).
        """
        mono = torch.as_tensor(monomials(np.asarray(coeffs, dtype=np.float64), "quadratic"), device=self.device)
        w = (mono @ self._ratio_terms_t).clamp_min_(0.0)  # [M, N_pool], p(x|C)/p(x|SM) up to a constant
        idx = torch.multinomial(w, 2 * n, replacement=True, generator=gen)  # [M, 2n]
        ev, wt = self.lifts[idx], self.weights[idx]  # [M, 2n, p], [M, 2n]
        out = (torch.stack([ev[:, :n], ev[:, n:]]), torch.stack([wt[:, :n], wt[:, n:]]))
        return (*out, torch.stack([idx[:, :n], idx[:, n:]])) if return_index else out

    def tangent_targets(self) -> torch.Tensor:
        """Per-event tangents ``lin:k/SM`` standardised with the pool's weighted mean and std, ``[N_pool, K]``
        (float32; the targets of the supervised auxiliary objective)."""
        t = self.ratio_terms[:, 1 : 1 + self.n_operators].float()
        w = self.weights[:, None] / self.weights.sum()
        mu = (w * t).sum(0)
        sd = ((w * (t - mu) ** 2).sum(0)).sqrt().clamp_min(1e-12)
        return (t - mu) / sd


def pooled(h: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Deep-Sets weighted mean over the event axis: ``h [..., n, d]``, ``weights [..., n]`` -> ``[..., d]``."""
    w = weights / weights.sum(-1, keepdim=True)
    return (h * w[..., None]).sum(-2)


class StackedMLP(nn.Module):
    """``S`` independent copies of an :class:`EventEncoder` MLP with stacked weights, evaluated as batched matmuls.

    Weights ``[S, in, out]`` and biases ``[S, 1, out]`` per layer; ``x [S, N, in] -> [S, N, out]`` by
    ``torch.baddbmm`` (SiLU between layers). Training all seeds at once this way turns ``S`` sets of small matmuls
    into one batched call per layer and one optimiser over all seeds; the summed loss keeps the seeds independent
    (every parameter belongs to one seed and Adam is elementwise).
    """

    def __init__(self, encoders: list[EventEncoder]):
        super().__init__()
        linears = [[m for m in e.mlp if isinstance(m, nn.Linear)] for e in encoders]
        self.weights = nn.ParameterList(
            [nn.Parameter(torch.stack([lin[i].weight.detach().T for lin in linears]).contiguous())
             for i in range(len(linears[0]))])
        self.biases = nn.ParameterList(
            [nn.Parameter(torch.stack([lin[i].bias.detach()[None] for lin in linears]).contiguous())
             for i in range(len(linears[0]))])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x
        last = len(self.weights) - 1
        for i, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            h = torch.baddbmm(b, h, w)
            if i < last:
                h = nn.functional.silu(h)
        return h

    def unstack_into(self, encoders: list[EventEncoder]) -> None:
        """Copy seed ``s``'s weights into ``encoders[s]`` (in place)."""
        with torch.no_grad():
            for s, enc in enumerate(encoders):
                lin = [m for m in enc.mlp if isinstance(m, nn.Linear)]
                for i, layer in enumerate(lin):
                    layer.weight.copy_(self.weights[i][s].T)
                    layer.bias.copy_(self.biases[i][s, 0])


def train_informers(pool: EventPool, cfg: InformerConfig, seeds: tuple[int, ...] | list[int], mean: np.ndarray,
                    std: np.ndarray, log_every: int = 50, snapshot_steps: tuple[int, ...] = (),
                    snapshots: dict | None = None, aux_weights: tuple[float, ...] | list[float] | None = None,
                    ) -> list[tuple[EventEncoder, list[dict]]]:
    """JEPA training of one encoder per seed, all seeds at once (:class:`StackedMLP`), on the pool's device.

    Seed ``s`` fixes its encoder's initialisation (``torch.manual_seed(s)``, as a lone :class:`EventEncoder`) and
    its working points; the view draws of all seeds come from one generator. Returns ``(online encoder, loss
    history)`` per model. ``snapshot_steps``: model ``i``'s online state dict (on CPU) is stored in
    ``snapshots[i][step]`` before that many optimiser steps (0 = the untrained encoder). ``aux_weights``: one
    supervised auxiliary weight per model (default ``cfg.aux_weight`` for all), so a supervised informer and its
    JEPA-only companion (same seed, weight 0) train in one stack.
    """
    seeds = [int(s) for s in seeds]
    aux = [cfg.aux_weight] * len(seeds) if aux_weights is None else [float(a) for a in aux_weights]
    if not seeds or len(aux) != len(seeds) or min(aux) < 0:
        raise SmeftfmError(f"informer training needs >= 1 seed and one aux weight >= 0 per seed, got seeds {seeds}, "
                           f"aux weights {aux}; fix informer.seeds / informer.aux_weight")
    n_models, k_ops, m_wp, n_ev, d = len(seeds), pool.n_operators, cfg.working_points, cfg.events_per_set, \
        cfg.embed_dim
    encs = []
    for s in seeds:
        torch.manual_seed(s)
        encs.append(EventEncoder(pool.lifts.shape[1], cfg, mean, std).to(pool.device))
    state = int(np.random.SeedSequence(seeds).generate_state(1)[0]) if n_models > 1 else seeds[0]
    gen = torch.Generator(device=pool.device).manual_seed(state)
    rngs = [np.random.default_rng(s) for s in seeds]
    online = StackedMLP(encs).to(pool.device)
    target = copy.deepcopy(online)
    for p in target.parameters():
        p.requires_grad_(False)
    params = list(online.parameters())
    aux_w = aux_b = aux_targets = None
    if max(aux) > 0:  # supervised auxiliary objective: learned features -> per-event tangents (linear head)
        heads = []
        for s in seeds:
            torch.manual_seed(s + 7919)
            heads.append(nn.Linear(d, k_ops))
        aux_w = nn.Parameter(torch.stack([h.weight.detach().T for h in heads]).to(pool.device))  # [S, d, K]
        aux_b = nn.Parameter(torch.stack([h.bias.detach()[None] for h in heads]).to(pool.device))  # [S, 1, K]
        aux_targets = pool.tangent_targets()
        params += [aux_w, aux_b]
        aux_t = torch.as_tensor(aux, dtype=torch.float32, device=pool.device)
    opt = torch.optim.Adam(params, lr=cfg.lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, cfg.steps) if cfg.lr_schedule == "cosine" else None
    mean_t, std_t = encs[0].mean, encs[0].std
    n_ctx = m_wp // 2
    low = cfg.precision == "bfloat16"  # bf16 autocast of the MLP matmuls (weights, Adam and the rest in float32)
    histories: list[list[dict]] = [[] for _ in seeds]
    on_params, tg_params = list(online.parameters()), list(target.parameters())
    for step in range(cfg.steps):
        if snapshots is not None and step in snapshot_steps:
            online.unstack_into(encs)
            for i, e in enumerate(encs):
                snapshots.setdefault(i, {})[step] = {k: v.detach().cpu().clone() for k, v in e.state_dict().items()}
        c = np.concatenate([r.uniform(-cfg.coeff_max, cfg.coeff_max, size=(m_wp, k_ops)) for r in rngs])
        views, wts, idx = pool.draw(c, n_ev, gen, return_index=True)  # [2, S*M, n, p], [2, S*M, n]
        z = (views.reshape(2, n_models, m_wp * n_ev, -1) - mean_t) / std_t
        w0, w1 = wts.reshape(2, n_models, m_wp, n_ev)
        with torch.autocast(pool.device.type, dtype=torch.bfloat16, enabled=low):
            learned = online(z[0]).float()  # [S, M*n, d]: the trainable block (the skip-path lifts are fixed)
            with torch.no_grad():
                t_ev = target(z[1]).float()
        t2 = pooled(t_ev.reshape(n_models, m_wp, n_ev, d), w1)  # EMA target rows [S, M, d]
        rows = pooled(learned.reshape(n_models, m_wp, n_ev, d), w0)
        mu_k, mu_v = rows[:, :n_ctx].mean(1, keepdim=True), t2[:, :n_ctx].mean(1, keepdim=True)
        keys, vals = (rows[:, :n_ctx] - mu_k).double(), (t2[:, :n_ctx] - mu_v).double()
        queries = (rows[:, n_ctx:] - mu_k).double()
        lam = cfg.ridge * (keys.pow(2).sum((1, 2)) / d).detach().clamp_min(1e-8)  # [S]
        pred = ridge_predict(keys, vals, queries, lam[:, None, None])  # ridge head per seed, [S, M - n_ctx, d]
        scale = t2.var(1, keepdim=True).clamp_min(1e-12)  # per target dimension, across the step's working points
        loss_pred = (((pred.float() - (t2[:, n_ctx:] - mu_v)) ** 2) / scale).mean((1, 2))  # [S]
        var, cov = _stacked_vicreg(learned)
        loss = loss_pred + cfg.var_weight * var + cfg.cov_weight * cov
        loss_aux = torch.zeros_like(loss)
        if aux_targets is not None:  # squared error weighted by the pool's importance weights (SM-population)
            tgt = aux_targets[idx[0].reshape(n_models, -1)]  # [S, M*n, K]
            wa = w0.reshape(n_models, -1)
            err = ((torch.baddbmm(aux_b, learned, aux_w) - tgt) ** 2).mean(2)
            loss_aux = (wa * err).sum(1) / wa.sum(1)
            loss = loss + aux_t * loss_aux
        opt.zero_grad(set_to_none=True)
        loss.sum().backward()
        opt.step()
        if sched is not None:
            sched.step()
        with torch.no_grad():
            torch._foreach_lerp_(tg_params, on_params, 1.0 - cfg.ema)
        if step % log_every == 0 or step == cfg.steps - 1:
            vals_ = torch.stack([loss, loss_pred, var, cov, loss_aux]).detach().cpu().numpy()
            for i in range(n_models):
                histories[i].append({"step": step, "loss": float(vals_[0, i]), "pred": float(vals_[1, i]),
                                     "var": float(vals_[2, i]), "cov": float(vals_[3, i]), "aux": float(vals_[4, i])})
    online.unstack_into(encs)
    return list(zip(encs, histories, strict=True))


def train_informer(pool: EventPool, cfg: InformerConfig, seed: int, mean: np.ndarray, std: np.ndarray,
                   log_every: int = 50, snapshot_steps: tuple[int, ...] = (),
                   snapshots: dict | None = None) -> tuple[EventEncoder, list[dict]]:
    """One seed of :func:`train_informers`; ``snapshots[step]`` holds that seed's checkpoints."""
    nested: dict = {}
    enc, hist = train_informers(pool, cfg, [seed], mean, std, log_every, snapshot_steps, nested)[0]
    if snapshots is not None:
        snapshots.update(nested.get(0, {}))
    return enc, hist


def probe_r2(features_fit: np.ndarray, targets_fit: np.ndarray, features_test: np.ndarray,
             targets_test: np.ndarray, ridge_rel: float = 1e-6, weights_fit: np.ndarray | None = None,
             weights_test: np.ndarray | None = None, n_boot: int = 0, seed: int = 0):
    """Held-out R^2 per target column of a linear probe (with intercept, tiny ridge) fitted on the fit set.

    With importance weights (events drawn from a biased density, weight = p_SM/q), the probe is the weighted
    least-squares fit and R^2 = 1 - sum w res^2 / sum w (t - mean_w t)^2: both estimate the same population
    quantities under p_SM as the unweighted formulas on an SM sample, with lower variance in the tail.
    ``n_boot`` > 0 also returns the bootstrap standard error of R^2 over the test events (probe fixed):
    ``(r2, se)``; otherwise ``r2`` alone.
    """
    def design(f):
        return np.concatenate([np.ones((f.shape[0], 1)), f], axis=1)

    wa = np.ones(features_fit.shape[0]) if weights_fit is None else np.asarray(weights_fit, dtype=np.float64)
    wb = np.ones(features_test.shape[0]) if weights_test is None else np.asarray(weights_test, dtype=np.float64)
    xa, xb = design(features_fit), design(features_test)
    mu = np.average(xa[:, 1:], axis=0, weights=wa)
    sd = np.sqrt(np.average((xa[:, 1:] - mu) ** 2, axis=0, weights=wa)) + 1e-12
    xa[:, 1:] = (xa[:, 1:] - mu) / sd
    xb[:, 1:] = (xb[:, 1:] - mu) / sd
    g = (xa * wa[:, None]).T @ xa
    g[1:, 1:] += ridge_rel * wa.sum() * np.eye(g.shape[0] - 1)
    beta = np.linalg.solve(g, (xa * wa[:, None]).T @ targets_fit)
    res = targets_test - xb @ beta

    def r2(idx=slice(None)):
        w, t, r = wb[idx], targets_test[idx], res[idx]
        ss = (w[:, None] * (t - np.average(t, axis=0, weights=w)) ** 2).sum(0)
        return 1.0 - (w[:, None] * r**2).sum(0) / np.where(ss > 0, ss, math.nan)

    if n_boot <= 0:
        return r2()
    rng = np.random.default_rng(seed)
    boots = np.array([r2(rng.integers(0, wb.size, wb.size)) for _ in range(n_boot)])
    return r2(), boots.std(0, ddof=1)


@torch.no_grad()
def encode(enc: EventEncoder, lifts: np.ndarray, learned_only: bool = False) -> np.ndarray:
    x = torch.as_tensor(lifts, dtype=torch.float32, device=enc.mean.device)
    out = enc.learned(x) if learned_only else enc(x)
    return out.double().cpu().numpy()


def distinct_columns(targets: np.ndarray, weights: np.ndarray | None = None, rtol: float = 1e-6) -> list[int]:
    """Indices of the columns of ``targets [n, k]`` that are not (weighted) linear combinations of earlier kept
    columns and a constant: a column is kept when its residual after that projection keeps more than ``rtol`` of
    its norm. Used to report curvature R^2 over distinct functions only."""
    t = np.asarray(targets, dtype=np.float64)
    w = np.ones(t.shape[0]) if weights is None else np.asarray(weights, dtype=np.float64)
    sw = np.sqrt(w / w.sum())[:, None]
    basis = [sw[:, 0] / np.linalg.norm(sw[:, 0])]
    keep = []
    for j in range(t.shape[1]):
        v = sw[:, 0] * t[:, j]
        r = v - sum((b @ v) * b for b in basis)
        if np.linalg.norm(r) > rtol * max(np.linalg.norm(v), 1e-300):
            keep.append(j)
            basis.append(r / np.linalg.norm(r))
    return keep

