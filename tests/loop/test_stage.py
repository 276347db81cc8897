"""Stage helpers: tiers checked against the screening output, Table-2 markdown."""

from __future__ import annotations

import json

import pytest

from smeftfm.config import parse_params
from smeftfm.errors import SmeftfmError
from smeftfm.stages.loop import tiers_from_screen


def _screen(tmp_path, rows):
    p = tmp_path / "operators.json"
    p.write_text(json.dumps(rows))
    return p


def test_tiers_follow_the_screening(tmp_path):
    rows = {"clq1": {"interferes": True, "tier": "leading"}, "clq3": {"interferes": True, "tier": "leading"},
            "cHq1": {"interferes": True, "tier": "subleading"}, "cHq3": {"interferes": True, "tier": "subleading"},
            "cHG": {"interferes": False, "tier": "none"}}
    tiers = tiers_from_screen(parse_params({}), _screen(tmp_path, rows))
    assert [(t.name, t.operators) for t in tiers] == [("leading", ("clq1", "clq3")), ("subleading", ("cHq1", "cHq3"))]
    wrong = parse_params({"loop": {"leading": ["clq1", "cHq1"], "subleading": ["cHq3"]}})
    with pytest.raises(SmeftfmError, match="move it to loop.subleading"):
        tiers_from_screen(wrong, _screen(tmp_path, rows))
    dead = parse_params({"loop": {"leading": ["clq1"], "subleading": ["cHG"]}})
    with pytest.raises(SmeftfmError, match="not interfering"):
        tiers_from_screen(dead, _screen(tmp_path, rows))
    with pytest.raises(SmeftfmError, match="not found"):
        tiers_from_screen(parse_params({}), tmp_path / "missing.json")
    with pytest.raises(SmeftfmError, match="unknown key"):
        parse_params({"loop": {"flor": 1.0}})


@pytest.mark.slow
def test_informer_stage_metrics_on_the_tiny_pipeline(tiny_pipeline):
    """The informer stage's metrics carry the weighted and the plain-SM probe R^2, bootstrap errors and the
    Sherman-Morrison self-check on trained embeddings."""
    m = json.loads((tiny_pipeline / "reports/metrics/informer.json").read_text())
    terms = set(m["probe_r2"])
    assert {t for t in terms if t.startswith("lin:")} == {"lin:clq1", "lin:clq3", "lin:cHq1", "lin:cHq3"}
    assert set(m["probe_r2_bootstrap_se"]) == terms == set(m["probe_r2_sm_sample_median"])
    ses = [se for v in m["probe_r2_bootstrap_se"].values() for se in v if se is not None]
    assert ses and all(se >= 0 for se in ses) and max(ses) > 0
    assert m["sherman_morrison_rel_dev_max"] < 1e-8
    assert isinstance(m["contract_tangent_r2_ge_0p99"], bool)
    assert m["contract_tangent_r2_ge_0p99"] == (min(m["probe_r2_median"][t] for t in terms
                                                     if t.startswith("lin:")) >= 0.99)
