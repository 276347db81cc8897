"""One-off conversion of the plain-text sources in this folder to HEPData submission-format YAML tables.

Run from the repository root: ``python data/measurements/sources/convert.py``. The outputs are committed; this
script only documents how they were made (the numbers are copied, never changed).

Sources (plain text, each converted by NNPDF from the HEPData records; see data/measurements/README.md):
  CMS_HMDY_13TEV.data / .cov       NNPDF/nnpdf buildmaster/rawdata/CMS_HMDY_13TEV (commits a56ed79 / d74b3ce)
                                   = HEPData ins1711625 Table 7 (values, total uncertainty) and Table 10 (covariance)
  ATLAS-49fb-Zhighmass.data/.sys   NNPDF/nnpdf buildmaster/rawdata/ATLASZHIGHMASS49FB (commit a56ed79)
                                   = ATLAS, PLB 725 (2013) 223, Table 1 (Born level, with the uncertainty breakdown)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import yaml

HERE = Path(__file__).parent
OUT = HERE.parent


def _rows(path: Path) -> list[list[float]]:
    out = []
    for line in path.read_text().splitlines():
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        try:
            out.append([float(t) for t in s.split()])
        except ValueError:
            continue  # header lines of the .sys file
    return out


def _dump(obj: dict, path: Path) -> None:
    path.write_text(yaml.safe_dump(obj, sort_keys=False, width=200))


def cms() -> None:
    rows = np.array(_rows(HERE / "CMS_HMDY_13TEV.data"))
    cov = np.array(_rows(HERE / "CMS_HMDY_13TEV.cov"))
    n = rows.shape[0]
    assert cov.shape == (n, n), cov.shape
    mll = {"header": {"name": "$m_{\\ell\\ell}$", "units": "GEV"},
           "values": [{"low": float(a), "high": float(b)} for a, b in rows[:, :2]]}
    quals = [{"name": "RE", "value": "P P --> Z0/GAMMA* --> LEPTON+ LEPTON- X"},
             {"name": "SQRT(S)", "units": "GEV", "value": 13000},
             {"name": "PHASE SPACE", "value": "full (FSR-corrected, combined ee and mumu, per lepton flavour)"}]
    dep = {"header": {"name": "$d\\sigma/dm_{\\ell\\ell}$", "units": "PB/GEV"}, "qualifiers": quals,
           "values": [{"value": float(v), "errors": [{"symerror": float(e), "label": "total"}]}
                      for v, e in rows[:, 2:4]]}
    _dump({"independent_variables": [mll], "dependent_variables": [dep]}, OUT / "cms_dy_13tev" / "Table7.yaml")
    ii, jj = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    lo, hi = rows[:, 0], rows[:, 1]
    bins_i = {"header": {"name": "$m_{\\ell\\ell}$ bin i", "units": "GEV"},
              "values": [{"low": float(lo[i]), "high": float(hi[i])} for i in ii.ravel()]}
    bins_j = {"header": {"name": "$m_{\\ell\\ell}$ bin j", "units": "GEV"},
              "values": [{"low": float(lo[j]), "high": float(hi[j])} for j in jj.ravel()]}
    depc = {"header": {"name": "covariance", "units": "PB^2/GEV^2"}, "qualifiers": quals,
            "values": [{"value": float(v)} for v in cov.ravel()]}
    _dump({"independent_variables": [bins_i, bins_j], "dependent_variables": [depc]},
          OUT / "cms_dy_13tev" / "Table10.yaml")


ATLAS_SOURCES = [  # column of the .sys file -> (label, correlation)
    ("stat", "uncorrelated"),
    ("sys,Nbkg stat", "uncorrelated"),
    ("sys,CDY stat", "uncorrelated"),
    ("sys,Nbkg", "correlated"),
    ("sys,Reco", "correlated"),
    ("sys,Id", "correlated"),
    ("sys,Energy scale and resolution", "correlated"),
    ("sys,Unfolding", "correlated"),
    ("sys,Trigger", "correlated"),
    ("sys,MC modelling", "correlated"),
    ("sys,Theoretical", "correlated"),
    ("sys,Luminosity", "correlated"),
]


def atlas() -> None:
    val = np.array(_rows(HERE / "ATLAS-49fb-Zhighmass.data"))
    sys = np.array(_rows(HERE / "ATLAS-49fb-Zhighmass.sys"))
    assert np.allclose(val[:, :2], sys[:, :2])
    mll = {"header": {"name": "$m_{ee}$", "units": "GEV"},
           "values": [{"low": float(a), "high": float(b)} for a, b in val[:, :2]]}
    quals = [{"name": "RE", "value": "P P --> Z0/GAMMA* --> E+ E- X"},
             {"name": "SQRT(S)", "units": "GEV", "value": 7000},
             {"name": "PHASE SPACE", "value": "fiducial: both electrons pT > 25 GeV, |eta| < 2.5; Born level"}]
    values = []
    for k in range(val.shape[0]):
        errs = [{"symerror": f"{sys[k, 2 + c]:g}%", "label": lab} for c, (lab, _) in enumerate(ATLAS_SOURCES)]
        values.append({"value": float(val[k, 2]), "errors": errs})
    dep = {"header": {"name": "$d\\sigma/dm_{ee}$", "units": "PB/GEV"}, "qualifiers": quals, "values": values}
    _dump({"independent_variables": [mll], "dependent_variables": [dep]}, OUT / "atlas_dy_7tev_hm" / "Table1.yaml")


if __name__ == "__main__":
    cms()
    atlas()
