"""Metric markers in the docs: rendering, errors, and the repository's docs being up to date."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from smeftfm.cli import app
from smeftfm.errors import SmeftfmError
from smeftfm.reports.docs_sync import check_text, render_value, resolve_key, sync_text

ROOT = Path(__file__).resolve().parents[2]
DATA = {"a": {"b": 0.123456, "n": 42, "s": "linear", "none": None}, "lst": [1.5, {"x": 2.25e-5}]}


@pytest.fixture
def metrics(tmp_path):
    d = tmp_path / "metrics"
    d.mkdir()
    (d / "m.json").write_text(json.dumps(DATA))
    return d


def test_formats_and_list_indices():
    assert render_value(resolve_key(DATA, "a.b"), ".3f") == "0.123"
    assert render_value(resolve_key(DATA, "a.n"), "d") == "42"
    assert render_value(resolve_key(DATA, "a.s"), "s") == "linear"
    assert render_value(resolve_key(DATA, "lst.0"), ".1f") == "1.5"
    assert render_value(resolve_key(DATA, "lst.-1.x"), ".2e") == "2.25e-05"
    assert render_value(resolve_key(DATA, "a.none"), ".3f") == "n/a"


@pytest.mark.parametrize("key, match", [("a.c", "no 'c' at a"), ("lst.2", "not an index"),
                                        ("lst.x", "not an index"), ("a.b.c", "float, not an object")])
def test_unresolvable_keys_name_the_missing_part(key, match):
    with pytest.raises(SmeftfmError, match=match):
        resolve_key(DATA, key)


def test_bad_format_and_container_values_are_errors():
    with pytest.raises(SmeftfmError, match="format 'd'"):
        render_value(0.5, "d")
    with pytest.raises(SmeftfmError, match="dict"):
        render_value({"x": 1}, ".3f")


def test_sync_rewrites_values_and_check_reports_stale_and_missing(metrics):
    text = ("k-NN <!--m m.json a.b .3f-->0.999<!--/m--> at n = <!--m m.json a.n d-->41<!--/m-->,\n"
            "bad <!--m m.json a.zzz .3f-->1<!--/m--> and <!--m gone.json a.b .3f-->1<!--/m-->")
    new, problems = sync_text(text, metrics, "doc.md")
    assert "<!--m m.json a.b .3f-->0.123<!--/m-->" in new and "<!--m m.json a.n d-->42<!--/m-->" in new
    assert [p.line for p in problems] == [2, 2] and "no 'zzz'" in problems[0].problem
    assert "no metrics file" in problems[1].problem
    stale = check_text(text, metrics, "doc.md")
    assert [p.problem.split(":")[0] for p in stale[:2]] == ["stale", "stale"] and len(stale) == 4
    assert str(stale[0]).startswith("doc.md:1: <!--m m.json a.b .3f-->: stale: shows '0.999'")
    assert check_text(new.splitlines()[0], metrics) == []


def test_cli_sync_then_check(tmp_path, metrics):
    (tmp_path / "reports").mkdir()
    metrics.rename(tmp_path / "reports" / "metrics")
    (tmp_path / "docs").mkdir()
    doc = tmp_path / "docs" / "x.md"
    doc.write_text("value <!--m m.json lst.0 .2f-->?<!--/m-->\n")
    runner = CliRunner()
    res = runner.invoke(app, ["docs-sync", "--check", "--root", str(tmp_path)])
    assert res.exit_code == 1 and "docs/x.md:1" in res.output
    res = runner.invoke(app, ["docs-sync", "--root", str(tmp_path)])
    assert res.exit_code == 0 and doc.read_text() == "value <!--m m.json lst.0 .2f-->1.50<!--/m-->\n"
    assert runner.invoke(app, ["docs-sync", "--check", "--root", str(tmp_path)]).exit_code == 0


def test_repository_docs_markers_are_up_to_date():
    """Every number rendered from reports/metrics in README.md and docs/ matches the committed metrics."""
    res = CliRunner().invoke(app, ["docs-sync", "--check", "--root", str(ROOT)])
    assert res.exit_code == 0, res.output
