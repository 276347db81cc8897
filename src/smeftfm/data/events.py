r"""Unweighted LO events (m_ll, y_ll, cos theta_CS) drawn from the exact differential rate in the acceptance.

Method (vectorised accept-reject against a piecewise-constant envelope):

* The acceptance is mapped onto the unit cube-like box (m, v, w) in [m_lo, m_hi] x [-1, 1] x [-1, 1] by
  ``cos_cs = c_max(m) v`` and ``y_ll = y_max(m, cos) w`` (the same boundaries the quadrature uses), so every
  proposal lies inside the cuts. The density in the box is f(m, v, w) = d^3sigma/(dm dy dcos) * c_max * y_max
  (pb/GeV).
* The box is cut into cells; the mass edges are the union of a geometric grid (the power-law fall-off) and
  a Breit-Wigner-mapped grid ``m = m_Z + Gamma_Z tan(u)`` (uniform in u), which puts fine cells at the Z pole.
  On each cell the envelope is ``safety x`` the largest value of f on a 3x3x3 lattice of the cell
  (corners, face and body centres). The lattice's morphing terms are computed once per oracle and reused for
  every working point, so building the envelope of a new point is a single matrix product.
* Proposals are drawn cell-wise (probability ~ envelope x volume), uniformly inside the cell, in large batches;
  each is accepted with probability f / envelope. Every proposal's ratio is checked: if any f exceeds its
  cell's envelope, the envelope of that cell is raised to ``safety x`` the observed value and *all* events of
  the point are discarded and redrawn, so the returned sample is exactly distributed as the rate.
* A negative rate (possible in the linear truncation with large coefficients) cannot be sampled: it raises
  :class:`NegativeRateError` naming the point and the fix.
"""

from __future__ import annotations

import math
import os
import weakref
from dataclasses import dataclass, field

import numpy as np

from ..errors import DataError, SmeftfmError
from ..physics.morphing import Order, monomials

__all__ = ["EventSampler", "NegativeRateError", "sample_events", "mass_cell_edges", "read_events"]


class NegativeRateError(SmeftfmError):
    """The differential rate at a working point is negative somewhere in the acceptance."""


def mass_cell_edges(m_lo: float, m_hi: float, m_z: float, gamma_z: float, n_geo: int = 64,
                    n_bw: int = 48) -> np.ndarray:
    """Mass cell edges (GeV): geometric grid union Breit-Wigner grid ``m_Z + Gamma_Z tan(u)``, u uniform."""
    geo = np.geomspace(m_lo, m_hi, n_geo + 1)
    a, b = math.atan((m_lo - m_z) / gamma_z), math.atan((m_hi - m_z) / gamma_z)
    bw = m_z + gamma_z * np.tan(np.linspace(a, b, n_bw + 1))
    e = np.union1d(geo, np.clip(bw, m_lo, m_hi))
    keep = np.concatenate([[True], np.diff(e) > 0.02 * gamma_z])
    e = e[keep]
    e[0], e[-1] = m_lo, m_hi
    return e


def _cell_max(f: np.ndarray) -> np.ndarray:
    """Max over the 3x3x3 sub-lattice of each cell: f has shape [2Nm+1, 2Nv+1, 2Nw+1] -> [Nm, Nv, Nw]."""
    for ax in range(3):
        n = f.shape[ax]
        lo = np.take(f, np.arange(0, n - 1, 2), axis=ax)
        mid = np.take(f, np.arange(1, n, 2), axis=ax)
        hi = np.take(f, np.arange(2, n, 2), axis=ax)
        f = np.maximum(np.maximum(lo, mid), hi)
    return f


@dataclass
class SamplerStats:
    """Diagnostics of the last :meth:`EventSampler.sample` call."""

    n_proposed: int = 0
    n_accepted: int = 0
    n_restarts: int = 0
    sigma_pb: float = float("nan")
    sigma_err_pb: float = float("nan")
    extra: dict = field(default_factory=dict)

    @property
    def efficiency(self) -> float:
        return self.n_accepted / self.n_proposed if self.n_proposed else float("nan")


class EventSampler:
    """Exact unweighted-event sampler for one oracle and truncation order (reusable across working points).

    ``n_v``, ``n_w``: cells in the mapped cos and y directions; ``safety``: envelope factor over the lattice
    maximum; ``batch``: proposals per vectorised batch.
    """

    def __init__(self, oracle, order: Order = "linear", n_v: int = 8, n_w: int = 8, safety: float = 1.15,
                 batch: int = 200_000, max_restarts: int = 20):
        if order not in ("linear", "quadratic"):
            raise SmeftfmError(f"order must be 'linear' or 'quadratic', got '{order}'")
        self.oracle = oracle
        self.order = order
        self.safety = float(safety)
        self.batch = int(batch)
        self.max_restarts = int(max_restarts)
        acc, ew = oracle.acceptance, oracle.ew
        self.m_edges = mass_cell_edges(acc.m_lo, acc.m_hi, ew.m_z, ew.gamma_z)
        self.v_edges = np.linspace(-1.0, 1.0, n_v + 1)
        self.w_edges = np.linspace(-1.0, 1.0, n_w + 1)
        self.shape = (self.m_edges.size - 1, n_v, n_w)
        vol = (np.diff(self.m_edges)[:, None, None] * np.diff(self.v_edges)[None, :, None]
               * np.diff(self.w_edges)[None, None, :])
        self.volume = vol.ravel()
        # 3x3x3 lattice per cell: edges and midpoints in each direction
        lat = [np.sort(np.concatenate([e, 0.5 * (e[1:] + e[:-1])])) for e in (self.m_edges, self.v_edges,
                                                                            self.w_edges)]
        mm, vv, ww = np.meshgrid(*lat, indexing="ij")
        self._lattice_shape = mm.shape
        self._lattice_m = mm
        jac_terms = self._weighted_terms(mm.ravel(), vv.ravel(), ww.ravel())
        self._lattice_terms = jac_terms  # [n_lattice, n_terms], pb/GeV including the box Jacobian

    # ------------------------------------------------------------------ mapping
    def to_physical(self, m: np.ndarray, v: np.ndarray, w: np.ndarray):
        """(m, v, w) -> (m, y, cos_cs, Jacobian c_max * y_max)."""
        acc = self.oracle.acceptance
        cmax = acc.cos_max(m)
        c = cmax * v
        ymax = acc.y_max(m, c, self.oracle.ew.sqrt_s)
        return m, ymax * w, c, cmax * ymax

    def _weighted_terms(self, m, v, w) -> np.ndarray:
        m, y, c, jac = self.to_physical(m, v, w)
        t = self.oracle.event_terms(m, y, c, order=self.order)
        return t * jac[:, None]

    # ------------------------------------------------------------------ envelope
    def _monomials(self, coeffs) -> np.ndarray:
        c = np.asarray(coeffs, dtype=np.float64).reshape(-1)
        if c.size != len(self.oracle.operators):
            raise SmeftfmError(
                f"expected {len(self.oracle.operators)} coefficients ({', '.join(self.oracle.operators)}), "
                f"got {c.size}"
            )
        if not np.all(np.isfinite(c)):
            raise SmeftfmError(f"coefficients must be finite, got {c}")
        return monomials(c, self.order)

    def tilt(self, m: np.ndarray, mass_tilt: float) -> np.ndarray:
        """Bias factor ``(m / m_lo)^mass_tilt`` (dimensionless, 1 at the lower mass edge)."""
        return mass_bias(m, mass_tilt, self.oracle.acceptance.m_lo)

    def envelope(self, coeffs, mass_tilt: float = 0.0) -> np.ndarray:
        """Flat array of per-cell envelope values (pb/GeV in the mapped box, times the tilt) at ``coeffs``."""
        return self._envelope_and_centres(coeffs, mass_tilt)[0]

    def _envelope_and_centres(self, coeffs, mass_tilt: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
        f = (self._lattice_terms @ self._monomials(coeffs)).reshape(self._lattice_shape)
        f = f * self.tilt(self._lattice_m, mass_tilt)
        if np.any(f < 0):
            self._raise_negative(coeffs, int(np.sum(f < 0)), f.size, "lattice")
        centres = f[1::2, 1::2, 1::2].ravel()
        return self.safety * _cell_max(f).ravel(), centres

    def _raise_negative(self, coeffs, n_neg: int, n_tot: int, where: str):
        values = np.asarray(coeffs, dtype=np.float64).reshape(-1)
        shown = ", ".join(f"{op}={v:.4g}" for op, v in zip(self.oracle.operators, values, strict=True) if v != 0)
        raise NegativeRateError(
            f"the {self.order} differential rate is negative at {n_neg} of {n_tot} {where} points for "
            f"coefficients {{{shown or 'all zero'}}}: the O(1/Lambda^2) truncation is not a probability density "
            "there; sample it at order='quadratic' or use smaller coefficients"
        )

    # ------------------------------------------------------------------ sampling
    def sample(self, coeffs, n: int, rng: np.random.Generator, stats: SamplerStats | None = None,
               mass_tilt: float = 0.0):
        """``n`` unweighted events (m_ll GeV, y_ll, cos_theta_CS) at ``coeffs``; exact in the acceptance.

        ``mass_tilt`` = k > 0 draws from the biased density ``rate(x) (m/m_lo)^k`` instead (more events in the
        high-mass tail); each event then carries the weight ``(m/m_lo)^-k`` (:func:`tilt_weights`) that turns
        averages over the sample back into averages over the unbiased rate. ``stats.sigma_pb`` is then the
        integral of the biased density (pb), not a cross section.
        """
        if n < 0:
            raise SmeftfmError(f"number of events must be >= 0, got {n}")
        if not (np.isfinite(mass_tilt) and mass_tilt >= 0.0):
            raise SmeftfmError(f"mass_tilt must be a finite number >= 0, got {mass_tilt}")
        mono = self._monomials(coeffs)
        env, centres = self._envelope_and_centres(coeffs, mass_tilt)
        # expected acceptance from the cell centres: sizes the first batch
        eff0 = float(np.clip(np.sum(centres * self.volume) / np.sum(env * self.volume), 0.05, 1.0))
        stats = stats if stats is not None else SamplerStats()
        stats.n_proposed = stats.n_accepted = stats.n_restarts = 0
        if n == 0:
            return np.empty(0), np.empty(0), np.empty(0)
        restarts = 0
        while True:
            out, ratios_sum, n_prop, violated = self._attempt(mono, env, n, rng, coeffs, eff0, mass_tilt)
            if violated is None:
                break
            cells, needed = violated
            # a violation shows the lattice under-estimates the rate: scale every cell by the worst observed
            # ratio (rarely visited cells would otherwise be found one pass at a time), and give the violated
            # cells a further margin because an observed value is only a lower bound of the cell's maximum
            env *= float(np.max(needed / env[cells]))
            np.maximum.at(env, cells, max(self.safety, 1.2) * needed)
            restarts += 1
            if restarts > self.max_restarts:
                raise SmeftfmError(
                    f"event sampler envelope still violated after {self.max_restarts} refinements; "
                    "increase the sampler's safety factor or its number of cells"
                )
        total = float(np.sum(env * self.volume))
        mean_r = ratios_sum[0] / n_prop
        var_r = max(ratios_sum[1] / n_prop - mean_r**2, 0.0)
        stats.n_proposed, stats.n_accepted, stats.n_restarts = n_prop, ratios_sum[2], restarts
        stats.sigma_pb = total * mean_r
        stats.sigma_err_pb = total * math.sqrt(var_r / n_prop)
        self.last_envelope = env
        return out

    def _attempt(self, mono, env, n, rng, coeffs, eff0, mass_tilt: float = 0.0):
        """One pass; returns (events, (sum r, sum r^2, n_acc), n_proposed, None) or (.., (cells, needed env))."""
        probs = env * self.volume
        cdf = np.cumsum(probs)
        cdf /= cdf[-1]
        nm, nv, nw = self.shape
        chunks: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        have, n_prop, s1, s2 = 0, 0, 0.0, 0.0
        viol_cells: list[np.ndarray] = []
        viol_f: list[np.ndarray] = []
        eff = eff0
        while have < n:
            k = int(min(self.batch, max(4096, 1.1 * (n - have) / max(eff, 0.02))))
            cell = np.minimum(np.searchsorted(cdf, rng.random(k), side="right"), cdf.size - 1)
            im, rest = np.divmod(cell, nv * nw)
            iv, iw = np.divmod(rest, nw)
            u = rng.random((3, k))
            m = self.m_edges[im] + u[0] * (self.m_edges[im + 1] - self.m_edges[im])
            v = self.v_edges[iv] + u[1] * (self.v_edges[iv + 1] - self.v_edges[iv])
            w = self.w_edges[iw] + u[2] * (self.w_edges[iw + 1] - self.w_edges[iw])
            m, y, c, jac = self.to_physical(m, v, w)
            f = (self.oracle.event_terms(m, y, c, order=self.order) @ mono) * jac * self.tilt(m, mass_tilt)
            f = np.where(self.oracle.acceptance.contains(m, y, c), f, 0.0)
            if np.any(f < 0):
                self._raise_negative(coeffs, int(np.sum(f < 0)), k, "proposed")
            r = f / env[cell]
            bad = r > 1.0
            if np.any(bad):  # finish the pass so that one refinement repairs every violated cell seen
                viol_cells.append(cell[bad])
                viol_f.append(f[bad])
            accept = rng.random(k) < r
            n_prop += k
            s1 += float(r.sum())
            s2 += float((r * r).sum())
            na = int(accept.sum())
            eff = max(na / k, 1e-3)
            chunks.append((m[accept], y[accept], c[accept]))
            have += na
        if viol_cells:
            return None, None, None, (np.concatenate(viol_cells), np.concatenate(viol_f))
        m, y, c = (np.concatenate([ch[i] for ch in chunks])[:n] for i in range(3))
        return (m, y, c), (s1, s2, have), n_prop, None


_SAMPLERS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def get_sampler(oracle, order: Order = "linear") -> EventSampler:
    """The cached :class:`EventSampler` of ``oracle`` at ``order`` (the envelope lattice is built once)."""
    per = _SAMPLERS.setdefault(oracle, {})
    if order not in per:
        per[order] = EventSampler(oracle, order)
    return per[order]


def sample_events(oracle, coeffs, n: int, rng: np.random.Generator, order: Order = "linear",
                  mass_tilt: float = 0.0):
    """Draw ``n`` unweighted events in the acceptance from the exact rate at Wilson coefficients ``coeffs``.

    ``coeffs`` is ordered as ``oracle.operators``. Returns ``(m_ll [GeV], y_ll, cos_theta_CS)`` float64 arrays.
    Raises :class:`NegativeRateError` when the (linear) rate is negative somewhere in the acceptance.
    ``mass_tilt`` > 0 biases the draw by ``(m/m_lo)^mass_tilt``; weight the events with :func:`tilt_weights`.
    """
    return get_sampler(oracle, order).sample(coeffs, n, rng, mass_tilt=mass_tilt)


def mass_bias(m: np.ndarray, mass_tilt: float, m_lo: float) -> np.ndarray:
    """The sampling bias ``(m/m_lo)^mass_tilt`` of :meth:`EventSampler.sample` (m, m_lo in GeV)."""
    return (np.asarray(m, dtype=np.float64) / m_lo) ** float(mass_tilt)


def tilt_weights(m: np.ndarray, mass_tilt: float, m_lo: float) -> np.ndarray:
    """Importance weights ``(m/m_lo)^-k`` of events drawn with ``mass_tilt`` = k, normalised to mean 1."""
    w = 1.0 / mass_bias(m, mass_tilt, m_lo)
    return w / w.mean()


def read_events(path: str | os.PathLike[str], point: str | None = None) -> dict:
    """Events per working point: ``{point: {"coeffs": {...}, "m_ll", "y_ll", "cos_cs"}}`` (one row group each)."""
    import pyarrow.parquet as pq

    from .parquet_io import read_meta

    meta = read_meta(path)
    f = pq.ParquetFile(path)
    out = {}
    for g in meta.get("row_groups", []):
        if point is not None and g["point"] != point:
            continue
        tab = f.read_row_group(g["row_group"], columns=["m_ll", "y_ll", "cos_cs"])
        out[g["point"]] = {"coeffs": g["coeffs"], **{k: tab[k].to_numpy() for k in ("m_ll", "y_ll", "cos_cs")}}
    if point is not None and not out:
        raise DataError(f"no working point '{point}' in {path} (skipped: {sorted(meta.get('skipped', {}))})")
    return out
