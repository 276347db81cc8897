r"""The arm-independent completion audit and the probe-fitted projector it uses.

**Projector.** span(psi) on the probe events (``F_p [N, d]``, orthonormal basis ``Q``) and, separately, on the
independent validation events (``Q_v``). A log-likelihood-ratio column ``l_C`` has the probe residual
``r_C = (I - Q Q^T) l_C`` (as in the residual operator R) and the validation residual ``(I - Q_v Q_v^T) l^v_C``:
the distance of the same function from the same function space, measured on fresh events. The claim under test
is span membership, so the coefficients are refitted on the fresh events (with d psi features and N events this
can lower a residual norm by at most the ~d/N fraction a least-squares fit absorbs); carrying the probe-fitted
coefficients over instead tests extrapolation of the fit into sparsely populated tails (measured: with the mass
polynomials, one probe draw gives an out-of-sample validation sigma_1 of 3.3 against 0.35 in-sample, from a
handful of high-mass validation events; ``residual_valid_out_of_sample`` keeps that reading available).

**Audit** (``docs/aletheia.md`` §3). Under the current psi, each candidate working point of every unlocked tier
contributes one column; its sigma_1 is the column norm (units sqrt(sum_events l^2)). The audit passes when the
largest per-column sigma_1 is <= the floor on the probe events **and** on the validation events. It depends only
on (psi, the candidate pool): not on which points an arm acquired, so an arm cannot pass it by acquiring
uninformative points.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import SmeftfmError
from .residual import RANK_RTOL, orthonormal_basis

__all__ = ["Audit", "Projector", "audit_pool"]


@dataclass(frozen=True)
class Projector:
    """span(psi) fitted on the probe events, applied in-sample (probe) and out-of-sample (validation)."""

    q: np.ndarray  # [N, r] orthonormal basis of span(F_p)
    q_valid: np.ndarray  # [N_v, r_v] orthonormal basis of span(F_v)
    valid_map: np.ndarray  # [N_v, r]: F_v @ (coefficients per unit of Q^T l), the probe-fitted function

    @classmethod
    def fit(cls, f_probe: np.ndarray, f_valid: np.ndarray, rtol: float = RANK_RTOL) -> Projector:
        """From psi on the probe events ``[N, d]`` and on the validation events ``[N_v, d]``."""
        fp, fv = (np.asarray(a, dtype=np.float64) for a in (f_probe, f_valid))
        if fp.ndim != 2 or fv.ndim != 2 or fp.shape[1] != fv.shape[1]:
            raise SmeftfmError(f"psi on probe {fp.shape} and validation {fv.shape} events must share their columns")
        if fp.shape[0] < fp.shape[1]:
            raise SmeftfmError(f"psi has shape {fp.shape}: need more probe events than features (loop.n_probe)")
        if not (np.all(np.isfinite(fp)) and np.all(np.isfinite(fv))):
            raise SmeftfmError("psi has non-finite values on the probe or validation events; check the kinematics")
        scale = np.linalg.norm(fp, axis=0)
        scale[scale == 0] = 1.0
        u, s, vt = np.linalg.svd(fp / scale, full_matrices=False)
        keep = s > rtol * s[0]
        coef = vt[keep].T / s[keep]  # [d, r]: normalised-psi coefficients per unit of Q^T l
        return cls(u[:, keep], orthonormal_basis(fv, rtol), (fv / scale) @ coef)

    @property
    def rank(self) -> int:
        return int(self.q.shape[1])

    def residual(self, l_probe: np.ndarray) -> np.ndarray:
        """``(I - Q Q^T) L`` on the probe events."""
        return l_probe - self.q @ (self.q.T @ l_probe)

    def residual_valid(self, l_probe: np.ndarray, l_valid: np.ndarray) -> np.ndarray:
        """Validation residual of the same columns: ``(I - Q_v Q_v^T) L_v`` (distance from span(psi) on fresh
        events; ``l_probe`` only checks that the same working points were evaluated)."""
        if l_probe.shape[1:] != l_valid.shape[1:]:
            raise SmeftfmError("probe and validation columns differ in number; evaluate the same working points")
        return l_valid - self.q_valid @ (self.q_valid.T @ l_valid)

    def residual_valid_out_of_sample(self, l_probe: np.ndarray, l_valid: np.ndarray) -> np.ndarray:
        """``L_v - F_v beta`` with the psi coefficients beta fitted on the probe events (extrapolation reading)."""
        if l_probe.shape[1:] != l_valid.shape[1:]:
            raise SmeftfmError("probe and validation columns differ in number; evaluate the same working points")
        return l_valid - self.valid_map @ (self.q.T @ l_probe)


@dataclass(frozen=True)
class Audit:
    """Per-column sigma_1 (column norms) of the audited candidates on probe and validation events."""

    sigma_probe: np.ndarray  # [M]
    sigma_valid: np.ndarray  # [M]
    floor: float

    @property
    def max_probe(self) -> float:
        return float(self.sigma_probe.max()) if self.sigma_probe.size else 0.0

    @property
    def max_valid(self) -> float:
        return float(self.sigma_valid.max()) if self.sigma_valid.size else 0.0

    @property
    def passed(self) -> bool:
        """Every candidate leaves sigma_1 <= floor, decided on the probe set and confirmed on the validation set."""
        return self.max_probe <= self.floor and self.max_valid <= self.floor

    @property
    def n_above(self) -> int:
        """Number of candidates with validation sigma_1 above the floor."""
        return int(np.sum(self.sigma_valid > self.floor))


def audit_pool(proj: Projector, l_probe: np.ndarray, l_valid: np.ndarray, floor: float) -> Audit:
    """Audit the candidate columns ``l_probe [N, M]`` / ``l_valid [N_v, M]`` (the same M working points)."""
    if l_probe.ndim != 2 or l_probe.shape[1] == 0:
        raise SmeftfmError("the completion audit needs at least one candidate working point")
    r = proj.residual(l_probe)
    rv = proj.residual_valid(l_probe, l_valid)
    return Audit(np.linalg.norm(r, axis=0), np.linalg.norm(rv, axis=0), float(floor))
