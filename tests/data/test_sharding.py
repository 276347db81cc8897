"""Corpus on Dask: byte-identical to the serial writer whatever the workers, and a killed worker is retried."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from smeftfm.config import DaskParams
from smeftfm.data.replicas import SPLITS, read_corpus, write_corpus
from smeftfm.data.sharding import corpus_executor
from smeftfm.data.uncertainties import UncertaintyModel
from smeftfm.physics.observables import histogram_columns

pytest.importorskip("distributed")


def _digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def setup(templates):
    model = UncertaintyModel.from_templates(templates, 10_000)
    rng = np.random.default_rng(0)
    coeffs = rng.normal(0.0, 0.05, size=(7, len(templates.operators)))
    return model, templates.predict(coeffs), list(range(7)), histogram_columns(templates.binnings)


@pytest.fixture(scope="module")
def serial(tmp_path_factory, setup):
    model, y, labels, cols = setup
    out = tmp_path_factory.mktemp("serial") / "corpus"
    write_corpus(out, y, labels, cols, model, 300, seed=5, shard_rows=600)
    return out


def test_dask_output_is_byte_identical_to_serial_for_one_and_two_workers(tmp_path, setup, serial):
    model, y, labels, cols = setup
    ref = _digest(serial)
    assert len([k for k in ref if k.startswith("split=train")]) == 4  # 7 universes, 2 per shard task
    for workers in (1, 2):
        out = tmp_path / f"w{workers}"
        with corpus_executor(DaskParams(enabled=True, workers=workers)) as ex:
            write_corpus(out, y, labels, cols, model, 300, seed=5, shard_rows=600, executor=ex)
        assert _digest(out) == ref, f"{workers} Dask workers wrote different bytes than the serial writer"


def test_worker_killed_mid_shard_is_retried_and_leaves_no_partial_file(tmp_path, setup, serial):
    model, y, labels, cols = setup
    marker = tmp_path / "killed-once"
    out = tmp_path / "corpus"
    with corpus_executor(DaskParams(enabled=True, workers=2)) as ex:
        write_corpus(out, y, labels, cols, model, 300, seed=5, shard_rows=600, executor=ex, fault_marker=str(marker))
    assert marker.exists()  # a worker really died (SIGKILL after writing part of a shard)
    assert _digest(out) == _digest(serial)  # the retry completed it and nothing partial is left
    assert not [p for p in out.rglob("*") if p.is_file() and not p.name.startswith("part-")]
    for split in SPLITS:
        assert read_corpus(out, split).equals(read_corpus(serial, split))
