"""The scorecard contract, the scenario runs and determinism, on the tiny pipeline (``dvc repro`` fixture)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

CONFIG_KEYS = {"scenario", "anomaly", "retrieval", "coefficient_r2_unseen", "knn_seen"}
SIGNALS = {"tail", "resonance", "zshift", "combined"}


def _check_unit(v, allow_null=False):
    if v is None:
        assert allow_null
        return
    assert isinstance(v, float) and 0.0 <= v <= 1.0


def test_scorecard_has_exactly_the_contract_keys(tiny_pipeline):
    card = json.loads((tiny_pipeline / "reports" / "metrics" / "scorecard.json").read_text())
    assert set(card) == {"paper", "recommended"}
    for name, entry in card.items():
        assert entry is not None, name
        assert set(entry) == CONFIG_KEYS
        assert isinstance(entry["scenario"], str) and entry["scenario"] == "L_eff"
        assert set(entry["anomaly"]) == SIGNALS
        for per in entry["anomaly"].values():
            assert len(per) == 2  # the tiny scan has two GoF targets
            for key, v in per.items():
                float(key)  # strengths in physical units
                assert set(v) == {"auroc", "auroc_gof", "auroc_optimal"}
                for x in v.values():
                    _check_unit(x)
        assert set(entry["retrieval"]) == {"1sigma", "3sigma", "6sigma"}
        for v in entry["retrieval"].values():
            assert set(v) == {"precision", "recall", "f1", "n_true"}
            assert isinstance(v["n_true"], int)
            for k in ("precision", "recall", "f1"):
                _check_unit(v[k], allow_null=True)
        assert set(entry["coefficient_r2_unseen"]) == {"encoder", "lda", "pca_whitened"}
        assert all(isinstance(x, float) for x in entry["coefficient_r2_unseen"].values())
        assert set(entry["knn_seen"]) == {"encoder", "lda", "pca"}
        for x in entry["knn_seen"].values():
            _check_unit(x)


def test_gof_strength_scan_hits_its_targets(tiny_pipeline):
    """The strengths are chosen on one set of replicas; fresh replicas reproduce the GoF AUROC targets."""
    card = json.loads((tiny_pipeline / "reports" / "metrics" / "scorecard.json").read_text())
    det = json.loads((tiny_pipeline / "reports" / "metrics" / "evaluation.json").read_text())
    for sig, per in card["paper"]["anomaly"].items():
        for key, v in per.items():
            target = det["strengths"][sig][key]["target_gof_auroc"]
            assert v["auroc_gof"] == pytest.approx(target, abs=0.07), (sig, key)


def test_scenarios_are_side_by_side_runs(tiny_pipeline):
    d = tiny_pipeline / "reports" / "metrics" / "scenarios"
    runs = {p.stem: json.loads(p.read_text()) for p in d.glob("*.json")}
    assert set(runs) == {"leff", "run2", "hllhc"}
    assert runs["leff"]["luminosity_pb_inv"] < runs["run2"]["luminosity_pb_inv"] < runs["hllhc"]["luminosity_pb_inv"]
    # more luminosity: fewer Poisson bins, and a tail signal needs more events for the same GoF AUROC
    assert runs["hllhc"]["poisson_bins"] <= runs["leff"]["poisson_bins"]
    t = {k: r["signals"]["tail"][0]["value"] for k, r in runs.items()}
    assert t["leff"] < t["hllhc"]


def test_same_seed_gives_byte_identical_scorecard(tiny_pipeline, tmp_path):
    env = dict(os.environ, SMEFTFM_TRACKING="off", SMEFTFM_QUIET="1")
    outs = []
    for run in ("a", "b"):
        m = tmp_path / f"{run}.json"
        subprocess.run([sys.executable, "-m", "smeftfm.cli", "scorecard", "--out", str(tmp_path / f"sc_{run}"),
                        "--metrics", str(m), "--details", str(tmp_path / f"d_{run}.json")],
                       cwd=tiny_pipeline, env=env, check=True, capture_output=True)
        outs.append(m.read_bytes())
    assert outs[0] == outs[1]
    assert outs[0] == (Path(tiny_pipeline) / "reports" / "metrics" / "scorecard.json").read_bytes()
