"""Inputs shared by the corpus benchmarks (``corpus.py``, ``scale.py``); not a benchmark itself.

Scripts in this folder run as ``python benchmarks/<name>.py``, so this module is importable as ``bench_inputs``.
"""

from __future__ import annotations

from pathlib import Path

from smeftfm.config import Params
from smeftfm.data.templates_io import read_templates
from smeftfm.physics.oracle import Templates

__all__ = ["TEMPLATES", "default_templates"]

TEMPLATES = Path("data/templates/spectra.parquet")


def default_templates(params: Params) -> Templates:
    """The pipeline's templates (``data/templates/spectra.parquet``) or, without them, linear templates of the
    params' operators built here with the params' binning and quadrature (a few seconds)."""
    if TEMPLATES.exists():
        return read_templates(TEMPLATES)
    from smeftfm.physics.oracle import Oracle, binnings_from_params, quadrature_from_params

    print("no data/templates/spectra.parquet: building linear templates of the 17 vector operators ...")
    return Oracle().binned_templates("linear", binnings_from_params(params), quadrature_from_params(params))
