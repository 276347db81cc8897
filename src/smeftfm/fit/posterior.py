"""Bayesian posterior of a set of Wilson coefficients with emcee, and its convergence diagnostics.

Likelihood exp(-chi2/2) (normalisations profiled, see :mod:`.likelihood`), a flat prior on the box
|C_k| < |C_k,best| + ``box`` sigma_k around 0, with the best fit and sigma_k from MIGRAD's Hessian; walkers start in a
small ball around the best fit. ``edge_fraction`` reports the share of samples in the outer 5 % of the box (a prior
that binds shows up there). Diagnostics: the integrated autocorrelation time tau per
parameter (emcee), the number of independent samples n_steps/tau, and the split-R-hat of Gelman-Rubin computed over
four groups of walkers after burn-in (R-hat < 1.05 and n_steps > 50 tau are the usual acceptance marks).
Marginalised intervals are equal-tailed (2.5 %, 97.5 % quantiles for 95 %).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..physics.morphing import Order
from .likelihood import Likelihood, embed, linear_fisher

__all__ = ["Posterior", "sample_posterior", "split_rhat"]


@dataclass
class Posterior:
    operators: list[str]
    samples: np.ndarray  # [n, k] after burn-in and thinning
    tau: np.ndarray  # [k] integrated autocorrelation time, steps
    rhat: np.ndarray  # [k]
    n_steps: int
    acceptance: float
    box: np.ndarray  # [k, 2] prior edges
    edge_fraction: float = 0.0

    def interval(self, cl: float = 0.95) -> dict[str, list[float]]:
        q = 0.5 * (1 - cl)
        lo, hi = np.quantile(self.samples, [q, 1 - q], axis=0)
        return {o: [float(a), float(b)] for o, a, b in zip(self.operators, lo, hi)}

    @property
    def converged(self) -> bool:
        return bool(np.all(self.rhat < 1.05) and self.n_steps > 50 * np.max(self.tau))


def split_rhat(chain: np.ndarray, groups: int = 4) -> np.ndarray:
    """Gelman-Rubin R-hat [k] of ``chain`` [steps, walkers, k], chains = ``groups`` walker groups split in halves."""
    s, w, k = chain.shape
    half = s // 2
    parts = []
    for g in np.array_split(np.arange(w), groups):
        for h in (chain[:half, g], chain[half : 2 * half, g]):
            parts.append(h.reshape(-1, k))
    n = min(p.shape[0] for p in parts)
    x = np.stack([p[:n] for p in parts])  # [m, n, k]
    means = x.mean(1)
    b = n * means.var(0, ddof=1)
    wv = x.var(1, ddof=1).mean(0)
    var = (n - 1) / n * wv + b / n
    return np.sqrt(var / wv)


def sample_posterior(lik: Likelihood, ops: list[str], order: Order, n_walkers: int = 32, n_steps: int = 3000,
                     burn: int = 500, box: float = 30.0, seed: int = 0) -> Posterior:
    """emcee ensemble sampling of p(C | data) for ``ops`` (others 0), flat prior on +-box sigma_lin around 0."""
    import emcee

    from .intervals import fit_minuit

    k = len(ops)
    m = fit_minuit(lik, ops, order)
    center = np.array(m.values)
    sig = np.array(m.errors)
    if not np.all(np.isfinite(sig)) or np.any(sig <= 0):
        sig = np.sqrt(np.clip(np.diag(np.linalg.pinv(linear_fisher(lik, ops))), 1e-300, None))
    half = np.abs(center) + box * sig
    edges = np.stack([-half, half], 1)

    def log_prob(c: np.ndarray) -> np.ndarray:
        c = np.atleast_2d(c)
        inside = np.all((c > edges[:, 0]) & (c < edges[:, 1]), axis=1)
        out = np.full(c.shape[0], -np.inf)
        if inside.any():
            out[inside] = -0.5 * lik.chi2(embed(lik.operators, ops, c[inside]), order)
        return out

    rng = np.random.default_rng(seed)
    p0 = center + rng.normal(0.0, 0.1, size=(n_walkers, k)) * sig
    sampler = emcee.EnsembleSampler(n_walkers, k, log_prob, vectorize=True)
    sampler.random_state = np.random.RandomState(seed).get_state()
    sampler.run_mcmc(p0, n_steps, progress=False)
    chain = sampler.get_chain(discard=burn)  # [steps, walkers, k]
    tau = sampler.get_autocorr_time(discard=burn, tol=0)
    thin = max(1, int(np.min(tau) // 2))
    flat = chain[::thin].reshape(-1, k)
    near_edge = np.any(np.abs(flat) > 0.95 * half, axis=1).mean()
    return Posterior(list(ops), flat, np.asarray(tau), split_rhat(chain), n_steps - burn,
                     float(np.mean(sampler.acceptance_fraction)), edges, float(near_edge))
