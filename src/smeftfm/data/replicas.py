"""The replica corpus: Monte Carlo replicas of every universe's spectrum, streamed into Parquet shards.

Layout (``data/corpus/``): ``split=train/``, ``split=val/``, ``split=test/``, each with shards
``part-00000.parquet``... of at most ``shard_rows`` rows; columns ``label`` (int32), ``replica`` (int32), then the
bin columns (float32, pb/GeV). Replica indices are split by position (the first ``round(f_train n)`` replicas of
each universe are train, the next ``round(f_val n)`` val, the rest test), so every universe appears in every split.

Determinism: universe ``label`` draws its normals from ``np.random.default_rng([seed, label])`` in fixed chunks of
:data:`CHUNK_ROWS` replicas, so the values do not depend on shard size, split fractions or the number of
universes; the Parquet bytes depend only on the inputs (pyarrow writes no timestamps). Memory is bounded by one
chunk plus one row group per split, whatever the number of rows.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from ..atomic import atomic_dir
from ..errors import DataError, SmeftfmError
from .noise import NoiseModel
from .parquet_io import read_meta, table_with_meta
from .uncertainties import UncertaintyModel

__all__ = ["CHUNK_ROWS", "SPLITS", "ShardWriter", "corpus_meta", "corpus_schema", "read_corpus", "split_counts",
           "universe_replicas", "write_corpus"]

SPLITS = ("train", "val", "test")
CHUNK_ROWS = 65_536


def split_counts(n: int, fractions: Sequence[float]) -> tuple[int, int, int]:
    """Replicas per split for ``n`` replicas and fractions (train, val, test)."""
    n_train = int(round(fractions[0] * n))
    n_val = int(round(fractions[1] * n))
    n_val = min(n_val, n - n_train)
    return n_train, n_val, n - n_train - n_val


def corpus_schema(bin_cols: Sequence[str], meta: dict) -> pa.Schema:
    fields = [pa.field("label", pa.int32()), pa.field("replica", pa.int32())]
    fields += [pa.field(c, pa.float32()) for c in bin_cols]
    return table_with_meta(pa.schema(fields).empty_table(), meta).schema


class ShardWriter:
    """Appends tables to ``part-NNNNN.parquet`` files of at most ``shard_rows`` rows (zstd)."""

    def __init__(self, folder: Path, schema: pa.Schema, shard_rows: int):
        if shard_rows <= 0:
            raise SmeftfmError(f"corpus.shard_rows must be positive, got {shard_rows}")
        self.folder = folder
        self.schema = schema
        self.shard_rows = shard_rows
        self.folder.mkdir(parents=True, exist_ok=True)
        self._writer: pq.ParquetWriter | None = None
        self._in_shard = 0
        self.n_shards = 0
        self.n_rows = 0

    def _open(self) -> None:
        path = self.folder / f"part-{self.n_shards:05d}.parquet"
        # dictionary encoding only pays off for the label; random floats would just fall back after trying
        self._writer = pq.ParquetWriter(path, self.schema, compression="zstd", use_dictionary=["label"])
        self.n_shards += 1
        self._in_shard = 0

    def write(self, table: pa.Table) -> None:
        start = 0
        while start < table.num_rows:
            if self._writer is None:
                self._open()
            assert self._writer is not None
            take = min(self.shard_rows - self._in_shard, table.num_rows - start)
            self._writer.write_table(table.slice(start, take), row_group_size=take)
            start += take
            self._in_shard += take
            self.n_rows += take
            if self._in_shard >= self.shard_rows:
                self.close()

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None


def _chunk_table(label: int, replica0: int, values: np.ndarray, bin_cols: Sequence[str],
                 schema: pa.Schema) -> pa.Table:
    n = values.shape[0]
    arrays = [pa.array(np.full(n, label, dtype=np.int32)), pa.array(np.arange(replica0, replica0 + n, dtype=np.int32))]
    arrays += [pa.array(values[:, j]) for j in range(values.shape[1])]
    return pa.Table.from_arrays(arrays, schema=schema)


def universe_replicas(model, y: np.ndarray, label: int, seed: int, n: int, cross_pb: np.ndarray | None = None):
    """Yield (first replica index, float32 block [rows, bins]) for one universe in chunks of CHUNK_ROWS.

    ``model`` is a :class:`~smeftfm.data.noise.NoiseModel` (Sigma(rho), exact cross-covariance ``cross_pb`` in
    pb, Poisson low-count bins) or the paper's :class:`UncertaintyModel` (shared RBF eigen-factor).
    """
    rng = np.random.default_rng([seed, label])
    y = np.asarray(y, dtype=np.float64)
    if isinstance(model, NoiseModel):
        cov = model.covariance(y, cross_pb)
        w, v = np.linalg.eigh(0.5 * (cov + cov.T))
        a_t = (v * np.sqrt(np.clip(w, 0.0, None))).T.astype(np.float32)
        for start in range(0, n, CHUNK_ROWS):
            k = min(CHUNK_ROWS, n - start)
            z = rng.standard_normal((k, y.size), dtype=np.float32)
            yield start, model.to_counts(y + z @ a_t, y, cov).astype(np.float32)
        return
    s = model.scales(y).astype(np.float32)
    a_t = model.factor.T.astype(np.float32)
    y32 = y.astype(np.float32)
    for start in range(0, n, CHUNK_ROWS):
        k = min(CHUNK_ROWS, n - start)
        z = rng.standard_normal((k, y.size), dtype=np.float32)
        block = z @ a_t
        block *= s
        block += y32
        yield start, block


def write_corpus(out_dir: str | os.PathLike[str], spectra: np.ndarray, labels: Sequence[int],
                 bin_cols: Sequence[str], model: UncertaintyModel | NoiseModel, n_replicas: int, seed: int,
                 fractions: Sequence[float] = (0.8, 0.1, 0.1), shard_rows: int = 250_000,
                 meta: dict | None = None, progress: Callable[[int], None] | None = None,
                 cross_pb: np.ndarray | None = None) -> dict:
    """Generate and write the corpus atomically (whole directory appears at the end). Returns a summary.

    ``cross_pb [n_universes, n_mll, n_pt]``: each universe's 2-D cross sections (pb) for a :class:`NoiseModel`.
    """
    spectra = np.asarray(spectra, dtype=np.float64)
    labels = [int(x) for x in labels]
    if spectra.ndim != 2 or spectra.shape[0] != len(labels) or spectra.shape[1] != len(bin_cols):
        raise SmeftfmError(
            f"spectra shape {spectra.shape} does not match {len(labels)} labels x {len(bin_cols)} bin columns"
        )
    if n_replicas <= 0:
        raise SmeftfmError(f"corpus.n_replicas must be positive, got {n_replicas}")
    counts = split_counts(n_replicas, fractions)
    bounds = np.cumsum((0,) + counts)
    meta = dict(meta or {})
    meta.update({"n_replicas": n_replicas, "split_counts": dict(zip(SPLITS, counts)), "seed": seed,
                 "chunk_rows": CHUNK_ROWS, "units": "pb/GeV", "l_eff_pb_inv": model.l_eff,
                 "luminosity_pb_inv": model.lumi, "uncertainty_rescale_m": model.rescale})
    schema = corpus_schema(bin_cols, meta)
    with atomic_dir(out_dir) as tmp:
        writers = {s: ShardWriter(Path(tmp) / f"split={s}", schema, shard_rows) for s in SPLITS}
        try:
            for u, (y, label) in enumerate(zip(spectra, labels)):
                cross = None if cross_pb is None else cross_pb[u]
                for start, block in universe_replicas(model, y, label, seed, n_replicas, cross):
                    stop = start + block.shape[0]
                    for si, split in enumerate(SPLITS):
                        lo, hi = max(start, bounds[si]), min(stop, bounds[si + 1])
                        if hi > lo:
                            writers[split].write(_chunk_table(label, lo, block[lo - start: hi - start], bin_cols,
                                                              schema))
                    if progress is not None:
                        progress(block.shape[0])
        finally:
            for w in writers.values():
                w.close()
        summary = {s: {"rows": w.n_rows, "shards": w.n_shards} for s, w in writers.items()}
    return summary


def _shards(folder: str | os.PathLike[str], split: str) -> list[Path]:
    if split not in SPLITS:
        raise SmeftfmError(f"unknown split '{split}'; use one of {SPLITS}")
    d = Path(folder) / f"split={split}"
    files = sorted(d.glob("part-*.parquet"))
    if not files:
        raise DataError(f"no corpus shards in {d}; run the corpus stage first (`dvc repro corpus`)")
    return files


def read_corpus(folder: str | os.PathLike[str], split: str, columns: list[str] | None = None) -> pa.Table:
    """One split of a corpus as an Arrow table (all shards, in order)."""
    files = _shards(folder, split)
    try:
        return pa.concat_tables([pq.read_table(f, columns=columns) for f in files])
    except (pa.ArrowInvalid, OSError) as err:
        raise DataError(f"corpus shard in {files[0].parent} is unreadable ({err}); delete the corpus and re-run "
                        "`dvc repro`") from None


def corpus_meta(folder: str | os.PathLike[str]) -> dict:
    """The generating metadata stored in the corpus' schema (that of the first training shard)."""
    return read_meta(_shards(folder, "train")[0])
