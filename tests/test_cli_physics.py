"""The `screen` and `templates` commands: outputs, formats and one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from smeftfm.cli import app
from smeftfm.data.parquet_io import read_meta, read_parquet
from smeftfm.data.templates_io import read_templates

RUNNER = CliRunner()
COARSE = {"mass_nodes": 6, "mass_sub_gev": 5.0, "angle_nodes": 8, "rapidity_nodes": 8, "pt_nodes": 4}


def _params(tmp_path: Path, **sections) -> Path:
    data = {"quadrature": COARSE}
    data.update(sections)
    p = tmp_path / "params.yaml"
    p.write_text(yaml.safe_dump(data))
    return p


def test_screen_then_templates(tmp_path):
    params = _params(tmp_path, physics={"operators": "screened", "order": "quadratic"})
    scr = tmp_path / "screen.json"
    res = RUNNER.invoke(app, ["screen", "--out", str(scr), "--params", str(params)])
    assert res.exit_code == 0, res.output
    table = json.loads(scr.read_text())
    assert len(table) == 31 and sum(v["interferes"] for v in table.values()) == 17
    out = tmp_path / "templates" / "spectra.parquet"
    res = RUNNER.invoke(app, ["templates", "--out", str(out), "--screen", str(scr), "--params", str(params)])
    assert res.exit_code == 0, res.output
    df = read_parquet(out)
    assert list(df.columns) == ["observable", "bin", "bin_lo", "bin_hi", "term", "value"]
    assert set(df["observable"]) == {"mll", "pt"}
    assert len(df) == 92 * (1 + 17 + 17 * 18 // 2)
    meta = read_meta(out)
    assert meta["order"] == "quadratic" and meta["units"] == "pb/GeV" and len(meta["operators"]) == 17
    t = read_templates(out)
    assert t.values.shape == (171, 92)
    assert np.all(t.term("SM") > 0)
    # no half-written leftovers next to the output
    assert [p.name for p in out.parent.iterdir()] == ["spectra.parquet"]


def test_templates_with_an_explicit_operator_list_and_linear_order(tmp_path):
    params = _params(tmp_path, physics={"operators": ["clq3", "cHWB"]})
    out = tmp_path / "t.parquet"
    res = RUNNER.invoke(app, ["templates", "--out", str(out), "--order", "linear", "--params", str(params)])
    assert res.exit_code == 0, res.output
    assert read_templates(out).terms == ["SM", "lin:clq3", "lin:cHWB"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ({"physics": {"pdff": "CT18LO"}}, "unknown key 'physics.pdff'"),
        ({"physics": {"order": "cubic"}}, "bad value for 'physics.order'"),
        ({"observables": {"mll": {"lo": 650, "hi": 50, "n": 60}}}, "hi > lo"),
        ({"physics": {"operators": ["clq9"]}}, "unknown operator 'clq9'"),
        ({"physics": {"pdf": "NoSuchPDF", "operators": ["clq1"]}}, "PDF set 'NoSuchPDF' not found"),
    ],
)
def test_bad_input_is_one_clear_error(tmp_path, content, message):
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump(content))
    out = tmp_path / "t.parquet"
    res = RUNNER.invoke(app, ["templates", "--out", str(out), "--params", str(params)])
    assert res.exit_code == 2
    assert message in res.output
    assert "Traceback" not in res.output
    assert not out.exists()


def test_malformed_yaml_is_one_clear_error(tmp_path):
    params = tmp_path / "params.yaml"
    params.write_text("physics: [unclosed\n")
    res = RUNNER.invoke(app, ["screen", "--out", str(tmp_path / "s.json"), "--params", str(params)])
    assert res.exit_code == 2 and "not valid YAML" in res.output


def test_missing_screen_output_is_one_clear_error(tmp_path):
    params = _params(tmp_path)
    res = RUNNER.invoke(app, ["templates", "--out", str(tmp_path / "t.parquet"), "--screen",
                              str(tmp_path / "missing.json"), "--params", str(params)])
    assert res.exit_code == 2 and "run `smeftfm screen` first" in res.output
