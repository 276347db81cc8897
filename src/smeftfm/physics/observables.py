r"""The observable registry: every binned observable the pipeline can histogram, in one place.

An :class:`Observable` carries its name (the params key and the column prefix ``<name>_00``), axis label, unit,
allowed range of bin edges, per-event definition f(m_ll, y_ll, cos theta_CS), exact binned integrator (pb per
bin per morphing term) and RBF correlation length. Bin validation (:class:`Binning`), template dispatch
(:meth:`Oracle.binned_templates`), column naming and selection (:func:`column_names`, :func:`bin_column_regex`),
uncertainty blocks and axis labels all read it. Adding an observable is one :func:`register` call plus its
binning in ``params.yaml`` (``docs/extending.md``).

Registered: ``mll`` (m_ll, GeV), ``pt`` (p_T of the mu-, GeV), ``y_ll`` (dilepton rapidity) and ``cos_cs``
(cos theta_CS, Collins-Soper frame, experimental sign convention).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError, SmeftfmError
from .integrators import cos_cs_bins, rapidity_bins

__all__ = ["Binning", "Observable", "REGISTRY", "bin_column_regex", "binnings_from_observable_params", "column_names",
           "get", "histogram_columns", "register", "select_bin_columns"]

PerEvent = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]
Integrator = Callable[..., np.ndarray]  # (oracle, binning, order, spec) -> [n_terms, n_bins], pb per bin

#: Default RBF correlation length as a fraction of an observable's default range: 35 GeV over the 600 GeV of
#: the paper's m_ll histogram. Dimensionless observables use this fraction of their natural range.
CORR_FRACTION = 35.0 / 600.0


@dataclass(frozen=True)
class Observable:
    """One binned observable. ``corr_length`` is in ``unit``; ``None`` means ``corpus.corr_length_gev`` (GeV)."""

    name: str
    symbol: str  # matplotlib mathtext without $, e.g. r"m_{\ell\ell}"
    unit: str  # "GeV" or "" (dimensionless)
    lo: float  # allowed range of bin edges
    hi: float
    per_event: PerEvent
    integrator: Integrator
    corr_length: float | None = None
    open_lo: bool = False  # True: edges must be > lo (m_ll > 0), else >= lo

    @property
    def label(self) -> str:
        """Axis label, e.g. ``$m_{\\ell\\ell}$ [GeV]``."""
        return f"${self.symbol}$" + (f" [{self.unit}]" if self.unit else "")

    @property
    def density_label(self) -> str:
        """Axis label of the binned cross section, e.g. ``$d\\sigma/dm_{\\ell\\ell}$ [pb/GeV]``."""
        return rf"$d\sigma/d{self.symbol}$ [pb{'/' + self.unit if self.unit else ''}]"

    def check_edges(self, edges: np.ndarray) -> None:
        """SmeftfmError unless the edges lie in the allowed range."""
        bad_lo = edges[0] <= self.lo if self.open_lo else edges[0] < self.lo
        if bad_lo or edges[-1] > self.hi:
            rng = f"{'(' if self.open_lo else '['}{self.lo:g}, {self.hi:g}]"
            raise SmeftfmError(f"bad bin specification for {self.name}: edges must lie in {rng} {self.unit}, "
                               f"got [{edges[0]:g}, {edges[-1]:g}]")


#: name -> Observable, in registration order.
REGISTRY: dict[str, Observable] = {}


def register(obs: Observable, replace: bool = False) -> Observable:
    """Add ``obs`` to the registry (``replace=True`` to redefine a name); returns it."""
    if not re.fullmatch(r"[a-z][a-z0-9_]*", obs.name):
        raise SmeftfmError(f"observable name '{obs.name}' must be lower-case letters, digits and _")
    if obs.name in REGISTRY and not replace:
        raise SmeftfmError(f"observable '{obs.name}' is already registered")
    REGISTRY[obs.name] = obs
    return obs


def get(name: str) -> Observable:
    """The registered observable ``name``; one clear error listing the registered ones otherwise."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise SmeftfmError(f"unknown observable '{name}'; registered: {sorted(REGISTRY)} "
                           "(see docs/extending.md to add one)") from None


def column_names(name: str, n: int) -> list[str]:
    """Spectrum column names ``<name>_00`` .. (two digits at least) of an n-bin histogram."""
    width = max(2, len(str(n - 1)))
    return [f"{name}_{i:0{width}d}" for i in range(n)]


def bin_column_regex() -> re.Pattern:
    """Matches the spectrum columns of every registered observable (``mll_07``, ``cos_cs_03`` ...)."""
    names = "|".join(re.escape(n) for n in sorted(REGISTRY, key=len, reverse=True))
    return re.compile(rf"^({names})_\d{{2,}}$")


def select_bin_columns(names) -> list[str]:
    """The spectrum columns among ``names`` (of every registered observable), in their order."""
    rx = bin_column_regex()
    return [c for c in names if rx.match(c)]


def histogram_columns(binnings) -> list[str]:
    """Column names ``<observable>_00``.. of each binning in turn (``mll_00``..``mll_59``, ``pt_00``..``pt_31``
    by default): the spectrum columns of templates, spectra and corpus."""
    return [c for b in binnings for c in column_names(b.observable, b.n)]


@dataclass(frozen=True)
class Binning:
    """Histogram edges (in the observable's unit) of one registered observable."""

    observable: str
    edges: np.ndarray

    def __post_init__(self) -> None:
        e = np.asarray(self.edges, dtype=np.float64)
        obs = get(self.observable)
        if e.ndim != 1 or e.size < 2 or not np.all(np.isfinite(e)) or not np.all(np.diff(e) > 0):
            raise SmeftfmError(
                f"bad bin specification for {self.observable}: edges must be a finite, strictly increasing "
                f"list of at least two numbers ({obs.unit or 'dimensionless'}), got {list(np.round(e, 6))[:8]}"
            )
        obs.check_edges(e)
        object.__setattr__(self, "edges", e)

    @classmethod
    def uniform(cls, observable: str, lo: float, hi: float, n: int) -> Binning:
        if not (n > 0 and hi > lo):
            raise SmeftfmError(f"bad bin specification for {observable}: need n > 0 and hi > lo")
        return cls(observable, np.linspace(lo, hi, n + 1))

    @property
    def n(self) -> int:
        return self.edges.size - 1

    @property
    def widths(self) -> np.ndarray:
        return np.diff(self.edges)

    @property
    def centers(self) -> np.ndarray:
        return 0.5 * (self.edges[1:] + self.edges[:-1])


def binnings_from_observable_params(ob) -> tuple[Binning, ...]:
    """The histograms of an ``observables`` params section: ``mll``, ``pt``, then any further registered name."""
    out = []
    for name, spec in ob.histograms().items():
        if name not in REGISTRY:
            raise ConfigError(f"observables.{name}: unknown observable; registered: {sorted(REGISTRY)} "
                              "(a typo? see docs/extending.md to add one)")
        out.append(Binning(name, spec.bin_edges()))
    return tuple(out)


def _pt(m: np.ndarray, y: np.ndarray, c: np.ndarray) -> np.ndarray:
    """p_T of either muon at LO (the pair has no p_T), GeV."""
    return 0.5 * np.asarray(m) * np.sqrt(np.clip(1.0 - np.asarray(c) ** 2, 0.0, None))


register(Observable("mll", r"m_{\ell\ell}", "GeV", 0.0, np.inf, lambda m, y, c: np.asarray(m, dtype=np.float64),
                    lambda o, b, order, spec: o._mll_bins(b, order, spec), open_lo=True))
register(Observable("pt", r"p_T(\mu^-)", "GeV", 0.0, np.inf, _pt,
                    lambda o, b, order, spec: o._pt_bins(b, order, spec)))
register(Observable("y_ll", r"y_{\ell\ell}", "", -np.inf, np.inf, lambda m, y, c: np.asarray(y, dtype=np.float64),
                    rapidity_bins, corr_length=CORR_FRACTION * 5.0))
register(Observable("cos_cs", r"\cos\theta_{CS}", "", -1.0, 1.0, lambda m, y, c: np.asarray(c, dtype=np.float64),
                    cos_cs_bins, corr_length=CORR_FRACTION * 2.0))
