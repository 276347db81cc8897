"""Shared test set-up: PDF path, MLflow off by default, tiny helpers."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_PDFS = ROOT.parent / "shared" / "pdfsets"

if "LHAPDF_DATA_PATH" not in os.environ and SHARED_PDFS.is_dir():
    os.environ["LHAPDF_DATA_PATH"] = str(SHARED_PDFS)
# Unit tests do not talk to MLflow unless a test opts in (see the tracking tests).
os.environ.setdefault("SMEFTFM_TRACKING", "off")
os.environ.setdefault("SMEFTFM_QUIET", "1")


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT
