"""Gauss-Legendre building blocks shared by the binned integrators (pure numpy, no physics).

All functions return flat node and weight arrays; weights include the interval Jacobians, so
``sum(f(nodes) * weights)`` approximates the integral over the union of the intervals.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["breaks", "composite", "composite_endpoint", "gauss_legendre", "segments_nodes"]


def gauss_legendre(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights of the n-point Gauss-Legendre rule on [-1, 1]."""
    x, w = np.polynomial.legendre.leggauss(n)
    return x, w


def composite(brk: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """GL nodes and weights on consecutive intervals given by sorted ``brk``."""
    x, w = gauss_legendre(n)
    a, b = brk[:-1, None], brk[1:, None]
    half = 0.5 * (b - a)
    return (a + half * (x + 1.0)).ravel(), (half * w).ravel()


def composite_endpoint(brk: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """GL on each interval after x = a + (b - a)(1 - cos(pi s))/2, which smooths sqrt endpoint behaviour.

    Used for p_T, where the allowed mass range opens or closes like sqrt(p_T - p_0) at p_T = m_lo/2 and
    m_hi/2; the Jacobian (b - a) pi sin(pi s)/2 vanishes at both ends and restores fast convergence.
    """
    x, w = gauss_legendre(n)
    sn = 0.5 * (x + 1.0)
    a, b = brk[:-1, None], brk[1:, None]
    nodes = a + (b - a) * 0.5 * (1.0 - np.cos(np.pi * sn))
    weights = (b - a) * 0.25 * np.pi * np.sin(np.pi * sn) * w
    return nodes.ravel(), weights.ravel()


def breaks(lo: float, hi: float, max_width: float, special: list[float]) -> np.ndarray:
    """Sorted break points from lo to hi, at most ``max_width`` apart, including the ``special`` points inside."""
    n = max(1, math.ceil((hi - lo) / max_width - 1e-9))
    pts = set(np.linspace(lo, hi, n + 1).tolist())
    pts.update(p for p in special if lo < p < hi)
    out = np.array(sorted(pts))
    keep = np.concatenate([[True], np.diff(out) > 1e-9 * max(1.0, hi)])
    return out[keep]


def segments_nodes(points: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """GL nodes and weights on the consecutive intervals of each row of sorted ``points`` [N, P].

    Returns arrays [N, (P - 1) * n]; zero-length intervals get zero weight (vectorised over rows whose
    break points differ).
    """
    x, w = gauss_legendre(n)
    a, b = points[:, :-1, None], points[:, 1:, None]
    half = 0.5 * (b - a)
    nodes = a + half * (x + 1.0)
    return nodes.reshape(points.shape[0], -1), (half * w).reshape(points.shape[0], -1)
