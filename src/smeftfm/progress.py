"""Progress bars for long stages (a leaf utility: imports nothing from the package).

Bars go to stderr and are hidden under CI (``CI`` set), when ``SMEFTFM_QUIET`` is set, or when stderr is not a
terminal (DVC, logs), so pipeline logs stay clean.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator

__all__ = ["progress", "quiet"]


def quiet() -> bool:
    """True when progress bars are hidden: under CI (CI=true), with SMEFTFM_QUIET set, or on a non-terminal."""
    return bool(os.environ.get("CI") or os.environ.get("SMEFTFM_QUIET")) or not sys.stderr.isatty()


@contextlib.contextmanager
def progress(total: int, desc: str, unit: str = "it") -> Iterator:
    """A tqdm bar of ``total`` steps on stderr (hidden when :func:`quiet`); closed on exit."""
    from tqdm.auto import tqdm

    bar = tqdm(total=total, desc=desc, unit=unit, unit_scale=True, disable=quiet(), leave=False)
    try:
        yield bar
    finally:
        bar.close()
