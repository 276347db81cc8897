"""The morphing basis: names of polynomial terms and the monomials that multiply them.

A rate (or a bin) at Wilson coefficients C is exactly

    sigma(C) = SM + sum_k C_k lin:k + sum_{a<=b} C_a C_b quad:a*b

where ``lin:k`` is the O(Lambda^-2) interference and ``quad:a*b`` the O(Lambda^-4) dimension-6-squared term
(for a != b it already contains the factor 2 of the cross term). The linear truncation keeps SM + lin.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from .backend import NUMPY, Backend

__all__ = ["Order", "bilinear_terms", "monomials", "n_terms", "quad_pairs", "term_names"]

Order = Literal["linear", "quadratic"]


def term_names(operators: tuple[str, ...] | list[str], order: Order) -> list[str]:
    """Ordered term names: ``SM``, ``lin:<op>`` ..., then (quadratic) ``quad:<a>*<b>`` with a <= b by position."""
    if order not in ("linear", "quadratic"):
        raise ValueError(f"order must be 'linear' or 'quadratic', got {order!r}")
    names = ["SM"] + [f"lin:{o}" for o in operators]
    if order == "quadratic":
        names += [f"quad:{a}*{b}" for i, a in enumerate(operators) for b in operators[i:]]
    return names


def quad_pairs(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs (a, b), a <= b, in the order of :func:`term_names`."""
    return np.triu_indices(n)


def monomials(coeffs: np.ndarray, order: Order) -> np.ndarray:
    """Monomials [1, C_k, C_a C_b] matching :func:`term_names`; ``coeffs`` has shape [..., K]."""
    c = np.asarray(coeffs, dtype=np.float64)
    one = np.ones(c.shape[:-1] + (1,))
    parts = [one, c]
    if order == "quadratic":
        a, b = quad_pairs(c.shape[-1])
        parts.append(c[..., a] * c[..., b])
    return np.concatenate(parts, axis=-1)


def n_terms(n_ops: int, order: Order) -> int:
    return 1 + n_ops + (n_ops * (n_ops + 1) // 2 if order == "quadratic" else 0)


def bilinear_terms(re0, im0, re1, im1, weights, order: Order, be: Backend = NUMPY):
    """Morphing-term coefficients of sum_A w_A |F0_A + sum_k C_k F1_Ak|^2.

    ``re0, im0``: [..., A] real and imaginary parts of F0; ``re1, im1``: [..., A, K] of F1; ``weights``:
    [..., A] (A runs over quark type and chirality pair). Returns [..., n_terms]: SM = sum w |F0|^2,
    lin_k = 2 sum w Re(F0* F1_k), quad_ab = (2 - delta_ab) sum w Re(F1_a* F1_b). numpy or torch
    (``be=get_backend('torch')``).
    """
    w = weights
    sm = (w * (re0 * re0 + im0 * im0)).sum(-1)
    lin = 2.0 * (be.einsum("...a,...ak->...k", w * re0, re1) + be.einsum("...a,...ak->...k", w * im0, im1))
    parts = [sm[..., None], lin]
    if order == "quadratic":
        k = re1.shape[-1]
        gram = be.einsum("...ak,...al->...kl", w[..., None] * re1, re1) + be.einsum(
            "...ak,...al->...kl", w[..., None] * im1, im1
        )
        ia, ib = quad_pairs(k)
        factor = be.astensor(2.0 - (ia == ib), like=gram)
        parts.append(gram[..., be.astensor(ia, like=gram), be.astensor(ib, like=gram)] * factor)
    return be.concatenate(parts, axis=-1)
