"""Reading and writing the binned morphing templates (long-format Parquet, pb/GeV)."""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import DataError
from ..physics.oracle import Templates
from .parquet_io import file_hash, read_meta, read_parquet, write_parquet

__all__ = ["read_templates", "write_templates"]


def write_templates(t: Templates, path: str | os.PathLike[str]) -> Path:
    meta = dict(t.meta)
    meta.update({"operators": list(t.operators), "order": t.order, "units": "pb/GeV"})
    return write_parquet(t.to_frame(), path, meta)


def read_templates(path: str | os.PathLike[str]) -> Templates:
    """Load templates written by :func:`write_templates` (metadata gives operators and order)."""
    meta = read_meta(path)
    if "operators" not in meta or "order" not in meta:
        raise DataError(f"{path} has no template metadata (operators, order); rebuild it with `smeftfm templates`")
    df = read_parquet(path)
    t = Templates.from_frame(df, tuple(meta["operators"]), meta["order"], meta)
    t.meta["sha256"] = file_hash(path)
    return t
