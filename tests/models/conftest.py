"""Small synthetic corpora in the data contract format, for the model tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from smeftfm.data.parquet_io import write_parquet

N_MLL, N_PT = 60, 32
COLUMNS = [f"mll_{i:02d}" for i in range(N_MLL)] + [f"pt_{i:02d}" for i in range(N_PT)]


def sm_spectrum() -> np.ndarray:
    """A falling, positive toy spectrum (pb/GeV) with a peak in bin mll_04, 92 bins."""
    m = np.linspace(55, 645, N_MLL)
    mll = 1.0 / ((m**2 - 91.19**2) ** 2 + (91.19 * 2.5) ** 2) * 1e6 + 1e-4 * (100 / m) ** 4
    pt = 10.0 * np.exp(-np.linspace(15, 325, N_PT) / 40.0) + 1e-4
    return np.concatenate([mll, pt])


def make_universes(n_univ: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Coefficients ``[n, 3]`` and spectra ``[n, 92]``: each universe bends the SM with three shapes."""
    ops = ["clq1", "cHl3", "cll1"]
    coeffs = rng.uniform(-1, 1, size=(n_univ, 3))
    x = np.linspace(0, 1, N_MLL + N_PT)
    shapes = np.stack([x**2, np.sin(3 * np.pi * x), np.exp(-((x - 0.2) / 0.05) ** 2)])
    y = sm_spectrum() * (1.0 + 0.6 * coeffs @ shapes)
    return coeffs, y, ops


def write_synthetic(root: Path, n_univ: int = 6, n_rep: int = 120, noise: float = 0.05, seed: int = 0) -> dict:
    """Write universes.parquet, spectra.parquet and corpus/ (80/10/10 by replica) under ``root``."""
    rng = np.random.default_rng(seed)
    coeffs, y, ops = make_universes(n_univ, rng)
    names = [f"U{i:03d}" for i in range(n_univ)]
    un = pd.DataFrame({"universe": ["SM", *names], "label": np.arange(-1, n_univ, dtype=np.int32)})
    for k, op in enumerate(ops):
        un[op] = np.concatenate([[0.0], coeffs[:, k]])
    write_parquet(un, root / "universes.parquet", {"operators": ops})
    sp = pd.DataFrame(np.vstack([sm_spectrum(), y]), columns=COLUMNS)
    sp.insert(0, "has_negative", False)
    sp.insert(0, "label", un["label"].to_numpy())
    sp.insert(0, "universe", un["universe"].to_numpy())
    write_parquet(sp, root / "spectra.parquet", {"operators": ops})
    n_tr, n_va = int(0.8 * n_rep), int(0.1 * n_rep)
    bounds = {"train": (0, n_tr), "val": (n_tr, n_tr + n_va), "test": (n_tr + n_va, n_rep)}
    for split, (a, b) in bounds.items():
        reps = np.arange(a, b)
        lab = np.repeat(np.arange(n_univ), len(reps))
        rr = np.tile(reps, n_univ)
        vals = y[lab] * (1.0 + noise * rng.standard_normal((len(lab), y.shape[1])))
        df = pd.DataFrame(vals.astype(np.float32), columns=COLUMNS)
        df.insert(0, "replica", rr.astype(np.int32))
        df.insert(0, "label", lab.astype(np.int32))
        write_parquet(df, root / "corpus" / f"split={split}" / "part-00000.parquet", {})
    return {"coeffs": coeffs, "y": y, "ops": ops}


@pytest.fixture
def synthetic_data(tmp_path) -> tuple[Path, dict]:
    info = write_synthetic(tmp_path)
    return tmp_path, info


@pytest.fixture
def toy_sm() -> np.ndarray:
    return sm_spectrum()
