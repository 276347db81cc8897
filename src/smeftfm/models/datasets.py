"""Loading the corpus, the theory spectra and the universes (data contracts of the data stages).

* ``data/corpus/split={train,val,test}/part-*.parquet``: ``label`` (int32), ``replica`` (int32) and the 92
  float32 bins ``mll_00``..``mll_59``, ``pt_00``..``pt_31`` (pb/GeV).
* ``data/spectra.parquet``: ``universe`` (``SM``, ``U000``..), ``label`` (-1 for SM), ``has_negative`` and the
  92 float64 bins.
* ``data/universes.parquet``: ``universe``, ``label`` and one float64 column per sampled operator.

Everything is read column-wise by Arrow straight into contiguous numpy arrays (no per-row Python).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..data.parquet_io import read_meta, read_parquet
from ..data.replicas import SPLITS, read_corpus
from ..data.universes import operator_columns
from ..errors import DataError
from ..physics.observables import select_bin_columns

__all__ = ["SPLITS", "Split", "Theory", "load_split", "load_theory"]



@dataclass(frozen=True)
class Split:
    """One corpus split: spectra ``x [n, 92]`` (float32, pb/GeV), ``label [n]`` and ``replica [n]``."""

    x: np.ndarray
    label: np.ndarray
    replica: np.ndarray
    columns: tuple[str, ...]


def load_split(corpus_dir: str | Path, split: str) -> Split:
    """Read every shard of ``corpus_dir/split=<split>/``."""
    d = Path(corpus_dir) / f"split={split}"
    table = read_corpus(corpus_dir, split)
    names = table.column_names
    cols = select_bin_columns(names)
    missing = [c for c in ("label", "replica") if c not in names]
    if missing or not cols:
        raise DataError(f"{d} lacks columns {missing or 'spectrum bin columns (mll_*, pt_*, ...)'}; "
                        "the corpus does not follow the contract")
    x = np.column_stack([table.column(c).to_numpy().astype(np.float32, copy=False) for c in cols])
    if not np.all(np.isfinite(x)):
        raise DataError(f"{d} contains non-finite spectra; re-run the corpus stage")
    return Split(x=np.ascontiguousarray(x), label=table.column("label").to_numpy().astype(np.int64),
                 replica=table.column("replica").to_numpy().astype(np.int64), columns=tuple(cols))


@dataclass(frozen=True)
class Theory:
    """Theory spectra and coefficients: ``y [U, 92]`` of universes 0..U-1, ``y_sm [92]``, ``coeffs [U, P]``."""

    names: tuple[str, ...]
    labels: np.ndarray
    y: np.ndarray
    y_sm: np.ndarray
    operators: tuple[str, ...]
    coeffs: np.ndarray
    columns: tuple[str, ...]
    meta: dict


def load_theory(spectra_path: str | Path, universes_path: str | Path) -> Theory:
    """Spectra of all universes and of the SM, with the Wilson coefficients aligned on ``label``."""
    sp = read_parquet(spectra_path)
    un = read_parquet(universes_path)
    cols = select_bin_columns(sp.columns)
    for name, df, need in (("spectra", sp, ["universe", "label"]), ("universes", un, ["universe", "label"])):
        lack = [c for c in need if c not in df.columns]
        if lack:
            raise DataError(f"{name} file lacks columns {lack}; re-run the universes/spectra stage")
    if not cols:
        raise DataError(f"{spectra_path} has no spectrum bin columns (mll_*, pt_*, ...)")
    sm_rows = sp[sp["universe"] == "SM"]
    if len(sm_rows) != 1:
        raise DataError(f"{spectra_path} must hold exactly one 'SM' row, found {len(sm_rows)}")
    bsm = sp[sp["label"] >= 0].sort_values("label")
    ops = operator_columns(un)
    un_b = un[un["label"] >= 0].sort_values("label")
    if not np.array_equal(bsm["label"].to_numpy(), un_b["label"].to_numpy()):
        raise DataError("spectra and universes disagree on the universe labels; re-run `dvc repro`")
    labels = bsm["label"].to_numpy().astype(np.int64)
    if not np.array_equal(labels, np.arange(len(labels))):
        raise DataError("universe labels must be 0..n-1 without gaps")
    return Theory(names=tuple(bsm["universe"].astype(str)), labels=labels,
                  y=bsm[cols].to_numpy(np.float64), y_sm=sm_rows[cols].to_numpy(np.float64)[0],
                  operators=tuple(ops), coeffs=un_b[ops].to_numpy(np.float64), columns=tuple(cols),
                  meta=read_meta(spectra_path))
