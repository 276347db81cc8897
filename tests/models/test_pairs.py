import numpy as np
import pytest

from smeftfm.errors import SmeftfmError
from smeftfm.models.pairs import PairSampler


def test_pair_sampler_fraction_and_consistency():
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(7), [3, 5, 8, 2, 10, 4, 6])[rng.permutation(38)]
    s = PairSampler(labels, positive_fraction=0.3)
    i, j, y = s.sample(10_000, np.random.default_rng(1))
    assert y.mean() == pytest.approx(0.3, abs=1e-12)
    pos = y == 1
    assert np.all(labels[i[pos]] == labels[j[pos]])
    assert np.all(i[pos] != j[pos])
    assert np.all(labels[i[~pos]] != labels[j[~pos]])
    # every replica shows up as a partner; negative partner classes are spread over all classes
    assert np.unique(j).size == labels.size
    assert np.unique(labels[j[~pos]]).size == 7
    # deterministic for a seed
    i2, j2, y2 = s.sample(10_000, np.random.default_rng(1))
    assert np.array_equal(i, i2) and np.array_equal(j, j2) and np.array_equal(y, y2)


def test_pair_sampler_rejects_singletons():
    with pytest.raises(SmeftfmError, match="fewer than two replicas"):
        PairSampler(np.array([0, 0, 1]))
    with pytest.raises(SmeftfmError, match="two universes"):
        PairSampler(np.zeros(5, int))
