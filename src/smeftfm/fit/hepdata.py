"""Reader for tables in the HEPData submission YAML format.

A table has ``independent_variables`` (each a ``header`` {name, units} and ``values`` with ``low``/``high``
bin edges or a single ``value``) and ``dependent_variables`` (each a ``header``, optional ``qualifiers`` and
``values`` with ``value`` and an optional list of ``errors``: ``symerror`` or ``asymerror`` {plus, minus}, either
absolute or a percentage string such as ``"1.8%"`` of the central value, each with a ``label``). Any other
layout raises one :class:`~smeftfm.errors.DataError` naming the file and the field.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

from ..errors import DataError

__all__ = ["Dependent", "HepDataTable", "Independent", "covariance_from_table", "read_hepdata_table"]


@dataclass(frozen=True)
class Independent:
    """One independent variable: bin edges ``low``/``high`` (NaN when the table gives single values)."""

    name: str
    units: str
    low: np.ndarray
    high: np.ndarray
    value: np.ndarray


@dataclass(frozen=True)
class Dependent:
    """One dependent variable: central values and symmetrised absolute errors per label (same units)."""

    name: str
    units: str
    values: np.ndarray
    errors: dict[str, np.ndarray] = field(default_factory=dict)
    qualifiers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class HepDataTable:
    path: str
    independent: tuple[Independent, ...]
    dependent: tuple[Dependent, ...]

    def edges(self, i: int = 0) -> np.ndarray:
        """Contiguous bin edges of independent variable ``i`` (GeV for masses); error if bins are not contiguous."""
        v = self.independent[i]
        if np.any(np.isnan(v.low)) or np.any(np.isnan(v.high)):
            raise DataError(f"{self.path}: independent variable '{v.name}' has no low/high bin edges")
        if not np.allclose(v.low[1:], v.high[:-1]):
            raise DataError(f"{self.path}: bins of '{v.name}' are not contiguous; give contiguous low/high edges")
        return np.append(v.low, v.high[-1])


def _fail(path: str, what: str) -> DataError:
    return DataError(f"malformed HEPData table {path}: {what}. Expected the HEPData submission format "
                     "(independent_variables / dependent_variables, see https://hepdata-submission.readthedocs.io)")


def _number(x, path: str, where: str) -> float:
    try:
        return float(x)
    except (TypeError, ValueError):
        raise _fail(path, f"{where} is not a number ({x!r})") from None


def _abs_error(e, central: float, path: str, where: str) -> float:
    """Absolute error from a number or a percentage string; asymmetric errors are symmetrised (mean |plus|, |minus|)."""

    def one(x) -> float:
        if isinstance(x, str) and x.strip().endswith("%"):
            return abs(_number(x.strip()[:-1], path, where)) * 0.01 * abs(central)
        return abs(_number(x, path, where))

    if not isinstance(e, dict):
        raise _fail(path, f"{where} must be a mapping with symerror or asymerror")
    if "symerror" in e:
        return one(e["symerror"])
    if "asymerror" in e:
        a = e["asymerror"]
        if not isinstance(a, dict) or "plus" not in a or "minus" not in a:
            raise _fail(path, f"{where}.asymerror needs 'plus' and 'minus'")
        return 0.5 * (one(a["plus"]) + one(a["minus"]))
    raise _fail(path, f"{where} has neither symerror nor asymerror")


def _header(d, path: str, where: str) -> tuple[str, str]:
    h = d.get("header") if isinstance(d, dict) else None
    if not isinstance(h, dict) or "name" not in h:
        raise _fail(path, f"{where} lacks header.name")
    return str(h["name"]), str(h.get("units", ""))


def read_hepdata_table(path: str | Path) -> HepDataTable:
    """Parse one HEPData YAML table; every malformed field raises a :class:`DataError` naming it."""
    p = str(path)
    try:
        doc = yaml.safe_load(Path(path).read_text())
    except FileNotFoundError:
        raise DataError(f"HEPData table {p} not found") from None
    except yaml.YAMLError as exc:
        raise _fail(p, f"not valid YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(doc, dict):
        raise _fail(p, "top level is not a mapping")
    for key in ("independent_variables", "dependent_variables"):
        if not isinstance(doc.get(key), list) or not doc[key]:
            raise _fail(p, f"missing or empty '{key}'")
    indep = []
    n = None
    for k, iv in enumerate(doc["independent_variables"]):
        name, units = _header(iv, p, f"independent_variables[{k}]")
        vals = iv.get("values")
        if not isinstance(vals, list) or not vals:
            raise _fail(p, f"independent_variables[{k}].values is missing or empty")
        lo, hi, val = (np.full(len(vals), np.nan) for _ in range(3))
        for j, v in enumerate(vals):
            where = f"independent_variables[{k}].values[{j}]"
            if not isinstance(v, dict):
                raise _fail(p, f"{where} is not a mapping")
            if "low" in v and "high" in v:
                lo[j], hi[j] = _number(v["low"], p, where + ".low"), _number(v["high"], p, where + ".high")
                if not hi[j] > lo[j]:
                    raise _fail(p, f"{where} has high <= low")
            elif "value" in v:
                val[j] = _number(v["value"], p, where + ".value")
            else:
                raise _fail(p, f"{where} has neither low/high nor value")
        n = len(vals) if n is None else n
        if len(vals) != n:
            raise _fail(p, f"independent_variables[{k}] has {len(vals)} values, expected {n}")
        indep.append(Independent(name, units, lo, hi, val))
    dep = []
    for k, dv in enumerate(doc["dependent_variables"]):
        name, units = _header(dv, p, f"dependent_variables[{k}]")
        vals = dv.get("values")
        if not isinstance(vals, list) or len(vals) != n:
            raise _fail(p, f"dependent_variables[{k}].values must list {n} entries (one per independent value)")
        central = np.empty(n)
        errors: dict[str, np.ndarray] = {}
        for j, v in enumerate(vals):
            where = f"dependent_variables[{k}].values[{j}]"
            if not isinstance(v, dict) or "value" not in v:
                raise _fail(p, f"{where} lacks 'value'")
            central[j] = _number(v["value"], p, where + ".value")
            for m, e in enumerate(v.get("errors") or []):
                label = str(e.get("label", f"error{m}")) if isinstance(e, dict) else f"error{m}"
                errors.setdefault(label, np.zeros(n))[j] = _abs_error(e, central[j], p, f"{where}.errors[{m}]")
        quals = {str(q.get("name")): str(q.get("value")) for q in dv.get("qualifiers") or [] if isinstance(q, dict)}
        dep.append(Dependent(name, units, central, errors, quals))
    return HepDataTable(p, tuple(indep), tuple(dep))


def covariance_from_table(table: HepDataTable, n: int) -> np.ndarray:
    """An [n, n] covariance from a HEPData table listing (bin i, bin j, value) in row-major order."""
    vals = table.dependent[0].values
    if len(table.independent) != 2 or vals.size != n * n:
        raise DataError(f"{table.path}: a covariance table needs two independent variables and {n}x{n} = {n * n} "
                        f"values, got {len(table.independent)} variables and {vals.size} values")
    cov = vals.reshape(n, n)
    if not np.allclose(cov, cov.T, rtol=1e-6, atol=0):
        raise DataError(f"{table.path}: covariance is not symmetric")
    return 0.5 * (cov + cov.T)
