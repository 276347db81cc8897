from __future__ import annotations

import numpy as np
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


@pytest.fixture(params=["numpy", "torch"])
def backend(request) -> str:
    """Both array backends of the event-level oracle (torch on the CPU; the physics must not depend on it)."""
    if request.param == "torch":
        pytest.importorskip("torch")
    return request.param


def to_numpy(a) -> np.ndarray:
    """An oracle output of either backend as a numpy array."""
    return a.detach().cpu().numpy() if hasattr(a, "detach") else np.asarray(a)
