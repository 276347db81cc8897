"""Analytic PRAXIS screening: exactly the 17 vector structures interfere."""

from __future__ import annotations

import pytest

from smeftfm.physics.operators import CATALOG, FOUR_FERMION, VECTOR_OPERATORS
from smeftfm.physics.oracle import QuadratureSpec
from smeftfm.physics.screening import helicity_support, screen, screened_operators

COARSE = QuadratureSpec(mass_nodes=6, mass_sub_gev=5.0, angle_nodes=8, rapidity_nodes=8, pt_nodes=4)

EXPECTED_INTERFERING = {
    "clq1", "clq3", "ceu", "ced", "clu", "cld", "cqe",
    "cHl1", "cHl3", "cHe", "cHq1", "cHq3", "cHu", "cHd", "cHDD", "cHWB", "cll1",
}


@pytest.fixture(scope="module")
def results(oracle):
    return screen({"pdf": oracle.pdf}, rel_threshold=1e-6, spec=COARSE)


def test_catalog_has_the_31_operators_of_table_1():
    assert len(CATALOG) == 31
    assert len({op.name for op in CATALOG}) == 31
    counts = {}
    for op in CATALOG:
        counts[op.power_counting] = counts.get(op.power_counting, 0) + 1
    assert counts == {"s/L2": 7, "v2/L2": 10, "v4/L4": 4, "v2s/L4": 7, "s2/L4": 3}


def test_exactly_the_17_vector_operators_interfere(results):
    interfering = {k for k, v in results.items() if v.interferes}
    assert interfering == EXPECTED_INTERFERING == set(VECTOR_OPERATORS)
    assert len(results) - len(interfering) == 14


def test_every_verdict_has_a_reason_and_a_tier(results):
    for name, r in results.items():
        assert r.reason and len(r.reason) > 20, name
        if r.interferes:
            assert r.rel_effect > 1e-3
            assert r.tier == ("leading" if name in FOUR_FERMION else "subleading")
        else:
            assert r.rel_effect == 0.0 and r.tier == "none"
            assert any(w in r.reason for w in ("chirality-flipping", "Higgs")), name


def test_four_fermion_effects_peak_in_the_tails_and_vertex_effects_near_the_pole(results):
    for name in FOUR_FERMION:
        obs, idx = results[name].max_bin.split("[")
        idx = int(idx.rstrip("]"))
        assert (obs == "mll" and idx >= 50) or (obs == "pt" and idx >= 25), (name, results[name].max_bin)
    for name in ("cHe", "cHl1", "cHq3"):
        obs, idx = results[name].max_bin.split("[")
        assert obs == "mll" and int(idx.rstrip("]")) <= 6, (name, results[name].max_bin)


def test_helicity_supports_are_disjoint_from_the_sm_for_chirality_flips():
    sm = helicity_support(None)
    assert len(sm) == 4
    for op in CATALOG:
        overlap = helicity_support(op) & sm
        assert bool(overlap) == op.chirality_conserving, op.name


def test_screened_operators_by_tier(results):
    table = {k: {"interferes": v.interferes, "tier": v.tier} for k, v in results.items()}
    assert set(screened_operators(table, ("leading",))) == set(FOUR_FERMION)
    assert len(screened_operators(table)) == 17
