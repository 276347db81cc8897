"""Pairwise contrastive loss of the seed paper (eqs. 3.19-3.20)."""

from __future__ import annotations

import torch

__all__ = ["contrastive_loss", "pair_distance"]


def pair_distance(z1: torch.Tensor, z2: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    """Euclidean latent distance ``D = ||z1 - z2||`` per pair (eq. 3.20); ``eps`` keeps the gradient finite at 0."""
    return torch.sqrt(torch.clamp(((z1 - z2) ** 2).sum(dim=-1), min=eps))


def contrastive_loss(z1: torch.Tensor, z2: torch.Tensor, y: torch.Tensor, margin: float,
                     reduction: str = "mean") -> torch.Tensor:
    """``y D^2 + (1 - y) max(0, m - D)^2`` (eq. 3.19), ``y = 1`` for same-universe pairs.

    ``z1, z2``: ``[n, d]`` embeddings; ``y``: ``[n]`` in {0, 1}; ``margin``: the separation scale ``m``
    (latent units). Returns the mean over pairs (``reduction="none"`` gives the per-pair losses).
    """
    y = y.to(z1.dtype)
    d2 = ((z1 - z2) ** 2).sum(dim=-1)
    d = torch.sqrt(torch.clamp(d2, min=1e-12))
    per_pair = y * d2 + (1.0 - y) * torch.clamp(margin - d, min=0.0) ** 2
    if reduction == "none":
        return per_pair
    if reduction == "sum":
        return per_pair.sum()
    return per_pair.mean()
