r"""Closed-form ridge head: keys K [n, p], values V [n, q], ridge lambda.

    A = K^T K + lambda I,   W = A^{-1} K^T V,   prediction(query k) = k^T W,
    predictive variance (Bayesian linear regression with noise variance s^2 and prior w ~ N(0, s^2/lambda)):
        var[f(k)] = s^2 k^T A^{-1} k,   var[y(k)] = s^2 (1 + k^T A^{-1} k).

:meth:`RidgeHead.update` adds one (key, value) pair with the Sherman-Morrison rank-one formula
``A^{-1} <- A^{-1} - A^{-1} k k^T A^{-1} / (1 + k^T A^{-1} k)`` in O(p^2) instead of a new O(p^3) solve.
:func:`ridge_predict` is the batched, differentiable torch version used inside JEPA training.
"""

from __future__ import annotations

import numpy as np

from ..errors import SmeftfmError

__all__ = ["RidgeHead", "ridge_predict"]


class RidgeHead:
    """Closed-form ridge regression with predictive variance and rank-one updates (numpy, float64)."""

    def __init__(self, n_features: int, n_outputs: int, ridge: float):
        if ridge <= 0:
            raise SmeftfmError(f"ridge lambda must be > 0, got {ridge} (informer.ridge)")
        self.ridge = float(ridge)
        self.a_inv = np.eye(n_features) / self.ridge
        self.kv = np.zeros((n_features, n_outputs))
        self.n = 0

    @classmethod
    def fit(cls, keys: np.ndarray, values: np.ndarray, ridge: float) -> RidgeHead:
        """Direct solve on all pairs at once."""
        k, v = _as2d(keys), _as2d(values)
        if k.shape[0] != v.shape[0]:
            raise SmeftfmError(f"keys ({k.shape[0]}) and values ({v.shape[0]}) need the same number of rows")
        head = cls(k.shape[1], v.shape[1], ridge)
        head.a_inv = np.linalg.inv(k.T @ k + head.ridge * np.eye(k.shape[1]))
        head.kv = k.T @ v
        head.n = k.shape[0]
        return head

    @property
    def weights(self) -> np.ndarray:
        """W = A^{-1} K^T V, shape [p, q]."""
        return self.a_inv @ self.kv

    def predict(self, queries: np.ndarray) -> np.ndarray:
        return _as2d(queries) @ self.weights

    def variance(self, queries: np.ndarray) -> np.ndarray:
        """``k^T A^{-1} k`` per query (the predictive variance of f in units of the noise variance)."""
        q = _as2d(queries)
        return np.einsum("ip,pq,iq->i", q, self.a_inv, q)

    def covariance(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """``a_i^T A^{-1} b_j`` (posterior covariance of f between query sets, noise-variance units), [n_a, n_b]."""
        return _as2d(a) @ self.a_inv @ _as2d(b).T

    def update(self, key: np.ndarray, value: np.ndarray) -> None:
        """Add one (key, value) pair by the Sherman-Morrison rank-one update."""
        k = np.asarray(key, dtype=np.float64).reshape(-1)
        v = np.asarray(value, dtype=np.float64).reshape(-1)
        if k.size != self.a_inv.shape[0] or v.size != self.kv.shape[1]:
            raise SmeftfmError(f"update needs a key of size {self.a_inv.shape[0]} and value of size {self.kv.shape[1]}")
        ak = self.a_inv @ k
        self.a_inv = self.a_inv - np.outer(ak, ak) / (1.0 + k @ ak)
        self.kv = self.kv + np.outer(k, v)
        self.n += 1

    def epig(self, candidates: np.ndarray, targets: np.ndarray) -> np.ndarray:
        """Expected predictive information gain of each candidate about the target queries.

        For the linear-Gaussian head the joint predictive of (y(x), y(x*)) is Gaussian, so
        ``EPIG(x) = mean_{x*} -1/2 log(1 - rho^2(x, x*))`` with
        ``rho^2 = (x^T A^{-1} x*)^2 / ((1 + x^T A^{-1} x)(1 + x*^T A^{-1} x*))``; the noise variance cancels.
        """
        c = self.covariance(candidates, targets)
        vc = 1.0 + self.variance(candidates)
        vt = 1.0 + self.variance(targets)
        rho2 = np.clip(c * c / (vc[:, None] * vt[None, :]), 0.0, 1.0 - 1e-12)
        return -0.5 * np.log1p(-rho2).mean(axis=1)


def _as2d(x: np.ndarray) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64)
    return a[None, :] if a.ndim == 1 else a


def ridge_predict(keys, values, queries, ridge: float):
    """Batched differentiable ridge prediction (torch): ``Q (K^T K + lambda I)^{-1} K^T V``.

    Shapes: keys ``[b, n, p]``, values ``[b, n, q]``, queries ``[b, m, p]`` -> ``[b, m, q]``.
    """
    import torch

    p = keys.shape[-1]
    eye = torch.eye(p, dtype=keys.dtype, device=keys.device)
    a = keys.transpose(-1, -2) @ keys + ridge * eye
    w = torch.linalg.solve(a, keys.transpose(-1, -2) @ values)
    return queries @ w
