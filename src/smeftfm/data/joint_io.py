"""Reading and writing the 2-D (m_ll, p_T) morphing templates sigma_{i cap j} (pb per 2-D bin, per term)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import DataError
from ..physics.morphing import Order, monomials, term_names
from .parquet_io import file_hash, read_meta, read_parquet, write_parquet
from .universes import align_coefficients

__all__ = ["JointTemplates", "read_joint", "write_joint"]


@dataclass(frozen=True)
class JointTemplates:
    """``values [n_terms, n_mll, n_pt]`` in pb: the cross section in m_ll bin i and p_T bin j per morphing term."""

    operators: tuple[str, ...]
    order: Order
    values: np.ndarray
    meta: dict

    def cross_sections(self, universe_ops, coeffs: np.ndarray, order: Order | None = None) -> np.ndarray:
        """sigma_{i cap j}(C) in pb, [n, n_mll, n_pt], for coefficients over ``universe_ops`` (rows of ``coeffs``)."""
        order = order or self.order
        c = align_coefficients(list(universe_ops), np.atleast_2d(coeffs), self.operators, order)
        mono = monomials(c, order)
        t = self.values[: mono.shape[-1]]
        return np.einsum("nt,tij->nij", mono, t)

    @property
    def sm(self) -> np.ndarray:
        """The SM term sigma_{i cap j} (pb), [n_mll, n_pt]."""
        return self.values[0]


def write_joint(values: np.ndarray, operators: tuple[str, ...], order: Order, path: str | os.PathLike[str],
                meta: dict) -> Path:
    """Long format: term, mll_bin, pt_bin, sigma_pb."""
    terms = term_names(operators, order)
    n_t, n_m, n_p = values.shape
    df = pd.DataFrame({"term": np.repeat(np.asarray(terms, dtype=object), n_m * n_p),
                       "mll_bin": np.tile(np.repeat(np.arange(n_m, dtype=np.int32), n_p), n_t),
                       "pt_bin": np.tile(np.arange(n_p, dtype=np.int32), n_t * n_m),
                       "sigma_pb": values.ravel()})
    m = dict(meta)
    m.update({"operators": list(operators), "order": order, "shape": [n_t, n_m, n_p], "units": "pb"})
    return write_parquet(df, path, m)


def read_joint(path: str | os.PathLike[str]) -> JointTemplates:
    """Load :func:`write_joint` output; fails clearly when the file or its metadata is missing."""
    if not Path(path).exists():
        raise DataError(f"{path} not found; run the joint stage (`dvc repro joint` or `smeftfm joint`)")
    meta = read_meta(path)
    if "shape" not in meta or "operators" not in meta:
        raise DataError(f"{path} has no joint-template metadata; rebuild it with `smeftfm joint`")
    df = read_parquet(path)
    values = df["sigma_pb"].to_numpy(np.float64).reshape(meta["shape"])
    meta["sha256"] = file_hash(path)
    return JointTemplates(tuple(meta["operators"]), meta["order"], values, meta)
