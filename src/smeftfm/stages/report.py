"""The ``report`` stage: ``reports/index.html`` + PNG figures beside it, ``reports/summary.md``, the headline
metrics (``reports/metrics/headline.json``) and the loop-trace plot data (``reports/plots/loop_trace.csv``).

Everything is rendered from the pipeline outputs only (listed in :class:`ReportInputs`, each with the stage that
makes it). A missing input stops the stage before anything is written, with one message naming every missing file
and the stage to run. Figure functions live in :mod:`smeftfm.reports` and take plain arrays.
"""

from __future__ import annotations

import time
from dataclasses import fields
from pathlib import Path

from ..atomic import write_json, write_text
from ..config import Params
from ..errors import DataError
from ..reports.sections import (  # noqa: F401  (re-exported: the stage's inputs and figure list)
    FIGURES,
    ReportInputs,
    bin_of,
    check_inputs,
    constraints_section,
    heads_section,
    latent_section,
    load,
    loop_plot_frame,
    loop_section,
    physics_section,
    report_figures,
    scorecard_section,
)
from ..tracking import pipeline_id, stage_run

__all__ = ["FIGURES", "ReportInputs", "run_report"]

_bin_of = bin_of


# ------------------------------------------------------------------------------------------------- runner
def run_report(params: Params, inputs: ReportInputs, out_dir: Path, headline_path: Path,
               loop_plot_path: Path) -> dict[str, float]:
    """Render the report from the pipeline outputs; returns the headline figures."""
    from ..reports.common import save_figure
    from ..reports.html import render_html, render_markdown
    from ..reports.summary import headline, headline_rows

    check_inputs(inputs)
    with stage_run("report", {"report": params.report.model_dump()}) as run:
        t0 = time.perf_counter()
        d = load(inputs)
        sections = [physics_section(d, params), latent_section(d, params), heads_section(d, params),
                    scorecard_section(inputs, d), loop_section(d, params), constraints_section(d)]
        values = headline({"report": report_figures(d), "train": d.train, "heads": d.heads_metrics,
                           "loop": d.loop, "informer": d.informer})
        written = []
        for s in sections:
            for item in s.items:
                if hasattr(item, "fig"):
                    written.append(save_figure(item, out_dir, params.report.dpi))
        names = {p.stem for p in written}
        if names != set(FIGURES):
            raise DataError(f"report figures {sorted(names ^ set(FIGURES))} do not match the declared list; "
                            "update FIGURES and dvc.yaml together")
        title = "smeftfm report: SMEFT foundation model for Drell–Yan and ALETHEIA"
        sub = (f"Pipeline {pipeline_id()}; {len(d.names)} universes over {len(d.operators)} operators "
               f"({', '.join(d.operators)}). Every figure of merit is computed on held-out data.")
        prov = {f.name: str(getattr(inputs, f.name)) for f in fields(inputs)}
        rows = headline_rows(values)
        write_text(out_dir / "summary.md", render_markdown(title, sub, rows, sections, prov))
        write_text(out_dir / "index.html", render_html(title, sub, rows, sections, prov))
        for page in ("summary.md", "index.html"):
            (out_dir / page).chmod(0o644)
        write_json(headline_path, values)
        write_text(loop_plot_path, loop_plot_frame(d.trace).to_csv(index=False, float_format="%.6g"))
        run.log_metrics(values)
        run.log_metrics({"stage_seconds": time.perf_counter() - t0})
        for p in [*written, out_dir / "index.html", out_dir / "summary.md"]:
            run.log_artifact(p, "report")
    return values
