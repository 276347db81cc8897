"""One variant of the named sweep (``sweeps/dvc.yaml``, a DVC ``matrix`` stage in the DVC sub-project ``sweeps/``,
run with ``cd sweeps && dvc repro``): corpus and encoder at a combination of noise model, luminosity scenario and
encoder configuration.

The variants are parameter overrides named in ``sweeps/variants.yaml`` (``noise``, ``lumi``, ``encoder``: name ->
``{section: {key: value}}``). :func:`run_variant` applies one name of each on top of ``params.yaml``, generates the
corpus into a scratch folder next to ``out`` (deleted afterwards), trains the encoder and writes ``out/train.json``
(the train stage's metrics) and ``out/params.yaml`` (the merged parameters). Every stage of the variant is an MLflow
run in the ``smeftfm`` experiment tagged with ``pipeline_id = sweep-<noise>-<lumi>-<encoder>``, so ``mlflow ui``
compares the variants side by side.
"""

from __future__ import annotations

import copy
import os
import shutil
from pathlib import Path

import yaml

from ..atomic import write_text
from ..config import Params, parse_params
from ..errors import ConfigError
from .data import run_corpus
from .models import run_train

__all__ = ["AXES", "merge_variant", "run_variant"]

AXES = ("noise", "lumi", "encoder")


def _deep_merge(base: dict, over: dict) -> dict:
    out = copy.deepcopy(base)
    for k, v in over.items():
        out[k] = _deep_merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def merge_variant(base: dict, variants: dict, choice: dict[str, str]) -> Params:
    """``base`` (params.yaml as loaded) with the overrides of the chosen name on each axis."""
    merged = base
    for axis in AXES:
        table = variants.get(axis) or {}
        name = choice[axis]
        if name not in table:
            raise ConfigError(f"sweep variant {axis}={name} is not defined in sweeps/variants.yaml "
                              f"(defined: {sorted(table)})")
        merged = _deep_merge(merged, table[name] or {})
    return parse_params(merged, f"params.yaml + {choice}")


def run_variant(base_params: Path, variants_path: Path, choice: dict[str, str], out: Path, spectra: Path,
                templates: Path, universes: Path, joint: Path) -> dict:
    """Corpus + encoder of one variant; returns the train metrics (also ``out/train.json``)."""
    base = yaml.safe_load(Path(base_params).read_text(encoding="utf-8")) or {}
    variants = yaml.safe_load(Path(variants_path).read_text(encoding="utf-8")) or {}
    params = merge_variant(base, variants, choice)
    key = "-".join(choice[a] for a in AXES)
    os.environ["SMEFTFM_PIPELINE_ID"] = f"sweep-{key}"
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    corpus = out.parent / f".corpus-{key}"
    try:
        run_corpus(params, corpus, spectra, templates, None, universes, joint)
        metrics = run_train(params, corpus, spectra, universes, out / "encoder", out / "embeddings",
                            out / "train.json", out / "train_loss.csv")
    finally:
        shutil.rmtree(corpus, ignore_errors=True)
    shutil.rmtree(out / "embeddings", ignore_errors=True)  # large; the metrics and the encoder are kept
    write_text(out / "params.yaml", yaml.safe_dump(params.model_dump(mode="json"), sort_keys=False))
    return metrics
