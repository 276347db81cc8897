"""Atomic writes: outputs appear whole or not at all.

Every stage writes into a temporary sibling (same directory, so ``os.replace`` is a rename on one
file system) and renames it into place only after the write finished. A killed stage therefore
leaves the previous output untouched and at most a ``.tmp-*`` sibling, which the next run removes.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["atomic_dir", "atomic_path", "is_timing_key", "json_safe", "write_json", "write_metrics", "write_text"]

_TMP_PREFIX = ".tmp-"


def _clean_stale(target: Path) -> None:
    for stale in target.parent.glob(f"{_TMP_PREFIX}{target.name}.*"):
        if stale.is_dir():
            shutil.rmtree(stale, ignore_errors=True)
        else:
            with contextlib.suppress(FileNotFoundError):
                stale.unlink()


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary file path next to ``target``; rename it onto ``target`` on success."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    _clean_stale(target)
    fd, tmp = tempfile.mkstemp(prefix=f"{_TMP_PREFIX}{target.name}.", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()
        raise


@contextlib.contextmanager
def atomic_dir(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary directory next to ``target``; swap it in for ``target`` on success."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    _clean_stale(target)
    tmp_path = Path(tempfile.mkdtemp(prefix=f"{_TMP_PREFIX}{target.name}.", dir=target.parent))
    try:
        yield tmp_path
        if target.exists():
            old = Path(tempfile.mkdtemp(prefix=f"{_TMP_PREFIX}{target.name}.", dir=target.parent))
            old.rmdir()
            os.replace(target, old)
            os.replace(tmp_path, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp_path, target)
    except BaseException:
        shutil.rmtree(tmp_path, ignore_errors=True)
        raise


def write_text(target: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` to ``target`` atomically (UTF-8)."""
    with atomic_path(target) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json(target: str | os.PathLike[str], obj: Any) -> None:
    """Write ``obj`` as indented, key-sorted JSON atomically."""
    write_text(target, json.dumps(obj, indent=2, sort_keys=True, allow_nan=False) + "\n")


def json_safe(obj: Any) -> Any:
    """A JSON-ready copy: numpy scalars -> Python numbers, tuples -> lists, NaN/inf -> None (metrics stay finite)."""
    if isinstance(obj, dict):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [json_safe(v) for v in obj]
    if hasattr(obj, "item") and getattr(obj, "ndim", None) == 0:  # numpy scalar or 0-d array
        return json_safe(obj.item())
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def is_timing_key(key: str) -> bool:
    """Wall-clock figures (``seconds``, ``*_seconds``, ``*_per_second``): logged to MLflow, kept out of DVC metrics."""
    return key == "seconds" or key.endswith("_seconds") or key.endswith("per_second")


def write_metrics(target: str | os.PathLike[str] | None, metrics: dict) -> None:
    """The stage-metrics convention: JSON-safe values, timing keys dropped (they change run to run), atomic write.

    ``target`` None writes nothing (the metrics still go to MLflow through the stage's run).
    """
    if target is not None:
        write_json(target, json_safe({k: v for k, v in metrics.items() if not is_timing_key(k)}))
