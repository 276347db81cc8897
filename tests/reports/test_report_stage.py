"""The ``report`` stage on synthetic pipeline outputs: files written, page complete, clear errors on bad input."""

from __future__ import annotations

import json
import re
from dataclasses import fields
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from smeftfm.cli import app
from smeftfm.config import parse_params
from smeftfm.data.parquet_io import read_parquet, write_parquet
from smeftfm.errors import DataError
from smeftfm.stages.report import FIGURES, ReportInputs, run_report

from .conftest import check_page, open_in_chromium, write_synthetic_outputs

PARAMS = parse_params({"report": {"dpi": 50, "latent_points": 500, "n_clusters": 3}})


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> tuple[Path, ReportInputs, dict]:
    root = tmp_path_factory.mktemp("report")
    inputs = write_synthetic_outputs(root)
    values = run_report(PARAMS, inputs, root / "reports", root / "reports/metrics/headline.json",
                        root / "reports/plots/loop_trace.csv")
    return root, inputs, values


def test_report_writes_every_figure_and_the_page_references_exactly_them(rendered):
    root, _, _ = rendered
    out = root / "reports"
    page = (out / "index.html").read_text(encoding="utf-8")
    srcs = re.findall(r'<img[^>]*\ssrc="([^"]+)"', page)
    assert sorted(srcs) == sorted(f"{f}.png" for f in FIGURES)
    assert all((out / s).stat().st_size > 1000 for s in srcs)
    assert not list(out.glob(".tmp-*")), "temporary files left behind"
    # one caption per figure, each a sentence
    assert page.count("<figcaption>") == len(FIGURES)
    for table in ("Operator screening", "Universes retrieved per σ level", "ALETHEIA cycle table",
                  "ALETHEIA: ours vs the paper", "Embedding figures of merit"):
        assert table in page
    md = (out / "summary.md").read_text(encoding="utf-8")
    assert "| clq3 | yes |" in md and md.count("![") == len(FIGURES)


def test_headline_metrics_come_from_the_inputs(rendered):
    root, inputs, values = rendered
    on_disk = json.loads((root / "reports/metrics/headline.json").read_text())
    assert on_disk == values
    train = json.loads(inputs.train_metrics.read_text())
    heads = json.loads(inputs.heads_metrics.read_text())
    assert values["encoder_knn_accuracy"] == train["encoder"]["knn_accuracy"]
    assert values["pca_knn_accuracy"] == train["pca"]["knn_accuracy"]
    assert values["anomaly_auroc_mi_resonance"] == heads["anomaly"]["resonance"]["auroc_mi"]
    assert values["loop_collapse_first"] == 20.0
    spectra = read_parquet(inputs.spectra)
    assert values["n_universes"] == (spectra["label"] >= 0).sum()
    assert values["n_universes_negative"] == spectra.loc[spectra["label"] >= 0, "has_negative"].sum()
    sm = spectra.loc[spectra["label"] < 0, [f"mll_{i:02d}" for i in range(60)]].to_numpy()[0]
    assert values["sigma_sm_acceptance_pb"] == pytest.approx(sm.sum() * 10.0)
    plot = pd.read_csv(root / "reports/plots/loop_trace.csv")
    assert list(plot["cycle"]) == list(range(8)) and plot["sigma1_post"].iloc[1] == pytest.approx(
        plot["sigma1_pre"].iloc[1] / 20)


def test_report_page_loads_in_headless_chromium(rendered, chromium, tmp_path):
    root, _, _ = rendered
    dom, shot = open_in_chromium(chromium, root / "reports" / "index.html", tmp_path)
    srcs = check_page(dom, root / "reports", shot)
    assert len(srcs) == len(FIGURES)


def test_loop_figure_uses_the_floor_the_loop_ran_with(rendered):
    root, _, _ = rendered
    page = (root / "reports" / "index.html").read_text(encoding="utf-8")
    assert "ALETHEIA: σ₁ timeline" in page
    from smeftfm.stages.report import load, loop_section

    _, inputs, _ = rendered
    fig = loop_section(load(inputs), PARAMS).items[0]
    floors = [ln.get_ydata()[0] for ln in fig.fig.axes[0].lines if str(ln.get_label()).startswith("floor")]
    assert floors == [0.25]  # loop.json settings, not params.loop.floor (default 1.0)


def test_missing_inputs_name_the_file_and_the_stage(tmp_path):
    inputs = write_synthetic_outputs(tmp_path)
    inputs.loop_trace.unlink()
    (inputs.heads / "contours.parquet").unlink()
    with pytest.raises(DataError) as err:
        run_report(PARAMS, inputs, tmp_path / "out", tmp_path / "h.json", tmp_path / "l.csv")
    msg = str(err.value)
    assert "contours.parquet (made by the `heads` stage)" in msg
    assert "trace.parquet (made by the `loop` stage)" in msg
    assert "dvc repro heads loop" in msg
    assert not (tmp_path / "out").exists()


def test_inconsistent_inputs_are_refused(tmp_path):
    inputs = write_synthetic_outputs(tmp_path)
    spec = read_parquet(inputs.spectra)
    write_parquet(spec.drop(columns=["pt_31"]), inputs.spectra, {})
    with pytest.raises(DataError, match="91 bin columns but the templates have 92"):
        run_report(PARAMS, inputs, tmp_path / "out", tmp_path / "h.json", tmp_path / "l.csv")
    inputs = write_synthetic_outputs(tmp_path)
    uni = read_parquet(inputs.universes)
    write_parquet(uni[uni["universe"] != "U003"], inputs.universes, {})
    with pytest.raises(DataError, match="different universes"):
        run_report(PARAMS, inputs, tmp_path / "out", tmp_path / "h.json", tmp_path / "l.csv")


def test_cli_report_fails_with_one_clear_line_when_nothing_was_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "params.yaml").write_text("report:\n  dpi: 60\n")
    res = CliRunner().invoke(app, ["report"])
    assert res.exit_code == 2
    out = res.output.strip()
    assert out.startswith("error: the report needs pipeline outputs that are missing") and "Traceback" not in out
    assert "data/screen/operators.json (made by the `screen` stage)" in out


def test_dvc_stage_declares_every_input_and_figure(root):
    stage = yaml.safe_load((root / "dvc.yaml").read_text())["stages"]["report"]
    deps = set(stage["deps"])
    for f in fields(ReportInputs):
        path = getattr(ReportInputs(), f.name)
        assert any(Path(d) == path or Path(d) in path.parents for d in deps), f"dvc.yaml report lacks dep {path}"
    outs = {o if isinstance(o, str) else next(iter(o)) for o in stage["outs"]}
    assert outs == {"reports/index.html", "reports/summary.md"} | {f"reports/{f}.png" for f in FIGURES}
    metrics = {next(iter(m)) if isinstance(m, dict) else m for m in stage["metrics"]}
    assert metrics == {"reports/metrics/headline.json"}


def test_every_cli_command_has_a_one_line_description():
    res = CliRunner().invoke(app, ["--help"], terminal_width=200)
    assert res.exit_code == 0
    commands = [c for c in app.registered_commands]
    assert len(commands) >= 9
    for c in commands:
        doc = (c.callback.__doc__ or "").strip()
        assert doc and doc.splitlines()[0].strip(), f"command {c.name or c.callback.__name__} has no description"
    for name in ("screen", "templates", "report", "ui"):
        assert re.search(rf"\b{name}\b\s+\S", res.output), f"`smeftfm --help` does not describe {name}"


def test_latent_colour_values_are_the_universe_bins(rendered):
    """Fig. 6 colours replicas by their universe's spectrum in the configured bins (here the Z-peak bin)."""
    from smeftfm.stages.report import _bin_of

    edges = np.linspace(50, 650, 61)
    assert _bin_of(edges, 91.1876, "mll") == 4  # [90, 100] GeV
    assert _bin_of(edges, 645.0, "mll") == 59
    with pytest.raises(DataError, match="outside the binning"):
        _bin_of(edges, 700.0, "mll")
