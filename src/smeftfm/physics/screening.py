"""Analytic PRAXIS screening: which catalog operators contribute to the rate at O(Lambda^-2).

For each operator switched on alone (C = 1, Lambda = 1 TeV) we look at its interference with the SM:

* chirality-conserving structures are run through the oracle: integrated interference in the acceptance and
  the per-bin interference of every m_ll and p_T bin, relative to the SM; the operator interferes when the
  largest relative effect exceeds ``rel_threshold``;
* chirality-flipping structures (dipoles, Yukawa-like, scalar/tensor contact terms) and the purely Higgs
  ones populate helicity configurations of q qbar -> mu- mu+ that the massless SM amplitude never populates
  (:func:`helicity_support`); the overlap is empty, so the interference vanishes identically in every bin.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from itertools import product

import numpy as np

from .operators import CATALOG, VECTOR_OPERATORS, Operator
from .oracle import DEFAULT_BINNINGS, Oracle, QuadratureSpec

__all__ = ["Helicity", "ScreenResult", "helicity_support", "read_screened_operators", "screen", "screen_to_dict",
           "screened_operators"]

#: A helicity configuration (q, qbar, mu-, mu+), each +1 or -1 (massless: helicity = chirality for particles).
Helicity = tuple[int, int, int, int]


def helicity_support(op: Operator | None) -> frozenset[Helicity]:
    """Helicity configurations in which the operator's (or, for ``None``, the SM's) amplitude is non-zero.

    Vector currents conserve chirality along each fermion line: the antiquark (antimuon) carries the helicity
    opposite to the quark (muon). Scalar, tensor, dipole and Yukawa vertices flip chirality: particle and
    antiparticle on that line carry equal helicities. Structures with no tree-level amplitude for massless
    fermions (cHbox, cHG, which only reach mu mu through a Yukawa-suppressed Higgs) have empty support.
    """
    all_cfg: list[tuple[int, int, int, int]] = list(product((-1, 1), repeat=4))  # type: ignore[arg-type]
    conserving = {c for c in all_cfg if c[0] == -c[1] and c[2] == -c[3]}
    if op is None or op.chirality_conserving:
        return frozenset(conserving)
    if op.structure in {"higgs_kinetic", "gluonic"}:
        return frozenset()
    if op.structure == "scalar_tensor":  # both lines flip
        return frozenset(c for c in all_cfg if c[0] == c[1] and c[2] == c[3])
    if op.structure == "dipole":  # one line flips (quark or lepton dipole), the other is a gauge current
        if op.name.startswith("ce"):
            return frozenset(c for c in all_cfg if c[0] == -c[1] and c[2] == c[3])
        return frozenset(c for c in all_cfg if c[0] == c[1] and c[2] == -c[3])
    if op.structure == "yukawa":  # Higgs exchange: scalar on both lines
        return frozenset(c for c in all_cfg if c[0] == c[1] and c[2] == c[3])
    raise ValueError(f"no helicity rule for structure {op.structure}")


_REASONS = {
    "four_fermion_vector": "vector four-fermion contact term: interferes with gamma/Z exchange, "
    "growing like s/Lambda^2",
    "current": "Z-vertex current: shifts the Z coupling of the {f}, interferes most at the Z pole",
    "bosonic_input": "shifts Z and photon couplings through the m_W-scheme inputs (s_W, e, m_Z)",
    "four_lepton_input": "enters through G_F (muon decay), rescaling every neutral-current coupling",
    "yukawa": "chirality-flipping (Yukawa-like): no interference with the massless SM amplitude; "
    "only mass-suppressed Higgs exchange at O(v^4/Lambda^4)",
    "dipole": "chirality-flipping dipole: no interference with the massless SM amplitude; "
    "its square enters at O(v^2 s/Lambda^4)",
    "scalar_tensor": "chirality-flipping scalar/tensor contact term: no interference with the massless SM "
    "amplitude; its square enters at O(s^2/Lambda^4)",
    "higgs_kinetic": "modifies Higgs couplings only: no tree-level q qbar -> mu mu amplitude with massless fermions",
    "gluonic": "Higgs-gluon coupling: reaches mu mu only through gg -> h* with a muon Yukawa; no O(Lambda^-2) effect",
}
_FERMION_OF = {"cHl1": "muon (L)", "cHl3": "muon (L) and G_F", "cHe": "muon (R)", "cHq1": "quarks (L)",
               "cHq3": "quarks (L)", "cHu": "up quarks (R)", "cHd": "down quarks (R)"}


@dataclass(frozen=True)
class ScreenResult:
    """Verdict for one operator (relative effects at C = 1, Lambda = 1 TeV)."""

    interferes: bool
    rel_effect: float  # max over bins of |interference| / SM
    rel_effect_integrated: float  # |sigma_int| / sigma_SM in the acceptance
    tier: str  # leading / subleading / none
    power_counting: str
    structure: str
    reason: str
    max_bin: str  # where the largest relative effect sits, e.g. "mll[59]"


def screen(oracle_kwargs: dict | None = None, rel_threshold: float = 1e-6,
           spec: QuadratureSpec = QuadratureSpec(), binnings: tuple | None = None) -> dict[str, ScreenResult]:
    """Screen every catalog operator on ``binnings`` (default: the paper's 92 bins); {name: ScreenResult}."""
    oracle = Oracle(operators=VECTOR_OPERATORS, **(oracle_kwargs or {}))
    templates = oracle.binned_templates("linear", binnings or DEFAULT_BINNINGS, spec)
    sm = templates.term("SM")
    sigma = oracle.integrated_terms(oracle.acceptance.m_lo, oracle.acceptance.m_hi, spec=spec)
    labels = [f"{b.observable}[{i}]" for b in templates.binnings for i in range(b.n)]
    sm_support = helicity_support(None)
    out: dict[str, ScreenResult] = {}
    for op in CATALOG:
        if op.name in oracle.operators:
            k = oracle.operators.index(op.name)
            rel_bins = np.abs(templates.values[1 + k]) / np.abs(sm)
            rel_int = abs(sigma[1 + k]) / sigma[0]
        else:
            overlap = helicity_support(op) & sm_support
            # the interference is a sum over shared helicity configurations: none -> zero in every bin
            rel_bins = np.zeros_like(sm) if not overlap else np.full_like(sm, np.nan)
            rel_int = 0.0 if not overlap else float("nan")
            if overlap:  # pragma: no cover - would mean a catalog/structure inconsistency
                raise RuntimeError(f"{op.name}: chirality-flipping operator shares helicities with the SM")
        imax = int(np.argmax(rel_bins))
        rel = float(rel_bins[imax])
        interferes = rel > rel_threshold
        reason = _REASONS[op.structure].format(f=_FERMION_OF.get(op.name, ""))
        out[op.name] = ScreenResult(
            interferes=bool(interferes),
            rel_effect=rel,
            rel_effect_integrated=float(rel_int),
            tier=op.tier if interferes else "none",
            power_counting=op.power_counting,
            structure=op.structure,
            reason=reason,
            max_bin=labels[imax] if interferes else "",
        )
    return out


def screen_to_dict(results: dict[str, ScreenResult]) -> dict[str, dict]:
    return {k: asdict(v) for k, v in results.items()}


def read_screened_operators(path, tiers: tuple[str, ...] = ("leading", "subleading")) -> list[str]:
    """Interfering operators listed in a screening output file, with one clear error if it is unusable."""
    import json
    from pathlib import Path

    from ..errors import DataError, SmeftfmError

    if path is None or not Path(path).exists():
        raise DataError(f"screening output {path} not found; run `smeftfm screen` first (or `dvc repro`)")
    try:
        table = json.loads(Path(path).read_text())
    except json.JSONDecodeError as err:
        raise DataError(f"{path} is not valid JSON ({err}); re-run `smeftfm screen`") from None
    ops = screened_operators(table, tiers)
    if not ops:
        raise SmeftfmError(f"{path} lists no interfering operator; check screen.rel_threshold")
    return ops


def screened_operators(screen_json: dict[str, dict], tiers: tuple[str, ...] = ("leading", "subleading")) -> list[str]:
    """Names of interfering operators (in catalog order) from a screening table, optionally by tier."""
    return [k for k, v in screen_json.items() if v["interferes"] and v["tier"] in tiers]
