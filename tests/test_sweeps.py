"""The sweep's matrix stage parses, names existing variants, and each variant merges into valid parameters."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
import yaml

from smeftfm.errors import ConfigError
from smeftfm.stages.sweeps import AXES, merge_variant

ROOT = Path(__file__).resolve().parents[1]


def test_matrix_covers_the_named_variants_and_each_merges():
    stage = yaml.safe_load((ROOT / "sweeps" / "dvc.yaml").read_text())["stages"]["variant"]
    variants = yaml.safe_load((ROOT / "sweeps" / "variants.yaml").read_text())
    base = yaml.safe_load((ROOT / "params.yaml").read_text())
    assert set(stage["matrix"]) == set(AXES)
    for axis in AXES:
        assert stage["matrix"][axis] == list(variants[axis])
    for combo in itertools.product(*(stage["matrix"][a] for a in AXES)):
        p = merge_variant(base, variants, dict(zip(AXES, combo)))
        want = variants["lumi"][combo[1]]["corpus"]["luminosity_fb"]
        assert p.corpus.luminosity_fb == want
        assert p.corpus.nugget == variants["noise"][combo[0]]["corpus"]["nugget"]
        assert p.train.latent_dim == variants["encoder"][combo[2]]["train"]["latent_dim"]
        assert p.train.lr == base["train"]["lr"]  # untouched keys keep params.yaml's value
    with pytest.raises(ConfigError, match="not defined"):
        merge_variant(base, variants, {"noise": "paper", "lumi": "lep", "encoder": "paper"})
