r"""SMEFT universes: random Wilson-coefficient configurations (seed paper, eqs. 3.2-3.3).

For each sampled operator i and universe u:

* magnitude ln|C_ui| ~ U(ln a, ln b) with a = 1e-4, b = 2 (eq. 3.2);
* sign +-1 with probability 1/2 each (the paper's binomial draw);
* sparsity: a zeroing probability p ~ U(0, p_max) with p_max = 0.4 (eq. 3.3), and C_ui = 0 with probability p.

The paper says "for each Wilson coefficient we draw p", so by default p_i is drawn **once per operator** and
shared by all universes (``zero_scope='operator'``): some operators are then often switched off, others rarely,
which is the structured sparsity the paper motivates by UV matching. Drawing p afresh for every (universe,
operator) entry (``zero_scope='entry'``) collapses to independent Bernoulli(p_max/2) zeros. Both give
E[fraction of zeros] = p_max/2 = 0.2. The choice is documented in ``docs/data.md``.

Draws use one generator per universe, ``np.random.default_rng([seed, label])`` (the per-operator p_i from
``default_rng([seed, 2**31 - 1])``), so universe k is the same whatever the total number of universes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import pandas as pd

from ..errors import SmeftfmError
from ..physics.morphing import Order
from ..physics.operators import CATALOG, VECTOR_OPERATORS, resolve

__all__ = ["SM_NAME", "ZeroScope", "align_coefficients", "catalog_order", "operator_columns", "sample_coefficients",
           "universe_name", "universes_frame", "zero_probabilities"]

SM_NAME = "SM"
_P_STREAM = 2**31 - 1

ZeroScope = Literal["operator", "entry"]


def universe_name(label: int) -> str:
    """``U000``, ``U001``, ... (at least three digits)."""
    return f"U{label:03d}"


def catalog_order(operators: Sequence[str]) -> tuple[str, ...]:
    """``operators`` canonicalised and sorted in catalog order."""
    ops = set(resolve(list(operators)))
    return tuple(op.name for op in CATALOG if op.name in ops)


def zero_probabilities(n_ops: int, seed: int, p_max: float) -> np.ndarray:
    """Per-operator zeroing probabilities p_i ~ U(0, p_max) (``zero_scope='operator'``)."""
    return np.random.default_rng([seed, _P_STREAM]).uniform(0.0, p_max, n_ops)


def sample_coefficients(n: int, n_ops: int, seed: int, lo: float = 1e-4, hi: float = 2.0, p_max: float = 0.4,
                        zero_scope: ZeroScope = "operator") -> np.ndarray:
    """Coefficient matrix [n, n_ops] for universes 0..n-1 (dimensionless, Lambda = 1 TeV)."""
    if n < 0 or n_ops < 0:
        raise SmeftfmError(f"need n >= 0 universes and operators, got n={n}, n_ops={n_ops}")
    if not 0 < lo < hi:
        raise SmeftfmError(f"magnitude range must satisfy 0 < lo < hi, got lo={lo}, hi={hi}")
    if not 0 <= p_max <= 1:
        raise SmeftfmError(f"p_max must be a probability in [0, 1], got {p_max}")
    if zero_scope not in ("operator", "entry"):
        raise SmeftfmError(f"zero_scope must be 'operator' or 'entry', got '{zero_scope}'")
    p_op = zero_probabilities(n_ops, seed, p_max)
    out = np.empty((n, n_ops))
    lnlo, lnhi = np.log(lo), np.log(hi)
    for label in range(n):  # one small draw per universe (n ~ 100): independent streams, not a hot path
        rng = np.random.default_rng([seed, label])
        mag = np.exp(rng.uniform(lnlo, lnhi, n_ops))
        sign = np.where(rng.random(n_ops) < 0.5, -1.0, 1.0)
        p = p_op if zero_scope == "operator" else rng.uniform(0.0, p_max, n_ops)
        zero = rng.random(n_ops) < p
        out[label] = np.where(zero, 0.0, sign * mag)
    return out


def universes_frame(operators: Sequence[str], coeffs: np.ndarray) -> pd.DataFrame:
    """The ``data/universes.parquet`` table: ``universe``, ``label`` (int32), one float64 column per operator.

    The first row is the SM (label -1, all coefficients 0), then ``U000``... with labels 0..n-1.
    """
    ops = list(operators)
    coeffs = np.asarray(coeffs, dtype=np.float64)
    n = coeffs.shape[0]
    df = pd.DataFrame(
        {
            "universe": [SM_NAME] + [universe_name(i) for i in range(n)],
            "label": np.arange(-1, n, dtype=np.int32),
        }
    )
    values = np.vstack([np.zeros((1, len(ops))), coeffs])
    return pd.concat([df, pd.DataFrame(values, columns=ops)], axis=1)


def operator_columns(df: pd.DataFrame) -> list[str]:
    """Operator columns of a universes table (everything but ``universe`` and ``label``)."""
    return [c for c in df.columns if c not in ("universe", "label")]


def align_coefficients(universe_ops: Sequence[str], coeffs: np.ndarray, model_ops: Sequence[str],
                       order: Order) -> np.ndarray:
    """Map coefficients over ``universe_ops`` onto the operators a model (templates/oracle) implements.

    Operators missing from the model are allowed only when they cannot act at this order: chirality-flipping
    or Higgs-only operators (not among the 17 vector ones) have no O(1/Lambda^2) effect on Drell-Yan; at
    quadratic order, or for a vector operator, a non-zero coefficient the model lacks is an error.
    """
    coeffs = np.asarray(coeffs, dtype=np.float64)
    u_ops, m_ops = list(universe_ops), list(model_ops)
    out = np.zeros(coeffs.shape[:-1] + (len(m_ops),))
    missing = []
    for j, op in enumerate(u_ops):
        col = coeffs[..., j]
        if op in m_ops:
            out[..., m_ops.index(op)] = col
        elif np.any(col != 0) and (op in VECTOR_OPERATORS or order == "quadratic"):
            missing.append(op)
    if missing:
        raise SmeftfmError(
            f"the universes switch on {missing}, which act on Drell-Yan at {order} order, but the templates/"
            f"oracle only cover {m_ops}; set physics.operators to include them (e.g. 'screened' or 'all') or "
            "universes.operators to 'screened'"
        )
    return out
