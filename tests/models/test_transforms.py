import numpy as np
import pytest

from smeftfm.errors import SmeftfmError
from smeftfm.models.transforms import KINDS, InputTransform


@pytest.mark.parametrize("kind", KINDS)
def test_round_trip_and_standardisation(kind, toy_sm):
    rng = np.random.default_rng(0)
    sm = toy_sm
    y = sm * np.exp(0.1 * rng.standard_normal((500, sm.size)))
    t = InputTransform.fit(kind, y, sm)
    x = t(y)
    assert x.dtype == np.float32 and x.shape == y.shape
    np.testing.assert_allclose(x.mean(0), 0.0, atol=1e-4)
    np.testing.assert_allclose(x.std(0), 1.0, atol=1e-3)
    np.testing.assert_allclose(t.inverse(x), y, rtol=2e-5)
    t2 = InputTransform.from_dict(t.to_dict())
    np.testing.assert_array_equal(t2(y), x)


def test_floor_clips_non_positive_bins(toy_sm):
    sm = toy_sm
    y = np.tile(sm, (4, 1))
    y[0, -1] = -sm[-1]
    t = InputTransform.fit("log_ratio_sm", y, sm, floor=0.05)
    assert np.isfinite(t(y)).all()
    assert t.clipped_fraction(y) == pytest.approx(1 / y.size)
    with pytest.raises(SmeftfmError, match="shape"):
        t(y[:, :10])
    with pytest.raises(SmeftfmError, match="positive"):
        InputTransform.fit("log_ratio_sm", y, -sm)
