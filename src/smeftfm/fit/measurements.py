"""Published measurements: one folder per dataset under ``data/measurements/`` with a ``dataset.yaml`` manifest.

The manifest declares, in one place, the source (record, tables, luminosity), how the covariance is built and the
phase space (sqrt(s), observable, lepton cuts or none, lepton flavour). Values are dsigma/dm_ll in pb/GeV and the
covariance in pb^2/GeV^2; the oracle is asked for predictions in exactly the declared phase space.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

from ..errors import DataError, SmeftfmError
from .hepdata import covariance_from_table, read_hepdata_table

__all__ = ["Dataset", "DatasetPhaseSpace", "load_dataset", "load_datasets"]

_UNIT_TO_PB = {"PB/GEV": 1.0, "FB/GEV": 1e-3, "NB/GEV": 1e3}


@dataclass(frozen=True)
class DatasetPhaseSpace:
    """Where a measurement lives: sqrt(s) in GeV, the binned observable, lepton cuts (None = full phase space).

    ``pt_min`` in GeV and ``eta_max`` apply to both leptons; ``lepton_flavour='single'`` means the cross section of
    one lepton flavour (what the oracle computes for mu+ mu-; equal to e+ e- for massless leptons in U35).
    """

    sqrt_s: float
    observable: str = "mll"
    pt_min: float | None = None
    eta_max: float | None = None
    lepton_flavour: str = "single"

    @property
    def full(self) -> bool:
        return self.pt_min is None and self.eta_max is None

    @classmethod
    def from_manifest(cls, ps: dict, where: str) -> DatasetPhaseSpace:
        if not isinstance(ps, dict) or "sqrt_s_gev" not in ps:
            raise DataError(f"{where}: phase_space must give sqrt_s_gev (and observable, cuts, lepton_flavour)")
        cuts = ps.get("cuts", "none")
        pt_min = eta_max = None
        if isinstance(cuts, dict):
            unknown = set(cuts) - {"pt_min_gev", "eta_max"}
            if unknown:
                raise SmeftfmError(
                    f"{where}: the oracle cannot compute a phase space with cuts {sorted(unknown)}; it knows only "
                    "symmetric lepton cuts pt_min_gev and eta_max (or cuts: none for the full phase space)"
                )
            pt_min = float(cuts.get("pt_min_gev", 0.0))
            eta_max = float(cuts.get("eta_max", 1e3))
        elif cuts not in ("none", None):
            raise DataError(f"{where}: cuts must be 'none' or a mapping {{pt_min_gev, eta_max}}, got {cuts!r}")
        return cls(
            sqrt_s=float(ps["sqrt_s_gev"]),
            observable=str(ps.get("observable", "mll")),
            pt_min=pt_min,
            eta_max=eta_max,
            lepton_flavour=str(ps.get("lepton_flavour", "single")),
        )


@dataclass
class Dataset:
    """A measured spectrum: bin ``edges`` (GeV), ``values`` (pb/GeV), ``cov`` (pb^2/GeV^2) and its phase space."""

    name: str
    edges: np.ndarray
    values: np.ndarray
    cov: np.ndarray
    phase_space: DatasetPhaseSpace
    meta: dict = field(default_factory=dict)

    @property
    def n(self) -> int:
        return self.values.size

    @property
    def errors(self) -> np.ndarray:
        return np.sqrt(np.diag(self.cov))

    def select(self, m_lo: float, m_hi: float) -> Dataset:
        """The bins fully inside [m_lo, m_hi] GeV (covariance sub-block)."""
        keep = (self.edges[:-1] >= m_lo - 1e-9) & (self.edges[1:] <= m_hi + 1e-9)
        if keep.sum() < 2:
            raise SmeftfmError(f"{self.name}: fewer than two bins inside [{m_lo}, {m_hi}] GeV")
        idx = np.flatnonzero(keep)
        edges = np.append(self.edges[idx], self.edges[idx[-1] + 1])
        return Dataset(self.name, edges, self.values[idx], self.cov[np.ix_(idx, idx)], self.phase_space, self.meta)


def _to_pb(units: str, where: str) -> float:
    key = units.replace(" ", "").upper()
    if key not in _UNIT_TO_PB:
        raise DataError(f"{where}: unsupported units '{units}'; use one of {sorted(_UNIT_TO_PB)}")
    return _UNIT_TO_PB[key]


def _breakdown_cov(dep, spec: dict, where: str) -> np.ndarray:
    unc = list(spec.get("uncorrelated", []))
    cor = list(spec.get("correlated", []))
    labels = set(dep.errors)
    declared = set(unc) | set(cor)
    if labels != declared:
        raise DataError(
            f"{where}: the covariance declaration must name every error label exactly once; "
            f"undeclared {sorted(labels - declared)}, unknown {sorted(declared - labels)}"
        )
    cov = np.diag(sum((dep.errors[k] ** 2 for k in unc), np.zeros(dep.values.size)))
    for k in cor:
        cov += np.outer(dep.errors[k], dep.errors[k])
    return cov


def load_dataset(folder: str | Path) -> Dataset:
    """Read ``folder/dataset.yaml`` and its HEPData tables into a :class:`Dataset` (pb/GeV)."""
    folder = Path(folder)
    mpath = folder / "dataset.yaml"
    if not mpath.exists():
        raise DataError(f"no dataset manifest {mpath}; each dataset folder needs a dataset.yaml")
    man = yaml.safe_load(mpath.read_text()) or {}
    where = str(mpath)
    for key in ("name", "files", "covariance", "phase_space"):
        if key not in man:
            raise DataError(f"{where}: missing '{key}'")
    ps = DatasetPhaseSpace.from_manifest(man["phase_space"], where)
    table = read_hepdata_table(folder / man["files"]["values"])
    dep = table.dependent[0]
    scale = _to_pb(dep.units, table.path)
    edges = table.edges(0)
    values = dep.values * scale
    kind = man["covariance"].get("kind")
    if kind == "table":
        ctab = read_hepdata_table(folder / man["files"]["covariance"])
        unit = _to_pb(ctab.dependent[0].units.replace("^2", ""), ctab.path)
        cov = covariance_from_table(ctab, values.size) * unit**2
    elif kind == "breakdown":
        cov = _breakdown_cov(dep, man["covariance"], where) * scale**2
    else:
        raise DataError(f"{where}: covariance.kind must be 'table' or 'breakdown', got {kind!r}")
    try:
        np.linalg.cholesky(cov)
    except np.linalg.LinAlgError:
        raise DataError(f"{where}: the covariance is not positive definite") from None
    meta = {k: man[k] for k in ("title", "source", "luminosity_fb", "units") if k in man}
    return Dataset(str(man["name"]), edges, values, cov, ps, meta)


def load_datasets(root: str | Path, folders: list[str]) -> list[Dataset]:
    return [load_dataset(Path(root) / f) for f in folders]
