"""Training that streams: contrastive pairs from the corpus' Parquet shards without loading the corpus.

:class:`ShardStream` is a ``torch.utils.data.IterableDataset`` over ``corpus/split=<s>/part-*.parquet``:

* each epoch permutes the shard files (seed, epoch) and deals them round-robin to the ``world_size`` DDP ranks
  and, inside a rank, to the ``DataLoader`` workers, so every shard is read by exactly one reader;
* a reader memory-maps its shards and visits their row groups (one universe's chunk each) in a shuffled order,
  ``mix`` of them open at a time; each buffer of about ``buffer_rows`` replicas takes an equal slice of every
  open row group, is shuffled and walked in batches: every buffered replica is
  an anchor exactly once per epoch, and its partner is drawn as an index inside the same buffer (a different
  replica of the same universe for a positive, a replica of another buffered universe for a negative).

Peak memory is one buffer plus one row group, whatever the size of the corpus (``benchmarks/scale.py`` measures
it). The in-memory path (:mod:`.training`) stays the default for corpora that fit in RAM; with the same settings
both minimise the same loss over the same replicas and differ only in the order the pairs are drawn in.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import torch
from torch.utils.data import IterableDataset, get_worker_info

from ..errors import DataError, SmeftfmError
from ..physics.observables import select_bin_columns
from .encoder import EncoderConfig
from .pairs import PairSampler
from .training import ContrastiveTrainer, TrainConfig, TrainResult, fit_early_stopping, pair_loss

__all__ = ["BufferPairs", "PairBatch", "ShardStream", "draw_partners", "split_shards", "train_encoder_streaming"]


class PairBatch(NamedTuple):
    """A batch of pairs: features ``xi, xj [n, bins]`` (float32), targets ``y [n]`` (1 = same universe) and the
    anchors' ``label`` and ``replica`` (int64)."""

    xi: torch.Tensor
    xj: torch.Tensor
    y: torch.Tensor
    label: torch.Tensor
    replica: torch.Tensor


class BufferPairs:
    """Partner draws inside one buffer of labels; the class structure is built once per buffer (one sort)."""

    def __init__(self, labels: np.ndarray):
        classes, dense = np.unique(labels, return_inverse=True)
        self.dense = dense.astype(np.int64)
        self.n_classes = classes.size
        self.order = np.argsort(self.dense, kind="stable")
        self.counts = np.bincount(self.dense, minlength=self.n_classes)
        self.starts = np.concatenate([[0], np.cumsum(self.counts)[:-1]])
        self.rank = np.empty(labels.size, dtype=np.int64)
        self.rank[self.order] = np.arange(labels.size) - self.starts[self.dense[self.order]]

    def draw(self, anchors: np.ndarray, positive_fraction: float,
             rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Partner indices ``j`` and targets ``y`` for ``anchors`` (see :func:`draw_partners`)."""
        n = anchors.size
        ci = self.dense[anchors]
        pos = np.arange(n) < int(round(n * positive_fraction))
        pos &= self.counts[ci] >= 2
        if self.n_classes < 2:
            pos[:] = True
        j = np.empty(n, dtype=np.int64)
        a, cp = anchors[pos], ci[pos]
        r = (rng.random(a.size) * (self.counts[cp] - 1)).astype(np.int64)
        r += r >= self.rank[a]
        j[pos] = self.order[self.starts[cp] + r]
        neg = ~pos
        if neg.any():
            cn = (ci[neg] + 1 + rng.integers(0, self.n_classes - 1, size=int(neg.sum()))) % self.n_classes
            j[neg] = self.order[self.starts[cn] + (rng.random(cn.size) * self.counts[cn]).astype(np.int64)]
        return j, pos.astype(np.float32)


def draw_partners(labels: np.ndarray, anchors: np.ndarray, positive_fraction: float,
                  rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Partner indices ``j`` and targets ``y`` for ``anchors`` (indices into ``labels``), vectorised.

    The first ``round(n positive_fraction)`` anchors get a positive partner (another index with the same label),
    the rest a negative one (uniform other label, then uniform member). An anchor whose label is alone in
    ``labels`` gets a negative; when only one label is present every pair is positive.
    """
    return BufferPairs(labels).draw(anchors, positive_fraction, rng)


def split_shards(corpus_dir: str | Path, split: str) -> list[Path]:
    """The Parquet shards of ``split`` in the corpus folder, sorted; none is a :class:`DataError` naming the fix."""
    folder = Path(corpus_dir) / f"split={split}"
    files = sorted(folder.glob("part-*.parquet"))
    if not files:
        raise DataError(f"no corpus shards in {folder}; run the corpus stage first (`dvc repro corpus`)")
    return files


class ShardStream(IterableDataset):
    """Pairs streamed from one corpus split (see the module docstring); iterate once per epoch.

    ``transform`` maps raw spectra (pb/GeV, ``[n, bins]``) to features (e.g. a fitted
    :class:`~smeftfm.models.transforms.InputTransform`); ``rank``/``world_size`` select this DDP rank's shards.
    """

    def __init__(self, corpus_dir: str | Path, split: str, batch_size: int, positive_fraction: float = 0.5,
                 buffer_rows: int = 65_536, seed: int = 0,
                 transform: Callable[[np.ndarray], np.ndarray] | None = None, rank: int = 0, world_size: int = 1,
                 mix: int = 16):
        super().__init__()
        self.files = split_shards(corpus_dir, split)
        if batch_size < 2 or buffer_rows < batch_size:
            raise SmeftfmError(f"streaming needs batch_size >= 2 and buffer_rows >= batch_size, got {batch_size}, "
                               f"{buffer_rows}")
        if not 0 <= rank < world_size:
            raise SmeftfmError(f"rank {rank} outside world size {world_size}")
        self.columns = select_bin_columns(pq.read_schema(self.files[0]).names)
        self.batch_size, self.positive_fraction, self.buffer_rows = batch_size, positive_fraction, buffer_rows
        self.seed, self.transform, self.rank, self.world_size = seed, transform, rank, world_size
        self.mix = max(1, int(mix))
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch (changes the shard order and every shuffle)."""
        self.epoch = int(epoch)

    def _reader(self) -> tuple[list[Path], np.random.Generator]:
        info = get_worker_info()
        n_workers, worker = (info.num_workers, info.id) if info is not None else (1, 0)
        order = np.random.default_rng([self.seed, self.epoch]).permutation(len(self.files))
        k, n = self.rank * n_workers + worker, self.world_size * n_workers
        return [self.files[i] for i in order[k::n]], np.random.default_rng([self.seed, self.epoch, k])

    def buffers(self) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Shuffled buffers ``(x float32 [n, bins] raw pb/GeV, label [n], replica [n])`` of this reader's shards.

        Row groups (one universe's chunk each) are visited in a random order; up to ``mix`` of them are open at a
        time and each buffer takes an equal slice of every open one, so a buffer mixes at least ``mix`` universes
        (the negatives' pool) while holding only ``mix`` row groups plus the buffer in memory. Once what is left
        of the pass is under two buffers it goes out as one last buffer (every remaining row group opened), so a
        pass does not end on buffers of one or two universes (such batches skew BatchNorm's statistics).
        """
        files, rng = self._reader()
        cols = ["label", "replica", *self.columns]
        queue: list[tuple[Path, int, int]] = []  # (shard, row group, rows)
        for f in files:
            try:
                meta = pq.ParquetFile(f, memory_map=True).metadata
                queue += [(f, g, meta.row_group(g).num_rows) for g in range(meta.num_row_groups)]
            except (pa.ArrowInvalid, OSError) as err:
                raise DataError(f"corpus shard {f} is unreadable ({err}); re-run the corpus stage") from None
        queue = [queue[i] for i in rng.permutation(len(queue))][::-1]  # pop() from the end
        queued = sum(q[2] for q in queue)
        active: list[list] = []  # [table, offset]
        while queue or active:
            left = queued + sum(a[0].num_rows - a[1] for a in active)
            tail = left < 2 * self.buffer_rows  # the last buffer of the pass: open everything that is left
            while (len(active) < self.mix or tail) and queue:
                f, g, rows = queue.pop()
                queued -= rows
                try:
                    active.append([pq.ParquetFile(f, memory_map=True).read_row_group(g, columns=cols), 0])
                except (pa.ArrowInvalid, OSError) as err:
                    raise DataError(f"corpus shard {f} is unreadable ({err}); re-run the corpus stage") from None
            take = max(a[0].num_rows - a[1] for a in active) if tail else max(1, self.buffer_rows // len(active))
            parts = []
            for a in active:
                parts.append(a[0].slice(a[1], take))
                a[1] += take
            active = [a for a in active if a[1] < a[0].num_rows]
            yield self._emit(parts, rng)

    def _emit(self, parts: list[pa.Table], rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        t = pa.concat_tables(parts)
        perm = rng.permutation(t.num_rows)
        x = np.column_stack([t.column(c).to_numpy() for c in self.columns]).astype(np.float32, copy=False)[perm]
        return (x, t.column("label").to_numpy().astype(np.int64)[perm],
                t.column("replica").to_numpy().astype(np.int64)[perm])

    def __iter__(self) -> Iterator[PairBatch]:
        _, rng = self._reader()
        pair_rng = np.random.default_rng([self.seed, self.epoch, 1 + int(rng.integers(1 << 31))])
        for x, label, replica in self.buffers():
            feats = torch.from_numpy(np.ascontiguousarray(self.transform(x) if self.transform else x))
            pairs = BufferPairs(label)
            for s in range(0, x.shape[0], self.batch_size):
                anchors = np.arange(s, min(s + self.batch_size, x.shape[0]))
                j, y = pairs.draw(anchors, self.positive_fraction, pair_rng)
                a, jt = torch.from_numpy(anchors), torch.from_numpy(j)
                yield PairBatch(feats[a], feats[jt], torch.from_numpy(y), torch.from_numpy(label[anchors]),
                                torch.from_numpy(replica[anchors]))


def train_encoder_streaming(stream: ShardStream, x_val: np.ndarray, y_val: np.ndarray, enc_cfg: EncoderConfig,
                            cfg: TrainConfig, device: torch.device | str = "cpu", num_workers: int = 0,
                            on_epoch: Callable[[dict], None] | None = None,
                            max_anchors: int | None = None, anchors_per_epoch: int | None = None) -> TrainResult:
    """Contrastive training over ``stream``.

    Same model, optimiser, loss, validation pairs and early stopping as :func:`.training.train_encoder`; only
    the pairs differ (drawn inside the stream's buffers instead of over the whole split). ``x_val`` are features.
    An epoch is one pass over every train replica as anchor, or, with ``anchors_per_epoch`` (the ``train`` stage
    passes ``train.pairs_per_epoch``), that many anchors taken from passes that continue across epochs -- the
    in-memory trainer's epoch, so validation and early stopping run at the same cadence.
    ``max_anchors`` ends each full-pass epoch after that many anchors (benchmarks on a time budget).
    """
    # the trainer's own tensor holds the (small) validation features; the train pairs come from the stream
    trainer = ContrastiveTrainer(x_val, y_val, enc_cfg, cfg, device)
    vi, vj, vy = PairSampler(np.asarray(y_val), cfg.positive_fraction).sample(cfg.val_pairs,
                                                                             np.random.default_rng(cfg.seed + 1))
    dev = trainer.device
    xv = trainer.x
    vi_t, vj_t, vy_t = (torch.from_numpy(a).to(dev) for a in (vi, vj, vy))
    loader = torch.utils.data.DataLoader(stream, batch_size=None, num_workers=num_workers)

    def passes() -> Iterator[PairBatch]:
        """Batches of pass 1, 2, ... (each pass reshuffled), without end."""
        p = 0
        while True:
            p += 1
            stream.set_epoch(p)
            empty = True
            for b in loader:
                empty = False
                yield b
            if empty:
                raise DataError("the corpus train split yielded no replica to stream; re-run the corpus stage")

    batches: Iterator[PairBatch] = passes() if anchors_per_epoch is not None else iter(())

    def run_epoch(epoch: int) -> tuple[float, int, dict]:
        nonlocal batches
        if anchors_per_epoch is None:
            stream.set_epoch(epoch)
            batches = iter(loader)
        limit = anchors_per_epoch if anchors_per_epoch is not None else max_anchors
        trainer.encoder.train()
        total, seen = 0.0, 0
        for b in batches:
            n = b.y.shape[0]
            if n < 2:
                continue
            total += trainer.step(b.xi.to(dev), b.xj.to(dev), b.y.to(dev)) * n
            seen += n
            if limit is not None and seen >= limit:
                break
        return total / max(seen, 1), seen, {"anchors": seen}

    enc = trainer.encoder
    return fit_early_stopping(enc, run_epoch, lambda: pair_loss(enc, xv, vi_t, vj_t, vy_t, cfg.margin), cfg, on_epoch)
