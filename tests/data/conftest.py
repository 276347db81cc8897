"""Fixtures of the data tests: a small operator set with coarse quadrature keeps them fast."""

from __future__ import annotations

import pytest

from smeftfm.physics.oracle import Oracle, QuadratureSpec

OPS = ("clq1", "cHq3", "ceu")


@pytest.fixture(scope="session")
def oracle() -> Oracle:
    return Oracle(operators=OPS)


@pytest.fixture(scope="session")
def templates(oracle):
    """Linear templates of the three operators (pb/GeV), coarse but smooth quadrature."""
    return oracle.binned_templates("linear", spec=QuadratureSpec(8, 5.0, 12, 12, 6))
