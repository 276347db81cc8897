"""The loop on the real oracle (small probe sets): extension collapses sigma_1, gates and controls."""

from __future__ import annotations

import numpy as np
import pytest

from smeftfm.errors import SmeftfmError
from smeftfm.loop.controller import (
    CycleRecord,
    LoopResult,
    collapse_factors,
    control_checks,
    gates,
    unlock_triggered_extension,
)


def test_exact_extension_removes_the_leading_direction(make_loop):
    loop = make_loop(coeff_max=10.0, max_cycles=12)
    res = loop.run("residual_energy", extension="exact")
    ext = res.extensions
    assert ext, "a wide coefficient box must expose out-of-span structure"
    for r in ext:
        # appending v1-combination of the acquired l_C removes exactly the leading direction: post = sigma_2(pre)
        assert np.isclose(r.sigma1_post, r.sigma2_pre, rtol=1e-6)
        assert r.sigma1_val_post < r.sigma1_val_pre  # and it generalises to the validation probe set
        assert r.alignment == pytest.approx(1.0, abs=1e-8)
    assert ext[0].psi_dim == loop.s.psi_init_dim + 1
    assert res.records[0].action != "psi_extend"  # one column: the fingerprint needs sigma_2
    cf = collapse_factors(res)
    assert cf["first"] == pytest.approx(ext[0].sigma1_pre / ext[0].sigma1_post)


def test_controls_no_extension_grows_and_random_direction_barely_moves(make_loop):
    loop = make_loop(coeff_max=10.0, max_cycles=8)
    no_ext = loop.run("residual_energy", extension="none")
    rnd = loop.run("residual_energy", extension="random")
    c = control_checks(no_ext, rnd, loop.s.floor)
    assert c["no_extension_keeps_growing"] and not no_ext.completed
    assert c["random_direction_n_appended"] > 0 and c["random_direction_barely_moves"]


def test_tiers_unlock_in_order_and_loop_completes(make_loop):
    loop = make_loop(coeff_max=1.0, max_cycles=20)
    res = loop.run("residual_energy")
    actions = [r.action for r in res.records]
    assert "unlock_tier" in actions and res.completed and actions[-1] == "complete"
    first_unlock = actions.index("unlock_tier")
    assert all(r.tier == "leading" for r in res.records[: first_unlock + 1])
    assert all(r.tier == "subleading" for r in res.records[first_unlock + 1 :])
    assert all(np.all(np.array(r.coeffs[2:]) == 0) for r in res.records[: first_unlock + 1])
    # completion needs `patience` consecutive audits (max over the pool of sigma_1 with the candidate) <= floor
    assert all(r.audit_sigma1 <= loop.s.floor for r in res.records[-loop.s.patience :])
    with pytest.raises(SmeftfmError, match="unknown acquisition arm"):
        make_loop().run("greedy")


def _fake(cycles: int | None, n_records: int, actions=None) -> LoopResult:
    recs = []
    for i in range(n_records):
        a = (actions or {}).get(i, "acquire")
        recs.append(CycleRecord(i, "leading", i + 1, 5, 1.0, 0.5, 2.0, 1.0, 1.0, 1.0, a, False, 0.0, float("nan"),
                                0.0, [0.0]))
    return LoopResult("residual_energy", "exact", 0, ("clq1",), recs, cycles is not None,
                      ["leading", "subleading"] if cycles else ["leading"], 2, psi=None)


def test_gates_logic():
    main = _fake(5, 5, {1: "psi_extend", 2: "unlock_tier", 4: "complete"})
    g = gates(main, [_fake(6, 6), _fake(None, 30), _fake(4, 4)])
    assert g["extension_occurred"] and g["all_tiers_unlocked"] and g["manifold_completed"]
    assert g["random_median_cycles"] == 6.0 and g["acquisition_no_slower_than_random"]
    assert not gates(main, [_fake(4, 4), _fake(3, 3)])["acquisition_no_slower_than_random"]
    never = _fake(None, 30)
    g2 = gates(never, [_fake(4, 4)])
    assert not g2["manifold_completed"] and not g2["extension_occurred"] and not g2["all_tiers_unlocked"]
    assert unlock_triggered_extension(main) is False
    assert unlock_triggered_extension(_fake(5, 5, {1: "unlock_tier", 3: "psi_extend"})) is True
    assert unlock_triggered_extension(never) is None
