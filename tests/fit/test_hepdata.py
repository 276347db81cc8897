"""HEPData reader and the committed measurements: independent numbers, and one clear error per malformed file."""

from __future__ import annotations

import numpy as np
import pytest

from smeftfm.errors import DataError, SmeftfmError
from smeftfm.fit.hepdata import read_hepdata_table
from smeftfm.fit.measurements import DatasetPhaseSpace, load_dataset
from smeftfm.fit.predict import check_computable

GOOD = """
independent_variables:
- header: {name: M, units: GEV}
  values: [{low: 10, high: 20}, {low: 20, high: 40}]
dependent_variables:
- header: {name: DSIG/DM, units: FB/GEV}
  values:
  - value: 100.0
    errors: [{symerror: 5.0, label: stat}, {symerror: '10%', label: sys}]
  - value: 50.0
    errors: [{asymerror: {plus: 3.0, minus: -1.0}, label: stat}, {symerror: '10%', label: sys}]
"""


def test_reader_parses_edges_units_and_error_breakdown(tmp_path):
    p = tmp_path / "t.yaml"
    p.write_text(GOOD)
    t = read_hepdata_table(p)
    assert np.allclose(t.edges(), [10, 20, 40])
    dep = t.dependent[0]
    assert dep.units == "FB/GEV"
    assert np.allclose(dep.errors["stat"], [5.0, 2.0])  # asymmetric symmetrised: (3 + 1)/2
    assert np.allclose(dep.errors["sys"], [10.0, 5.0])  # percentages of the central value


@pytest.mark.parametrize(
    "text, needle",
    [
        ("independent_variables: []\ndependent_variables: []", "independent_variables"),
        (GOOD.replace("value: 50.0", "value: fifty"), "not a number"),
        (GOOD.replace("{low: 20, high: 40}", "{low: 40, high: 20}"), "high <= low"),
        (GOOD.replace("symerror: 5.0, ", ""), "neither symerror nor asymerror"),
        ("a: [1, 2", "not valid YAML"),
        (GOOD.replace("- value: 50.0", "- valu: 50.0"), "lacks 'value'"),
    ],
)
def test_malformed_hepdata_gives_one_clear_error(tmp_path, text, needle):
    p = tmp_path / "bad.yaml"
    p.write_text(text)
    with pytest.raises(DataError) as e:
        read_hepdata_table(p)
    assert needle in str(e.value) and "bad.yaml" in str(e.value)


def test_cms_measurement_matches_its_source(root):
    """Table 7 values and Table 10 diagonal agree with the NNPDF plain text (independent parse)."""
    d = load_dataset(root / "data/measurements/cms_dy_13tev")
    raw = np.loadtxt(root / "data/measurements/sources/CMS_HMDY_13TEV.data")
    assert d.n == 43 and np.allclose(d.edges[[0, -1]], [15, 3000])
    assert np.allclose(d.values, raw[:, 2])
    # the covariance's diagonal is the squared total uncertainty (to the 2 significant digits quoted)
    assert np.allclose(np.sqrt(np.diag(d.cov)), raw[:, 3], rtol=0.06)
    assert d.phase_space.full and d.phase_space.sqrt_s == 13000


def test_atlas_covariance_from_breakdown(root):
    d = load_dataset(root / "data/measurements/atlas_dy_7tev_hm")
    assert d.n == 13 and d.phase_space.sqrt_s == 7000 and d.phase_space.pt_min == 25.0
    # first bin: total 4.68 % (quadrature sum of the 12 sources); luminosity 1.8 % fully correlated
    assert d.errors[0] / d.values[0] == pytest.approx(0.0468, abs=2e-4)
    corr = d.cov / np.outer(d.errors, d.errors)
    assert corr[0, 1] > 0.85 and corr[0, -1] < 0.15  # correlated systematics dominate low mass, statistics the last bin
    # smefit_database's ATLASZHIGHMASS49FB (fb/GeV) has the same central values
    assert d.values[0] * 1e3 == pytest.approx(224.0) and d.values[-1] * 1e3 == pytest.approx(0.00288)


@pytest.mark.parametrize(
    "ps, needle",
    [
        (DatasetPhaseSpace(13000, observable="ptll"), "observable 'ptll'"),
        (DatasetPhaseSpace(13000, lepton_flavour="sum_e_mu"), "lepton_flavour"),
        (DatasetPhaseSpace(1000), "cannot produce"),
    ],
)
def test_uncomputable_phase_space_gives_one_clear_error(ps, needle):
    with pytest.raises(SmeftfmError, match=needle):
        check_computable(ps, np.array([100.0, 200.0, 600.0]), "X")


def test_unknown_cut_in_manifest_is_refused():
    with pytest.raises(SmeftfmError, match="cannot compute a phase space with cuts"):
        DatasetPhaseSpace.from_manifest({"sqrt_s_gev": 13000, "cuts": {"ptll_min_gev": 5}}, "m.yaml")
