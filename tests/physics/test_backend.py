"""The array backends: their doctests, and the torch backend keeping dtype and device of its inputs."""

from __future__ import annotations

import doctest

import numpy as np
import pytest

from smeftfm.physics import backend as backend_module
from smeftfm.physics.backend import get_backend


def test_backend_doctests():
    result = doctest.testmod(backend_module)
    assert result.attempted > 0 and result.failed == 0


def test_numpy_backend_returns_the_same_array_without_copying():
    a = np.arange(3.0)
    assert get_backend("numpy").astensor(a) is a


def test_torch_backend_keeps_index_arrays_integer_and_floats_float64():
    torch = pytest.importorskip("torch")
    be = get_backend("torch", "cpu")
    like = torch.zeros(2, dtype=torch.float32)
    assert be.astensor(np.array([0, 1])).dtype == torch.int64
    assert be.astensor(np.array([0.5])).dtype == torch.float64
    assert be.astensor(np.array([0.5]), like=like).dtype == torch.float32
    np.testing.assert_array_equal(be.to_numpy(be.repeat_last(be.astensor(np.array([[1.0, 2.0]])), 2)),
                                  [[1.0, 1.0, 2.0, 2.0]])
