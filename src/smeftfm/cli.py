"""``smeftfm``: one command per DVC stage, plus a few tools.

Every command reads ``params.yaml`` (``--params`` to point elsewhere), validates its inputs and fails with one
clear message (exit code 2) instead of a traceback.
"""

from __future__ import annotations

import functools
import os
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from .config import Params, load_params
from .errors import SmeftfmError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="SMEFT foundation model for LHC Drell-Yan: pipeline stages and tools (run from the project root).",
)

ParamsOpt = Annotated[Path, typer.Option("--params", help="parameter file", show_default=True)]
DEFAULT_PARAMS = Path("params.yaml")


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


def quiet() -> bool:
    """Progress bars are hidden under CI (CI=true) or when SMEFTFM_QUIET is set."""
    return bool(os.environ.get("CI") or os.environ.get("SMEFTFM_QUIET")) or not sys.stderr.isatty()


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
    order: Annotated[Optional[str], typer.Option(help="linear | quadratic (default: physics.order)")] = None,
    pdf: Annotated[Optional[str], typer.Option(help="LHAPDF set name (default: physics.pdf)")] = None,
    screen_json: Annotated[Path, typer.Option("--screen", help="screening output")] = Path(
        "data/screen/operators.json"
    ),
    params: ParamsOpt = DEFAULT_PARAMS,
) -> None:
    """Binned m_ll and p_T templates (SM, lin:<op>, quad:<op>*<op>) by deterministic quadrature."""
    from .stages.physics import run_templates

    run_templates(_params(params), out, order=order, pdf=pdf, screen_json=screen_json)


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


@app.command()
@handles_errors
def ui(
    port: Annotated[int, typer.Option(help="port on 127.0.0.1")] = 5000,
) -> None:
    """Start `mlflow ui` on the project's local run store (sqlite:///mlflow.db, artifacts in mlartifacts/)."""
    import subprocess

    from .tracking import artifact_root, tracking_uri

    cmd = [sys.executable, "-m", "mlflow", "ui", "--backend-store-uri", tracking_uri(),
           "--default-artifact-root", artifact_root(), "--host", "127.0.0.1", "--port", str(port)]
    typer.echo(" ".join(cmd))
    raise typer.Exit(subprocess.call(cmd))


def main() -> None:  # pragma: no cover
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
