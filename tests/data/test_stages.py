"""The data stages run in-process on tiny parameters and honour the data contracts; params are validated."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import yaml

from smeftfm.config import parse_params
from smeftfm.data.events import read_events
from smeftfm.data.parquet_io import read_meta, read_parquet
from smeftfm.data.replicas import corpus_meta, read_corpus
from smeftfm.data.spectra import spectra_frame
from smeftfm.data.templates_io import write_templates
from smeftfm.errors import ConfigError, SmeftfmError
from smeftfm.stages.data import run_corpus, run_events, run_spectra, run_universes

ROOT = Path(__file__).resolve().parents[2]


def tiny_params(**overrides):
    data = yaml.safe_load((ROOT / "tests" / "fixtures" / "params_tiny.yaml").read_text())
    for dotted, value in overrides.items():
        sec, key = dotted.split(".")
        data[sec][key] = value
    return parse_params(data, "params_tiny.yaml")


@pytest.fixture(scope="module")
def built(tmp_path_factory, templates):
    d = tmp_path_factory.mktemp("stages")
    tpl = d / "templates.parquet"
    write_templates(templates, tpl)
    # the paper's noise model (rho = 1) needs no 2-D templates; rho < 1 is covered by tests/data/test_noise.py
    # and the tiny pipeline end to end
    p = tiny_params(**{"universes.n": 8, "corpus.n_replicas": 100, "corpus.shard_rows": 300,
                       "events.n_per_point": 300, "corpus.nugget": 1.0})
    run_universes(p, d / "universes.parquet", None)
    run_spectra(p, d / "spectra.parquet", d / "universes.parquet", tpl)
    run_corpus(p, d / "corpus", d / "spectra.parquet", tpl)
    metrics = run_events(p, d / "events.parquet", d / "universes.parquet")
    return d, p, metrics


def test_universes_and_spectra_contracts(built, templates):
    d, p, _ = built
    u = read_parquet(d / "universes.parquet")
    assert list(u.columns) == ["universe", "label", "clq1", "ceu", "cHq3"]  # catalog order
    assert u["universe"].iloc[0] == "SM" and len(u) == 9
    assert read_meta(d / "universes.parquet")["operators"] == ["clq1", "ceu", "cHq3"]
    s = read_parquet(d / "spectra.parquet")
    cols = [f"mll_{i:02d}" for i in range(60)] + [f"pt_{i:02d}" for i in range(32)]
    assert list(s.columns) == ["universe", "label", "has_negative"] + cols
    np.testing.assert_allclose(s[cols].to_numpy()[0], templates.term("SM"), rtol=1e-12)
    meta = read_meta(d / "spectra.parquet")
    assert meta["order"] == "linear" and len(meta["edges"]["mll"]) == 61 and meta["templates_sha256"]


def test_negative_bins_are_flagged_not_clipped(built, templates):
    d, _, _ = built
    u = read_parquet(d / "universes.parquet").iloc[:2].copy()
    u.loc[1, ["clq1", "cHq3", "ceu"]] = [2.0, 0.0, 2.0]
    s = spectra_frame(u, templates, "linear")
    y = templates.predict(np.array([2.0, 0.0, 2.0]))  # templates order: clq1, cHq3, ceu
    assert (y < 0).any()
    assert list(s["has_negative"]) == [False, True]
    # The frame multiplies a 2-row coefficient matrix (gemm), ``predict`` one vector (gemv): the same sum of
    # n_terms products in a BLAS-dependent order. Rounding bound: n_terms * eps * sum_k |c_k t_k| per bin.
    c = np.array([1.0, 2.0, 0.0, 2.0])  # monomials (1, C) of the linear order
    bound = len(c) * np.finfo(float).eps * (np.abs(c)[:, None] * np.abs(templates.values[: len(c)])).sum(0)
    diff = np.abs(s.iloc[1, 3:].to_numpy(dtype=float) - y)
    assert np.all(diff <= bound), float((diff / bound).max())


def test_corpus_every_universe_in_every_split(built):
    d, p, _ = built
    for split in ("train", "val", "test"):
        t = read_corpus(d / "corpus", split)
        assert sorted(set(t["label"].to_numpy())) == list(range(8))
    meta = corpus_meta(d / "corpus")
    assert meta["templates_sha256"] and meta["params"]["corpus"]["n_replicas"] == 100


def test_events_row_groups_carry_the_working_points(built):
    d, p, metrics = built
    path = d / "events.parquet"
    meta = read_meta(path)
    f = pq.ParquetFile(path)
    assert f.metadata.num_row_groups == metrics["n_points"] == len(meta["row_groups"])
    assert metrics["n_points"] + metrics["n_skipped"] == 9
    names = f.schema_arrow.names
    for g in meta["row_groups"]:
        rg = f.metadata.row_group(g["row_group"])
        assert rg.num_rows == 300
        for op, value in g["coeffs"].items():
            st = rg.column(names.index(f"C_{op}")).statistics
            assert st.min == st.max == pytest.approx(value, abs=0)
    ev = read_events(path, "SM")["SM"]
    assert ev["m_ll"].size == 300 and all(v == 0 for v in ev["coeffs"].values())
    assert "SM" == meta["row_groups"][0]["point"]


def test_misspelt_key_and_bad_value_give_one_clear_error():
    with pytest.raises(ConfigError, match=r"unknown key 'universes\.nn'"):
        tiny_params(**{"universes.nn": 3})
    with pytest.raises(ConfigError, match=r"corpus\.split"):
        tiny_params(**{"corpus.split": [0.5, 0.1, 0.1]})
    with pytest.raises(ConfigError, match=r"events\.on_negative"):
        tiny_params(**{"events.on_negative": "clip"})
    with pytest.raises(ConfigError, match=r"universes\.p_zero_max"):
        tiny_params(**{"universes.p_zero_max": 1.5})


def test_params_yaml_and_tiny_fixture_are_valid():
    from smeftfm.config import load_params

    assert load_params(ROOT / "params.yaml").corpus.n_replicas == 10_000
    assert load_params(ROOT / "tests" / "fixtures" / "params_tiny.yaml").corpus.n_replicas <= 1000


def test_same_seed_gives_byte_identical_stage_outputs(built, tmp_path):
    d, p, _ = built
    tpl = d / "templates.parquet"
    run_universes(p, tmp_path / "universes.parquet", None)
    run_spectra(p, tmp_path / "spectra.parquet", tmp_path / "universes.parquet", tpl)
    run_events(p, tmp_path / "events.parquet", tmp_path / "universes.parquet")
    for name in ("universes.parquet", "spectra.parquet", "events.parquet"):
        assert (tmp_path / name).read_bytes() == (d / name).read_bytes(), name


def test_killed_events_stage_leaves_no_output(built, tmp_path, monkeypatch):
    d, p, _ = built
    out = tmp_path / "events.parquet"

    def dying(self, *a, **k):
        raise KeyboardInterrupt("killed while writing")

    monkeypatch.setattr(pq.ParquetWriter, "write_table", dying)
    with pytest.raises(KeyboardInterrupt):
        run_events(p, out, d / "universes.parquet")
    assert not out.exists() and not list(tmp_path.glob(".tmp-*"))


def test_quadratic_order_spectra_and_events(oracle, tmp_path):
    """At quadratic order the spectra add the dimension-6 squared terms and the events stage samples them."""
    from smeftfm.data.events import sample_events
    from smeftfm.physics.oracle import QuadratureSpec

    tq = oracle.binned_templates("quadratic", spec=QuadratureSpec(6, 5.0, 8, 8, 4))
    c = np.array([2.0, 0.0, 2.0])  # negative somewhere at linear order
    table = pd.DataFrame({"universe": ["U000"], "label": [0], "clq1": [2.0], "ceu": [2.0], "cHq3": [0.0]})
    u = spectra_frame(table, tq, "quadratic")
    y = u.iloc[0, 3:].to_numpy(dtype=float)
    lin = tq.predict(c, order="linear")
    quad = tq.term("quad:clq1*clq1") * 4 + tq.term("quad:ceu*ceu") * 4 + tq.term("quad:clq1*ceu") * 4
    np.testing.assert_allclose(y, lin + quad, rtol=1e-12)
    assert (y >= 0).all() and not u["has_negative"].iloc[0]
    m, _, _ = sample_events(oracle, c, 500, np.random.default_rng(1), order="quadratic")
    assert m.size == 500


def test_corpus_under_rho_below_one_without_joint_templates_is_one_clear_error(built, tmp_path):
    """corpus.nugget < 1 needs the 2-D templates (the m_ll x p_T cross-covariance): without ``--joint`` the stage
    stops with a SmeftfmError naming the option and the stage that makes the file, before writing anything."""
    d, _, _ = built
    p = tiny_params(**{"universes.n": 8, "corpus.n_replicas": 100, "corpus.nugget": 0.5})
    with pytest.raises(SmeftfmError, match=r"--joint .*dvc repro joint"):
        run_corpus(p, tmp_path / "corpus", d / "spectra.parquet", d / "templates.parquet",
                   universes=d / "universes.parquet")
    assert not (tmp_path / "corpus").exists()
