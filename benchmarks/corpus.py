"""Corpus speed: the default replica corpus (100 universes x 10^4 replicas = 10^6 rows) against its bare floor.

The floor, measured in the same run, does only the unavoidable work: the same float32 normals (one generator per
universe), the same 92x92 matmul, and writing the same rows (label, replica, 92 float32) with pyarrow into one
zstd Parquet file. The corpus additionally computes the per-universe covariance scales, splits rows into
train/val/test, shards them and writes atomically. Prints wall time, rows/s, the ratio corpus/floor
(target <= 2) and the corpus' peak RSS (target < 2 GiB, measured in a child process that does only the corpus).

Run: LHAPDF_DATA_PATH=../shared/pdfsets .venv/bin/python benchmarks/corpus.py [--replicas 10000] [--repeat 2]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from bench_inputs import default_templates
from smeftfm.config import load_params
from smeftfm.data.replicas import CHUNK_ROWS, corpus_schema, write_corpus
from smeftfm.data.uncertainties import UncertaintyModel
from smeftfm.data.universes import sample_coefficients
from smeftfm.physics.observables import histogram_columns


def load_inputs(replicas: int):
    """Templates (built once for the 17 vector operators when data/ has none), spectra of 100 universes."""
    params = load_params()
    t = default_templates(params)
    u = params.universes
    coeffs = sample_coefficients(u.n, len(t.operators), u.seed, u.log_lo, u.log_hi, u.p_zero_max, u.zero_scope)
    y = t.predict(coeffs)
    model = UncertaintyModel.from_params(params, t)
    return params, t, y, model


def run_corpus(out: Path, replicas: int, queue=None) -> float:
    params, t, y, model = load_inputs(replicas)
    c = params.corpus
    t0 = time.perf_counter()
    write_corpus(out, y, range(len(y)), histogram_columns(t.binnings), model, replicas, c.seed, c.split, c.shard_rows)
    dt = time.perf_counter() - t0
    if queue is not None:
        queue.put((dt, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))
    return dt


def run_floor(out: Path, y: np.ndarray, model: UncertaintyModel, replicas: int, seed: int, cols) -> float:
    schema = corpus_schema(cols, {})
    a_t = model.factor.T.astype(np.float32)
    t0 = time.perf_counter()
    with pq.ParquetWriter(out, schema, compression="zstd", use_dictionary=["label"]) as w:
        for label in range(len(y)):
            rng = np.random.default_rng([seed, label])
            for start in range(0, replicas, CHUNK_ROWS):
                k = min(CHUNK_ROWS, replicas - start)
                block = rng.standard_normal((k, y.shape[1]), dtype=np.float32) @ a_t
                arrays = [pa.array(np.full(k, label, np.int32)), pa.array(np.arange(start, start + k, dtype=np.int32))]
                arrays += [pa.array(block[:, j]) for j in range(block.shape[1])]
                w.write_table(pa.Table.from_arrays(arrays, schema=schema), row_group_size=k)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--replicas", type=int, default=None, help="replicas per universe (default: params.yaml)")
    ap.add_argument("--repeat", type=int, default=2, help="timed repetitions (the best is reported)")
    args = ap.parse_args()
    params, t, y, model = load_inputs(0)
    replicas = args.replicas or params.corpus.n_replicas
    rows = replicas * len(y)
    tmp = Path(tempfile.mkdtemp(prefix="smeftfm-bench-"))
    try:
        ctx = mp.get_context("spawn")
        corpus_times, rss = [], []
        for _ in range(args.repeat):
            q = ctx.Queue()
            p = ctx.Process(target=run_corpus, args=(tmp / "corpus", replicas, q))
            p.start()
            dt, peak = q.get()
            p.join()
            corpus_times.append(dt)
            rss.append(peak)
        cols = histogram_columns(t.binnings)
        floor_times = [run_floor(tmp / "floor.parquet", y, model, replicas, params.corpus.seed, cols)
                       for _ in range(args.repeat)]
        size = sum(f.stat().st_size for f in (tmp / "corpus").rglob("*.parquet"))
        floor_size = (tmp / "floor.parquet").stat().st_size
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    tc, tf = min(corpus_times), min(floor_times)
    print(f"rows: {rows} ({len(y)} universes x {replicas} replicas, {y.shape[1]} bins, float32, zstd)")
    print(f"corpus: {tc:.2f} s, {rows / tc:,.0f} rows/s, {size / 1e6:.0f} MB on disk")
    print(f"floor (normals + matmul + pyarrow write): {tf:.2f} s, {rows / tf:,.0f} rows/s, {floor_size / 1e6:.0f} MB")
    print(f"ratio corpus/floor: {tc / tf:.2f}  (target <= 2)")
    print(f"corpus peak RSS: {max(rss):.0f} MiB  (target < 2048 MiB; includes the interpreter and numpy/pyarrow)")


if __name__ == "__main__":
    main()
