r"""Exact references from the oracle's likelihood: what the best possible method achieves under Sigma.

All statistics use one covariance, the SM's Sigma_SM of the corpus noise model (:mod:`smeftfm.data.noise`), and
its precision P = Sigma_SM^-1 (on the eigen-directions above ``rcond`` lambda_max; full rank for rho < 1).
Spectra in pb/GeV.

* Goodness of fit against the SM (signal-agnostic, what a physicist runs): chi^2(x) = (x - y_SM)^T P (x - y_SM).
  For a Gaussian mean shift delta it is central chi^2_nu under the SM and non-central chi^2_nu(lambda),
  lambda = delta^T P delta, under the signal; :func:`gof_auroc` is P(chi^2_nu(lambda) > chi^2_nu).
* Neyman-Pearson (signal-specific): for N(y_SM, Sigma) against N(y_SM + delta, Sigma) the likelihood ratio is
  monotone in t(x) = delta^T P (x - y_SM), normal with variance lambda under both and means 0 and lambda, so its
  AUROC is Phi(sqrt(lambda / 2)) (:func:`np_auroc`). In the bins with Poisson counts (``corpus.poisson_below``)
  the replicas are not Gaussian and t is the Gaussian-approximation ceiling.
* Retrieval truth: a universe is SM-compatible at k sigma when chi^2(y_u) <= the chi^2_nu quantile at the
  two-sided k sigma probability (:func:`smeftfm.models.retrieval.chi2_threshold`).
"""

from __future__ import annotations

import numpy as np
from scipy import integrate, optimize, special, stats

from ..errors import SmeftfmError

__all__ = [
    "CountLikelihood", "GofWhitening", "Precision", "gof_auroc", "noncentrality", "np_auroc", "np_statistic",
    "strength_for_auroc", "strength_for_empirical_auroc"
]


class Precision:
    """P = Sigma^-1 on the eigen-directions above ``rcond`` lambda_max; ``nu`` = directions kept."""

    def __init__(self, cov: np.ndarray, rcond: float = 1e-10):
        cov = np.asarray(cov, dtype=np.float64)
        if cov.ndim != 2 or cov.shape[0] != cov.shape[1]:
            raise SmeftfmError(f"covariance must be square, got {cov.shape}")
        # scale to the correlation matrix first: bins differ by orders of magnitude in variance
        d = np.sqrt(np.clip(np.diag(cov), 0.0, None))
        live = d > 0
        dl = d[live]
        corr = cov[np.ix_(live, live)] / np.outer(dl, dl)
        w, v = np.linalg.eigh(0.5 * (corr + corr.T))
        keep = w > rcond * w.max()
        self.nu = int(keep.sum())
        root = v[:, keep] / np.sqrt(w[keep])  # whitening of the standardised spectrum
        self.live = live
        self.scale = dl
        self.root = root

    def whiten(self, x: np.ndarray, center: np.ndarray) -> np.ndarray:
        """u = W (x - center) with u^T u = chi^2; shape [..., nu]."""
        r = (np.asarray(x, dtype=np.float64) - center)[..., self.live] / self.scale
        return r @ self.root

    def chi2(self, x: np.ndarray, center: np.ndarray) -> np.ndarray:
        u = self.whiten(x, center)
        return np.einsum("...i,...i->...", u, u)


def np_statistic(x: np.ndarray, y_sm: np.ndarray, delta: np.ndarray, prec: Precision) -> np.ndarray:
    """t(x) = delta^T P (x - y_SM): the likelihood-ratio statistic of the signal delta (Gaussian, fixed Sigma)."""
    zero = np.zeros_like(y_sm)
    return prec.whiten(x, y_sm) @ prec.whiten(delta, zero)


def noncentrality(delta: np.ndarray, prec: Precision) -> float:
    """lambda = delta^T P delta."""
    return float(prec.chi2(delta, np.zeros_like(delta)))


def np_auroc(lam: float) -> float:
    """AUROC of the optimal test of a Gaussian mean shift with noncentrality lambda: Phi(sqrt(lambda / 2))."""
    return float(special.ndtr(np.sqrt(max(lam, 0.0) / 2.0)))


def gof_auroc(lam: float, nu: int) -> float:
    """P(chi^2_nu(lambda) > chi^2_nu) for independent draws: the chi^2 goodness-of-fit test's AUROC."""
    if lam <= 0:
        return 0.5
    lo, hi = stats.chi2.ppf(1e-12, nu), stats.chi2.isf(1e-12, nu)

    def f(x):
        return stats.chi2.pdf(x, nu) * stats.ncx2.sf(x, nu, lam)

    val, _ = integrate.quad(f, lo, hi, limit=200, points=[nu])
    return float(min(max(val, 0.0), 1.0))


def strength_for_auroc(target: float, lam_of: callable, nu: int, lo: float, hi: float) -> float:
    """The signal strength s in [lo, hi] at which the GoF AUROC of noncentrality ``lam_of(s)`` equals ``target``."""
    if not 0.5 < target < 1.0:
        raise SmeftfmError(f"target AUROC must lie in (0.5, 1), got {target}")

    def g(log_s):
        return gof_auroc(lam_of(np.exp(log_s)), nu) - target

    a, b = np.log(lo), np.log(hi)
    if g(a) > 0 or g(b) < 0:
        raise SmeftfmError(f"no strength in [{lo:g}, {hi:g}] reaches GoF AUROC {target}; widen the scan range")
    return float(np.exp(optimize.brentq(g, a, b, xtol=1e-4)))


class CountLikelihood:
    r"""The GoF and likelihood-ratio statistics under the corpus noise model, Poisson bins included.

    Bins expecting fewer than ``poisson_below`` SM events carry Poisson counts (:mod:`smeftfm.data.noise`); a
    Gaussian chi^2 there is dominated by rare single events (one event where 0.01 is expected adds ~100). So:

    * goodness of fit: chi^2 of the Gaussian bins under their block of Sigma_SM plus the Poisson deviance
      2 sum [n ln(n/mu) - (n - mu)] of the count bins (what a physicist runs on sparse bins);
    * signal likelihood ratio (Neyman-Pearson for the signal delta): delta^T P (x - y_SM) on the Gaussian bins plus
      sum n ln(mu_1/mu_0) on the count bins.

    The two bin sets are treated as independent (the copula correlates them; the exact joint likelihood has no
    closed form), so ``auroc_optimal`` is the best *practical* signal-specific statistic, not a strict bound.
    Without count bins both reduce to the Gaussian expressions above (then exact).
    """

    def __init__(self, y_sm: np.ndarray, cov: np.ndarray, counts_per_unit: np.ndarray, poisson_below: float,
                 rcond: float = 1e-10, full: Precision | None = None):
        self.y_sm = np.asarray(y_sm, dtype=np.float64)
        self.k = np.asarray(counts_per_unit, dtype=np.float64)  # L dX: events per pb/GeV
        mu = np.clip(self.y_sm, 0.0, None) * self.k
        self.low = (mu < poisson_below) & (self.y_sm > 0)
        self.high = ~self.low
        self.mu0 = mu[self.low]
        self.prec = Precision(np.asarray(cov)[np.ix_(self.high, self.high)], rcond)
        self.prec_full = full  # optional: the full-Sigma precision (reported Gaussian noncentralities)

    def _counts(self, x: np.ndarray) -> np.ndarray:
        return np.clip(np.asarray(x, dtype=np.float64)[..., self.low], 0.0, None) * self.k[self.low]

    def gof(self, x: np.ndarray) -> np.ndarray:
        n = self._counts(x)
        dev = 2.0 * (special.xlogy(n, n / self.mu0) - (n - self.mu0)).sum(-1)
        return self.prec.chi2(np.asarray(x)[..., self.high], self.y_sm[self.high]) + dev

    def ratio(self, x: np.ndarray, delta: np.ndarray) -> np.ndarray:
        delta = np.asarray(delta, dtype=np.float64)
        g = np_statistic(np.asarray(x)[..., self.high], self.y_sm[self.high], delta[self.high], self.prec)
        mu1 = np.clip(self.mu0 + delta[self.low] * self.k[self.low], 1e-300, None)
        return g + self._counts(x) @ np.log(mu1 / self.mu0)


class GofWhitening:
    r"""The goodness-of-fit residual vector: w(x) = [W_G (x_G - y_SM,G), r(x_C)] with W_G the whitening of the
    Gaussian bins' block of Sigma_SM and r_i = sign(n_i - mu_i) sqrt(2 [n_i ln(n_i/mu_i) - (n_i - mu_i)]) the signed
    root Poisson deviance of each count bin (counts n = L dX x, expected mu from ``center``), so that
    ||w(x)||^2 = :meth:`CountLikelihood.gof` (x) exactly when ``center`` is y_SM. Same interface as
    :class:`Precision` (``whiten``, ``chi2``, ``nu`` = output width); dimensionless (units of sigma)."""

    def __init__(self, lik: CountLikelihood):
        self.lik = lik
        self.nu = int(lik.prec.nu + lik.low.sum())

    def whiten(self, x: np.ndarray, center: np.ndarray) -> np.ndarray:
        lik = self.lik
        x = np.asarray(x, dtype=np.float64)
        center = np.asarray(center, dtype=np.float64)
        g = lik.prec.whiten(x[..., lik.high], center[lik.high])
        n = lik._counts(x)
        mu = np.clip(center[lik.low] * lik.k[lik.low], 1e-300, None)
        dev = np.clip(2.0 * (special.xlogy(n, n / mu) - (n - mu)), 0.0, None)
        return np.concatenate([g, np.sign(n - mu) * np.sqrt(dev)], axis=-1)

    def chi2(self, x: np.ndarray, center: np.ndarray) -> np.ndarray:
        w = self.whiten(x, center)
        return np.einsum("...i,...i->...", w, w)


def strength_for_empirical_auroc(target: float, auroc_of: callable, lo: float, hi: float) -> float:
    """The strength in [lo, hi] where a (monotone, common-random-number) empirical AUROC crosses ``target``."""
    if not 0.5 < target < 1.0:
        raise SmeftfmError(f"target AUROC must lie in (0.5, 1), got {target}")

    def g(log_s):
        return auroc_of(np.exp(log_s)) - target

    a, b = np.log(lo), np.log(hi)
    if g(a) > 0 or g(b) < 0:
        raise SmeftfmError(f"no strength in [{lo:g}, {hi:g}] reaches GoF AUROC {target}; widen the scan range")
    return float(np.exp(optimize.brentq(g, a, b, xtol=2e-3)))
