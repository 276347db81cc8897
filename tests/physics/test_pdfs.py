"""The PDF reader against the sum rules and reference values, and its error messages."""

from __future__ import annotations

import numpy as np
import pytest

from smeftfm.errors import PDFNotFoundError
from smeftfm.physics.pdfs import PDF, find_pdf_set, load_pdf

PIDS = (-5, -4, -3, -2, -1, 1, 2, 3, 4, 5, 21)


def _integrate_logx(fn, lo=1e-9):
    """Integral over x in [lo, 1] of fn(x) dx, by Gauss-Legendre in log x on many panels."""
    xg, wg = np.polynomial.legendre.leggauss(24)
    edges = np.linspace(np.log(lo), 0.0, 181)
    a, b = edges[:-1, None], edges[1:, None]
    t = (a + 0.5 * (b - a) * (xg + 1)).ravel()
    w = (0.5 * (b - a) * wg).ravel()
    x = np.exp(t)
    return float(np.sum(fn(x) * x * w))


@pytest.mark.parametrize("name", ["CT18LO", "CT18NNLO"])
def test_momentum_sum_rule_at_100_gev(name):
    pdf = load_pdf(name, 0)
    q = 100.0
    # momentum sum: integral of x f(x) dx over all partons
    total = _integrate_logx(lambda x: sum(pdf.xfxQ(p, x, np.full_like(x, q)) for p in PIDS))
    assert total == pytest.approx(1.0, abs=1e-3)


def test_valence_sum_rules():
    pdf = load_pdf("CT18LO", 0)
    q = np.array(100.0)
    uv = _integrate_logx(lambda x: (pdf.f(2, x, q) - pdf.f(-2, x, q)))
    dv = _integrate_logx(lambda x: (pdf.f(1, x, q) - pdf.f(-1, x, q)))
    sv = _integrate_logx(lambda x: (pdf.f(3, x, q) - pdf.f(-3, x, q)))
    assert uv == pytest.approx(2.0, abs=1e-2)
    assert dv == pytest.approx(1.0, abs=1e-2)
    assert abs(sv) < 1e-2


def test_reference_values_from_independent_readers():
    # x f(x, Q) at x = 0.01, Q = 100 GeV as quoted in ../shared/pdfsets/README.md (two independent readers)
    pdf = load_pdf("CT18LO", 0)
    x, q = np.array([0.01]), np.array([100.0])
    assert pdf.xfxQ(2, x, q)[0] == pytest.approx(0.823063, rel=1e-5)
    assert pdf.xfxQ(1, x, q)[0] == pytest.approx(0.746025, rel=1e-5)
    assert pdf.xfxQ(21, x, q)[0] == pytest.approx(8.1727, rel=1e-4)


def test_x_at_or_above_one_gives_zero():
    pdf = load_pdf("CT18LO", 0)
    vals = pdf.xfxQ(2, np.array([1.0, 1.5]), np.array([91.0, 91.0]))
    assert np.all(vals == 0.0)


def test_missing_pdf_set_is_one_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv("LHAPDF_DATA_PATH", str(tmp_path))
    with pytest.raises(PDFNotFoundError, match="NoSuchSet.*LHAPDF_DATA_PATH.*pdf-download"):
        find_pdf_set("NoSuchSet")


def test_missing_member_is_one_clear_error():
    with pytest.raises(PDFNotFoundError, match="member 3"):
        PDF("CT18NNLO", 3)


def test_all_flavours_at_once_equals_one_flavour_at_a_time():
    pdf = load_pdf("CT18LO", 0)
    rng = np.random.default_rng(3)
    x = np.concatenate([10 ** rng.uniform(-9.5, 0.0, 3000), [1.0, 1.2, 1e-12]])
    q = np.concatenate([rng.uniform(1.0, 2e5, 3000), [91.0, 91.0, 91.0]])
    many = pdf.xfxQ_many(PIDS, x, q)
    for i, p in enumerate(PIDS):
        np.testing.assert_allclose(many[:, i], pdf.xfxQ(p, x, q), rtol=1e-12, atol=1e-14)
