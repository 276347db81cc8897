"""Parquet I/O with atomic writes, schema metadata and clear errors for missing or corrupt files."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ..atomic import atomic_path
from ..errors import DataError

__all__ = ["META_KEY", "check_provenance", "file_hash", "read_meta", "read_parquet", "table_with_meta", "write_parquet"]

META_KEY = b"smeftfm"


def table_with_meta(df: pd.DataFrame | pa.Table, meta: dict[str, Any]) -> pa.Table:
    """Arrow table carrying ``meta`` (JSON) under the ``smeftfm`` key of the schema metadata."""
    table = df if isinstance(df, pa.Table) else pa.Table.from_pandas(df, preserve_index=False)
    existing = dict(table.schema.metadata or {})
    existing[META_KEY] = json.dumps(meta, sort_keys=True, default=str).encode()
    return table.replace_schema_metadata(existing)


def write_parquet(df: pd.DataFrame | pa.Table, path: str | os.PathLike[str], meta: dict[str, Any] | None = None,
                  compression: str = "zstd", **kw) -> Path:
    """Write atomically (temp file + rename) with zstd compression and JSON metadata."""
    table = table_with_meta(df, meta or {})
    path = Path(path)
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp, compression=compression, **kw)
    return path


def read_meta(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The ``smeftfm`` metadata of a Parquet file."""
    schema = _open(path).schema_arrow
    raw = (schema.metadata or {}).get(META_KEY)
    return json.loads(raw) if raw else {}


def _open(path: str | os.PathLike[str]) -> pq.ParquetFile:
    p = Path(path)
    if not p.exists():
        raise DataError(f"{p} does not exist; run the stage that produces it (e.g. `dvc repro`)")
    try:
        return pq.ParquetFile(p)
    except (pa.ArrowInvalid, OSError) as err:
        raise DataError(f"{p} is not a readable Parquet file ({err}); delete it and re-run `dvc repro`") from None


def read_parquet(path: str | os.PathLike[str], columns: list[str] | None = None) -> pd.DataFrame:
    """Read a Parquet file into pandas, with a clear error when it is missing or corrupt."""
    f = _open(path)
    try:
        return f.read(columns=columns).to_pandas()
    except (pa.ArrowInvalid, OSError) as err:
        raise DataError(f"{path} is corrupt ({err}); delete it and re-run `dvc repro`") from None


def file_hash(path: str | os.PathLike[str]) -> str:
    """sha256 of a file's bytes (hex, first 16 characters)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:16]


def check_provenance(recorded: str | None, path: str | os.PathLike[str], what: str) -> None:
    """Fail when ``what`` records a hash of ``path`` that differs from the file on disk (stale inputs)."""
    if recorded and file_hash(path) != recorded:
        raise DataError(f"{what} was built from a different {path} (hash {recorded} vs {file_hash(path)}); "
                        "re-run the upstream stages (`dvc repro`)")
