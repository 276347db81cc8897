r"""The analytic leading-order oracle for p p -> gamma*/Z -> mu+ mu- with dimension-6 SMEFT.

Three evaluation modes share one amplitude code (:mod:`.amplitudes`) and one polynomial bookkeeping
(:mod:`.morphing`):

(a) :meth:`Oracle.event_terms` / :meth:`Oracle.differential_rate`: the fully differential rate
    d^3 sigma / (dm_ll dy_ll dcos theta_CS) in pb/GeV at arbitrary events, numpy or torch (CPU or CUDA);
(b) :meth:`Oracle.binned_templates`: dsigma/dm_ll and dsigma/dp_T(mu-) in pb/GeV per morphing term, by
    deterministic Gauss-Legendre quadrature with the acceptance boundaries placed exactly;
(c) :meth:`Oracle.integrated_cross_section`: sigma in pb in a mass window, with or without the muon cuts.

Hadronic formula (five massless flavours, q qbar only, mu_F = m_ll):

    d^3 sigma/(dm dy dcos) = (2m/S) sum_q [f_q(x1) f_qbar(x2) dsig_q(cos) + f_qbar(x1) f_q(x2) dsig_q(-cos)],
    dsig_q/dcos = s/(384 pi) sum_ij |F_ij(s)|^2 (1 + h_ij cos)^2,   s = m^2,

which includes the 1/4 spin and 1/3 colour averages; cos is the mu- angle to the +z beam.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..errors import SmeftfmError
from .amplitudes import AmplitudeBasis
from .backend import NUMPY, Backend, get_backend
from .constants import DEFAULT_EW, GEV2_TO_PB, EWInputs
from .kinematics import Acceptance, cos_lab
from .morphing import Order, monomials, term_names
from .observables import Binning, binnings_from_observable_params
from .observables import get as get_observable
from .operators import VECTOR_OPERATORS, resolve
from .pdfs import PDF, QUARKS, load_pdf
from .quadrature import breaks as _breaks
from .quadrature import composite as _composite
from .quadrature import composite_endpoint as _composite_endpoint
from .quadrature import gauss_legendre as _gl

__all__ = ["DEFAULT_BINNINGS", "DOWN_TYPE", "Oracle", "QuadratureSpec", "Templates", "UP_TYPE",
           "binnings_from_params", "oracle_from_params", "quadrature_from_params"]

UP_TYPE = ("u", "c")
DOWN_TYPE = ("d", "s", "b")


DEFAULT_BINNINGS = (Binning.uniform("mll", 50.0, 650.0, 60), Binning.uniform("pt", 10.0, 330.0, 32))


@dataclass(frozen=True)
class QuadratureSpec:
    """Gauss-Legendre node counts. ``refine(f)`` multiplies every count by f (for convergence tests)."""

    mass_nodes: int = 12
    mass_sub_gev: float = 2.5
    angle_nodes: int = 24
    rapidity_nodes: int = 24
    pt_nodes: int = 8

    def refine(self, factor: float = 2.0) -> QuadratureSpec:
        return QuadratureSpec(
            mass_nodes=int(round(self.mass_nodes * factor)),
            mass_sub_gev=self.mass_sub_gev / factor,
            angle_nodes=int(round(self.angle_nodes * factor)),
            rapidity_nodes=int(round(self.rapidity_nodes * factor)),
            pt_nodes=int(round(self.pt_nodes * factor)),
        )


@dataclass
class Templates:
    """Binned morphing templates: ``values[term, bin]`` in pb/GeV, bins of all observables concatenated."""

    binnings: tuple[Binning, ...]
    operators: tuple[str, ...]
    order: Order
    values: np.ndarray
    meta: dict = field(default_factory=dict)

    @property
    def terms(self) -> list[str]:
        return term_names(self.operators, self.order)

    @property
    def n_bins(self) -> int:
        return sum(b.n for b in self.binnings)

    @property
    def widths(self) -> np.ndarray:
        return np.concatenate([b.widths for b in self.binnings])

    def slice(self, observable: str) -> slice:
        start = 0
        for b in self.binnings:
            if b.observable == observable:
                return slice(start, start + b.n)
            start += b.n
        raise SmeftfmError(f"templates have no observable '{observable}'")

    def term(self, name: str) -> np.ndarray:
        try:
            return self.values[self.terms.index(name)]
        except ValueError:
            raise SmeftfmError(f"no template term '{name}'; available: {self.terms[:5]} ...") from None

    def predict(self, coeffs: np.ndarray, order: Order | None = None) -> np.ndarray:
        """Spectra y(C) [..., n_bins] in pb/GeV; ``order='linear'`` truncates quadratic templates."""
        order = order or self.order
        if order == "quadratic" and self.order != "quadratic":
            raise SmeftfmError("these templates are linear; rebuild them with --order quadratic")
        c = np.asarray(coeffs, dtype=np.float64)
        if c.shape[-1] != len(self.operators):
            raise SmeftfmError(f"expected {len(self.operators)} coefficients, got {c.shape[-1]}")
        mono = monomials(c, order)
        return mono @ self.values[: mono.shape[-1]]

    def to_frame(self) -> pd.DataFrame:
        """Long format: observable, bin, bin_lo, bin_hi, term, value (pb/GeV)."""
        rows = []
        terms = self.terms
        start = 0
        for b in self.binnings:
            for ti, t in enumerate(terms):
                rows.append(
                    pd.DataFrame(
                        {
                            "observable": b.observable,
                            "bin": np.arange(b.n, dtype=np.int32),
                            "bin_lo": b.edges[:-1],
                            "bin_hi": b.edges[1:],
                            "term": t,
                            "value": self.values[ti, start : start + b.n],
                        }
                    )
                )
            start += b.n
        return pd.concat(rows, ignore_index=True)

    @classmethod
    def from_frame(cls, df: pd.DataFrame, operators: tuple[str, ...], order: Order, meta=None) -> Templates:
        need = {"observable", "bin", "bin_lo", "bin_hi", "term", "value"}
        if not need <= set(df.columns):
            raise SmeftfmError(f"template table lacks columns {sorted(need - set(df.columns))}")
        terms = term_names(operators, order)
        binnings = []
        blocks = []
        for obs in pd.unique(df["observable"]):  # the order in which the binnings were written
            sub = df[df["observable"] == obs]
            first = sub[sub["term"] == "SM"].sort_values("bin")
            edges = np.append(first["bin_lo"].to_numpy(), first["bin_hi"].to_numpy()[-1])
            binnings.append(Binning(obs, edges))
            piv = sub.pivot(index="term", columns="bin", values="value")
            missing = set(terms) - set(piv.index)
            if missing:
                raise SmeftfmError(f"template table lacks terms {sorted(missing)[:5]} for {obs}")
            blocks.append(piv.loc[terms].to_numpy())
        return cls(tuple(binnings), tuple(operators), order, np.concatenate(blocks, axis=1), dict(meta or {}))


class Oracle:
    """Analytic LO oracle for a fixed operator set, PDF member, EW inputs and acceptance.

    ``operators`` defaults to the 17 chirality-conserving operators (the ones that can interfere).
    """

    def __init__(
        self,
        operators: tuple[str, ...] | list[str] = VECTOR_OPERATORS,
        pdf: str | PDF = "CT18LO",
        pdf_member: int = 0,
        ew: EWInputs = DEFAULT_EW,
        acceptance: Acceptance = Acceptance(),
    ):
        self.operators = resolve(list(operators))
        self.ew = ew
        self.acceptance = acceptance
        self.pdf = pdf if isinstance(pdf, PDF) else load_pdf(pdf, pdf_member)
        self.basis = AmplitudeBasis.build(ew, self.operators)

    # ------------------------------------------------------------------ building blocks
    def luminosities(self, m: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(L + Lbar, L - Lbar) per quark type [..., 2] (u-type, d-type); products of number densities.

        L_t = sum_{q in t} f_q(x1) f_qbar(x2), Lbar_t = sum_{q in t} f_qbar(x1) f_q(x2), at mu_F = m.
        """
        m = np.asarray(m, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        m, y = np.broadcast_arrays(m, y)
        tau = m / self.ew.sqrt_s
        x1, x2 = tau * np.exp(y), tau * np.exp(-y)
        lsum = np.zeros(m.shape + (2,))
        ldiff = np.zeros(m.shape + (2,))
        pids = [QUARKS[q] for q in UP_TYPE + DOWN_TYPE]
        both = pids + [-p for p in pids]
        f1 = self.pdf.xfxQ_many(both, x1, m) / x1[..., None]  # number densities at x1, [..., 10]
        f2 = self.pdf.xfxQ_many(both, x2, m) / x2[..., None]
        n = len(pids)
        for i, q in enumerate(UP_TYPE + DOWN_TYPE):
            ti = 0 if q in UP_TYPE else 1
            a = f1[..., i] * f2[..., n + i]  # q(x1) qbar(x2)
            b = f1[..., n + i] * f2[..., i]  # qbar(x1) q(x2)
            lsum[..., ti] += a + b
            ldiff[..., ti] += a - b
        return lsum, ldiff

    def prefactor(self, m):
        """(2m/S) * s/(384 pi) * (hbar c)^2 with s = m^2: turns sum w |F|^2 into pb/GeV."""
        return (2.0 * m / self.ew.s_hadronic) * m * m / (384.0 * math.pi) * GEV2_TO_PB

    def _angular_weights(self, lsum, ldiff, cos, be: Backend = NUMPY):
        """w_A = (L+Lbar)_t (1 + cos^2) + h_A (L-Lbar)_t 2 cos for A = (t, ij) -> [..., 8]."""
        h = be.astensor(self.basis.helicity, like=lsum)
        ls = be.repeat_last(lsum, 4)
        ld = be.repeat_last(ldiff, 4)
        c = cos[..., None]
        return ls * (1.0 + c * c) + h * ld * 2.0 * c

    # ------------------------------------------------------------------ (a) event level
    def event_terms(
        self,
        m,
        y,
        cos_cs,
        order: Order = "linear",
        backend: str = "numpy",
        device: str | None = None,
        chunk: int = 131072,
    ):
        """Per-event morphing terms of d^3 sigma/(dm dy dcos theta_CS), pb/GeV, shape [n, n_terms].

        ``backend='torch'`` returns a float64 tensor on ``device`` (default: CUDA when present). PDFs are
        evaluated with numpy; the amplitude algebra runs on the chosen backend. Events outside the
        kinematic range (x > 1) get 0; the acceptance is *not* applied here (see :meth:`acceptance`).
        """
        m = np.atleast_1d(np.asarray(m, dtype=np.float64))
        y = np.atleast_1d(np.asarray(y, dtype=np.float64))
        c = np.atleast_1d(np.asarray(cos_cs, dtype=np.float64))
        if not (m.shape == y.shape == c.shape):
            raise SmeftfmError("m, y and cos_cs must have the same shape")
        be = get_backend(backend, device)
        g = be.astensor(self.basis.term_matrix(order))
        out = be.empty((m.size, g.shape[1]))
        for s0 in range(0, m.size, chunk):
            sl = slice(s0, s0 + chunk)
            lsum, ldiff = (be.astensor(a) for a in self.luminosities(m[sl], y[sl]))
            cl, mm = be.astensor(cos_lab(y[sl], c[sl])), be.astensor(m[sl])
            w = self._angular_weights(lsum, ldiff, cl, be) * self.prefactor(mm)[..., None]
            out[sl] = self.basis.weighted_terms(mm * mm, w, order, be, g)
        return out

    def differential_rate(self, m, y, cos_cs, coeffs=None, order: Order = "linear", **kw):
        """d^3 sigma/(dm dy dcos theta_CS) in pb/GeV at events, for coefficients ``coeffs`` (default SM)."""
        coeffs = np.zeros(len(self.operators)) if coeffs is None else np.asarray(coeffs, dtype=np.float64)
        mono = monomials(coeffs, order)
        t = self.event_terms(m, y, cos_cs, order=order, **kw)
        return t @ get_backend(kw.get("backend", "numpy"), kw.get("device")).astensor(mono, like=t)

    def differential_rate_direct(self, m, y, cos_cs, coeffs, order: Order = "quadratic") -> np.ndarray:
        """Same rate computed without the morphing: couplings shifted to C, amplitude squared directly.

        ``order='linear'`` keeps |F0|^2 + 2 Re(F0* (F(C) - F0)), ``'quadratic'`` the full |F(C)|^2.
        """
        from .amplitudes import couplings, reduced_amplitude_at

        m, y, c = (np.atleast_1d(np.asarray(a, dtype=np.float64)) for a in (m, y, cos_cs))
        cp = couplings(self.ew, self.operators)
        f = reduced_amplitude_at(m * m, self.ew, cp, coeffs).reshape(m.shape + (8,))
        f0 = reduced_amplitude_at(m * m, self.ew, cp, np.zeros(len(self.operators))).reshape(m.shape + (8,))
        sq = np.abs(f) ** 2 if order == "quadratic" else np.abs(f0) ** 2 + 2 * np.real(np.conj(f0) * (f - f0))
        lsum, ldiff = self.luminosities(m, y)
        w = self._angular_weights(lsum, ldiff, cos_lab(y, c))
        return (w * sq).sum(-1) * self.prefactor(m)

    # ------------------------------------------------------------------ quadrature kernels
    def _angular_nodes(self, m: np.ndarray, spec: QuadratureSpec, cuts: bool, half_y: bool = False):
        """(|cos|, y, weight) nodes [N, Nc, Ny] covering the allowed region at cos >= 0 for each mass.

        The region is symmetric under cos -> -cos, so :meth:`_node_weights` adds the mirror node itself.
        """
        acc = self.acceptance
        n = m.size
        ymax_kin = np.log(self.ew.sqrt_s / m)
        xg, wg = _gl(spec.angle_nodes)
        if cuts:
            cmax = acc.cos_max(m)
            # kink of y_max(|cos|) where eta_max - atanh|cos| meets the kinematic limit log(sqrt S / m)
            kink = np.tanh(np.clip(acc.eta_max - ymax_kin, 0, None))
            ck = np.minimum(np.where(acc.eta_max > ymax_kin, kink, cmax), cmax)
            segs = [(np.zeros(n), ck)] + ([(ck, cmax)] if np.any(ck < cmax) else [])
        else:
            segs = [(np.zeros(n), np.ones(n))]
        cs, ws = [], []
        for a, b in segs:
            half = 0.5 * (b - a)
            cs.append(a[:, None] + half[:, None] * (xg + 1.0))
            ws.append(half[:, None] * wg)
        cos = np.concatenate(cs, axis=1)
        wc = np.concatenate(ws, axis=1)
        if cuts:
            ymax = acc.y_max(m[:, None], cos, self.ew.sqrt_s)
        else:
            ymax = np.broadcast_to(ymax_kin[:, None], cos.shape)
        yg, wyg = _gl(spec.rapidity_nodes)
        if half_y:  # nodes on [0, ymax] only (the caller adds -y): integrands that jump at y = 0
            yg, wyg = 0.5 * (yg + 1.0), 0.5 * wyg
        y = ymax[..., None] * yg
        w = (wc * ymax)[..., None] * wyg
        return cos, y, w

    def _node_weights(self, m: np.ndarray, cos: np.ndarray, y: np.ndarray, w: np.ndarray) -> np.ndarray:
        """Integrated angular weights W[N, 8] = sum_nodes w [w_A(+cos, y) + w_A(-cos, y)] at each mass node.

        ``cos`` [N, Nc] holds cos >= 0; the mirror node -cos has the same y range and PDF values.
        """
        n = m.size
        mm = np.broadcast_to(m[:, None, None], y.shape)
        lsum, ldiff = self.luminosities(mm, y)  # [N, Nc, Ny, 2]
        c = np.broadcast_to(cos[..., None], y.shape)
        sym = self._angular_weights(lsum, ldiff, c) + self._angular_weights(lsum, ldiff, -c)
        return np.einsum("nja,nj->na", sym.reshape(n, -1, 8), np.reshape(w, (n, -1)))

    def _terms_at_nodes(self, m: np.ndarray, wm: np.ndarray, wang: np.ndarray, order: Order) -> np.ndarray:
        return self.basis.weighted_terms(m * m, wang, order) * (wm * self.prefactor(m))[:, None]

    def _mass_nodes(self, lo: float, hi: float, spec: QuadratureSpec) -> tuple[np.ndarray, np.ndarray]:
        """Composite GL in m: sub-intervals of ``mass_sub_gev`` within 12 widths of the Z pole, 4x wider elsewhere."""
        mz, gz = self.ew.m_z, self.ew.gamma_z
        special = [mz + k * gz for k in (-12, -4, -1.5, -0.5, 0.0, 0.5, 1.5, 4, 12)]
        brk = _breaks(lo, hi, 4 * spec.mass_sub_gev, special)
        a, b = max(lo, mz - 12 * gz), min(hi, mz + 12 * gz)
        if b > a:
            brk = np.union1d(brk, _breaks(a, b, spec.mass_sub_gev, special))
        return _composite(brk, spec.mass_nodes)

    def _mll_bins(self, binning: Binning, order: Order, spec: QuadratureSpec, cuts: bool = True) -> np.ndarray:
        acc = self.acceptance
        out = []
        for lo, hi in zip(binning.edges[:-1], binning.edges[1:]):
            a, b = (max(lo, acc.m_lo), min(hi, acc.m_hi)) if cuts else (lo, hi)
            if b <= a:
                out.append(np.zeros(len(term_names(self.operators, order))))
                continue
            m, wm = self._mass_nodes(a, b, spec)
            wang = self._node_weights(m, *self._angular_nodes(m, spec, cuts))
            out.append(self._terms_at_nodes(m, wm, wang, order).sum(0))
        return np.array(out).T  # [terms, bins], pb per bin

    def _pt_bins(self, binning: Binning, order: Order, spec: QuadratureSpec) -> np.ndarray:
        acc, ew = self.acceptance, self.ew
        mz, gz = ew.m_z, ew.gamma_z
        cosh_eta = math.cosh(acc.eta_max)
        pt_special = [acc.m_lo / 2, acc.m_hi / (2 * cosh_eta), acc.m_hi / 2, acc.pt_min]
        pt_special += [0.5 * (mz + k * gz) for k in (-4, -1.5, -0.5, 0.0, 0.5, 1.5, 4)]
        m_special = [mz + k * gz for k in (-12, -4, -1.5, -0.5, 0.0, 0.5, 1.5, 4, 12)]
        yg, wyg = _gl(spec.rapidity_nodes)
        n_terms = len(term_names(self.operators, order))
        out = np.zeros((n_terms, binning.n))
        for ib, (lo, hi) in enumerate(zip(binning.edges[:-1], binning.edges[1:])):
            lo_c, hi_c = max(lo, acc.pt_min), min(hi, acc.m_hi / 2)
            if hi_c <= lo_c:
                continue
            pts, wpts = _composite_endpoint(_breaks(lo_c, hi_c, 4 * spec.mass_sub_gev, pt_special), spec.pt_nodes)
            ms, ws, ps = [], [], []
            for pt, wpt in zip(pts, wpts):
                m_a = max(2 * pt, acc.m_lo)
                m_b = min(acc.m_hi, 2 * pt * cosh_eta)
                if m_b <= m_a:
                    continue
                mb = _breaks(m_a, m_b, 40.0 * spec.mass_sub_gev, m_special)
                tb = np.sqrt(mb - 2 * pt)
                t, wt = _composite(tb, spec.mass_nodes)
                m = 2 * pt + t * t
                jac = 8.0 * pt / (m * np.sqrt(m + 2 * pt))  # |dcos/dpT| dm/dt
                ms.append(m)
                ws.append(wpt * wt * jac)
                ps.append(np.full(m.shape, pt))
            if not ms:
                continue
            m = np.concatenate(ms)
            wm = np.concatenate(ws)
            pt = np.concatenate(ps)
            cos = np.sqrt(np.clip(1.0 - (2 * pt / m) ** 2, 0.0, 1.0))[:, None]  # +cos; the mirror is added
            ymax = acc.y_max(m[:, None], cos, ew.sqrt_s)
            y = ymax[..., None] * yg
            w = ymax[..., None] * wyg
            wang = self._node_weights(m, cos, y, w)
            out[:, ib] = self._terms_at_nodes(m, wm, wang, order).sum(0)
        return out

    # ------------------------------------------------------------------ spectra at fixed mass
    def mass_spectrum(self, m, cuts: bool = True, order: Order = "linear", spec=QuadratureSpec()) -> np.ndarray:
        """dsigma/dm_ll in pb/GeV per morphing term at masses ``m`` (GeV), shape [n_m, n_terms]."""
        m = np.atleast_1d(np.asarray(m, dtype=np.float64))
        wang = self._node_weights(m, *self._angular_nodes(m, spec, cuts))
        return self._terms_at_nodes(m, np.ones_like(m), wang, order)

    def forward_backward_asymmetry(self, m, coeffs=None, cuts: bool = False, order: Order = "linear",
                                   spec=QuadratureSpec()) -> np.ndarray:
        """A_FB(m) in the Collins-Soper frame, (sigma(cos_CS > 0) - sigma(cos_CS < 0)) / sigma, at masses ``m``.

        Evaluated with the event-level rate (mode a) on a Gauss-Legendre grid in (cos theta*, y), with y >= 0 and
        y <= 0 integrated separately (the forward/backward assignment flips at y = 0).
        """
        m = np.atleast_1d(np.asarray(m, dtype=np.float64))
        cos, y, w = self._angular_nodes(m, spec, cuts, half_y=True)  # cos >= 0, y >= 0 nodes
        out = []
        for i, mi in enumerate(m):
            yy = np.concatenate([y[i].ravel(), -y[i].ravel()])
            cc = np.tile(np.broadcast_to(cos[i][:, None], y[i].shape).ravel(), 2)
            ww = np.tile(w[i].ravel(), 2)
            # CS angle: the lab-frame node (cos, y) has cos_CS = sign(y) cos
            cs = np.where(yy >= 0, 1.0, -1.0) * cc
            mm = np.full_like(yy, mi)
            r_plus = self.differential_rate(mm, yy, cs, coeffs, order)
            r_minus = self.differential_rate(mm, yy, -cs, coeffs, order)
            fwd = np.where(cs > 0, r_plus, r_minus) @ ww
            bwd = np.where(cs > 0, r_minus, r_plus) @ ww
            out.append((fwd - bwd) / (fwd + bwd))
        return np.array(out)

    # ------------------------------------------------------------------ (b) templates
    def binned_templates(
        self,
        order: Order = "linear",
        binnings: tuple[Binning, ...] = DEFAULT_BINNINGS,
        spec: QuadratureSpec = QuadratureSpec(),
    ) -> Templates:
        """dsigma/dX per bin (pb/GeV) for every morphing term, in the acceptance and mass window."""
        blocks = []
        for b in binnings:
            per_bin = get_observable(b.observable).integrator(self, b, order, spec)
            blocks.append(per_bin / b.widths)
        meta = {
            "pdf": f"{self.pdf.name}/{self.pdf.member}",
            "pdf_backend": self.pdf.backend,
            "acceptance": vars(self.acceptance),
            "sqrt_s": self.ew.sqrt_s,
            "lambda_np": self.ew.lambda_np,
            "quadrature": vars(spec),
        }
        return Templates(tuple(binnings), self.operators, order, np.concatenate(blocks, axis=1), meta)

    # ------------------------------------------------------------------ (c) integrated
    def integrated_terms(
        self, m_lo: float, m_hi: float, cuts: bool = True, order: Order = "linear", spec=QuadratureSpec()
    ) -> np.ndarray:
        """sigma(m_lo < m_ll < m_hi) in pb per morphing term; ``cuts`` applies the muon acceptance."""
        if not m_hi > m_lo > 0:
            raise SmeftfmError(f"bad mass window [{m_lo}, {m_hi}] GeV")
        b = Binning("mll", np.array([m_lo, m_hi]))
        return self._mll_bins(b, order, spec, cuts=cuts)[:, 0]

    def integrated_cross_section(
        self,
        m_lo: float | None = None,
        m_hi: float | None = None,
        coeffs=None,
        cuts: bool = True,
        order: Order = "linear",
        spec=QuadratureSpec(),
    ) -> float:
        """sigma in pb at ``coeffs`` (default SM); the window defaults to the acceptance's mass window."""
        m_lo = self.acceptance.m_lo if m_lo is None else m_lo
        m_hi = self.acceptance.m_hi if m_hi is None else m_hi
        coeffs = np.zeros(len(self.operators)) if coeffs is None else np.asarray(coeffs, dtype=np.float64)
        return float(monomials(coeffs, order) @ self.integrated_terms(m_lo, m_hi, cuts, order, spec))


def oracle_from_params(params, operators: tuple[str, ...] | list[str] | None = None) -> Oracle:
    """An :class:`Oracle` on the phase space of :class:`smeftfm.config.Params` (physics + observables sections).

    Same as ``PhaseSpace.from_params(params).oracle(...)`` (:mod:`.phasespace`).
    """
    ph = params.physics
    return Oracle(operators=operators or VECTOR_OPERATORS, pdf=ph.pdf, pdf_member=ph.pdf_member,
                  ew=EWInputs(lambda_np=ph.lambda_np, sqrt_s=ph.sqrt_s),
                  acceptance=Acceptance.from_params(params.observables))


def binnings_from_params(params) -> tuple[Binning, ...]:
    """The histograms listed in ``params.observables`` (default: the paper's 60 m_ll + 32 p_T bins)."""
    return binnings_from_observable_params(params.observables)


def quadrature_from_params(params) -> QuadratureSpec:
    q = params.quadrature
    return QuadratureSpec(q.mass_nodes, q.mass_sub_gev, q.angle_nodes, q.rapidity_nodes, q.pt_nodes)
