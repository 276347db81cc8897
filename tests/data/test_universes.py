"""The universe sampler reproduces the paper's distributions (eqs. 3.2-3.3) and the data contract."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from smeftfm.data.universes import (
    align_coefficients,
    sample_coefficients,
    universes_frame,
    zero_probabilities,
)
from smeftfm.errors import SmeftfmError


def test_magnitudes_are_log_uniform_and_signs_symmetric():
    c = sample_coefficients(4000, 17, seed=5, zero_scope="entry")
    nz = c[c != 0]
    ln = np.log(np.abs(nz))
    assert ln.min() >= np.log(1e-4) and ln.max() <= np.log(2.0)
    # KS against U(ln 1e-4, ln 2) on ~54k values: a wrong law (e.g. uniform |C|) fails by orders of magnitude
    res = stats.kstest(ln, stats.uniform(np.log(1e-4), np.log(2.0) - np.log(1e-4)).cdf)
    assert res.pvalue > 1e-3
    assert stats.binomtest(int((nz > 0).sum()), nz.size, 0.5).pvalue > 1e-3


def test_uniform_magnitude_would_fail_the_same_test():
    """The KS test above has power: |C| ~ U(1e-4, 2) instead of log-uniform is rejected."""
    rng = np.random.default_rng(0)
    ln = np.log(rng.uniform(1e-4, 2.0, 50_000))
    res = stats.kstest(ln, stats.uniform(np.log(1e-4), np.log(2.0) - np.log(1e-4)).cdf)
    assert res.pvalue < 1e-10


@pytest.mark.parametrize("scope", ["operator", "entry"])
def test_zero_fraction_expectation_is_p_max_over_two(scope):
    n, n_ops = 400, 1000
    c = sample_coefficients(n, n_ops, seed=11, zero_scope=scope)
    frac = float((c == 0).mean())
    # operator scope: fraction ~ mean of n_ops U(0, 0.4) draws (sd 0.4/sqrt(12 n_ops)) + binomial noise
    sd = 0.4 / np.sqrt(12 * n_ops) if scope == "operator" else np.sqrt(0.2 * 0.8 / c.size)
    assert abs(frac - 0.2) < 5 * sd + 5 * np.sqrt(0.2 * 0.8 / c.size)


def test_operator_scope_zeroes_each_operator_at_its_own_rate():
    n, n_ops, seed = 3000, 200, 3
    c = sample_coefficients(n, n_ops, seed=seed, zero_scope="operator")
    p = zero_probabilities(n_ops, seed, 0.4)
    per_op = (c == 0).mean(axis=0)
    sd = np.sqrt(np.clip(p * (1 - p), 1e-4, None) / n)
    assert np.all(np.abs(per_op - p) < 5 * sd + 1e-3)
    assert stats.kstest(p, stats.uniform(0, 0.4).cdf).pvalue > 1e-3


def test_universe_draws_do_not_depend_on_the_number_of_universes():
    a = sample_coefficients(5, 7, seed=9)
    b = sample_coefficients(50, 7, seed=9)
    np.testing.assert_array_equal(a, b[:5])
    assert not np.array_equal(sample_coefficients(5, 7, seed=10), a)


def test_frame_follows_the_contract():
    ops = ("clq1", "cHq3")
    df = universes_frame(ops, sample_coefficients(3, 2, seed=1))
    assert list(df.columns) == ["universe", "label", "clq1", "cHq3"]
    assert list(df["universe"]) == ["SM", "U000", "U001", "U002"]
    assert df["label"].dtype == np.int32 and list(df["label"]) == [-1, 0, 1, 2]
    assert (df.iloc[0][list(ops)] == 0).all()


def test_align_drops_only_operators_without_linear_effect():
    c = np.array([[0.5, 1.0, -0.2]])
    out = align_coefficients(["clq1", "ceWRe", "cHq3"], c, ("clq1", "cHq3"), "linear")
    np.testing.assert_array_equal(out, [[0.5, -0.2]])
    with pytest.raises(SmeftfmError, match="ceWRe"):
        align_coefficients(["clq1", "ceWRe"], c[:, :2], ("clq1",), "quadratic")
    with pytest.raises(SmeftfmError, match="cHq3"):
        align_coefficients(["clq1", "cHq3"], c[:, :2], ("clq1",), "linear")


def test_bad_inputs_raise_one_clear_error():
    with pytest.raises(SmeftfmError, match="lo < hi"):
        sample_coefficients(3, 2, seed=1, lo=2.0, hi=1.0)
    with pytest.raises(SmeftfmError, match="zero_scope"):
        sample_coefficients(3, 2, seed=1, zero_scope="bogus")
