"""Contrastive pairs drawn as index tensors (no per-sample Python loop).

A positive pair is two *different* replicas of the same universe, a negative pair two replicas of different
universes; the fraction of positives is a parameter (the paper's stratified pair set). Anchors are uniform
over replicas; a negative partner's universe is uniform over the other universes.
"""

from __future__ import annotations

import numpy as np

from ..errors import SmeftfmError

__all__ = ["PairSampler"]


class PairSampler:
    """Draws ``(i, j, y)`` index arrays into a label vector; ``y = 1`` marks same-universe pairs."""

    def __init__(self, labels: np.ndarray, positive_fraction: float = 0.5):
        labels = np.asarray(labels)
        if labels.ndim != 1 or labels.size < 2:
            raise SmeftfmError("pair sampling needs a 1-D label array with at least two replicas")
        if not 0.0 < positive_fraction < 1.0:
            raise SmeftfmError(f"train.positive_fraction must be in (0, 1), got {positive_fraction}")
        classes, dense = np.unique(labels, return_inverse=True)
        if classes.size < 2:
            raise SmeftfmError("contrastive training needs at least two universes in the split")
        self.positive_fraction = float(positive_fraction)
        self.n = labels.size
        self.n_classes = classes.size
        self.dense = dense.astype(np.int64)
        self.order = np.argsort(self.dense, kind="stable")  # replica indices grouped by class
        self.counts = np.bincount(self.dense, minlength=self.n_classes)
        if np.any(self.counts < 2):
            bad = classes[self.counts < 2][:5].tolist()
            raise SmeftfmError(f"universes {bad} have fewer than two replicas in the split; positives impossible "
                               "(increase corpus.n_replicas)")
        self.starts = np.concatenate([[0], np.cumsum(self.counts)[:-1]])
        self.rank = np.empty(self.n, dtype=np.int64)  # position of each replica inside its class block
        self.rank[self.order] = np.arange(self.n) - self.starts[self.dense[self.order]]

    def sample(self, n_pairs: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``n_pairs`` pairs: index arrays ``i, j`` (int64) and targets ``y`` (float32, 1 = positive)."""
        n_pos = int(round(n_pairs * self.positive_fraction))
        i = rng.integers(0, self.n, size=n_pairs)
        ci = self.dense[i]
        # positives: another member of the anchor's class (skip the anchor itself)
        cp = ci[:n_pos]
        r = (rng.random(n_pos) * (self.counts[cp] - 1)).astype(np.int64)
        r += r >= self.rank[i[:n_pos]]
        j_pos = self.order[self.starts[cp] + r]
        # negatives: a uniformly chosen other class, then a uniform member of it
        cn = (ci[n_pos:] + 1 + rng.integers(0, self.n_classes - 1, size=n_pairs - n_pos)) % self.n_classes
        rn = (rng.random(n_pairs - n_pos) * self.counts[cn]).astype(np.int64)
        j_neg = self.order[self.starts[cn] + rn]
        j = np.concatenate([j_pos, j_neg])
        y = np.concatenate([np.ones(n_pos, np.float32), np.zeros(n_pairs - n_pos, np.float32)])
        perm = rng.permutation(n_pairs)
        return i[perm], j[perm], y[perm]
