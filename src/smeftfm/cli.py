"""``smeftfm``: one command per DVC stage, plus a few tools.

Every command reads ``params.yaml`` (``--params`` to point elsewhere), validates its inputs and fails with one
clear message (exit code 2) instead of a traceback.
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path
from typing import Annotated

import typer

from .config import Params, load_params
from .errors import SmeftfmError

__all__ = ["DEFAULT_PARAMS", "DEFAULT_SPECTRA", "DEFAULT_TEMPLATES", "DEFAULT_UNIVERSES", "MetricsOpt", "ParamsOpt",
           "SpectraOpt", "TemplatesOpt", "UniversesOpt", "app", "corpus", "docs_sync", "events", "handles_errors",
           "heads", "informer", "loop", "main", "pdf_download", "report", "screen", "spectra", "templates", "train",
           "ui", "universes"]

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="SMEFT foundation model for LHC Drell-Yan: pipeline stages and tools (run from the project root).",
)

ParamsOpt = Annotated[Path, typer.Option("--params", help="parameter file", show_default=True)]
DEFAULT_PARAMS = Path("params.yaml")
UniversesOpt = Annotated[Path, typer.Option("--universes", help="universes table")]
TemplatesOpt = Annotated[Path, typer.Option("--templates", help="morphing templates")]
SpectraOpt = Annotated[Path, typer.Option("--spectra", help="theory spectra")]
DEFAULT_UNIVERSES = Path("data/universes.parquet")
DEFAULT_TEMPLATES = Path("data/templates/spectra.parquet")
DEFAULT_SPECTRA = Path("data/spectra.parquet")


def _fail(msg: str) -> None:
    typer.secho(f"error: {msg}", err=True, fg=typer.colors.RED)
    raise typer.Exit(code=2)


def handles_errors(fn):
    """Turn :class:`SmeftfmError` (and a few common mistakes) into one clear line and exit code 2."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except SmeftfmError as err:
            _fail(str(err))
        except KeyboardInterrupt:
            _fail("interrupted; outputs already written are intact, partial ones were discarded")

    return wrapper


def _params(path: Path) -> Params:
    return load_params(path)


@app.command()
@handles_errors
def screen(
    out: Annotated[Path, typer.Option(help="output JSON")] = Path("data/screen/operators.json"),
    params: ParamsOpt = DEFAULT_PARAMS,
) -> None:
    """Analytic PRAXIS screening: which of the 31 operators interfere with the SM at O(1/Lambda^2)."""
    from .stages.physics import run_screen

    run_screen(_params(params), out)


@app.command()
@handles_errors
def templates(
    out: Annotated[Path, typer.Option(help="output Parquet (long format, pb/GeV)")] = Path(
        "data/templates/spectra.parquet"
    ),
    order: Annotated[str | None, typer.Option(help="linear | quadratic (default: physics.order)")] = None,
    pdf: Annotated[str | None, typer.Option(help="LHAPDF set name (default: physics.pdf)")] = None,
    screen_json: Annotated[Path, typer.Option("--screen", help="screening output")] = Path(
        "data/screen/operators.json"
    ),
    params: ParamsOpt = DEFAULT_PARAMS,
) -> None:
    """Binned m_ll and p_T templates (SM, lin:<op>, quad:<op>*<op>) by deterministic quadrature."""
    from .stages.physics import run_templates

    run_templates(_params(params), out, order=order, pdf=pdf, screen_json=screen_json)


@app.command()
@handles_errors
def joint(
    out: Annotated[Path, typer.Option(help="output Parquet (long format, pb)")] = Path("data/templates/joint.parquet"),
    screen_json: Annotated[Path, typer.Option("--screen", help="screening output")] = Path(
        "data/screen/operators.json"
    ),
    params: ParamsOpt = DEFAULT_PARAMS,
) -> None:
    """2-D (m_ll, p_T) cross sections per morphing term: the exact m_ll x p_T cross-covariance of the corpus."""
    from .stages.joint import run_joint

    m = run_joint(_params(params), out, screen_json)
    typer.echo(f"joint templates ({m['n_terms']} terms, sigma_SM {m['sigma_sm_pb']:.2f} pb) -> {out}")


# ------------------------------------------------------------------------------ data stages (issue 3)
MetricsOpt = Annotated[Path | None, typer.Option("--metrics", help="also write the stage's metrics (JSON)")]


@app.command()
@handles_errors
def universes(
    out: Annotated[Path, typer.Option(help="output Parquet")] = Path("data/universes.parquet"),
    screen_json: Annotated[Path, typer.Option("--screen", help="screening output")] = Path(
        "data/screen/operators.json"
    ),
    metrics: MetricsOpt = None,
    params: ParamsOpt = DEFAULT_PARAMS,
) -> None:
    """Sample the SMEFT universes (eqs. 3.2-3.3): log-uniform |C|, random sign, sparsity; plus the SM row."""
    from .stages.data import run_universes

    m = run_universes(_params(params), out, screen_json, metrics)
    typer.echo(f"{m['n_universes']} universes x {m['n_operators']} operators -> {out}")


@app.command()
@handles_errors
def spectra(
    out: Annotated[Path, typer.Option(help="output Parquet (pb/GeV)")] = Path("data/spectra.parquet"),
    universes_path: UniversesOpt = DEFAULT_UNIVERSES,
    templates_path: TemplatesOpt = DEFAULT_TEMPLATES,
    metrics: MetricsOpt = None,
    params: ParamsOpt = DEFAULT_PARAMS,
) -> None:
    """Theory spectra y(C) of every universe from the templates; flags negative bins, never clips."""
    from .stages.data import run_spectra

    m = run_spectra(_params(params), out, universes_path, templates_path, metrics)
    typer.echo(f"{m['n_universes']} universes ({m['n_has_negative']} with negative bins) -> {out}")


@app.command()
@handles_errors
def corpus(
    out: Annotated[Path, typer.Option(help="output directory of Parquet shards")] = Path("data/corpus"),
    spectra_path: SpectraOpt = DEFAULT_SPECTRA,
    templates_path: TemplatesOpt = DEFAULT_TEMPLATES,
    universes_path: UniversesOpt = DEFAULT_UNIVERSES,
    joint_path: Annotated[Path, typer.Option("--joint", help="2-D (m_ll, p_T) templates")] = Path(
        "data/templates/joint.parquet"
    ),
    metrics: MetricsOpt = None,
    params: ParamsOpt = DEFAULT_PARAMS,
    dask_workers: Annotated[int | None, typer.Option(
        help="run the shard tasks on a Dask LocalCluster of this many workers (overrides params dask)")] = None,
    dask_address: Annotated[str | None, typer.Option(
        help="run the shard tasks on the Dask scheduler at this address, e.g. tcp://host:8786")] = None,
) -> None:
    """Monte Carlo replicas ~ N(y, Sigma(rho)) with the exact m_ll x p_T cross-covariance (docs/data.md)."""
    from .stages.data import run_corpus

    p = _params(params)
    dask = p.dask
    if dask_workers is not None or dask_address is not None:
        upd: dict = {"enabled": True}
        if dask_workers is not None:
            upd["workers"] = dask_workers
        if dask_address is not None:
            upd["address"] = dask_address
        dask = dask.model_copy(update=upd)
    m = run_corpus(p, out, spectra_path, templates_path, metrics, universes_path, joint_path, dask)
    rate = m["rows_per_second"]
    typer.echo(f"{m['rows']:.0f} replicas in {m['seconds']:.1f} s ({rate:.0f} rows/s) -> {out}")


@app.command()
@handles_errors
def events(
    out: Annotated[Path, typer.Option(help="output Parquet")] = Path("data/events/events.parquet"),
    universes_path: UniversesOpt = DEFAULT_UNIVERSES,
    metrics: MetricsOpt = None,
    params: ParamsOpt = DEFAULT_PARAMS,
) -> None:
    """Unweighted (m_ll, y_ll, cos theta_CS) events from the exact rate at the SM and the universes."""
    from .stages.data import run_events

    m = run_events(_params(params), out, universes_path, metrics)
    typer.echo(f"{m['events']} events at {m['n_points']} working points ({m['n_skipped']} skipped) -> {out}")


# ----------------------------------------------------------------------------- model stages (issue 4)
@app.command()
@handles_errors
def train(
    corpus_dir: Annotated[Path, typer.Option("--corpus", help="corpus directory (split=*/part-*.parquet)")] = Path(
        "data/corpus"
    ),
    spectra_path: SpectraOpt = DEFAULT_SPECTRA,
    universes_path: UniversesOpt = DEFAULT_UNIVERSES,
    model_dir: Annotated[Path, typer.Option("--model", help="output encoder directory")] = Path("models/encoder"),
    embeddings_dir: Annotated[Path, typer.Option("--embeddings", help="output embeddings directory")] = Path(
        "data/embeddings"
    ),
    metrics: Annotated[Path, typer.Option("--metrics", help="output metrics JSON")] = Path(
        "reports/metrics/train.json"
    ),
    plots: Annotated[Path, typer.Option("--plots", help="output loss curve CSV")] = Path(
        "reports/plots/train_loss.csv"
    ),
    params: ParamsOpt = DEFAULT_PARAMS,
) -> None:
    """Contrastive encoder (eq. 3.19) with early stopping, plus the PCA baseline; k-NN/silhouette/probe metrics."""
    from .stages.models import run_train

    m = run_train(_params(params), corpus_dir, spectra_path, universes_path, model_dir, embeddings_dir, metrics, plots)
    typer.echo(f"encoder k-NN accuracy {m['encoder']['knn_accuracy']:.3f} vs PCA {m['pca']['knn_accuracy']:.3f} "
               f"(best epoch {m['best_epoch']}) -> {model_dir}")


@app.command()
@handles_errors
def heads(
    embeddings_dir: Annotated[Path, typer.Option("--embeddings", help="embeddings directory")] = Path(
        "data/embeddings"
    ),
    model_dir: Annotated[Path, typer.Option("--model", help="trained encoder directory")] = Path("models/encoder"),
    spectra_path: SpectraOpt = DEFAULT_SPECTRA,
    universes_path: UniversesOpt = DEFAULT_UNIVERSES,
    templates_path: TemplatesOpt = DEFAULT_TEMPLATES,
    out: Annotated[Path, typer.Option(help="output directory")] = Path("data/heads"),
    metrics: Annotated[Path, typer.Option("--metrics", help="output metrics JSON")] = Path(
        "reports/metrics/heads.json"
    ),
    params: ParamsOpt = DEFAULT_PARAMS,
) -> None:
    """Dirichlet prior network, entropy/MI maps, injected-anomaly AUROCs and SM retrieval vs exact chi^2."""
    from .stages.models import run_heads

    m = run_heads(_params(params), embeddings_dir, model_dir, spectra_path, universes_path, templates_path, out,
                  metrics)
    typer.echo(f"DPN accuracy {m['dpn']['accuracy']:.3f}, ECE {m['dpn']['ece']:.3f} -> {out}")


@app.command()
@handles_errors
def scorecard(
    corpus_dir: Annotated[Path, typer.Option("--corpus", help="corpus directory")] = Path("data/corpus"),
    spectra_path: SpectraOpt = DEFAULT_SPECTRA,
    universes_path: UniversesOpt = DEFAULT_UNIVERSES,
    templates_path: TemplatesOpt = DEFAULT_TEMPLATES,
    joint_path: Annotated[Path, typer.Option("--joint", help="2-D (m_ll, p_T) templates")] = Path(
        "data/templates/joint.parquet"
    ),
    model_dir: Annotated[Path, typer.Option("--model", help="trained `paper` encoder")] = Path("models/encoder"),
    out: Annotated[Path, typer.Option(help="output directory (AUROC curves)")] = Path("data/scorecard"),
    metrics: Annotated[Path, typer.Option(help="scorecard JSON (the contract)")] = Path(
        "reports/metrics/scorecard.json"
    ),
    details: Annotated[Path, typer.Option(help="details JSON (baselines, readings, strengths)")] = Path(
        "reports/metrics/evaluation.json"
    ),
    params: ParamsOpt = DEFAULT_PARAMS,
) -> None:
    """Grade `paper` and `recommended` against the exact optimum, baselines and unseen universes (scorecard)."""
    from .stages.scorecard import run_scorecard

    m = run_scorecard(_params(params), corpus_dir, spectra_path, universes_path, templates_path, joint_path,
                      model_dir, out, metrics, details)
    done = [k for k, v in m["scorecard"].items() if v is not None]
    typer.echo(f"scorecard for {', '.join(done) or 'no configuration'} ({m['n_signals']} signal points) -> {metrics}")


@app.command()
@handles_errors
def scenario(
    name: Annotated[str, typer.Option(help="scenario name (file stem of the output)")],
    luminosity_fb: Annotated[str, typer.Option("--luminosity-fb", help="fb^-1, or 'null' for L_eff")] = "null",
    spectra_path: SpectraOpt = DEFAULT_SPECTRA,
    universes_path: UniversesOpt = DEFAULT_UNIVERSES,
    templates_path: TemplatesOpt = DEFAULT_TEMPLATES,
    joint_path: Annotated[Path, typer.Option("--joint", help="2-D (m_ll, p_T) templates")] = Path(
        "data/templates/joint.parquet"
    ),
    out: Annotated[Path | None, typer.Option(help="output JSON")] = None,
    params: ParamsOpt = DEFAULT_PARAMS,
) -> None:
    """Exact references (GoF strength scan, Neyman-Pearson AUROC, chi^2 truth) at one luminosity scenario."""
    from .stages.scenarios import run_scenario

    lumi = None if luminosity_fb.strip().lower() in ("null", "none", "") else float(luminosity_fb)
    target = out or Path(f"reports/metrics/scenarios/{name}.json")
    m = run_scenario(_params(params), name, lumi, spectra_path, universes_path, templates_path, joint_path, target)
    typer.echo(f"scenario {name}: {m['sm_events']:.0f} SM events, compatible {m['compatible']} -> {target}")


@app.command()
@handles_errors
def informer(
    out: Annotated[Path, typer.Option(help="output model directory")] = Path("models/informer"),
    metrics: Annotated[Path, typer.Option(help="output metrics JSON")] = Path("reports/metrics/informer.json"),
    params: ParamsOpt = DEFAULT_PARAMS,
) -> None:
    """ManifoldInformer: JEPA training of the per-event encoder, ridge head, linear-probe R² of the morphing terms."""
    from .stages.loop import run_informer

    run_informer(_params(params), out, metrics)


@app.command()
@handles_errors
def loop(
    out: Annotated[Path, typer.Option(help="output directory (trace.parquet, variants.parquet)")] = Path("data/loop"),
    table: Annotated[Path, typer.Option(help="Table-2-format markdown")] = Path("reports/loop_table.md"),
    metrics: Annotated[Path, typer.Option(help="output metrics JSON")] = Path("reports/metrics/loop.json"),
    screen_json: Annotated[Path, typer.Option("--screen", help="screening output")] = Path(
        "data/screen/operators.json"
    ),
    scorecard: Annotated[Path, typer.Option(help="contract JSON")] = Path("reports/metrics/aletheia_scorecard.json"),
    informer_dir: Annotated[Path, typer.Option("--informer", help="trained informer checkpoints")] = Path(
        "models/informer"
    ),
    informer_metrics: Annotated[Path, typer.Option(help="informer metrics JSON")] = Path(
        "reports/metrics/informer.json"
    ),
    params: ParamsOpt = DEFAULT_PARAMS,
) -> None:
    """ALETHEIA complete-then-expand loop: arms over seeds and probe draws, gates, controls, the authors' setting
    and the informer-driven loop; traced in MLflow (and OTLP when configured)."""
    from .stages.loop import run_loop

    m = run_loop(_params(params), screen_json, out, table, metrics, scorecard, informer_dir, informer_metrics)
    typer.echo(f"loop: gates passed {m['gates_passed']}/4, collapse first {m['collapse']['first']}, "
               f"cycles {m['cycles_to_completion']}")


@app.command()
@handles_errors
def report(
    out_dir: Annotated[Path, typer.Option("--out", help="output folder of index.html, summary.md and PNGs")] = Path(
        "reports"
    ),
    root: Annotated[Path, typer.Option(help="project folder holding the pipeline outputs (data/, reports/)")] = Path(
        "."
    ),
    headline_json: Annotated[Path, typer.Option("--headline", help="output headline metrics JSON")] = Path(
        "reports/metrics/headline.json"
    ),
    loop_plot: Annotated[Path, typer.Option("--loop-plot", help="output loop-trace CSV for `dvc plots`")] = Path(
        "reports/plots/loop_trace.csv"
    ),
    params: ParamsOpt = DEFAULT_PARAMS,
) -> None:
    """HTML report (reports/index.html, PNG figures) and summary.md from the pipeline outputs."""
    from dataclasses import fields

    from .stages.report import ReportInputs, run_report

    inputs = ReportInputs(**{f.name: root / getattr(ReportInputs(), f.name) for f in fields(ReportInputs)})
    values = run_report(_params(params), inputs, out_dir, headline_json, loop_plot)
    typer.echo(f"report with {len(values)} headline figures -> {out_dir / 'index.html'}")


@app.command()
@handles_errors
def fit(
    out_dir: Annotated[Path, typer.Option("--out", help="working folder (templates, contours, samples)")] = Path(
        "data/fit"
    ),
    metrics: Annotated[Path, typer.Option(help="fit.json: chi2_sm, ndf, 95 % CL intervals")] = Path(
        "reports/metrics/fit.json"
    ),
    details: Annotated[Path, typer.Option(help="baselines, profiled/marginalised intervals, diagnostics")] = Path(
        "reports/metrics/fit_details.json"
    ),
    params: ParamsOpt = DEFAULT_PARAMS,
) -> None:
    """Fit Wilson coefficients to the published Drell-Yan measurements in data/measurements (docs/fit.md)."""
    from .stages.fit import run_fit

    res = run_fit(_params(params), out_dir, metrics, details)
    comb = res.get("combined", {})
    typer.echo(f"fit: {len(res) - 1} datasets, combined chi2_SM/ndf = {comb.get('chi2_sm', float('nan')):.1f}/"
               f"{comb.get('ndf', 0)} -> {metrics}")


@app.command("wc-spectrum")
@handles_errors
def wc_spectrum(
    wc: Annotated[Path, typer.Option("--wc", help="WCxf file (eft SMEFT, basis SMEFTsim_U35)")],
    out: Annotated[Path, typer.Option(help="output CSV (pb/GeV and ratio to the SM per bin)")] = Path("spectrum.csv"),
    templates_path: TemplatesOpt = DEFAULT_TEMPLATES,
    order: Annotated[str | None, typer.Option(help="linear or quadratic (default: the templates' order)")] = None,
) -> None:
    """Spectra of a custom universe defined by a WCxf file (SMEFTsim U35 names, values in TeV^-2)."""
    from .stages.exchange import spectrum_from_wcxf

    df = spectrum_from_wcxf(wc, templates_path, out, order)
    typer.echo(f"{len(df)} bins -> {out}")


@app.command("wcxf-export")
@handles_errors
def wcxf_export(
    universe: Annotated[str, typer.Option(help="universe name (SM, U000, ...)")],
    out: Annotated[Path, typer.Option(help="output WCxf YAML")],
    universes_path: UniversesOpt = DEFAULT_UNIVERSES,
    params: ParamsOpt = DEFAULT_PARAMS,
) -> None:
    """Write one universe of data/universes.parquet as a WCxf file (SMEFT / SMEFTsim_U35)."""
    from .stages.exchange import universe_to_wcxf

    c = universe_to_wcxf(universes_path, universe, out, _params(params).physics.lambda_np)
    typer.echo(f"{universe}: {len(c)} non-zero coefficients -> {out}")


@app.command("export-templates")
@handles_errors
def export_templates(
    out: Annotated[Path, typer.Option(help="output JSON (smefit theory-table layout)")],
    templates_path: TemplatesOpt = DEFAULT_TEMPLATES,
) -> None:
    """Templates of any binning (templates stage, or data/fit/templates_*.parquet) in smefit's theory-table layout."""
    from .stages.exchange import templates_to_table

    templates_to_table(templates_path, out)
    typer.echo(f"theory table -> {out}")


# ------------------------------------------------------------------ ALETHEIA (issue 5): informer, loop
@app.command("pdf-download")
@handles_errors
def pdf_download(
    name: Annotated[str, typer.Argument(help="LHAPDF set name, e.g. CT18LO")],
    dest: Annotated[Path, typer.Option(help="destination folder")] = Path("data/pdfsets"),
) -> None:
    """Download an LHAPDF set from the LHAPDF site (needs internet) into data/pdfsets."""
    from .physics.pdfs import download_pdf_set

    where = download_pdf_set(name, dest)
    typer.echo(f"{name} unpacked in {where}; it is found there automatically")


@app.command("docs-sync")
@handles_errors
def docs_sync(
    check: Annotated[bool, typer.Option("--check", help="only report stale or unresolvable markers (exit 1)")] = False,
    root: Annotated[Path, typer.Option(help="project folder (README.md, docs/, reports/metrics/)")] = Path("."),
) -> None:
    """Render the metric markers <!--m FILE KEY FMT-->value<!--/m--> in README.md and docs/*.md."""
    from .reports.docs_sync import check_files, default_doc_files, sync_files

    files, metrics_dir = default_doc_files(root), root / "reports" / "metrics"
    if check:
        problems = check_files(files, metrics_dir, root)
        for p in problems:
            typer.echo(str(p), err=True)
        if problems:
            typer.echo(f"{len(problems)} stale or unresolvable metric markers; run `smeftfm docs-sync`", err=True)
            raise typer.Exit(1)
        typer.echo(f"metric markers up to date in {len(files)} files")
        return
    changed, problems = sync_files(files, metrics_dir, root)
    for p in problems:
        typer.echo(str(p), err=True)
    typer.echo(f"rendered markers in {len(changed)} of {len(files)} files")
    if problems:
        raise typer.Exit(1)


@app.command("sweep-variant")
@handles_errors
def sweep_variant(
    noise: Annotated[str, typer.Option(help="noise-model variant (sweeps/variants.yaml)")],
    lumi: Annotated[str, typer.Option(help="luminosity-scenario variant")],
    encoder: Annotated[str, typer.Option(help="encoder-configuration variant")],
    out: Annotated[Path, typer.Option(help="output folder of the variant")],
    variants: Annotated[Path, typer.Option(help="the named overrides")] = Path("sweeps/variants.yaml"),
    spectra_path: SpectraOpt = DEFAULT_SPECTRA,
    templates_path: TemplatesOpt = DEFAULT_TEMPLATES,
    universes_path: UniversesOpt = DEFAULT_UNIVERSES,
    joint_path: Annotated[Path, typer.Option("--joint", help="2-D (m_ll, p_T) templates")] = Path(
        "data/templates/joint.parquet"),
    params: ParamsOpt = DEFAULT_PARAMS,
) -> None:
    """One variant of the sweep (sweeps/dvc.yaml matrix stage): corpus + encoder with the named overrides."""
    from .stages.sweeps import run_variant

    m = run_variant(params, variants, {"noise": noise, "lumi": lumi, "encoder": encoder}, out, spectra_path,
                    templates_path, universes_path, joint_path)
    typer.echo(f"{noise}-{lumi}-{encoder}: encoder k-NN accuracy {m['encoder']['knn_accuracy']:.3f} -> {out}")


@app.command()
@handles_errors
def promote(
    alias: Annotated[str, typer.Option(help="registry alias to set")] = "champion",
    version: Annotated[int | None, typer.Option(help="promote this version of smeftfm-encoder")] = None,
    run_id: Annotated[str | None, typer.Option(help="promote the version registered by this train run")] = None,
    best_by: Annotated[str | None, typer.Option(
        help="promote the version whose train run has the best value of this metric, e.g. encoder.knn_accuracy")
    ] = None,
    lower_is_better: Annotated[bool, typer.Option(help="with --best-by: smaller is better (e.g. best_val_loss)")
                               ] = False,
) -> None:
    """Point the MLflow registry alias (default @champion) of smeftfm-encoder at one version (newest by default).

    The heads stage then uses it with `heads.encoder_uri: models:/smeftfm-encoder@champion`."""
    from .models.registry import promote as do_promote

    r = do_promote(alias, version, run_id, best_by, lower_is_better)
    extra = f" ({r['metric']} = {r['value']:.4g})" if r["metric"] else ""
    typer.echo(f"{r['uri']} -> version {r['version']} (run {r['run_id']}){extra}")


@app.command()
@handles_errors
def ui(
    port: Annotated[int, typer.Option(help="port on 127.0.0.1")] = 5000,
    workers: Annotated[int, typer.Option(min=1, help="server worker processes (1 starts fastest)")] = 1,
) -> None:
    """Start the MLflow UI + REST server on the project's local run store (mlflow.db, artifacts in mlartifacts/)."""
    import subprocess

    from .tracking import artifact_root, tracking_uri

    cmd = [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", tracking_uri(),
           "--default-artifact-root", artifact_root(), "--host", "127.0.0.1", "--port", str(port),
           "--workers", str(workers)]
    typer.echo(" ".join(cmd))
    typer.echo(f"open http://127.0.0.1:{port} (experiment 'smeftfm'; group a repro with tags.pipeline_id = '<id>')")
    raise typer.Exit(subprocess.call(cmd))


def main() -> None:  # pragma: no cover
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
