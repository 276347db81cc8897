"""The fit stage's contract: reports/metrics/fit.json has exactly the issue's keys; combined = sum of datasets."""

from __future__ import annotations

import json

import pytest
import yaml

from smeftfm.config import parse_params
from smeftfm.stages.fit import run_fit


@pytest.fixture(scope="module")
def fit_outputs(root, tmp_path_factory):
    raw = yaml.safe_load((root / "tests/fixtures/params_tiny.yaml").read_text())
    raw["fit"].update({"root": str(root / "data/measurements"), "datasets": ["cms_dy_13tev", "atlas_dy_7tev_hm"],
                       "mll_range": {"cms_dy_13tev": [106.0, 3000.0]}})
    params = parse_params(raw)
    out = tmp_path_factory.mktemp("fit")
    run_fit(params, out / "data", out / "fit.json", out / "details.json")
    det = json.loads((out / "details.json").read_text())
    det["lo_vs_data"] = json.loads((out / "data/results.json").read_text())["lo_vs_data"]
    return params, json.loads((out / "fit.json").read_text()), det


def test_fit_json_has_exactly_the_issue_keys(fit_outputs):
    params, fit, _ = fit_outputs
    assert set(fit) == {"CMS_DY_13TEV", "ATLAS_DY_7TEV_HM", "combined"}
    for entry in fit.values():
        assert set(entry) == {"chi2_sm", "ndf", "intervals"}
        assert isinstance(entry["chi2_sm"], float) and isinstance(entry["ndf"], int)
        assert set(entry["intervals"]) == set(params.fit.operators)
        for iv in entry["intervals"].values():
            assert set(iv) == {"linear", "quadratic"}
            for lo, hi in iv.values():
                assert lo is None or hi is None or lo < hi


def test_combined_is_the_sum_of_independent_datasets(fit_outputs):
    _, fit, det = fit_outputs
    parts = [fit["CMS_DY_13TEV"], fit["ATLAS_DY_7TEV_HM"]]
    assert fit["combined"]["chi2_sm"] == pytest.approx(sum(p["chi2_sm"] for p in parts), rel=1e-12)
    assert fit["combined"]["ndf"] == sum(p["ndf"] for p in parts) == (24 - 1) + (13 - 1)
    # the shape uncertainty can only lower the SM chi2 (it adds a positive semi-definite covariance)
    for d in det["datasets"].values():
        assert d["chi2_sm_norm_shape"] <= d["chi2_sm_norm"] + 1e-9
    # the combined single-operator interval is no wider than the narrower of the datasets' (same linear model)
    c = fit["combined"]["intervals"]["clq3"]["linear"]
    widths = [p["intervals"]["clq3"]["linear"][1] - p["intervals"]["clq3"]["linear"][0] for p in parts]
    assert c[1] - c[0] <= min(widths) * 1.001


def test_cms_lo_over_data_below_the_peak(fit_outputs):
    """The issue's sanity numbers: LO/data is 0.60-0.72 at 60-86 GeV; chi2/ndf ~ 13 over the full range."""
    _, _, det = fit_outputs
    lvd = det["lo_vs_data"]["CMS_DY_13TEV"]
    assert det["sm_full_range"]["CMS_DY_13TEV"]["lo_over_data_60_86"] == pytest.approx(
        [min(lvd["lo_over_data"][9:15]), max(lvd["lo_over_data"][9:15])])
    r = [x for lo, x in zip(lvd["edges"][:-1], lvd["lo_over_data"]) if 60 <= lo < 86]
    assert 0.55 < min(r) and max(r) < 0.78
    full = lvd["full_range"]
    assert 10 < full["chi2_norm"] / full["ndf"] < 16
