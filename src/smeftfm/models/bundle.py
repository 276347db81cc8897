"""Saving and loading the trained encoder (``models/encoder/``): weights, architecture and input transform.

Layout: ``encoder.pt`` (state dict of :class:`Encoder`) and ``encoder.json`` (architecture, fitted input
transform, training summary). Written atomically as one directory.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from ..atomic import atomic_dir
from ..errors import DataError
from .encoder import EmbeddingModel, Encoder, EncoderConfig
from .transforms import InputTransform

__all__ = ["CONFIG", "WEIGHTS", "load_encoder", "save_encoder"]

WEIGHTS = "encoder.pt"
CONFIG = "encoder.json"


def save_encoder(target: str | Path, encoder: Encoder, transform: InputTransform, meta: dict) -> Path:
    """Write weights + ``{"encoder": cfg, "transform": ..., "meta": meta}`` into ``target`` atomically."""
    state = {k: v.detach().cpu() for k, v in encoder.state_dict().items()}
    with atomic_dir(target) as tmp:
        torch.save(state, tmp / WEIGHTS)
        doc = {"encoder": encoder.cfg.to_dict(), "transform": transform.to_dict(), "meta": meta}
        (tmp / CONFIG).write_text(json.dumps(doc, indent=2, sort_keys=True, default=float), encoding="utf-8")
    return Path(target)


def load_encoder(path: str | Path, device: torch.device | str = "cpu") -> tuple[EmbeddingModel, dict]:
    """The saved :class:`EmbeddingModel` (eval mode) and the stored metadata."""
    p = Path(path)
    if not (p / WEIGHTS).exists() or not (p / CONFIG).exists():
        raise DataError(f"no trained encoder in {p}; run `smeftfm train` (or `dvc repro train`) first")
    try:
        doc = json.loads((p / CONFIG).read_text(encoding="utf-8"))
        enc = Encoder(EncoderConfig(**doc["encoder"]))
        enc.load_state_dict(torch.load(p / WEIGHTS, map_location="cpu", weights_only=True))
    except (KeyError, TypeError, RuntimeError, json.JSONDecodeError) as err:
        raise DataError(f"encoder in {p} is corrupt or from another version ({err}); re-run `smeftfm train`") from None
    model = EmbeddingModel(enc, InputTransform.from_dict(doc["transform"])).to(device)
    model.eval()
    return model, doc.get("meta", {})
