"""The foundation encoder: the paper's feed-forward blocks and a linear projection to the latent plane.

Default (Sec. 3.3): three blocks ``Dense(100) -> BatchNorm -> ReLU -> Dropout(0.35)`` with an L2 penalty of
0.1 on the Dense kernels (Keras convention: ``0.1 * sum(W**2)`` added to the loss), then ``Dense(2)``.
:class:`EmbeddingModel` bundles the fitted input transform as buffers so that raw spectra in pb/GeV map to
the latent in one call; that is the module logged to MLflow.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn

from .mlp import hidden_linears, mlp
from .transforms import InputTransform

__all__ = ["EmbeddingModel", "Encoder", "EncoderConfig", "embed"]


@dataclass(frozen=True)
class EncoderConfig:
    """Architecture of the encoder (all sizes are counts, ``dropout`` a probability)."""

    n_inputs: int = 92
    depth: int = 3
    width: int = 100
    latent_dim: int = 2
    dropout: float = 0.35
    batch_norm: bool = True

    def to_dict(self) -> dict:
        return asdict(self)


class Encoder(nn.Module):
    """``depth`` x [Linear(width) -> BatchNorm -> ReLU -> Dropout] -> Linear(latent_dim)."""

    def __init__(self, cfg: EncoderConfig):
        super().__init__()
        self.cfg = cfg
        self.net = mlp(cfg.n_inputs, cfg.width, cfg.depth, cfg.latent_dim, batch_norm=cfg.batch_norm,
                       dropout=cfg.dropout)
        self.hidden: list[nn.Linear] = hidden_linears(self.net)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def kernel_l2(self) -> torch.Tensor:
        """``sum(W**2)`` over the hidden Dense kernels (biases, BatchNorm and the projection are not penalised)."""
        return sum((lin.weight ** 2).sum() for lin in self.hidden)


class EmbeddingModel(nn.Module):
    """Raw spectra ``[n, 92]`` in pb/GeV -> latent ``[n, latent_dim]``: fitted transform + encoder (eval mode)."""

    def __init__(self, encoder: Encoder, transform: InputTransform):
        super().__init__()
        self.encoder = encoder
        self.kind = transform.kind
        self.floor = float(transform.floor)
        self.register_buffer("sm", torch.tensor(np.array(transform.sm), dtype=torch.float32))
        self.register_buffer("mean", torch.tensor(np.array(transform.mean), dtype=torch.float32))
        self.register_buffer("std", torch.tensor(np.array(transform.std), dtype=torch.float32))

    def features(self, y: torch.Tensor) -> torch.Tensor:
        y = y.to(self.sm.dtype)
        if self.kind == "log_ratio_sm":
            g = torch.log(torch.clamp(y / self.sm, min=self.floor))
        elif self.kind == "log":
            g = torch.log(torch.maximum(y, self.floor * self.sm))
        elif self.kind == "ratio_sm":
            g = y / self.sm
        else:
            g = y
        return (g - self.mean) / self.std

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        return self.encoder(self.features(y))


@torch.no_grad()
def embed(encoder: Encoder, x: np.ndarray | torch.Tensor, device: torch.device | str = "cpu",
          batch_size: int = 65536) -> np.ndarray:
    """Latent coordinates ``[n, latent_dim]`` (float32) of *transformed* features ``x``, in eval mode."""
    was_training = encoder.training
    encoder.eval()
    xt = torch.as_tensor(x, dtype=torch.float32)
    out = [encoder(xt[i:i + batch_size].to(device)).float().cpu() for i in range(0, len(xt), batch_size)]
    encoder.train(was_training)
    if not out:
        return np.zeros((0, encoder.cfg.latent_dim), dtype=np.float32)
    return torch.cat(out).numpy()
