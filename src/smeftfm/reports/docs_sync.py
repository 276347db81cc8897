r"""Numbers in the Markdown docs rendered from ``reports/metrics`` (``smeftfm docs-sync [--check]``).

A number in ``docs/*.md`` or ``README.md`` that comes from a pipeline run is written as a *metric marker*::

    <!--m scorecard.json paper.knn_seen.encoder .3f-->0.523<!--/m-->

``FILE`` is relative to ``reports/metrics/``; ``KEY`` is a dotted path into the JSON (integer parts index lists);
``FMT`` is a Python format spec (``.3f``, ``.2e``, ``d``, ``,.0f`` ...). The text between the two comments is
the rendered value: :func:`sync_text` rewrites it, :func:`check_text` reports every marker whose text differs
from the rendering (stale) or whose file, key or format does not resolve. A JSON ``null`` (a run that did not
finish) renders as ``n/a``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..atomic import write_text
from ..errors import SmeftfmError

__all__ = ["MARKER", "MarkerProblem", "check_files", "default_doc_files", "render_value", "resolve_key",
           "sync_files", "sync_text", "check_text"]

#: ``<!--m FILE KEY FMT-->value<!--/m-->`` (the value holds no ``<``, i.e. no nested markup).
MARKER = re.compile(r"<!--m\s+(?P<file>\S+)\s+(?P<key>\S+)\s+(?P<fmt>\S+?)\s*-->(?P<value>[^<]*)<!--/m-->")
NULL_TEXT = "n/a"


@dataclass(frozen=True)
class MarkerProblem:
    """One marker that is stale or cannot be rendered, with its location (1-based line)."""

    doc: str
    line: int
    marker: str
    problem: str

    def __str__(self) -> str:
        return f"{self.doc}:{self.line}: {self.marker}: {self.problem}"


def resolve_key(data: Any, key: str) -> Any:
    """The value at a dotted ``key`` (integer parts index lists); SmeftfmError names the first missing part."""
    cur = data
    for i, part in enumerate(key.split(".")):
        where = ".".join(key.split(".")[:i]) or "the top level"
        if isinstance(cur, list):
            if not re.fullmatch(r"-?\d+", part) or not -len(cur) <= int(part) < len(cur):
                raise SmeftfmError(f"key '{key}': '{part}' is not an index of the list at {where} "
                                   f"(length {len(cur)})")
            cur = cur[int(part)]
        elif isinstance(cur, dict):
            if part not in cur:
                raise SmeftfmError(f"key '{key}': no '{part}' at {where} (has {sorted(cur)[:8]})")
            cur = cur[part]
        else:
            raise SmeftfmError(f"key '{key}': {where} is a {type(cur).__name__}, not an object or list")
    return cur


def render_value(value: Any, fmt: str) -> str:
    """``format(value, fmt)``; ``None`` (JSON null) renders as ``n/a``; a bad format raises SmeftfmError."""
    if value is None:
        return NULL_TEXT
    if isinstance(value, (dict, list)):
        raise SmeftfmError(f"the key points at a {type(value).__name__}, not a number or string")
    try:
        return format(value, fmt)
    except (ValueError, TypeError) as err:
        raise SmeftfmError(f"format '{fmt}' does not apply to {value!r} ({err})") from None


class _Metrics:
    """Cached JSON files under the metrics folder."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.cache: dict[str, Any] = {}

    def value(self, file: str, key: str, fmt: str) -> str:
        if file not in self.cache:
            path = self.folder / file
            if not path.is_file():
                raise SmeftfmError(f"no metrics file {path}; run the stage that writes it (dvc repro)")
            try:
                self.cache[file] = json.loads(path.read_text(encoding="utf-8"))
            except json.JSONDecodeError as err:
                raise SmeftfmError(f"{path} is not valid JSON ({err})") from None
        return render_value(resolve_key(self.cache[file], key), fmt)


def _line_of(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1


def sync_text(text: str, metrics_dir: Path, doc: str = "<text>") -> tuple[str, list[MarkerProblem]]:
    """Render every marker of ``text``; returns the new text and the markers that could not be rendered."""
    metrics = _Metrics(Path(metrics_dir))
    problems: list[MarkerProblem] = []

    def sub(mt: re.Match) -> str:
        try:
            value = metrics.value(mt["file"], mt["key"], mt["fmt"])
        except SmeftfmError as err:
            problems.append(MarkerProblem(doc, _line_of(text, mt.start()), _head(mt), str(err)))
            return mt.group(0)
        return mt.group(0)[: mt.start("value") - mt.start()] + value + "<!--/m-->"

    return MARKER.sub(sub, text), problems


def check_text(text: str, metrics_dir: Path, doc: str = "<text>") -> list[MarkerProblem]:
    """Markers whose text differs from the rendering (stale) or that cannot be rendered."""
    metrics = _Metrics(Path(metrics_dir))
    problems = []
    for mt in MARKER.finditer(text):
        where = (doc, _line_of(text, mt.start()), _head(mt))
        try:
            value = metrics.value(mt["file"], mt["key"], mt["fmt"])
        except SmeftfmError as err:
            problems.append(MarkerProblem(*where, str(err)))
            continue
        if mt["value"] != value:
            problems.append(MarkerProblem(*where, f"stale: shows '{mt['value']}', metrics give '{value}'"))
    return problems


def _head(mt: re.Match) -> str:
    return f"<!--m {mt['file']} {mt['key']} {mt['fmt']}-->"


def default_doc_files(root: Path) -> list[Path]:
    """The Markdown files that may hold markers: ``README.md`` and ``docs/*.md`` under ``root``."""
    root = Path(root)
    return [p for p in [root / "README.md", *sorted((root / "docs").glob("*.md"))] if p.is_file()]


def sync_files(files: Iterable[Path], metrics_dir: Path, root: Path) -> tuple[list[Path], list[MarkerProblem]]:
    """Rewrite the files whose markers changed (atomically); returns them and the unresolvable markers."""
    changed, problems = [], []
    for f in files:
        text = f.read_text(encoding="utf-8")
        new, probs = sync_text(text, metrics_dir, _rel(f, root))
        problems += probs
        if new != text:
            write_text(f, new)
            changed.append(f)
    return changed, problems


def check_files(files: Iterable[Path], metrics_dir: Path, root: Path) -> list[MarkerProblem]:
    """Every stale or unresolvable marker in ``files``."""
    out = []
    for f in files:
        out += check_text(f.read_text(encoding="utf-8"), metrics_dir, _rel(f, root))
    return out


def _rel(path: Path, root: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(Path(root).resolve()))
    except ValueError:
        return str(path)
