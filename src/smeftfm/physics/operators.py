"""Catalog of the 31 Warsaw-basis operators of Table 1 of the seed paper, with SMEFTsim 3.0 names.

Names follow the SMEFTsim 3.0 ``U35`` flavour model [Brivio, arXiv:2012.11343]: coefficients of operators
that are complex in general carry the suffix ``Re`` (we keep real coefficients only); the short form
without ``Re`` (e.g. ``ceH``) is accepted as an alias. ``power_counting`` is the leading scaling of the
operator's effect on neutral-current Drell-Yan as given in Table 1; ``structure`` is the Lorentz/chirality
structure that decides whether it can interfere with the massless SM amplitude.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Literal

from ..errors import UnknownOperatorError

__all__ = ["CATALOG", "FOUR_FERMION", "OPERATORS", "Operator", "PowerCounting", "Structure", "TIER_OF",
           "VECTOR_OPERATORS", "canonical_name", "get_operator", "resolve"]

Structure = Literal[
    "four_fermion_vector",  # (psi gamma psi)(psi gamma psi): chirality conserving, interferes
    "current",  # psi^dag i D psi H^dag H: shifts Z couplings
    "bosonic_input",  # cHDD, cHWB: shift m_Z, s_W, e through the inputs
    "four_lepton_input",  # cll1: shifts G_F (muon decay)
    "higgs_kinetic",  # cHbox: Higgs couplings only
    "yukawa",  # psi H psi (H^dag H): chirality flipping, Higgs couplings
    "dipole",  # psi sigma psi H V: chirality flipping
    "gluonic",  # cHG: Higgs-gluon coupling
    "scalar_tensor",  # (l e)(d q), (l e)(q u), tensor: chirality flipping
]

PowerCounting = Literal["s/L2", "v2/L2", "v4/L4", "v2s/L4", "s2/L4"]

#: Tier name used by screening and the ALETHEIA loop for each power counting.
TIER_OF: dict[str, str] = {
    "s/L2": "leading",
    "v2/L2": "subleading",
    "v4/L4": "dim6-squared",
    "v2s/L4": "dim6-squared",
    "s2/L4": "dim6-squared",
}


@dataclass(frozen=True)
class Operator:
    """One catalog entry.

    ``name`` is the SMEFTsim parameter name, ``latex`` the Warsaw-basis symbol, ``klass`` the Warsaw class
    (e.g. ``psi^4``), ``power_counting`` the Table-1 column and ``structure`` the chirality structure.
    """

    name: str
    latex: str
    klass: str
    power_counting: PowerCounting
    structure: Structure

    @property
    def tier(self) -> str:
        return TIER_OF[self.power_counting]

    @property
    def chirality_conserving(self) -> bool:
        return self.structure in {"four_fermion_vector", "current", "bosonic_input", "four_lepton_input"}


def _op(name: str, latex: str, klass: str, pc: PowerCounting, st: Structure) -> Operator:
    return Operator(name, latex, klass, pc, st)


CATALOG: tuple[Operator, ...] = (
    # O(s/Lambda^2): energy-enhanced semileptonic four-fermion contact terms
    _op("clq1", r"O_{\ell q}^{(1)}", "psi^4 (LL)(LL)", "s/L2", "four_fermion_vector"),
    _op("clq3", r"O_{\ell q}^{(3)}", "psi^4 (LL)(LL)", "s/L2", "four_fermion_vector"),
    _op("ceu", r"O_{eu}", "psi^4 (RR)(RR)", "s/L2", "four_fermion_vector"),
    _op("ced", r"O_{ed}", "psi^4 (RR)(RR)", "s/L2", "four_fermion_vector"),
    _op("clu", r"O_{\ell u}", "psi^4 (LL)(RR)", "s/L2", "four_fermion_vector"),
    _op("cld", r"O_{\ell d}", "psi^4 (LL)(RR)", "s/L2", "four_fermion_vector"),
    _op("cqe", r"O_{qe}", "psi^4 (LL)(RR)", "s/L2", "four_fermion_vector"),
    # O(v^2/Lambda^2): Z-vertex currents and input-parameter shifts
    _op("cHl1", r"O_{\varphi \ell}^{(1)}", "psi^2 phi^2 D", "v2/L2", "current"),
    _op("cHl3", r"O_{\varphi \ell}^{(3)}", "psi^2 phi^2 D", "v2/L2", "current"),
    _op("cHe", r"O_{\varphi e}", "psi^2 phi^2 D", "v2/L2", "current"),
    _op("cHq1", r"O_{\varphi q}^{(1)}", "psi^2 phi^2 D", "v2/L2", "current"),
    _op("cHq3", r"O_{\varphi q}^{(3)}", "psi^2 phi^2 D", "v2/L2", "current"),
    _op("cHu", r"O_{\varphi u}", "psi^2 phi^2 D", "v2/L2", "current"),
    _op("cHd", r"O_{\varphi d}", "psi^2 phi^2 D", "v2/L2", "current"),
    _op("cHDD", r"O_{\varphi D}", "phi^4 D^2", "v2/L2", "bosonic_input"),
    _op("cHWB", r"O_{\varphi WB}", "X^2 phi^2", "v2/L2", "bosonic_input"),
    _op("cll1", r"O_{\ell\ell}^{(1)}", "psi^4 (LL)(LL)", "v2/L2", "four_lepton_input"),
    # O(v^4/Lambda^4)
    _op("cHbox", r"O_{\varphi\Box}", "phi^4 D^2", "v4/L4", "higgs_kinetic"),
    _op("ceHRe", r"O_{e\varphi}", "psi^2 phi^3", "v4/L4", "yukawa"),
    _op("cuHRe", r"O_{u\varphi}", "psi^2 phi^3", "v4/L4", "yukawa"),
    _op("cdHRe", r"O_{d\varphi}", "psi^2 phi^3", "v4/L4", "yukawa"),
    # O(v^2 s/Lambda^4)
    _op("ceWRe", r"O_{eW}", "psi^2 X phi", "v2s/L4", "dipole"),
    _op("ceBRe", r"O_{eB}", "psi^2 X phi", "v2s/L4", "dipole"),
    _op("cuWRe", r"O_{uW}", "psi^2 X phi", "v2s/L4", "dipole"),
    _op("cuBRe", r"O_{uB}", "psi^2 X phi", "v2s/L4", "dipole"),
    _op("cdWRe", r"O_{dW}", "psi^2 X phi", "v2s/L4", "dipole"),
    _op("cdBRe", r"O_{dB}", "psi^2 X phi", "v2s/L4", "dipole"),
    _op("cHG", r"O_{\varphi G}", "X^2 phi^2", "v2s/L4", "gluonic"),
    # O(s^2/Lambda^4): scalar and tensor semileptonic
    _op("cledqRe", r"O_{\ell edq}", "psi^4 (LR)(RL)", "s2/L4", "scalar_tensor"),
    _op("clequ1Re", r"O_{\ell equ}^{(1)}", "psi^4 (LR)(LR)", "s2/L4", "scalar_tensor"),
    _op("clequ3Re", r"O_{\ell equ}^{(3)}", "psi^4 (LR)(LR)", "s2/L4", "scalar_tensor"),
)

OPERATORS: dict[str, Operator] = {op.name: op for op in CATALOG}
_ALIASES: dict[str, str] = {op.name[:-2]: op.name for op in CATALOG if op.name.endswith("Re")}

#: The 17 operators whose vector structure the amplitude implements (Table 1, first two columns).
VECTOR_OPERATORS: tuple[str, ...] = tuple(op.name for op in CATALOG if op.chirality_conserving)
FOUR_FERMION: tuple[str, ...] = tuple(op.name for op in CATALOG if op.structure == "four_fermion_vector")


def canonical_name(name: str) -> str:
    """Return the SMEFTsim name for ``name`` (accepting ``ceH`` for ``ceHRe``); raise a clear error otherwise."""
    if name in OPERATORS:
        return name
    if name in _ALIASES:
        return _ALIASES[name]
    close = difflib.get_close_matches(name, list(OPERATORS) + list(_ALIASES), n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    raise UnknownOperatorError(
        f"unknown operator '{name}': not among the 31 SMEFTsim U35 names of the catalog{hint} "
        f"(see smeftfm.physics.operators.CATALOG)"
    )


def get_operator(name: str) -> Operator:
    """Catalog entry for ``name`` (SMEFTsim name or alias)."""
    return OPERATORS[canonical_name(name)]


def resolve(names: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """Canonicalise a list of operator names, rejecting unknown names and duplicates."""
    out = tuple(canonical_name(n) for n in names)
    dup = {n for n in out if out.count(n) > 1}
    if dup:
        raise UnknownOperatorError(f"operator(s) listed twice: {sorted(dup)}; list each once")
    return out
