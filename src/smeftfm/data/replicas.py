"""The replica corpus: Monte Carlo replicas of every universe's spectrum, streamed into Parquet shards.

Layout (``data/corpus/``): ``split=train/``, ``split=val/``, ``split=test/``, each with shards
``part-00000.parquet``...; shard ``k`` of every split holds the same group of whole universes (shard task ``k``,
``max(1, shard_rows // n_replicas)`` universes, see :func:`plan_shards`); columns ``label`` (int32), ``replica``
(int32), then the bin columns (float32, pb/GeV). Replica indices are split by position (the first
``round(f_train n)`` replicas of each universe are train, the next ``round(f_val n)`` val, the rest test), so
every universe appears in every split.

Determinism: universe ``label`` draws its normals from ``np.random.default_rng([seed, label])`` in fixed chunks of
:data:`CHUNK_ROWS` replicas, so the values do not depend on shard size, split fractions or the number of
universes; the Parquet bytes depend only on the inputs (pyarrow writes no timestamps), so serial and Dask runs
(:mod:`smeftfm.data.sharding`) with any number of workers write the same bytes. Memory per task is bounded by one
chunk plus one row group per split, whatever the number of rows.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from ..atomic import atomic_dir, atomic_path
from ..errors import DataError, SmeftfmError
from .noise import NoiseModel
from .parquet_io import read_meta, table_with_meta
from .uncertainties import UncertaintyModel

__all__ = ["CHUNK_ROWS", "SPLITS", "Executor", "corpus_meta", "corpus_schema", "plan_shards", "read_corpus",
           "serial_executor", "shard_name", "split_counts", "universe_replicas", "write_corpus", "write_shard"]

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


def plan_shards(n_universes: int, n_replicas: int, shard_rows: int) -> list[tuple[int, int]]:
    """Universe ranges ``[lo, hi)`` of the shard tasks: whole universes, at most ``shard_rows`` rows per task.

    A task holds ``max(1, shard_rows // n_replicas)`` consecutive universes (one universe when a single universe
    already has more than ``shard_rows`` replicas). The plan depends only on these three numbers, never on how
    many workers run the tasks.
    """
    if shard_rows <= 0:
        raise SmeftfmError(f"corpus.shard_rows must be positive, got {shard_rows}")
    if n_replicas <= 0:
        raise SmeftfmError(f"corpus.n_replicas must be positive, got {n_replicas}")
    per = max(1, shard_rows // n_replicas)
    return [(lo, min(lo + per, n_universes)) for lo in range(0, n_universes, per)]


def shard_name(index: int) -> str:
    """File name of shard task ``index`` inside each ``split=*`` folder."""
    return f"part-{index:05d}.parquet"


def write_shard(folder: str, index: int, spectra: np.ndarray, labels: Sequence[int],
                cross_pb: np.ndarray | None, model: UncertaintyModel | NoiseModel, n_replicas: int, seed: int,
                fractions: Sequence[float], bin_cols: Sequence[str], schema: pa.Schema,
                fault_marker: str | None = None) -> dict[str, int]:
    """Generate the replicas of one universe group and write ``split=<s>/part-<index>.parquet`` for each split.

    Each file is written to a temporary sibling and renamed into place when complete, so a worker killed
    mid-shard leaves no partial ``part-*`` file (the stale temporary is removed by the retry). The bytes depend
    only on the arguments: universe ``label`` draws from ``default_rng([seed, label])`` whoever runs the task.
    ``fault_marker`` is a test hook: when set and the file does not exist yet, the task creates it and kills its
    own process (SIGKILL) after writing part of the shard. Returns the rows written per split.
    """
    counts = split_counts(n_replicas, fractions)
    bounds = np.cumsum((0,) + counts)
    root = Path(folder)
    rows = dict.fromkeys(SPLITS, 0)
    with contextlib.ExitStack() as stack:
        writers: dict[str, pq.ParquetWriter] = {}
        for si, split in enumerate(SPLITS):
            if counts[si] > 0:
                tmp = stack.enter_context(atomic_path(root / f"split={split}" / shard_name(index)))
                # dictionary encoding only pays off for the label; random floats would just fall back after trying
                writers[split] = stack.enter_context(
                    pq.ParquetWriter(tmp, schema, compression="zstd", use_dictionary=["label"]))
        for u, (y, label) in enumerate(zip(spectra, labels)):
            cross = None if cross_pb is None else cross_pb[u]
            for start, block in universe_replicas(model, y, int(label), seed, n_replicas, cross):
                stop = start + block.shape[0]
                for si, split in enumerate(SPLITS):
                    lo, hi = max(start, bounds[si]), min(stop, bounds[si + 1])
                    if hi > lo:
                        writers[split].write_table(
                            _chunk_table(int(label), lo, block[lo - start: hi - start], bin_cols, schema),
                            row_group_size=hi - lo)
                        rows[split] += hi - lo
                if fault_marker is not None and not os.path.exists(fault_marker):
                    Path(fault_marker).touch()
                    os.kill(os.getpid(), signal.SIGKILL)
    return rows


#: ``executor(fn, shared, tasks)`` runs ``fn(**shared, **task)`` for every task and yields the results in any order.
Executor = Callable[[Callable[..., dict], dict[str, Any], list[dict[str, Any]]], Iterator[dict]]


def serial_executor(fn: Callable[..., dict], shared: dict[str, Any], tasks: list[dict[str, Any]]) -> Iterator[dict]:
    """Run the tasks one after the other in this process (the default)."""
    for task in tasks:
        yield fn(**shared, **task)


def write_corpus(out_dir: str | os.PathLike[str], spectra: np.ndarray, labels: Sequence[int],
                 bin_cols: Sequence[str], model: UncertaintyModel | NoiseModel, n_replicas: int, seed: int,
                 fractions: Sequence[float] = (0.8, 0.1, 0.1), shard_rows: int = 250_000,
                 meta: dict | None = None, progress: Callable[[int], None] | None = None,
                 cross_pb: np.ndarray | None = None, executor: Executor | None = None,
                 fault_marker: str | None = None) -> dict:
    """Generate and write the corpus atomically (whole directory appears at the end). Returns a summary.

    The work is split into shard tasks of whole universes (:func:`plan_shards`), each writing its own
    ``part-<task>.parquet`` per split (:func:`write_shard`). ``executor`` runs them (default: serially here;
    :mod:`smeftfm.data.sharding` gives a Dask one); the files are byte-identical either way.
    ``cross_pb [n_universes, n_mll, n_pt]``: each universe's 2-D cross sections (pb) for a :class:`NoiseModel`.
    """
    spectra = np.asarray(spectra, dtype=np.float64)
    labels = [int(x) for x in labels]
    if spectra.ndim != 2 or spectra.shape[0] != len(labels) or spectra.shape[1] != len(bin_cols):
        raise SmeftfmError(
            f"spectra shape {spectra.shape} does not match {len(labels)} labels x {len(bin_cols)} bin columns"
        )
    plan = plan_shards(len(labels), n_replicas, shard_rows)
    counts = split_counts(n_replicas, fractions)
    meta = dict(meta or {})
    meta.update({"n_replicas": n_replicas, "split_counts": dict(zip(SPLITS, counts)), "seed": seed,
                 "chunk_rows": CHUNK_ROWS, "units": "pb/GeV", "l_eff_pb_inv": model.l_eff,
                 "luminosity_pb_inv": model.lumi, "uncertainty_rescale_m": model.rescale})
    schema = corpus_schema(bin_cols, meta)
    run = executor or serial_executor
    summary = {s: {"rows": 0, "shards": 0} for s in SPLITS}
    with atomic_dir(out_dir) as tmp:
        for split in SPLITS:
            (Path(tmp) / f"split={split}").mkdir(parents=True, exist_ok=True)
        shared = {"folder": str(tmp), "model": model, "n_replicas": n_replicas, "seed": seed,
                  "fractions": tuple(fractions), "bin_cols": list(bin_cols), "schema": schema}
        tasks = [{"index": k, "spectra": spectra[lo:hi], "labels": labels[lo:hi],
                  "cross_pb": None if cross_pb is None else np.asarray(cross_pb[lo:hi]),
                  "fault_marker": fault_marker} for k, (lo, hi) in enumerate(plan)]
        for rows in run(write_shard, shared, tasks):
            for split, n in rows.items():
                summary[split]["rows"] += n
                summary[split]["shards"] += int(n > 0)
            if progress is not None:
                progress(sum(rows.values()))
        stale = [p for p in Path(tmp).rglob("*") if p.is_file() and not p.name.startswith("part-")]
        for p in stale:  # temporaries of killed attempts whose retry ran on another worker
            p.unlink()
        expected = {s: len(plan) if c > 0 else 0 for s, c in zip(SPLITS, counts)}
        if any(summary[s]["shards"] != expected[s] for s in SPLITS):
            raise SmeftfmError(f"corpus shard tasks incomplete: {summary}, expected {expected} shards per split")
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
