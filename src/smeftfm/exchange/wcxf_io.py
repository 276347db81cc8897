"""WCxf files of Wilson coefficients in the SMEFTsim U35 basis (WCxf registry: eft ``SMEFT``, basis ``SMEFTsim_U35``).

The registry's ``SMEFTsim_U35`` basis (wcxf/wcxf-bases, ``smeft.smeftsim-u35.basis.yml``) defines each coefficient
as C / TeV^2, i.e. SMEFTsim's parameter at ``LambdaSMEFT = 1 TeV``; all are real. Our coefficients C are defined at
the scale Lambda of ``physics.lambda_np``, so the WCxf value is C (1 TeV / Lambda)^2 and reading divides it back.
The WCxf ``scale`` (GeV) is the renormalisation scale of the values; the LO oracle does not run coefficients, so it
is written as Lambda and only recorded when read. The ``wcxf`` package does not ship this basis, so names are
checked here: a name outside U35, another EFT or basis, or a U35 coefficient the oracle has no catalog entry for
each raise one :class:`~smeftfm.errors.SmeftfmError` with the fix.
"""

from __future__ import annotations

import difflib
import io
from pathlib import Path

import numpy as np

from ..atomic import write_text
from ..errors import SmeftfmError, UnknownOperatorError
from ..physics.operators import OPERATORS, canonical_name

__all__ = ["BASIS", "EFT", "U35_NAMES", "coefficients_vector", "read_wcxf", "to_wcxf_values", "write_wcxf"]

EFT = "SMEFT"
BASIS = "SMEFTsim_U35"

#: Coefficient names of the WCxf basis SMEFTsim_U35 (all real), as listed in the WCxf registry.
U35_NAMES: frozenset[str] = frozenset(
    "cG cGtil cW cWtil cH cHbox cHDD cHG cHGtil cHW cHWtil cHB cHBtil cHWB cHWBtil "
    "ceHRe ceHIm cuHRe cuHIm cdHRe cdHIm ceWRe ceWIm ceBRe ceBIm cuGRe cuGIm cuWRe cuWIm cuBRe cuBIm "
    "cdGRe cdGIm cdWRe cdWIm cdBRe cdBIm cHl1 cHl3 cHq1 cHq3 cHe cHu cHd cHudRe cHudIm "
    "cll cll1 clq1 clq3 cqq1 cqq11 cqq3 cqq31 cee cuu cuu1 cdd cdd1 ceu ced cud1 cud8 cle clu cld cqe "
    "cqu1 cqu8 cqd1 cqd8 cledqRe cledqIm cquqd1Re cquqd1Im cquqd11Re cquqd11Im cquqd8Re cquqd8Im "
    "cquqd81Re cquqd81Im clequ1Re clequ1Im clequ3Re clequ3Im".split()
)


def to_wcxf_values(coeffs: dict[str, float], lambda_np: float = 1000.0) -> dict[str, float]:
    """Our C at Lambda (GeV) -> WCxf SMEFTsim_U35 values in TeV^-2."""
    f = (1000.0 / lambda_np) ** 2
    return {canonical_name(k): float(v) * f for k, v in coeffs.items()}


def write_wcxf(path: str | Path, coeffs: dict[str, float], lambda_np: float = 1000.0, fmt: str = "yaml") -> None:
    """Write ``coeffs`` ({SMEFTsim name: C at lambda_np}) as a WCxf file (YAML or JSON), atomically."""
    import wcxf

    wc = wcxf.WC(EFT, BASIS, float(lambda_np), to_wcxf_values(coeffs, lambda_np))
    buf = io.StringIO()
    wc.dump(buf, fmt=fmt)
    write_text(path, buf.getvalue())


def _check_name(name: str, path: str) -> str:
    if name not in U35_NAMES:
        close = difflib.get_close_matches(name, sorted(U35_NAMES), n=3, cutoff=0.6)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise UnknownOperatorError(
            f"{path}: '{name}' is not a coefficient of the WCxf basis {BASIS}{hint} "
            "(names as in SMEFTsim 3.0 U35, e.g. clq1, cHWB, cll1; translate other bases first, e.g. `wcxf translate`)"
        )
    if name not in OPERATORS:
        raise SmeftfmError(
            f"{path}: '{name}' is a {BASIS} coefficient the oracle has no catalog entry for (it does not enter "
            f"neutral-current Drell-Yan at tree level); remove it. Known: {', '.join(sorted(OPERATORS))}"
        )
    return name


def read_wcxf(path: str | Path, lambda_np: float = 1000.0) -> tuple[dict[str, float], dict]:
    """Read a WCxf file in the SMEFTsim_U35 basis -> ({name: C at lambda_np}, {eft, basis, scale})."""
    import wcxf
    import yaml

    p = str(path)
    try:
        with open(p, encoding="utf-8") as fh:
            wc = wcxf.WC.load(fh)
    except FileNotFoundError:
        raise SmeftfmError(f"WCxf file {p} not found") from None
    except (yaml.YAMLError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise SmeftfmError(f"{p} is not a WCxf file (eft, basis, scale, values): {exc}") from None
    if wc.eft != EFT or wc.basis != BASIS:
        raise SmeftfmError(
            f"{p}: WCxf eft/basis is {wc.eft}/{wc.basis}; the oracle reads {EFT}/{BASIS} (SMEFTsim U35). "
            f"Translate the file to basis {BASIS} first"
        )
    f = (lambda_np / 1000.0) ** 2
    out = {}
    for name, val in wc.values.items():
        _check_name(name, p)
        v = val if not isinstance(val, dict) else val.get("Re", 0.0)
        if isinstance(val, dict) and val.get("Im", 0.0):
            raise SmeftfmError(f"{p}: '{name}' has an imaginary part; every {BASIS} coefficient is real")
        out[name] = float(v) * f
    return out, {"eft": wc.eft, "basis": wc.basis, "scale": float(wc.scale)}


def coefficients_vector(coeffs: dict[str, float], operators: tuple[str, ...]) -> np.ndarray:
    """Vector over ``operators`` (missing names are 0); names not among ``operators`` raise a clear error."""
    extra = [k for k in coeffs if k not in operators]
    if extra:
        raise SmeftfmError(
            f"coefficients {extra} are not among the templates' operators {list(operators)}; rebuild the templates "
            "with those operators (physics.operators) or drop them"
        )
    return np.array([coeffs.get(o, 0.0) for o in operators])
