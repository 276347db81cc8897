"""LHAPDF-format parton densities: locate a set, load one member, evaluate x f(x, Q) on arrays.

Backends, in order: the official ``lhapdf`` Python module when it is importable, otherwise ``parton``
(a maintained pure-Python reader of the same ``lhagrid1`` files, cubic splines in (log x, log Q^2)).
Sets are searched in ``$LHAPDF_DATA_PATH`` (colon separated, the standard variable), the ``lhapdf``
module's own paths, ``$SMEFTFM_PDF_DIR`` and the project's ``data/pdfsets``. :func:`download_pdf_set`
fetches a missing set from the LHAPDF site on a machine with internet.
"""

from __future__ import annotations

import logging
import os
import tarfile
import tempfile
import urllib.request
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..errors import PDFNotFoundError

LHAPDF_URL = "https://lhapdfsets.web.cern.ch/current/{name}.tar.gz"
PROJECT_PDF_DIR = Path("data") / "pdfsets"

#: PDG ids of the five light quark flavours and antiquarks used by the oracle.
QUARKS = {"d": 1, "u": 2, "s": 3, "c": 4, "b": 5}


def _lhapdf_module():
    try:  # pragma: no cover - lhapdf is not installable from the registries reachable here
        import lhapdf  # type: ignore

        lhapdf.setVerbosity(0)
        return lhapdf
    except Exception:  # ImportError or a broken installation
        return None


def search_paths() -> list[Path]:
    """Directories that may hold PDF sets, in search order."""
    paths: list[Path] = []
    for p in os.environ.get("LHAPDF_DATA_PATH", "").split(os.pathsep):
        if p:
            paths.append(Path(p))
    mod = _lhapdf_module()
    if mod is not None:  # pragma: no cover
        paths += [Path(p) for p in mod.paths()]
    if os.environ.get("SMEFTFM_PDF_DIR"):
        paths.append(Path(os.environ["SMEFTFM_PDF_DIR"]))
    paths.append(PROJECT_PDF_DIR.resolve())
    return paths


def find_pdf_set(name: str) -> Path:
    """Directory that contains ``<name>/<name>.info``; a clear error naming the fix otherwise."""
    for base in search_paths():
        if (base / name / f"{name}.info").is_file():
            return base
    searched = ", ".join(str(p) for p in search_paths()) or "(none)"
    raise PDFNotFoundError(
        f"PDF set '{name}' not found in: {searched}. Point LHAPDF_DATA_PATH at a folder holding {name}/ "
        f"(e.g. ../shared/pdfsets), or run `smeftfm pdf-download {name}` on a machine with internet."
    )


def download_pdf_set(name: str, dest: Path | None = None) -> Path:
    """Download and unpack ``name`` from the LHAPDF site into ``dest`` (default ``data/pdfsets``)."""
    dest = Path(dest or PROJECT_PDF_DIR)
    dest.mkdir(parents=True, exist_ok=True)
    url = LHAPDF_URL.format(name=name)
    with tempfile.TemporaryDirectory(dir=dest) as tmp:
        archive = Path(tmp) / f"{name}.tar.gz"
        try:
            urllib.request.urlretrieve(url, archive)  # noqa: S310 - fixed https URL
        except OSError as err:
            raise PDFNotFoundError(f"could not download PDF set '{name}' from {url}: {err}") from None
        with tarfile.open(archive) as tf:
            tf.extractall(tmp, filter="data")
        if not (Path(tmp) / name / f"{name}.info").is_file():
            raise PDFNotFoundError(f"the archive {url} has no {name}/{name}.info")
        target = dest / name
        if target.exists():
            raise PDFNotFoundError(f"{target} already exists; remove it to download again")
        os.replace(Path(tmp) / name, target)
    return dest


class PDF:
    """One member of an LHAPDF set; :meth:`xfxQ` returns x f(x, Q) for arrays of x and Q (GeV)."""

    def __init__(self, name: str, member: int = 0):
        self.name = name
        self.member = member
        base = find_pdf_set(name)
        member_file = base / name / f"{name}_{member:04d}.dat"
        mod = _lhapdf_module()
        if mod is not None:  # pragma: no cover
            self.backend = "lhapdf"
            self._pdf = mod.mkPDF(name, member)
            self._grids = None
            return
        if not member_file.is_file():
            raise PDFNotFoundError(
                f"PDF set '{name}' in {base} has no member {member} ({member_file.name} is missing); "
                f"use a member that is present (member 0 for the sets in ../shared/pdfsets)"
            )
        logging.getLogger().setLevel(logging.WARNING)  # parton configures INFO logging on import
        import parton

        self.backend = "parton"
        pdf = parton.mkPDF(name, member, pdfdir=str(base))
        self._grids = pdf.pdfgrids
        self._q_lo = min(float(g.Q.min()) for g in self._grids)
        self._q_hi = max(float(g.Q.max()) for g in self._grids)
        self._x_lo = min(float(g.x.min()) for g in self._grids)

    def xfxQ(self, pid: int, x: np.ndarray, q: np.ndarray) -> np.ndarray:
        """x f_pid(x, Q); x in (0, 1], Q in GeV; 0 at x >= 1, Q clamped into the grid's range."""
        x = np.asarray(x, dtype=np.float64)
        q = np.broadcast_to(np.asarray(q, dtype=np.float64), x.shape)
        if self._grids is None:  # pragma: no cover
            flat = np.array([self._pdf.xfxQ(pid, float(a), float(b)) for a, b in zip(x.ravel(), q.ravel())])
            return flat.reshape(x.shape)
        pid = 21 if pid == 0 else pid
        out = np.zeros(x.shape)
        inside = x < 1.0
        xs = np.clip(x[inside], self._x_lo, 1.0)
        q2 = np.clip(q[inside], self._q_lo, self._q_hi) ** 2
        vals = np.full(xs.shape, np.nan)
        logx, logq2 = np.log(xs), np.log(q2)
        for g in self._grids:
            todo = np.isnan(vals)
            if not todo.any():
                break
            sel = todo & (q2 >= g.Q.min() ** 2 * (1 - 1e-12)) & (q2 <= g.Q.max() ** 2 * (1 + 1e-12))
            if sel.any():
                vals[sel] = g.interpolator(pid)(logx[sel], logq2[sel], grid=False)
        out[inside] = np.nan_to_num(vals, nan=0.0)
        return out

    def f(self, pid: int, x: np.ndarray, q: np.ndarray) -> np.ndarray:
        """Number density f_pid(x, Q) = xfxQ / x."""
        x = np.asarray(x, dtype=np.float64)
        return self.xfxQ(pid, x, q) / x


@lru_cache(maxsize=8)
def load_pdf(name: str = "CT18LO", member: int = 0) -> PDF:
    """Cached :class:`PDF` for a set name and member."""
    return PDF(name, member)
