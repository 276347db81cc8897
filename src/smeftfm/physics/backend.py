"""Array backends for the oracle's amplitude algebra (in the spirit of pyhf's ``tensorlib``).

The event-level rate (:meth:`smeftfm.physics.oracle.Oracle.event_terms`) runs the same algebra on numpy arrays
or on torch tensors (CPU or CUDA). Instead of ``if xp is not np`` branches, the algebra calls the few array
operations it needs through a backend object:

>>> import numpy as np
>>> be = get_backend("numpy")
>>> be.name
'numpy'
>>> be.repeat_last(np.array([[1.0, 2.0]]), 2).tolist()
[[1.0, 1.0, 2.0, 2.0]]
>>> get_backend("jax")
Traceback (most recent call last):
...
smeftfm.errors.SmeftfmError: unknown backend 'jax'; use one of ('numpy', 'torch')

Both backends compute in float64. The numpy backend performs exactly the numpy calls the oracle made before the
backends existed, so numpy results are bit-identical to them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np

from ..errors import SmeftfmError

__all__ = ["BACKENDS", "Backend", "NumpyBackend", "TorchBackend", "get_backend", "NUMPY"]

BACKENDS = ("numpy", "torch")


class Backend(Protocol):
    """The array operations the amplitude algebra uses. Arrays are float64 unless they hold indices."""

    name: str

    def astensor(self, a: Any, like: Any = None) -> Any:
        """``a`` as this backend's array; floating arrays take ``like``'s dtype and device when given."""
        ...

    def empty(self, shape: tuple[int, ...]) -> Any: ...

    def repeat_last(self, a: Any, k: int) -> Any:
        """Each entry of the last axis repeated ``k`` times (numpy ``repeat``, torch ``repeat_interleave``)."""
        ...

    def stack(self, arrays: Sequence[Any], axis: int = -1) -> Any: ...

    def concatenate(self, arrays: Sequence[Any], axis: int = -1) -> Any: ...

    def einsum(self, spec: str, *operands: Any) -> Any: ...

    def to_numpy(self, a: Any) -> np.ndarray: ...


class NumpyBackend:
    """numpy arrays on the CPU."""

    name = "numpy"

    def astensor(self, a: Any, like: Any = None) -> np.ndarray:
        return np.asarray(a)

    def empty(self, shape: tuple[int, ...]) -> np.ndarray:
        return np.empty(shape)

    def repeat_last(self, a: np.ndarray, k: int) -> np.ndarray:
        return np.repeat(a, k, axis=-1)

    def stack(self, arrays: Sequence[Any], axis: int = -1) -> np.ndarray:
        return np.stack(arrays, axis)

    def concatenate(self, arrays: Sequence[Any], axis: int = -1) -> np.ndarray:
        return np.concatenate(arrays, axis=axis)

    def einsum(self, spec: str, *operands: Any) -> np.ndarray:
        return np.einsum(spec, *operands)

    def to_numpy(self, a: Any) -> np.ndarray:
        return np.asarray(a)


class TorchBackend:
    """torch tensors on ``device`` (default: CUDA when present, see :func:`smeftfm.device.pick_device`)."""

    name = "torch"

    def __init__(self, device: str | None = None):
        import torch

        from ..device import pick_device

        self._torch = torch
        self.device = torch.device(device) if device else pick_device()

    def astensor(self, a: Any, like: Any = None) -> Any:
        t = self._torch
        if isinstance(a, t.Tensor) and like is None:
            return a
        floating = (a.is_floating_point() if isinstance(a, t.Tensor) else np.asarray(a).dtype.kind == "f")
        dtype = (like.dtype if like is not None else t.float64) if floating else None
        device = like.device if like is not None else self.device
        return t.as_tensor(a, dtype=dtype, device=device)

    def empty(self, shape: tuple[int, ...]) -> Any:
        return self._torch.empty(shape, dtype=self._torch.float64, device=self.device)

    def repeat_last(self, a: Any, k: int) -> Any:
        return self._torch.repeat_interleave(a, k, dim=-1)

    def stack(self, arrays: Sequence[Any], axis: int = -1) -> Any:
        return self._torch.stack(list(arrays), axis)

    def concatenate(self, arrays: Sequence[Any], axis: int = -1) -> Any:
        return self._torch.cat(list(arrays), axis)

    def einsum(self, spec: str, *operands: Any) -> Any:
        return self._torch.einsum(spec, *operands)

    def to_numpy(self, a: Any) -> np.ndarray:
        return a.detach().cpu().numpy()


#: The default backend.
NUMPY = NumpyBackend()


def get_backend(name: str = "numpy", device: str | None = None) -> Backend:
    """The backend called ``name`` (``'numpy'`` or ``'torch'``); ``device`` applies to torch only."""
    if name == "numpy":
        return NUMPY
    if name == "torch":
        return TorchBackend(device)
    raise SmeftfmError(f"unknown backend '{name}'; use one of {BACKENDS}")
