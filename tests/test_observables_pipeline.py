"""Observables through the tiny pipeline: templates -> universes -> spectra -> corpus -> train -> heads -> report.

1. All four registered observables (m_ll, p_T, y_ll, cos theta_CS) in one configuration.
2. A toy observable added exactly as docs/extending.md says: one registry entry plus its binning in params.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from smeftfm.cli import app
from smeftfm.data.parquet_io import read_parquet
from smeftfm.physics import observables as obs_registry

ROOT = Path(__file__).resolve().parents[1]
FOUR = {"y_ll": {"lo": -2.5, "hi": 2.5, "n": 6}, "cos_cs": {"edges": [-1.0, -0.5, 0.0, 0.5, 1.0]}}


def _stages(tmp: Path, params: Path) -> list[list[str]]:
    p = ["--params", str(params)]
    d = tmp / "data"
    return [
        ["templates", "--out", str(d / "templates.parquet"), *p],
        ["universes", "--out", str(d / "universes.parquet"), *p],
        ["spectra", "--out", str(d / "spectra.parquet"), "--universes", str(d / "universes.parquet"),
         "--templates", str(d / "templates.parquet"), *p],
        ["corpus", "--out", str(d / "corpus"), "--spectra", str(d / "spectra.parquet"),
         "--templates", str(d / "templates.parquet"), *p],
        ["train", "--corpus", str(d / "corpus"), "--spectra", str(d / "spectra.parquet"),
         "--universes", str(d / "universes.parquet"), "--model", str(tmp / "models" / "encoder"),
         "--embeddings", str(d / "embeddings"), "--metrics", str(tmp / "reports/metrics/train.json"),
         "--plots", str(tmp / "reports/plots/train_loss.csv"), *p],
        ["heads", "--embeddings", str(d / "embeddings"), "--model", str(tmp / "models" / "encoder"),
         "--spectra", str(d / "spectra.parquet"), "--universes", str(d / "universes.parquet"),
         "--templates", str(d / "templates.parquet"), "--out", str(d / "heads"),
         "--metrics", str(tmp / "reports/metrics/heads.json"), *p],
    ]


def _report(tmp: Path, params: Path) -> None:
    """The report stage on the real outputs above, with synthetic loop/informer inputs (not under test here)."""
    from tests.reports.conftest import write_synthetic_outputs

    syn = tmp / "synthetic"
    write_synthetic_outputs(syn)
    root = tmp / "root"
    d = tmp / "data"
    links = {"data/templates/spectra.parquet": d / "templates.parquet",
             "data/universes.parquet": d / "universes.parquet",
             "data/spectra.parquet": d / "spectra.parquet", "data/embeddings": d / "embeddings",
             "data/heads": d / "heads", "reports/metrics/train.json": tmp / "reports/metrics/train.json",
             "reports/plots/train_loss.csv": tmp / "reports/plots/train_loss.csv",
             "reports/metrics/heads.json": tmp / "reports/metrics/heads.json"}
    for rel in ("data/screen/operators.json", "data/loop/trace.parquet", "reports/metrics/loop.json",
                "reports/metrics/informer.json", "data/fit", "reports/metrics/scorecard.json",
                "reports/metrics/evaluation.json", "data/scorecard"):
        links[rel] = syn / rel
    for rel, src in links.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (shutil.copytree if src.is_dir() else shutil.copy)(src, root / rel)
    res = CliRunner().invoke(app, ["report", "--root", str(root), "--out", str(root / "reports"),
                                   "--headline", str(root / "reports/metrics/headline.json"),
                                   "--loop-plot", str(root / "reports/plots/loop_trace.csv"),
                                   "--params", str(params)])
    assert res.exit_code == 0, res.output
    assert (root / "reports" / "index.html").stat().st_size > 0


def _run(tmp: Path, observables: dict) -> Path:
    data = yaml.safe_load((ROOT / "tests" / "fixtures" / "params_tiny.yaml").read_text())
    data["observables"].update(observables)
    data["corpus"]["n_replicas"] = 100
    data["corpus"]["nugget"] = 1.0  # the exact cross-covariance between histograms exists for m_ll x p_T only
    params = tmp / "params.yaml"
    params.write_text(yaml.safe_dump(data, sort_keys=False))
    runner = CliRunner()
    for args in _stages(tmp, params):
        res = runner.invoke(app, args)
        assert res.exit_code == 0, (args[0], res.output, res.exception)
    _report(tmp, params)
    return params


@pytest.mark.slow
def test_all_four_observables_run_through_the_tiny_pipeline(tmp_path):
    _run(tmp_path, FOUR)
    cols = [c for c in read_parquet(tmp_path / "data" / "spectra.parquet").columns if c[-1].isdigit()]
    prefixes = list(dict.fromkeys(c.rsplit("_", 1)[0] for c in cols))
    assert prefixes == ["mll", "pt", "y_ll", "cos_cs"] and len(cols) == 60 + 32 + 6 + 4
    enc = json.loads((tmp_path / "models" / "encoder" / "encoder.json").read_text())
    assert enc["encoder"]["n_inputs"] == len(cols) and enc["meta"]["columns"] == cols
    # the training inputs include the new columns and the SM y_ll spectrum is symmetric
    sm = read_parquet(tmp_path / "data" / "spectra.parquet").iloc[0]
    y = sm[[c for c in cols if c.startswith("y_ll")]].to_numpy(float)
    np.testing.assert_allclose(y, y[::-1], rtol=1e-10)


@pytest.fixture
def toy_observable():
    """The mu+ p_T, registered exactly as docs/extending.md shows (and removed afterwards)."""
    from smeftfm.physics.observables import Observable, register

    def pt_mu_plus(m, y, cos_cs):
        # at LO the pair has no p_T, so both muons have p_T = (m/2) sin theta*
        return 0.5 * np.asarray(m) * np.sqrt(np.clip(1.0 - np.asarray(cos_cs) ** 2, 0.0, None))

    register(Observable(name="ptplus", symbol=r"p_T(\mu^+)", unit="GeV", lo=0.0, hi=np.inf, per_event=pt_mu_plus,
                        integrator=lambda oracle, binning, order, spec: oracle._pt_bins(binning, order, spec)))
    yield
    obs_registry.REGISTRY.pop("ptplus")


@pytest.mark.slow
def test_a_toy_observable_is_one_registry_entry_plus_params(tmp_path, toy_observable):
    _run(tmp_path, {"ptplus": {"lo": 10.0, "hi": 330.0, "n": 8}})
    df = read_parquet(tmp_path / "data" / "spectra.parquet")
    toy = [c for c in df.columns if c.startswith("ptplus_")]
    assert len(toy) == 8
    # LO: p_T(mu+) = p_T(mu-); the toy's 40 GeV bins are means of four 10 GeV p_T(mu-) bins, up to the tiny
    # quadrature (pt_nodes: 4 gives ~2e-3 in the bin holding the Jacobian peak)
    pt = df[[f"pt_{i:02d}" for i in range(32)]].to_numpy()
    np.testing.assert_allclose(df[toy].to_numpy(), pt.reshape(len(df), 8, 4).mean(-1), rtol=5e-3)
    assert isinstance(df, pd.DataFrame)
