"""Device selection: CUDA when present, CPU otherwise (``SMEFTFM_DEVICE`` overrides)."""

from __future__ import annotations

import os

__all__ = ["pick_device"]


def pick_device():
    """The torch device to use: ``$SMEFTFM_DEVICE`` if set, else ``cuda`` when available, else ``cpu``."""
    import torch

    forced = os.environ.get("SMEFTFM_DEVICE")
    if forced:
        return torch.device(forced)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")
