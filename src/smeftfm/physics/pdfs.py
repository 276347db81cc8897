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

__all__ = ["LHAPDF_URL", "PDF", "PROJECT_PDF_DIR", "QUARKS", "download_pdf_set", "find_pdf_set", "load_pdf",
           "search_paths"]

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
        self._banks: dict = {}

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

    def xfxQ_many(self, pids: tuple[int, ...] | list[int], x: np.ndarray, q: np.ndarray) -> np.ndarray:
        """x f(x, Q) for several flavours at once, shape [..., len(pids)].

        With the ``parton`` backend the bicubic B-spline basis in (log x, log Q^2) is built once per point and
        contracted with the spline coefficients of every flavour (the flavours share their knots), which is
        several times faster than one spline call per flavour and gives identical numbers.
        """
        x = np.asarray(x, dtype=np.float64)
        q = np.broadcast_to(np.asarray(q, dtype=np.float64), x.shape)
        pids = tuple(21 if p == 0 else p for p in pids)
        if self._grids is None:  # pragma: no cover
            return np.stack([self.xfxQ(p, x, q) for p in pids], axis=-1)
        out = np.zeros(x.shape + (len(pids),))
        inside = x < 1.0
        logx = np.log(np.clip(x[inside], self._x_lo, 1.0))
        q2 = np.clip(q[inside], self._q_lo, self._q_hi) ** 2
        vals = np.zeros((logx.size, len(pids)))
        done = np.zeros(logx.size, dtype=bool)
        for gi, g in enumerate(self._grids):
            sel = ~done & (q2 >= g.Q.min() ** 2 * (1 - 1e-12)) & (q2 <= g.Q.max() ** 2 * (1 + 1e-12))
            if sel.any():
                vals[sel] = self._bank(gi, pids).evaluate(logx[sel], np.log(q2[sel]))
                done |= sel
        out[inside] = vals
        return out

    def _bank(self, gi: int, pids: tuple[int, ...]):
        key = (gi, pids)
        if key not in self._banks:
            assert self._grids is not None  # the parton backend
            self._banks[key] = _SplineBank([self._grids[gi].interpolator(p) for p in pids])
        return self._banks[key]

    def f(self, pid: int, x: np.ndarray, q: np.ndarray) -> np.ndarray:
        """Number density f_pid(x, Q) = xfxQ / x."""
        x = np.asarray(x, dtype=np.float64)
        return self.xfxQ(pid, x, q) / x


class _SplineBank:
    """Bicubic splines of several flavours on one subgrid, sharing knots: evaluate all at once."""

    def __init__(self, splines: list) -> None:
        tx, ty, _ = splines[0].tck
        if not all(np.array_equal(s.tck[0], tx) and np.array_equal(s.tck[1], ty) for s in splines):
            raise ValueError("flavour splines do not share knots")
        self.kx, self.ky = splines[0].degrees
        self.tx, self.ty = tx, ty
        self.ny = ty.size - self.ky - 1
        self.coef = np.stack([s.tck[2] for s in splines], axis=-1)  # [(nx * ny), F]
        self.x_range = (tx[self.kx], tx[-self.kx - 1])
        self.y_range = (ty[self.ky], ty[-self.ky - 1])

    def evaluate(self, logx: np.ndarray, logq2: np.ndarray, chunk: int = 65536) -> np.ndarray:
        from scipy.interpolate import BSpline

        out = np.empty((logx.size, self.coef.shape[1]))
        lx = np.clip(logx, *self.x_range)
        ly = np.clip(logq2, *self.y_range)
        kx1, ky1 = self.kx + 1, self.ky + 1
        for s0 in range(0, lx.size, chunk):
            sl = slice(s0, s0 + chunk)
            n = lx[sl].size
            bx = BSpline.design_matrix(lx[sl], self.tx, self.kx)
            by = BSpline.design_matrix(ly[sl], self.ty, self.ky)
            ix, wx = bx.indices.reshape(n, kx1), bx.data.reshape(n, kx1)
            iy, wy = by.indices.reshape(n, ky1), by.data.reshape(n, ky1)
            w = (wx[:, :, None] * wy[:, None, :]).reshape(n, -1)
            flat = (ix[:, :, None] * self.ny + iy[:, None, :]).reshape(n, -1)
            out[sl] = np.einsum("nk,nkf->nf", w, self.coef[flat])
        return out


@lru_cache(maxsize=8)
def load_pdf(name: str = "CT18LO", member: int = 0) -> PDF:
    """Cached :class:`PDF` for a set name and member."""
    return PDF(name, member)
