from __future__ import annotations

import pytest

from smeftfm.physics.oracle import Oracle


@pytest.fixture(scope="session")
def oracle() -> Oracle:
    """Oracle with all 17 interfering operators, CT18LO member 0, default acceptance."""
    return Oracle()


@pytest.fixture(scope="session")
def quad_templates(oracle):
    """The default 92-bin templates at quadratic order (SM, 17 lin, 153 quad terms)."""
    return oracle.binned_templates("quadratic")
