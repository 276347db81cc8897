"""Corpus writer: contract, splits, determinism (byte-identical files) and atomicity."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from smeftfm.data import replicas as rep
from smeftfm.data.replicas import SPLITS, corpus_meta, read_corpus, split_counts, write_corpus
from smeftfm.data.uncertainties import UncertaintyModel
from smeftfm.physics.observables import histogram_columns


@pytest.fixture(scope="module")
def setup(templates):
    model = UncertaintyModel.from_templates(templates, 10_000)
    coeffs = np.array([[0.0, 0.0, 0.0], [0.2, 0.01, -0.1], [-0.1, 0.02, 0.05]])
    return model, templates.predict(coeffs), [0, 1, 2], histogram_columns(templates.binnings)


def _digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*.parquet"))}


def test_contract_splits_and_metadata(tmp_path, setup):
    model, y, labels, cols = setup
    out = tmp_path / "corpus"
    summary = write_corpus(out, y, labels, cols, model, n_replicas=200, seed=3, shard_rows=150,
                           meta={"templates_sha256": "abc"})
    counts = split_counts(200, (0.8, 0.1, 0.1))
    assert counts == (160, 20, 20)
    for split, n in zip(SPLITS, counts, strict=True):
        assert summary[split]["rows"] == 3 * n
        files = sorted((out / f"split={split}").glob("part-*.parquet"))
        # n_replicas 200 > shard_rows 150: one whole universe per shard task
        assert [f.name for f in files] == [f"part-{i:05d}.parquet" for i in range(3)]
        assert [set(pq.read_table(f)["label"].to_numpy()) for f in files] == [{0}, {1}, {2}]
        t = read_corpus(out, split)
        assert t.column_names == ["label", "replica"] + cols
        assert str(t.schema.field("label").type) == "int32" and str(t.schema.field(cols[0]).type) == "float"
        lab = t["label"].to_numpy()
        assert set(lab) == {0, 1, 2}
        rep_idx = t["replica"].to_numpy()
        lo = sum(counts[: SPLITS.index(split)])
        assert rep_idx.min() == lo and rep_idx.max() == lo + n - 1
    meta = corpus_meta(out)
    assert meta["templates_sha256"] == "abc" and meta["n_replicas"] == 200 and meta["seed"] == 3


def test_same_seed_gives_byte_identical_files_and_values_ignore_sharding(tmp_path, setup):
    model, y, labels, cols = setup
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    write_corpus(a, y, labels, cols, model, 300, seed=8, shard_rows=100)
    write_corpus(b, y, labels, cols, model, 300, seed=8, shard_rows=100)
    assert _digest(a) == _digest(b)
    write_corpus(c, y, labels, cols, model, 300, seed=8, shard_rows=1000)
    for split in SPLITS:
        ta, tc = read_corpus(a, split), read_corpus(c, split)
        assert ta.equals(tc)
    d = tmp_path / "d"
    write_corpus(d, y, labels, cols, model, 300, seed=9, shard_rows=100)
    assert _digest(d) != _digest(a)


def test_replicas_are_the_models_draws(tmp_path, setup):
    """The corpus of a universe is N(y, Sigma): per-bin mean and spread agree with the model."""
    model, y, labels, cols = setup
    out = tmp_path / "c"
    write_corpus(out, y[1:2], [1], cols, model, 20_000, seed=1, shard_rows=50_000, fractions=(1.0, 0.0, 0.0))
    x = np.column_stack([read_corpus(out, "train")[c].to_numpy() for c in cols]).astype(np.float64)
    sd = np.sqrt(np.diag(model.covariance(y[1])))
    live = sd > 0
    z = (x.mean(0) - y[1])[live] / (sd[live] / np.sqrt(x.shape[0]))
    assert np.all(np.abs(z) < 4.0)
    np.testing.assert_allclose(x.std(0)[live], sd[live], rtol=4 * np.sqrt(0.5 / x.shape[0]) + 1e-6)


def test_killed_write_leaves_no_half_written_output(tmp_path, setup, monkeypatch):
    model, y, labels, cols = setup
    out = tmp_path / "corpus"
    write_corpus(out, y, labels, cols, model, 100, seed=1, shard_rows=50)
    before = _digest(out)
    calls = {"n": 0}
    real = rep._chunk_table

    def dying(*args, **kw):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt("killed")
        return real(*args, **kw)

    monkeypatch.setattr(rep, "_chunk_table", dying)
    with pytest.raises(KeyboardInterrupt):
        write_corpus(out, y, labels, cols, model, 100, seed=2, shard_rows=50)
    assert _digest(out) == before  # the previous corpus is intact
    assert not list(tmp_path.glob(".tmp-*"))  # and the partial one is gone
    fresh = tmp_path / "fresh"
    calls["n"] = 0
    with pytest.raises(KeyboardInterrupt):
        write_corpus(fresh, y, labels, cols, model, 100, seed=2, shard_rows=50)
    assert not fresh.exists()


def test_shard_plan_holds_whole_universes_and_ignores_workers():
    assert rep.plan_shards(5, 100, 250) == [(0, 2), (2, 4), (4, 5)]
    assert rep.plan_shards(3, 1000, 10) == [(0, 1), (1, 2), (2, 3)]
    with pytest.raises(rep.SmeftfmError, match="shard_rows"):
        rep.plan_shards(3, 10, 0)
