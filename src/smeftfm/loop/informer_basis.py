r"""The informer-driven loop: psi_0 = [1, phi(x)] with phi the trained ManifoldInformer's per-event features.

Two feature sets per checkpoint: ``full`` (the encoder output: standardised input lifts + learned features) and
``learned`` (the learned block only, the part JEPA training shapes). Checkpoints are the state dicts the
``informer`` stage writes to ``models/informer`` (``encoder_seed{s}.pt`` after training and
``encoder_seed{s}_step{k}.pt`` snapshots, step 0 = untrained).

The identifiability read-out (``docs/aletheia.md`` §7) compares, per checkpoint, the loop's residual sigma_1 with
the tangent R^2 of the same basis on the same events: the fraction of each tangent ``lin:k/SM`` inside
span([1, phi]) on the validation events (:func:`tangent_r2`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import DataError
from ..physics.kinematics import KinematicMap
from .audit import Projector
from .basis import FeatureDictionary, Psi
from .likelihood import LogLikelihoodRatio

__all__ = ["Checkpoint", "checkpoints", "feature_function", "informer_psi", "tangent_r2"]

_NAME = re.compile(r"encoder_seed(\d+)(?:_step(\d+))?\.pt$")


@dataclass(frozen=True)
class Checkpoint:
    """One saved encoder: training seed, step (None = final) and file."""

    seed: int
    step: int | None
    path: Path

    @property
    def label(self) -> str:
        return f"seed{self.seed}_" + ("final" if self.step is None else f"step{self.step}")


def checkpoints(model_dir: Path) -> list[Checkpoint]:
    """The encoders saved in ``model_dir`` (sorted by seed, then step with the final one last)."""
    model_dir = Path(model_dir)
    if not (model_dir / "config.json").exists():
        raise DataError(f"{model_dir}/config.json not found; run `smeftfm informer` first (or `dvc repro informer`)")
    out = []
    for p in model_dir.glob("encoder_seed*.pt"):
        m = _NAME.search(p.name)
        if m:
            out.append(Checkpoint(int(m.group(1)), int(m.group(2)) if m.group(2) else None, p))
    if not out:
        raise DataError(f"no encoder_seed*.pt in {model_dir}; re-run `smeftfm informer`")
    return sorted(out, key=lambda c: (c.seed, float("inf") if c.step is None else c.step))


def feature_function(model_dir: Path, ckpt: Checkpoint, kmap: KinematicMap,
                     learned_only: bool) -> tuple[Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray], int]:
    """``phi(m, y, cos) -> [n, d]`` of a saved encoder and its width ``d`` (float64 numpy)."""
    import torch

    from ..models.informer import EventEncoder, InformerConfig, encode, event_lifts

    meta = json.loads((Path(model_dir) / "config.json").read_text())
    cfg = InformerConfig(**meta["config"])
    n_lifts = int(meta["n_lifts"])
    enc = EventEncoder(n_lifts, cfg, np.zeros(n_lifts), np.ones(n_lifts))
    enc.load_state_dict(torch.load(ckpt.path, map_location="cpu", weights_only=True))
    enc.eval()
    width = cfg.embed_dim if learned_only else n_lifts + cfg.embed_dim

    def phi(m: np.ndarray, y: np.ndarray, cos_cs: np.ndarray) -> np.ndarray:
        return encode(enc, event_lifts(m, y, cos_cs, kmap), learned_only)

    return phi, width


def informer_psi(phi: Callable, width: int, kmap: KinematicMap, dictionary: FeatureDictionary) -> Psi:
    """psi_0 = [1, phi(x)] (appended extensions, if any, are dictionary functions as in the default loop)."""
    return Psi(1 + width, kmap, dictionary, base_features=phi)


def tangent_r2(proj: Projector, probe: LogLikelihoodRatio, valid: LogLikelihoodRatio) -> np.ndarray:
    """R^2 per tangent ``lin:k/SM`` of span(psi) on the validation events (``[K]``): the fraction of the tangent's
    variance inside span(psi) there, the same in-sample projection on fresh events as the loop's validation sigma_1.

    (An unregularised probe fitted on the 4000 unweighted probe events and carried to the validation events is not
    used: with ~200 features it extrapolates wildly into the sparsely populated tail, giving R^2 << 0.)
    """
    tp, tv = probe.tangents(), valid.tangents()
    res = proj.residual_valid(tp, tv)
    ss = ((tv - tv.mean(axis=0)) ** 2).sum(axis=0)
    return 1.0 - (res**2).sum(axis=0) / ss
