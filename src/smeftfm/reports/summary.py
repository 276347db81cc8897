"""Headline figures of a pipeline run, collected from the stages' metrics JSON files.

:func:`headline` returns a flat ``{key: number}`` dict (written to ``reports/metrics/headline.json`` so that
``dvc metrics show`` lists every headline figure in one place) and :func:`headline_rows` the human-readable
(label, value) pairs shown at the top of ``index.html`` and ``summary.md``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

from .common import fmt

__all__ = ["BOOLEAN_KEYS", "HEADLINE_SPEC", "INFORMER_KEYS", "LOOP_KEYS", "PREFIX_LABELS", "headline",
           "headline_rows", "label_of"]


def _get(d: Mapping[str, Any] | None, *path: str) -> Any:
    for p in path:
        if not isinstance(d, Mapping) or p not in d:
            return None
        d = d[p]
    return d


def _num(v: Any) -> float | None:
    if isinstance(v, bool):
        return float(v)
    if isinstance(v, int | float) and math.isfinite(float(v)):
        return float(v)
    return None


#: (headline key, label, source metrics file, path inside it)
HEADLINE_SPEC: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    ("sigma_sm_acceptance_pb", "σ_SM in acceptance, 50 < m_ll < 650 GeV [pb]", "report", ("sigma_sm_acceptance_pb",)),
    ("n_interfering_operators", "operators interfering at O(1/Λ²)", "report", ("n_interfering_operators",)),
    ("n_universes", "universes", "report", ("n_universes",)),
    ("n_universes_negative", "universes with a non-positive bin", "report", ("n_universes_negative",)),
    ("encoder_knn_accuracy", "encoder k-NN universe accuracy (test)", "train", ("encoder", "knn_accuracy")),
    ("pca_knn_accuracy", "PCA k-NN universe accuracy (test)", "train", ("pca", "knn_accuracy")),
    ("encoder_silhouette", "encoder silhouette (test)", "train", ("encoder", "silhouette")),
    ("pca_silhouette", "PCA silhouette (test)", "train", ("pca", "silhouette")),
    ("encoder_r2_log_zpeak", "encoder probe R² → log Z-peak bin", "train", ("encoder", "r2_log_zpeak")),
    ("encoder_r2_mll_highest", "encoder probe R² → highest-mass bin", "train", ("encoder", "r2_mll_highest")),
    ("encoder_r2_C_mean", "encoder probe R² → Wilson coefficients (mean)", "train", ("encoder", "r2_C_mean")),
    ("dpn_accuracy", "DPN accuracy (test)", "heads", ("dpn", "accuracy")),
    ("dpn_ece", "DPN expected calibration error (test)", "heads", ("dpn", "ece")),
)


def headline(metrics: Mapping[str, Mapping[str, Any] | None]) -> dict[str, float]:
    """Flat headline numbers from ``metrics[source]`` dicts (sources: report, train, heads, loop, informer).

    Missing or non-finite entries are left out (JSON metrics must be finite).
    """
    out: dict[str, float] = {}
    for key, _, src, path in HEADLINE_SPEC:
        v = _num(_get(metrics.get(src), *path))
        if v is not None:
            out[key] = v
    heads = metrics.get("heads") or {}
    for sig, m in (_get(heads, "anomaly") or {}).items():
        v = _num(_get(m, "auroc_mi"))
        if v is not None:
            out[f"anomaly_auroc_mi_{sig}"] = v
    for lvl, m in (_get(heads, "retrieval") or {}).items():
        for k in ("precision", "recall", "n_retrieved"):
            v = _num(_get(m, k))
            if v is not None:
                out[f"retrieval_{lvl}_{k}"] = v
    for k, v in _flat(metrics.get("loop") or {}, "loop_", LOOP_KEYS):
        out[k] = v
    for k, v in _flat(metrics.get("informer") or {}, "informer_", INFORMER_KEYS):
        out[k] = v
    return out


#: Numeric leaves of the loop / informer metrics (flattened with "_") whose key starts with one of these.
LOOP_KEYS = ("loop_collapse_", "loop_cycles_to_completion_", "loop_unlock_triggered_extension", "loop_gates",
             "loop_controls_no_extension_keeps_growing", "loop_controls_random_direction_barely_moves",
             "loop_seconds_loop_headline")
INFORMER_KEYS = ("informer_tangent_r2", "informer_curvature_r2", "informer_contract")


def _flat(d: Mapping[str, Any], prefix: str, keep: Iterable[str]) -> Iterable[tuple[str, float]]:
    keep = tuple(keep)
    stack = [(prefix, d)]
    while stack:
        pre, cur = stack.pop()
        for k, v in cur.items():
            key = f"{pre}{k}"
            if isinstance(v, Mapping):
                stack.append((key + "_", v))
            else:
                n = _num(v)
                if n is not None and key.startswith(keep):
                    yield key, n


#: Readable prefixes of the generated headline keys.
PREFIX_LABELS = (("anomaly_auroc_mi_", "anomaly AUROC (MI): "), ("retrieval_", "retrieval "),
                 ("loop_", "ALETHEIA: "),
                 ("informer_contract_tangent_r2_ge_0p99", "ManifoldInformer: tangent R² ≥ 0.99"),
                 ("informer_", "ManifoldInformer: "))


def label_of(key: str) -> str:
    """A readable label for a generated headline key (e.g. ``loop_collapse_first`` -> "ALETHEIA: collapse first")."""
    for pre, lab in PREFIX_LABELS:
        if key.startswith(pre):
            return lab + key[len(pre):].replace("_", " ")
    return key.replace("_", " ")


#: Generated keys that hold a yes/no verdict (stored as 1.0/0.0 in the JSON metrics).
BOOLEAN_KEYS = ("loop_gates_extension_occurred", "loop_gates_all_tiers_unlocked", "loop_gates_manifold_completed",
                "loop_gates_acquisition_no_slower_than_random", "loop_controls_no_extension_keeps_growing",
                "loop_controls_random_direction_barely_moves", "loop_unlock_triggered_extension",
                "informer_contract_tangent_r2_ge_0p99")


def _show(key: str, v: float) -> str:
    return ("yes" if v else "no") if key in BOOLEAN_KEYS else fmt(v)


def headline_rows(values: Mapping[str, float]) -> list[tuple[str, str]]:
    """(label, formatted value) rows, in the order of :data:`HEADLINE_SPEC` then the rest alphabetically."""
    labels = {k: lab for k, lab, _, _ in HEADLINE_SPEC}
    rows = [(labels[k], fmt(values[k])) for k, *_ in HEADLINE_SPEC if k in values]
    rows += [(label_of(k), _show(k, v)) for k, v in sorted(values.items()) if k not in labels]
    return rows
