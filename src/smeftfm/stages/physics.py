"""The ``screen`` and ``templates`` stages."""

from __future__ import annotations

import time
from pathlib import Path

from ..atomic import write_json
from ..config import Params
from ..data.templates_io import write_templates
from ..errors import SmeftfmError
from ..physics.operators import VECTOR_OPERATORS, resolve
from ..physics.oracle import binnings_from_params, oracle_from_params, quadrature_from_params
from ..physics.screening import read_screened_operators, screen, screen_to_dict
from ..tracking import stage_run

__all__ = ["operators_for_templates", "run_screen", "run_templates"]


def run_screen(params: Params, out: Path) -> dict:
    """Screen all catalog operators and write ``{name: {interferes, rel_effect, tier, reason, ...}}``."""
    with stage_run("screen", {"physics": params.physics.model_dump(), "screen": params.screen.model_dump()}) as run:
        t0 = time.perf_counter()
        oracle = oracle_from_params(params)
        kwargs = {"pdf": oracle.pdf, "ew": oracle.ew, "acceptance": oracle.acceptance}
        res = screen_to_dict(screen(kwargs, params.screen.rel_threshold, quadrature_from_params(params),
                                    binnings_from_params(params)))
        write_json(out, res)
        n_int = sum(v["interferes"] for v in res.values())
        run.log_metrics({"n_interfering": n_int, "n_operators": len(res), "seconds": time.perf_counter() - t0})
        run.log_artifact(out)
    return res


def operators_for_templates(params: Params, screen_json: Path | None) -> tuple[str, ...]:
    """Operators the templates cover: the screened ones, all 17 vector ones, or an explicit list."""
    sel = params.physics.operators
    if isinstance(sel, list):
        return resolve(sel)
    if sel == "all":
        return VECTOR_OPERATORS
    return tuple(read_screened_operators(screen_json))


def run_templates(params: Params, out: Path, order: str | None = None, pdf: str | None = None,
                  screen_json: Path | None = None) -> None:
    """Compute the morphing templates and write them in long format (pb/GeV)."""
    order = order or params.physics.order
    if order not in ("linear", "quadratic"):
        raise SmeftfmError(f"--order must be 'linear' or 'quadratic', got '{order}'")
    if pdf:
        params = params.model_copy(update={"physics": params.physics.model_copy(update={"pdf": pdf})})
    ops = operators_for_templates(params, screen_json)
    logged = {"physics": params.physics.model_dump(), "observables": params.observables.model_dump(),
              "quadrature": params.quadrature.model_dump(), "order": order, "operators": list(ops)}
    with stage_run("templates", logged) as run:
        t0 = time.perf_counter()
        oracle = oracle_from_params(params, ops)
        t = oracle.binned_templates(order, binnings_from_params(params), quadrature_from_params(params))
        write_templates(t, out)
        sm = t.term("SM")
        mll = t.slice("mll")
        run.log_metrics({
            "sigma_sm_acceptance_pb": float((sm[mll] * t.widths[mll]).sum()),
            "n_terms": len(t.terms),
            "seconds": time.perf_counter() - t0,
        })
