"""Building blocks of the report: figures, tables and sections, and how they are saved.

Every figure function of :mod:`smeftfm.reports` takes plain arrays (so it can be tested on synthetic inputs)
and returns a :class:`Figure`: the matplotlib figure plus a one-line caption saying what to look for.
Figures are written as PNG files beside ``reports/index.html`` by :func:`save_figure` (atomically).
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display: the report is rendered on servers and in CI

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from ..atomic import atomic_path  # noqa: E402
from ..errors import SmeftfmError  # noqa: E402

__all__ = ["Figure", "PALETTE", "SM_COLOR", "Section", "Table", "fmt", "legend_figure", "new_figure", "panels_figure",
           "require_shape", "save_figure", "step"]

#: Colour of the Standard Model in every figure.
SM_COLOR = "black"
#: Fixed palette for discrete categories (sigma levels, arms, clusters).
PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf")


@dataclass
class Figure:
    """A rendered figure: ``name`` is the PNG file stem, ``caption`` says in one line what to look for."""

    name: str
    title: str
    caption: str
    fig: plt.Figure


def legend_figure(fig: plt.Figure, ax, name: str, title: str, caption: str, **legend) -> Figure:
    """Draw ``ax``'s legend (font size 7, no frame, plus the ``legend`` options) and wrap ``fig``."""
    ax.legend(fontsize=7, frameon=False, **legend)
    return Figure(name, title, caption, fig)


def panels_figure(fig: plt.Figure, legend_ax, name: str, title: str, caption: str) -> Figure:
    """A grid of panels: a small legend in the lower right of ``legend_ax`` (None: no legend), tight layout."""
    if legend_ax is not None:
        legend_ax.legend(fontsize=6, loc="lower right")
    fig.tight_layout()
    return Figure(name, title, caption, fig)


@dataclass
class Table:
    """A small table shown in the HTML page and in ``summary.md``; cells are already formatted strings."""

    name: str
    title: str
    caption: str
    header: list[str]
    rows: list[list[str]]

    def __post_init__(self) -> None:
        bad = [i for i, r in enumerate(self.rows) if len(r) != len(self.header)]
        if bad:
            raise SmeftfmError(f"table '{self.name}': rows {bad[:5]} do not have {len(self.header)} cells")


@dataclass
class Section:
    """One part of the report (e.g. "Oracle", "Latent space"); ``items`` are figures, tables or notes (str)."""

    key: str
    title: str
    intro: str
    items: list[Figure | Table | str] = field(default_factory=list)


def new_figure(ncols: int = 1, nrows: int = 1, width: float = 5.0, height: float = 3.8, **kw):
    """A figure with ``nrows x ncols`` axes of ``width x height`` inches each (constrained layout)."""
    fig, axes = plt.subplots(nrows, ncols, figsize=(width * ncols, height * nrows), layout="constrained",
                             squeeze=False, **kw)
    return fig, axes


def save_figure(figure: Figure, outdir: str | Path, dpi: int = 110) -> Path:
    """Write ``figure`` as ``<outdir>/<name>.png`` atomically and close it; returns the path."""
    buf = io.BytesIO()
    figure.fig.savefig(buf, format="png", dpi=dpi)
    plt.close(figure.fig)
    target = Path(outdir) / f"{figure.name}.png"
    with atomic_path(target) as tmp:
        tmp.write_bytes(buf.getvalue())
        tmp.chmod(0o644)  # readable by a web server, like any published page
    return target


def fmt(x: float | int | None, digits: int = 3) -> str:
    """Format a number for a table: ``None``/NaN as an en dash, integers plainly, floats to ``digits`` significant."""
    if x is None:
        return "–"
    if isinstance(x, bool | np.bool_):
        return "yes" if x else "no"
    if isinstance(x, int | np.integer):
        return str(int(x))
    xf = float(x)
    if math.isnan(xf):
        return "–"
    if xf != 0 and (abs(xf) < 1e-3 or abs(xf) >= 1e5):
        return f"{xf:.{max(digits - 1, 0)}e}"
    return f"{xf:.{digits}g}"


def step(ax, edges: np.ndarray, values: np.ndarray, **kw):
    """Histogram-style line of ``values`` per bin between ``edges``."""
    kw.setdefault("baseline", None)
    return ax.stairs(np.asarray(values, dtype=float), np.asarray(edges, dtype=float), **kw)


def require_shape(name: str, arr: np.ndarray, shape: Sequence[int | None]) -> np.ndarray:
    """``arr`` as a float array checked against ``shape`` (None = any length); a clear error otherwise."""
    a = np.asarray(arr, dtype=np.float64)
    if a.ndim != len(shape) or any(s is not None and s != n for s, n in zip(shape, a.shape, strict=True)):
        raise SmeftfmError(f"{name}: expected an array of shape {tuple(shape)}, got {a.shape}")
    return a
