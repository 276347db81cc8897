"""The ``events`` dataset: unweighted events at working points, one Parquet row group per point.

Columns: point (string), m_ll [GeV], y_ll, cos_cs, then the working point's C_<op> (constant per group).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from ..atomic import atomic_path
from .events import NegativeRateError, SamplerStats
from .parquet_io import table_with_meta

__all__ = ["PointEvents", "WorkingPointEvents", "events_schema", "sample_working_points", "write_events"]


@dataclass
class PointEvents:
    """Events of one working point: name, coefficients, and (m_ll [GeV], y_ll, cos theta_CS) arrays."""

    name: str
    coeffs: np.ndarray
    m: np.ndarray
    y: np.ndarray
    cos_cs: np.ndarray


@dataclass
class WorkingPointEvents:
    """All sampled points, the skipped ones with the reason, and one metadata record per row group."""

    points: list[PointEvents] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    info: list[dict] = field(default_factory=list)


def sample_working_points(sampler, names: Iterable[str], labels: Iterable[int], coeffs: np.ndarray,
                          operators: tuple[str, ...], n: int, seed: int, on_negative: str,
                          step: Callable[[int], object] = lambda k: None) -> WorkingPointEvents:
    """n events per working point, random stream [seed, label + 1] (the SM, label -1, gets stream 0).

    A point whose linear rate is negative somewhere is skipped (``on_negative='skip'``) or fails (``'error'``).
    """
    out = WorkingPointEvents()
    for name, label, c in zip(names, labels, coeffs):
        rng = np.random.default_rng([seed, int(label) + 1])
        st = SamplerStats()
        try:
            m, y, cs = sampler.sample(c, n, rng, st)
        except NegativeRateError as err:
            if on_negative == "error":
                raise NegativeRateError(f"working point {name}: {err}") from None
            out.skipped[name] = "linear rate negative in part of the acceptance"
            step(1)
            continue
        out.points.append(PointEvents(name, c, m, y, cs))
        out.info.append({"row_group": len(out.points) - 1, "point": name, "label": int(label), "n": int(m.size),
                         "coeffs": dict(zip(operators, map(float, c))), "sigma_pb": st.sigma_pb,
                         "sigma_err_pb": st.sigma_err_pb, "efficiency": st.efficiency,
                         "envelope_refinements": st.n_restarts})
        step(1)
    return out


def events_schema(operators: list[str], meta: dict) -> pa.Schema:
    """Columns: point (string), m_ll [GeV], y_ll, cos_cs, then the working point's C_<op> (constant per group)."""
    fields = [pa.field("point", pa.string()), pa.field("m_ll", pa.float64()), pa.field("y_ll", pa.float64()),
              pa.field("cos_cs", pa.float64())]
    fields += [pa.field(f"C_{op}", pa.float64()) for op in operators]
    return table_with_meta(pa.schema(fields).empty_table(), meta).schema


def write_events(out: str | os.PathLike[str], points: list[PointEvents], operators: list[str], meta: dict) -> None:
    """Write the events atomically, one row group per working point (zstd)."""
    schema = events_schema(operators, meta)
    with atomic_path(out) as tmp:
        with pq.ParquetWriter(tmp, schema, compression="zstd") as w:
            for p in points:
                n = p.m.size
                cols = [pa.array([p.name] * n, pa.string()), pa.array(p.m), pa.array(p.y), pa.array(p.cos_cs)]
                cols += [pa.array(np.full(n, v)) for v in p.coeffs]
                w.write_table(pa.Table.from_arrays(cols, schema=schema), row_group_size=max(n, 1))
