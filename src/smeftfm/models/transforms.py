"""Input transform of the encoder: binned spectra (pb/GeV) -> standardised, dimensionless features.

The 92 inputs span about six orders of magnitude (Z peak vs. 650 GeV tail), so raw values would let the
largest bins dominate every dot product. The default ``log_ratio_sm`` maps each bin to
``log(max(y / y_SM, floor))`` -- a dimensionless, multiplicatively symmetric deformation that is 0 for the
SM -- and then standardises every bin with the mean and standard deviation of the *train* split. Replicas of
the tail bins (O(10) events) fluctuate with Gaussian noise and may dip to zero or below; the ``floor`` clip
(default 1e-2, i.e. a 99 % deficit) keeps the log finite and its use is counted. ``log`` differs from
``log_ratio_sm`` only by a per-bin constant, which standardisation removes (kept for completeness: it does
not need the SM spectrum). ``ratio_sm`` is ``y / y_SM`` and ``none`` the raw spectrum, both standardised.

The fitted statistics (and the SM spectrum) are stored with the model so that inference applies exactly the
training transform (:meth:`InputTransform.to_dict` / :meth:`InputTransform.from_dict`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from ..errors import SmeftfmError

__all__ = ["InputTransform", "KINDS", "TransformKind"]

TransformKind = Literal["log_ratio_sm", "log", "ratio_sm", "none"]
KINDS: tuple[str, ...] = ("log_ratio_sm", "log", "ratio_sm", "none")


def _as_2d(y: np.ndarray, n_bins: int) -> np.ndarray:
    y = np.asarray(y, dtype=np.float64)
    if y.ndim == 1:
        y = y[None, :]
    if y.ndim != 2 or y.shape[1] != n_bins:
        raise SmeftfmError(f"spectra must have shape [n, {n_bins}] (pb/GeV), got {y.shape}; "
                           "pass the 92 m_ll and p_T bins in the corpus column order")
    return y


@dataclass(frozen=True)
class InputTransform:
    """A fitted transform: ``features = (g(y) - mean) / std`` with ``g`` set by ``kind``.

    ``sm`` is the SM spectrum in pb/GeV (``[n_bins]``), ``mean``/``std`` the train-split statistics of
    ``g(y)`` per bin, ``floor`` the lower clip of ``y / y_SM`` for the log kinds.
    """

    kind: str
    sm: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    floor: float = 1e-2

    @property
    def n_bins(self) -> int:
        return int(self.sm.shape[0])

    @staticmethod
    def raw(kind: str, y: np.ndarray, sm: np.ndarray, floor: float) -> np.ndarray:
        """``g(y)`` before standardisation (float64, shape of ``y``)."""
        if kind not in KINDS:
            raise SmeftfmError(f"unknown train.input_transform '{kind}'; choose one of {', '.join(KINDS)}")
        if kind == "none":
            return np.asarray(y, dtype=np.float64)
        if kind == "ratio_sm":
            return y / sm
        if kind == "log_ratio_sm":
            return np.log(np.maximum(y / sm, floor))
        return np.log(np.maximum(y, floor * sm))  # "log": log(y) with the same relative floor

    @classmethod
    def fit(cls, kind: str, y_train: np.ndarray, sm: np.ndarray, floor: float = 1e-2) -> InputTransform:
        """Fit the per-bin standardisation on the train split ``y_train [n, n_bins]`` (pb/GeV)."""
        sm = np.asarray(sm, dtype=np.float64)
        if sm.ndim != 1 or not np.all(np.isfinite(sm)) or np.any(sm <= 0):
            raise SmeftfmError("the SM spectrum must be a finite, positive 1-D array (pb/GeV); "
                               "check the 'SM' row of data/spectra.parquet")
        if not 0 < floor < 1:
            raise SmeftfmError(f"train.transform_floor must be in (0, 1), got {floor}")
        y = _as_2d(y_train, sm.shape[0])
        g = cls.raw(kind, y, sm, floor)
        mean = g.mean(axis=0)
        std = g.std(axis=0)
        std = np.where(std > 1e-12 * np.maximum(np.abs(mean), 1.0), std, 1.0)  # constant bins: centre only
        return cls(kind=kind, sm=sm, mean=mean, std=std, floor=float(floor))

    def __call__(self, y: np.ndarray) -> np.ndarray:
        """Transformed features ``[n, n_bins]`` (float32) of spectra ``y`` in pb/GeV."""
        y = _as_2d(y, self.n_bins)
        return ((self.raw(self.kind, y, self.sm, self.floor) - self.mean) / self.std).astype(np.float32)

    def inverse(self, x: np.ndarray) -> np.ndarray:
        """Spectra in pb/GeV from features (exact wherever the floor clip was not active)."""
        g = np.asarray(x, dtype=np.float64) * self.std + self.mean
        if self.kind == "none":
            return g
        if self.kind == "ratio_sm":
            return g * self.sm
        if self.kind == "log_ratio_sm":
            return np.exp(g) * self.sm
        return np.exp(g)

    def clipped_fraction(self, y: np.ndarray) -> float:
        """Fraction of bin values below ``floor * y_SM`` (clipped by the log kinds)."""
        if self.kind not in ("log_ratio_sm", "log"):
            return 0.0
        y = _as_2d(y, self.n_bins)
        return float(np.mean(y < self.floor * self.sm))

    def to_dict(self) -> dict:
        return {"kind": self.kind, "floor": self.floor, "sm": self.sm.tolist(), "mean": self.mean.tolist(),
                "std": self.std.tolist()}

    @classmethod
    def from_dict(cls, d: dict) -> InputTransform:
        try:
            return cls(kind=d["kind"], floor=float(d["floor"]), sm=np.asarray(d["sm"], dtype=np.float64),
                       mean=np.asarray(d["mean"], dtype=np.float64), std=np.asarray(d["std"], dtype=np.float64))
        except (KeyError, TypeError, ValueError) as err:
            raise SmeftfmError(f"stored input transform is malformed ({err}); re-run `smeftfm train`") from None
