"""The one feed-forward block builder used by every network in ``models/`` (encoder, metric, informer, DPN head).

``mlp(n_in, width, depth, n_out)`` is ``depth`` x [Linear(width) -> (BatchNorm1d) -> activation -> (Dropout)]
followed by Linear(n_out), as one :class:`torch.nn.Sequential`. Modules are created in that order, so under a
given ``torch.manual_seed`` the parameters (and the ``state_dict`` keys ``0.weight``, ``0.bias``, ...) are exactly
those of the hand-written loops this builder replaced: saved weights stay loadable and trained models bit-identical.
All sizes are counts; ``dropout`` is a probability.
"""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

__all__ = ["hidden_linears", "mlp"]


def mlp(n_in: int, width: int, depth: int, n_out: int, activation: Callable[[], nn.Module] = nn.ReLU,
        batch_norm: bool = False, dropout: float | None = None) -> nn.Sequential:
    """``depth`` hidden blocks of ``width`` units then a linear map to ``n_out`` (``depth`` = 0: one Linear).

    Each hidden block is ``Linear -> BatchNorm1d (if batch_norm) -> activation() -> Dropout (if dropout is not
    None)``; the output layer has no activation.
    """
    layers: list[nn.Module] = []
    n = n_in
    for _ in range(depth):
        layers.append(nn.Linear(n, width))
        if batch_norm:
            layers.append(nn.BatchNorm1d(width))
        layers.append(activation())
        if dropout is not None:
            layers.append(nn.Dropout(dropout))
        n = width
    layers.append(nn.Linear(n, n_out))
    return nn.Sequential(*layers)


def hidden_linears(net: nn.Sequential) -> list[nn.Linear]:
    """The hidden Linear layers of a :func:`mlp` (every Linear but the output one), in order."""
    return [m for m in net if isinstance(m, nn.Linear)][:-1]
