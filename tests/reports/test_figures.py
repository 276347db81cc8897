"""Figure and table functions of the report on small synthetic inputs: the plotted numbers are the inputs'."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.patches import StepPatch

from smeftfm.errors import SmeftfmError
from smeftfm.physics.oracle import DEFAULT_BINNINGS
from smeftfm.reports.common import Table, fmt
from smeftfm.reports.figures_latent import (
    baseline_table,
    cluster_universes,
    retrieval_table,
    uncertainty_maps_figure,
)
from smeftfm.reports.figures_loop import cycle_table, main_run, paper_comparison_table, sigma_timeline_figure
from smeftfm.reports.figures_physics import operator_ratio_figure, screening_table, universe_spectra_figure
from smeftfm.reports.summary import headline, headline_rows

EDGES = {b.observable: b.edges for b in DEFAULT_BINNINGS}


def _sm() -> np.ndarray:
    return np.linspace(10.0, 0.01, 92)


def test_ratio_figure_plots_one_plus_lin_over_sm():
    sm = _sm()
    lin = {"clq3": sm * np.linspace(0, 2, 92), "cHWB": -0.1 * sm}
    f = operator_ratio_figure(sm, lin, EDGES, coefficient=0.5)
    axes = f.fig.axes
    # row 0: four-fermion (clq3), row 1: vertex (cHWB); column 0: m_ll
    (step_clq3,) = [p for p in axes[0].patches if isinstance(p, StepPatch)]
    np.testing.assert_allclose(step_clq3.get_data().values, 1 + 0.5 * np.linspace(0, 2, 92)[:60])
    (step_hwb,) = [p for p in axes[2].patches if isinstance(p, StepPatch)]
    np.testing.assert_allclose(step_hwb.get_data().values, np.full(60, 0.95))
    assert "m_ll" in f.caption and f.name == "oracle_ratios"


def test_spectra_figure_rejects_wrong_binning_and_counts_negative_universes():
    sm = _sm()
    y = np.vstack([sm * 1.1, sm * 0.9, np.where(np.arange(92) == 70, -1.0, sm)])
    f = universe_spectra_figure(y, sm, EDGES)
    assert "1 universe(s) have a non-positive bin" in f.caption
    with pytest.raises(SmeftfmError, match="bins"):
        universe_spectra_figure(y[:, :90], sm[:90], EDGES)


def test_screening_table_orders_interfering_first_and_needs_fields():
    screen = {"cHG": {"interferes": False, "rel_effect": 0.0, "reason": "gluonic"},
              "cHWB": {"interferes": True, "rel_effect": 0.2, "reason": "input shift"},
              "clq3": {"interferes": True, "rel_effect": 5.0, "reason": "contact"}}
    t = screening_table(screen)
    assert [r[0] for r in t.rows] == ["clq3", "cHWB", "cHG"]
    assert t.rows[2][1] == "no" and t.rows[2][-1] == "gluonic"
    assert t.caption.startswith("2 of 3 operators")
    with pytest.raises(SmeftfmError, match="rel_effect"):
        screening_table({"x": {"interferes": True}})


def test_uncertainty_maps_place_values_on_the_grid():
    x, y = np.meshgrid(np.arange(4.0), np.arange(3.0), indexing="ij")
    ent = x.ravel() * 10 + y.ravel()
    perm = np.random.default_rng(1).permutation(ent.size)  # input order must not matter
    f = uncertainty_maps_figure(x.ravel()[perm], y.ravel()[perm], ent[perm], ent[perm] / 100, np.zeros((2, 2)))
    mesh = f.fig.axes[0].collections[0]
    np.testing.assert_allclose(np.asarray(mesh.get_array()).reshape(3, 4), (x * 10 + y).T)
    with pytest.raises(SmeftfmError, match="regular"):
        uncertainty_maps_figure(np.array([0.0, 1.0, 2.0]), np.array([0.0, 1.0, 0.0]), np.ones(3), np.ones(3),
                                np.zeros((2, 2)))


def test_cluster_universes_separates_far_groups():
    rng = np.random.default_rng(0)
    z = np.vstack([rng.normal(0, 0.1, (10, 2)), rng.normal(10, 0.1, (10, 2))])
    cl = cluster_universes(z, 2)
    assert len(set(cl[:10])) == 1 and len(set(cl[10:])) == 1 and cl[0] != cl[-1]


def _trace() -> pd.DataFrame:
    rows = []
    for arm, ext, seed, scale in (("random", "dictionary", 0, 9.0), ("residual_energy", "dictionary", 1, 2.0),
                                  ("residual_energy", "dictionary", 0, 1.0), ("residual_energy", "none", 0, 5.0)):
        for c in range(4):
            act = "psi_extend" if (ext == "dictionary" and c == 1) else ("unlock_tier" if c == 3 else "acquire")
            rows.append({"cycle": c, "tier": "leading", "psi_dim": 5 + (c >= 1), "sigma1_pre": scale * (c + 1),
                         "sigma1_post": scale * (c + 1) / (10 if act == "psi_extend" else 1), "sigma_ratio": 2.0,
                         "action": act, "events": act, "arm": arm, "extension": ext, "seed": seed})
    return pd.DataFrame(rows).sample(frac=1.0, random_state=0)


def test_main_run_is_the_acquisition_arm_with_dictionary_extension_and_lowest_seed():
    m = main_run(_trace())
    assert list(m["cycle"]) == [0, 1, 2, 3]
    assert set(m["arm"]) == {"residual_energy"} and set(m["extension"]) == {"dictionary"} and set(m["seed"]) == {0}
    np.testing.assert_allclose(m["sigma1_pre"], [1, 2, 3, 4])
    assert set(main_run(_trace(), arm="random")["arm"]) == {"random"}


def test_main_run_prefers_the_run_named_headline():
    t = _trace()
    t["run"] = np.where((t["arm"] == "random").to_numpy(), "headline", "other")  # deliberately not the RE arm
    assert set(main_run(t)["arm"]) == {"random"}
    assert set(main_run(t, arm="residual_energy")["arm"]) == {"residual_energy"}


def test_cycle_table_and_timeline_follow_the_trace():
    t = cycle_table(_trace())
    assert [r[0] for r in t.rows] == ["0", "1", "2", "3"]
    assert t.rows[1][3:5] == ["2", "0.2"] and t.rows[1][-1] == "psi_extend"
    f = sigma_timeline_figure(_trace(), floor=0.5)
    ax = f.fig.axes[0]
    vlines = [ln for ln in ax.lines if ln.get_label() in ("ψ-extend", "unlock tier")]
    assert sorted(ln.get_xdata()[0] for ln in vlines) == [1, 3]
    with pytest.raises(SmeftfmError, match="sigma1_pre"):
        sigma_timeline_figure(pd.DataFrame({"cycle": [0]}), floor=1.0)


def test_paper_comparison_and_tables():
    t = paper_comparison_table({"first": 12.5, "overall": 80.0, "n_extensions": 3}, {"residual_energy": 7},
                               unlock_extension=False)
    assert t.rows[0][1:] == ["31", "12.5"] and t.rows[3][2] == "no"
    r = retrieval_table([{"level": "1sigma", "names": ["U001", "U007"], "count": 2}],
                        {"1sigma": {"n_true": 3, "precision": 1.0, "recall": 2 / 3}})
    assert r.rows[0] == ["1sigma", "2", "3", "1", "0.667", "U001, U007"]
    b = baseline_table({"knn_accuracy": 0.9, "r2_C_x": None}, {"knn_accuracy": 0.5})
    assert b.rows[0] == ["knn_accuracy", "0.9", "0.5"] and ["r2_C_x", "–", "–"] in b.rows
    with pytest.raises(SmeftfmError, match="rows"):
        Table("t", "t", "c", ["a", "b"], [["1"]])


def test_headline_collects_nested_metrics_and_drops_non_finite():
    v = headline({"report": {"n_universes": 100}, "train": {"encoder": {"knn_accuracy": 0.9}, "pca": {}},
                  "heads": {"anomaly": {"resonance": {"auroc_mi": 0.97}},
                            "retrieval": {"3sigma": {"precision": None, "recall": 0.5}}},
                  "loop": {"collapse": {"first": 30.0, "overall": float("nan")}, "note": "text"}})
    assert v == {"n_universes": 100.0, "encoder_knn_accuracy": 0.9, "anomaly_auroc_mi_resonance": 0.97,
                 "retrieval_3sigma_recall": 0.5, "loop_collapse_first": 30.0}
    rows = dict(headline_rows(v))
    assert rows["universes"] == "100" and rows["encoder k-NN universe accuracy (test)"] == "0.9"
    flags = dict(headline_rows(headline({"loop": {"gates": {"manifold_completed": False}, "gates_passed": 3}})))
    assert flags == {"ALETHEIA: gates manifold completed": "no", "ALETHEIA: gates passed": "3"}


@pytest.mark.parametrize(("x", "s"), [(None, "–"), (float("nan"), "–"), (3, "3"), (0.12345, "0.123"),
                                      (1.5e-5, "1.50e-05"), (True, "yes")])
def test_fmt(x, s):
    assert fmt(x) == s
